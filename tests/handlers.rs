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

/// Stops the crawl after it has seen `after` pages (the handle arrives once the crawler is
/// built, after this actor subscribed).
struct Stopper {
    stop: std::sync::Arc<std::sync::OnceLock<arachne::StopHandle>>,
    seen: usize,
    after: usize,
}

impl Actor for Stopper {
    type Context = Context<Self>;
}

impl Handler<PageFetched> for Stopper {
    type Result = ();

    fn handle(&mut self, _: PageFetched, _: &mut Context<Self>) {
        self.seen += 1;
        if self.seen == self.after
            && let Some(stop) = self.stop.get()
        {
            stop.stop();
        }
    }
}

#[test]
fn stop_handle_ends_the_crawl_gracefully() {
    use arachne_testkit::{Behavior, TestServer};
    let site = SyntheticSite::new(500, 3);
    let server = TestServer::start(move |req| {
        site.respond(req)
            .behave(Behavior::Slow(std::time::Duration::from_millis(10)))
    });
    let seed = server.url("/page/0");
    let (report, pages) = run_guarded(move || {
        System::new().block_on(async move {
            let handle = std::sync::Arc::new(std::sync::OnceLock::new());
            let stopper = Stopper {
                stop: std::sync::Arc::clone(&handle),
                seen: 0,
                after: 20,
            }
            .start();
            let collector = Collector::default().start();
            let crawler = local()
                .seed(seed)
                .per_host(4)
                .subscribe(stopper.recipient())
                .subscribe(collector.clone().recipient())
                .build()
                .unwrap();
            handle.set(crawler.stop_handle()).unwrap();
            let report = crawler.run().await.unwrap();
            let (pages, _) = collector.send(Take).await.unwrap();
            (report, pages)
        })
    });
    assert!(report.stopped);
    assert!(
        report.pages >= 20 && report.pages < 500,
        "{} pages",
        report.pages
    );
    assert_eq!(
        pages.len() as u64,
        report.pages,
        "every fetched page was delivered"
    );
    assert!(report.not_crawled > 0);
}
