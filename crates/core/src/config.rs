//! Default values and the environment variables that set the thread and concurrency knobs.
//!
//! The library builder, the command line and the documentation share these, so a default
//! is stated once.

use std::time::Duration;

/// The `User-Agent` sent by default. Its product token, `arachne`, is the one robots.txt
/// rules are matched against.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "arachne/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/arachne-crawler/arachne)"
);

/// Requests in flight at once over the whole crawl, by default. A page counts as in flight
/// from its dispatch until it is parsed and delivered.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Requests in flight at once to one host, by default. Scrapy's project template uses 1
/// (`CONCURRENT_REQUESTS_PER_DOMAIN`); with a delay between request starts, 2 rarely has
/// more than one request in flight, but keeps one slow response from stalling the host.
pub const DEFAULT_PER_HOST: usize = 2;

/// The least time between two request starts to one host, by default: 1 s, as Scrapy's
/// project template (`DOWNLOAD_DELAY`). Each actual gap is this times a random factor from
/// 1 to 1.5, so the delay is a minimum. A robots.txt `Crawl-delay` that is longer wins.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(1);

/// The longest robots.txt `Crawl-delay` obeyed, by default; longer ones are cut to this.
pub const DEFAULT_MAX_CRAWL_DELAY: Duration = Duration::from_secs(30);

/// The longest pause a `Retry-After` header can impose on a host.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Retries of a transient failure (connect error, reset, timeout, 429, 5xx but 501), by
/// default.
pub const DEFAULT_RETRIES: u32 = 2;

/// The base of the exponential backoff between retries: the n-th retry waits
/// `base * 2^(n-1)` times a random factor from 0.5 to 1.5 (at most a minute).
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// How many times an unavailable robots.txt (5xx or unreachable) is tried before the host is
/// given up: its URLs are then recorded as `robots_unavailable`.
pub const ROBOTS_ATTEMPTS: u32 = 3;

/// The deepest nesting of sitemap indexes followed.
pub const MAX_SITEMAP_NESTING: u32 = 3;

/// The most sitemaps fetched in one crawl.
pub const MAX_SITEMAPS: usize = 1000;

/// The most redirects followed for one URL, by default.
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;

/// The body-size cap, by default: 10 MiB, after decompression.
pub const DEFAULT_MAX_BODY: u64 = 10 * 1024 * 1024;

/// The total time allowed for one request, from connecting to the end of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The time allowed to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sets the number of fetcher threads (see [`default_fetch_threads`]).
pub const ENV_FETCH_THREADS: &str = "ARACHNE_FETCH_THREADS";
/// Sets the number of parser threads (see [`default_parse_threads`]).
pub const ENV_PARSE_THREADS: &str = "ARACHNE_PARSE_THREADS";
/// Sets the global number of requests in flight (see [`DEFAULT_CONCURRENCY`]).
pub const ENV_CONCURRENCY: &str = "ARACHNE_CONCURRENCY";
/// Sets the number of requests in flight per host (see [`DEFAULT_PER_HOST`]).
pub const ENV_PER_HOST: &str = "ARACHNE_PER_HOST";
/// Sets the per-host delay, as a duration such as `500ms` or `0.5` (see [`DEFAULT_DELAY`]).
pub const ENV_DELAY: &str = "ARACHNE_DELAY";

/// The cores this process may use (at least 1).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Parser threads by default: one per core, since parsing is CPU-bound and runs in
/// parallel.
pub fn default_parse_threads() -> usize {
    available_cores()
}

/// Fetcher threads by default: one per four cores, at least one. Each fetcher thread runs
/// many requests at once; network I/O needs little CPU next to parsing.
pub fn default_fetch_threads() -> usize {
    available_cores().div_ceil(4)
}
