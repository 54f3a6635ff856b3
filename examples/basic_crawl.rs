//! The library in a few lines: crawl a site, write a JSON line per fetched URL to standard
//! output, and print the report.
//!
//! ```text
//! cargo run --example basic_crawl -- https://example.com/ [MAX_PAGES]
//! ```

use std::process::ExitCode;

use arachne::CrawlerBuilder;

mod common;

fn main() -> ExitCode {
    let ([seed], max_pages) = match common::args("basic_crawl", ["URL"], 100) {
        Ok(args) => args,
        Err(code) => return code,
    };

    let crawler = CrawlerBuilder::from_env()
        .seed(seed)
        .max_pages(max_pages)
        .jsonl_writer(std::io::stdout())
        .build();
    let crawler = match common::built("basic_crawl", crawler) {
        Ok(crawler) => crawler,
        Err(code) => return code,
    };
    let report = match crawler.run_blocking() {
        Ok(report) => report,
        Err(e) => {
            eprintln!("basic_crawl: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprint!("{report}");
    ExitCode::SUCCESS
}
