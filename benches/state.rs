//! The state benchmark: the memory of a big crawl's seen set, and that the queue of a crawl
//! with a state file stays on disk.
//!
//! 1. Claims N URLs (10 million by default) through a [`SqliteStore`], in batches of 1,000
//!    as pages would, committing every 100,000: the requests are queued in the file. Prints
//!    the claim rate and the RSS growth per URL: the seen set in memory, and nothing for
//!    the queue.
//! 2. Opens the file again, as a resumed crawl does, which loads the seen set, and prints
//!    the time it took and the RSS per seen URL (target: at most 40 bytes).
//!
//! ```text
//! cargo bench --bench state                     # 10,000,000 URLs
//! cargo bench --bench state -- --urls 1000000
//! ```
//!
//! Linux only: RSS comes from /proc. The state file goes to the temporary directory and is
//! removed at the end.

use std::time::Instant;

use arachne::request::CrawlRequest;
use arachne::store::{CrawlSpec, Opening, SqliteStore, Store};

fn main() {
    let mut urls: u64 = 10_000_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--urls" {
            urls = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("state bench: --urls takes a number");
                std::process::exit(2);
            });
        }
    }
    let dir = std::env::temp_dir().join(format!("arachne-state-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("crawl.db");
    let spec = CrawlSpec {
        seeds: vec!["http://bench.test/".into()],
        scope: "host".into(),
        ..CrawlSpec::default()
    };
    let parent: arachne::Url = "http://bench.test/".parse().unwrap();

    let before = rss_kib();
    let started = Instant::now();
    {
        let mut store = SqliteStore::open(&path).expect("a new state file");
        store
            .open(&Opening::new(spec.clone(), Vec::new()))
            .expect("a new crawl");
        let mut batch = Vec::with_capacity(1000);
        for i in 0..urls {
            // Sixteen hosts, paths of realistic length.
            let url = format!(
                "http://host{}.bench.test/section/{}/article-{i}.html",
                i % 16,
                i % 997
            );
            batch.push(CrawlRequest::link(url.parse().unwrap(), 3, parent.clone()));
            if batch.len() == 1000 {
                store.claim(std::mem::take(&mut batch)).expect("claimed");
            }
            if (i + 1) % 100_000 == 0 {
                store.commit(&[]).expect("committed");
            }
        }
        store.claim(batch).expect("claimed");
        let grown = rss_kib().saturating_sub(before) * 1024;
        let secs = started.elapsed().as_secs_f64();
        println!("urls claimed     {urls}");
        println!("claims/s         {:.0}", urls as f64 / secs);
        println!(
            "RSS growth       {:.1} MB, {:.1} B per URL (the seen set; the queue is on disk)",
            grown as f64 / 1e6,
            grown as f64 / urls as f64
        );
        store.close("stopped", &[]).expect("closed");
    }
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!(
        "state file       {:.1} MB, {:.0} B per URL",
        size as f64 / 1e6,
        size as f64 / urls as f64
    );

    let before = rss_kib();
    let started = Instant::now();
    let mut store = SqliteStore::open(&path).expect("the state file");
    let resume = store
        .open(&Opening::new(spec, Vec::new()))
        .expect("the crawl resumes");
    let secs = started.elapsed().as_secs_f64();
    let grown = rss_kib().saturating_sub(before) * 1024;
    assert_eq!(resume.seen, urls);
    println!(
        "resume           {secs:.1} s to open and load {} seen URLs",
        resume.seen
    );
    println!(
        "RSS per seen URL {:.1} B after loading (target: at most 40)",
        grown as f64 / urls as f64
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The resident set size of this process (VmRSS).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
