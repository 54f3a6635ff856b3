//! A Scrapy-style item extractor: CSS selectors turn each page into a typed item, and an
//! actor writes the items as JSON Lines to standard output.
//!
//! ```text
//! cargo run --example extract_items -- https://example.com/ [MAX_PAGES]
//! ```
//!
//! Each line is a JSON object with the keys in alphabetical order (items travel as
//! `serde_json::Value`, whose maps are sorted): `{"headings":[...],"links":N,"title":...,"url":...}`.

use std::io::Write;
use std::process::ExitCode;

use actix::prelude::*;
use arachne::scraper::{ElementRef, Selector};
use arachne::{Crawler, Extractor, ItemExtracted, ParsedPage};
use serde::Serialize;

/// The item: what we want from each page.
#[derive(Debug, Serialize)]
struct PageItem {
    url: String,
    title: String,
    headings: Vec<String>,
    links: usize,
}

/// Runs on the parser threads, with the parsed document.
struct PageItems {
    title: Selector,
    headings: Selector,
    links: Selector,
}

impl PageItems {
    fn new() -> Self {
        let css = |s| Selector::parse(s).expect("valid selector");
        Self {
            title: css("title"),
            headings: css("h1, h2, h3"),
            links: css("a[href]"),
        }
    }
}

fn text(element: ElementRef<'_>) -> String {
    element
        .text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl Extractor for PageItems {
    fn extract(&self, page: &ParsedPage<'_>, items: &mut Vec<serde_json::Value>) {
        let item = PageItem {
            url: page.url.to_string(),
            title: page
                .html
                .select(&self.title)
                .next()
                .map(text)
                .unwrap_or_default(),
            headings: page.html.select(&self.headings).map(text).collect(),
            links: page.html.select(&self.links).count(),
        };
        if let Ok(value) = serde_json::to_value(item) {
            items.push(value);
        }
    }
}

/// Writes items as JSON Lines: the one writer of standard output.
struct ItemWriter {
    out: std::io::Stdout,
    count: usize,
}

impl Actor for ItemWriter {
    type Context = Context<Self>;
}

/// Writes one item as one line.
impl Handler<ItemExtracted> for ItemWriter {
    type Result = ();

    fn handle(&mut self, msg: ItemExtracted, _: &mut Context<Self>) {
        let line = format!("{}\n", msg.item);
        if self.out.lock().write_all(line.as_bytes()).is_ok() {
            self.count += 1;
        }
    }
}

/// How many items were written.
#[derive(Message)]
#[rtype(result = "usize")]
struct Count;

impl Handler<Count> for ItemWriter {
    type Result = usize;

    fn handle(&mut self, _: Count, _: &mut Context<Self>) -> usize {
        self.count
    }
}

#[actix::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(seed) = args.next() else {
        eprintln!("usage: extract_items URL [MAX_PAGES]");
        return ExitCode::from(2);
    };
    let max_pages = match args.next().map(|n| arachne::settings::MAX_PAGES.parse(&n)) {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("extract_items: MAX_PAGES: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os(arachne::ENV_DELAY).is_none() {
        eprintln!(
            "extract_items: polite by default: 1 s between requests to a host (ARACHNE_DELAY=0 for a site of your own)"
        );
    }

    let writer = ItemWriter {
        out: std::io::stdout(),
        count: 0,
    }
    .start();
    let crawler = Crawler::builder()
        .seed(seed)
        .max_pages(max_pages)
        .extractor(PageItems::new())
        .subscribe_items(writer.clone().recipient())
        .build();
    let report = match crawler {
        Ok(crawler) => crawler.run().await,
        Err(e) => {
            eprintln!("extract_items: {e}");
            return ExitCode::from(if e.is_usage() { 2 } else { 1 });
        }
    };
    match report {
        Ok(report) => {
            let items = writer.send(Count).await.unwrap_or(0);
            eprintln!("{items} items from {} pages", report.pages);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("extract_items: {e}");
            ExitCode::FAILURE
        }
    }
}
