//! Crawls the pages a sitemap lists (as Scrapy's SitemapSpider does): the sitemap (XML,
//! gzipped XML, a sitemap index, or text) is read, and each URL in it is fetched, without
//! following links further.
//!
//! ```text
//! cargo run --example sitemap_crawl -- https://example.com/sitemap.xml [MAX_PAGES]
//! ```
//!
//! Prints `STATUS URL` for every URL fetched.

use std::process::ExitCode;

use arachne::actix::prelude::*;
use arachne::{CrawlerBuilder, PageFetched, Url};

mod common;

/// Prints each fetched URL with its status.
struct Printer;

impl Actor for Printer {
    type Context = Context<Self>;
}

/// One line per page.
impl Handler<PageFetched> for Printer {
    type Result = ();

    fn handle(&mut self, page: PageFetched, _: &mut Context<Self>) {
        let status = page
            .record
            .status
            .map_or_else(|| "-".to_owned(), |s| s.to_string());
        println!("{status} {}", page.record.url);
    }
}

/// The crawl runs on a thread of its own; this actor lives in the actix system of the main
/// thread, which `block_on` runs.
fn main() -> ExitCode {
    arachne::actix::System::new().block_on(run())
}

async fn run() -> ExitCode {
    let ([sitemap], max_pages) = match common::args("sitemap_crawl", ["SITEMAP_URL"], 1_000) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let mut home = match sitemap.parse::<Url>() {
        Ok(url) => url,
        Err(e) => {
            eprintln!("sitemap_crawl: `{sitemap}` is not a valid URL: {e}");
            return ExitCode::from(2);
        }
    };
    home.set_path("/");
    home.set_query(None);

    // The site's home page is the seed; depth 0 keeps the crawl to it and to the sitemap's
    // URLs, which enter the frontier at depth 0.
    let printer = Printer.start();
    let crawler = CrawlerBuilder::from_env()
        .seed(home.as_str())
        .sitemap(&sitemap)
        .max_depth(0)
        .max_pages(max_pages)
        .subscribe(printer.recipient())
        .build();
    let crawler = match common::built("sitemap_crawl", crawler) {
        Ok(crawler) => crawler,
        Err(code) => return code,
    };
    match crawler.run().await {
        Ok(report) => {
            eprint!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sitemap_crawl: {e}");
            ExitCode::FAILURE
        }
    }
}
