//! The crawl benchmark: serves a synthetic site of realistic pages (20-60 KB, 30-100 links
//! each) on 127.0.0.1 in this process, crawls all of it, and prints pages/s, MB/s, CPU
//! seconds per 1,000 pages (the crawler's, the server's apart) and peak RSS.
//!
//! ```text
//! cargo bench --bench crawl                        # 30,000 pages, default knobs
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
//! Linux only: CPU time and peak RSS come from /proc.

use std::time::Instant;

use arachne::Crawler;
use arachne_testkit::SyntheticSite;

struct Options {
    pages: usize,
    concurrency: Option<usize>,
    per_host: Option<usize>,
    fetch_threads: Option<usize>,
    parse_threads: Option<usize>,
    state: bool,
    out: bool,
    compare: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        pages: 30_000,
        concurrency: None,
        per_host: None,
        fetch_threads: None,
        parse_threads: None,
        state: false,
        out: false,
        compare: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || -> Result<usize, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{arg} takes a number"))
        };
        match arg.as_str() {
            "--pages" => options.pages = value()?,
            "--concurrency" => options.concurrency = Some(value()?),
            "--per-host" => options.per_host = Some(value()?),
            "--fetch-threads" => options.fetch_threads = Some(value()?),
            "--parse-threads" => options.parse_threads = Some(value()?),
            "--state" => options.state = true,
            "--out" => options.out = true,
            "--compare" => options.compare = true,
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
    let server = SyntheticSite::realistic(options.pages).serve();
    let server_thread = format!("testkit-{}", server.port());

    // Per-host limits and delays are for politeness to others' servers; this one is ours.
    let mut builder = Crawler::builder()
        .seed(server.url("/page/0"))
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
    let crawler = builder.build().expect("valid settings");
    println!("{crawler:?}");

    let cpu_before = process_cpu_seconds();
    let server_cpu_before = thread_cpu_seconds(&server_thread);
    let started = Instant::now();
    let report = crawler.run_blocking().expect("the crawl completes");
    let wall = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    let server_cpu = thread_cpu_seconds(&server_thread) - server_cpu_before;

    print!("{report}");
    assert_eq!(report.pages, options.pages as u64, "every page crawled");
    assert_eq!(report.error_count(), 0, "no errors");
    let thousands = report.pages as f64 / 1000.0;
    println!("pages            {}", report.pages);
    println!("wall             {wall:.2} s");
    println!("pages/s          {:.0}", report.pages as f64 / wall);
    println!("MB/s             {:.1}", report.bytes as f64 / 1e6 / wall);
    println!(
        "CPU s/1k pages   {:.3} crawler, {:.3} server",
        (cpu - server_cpu) / thousands,
        server_cpu / thousands
    );
    println!(
        "peak RSS         {:.1} MB (crawler and server)",
        peak_rss_kib() as f64 / 1024.0
    );
    if options.state {
        let size = std::fs::metadata(dir.join("crawl.db")).map_or(0, |m| m.len());
        println!("state file       {:.1} MB", size as f64 / 1e6);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The user + system time of this process.
fn process_cpu_seconds() -> f64 {
    stat_cpu_seconds(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// The user + system time of the thread with this name.
fn thread_cpu_seconds(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            return stat_cpu_seconds(
                &std::fs::read_to_string(task.path().join("stat")).unwrap_or_default(),
            );
        }
    }
    0.0
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
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
