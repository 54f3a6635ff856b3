//! One crawl, many processes and machines: arachne's crawl state on Redis (7 or later, or
//! Valkey).
//!
//! Every process that opens a [`RedisStore`] with the same crawl id works on the same crawl:
//! one queue, one seen set, one page budget. What makes that safe:
//!
//! - **Host leases.** Each host's requests wait in a queue of their own (breadth-first
//!   within the host, highest priority first). A worker takes requests only of hosts it
//!   leases, and a host has one lease holder at a time, so the per-host limits of the
//!   worker that holds it (requests in flight, delay, robots.txt `Crawl-delay`,
//!   `Retry-After` pauses) hold for the whole crawl. A host's robots.txt is fetched once per
//!   crawl and kept with the host; the next holder takes it over with the lease. A host
//!   handed over waits its delay first.
//! - **Worker leases.** A worker's lease covers every request and host it holds; it is
//!   renewed with every commit (at least every half second while it works, and every
//!   fifth of the lease when idle). A worker whose lease runs out (it was killed, lost its
//!   network, stalled) is taken for dead by the next worker that takes work: its requests
//!   go back to their queues and its hosts back to the schedule. A worker that cannot
//!   renew its lease stops sending requests until it can.
//! - **Exactly-once records.** Each worker writes its own output files; a commit records
//!   the outcomes of its pages together with how far each of its files was written. A
//!   worker taken for dead can no longer commit, so the records it wrote after its last
//!   commit are never counted: the crawl's output is each worker's files up to their
//!   committed lengths, which `arachne state --redis URL --crawl-id NAME` lists.
//! - **Completion.** The crawl is over when nothing is queued (or the page budget is
//!   spent) and nothing is leased; every worker then ends its run.
//!
//! Every call is one script run on the server (one round trip): a page's links are claimed
//! in one call. The seen set keeps 80 bits of each request's fingerprint as a 64-bit
//! integer in one of 65,536 small sets, which Redis keeps as compact integer arrays
//! (about 10 to 20 bytes per URL).
//!
//! # Key layout
//!
//! Every key of a crawl starts with `arachne:{CRAWL}:`, the crawl id being the hash tag,
//! so a script's keys are always on one shard of a Redis Cluster.
//!
//! # Partitions, for a Redis Cluster
//!
//! A crawl started with [`RedisStore::partitions`] keeps each site (its registrable
//! domain) in one of N partitions, each with a hash tag of its own
//! (`arachne:{CRAWL/P}:`, the first keeping `arachne:{CRAWL}:`), so that a Redis Cluster
//! spreads the crawl's queues and seen set over its shards; the store finds the Cluster's
//! nodes from any one of them. Every script touches one partition. A worker works in one
//! partition at a time, so that a commit (its outcomes with its files' committed lengths)
//! stays one atomic step; it moves when its partition has no host ready, and stays
//! registered in the first partition, its home, while it runs. Links are claimed in their
//! site's partition; a redirect into another partition is queued there rather than
//! followed. See the README's "Crawling with several processes" for sizing.
//!
//! # Example
//! ```no_run
//! use arachne_core::store::{CrawlSpec, Opening, Store};
//! use arachne_redis::RedisStore;
//!
//! let mut store = RedisStore::new("redis://127.0.0.1:6379/", "docs")?.worker("crawler-1")?;
//! let resume = store.open(&Opening::new(CrawlSpec::default(), Vec::new()))?;
//! println!("joined a crawl with {} pages done", resume.pages_done);
//! # Ok::<(), arachne_core::store::StoreError>(())
//! ```

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arachne_core::store::{
    Claimed, CrawlSpec, HostState, Note, Opening, Outcome, OutputMark, Remaining, Resume,
    RobotsFetch, SavedRobots, Sharing, Store, StoreError, Want, monotonic_millis, unix_millis,
    write_outcomes,
};
use arachne_core::{
    CrawlRequest, Fingerprint, MemorySeenSet, PageRecord, RecordError, RobotsRules, SeenSet,
    host_key,
};
use redis::{ConnectionLike, FromRedisValue, RedisError, RedisResult, Script, Value};
use serde::Serialize;
use serde_json::json;

/// What a worker reads of a crawl when it joins: the counts, sitemaps read, and seeds'
/// landings.
type Kept = (BTreeMap<String, i64>, Vec<String>, BTreeMap<String, String>);

/// What a take gives: the requests, the state kept of newly leased hosts (host, JSON), the
/// requests that may still come, and how many seeds landed.
type Took = (Vec<String>, Vec<String>, u64, u64);

/// What create answers: created here, the settings held, layout version, lease, partitions.
type Created = (bool, String, u32, u64, u32);

/// What a partition holds, for a worker looking for work (`view.lua`).
#[derive(Debug, Clone, Copy)]
struct View {
    /// Requests queued that may be taken.
    takeable: u64,
    /// Requests queued over a host's budget.
    over_budget: u64,
    /// Requests leased by workers.
    leased: u64,
    /// Hosts that may be leased now.
    due: u64,
    /// Workers registered there.
    workers: u64,
    /// Requests claimed so far (a claim is the only way into a quiet partition).
    claims: u64,
}

/// A connection to a Redis server, or to a Redis Cluster (which routes each call to the
/// shard of its keys).
type Conn = Box<dyn ConnectionLike + Send>;

/// The newest version of the key layout this build writes and reads: 1 for a crawl in
/// one partition, 2 for a partitioned one (which builds that know only 1 refuse).
pub const LAYOUT_VERSION: u32 = 2;

/// How long a worker's lease lasts, by default: a worker that dies holds its work this
/// long at most.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How long a worker waits for Redis to come back, by default, before its crawl fails.
pub const DEFAULT_OUTAGE: Duration = Duration::from_secs(120);

/// How often a worker with nothing to do asks again for work.
const POLL: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Seen-set buckets: 16 bits of the fingerprint pick the bucket, 64 more are kept in it.
const BUCKET_BITS: u32 = 16;

/// The settings every worker of a crawl shares; the others (`concurrency`) are each
/// worker's own.
const OWN_OPTIONS: [&str; 1] = ["concurrency"];

/// The scripts, each with the shared prelude.
struct Scripts {
    claim: Script,
    hop: Script,
    take: Script,
    commit: Script,
    release: Script,
    join: Script,
    leave: Script,
    create: Script,
    view: Script,
    note: Script,
}

macro_rules! script {
    ($name:literal) => {
        Script::new(concat!(
            include_str!("lua/common.lua"),
            include_str!(concat!("lua/", $name, ".lua"))
        ))
    };
}

impl Scripts {
    fn new() -> Self {
        Self {
            claim: script!("claim"),
            hop: script!("hop"),
            take: script!("take"),
            commit: script!("commit"),
            release: script!("release"),
            join: script!("join"),
            leave: script!("leave"),
            create: script!("create"),
            view: script!("view"),
            note: script!("note"),
        }
    }
}

/// A crawl's state on a Redis server, shared by every process (worker) that opens the same
/// crawl id. See the [crate documentation](crate).
pub struct RedisStore {
    client: redis::Client,
    /// The server, as shown to users (no password).
    server: String,
    crawl: String,
    worker: String,
    lease: Duration,
    /// Whether the lease was set for this worker; if not, the crawl's is used.
    lease_set: bool,
    outage: Duration,
    conn: Option<Conn>,
    /// The server's URL as given.
    url: String,
    /// Whether the server is a Redis Cluster (asked once), and the URLs of the Cluster's
    /// other nodes, as seen at the first connection.
    cluster: Option<bool>,
    nodes: Vec<String>,
    scripts: Arc<Scripts>,
    /// The crawl's partitions (1 unless it was started with more), and whether this
    /// worker was given a number (checked against the crawl's).
    partitions: u32,
    partitions_set: bool,
    /// The partition this worker works in now. It stays registered in partition 0, its
    /// home, for as long as it runs (its name is its own there), with run `home_run`.
    part: u32,
    home_run: u64,
    /// The last look at every partition that found nothing queued or leased, by their
    /// claims so far: the crawl is over after two such looks in a row with no claim
    /// between them.
    quiet: Option<Vec<u64>>,
    settled: bool,
    /// When this worker last looked at every partition.
    looked: Option<Instant>,
    /// What the latest call said may still come this worker's way.
    queued: u64,
    /// The requests this worker holds, by fingerprint (hex), as the store names them.
    held: HashSet<String>,
    /// Outcomes waiting for the next commit.
    outcomes: Vec<Outcome>,
    /// The output marks of the last commit: an idle renewal commits them again.
    marks: Vec<OutputMark>,
    /// Host state of the hosts the last take leased for the first time.
    fresh_hosts: Vec<HostState>,
    /// Fingerprints this worker saw claimed: parser threads leave those links out.
    local: Arc<MemorySeenSet>,
    leased_until: Arc<AtomicU64>,
    last_renewal: Instant,
    /// This worker's run of the crawl, and its commits in this run: names each commit.
    run: u64,
    commits: u64,
    /// For a host's gap between two workers: robots.txt's `Crawl-delay` as this crawl
    /// obeys it.
    product_token: String,
    delay: Duration,
    max_crawl_delay: Duration,
    /// Whether an outage was logged (once per outage).
    outage_logged: bool,
    /// Calls sent to the server in this run (each one round trip), kept with the worker
    /// when it leaves.
    round_trips: u64,
    /// Seeds' landings known to this worker, and those not handed to the crawl yet.
    landings: HashSet<(String, String)>,
    new_landings: Vec<(url::Url, url::Url)>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.server)
            .field("crawl", &self.crawl)
            .field("worker", &self.worker)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// The server's address without a password, to show.
fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

/// A name that goes into key and file names: 1 to 128 letters, digits, `-`, `_` or `.`,
/// and not only dots.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.chars().any(|c| c != '.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A crawl id as users may write it: it is part of every key name, and its hash tag.
fn check_crawl_id(crawl: &str) -> Result<(), StoreError> {
    if plain_name(crawl) {
        Ok(())
    } else {
        Err(StoreError::Refused {
            what: format!("crawl id `{crawl}`"),
            why: "a crawl id is 1 to 128 letters, digits, `-`, `_` or `.`".into(),
        })
    }
}

/// This machine's name and this process's id: a worker name unique among running ones.
fn default_worker() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "worker".into());
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{host}-{}", std::process::id())
}

/// The key prefix of a partition of a crawl: the crawl id (and the partition's number,
/// after the first) is the hash tag.
fn prefix_of(crawl: &str, part: u32) -> String {
    if part == 0 {
        format!("arachne:{{{crawl}}}:")
    } else {
        format!("arachne:{{{crawl}/{part}}}:")
    }
}

/// What decides a host's partition: its site (the registrable domain, so that
/// `example.com` and `www.example.com` share one), or, for an IP address or a name
/// without a public suffix, the host itself with its port.
fn site_key(host: &str) -> &str {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || port.is_empty() => name,
        _ => host,
    };
    if name.starts_with('[') || name.parse::<std::net::Ipv4Addr>().is_ok() {
        return host;
    }
    match psl::domain_str(name) {
        Some(site) => site,
        None => host,
    }
}

/// The partition of a host (a [`host_key`]): FNV-1a of its site, modulo the partitions.
fn partition_of(host: &str, partitions: u32) -> u32 {
    if partitions <= 1 {
        return 0;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in site_key(host).bytes() {
        hash ^= u64::from(byte.to_ascii_lowercase());
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    u32::try_from(hash % u64::from(partitions)).unwrap_or(0)
}

/// The output marks of a worker's latest commit, from those kept in several partitions:
/// each output only grows between commits, so the latest is the longest.
fn latest_marks(all: impl IntoIterator<Item = Vec<OutputMark>>) -> Vec<OutputMark> {
    let mut latest: Vec<OutputMark> = Vec::new();
    for marks in all {
        for mark in marks {
            match latest.iter_mut().find(|m| m.path == mark.path) {
                Some(kept) if (mark.files, mark.length) > (kept.files, kept.length) => *kept = mark,
                Some(_) => {}
                None => latest.push(mark),
            }
        }
    }
    latest
}

/// The URLs of a Cluster's nodes (`CLUSTER NODES`), as `url` would reach them: the same
/// scheme, user and password, other addresses. None when they cannot be read.
fn cluster_nodes(conn: &mut redis::Connection, url: &str) -> Vec<String> {
    let Ok(text) = redis::cmd("CLUSTER").arg("NODES").query::<String>(conn) else {
        return Vec::new();
    };
    let Ok(base) = url::Url::parse(url) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            // `<id> <ip:port@cport[,hostname]> <flags> ...`
            let address = line.split_whitespace().nth(1)?;
            let address = address.split(['@', ',']).next()?;
            let (host, port) = address.rsplit_once(':')?;
            let port: u16 = port.parse().ok()?;
            if host.is_empty() {
                return None;
            }
            let mut node = base.clone();
            node.set_host(Some(host)).ok()?;
            node.set_port(Some(port)).ok()?;
            Some(node.to_string())
        })
        .collect()
}

/// The server's memory in use, from `INFO memory` (summed over a Cluster's shards).
fn used_memory(value: &Value) -> u64 {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes)
            .lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0),
        Value::VerbatimString { text, .. } => {
            used_memory(&Value::BulkString(text.clone().into_bytes()))
        }
        Value::Array(items) | Value::Set(items) => items.iter().map(used_memory).sum(),
        Value::Map(pairs) => pairs.iter().map(|(_, v)| used_memory(v)).sum(),
        _ => 0,
    }
}

/// Where a fingerprint goes in the seen set: its bucket and the 64-bit value kept there.
fn seen_slot(fp: Fingerprint) -> (u32, i64) {
    let bits = fp.as_u128();
    let bucket = u32::try_from(bits >> (128 - BUCKET_BITS)).unwrap_or(0);
    // The low 64 bits, as the signed integer Redis keeps in a compact integer set.
    let value = i64::from_ne_bytes((bits as u64).to_ne_bytes());
    (bucket, value)
}

fn fp_hex(fp: Fingerprint) -> String {
    format!("{:032x}", fp.as_u128())
}

/// The order of requests within a host: highest priority, then shallowest; ties in the
/// order they were queued.
fn score(request: &CrawlRequest) -> i64 {
    const DEPTHS: i64 = 1 << 21;
    -i64::from(request.priority()) * DEPTHS + i64::from(request.depth).min(DEPTHS - 1)
}

/// What came of a page, as the crawl's report counts it: `status:200`, `error:timeout`.
fn outcome_key(record: &PageRecord) -> String {
    match (&record.error, record.status) {
        (Some(error), _) => format!("error:{}", error.kind.as_str()),
        (None, Some(status)) => format!("status:{status}"),
        (None, None) => "status:none".into(),
    }
}

fn host_json(state: &HostState) -> String {
    let robots = state.robots.as_ref().map(|robots| {
        let at = unix_millis(robots.fetched_at);
        match &robots.outcome {
            RobotsFetch::Body(body) => json!({ "at": at, "body": body }),
            RobotsFetch::AllowAll => json!({ "at": at, "allow_all": true }),
            RobotsFetch::Unavailable(error) => json!({ "at": at, "unavailable": error }),
        }
    });
    json!({ "robots": robots, "paused": state.paused_until.map(unix_millis) }).to_string()
}

fn host_from_json(host: &str, text: &str) -> Option<HostState> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let at = |ms: &serde_json::Value| {
        ms.as_u64()
            .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
    };
    let mut state = HostState::new(host);
    if let Some(robots) = value.get("robots").filter(|r| !r.is_null()) {
        let fetched_at = at(&robots["at"])?;
        let outcome = if let Some(body) = robots["body"].as_str() {
            RobotsFetch::Body(body.to_owned())
        } else if robots["allow_all"].as_bool() == Some(true) {
            RobotsFetch::AllowAll
        } else {
            let error: RecordError = serde_json::from_value(robots["unavailable"].clone()).ok()?;
            RobotsFetch::Unavailable(error)
        };
        state.robots = Some(SavedRobots::new(fetched_at, outcome));
    }
    state.paused_until = at(&value["paused"]);
    Some(state)
}

fn failed(what: impl fmt::Display) -> StoreError {
    StoreError::Failed(what.to_string())
}

/// An error that a new connection may cure: the server went away, restarts, or loads its
/// data; a Cluster is down, fails over, or moved a slot (a new connection reads where the
/// slots are).
fn transient(error: &RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    error.is_io_error()
        || error.is_cluster_error()
        || matches!(error.kind(), ErrorKind::ClusterConnectionNotFound)
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
        || matches!(
            error.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
            )
        )
}

fn duration_option(spec: &CrawlSpec, name: &str) -> Option<Duration> {
    let text = spec.options.get(name)?;
    parse_duration(text)
}

/// Durations as the crawl's settings write them (`humantime`: `1s`, `250ms`, `1m 30s`).
fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text).ok()
}

/// A count the crawl keeps (`stats`), 0 when it has none.
fn count(counts: &BTreeMap<String, i64>, name: &str) -> u64 {
    u64::try_from(counts.get(name).copied().unwrap_or(0)).unwrap_or(0)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RedisStore {
    /// A store for crawl `crawl` on the Redis server at `url` (`redis://HOST:PORT/DB`,
    /// `rediss://` with TLS is not built in, `redis+unix:///path` for a socket). Nothing
    /// is connected until [`Store::open`].
    ///
    /// # Errors
    /// The URL or the crawl id is not usable.
    pub fn new(url: &str, crawl: &str) -> Result<Self, StoreError> {
        check_crawl_id(crawl)?;
        let client = redis::Client::open(url).map_err(|e| StoreError::Unreachable {
            store: shown(url),
            why: format!("not a Redis URL: {e}"),
        })?;
        Ok(Self {
            client,
            server: shown(url),
            crawl: crawl.to_owned(),
            worker: default_worker(),
            lease: DEFAULT_LEASE,
            lease_set: false,
            outage: DEFAULT_OUTAGE,
            conn: None,
            url: url.to_owned(),
            cluster: None,
            nodes: Vec::new(),
            scripts: Arc::new(Scripts::new()),
            partitions: 1,
            partitions_set: false,
            part: 0,
            home_run: 0,
            quiet: None,
            settled: false,
            looked: None,
            queued: 0,
            held: HashSet::new(),
            outcomes: Vec::new(),
            marks: Vec::new(),
            fresh_hosts: Vec::new(),
            local: Arc::new(MemorySeenSet::new()),
            leased_until: Arc::new(AtomicU64::new(0)),
            last_renewal: Instant::now(),
            run: 0,
            commits: 0,
            product_token: String::new(),
            delay: Duration::ZERO,
            max_crawl_delay: Duration::from_secs(30),
            outage_logged: false,
            round_trips: 0,
            landings: HashSet::new(),
            new_landings: Vec::new(),
        })
    }

    /// This worker's name, unique among the crawl's running workers (by default, the
    /// machine's name and the process id). A worker that starts again under the name of
    /// one that died takes over its output files (cut back to what it committed).
    ///
    /// # Errors
    /// The name is not 1 to 128 letters, digits, `-`, `_` or `.` (it goes into key and
    /// file names).
    pub fn worker(mut self, name: impl Into<String>) -> Result<Self, StoreError> {
        let name = name.into();
        if !plain_name(&name) {
            return Err(StoreError::Refused {
                what: format!("worker name `{name}`"),
                why: "a worker name is 1 to 128 letters, digits, `-`, `_` or `.`".into(),
            });
        }
        self.worker = name;
        Ok(self)
    }

    /// The worker's name.
    pub fn worker_name(&self) -> &str {
        &self.worker
    }

    /// How long the worker's lease lasts ([`DEFAULT_LEASE`]): after a crash, its requests
    /// and hosts wait this long before another worker takes them.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(100));
        self.lease_set = true;
        self
    }

    /// Splits a crawl this worker starts into `partitions` (1 by default), each with a
    /// hash tag of its own, so that a Redis Cluster spreads the crawl's sites over its
    /// shards. A site (its registrable domain) belongs to one partition, by a hash of its
    /// name; a worker works in one partition at a time and moves when its partition runs
    /// dry. A worker that joins takes the crawl's number; given another, it is refused.
    /// A global page budget (`--max-pages`) needs one partition.
    #[must_use]
    pub fn partitions(mut self, partitions: u32) -> Self {
        self.partitions = partitions.clamp(1, 1024);
        self.partitions_set = true;
        self
    }

    /// How long to wait for the server to come back when it goes away mid-crawl
    /// ([`DEFAULT_OUTAGE`]), before the crawl fails.
    #[must_use]
    pub fn outage(mut self, outage: Duration) -> Self {
        self.outage = outage;
        self
    }

    fn key(&self, name: &str) -> String {
        self.key_in(self.part, name)
    }

    fn key_in(&self, part: u32, name: &str) -> String {
        format!("{}{name}", prefix_of(&self.crawl, part))
    }

    /// The partition of a host.
    fn partition(&self, host: &str) -> u32 {
        partition_of(host, self.partitions)
    }

    /// Connects, at most once per call: to the server, or to the Cluster it is a node of.
    fn connect(&mut self) -> RedisResult<&mut Conn> {
        if self.conn.is_none() {
            let conn: Conn = match self.cluster {
                Some(true) => Box::new(self.cluster_connection()?),
                Some(false) => Box::new(self.plain_connection()?),
                None => {
                    let mut conn = self.plain_connection()?;
                    // A server that does not let this user read INFO is taken for a
                    // plain one.
                    let info: RedisResult<String> =
                        redis::cmd("INFO").arg("cluster").query(&mut conn);
                    let cluster = match info {
                        Ok(info) => info.lines().any(|line| line.trim() == "cluster_enabled:1"),
                        Err(error) if transient(&error) => return Err(error),
                        Err(_) => false,
                    };
                    self.cluster = Some(cluster);
                    if cluster {
                        self.nodes = cluster_nodes(&mut conn, &self.url);
                        Box::new(self.cluster_connection()?)
                    } else {
                        Box::new(conn)
                    }
                }
            };
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    fn plain_connection(&self) -> RedisResult<redis::Connection> {
        let conn = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        conn.set_read_timeout(Some(CALL_TIMEOUT))?;
        conn.set_write_timeout(Some(CALL_TIMEOUT))?;
        Ok(conn)
    }

    /// A connection to the Cluster, found from the node of the URL or any other node seen
    /// at the first connection (the first may be gone after a failover). It never sends a
    /// call twice on its own: [`RedisStore::run`] does, knowing that the first may have
    /// been applied.
    fn cluster_connection(&self) -> RedisResult<redis::cluster::ClusterConnection> {
        let mut nodes = vec![self.url.clone()];
        nodes.extend(self.nodes.iter().cloned());
        redis::cluster::ClusterClientBuilder::new(nodes)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(CALL_TIMEOUT)
            .retries(0)
            .build()?
            .get_connection()
    }

    /// Runs `call`, connecting first; through an outage (the server restarting, the
    /// network gone) it waits and tries again, up to the outage allowed. Returns whether
    /// it had to try again (the first try may have been applied).
    fn run<T>(
        &mut self,
        mut call: impl FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> Result<(T, bool), StoreError> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(50);
        let mut retried = false;
        loop {
            self.round_trips += 1;
            let result = self.connect().and_then(|conn| call(conn.as_mut()));
            match result {
                Ok(value) => {
                    if self.outage_logged {
                        tracing::warn!(server = %self.server, "Redis is back: the crawl goes on");
                        self.outage_logged = false;
                    }
                    return Ok((value, retried));
                }
                Err(error) if transient(&error) => {
                    self.conn = None;
                    if started.elapsed() >= self.outage {
                        return Err(failed(format!(
                            "Redis at {} did not answer for {} s: {error}",
                            self.server,
                            self.outage.as_secs()
                        )));
                    }
                    if !self.outage_logged {
                        tracing::warn!(server = %self.server, %error, "Redis went away: waiting for it");
                        self.outage_logged = true;
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(1));
                    retried = true;
                }
                Err(error) if error.code() == Some("WORKERBUSY") => {
                    return Err(StoreError::Refused {
                        what: format!("worker {} of {}", self.worker, self.described()),
                        why: format!(
                            "a worker of that name is running, or was killed (stopped without leaving) less than its lease ({} s) ago: give each worker its own name, or start it again once the lease ran out",
                            self.lease.as_secs()
                        ),
                    });
                }
                Err(error) if error.code() == Some("LOST") => {
                    return Err(failed(format!(
                        "worker {} of crawl {}: {}. Start it again to rejoin the crawl",
                        self.worker,
                        self.crawl,
                        error.detail().unwrap_or("its lease ran out")
                    )));
                }
                Err(error) => return Err(failed(format!("Redis at {}: {error}", self.server))),
            }
        }
    }

    /// Runs one of the scripts in this worker's partition, with this worker's arguments
    /// first, then `args`.
    fn invoke<T: FromRedisValue>(
        &mut self,
        pick: fn(&Scripts) -> &Script,
        args: &[String],
    ) -> Result<(T, bool), StoreError> {
        self.invoke_in(self.part, self.run, pick, args)
    }

    /// Runs one of the scripts in partition `part`, as run `run` of this worker there.
    fn invoke_in<T: FromRedisValue>(
        &mut self,
        part: u32,
        run: u64,
        pick: fn(&Scripts) -> &Script,
        args: &[String],
    ) -> Result<(T, bool), StoreError> {
        let meta = self.key_in(part, "meta");
        let lease = millis(self.lease).to_string();
        let run = run.to_string();
        let (prefix, worker) = (prefix_of(&self.crawl, part), self.worker.clone());
        let scripts = Arc::clone(&self.scripts);
        let script = pick(&scripts);
        self.run(|conn| {
            let mut invocation = script.prepare_invoke();
            invocation
                .key(&meta)
                .arg(&prefix)
                .arg(&worker)
                .arg(&lease)
                .arg(&run);
            for arg in args {
                invocation.arg(arg);
            }
            invocation.invoke(conn)
        })
    }

    /// The lease was renewed just now (the call started at `sent`): requests may be sent
    /// for two thirds of it.
    fn renewed(&mut self, sent: u64) {
        let until = sent + millis(self.lease) * 2 / 3;
        self.leased_until.store(until, Ordering::Release);
        self.last_renewal = Instant::now();
    }

    /// Records the outcomes waiting, with the output marks, and renews the lease.
    fn commit_now(&mut self, outputs: &[OutputMark]) -> Result<(), StoreError> {
        self.commits += 1;
        let mut args = self.commit_head(outputs, self.outcomes.len())?;
        for outcome in &self.outcomes {
            args.push(fp_hex(outcome.fingerprint));
            args.push(outcome.host.clone());
            args.push(outcome_key(&outcome.record));
            args.push(outcome.hops.len().to_string());
            for hop in &outcome.hops {
                let (bucket, value) = seen_slot(*hop);
                args.push(format!("{bucket}:{value}"));
            }
        }
        let retried = self.send_commit(&args)?;
        outputs.clone_into(&mut self.marks);
        for outcome in std::mem::take(&mut self.outcomes) {
            self.held.remove(&fp_hex(outcome.fingerprint));
        }
        if retried {
            self.reconcile()?;
        }
        Ok(())
    }

    /// Sends a commit (`args` as the script takes them) and renews the lease: here, and at
    /// home when away. Returns whether it had to be sent again.
    fn send_commit(&mut self, args: &[String]) -> Result<bool, StoreError> {
        let sent = monotonic_millis();
        let (queued, retried): (u64, bool) = self.invoke(|s| &s.commit, args)?;
        if self.part != 0 {
            // Away from home: the lease there is renewed too, with the same marks.
            let home = [
                format!("h{}.{}", self.home_run, self.commits),
                args[1].clone(),
                "away".into(),
                "0".into(),
            ];
            let _: (u64, bool) = self.invoke_in(0, self.home_run, |s| &s.commit, &home)?;
        }
        self.queued = queued;
        self.renewed(sent);
        Ok(retried)
    }

    /// Renews the lease when a fifth of it went by since the last renewal, with the marks
    /// of the last commit, leaving the outcomes that wait for their records' lengths. A
    /// worker that is busy asking for work (looking at every partition, moving) renews so,
    /// whatever its journal is doing.
    fn renew_if_due(&mut self) -> Result<(), StoreError> {
        if self.last_renewal.elapsed() < self.lease / 5 {
            return Ok(());
        }
        self.commits += 1;
        let args = self.commit_head(&self.marks, 0)?;
        self.send_commit(&args)?;
        Ok(())
    }

    /// The first arguments of the commit numbered `self.commits`, made here: its id, the
    /// outputs' marks, and how many outcomes follow.
    fn commit_head(
        &self,
        marks: &[OutputMark],
        outcomes: usize,
    ) -> Result<Vec<String>, StoreError> {
        Ok(vec![
            format!("{}.{}", self.run, self.commits),
            serde_json::to_string(marks).map_err(failed)?,
            "here".to_owned(),
            outcomes.to_string(),
        ])
    }

    /// Gives back requests this worker holds: dropped, or queued again.
    fn give_back(&mut self, fps: Vec<String>, requeue: bool) -> Result<(), StoreError> {
        if fps.is_empty() {
            return Ok(());
        }
        for fp in &fps {
            self.held.remove(fp);
        }
        let mut args = vec![if requeue { "requeue" } else { "drop" }.to_owned()];
        args.extend(fps);
        let (queued, _): (u64, bool) = self.invoke(|s| &s.release, &args)?;
        self.queued = queued;
        Ok(())
    }

    /// After a take that had to be tried again, the first try may have leased requests
    /// this worker never heard of: they go back to their queues.
    fn reconcile(&mut self) -> Result<(), StoreError> {
        let key = self.key(&format!("wurls:{}", self.worker));
        let (leased, _): (Vec<String>, bool) =
            self.run(|conn| redis::cmd("HKEYS").arg(&key).query(conn))?;
        let unknown: Vec<String> = leased
            .into_iter()
            .filter(|fp| !self.held.contains(fp))
            .collect();
        if !unknown.is_empty() {
            tracing::info!(
                requests = unknown.len(),
                "giving back requests leased by a take whose answer was lost"
            );
        }
        // The release script finds them in the lease.
        self.give_back(unknown, true)
    }

    /// What a partition holds, for a worker looking for work: requests that may be
    /// taken, over a budget, leased; hosts due; workers; claims so far.
    fn view(&mut self, part: u32) -> Result<View, StoreError> {
        // This worker's run where it is registered; none elsewhere (a registration of its
        // name there is a dead run's).
        let run = if part == self.part {
            self.run
        } else if part == 0 {
            self.home_run
        } else {
            0
        };
        let (view, _): (Vec<i64>, bool) = self.invoke_in(part, run, |s| &s.view, &[])?;
        let n = |i: usize| view.get(i).map_or(0, |&n| u64::try_from(n).unwrap_or(0));
        Ok(View {
            takeable: n(0),
            over_budget: n(1),
            leased: n(2),
            due: n(3),
            workers: n(4),
            claims: n(5),
        })
    }

    /// What every partition holds.
    fn views(&mut self) -> Result<Vec<View>, StoreError> {
        (0..self.partitions).map(|part| self.view(part)).collect()
    }

    /// With partitions, when this worker's partition gave it nothing: looks at every
    /// partition, moves to one with hosts due when its own has none (and it holds
    /// nothing), and says the crawl is over after two looks in a row that find nothing
    /// queued or leased anywhere, with no claim between them.
    fn look_around(&mut self) -> Result<(), StoreError> {
        let views = self.views()?;
        let pending: u64 = views.iter().map(|view| view.takeable + view.leased).sum();
        if pending == 0 {
            let claims: Vec<u64> = views.iter().map(|view| view.claims).collect();
            if self.quiet.as_ref() == Some(&claims) {
                self.settled = true;
                self.queued = 0;
            } else {
                self.quiet = Some(claims);
            }
            return Ok(());
        }
        self.quiet = None;
        self.queued = pending.saturating_sub(self.held.len() as u64).max(1);
        let here = self.part as usize;
        if self.held.is_empty() && self.outcomes.is_empty() && views[here].due == 0 {
            let best = (0..self.partitions)
                .filter(|&part| part as usize != here && views[part as usize].due > 0)
                .min_by_key(|&part| {
                    let view = views[part as usize];
                    (view.workers, std::cmp::Reverse(view.due))
                });
            if let Some(to) = best {
                self.move_to(to)?;
            }
        }
        Ok(())
    }

    /// Moves this worker, which holds nothing, to partition `to`.
    fn move_to(&mut self, to: u32) -> Result<(), StoreError> {
        let from = self.part;
        let marks = serde_json::to_string(&self.marks).map_err(failed)?;
        if from != 0 {
            let args = [marks, "moved".into(), "0".into(), "0".into()];
            let _: ((u64, u64, bool), bool) = self.invoke(|s| &s.leave, &args)?;
        }
        self.run = if to == 0 {
            self.home_run
        } else {
            let nonce = format!(
                "{}.{}.{to}",
                std::process::id(),
                unix_millis(SystemTime::now())
            );
            // The lease renewed at home by the last commit stays the one to renew in time
            // (idle renewals count from it), and the dispatch gate with it.
            let ((_, run, _), _): ((String, u64, u64), bool) =
                self.invoke_in(to, 0, |s| &s.join, &[nonce, "own".into()])?;
            run
        };
        self.part = to;
        self.quiet = None;
        tracing::debug!(worker = %self.worker, from, to, "moved to another partition of the crawl");
        Ok(())
    }

    /// After this worker left a partitioned crawl: what is left queued and over a budget
    /// in all partitions. The last worker to leave (none registered anywhere) with
    /// nothing queued or leased marks the crawl completed: of two that leave at once, the
    /// later look sees the other gone.
    fn close_partitions(&mut self) -> Result<(u64, u64), StoreError> {
        let (mut queued, mut stuck, mut busy) = (0, 0, 0);
        for view in self.views()? {
            queued += view.takeable;
            stuck += view.over_budget;
            busy += view.leased + view.workers;
        }
        if queued == 0 && busy == 0 {
            let meta = self.key_in(0, "meta");
            let now = unix_millis(SystemTime::now());
            self.run(|conn| {
                redis::cmd("HSET")
                    .arg(&meta)
                    .arg("ended")
                    .arg("completed")
                    .arg("ended_ms")
                    .arg(now)
                    .query::<()>(conn)
            })?;
        }
        Ok((queued, stuck))
    }

    /// Reads the seeds' landings again: those this worker did not know go to the crawl.
    fn refresh_landings(&mut self) -> Result<(), StoreError> {
        let key = self.key("landings");
        let (all, _): (BTreeMap<String, String>, bool) =
            self.run(|conn| redis::cmd("HGETALL").arg(&key).query(conn))?;
        for (seed, landing) in all {
            if self.landings.insert((seed.clone(), landing.clone()))
                && let (Ok(seed), Ok(landing)) = (seed.parse(), landing.parse())
            {
                self.new_landings.push((seed, landing));
            }
        }
        Ok(())
    }

    /// The gap kept between two workers' requests to a host: its robots.txt
    /// `Crawl-delay` (up to the crawl's limit) when longer than the crawl's delay.
    fn gap_of(&self, state: &HostState) -> Option<Duration> {
        let robots = state.robots.as_ref()?;
        let RobotsFetch::Body(body) = &robots.outcome else {
            return None;
        };
        let delay = RobotsRules::parse(&self.product_token, body.as_bytes()).crawl_delay()?;
        Some(delay.min(self.max_crawl_delay).max(self.delay))
    }

    /// Reads what the server holds of a crawl, without joining it: its settings, pages,
    /// workers and their outputs. Works while the crawl runs.
    ///
    /// # Errors
    /// [`StoreError::Unreachable`] when the server does not answer,
    /// [`StoreError::Refused`] when it holds no such crawl.
    pub fn summary(url: &str, crawl: &str) -> Result<CrawlSummary, StoreError> {
        let mut store = Self::new(url, crawl)?;
        let mut conn = store.reader()?;
        summarize(&store, conn.as_mut())
            .map_err(|e| failed(format!("Redis at {}: {e}", store.server)))?
    }

    /// The settings the crawl was started with, as the server holds them; `None` when there
    /// is no such crawl yet. For a worker that joins it with the crawl's own settings,
    /// before [`Store::open`] (which then uses the same connection).
    ///
    /// # Errors
    /// As [`RedisStore::summary`].
    pub fn saved_spec(&mut self) -> Result<Option<CrawlSpec>, StoreError> {
        let key = self.key("meta");
        let text: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg("spec")
            .query(self.connect_now()?.as_mut())
            .map_err(|e| failed(format!("Redis at {}: {e}", self.server)))?;
        text.map(|text| self.read_spec(&text)).transpose()
    }

    /// The crawl's settings as stored.
    fn read_spec(&self, text: &str) -> Result<CrawlSpec, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Damaged {
            path: self.described(),
            why: format!("its settings do not read: {e}"),
        })
    }

    /// A connection for reading the crawl without joining it; the server must answer now.
    fn reader(&mut self) -> Result<Conn, StoreError> {
        self.connect_now()?;
        Ok(self.conn.take().expect("connected"))
    }

    /// The connection, made now if need be: a server that does not answer is the user's to
    /// fix (no waiting, as at the start of a crawl).
    fn connect_now(&mut self) -> Result<&mut Conn, StoreError> {
        let server = self.server.clone();
        self.connect().map_err(|e| StoreError::Unreachable {
            store: server,
            why: e.to_string(),
        })
    }

    fn described(&self) -> String {
        format!("crawl {} on {}", self.crawl, self.server)
    }

    /// Where the crawl is created, or checked against what the server holds.
    fn create_or_check(&mut self, opening: &Opening) -> Result<bool, StoreError> {
        let spec = serde_json::to_string(&opening.spec).map_err(failed)?;
        let limit = |n: Option<u64>| n.map_or_else(String::new, |n| n.to_string());
        let max_pages = opening
            .spec
            .options
            .get("max-pages")
            .and_then(|n| n.parse::<u64>().ok());
        if self.partitions > 1 && max_pages.is_some() {
            return Err(StoreError::Refused {
                what: format!("--max-pages with {} partitions", self.partitions),
                why: "a global page budget is counted in one place: start the crawl with one partition, or use --max-pages-per-host".into(),
            });
        }
        let fields = [
            // A crawl in one partition keeps the first layout, which older builds read.
            (
                "version",
                if self.partitions > 1 {
                    LAYOUT_VERSION
                } else {
                    1
                }
                .to_string(),
            ),
            ("delay_ms", millis(self.delay).to_string()),
            ("max_pages", limit(max_pages)),
            ("host_budget", limit(opening.host_budget)),
            ("created_ms", unix_millis(SystemTime::now()).to_string()),
            ("lease_ms", millis(self.lease).to_string()),
            ("partitions", self.partitions.to_string()),
        ];
        let mut args = vec![spec];
        for (name, value) in fields {
            args.extend([name.to_owned(), value]);
        }
        let ((created, saved, version, lease, partitions), _): (Created, bool) =
            self.invoke_in(0, 0, |s| &s.create, &args)?;
        // The crawl's lease, unless this worker was given its own.
        if !self.lease_set && lease > 0 {
            self.lease = Duration::from_millis(lease);
        }
        let mine = self.partitions;
        self.partitions = partitions.max(1);
        // Every partition keeps the settings its scripts read (created by whoever comes
        // first: a worker that created the crawl may have died before).
        for part in 1..self.partitions {
            let _: (Created, bool) = self.invoke_in(part, 0, |s| &s.create, &args)?;
        }
        if created {
            return Ok(false);
        }
        if version > LAYOUT_VERSION {
            return Err(StoreError::Newer {
                path: self.described(),
                found: version,
                supported: LAYOUT_VERSION,
            });
        }
        let saved = self.read_spec(&saved)?;
        let mut differences = opening.spec.differences(&saved);
        if self.partitions_set && mine != self.partitions {
            differences.push(format!(
                "--partitions is {mine} here, {} in the crawl",
                self.partitions
            ));
        }
        let names: std::collections::BTreeSet<&String> = opening
            .spec
            .options
            .keys()
            .chain(saved.options.keys())
            .filter(|name| !OWN_OPTIONS.contains(&name.as_str()))
            .collect();
        for name in names {
            let (mine, theirs) = (opening.spec.options.get(name), saved.options.get(name));
            if mine != theirs {
                let show = |value: Option<&String>| match (name.as_str(), value) {
                    ("robots", Some(on)) if on == "true" => "obeyed".to_owned(),
                    ("robots", Some(_)) => "ignored (--ignore-robots)".to_owned(),
                    (_, value) => value.map_or("unset", String::as_str).to_owned(),
                };
                let flag = if name == "robots" {
                    "robots.txt".to_owned()
                } else {
                    format!("--{name}")
                };
                differences.push(format!(
                    "{flag} is {} here, {} in the crawl",
                    show(mine),
                    show(theirs)
                ));
            }
        }
        if !differences.is_empty() {
            return Err(StoreError::Settings {
                crawl: self.described(),
                differences,
            });
        }
        Ok(true)
    }
}

impl Store for RedisStore {
    fn durable(&self) -> bool {
        true
    }

    fn open(&mut self, opening: &Opening) -> Result<Resume, StoreError> {
        let spec = &opening.spec;
        self.product_token =
            arachne_core::product_token(spec.options.get("user-agent").map_or("", String::as_str))
                .to_owned();
        self.delay = duration_option(spec, "delay").unwrap_or(Duration::ZERO);
        if let Some(limit) = duration_option(spec, "max-crawl-delay") {
            self.max_crawl_delay = limit;
        }
        // At the start, a server that does not answer is the user's to fix: no waiting.
        self.connect_now()?;
        let joined = self.create_or_check(opening)?;
        let sent = monotonic_millis();
        let nonce = format!("{}.{}", std::process::id(), unix_millis(SystemTime::now()));
        let ((marks, runs, joins), _): ((String, u64, u64), bool) =
            self.invoke_in(0, 0, |s| &s.join, &[nonce])?;
        self.renewed(sent);
        self.run = runs;
        self.home_run = runs;
        let stats = self.key("stats");
        let (sitemaps_key, landings_key) = (self.key("sitemaps"), self.key("landings"));
        let ((mut counts, sitemaps, landings), _): (Kept, bool) = self.run(|conn| {
            let counts = redis::cmd("HGETALL").arg(&stats).query(conn)?;
            let sitemaps = redis::cmd("SMEMBERS").arg(&sitemaps_key).query(conn)?;
            let landings = redis::cmd("HGETALL").arg(&landings_key).query(conn)?;
            Ok((counts, sitemaps, landings))
        })?;
        let (described, worker) = (self.described(), self.worker.clone());
        let read_marks = |text: &str| -> Result<Vec<OutputMark>, StoreError> {
            if text.is_empty() {
                return Ok(Vec::new());
            }
            serde_json::from_str(text).map_err(|e| StoreError::Damaged {
                path: described.clone(),
                why: format!("worker {worker}'s output marks do not read: {e}"),
            })
        };
        let mut all_marks = vec![read_marks(&marks)?];
        // The other partitions: their counts add up, and this worker's latest commit may
        // be in any of them.
        for part in 1..self.partitions {
            let (stats, info) = (
                self.key_in(part, "stats"),
                self.key_in(part, &format!("worker:{}", self.worker)),
            );
            let ((more, marks), _): ((BTreeMap<String, i64>, Option<String>), bool) =
                self.run(|conn| {
                    let more = redis::cmd("HGETALL").arg(&stats).query(conn)?;
                    let marks = redis::cmd("HGET").arg(&info).arg("marks").query(conn)?;
                    Ok((more, marks))
                })?;
            for (name, n) in more {
                *counts.entry(name).or_default() += n;
            }
            all_marks.push(read_marks(marks.as_deref().unwrap_or(""))?);
        }
        let count = |name: &str| count(&counts, name);
        let mut resume = Resume::default();
        // Resumed: this worker ran before (its outputs are continued); a worker that joins
        // a crawl for the first time starts its own.
        resume.resumed = runs > 1;
        resume.runs = u32::try_from(runs.saturating_sub(1)).unwrap_or(u32::MAX);
        tracing::debug!(joins, "runs of the crawl's workers so far");
        resume.pages_done = count("done");
        resume.seen = count("seen");
        resume.queued = count("queued");
        // No worker waits for the seeds: any worker may fetch them, and where they land
        // reaches the others with their takes, before any request found from there.
        resume.seeds_done = vec![true; opening.seeds.len()];
        resume.sitemaps_read = sitemaps.iter().filter_map(|s| s.parse().ok()).collect();
        resume.landings = landings
            .iter()
            .filter_map(|(seed, landing)| Some((seed.parse().ok()?, landing.parse().ok()?)))
            .collect();
        self.landings = landings.into_iter().collect();
        resume.outputs = latest_marks(all_marks);
        self.queued = resume.queued;
        tracing::info!(
            crawl = %self.crawl,
            worker = %self.worker,
            joined,
            pages_done = resume.pages_done,
            "opened the shared crawl"
        );
        Ok(resume)
    }

    fn seen(&self) -> Option<Arc<dyn SeenSet>> {
        Some(Arc::clone(&self.local) as Arc<dyn SeenSet>)
    }

    fn claim(&mut self, requests: Vec<CrawlRequest>) -> Result<Claimed, StoreError> {
        // One call per partition the requests belong to (one in all, unless partitioned).
        let mut calls: BTreeMap<u32, (Vec<String>, Vec<Fingerprint>)> = BTreeMap::new();
        for request in &requests {
            let fp = request.fingerprint();
            // Seen claimed already; a request twice in one call is claimed once by the script.
            if self.local.contains(fp) {
                continue;
            }
            let (bucket, value) = seen_slot(fp);
            let body = serde_json::to_string(request).map_err(failed)?;
            let host = host_key(&request.url).into_owned();
            let (args, sent) = calls
                .entry(self.partition(&host))
                .or_insert_with(|| (vec![String::new()], Vec::new()));
            args.extend([
                bucket.to_string(),
                value.to_string(),
                fp_hex(fp),
                host,
                score(request).to_string(),
                body,
            ]);
            sent.push(fp);
        }
        let mut claimed = Claimed::default();
        for (part, (mut args, sent)) in calls {
            args[0] = sent.len().to_string();
            let ((new, queued), _): ((u32, u64), bool) =
                self.invoke_in(part, 0, |s| &s.claim, &args)?;
            for fp in sent {
                self.local.insert(fp);
            }
            if part == self.part {
                self.queued = queued;
            }
            if new > 0 {
                // Work again, maybe where no one looks: the crawl is not over.
                self.quiet = None;
                self.settled = false;
            }
            claimed.new += new;
        }
        Ok(claimed)
    }

    fn claim_hop(&mut self, hop: &CrawlRequest) -> Result<bool, StoreError> {
        if self.partition(&host_key(&hop.url)) != self.part {
            // Kept in another partition: crawled on its own, by whoever works there.
            self.claim(vec![hop.clone()])?;
            return Ok(false);
        }
        let (bucket, value) = seen_slot(hop.fingerprint());
        let (claimed, retried): (u8, bool) =
            self.invoke(|s| &s.hop, &[bucket.to_string(), value.to_string()])?;
        // 2: this worker holds the claim already; it is this call's only when the call had
        // to be sent again (its first reply was lost).
        Ok(claimed == 1 || (claimed == 2 && retried))
    }

    fn take(&mut self, want: &Want) -> Result<Vec<CrawlRequest>, StoreError> {
        self.renew_if_due()?;
        let mut args = vec![want.max.to_string(), want.per_host.to_string()];
        args.extend(want.skip.iter().cloned());
        let ((members, fresh, queued, landed), retried): (Took, bool) =
            self.invoke(|s| &s.take, &args)?;
        self.queued = queued;
        if !members.is_empty() {
            self.quiet = None;
            self.settled = false;
        }
        if landed != self.landings.len() as u64 {
            self.refresh_landings()?;
        }
        let mut taken = Vec::with_capacity(members.len());
        let mut unreadable = Vec::new();
        for member in &members {
            let fp = member.get(16..48).unwrap_or_default().to_owned();
            match member
                .get(48..)
                .and_then(|body| serde_json::from_str::<CrawlRequest>(body).ok())
            {
                Some(request) => {
                    self.held.insert(fp);
                    taken.push(request);
                }
                None => {
                    tracing::error!(%member, "a queued request does not read: dropped");
                    self.held.insert(fp.clone());
                    unreadable.push(fp);
                }
            }
        }
        for pair in fresh.chunks(2) {
            if let [host, state] = pair
                && !state.is_empty()
            {
                match host_from_json(host, state) {
                    Some(state) => self.fresh_hosts.push(state),
                    None => tracing::warn!(%host, "the host state kept does not read: ignored"),
                }
            }
        }
        self.give_back(unreadable, false)?;
        if retried {
            self.reconcile()?;
        }
        // A partition that gave nothing looks at the others: at once when nothing more
        // may come from it, otherwise at most once per poll.
        if self.partitions > 1
            && members.is_empty()
            && (queued == 0 || self.looked.is_none_or(|at| at.elapsed() >= POLL))
        {
            self.looked = Some(Instant::now());
            self.look_around()?;
        }
        Ok(taken)
    }

    fn complete(&mut self, outcomes: Vec<Outcome>) -> Result<(), StoreError> {
        // Held until the commit records them.
        self.outcomes.extend(outcomes);
        Ok(())
    }

    fn release(&mut self, requests: Vec<CrawlRequest>) -> Result<(), StoreError> {
        let fps = requests
            .iter()
            .map(|request| fp_hex(request.fingerprint()))
            .collect();
        self.give_back(fps, false)
    }

    fn note(&mut self, notes: Vec<Note>) -> Result<(), StoreError> {
        if notes.is_empty() {
            return Ok(());
        }
        // One script call per partition: a host's state is kept in its partition, the
        // sitemaps read in the first, and the seeds' landings in every one (a take reads
        // them in its own).
        let mut calls: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        let mut op = |part: u32, op: &str, key: &str, field: &str, value: String| {
            calls.entry(part).or_default().extend([
                op.to_owned(),
                key.to_owned(),
                field.to_owned(),
                value,
            ]);
        };
        for note in &notes {
            match note {
                Note::Host(state) => {
                    let part = self.partition(&state.host);
                    op(part, "HSET", "hstate", &state.host, host_json(state));
                    match state.paused_until {
                        Some(until) => {
                            let until = unix_millis(until).to_string();
                            op(part, "HSET", "paused", &state.host, until);
                        }
                        None => op(part, "HDEL", "paused", &state.host, String::new()),
                    }
                    if let Some(gap) = self.gap_of(state) {
                        op(part, "HSET", "gap", &state.host, millis(gap).to_string());
                    }
                }
                Note::SitemapRead(url) => op(0, "SADD", "sitemaps", url.as_str(), String::new()),
                Note::SeedLanded { seed, landing } => {
                    for part in 0..self.partitions {
                        op(part, "HSET", "landings", seed.as_str(), landing.to_string());
                    }
                }
                _ => {}
            }
        }
        for (part, args) in calls {
            let _: (u8, bool) = self.invoke_in(part, 0, |s| &s.note, &args)?;
        }
        Ok(())
    }

    fn commit(&mut self, outputs: &[OutputMark]) -> Result<(), StoreError> {
        self.commit_now(outputs)
    }

    fn idle(&mut self) -> Result<(), StoreError> {
        self.renew_if_due()
    }

    fn close(&mut self, ended: &str, outputs: &[OutputMark]) -> Result<Remaining, StoreError> {
        self.commit_now(outputs)?;
        let marks = serde_json::to_string(outputs).map_err(failed)?;
        let alone = if self.partitions == 1 { "1" } else { "0" };
        let mut args = [marks, ended.to_owned(), String::new(), alone.to_owned()];
        if self.part != 0 {
            args[2] = "0".into();
            let _: ((u64, u64, bool), bool) = self.invoke(|s| &s.leave, &args)?;
        }
        args[2] = (self.round_trips + 1).to_string();
        let ((mut queued, mut stuck, spent), _): ((u64, u64, bool), bool) =
            self.invoke_in(0, self.home_run, |s| &s.leave, &args)?;
        self.held.clear();
        self.leased_until.store(0, Ordering::Release);
        if self.partitions > 1 {
            (queued, stuck) = self.close_partitions()?;
        }
        Ok(Remaining::new(queued, stuck).pages_spent(spent))
    }

    fn queued(&self) -> u64 {
        // Partitioned, the crawl is over only once a look at every partition said so.
        if self.partitions > 1 && !self.settled {
            self.queued.max(1)
        } else {
            self.queued
        }
    }

    fn taken_hosts(&mut self) -> Vec<HostState> {
        std::mem::take(&mut self.fresh_hosts)
    }

    fn seed_landings(&mut self) -> Vec<(url::Url, url::Url)> {
        std::mem::take(&mut self.new_landings)
    }

    fn sharing(&self) -> Option<Sharing> {
        Some(Sharing {
            poll: POLL,
            leased_until: Arc::clone(&self.leased_until),
        })
    }
}

/// A worker of a shared crawl, as the server keeps it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct WorkerSummary {
    /// Its name.
    pub name: String,
    /// `running`, `left` (it ended its run), or `lost` (taken for dead; its work went back).
    pub state: String,
    /// Pages it recorded.
    pub pages: u64,
    /// Why its last run ended, when it ended.
    pub ended: Option<String>,
    /// Its output files, and how far each was written at its last commit: the crawl's
    /// output is each file up to that length.
    pub outputs: Vec<OutputMark>,
    /// Calls it sent to the server (each one round trip) in its last run, once it left.
    pub round_trips: Option<u64>,
    /// How long ago it last renewed its lease, in milliseconds: a running worker that
    /// went silent for longer than its lease is taken for dead at the next call.
    pub last_seen_ms_ago: u64,
}

/// A shared crawl at a glance: `arachne state --redis URL --crawl-id NAME`.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CrawlSummary {
    /// The crawl id.
    pub crawl: String,
    /// The server.
    pub server: String,
    /// `running`, or `completed` once nothing is queued or leased.
    pub status: String,
    /// Seeds, scope and options.
    pub spec: CrawlSpec,
    /// Partitions the crawl's sites are spread over (each with its own hash tag).
    pub partitions: u32,
    /// URLs with an outcome.
    pub pages: u64,
    /// Of those, by HTTP status (`none` without a response).
    pub by_status: BTreeMap<String, u64>,
    /// Failed URLs by error kind.
    pub errors: BTreeMap<String, u64>,
    /// Requests queued that may still be taken.
    pub queued: u64,
    /// Requests queued for hosts over their budget, or past the page budget.
    pub over_budget: u64,
    /// Requests leased by workers.
    pub leased: u64,
    /// Requests claimed (the seen set).
    pub seen: u64,
    /// Hosts leased now.
    pub hosts_leased: u64,
    /// Workers taken for dead, and the requests that went back to the queue from them.
    pub reaped: u64,
    /// Requests queued again from dead workers.
    pub requeued: u64,
    /// Outcomes recorded twice (a worker that stalled longer than its lease): 0.
    pub duplicates: u64,
    /// The workers.
    pub workers: Vec<WorkerSummary>,
    /// The server's memory in use, in bytes (`INFO memory`; on a Redis Cluster, summed
    /// over its shards).
    pub memory_used: u64,
}

fn summarize(
    store: &RedisStore,
    conn: &mut dyn ConnectionLike,
) -> RedisResult<Result<CrawlSummary, StoreError>> {
    let meta: BTreeMap<String, String> =
        redis::cmd("HGETALL").arg(store.key("meta")).query(conn)?;
    let Some(spec) = meta.get("spec") else {
        return Ok(Err(StoreError::Refused {
            what: store.described(),
            why: "there is no such crawl on that server".into(),
        }));
    };
    let spec = match store.read_spec(spec) {
        Ok(spec) => spec,
        Err(error) => return Ok(Err(error)),
    };
    let partitions: u32 = meta
        .get("partitions")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
        .max(1);
    // Counts add up over the partitions; a worker's own state is kept in the first (its
    // home), its pages add up, and its outputs' lengths are those of its latest commit.
    let mut stats: BTreeMap<String, i64> = BTreeMap::new();
    // Every worker is registered at home for as long as it runs: workers taken for dead
    // are counted there (once each, where partitions may count one several times).
    let mut reaped = 0;
    let mut hosts_leased = 0;
    let mut pages: BTreeMap<String, u64> = BTreeMap::new();
    let mut marks: BTreeMap<String, Vec<Vec<OutputMark>>> = BTreeMap::new();
    let names: Vec<String> = redis::cmd("SMEMBERS")
        .arg(store.key("workerset"))
        .query(conn)?;
    for part in 0..partitions {
        let more: BTreeMap<String, i64> = redis::cmd("HGETALL")
            .arg(store.key_in(part, "stats"))
            .query(conn)?;
        if part == 0 {
            reaped = count(&more, "reaped");
        }
        for (name, n) in more {
            *stats.entry(name).or_default() += n;
        }
        let leased: u64 = redis::cmd("HLEN")
            .arg(store.key_in(part, "hlease"))
            .query(conn)?;
        hosts_leased += leased;
        for name in &names {
            let (done, kept): (Option<u64>, Option<String>) = redis::cmd("HMGET")
                .arg(store.key_in(part, &format!("worker:{name}")))
                .arg("pages")
                .arg("marks")
                .query(conn)?;
            *pages.entry(name.clone()).or_default() += done.unwrap_or(0);
            let kept = kept
                .and_then(|m| serde_json::from_str(&m).ok())
                .unwrap_or_default();
            marks.entry(name.clone()).or_default().push(kept);
        }
    }
    let count = |name: &str| count(&stats, name);
    let mut by_status = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for (name, n) in &stats {
        let n = u64::try_from(*n).unwrap_or(0);
        if let Some(status) = name.strip_prefix("status:") {
            by_status.insert(status.to_owned(), n);
        } else if let Some(kind) = name.strip_prefix("error:") {
            errors.insert(kind.to_owned(), n);
        }
    }
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(conn)?;
    let now = secs * 1000 + micros / 1000;
    let mut workers = Vec::new();
    for name in names {
        let info: BTreeMap<String, String> = redis::cmd("HGETALL")
            .arg(store.key(&format!("worker:{name}")))
            .query(conn)?;
        workers.push(WorkerSummary {
            state: info.get("state").cloned().unwrap_or_default(),
            pages: pages.get(&name).copied().unwrap_or(0),
            ended: info.get("ended").cloned(),
            round_trips: info.get("round_trips").and_then(|n| n.parse().ok()),
            last_seen_ms_ago: info
                .get("seen_ms")
                .and_then(|n| n.parse::<u64>().ok())
                .map_or(0, |seen| now.saturating_sub(seen)),
            outputs: latest_marks(marks.remove(&name).unwrap_or_default()),
            name,
        });
    }
    workers.sort_by(|a, b| a.name.cmp(&b.name));
    let info: Value = redis::cmd("INFO").arg("memory").query(conn)?;
    let memory_used = used_memory(&info);
    let stuck = count("stuck");
    let mut queued = count("queued").saturating_sub(stuck);
    let mut over_budget = stuck;
    let max_pages = meta.get("max_pages").and_then(|n| n.parse::<u64>().ok());
    if max_pages.is_some_and(|max| count("taken") >= max) {
        over_budget += queued;
        queued = 0;
    }
    Ok(Ok(CrawlSummary {
        crawl: store.crawl.clone(),
        server: store.server.clone(),
        status: meta
            .get("ended")
            .cloned()
            .unwrap_or_else(|| "running".into()),
        spec,
        partitions,
        pages: count("done"),
        by_status,
        errors,
        queued,
        over_budget,
        leased: count("leased"),
        seen: count("seen"),
        hosts_leased,
        reaped,
        requeued: count("requeued"),
        duplicates: count("duplicates"),
        workers,
        memory_used,
    }))
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl fmt::Display for CrawlSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "crawl    {} on {}", self.crawl, self.server)?;
        writeln!(f, "status   {}", self.status)?;
        write!(f, "{}", self.spec)?;
        if self.partitions > 1 {
            writeln!(f, "spread   over {} partitions", self.partitions)?;
        }
        write_outcomes(f, self.pages, &self.by_status, &self.errors)?;
        writeln!(
            f,
            "queued   {} ({} over a budget), {} leased on {} host{}",
            self.queued,
            self.over_budget,
            self.leased,
            self.hosts_leased,
            plural(self.hosts_leased)
        )?;
        writeln!(f, "seen     {} URLs", self.seen)?;
        if self.reaped > 0 || self.duplicates > 0 {
            writeln!(
                f,
                "faults   {} worker{} taken for dead, {} request{} queued again, {} outcome{} twice",
                self.reaped,
                plural(self.reaped),
                self.requeued,
                plural(self.requeued),
                self.duplicates,
                plural(self.duplicates)
            )?;
        }
        for worker in &self.workers {
            let when = match (worker.state.as_str(), &worker.ended) {
                ("running", _) => format!(
                    ", last seen {:.1} s ago",
                    worker.last_seen_ms_ago as f64 / 1000.0
                ),
                (_, Some(ended)) => format!(", ended: {ended}"),
                _ => String::new(),
            };
            writeln!(
                f,
                "worker   {} ({}, {} pages{when})",
                worker.name, worker.state, worker.pages,
            )?;
            for mark in &worker.outputs {
                writeln!(f, "  output {mark}")?;
            }
        }
        if self.workers.iter().any(|w| !w.outputs.is_empty()) {
            writeln!(
                f,
                "merge    each output up to its length above (head -c BYTES FILE): later bytes were not committed"
            )?;
        }
        let (trips, pages) = self
            .workers
            .iter()
            .filter_map(|w| Some((w.round_trips?, w.pages)))
            .fold((0, 0), |(t, p), (trips, pages)| (t + trips, p + pages));
        if trips > 0 {
            writeln!(
                f,
                "calls    {trips} round trips to Redis by the workers that left: {:.2} per page",
                trips as f64 / pages.max(1) as f64
            )?;
        }
        writeln!(
            f,
            "redis    {:.1} MB in use",
            self.memory_used as f64 / 1_000_000.0
        )
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m 30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn host_state_survives_json() {
        let mut state = HostState::new("a.test:8080");
        state.robots = Some(SavedRobots::new(
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            RobotsFetch::Body("User-agent: *\nCrawl-delay: 2\n".into()),
        ));
        state.paused_until = Some(SystemTime::UNIX_EPOCH + Duration::from_millis(5));
        let back = host_from_json("a.test:8080", &host_json(&state)).unwrap();
        assert_eq!(back, state);
        let mut bare = HostState::new("b.test");
        bare.robots = Some(SavedRobots::new(
            SystemTime::UNIX_EPOCH,
            RobotsFetch::AllowAll,
        ));
        assert_eq!(host_from_json("b.test", &host_json(&bare)).unwrap(), bare);
    }

    #[test]
    fn crawl_ids_are_checked_and_tagged() {
        assert!(check_crawl_id("docs-2026.v1").is_ok());
        assert!(check_crawl_id("").is_err());
        assert!(check_crawl_id("a}b").is_err());
        assert!(check_crawl_id("a/b").is_err(), "`/` sets partitions apart");
        assert_eq!(prefix_of("docs", 0), "arachne:{docs}:");
        assert_eq!(prefix_of("docs", 3), "arachne:{docs/3}:");
    }

    #[test]
    fn a_site_keeps_to_one_partition() {
        assert_eq!(site_key("www.example.com"), "example.com");
        assert_eq!(site_key("docs.example.co.uk:8080"), "example.co.uk");
        assert_eq!(site_key("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(site_key("[::1]:8080"), "[::1]:8080");
        assert_eq!(site_key("localhost:3000"), "localhost:3000");
        assert_eq!(partition_of("anything.test", 1), 0);
        assert_eq!(
            partition_of("a.example.com", 16),
            partition_of("B.Example.com:8443", 16)
        );
        let spread: std::collections::BTreeSet<u32> = (0..200)
            .map(|i| partition_of(&format!("site{i}.com"), 16))
            .collect();
        assert_eq!(spread.len(), 16, "sites spread over every partition");
    }

    #[test]
    fn the_latest_marks_are_the_longest() {
        let mark = |path: &str, files, length| OutputMark {
            path: path.into(),
            files,
            length,
        };
        let latest = latest_marks([
            vec![mark("a", 1, 500), mark("b", 1, 10)],
            vec![mark("a", 1, 700)],
            vec![mark("a", 2, 5), mark("b", 1, 3)],
        ]);
        assert_eq!(latest, vec![mark("a", 2, 5), mark("b", 1, 10)]);
    }

    #[test]
    fn scores_order_priority_then_depth() {
        let url: url::Url = "http://a.test/".parse().unwrap();
        let shallow = CrawlRequest::link(url.clone(), 1, url.clone());
        let deep = CrawlRequest::link(url.clone(), 5, url.clone());
        assert!(score(&shallow) < score(&deep));
        let mut urgent = deep.clone();
        urgent.intent = Some(Box::new(arachne_core::Intent::default()));
        urgent.intent.as_mut().unwrap().priority = 10;
        assert!(score(&urgent) < score(&shallow));
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            shown("redis://user:secret@127.0.0.1:6379/0"),
            "redis://user:***@127.0.0.1:6379/0"
        );
    }
}
