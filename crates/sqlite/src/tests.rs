use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arachne_core::store::{
    CrawlSpec, HostState, Note, Opening, Outcome, OutputMark, RobotsFetch, SavedRobots, Store,
    StoreError, Want,
};
use arachne_core::{CrawlRequest, ErrorKind, PageRecord, RecordError, Request};

use super::*;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "arachne-sqlite-{name}-{}-{}",
            std::process::id(),
            fastrand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_suffix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn spec() -> CrawlSpec {
    CrawlSpec {
        seeds: vec!["http://a.test/".into()],
        scope: "host".into(),
        ..CrawlSpec::default()
    }
}

fn link(url: &str, depth: u32) -> CrawlRequest {
    CrawlRequest::link(
        url.parse().unwrap(),
        depth,
        "http://a.test/".parse::<Url>().unwrap(),
    )
}

fn opened(path: &Path, budget: Option<u64>) -> (SqliteStore, Resume) {
    let mut store = SqliteStore::open(path).unwrap();
    let seed = CrawlRequest::seed("http://a.test/".parse().unwrap());
    let resume = store
        .open(&Opening::new(spec(), vec![seed.fingerprint()]).host_budget(budget))
        .unwrap();
    (store, resume)
}

fn record(request: &CrawlRequest, status: u16) -> Arc<PageRecord> {
    Arc::new(PageRecord {
        url: request.url.clone(),
        final_url: request.url.clone(),
        status: Some(status),
        depth: request.depth,
        parent: request.parent.as_deref().cloned(),
        content_type: Some("text/html".into()),
        bytes: 10,
        truncated: false,
        links: 2,
        new_links: 1,
        redirects: Vec::new(),
        attempts: 1,
        elapsed_ms: 5,
        fetched_at: "2026-11-30T00:00:00.000Z".into(),
        method: request.method().as_str().to_owned(),
        error: None,
    })
}

fn urls(requests: &[CrawlRequest]) -> Vec<&str> {
    requests.iter().map(|r| r.url.as_str()).collect()
}

#[test]
fn batches_claim_take_and_complete() {
    let dir = Dir::new("batches");
    let (mut store, resume) = opened(&dir.file("crawl.db"), None);
    assert!(!resume.resumed);
    let batch = vec![
        link("http://a.test/1", 1),
        link("http://a.test/2", 1),
        link("http://b.test/1", 1),
        link("http://a.test/1", 1),
    ];
    assert_eq!(store.claim(batch).unwrap().new, 3);
    assert_eq!(
        store.claim(vec![link("http://a.test/2", 1)]).unwrap().new,
        0
    );
    assert_eq!(store.queued(), 3);

    let taken = store.take(&Want::new(10, 1)).unwrap();
    assert_eq!(
        urls(&taken),
        ["http://a.test/1", "http://b.test/1"],
        "one per host"
    );
    assert_eq!(store.queued(), 1);
    let skipped = store
        .take(&Want::new(10, 5).skip(["a.test".to_owned()]))
        .unwrap();
    assert!(skipped.is_empty());
    let outcomes: Vec<Outcome> = taken
        .iter()
        .map(|r| Outcome::new(r, record(r, 200)))
        .collect();
    store.complete(outcomes).unwrap();
    store.commit(&[]).unwrap();
    let pages: i64 = store
        .conn
        .query_row("SELECT count(*) FROM pages", [], |row| row.get(0))
        .unwrap();
    assert_eq!(pages, 2);
    let frontier: i64 = store
        .conn
        .query_row("SELECT count(*) FROM frontier", [], |row| row.get(0))
        .unwrap();
    assert_eq!(frontier, 1, "done requests leave the queue");
    let remaining = store.close("completed", &[]).unwrap();
    assert_eq!(remaining.queued, 1);
}

#[test]
fn priority_then_depth_then_age_within_a_host() {
    let dir = Dir::new("order");
    let (mut store, _) = opened(&dir.file("crawl.db"), None);
    let urgent = Request::get("http://a.test/urgent")
        .priority(5)
        .resolve(None, 3, None)
        .unwrap();
    store
        .claim(vec![
            link("http://a.test/deep", 2),
            link("http://a.test/one", 1),
            urgent,
            link("http://a.test/two", 1),
        ])
        .unwrap();
    let taken = store.take(&Want::new(10, 10)).unwrap();
    assert_eq!(
        urls(&taken),
        [
            "http://a.test/urgent",
            "http://a.test/one",
            "http://a.test/two",
            "http://a.test/deep"
        ]
    );
}

#[test]
fn whole_requests_survive_a_restart() {
    let dir = Dir::new("intent");
    let path = dir.file("crawl.db");
    let post = Request::post("http://a.test/search")
        .form(&[("q", "dune")])
        .header("X-Token", "t")
        .label("results")
        .data(serde_json::json!({"page": 2}))
        .priority(-3)
        .resolve(None, 1, Some(Arc::new("http://a.test/".parse().unwrap())))
        .unwrap();
    {
        let (mut store, _) = opened(&path, None);
        store.claim(vec![post.clone()]).unwrap();
        store.commit(&[]).unwrap();
    }
    let (mut store, resume) = opened(&path, None);
    assert!(resume.resumed);
    assert_eq!(resume.runs, 1);
    let taken = store.take(&Want::new(10, 10)).unwrap();
    assert_eq!(taken, vec![post]);
}

#[test]
fn what_was_not_committed_is_undone_and_taken_requests_come_back() {
    let dir = Dir::new("crash");
    let path = dir.file("crawl.db");
    let marks = [OutputMark {
        path: "/out/pages.jsonl".into(),
        files: 1,
        length: 120,
    }];
    {
        let (mut store, _) = opened(&path, None);
        store
            .claim(vec![link("http://a.test/1", 1), link("http://a.test/2", 1)])
            .unwrap();
        let taken = store.take(&Want::new(1, 1)).unwrap();
        store
            .complete(vec![Outcome::new(&taken[0], record(&taken[0], 200))])
            .unwrap();
        store.take(&Want::new(1, 1)).unwrap();
        store.commit(&marks).unwrap();
        // After the commit: lost at the "crash".
        store.claim(vec![link("http://a.test/3", 1)]).unwrap();
        store
            .commit(&[])
            .map(|_| ())
            .unwrap_or_else(|e| panic!("{e}"));
        store.claim(vec![link("http://a.test/4", 1)]).unwrap();
        // Dropped without `close`, with a transaction open: as a kill would leave it.
    }
    let (mut store, resume) = opened(&path, None);
    assert_eq!(resume.pages_done, 1);
    assert_eq!(resume.queued, 2, "a.test/2 (taken, not done) and a.test/3");
    assert_eq!(resume.seen, 3, "a.test/4 was never committed");
    assert_eq!(resume.outputs, marks);
    assert!(
        !store
            .seen()
            .unwrap()
            .contains(link("http://a.test/4", 1).fingerprint())
    );
    let taken = store.take(&Want::new(10, 10)).unwrap();
    assert_eq!(urls(&taken), ["http://a.test/2", "http://a.test/3"]);
    assert_eq!(
        store.claim(vec![link("http://a.test/4", 1)]).unwrap().new,
        1
    );
}

#[test]
fn host_budget_holds_across_runs() {
    let dir = Dir::new("budget");
    let path = dir.file("crawl.db");
    {
        let (mut store, _) = opened(&path, Some(3));
        let batch = (0..5)
            .map(|i| link(&format!("http://a.test/{i}"), 1))
            .collect();
        store.claim(batch).unwrap();
        let taken = store.take(&Want::new(2, 10)).unwrap();
        let outcomes = taken
            .iter()
            .map(|r| Outcome::new(r, record(r, 200)))
            .collect();
        store.complete(outcomes).unwrap();
        store.close("stopped", &[]).unwrap();
    }
    let (mut store, resume) = opened(&path, Some(3));
    assert_eq!(resume.pages_done, 2);
    assert_eq!(store.queued(), 3);
    assert_eq!(store.take(&Want::new(10, 10)).unwrap().len(), 1, "one left");
    assert_eq!(store.queued(), 0);
    assert_eq!(host_counts(&store)["a.test"], (2, 3));
    let remaining = store.close("completed", &[]).unwrap();
    assert_eq!(remaining.over_budget, 2);
}

#[test]
fn facts_for_a_resume_are_kept() {
    let dir = Dir::new("facts");
    let path = dir.file("crawl.db");
    let fetched = SystemTime::now() - Duration::from_secs(60);
    let pause = SystemTime::now() + Duration::from_secs(600);
    let robots = SavedRobots::new(
        fetched,
        RobotsFetch::Body("User-agent: *\nDisallow: /x".into()),
    );
    let mut a = HostState::new("a.test");
    a.robots = Some(robots);
    a.paused_until = Some(pause);
    let mut b = HostState::new("b.test:8080");
    b.robots = Some(SavedRobots::new(
        fetched,
        RobotsFetch::Unavailable(RecordError {
            kind: ErrorKind::Connect,
            message: "refused".into(),
        }),
    ));
    let seed: Url = "http://a.test/".parse().unwrap();
    let landing: Url = "http://a.test/home/".parse().unwrap();
    {
        let (mut store, _) = opened(&path, None);
        store
            .note(vec![
                Note::Host(a.clone()),
                Note::Host(b.clone()),
                Note::SitemapRead("http://a.test/sitemap.xml".parse().unwrap()),
                Note::SeedLanded {
                    seed: seed.clone(),
                    landing: landing.clone(),
                },
            ])
            .unwrap();
        let seed_request = CrawlRequest::seed(seed.clone());
        store.claim(vec![seed_request.clone()]).unwrap();
        let taken = store.take(&Want::new(1, 1)).unwrap();
        store
            .complete(vec![Outcome::new(&taken[0], record(&seed_request, 200))])
            .unwrap();
        store.close("completed", &[]).unwrap();
    }
    let (_, resume) = opened(&path, None);
    let round = |t: SystemTime| humantime::format_rfc3339_millis(t).to_string();
    let mut hosts = resume.hosts.clone();
    hosts.sort_by(|x, y| x.host.cmp(&y.host));
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0].host, "a.test");
    assert_eq!(
        hosts[0].robots.as_ref().unwrap().outcome,
        RobotsFetch::Body("User-agent: *\nDisallow: /x".into())
    );
    assert_eq!(
        round(hosts[0].robots.as_ref().unwrap().fetched_at),
        round(fetched)
    );
    assert_eq!(round(hosts[0].paused_until.unwrap()), round(pause));
    assert_eq!(
        hosts[1].robots.as_ref().unwrap().outcome,
        b.robots.unwrap().outcome
    );
    assert_eq!(
        resume.sitemaps_read,
        vec!["http://a.test/sitemap.xml".parse::<Url>().unwrap()]
    );
    assert_eq!(resume.landings, vec![(seed, landing)]);
    assert_eq!(resume.seeds_done, vec![true]);
}

#[test]
fn a_second_crawl_on_the_same_file_is_refused() {
    let dir = Dir::new("locked");
    let path = dir.file("crawl.db");
    let (_first, _) = opened(&path, None);
    let before = std::fs::read(&path).unwrap();
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Locked { .. }), "{error}");
    assert!(error.is_usage());
    assert!(std::fs::read(&path).unwrap() == before, "left untouched");
    // The summary reads it all the same.
    let summary = SqliteStore::summary(&path).unwrap();
    assert_eq!(summary.runs, 1);
    assert_eq!(summary.status, "running");
}

#[test]
fn another_crawl_is_refused_unless_forced() {
    let dir = Dir::new("other");
    let path = dir.file("crawl.db");
    {
        let (mut store, _) = opened(&path, None);
        store.close("completed", &[]).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let other = CrawlSpec {
        seeds: vec!["http://b.test/".into()],
        scope: "domain".into(),
        ..CrawlSpec::default()
    };
    let mut store = SqliteStore::open(&path).unwrap();
    let error = store
        .open(&Opening::new(other.clone(), Vec::new()))
        .unwrap_err();
    let StoreError::OtherCrawl { differences, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(differences.len(), 2, "{differences:?}");
    assert!(error.to_string().contains("new http://b.test/"), "{error}");
    assert!(
        error.to_string().contains("missing http://a.test/"),
        "{error}"
    );
    drop(store);
    assert!(std::fs::read(&path).unwrap() == before, "left untouched");
    // Opened for the same crawl and dropped before any change (the crawl was refused
    // for another reason, an output file say): untouched too.
    let (store, resume) = opened(&path, None);
    assert!(resume.resumed);
    drop(store);
    assert!(
        std::fs::read(&path).unwrap() == before,
        "left untouched by a resume that made no change"
    );

    let mut store = SqliteStore::open(&path).unwrap();
    let resume = store
        .open(&Opening::new(other, Vec::new()).force(true))
        .unwrap();
    assert_eq!(resume.forced.len(), 2);
}

#[test]
fn damaged_foreign_newer_and_empty_files_are_refused_untouched() {
    let dir = Dir::new("damaged");
    let check = |name: &str, bytes: &[u8], expect: fn(&StoreError) -> bool| {
        let path = dir.file(name);
        std::fs::write(&path, bytes).unwrap();
        let error = SqliteStore::open(&path).unwrap_err();
        assert!(expect(&error), "{name}: {error}");
        assert!(error.is_usage(), "{name}");
        assert!(
            std::fs::read(&path).unwrap() == bytes,
            "{name} left untouched"
        );
    };
    check("empty.db", b"", |e| matches!(e, StoreError::Damaged { .. }));
    check("text.db", &[b'x'; 5000], |e| {
        matches!(e, StoreError::Damaged { .. })
    });

    // A real state file, cut in half.
    let path = dir.file("full.db");
    {
        let (mut store, _) = opened(&path, None);
        let batch = (0..3000)
            .map(|i| link(&format!("http://a.test/page/{i}"), 1))
            .collect();
        store.claim(batch).unwrap();
        store.close("stopped", &[]).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    check("half.db", &bytes[..bytes.len() / 2], |e| {
        matches!(e, StoreError::Damaged { .. })
    });

    // An SQLite database that arachne did not write.
    let foreign = dir.file("foreign.db");
    {
        let conn = Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let bytes = std::fs::read(&foreign).unwrap();
    check(
        "foreign2.db",
        &bytes,
        |e| matches!(e, StoreError::Damaged { why, .. } if why.contains("not one arachne wrote")),
    );

    // A newer arachne's file.
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    check("newer.db", &bytes, |e| {
        matches!(e, StoreError::Newer { found: 99, .. })
    });
}

#[test]
fn summary_counts_outcomes() {
    let dir = Dir::new("summary");
    let path = dir.file("crawl.db");
    let (mut store, _) = opened(&path, None);
    store
        .claim(vec![link("http://a.test/1", 1), link("http://a.test/2", 1)])
        .unwrap();
    let taken = store.take(&Want::new(1, 1)).unwrap();
    let mut failed = (*record(&taken[0], 200)).clone();
    failed.status = None;
    failed.error = Some(RecordError {
        kind: ErrorKind::Timeout,
        message: "slow".into(),
    });
    store
        .complete(vec![Outcome::new(&taken[0], Arc::new(failed))])
        .unwrap();
    store.close("stopped: interrupted", &[]).unwrap();
    drop(store);
    let summary = SqliteStore::summary(&path).unwrap();
    assert_eq!(summary.pages, 1);
    assert_eq!(summary.errors["timeout"], 1);
    assert_eq!(summary.by_status["none"], 1);
    assert_eq!(summary.queued, 1);
    assert_eq!(summary.status, "stopped: interrupted");
    let text = summary.to_string();
    assert!(text.contains("seeds    http://a.test/"), "{text}");
    assert!(text.contains("errors   timeout: 1"), "{text}");
}

#[test]
fn a_refusal_after_a_crash_leaves_the_file_and_its_log_as_they_were() {
    let dir = Dir::new("crash-refusal");
    let path = dir.file("crawl.db");
    {
        let (mut store, _) = opened(&path, None);
        store.claim(vec![link("http://a.test/1", 1)]).unwrap();
        store.commit(&[]).unwrap();
        // Dropped without `close`: the last commits are in the write-ahead log.
    }
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    let read = |p: &std::ffi::OsStr| std::fs::read(p).unwrap_or_default();
    let (db_before, wal_before) = (read(path.as_os_str()), read(&wal));
    assert!(!wal_before.is_empty(), "the log holds the commits");
    let mut store = SqliteStore::open(&path).unwrap();
    let other = CrawlSpec {
        seeds: vec!["http://b.test/".into()],
        ..spec()
    };
    assert!(matches!(
        store.open(&Opening::new(other, Vec::new())),
        Err(StoreError::OtherCrawl { .. })
    ));
    drop(store);
    assert!(read(path.as_os_str()) == db_before, "the file is as it was");
    assert!(read(&wal) == wal_before, "and so is its log");
    // The crawl itself resumes from both.
    let (_, resume) = opened(&path, None);
    assert_eq!(resume.queued, 1);
}
