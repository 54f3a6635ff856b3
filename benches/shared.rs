//! The shared-crawl benchmark: a crawl's state on Redis.
//!
//! 1. **The seen set.** Claims N URLs (1 million by default) through a [`RedisStore`], in
//!    batches of 50 as pages' links would come, on 1,000 hosts. Prints the claim rate
//!    (URLs/s, one round trip per batch) and the server's memory per URL (`INFO memory`):
//!    with the queues, and for the seen set alone once the queues are dropped (target: at
//!    most 32 bytes).
//! 2. **Scaling.** Crawls a site of 16 hosts (300 pages each, 20 ms of latency per page)
//!    with 1, 2 and 4 `arachne` worker processes, each with 8 requests in flight, 2 per
//!    host. Prints pages/s for each, and the round trips to Redis per page.
//! 3. **A Redis Cluster.** The same crawls, split into 3 partitions, on a Cluster of 3
//!    nodes (all on this machine): what partitions cost in round trips per page.
//!
//! ```text
//! cargo bench --bench shared
//! cargo bench --bench shared -- --urls 200000 --workers 1,2
//! ```
//!
//! Needs `redis-server` (`apt-get install -y redis-server`): the benchmark starts its own,
//! with its append-only file synced every second.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arachne::request::CrawlRequest;
use arachne::store::{CrawlSpec, Opening, RedisStore, Store};
use arachne_testkit::{Behavior, RedisCluster, RedisServer, SyntheticSite, TestServer};

const HOSTS: usize = 16;
const PAGES_PER_HOST: usize = 300;
const LATENCY: Duration = Duration::from_millis(20);

fn main() {
    let mut urls: u64 = 1_000_000;
    let mut workers: Vec<usize> = vec![1, 2, 4];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--urls", Some(v)) if v.parse::<u64>().is_ok() => urls = v.parse().unwrap(),
            ("--workers", Some(v)) => {
                workers = v.split(',').filter_map(|n| n.parse().ok()).collect();
            }
            _ if arg == "--bench" => {}
            _ => {
                eprintln!("shared bench: --urls N, --workers 1,2,4");
                std::process::exit(2);
            }
        }
    }
    // Synced every second, as production servers often run.
    let redis = RedisServer::start_with_fsync("everysec");
    seen_set(&redis, urls);
    println!();
    println!(
        "scaling: {HOSTS} hosts x {PAGES_PER_HOST} pages, {} ms per page, 8 in flight per worker, 2 per host",
        LATENCY.as_millis()
    );
    println!("workers  pages/s  seconds  round trips/page");
    for (run, n) in workers.iter().enumerate() {
        scaling(&redis.url(), *n, &format!("scale{run}"), None);
    }
    drop(redis);
    println!();
    println!("the same on a Redis Cluster of 3 nodes, the crawl in 3 partitions");
    println!("workers  pages/s  seconds  round trips/page");
    let cluster = RedisCluster::start(3);
    for (run, n) in workers.iter().enumerate() {
        scaling(&cluster.url(), *n, &format!("cluster{run}"), Some(3));
    }
}

fn used_memory(redis: &RedisServer) -> u64 {
    redis.info("used_memory").unwrap().parse().unwrap()
}

fn seen_set(redis: &RedisServer, urls: u64) {
    let spec = CrawlSpec {
        seeds: vec!["http://bench.test/".into()],
        scope: "any".into(),
        ..CrawlSpec::default()
    };
    let mut store = RedisStore::new(&redis.url(), "seen")
        .unwrap()
        .worker("bench")
        .unwrap();
    store.open(&Opening::new(spec, Vec::new())).unwrap();
    let parent: arachne::Url = "http://bench.test/".parse().unwrap();
    let before = used_memory(redis);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(50);
    let mut batches = 0u64;
    for i in 0..urls {
        let url = format!(
            "http://host{}.bench.test/section/{}/article-{i}.html",
            i % 1000,
            i % 997
        );
        batch.push(CrawlRequest::link(url.parse().unwrap(), 3, parent.clone()));
        if batch.len() == 50 || i + 1 == urls {
            store.claim(std::mem::take(&mut batch)).unwrap();
            batches += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let with_queues = used_memory(redis) - before;
    // The queues go; what is left is the seen set (and the crawl's few other keys).
    for host in 0..1000 {
        redis
            .command(&["DEL", &format!("arachne:{{seen}}:q:host{host}.bench.test")])
            .unwrap();
    }
    redis.command(&["DEL", "arachne:{seen}:ready"]).unwrap();
    let seen = used_memory(redis) - before;
    println!("seen set: {urls} URLs claimed in {batches} calls (batches of 50)");
    println!(
        "  {:.0} URLs/s, {:.2} s; Redis memory per URL: {:.1} B with the queues, {:.1} B for the seen set alone",
        urls as f64 / elapsed,
        elapsed,
        with_queues as f64 / urls as f64,
        seen as f64 / urls as f64
    );
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the workers write their pages.
fn out_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("arachne-shared-bench-{}", std::process::id()))
}

fn worker(
    redis: &str,
    crawl: &str,
    name: &str,
    seeds: &[String],
    partitions: Option<u32>,
) -> Worker {
    std::fs::create_dir_all(out_dir()).expect("a temporary directory");
    let out = out_dir().join(format!("{crawl}.jsonl"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_arachne"));
    if seeds.is_empty() {
        command.arg("work");
    } else {
        command.arg("crawl").args(seeds);
        command.args(["--per-host", "2", "--delay", "0", "--ignore-robots"]);
        if let Some(partitions) = partitions {
            command.args(["--partitions", &partitions.to_string()]);
        }
    }
    command
        .args(["--redis", redis, "--crawl-id", crawl, "--worker", name])
        .args(["--concurrency", "8", "-q", "--out"])
        .arg(&out)
        .env("ARACHNE_DELAY", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Worker(command.spawn().expect("arachne starts"))
}

fn scaling(redis: &str, workers: usize, crawl: &str, partitions: Option<u32>) {
    let servers: Vec<TestServer> = (0..HOSTS)
        .map(|_| {
            let site = SyntheticSite::new(PAGES_PER_HOST, 3);
            TestServer::start(move |req| site.respond(req).behave(Behavior::Slow(LATENCY)))
        })
        .collect();
    let seeds: Vec<String> = servers.iter().map(|s| s.url("/page/0")).collect();
    let started = Instant::now();
    let mut children = vec![worker(redis, crawl, "w1", &seeds, partitions)];
    while RedisStore::summary(redis, crawl).is_err() {
        if let Some(status) = children[0].0.try_wait().unwrap() {
            panic!("the first worker ended before the crawl was created: {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for i in 2..=workers {
        children.push(worker(redis, crawl, &format!("w{i}"), &[], None));
    }
    for child in &mut children {
        let status = child.0.wait().unwrap();
        assert!(status.success(), "a worker failed: {status}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(out_dir());
    let summary = RedisStore::summary(redis, crawl).unwrap();
    assert_eq!(summary.pages, (HOSTS * PAGES_PER_HOST) as u64);
    let trips: u64 = summary.workers.iter().filter_map(|w| w.round_trips).sum();
    println!(
        "{workers:>7}  {:>7.0}  {elapsed:>7.2}  {:>16.2}",
        summary.pages as f64 / elapsed,
        trips as f64 / summary.pages as f64
    );
}
