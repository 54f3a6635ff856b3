//! Archives a site to a WARC 1.1 file (each record its own gzip member), readable by
//! warcio, pywb and the Wayback Machine's tools.
//!
//! ```text
//! cargo run --example warc_archive -- https://example.com/ site.warc.gz [MAX_PAGES]
//! ```

use std::process::ExitCode;

use arachne::CrawlerBuilder;
use arachne::output::{WarcWriter, read_warc};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(seed), Some(path)) = (args.next(), args.next()) else {
        eprintln!("usage: warc_archive URL OUT.warc.gz [MAX_PAGES]");
        return ExitCode::from(2);
    };
    let max_pages = match args
        .next()
        .map(|n| arachne::config::settings::MAX_PAGES.parse(&n))
    {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("warc_archive: MAX_PAGES: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os(arachne::config::ENV_DELAY).is_none() {
        eprintln!(
            "warc_archive: polite by default: 1 s between requests to a host (ARACHNE_DELAY=0 for a site of your own)"
        );
    }

    let warc = match WarcWriter::create(
        &path,
        None,
        concat!("arachne-example/", env!("CARGO_PKG_VERSION")),
    ) {
        Ok(warc) => warc,
        Err(e) => {
            eprintln!("warc_archive: cannot create {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let crawler = match CrawlerBuilder::from_env()
        .seed(seed)
        .max_pages(max_pages)
        .archive(warc)
        .build()
    {
        Ok(crawler) => crawler,
        Err(e) => {
            eprintln!("warc_archive: {e}");
            // Nothing was archived: leave no empty archive behind.
            let _ = std::fs::remove_file(&path);
            return ExitCode::from(if e.is_usage() { 2 } else { 1 });
        }
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
