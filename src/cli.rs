//! The `arachne` command line, as a library function, so that programs (and the
//! `local_crawl` example) can run it with their own arguments.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::ffi::OsString;

use crate::{CrawlStats, Crawler, CsvWriter, Error, Scope, StopHandle, WarcWriter};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// An actor-based web crawler: fast, polite, and correct.
#[derive(Debug, Parser)]
#[command(name = "arachne", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Crawl from one or more seed URLs and write a record per fetched URL.
    Crawl(CrawlArgs),
}

#[derive(Debug, Args)]
struct CrawlArgs {
    /// Seed URLs (http or https), crawled at depth 0.
    #[arg(required = true, value_name = "URL")]
    seeds: Vec<String>,

    /// Which links to follow: host (the seeds' hosts), domain (their registrable domains and
    /// subdomains), prefix (under the seeds' directories), or any.
    #[arg(long, default_value = "host", value_parser = parse_scope)]
    scope: Scope,

    /// Follow only URLs matching this regex (repeatable; any one must match).
    #[arg(long, value_name = "REGEX")]
    include: Vec<String>,

    /// Never follow URLs matching this regex (repeatable).
    #[arg(long, value_name = "REGEX")]
    exclude: Vec<String>,

    /// Greatest link depth crawled (seeds are depth 0). Default: no limit.
    #[arg(long, value_name = "N")]
    max_depth: Option<u32>,

    /// Most URLs fetched. Default: no limit.
    #[arg(long, value_name = "N")]
    max_pages: Option<u64>,

    /// Requests in flight over the crawl [env: ARACHNE_CONCURRENCY] [default: 64].
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,

    /// Requests in flight per host [env: ARACHNE_PER_HOST] [default: 2].
    #[arg(long, value_name = "N")]
    per_host: Option<usize>,

    /// Least time between request starts to one host, e.g. 1s, 250ms, 0 [env: ARACHNE_DELAY] [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = parse_delay)]
    delay: Option<Duration>,

    /// Adapt each host's delay to its latency and back off on 429/503 (as Scrapy's AutoThrottle).
    #[arg(long)]
    autothrottle: bool,

    /// Do not fetch or obey robots.txt.
    #[arg(long)]
    ignore_robots: bool,

    /// Longest robots.txt Crawl-delay obeyed.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_delay)]
    max_crawl_delay: Duration,

    /// Follow the Sitemap lines of robots.txt: on or off.
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = parse_switch)]
    sitemaps: bool,

    /// Read this sitemap at the start (repeatable): XML, .xml.gz, or text.
    #[arg(long = "sitemap", value_name = "URL")]
    sitemap_urls: Vec<String>,

    /// Retries of transient failures (connect errors, resets, timeouts, 429, 5xx but 501).
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_RETRIES)]
    retries: u32,

    /// Longest URL followed, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::DEFAULT_MAX_URL_LENGTH)]
    max_url_length: usize,

    /// Most URLs queued per host. Default: no limit.
    #[arg(long, value_name = "N")]
    max_pages_per_host: Option<u64>,

    /// Refuse loopback, private, link-local and unspecified addresses, on every hop.
    #[arg(long)]
    deny_private_ips: bool,

    /// Fetcher threads, each running many requests [env: ARACHNE_FETCH_THREADS] [default: one per 4 cores].
    #[arg(long, value_name = "N")]
    fetch_threads: Option<usize>,

    /// Parser threads [env: ARACHNE_PARSE_THREADS] [default: one per core].
    #[arg(long, value_name = "N")]
    parse_threads: Option<usize>,

    /// Total time for one request, e.g. 30s, 1m, 500ms, or plain seconds.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,

    /// Body-size cap after decompression, e.g. 10MiB, 500KB, or plain bytes.
    #[arg(long, value_name = "SIZE", default_value = "10MiB", value_parser = parse_size)]
    max_body: u64,

    /// Most redirects followed for one URL.
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_MAX_REDIRECTS)]
    max_redirects: u32,

    /// The User-Agent header [default: arachne/VERSION (+https://github.com/arachne-crawler/arachne)].
    #[arg(long, value_name = "TEXT")]
    user_agent: Option<String>,

    /// Write a record per fetched URL to FILE; `-` for standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,

    /// The format of --out: jsonl (JSON Lines) or csv.
    #[arg(long, value_name = "jsonl|csv", default_value = "jsonl", value_parser = ["jsonl", "csv"])]
    format: String,

    /// Archive every request and response to a WARC 1.1 file (gzipped per record).
    #[arg(long, value_name = "FILE.warc.gz")]
    warc: Option<PathBuf>,

    /// Start a new WARC file past this size, e.g. 1GB (files are then numbered NAME-00000.warc.gz, ...).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "warc")]
    warc_max_size: Option<u64>,

    /// No progress bar.
    #[arg(long)]
    no_progress: bool,

    /// No progress bar and no summary.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    s.parse()
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let duration = match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => return Err(format!("`{s}` is not a duration")),
        Err(_) => {
            humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration: {e}"))?
        }
    };
    if duration.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(duration)
}

fn parse_delay(s: &str) -> Result<Duration, String> {
    if s.trim().parse::<f64>().is_ok_and(|secs| secs == 0.0) {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
}

fn parse_switch(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("`{s}`: expected on or off")),
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("`{s}` is not a size"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KB, KiB, MB, MiB, GB, GiB)"
            ));
        }
    };
    Ok((number * factor) as u64)
}

/// Runs the command line with the process's arguments.
pub fn main() -> ExitCode {
    run(std::env::args_os())
}

/// Runs the command line with the given arguments (the first is the program name).
/// Usage errors print a message and exit the process with status 2, as `main` does.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Crawl(args) => crawl(args),
    }
}

fn crawl(args: CrawlArgs) -> ExitCode {
    let quiet = args.quiet;
    let progress = !quiet && !args.no_progress && std::io::stderr().is_terminal();
    let crawler = match build(args) {
        Ok(crawler) => crawler,
        Err(e) => {
            eprintln!("arachne: {e}");
            let usage = matches!(
                e,
                Error::NoSeeds
                    | Error::InvalidSeed(_)
                    | Error::Pattern(_)
                    | Error::InvalidSetting { .. }
            );
            return ExitCode::from(if usage { 2 } else { 1 });
        }
    };
    let stats = crawler.stats();
    let stop = crawler.stop_handle();
    let bar = progress.then(|| Progress::start(stats));
    let result = actix::System::new().block_on(async move {
        actix::spawn(watch_signals(stop, quiet));
        crawler.run().await
    });
    if let Some(bar) = bar {
        bar.finish();
    }
    match result {
        Ok(report) => {
            if !quiet {
                eprint!("{report}");
            }
            if report.stopped {
                ExitCode::from(130)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("arachne: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The first SIGINT or SIGTERM stops the crawl gracefully; a second one exits at once.
/// Records are written one whole line per write, so even then no record is torn.
async fn watch_signals(stop: StopHandle, quiet: bool) {
    #[cfg(unix)]
    let mut terminate =
        actix_rt::signal::unix::signal(actix_rt::signal::unix::SignalKind::terminate()).ok();
    loop {
        #[cfg(unix)]
        {
            let term = async {
                match terminate.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = actix_rt::signal::ctrl_c() => {}
                () = term => {}
            }
        }
        #[cfg(not(unix))]
        if actix_rt::signal::ctrl_c().await.is_err() {
            return;
        }
        if stop.is_stopped() {
            eprintln!("arachne: quitting at once");
            std::process::exit(130);
        }
        stop.stop();
        if !quiet {
            eprintln!(
                "arachne: stopping: finishing the requests in flight (signal again to quit at once)"
            );
        }
    }
}

fn build(args: CrawlArgs) -> Result<Crawler, Error> {
    let mut builder = Crawler::builder()
        .seeds(&args.seeds)
        .scope(args.scope)
        .timeout(args.timeout)
        .max_body(args.max_body)
        .max_redirects(args.max_redirects)
        .autothrottle(args.autothrottle)
        .obey_robots(!args.ignore_robots)
        .max_crawl_delay(args.max_crawl_delay)
        .sitemaps(args.sitemaps)
        .retries(args.retries)
        .max_url_length(args.max_url_length)
        .deny_private_ips(args.deny_private_ips);
    for sitemap in &args.sitemap_urls {
        builder = builder.sitemap(sitemap);
    }
    if let Some(delay) = args.delay {
        builder = builder.delay(delay);
    }
    if let Some(n) = args.max_pages_per_host {
        builder = builder.max_pages_per_host(n);
    }
    for pattern in args.include {
        builder = builder.include(pattern);
    }
    for pattern in args.exclude {
        builder = builder.exclude(pattern);
    }
    if let Some(depth) = args.max_depth {
        builder = builder.max_depth(depth);
    }
    if let Some(pages) = args.max_pages {
        builder = builder.max_pages(pages);
    }
    if let Some(n) = args.concurrency {
        builder = builder.concurrency(n);
    }
    if let Some(n) = args.per_host {
        builder = builder.per_host(n);
    }
    if let Some(n) = args.fetch_threads {
        builder = builder.fetch_threads(n);
    }
    if let Some(n) = args.parse_threads {
        builder = builder.parse_threads(n);
    }
    if let Some(agent) = args.user_agent {
        builder = builder.user_agent(agent);
    }
    let create = |path: &PathBuf| {
        std::fs::File::create(path).map_err(|source| Error::CreateOutput {
            path: path.clone(),
            source,
        })
    };
    match (args.out, args.format.as_str()) {
        (Some(path), "csv") if path.as_os_str() == "-" => {
            builder = builder.output(CsvWriter::new(std::io::stdout()))
        }
        (Some(path), "csv") => builder = builder.output(CsvWriter::new(create(&path)?)),
        (Some(path), _) if path.as_os_str() == "-" => {
            builder = builder.jsonl_writer(std::io::stdout())
        }
        (Some(path), _) => builder = builder.jsonl_file(path),
        (None, _) => {}
    }
    if let Some(path) = args.warc {
        let software = format!("arachne/{}", env!("CARGO_PKG_VERSION"));
        let warc = WarcWriter::create(&path, args.warc_max_size, &software).map_err(|source| {
            Error::CreateOutput {
                path: path.clone(),
                source,
            }
        })?;
        builder = builder.archive(warc);
    }
    builder.build()
}

/// The live progress bar on stderr, refreshed from the crawl's lock-free counters.
struct Progress {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Progress {
    fn start(stats: Arc<CrawlStats>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
            bar.set_style(
                ProgressStyle::with_template("{spinner:.green} [{elapsed_precise}] {msg}")
                    .expect("static template"),
            );
            let started = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let s = stats.snapshot();
                let rate = s.pages as f64 / started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!(
                    "{} pages, {} queued, {} in flight, {rate:.1} pages/s, {} errors",
                    s.pages, s.queued, s.in_flight, s.errors
                ));
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Self { stop, thread }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB").unwrap(), 10 * 1024 * 1024);
        assert_eq!(parse_size("500KB").unwrap(), 500_000);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
