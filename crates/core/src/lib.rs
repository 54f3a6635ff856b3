//! The crawl domain of [arachne](https://docs.rs/arachne), with no actor system in it.
//!
//! Everything here is plain data and functions, unit-tested without an actor system:
//!
//! - [`normalize`], [`resolve_link`] and [`parse_seed`]: URL normalization, the rules that
//!   make two spellings of one URL one URL.
//! - [`Fingerprint`]: the fixed-size identity of a normalized URL.
//! - [`store`]: the storage seam ([`store::Store`]) and the in-memory store, made of a
//!   [`SeenSet`] ([`MemorySeenSet`]: which URLs were already discovered) and a [`Frontier`]
//!   ([`MemoryFrontier`]: per-host queues of URLs to fetch, breadth-first).
//! - [`Scope`] and [`ScopeRules`]: which discovered URLs are followed.
//! - [`scan_links`], [`decode_html`], [`is_html`]: what parser threads do with a body;
//!   [`parse_document`] and [`extract_links`] for a document, when a spider asks for one.
//! - [`Request`] and [`CrawlRequest`]: what to fetch, with its intent (label, data,
//!   priority, method, headers, body).
//! - [`spider`]: user code that turns pages into [`Item`]s and follow-up requests;
//!   [`pipeline`]: stages items pass through; [`hook`]: request and response hooks.
//! - [`CrawlHandle`]: stops a crawl or gives it requests, from anywhere.
//! - [`PageRecord`] and [`CrawlReport`]: the outputs.
//! - [`settings`]: durations, sizes and counts as text, and the range each setting accepts.
//!
//! # Example
//! ```
//! use arachne_core::{Fingerprint, MemorySeenSet, Scope, ScopeRules, SeenSet, parse_seed, scan_links};
//!
//! let seed = parse_seed("http://Example.test/docs/").unwrap();
//! let scope = ScopeRules::new(Scope::Prefix, &[seed.clone()], &[], &[]).unwrap();
//! let seen = MemorySeenSet::new();
//! seen.insert(Fingerprint::of(&seed));
//!
//! let html = r#"<a href="intro#top">Intro</a> <a href="/blog/">Blog</a> <a href="./">Home</a>"#;
//! let found = scan_links(html, &seed);
//! let queued: Vec<_> = found
//!     .links
//!     .links
//!     .iter()
//!     .filter(|url| scope.allows(url) && seen.insert(Fingerprint::of(url)))
//!     .map(|url| url.as_str())
//!     .collect();
//! assert_eq!(queued, ["http://example.test/docs/intro"]);
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

mod config;
mod control;
mod fingerprint;
mod frontier;
pub mod hook;
mod html;
mod item;
mod normalize;
mod output;
pub mod pipeline;
mod record;
mod report;
mod request;
mod robots;
mod scan;
mod scope;
mod seen;
pub mod settings;
mod sitemap;
pub mod spider;
pub mod store;
mod traps;

pub use config::{
    DEFAULT_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DELAY, DEFAULT_MAX_BODY,
    DEFAULT_MAX_CRAWL_DELAY, DEFAULT_MAX_REDIRECTS, DEFAULT_PER_HOST, DEFAULT_RETRIES,
    DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, ENV_CONCURRENCY, ENV_DELAY,
    ENV_FETCH_THREADS, ENV_PARSE_THREADS, ENV_PER_HOST, MAX_RETRY_AFTER, MAX_SITEMAP_NESTING,
    MAX_SITEMAPS, ROBOTS_ATTEMPTS, available_cores, default_fetch_threads, default_parse_threads,
};
pub use control::CrawlHandle;
pub use fingerprint::{BuildFingerprintHasher, Fingerprint, FingerprintHasher};
pub use frontier::{Frontier, MemoryFrontier, host_key};
pub use html::{
    MAX_DOCUMENT_BYTES, MAX_NESTING, PageLinks, Scanned, SkipCounts, base_url, charset_param,
    decode_html, extract_links, is_html, parse_document, refresh_url, scan_links,
};
pub use item::Item;
pub use normalize::{LinkSkip, normalize, parse_seed, resolve_link};
pub use output::{
    CSV_COLUMNS, CsvItems, CsvWriter, ExchangeWriter, HttpExchange, ItemWriter, JsonLinesItems,
    JsonLinesWriter, RecordWriter,
};
pub use record::{ErrorKind, PageRecord, RecordError, Redirect};
pub use report::{CrawlReport, CrawlStats, EndReason, Resumed, StatsSnapshot};
pub use request::{CrawlRequest, Intent, Request, RequestError};
pub use robots::{ROBOTS_MAX_BYTES, RobotsRules, product_token, robots_url};
pub use scope::{PatternError, Scope, ScopeRules, same_site};
pub use seen::{MemorySeenSet, SeenSet};
pub use sitemap::{SITEMAP_MAX_BYTES, SITEMAP_MAX_URLS, Sitemap, parse_sitemap};
pub use traps::{DEFAULT_MAX_URL_LENGTH, MAX_SEGMENT_REPEATS, has_repeating_segments};
