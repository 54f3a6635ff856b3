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

#[path = "../common/mod.rs"]
mod common;

fn main() -> ExitCode {
    // Optional: large buffers go back to the system when freed (glibc; README, "Knobs").
    let _ = arachne::tune_malloc();
    let ([seed, path], max_pages) = match common::args("books", ["URL", "OUT.jsonl"], 200) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let crawler = CrawlerBuilder::from_env()
        .seed(Request::get(seed).label("list"))
        .spider(spider())
        .max_pages(max_pages)
        .pipeline(|book: Book| book.price.is_some().then_some(book))
        .items_jsonl(&path)
        .build();
    let crawler = match common::built("books", crawler) {
        Ok(crawler) => crawler,
        Err(code) => return code,
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
