//! Crawls with a state file: `kill -9` at random points, graceful stops, refusals of state
//! files that cannot be used, and whole requests kept across runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arachne::output::read_warc;
use arachne::report::EndReason;
use arachne::request::{CrawlRequest, Request};
use arachne::store::{
    Claimed, MemoryStore, Note, Opening, Outcome, OutputMark, Remaining, Resume, SeenSet, Store,
    StoreError, Want,
};
use arachne::{Out, Page, SpiderError};
use arachne_testkit::{Behavior, Response, Routes, SyntheticSite, TestServer};
use serde_json::Value;

use crate::support::{
    Crawl, Dir, HANG_GUARD, arachne, count_by_path, lines, local, records, run_guarded,
    warcio_installed, warcio_passes,
};

/// Waits until the file has more than `n` lines, or the crawl has ended.
fn wait_for_lines(crawl: &mut Crawl, path: &Path, n: usize) {
    let deadline = Instant::now() + HANG_GUARD;
    while lines(path) <= n && crawl.running() {
        assert!(Instant::now() < deadline, "the crawl made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A small pseudo-random generator, seeded from the clock and printed, so that a failing
/// run can be replayed.
struct Lcg(u64);

impl Lcg {
    fn new() -> Self {
        let seed = std::env::var("ARACHNE_KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos() as u64
            });
        eprintln!("kill points from seed {seed} (ARACHNE_KILL_SEED={seed} replays them)");
        Lcg(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn slow_site(pages: usize) -> TestServer {
    let site = SyntheticSite::new(pages, 3);
    TestServer::start(move |req| {
        site.respond(req)
            .behave(Behavior::Slow(Duration::from_millis(2)))
    })
}

#[test]
fn kill_nine_at_random_points_loses_nothing_and_writes_nothing_twice() {
    const PAGES: usize = 5000;
    let server = slow_site(PAGES);
    let dir = Dir::new("kill");
    let (db, out, warc) = (
        dir.path("crawl.db"),
        dir.path("pages.jsonl"),
        dir.path("site.warc.gz"),
    );
    let seed = server.url("/page/0");
    let args = [
        "crawl",
        &seed,
        "--state",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--warc",
        warc.to_str().unwrap(),
        "--per-host",
        "16",
        "--no-progress",
    ];
    let mut random = Lcg::new();
    let mut kills = 0;
    let mut runs = 0;
    while kills < 7 {
        runs += 1;
        assert!(runs < 40, "the crawl kept finishing before a kill");
        let mut crawl = Crawl::start(&args);
        // Somewhere in the middle of the work: after a few more records, then a random
        // wait of up to 300 ms.
        let before = lines(&out);
        wait_for_lines(&mut crawl, &out, before + 1 + random.below(50) as usize);
        std::thread::sleep(Duration::from_millis(random.below(300)));
        if !crawl.running() {
            break;
        }
        crawl.signal("KILL");
        let (code, _) = crawl.wait();
        assert_eq!(code, None, "killed by the signal");
        kills += 1;
    }
    assert!(kills >= 5, "only {kills} kills landed mid-crawl");
    // The last run finishes the crawl.
    let (code, stderr) = Crawl::start(&args).wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("resumed  after"), "{stderr}");

    let want: BTreeSet<String> = (0..PAGES).map(SyntheticSite::path).collect();
    let records = records(&out);
    let counts = count_by_path(&records);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "records written twice: {twice:?}");
    assert_eq!(
        counts.keys().cloned().collect::<BTreeSet<_>>(),
        want,
        "every page has a record"
    );

    let mut responses: BTreeMap<String, usize> = BTreeMap::new();
    for record in read_warc(&warc).unwrap() {
        if record.header("WARC-Type") == Some("response") {
            let uri: arachne::Url = record.header("WARC-Target-URI").unwrap().parse().unwrap();
            *responses.entry(uri.path().to_owned()).or_default() += 1;
        }
    }
    for path in &want {
        assert_eq!(
            responses.get(path),
            Some(&1),
            "{path}: one response in the WARC"
        );
    }
    // robots.txt too: a crawler resource is kept, or fetched and archived again, whole.
    let twice: Vec<_> = responses.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "responses archived twice: {twice:?}");
    if warcio_installed() {
        warcio_passes(&warc);
    }

    // At-least-once fetching: a page is fetched again only if a kill found it in flight.
    for path in &want {
        let hits = server.hits(path);
        assert!(
            (1..=1 + kills as u64).contains(&hits),
            "{path} fetched {hits} times with {kills} kills"
        );
    }
    let refetched = want.iter().filter(|path| server.hits(path) > 1).count();
    eprintln!("{kills} kills in {runs} runs; {refetched} pages fetched again");

    let output = arachne(&["state", "--json", db.to_str().unwrap()], &[]);
    assert!(output.status.success());
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["pages"], PAGES);
    assert_eq!(summary["queued"], 0);
    assert_eq!(summary["status"], "completed");
    // A run killed before its first commit left no trace: the state counts the others.
    let counted = summary["runs"].as_u64().unwrap();
    assert!((2..=runs as u64 + 1).contains(&counted), "{counted} runs");
}

#[test]
fn resume_after_a_graceful_stop_fetches_nothing_twice() {
    const PAGES: usize = 1500;
    let server = slow_site(PAGES);
    let dir = Dir::new("graceful");
    let (db, out) = (dir.path("crawl.db"), dir.path("pages.csv"));
    let seed = server.url("/page/0");
    let args = [
        "crawl",
        &seed,
        "--state",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "csv",
        "--per-host",
        "4",
        "--no-progress",
    ];
    let mut crawl = Crawl::start(&args);
    wait_for_lines(&mut crawl, &out, 100);
    assert!(crawl.running(), "the crawl ended before the signal");
    crawl.signal("INT");
    let (code, stderr) = crawl.wait();
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    let first = lines(&out) - 1;
    assert!(first < PAGES, "stopped early: {first} records");

    let output = arachne(&["state", db.to_str().unwrap()], &[]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains(&format!("done     {first} pages")), "{text}");
    assert!(text.contains(&format!("seeds    {seed}")), "{text}");

    // The same command again: it resumes, and ends.
    let (code, stderr) = Crawl::start(&args).wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("crawled {} pages", PAGES - first)),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("resumed  after 1 run: {first} pages done before")),
        "{stderr}"
    );
    for i in 0..PAGES {
        let path = SyntheticSite::path(i);
        assert_eq!(server.hits(&path), 1, "{path} fetched once");
    }
    assert_eq!(
        server.hits("/robots.txt"),
        1,
        "robots.txt kept in the state"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let mut rows = text.lines();
    assert!(rows.next().unwrap().starts_with("url,final_url,"));
    let urls: Vec<&str> = rows.map(|row| row.split(',').next().unwrap()).collect();
    assert_eq!(urls.len(), PAGES, "one row a page, one header");
    assert_eq!(urls.iter().collect::<BTreeSet<_>>().len(), PAGES);
    assert!(
        !text[10..].contains("url,final_url,"),
        "the header is written once"
    );
}

/// A file's length and FNV-1a hash: to tell that it was left untouched.
fn digest(path: &Path) -> (usize, u64) {
    let bytes = std::fs::read(path).unwrap();
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (bytes.len(), hash)
}

/// Borrows owned arguments.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Runs the binary to completion; its exit code and stderr.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let output = arachne(args, &[]);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn unusable_state_files_exit_2_and_are_left_untouched() {
    let server = Routes::new()
        .page("/", r#"<a href="/a">a</a>"#)
        .page("/a", "<p>a</p>")
        .serve();
    let other = Routes::new().page("/", "<p>other</p>").serve();
    let dir = Dir::new("refusals");
    let seed = server.url("/");
    let refused = |db: &Path, args: &[&str], message: &str| {
        let before = digest(db);
        let mut all = vec!["crawl", args[0], "--state", db.to_str().unwrap()];
        all.extend(&args[1..]);
        let (code, stderr) = run(&all);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
        assert_eq!(digest(db), before, "{} left untouched", db.display());
    };

    let garbage = dir.path("garbage.db");
    std::fs::write(&garbage, b"SQLite format 2\0 not really".repeat(200)).unwrap();
    refused(&garbage, &[&seed], "not a usable arachne state file");

    let db = dir.path("crawl.db");
    let out = dir.path("pages.jsonl");
    let (code, stderr) = run(&[
        "crawl",
        &seed,
        "--state",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, Some(0), "{stderr}");

    let half = dir.path("half.db");
    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    refused(&half, &[&seed], "not a usable arachne state file");

    // Another crawl's state: other seeds.
    refused(
        &db,
        &[&other.url("/")],
        "holds another crawl: the seeds differ",
    );
    refused(
        &db,
        &[&seed, "--scope", "domain"],
        "the scope differs: domain (saved: host)",
    );

    // An output cut short since: the state says more was written.
    let records = std::fs::read(&out).unwrap();
    std::fs::write(&out, &records[..records.len() / 2]).unwrap();
    refused(
        &db,
        &[&seed, "--out", out.to_str().unwrap()],
        "changed since the crawl stopped",
    );
    // --force continues it as it is.
    let (code, stderr) = run(&[
        "crawl",
        &seed,
        "--state",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--force",
        "-q",
    ]);
    assert_eq!(code, Some(0), "{stderr}");

    // A state file in use by a running crawl.
    let slow = slow_site(2000);
    let busy = dir.path("busy.db");
    let busy_out = dir.path("busy.jsonl");
    let slow_seed = slow.url("/page/0");
    let mut crawl = Crawl::start(&[
        "crawl",
        &slow_seed,
        "--state",
        busy.to_str().unwrap(),
        "--out",
        busy_out.to_str().unwrap(),
        "--per-host",
        "2",
        "--no-progress",
    ]);
    wait_for_lines(&mut crawl, &busy_out, 5);
    assert!(crawl.running());
    let (code, stderr) = run(&["crawl", &slow_seed, "--state", busy.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("in use by another running crawl"),
        "{stderr}"
    );
    assert!(
        lines(&busy_out) > 0,
        "the running crawl's output is left alone"
    );
    crawl.signal("INT");
    assert_eq!(crawl.wait().0, Some(130));
}

#[test]
fn without_seeds_the_saved_crawl_resumes() {
    let server = slow_site(300);
    let dir = Dir::new("noseeds");
    let db = dir.path("crawl.db");
    let out = dir.path("pages.jsonl");
    let (code, stderr) = run(&[
        "crawl",
        &server.url("/page/0"),
        "--scope",
        "prefix",
        "--max-pages",
        "40",
        "--state",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("page limit reached"), "{stderr}");
    assert_eq!(lines(&out), 40);
    // No seeds: the saved ones, and the saved scope; a larger page limit goes on.
    let (code, stderr) = run(&[
        "crawl",
        "--state",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-pages",
        "100",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("crawled 60 pages"), "{stderr}");
    let counts = count_by_path(&records(&out));
    assert_eq!(counts.len(), 100);
    assert!(counts.values().all(|n| *n == 1));
}

/// What the spider saw of each request: its label and data.
type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

#[test]
fn whole_requests_and_items_survive_a_stop() {
    let server = Routes::new()
        .page("/", "<p>home</p>")
        .route("/search", Response::html("<p>results</p>"))
        .page("/item/1", "<p>one</p>")
        .page("/item/2", "<p>two</p>")
        .serve();
    let dir = Dir::new("requests");
    let db = dir.path("crawl.db");
    let items = dir.path("items.jsonl");
    let seen: Seen = Arc::default();
    let base = server.url("");
    let build = |seen: Seen, stop_after: Option<u64>| {
        let base = base.clone();
        let mut builder = local()
            .seed(server.url("/"))
            .concurrency(1)
            .state(&db)
            .items_jsonl(&items)
            .spider(
                move |page: &Page<'_>, out: &mut Out| -> Result<(), SpiderError> {
                    seen.lock().unwrap().push((
                        page.url().path().to_owned(),
                        page.label().to_owned(),
                        page.data().clone(),
                    ));
                    out.item(serde_json::json!({"path": page.url().path()}));
                    if page.url().path() == "/" {
                        out.request(
                            Request::post(format!("{base}/search"))
                                .form(&[("q", "dune")])
                                .label("results")
                                .data(serde_json::json!({"query": "dune"})),
                        );
                        out.request(
                            Request::get(format!("{base}/item/1"))
                                .label("item")
                                .priority(5),
                        );
                        out.request(Request::get(format!("{base}/item/2")).label("item"));
                    }
                    Ok(())
                },
            );
        if let Some(n) = stop_after {
            builder = builder.max_pages(n);
        }
        builder.build().unwrap()
    };
    let first = run_guarded({
        let crawler = build(Arc::clone(&seen), Some(2));
        move || crawler.run_blocking().unwrap()
    });
    assert_eq!(first.pages, 2);
    let second = run_guarded({
        let crawler = build(Arc::clone(&seen), None);
        move || crawler.run_blocking().unwrap()
    });
    assert_eq!(second.pages, 2);
    assert_eq!(second.resumed.as_ref().unwrap().pages, 2);
    let seen = seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["/", "/item/1", "/search", "/item/2"],
        "priority first"
    );
    let search = seen.iter().find(|(p, _, _)| p == "/search").unwrap();
    assert_eq!(search.1, "results");
    assert_eq!(search.2, serde_json::json!({"query": "dune"}));
    assert_eq!(server.hits("/search"), 1);
    let items = records(&items);
    assert_eq!(items.len(), 4, "one item a page, each once: {items:?}");
}

/// The in-memory store with faults: claims fail from the `fail_from`-th on (a full disk,
/// say), and `queued` counts `overcount` requests too many.
struct Faulty {
    store: MemoryStore,
    claims: u32,
    fail_from: Option<u32>,
    overcount: u64,
}

impl Faulty {
    fn new(fail_from: Option<u32>, overcount: u64) -> Self {
        Self {
            store: MemoryStore::new(),
            claims: 0,
            fail_from,
            overcount,
        }
    }
}

impl Store for Faulty {
    fn open(&mut self, opening: &Opening) -> Result<Resume, StoreError> {
        self.store.open(opening)
    }
    fn seen(&self) -> Option<Arc<dyn SeenSet>> {
        self.store.seen()
    }
    fn claim(&mut self, requests: Vec<CrawlRequest>) -> Result<Claimed, StoreError> {
        self.claims += 1;
        if self.fail_from.is_some_and(|from| self.claims >= from) {
            return Err(StoreError::Failed("disk full".into()));
        }
        self.store.claim(requests)
    }
    fn claim_hop(&mut self, hop: &CrawlRequest) -> Result<bool, StoreError> {
        self.store.claim_hop(hop)
    }
    fn take(&mut self, want: &Want) -> Result<Vec<CrawlRequest>, StoreError> {
        self.store.take(want)
    }
    fn complete(&mut self, outcomes: Vec<Outcome>) -> Result<(), StoreError> {
        self.store.complete(outcomes)
    }
    fn release(&mut self, requests: Vec<CrawlRequest>) -> Result<(), StoreError> {
        self.store.release(requests)
    }
    fn note(&mut self, notes: Vec<Note>) -> Result<(), StoreError> {
        self.store.note(notes)
    }
    fn commit(&mut self, outputs: &[OutputMark]) -> Result<(), StoreError> {
        self.store.commit(outputs)
    }
    fn close(&mut self, ended: &str, outputs: &[OutputMark]) -> Result<Remaining, StoreError> {
        self.store.close(ended, outputs)
    }
    fn queued(&self) -> u64 {
        self.store.queued() + self.overcount
    }
}

#[test]
fn a_store_that_fails_stops_the_crawl_with_its_error() {
    let site = SyntheticSite::new(200, 3);
    let server = site.serve();
    let crawler = local()
        .seed(server.url("/page/0"))
        .concurrency(1)
        .store(Faulty::new(Some(3), 0))
        .build()
        .unwrap();
    let report = run_guarded(move || crawler.run_blocking().unwrap());
    let EndReason::StoreFailed { error } = &report.ended else {
        panic!("ended: {}", report.ended);
    };
    assert!(error.contains("disk full"), "{error}");
    assert!(report.pages < 200, "stopped: {} pages", report.pages);
}

#[test]
fn a_store_that_counts_requests_it_does_not_give_cannot_hang_the_crawl() {
    let server = SyntheticSite::new(30, 2).serve();
    let crawler = local()
        .seed(server.url("/page/0"))
        .store(Faulty::new(None, 7))
        .build()
        .unwrap();
    let report = run_guarded(move || crawler.run_blocking().unwrap());
    assert_eq!(report.pages, 30, "every page, then the end");
    assert_eq!(report.ended, EndReason::Completed);
}

#[test]
fn outputs_follow_the_state_and_are_never_overwritten_by_mistake() {
    let server = slow_site(200);
    let dir = Dir::new("outputs");
    let seed = server.url("/page/0");
    let first = dir.path("first");
    std::fs::create_dir_all(&first).unwrap();
    let (code, stderr) = run(&[
        "crawl",
        &seed,
        "--max-pages",
        "50",
        "--state",
        first.join("crawl.db").to_str().unwrap(),
        "--out",
        first.join("pages.jsonl").to_str().unwrap(),
        "--warc",
        first.join("site.warc.gz").to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, Some(0), "{stderr}");

    // The crawl's folder moved: outputs inside it are named relative to the state file.
    let moved = dir.path("moved");
    std::fs::rename(&first, &moved).unwrap();
    let args = |max: &str| -> Vec<String> {
        [
            "crawl",
            &seed,
            "--max-pages",
            max,
            "--state",
            moved.join("crawl.db").to_str().unwrap(),
            "--out",
            moved.join("pages.jsonl").to_str().unwrap(),
            "--warc",
            moved.join("site.warc.gz").to_str().unwrap(),
            "-q",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let (code, stderr) = run(&strs(&args("80")));
    assert_eq!(code, Some(0), "{stderr}");
    let counts = count_by_path(&records(&moved.join("pages.jsonl")));
    assert_eq!(counts.len(), 80, "continued, not started over");
    assert!(counts.values().all(|n| *n == 1));

    // A refused run leaves every output alone: a file the crawl did not write is kept.
    let items = moved.join("items.jsonl");
    std::fs::write(&items, b"{\"mine\":1}\n").unwrap();
    let before = digest(&items);
    let pages_before = digest(&moved.join("pages.jsonl"));
    let mut refused = args("90");
    refused.extend(["--extract", "t=title", "--items", items.to_str().unwrap()].map(str::to_owned));
    let (code, stderr) = run(&strs(&refused));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("does not account for"), "{stderr}");
    assert_eq!(
        digest(&items),
        before,
        "a file the crawl did not write is kept"
    );
    assert_eq!(digest(&moved.join("pages.jsonl")), pages_before);

    // A WARC that is gone: a refusal; --force starts it anew.
    std::fs::remove_file(moved.join("site.warc.gz")).unwrap();
    let (code, stderr) = run(&strs(&args("90")));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is gone"), "{stderr}");
    let mut forced = args("90");
    forced.push("--force".into());
    let (code, stderr) = run(&strs(&forced));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        count_by_path(&records(&moved.join("pages.jsonl"))).len(),
        90
    );

    // A first run that fails before crawling leaves no state file behind.
    let fresh = dir.path("fresh.db");
    let (code, stderr) = run(&[
        "crawl",
        &seed,
        "--state",
        fresh.to_str().unwrap(),
        "--out",
        dir.path("no/such/dir/pages.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        !fresh.exists(),
        "no state file left by a crawl that never ran"
    );

    // Usage: --force without --state; a state file that does not exist.
    let (code, stderr) = run(&["crawl", &seed, "--force"]);
    assert_eq!(code, Some(2), "{stderr}");
    let output = arachne(&["state", dir.path("missing.db").to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no such file"));
}
