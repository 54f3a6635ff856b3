//! The `--config` file, and the merge of flags, environment, file and defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::args::{CrawlArgs, parse_delay, parse_duration, parse_scope, parse_size};

/// A duration in a config file: seconds as a number, or text such as `"1.5s"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum DurationValue {
    Seconds(f64),
    Text(String),
}

/// A size in a config file: bytes as a number, or text such as `"10MiB"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
}

/// The options a config file may set: the long flags, without their dashes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    seeds: Option<Vec<String>>,
    scope: Option<String>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    max_depth: Option<u32>,
    max_pages: Option<u64>,
    concurrency: Option<usize>,
    per_host: Option<usize>,
    delay: Option<DurationValue>,
    autothrottle: Option<bool>,
    ignore_robots: Option<bool>,
    max_crawl_delay: Option<DurationValue>,
    sitemaps: Option<bool>,
    sitemap: Option<Vec<String>>,
    retries: Option<u32>,
    max_url_length: Option<usize>,
    max_pages_per_host: Option<u64>,
    deny_private_ips: Option<bool>,
    fetch_threads: Option<usize>,
    parse_threads: Option<usize>,
    timeout: Option<DurationValue>,
    max_body: Option<SizeValue>,
    max_redirects: Option<u32>,
    user_agent: Option<String>,
    out: Option<PathBuf>,
    format: Option<String>,
    warc: Option<PathBuf>,
    warc_max_size: Option<SizeValue>,
    stats_json: Option<PathBuf>,
    stats_interval: Option<DurationValue>,
    verbose: Option<u8>,
    no_progress: Option<bool>,
    quiet: Option<bool>,
}

fn duration(
    key: &str,
    value: Option<DurationValue>,
    zero_ok: bool,
) -> Result<Option<Duration>, String> {
    let parse = if zero_ok { parse_delay } else { parse_duration };
    value
        .map(|v| match v {
            DurationValue::Seconds(secs) => parse(&secs.to_string()),
            DurationValue::Text(text) => parse(&text),
        })
        .transpose()
        .map_err(|e| format!("`{key}`: {e}"))
}

fn size(key: &str, value: Option<SizeValue>) -> Result<Option<u64>, String> {
    value
        .map(|v| match v {
            SizeValue::Bytes(n) => Ok(n),
            SizeValue::Text(text) => parse_size(&text),
        })
        .transpose()
        .map_err(|e| format!("`{key}`: {e}"))
}

/// Whether an environment variable is set (non-empty): it then wins over the file.
fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Fills the options the flags left unset from the config file, except those an
/// environment variable sets (the builder reads those).
///
/// # Errors
/// A message naming the file and the problem: unreadable, not TOML, an unknown key, or a
/// bad value.
pub(crate) fn apply_file(args: &mut CrawlArgs, path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: FileConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |e: String| format!("{}: {e}", path.display());

    if args.seeds.is_empty() {
        args.seeds = file.seeds.unwrap_or_default();
    }
    if args.scope.is_none() {
        args.scope = file
            .scope
            .map(|s| parse_scope(&s))
            .transpose()
            .map_err(|e| bad(format!("`scope`: {e}")))?;
    }
    if args.include.is_empty() {
        args.include = file.include.unwrap_or_default();
    }
    if args.exclude.is_empty() {
        args.exclude = file.exclude.unwrap_or_default();
    }
    if args.sitemap_urls.is_empty() {
        args.sitemap_urls = file.sitemap.unwrap_or_default();
    }
    args.max_depth = args.max_depth.or(file.max_depth);
    args.max_pages = args.max_pages.or(file.max_pages);
    args.autothrottle |= file.autothrottle.unwrap_or(false);
    args.ignore_robots |= file.ignore_robots.unwrap_or(false);
    args.deny_private_ips |= file.deny_private_ips.unwrap_or(false);
    args.no_progress |= file.no_progress.unwrap_or(false);
    args.quiet |= file.quiet.unwrap_or(false);
    if args.verbose == 0 {
        args.verbose = file.verbose.unwrap_or(0);
    }
    args.max_crawl_delay =
        args.max_crawl_delay
            .or(duration("max-crawl-delay", file.max_crawl_delay, true).map_err(bad)?);
    args.sitemaps = args.sitemaps.or(file.sitemaps);
    args.retries = args.retries.or(file.retries);
    args.max_url_length = args.max_url_length.or(file.max_url_length);
    args.max_pages_per_host = args.max_pages_per_host.or(file.max_pages_per_host);
    args.timeout = args
        .timeout
        .or(duration("timeout", file.timeout, false).map_err(bad)?);
    args.max_body = args
        .max_body
        .or(size("max-body", file.max_body).map_err(bad)?);
    args.max_redirects = args.max_redirects.or(file.max_redirects);
    args.user_agent = args.user_agent.take().or(file.user_agent);
    args.out = args.out.take().or(file.out);
    args.warc = args.warc.take().or(file.warc);
    args.warc_max_size = args
        .warc_max_size
        .or(size("warc-max-size", file.warc_max_size).map_err(bad)?);
    args.stats_json = args.stats_json.take().or(file.stats_json);
    args.stats_interval =
        args.stats_interval
            .or(duration("stats-interval", file.stats_interval, false).map_err(bad)?);
    if args.format.is_none() {
        match file.format.as_deref() {
            None | Some("jsonl" | "csv") => args.format = file.format,
            Some(other) => return Err(bad(format!("`format`: `{other}` is not jsonl or csv"))),
        }
    }

    // Knobs with an environment variable: the variable wins over the file.
    if args.concurrency.is_none() && !env_set(crate::ENV_CONCURRENCY) {
        args.concurrency = file.concurrency;
    }
    if args.per_host.is_none() && !env_set(crate::ENV_PER_HOST) {
        args.per_host = file.per_host;
    }
    if args.fetch_threads.is_none() && !env_set(crate::ENV_FETCH_THREADS) {
        args.fetch_threads = file.fetch_threads;
    }
    if args.parse_threads.is_none() && !env_set(crate::ENV_PARSE_THREADS) {
        args.parse_threads = file.parse_threads;
    }
    if args.delay.is_none() && !env_set(crate::ENV_DELAY) {
        args.delay = duration("delay", file.delay, true).map_err(bad)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("arachne-config-{name}-{}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn file_fills_what_flags_leave() {
        let path = write(
            "fill",
            r#"
            seeds = ["http://a.test/"]
            scope = "domain"
            max-depth = 3
            timeout = "5s"
            max-body = "1MiB"
            include = ["/docs/"]
            ignore-robots = true
            stats-interval = 10
            "#,
        );
        let mut args = CrawlArgs {
            max_depth: Some(1),
            ..CrawlArgs::default()
        };
        apply_file(&mut args, &path).unwrap();
        assert_eq!(args.seeds, ["http://a.test/"]);
        assert_eq!(args.scope, Some(crate::Scope::Domain));
        assert_eq!(args.max_depth, Some(1), "the flag wins");
        assert_eq!(args.timeout, Some(Duration::from_secs(5)));
        assert_eq!(args.max_body, Some(1024 * 1024));
        assert_eq!(args.include, ["/docs/"]);
        assert!(args.ignore_robots);
        assert_eq!(args.stats_interval, Some(Duration::from_secs(10)));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let path = write("unknown", "max-dept = 3\n");
        let err = apply_file(&mut CrawlArgs::default(), &path).unwrap_err();
        assert!(err.contains("max-dept"), "{err}");
        let path2 = write("bad", "timeout = \"soon\"\n");
        let err = apply_file(&mut CrawlArgs::default(), &path2).unwrap_err();
        assert!(err.contains("timeout"), "{err}");
        std::fs::remove_file(path).unwrap();
        std::fs::remove_file(path2).unwrap();
    }
}
