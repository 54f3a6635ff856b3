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
    CrawlRequest::link(
        url.parse().unwrap(),
        1,
        "http://a.test/".parse::<url::Url>().unwrap(),
    )
}

fn done(request: &CrawlRequest) -> Outcome {
    let record = PageRecord {
        url: request.url.clone(),
        final_url: request.url.clone(),
        status: Some(200),
        depth: request.depth,
        parent: request.parent.as_deref().cloned(),
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
    let target = req("http://h.test/moved");
    assert!(a.claim_hop(&target).unwrap());
    assert!(
        !a.claim_hop(&target).unwrap(),
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
        b.claim_hop(&target).unwrap(),
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
    assert_eq!(
        (left.queued, left.over_budget, left.pages_spent),
        (2, 0, true)
    );
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

fn join_split(server: &str, worker: &str, partitions: u32) -> RedisStore {
    join_split_leased(server, worker, partitions, Duration::from_secs(5))
}

fn join_split_leased(server: &str, worker: &str, partitions: u32, lease: Duration) -> RedisStore {
    let mut store = RedisStore::new(server, "t")
        .unwrap()
        .worker(worker)
        .unwrap()
        .lease(lease)
        .partitions(partitions);
    store.open(&Opening::new(spec(&[]), Vec::new())).unwrap();
    store
}

/// The hash tags of the crawl's keys on a server.
fn tags(server: &RedisServer) -> BTreeSet<String> {
    server
        .command(&["KEYS", "arachne:*"])
        .unwrap()
        .lines()
        .filter_map(|key| Some(key.split_once('{')?.1.split_once('}')?.0.to_owned()))
        .collect()
}

/// Takes until the store gives nothing and says nothing more will come, committing what it
/// took as done; returns what it took.
fn drain(store: &mut RedisStore) -> Vec<CrawlRequest> {
    let mut all = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let taken = store.take(&Want::new(50, 50)).unwrap();
        if taken.is_empty() && store.queued() == 0 {
            return all;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the store never ran dry"
        );
        store.complete(taken.iter().map(done).collect()).unwrap();
        store.commit(&[]).unwrap();
        all.extend(taken);
    }
}

#[test]
fn partitions_spread_sites_and_workers_move_between_them() {
    let server = server();
    let mut a = join_split(&server.url(), "a", 4);
    // A site's hosts share a partition; sites spread over the four.
    let sites = [
        "one", "two", "three", "four", "five", "six", "seven", "eight",
    ];
    let requests: Vec<CrawlRequest> = sites
        .iter()
        .flat_map(|site| {
            (0..5).flat_map(move |i| {
                [
                    req(&format!("http://{site}.test/{i}")),
                    req(&format!("http://www.{site}.test/{i}")),
                ]
            })
        })
        .collect();
    assert_eq!(a.claim(requests.clone()).unwrap().new, 80);
    let found = tags(&server);
    assert!(
        found.len() >= 3,
        "the sites went into several partitions: {found:?}"
    );
    assert!(
        found.iter().all(|tag| tag == "t" || tag.starts_with("t/")),
        "{found:?}"
    );
    for site in sites {
        let parts: BTreeSet<u32> = [format!("{site}.test"), format!("www.{site}.test")]
            .iter()
            .map(|host| partition_of(host, 4))
            .collect();
        assert_eq!(parts.len(), 1, "{site}'s hosts share a partition");
    }
    // A second worker joins with the crawl's partitions; given another number, one is refused.
    let mut b = join_split(&server.url(), "b", 4);
    let mut other = RedisStore::new(&server.url(), "t")
        .unwrap()
        .worker("c")
        .unwrap()
        .partitions(2);
    let error = other
        .open(&Opening::new(spec(&[]), Vec::new()))
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("--partitions is 2 here, 4 in the crawl"),
        "{error}"
    );
    // Both drain the crawl, moving from partition to partition: every request once.
    let mut took = drain(&mut a);
    took.extend(drain(&mut b));
    let urls: BTreeSet<String> = took.iter().map(|r| r.url.to_string()).collect();
    assert_eq!(took.len(), 80, "each request taken once");
    assert_eq!(urls.len(), 80);
    // Over, as `a` saw it; a late claim (a sitemap read, say) makes it go on, whatever the
    // partition.
    assert_eq!(a.queued(), 0);
    assert_eq!(a.claim(vec![req("http://late.test/")]).unwrap().new, 1);
    assert!(a.queued() > 0, "the crawl goes on");
    assert_eq!(drain(&mut a).len(), 1);
    a.close("completed", &[]).unwrap();
    b.close("completed", &[]).unwrap();
    let summary = RedisStore::summary(&server.url(), "t").unwrap();
    assert_eq!(summary.partitions, 4);
    assert_eq!(summary.status, "completed");
    assert_eq!((summary.pages, summary.seen, summary.queued), (81, 81, 0));
    assert_eq!(summary.workers.iter().map(|w| w.pages).sum::<u64>(), 81);
    assert!(
        summary.workers.iter().all(|w| w.state == "left"),
        "{:?}",
        summary.workers
    );
}

#[test]
fn a_redirect_into_another_partition_is_queued_there() {
    let server = server();
    let mut a = join_split(&server.url(), "a", 8);
    let here = req("http://one.test/");
    a.claim(vec![here.clone()]).unwrap();
    // The worker starts in the first partition, and moves to the one with work.
    let mut taken = a.take(&Want::new(5, 5)).unwrap();
    if taken.is_empty() {
        taken = a.take(&Want::new(5, 5)).unwrap();
    }
    assert_eq!(taken.len(), 1);
    let home = partition_of("one.test", 8);
    let same = req("http://www.one.test/moved");
    assert!(
        a.claim_hop(&same).unwrap(),
        "followed within the site's partition"
    );
    let away = (0..100)
        .map(|i| req(&format!("http://site{i}.test/")))
        .find(|r| partition_of(&host_key(&r.url), 8) != home)
        .unwrap();
    assert!(
        !a.claim_hop(&away).unwrap(),
        "not followed: crawled on its own"
    );
    let summary = RedisStore::summary(&server.url(), "t").unwrap();
    assert_eq!(
        (summary.queued, summary.seen),
        (1, 3),
        "the target waits in its queue"
    );
}

#[test]
fn a_dead_worker_of_a_partitioned_crawl_gives_its_work_back() {
    let server = server();
    let lease = Duration::from_millis(300);
    let mut a = join_split_leased(&server.url(), "a", 4, lease);
    let requests: Vec<CrawlRequest> = (0..6)
        .map(|site| req(&format!("http://site{site}.test/")))
        .collect();
    a.claim(requests).unwrap();
    // `a` takes what one partition holds, commits one page, and dies.
    let mut taken = Vec::new();
    while taken.is_empty() {
        taken = a.take(&Want::new(10, 10)).unwrap();
    }
    a.complete(vec![done(&taken[0])]).unwrap();
    a.commit(&[]).unwrap();
    drop(a);
    let mut b = join_split_leased(&server.url(), "b", 4, lease);
    let again = drain(&mut b);
    let urls: BTreeSet<String> = again.iter().map(|r| r.url.to_string()).collect();
    assert_eq!(urls.len(), 5, "all but the page a committed: {urls:?}");
    assert!(!urls.contains(taken[0].url.as_str()));
    b.close("completed", &[]).unwrap();
    let summary = RedisStore::summary(&server.url(), "t").unwrap();
    assert_eq!((summary.status.as_str(), summary.pages), ("completed", 6));
    assert_eq!(summary.reaped, 1, "a was taken for dead once");
    assert_eq!(summary.requeued, taken.len() as u64 - 1);
    let a = summary.workers.iter().find(|w| w.name == "a").unwrap();
    assert_eq!((a.state.as_str(), a.pages), ("lost", 1));
}

#[test]
fn a_worker_that_died_away_from_home_gets_its_work_back_when_it_restarts() {
    let server = server();
    let lease = Duration::from_millis(300);
    let mut a = join_split_leased(&server.url(), "a", 4, lease);
    // Sites of its home partition, and one site of another: once `a` dies there, nothing
    // is ready anywhere, and only its dead run's registration holds the last request.
    let site = |i: usize| format!("site{i}.test");
    let mut requests: Vec<CrawlRequest> = (0..40)
        .filter(|&i| partition_of(&site(i), 4) == 0)
        .map(|i| req(&format!("http://{}/", site(i))))
        .collect();
    let away = (0..40).find(|&i| partition_of(&site(i), 4) != 0).unwrap();
    requests.push(req(&format!("http://{}/", site(away))));
    let total = requests.len() as u64;
    a.claim(requests).unwrap();
    // `a` works until it is in a partition other than its home, then dies there.
    let mut taken = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while taken.is_empty() || a.part == 0 {
        a.complete(taken.iter().map(done).collect()).unwrap();
        a.commit(&[]).unwrap();
        taken = a.take(&Want::new(1, 1)).unwrap();
        assert!(std::time::Instant::now() < deadline, "a never left home");
    }
    drop(a);
    // Started again alone, under its name once its lease ran out: nothing is stuck.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut again = loop {
        let mut store = RedisStore::new(&server.url(), "t")
            .unwrap()
            .worker("a")
            .unwrap()
            .lease(lease);
        match store.open(&Opening::new(spec(&[]), Vec::new())) {
            Ok(_) => break store,
            Err(StoreError::Refused { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(error) => panic!("{error}"),
        }
    };
    let rest = drain(&mut again);
    assert!(
        rest.iter().any(|r| r.url == taken[0].url),
        "what the dead run held came back"
    );
    again.close("completed", &[]).unwrap();
    let summary = RedisStore::summary(&server.url(), "t").unwrap();
    assert_eq!(
        (summary.status.as_str(), summary.pages, summary.leased),
        ("completed", total, 0)
    );
}

#[test]
fn a_page_budget_needs_one_partition() {
    let server = server();
    let mut store = RedisStore::new(&server.url(), "t").unwrap().partitions(4);
    let error = store
        .open(&Opening::new(spec(&[("max-pages", "10")]), Vec::new()))
        .unwrap_err();
    assert!(matches!(error, StoreError::Refused { .. }), "{error}");
    assert!(error.to_string().contains("--max-pages"), "{error}");
}

#[test]
fn a_redis_cluster_spreads_the_partitions_over_its_shards() {
    assert!(redis_installed(), "the Redis tests need redis-server");
    let cluster = arachne_testkit::RedisCluster::start(3);
    let mut a = join_split(&cluster.url(), "a", 12);
    let mut b = join_split(&cluster.url(), "b", 12);
    let requests: Vec<CrawlRequest> = (0..24)
        .flat_map(|site| (0..4).map(move |i| req(&format!("http://site{site}.test/{i}"))))
        .collect();
    assert_eq!(a.claim(requests).unwrap().new, 96);
    // Each node holds the keys of the partitions whose slots it serves: all three hold some.
    for node in cluster.nodes() {
        let found = tags(node);
        assert!(
            !found.is_empty(),
            "node {} holds none of the crawl",
            node.port()
        );
    }
    let mut took = drain(&mut a);
    took.extend(drain(&mut b));
    assert_eq!(took.len(), 96);
    a.close("completed", &[]).unwrap();
    b.close("completed", &[]).unwrap();
    let summary = RedisStore::summary(&cluster.url(), "t").unwrap();
    assert_eq!((summary.status.as_str(), summary.pages), ("completed", 96));
    assert!(summary.memory_used > 0);
}
