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
    /// Seeds crawled (records of seeds).
    pub seeds: u64,
    /// Of those, how many failed: an error, or an HTTP error status.
    pub seeds_failed: u64,
    /// Why seeds failed, `URL: reason`, for the first [`CrawlReport::SEED_ERRORS_KEPT`].
    pub seed_errors: Vec<String>,
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
    /// References not followed (javascript:, mailto:, malformed, ...), and links to the
    /// page itself (`#fragment`), by kind.
    pub skipped: SkipCounts,
    /// URLs queued but never crawled: left when the page limit was reached or the crawl
    /// was stopped.
    pub not_crawled: u64,
    /// Links not queued because the URL was longer than the maximum URL length.
    pub too_long: u64,
    /// Links not queued because their path repeats itself (`/a/b/a/b/a/b`).
    pub repeating_path: u64,
    /// URLs left queued because their host had used its page budget.
    pub host_budget: u64,
    /// Retries made after transient failures.
    pub retries: u64,
    /// Times a host was paused by a 429 or 503 with `Retry-After`.
    pub host_pauses: u64,
    /// robots.txt files fetched (attempts included).
    pub robots_fetched: u64,
    /// Sitemaps fetched and read.
    pub sitemaps_fetched: u64,
    /// Sitemaps that could not be read: an HTTP error status, a network failure, a body
    /// that is not a sitemap, or a redirect out of scope.
    pub sitemaps_failed: u64,
    /// URLs queued from sitemaps.
    pub sitemap_urls: u64,
    /// Crawler resources not fetched because they are outside the crawl's scope: sitemaps
    /// named by robots.txt or a sitemap index on other hosts, and robots.txt and sitemap
    /// redirects to other hosts (such a sitemap also counts in `sitemaps_failed`).
    pub resources_out_of_scope: u64,
    /// Items emitted to outputs and subscribers, by type (`Book`), after the pipeline.
    pub items: BTreeMap<String, u64>,
    /// Items that pipeline stages dropped.
    pub items_dropped: u64,
    /// Items not emitted: their `Serialize` failed, or the crawl had stopped.
    pub items_lost: u64,
    /// Pages on which the spider failed (a missing element, say); the crawl went on.
    pub spider_errors: u64,
    /// Follow-up requests a spider or a handle made that could not be queued (not a URL,
    /// a body that did not serialize, ...).
    pub requests_rejected: u64,
    /// Pages whose document a spider asked for and did not get: nested deeper than
    /// [`MAX_NESTING`](crate::MAX_NESTING) or larger than
    /// [`MAX_DOCUMENT_BYTES`](crate::MAX_DOCUMENT_BYTES). Their links were followed; what
    /// the spider made of them was dropped.
    pub documents_refused: u64,
    /// Why the crawl ended.
    pub ended: EndReason,
    /// When the crawl resumed a saved one (a state file): what earlier runs had done. The
    /// other counts are this run's.
    pub resumed: Option<Resumed>,
    /// Whether the crawl was stopped before it ran out of work (by a signal, user code or
    /// a close condition; see `ended`).
    pub stopped: bool,
    /// Wall-clock time of the crawl.
    #[serde(with = "secs")]
    pub elapsed: Duration,
}

/// What earlier runs of a resumed crawl had done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resumed {
    /// Runs before this one.
    pub runs: u32,
    /// URLs with an outcome.
    pub pages: u64,
    /// Requests queued when this run started (those in flight when the last run ended
    /// included).
    pub queued: u64,
}

impl Resumed {
    /// What earlier runs had done.
    pub fn new(runs: u32, pages: u64, queued: u64) -> Self {
        Self {
            runs,
            pages,
            queued,
        }
    }
}

/// Why a crawl ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
#[non_exhaustive]
pub enum EndReason {
    /// Nothing was left to crawl.
    #[default]
    Completed,
    /// The page limit was reached (`max_pages`).
    PageLimit,
    /// The item limit was reached (`close_after_items`).
    ItemLimit,
    /// The error limit was reached (`close_after_errors`).
    ErrorLimit,
    /// The time limit passed (`close_after`).
    TimeLimit,
    /// A stop was asked for: by a signal, a spider, or a `CrawlHandle`.
    Stopped {
        /// The reason given.
        by: String,
    },
    /// The crawl's store failed (a full disk, say): the crawl stopped, and its state is
    /// good up to the store's last commit.
    StoreFailed {
        /// The store's error.
        error: String,
    },
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Completed => f.write_str("completed"),
            EndReason::PageLimit => f.write_str("page limit reached"),
            EndReason::ItemLimit => f.write_str("item limit reached"),
            EndReason::ErrorLimit => f.write_str("error limit reached"),
            EndReason::TimeLimit => f.write_str("time limit reached"),
            EndReason::Stopped { by } => write!(f, "stopped: {by}"),
            EndReason::StoreFailed { error } => write!(f, "stopped: {error}"),
        }
    }
}

impl CrawlReport {
    /// How many seed failures [`CrawlReport::seed_errors`] keeps.
    pub const SEED_ERRORS_KEPT: usize = 10;

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

    /// Counts the outcome of a seed (after [`CrawlReport::add`]).
    pub fn add_seed(&mut self, record: &PageRecord) {
        self.seeds += 1;
        let failure = match (&record.error, record.status) {
            (Some(error), _) => Some(format!("{}: {}", error.kind, error.message)),
            (None, Some(status)) if status >= 400 => Some(format!("HTTP status {status}")),
            (None, None) => Some("no response".to_owned()),
            (None, Some(_)) => None,
        };
        if let Some(why) = failure {
            self.seeds_failed += 1;
            if self.seed_errors.len() < Self::SEED_ERRORS_KEPT {
                self.seed_errors.push(format!("{}: {why}", record.url));
            }
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

    /// Whether every seed failed, so that nothing could be crawled from them.
    pub fn every_seed_failed(&self) -> bool {
        self.seeds > 0 && self.seeds_failed == self.seeds
    }
}

/// `1 page`, `2 pages`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A byte count for people: `512 bytes`, `43.4 KB`, `1.2 MB`, `3.0 GB` (powers of 1000).
fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => count(bytes, "byte", "bytes"),
        1_000..1_000_000 => format!("{:.1} KB", bytes as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.1} GB", bytes as f64 / 1e9),
    }
}

/// The summary printed after a crawl: what was fetched, what failed, what was not
/// followed and why.
impl fmt::Display for CrawlReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "crawled {} in {:.2}s ({:.1} pages/s), {}",
            count(self.pages, "page", "pages"),
            self.elapsed.as_secs_f64(),
            self.pages_per_sec(),
            human_bytes(self.bytes)
        )?;
        if let Some(resumed) = &self.resumed {
            writeln!(
                f,
                "  resumed  after {}: {} done before, {} queued at the start",
                count(u64::from(resumed.runs), "run", "runs"),
                count(resumed.pages, "page", "pages"),
                count(resumed.queued, "URL", "URLs")
            )?;
        }
        if self.every_seed_failed() && !self.stopped {
            let first = self.seed_errors.first().map_or("", String::as_str);
            let more = self.seeds_failed.saturating_sub(1);
            // Pages from a sitemap may have been crawled all the same.
            let consequence = if self.pages == self.seeds {
                ", so nothing else was crawled"
            } else {
                ""
            };
            writeln!(
                f,
                "  every seed failed{consequence}: {first}{}",
                if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                }
            )?;
        }
        let list = |items: Vec<String>| items.join(", ");
        if !self.by_status.is_empty() {
            let statuses = self.by_status.iter().map(|(s, n)| format!("{s}: {n}"));
            writeln!(f, "  status   {}", list(statuses.collect()))?;
        }
        if !self.errors.is_empty() {
            let errors = self.errors.iter().map(|(kind, n)| format!("{kind}: {n}"));
            writeln!(f, "  errors   {}", list(errors.collect()))?;
        }
        writeln!(
            f,
            "  links    {} found, {} new in scope (queued), {} out of scope, {} beyond max depth, {} to the same page (#fragment)",
            self.links_found,
            self.links_queued,
            self.out_of_scope,
            self.beyond_max_depth,
            self.skipped.same_page,
        )?;
        if self.skipped.total() > 0 {
            let kinds = self
                .skipped
                .kinds()
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(kind, n)| format!("{n} {kind}"));
            writeln!(
                f,
                "  skipped  {} (not http or https links)",
                list(kinds.collect())
            )?;
        }
        if self.redirects > 0 || self.truncated > 0 {
            writeln!(
                f,
                "  other    {} followed, {} truncated",
                count(self.redirects, "redirect", "redirects"),
                count(self.truncated, "body", "bodies")
            )?;
        }
        if self.too_long + self.repeating_path + self.host_budget > 0 {
            writeln!(
                f,
                "  traps    {} too long, {} repeating paths, {} over the per-host budget",
                self.too_long, self.repeating_path, self.host_budget
            )?;
        }
        let sitemaps = self.sitemaps_fetched + self.sitemaps_failed;
        if self.robots_fetched + sitemaps + self.retries + self.host_pauses > 0 {
            let mut parts = vec![
                format!("{} robots.txt", self.robots_fetched),
                format!(
                    "{} ({})",
                    count(self.sitemaps_fetched, "sitemap", "sitemaps"),
                    count(self.sitemap_urls, "URL", "URLs")
                ),
            ];
            if self.sitemaps_failed > 0 {
                parts.push(format!(
                    "{} failed",
                    count(self.sitemaps_failed, "sitemap", "sitemaps")
                ));
            }
            parts.push(count(self.retries, "retry", "retries"));
            parts.push(count(self.host_pauses, "host pause", "host pauses"));
            writeln!(f, "  polite   {}", list(parts))?;
        }
        if self.resources_out_of_scope > 0 {
            writeln!(
                f,
                "  scope    {} (robots.txt redirects, sitemaps) not fetched: out of scope",
                count(
                    self.resources_out_of_scope,
                    "crawler resource",
                    "crawler resources"
                )
            )?;
        }
        if !self.items.is_empty() || self.items_dropped + self.items_lost > 0 {
            let mut parts: Vec<String> = self
                .items
                .iter()
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect();
            if parts.is_empty() {
                parts.push("0".into());
            }
            if self.items_dropped > 0 {
                parts.push(format!("{} dropped by the pipeline", self.items_dropped));
            }
            if self.items_lost > 0 {
                parts.push(format!("{} not emitted", self.items_lost));
            }
            writeln!(f, "  items    {}", list(parts))?;
        }
        if self.spider_errors + self.requests_rejected + self.documents_refused > 0 {
            writeln!(
                f,
                "  spider   {} failed, {} rejected, {} too deep or large for a document",
                count(self.spider_errors, "page", "pages"),
                count(self.requests_rejected, "request", "requests"),
                count(self.documents_refused, "page", "pages")
            )?;
        }
        match &self.ended {
            EndReason::Completed if self.not_crawled == 0 => {}
            ended => writeln!(
                f,
                "  ended    {ended}: {} not crawled",
                count(self.not_crawled, "queued URL", "queued URLs")
            )?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordError;

    /// Adds a record to the report, as a seed when at depth 0.
    fn add(report: &mut CrawlReport, record: &PageRecord) {
        report.add(record);
        if record.depth == 0 {
            report.add_seed(record);
        }
    }

    fn record(url: &str, depth: u32, status: Option<u16>, error: Option<ErrorKind>) -> PageRecord {
        let url: url::Url = url.parse().unwrap();
        PageRecord {
            final_url: url.clone(),
            parent: (depth > 0).then(|| url.clone()),
            url,
            status,
            depth,
            content_type: None,
            bytes: 0,
            truncated: false,
            links: 0,
            new_links: 0,
            redirects: Vec::new(),
            attempts: 1,
            elapsed_ms: 1,
            fetched_at: String::new(),
            method: "GET".into(),
            error: error.map(|kind| RecordError {
                kind,
                message: "connection refused".into(),
            }),
        }
    }

    #[test]
    fn summary_counts_in_words() {
        let mut report = CrawlReport::default();
        add(&mut report, &record("http://a.test/", 0, Some(200), None));
        report.elapsed = Duration::from_secs(1);
        let text = report.to_string();
        assert!(
            text.starts_with("crawled 1 page in 1.00s (1.0 pages/s), 0 bytes\n"),
            "{text}"
        );
        assert!(!text.contains("every seed failed"));
        report.bytes = 43_400;
        assert!(report.to_string().contains(", 43.4 KB\n"));
        assert_eq!(human_bytes(1), "1 byte");
        assert_eq!(human_bytes(2_500_000), "2.5 MB");
    }

    #[test]
    fn summary_names_skipped_kinds_and_same_page_links() {
        let mut report = CrawlReport::default();
        report.skipped.same_page = 40;
        report.skipped.javascript = 3;
        report.skipped.mailto = 2;
        let text = report.to_string();
        assert!(text.contains("40 to the same page (#fragment)"), "{text}");
        assert!(text.contains("skipped  3 javascript:, 2 mailto:"), "{text}");
        report.skipped.javascript = 0;
        report.skipped.mailto = 0;
        assert!(
            !report.to_string().contains("skipped"),
            "fragments are not skipped links"
        );
    }

    #[test]
    fn every_seed_failed_is_said_plainly() {
        let mut report = CrawlReport::default();
        add(
            &mut report,
            &record("http://a.test/", 0, None, Some(ErrorKind::Connect)),
        );
        add(&mut report, &record("http://b.test/", 0, Some(404), None));
        assert!(report.every_seed_failed());
        let text = report.to_string();
        assert!(
            text.contains("every seed failed, so nothing else was crawled: http://a.test/: connect: connection refused (and 1 more)"),
            "{text}"
        );
        assert_eq!(report.seed_errors[1], "http://b.test/: HTTP status 404");
        add(&mut report, &record("http://c.test/", 0, Some(200), None));
        assert!(!report.every_seed_failed());
        add(
            &mut report,
            &record("http://c.test/x", 1, None, Some(ErrorKind::Timeout)),
        );
        assert_eq!((report.seeds, report.seeds_failed), (3, 2));

        // Pages from a sitemap were crawled all the same; a stopped crawl says nothing.
        let mut report = CrawlReport::default();
        add(
            &mut report,
            &record("http://a.test/", 0, None, Some(ErrorKind::Connect)),
        );
        add(
            &mut report,
            &record("http://a.test/listed", 1, Some(200), None),
        );
        let text = report.to_string();
        assert!(
            text.contains("  every seed failed: http://a.test/"),
            "{text}"
        );
        report.stopped = true;
        assert!(!report.to_string().contains("every seed failed"));
    }

    #[test]
    fn sitemap_failures_are_counted_apart() {
        let report = CrawlReport {
            sitemaps_fetched: 1,
            sitemaps_failed: 2,
            sitemap_urls: 1,
            resources_out_of_scope: 1,
            ..CrawlReport::default()
        };
        let text = report.to_string();
        assert!(
            text.contains("1 sitemap (1 URL), 2 sitemaps failed"),
            "{text}"
        );
        assert!(
            text.contains(
                "1 crawler resource (robots.txt redirects, sitemaps) not fetched: out of scope"
            ),
            "{text}"
        );
    }
}
