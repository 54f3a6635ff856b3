//! The crawl benchmark: serves a site on 127.0.0.1 from a child process (so that the
//! crawler's CPU time and memory are its own), crawls all of it, and prints pages/s, MB/s,
//! CPU seconds per 1,000 pages and peak RSS (the crawler's, the server's apart), and the
//! parse-only limit: how fast the parser threads read the same pages'
//! links with nothing else to do (the pages in memory, on as many threads as the crawl
//! parses on), and how close the crawl came to it.
//!
//! The site is one of:
//! - synthetic pages of realistic size, mostly text (20-60 KB, 30-100 links each; the
//!   default);
//! - `--dense`: tag-dense synthetic pages, as real documentation is (nested markup, a tag
//!   per ~35 bytes, a link per ~200, most pages 2-12 KB and one in 1,000 of 3-8 MB);
//! - `--dir PATH`: a directory of real HTML files served from disk (a Debian doc package,
//!   the Rust documentation), crawled from `--seed /index.html` (the default).
//!
//! ```text
//! cargo bench --bench crawl                        # 30,000 pages, default knobs
//! cargo bench --bench crawl -- --dense --concurrency 64 --per-host 64
//! cargo bench --bench crawl -- --dir /usr/share/doc/postgresql-doc-15/html
//! cargo bench --bench crawl -- --pages 5000 --parse-threads 2 --per-host 64
//! cargo bench --bench crawl -- --pages 100000 --state --out   # a state file, JSON Lines
//! cargo bench --bench crawl -- --pages 100000 --compare       # memory vs state, side by side
//! ```
//!
//! `--state` keeps the crawl in a SQLite state file in the temporary directory; `--out`
//! writes the records as JSON Lines there (with a state file, through its journal).
//! `--compare` runs this benchmark twice in child processes, in memory and with a state
//! file (both with `--out`), so that each has its own peak RSS, and prints both and the
//! ratio.
//!
//! The crawler tunes glibc's allocator first, as the `arachne` command line does
//! (`arachne::tune_malloc`); `--default-malloc` leaves it as it is, to see the difference.
//!
//! Linux only: CPU time and peak RSS come from /proc.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arachne::Crawler;
use arachne::Url;
use arachne_testkit::{Response, SyntheticSite, TestServer, html_files};

struct Options {
    pages: usize,
    dense: bool,
    dir: Option<PathBuf>,
    seed: String,
    concurrency: Option<usize>,
    per_host: Option<usize>,
    fetch_threads: Option<usize>,
    parse_threads: Option<usize>,
    state: bool,
    out: bool,
    compare: bool,
    /// Serve the site only (the child process).
    serve: bool,
    /// Leave glibc's allocator untuned.
    default_malloc: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        pages: 30_000,
        dense: false,
        dir: None,
        seed: "/index.html".into(),
        concurrency: None,
        per_host: None,
        fetch_threads: None,
        parse_threads: None,
        state: false,
        out: false,
        compare: false,
        serve: false,
        default_malloc: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || -> Result<usize, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{arg} takes a number"))
        };
        match arg.as_str() {
            "--dense" => options.dense = true,
            "--dir" => {
                options.dir = Some(args.next().ok_or("--dir takes a directory")?.into());
            }
            "--seed" => options.seed = args.next().ok_or("--seed takes a path")?,
            "--pages" => options.pages = value()?,
            "--concurrency" => options.concurrency = Some(value()?),
            "--per-host" => options.per_host = Some(value()?),
            "--fetch-threads" => options.fetch_threads = Some(value()?),
            "--parse-threads" => options.parse_threads = Some(value()?),
            "--state" => options.state = true,
            "--out" => options.out = true,
            "--compare" => options.compare = true,
            "--serve" => options.serve = true,
            "--default-malloc" => options.default_malloc = true,
            // cargo bench passes --bench; other harness flags do not apply.
            _ => {}
        }
    }
    Ok(options)
}

/// Runs this benchmark in a child process per mode, and prints the two side by side.
fn compare() {
    let me = std::env::current_exe().expect("the bench's own path");
    let passed: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !matches!(arg.as_str(), "--compare" | "--state" | "--out" | "--bench"))
        .collect();
    let mut results = Vec::new();
    for mode in ["memory", "state"] {
        let mut command = std::process::Command::new(&me);
        command.args(&passed).arg("--out");
        if mode == "state" {
            command.arg("--state");
        }
        let output = command.output().expect("the bench runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{mode}: {text}");
        let field = |name: &str| -> f64 {
            text.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        let result = (
            mode,
            field("pages/s"),
            field("CPU s/1k pages"),
            field("peak RSS"),
        );
        println!(
            "{:<8} {:>8.0} pages/s  {:.3} CPU s/1k pages (crawler)  peak RSS {:.1} MB",
            result.0, result.1, result.2, result.3
        );
        results.push(result);
    }
    println!(
        "state/memory: {:.0}% of the speed, {:.0}% of the peak RSS",
        100.0 * results[1].1 / results[0].1,
        100.0 * results[1].3 / results[0].3
    );
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("crawl bench: {e}");
            std::process::exit(2);
        }
    };
    if options.compare {
        compare();
        return;
    }
    let site = if options.dense {
        SyntheticSite::dense(options.pages)
    } else {
        SyntheticSite::realistic(options.pages)
    };
    if options.serve {
        // The child: serves until its parent closes its standard input.
        let server = match &options.dir {
            Some(dir) => serve_dir(dir.clone()),
            None => site.serve(),
        };
        println!("port {}", server.port());
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
        return;
    }
    let malloc = if options.default_malloc {
        "glibc's default"
    } else if arachne::tune_malloc() {
        "tuned (arachne::tune_malloc)"
    } else {
        "not tuned (not glibc)"
    };
    let seed = match &options.dir {
        Some(_) => options.seed.clone(),
        None => "/page/0".to_owned(),
    };
    let server = Server::start();

    // Per-host limits and delays are for politeness to others' servers; this one is ours.
    let mut builder = Crawler::builder()
        .seed(format!("http://127.0.0.1:{}{seed}", server.port))
        .delay(std::time::Duration::ZERO)
        .per_host(
            options
                .per_host
                .unwrap_or(arachne::config::DEFAULT_CONCURRENCY),
        );
    if let Some(n) = options.concurrency {
        builder = builder.concurrency(n);
    }
    if let Some(n) = options.fetch_threads {
        builder = builder.fetch_threads(n);
    }
    if let Some(n) = options.parse_threads {
        builder = builder.parse_threads(n);
    }
    let dir = std::env::temp_dir().join(format!("arachne-bench-{}", std::process::id()));
    if options.state || options.out {
        std::fs::create_dir_all(&dir).expect("a temporary directory");
    }
    if options.state {
        builder = builder.state(dir.join("crawl.db"));
    }
    if options.out {
        builder = builder.jsonl_file(dir.join("pages.jsonl"));
    }
    let parse_threads = options.parse_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let crawler = builder.build().expect("valid settings");
    println!("{crawler:?}");

    let cpu_before = process_cpu_seconds();
    let server_cpu_before = server.cpu_seconds();
    let started = Instant::now();
    let report = crawler.run_blocking().expect("the crawl completes");
    let wall = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    let server_cpu = server.cpu_seconds() - server_cpu_before;
    let server_rss = server.peak_rss_kib();
    drop(server);

    let peak_rss = peak_rss_kib();
    print!("{report}");
    if options.dir.is_none() {
        assert_eq!(report.pages, options.pages as u64, "every page crawled");
        assert_eq!(report.error_count(), 0, "no errors");
    }
    let thousands = report.pages as f64 / 1000.0;
    println!("pages            {}", report.pages);
    println!("wall             {wall:.2} s");
    println!("pages/s          {:.0}", report.pages as f64 / wall);
    println!("MB/s             {:.1}", report.bytes as f64 / 1e6 / wall);
    println!(
        "CPU s/1k pages   {:.3} crawler, {:.3} server",
        cpu / thousands,
        server_cpu / thousands
    );
    println!(
        "peak RSS         {:.1} MB crawler, {:.1} MB server; malloc {malloc}",
        peak_rss as f64 / 1024.0,
        server_rss as f64 / 1024.0
    );
    // The same pages, read for links with nothing else to do.
    let pages: Vec<Source> = match &options.dir {
        Some(dir) => html_files(dir).into_iter().map(Source::File).collect(),
        None => (0..options.pages).map(Source::Page).collect(),
    };
    nesting();
    let (read, busy) = parse_only(&site, &pages, parse_threads);
    let limit = read as f64 / busy.as_secs_f64();
    println!(
        "parse-only       {limit:.0} pages/s on {parse_threads} threads ({read} pages, decoded and read for links); the crawl ran at {:.0}% of it",
        100.0 * (report.pages as f64 / wall) / limit
    );
    if options.state {
        let size = std::fs::metadata(dir.join("crawl.db")).map_or(0, |m| m.len());
        println!("state file       {:.1} MB", size as f64 / 1e6);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Serves the files of `dir` (a directory's `index.html` for its path), 404 otherwise.
fn serve_dir(dir: PathBuf) -> TestServer {
    TestServer::start(move |req| {
        let path = req.path();
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        if decoded.split('/').any(|part| part == "..") {
            return Response::not_found();
        }
        let mut file = dir.join(decoded.trim_start_matches('/'));
        if file.is_dir() {
            file = file.join("index.html");
        }
        match std::fs::read(&file) {
            Ok(body) if file.extension().is_some_and(|e| e == "html" || e == "htm") => {
                Response::html(body)
            }
            Ok(body) => Response::status(200)
                .header("Content-Type", "application/octet-stream")
                .body(body),
            Err(_) => Response::not_found(),
        }
    })
}

/// The link reader's time on a link under 10,000, 100,000 and 1,000,000 nested elements:
/// it grows linearly (a document's tree building does not).
fn nesting() {
    let url: Url = "http://127.0.0.1/".parse().expect("a URL");
    let mut line = String::from("nesting          ");
    for levels in [10_000, 100_000, 1_000_000] {
        let page = format!("{}<a href=\"/bottom\">b</a>", "<div>".repeat(levels));
        let started = Instant::now();
        let scanned = arachne_core::scan_links(&page, &url);
        let took = started.elapsed();
        assert_eq!(
            scanned.links.links.len(),
            1,
            "the link under {levels} levels"
        );
        line.push_str(&format!(
            "{levels} levels {:.2} ms; ",
            took.as_secs_f64() * 1000.0
        ));
    }
    println!("{}", line.trim_end_matches("; "));
}

/// A page for the parse-only run: one of the synthetic site's, or a file.
enum Source {
    Page(usize),
    File(PathBuf),
}

/// Reads the links of every page on `threads` threads, as a parser thread does (decode,
/// then read), timing only that; the pages are made or read from disk first, untimed.
/// Returns the pages read and the busiest thread's time.
fn parse_only(site: &SyntheticSite, pages: &[Source], threads: usize) -> (usize, Duration) {
    let url: Url = "http://127.0.0.1/page/0".parse().expect("a URL");
    let chunk = pages.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = pages
            .chunks(chunk)
            .map(|part| {
                let url = url.clone();
                scope.spawn(move || {
                    let mut busy = Duration::ZERO;
                    let mut read = 0;
                    for source in part {
                        let body = match source {
                            Source::Page(i) => site.page(*i, "127.0.0.1").into_bytes(),
                            Source::File(path) => match std::fs::read(path) {
                                Ok(body) => body,
                                Err(_) => continue,
                            },
                        };
                        let started = Instant::now();
                        let (text, _) = arachne_core::decode_html(&body, Some("text/html"));
                        let scanned = arachne_core::scan_links(&text, &url);
                        std::hint::black_box(scanned.links.links.len());
                        busy += started.elapsed();
                        read += 1;
                    }
                    (read, busy)
                })
            })
            .collect();
        let mut read = 0;
        let mut busiest = Duration::ZERO;
        for handle in handles {
            let (n, busy) = handle.join().expect("a parse thread");
            read += n;
            busiest = busiest.max(busy);
        }
        (read, busiest)
    })
}

/// The site's server: this benchmark run again with `--serve`, in a child process.
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Server {
    fn start() -> Self {
        let me = std::env::current_exe().expect("the bench's own path");
        let mut child = std::process::Command::new(me)
            .args(std::env::args().skip(1))
            .arg("--serve")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the server starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("the server's output");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("the server's port");
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .expect("the server says its port");
        Self { child, port }
    }

    fn cpu_seconds(&self) -> f64 {
        stat_cpu_seconds(
            &std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default(),
        )
    }

    fn peak_rss_kib(&self) -> u64 {
        vm_hwm_kib(
            &std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
                .unwrap_or_default(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing its standard input ends it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The user + system time of this process.
fn process_cpu_seconds() -> f64 {
    stat_cpu_seconds(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// utime + stime from a /proc stat line, in seconds (at the usual 100 ticks a second).
fn stat_cpu_seconds(stat: &str) -> f64 {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// The peak resident set size of this process (VmHWM).
fn peak_rss_kib() -> u64 {
    vm_hwm_kib(&std::fs::read_to_string("/proc/self/status").unwrap_or_default())
}

/// VmHWM from a /proc status file.
fn vm_hwm_kib(status: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
