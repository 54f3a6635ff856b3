//! Command-line arguments, and the parsers of their values.

use std::path::PathBuf;
use std::time::Duration;

use arachne_core::settings::{self, CountRange, DurationRange, SizeRange};
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::Scope;
use crate::config::DEFAULT_USER_AGENT;

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
    #[command(after_help = VALUES_HELP)]
    Crawl(Box<CrawlArgs>),
    /// Join a crawl shared on Redis (--redis, --crawl-id) as one more worker: the crawl's
    /// seeds, scope and settings are used, and options that differ from them are refused.
    #[command(after_help = VALUES_HELP)]
    Work(Box<CrawlArgs>),
    /// Print a summary of a crawl saved with --state (seeds, options, pages done by status,
    /// queued, errors, hosts, last activity), or of a crawl shared on Redis (its workers
    /// and their outputs too), without crawling.
    State(StateArgs),
}

/// The arguments of `arachne state`.
#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    /// The state file (or give --redis and --crawl-id for a shared crawl).
    #[arg(value_name = "FILE", conflicts_with = "redis")]
    pub file: Option<PathBuf>,

    /// The Redis server of a shared crawl (with --crawl-id).
    #[arg(long, value_name = "URL", requires = "crawl_id")]
    pub redis: Option<String>,

    /// The shared crawl's name.
    #[arg(long, value_name = "NAME", requires = "redis")]
    pub crawl_id: Option<String>,

    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How values are written, shown after the options.
const VALUES_HELP: &str = "\
Values: durations as seconds (1.5) or with units (500ms, 30s, 2m, 1h30m); sizes as bytes \
(65536) or with units (500KB, 10MiB, 1GB). Zero means \"none\" where that makes sense \
(--delay, --max-crawl-delay, --retries, --max-redirects, --max-depth); every other limit \
must be at least 1: leave it out for no limit.";

/// Every option is also a key of the `--config` file (same name, without the dashes in
/// front). Precedence: flags, then environment variables, then the file, then defaults.
#[derive(Debug, Default, Args)]
pub(crate) struct CrawlArgs {
    /// Seed URLs (http or https), crawled at depth 0 (`arachne work` takes none: it uses the
    /// shared crawl's).
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

    /// Greatest link depth crawled (seeds are depth 0; 0 crawls the seeds only). Default: no limit.
    #[arg(long, value_name = "N", value_parser = count::<u32>(settings::MAX_DEPTH))]
    pub max_depth: Option<u32>,

    /// Most URLs fetched, at least 1. Default: no limit.
    #[arg(long, value_name = "N", value_parser = count::<u64>(settings::MAX_PAGES))]
    pub max_pages: Option<u64>,

    /// Requests in flight over the crawl, 1 to 10000 [env: ARACHNE_CONCURRENCY] [default: 64].
    #[arg(long, value_name = "N", value_parser = count::<usize>(settings::CONCURRENCY))]
    pub concurrency: Option<usize>,

    /// Requests in flight per host, 1 to 10000 [env: ARACHNE_PER_HOST] [default: 2].
    #[arg(long, value_name = "N", value_parser = count::<usize>(settings::PER_HOST))]
    pub per_host: Option<usize>,

    /// Least time between request starts to one host, 0 (none) to 1d, e.g. 1s, 250ms [env: ARACHNE_DELAY] [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = duration(settings::DELAY))]
    pub delay: Option<Duration>,

    /// Adapt each host's delay to its latency and back off on 429/503 (as Scrapy's AutoThrottle).
    #[arg(long)]
    pub autothrottle: bool,

    /// Do not fetch or obey robots.txt.
    #[arg(long)]
    pub ignore_robots: bool,

    /// Longest robots.txt Crawl-delay obeyed, 0 (obey none) to 1d [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = duration(settings::MAX_CRAWL_DELAY))]
    pub max_crawl_delay: Option<Duration>,

    /// Follow the Sitemap lines of robots.txt (on hosts in scope): on or off [default: on].
    #[arg(long, value_name = "on|off", value_parser = parse_switch)]
    pub sitemaps: Option<bool>,

    /// Read this sitemap too, on any host (repeatable): XML, .xml.gz, or text.
    #[arg(long = "sitemap", value_name = "URL")]
    pub sitemap_urls: Vec<String>,

    /// Retries of transient failures (connect errors, resets, timeouts, 429, 5xx but 501), 0 to 100 [default: 2].
    #[arg(long, value_name = "N", value_parser = count::<u32>(settings::RETRIES))]
    pub retries: Option<u32>,

    /// Longest URL followed, in bytes, 1 to 1048576 [default: 2048].
    #[arg(long, value_name = "BYTES", value_parser = count::<usize>(settings::MAX_URL_LENGTH))]
    pub max_url_length: Option<usize>,

    /// Most URLs queued per host, at least 1. Default: no limit.
    #[arg(long, value_name = "N", value_parser = count::<u64>(settings::MAX_PAGES))]
    pub max_pages_per_host: Option<u64>,

    /// Refuse loopback, private, link-local and unspecified addresses, on every hop.
    #[arg(long)]
    pub deny_private_ips: bool,

    /// Send this header with every page request, e.g. "Authorization: Bearer T" (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,

    /// Keep no cookies (by default one cookie jar serves the whole crawl).
    #[arg(long)]
    pub no_cookies: bool,

    /// Emit an item per page with this field: the text of the first element matching the
    /// CSS selector, or an attribute with SELECTOR@ATTR, e.g. title=h1 or image=img@src
    /// (repeatable; see --items).
    #[arg(long = "extract", value_name = "FIELD=SELECTOR", value_parser = parse_field)]
    pub fields: Vec<Field>,

    /// Write the items of --extract to FILE, one per page that has any field; `-` for
    /// standard output.
    #[arg(long, value_name = "FILE")]
    pub items: Option<PathBuf>,

    /// The format of --items: jsonl (JSON Lines) or csv [default: jsonl]. Needs --items.
    #[arg(long, value_name = "jsonl|csv", value_parser = ["jsonl", "csv"])]
    pub items_format: Option<String>,

    /// Stop once this many items have been written (at least 1).
    #[arg(long, value_name = "N", value_parser = count::<u64>(settings::MAX_PAGES))]
    pub close_after_items: Option<u64>,

    /// Stop once this many pages have failed to fetch (refusals such as robots.txt do not count; at least 1).
    #[arg(long, value_name = "N", value_parser = count::<u64>(settings::MAX_PAGES))]
    pub close_after_errors: Option<u64>,

    /// Stop after this long, 1ms to 1d; what is in flight finishes.
    #[arg(long, value_name = "DURATION", value_parser = duration(settings::TIMEOUT))]
    pub close_after: Option<Duration>,

    /// Fetcher threads, each running many requests, 1 to 64 [env: ARACHNE_FETCH_THREADS] [default: one per 4 cores].
    #[arg(long, value_name = "N", value_parser = count::<usize>(settings::FETCH_THREADS))]
    pub fetch_threads: Option<usize>,

    /// Parser threads, 1 to 256 [env: ARACHNE_PARSE_THREADS] [default: one per core].
    #[arg(long, value_name = "N", value_parser = count::<usize>(settings::PARSE_THREADS))]
    pub parse_threads: Option<usize>,

    /// Total time for one request, 1ms to 1d, e.g. 30s, 1m, 500ms, or plain seconds [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = duration(settings::TIMEOUT))]
    pub timeout: Option<Duration>,

    /// Body-size cap after decompression, 1 byte to 1GiB, e.g. 10MiB, 500KB, or plain bytes [default: 10MiB].
    #[arg(long, value_name = "SIZE", value_parser = size(settings::MAX_BODY))]
    pub max_body: Option<u64>,

    /// Most redirects followed for one URL, 0 to 100 [default: 10].
    #[arg(long, value_name = "N", value_parser = count::<u32>(settings::MAX_REDIRECTS))]
    pub max_redirects: Option<u32>,

    #[arg(long, value_name = "TEXT", help = format!("The User-Agent header [default: {DEFAULT_USER_AGENT}]"))]
    pub user_agent: Option<String>,

    /// Write a record per fetched URL to FILE; `-` for standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// The format of --out: jsonl (JSON Lines) or csv [default: jsonl]. Needs --out.
    #[arg(long, value_name = "jsonl|csv", value_parser = ["jsonl", "csv"])]
    pub format: Option<String>,

    /// Archive every request and response to a WARC 1.1 file (gzipped per record).
    #[arg(long, value_name = "FILE.warc.gz")]
    pub warc: Option<PathBuf>,

    /// Start a new WARC file past this size, e.g. 1GB (files are then numbered NAME-00000.warc.gz, ...).
    #[arg(long, value_name = "SIZE", value_parser = size(settings::WARC_MAX_SIZE))]
    pub warc_max_size: Option<u64>,

    /// Write the final report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,

    /// Keep the crawl's whole state in this SQLite file: run the same command again to
    /// resume after a stop or a crash (without seeds, the saved crawl's seeds and scope are
    /// used). Outputs named by path hold each record once.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// With --state: resume even if the seeds or scope differ from the saved crawl's (the
    /// new ones apply), or an output file is shorter than the state says.
    #[arg(long)]
    pub force: bool,

    /// Share the crawl among several processes and machines through this Redis server
    /// (redis://HOST:PORT/DB), with --crawl-id: start it here with seeds, and join it with
    /// `arachne work`. Each worker writes its own output files, named with --worker.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,

    /// With --redis: the shared crawl's name (letters, digits, `-`, `_`, `.`).
    #[arg(long, value_name = "NAME")]
    pub crawl_id: Option<String>,

    /// With --redis: this worker's name, unique among the crawl's running workers; it goes
    /// into the names of its output files (pages.jsonl becomes pages.NAME.jsonl) [default:
    /// the machine's name and the process id].
    #[arg(long, value_name = "NAME")]
    pub worker: Option<String>,

    /// With --redis: how long the hosts and requests of a worker that died stay its own
    /// before others take them, 2s to 1h [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = duration(settings::LEASE))]
    pub lease: Option<Duration>,

    /// With --redis: split the crawl into this many partitions, 1 to 1024, each with a hash
    /// tag of its own, so that a Redis Cluster spreads its sites over its shards (a
    /// worker that joins takes the crawl's) [default: 1, or the crawl's].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub partitions: Option<u32>,

    /// How often to print a progress line when stderr is not a terminal, 100ms to 1d [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = duration(settings::STATS_INTERVAL))]
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

/// A field of `--extract`: a name, a CSS selector, and the attribute to take, if any.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: String,
    pub selector: scraper::Selector,
    pub attr: Option<String>,
}

/// `title=h1`, `image=img.cover@src`.
pub(crate) fn parse_field(s: &str) -> Result<Field, String> {
    let (name, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected FIELD=SELECTOR, e.g. title=h1"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("`{s}`: the field has no name"));
    }
    let (css, attr) = match rest.rsplit_once('@') {
        Some((css, attr)) if !attr.trim().is_empty() && !attr.contains([' ', ']']) => {
            (css, Some(attr.trim().to_owned()))
        }
        _ => (rest, None),
    };
    let selector = scraper::Selector::parse(css.trim())
        .map_err(|e| format!("`{css}` is not a CSS selector: {e}"))?;
    Ok(Field {
        name: name.to_owned(),
        selector,
        attr,
    })
}

/// `Name: value`.
pub(crate) fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected NAME: VALUE"))?;
    let name = name.trim();
    let value = value.trim();
    http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a header name"))?;
    http::HeaderValue::from_str(value).map_err(|_| format!("`{value}` is not a header value"))?;
    Ok((name.to_owned(), value.to_owned()))
}

pub(crate) fn parse_switch(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("`{s}`: expected on or off")),
    }
}

/// The parser of a duration option: the syntax of [`settings`], within `range`. Flags,
/// environment variables and the config file all read values with these parsers.
pub(crate) fn duration(
    range: DurationRange,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text| range.parse(text)
}

/// The parser of a size option, within `range`.
pub(crate) fn size(
    range: SizeRange,
) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |text| range.parse(text)
}

/// The parser of a whole-number option, within `range`, as the option's type.
pub(crate) fn count<T: TryFrom<u64>>(
    range: CountRange,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text| {
        let n = range.parse(text)?;
        // Every range fits its option's type; this is for a 32-bit `usize`.
        T::try_from(n).map_err(|_| format!("`{text}` is too large on this machine"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_headers() {
        let field = parse_field("image=img.cover@src").unwrap();
        assert_eq!(
            (field.name.as_str(), field.attr.as_deref()),
            ("image", Some("src"))
        );
        let field = parse_field("title = h1 ").unwrap();
        assert_eq!((field.name.as_str(), field.attr), ("title", None));
        let field = parse_field("link=a[href$='@x']").unwrap();
        assert_eq!(
            field.attr, None,
            "an @ inside a selector is not an attribute"
        );
        assert!(parse_field("h1").unwrap_err().contains("FIELD=SELECTOR"));
        assert!(
            parse_field("t=[[")
                .unwrap_err()
                .contains("not a CSS selector")
        );
        assert_eq!(
            parse_header("X-Token: a b").unwrap(),
            ("X-Token".to_owned(), "a b".to_owned())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: v").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
