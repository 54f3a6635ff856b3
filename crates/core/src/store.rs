//! The storage seam: where a crawl's queue, its seen set, the outcome of every URL and the
//! state of its hosts live.
//!
//! # Who owns what
//!
//! | state | lives in | kept across runs (durable store) |
//! |---|---|---|
//! | queued requests, with their intent | the store | yes |
//! | the seen set (every request claimed) | the store | yes |
//! | every URL's outcome | the store | yes |
//! | the per-host page budget (`max_pages_per_host`) | the store, applied when requests are taken | yes: it counts outcomes |
//! | robots.txt rules and their age, `Retry-After` pauses | the supervisor, noted to the store ([`Note::Host`]) | yes |
//! | sitemaps read, seeds' landings | the supervisor, noted to the store | yes |
//! | the window: requests taken and not dispatched yet | the supervisor, bounded | no: queued again |
//! | requests in flight, next allowed start per host, autothrottle's delay | the supervisor | no |
//! | pending redirect hops and retries waiting for their backoff | the supervisor | no: the page starts over |
//! | the page limit (`max_pages`) | the supervisor, counting the outcomes the store had | yes, through the outcomes |
//!
//! Calls come in batches (all of a page's links in one [`Store::claim`]; up to a window's
//! worth of requests in one [`Store::take`]), never per link, and they may fail: a failed
//! call is an error for the crawl (it stops, and says why), never a panic.
//!
//! # Work in flight while store calls are out
//!
//! A crawl is over only when nothing is left anywhere: no request queued in the store
//! ([`Store::queued`]), none in the supervisor's window or held back, none in flight, no
//! page being stored, and no store call out. A page counts as in flight from its dispatch
//! until its links are claimed and its outcome recorded (one call of the crawl's: `claim`,
//! then `complete`); with a durable store, the page gives its request's slot back once the
//! request is over and counts as *being stored* until the store has it, a stage bounded
//! like requests in flight. The supervisor's own calls (takes, claims of seeds and of
//! requests given through a handle, what robots.txt and sitemaps gave, notes, releases)
//! count while they are out. A store whose `queued` says requests wait but whose `take`
//! gives none for any host is taken at its word that there is nothing to take (logged),
//! so a miscounting store cannot hang a crawl.
//!
//! # Durability
//!
//! A [`durable`](Store::durable) store is called from a thread of its own, never from the
//! supervisor's, and may block. Changes become durable together at [`Store::commit`],
//! which also records how far each output file was written: after a crash, everything
//! after the last commit is undone (the outputs are cut back to their committed lengths),
//! and the requests that were taken but had no committed outcome are queued again. A store
//! that is not durable ([`MemoryStore`]) is called in place: its calls take microseconds.
//!
//! # Claims
//!
//! [`Store::claim`] claims requests and queues the new ones in one step, so that a claimed
//! request cannot be lost between the two. A redirect target is claimed on its own with
//! [`Store::claim_hop`]: the page follows it instead of queueing it, and that claim must
//! become durable only with the page's outcome, which lists it ([`Outcome::hops`]), so a
//! page fetched again after a crash follows its redirect again.
//!
//! A store that keeps its seen set in this process lends it as [`Store::seen`]: parser
//! threads look links up there first and leave out those already seen. That look-up is a
//! hint; the claim is the store's.
//!
//! # Example: a store's life
//! ```
//! use arachne_core::CrawlRequest;
//! use arachne_core::store::{CrawlSpec, MemoryStore, Opening, Store, Want};
//!
//! let seed = CrawlRequest::seed("http://a.test/".parse().unwrap());
//! let mut store = MemoryStore::new();
//! let resume = store.open(&Opening::new(CrawlSpec::default(), vec![seed.fingerprint()])).unwrap();
//! assert!(!resume.resumed);
//!
//! assert_eq!(store.claim(vec![seed.clone()]).unwrap().new, 1);
//! assert_eq!(store.claim(vec![seed.clone()]).unwrap().new, 0, "claimed once");
//! let taken = store.take(&Want::new(16, 4)).unwrap();
//! assert_eq!(taken.len(), 1);
//! assert_eq!(store.queued(), 0);
//! let left = store.close("completed", &[]).unwrap();
//! assert_eq!(left.queued, 0);
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::fingerprint::Fingerprint;
use crate::frontier::{Frontier, MemoryFrontier, host_key};
use crate::record::{PageRecord, RecordError};
use crate::request::CrawlRequest;
use crate::seen::{MemorySeenSet, SeenSet};

/// Where a crawl's queue, seen set, outcomes and host state live. See the [module
/// documentation](self) for the contract.
pub trait Store: Send + 'static {
    /// Whether the store keeps the crawl across runs. A durable store is called from a
    /// thread of its own and may block; its changes are durable at [`Store::commit`]. A
    /// store that is not durable is called in place, on the supervisor's and fetchers'
    /// threads, and must never block.
    fn durable(&self) -> bool {
        false
    }

    /// Opens the crawl: a new one, or the one the store already holds (a resume). Called
    /// once, before any other call.
    ///
    /// # Errors
    /// The store cannot be read, or holds another crawl ([`StoreError::OtherCrawl`]) and
    /// `opening.force` is not set.
    fn open(&mut self, opening: &Opening) -> Result<Resume, StoreError>;

    /// The seen set the store claims in, when it lives in this process: parser threads look
    /// links up in it to leave out those already seen. `None` when it does not.
    fn seen(&self) -> Option<Arc<dyn SeenSet>>;

    /// Claims requests and queues the ones never claimed before, in one step. Requests are
    /// identified by [`CrawlRequest::fingerprint`].
    ///
    /// # Errors
    /// The store failed; nothing of the batch may be assumed queued.
    fn claim(&mut self, requests: Vec<CrawlRequest>) -> Result<Claimed, StoreError>;

    /// Claims `hop`, the target of a redirect a page is following, without queueing it:
    /// `true` when it was never claimed, and the page follows it. The claim becomes
    /// durable with the page's outcome (see [`Outcome::hops`]). A store may instead queue
    /// `hop` as a request of its own and answer `false` (the page then ends at its
    /// redirect): a store partitioned by site does so for a target kept in another
    /// partition.
    ///
    /// # Errors
    /// The store failed.
    fn claim_hop(&mut self, hop: &CrawlRequest) -> Result<bool, StoreError>;

    /// Takes queued requests for the supervisor's window: at most `want.max`, at most
    /// `want.per_host` of one host, none of a host in `want.skip` or over its page budget.
    /// Within a host, the highest priority first, then the shallowest, then the oldest;
    /// hosts take turns. A taken request stays the store's until its outcome is recorded
    /// or it is released; a crash queues it again.
    ///
    /// # Errors
    /// The store failed.
    fn take(&mut self, want: &Want) -> Result<Vec<CrawlRequest>, StoreError>;

    /// Records the outcomes of taken requests; they leave the queue.
    ///
    /// # Errors
    /// The store failed.
    fn complete(&mut self, outcomes: Vec<Outcome>) -> Result<(), StoreError>;

    /// Gives up taken requests that will not be fetched, without an outcome: the scope
    /// changed under them (a seed redirected). Their host budget is returned.
    ///
    /// # Errors
    /// The store failed.
    fn release(&mut self, requests: Vec<CrawlRequest>) -> Result<(), StoreError>;

    /// Keeps facts a resumed crawl needs: host state, sitemaps read, seeds landed.
    ///
    /// # Errors
    /// The store failed.
    fn note(&mut self, notes: Vec<Note>) -> Result<(), StoreError>;

    /// Makes every change so far durable, together with how far each output file was
    /// written. A store that is not durable ignores it.
    ///
    /// # Errors
    /// The store failed; the changes since the last commit are not durable.
    fn commit(&mut self, outputs: &[OutputMark]) -> Result<(), StoreError>;

    /// Ends the crawl's run: a last commit, and why it ended. Returns what is left queued.
    ///
    /// # Errors
    /// The store failed.
    fn close(&mut self, ended: &str, outputs: &[OutputMark]) -> Result<Remaining, StoreError>;

    /// Requests queued and not taken, that a `take` may return (hosts over their budget
    /// left out). A [shared](Store::sharing) store counts the requests other processes
    /// hold too: the crawl is not over while they may give more.
    fn queued(&self) -> u64;

    /// The host state of the hosts the last [`Store::take`] gave this process for the
    /// first time, as other processes of a shared crawl kept it (their robots.txt,
    /// pauses). Empty for a store no other process uses.
    fn taken_hosts(&mut self) -> Vec<HostState> {
        Vec::new()
    }

    /// Seeds that landed (redirected) since the last call, as other processes of a shared
    /// crawl noted them: the scope follows them here too. Empty for a store no other
    /// process uses.
    fn seed_landings(&mut self) -> Vec<(Url, Url)> {
        Vec::new()
    }

    /// Called by the journal when no commit was due for a while: a shared store renews its
    /// leases here. Nothing by default.
    ///
    /// # Errors
    /// The store failed.
    fn idle(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// How a store that other processes use too (a shared crawl) steers this one: `None`
    /// for a store of this process alone.
    fn sharing(&self) -> Option<Sharing> {
        None
    }
}

/// What a store shared by several processes tells the crawl (see [`Store::sharing`]).
///
/// A take that gives nothing is no sign that the crawl is over: other processes may still
/// give more, or hold hosts that will come free. The crawl asks again every `poll`. And
/// requests may be sent only while this process's leases on its hosts are renewed: when
/// they are not (the store cannot be reached), the crawl sends none until they are.
#[derive(Debug, Clone)]
pub struct Sharing {
    /// How often to ask again for requests when a take gave none.
    pub poll: Duration,
    /// Until when requests may be sent, on this process's monotonic clock
    /// ([`monotonic_millis`]): the leases are safe until then.
    pub leased_until: Arc<AtomicU64>,
}

impl Sharing {
    /// Whether this process's leases are safe now.
    pub fn may_send(&self) -> bool {
        monotonic_millis() <= self.leased_until.load(Ordering::Acquire)
    }
}

/// Milliseconds on this process's monotonic clock (since its first reading): immune to the
/// wall clock being set back or forth.
pub fn monotonic_millis() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What a crawl is, as a store keeps it: what identifies it (its seeds and scope) and the
/// options it runs with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrawlSpec {
    /// The seeds: URLs, with the method in front when it is not GET (`POST http://...`).
    pub seeds: Vec<String>,
    /// The scope: `host`, `domain`, `prefix` or `any`.
    pub scope: String,
    /// `--include` patterns.
    pub include: Vec<String>,
    /// `--exclude` patterns.
    pub exclude: Vec<String>,
    /// The depth limit.
    pub max_depth: Option<u32>,
    /// Every other setting, as text, by name: a resumed crawl may change them.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl CrawlSpec {
    /// How this crawl differs from a saved one in what identifies it (seeds, scope,
    /// patterns, depth limit), one line each; empty when it is the same crawl.
    pub fn differences(&self, saved: &CrawlSpec) -> Vec<String> {
        fn list(items: &[String]) -> String {
            if items.is_empty() {
                "none".to_owned()
            } else {
                items.join(" ")
            }
        }
        let mut out = Vec::new();
        if self.seeds != saved.seeds {
            let added: Vec<String> = self
                .seeds
                .iter()
                .filter(|s| !saved.seeds.contains(s))
                .cloned()
                .collect();
            let removed: Vec<String> = saved
                .seeds
                .iter()
                .filter(|s| !self.seeds.contains(s))
                .cloned()
                .collect();
            let mut line = "the seeds differ:".to_owned();
            if !added.is_empty() {
                line.push_str(&format!(" new {}", list(&added)));
            }
            if !removed.is_empty() {
                line.push_str(&format!(
                    "{} missing {}",
                    if added.is_empty() { "" } else { ";" },
                    list(&removed)
                ));
            }
            if added.is_empty() && removed.is_empty() {
                line.push_str(" the same URLs in another order");
            }
            out.push(line);
        }
        if self.scope != saved.scope {
            out.push(format!(
                "the scope differs: {} (saved: {})",
                self.scope, saved.scope
            ));
        }
        if self.include != saved.include {
            out.push(format!(
                "--include differs: {} (saved: {})",
                list(&self.include),
                list(&saved.include)
            ));
        }
        if self.exclude != saved.exclude {
            out.push(format!(
                "--exclude differs: {} (saved: {})",
                list(&self.exclude),
                list(&saved.exclude)
            ));
        }
        if self.max_depth != saved.max_depth {
            let depth = |d: Option<u32>| d.map_or_else(|| "none".to_owned(), |d| d.to_string());
            out.push(format!(
                "the depth limit differs: {} (saved: {})",
                depth(self.max_depth),
                depth(saved.max_depth)
            ));
        }
        out
    }

    /// The options that changed since a saved run, `name: old -> new`.
    pub fn option_changes(&self, saved: &CrawlSpec) -> Vec<String> {
        let names: std::collections::BTreeSet<&String> =
            self.options.keys().chain(saved.options.keys()).collect();
        names
            .into_iter()
            .filter_map(|name| {
                let now = self.options.get(name);
                let before = saved.options.get(name);
                (now != before).then(|| {
                    format!(
                        "{name}: {} -> {}",
                        before.map_or("unset", String::as_str),
                        now.map_or("unset", String::as_str)
                    )
                })
            })
            .collect()
    }
}

/// Items joined with commas, or `none`, as `arachne state` lists them.
pub fn listed(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The seeds, scope and options, one labelled line each, as `arachne state` shows a crawl.
impl fmt::Display for CrawlSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seeds    {}", listed(self.seeds.iter().cloned()))?;
        let mut scope = vec![self.scope.clone()];
        if let Some(depth) = self.max_depth {
            scope.push(format!("max depth {depth}"));
        }
        scope.extend(self.include.iter().map(|p| format!("include {p}")));
        scope.extend(self.exclude.iter().map(|p| format!("exclude {p}")));
        writeln!(f, "scope    {}", listed(scope))?;
        if !self.options.is_empty() {
            let options = self
                .options
                .iter()
                .map(|(name, value)| format!("{name} {value}"));
            writeln!(f, "options  {}", listed(options))?;
        }
        Ok(())
    }
}

/// Writes a crawl's outcomes as `arachne state` shows them: pages by HTTP status, then
/// failures by error kind when there are any.
///
/// # Errors
/// The formatter failed.
pub fn write_outcomes(
    f: &mut fmt::Formatter<'_>,
    pages: u64,
    by_status: &BTreeMap<String, u64>,
    errors: &BTreeMap<String, u64>,
) -> fmt::Result {
    let statuses = by_status.iter().map(|(s, n)| format!("{s}: {n}"));
    writeln!(f, "done     {pages} pages; status {}", listed(statuses))?;
    if !errors.is_empty() {
        let errors = errors.iter().map(|(kind, n)| format!("{kind}: {n}"));
        writeln!(f, "errors   {}", listed(errors))?;
    }
    Ok(())
}

/// What [`Store::open`] is given.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Opening {
    /// The crawl.
    pub spec: CrawlSpec,
    /// The seeds' fingerprints, to tell which were done already.
    pub seeds: Vec<Fingerprint>,
    /// The most requests taken per host over the whole crawl (`max_pages_per_host`).
    pub host_budget: Option<u64>,
    /// Continue a saved crawl even if its seeds or scope differ, with the new ones.
    pub force: bool,
}

impl Opening {
    /// Opening a crawl with these seeds, no host budget, no force.
    pub fn new(spec: CrawlSpec, seeds: Vec<Fingerprint>) -> Self {
        Self {
            spec,
            seeds,
            host_budget: None,
            force: false,
        }
    }

    /// With a page budget per host.
    pub fn host_budget(mut self, budget: Option<u64>) -> Self {
        self.host_budget = budget;
        self
    }

    /// Continue a saved crawl whose seeds or scope differ.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// What a store held when it was opened: nothing for a new crawl.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Resume {
    /// Whether the store held this crawl already.
    pub resumed: bool,
    /// Runs of the crawl before this one.
    pub runs: u32,
    /// URLs with an outcome.
    pub pages_done: u64,
    /// Requests queued (those in flight when the last run ended included).
    pub queued: u64,
    /// Requests claimed.
    pub seen: u64,
    /// Which seeds (in the order of [`Opening::seeds`]) have an outcome.
    pub seeds_done: Vec<bool>,
    /// Host state kept.
    pub hosts: Vec<HostState>,
    /// Sitemaps already read.
    pub sitemaps_read: Vec<Url>,
    /// Seeds that redirected, and where they landed.
    pub landings: Vec<(Url, Url)>,
    /// How far each output file was written at the last commit.
    pub outputs: Vec<OutputMark>,
    /// Options changed since the last run (see [`CrawlSpec::option_changes`]).
    pub option_changes: Vec<String>,
    /// Differences in seeds or scope that `force` let through.
    pub forced: Vec<String>,
}

/// The result of a [`Store::claim`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claimed {
    /// Requests claimed and queued by this call.
    pub new: u32,
}

/// What the supervisor asks of [`Store::take`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Want {
    /// The most requests to take.
    pub max: usize,
    /// The most requests of one host.
    pub per_host: usize,
    /// Hosts (as [`host_key`] names them) to take nothing of now.
    pub skip: HashSet<String>,
}

impl Want {
    /// At most `max` requests, at most `per_host` of one host.
    pub fn new(max: usize, per_host: usize) -> Self {
        Self {
            max,
            per_host,
            skip: HashSet::new(),
        }
    }

    /// Nothing of these hosts.
    pub fn skip(mut self, hosts: impl IntoIterator<Item = String>) -> Self {
        self.skip.extend(hosts);
        self
    }
}

/// The outcome of a taken request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Outcome {
    /// The fingerprint of the request as it was taken.
    pub fingerprint: Fingerprint,
    /// Its host ([`host_key`]).
    pub host: String,
    /// Its label.
    pub label: Option<String>,
    /// Its record.
    pub record: Arc<PageRecord>,
    /// The redirect targets it claimed with [`Store::claim_hop`].
    pub hops: Vec<Fingerprint>,
}

impl Outcome {
    /// The outcome of `request`.
    pub fn new(request: &CrawlRequest, record: Arc<PageRecord>) -> Self {
        Self {
            fingerprint: request.fingerprint(),
            host: host_key(&request.url).into_owned(),
            label: request.label().map(str::to_owned),
            record,
            hops: Vec::new(),
        }
    }

    /// With the redirect targets the page claimed.
    pub fn hops(mut self, hops: Vec<Fingerprint>) -> Self {
        self.hops = hops;
        self
    }
}

/// A fact a resumed crawl needs, kept with [`Store::note`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Note {
    /// A host's state changed.
    Host(HostState),
    /// A sitemap was read (it is not read again).
    SitemapRead(Url),
    /// A seed redirected and landed here: its part of the scope is taken from there.
    SeedLanded {
        /// The seed.
        seed: Url,
        /// Where it landed.
        landing: Url,
    },
}

/// What a crawl keeps of a host.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HostState {
    /// The host, as [`host_key`] names it.
    pub host: String,
    /// Its robots.txt, when it was fetched (or given up on).
    pub robots: Option<SavedRobots>,
    /// No request to it before this time (`Retry-After`).
    pub paused_until: Option<SystemTime>,
}

impl HostState {
    /// A host with nothing known.
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            robots: None,
            paused_until: None,
        }
    }
}

/// A host's robots.txt as a crawl keeps it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SavedRobots {
    /// When it was fetched.
    pub fetched_at: SystemTime,
    /// What came of it.
    pub outcome: RobotsFetch,
}

impl SavedRobots {
    /// A robots.txt fetched at `fetched_at`.
    pub fn new(fetched_at: SystemTime, outcome: RobotsFetch) -> Self {
        Self {
            fetched_at,
            outcome,
        }
    }
}

/// What came of fetching a robots.txt.
#[derive(Debug, Clone, PartialEq)]
pub enum RobotsFetch {
    /// Its body (the rules are parsed from it again on resume).
    Body(String),
    /// None to obey: it answered 4xx, or redirected where it could not be followed.
    AllowAll,
    /// It could not be had, after retries; the host's URLs are refused with this error.
    Unavailable(RecordError),
}

/// How far an output file was written at a commit. Outputs that rotate to numbered files
/// (WARC past a size) are at `length` bytes of their `files`-th file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputMark {
    /// The output's path, as the crawl names it (absolute).
    pub path: String,
    /// Files started (1 for outputs that do not rotate).
    pub files: u32,
    /// Bytes of the last file.
    pub length: u64,
}

/// `path: N bytes`, with the file's number when the output rotates.
impl fmt::Display for OutputMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} bytes", self.path, self.length)?;
        if self.files > 1 {
            write!(f, " in file {}", self.files)?;
        }
        Ok(())
    }
}

/// What is left queued when a crawl's run ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Remaining {
    /// Requests queued that a later run may take.
    pub queued: u64,
    /// Requests queued for hosts that used their page budget.
    pub over_budget: u64,
    /// Whether the crawl's page budget (`--max-pages`) is spent: a store shared with other
    /// processes counts it for all of them, so this process may have fetched fewer.
    pub pages_spent: bool,
}

impl Remaining {
    /// `queued` requests left, and `over_budget` more for hosts that used their budget.
    pub fn new(queued: u64, over_budget: u64) -> Self {
        Self {
            queued,
            over_budget,
            pages_spent: false,
        }
    }

    /// The crawl's page budget is spent (counted by a shared store for every process).
    #[must_use]
    pub fn pages_spent(mut self, spent: bool) -> Self {
        self.pages_spent = spent;
        self
    }
}

/// A store failed, or cannot hold this crawl.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another running crawl holds the state.
    #[error("{path} is in use by another running crawl")]
    Locked {
        /// The state's name.
        path: String,
    },
    /// The state is not a crawl's state, or is damaged.
    #[error("{path} is not a usable arachne state file: {why}")]
    Damaged {
        /// The state's name.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The state was written by a newer arachne.
    #[error(
        "{path} was written by a newer arachne (state format {found}; this one reads up to {supported}): use that version, or another state file"
    )]
    Newer {
        /// The state's name.
        path: String,
        /// Its format version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// The state holds another crawl: other seeds or scope.
    #[error("{path} holds another crawl: {}. Use another state file, or --force to continue it with the new settings", .differences.join("; "))]
    OtherCrawl {
        /// The state's name.
        path: String,
        /// What differs, one line each.
        differences: Vec<String>,
    },
    /// An output file no longer matches what the crawl wrote to it.
    #[error("output {path}: {why}")]
    Output {
        /// The output's path.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The store cannot be reached (a server that does not answer).
    #[error("cannot reach {store}: {why}")]
    Unreachable {
        /// The store, as the user named it.
        store: String,
        /// Why.
        why: String,
    },
    /// What was asked cannot be done, for a reason the user can fix (a name in use, a
    /// crawl that does not exist, a name that cannot be used).
    #[error("{what}: {why}")]
    Refused {
        /// What was refused.
        what: String,
        /// Why, and what to do.
        why: String,
    },
    /// A shared crawl runs with other settings than these.
    #[error("{crawl} runs with other settings: {}. Leave these options out to use the crawl's own, or start another crawl", .differences.join("; "))]
    Settings {
        /// The crawl.
        crawl: String,
        /// What differs, one line each.
        differences: Vec<String>,
    },
    /// A call failed while the crawl ran (I/O, a full disk, a lost connection).
    #[error("the crawl's state store failed: {0}")]
    Failed(String),
}

impl StoreError {
    /// Whether the error stops a crawl from starting because of what the user gave (a
    /// locked, damaged or foreign state file): the command line exits 2 for these.
    pub fn is_usage(&self) -> bool {
        !matches!(self, StoreError::Failed(_))
    }
}

/// The in-memory store, the default: a [`Frontier`] and a [`SeenSet`] (a
/// [`MemoryFrontier`] and a [`MemorySeenSet`] unless given others), and the per-host page
/// budget. Nothing survives the process. Calls never block.
pub struct MemoryStore {
    frontier: Box<dyn Frontier>,
    seen: Arc<dyn SeenSet>,
    /// The per-host budget and what it counts; none without a budget.
    budget: Option<HostBudget>,
}

/// A per-host page budget, and what it needs to know: requests taken and queued per host.
#[derive(Debug)]
struct HostBudget {
    max: u64,
    taken: HashMap<String, u64>,
    queued: HashMap<String, u64>,
    /// Requests queued for hosts over their budget: never taken.
    stuck: u64,
}

impl HostBudget {
    fn new(max: u64) -> Self {
        Self {
            max,
            taken: HashMap::new(),
            queued: HashMap::new(),
            stuck: 0,
        }
    }

    fn over(&self, host: &str) -> bool {
        self.taken.get(host).copied().unwrap_or(0) >= self.max
    }

    /// A request of `host` was queued.
    fn queued(&mut self, host: &str) {
        if self.over(host) {
            self.stuck += 1;
        }
        *self.queued.entry(host.to_owned()).or_default() += 1;
    }

    /// A request of `host` was taken: once the host reaches its budget, what is left of it
    /// stays queued, never taken.
    fn taken(&mut self, host: &str) {
        let taken = self.taken.entry(host.to_owned()).or_default();
        *taken += 1;
        let now_over = *taken >= self.max;
        let queued = self.queued.entry(host.to_owned()).or_default();
        *queued = queued.saturating_sub(1);
        if now_over {
            self.stuck += *queued;
        }
    }

    /// A taken request of `host` was given back, with its place under the budget.
    fn released(&mut self, host: &str) {
        let was_over = self.over(host);
        if let Some(taken) = self.taken.get_mut(host) {
            *taken = taken.saturating_sub(1);
        }
        if was_over && !self.over(host) {
            let queued = self.queued.get(host).copied().unwrap_or(0);
            self.stuck = self.stuck.saturating_sub(queued);
        }
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("queued", &self.frontier.len())
            .field("seen", &self.seen.len())
            .field("host_budget", &self.budget.as_ref().map(|b| b.max))
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store: a [`MemoryFrontier`] and a [`MemorySeenSet`].
    pub fn new() -> Self {
        Self::with(MemoryFrontier::new(), Arc::new(MemorySeenSet::new()))
    }

    /// A store over another frontier and seen set (a seen set shared with other crawls,
    /// say).
    pub fn with(frontier: impl Frontier, seen: Arc<dyn SeenSet>) -> Self {
        Self {
            frontier: Box::new(frontier),
            seen,
            budget: None,
        }
    }

    fn stuck(&self) -> u64 {
        self.budget.as_ref().map_or(0, |budget| budget.stuck)
    }
}

impl Store for MemoryStore {
    fn open(&mut self, opening: &Opening) -> Result<Resume, StoreError> {
        self.budget = opening.host_budget.map(HostBudget::new);
        Ok(Resume {
            seeds_done: vec![false; opening.seeds.len()],
            ..Resume::default()
        })
    }

    fn seen(&self) -> Option<Arc<dyn SeenSet>> {
        Some(Arc::clone(&self.seen))
    }

    fn claim(&mut self, requests: Vec<CrawlRequest>) -> Result<Claimed, StoreError> {
        let mut claimed = Claimed::default();
        for request in requests {
            if !self.seen.insert(request.fingerprint()) {
                continue;
            }
            if let Some(budget) = &mut self.budget {
                budget.queued(&host_key(&request.url));
            }
            self.frontier.push(request);
            claimed.new += 1;
        }
        Ok(claimed)
    }

    fn claim_hop(&mut self, hop: &CrawlRequest) -> Result<bool, StoreError> {
        Ok(self.seen.insert(hop.fingerprint()))
    }

    fn take(&mut self, want: &Want) -> Result<Vec<CrawlRequest>, StoreError> {
        let mut out = Vec::new();
        let mut got: HashMap<String, usize> = HashMap::new();
        while out.len() < want.max {
            let request = {
                let (got, budget) = (&got, &self.budget);
                self.frontier.pop(u32::MAX, &mut |host| {
                    !want.skip.contains(host)
                        && got.get(host).copied().unwrap_or(0) < want.per_host
                        && budget.as_ref().is_none_or(|budget| !budget.over(host))
                })
            };
            let Some(request) = request else { break };
            let host = host_key(&request.url);
            if let Some(budget) = &mut self.budget {
                budget.taken(&host);
            }
            *got.entry(host.into_owned()).or_default() += 1;
            out.push(request);
        }
        Ok(out)
    }

    fn complete(&mut self, _outcomes: Vec<Outcome>) -> Result<(), StoreError> {
        Ok(())
    }

    fn release(&mut self, requests: Vec<CrawlRequest>) -> Result<(), StoreError> {
        if let Some(budget) = &mut self.budget {
            for request in requests {
                budget.released(&host_key(&request.url));
            }
        }
        Ok(())
    }

    fn note(&mut self, _notes: Vec<Note>) -> Result<(), StoreError> {
        Ok(())
    }

    fn commit(&mut self, _outputs: &[OutputMark]) -> Result<(), StoreError> {
        Ok(())
    }

    fn close(&mut self, _ended: &str, _outputs: &[OutputMark]) -> Result<Remaining, StoreError> {
        Ok(Remaining::new(self.queued(), self.stuck()))
    }

    fn queued(&self) -> u64 {
        (self.frontier.len() as u64).saturating_sub(self.stuck())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(url: &str) -> CrawlRequest {
        CrawlRequest::link(
            url.parse().unwrap(),
            1,
            "http://a.test/".parse::<Url>().unwrap(),
        )
    }

    fn opened(budget: Option<u64>) -> MemoryStore {
        let mut store = MemoryStore::new();
        store
            .open(&Opening::new(CrawlSpec::default(), Vec::new()).host_budget(budget))
            .unwrap();
        store
    }

    #[test]
    fn claims_once_and_takes_by_host_in_turn() {
        let mut store = opened(None);
        let batch: Vec<CrawlRequest> = (0..3)
            .map(|i| req(&format!("http://a.test/{i}")))
            .chain([req("http://b.test/0"), req("http://a.test/0")])
            .collect();
        assert_eq!(store.claim(batch).unwrap().new, 4);
        assert_eq!(store.queued(), 4);
        let taken = store.take(&Want::new(10, 2)).unwrap();
        let urls: Vec<&str> = taken.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            ["http://a.test/0", "http://b.test/0", "http://a.test/1"]
        );
        assert_eq!(store.queued(), 1);
        let rest = store
            .take(&Want::new(10, 2).skip(["a.test".to_owned()]))
            .unwrap();
        assert!(rest.is_empty(), "a.test skipped");
        assert_eq!(store.take(&Want::new(10, 2)).unwrap().len(), 1);
        assert_eq!(store.claim(vec![req("http://b.test/0")]).unwrap().new, 0);
    }

    #[test]
    fn host_budget_leaves_the_rest_queued_but_not_takeable() {
        let mut store = opened(Some(2));
        let batch: Vec<CrawlRequest> = (0..5).map(|i| req(&format!("http://a.test/{i}"))).collect();
        store.claim(batch).unwrap();
        store.claim(vec![req("http://b.test/0")]).unwrap();
        let taken = store.take(&Want::new(10, 10)).unwrap();
        assert_eq!(taken.len(), 3, "two of a.test, one of b.test");
        assert_eq!(store.queued(), 0);
        store.claim(vec![req("http://a.test/9")]).unwrap();
        assert_eq!(store.queued(), 0, "a.test is over its budget");
        let remaining = store.close("completed", &[]).unwrap();
        assert_eq!(remaining.over_budget, 4);
        assert_eq!(remaining.queued, 0);
        // Releasing one of the taken requests gives the host room again.
        let a = taken
            .into_iter()
            .find(|r| r.url.host_str() == Some("a.test"));
        store.release(vec![a.unwrap()]).unwrap();
        assert_eq!(store.queued(), 4);
        assert_eq!(store.take(&Want::new(10, 10)).unwrap().len(), 1);
    }

    #[test]
    fn hops_claim_in_the_same_seen_set() {
        let mut store = opened(None);
        let hop = req("http://a.test/x");
        let fp = hop.fingerprint();
        assert!(store.claim_hop(&hop).unwrap());
        assert!(!store.claim_hop(&hop).unwrap());
        assert_eq!(store.claim(vec![req("http://a.test/x")]).unwrap().new, 0);
        assert!(store.seen().unwrap().contains(fp));
    }

    #[test]
    fn spec_differences_name_what_differs() {
        let saved = CrawlSpec {
            seeds: vec!["http://a.test/".into()],
            scope: "host".into(),
            ..CrawlSpec::default()
        };
        assert!(saved.differences(&saved).is_empty());
        let mut now = saved.clone();
        now.seeds.push("http://b.test/".into());
        now.scope = "prefix".into();
        now.options.insert("delay".into(), "1s".into());
        let diffs = now.differences(&saved);
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        assert!(diffs[0].contains("new http://b.test/"), "{diffs:?}");
        assert!(diffs[1].contains("prefix (saved: host)"), "{diffs:?}");
        assert_eq!(now.option_changes(&saved), ["delay: unset -> 1s"]);
    }
}
