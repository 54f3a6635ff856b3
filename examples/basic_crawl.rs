//! The library in a few lines: crawl a site, write a JSON line per fetched URL to standard
//! output, and print the report.
//!
//! ```text
//! cargo run --example basic_crawl -- https://example.com/ [MAX_PAGES]
//! ```

use std::process::ExitCode;

use arachne::Crawler;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(seed) = args.next() else {
        eprintln!("usage: basic_crawl URL [MAX_PAGES]");
        return ExitCode::from(2);
    };
    let max_pages = args.next().and_then(|n| n.parse().ok()).unwrap_or(100);

    let crawler = Crawler::builder()
        .seed(seed)
        .max_pages(max_pages)
        .jsonl_writer(std::io::stdout())
        .build();
    let report = match crawler.and_then(|crawler| crawler.run_blocking()) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("basic_crawl: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprint!("{report}");
    ExitCode::SUCCESS
}
