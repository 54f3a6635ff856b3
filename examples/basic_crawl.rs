//! The library in a few lines: crawl a site, write a JSON line per fetched URL to standard
//! output, and print the report.
//!
//! ```text
//! cargo run --example basic_crawl -- https://example.com/ [MAX_PAGES]
//! ```

use std::process::ExitCode;

use arachne::CrawlerBuilder;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(seed) = args.next() else {
        eprintln!("usage: basic_crawl URL [MAX_PAGES]");
        return ExitCode::from(2);
    };
    let max_pages = match args
        .next()
        .map(|n| arachne::config::settings::MAX_PAGES.parse(&n))
    {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("basic_crawl: MAX_PAGES: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os(arachne::config::ENV_DELAY).is_none() {
        eprintln!(
            "basic_crawl: polite by default: 1 s between requests to a host (ARACHNE_DELAY=0 for a site of your own)"
        );
    }

    let crawler = CrawlerBuilder::from_env()
        .seed(seed)
        .max_pages(max_pages)
        .jsonl_writer(std::io::stdout())
        .build();
    let report = match crawler.and_then(|crawler| crawler.run_blocking()) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("basic_crawl: {e}");
            return ExitCode::from(if e.is_usage() { 2 } else { 1 });
        }
    };
    eprint!("{report}");
    ExitCode::SUCCESS
}
