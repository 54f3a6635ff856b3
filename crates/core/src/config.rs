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

/// Requests in flight at once to one host, by default (as Scrapy's
/// `CONCURRENT_REQUESTS_PER_DOMAIN`).
pub const DEFAULT_PER_HOST: usize = 8;

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

/// Reads a positive whole number from an environment variable.
///
/// Returns `Ok(None)` when the variable is unset or empty.
///
/// # Errors
/// A message naming the variable when its value is not a whole number of at least 1.
pub fn env_count(name: &str) -> Result<Option<usize>, String> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => match value.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(format!(
                "{name}={value}: expected a whole number of at least 1"
            )),
        },
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}
