//! A user actor that receives items: the title of every page, taken by a spider on the
//! parser threads (so no page is parsed twice), and collected by an actor.
//!
//! ```text
//! cargo run --example custom_actor -- https://example.com/ [MAX_PAGES]
//! ```
//!
//! Prints `URL<TAB>TITLE` for every HTML page with a title, sorted by URL.

use std::process::ExitCode;

use arachne::actix::prelude::*;
use arachne::{CrawlerBuilder, ItemScraped, Out, Page, SpiderError, Url};
use serde::Serialize;

mod common;

/// What the spider takes from each page.
#[derive(Serialize)]
struct Title {
    url: Url,
    title: String,
}

/// Collects the titles it is sent.
#[derive(Default)]
struct TitleCollector {
    titles: Vec<(Url, String)>,
}

impl Actor for TitleCollector {
    type Context = Context<Self>;
}

/// Keeps each title.
impl Handler<ItemScraped> for TitleCollector {
    type Result = ();

    fn handle(&mut self, msg: ItemScraped, _: &mut Context<Self>) {
        if let Some(title) = msg.item.downcast_ref::<Title>() {
            self.titles.push((title.url.clone(), title.title.clone()));
        }
    }
}

/// Hands over the titles collected so far. (Written out rather than derived: actix's
/// derive macros need `actix` as a dependency of your own, the re-export is not enough.)
struct TakeTitles;

impl Message for TakeTitles {
    type Result = Vec<(Url, String)>;
}

impl Handler<TakeTitles> for TitleCollector {
    type Result = MessageResult<TakeTitles>;

    fn handle(&mut self, _: TakeTitles, _: &mut Context<Self>) -> Self::Result {
        MessageResult(std::mem::take(&mut self.titles))
    }
}

/// The spider: follows every link, and takes each page's title.
fn titles(page: &Page<'_>, out: &mut Out) -> Result<(), SpiderError> {
    out.follow_links();
    if page.is_html()
        && let Ok(title) = page.text("title")
    {
        out.item(Title {
            url: page.request().url.clone(),
            title,
        });
    }
    Ok(())
}

/// The crawl runs on a thread of its own; the collector lives in the actix system of the
/// main thread, which `block_on` runs.
fn main() -> ExitCode {
    System::new().block_on(run())
}

async fn run() -> ExitCode {
    let ([seed], max_pages) = match common::args("custom_actor", ["URL"], 100) {
        Ok(args) => args,
        Err(code) => return code,
    };

    let collector = TitleCollector::default().start();
    let crawler = CrawlerBuilder::from_env()
        .seed(seed)
        .max_pages(max_pages)
        .spider(titles)
        .subscribe_items(collector.clone().recipient())
        .build();
    let crawler = match common::built("custom_actor", crawler) {
        Ok(crawler) => crawler,
        Err(code) => return code,
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
