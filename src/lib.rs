//! arachne: an actor-based web crawler framework. Fast, polite, and correct.
//!
//! A crawl is a small actor system on [actix](https://docs.rs/actix): a supervisor owns the
//! frontier (per-host queues) and dispatches requests to fetcher actors (reqwest, many
//! requests in flight on each fetcher thread); parser actors on a pool of threads run your
//! [`Spider`] on each response, in parallel, and claim the follow-up requests in a
//! lock-free seen set (a DashMap of request fingerprints); items go through the
//! [`pipeline`] to the outputs; sink actors write records, one writer per output; and your
//! own actors, closures or an event stream receive pages and items.
//!
//! # The map
//! | you want to | look at |
//! |---|---|
//! | build and run a crawl | [`Crawler`], [`CrawlerBuilder`] |
//! | say what to fetch: URL, label, data, priority, method, body | [`Request`] |
//! | turn pages into items and follow-up requests | [`spider`]: [`Spider`], [`Page`], [`Out`], [`Router`] |
//! | shape items before they are written | [`pipeline`] |
//! | shape requests, judge responses | [`hook`] |
//! | stop a crawl, or feed it, from anywhere | [`CrawlHandle`] |
//! | receive pages and items | [`PageFetched`], [`ItemScraped`], [`Event`], [`actix`] |
//! | write records, items, archives | [`output`] |
//! | read what happened | [`report`] |
//! | choose which URLs are in the crawl | [`scope`] |
//! | plug in another frontier or seen set | [`store`] |
//! | defaults, value ranges, environment variables | [`config`] |
//!
//! # Scrape a shop
//! ```no_run
//! use arachne::{Crawler, Out, Page, Request, Router};
//! use serde::Serialize;
//!
//! #[derive(Serialize)]
//! struct Book { title: String, price: Option<f64> }
//!
//! fn main() -> Result<(), arachne::Error> {
//!     let spider = Router::new()
//!         .route("list", |page: &Page<'_>, out: &mut Out| {
//!             out.follow(page.select("article h3 a"), "book");
//!             out.follow(page.select("li.next a"), "list");
//!             Ok(())
//!         })
//!         .route("book", |page: &Page<'_>, out: &mut Out| {
//!             out.item(Book {
//!                 title: page.text("h1")?,
//!                 // No price on the page: `None`, which the pipeline drops.
//!                 price: page
//!                     .text(".price")
//!                     .ok()
//!                     .and_then(|p| p.trim_start_matches('£').parse().ok()),
//!             });
//!             Ok(())
//!         });
//!     let report = Crawler::builder()
//!         .seed(Request::get("https://books.toscrape.com/").label("list"))
//!         .spider(spider)
//!         .pipeline(|book: Book| book.price.is_some().then_some(book))
//!         .items_jsonl("books.jsonl")
//!         .build()?
//!         .run_blocking()?;
//!     eprintln!("{report}");
//!     Ok(())
//! }
//! ```
//!
//! # Receive pages in your own actor
//! [`Crawler::run`] is a future for any async runtime; the crawl runs on a thread of its
//! own, so actors of your actix system, closures and channels all receive pages.
//! ```no_run
//! use arachne::actix::prelude::*;
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
//!         if page.record.depth > 3 {
//!             page.handle.stop("deep enough");
//!         }
//!     }
//! }
//!
//! fn main() -> Result<(), arachne::Error> {
//!     // The printer lives in this thread's actix system; the crawl runs on its own.
//!     System::new().block_on(async {
//!         let printer = Printer.start();
//!         let report = Crawler::builder()
//!             .seed("https://example.com/")
//!             .max_pages(50)
//!             .subscribe(printer.recipient())
//!             .build()?
//!             .run()
//!             .await?;
//!         eprintln!("{report}");
//!         Ok(())
//!     })
//! }
//! ```
//!
//! actix's derive macros (`#[derive(Message)]`) and `#[actix::main]` look for a crate
//! named `actix`: to use them, add `actix = "0.13"` to your dependencies (the same version
//! as `arachne::actix`); or implement `Message` by hand, as the examples do.
//!
//! # From tokio, without actors
//! ```no_run
//! use arachne::{Crawler, Event};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), arachne::Error> {
//!     let mut events = Crawler::builder()
//!         .seed("https://example.com/")
//!         .max_pages(20)
//!         .build()?
//!         .events();
//!     while let Some(event) = events.next().await {
//!         match event {
//!             Event::Page(page) => println!("{}", page.record.url),
//!             Event::Finished(report) => eprintln!("{}", report?),
//!             _ => {}
//!         }
//!     }
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
//!
//! Examples in the docs of re-exported items name the crates they come from:
//! `arachne_core::X` and `arachne_actors::X` are in `arachne` by the map above.
//!
//! The environment is read only when asked: [`CrawlerBuilder::from_env`] (the command
//! line uses it); a setter always wins over it.
//!
//! A long crawl frees large buffers all the time; on glibc, call [`tune_malloc`] first
//! thing in `main`, as the command line does, so that they go back to the system (peak
//! RSS a quarter lower).

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

#[cfg(feature = "cli")]
pub mod cli;
mod memory;

pub use memory::tune_malloc;

pub use arachne_actors::{
    Crawler, CrawlerBuilder, Error, Event, Events, ItemScraped, PageFetched, ProcessItem,
};
pub use arachne_core::spider::{Out, Page, Router, Spider, SpiderError};
pub use arachne_core::{CrawlHandle, CrawlReport, Item, Request, Scope};
pub use url::Url;

/// Spiders: user code that turns pages into items and follow-up requests.
///
/// A [`Spider`] runs on the parser threads with each response as a [`Page`] and fills an
/// [`Out`]; a [`Router`] dispatches pages by the label of their request; any closure
/// `Fn(&Page, &mut Out) -> Result<(), SpiderError>` is a spider; [`spider::FollowLinks`]
/// (follow every in-scope link) is the default. [`spider::run_spider`] runs one on a
/// fixture, with no network:
///
/// ```
/// use arachne::spider::run_spider;
/// use arachne::{Out, Page, Request, Router};
///
/// #[derive(serde::Serialize)]
/// struct Title(String);
///
/// let spider = Router::new()
///     .route("list", |page: &Page<'_>, out: &mut Out| {
///         out.follow(page.select("a.item"), "item");
///         Ok(())
///     })
///     .route("item", |page: &Page<'_>, out: &mut Out| {
///         out.item(Title(page.text("h1")?));
///         Ok(())
///     });
/// let list = Request::get("https://shop.test/").label("list");
/// let out = run_spider(&spider, list, 200, r#"<a class="item" href="/i/1">1</a>"#).unwrap();
/// assert_eq!(out.requests[0].url.as_str(), "https://shop.test/i/1");
/// ```
///
/// The items' own examples name the crate they come from, `arachne_core`: read `arachne`.
pub mod spider {
    pub use arachne_core::spider::*;
}

/// Item pipelines: ordered stages that transform or drop items on their way to outputs.
///
/// ```
/// use arachne::pipeline::{Stage, typed};
/// use arachne::Item;
///
/// #[derive(serde::Serialize)]
/// struct Book { price: Option<f64> }
///
/// let priced = typed(|book: Book| book.price.is_some().then_some(book));
/// assert!(priced.process(Item::new(Book { price: None })).is_none());
/// ```
///
/// In a crawl: `.pipeline(|book: Book| ..)`, `.stage(stage)`, or an actor answering
/// [`ProcessItem`] with `.stage_actor(..)`.
pub mod pipeline {
    pub use arachne_core::pipeline::*;
}

/// Request and response hooks (Scrapy's downloader middlewares, Colly's `OnRequest` and
/// `OnResponse`).
///
/// ```
/// use arachne::hook::{Decision, Hook, Incoming, Outgoing};
///
/// struct Token(String);
///
/// impl Hook for Token {
///     fn request(&self, request: &mut Outgoing<'_>) -> Decision {
///         request.set_header("Authorization", &format!("Bearer {}", self.0));
///         Decision::Continue
///     }
///     fn response(&self, response: &Incoming<'_>) -> Decision {
///         match response.status() {
///             403 => Decision::Drop("forbidden".into()),
///             _ => Decision::Continue,
///         }
///     }
/// }
/// // In a crawl: `.hook(Token("t".into()))`, or the closures `.on_request(..)`,
/// // `.on_response(..)`.
/// ```
pub mod hook {
    pub use arachne_core::hook::*;
}

/// Requests: what to fetch, and what the crawl queues.
pub mod request {
    pub use arachne_core::{CrawlRequest, Intent, Request, RequestError};
    pub use http::Method;
}

/// Outputs: records, items and archives, and the traits for your own.
pub mod output {
    pub use arachne_core::{
        CsvItems, CsvWriter, ErrorKind, ExchangeWriter, HttpExchange, ItemWriter, JsonLinesItems,
        JsonLinesWriter, PageRecord, RecordError, RecordWriter, Redirect,
    };
    pub use arachne_warc::{WarcRecord, WarcWriter, read_warc};
}

/// What a crawl reports: the final report, the live counters, and why it ended.
pub mod report {
    pub use arachne_core::{
        CrawlReport, CrawlStats, EndReason, Resumed, SkipCounts, StatsSnapshot,
    };
}

/// Which URLs are in the crawl, and how URLs are made comparable.
pub mod scope {
    pub use arachne_core::{
        LinkSkip, PatternError, Scope, ScopeRules, normalize, resolve_link, same_site,
    };
}

/// Where a crawl's state lives: the [`Store`](store::Store) seam, the in-memory store (the
/// default), the SQLite state file ([`SqliteStore`](store::SqliteStore), `--state`)
/// that makes a crawl resumable and crash-safe, and Redis
/// ([`RedisStore`](store::RedisStore), `--redis`), which shares one crawl among processes
/// and machines.
///
/// A program that is one worker of a shared crawl:
///
/// ```no_run
/// use arachne::Crawler;
/// use arachne::store::RedisStore;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::new("redis://10.0.0.5:6379/", "docs")?.worker("crawler-7")?;
/// let report = Crawler::builder()
///     .seed("https://docs.example.com/")
///     .store(store)
///     .jsonl_file("pages.crawler-7.jsonl") // each worker its own file
///     .build()?
///     .run_blocking()?;
/// println!("{report}");
/// # Ok(())
/// # }
/// ```
///
/// ```
/// use std::collections::HashSet;
/// use std::sync::{Arc, Mutex};
/// use arachne::store::{Fingerprint, MemoryFrontier, MemoryStore, SeenSet};
///
/// /// A seen set behind one lock (the default is a sharded DashMap).
/// #[derive(Default)]
/// struct Locked(Mutex<HashSet<Fingerprint>>);
///
/// impl SeenSet for Locked {
///     fn insert(&self, fp: Fingerprint) -> bool {
///         self.0.lock().unwrap().insert(fp)
///     }
///     fn contains(&self, fp: Fingerprint) -> bool {
///         self.0.lock().unwrap().contains(&fp)
///     }
///     fn len(&self) -> usize {
///         self.0.lock().unwrap().len()
///     }
/// }
/// let store = MemoryStore::with(MemoryFrontier::new(), Arc::new(Locked::default()));
/// // In a crawl: `.store(store)`; or keep it all in a file with `.state("crawl.db")`.
/// # drop(store);
/// ```
pub mod store {
    pub use arachne_core::store::*;
    pub use arachne_core::{
        BuildFingerprintHasher, Fingerprint, FingerprintHasher, Frontier, MemoryFrontier,
        MemorySeenSet, SeenSet, host_key,
    };
    pub use arachne_redis::{CrawlSummary, RedisStore, WorkerSummary};
    pub use arachne_sqlite::{SCHEMA, SCHEMA_VERSION, SqliteStore, Summary};
}

/// Settings: defaults, the environment variables of the knobs, and the values each setting
/// accepts.
pub mod config {
    pub use arachne_core::settings;
    pub use arachne_core::{
        DEFAULT_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DELAY, DEFAULT_MAX_BODY,
        DEFAULT_MAX_CRAWL_DELAY, DEFAULT_MAX_REDIRECTS, DEFAULT_MAX_URL_LENGTH, DEFAULT_PER_HOST,
        DEFAULT_RETRIES, DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT, DEFAULT_USER_AGENT,
        ENV_CONCURRENCY, ENV_DELAY, ENV_FETCH_THREADS, ENV_PARSE_THREADS, ENV_PER_HOST,
        available_cores, default_fetch_threads, default_parse_threads,
    };
}

/// The actor framework arachne runs on: `Recipient`, `Actor`, `Handler` for your own
/// subscribers and pipeline stages.
pub use actix;
/// The byte buffers of bodies.
pub use bytes;
/// HTTP types: `HeaderMap`, `Method`, `StatusCode`.
pub use http;
/// The HTML parser and CSS selectors behind [`Page::select`].
pub use scraper;
/// Serialization: items are `Serialize` types. With arachne's serde rather than your own,
/// derive with `#[derive(arachne::serde::Serialize)] #[serde(crate = "arachne::serde")]`.
pub use serde;
/// JSON values: request data and items as JSON.
pub use serde_json;
/// The URL crate.
pub use url;

/// The README's code, compiled as doctests so that it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
