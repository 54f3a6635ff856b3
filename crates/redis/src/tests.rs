//! The store against a `redis-server` of each test's own.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arachne_core::store::{
    CrawlSpec, HostState, Note, Opening, Outcome, RobotsFetch, SavedRobots, Store, StoreError, Want,
};
use arachne_core::{CrawlRequest, PageRecord, RecordError, host_key};
use arachne_testkit::{RedisServer, redis_installed};

use super::*;

fn server() -> RedisServer {
    assert!(
        redis_installed(),
        "the Redis tests need redis-server: apt-get install -y redis-server"
    );
    RedisServer::start()
}

fn spec(options: &[(&str, &str)]) -> CrawlSpec {
    CrawlSpec {
        seeds: vec!["http://a.test/".into()],
        scope: "any".into(),
        options: options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..CrawlSpec::default()
    }
}

fn join(server: &RedisServer, worker: &str, options: &[(&str, &str)]) -> RedisStore {
    let mut store = RedisStore::new(&server.url(), "t")
        .unwrap()
        .worker(worker)
        .unwrap()
        .lease(Duration::from_millis(300));
    store
        .open(&Opening::new(spec(options), Vec::new()))
        .unwrap();
    store
}

fn req(url: &str) -> CrawlRequest {
    CrawlRequest::link(url.parse().unwrap(), 1, "http://a.test/".parse().unwrap())
}

fn done(request: &CrawlRequest) -> Outcome {
    let record = PageRecord {
        url: request.url.clone(),
        final_url: request.url.clone(),
        status: Some(200),
        depth: request.depth,
        parent: request.parent.clone(),
        content_type: Some("text/html".into()),
        bytes: 10,
        truncated: false,
        links: 0,
        new_links: 0,
        redirects: Vec::new(),
        attempts: 1,
        elapsed_ms: 5,
        fetched_at: "2026-11-30T00:00:00.000Z".into(),
        method: "GET".into(),
        error: None,
    };
    Outcome::new(request, Arc::new(record))
}

fn hosts(taken: &[CrawlRequest]) -> BTreeSet<String> {
    taken
        .iter()
        .map(|r| host_key(&r.url).into_owned())
        .collect()
}

#[test]
fn a_host_is_leased_to_one_worker_at_a_time() {
    let server = server();
    let mut a = join(&server, "a", &[]);
    let mut b = join(&server, "b", &[]);
    let batch: Vec<CrawlRequest> = ["h1", "h2", "h3"]
        .iter()
        .flat_map(|h| (0..3).map(move |i| req(&format!("http://{h}.test/{i}"))))
        .collect();
    assert_eq!(a.claim(batch.clone()).unwrap().new, 9);
    assert_eq!(b.claim(batch).unwrap().new, 0, "claimed once, by anyone");
    let first = a.take(&Want::new(2, 2)).unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(hosts(&first).len(), 1, "{first:?}");
    let theirs = b.take(&Want::new(100, 100)).unwrap();
    assert_eq!(theirs.len(), 6, "the two hosts nobody holds");
    assert!(hosts(&first).is_disjoint(&hosts(&theirs)));
    // The rest of a's host stays a's.
    assert!(b.take(&Want::new(100, 100)).unwrap().is_empty());
    assert_eq!(a.take(&Want::new(100, 100)).unwrap().len(), 1);
    // Nothing is queued, but b's requests are still out: a waits for them.
    assert_eq!(a.queued(), 6);
    let outcomes: Vec<Outcome> = theirs.iter().map(done).collect();
    b.complete(outcomes).unwrap();
    b.commit(&[]).unwrap();
    a.take(&Want::new(1, 1)).unwrap();
    assert_eq!(a.queued(), 0, "b finished its hosts");
}

#[test]
fn a_dead_workers_requests_and_redirects_go_back() {
    let server = server();
    let mut a = join(&server, "a", &[]);
    let mut b = join(&server, "b", &[]);
    let requests: Vec<CrawlRequest> = (0..4).map(|i| req(&format!("http://h.test/{i}"))).collect();
    a.claim(requests).unwrap();
    let taken = a.take(&Want::new(10, 10)).unwrap();
    assert_eq!(taken.len(), 4);
    let target = req("http://h.test/moved").fingerprint();
    assert!(a.claim_hop(target).unwrap());
    assert!(
        !a.claim_hop(target).unwrap(),
        "a second page redirecting there does not follow it again"
    );
    a.complete(vec![done(&taken[0])]).unwrap();
    a.commit(&[]).unwrap();
    // `a` stops renewing; `b` asks for work, as idle workers do, until a's lease ran out.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let again = loop {
        let again = b.take(&Want::new(10, 10)).unwrap();
        if !again.is_empty() {
            break again;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a was never taken for dead"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let urls: BTreeSet<&str> = again.iter().map(|r| r.url.as_str()).collect();
    let expected: BTreeSet<&str> = taken[1..].iter().map(|r| r.url.as_str()).collect();
    assert_eq!(urls, expected, "only what had no outcome comes back");
    assert!(
        b.claim_hop(target).unwrap(),
        "the unfinished page's redirect can be followed again"
    );
    // The dead worker cannot commit any more: its records after its last commit never count.
    a.complete(vec![done(&taken[1])]).unwrap();
    let error = a.commit(&[]).unwrap_err();
    assert!(error.to_string().contains("taken for dead"), "{error}");
    let summary = RedisStore::summary(&server.url(), "t").unwrap();
    assert_eq!((summary.pages, summary.reaped, summary.requeued), (1, 1, 3));
    assert_eq!(summary.duplicates, 0);
}

#[test]
fn the_page_budget_is_global_and_the_crawl_completes() {
    let server = server();
    let mut a = join(&server, "a", &[("max-pages", "3")]);
    let mut b = join(&server, "b", &[("max-pages", "3")]);
    let requests: Vec<CrawlRequest> = (0..5).map(|i| req(&format!("http://h{i}.test/"))).collect();
    a.claim(requests).unwrap();
    let mine = a.take(&Want::new(2, 1)).unwrap();
    let theirs = b.take(&Want::new(10, 1)).unwrap();
    assert_eq!((mine.len(), theirs.len()), (2, 1), "three in all");
    assert_eq!(b.queued(), 2, "a's two are still out");
    a.complete(mine.iter().map(done).collect()).unwrap();
    let left = a.close("completed", &[]).unwrap();
    assert_eq!((left.queued, left.over_budget), (0, 2));
    b.complete(theirs.iter().map(done).collect()).unwrap();
    b.commit(&[]).unwrap();
    assert_eq!(b.queued(), 0);
    b.close("completed", &[]).unwrap();
    let summary = RedisStore::summary(&server.url(), "t").unwrap();
    assert_eq!(summary.status, "completed");
    assert_eq!(summary.pages, 3);
    assert_eq!(summary.by_status.get("200"), Some(&3));
    assert_eq!(summary.workers.len(), 2);
}

#[test]
fn host_state_goes_with_the_host() {
    let server = server();
    let mut a = join(&server, "a", &[]);
    a.claim(vec![req("http://h.test/1"), req("http://h.test/2")])
        .unwrap();
    let first = a.take(&Want::new(1, 1)).unwrap();
    assert!(a.taken_hosts().is_empty(), "nothing kept of a new host");
    let mut state = HostState::new("h.test");
    state.robots = Some(SavedRobots::new(
        // Kept to the millisecond.
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_000_000_123),
        RobotsFetch::Body("User-agent: *\nDisallow: /private\n".into()),
    ));
    a.note(vec![Note::Host(state.clone())]).unwrap();
    a.complete(first.iter().map(done).collect()).unwrap();
    a.commit(&[]).unwrap();
    // The host was handed back with nothing of a's left on it; b takes it with its robots.txt.
    let mut b = join(&server, "b", &[]);
    assert_eq!(b.take(&Want::new(5, 5)).unwrap().len(), 1);
    let kept = b.taken_hosts();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].robots, state.robots);
    let mut unavailable = HostState::new("u.test");
    unavailable.robots = Some(SavedRobots::new(
        SystemTime::UNIX_EPOCH,
        RobotsFetch::Unavailable(RecordError {
            kind: arachne_core::ErrorKind::Connect,
            message: "refused".into(),
        }),
    ));
    assert_eq!(
        host_from_json("u.test", &host_json(&unavailable)),
        Some(unavailable)
    );
}

#[test]
fn other_settings_and_a_running_name_are_refused() {
    let server = server();
    let _a = join(&server, "a", &[("delay", "0s"), ("concurrency", "8")]);
    let mut b = RedisStore::new(&server.url(), "t")
        .unwrap()
        .worker("b")
        .unwrap();
    let error = b
        .open(&Opening::new(
            spec(&[("delay", "1s"), ("concurrency", "64")]),
            Vec::new(),
        ))
        .unwrap_err();
    let StoreError::Settings { differences, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(differences, &["--delay is 1s here, 0s in the crawl"]);
    let mut twin = RedisStore::new(&server.url(), "t")
        .unwrap()
        .worker("a")
        .unwrap();
    let error = twin
        .open(&Opening::new(spec(&[("delay", "0s")]), Vec::new()))
        .unwrap_err();
    assert!(matches!(error, StoreError::Refused { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("a worker of that name is running"),
        "{error}"
    );
    assert!(error.is_usage());
}

#[test]
fn an_unreachable_server_is_a_usage_error() {
    let mut server = server();
    let url = server.url();
    server.kill();
    let mut store = RedisStore::new(&url, "t").unwrap();
    let error = store
        .open(&Opening::new(spec(&[]), Vec::new()))
        .unwrap_err();
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error}");
    assert!(error.to_string().contains("cannot reach"), "{error}");
}

#[test]
fn the_seen_set_is_kept_in_compact_integer_sets() {
    let server = server();
    let mut a = join(&server, "a", &[]);
    let requests: Vec<CrawlRequest> = (0..20_000)
        .map(|i| req(&format!("http://h{}.test/{i}", i % 7)))
        .collect();
    for chunk in requests.chunks(1_000) {
        a.claim(chunk.to_vec()).unwrap();
    }
    let summary = RedisStore::summary(&server.url(), "t").unwrap();
    assert_eq!(summary.seen, 20_000);
    let (bucket, _) = seen_slot(requests[0].fingerprint());
    let encoding = server
        .command(&["OBJECT", "ENCODING", &format!("arachne:{{t}}:s:{bucket}")])
        .unwrap();
    assert_eq!(encoding, "intset");
}

#[test]
fn the_server_restarting_mid_crawl_loses_nothing() {
    let mut server = server();
    let mut a = join(&server, "a", &[]);
    let mut b = join(&server, "b", &[]);
    a.claim(vec![req("http://h.test/1"), req("http://h.test/2")])
        .unwrap();
    let taken = a.take(&Want::new(1, 1)).unwrap();
    // Away for longer than the 300 ms lease.
    server.kill();
    std::thread::sleep(Duration::from_millis(500));
    server.restart();
    // The first call after the outage does not take the others for dead.
    assert!(b.take(&Want::new(5, 5)).unwrap().is_empty(), "a's host");
    // The next calls wait for the server, then go on as if nothing happened.
    a.complete(taken.iter().map(done).collect()).unwrap();
    a.commit(&[]).unwrap();
    let rest = a.take(&Want::new(5, 5)).unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].url, taken[0].url);
    let summary = RedisStore::summary(&server.url(), "t").unwrap();
    assert_eq!((summary.pages, summary.leased, summary.queued), (1, 1, 0));
}

#[test]
fn a_worker_that_cannot_renew_its_lease_stops_sending() {
    let mut server = server();
    let a = join(&server, "a", &[]);
    let sharing = a.sharing().expect("a shared store");
    assert!(sharing.may_send(), "just renewed");
    server.kill();
    // Two thirds of the 300 ms lease without a renewal: no request may go.
    std::thread::sleep(Duration::from_millis(250));
    assert!(!sharing.may_send());
    let error = a.outage(Duration::from_millis(200)).idle().unwrap_err();
    assert!(error.to_string().contains("did not answer"), "{error}");
}
