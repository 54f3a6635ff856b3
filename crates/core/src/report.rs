//! Live counters and the final report of a crawl.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::html::SkipCounts;
use crate::record::{ErrorKind, PageRecord};

/// Live counters of a running crawl, updated lock-free by the actors and read at any time
/// (by a progress bar, say) through [`CrawlStats::snapshot`].
#[derive(Debug, Default)]
pub struct CrawlStats {
    pages: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
    queued: AtomicU64,
    in_flight: AtomicU64,
}

/// A copy of the live counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// URLs fetched so far (records written).
    pub pages: u64,
    /// Of those, how many failed (a record with an error).
    pub errors: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// URLs waiting in the frontier.
    pub queued: u64,
    /// URLs being fetched or parsed.
    pub in_flight: u64,
}

impl CrawlStats {
    /// Counts a finished URL.
    pub fn record(&self, record: &PageRecord) {
        self.pages.fetch_add(1, Relaxed);
        self.bytes.fetch_add(record.bytes, Relaxed);
        if record.error.is_some() {
            self.errors.fetch_add(1, Relaxed);
        }
    }

    /// Sets the frontier and in-flight gauges.
    pub fn set_load(&self, queued: u64, in_flight: u64) {
        self.queued.store(queued, Relaxed);
        self.in_flight.store(in_flight, Relaxed);
    }

    /// Reads the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            pages: self.pages.load(Relaxed),
            errors: self.errors.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            queued: self.queued.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
        }
    }
}

/// The outcome of a whole crawl.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CrawlReport {
    /// URLs fetched: one record each.
    pub pages: u64,
    /// Records by the HTTP status of their last response.
    pub by_status: BTreeMap<u16, u64>,
    /// Failed records by kind of error.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Body bytes received, after decompression.
    pub bytes: u64,
    /// Bodies cut at the size cap.
    pub truncated: u64,
    /// Redirects followed.
    pub redirects: u64,
    /// Distinct links found, summed over pages.
    pub links_found: u64,
    /// Links queued: in scope and new.
    pub links_queued: u64,
    /// Links not queued because they were out of scope.
    pub out_of_scope: u64,
    /// Links not queued because they were past the maximum depth.
    pub beyond_max_depth: u64,
    /// References not followed (javascript:, mailto:, malformed, ...).
    pub skipped: SkipCounts,
    /// URLs left in the frontier when the page limit stopped the crawl.
    pub not_crawled: u64,
    /// Links not queued because the URL was longer than the maximum URL length.
    pub too_long: u64,
    /// Links not queued because their path repeats itself (`/a/b/a/b/a/b`).
    pub repeating_path: u64,
    /// URLs not queued because their host had used its page budget.
    pub host_budget: u64,
    /// Retries made after transient failures.
    pub retries: u64,
    /// Times a host was paused by a 429 or 503 with `Retry-After`.
    pub host_pauses: u64,
    /// robots.txt files fetched (attempts included).
    pub robots_fetched: u64,
    /// Sitemaps fetched.
    pub sitemaps_fetched: u64,
    /// URLs queued from sitemaps.
    pub sitemap_urls: u64,
    /// Whether the crawl was stopped before it ran out of work.
    pub stopped: bool,
    /// Wall-clock time of the crawl.
    #[serde(with = "secs")]
    pub elapsed: Duration,
}

impl CrawlReport {
    /// Adds one record to the counts.
    pub fn add(&mut self, record: &PageRecord) {
        self.pages += 1;
        self.bytes += record.bytes;
        self.truncated += u64::from(record.truncated);
        self.redirects += record.redirects.len() as u64;
        if let Some(status) = record.status {
            *self.by_status.entry(status).or_default() += 1;
        }
        if let Some(error) = &record.error {
            *self.errors.entry(error.kind).or_default() += 1;
        }
    }

    /// Pages per second over the whole crawl.
    pub fn pages_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.pages as f64 / secs
        } else {
            0.0
        }
    }

    /// Failed records.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

impl fmt::Display for CrawlReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "crawled {} pages in {:.2}s ({:.1} pages/s), {:.1} MB",
            self.pages,
            self.elapsed.as_secs_f64(),
            self.pages_per_sec(),
            self.bytes as f64 / 1e6
        )?;
        let statuses: Vec<String> = self
            .by_status
            .iter()
            .map(|(status, n)| format!("{status}: {n}"))
            .collect();
        if !statuses.is_empty() {
            writeln!(f, "  status   {}", statuses.join(", "))?;
        }
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(kind, n)| format!("{kind}: {n}"))
            .collect();
        if !errors.is_empty() {
            writeln!(f, "  errors   {}", errors.join(", "))?;
        }
        writeln!(
            f,
            "  links    {} found, {} queued, {} out of scope, {} beyond max depth, {} skipped",
            self.links_found,
            self.links_queued,
            self.out_of_scope,
            self.beyond_max_depth,
            self.skipped.total()
        )?;
        if self.redirects > 0 || self.truncated > 0 {
            writeln!(
                f,
                "  other    {} redirects followed, {} bodies truncated",
                self.redirects, self.truncated
            )?;
        }
        if self.too_long + self.repeating_path + self.host_budget > 0 {
            writeln!(
                f,
                "  traps    {} too long, {} repeating paths, {} over the per-host budget",
                self.too_long, self.repeating_path, self.host_budget
            )?;
        }
        if self.robots_fetched + self.sitemaps_fetched + self.retries + self.host_pauses > 0 {
            writeln!(
                f,
                "  polite   {} robots.txt, {} sitemaps ({} URLs), {} retries, {} host pauses",
                self.robots_fetched,
                self.sitemaps_fetched,
                self.sitemap_urls,
                self.retries,
                self.host_pauses
            )?;
        }
        if self.stopped {
            writeln!(
                f,
                "  stopped early: {} queued URLs not crawled",
                self.not_crawled
            )?;
        } else if self.not_crawled > 0 {
            writeln!(
                f,
                "  page limit reached: {} queued URLs not crawled",
                self.not_crawled
            )?;
        }
        Ok(())
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}
