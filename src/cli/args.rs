//! Command-line arguments, and the parsers of their values.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::Scope;

/// An actor-based web crawler: fast, polite, and correct.
#[derive(Debug, Parser)]
#[command(name = "arachne", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Crawl from one or more seed URLs and write a record per fetched URL.
    Crawl(Box<CrawlArgs>),
}

/// Every option is also a key of the `--config` file (same name, without the dashes in
/// front). Precedence: flags, then environment variables, then the file, then defaults.
#[derive(Debug, Default, Args)]
pub(crate) struct CrawlArgs {
    /// Seed URLs (http or https), crawled at depth 0.
    #[arg(value_name = "URL")]
    pub seeds: Vec<String>,

    /// Read options from a TOML file (keys as the long flags: max-depth = 3).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Which links to follow: host (the seeds' hosts), domain (their registrable domains and
    /// subdomains), prefix (under the seeds' directories), or any [default: host].
    #[arg(long, value_parser = parse_scope)]
    pub scope: Option<Scope>,

    /// Follow only URLs matching this regex (repeatable; any one must match).
    #[arg(long, value_name = "REGEX")]
    pub include: Vec<String>,

    /// Never follow URLs matching this regex (repeatable).
    #[arg(long, value_name = "REGEX")]
    pub exclude: Vec<String>,

    /// Greatest link depth crawled (seeds are depth 0). Default: no limit.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,

    /// Most URLs fetched. Default: no limit.
    #[arg(long, value_name = "N")]
    pub max_pages: Option<u64>,

    /// Requests in flight over the crawl [env: ARACHNE_CONCURRENCY] [default: 64].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Requests in flight per host [env: ARACHNE_PER_HOST] [default: 2].
    #[arg(long, value_name = "N")]
    pub per_host: Option<usize>,

    /// Least time between request starts to one host, e.g. 1s, 250ms, 0 [env: ARACHNE_DELAY] [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = parse_delay)]
    pub delay: Option<Duration>,

    /// Adapt each host's delay to its latency and back off on 429/503 (as Scrapy's AutoThrottle).
    #[arg(long)]
    pub autothrottle: bool,

    /// Do not fetch or obey robots.txt.
    #[arg(long)]
    pub ignore_robots: bool,

    /// Longest robots.txt Crawl-delay obeyed [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_delay)]
    pub max_crawl_delay: Option<Duration>,

    /// Follow the Sitemap lines of robots.txt: on or off [default: on].
    #[arg(long, value_name = "on|off", value_parser = parse_switch)]
    pub sitemaps: Option<bool>,

    /// Read this sitemap at the start (repeatable): XML, .xml.gz, or text.
    #[arg(long = "sitemap", value_name = "URL")]
    pub sitemap_urls: Vec<String>,

    /// Retries of transient failures (connect errors, resets, timeouts, 429, 5xx but 501) [default: 2].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Longest URL followed, in bytes [default: 2048].
    #[arg(long, value_name = "BYTES")]
    pub max_url_length: Option<usize>,

    /// Most URLs queued per host. Default: no limit.
    #[arg(long, value_name = "N")]
    pub max_pages_per_host: Option<u64>,

    /// Refuse loopback, private, link-local and unspecified addresses, on every hop.
    #[arg(long)]
    pub deny_private_ips: bool,

    /// Fetcher threads, each running many requests [env: ARACHNE_FETCH_THREADS] [default: one per 4 cores].
    #[arg(long, value_name = "N")]
    pub fetch_threads: Option<usize>,

    /// Parser threads [env: ARACHNE_PARSE_THREADS] [default: one per core].
    #[arg(long, value_name = "N")]
    pub parse_threads: Option<usize>,

    /// Total time for one request, e.g. 30s, 1m, 500ms, or plain seconds [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Body-size cap after decompression, e.g. 10MiB, 500KB, or plain bytes [default: 10MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body: Option<u64>,

    /// Most redirects followed for one URL [default: 10].
    #[arg(long, value_name = "N")]
    pub max_redirects: Option<u32>,

    /// The User-Agent header [default: arachne/VERSION (+https://github.com/arachne-crawler/arachne)].
    #[arg(long, value_name = "TEXT")]
    pub user_agent: Option<String>,

    /// Write a record per fetched URL to FILE; `-` for standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// The format of --out: jsonl (JSON Lines) or csv [default: jsonl].
    #[arg(long, value_name = "jsonl|csv", value_parser = ["jsonl", "csv"])]
    pub format: Option<String>,

    /// Archive every request and response to a WARC 1.1 file (gzipped per record).
    #[arg(long, value_name = "FILE.warc.gz")]
    pub warc: Option<PathBuf>,

    /// Start a new WARC file past this size, e.g. 1GB (files are then numbered NAME-00000.warc.gz, ...).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub warc_max_size: Option<u64>,

    /// Write the final report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,

    /// How often to print a progress line when stderr is not a terminal [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub stats_interval: Option<Duration>,

    /// More logs on stderr: -v for info, -vv for debug (RUST_LOG overrides).
    #[arg(long, short = 'v', action = ArgAction::Count)]
    pub verbose: u8,

    /// No progress bar or progress lines.
    #[arg(long)]
    pub no_progress: bool,

    /// No progress display and no summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub(crate) fn parse_scope(s: &str) -> Result<Scope, String> {
    s.parse()
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let duration = parse_delay(s)?;
    if duration.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(duration)
}

/// A duration that may be zero: `0`, `1.5` (seconds), `250ms`, `2m`.
pub(crate) fn parse_delay(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(Duration::from_secs_f64(secs)),
        Ok(_) => Err(format!("`{s}` is not a duration")),
        Err(_) => humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration: {e}")),
    }
}

pub(crate) fn parse_switch(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("`{s}`: expected on or off")),
    }
}

/// A size: `123`, `500KB`, `10MiB`, `1GB`.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
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
        assert_eq!(parse_delay("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
