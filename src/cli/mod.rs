//! The `arachne` command line, as a library function, so that programs (and the
//! `local_crawl` example) can run it with their own arguments.

mod args;
mod config;
mod progress;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::output::{CsvItems, CsvWriter, JsonLinesItems};
use crate::{CrawlHandle, CrawlReport, Crawler, CrawlerBuilder, Error, Out, Page, SpiderError};
use args::{Cli, Command, CrawlArgs, StateArgs};
use progress::{Mode, Progress};

/// Runs the command line with the process's arguments, with glibc's allocator tuned for a
/// long crawl first ([`crate::tune_malloc`]).
pub fn main() -> ExitCode {
    let _ = crate::tune_malloc();
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
        Command::Crawl(args) => crawl(*args, false),
        Command::Work(args) => crawl(*args, true),
        Command::State(args) => state(&args),
    }
}

/// `arachne state FILE`, or `arachne state --redis URL --crawl-id NAME`: a crawl at a
/// glance.
fn state(args: &StateArgs) -> ExitCode {
    match (&args.file, &args.redis, &args.crawl_id) {
        (_, Some(url), Some(crawl)) => {
            print_summary(crate::store::RedisStore::summary(url, crawl), args.json)
        }
        (Some(file), _, _) => print_summary(crate::store::SqliteStore::summary(file), args.json),
        _ => {
            eprintln!(
                "arachne: state needs a state FILE, or --redis URL --crawl-id NAME for a shared crawl"
            );
            ExitCode::from(2)
        }
    }
}

fn print_summary<S: serde::Serialize + std::fmt::Display>(
    summary: Result<S, crate::store::StoreError>,
    json: bool,
) -> ExitCode {
    match summary {
        Ok(summary) => {
            let text = if json {
                match serde_json::to_string_pretty(&summary) {
                    Ok(json) => json + "\n",
                    Err(e) => {
                        eprintln!("arachne: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                summary.to_string()
            };
            // A reader that stops early (`| head`) is not an error.
            match std::io::stdout().write_all(text.as_bytes()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("arachne: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("arachne: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

fn crawl(mut args: CrawlArgs, joining: bool) -> ExitCode {
    let usage = |message: String| {
        eprintln!("arachne: {message}");
        ExitCode::from(2)
    };
    if joining && !args.seeds.is_empty() {
        return usage(
            "arachne work takes no seeds: it joins a crawl with the crawl's own (start one with arachne crawl --redis URL --crawl-id NAME SEED...)".into(),
        );
    }
    // A config file may set a default format for the crawls that write records; only the
    // flag without --out is a mistake.
    let format_flag = args.format.is_some();
    let items_format_flag = args.items_format.is_some();
    let var = |name: &str| std::env::var_os(name);
    if let Err(message) = config::apply_env(&mut args, &var) {
        return usage(message);
    }
    if let Some(path) = args.config.clone()
        && let Err(message) = config::apply_file(&mut args, &path)
    {
        return usage(format!("config {message}"));
    }
    if joining && args.redis.is_none() {
        return usage(
            "arachne work needs --redis URL and --crawl-id NAME: the crawl it joins".into(),
        );
    }
    if let Err(message) = check_combinations(&args, format_flag, items_format_flag) {
        return usage(message);
    }
    init_logging(args.verbose);
    let quiet = args.quiet;
    let terminal = std::io::stderr().is_terminal();
    let mode = if quiet || args.no_progress {
        None
    } else if terminal {
        Some(Mode::Bar)
    } else {
        Some(Mode::Lines(
            args.stats_interval.unwrap_or(DEFAULT_STATS_INTERVAL),
        ))
    };
    let shared = match shared_crawl(&mut args) {
        Ok(shared) => shared,
        Err(e) => {
            eprintln!("arachne: {e}");
            return ExitCode::from(if e.is_usage() { 2 } else { 1 });
        }
    };
    let shared_note = shared.as_ref().map(|store| {
        format!(
            "  shared   worker {} of crawl {}: arachne state --redis {} --crawl-id {} shows the whole crawl",
            store.worker_name(),
            args.crawl_id.as_deref().unwrap_or_default(),
            args.redis.as_deref().unwrap_or_default(),
            args.crawl_id.as_deref().unwrap_or_default(),
        )
    });
    // Every output is opened before the crawl, so that a bad path fails now, not after it.
    let stats_json = match args.stats_json.clone() {
        None => None,
        // Opened, not emptied: a previous report stays until this crawl has one to write.
        Some(path) => match std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
        {
            Ok(file) => Some((path, file)),
            Err(e) => {
                eprintln!("arachne: cannot create {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
    };
    if !quiet
        && terminal
        && let Some(hint) = no_output_hint(&args)
    {
        eprintln!("arachne: {hint}");
    }
    if let Err(message) = resume_defaults(&mut args) {
        return usage(message);
    }
    let state = args.state.clone();
    let crawler = match build(args, shared) {
        Ok(crawler) => crawler,
        Err(e) => {
            eprintln!("arachne: {e}");
            return ExitCode::from(if e.is_usage() { 2 } else { 1 });
        }
    };
    let progress = mode.map(|mode| Progress::start(crawler.stats(), mode));
    let handle = crawler.handle();
    let signalled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&signalled);
    let result = actix::System::new().block_on(async move {
        actix::spawn(watch_signals(handle, flag, quiet));
        crawler.run().await
    });
    if let Some(progress) = progress {
        progress.finish();
    }
    match result {
        Ok(report) => {
            if !quiet {
                eprint!("{report}");
                if let Some(note) = &shared_note {
                    eprintln!("{note}");
                }
                if let Some(state) = &state
                    && report.not_crawled > 0
                {
                    eprintln!(
                        "  state    saved in {}: run the same command again to resume",
                        state.display()
                    );
                }
            }
            if let crate::report::EndReason::StoreFailed { error } = &report.ended {
                eprintln!("arachne: {error}");
                return ExitCode::FAILURE;
            }
            if let Some((path, file)) = stats_json
                && let Err(e) = write_stats(file, &report)
            {
                eprintln!("arachne: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            if signalled.load(Ordering::Acquire) {
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

/// Without seeds, `--state` resumes the saved crawl: its seeds, and its scope, patterns
/// and depth limit unless given.
fn resume_defaults(args: &mut CrawlArgs) -> Result<(), String> {
    let Some(path) = args.state.clone() else {
        return Ok(());
    };
    if !args.seeds.is_empty() || !path.exists() {
        return Ok(());
    }
    let summary = crate::store::SqliteStore::summary(&path).map_err(|e| e.to_string())?;
    take_crawl(args, &summary.spec).map_err(|why| format!("{} {why}", path.display()))
}

/// Fills the seeds (when none are given), the scope, the patterns and the depth limit (when
/// not given) from a saved or shared crawl's settings.
fn take_crawl(args: &mut CrawlArgs, spec: &crate::store::CrawlSpec) -> Result<(), String> {
    if args.seeds.is_empty() {
        if spec.seeds.iter().any(|seed| seed.contains(' ')) {
            return Err("was started by a program with requests other than GET as seeds: go on with it from that program".into());
        }
        args.seeds = spec.seeds.clone();
    }
    if args.scope.is_none() {
        args.scope = Some(spec.scope.parse()?);
    }
    if args.include.is_empty() {
        args.include = spec.include.clone();
    }
    if args.exclude.is_empty() {
        args.exclude = spec.exclude.clone();
    }
    args.max_depth = args.max_depth.or(spec.max_depth);
    Ok(())
}

/// With `--redis`: the store of the shared crawl, with this worker's name. A crawl that
/// exists on the server lends its seeds, scope and settings to the options not given; a
/// worker that joins one that does not exist is told so. Output files get the worker's
/// name, so that workers on one machine do not write the same files.
fn shared_crawl(
    args: &mut CrawlArgs,
) -> Result<Option<crate::store::RedisStore>, crate::store::StoreError> {
    use crate::store::{RedisStore, StoreError};
    let (Some(url), Some(crawl)) = (args.redis.clone(), args.crawl_id.clone()) else {
        return Ok(None);
    };
    let mut store = RedisStore::new(&url, &crawl)?;
    if let Some(worker) = &args.worker {
        store = store.worker(worker.clone())?;
    }
    if let Some(lease) = args.lease {
        store = store.lease(lease);
    }
    if let Some(partitions) = args.partitions {
        store = store.partitions(partitions);
    }
    match store.saved_spec()? {
        Some(spec) => adopt_spec(args, &spec).map_err(|why| StoreError::Refused {
            what: format!("crawl {crawl}"),
            why: format!("it {why}"),
        })?,
        None if args.seeds.is_empty() => {
            return Err(StoreError::Refused {
                what: format!("crawl {crawl} on {url}"),
                why: "there is no such crawl: start it with seeds (arachne crawl --redis URL --crawl-id NAME SEED...)".into(),
            });
        }
        None => {}
    }
    let worker = store.worker_name().to_owned();
    for path in [&mut args.out, &mut args.items, &mut args.warc]
        .into_iter()
        .flatten()
    {
        *path = worker_file(path, &worker);
    }
    Ok(Some(store))
}

/// `pages.jsonl` as worker `w1` writes it: `pages.w1.jsonl` (standard output stays).
fn worker_file(path: &std::path::Path, worker: &str) -> PathBuf {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return path.to_owned();
    };
    if name == "-" {
        return path.to_owned();
    }
    let renamed = match name.split_once('.') {
        Some((stem, rest)) if !stem.is_empty() => format!("{stem}.{worker}.{rest}"),
        _ => format!("{name}.{worker}"),
    };
    path.with_file_name(renamed)
}

/// Fills the options not given with those a shared crawl was started with.
fn adopt_spec(args: &mut CrawlArgs, spec: &crate::store::CrawlSpec) -> Result<(), String> {
    take_crawl(args, spec)?;
    let option = |name: &str| spec.options.get(name).map(String::as_str);
    let duration = |name: &str| option(name).and_then(|text| humantime::parse_duration(text).ok());
    let number = |name: &str| option(name).and_then(|text| text.parse::<u64>().ok());
    args.delay = args.delay.or_else(|| duration("delay"));
    args.max_crawl_delay = args.max_crawl_delay.or_else(|| duration("max-crawl-delay"));
    args.timeout = args.timeout.or_else(|| duration("timeout"));
    args.per_host = args
        .per_host
        .or_else(|| number("per-host").and_then(|n| usize::try_from(n).ok()));
    args.retries = args
        .retries
        .or_else(|| number("retries").and_then(|n| u32::try_from(n).ok()));
    args.max_pages = args.max_pages.or_else(|| number("max-pages"));
    args.max_pages_per_host = args
        .max_pages_per_host
        .or_else(|| number("max-pages-per-host"));
    if args.user_agent.is_none() {
        args.user_agent = option("user-agent").map(str::to_owned);
    }
    args.autothrottle |= option("autothrottle") == Some("true");
    args.ignore_robots |= option("robots") == Some("false");
    Ok(())
}

/// How often a progress line is printed when stderr is not a terminal, by default.
const DEFAULT_STATS_INTERVAL: Duration = Duration::from_secs(60);

/// Options that only make sense together.
fn check_combinations(
    args: &CrawlArgs,
    format_flag: bool,
    items_format_flag: bool,
) -> Result<(), String> {
    if format_flag && args.out.is_none() {
        return Err("--format needs --out: it is the format of the records written there".into());
    }
    if items_format_flag && args.items.is_none() {
        return Err("--items-format needs --items".into());
    }
    match (args.fields.is_empty(), args.items.is_none()) {
        (true, false) => return Err("--items needs --extract: the fields of each item".into()),
        (false, true) => return Err("--extract needs --items: where the items go".into()),
        _ => {}
    }
    if let (Some(out), Some(items)) = (&args.out, &args.items)
        && out == items
    {
        return Err(format!(
            "--out and --items are both {}: records and items need an output each",
            out.display()
        ));
    }
    if args.warc_max_size.is_some() && args.warc.is_none() {
        return Err("--warc-max-size needs --warc".into());
    }
    if args.redis.is_some() && args.state.is_some() {
        return Err("--redis and --state are two places for the crawl's state: give one".into());
    }
    if args.redis.is_some() && args.crawl_id.is_none() {
        return Err("--redis needs --crawl-id NAME: the shared crawl's name".into());
    }
    if args.redis.is_some() {
        let file = |path: &Option<PathBuf>| path.as_ref().is_some_and(|p| p.as_os_str() != "-");
        if !(file(&args.out) || file(&args.items) || file(&args.warc)) {
            return Err("a worker of a shared crawl writes its pages to files of its own: give --out FILE (or --warc FILE, --items FILE); the pages it crawls are recorded nowhere else".into());
        }
        for (path, flag) in [(&args.out, "--out"), (&args.items, "--items")] {
            if path.as_ref().is_some_and(|p| p.as_os_str() == "-") {
                return Err(format!(
                    "{flag} - with --redis: standard output cannot be merged with the other workers' files; give a file"
                ));
            }
        }
    }
    if args.redis.is_none() {
        for (given, flag) in [
            (args.crawl_id.is_some(), "--crawl-id"),
            (args.worker.is_some(), "--worker"),
            (args.lease.is_some(), "--lease"),
            (args.partitions.is_some(), "--partitions"),
        ] {
            if given {
                return Err(format!(
                    "{flag} needs --redis: it is for a crawl shared on Redis"
                ));
            }
        }
    }
    if args.force && args.state.is_none() {
        return Err(
            "--force needs --state: it lets a saved crawl continue with new settings".into(),
        );
    }
    Ok(())
}

/// A crawl that writes records nowhere deserves a word, on a terminal.
fn no_output_hint(args: &CrawlArgs) -> Option<&'static str> {
    (args.out.is_none() && args.warc.is_none())
        .then_some("no --out given: the records are not saved (add --out pages.jsonl)")
}

/// Logs to stderr: warnings by default, `-v` info, `-vv` debug; `RUST_LOG` overrides.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Writes the report as JSON, with the derived rate, to the file opened at the start.
fn write_stats(mut file: std::fs::File, report: &CrawlReport) -> std::io::Result<()> {
    let mut json = serde_json::to_value(report).map_err(std::io::Error::other)?;
    json["pages_per_sec"] = serde_json::json!(report.pages_per_sec());
    let mut text = serde_json::to_string_pretty(&json).map_err(std::io::Error::other)?;
    text.push('\n');
    file.set_len(0)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// The first SIGINT or SIGTERM stops the crawl gracefully; a second one exits at once.
/// Records are written one whole line per write, so even then no record is torn.
async fn watch_signals(handle: CrawlHandle, signalled: Arc<AtomicBool>, quiet: bool) {
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
        if signalled.swap(true, Ordering::AcqRel) {
            eprintln!("arachne: quitting at once");
            std::process::exit(130);
        }
        handle.stop("a signal (SIGINT or SIGTERM)");
        if !quiet {
            eprintln!(
                "arachne: stopping: finishing the requests in flight (signal again to quit at once)"
            );
        }
    }
}

fn build(args: CrawlArgs, shared: Option<crate::store::RedisStore>) -> Result<Crawler, Error> {
    let mut builder = CrawlerBuilder::from_env()
        .seeds(&args.seeds)
        .cookies(!args.no_cookies)
        .autothrottle(args.autothrottle)
        .obey_robots(!args.ignore_robots)
        .deny_private_ips(args.deny_private_ips);
    if let Some(scope) = args.scope {
        builder = builder.scope(scope);
    }
    if let Some(timeout) = args.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(bytes) = args.max_body {
        builder = builder.max_body(bytes);
    }
    if let Some(n) = args.max_redirects {
        builder = builder.max_redirects(n);
    }
    if let Some(delay) = args.max_crawl_delay {
        builder = builder.max_crawl_delay(delay);
    }
    if let Some(on) = args.sitemaps {
        builder = builder.sitemaps(on);
    }
    if let Some(n) = args.retries {
        builder = builder.retries(n);
    }
    if let Some(n) = args.max_url_length {
        builder = builder.max_url_length(n);
    }
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
    if let Some(n) = args.close_after_items {
        builder = builder.close_after_items(n);
    }
    if let Some(n) = args.close_after_errors {
        builder = builder.close_after_errors(n);
    }
    if let Some(after) = args.close_after {
        builder = builder.close_after(after);
    }
    if !args.headers.is_empty() {
        let headers = args.headers;
        builder = builder.on_request(move |request| {
            for (name, value) in &headers {
                request.set_header(name, value);
            }
            crate::hook::Decision::Continue
        });
    }
    if !args.fields.is_empty() {
        builder = builder.spider(FieldSpider(args.fields));
    }
    let stdout = |path: &PathBuf| path.as_os_str() == "-";
    match (args.items, args.items_format.as_deref()) {
        (Some(path), Some("csv")) if stdout(&path) => {
            builder = builder.item_output(CsvItems::new(std::io::stdout()));
        }
        (Some(path), Some("csv")) => builder = builder.items_csv(path),
        (Some(path), _) if stdout(&path) => {
            builder = builder.item_output(JsonLinesItems::new(std::io::stdout()));
        }
        (Some(path), _) => builder = builder.items_jsonl(path),
        (None, _) => {}
    }
    match (args.out, args.format.as_deref()) {
        (Some(path), Some("csv")) if stdout(&path) => {
            builder = builder.output(CsvWriter::new(std::io::stdout()))
        }
        (Some(path), Some("csv")) => builder = builder.csv_file(path),
        (Some(path), _) if stdout(&path) => builder = builder.jsonl_writer(std::io::stdout()),
        (Some(path), _) => builder = builder.jsonl_file(path),
        (None, _) => {}
    }
    if let Some(path) = args.warc {
        builder = builder.warc_file(path, args.warc_max_size);
    }
    if let Some(path) = args.state {
        builder = builder.state(path).force(args.force);
    }
    if let Some(store) = shared {
        builder = builder.store(store);
    }
    builder.build()
}

/// The items of `--extract`: one per page, its URL and then every field (`null` where
/// nothing matched); counted as `Extracted` in the report.
#[derive(serde::Serialize)]
#[serde(transparent)]
struct Extracted(serde_json::Map<String, serde_json::Value>);

/// The spider of `--extract`: follows every link, and emits the fields of each page that
/// has any.
struct FieldSpider(Vec<args::Field>);

impl crate::Spider for FieldSpider {
    fn parse(&self, page: &Page<'_>, out: &mut Out) -> Result<(), SpiderError> {
        out.follow_links();
        if !page.is_html() {
            return Ok(());
        }
        let mut fields = serde_json::Map::new();
        fields.insert("url".into(), page.request().url.as_str().into());
        let html = page.html();
        let base = page.base();
        let mut matched = false;
        for field in &self.0 {
            let value = html.select(&field.selector).next().and_then(|element| {
                match &field.attr {
                    // Links as absolute URLs, as a reader of the items wants them.
                    Some(attr) if matches!(attr.as_str(), "href" | "src") => {
                        element.value().attr(attr).map(|v| {
                            base.join(v.trim())
                                .map_or_else(|_| v.to_owned(), String::from)
                        })
                    }
                    Some(attr) => element.value().attr(attr).map(str::to_owned),
                    None => Some(
                        element
                            .text()
                            .flat_map(str::split_whitespace)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                }
            });
            matched |= value.is_some();
            // Every field, `null` when it did not match: CSV takes its columns from the
            // first item.
            fields.insert(field.name.clone(), value.into());
        }
        if matched {
            out.item(Extracted(fields));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crawl_without_outputs_gets_a_hint() {
        let mut args = CrawlArgs::default();
        assert!(no_output_hint(&args).is_some_and(|hint| hint.contains("--out")));
        args.warc = Some("site.warc.gz".into());
        assert_eq!(no_output_hint(&args), None);
        args.warc = None;
        args.out = Some("-".into());
        assert_eq!(no_output_hint(&args), None);
    }

    #[test]
    fn options_that_need_another() {
        let mut args = CrawlArgs {
            format: Some("csv".into()),
            ..CrawlArgs::default()
        };
        let err = check_combinations(&args, true, false).unwrap_err();
        assert!(err.contains("--format needs --out"), "{err}");
        assert_eq!(
            check_combinations(&args, false, false),
            Ok(()),
            "a config file's default"
        );
        args.out = Some("pages.csv".into());
        assert_eq!(check_combinations(&args, true, false), Ok(()));
        args.items = Some("items.jsonl".into());
        let err = check_combinations(&args, true, false).unwrap_err();
        assert!(err.contains("--items needs --extract"), "{err}");
        args.items = None;
        args.warc_max_size = Some(1 << 30);
        let err = check_combinations(&args, false, false).unwrap_err();
        assert!(err.contains("--warc-max-size needs --warc"), "{err}");
    }
}
