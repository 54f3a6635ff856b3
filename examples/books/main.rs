//! Scrapes a book shop the way a Scrapy spider does: list pages lead to product pages and
//! to the next list page; product pages become typed `Book` items; a pipeline stage drops
//! books without a price; the items go to a JSON Lines file.
//!
//! ```text
//! cargo run --example books -- https://books.toscrape.com/ books.jsonl [MAX_PAGES]
//! ```
//!
//! The markup is that of books.toscrape.com (`article.product_pod h3 a`, `li.next a`,
//! `.product_main h1`, `.product_main .price_color`), which the tests serve locally.

use std::process::ExitCode;

use arachne::{CrawlerBuilder, Request};

mod spider;

use spider::{Book, spider};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(seed), Some(path)) = (args.next(), args.next()) else {
        eprintln!("usage: books URL OUT.jsonl [MAX_PAGES]");
        return ExitCode::from(2);
    };
    let max_pages = match args
        .next()
        .map(|n| arachne::config::settings::MAX_PAGES.parse(&n))
    {
        None => 200,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("books: MAX_PAGES: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os(arachne::config::ENV_DELAY).is_none() {
        eprintln!(
            "books: polite by default: 1 s between requests to a host (ARACHNE_DELAY=0 for a site of your own)"
        );
    }
    let crawler = CrawlerBuilder::from_env()
        .seed(Request::get(seed).label("list"))
        .spider(spider())
        .max_pages(max_pages)
        .pipeline(|book: Book| book.price.is_some().then_some(book))
        .items_jsonl(&path)
        .build();
    let crawler = match crawler {
        Ok(crawler) => crawler,
        Err(e) => {
            eprintln!("books: {e}");
            // Nothing was scraped: leave no empty file behind.
            let _ = std::fs::remove_file(&path);
            return ExitCode::from(if e.is_usage() { 2 } else { 1 });
        }
    };
    match crawler.run_blocking() {
        Ok(report) => {
            eprint!("{report}");
            println!(
                "{path}: {} books with a price, {} dropped without one",
                report.items.get("Book").copied().unwrap_or(0),
                report.items_dropped
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("books: {e}");
            ExitCode::FAILURE
        }
    }
}
