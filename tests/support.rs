use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;

use arachne::output::{PageRecord, RecordWriter};
use arachne::{CrawlReport, Crawler, CrawlerBuilder};

/// How long a crawl in a test may take before the test fails as hung. Far above what any
/// test crawl needs: this guards against hangs, it does not measure speed.
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// A builder for crawling the tests' own local servers: no politeness delay, eight
/// requests per host, and short retry backoffs. Politeness itself is tested with explicit
/// settings.
pub fn local() -> CrawlerBuilder {
    Crawler::builder()
        .delay(Duration::ZERO)
        .per_host(8)
        .retry_backoff(Duration::from_millis(20))
}

/// Collects records in memory.
struct Collect(Arc<Mutex<Vec<PageRecord>>>);

impl RecordWriter for Collect {
    fn write_record(&mut self, record: &PageRecord) -> io::Result<()> {
        self.0.lock().unwrap().push(record.clone());
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs a crawl to the end and returns its report and records.
pub fn crawl(builder: CrawlerBuilder) -> (CrawlReport, Vec<PageRecord>) {
    let records = Arc::new(Mutex::new(Vec::new()));
    let crawler = builder
        .output(Collect(Arc::clone(&records)))
        .build()
        .expect("valid crawl settings");
    let report = run_guarded(move || crawler.run_blocking().expect("crawl completes"));
    let records = std::mem::take(&mut *records.lock().unwrap());
    assert_eq!(
        report.pages,
        records.len() as u64,
        "one record per fetched URL"
    );
    (report, records)
}

/// Runs `f` on its own thread and fails the test if it does not return within the guard.
pub fn run_guarded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(HANG_GUARD) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the crawl hung for {HANG_GUARD:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the crawl panicked"),
    }
}

/// Runs a program to the end and returns its output; kills it and fails the test if it
/// runs past the hang guard.
pub fn run_command(mut command: std::process::Command) -> std::process::Output {
    use std::process::Stdio;
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program starts");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(());
        child.wait_with_output()
    });
    rx.recv().unwrap();
    let deadline = std::time::Instant::now() + HANG_GUARD;
    while !waiter.is_finished() {
        if std::time::Instant::now() > deadline {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("the program hung for {HANG_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    waiter.join().unwrap().expect("the program's output")
}

/// Runs the `arachne` binary with `args`, and the environment of a test: no `ARACHNE_*`
/// knobs but no politeness delay and eight requests per host (the tests' servers are
/// local), then `env` on top.
pub fn arachne(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_arachne"));
    command.args(args);
    for name in [
        "ARACHNE_CONCURRENCY",
        "ARACHNE_FETCH_THREADS",
        "ARACHNE_PARSE_THREADS",
    ] {
        command.env_remove(name);
    }
    command
        .env("ARACHNE_DELAY", "0")
        .env("ARACHNE_PER_HOST", "8");
    command.envs(env.iter().copied());
    run_command(command)
}

/// The paths (with queries) of the records' URLs.
pub fn paths(records: &[PageRecord]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| match r.url.query() {
            Some(q) => format!("{}?{q}", r.url.path()),
            None => r.url.path().to_owned(),
        })
        .collect()
}

/// The record for a path.
pub fn record<'a>(records: &'a [PageRecord], path: &str) -> &'a PageRecord {
    records
        .iter()
        .find(|r| r.url.path() == path)
        .unwrap_or_else(|| panic!("no record for {path}"))
}

/// A port on 127.0.0.1 that refuses connections for as long as this lives: a socket is
/// bound to it but never listens, so connections are refused, and no other program can
/// take the port meanwhile.
pub struct RefusingPort {
    _socket: tokio::net::TcpSocket,
    /// The port.
    pub port: u16,
}

impl RefusingPort {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let port = socket.local_addr().unwrap().port();
        Self {
            _socket: socket,
            port,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// A set of strings.
pub fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Whether warcio (`pip install warcio`) is installed to check WARC files. CI installs it,
/// and there a missing warcio fails the test; elsewhere its checks are skipped, with a
/// notice.
pub fn warcio_installed() -> bool {
    if std::process::Command::new("warcio")
        .arg("--help")
        .output()
        .is_ok()
    {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "warcio is not installed (pip install warcio)"
    );
    eprintln!("warcio not installed: skipping its checks (pip install warcio)");
    false
}

/// `warcio check -v` passes on the file.
pub fn warcio_passes(path: &std::path::Path) {
    let mut check = std::process::Command::new("warcio");
    check.args(["check", "-v"]).arg(path);
    let output = run_command(check);
    assert!(
        output.status.success(),
        "warcio check {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stdout)
    );
}

/// A folder of a test's own, removed at the end.
pub struct Dir(PathBuf);

impl Dir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("arachne-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process that is killed if the test fails before it ends.
pub struct Crawl(Option<Child>);

impl Crawl {
    pub fn start(args: &[&str]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_arachne"))
            .args(args)
            .env("ARACHNE_DELAY", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the program starts");
        Crawl(Some(child))
    }

    pub fn running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|child| child.try_wait().unwrap().is_none())
    }

    pub fn signal(&self, name: &str) {
        let pid = self.0.as_ref().unwrap().id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; its status code and stderr.
    pub fn wait(mut self) -> (Option<i32>, String) {
        let child = self.0.take().unwrap();
        let output = run_guarded(move || child.wait_with_output().unwrap());
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

impl Drop for Crawl {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn lines(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |bytes| bytes.iter().filter(|&&b| b == b'\n').count())
}

/// The records of a JSON Lines file, each line checked whole.
pub fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "no torn record");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a whole JSON record"))
        .collect()
}

/// URL path -> number of records.
pub fn count_by_path(records: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for record in records {
        let url: arachne::Url = record["url"].as_str().unwrap().parse().unwrap();
        *counts.entry(url.path().to_owned()).or_default() += 1;
    }
    counts
}
