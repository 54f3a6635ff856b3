//! A user actor that receives every crawled page and collects page titles.
//!
//! ```text
//! cargo run --example custom_actor -- https://example.com/ [MAX_PAGES]
//! ```
//!
//! Prints `URL<TAB>TITLE` for every HTML page, sorted by URL.

use std::process::ExitCode;

use actix::prelude::*;
use arachne::scraper::{Html, Selector};
use arachne::{Crawler, PageFetched, Url};

/// Collects the title of every page it is sent.
struct TitleCollector {
    selector: Selector,
    titles: Vec<(Url, String)>,
}

impl Actor for TitleCollector {
    type Context = Context<Self>;
}

/// Takes the title of each HTML page.
impl Handler<PageFetched> for TitleCollector {
    type Result = ();

    fn handle(&mut self, page: PageFetched, _: &mut Context<Self>) {
        let is_html = page
            .record
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/html"));
        if !is_html || page.record.error.is_some() {
            return;
        }
        let html = Html::parse_document(&page.text());
        if let Some(title) = html.select(&self.selector).next() {
            let title = title.text().collect::<String>().trim().to_owned();
            self.titles.push((page.record.url.clone(), title));
        }
    }
}

/// Hands over the titles collected so far.
#[derive(Message)]
#[rtype(result = "Vec<(Url, String)>")]
struct TakeTitles;

impl Handler<TakeTitles> for TitleCollector {
    type Result = MessageResult<TakeTitles>;

    fn handle(&mut self, _: TakeTitles, _: &mut Context<Self>) -> Self::Result {
        MessageResult(std::mem::take(&mut self.titles))
    }
}

#[actix::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(seed) = args.next() else {
        eprintln!("usage: custom_actor URL [MAX_PAGES]");
        return ExitCode::from(2);
    };
    let max_pages = match args.next().map(|n| arachne::settings::MAX_PAGES.parse(&n)) {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("custom_actor: MAX_PAGES: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os(arachne::ENV_DELAY).is_none() {
        eprintln!(
            "custom_actor: polite by default: 1 s between requests to a host (ARACHNE_DELAY=0 for a site of your own)"
        );
    }

    let collector = TitleCollector {
        selector: Selector::parse("title").expect("valid selector"),
        titles: Vec::new(),
    }
    .start();
    let crawler = match Crawler::builder()
        .seed(seed)
        .max_pages(max_pages)
        .subscribe(collector.clone().recipient())
        .build()
    {
        Ok(crawler) => crawler,
        Err(e) => {
            eprintln!("custom_actor: {e}");
            return ExitCode::from(if e.is_usage() { 2 } else { 1 });
        }
    };
    let report = match crawler.run().await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("custom_actor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut titles = collector.send(TakeTitles).await.unwrap_or_default();
    titles.sort();
    for (url, title) in titles {
        println!("{url}\t{title}");
    }
    eprint!("{report}");
    ExitCode::SUCCESS
}
