//! Crawls shared by several `arachne` processes on Redis: every page once, politeness held
//! at the server, a worker killed with SIGKILL, Redis killed and restarted, settings that
//! differ, and a Redis that does not answer. Each test starts its own `redis-server`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use arachne::store::{CrawlSummary, RedisStore};
use arachne_testkit::{
    Behavior, RedisCluster, RedisServer, Response, SyntheticSite, TestServer, redis_installed,
};
use serde_json::Value;

use crate::support::{Crawl, Dir, HANG_GUARD, lines, records, run_command};

fn redis() -> RedisServer {
    assert!(
        redis_installed(),
        "these tests need redis-server: apt-get install -y redis-server"
    );
    RedisServer::start()
}

/// `hosts` sites of `pages` pages each, each on a port of its own (a host of its own for
/// the crawl), answering after `latency`.
fn sites(hosts: usize, pages: usize, latency: Duration) -> Vec<TestServer> {
    (0..hosts)
        .map(|_| {
            let site = SyntheticSite::new(pages, 3);
            TestServer::start(move |req| site.respond(req).behave(Behavior::Slow(latency)))
        })
        .collect()
}

/// The arguments of a worker: `crawl` with seeds, or `work` without.
fn worker_args(redis: &str, name: &str, dir: &Dir, seeds: &[String]) -> Vec<String> {
    let mut args: Vec<String> = if seeds.is_empty() {
        vec!["work".into()]
    } else {
        let mut args = vec!["crawl".into()];
        args.extend(seeds.iter().cloned());
        args
    };
    let out = dir.path("pages.jsonl");
    args.extend(
        [
            "--redis",
            redis,
            "--crawl-id",
            "site",
            "--worker",
            name,
            "--out",
            out.to_str().unwrap(),
            "--lease",
            "2s",
            "--concurrency",
            "8",
        ]
        .map(str::to_owned),
    );
    if !seeds.is_empty() {
        args.extend(["--per-host", "2", "--delay", "0"].map(str::to_owned));
    }
    args
}

fn start(args: &[String]) -> Crawl {
    Crawl::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Waits until the first worker has created the crawl on the server.
fn wait_for_crawl(redis: &str) {
    let deadline = Instant::now() + HANG_GUARD;
    while RedisStore::summary(redis, "site").is_err() {
        assert!(Instant::now() < deadline, "the crawl was never created");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts the first worker with `first` (its arguments), waits until the crawl exists,
/// then starts the others, which join it.
fn start_workers(redis: &str, dir: &Dir, first: &[String], n: usize) -> Vec<Crawl> {
    let mut workers = vec![start(first)];
    wait_for_crawl(redis);
    for i in 2..=n {
        workers.push(start(&worker_args(redis, &format!("w{i}"), dir, &[])));
    }
    workers
}

fn summary(redis: &RedisServer) -> CrawlSummary {
    RedisStore::summary(&redis.url(), "site").unwrap()
}

/// The crawl's records: each worker's file up to the length its last commit gave it.
fn merged(summary: &CrawlSummary) -> Vec<Value> {
    let mut all = Vec::new();
    for worker in &summary.workers {
        for mark in &worker.outputs {
            let path = PathBuf::from(&mark.path);
            let bytes = std::fs::read(&path).unwrap();
            let length = usize::try_from(mark.length).unwrap();
            assert!(
                bytes.len() >= length,
                "{} is shorter than its mark",
                mark.path
            );
            let cut = path.with_extension("committed");
            std::fs::write(&cut, &bytes[..length]).unwrap();
            all.extend(records(&cut));
        }
    }
    all
}

fn count_by_url(records: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for record in records {
        *counts
            .entry(record["url"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

/// Every page of every site, by URL.
fn site_urls(servers: &[TestServer], pages: usize) -> Vec<String> {
    servers
        .iter()
        .flat_map(|server| (0..pages).map(move |i| server.url(&SyntheticSite::path(i))))
        .collect()
}

/// Checked at the servers: every page of every site fetched exactly once, and never more
/// than 2 requests to one host at once.
fn assert_fetched_once(servers: &[TestServer], pages: usize) {
    for server in servers {
        for i in 0..pages {
            let path = SyntheticSite::path(i);
            assert_eq!(server.hits(&path), 1, "{path} fetched once");
        }
        assert!(
            server.max_in_flight() <= 2,
            "{} requests at once to one host",
            server.max_in_flight()
        );
    }
}

/// The crawl's records, merged: exactly one for every page of the sites. Returns the records
/// by URL.
fn one_record_each(
    summary: &CrawlSummary,
    servers: &[TestServer],
    pages: usize,
) -> BTreeMap<String, usize> {
    let counts = count_by_url(&merged(summary));
    for url in site_urls(servers, pages) {
        assert_eq!(counts.get(&url), Some(&1), "{url}: one record");
    }
    counts
}

#[test]
fn three_workers_fetch_every_page_once_and_keep_politeness() {
    const HOSTS: usize = 3;
    const PAGES: usize = 1_000;
    let redis = redis();
    let dir = Dir::new("shared-three");
    let servers = sites(HOSTS, PAGES, Duration::from_millis(1));
    let seeds: Vec<String> = servers.iter().map(|s| s.url("/page/0")).collect();
    let workers = start_workers(
        &redis.url(),
        &dir,
        &worker_args(&redis.url(), "w1", &dir, &seeds),
        3,
    );
    for worker in workers {
        let (code, stderr) = worker.wait();
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stderr.contains("arachne state --redis"), "{stderr}");
    }
    assert_fetched_once(&servers, PAGES);
    for server in &servers {
        assert_eq!(server.hits("/robots.txt"), 1, "robots.txt once per host");
    }
    let summary = summary(&redis);
    assert_eq!(summary.status, "completed");
    assert_eq!(summary.pages, (HOSTS * PAGES) as u64);
    assert_eq!(
        summary.by_status.get("200"),
        Some(&((HOSTS * PAGES) as u64))
    );
    assert_eq!(
        (summary.queued, summary.leased, summary.duplicates),
        (0, 0, 0)
    );
    assert_eq!(summary.workers.len(), 3);
    assert!(summary.workers.iter().all(|w| w.state == "left"));
    assert!(
        summary.workers.iter().filter(|w| w.pages > 0).count() >= 2,
        "the work was shared: {:?}",
        summary.workers
    );
    let counts = one_record_each(&summary, &servers, PAGES);
    assert_eq!(counts.len(), HOSTS * PAGES);
}

#[test]
fn a_worker_killed_mid_crawl_loses_nothing() {
    let redis = redis();
    a_killed_worker_loses_nothing(&redis.url(), "shared-kill", &[]);
}

#[test]
fn a_worker_killed_in_a_partitioned_crawl_on_a_cluster_loses_nothing() {
    assert!(redis_installed(), "these tests need redis-server");
    let cluster = RedisCluster::start(3);
    a_killed_worker_loses_nothing(
        &cluster.url(),
        "shared-kill-cluster",
        &["--partitions", "6"],
    );
}

/// Three workers on 6 hosts of 400 pages; the second is killed with SIGKILL once it wrote
/// 20 records. The others finish the crawl, and every page has one record.
fn a_killed_worker_loses_nothing(url: &str, name: &str, extra: &[&str]) {
    // Two hosts for each worker.
    const HOSTS: usize = 6;
    const PAGES: usize = 400;
    let dir = Dir::new(name);
    let servers = sites(HOSTS, PAGES, Duration::from_millis(10));
    let seeds: Vec<String> = servers.iter().map(|s| s.url("/page/0")).collect();
    let mut first = worker_args(url, "w1", &dir, &seeds);
    first.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let mut workers = start_workers(url, &dir, &first, 3);
    // w2 dies once it has written some records.
    let victim = dir.path("pages.w2.jsonl");
    let deadline = Instant::now() + HANG_GUARD;
    while lines(&victim) < 20 {
        if !workers[1].running() {
            let (code, stderr) = workers.remove(1).wait();
            panic!("w2 ended ({code:?}) before it could be killed: {stderr}");
        }
        assert!(Instant::now() < deadline, "w2 made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    workers[1].signal("KILL");
    let killed = workers.remove(1);
    let (code, _) = killed.wait();
    assert_eq!(code, None, "killed by the signal");
    for worker in workers {
        let (code, stderr) = worker.wait();
        assert_eq!(code, Some(0), "{stderr}");
    }
    let summary = RedisStore::summary(url, "site").unwrap();
    assert_eq!(summary.status, "completed");
    assert_eq!(summary.pages, (HOSTS * PAGES) as u64);
    assert_eq!(summary.reaped, 1);
    let w2 = summary.workers.iter().find(|w| w.name == "w2").unwrap();
    assert_eq!(w2.state, "lost");
    // At-least-once fetching; only what w2 held went back and was fetched again.
    let mut twice = 0;
    for server in &servers {
        for i in 0..PAGES {
            let hits = server.hits(&SyntheticSite::path(i));
            assert!((1..=2).contains(&hits), "fetched {hits} times");
            twice += usize::from(hits == 2);
        }
        assert!(
            server.max_in_flight() <= 2,
            "one host, one worker at a time"
        );
    }
    assert!(
        twice as u64 <= summary.requeued,
        "{twice} pages fetched twice, {} requeued from w2",
        summary.requeued
    );
    // Exactly-once records: w2's file counts up to its last commit only.
    one_record_each(&summary, &servers, PAGES);
    eprintln!(
        "w2 killed after {} pages; {} requeued, {twice} fetched twice",
        w2.pages, summary.requeued
    );
}

#[test]
fn redis_killed_and_restarted_mid_crawl_loses_nothing() {
    const HOSTS: usize = 2;
    const PAGES: usize = 600;
    let mut redis = redis();
    let dir = Dir::new("shared-restart");
    let servers = sites(HOSTS, PAGES, Duration::from_millis(2));
    let seeds: Vec<String> = servers.iter().map(|s| s.url("/page/0")).collect();
    let mut workers = start_workers(
        &redis.url(),
        &dir,
        &worker_args(&redis.url(), "w1", &dir, &seeds),
        2,
    );
    let out = dir.path("pages.w1.jsonl");
    let deadline = Instant::now() + HANG_GUARD;
    while lines(&out) < 100 {
        assert!(workers[0].running(), "w1 ended before Redis was killed");
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    redis.restart();
    for worker in workers.drain(..) {
        let (code, stderr) = worker.wait();
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stderr.contains("Redis went away"), "{stderr}");
    }
    let summary = summary(&redis);
    assert_eq!(summary.status, "completed");
    assert_eq!(summary.pages, (HOSTS * PAGES) as u64);
    assert_eq!((summary.reaped, summary.duplicates), (0, 0));
    one_record_each(&summary, &servers, PAGES);
    // Politeness held through the outage.
    assert_fetched_once(&servers, PAGES);
}

#[test]
fn three_workers_share_a_crawl_spread_over_a_redis_cluster() {
    const HOSTS: usize = 12;
    const PAGES: usize = 150;
    assert!(redis_installed(), "these tests need redis-server");
    let cluster = RedisCluster::start(3);
    let url = cluster.url();
    let dir = Dir::new("shared-cluster");
    let servers = sites(HOSTS, PAGES, Duration::from_millis(1));
    let seeds: Vec<String> = servers.iter().map(|s| s.url("/page/0")).collect();
    let mut first = worker_args(&url, "w1", &dir, &seeds);
    first.extend(["--partitions", "12"].map(str::to_owned));
    let workers = start_workers(&url, &dir, &first, 3);
    for worker in workers {
        let (code, stderr) = worker.wait();
        assert_eq!(code, Some(0), "{stderr}");
    }
    assert_fetched_once(&servers, PAGES);
    for server in &servers {
        assert_eq!(server.hits("/robots.txt"), 1, "robots.txt once per host");
    }
    let summary = RedisStore::summary(&url, "site").unwrap();
    assert_eq!(summary.partitions, 12);
    assert_eq!(summary.status, "completed");
    assert_eq!(summary.pages, (HOSTS * PAGES) as u64);
    assert_eq!(
        (summary.queued, summary.leased, summary.duplicates),
        (0, 0, 0)
    );
    let counts = one_record_each(&summary, &servers, PAGES);
    assert_eq!(counts.len(), HOSTS * PAGES);
    // Every node serves some of the crawl's partitions (their tags' slots follow from the
    // crawl id), and the sites' seen sets are in several partitions (each site's partition
    // follows from its port here: all 12 in one is a chance of 1 in 10^12).
    let mut with_urls = std::collections::BTreeSet::new();
    for node in cluster.nodes() {
        let keys = node.command(&["KEYS", "arachne:{site*"]).unwrap();
        assert!(
            !keys.is_empty(),
            "node {} holds none of the crawl",
            node.port()
        );
        for key in node
            .command(&["KEYS", "arachne:{site*:s:*"])
            .unwrap()
            .lines()
        {
            with_urls.insert(key.split('}').next().unwrap().to_owned());
        }
    }
    assert!(
        with_urls.len() >= 2,
        "the sites went into one partition: {with_urls:?}"
    );
}

#[test]
fn the_page_budget_is_global() {
    let redis = redis();
    let dir = Dir::new("shared-budget");
    let servers = sites(2, 300, Duration::from_millis(1));
    let seeds: Vec<String> = servers.iter().map(|s| s.url("/page/0")).collect();
    let mut args = worker_args(&redis.url(), "w1", &dir, &seeds);
    args.extend(["--max-pages", "120"].map(str::to_owned));
    for worker in start_workers(&redis.url(), &dir, &args, 2) {
        let (code, stderr) = worker.wait();
        assert_eq!(code, Some(0), "{stderr}");
        // Each worker says why it ended: the crawl's budget, spent by both.
        assert!(stderr.contains("page limit reached"), "{stderr}");
        assert!(!stderr.contains("over the per-host budget"), "{stderr}");
    }
    let total: u64 = servers
        .iter()
        .map(|s| s.total_requests() - s.hits("/robots.txt"))
        .sum();
    assert_eq!(total, 120, "120 pages in all, over both workers");
    let summary = summary(&redis);
    assert_eq!(summary.pages, 120);
    assert_eq!(merged(&summary).len(), 120);
}

fn arachne_output(args: &[&str]) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_arachne"));
    command.args(args);
    let output = run_command(command);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn joining_with_other_settings_or_a_running_name_is_refused() {
    let redis = redis();
    let dir = Dir::new("shared-refuse");
    let server = &sites(1, 2_000, Duration::from_millis(20))[0];
    let seed = server.url("/page/0");
    let first = start(&worker_args(&redis.url(), "w1", &dir, &[seed]));
    wait_for_crawl(&redis.url());
    let url = redis.url();
    let out = dir.path("other.jsonl");
    let out = out.to_str().unwrap();
    let (code, stderr) = arachne_output(&[
        "work",
        "--redis",
        &url,
        "--crawl-id",
        "site",
        "--worker",
        "w2",
        "--delay",
        "2s",
        "--out",
        out,
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--delay is 2s here, 0s in the crawl"),
        "{stderr}"
    );
    let (code, stderr) = arachne_output(&[
        "work",
        "--redis",
        &url,
        "--crawl-id",
        "site",
        "--worker",
        "w1",
        "--out",
        out,
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("a worker of that name is running"),
        "{stderr}"
    );
    let (code, stderr) =
        arachne_output(&["work", "--redis", &url, "--crawl-id", "other", "--out", out]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("there is no such crawl"), "{stderr}");
    // A worker whose pages would be recorded nowhere is refused before it joins.
    let (code, stderr) = arachne_output(&["work", "--redis", &url, "--crawl-id", "site"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("give --out FILE"), "{stderr}");
    // Stopped once it crawls (its signal handler is in place by then).
    let deadline = Instant::now() + HANG_GUARD;
    while server.total_requests() < 5 {
        assert!(Instant::now() < deadline, "w1 made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    first.signal("TERM");
    let (code, _) = first.wait();
    assert_eq!(code, Some(130), "stopped by the signal");
    let summary = summary(&redis);
    assert_eq!(summary.leased, 0, "a worker that stops gives its work back");
    assert!(summary.queued > 0);
    assert_eq!(summary.status, "running", "the crawl is not over");
}

#[test]
fn a_redis_that_does_not_answer_is_a_usage_error() {
    // A server that closes every connection at once.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("redis://{addr}/");
    let seed = format!("http://{addr}/");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let dir = Dir::new("shared-unreachable");
    let out = dir.path("pages.jsonl");
    let (code, stderr) = arachne_output(&[
        "crawl",
        &seed,
        "--redis",
        &url,
        "--crawl-id",
        "site",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot reach"), "{stderr}");
    let (code, stderr) = arachne_output(&["state", "--redis", &url, "--crawl-id", "site"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot reach"), "{stderr}");
}

#[test]
fn workers_that_join_before_the_seeds_land_follow_them() {
    const HOSTS: usize = 2;
    const PAGES: usize = 300;
    let redis = redis();
    let dir = Dir::new("shared-landing");
    // Each seed redirects, slowly, to where its part of the scope (a prefix) really is.
    let servers: Vec<TestServer> = (0..HOSTS)
        .map(|_| {
            let site = SyntheticSite::new(PAGES, 3);
            TestServer::start(move |req| {
                if req.path() == "/start/" {
                    Response::redirect(301, "/page/0")
                        .behave(Behavior::Slow(Duration::from_millis(1500)))
                } else {
                    site.respond(req)
                        .behave(Behavior::Slow(Duration::from_millis(2)))
                }
            })
        })
        .collect();
    let seeds: Vec<String> = servers.iter().map(|s| s.url("/start/")).collect();
    let mut first = worker_args(&redis.url(), "w1", &dir, &seeds);
    first.extend(["--scope", "prefix"].map(str::to_owned));
    for worker in start_workers(&redis.url(), &dir, &first, 2) {
        let (code, stderr) = worker.wait();
        assert_eq!(code, Some(0), "{stderr}");
        assert!(!stderr.contains("seeds ended without a record"), "{stderr}");
    }
    let summary = summary(&redis);
    assert_eq!(summary.pages, (HOSTS * PAGES) as u64, "{summary}");
    for server in &servers {
        for i in 0..PAGES {
            assert_eq!(server.hits(&SyntheticSite::path(i)), 1);
        }
    }
    let w2 = summary.workers.iter().find(|w| w.name == "w2").unwrap();
    assert!(w2.pages > 0, "w2 worked on the landed scope: {summary}");
}
