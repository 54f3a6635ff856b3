//! Archives a site to a WARC 1.1 file (each record its own gzip member), readable by
//! warcio, pywb and the Wayback Machine's tools.
//!
//! ```text
//! cargo run --example warc_archive -- https://example.com/ site.warc.gz [MAX_PAGES]
//! ```

use std::process::ExitCode;

use arachne::CrawlerBuilder;
use arachne::output::read_warc;

mod common;

fn main() -> ExitCode {
    let ([seed, path], max_pages) = match common::args("warc_archive", ["URL", "OUT.warc.gz"], 100)
    {
        Ok(args) => args,
        Err(code) => return code,
    };

    // Created when the crawl is built, so a crawl that cannot start leaves no file.
    let crawler = CrawlerBuilder::from_env()
        .seed(seed)
        .max_pages(max_pages)
        .warc_file(&path, None)
        .build();
    let crawler = match common::built("warc_archive", crawler) {
        Ok(crawler) => crawler,
        Err(code) => return code,
    };
    let report = match crawler.run_blocking() {
        Ok(report) => report,
        Err(e) => {
            eprintln!("warc_archive: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Read the archive back to say what it holds.
    match read_warc(&path) {
        Ok(records) => {
            let responses = records
                .iter()
                .filter(|r| r.header("WARC-Type") == Some("response"))
                .count();
            println!(
                "{path}: {} records, {responses} responses, for {} pages",
                records.len(),
                report.pages
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warc_archive: cannot read {path} back: {e}");
            ExitCode::FAILURE
        }
    }
}
