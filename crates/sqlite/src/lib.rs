//! A crawl's whole state in one SQLite file, for [arachne](https://docs.rs/arachne): the
//! `--state crawl.db` of the command line, [`SqliteStore`] in code.
//!
//! The file holds the crawl's queue (whole requests: method, headers, body, label, user
//! data, priority), its seen set (fingerprints), every URL's outcome, what is worth keeping
//! of each host (robots.txt and its age, `Retry-After` pauses), the sitemaps read, the
//! crawl's seeds, scope and options, and how far each output file was written. Changes are
//! committed in batches, in WAL mode, together with the output lengths they account for:
//! after a crash (`kill -9`, an OOM kill, a power cut) the crawl resumes from its last
//! commit, and its outputs are cut back to that commit, so no record is written twice.
//!
//! The file is an ordinary SQLite database: query it with `sqlite3` while the crawl runs
//! or after. The tables are described in [`SCHEMA`].
//!
//! ```
//! use arachne_core::CrawlRequest;
//! use arachne_core::store::{CrawlSpec, Opening, Store, Want};
//! use arachne_sqlite::SqliteStore;
//!
//! let dir = std::env::temp_dir().join(format!("arachne-sqlite-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("crawl.db");
//! let seed = CrawlRequest::seed("http://a.test/".parse().unwrap());
//! let spec = CrawlSpec { seeds: vec![seed.url.to_string()], ..CrawlSpec::default() };
//! {
//!     let mut store = SqliteStore::open(&path).unwrap();
//!     store.open(&Opening::new(spec.clone(), vec![seed.fingerprint()])).unwrap();
//!     store.claim(vec![seed.clone()]).unwrap();
//!     store.commit(&[]).unwrap();
//! } // dropped without closing: as after a crash
//! let mut store = SqliteStore::open(&path).unwrap();
//! let resume = store.open(&Opening::new(spec, vec![seed.fingerprint()])).unwrap();
//! assert!(resume.resumed);
//! assert_eq!(resume.queued, 1);
//! assert_eq!(store.take(&Want::new(8, 8)).unwrap()[0].url, seed.url);
//! # drop(store);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arachne_core::store::{
    Claimed, CrawlSpec, HostState, Note, Opening, Outcome, OutputMark, Remaining, Resume,
    RobotsFetch, SavedRobots, Store, StoreError, Want, listed, write_outcomes,
};
use arachne_core::{
    CrawlRequest, ErrorKind, Fingerprint, Intent, MemorySeenSet, RecordError, SeenSet, host_key,
};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use serde::Serialize;
use url::Url;

/// The version of the file's layout this build writes. Files of a newer version are
/// refused; older ones are upgraded when opened.
pub const SCHEMA_VERSION: u32 = 1;

/// What the `format` key of the `meta` table says in every arachne state file.
const FORMAT: &str = "arachne-state";

/// The tables of a state file, as created. Fingerprints are 16-byte blobs (XXH3-128 of the
/// normalized URL, or of method, URL and body for requests that are not plain GETs); times
/// are RFC 3339 text in UTC.
pub const SCHEMA: &str = "
-- One row per fact: format, schema_version, created_at, updated_at, runs, status (why
-- the last run ended, or `running`), spec (seeds, scope and options as JSON), landings
-- (seeds that redirected, and where they landed, as JSON).
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

-- The seen set (every request ever claimed, so that a URL is queued at most once per
-- crawl) is the fingerprints of `frontier`, of `pages`, and of this table: the requests
-- claimed without being queued or fetched themselves (redirect targets that a page
-- followed, requests given up).
CREATE TABLE seen (fp BLOB PRIMARY KEY) WITHOUT ROWID;

-- Requests waiting to be fetched, appended in the order they were queued (`id`), so that a
-- large queue grows at its end. Within a host they are taken by `rank`
-- (minus the request's priority: lower goes first), then depth, then `id` (the order in
-- which they were queued). `taken` is 1 while the crawl has one in hand (in its window or
-- in flight); a crawl that resumes queues those again. `intent` holds what a request carries besides its URL
-- (method, headers, body, label, data, priority) as JSON, NULL for a plain GET.
CREATE TABLE frontier (
    id INTEGER PRIMARY KEY,
    fp BLOB NOT NULL,
    host TEXT NOT NULL,
    rank INTEGER NOT NULL,
    depth INTEGER NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0,
    url TEXT NOT NULL,
    parent TEXT,
    seed INTEGER NOT NULL,
    label TEXT,
    intent TEXT
);
CREATE INDEX frontier_next ON frontier (host, rank, depth, id);

-- The outcome of every URL fetched (or refused): one row each, as in the JSON Lines output.
-- `error_kind` is NULL on success; an HTTP error status is in `status`.
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    fp BLOB NOT NULL,
    url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    host TEXT NOT NULL,
    method TEXT NOT NULL,
    status INTEGER,
    error_kind TEXT,
    error_message TEXT,
    depth INTEGER NOT NULL,
    parent TEXT,
    label TEXT,
    content_type TEXT,
    bytes INTEGER NOT NULL,
    links INTEGER NOT NULL,
    new_links INTEGER NOT NULL,
    redirects INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    elapsed_ms INTEGER NOT NULL,
    fetched_at TEXT NOT NULL
);

-- Per host: requests queued and taken (the per-host page budget counts these), its turn
-- among hosts, its robots.txt (`robots`: body, allow_all or unavailable) and when it was
-- fetched, and the end of a Retry-After pause.
CREATE TABLE hosts (
    host TEXT PRIMARY KEY,
    queued INTEGER NOT NULL DEFAULT 0,
    taken INTEGER NOT NULL DEFAULT 0,
    over INTEGER NOT NULL DEFAULT 0,
    turn INTEGER NOT NULL DEFAULT 0,
    robots TEXT,
    robots_body TEXT,
    robots_error_kind TEXT,
    robots_error_message TEXT,
    robots_fetched_at TEXT,
    paused_until TEXT
) WITHOUT ROWID;
CREATE INDEX hosts_ready ON hosts (turn) WHERE queued > 0 AND over = 0;

-- Sitemaps read: not read again when the crawl resumes.
CREATE TABLE sitemaps (url TEXT PRIMARY KEY, read_at TEXT NOT NULL) WITHOUT ROWID;

-- How far each output file was written at the last commit: the `files`-th file (outputs
-- that rotate) is `length` bytes long. A resumed crawl cuts the file back to it.
CREATE TABLE outputs (path TEXT PRIMARY KEY, files INTEGER NOT NULL, length INTEGER NOT NULL) WITHOUT ROWID;
";

/// Where a request stands in its host's queue: `rank`, `depth`, `id`.
type Place = (i64, i64, i64);

/// A crawl's state in a SQLite file. See the [crate documentation](crate).
///
/// Opening locks the file for this process until the store is dropped: a second crawl on
/// the same file is refused ([`StoreError::Locked`]). The seen set lives in memory as
/// fixed-size fingerprints (loaded from the file on resume); the queue stays on disk, and
/// the crawl takes a bounded window of it at a time.
pub struct SqliteStore {
    path: PathBuf,
    name: String,
    conn: Connection,
    /// Held for the store's life: the lock on the file.
    _lock: File,
    seen: Arc<MemorySeenSet>,
    /// A transaction is open (the changes since the last commit).
    in_transaction: bool,
    /// Whether the file was new when opened.
    new: bool,
    opened: bool,
    host_budget: Option<u64>,
    /// Requests queued and not taken, of hosts within their budget.
    queued: u64,
    /// Requests queued for hosts over their budget.
    stuck: u64,
    /// The next turn given to a host taken from.
    turn: i64,
    /// The `id` of the last request queued.
    next_id: i64,
    /// Per host, the place (`rank`, `depth`, `id`) of the last request taken in this run:
    /// the next take starts after it. Forgotten when a request is queued before it.
    cursors: HashMap<String, Place>,
    /// The requests taken in this run and not done: their rows, by fingerprint.
    in_hand: HashMap<Fingerprint, i64>,
    /// The spec the crawl runs with.
    spec: CrawlSpec,
    /// A resumed crawl's first change also starts its run (with this spec): the writes
    /// that a refused crawl must not make.
    pending_start: Option<CrawlSpec>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("queued", &self.queued)
            .field("seen", &self.seen.len())
            .finish_non_exhaustive()
    }
}

fn failed(error: impl fmt::Display) -> StoreError {
    StoreError::Failed(error.to_string())
}

impl SqliteStore {
    /// Opens the state file at `path`, creating it if there is none, and locks it. The
    /// crawl itself is opened with [`Store::open`].
    ///
    /// # Errors
    /// [`StoreError::Locked`] when a running crawl holds it; [`StoreError::Damaged`] when it
    /// is not an arachne state file, or is damaged (truncated, say); [`StoreError::Newer`]
    /// when a newer arachne wrote it. In all these cases the file is left as it was.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let name = path.display().to_string();
        let damaged = |why: String| StoreError::Damaged {
            path: name.clone(),
            why,
        };
        let (lock, new) = match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => (file, true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| failed(format!("cannot open {name}: {e}")))?;
                (file, false)
            }
            Err(e) => return Err(failed(format!("cannot create {name}: {e}"))),
        };
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(StoreError::Locked { path: name }),
            Err(TryLockError::Error(e)) => return Err(failed(format!("cannot lock {name}: {e}"))),
        }
        if !new {
            let length = lock.metadata().map_err(failed)?.len();
            if length == 0 {
                return Err(damaged(
                    "the file is empty (a truncated state file?); remove it to start a new crawl"
                        .into(),
                ));
            }
            // Read-only first: a file refused here is left exactly as it was.
            let check = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| damaged(e.to_string()))?;
            validate(&check, &name)?;
            check.close().map_err(|(_, e)| failed(e))?;
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed)?;
        // Settings of this connection: they write nothing. Closing it does not fold the
        // write-ahead log into the file either, unless the crawl closed properly: a crawl
        // refused after a crash leaves the file as it was.
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8192;")
            .map_err(failed)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(failed)?;
        Ok(Self {
            path,
            name,
            conn,
            _lock: lock,
            seen: Arc::new(MemorySeenSet::new()),
            in_transaction: false,
            new,
            opened: false,
            host_budget: None,
            queued: 0,
            stuck: 0,
            turn: 0,
            next_id: 0,
            cursors: HashMap::new(),
            in_hand: HashMap::new(),
            spec: CrawlSpec::default(),
            pending_start: None,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads a summary of the crawl in a state file, without crawling and without taking
    /// its lock: it works while the crawl runs.
    ///
    /// # Errors
    /// As [`SqliteStore::open`], except that a locked file is read all the same.
    pub fn summary(path: impl AsRef<Path>) -> Result<Summary, StoreError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::Damaged {
                path: name.clone(),
                why: "there is no such file".into(),
            },
            _ => failed(format!("{name}: {e}")),
        })?;
        if metadata.len() == 0 {
            return Err(StoreError::Damaged {
                path: name,
                why: "the file is empty".into(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Damaged {
            path: name.clone(),
            why: e.to_string(),
        })?;
        validate(&conn, &name)?;
        let text = meta(&conn, "spec").map_err(failed)?.unwrap_or_default();
        let spec: CrawlSpec = serde_json::from_str(&text).map_err(|e| StoreError::Damaged {
            path: name.clone(),
            why: format!("its crawl settings do not read: {e}"),
        })?;
        summarize(&conn, &name, spec).map_err(failed)
    }

    fn begin(&mut self) -> rusqlite::Result<()> {
        if !self.in_transaction {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.in_transaction = true;
        }
        if let Some(spec) = self.pending_start.take() {
            self.start_run(&spec)?;
        }
        Ok(())
    }

    /// A resumed crawl's run starts: one more run, its spec, and the queue as
    /// [`SqliteStore::resume`] counted it (requests in hand queued again, per-host counts
    /// and budgets recomputed).
    fn start_run(&mut self, spec: &CrawlSpec) -> rusqlite::Result<()> {
        let runs: u32 = self.meta("runs")?.and_then(|r| r.parse().ok()).unwrap_or(1);
        self.set_meta("runs", &(runs + 1).to_string())?;
        self.set_meta("status", "running")?;
        self.set_meta("spec", &serde_json::to_string(spec).unwrap_or_default())?;
        self.conn.execute_batch(
            "UPDATE frontier SET taken = 0 WHERE taken = 1;
             CREATE TEMP TABLE counts (host TEXT PRIMARY KEY, queued INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0);
             INSERT INTO counts (host, queued) SELECT host, count(*) FROM frontier GROUP BY host;
             INSERT INTO counts (host, done) SELECT host, count(*) FROM pages GROUP BY host
                 ON CONFLICT (host) DO UPDATE SET done = excluded.done;
             INSERT OR IGNORE INTO hosts (host) SELECT host FROM counts;
             UPDATE hosts SET
                 queued = coalesce((SELECT queued FROM counts WHERE counts.host = hosts.host), 0),
                 taken = coalesce((SELECT done FROM counts WHERE counts.host = hosts.host), 0);
             DROP TABLE counts;",
        )?;
        let budget = self
            .host_budget
            .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX));
        self.conn.execute(
            "UPDATE hosts SET over = (?1 >= 0 AND taken >= ?1)",
            params![budget],
        )?;
        Ok(())
    }

    fn set_meta(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
            .execute(params![key, value])?;
        Ok(())
    }

    fn meta(&self, key: &str) -> rusqlite::Result<Option<String>> {
        meta(&self.conn, key)
    }

    fn write_marks(&self, outputs: &[OutputMark]) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO outputs (path, files, length) VALUES (?1, ?2, ?3)",
        )?;
        for mark in outputs {
            stmt.execute(params![
                mark.path,
                mark.files,
                i64::try_from(mark.length).unwrap_or(i64::MAX)
            ])?;
        }
        Ok(())
    }

    fn commit_now(&mut self, outputs: &[OutputMark]) -> rusqlite::Result<()> {
        self.begin()?;
        self.write_marks(outputs)?;
        self.set_meta("updated_at", &now_text())?;
        self.conn.execute_batch("COMMIT")?;
        self.in_transaction = false;
        Ok(())
    }

    fn is_over(&self, taken: i64) -> bool {
        self.host_budget
            .is_some_and(|max| u64::try_from(taken).unwrap_or(0) >= max)
    }

    fn create(&mut self, opening: &Opening) -> rusqlite::Result<Resume> {
        self.conn.execute_batch("PRAGMA journal_mode = WAL;")?;
        self.begin()?;
        self.conn.execute_batch(SCHEMA)?;
        self.set_meta("format", FORMAT)?;
        self.set_meta("schema_version", &SCHEMA_VERSION.to_string())?;
        self.set_meta("created_at", &now_text())?;
        self.set_meta("runs", "1")?;
        self.set_meta("status", "running")?;
        self.set_meta("landings", "[]")?;
        self.set_meta(
            "spec",
            &serde_json::to_string(&opening.spec).unwrap_or_default(),
        )?;
        self.commit_now(&[])?;
        let mut resume = Resume::default();
        resume.seeds_done = vec![false; opening.seeds.len()];
        Ok(resume)
    }

    /// Reads what the file holds for a resume. Nothing is written until the first change
    /// ([`SqliteStore::start_run`]): a crawl refused after this (an output file that
    /// changed, say) leaves the file as it was.
    fn resume(&mut self, opening: &Opening, saved: &CrawlSpec) -> rusqlite::Result<Resume> {
        let runs: u32 = self.meta("runs")?.and_then(|r| r.parse().ok()).unwrap_or(1);
        // Requests in hand when the last run ended are queued again; the budget counts
        // what has an outcome.
        {
            let mut stmt = self.conn.prepare(
                "SELECT f.host, f.n, coalesce(p.n, 0)
                 FROM (SELECT host, count(*) AS n FROM frontier GROUP BY host) AS f
                 LEFT JOIN (SELECT host, count(*) AS n FROM pages GROUP BY host) AS p
                 ON p.host = f.host",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let queued = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
                if self.is_over(row.get(2)?) {
                    self.stuck += queued;
                } else {
                    self.queued += queued;
                }
            }
        }
        self.turn = self
            .conn
            .query_row("SELECT coalesce(max(turn), 0) FROM hosts", [], |row| {
                row.get(0)
            })?;
        self.next_id =
            self.conn
                .query_row("SELECT coalesce(max(id), 0) FROM frontier", [], |row| {
                    row.get(0)
                })?;
        self.pending_start = Some(opening.spec.clone());

        let seen_count: i64 = self.conn.query_row(SEEN_COUNT, [], |row| row.get(0))?;
        let seen = MemorySeenSet::with_capacity(usize::try_from(seen_count).unwrap_or(0));
        // A seed is done when it was claimed and has left the queue.
        let seeds: HashMap<Fingerprint, usize> = opening
            .seeds
            .iter()
            .enumerate()
            .map(|(i, fp)| (*fp, i))
            .collect();
        let mut seeds_queued = vec![false; opening.seeds.len()];
        for table in SEEN_TABLES {
            let mut stmt = self.conn.prepare(&format!("SELECT fp FROM {table}"))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let fp = fingerprint(row, 0)?;
                if table == "frontier"
                    && let Some(&i) = seeds.get(&fp)
                {
                    seeds_queued[i] = true;
                }
                seen.insert(fp);
            }
        }
        // Redirect targets crawled on their own as well are in two tables.
        let seen_count = seen.len() as i64;
        self.seen = Arc::new(seen);
        let seeds_done: Vec<bool> = opening
            .seeds
            .iter()
            .zip(&seeds_queued)
            .map(|(fp, queued)| self.seen.contains(*fp) && !queued)
            .collect();

        let pages_done: i64 = self
            .conn
            .query_row("SELECT count(*) FROM pages", [], |row| row.get(0))?;
        let hosts = load_hosts(&self.conn)?;
        let sitemaps_read = {
            let mut stmt = self.conn.prepare("SELECT url FROM sitemaps")?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
            rows.filter_map(|url| url.ok()?.parse().ok()).collect()
        };
        let landings = self.landings()?;
        let outputs = load_marks(&self.conn)?;
        let mut resume = Resume::default();
        resume.resumed = true;
        resume.runs = runs;
        resume.pages_done = u64::try_from(pages_done).unwrap_or(0);
        resume.queued = self.queued + self.stuck;
        resume.seen = u64::try_from(seen_count).unwrap_or(0);
        resume.seeds_done = seeds_done;
        resume.hosts = hosts;
        resume.sitemaps_read = sitemaps_read;
        resume.landings = landings;
        resume.outputs = outputs;
        resume.option_changes = opening.spec.option_changes(saved);
        Ok(resume)
    }

    fn landings(&self) -> rusqlite::Result<Vec<(Url, Url)>> {
        let text = self.meta("landings")?.unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_json::from_str(&text).unwrap_or_default();
        Ok(pairs
            .into_iter()
            .filter_map(|(seed, landing)| Some((seed.parse().ok()?, landing.parse().ok()?)))
            .collect())
    }

    fn do_claim(&mut self, requests: Vec<CrawlRequest>) -> rusqlite::Result<Claimed> {
        let mut claimed = Claimed::default();
        let mut fresh = Vec::new();
        for request in requests {
            let fp = request.fingerprint();
            if self.seen.insert(fp) {
                fresh.push((fp, request));
            }
        }
        if fresh.is_empty() {
            return Ok(claimed);
        }
        self.begin()?;
        let mut per_host: Vec<(String, i64)> = Vec::new();
        {
            let mut queue = self.conn.prepare_cached(
                "INSERT INTO frontier (fp, id, host, rank, depth, url, parent, seed, label, intent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for (fp, request) in fresh {
                let key = host_key(&request.url);
                let intent = request
                    .intent
                    .as_deref()
                    .map(|intent| serde_json::to_string(intent).unwrap_or_default());
                self.next_id += 1;
                queue.execute(params![
                    fp.to_bytes(),
                    self.next_id,
                    key.as_ref(),
                    -i64::from(request.priority()),
                    request.depth,
                    request.url.as_str(),
                    request.parent.as_deref().map(Url::as_str),
                    request.seed,
                    request.label(),
                    intent,
                ])?;
                let place = (
                    -i64::from(request.priority()),
                    i64::from(request.depth),
                    self.next_id,
                );
                if self
                    .cursors
                    .get(key.as_ref())
                    .is_some_and(|cursor| place < *cursor)
                {
                    // Queued before where this host's takes had got to: start over.
                    self.cursors.remove(key.as_ref());
                }
                match per_host.iter_mut().find(|(host, _)| host == key.as_ref()) {
                    Some((_, n)) => *n += 1,
                    None => per_host.push((key.into_owned(), 1)),
                }
                claimed.new += 1;
            }
        }
        let mut host = self.conn.prepare_cached(
            "INSERT INTO hosts (host, queued) VALUES (?1, ?2)
             ON CONFLICT (host) DO UPDATE SET queued = queued + ?2 RETURNING over",
        )?;
        for (name, n) in per_host {
            let over: bool = host.query_row(params![name, n], |row| row.get(0))?;
            let n = u64::try_from(n).unwrap_or(0);
            if over {
                self.stuck += n;
            } else {
                self.queued += n;
            }
        }
        Ok(claimed)
    }

    fn do_take(&mut self, want: &Want) -> rusqlite::Result<Vec<CrawlRequest>> {
        let mut out = Vec::new();
        if want.max == 0 || self.queued == 0 {
            return Ok(out);
        }
        self.begin()?;
        let limit = want.max + want.skip.len();
        let hosts: Vec<(String, i64)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT host, taken FROM hosts WHERE queued > 0 AND over = 0 ORDER BY turn LIMIT ?1",
            )?;
            let rows =
                stmt.query_map(params![limit as i64], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (host, taken) in hosts {
            if out.len() >= want.max {
                break;
            }
            if want.skip.contains(&host) {
                continue;
            }
            let mut n = want.per_host.min(want.max - out.len());
            if let Some(budget) = self.host_budget {
                let left = budget.saturating_sub(u64::try_from(taken).unwrap_or(0));
                n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
            }
            // From where the last take of this host got to, so that the requests in hand
            // are not walked over again.
            let (rank, depth, id) = self.cursors.get(&host).copied().unwrap_or((i64::MIN, 0, 0));
            let rows: Vec<(i64, Place, CrawlRequest)> = {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT id, url, depth, parent, seed, intent, rank, id FROM frontier
                     WHERE host = ?1 AND (rank, depth, id) > (?2, ?3, ?4) AND taken = 0
                     ORDER BY rank, depth, id LIMIT ?5",
                )?;
                let rows = stmt.query_map(params![host, rank, depth, id, n as i64], |row| {
                    let place = (row.get(6)?, row.get(2)?, row.get(7)?);
                    Ok((row.get(0)?, place, request(row)?))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            if let Some((_, place, _)) = rows.last() {
                self.cursors.insert(host.clone(), *place);
            }
            let k = rows.len() as i64;
            {
                let mut mark = self
                    .conn
                    .prepare_cached("UPDATE frontier SET taken = 1 WHERE id = ?1")?;
                for (id, _, request) in &rows {
                    mark.execute(params![id])?;
                    self.in_hand.insert(request.fingerprint(), *id);
                }
            }
            self.turn += 1;
            let over = self.is_over(taken + k);
            let left: i64 = self
                .conn
                .prepare_cached(
                    "UPDATE hosts SET queued = queued - ?2, taken = taken + ?2, turn = ?3, over = ?4
                     WHERE host = ?1 RETURNING queued",
                )?
                .query_row(params![host, k, self.turn, over], |row| row.get(0))?;
            self.queued = self.queued.saturating_sub(u64::try_from(k).unwrap_or(0));
            if over {
                let left = u64::try_from(left).unwrap_or(0);
                self.queued = self.queued.saturating_sub(left);
                self.stuck += left;
            }
            out.extend(rows.into_iter().map(|(_, _, request)| request));
        }
        Ok(out)
    }

    fn do_complete(&mut self, outcomes: Vec<Outcome>) -> rusqlite::Result<()> {
        self.begin()?;
        let mut unqueue = self
            .conn
            .prepare_cached("DELETE FROM frontier WHERE id = ?1")?;
        let mut page = self.conn.prepare_cached(
            "INSERT INTO pages (fp, url, final_url, host, method, status, error_kind,
                 error_message, depth, parent, label, content_type, bytes, links, new_links,
                 redirects, attempts, elapsed_ms, fetched_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?;
        let mut seen = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO seen (fp) VALUES (?1)")?;
        for outcome in outcomes {
            let fp = outcome.fingerprint.to_bytes();
            let r = &outcome.record;
            // Only requests taken in this run have an outcome; another stays queued.
            if let Some(id) = self.in_hand.remove(&outcome.fingerprint) {
                unqueue.execute(params![id])?;
            }
            page.execute(params![
                fp,
                r.url.as_str(),
                r.final_url.as_str(),
                outcome.host,
                r.method,
                r.status,
                r.error.as_ref().map(|e| e.kind.as_str()),
                r.error.as_ref().map(|e| e.message.as_str()),
                r.depth,
                r.parent.as_ref().map(Url::as_str),
                outcome.label,
                r.content_type,
                i64::try_from(r.bytes).unwrap_or(i64::MAX),
                r.links,
                r.new_links,
                r.redirects.len() as i64,
                r.attempts,
                i64::try_from(r.elapsed_ms).unwrap_or(i64::MAX),
                r.fetched_at,
            ])?;
            for hop in &outcome.hops {
                seen.execute(params![hop.to_bytes()])?;
            }
        }
        Ok(())
    }

    fn do_release(&mut self, requests: Vec<CrawlRequest>) -> rusqlite::Result<()> {
        self.begin()?;
        for request in requests {
            let fingerprint = request.fingerprint();
            let Some(id) = self.in_hand.remove(&fingerprint) else {
                continue;
            };
            let fp = fingerprint.to_bytes();
            self.conn
                .prepare_cached("DELETE FROM frontier WHERE id = ?1")?
                .execute(params![id])?;
            // Still seen: it is not queued again.
            self.conn
                .prepare_cached("INSERT OR IGNORE INTO seen (fp) VALUES (?1)")?
                .execute(params![fp])?;
            let key = host_key(&request.url);
            let row: Option<(i64, i64, bool)> = self
                .conn
                .prepare_cached(
                    "UPDATE hosts SET taken = max(taken - 1, 0) WHERE host = ?1
                     RETURNING taken, queued, over",
                )?
                .query_row(params![key.as_ref()], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            if let Some((taken, queued, true)) = row
                && !self.is_over(taken)
            {
                self.conn
                    .prepare_cached("UPDATE hosts SET over = 0 WHERE host = ?1")?
                    .execute(params![key.as_ref()])?;
                let queued = u64::try_from(queued).unwrap_or(0);
                self.stuck = self.stuck.saturating_sub(queued);
                self.queued += queued;
            }
        }
        Ok(())
    }

    fn do_note(&mut self, notes: Vec<Note>) -> rusqlite::Result<()> {
        self.begin()?;
        for note in notes {
            match note {
                Note::Host(state) => save_host(&self.conn, &state)?,
                Note::SitemapRead(url) => {
                    self.conn
                        .prepare_cached(
                            "INSERT OR IGNORE INTO sitemaps (url, read_at) VALUES (?1, ?2)",
                        )?
                        .execute(params![url.as_str(), now_text()])?;
                }
                Note::SeedLanded { seed, landing } => {
                    let mut pairs: Vec<(String, String)> = self
                        .landings()?
                        .into_iter()
                        .map(|(s, l)| (s.to_string(), l.to_string()))
                        .collect();
                    pairs.retain(|(s, _)| s != seed.as_str());
                    pairs.push((seed.to_string(), landing.to_string()));
                    self.set_meta(
                        "landings",
                        &serde_json::to_string(&pairs).unwrap_or_default(),
                    )?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    fn durable(&self) -> bool {
        true
    }

    fn open(&mut self, opening: &Opening) -> Result<Resume, StoreError> {
        if self.opened {
            return Err(failed("the store was opened already"));
        }
        self.host_budget = opening.host_budget;
        let resume = if self.new {
            self.create(opening).map_err(failed)?
        } else {
            let text = self.meta("spec").map_err(failed)?.unwrap_or_default();
            let saved: CrawlSpec =
                serde_json::from_str(&text).map_err(|e| StoreError::Damaged {
                    path: self.name.clone(),
                    why: format!("its crawl settings do not read: {e}"),
                })?;
            let differences = opening.spec.differences(&saved);
            if !differences.is_empty() && !opening.force {
                return Err(StoreError::OtherCrawl {
                    path: self.name.clone(),
                    differences,
                });
            }
            let mut resume = self.resume(opening, &saved).map_err(failed)?;
            resume.forced = differences;
            resume
        };
        self.spec = opening.spec.clone();
        self.opened = true;
        Ok(resume)
    }

    fn seen(&self) -> Option<Arc<dyn SeenSet>> {
        Some(Arc::clone(&self.seen) as Arc<dyn SeenSet>)
    }

    fn claim(&mut self, requests: Vec<CrawlRequest>) -> Result<Claimed, StoreError> {
        self.do_claim(requests).map_err(failed)
    }

    fn claim_hop(&mut self, hop: &CrawlRequest) -> Result<bool, StoreError> {
        // Durable with the page's outcome, which lists it.
        Ok(self.seen.insert(hop.fingerprint()))
    }

    fn take(&mut self, want: &Want) -> Result<Vec<CrawlRequest>, StoreError> {
        self.do_take(want).map_err(failed)
    }

    fn complete(&mut self, outcomes: Vec<Outcome>) -> Result<(), StoreError> {
        self.do_complete(outcomes).map_err(failed)
    }

    fn release(&mut self, requests: Vec<CrawlRequest>) -> Result<(), StoreError> {
        self.do_release(requests).map_err(failed)
    }

    fn note(&mut self, notes: Vec<Note>) -> Result<(), StoreError> {
        self.do_note(notes).map_err(failed)
    }

    fn commit(&mut self, outputs: &[OutputMark]) -> Result<(), StoreError> {
        self.commit_now(outputs).map_err(failed)
    }

    fn close(&mut self, ended: &str, outputs: &[OutputMark]) -> Result<Remaining, StoreError> {
        (|| {
            self.begin()?;
            self.set_meta("status", ended)?;
            self.commit_now(outputs)?;
            // Everything in the main file: the state is one file again once closed.
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            self.conn
                .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
                .map(|_| ())
        })()
        .map_err(failed)?;
        Ok(Remaining::new(self.queued, self.stuck))
    }

    fn queued(&self) -> u64 {
        self.queued
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Never committed: what was not committed is undone, as after a crash.
        if self.in_transaction {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Checks that a connection holds an arachne state file this build reads: the format, the
/// version, and SQLite's own check of the file's structure (a truncated file fails it).
fn validate(conn: &Connection, name: &str) -> Result<(), StoreError> {
    let damaged = |why: String| StoreError::Damaged {
        path: name.to_owned(),
        why,
    };
    let format = meta(conn, "format").map_err(|e| match e {
        rusqlite::Error::SqliteFailure(_, Some(ref message))
            if message.contains("no such table") =>
        {
            damaged("it is an SQLite database, but not one arachne wrote".into())
        }
        other => damaged(other.to_string()),
    })?;
    if format.as_deref() != Some(FORMAT) {
        return Err(damaged(
            "it is an SQLite database, but not one arachne wrote".into(),
        ));
    }
    let version: u32 = meta(conn, "schema_version")
        .map_err(|e| damaged(e.to_string()))?
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| damaged("its schema version is missing".into()))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            path: name.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let check: String = conn
        .query_row("PRAGMA quick_check(1)", [], |row| row.get(0))
        .map_err(|e| damaged(e.to_string()))?;
    if check != "ok" {
        return Err(damaged(format!("SQLite finds it damaged: {check}")));
    }
    Ok(())
}

/// The tables whose fingerprints make up the seen set (see [`SCHEMA`]).
const SEEN_TABLES: [&str; 3] = ["frontier", "pages", "seen"];

/// The fingerprints in [`SEEN_TABLES`] (a redirect target also crawled on its own counts
/// twice).
const SEEN_COUNT: &str = "SELECT (SELECT count(*) FROM frontier) + (SELECT count(*) FROM pages) + (SELECT count(*) FROM seen)";

/// How far each output was written at the last commit, by path.
fn load_marks(conn: &Connection) -> rusqlite::Result<Vec<OutputMark>> {
    let mut stmt = conn.prepare("SELECT path, files, length FROM outputs ORDER BY path")?;
    let rows = stmt.query_map([], |row| {
        Ok(OutputMark {
            path: row.get(0)?,
            files: row.get(1)?,
            length: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
        })
    })?;
    rows.collect()
}

fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row(params![key], |row| row.get(0))
        .optional()
}

fn now_text() -> String {
    time_text(SystemTime::now())
}

fn time_text(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

fn parse_time(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(text).ok()
}

fn fingerprint(row: &Row<'_>, at: usize) -> rusqlite::Result<Fingerprint> {
    let bytes: Vec<u8> = row.get(at)?;
    let bytes: [u8; 16] = bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            at,
            rusqlite::types::Type::Blob,
            "a fingerprint is 16 bytes".into(),
        )
    })?;
    Ok(Fingerprint::from_bytes(bytes))
}

fn conversion(at: usize, error: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(at, rusqlite::types::Type::Text, Box::new(error))
}

/// A queued request from its row: `url, depth, parent, seed, intent` from column 1.
fn request(row: &Row<'_>) -> rusqlite::Result<CrawlRequest> {
    let url: String = row.get(1)?;
    let parent: Option<String> = row.get(3)?;
    let intent: Option<String> = row.get(5)?;
    let intent: Option<Box<Intent>> = match intent {
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| conversion(5, e))?),
        None => None,
    };
    Ok(CrawlRequest {
        url: url.parse().map_err(|e| conversion(1, e))?,
        depth: row.get(2)?,
        parent: match parent {
            Some(parent) => Some(Arc::new(parent.parse().map_err(|e| conversion(3, e))?)),
            None => None,
        },
        intent,
        seed: row.get(4)?,
    })
}

fn save_host(conn: &Connection, state: &HostState) -> rusqlite::Result<()> {
    let (robots, body, error, fetched_at) = match &state.robots {
        None => (None, None, None, None),
        Some(saved) => {
            let at = Some(time_text(saved.fetched_at));
            match &saved.outcome {
                RobotsFetch::Body(body) => (Some("body"), Some(body.as_str()), None, at),
                RobotsFetch::AllowAll => (Some("allow_all"), None, None, at),
                RobotsFetch::Unavailable(error) => (Some("unavailable"), None, Some(error), at),
            }
        }
    };
    conn.prepare_cached(
        "INSERT INTO hosts (host, robots, robots_body, robots_error_kind, robots_error_message,
             robots_fetched_at, paused_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (host) DO UPDATE SET robots = excluded.robots,
             robots_body = excluded.robots_body, robots_error_kind = excluded.robots_error_kind,
             robots_error_message = excluded.robots_error_message,
             robots_fetched_at = excluded.robots_fetched_at, paused_until = excluded.paused_until",
    )?
    .execute(params![
        state.host,
        robots,
        body,
        error.map(|e| e.kind.as_str()),
        error.map(|e| e.message.as_str()),
        fetched_at,
        state.paused_until.map(time_text),
    ])?;
    Ok(())
}

fn load_hosts(conn: &Connection) -> rusqlite::Result<Vec<HostState>> {
    let mut stmt = conn.prepare(
        "SELECT host, robots, robots_body, robots_error_kind, robots_error_message,
             robots_fetched_at, paused_until
         FROM hosts WHERE robots IS NOT NULL OR paused_until IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |row| {
        let host: String = row.get(0)?;
        let robots: Option<String> = row.get(1)?;
        let body: Option<String> = row.get(2)?;
        let kind: Option<String> = row.get(3)?;
        let message: Option<String> = row.get(4)?;
        let fetched_at: Option<String> = row.get(5)?;
        let paused_until: Option<String> = row.get(6)?;
        let outcome = match robots.as_deref() {
            Some("body") => Some(RobotsFetch::Body(body.unwrap_or_default())),
            Some("allow_all") => Some(RobotsFetch::AllowAll),
            Some("unavailable") => Some(RobotsFetch::Unavailable(RecordError {
                kind: kind
                    .as_deref()
                    .and_then(error_kind)
                    .unwrap_or(ErrorKind::RobotsUnavailable),
                message: message.unwrap_or_default(),
            })),
            _ => None,
        };
        let mut state = HostState::new(host);
        state.robots = outcome
            .zip(fetched_at.as_deref().and_then(parse_time))
            .map(|(outcome, at)| SavedRobots::new(at, outcome));
        state.paused_until = paused_until.as_deref().and_then(parse_time);
        Ok(state)
    })?;
    rows.collect()
}

/// An error kind from its name in records.
fn error_kind(name: &str) -> Option<ErrorKind> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// What `arachne state` prints: a saved crawl at a glance.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// The file.
    pub path: String,
    /// Its schema version.
    pub schema_version: u32,
    /// When the crawl started.
    pub created_at: String,
    /// The last commit.
    pub updated_at: String,
    /// Runs so far (the first and each resume).
    pub runs: u32,
    /// How the last run ended (`running` while one runs, or after a crash).
    pub status: String,
    /// Seeds, scope and options.
    pub spec: CrawlSpec,
    /// URLs with an outcome.
    pub pages: u64,
    /// Of those, by HTTP status (`none` without a response).
    pub by_status: BTreeMap<String, u64>,
    /// Failed URLs by error kind.
    pub errors: BTreeMap<String, u64>,
    /// Requests queued (in hand of a running crawl included).
    pub queued: u64,
    /// Requests claimed.
    pub seen: u64,
    /// Hosts met.
    pub hosts: u64,
    /// The hosts with the most pages, with their counts (at most 10).
    pub top_hosts: Vec<(String, u64)>,
    /// The latest `fetched_at`.
    pub last_fetch: Option<String>,
    /// How far each output was written at the last commit.
    pub outputs: Vec<OutputMark>,
}

fn summarize(conn: &Connection, name: &str, spec: CrawlSpec) -> rusqlite::Result<Summary> {
    let get = |key: &str| -> rusqlite::Result<String> { Ok(meta(conn, key)?.unwrap_or_default()) };
    let count = |sql: &str| -> rusqlite::Result<u64> {
        conn.query_row(sql, [], |row| row.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
    };
    let grouped = |sql: &str| -> rusqlite::Result<Vec<(String, u64)>> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
            ))
        })?;
        rows.collect()
    };
    Ok(Summary {
        path: name.to_owned(),
        schema_version: get("schema_version")?.parse().unwrap_or(0),
        created_at: get("created_at")?,
        updated_at: get("updated_at")?,
        runs: get("runs")?.parse().unwrap_or(0),
        status: get("status")?,
        spec,
        pages: count("SELECT count(*) FROM pages")?,
        by_status: grouped(
            "SELECT coalesce(CAST(status AS TEXT), 'none'), count(*) FROM pages GROUP BY 1 ORDER BY 1",
        )?
        .into_iter()
        .collect(),
        errors: grouped(
            "SELECT error_kind, count(*) FROM pages WHERE error_kind IS NOT NULL GROUP BY 1 ORDER BY 1",
        )?
        .into_iter()
        .collect(),
        queued: count("SELECT count(*) FROM frontier")?,
        seen: count(SEEN_COUNT)?,
        hosts: count("SELECT count(*) FROM hosts")?,
        top_hosts: grouped(
            "SELECT host, count(*) FROM pages GROUP BY host ORDER BY 2 DESC, 1 LIMIT 10",
        )?,
        last_fetch: conn.query_row("SELECT max(fetched_at) FROM pages", [], |row| row.get(0))?,
        outputs: load_marks(conn)?,
    })
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "state    {} (format {})", self.path, self.schema_version)?;
        writeln!(
            f,
            "crawl    started {}, {} run{}, last commit {}: {}",
            self.created_at,
            self.runs,
            if self.runs == 1 { "" } else { "s" },
            self.updated_at,
            self.status
        )?;
        write!(f, "{}", self.spec)?;
        write_outcomes(f, self.pages, &self.by_status, &self.errors)?;
        writeln!(
            f,
            "queued   {} requests; {} URLs seen",
            self.queued, self.seen
        )?;
        let top = listed(self.top_hosts.iter().map(|(host, n)| format!("{host} {n}")));
        writeln!(f, "hosts    {}; most pages: {top}", self.hosts)?;
        writeln!(
            f,
            "last     fetch at {}",
            self.last_fetch.as_deref().unwrap_or("never")
        )?;
        for mark in &self.outputs {
            writeln!(f, "output   {mark}")?;
        }
        Ok(())
    }
}

/// Hosts' taken counts, for tests.
#[cfg(test)]
fn host_counts(store: &SqliteStore) -> HashMap<String, (i64, i64)> {
    let mut stmt = store
        .conn
        .prepare("SELECT host, queued, taken FROM hosts")
        .unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, (row.get(1)?, row.get(2)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[cfg(test)]
mod tests;
