//! A Scrapy-style spider: CSS selectors turn each page into a typed item, written as JSON
//! Lines to standard output, while every link is followed.
//!
//! ```text
//! cargo run --example extract_items -- https://example.com/ [MAX_PAGES]
//! ```
//!
//! Each line is `{"url":...,"title":...,"headings":[...],"links":N}`, the fields in the
//! order of the `PageItem` type.

use std::process::ExitCode;

use arachne::output::JsonLinesItems;
use arachne::{CrawlerBuilder, Out, Page, SpiderError};
use serde::Serialize;

mod common;

/// The item: what we want from each page.
#[derive(Debug, Serialize)]
struct PageItem {
    url: String,
    title: String,
    headings: Vec<String>,
    links: usize,
}

/// The spider: runs on the parser threads, with the document the crawler parsed anyway.
fn page_item(page: &Page<'_>, out: &mut Out) -> Result<(), SpiderError> {
    out.follow_links();
    if !page.is_html() {
        return Ok(());
    }
    out.item(PageItem {
        url: page.request().url.to_string(),
        title: page.text("title").unwrap_or_default(),
        headings: page.select("h1, h2, h3").texts(),
        links: page.select("a[href]").len(),
    });
    Ok(())
}

fn main() -> ExitCode {
    let ([seed], max_pages) = match common::args("extract_items", ["URL"], 100) {
        Ok(args) => args,
        Err(code) => return code,
    };

    let crawler = CrawlerBuilder::from_env()
        .seed(seed)
        .max_pages(max_pages)
        .spider(page_item)
        .item_output(JsonLinesItems::new(std::io::stdout()))
        .build();
    let crawler = match common::built("extract_items", crawler) {
        Ok(crawler) => crawler,
        Err(code) => return code,
    };
    match crawler.run_blocking() {
        Ok(report) => {
            let items: u64 = report.items.values().sum();
            eprintln!("{items} items from {} pages", report.pages);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("extract_items: {e}");
            ExitCode::FAILURE
        }
    }
}
