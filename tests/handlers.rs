use std::collections::BTreeSet;

use actix::prelude::*;
use arachne::scraper::Selector;
use arachne::{Extractor, ItemExtracted, PageFetched, ParsedPage, Url};
use arachne_testkit::SyntheticSite;

use crate::support::{local, run_guarded};

/// A user actor that keeps what it receives.
#[derive(Default)]
struct Collector {
    pages: Vec<PageFetched>,
    items: Vec<ItemExtracted>,
}

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<PageFetched> for Collector {
    type Result = ();

    fn handle(&mut self, page: PageFetched, _: &mut Context<Self>) {
        self.pages.push(page);
    }
}

impl Handler<ItemExtracted> for Collector {
    type Result = ();

    fn handle(&mut self, item: ItemExtracted, _: &mut Context<Self>) {
        self.items.push(item);
    }
}

#[derive(Message)]
#[rtype(result = "(Vec<PageFetched>, Vec<ItemExtracted>)")]
struct Take;

impl Handler<Take> for Collector {
    type Result = MessageResult<Take>;

    fn handle(&mut self, _: Take, _: &mut Context<Self>) -> Self::Result {
        MessageResult((
            std::mem::take(&mut self.pages),
            std::mem::take(&mut self.items),
        ))
    }
}

/// Emits each page's `<h1>` text.
struct Headings(Selector);

impl Extractor for Headings {
    fn extract(&self, page: &ParsedPage<'_>, items: &mut Vec<serde_json::Value>) {
        for h1 in page.html.select(&self.0) {
            items.push(serde_json::json!({ "heading": h1.text().collect::<String>(), "depth": page.depth }));
        }
    }
}

#[test]
fn user_actor_receives_every_page_and_item() {
    let site = SyntheticSite::new(80, 3);
    let server = site.serve();
    let seed = server.url("/page/0");
    let (report, pages, items) = run_guarded(move || {
        System::new().block_on(async move {
            let collector = Collector::default().start();
            let report = local()
                .seed(seed)
                .subscribe(collector.clone().recipient())
                .subscribe_items(collector.clone().recipient())
                .extractor(Headings(Selector::parse("h1").unwrap()))
                .build()
                .unwrap()
                .run()
                .await
                .unwrap();
            let (pages, items) = collector.send(Take).await.unwrap();
            (report, pages, items)
        })
    });
    assert_eq!(report.pages, 80);
    let urls: BTreeSet<Url> = pages.iter().map(|p| p.record.url.clone()).collect();
    assert_eq!(pages.len(), 80, "one message per page");
    assert_eq!(urls.len(), 80);
    for page in &pages {
        assert!(page.text().contains("<h1>Page "));
        assert_eq!(page.links.len() as u32, page.record.links);
        assert!(page.headers.contains_key("content-type"));
    }
    let headings: BTreeSet<String> = items
        .iter()
        .map(|i| i.item["heading"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = (0..80).map(|i| format!("Page {i}")).collect();
    assert_eq!(items.len(), 80);
    assert_eq!(headings, want);
    for item in &items {
        let n: usize = item.url.path().rsplit('/').next().unwrap().parse().unwrap();
        assert_eq!(
            item.item["heading"],
            format!("Page {n}"),
            "items carry their page's URL"
        );
    }
}
