//! arachne: an actor-based web crawler. Fast, polite, and correct.
//!
//! A crawl is a small actor system on [actix](https://docs.rs/actix): a supervisor owns the
//! frontier (per-host queues, breadth-first) and dispatches URLs to fetcher actors
//! (reqwest, many requests in flight on each fetcher thread); parser actors on a pool of
//! threads parse HTML with scraper in parallel and claim new links in a lock-free seen set
//! (a DashMap of URL fingerprints); sink actors write records, one writer per output; and
//! your own actors subscribe to pages and extracted items.
//!
//! # Crawl a site
//! ```no_run
//! use arachne::{Crawler, Scope};
//!
//! fn main() -> Result<(), arachne::Error> {
//!     let report = Crawler::builder()
//!         .seed("https://example.com/")
//!         .scope(Scope::Domain)
//!         .max_depth(3)
//!         .jsonl_file("pages.jsonl")
//!         .build()?
//!         .run_blocking()?;
//!     println!("{report}");
//!     Ok(())
//! }
//! ```
//!
//! # Receive pages in your own actor
//! ```no_run
//! use actix::prelude::*;
//! use arachne::{Crawler, PageFetched};
//!
//! struct Printer;
//!
//! impl Actor for Printer {
//!     type Context = Context<Self>;
//! }
//!
//! impl Handler<PageFetched> for Printer {
//!     type Result = ();
//!
//!     fn handle(&mut self, page: PageFetched, _: &mut Context<Self>) {
//!         println!("{:?} {}", page.record.status, page.record.url);
//!     }
//! }
//!
//! #[actix::main]
//! async fn main() -> Result<(), arachne::Error> {
//!     let printer = Printer.start();
//!     let report = Crawler::builder()
//!         .seed("https://example.com/")
//!         .max_pages(50)
//!         .subscribe(printer.recipient())
//!         .build()?
//!         .run()
//!         .await?;
//!     eprintln!("{report}");
//!     Ok(())
//! }
//! ```
//!
//! # Knobs
//! | knob | builder | CLI | environment | default |
//! |---|---|---|---|---|
//! | fetcher threads | [`CrawlerBuilder::fetch_threads`] | `--fetch-threads` | `ARACHNE_FETCH_THREADS` | one per 4 cores |
//! | parser threads | [`CrawlerBuilder::parse_threads`] | `--parse-threads` | `ARACHNE_PARSE_THREADS` | one per core |
//! | requests in flight | [`CrawlerBuilder::concurrency`] | `--concurrency` | `ARACHNE_CONCURRENCY` | 64 |
//! | requests in flight per host | [`CrawlerBuilder::per_host`] | `--per-host` | `ARACHNE_PER_HOST` | 2 |
//! | delay between request starts per host | [`CrawlerBuilder::delay`] | `--delay` | `ARACHNE_DELAY` | 1 s |

#![deny(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;

pub use arachne_actors::{Crawler, CrawlerBuilder, Error, ItemExtracted, PageFetched, StopHandle};
pub use arachne_core::settings;
pub use arachne_core::{
    CSV_COLUMNS, CrawlReport, CrawlRequest, CrawlStats, CsvWriter, DEFAULT_CONCURRENCY,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_DELAY, DEFAULT_MAX_BODY, DEFAULT_MAX_CRAWL_DELAY,
    DEFAULT_MAX_REDIRECTS, DEFAULT_MAX_URL_LENGTH, DEFAULT_PER_HOST, DEFAULT_RETRIES,
    DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, ENV_CONCURRENCY, ENV_DELAY,
    ENV_FETCH_THREADS, ENV_PARSE_THREADS, ENV_PER_HOST, ErrorKind, ExchangeWriter, Extractor,
    Fingerprint, Frontier, HttpExchange, JsonLinesWriter, LinkSkip, MAX_RETRY_AFTER,
    MAX_SITEMAP_NESTING, MAX_SITEMAPS, MemoryFrontier, MemorySeenSet, PageRecord, ParsedPage,
    PatternError, ROBOTS_ATTEMPTS, RecordError, RecordWriter, Redirect, RobotsRules, Scope,
    ScopeRules, SeenSet, Sitemap, SkipCounts, StatsSnapshot, default_fetch_threads,
    default_parse_threads, normalize, parse_sitemap, resolve_link,
};
pub use arachne_warc::{WarcRecord, WarcWriter, read_warc, sha1_base32};
/// The HTML parser and CSS selectors that extractors use.
pub use scraper;
/// The URL type of every API here.
pub use url::Url;

/// The README's code, compiled as doctests so that it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
