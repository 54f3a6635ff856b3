//! The `--config` file and the environment, and their merge with the flags: flags, then
//! environment variables, then the file, then defaults. Every value, wherever it comes
//! from, is read by the parser of its flag, and an error names the option as the user
//! wrote it: the flag (clap), the variable, or the key of the file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::args::{CrawlArgs, count, duration, parse_field, parse_header, parse_scope, size};
use crate::config::settings;

/// A number or a text in the config file: `delay = 0.5`, `delay = "500ms"`, `per-host = 4`.
/// Either is read by the option's own parser, from its text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Value {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Integer(n) => n.to_string(),
            // Plain decimals as written (`0.5`, `0.0000001`); huge and non-finite ones as
            // `1e30`, `NaN`, `inf`, so that their errors quote what the file says.
            Value::Float(f) if f.is_finite() && f.abs() < 1e15 => f.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Text(text) => text.clone(),
        }
    }
}

/// The options a config file may set: the long flags, without their dashes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    seeds: Option<Vec<String>>,
    scope: Option<String>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    max_depth: Option<Value>,
    max_pages: Option<Value>,
    concurrency: Option<Value>,
    per_host: Option<Value>,
    delay: Option<Value>,
    autothrottle: Option<bool>,
    ignore_robots: Option<bool>,
    max_crawl_delay: Option<Value>,
    sitemaps: Option<bool>,
    sitemap: Option<Vec<String>>,
    retries: Option<Value>,
    max_url_length: Option<Value>,
    max_pages_per_host: Option<Value>,
    deny_private_ips: Option<bool>,
    header: Option<Vec<String>>,
    no_cookies: Option<bool>,
    extract: Option<Vec<String>>,
    items: Option<PathBuf>,
    items_format: Option<String>,
    close_after_items: Option<Value>,
    close_after_errors: Option<Value>,
    close_after: Option<Value>,
    fetch_threads: Option<Value>,
    parse_threads: Option<Value>,
    timeout: Option<Value>,
    max_body: Option<Value>,
    max_redirects: Option<Value>,
    user_agent: Option<String>,
    out: Option<PathBuf>,
    format: Option<String>,
    warc: Option<PathBuf>,
    warc_max_size: Option<Value>,
    stats_json: Option<PathBuf>,
    state: Option<PathBuf>,
    force: Option<bool>,
    redis: Option<String>,
    crawl_id: Option<String>,
    worker: Option<String>,
    lease: Option<Value>,
    stats_interval: Option<Value>,
    verbose: Option<u8>,
    no_progress: Option<bool>,
    quiet: Option<bool>,
}

/// Reads the environment variable `name` with `parse`, as `var` finds it: `None` when it
/// is unset or empty.
fn env_value<T>(
    name: &str,
    var: &dyn Fn(&str) -> Option<OsString>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    let Some(value) = var(name) else {
        return Ok(None);
    };
    let value = value
        .into_string()
        .map_err(|_| format!("{name} is not valid UTF-8"))?;
    if value.trim().is_empty() {
        return Ok(None);
    }
    parse(&value)
        .map(Some)
        .map_err(|e| format!("{name}={value}: {e}"))
}

/// Fills the knobs that the flags left unset from their `ARACHNE_*` variables, which
/// `var` reads (the process environment, or a test's).
///
/// # Errors
/// A message naming the variable and what is wrong with its value.
pub(crate) fn apply_env(
    args: &mut CrawlArgs,
    var: &dyn Fn(&str) -> Option<OsString>,
) -> Result<(), String> {
    if args.concurrency.is_none() {
        args.concurrency = env_value(
            crate::config::ENV_CONCURRENCY,
            var,
            count(settings::CONCURRENCY),
        )?;
    }
    if args.per_host.is_none() {
        args.per_host = env_value(crate::config::ENV_PER_HOST, var, count(settings::PER_HOST))?;
    }
    if args.fetch_threads.is_none() {
        args.fetch_threads = env_value(
            crate::config::ENV_FETCH_THREADS,
            var,
            count(settings::FETCH_THREADS),
        )?;
    }
    if args.parse_threads.is_none() {
        args.parse_threads = env_value(
            crate::config::ENV_PARSE_THREADS,
            var,
            count(settings::PARSE_THREADS),
        )?;
    }
    if args.delay.is_none() {
        args.delay = env_value(crate::config::ENV_DELAY, var, duration(settings::DELAY))?;
    }
    Ok(())
}

/// Reads a file value with its option's parser; errors name the key.
fn value<T>(
    key: &str,
    value: Option<Value>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    value
        .map(|v| parse(&v.text()))
        .transpose()
        .map_err(|e| format!("`{key}`: {e}"))
}

/// Fills the options that flags and environment left unset from the config file.
///
/// # Errors
/// A message naming the file and the problem: unreadable, not TOML, an unknown key, or a
/// bad value (naming the key).
pub(crate) fn apply_file(args: &mut CrawlArgs, path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    apply_text(args, &text, path)
}

/// [`apply_file`] on the file's text.
fn apply_text(args: &mut CrawlArgs, text: &str, path: &Path) -> Result<(), String> {
    let file: FileConfig = toml::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
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
    args.autothrottle |= file.autothrottle.unwrap_or(false);
    args.ignore_robots |= file.ignore_robots.unwrap_or(false);
    args.deny_private_ips |= file.deny_private_ips.unwrap_or(false);
    args.no_progress |= file.no_progress.unwrap_or(false);
    args.no_cookies |= file.no_cookies.unwrap_or(false);
    if args.headers.is_empty() {
        args.headers = file
            .header
            .unwrap_or_default()
            .iter()
            .map(|h| parse_header(h))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("`header`: {e}")))?;
    }
    if args.fields.is_empty() {
        args.fields = file
            .extract
            .unwrap_or_default()
            .iter()
            .map(|f| parse_field(f))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("`extract`: {e}")))?;
    }
    args.items = args.items.take().or(file.items);
    if args.items_format.is_none() {
        match file.items_format.as_deref() {
            None | Some("jsonl" | "csv") => args.items_format = file.items_format,
            Some(other) => {
                return Err(bad(format!(
                    "`items-format`: `{other}` is not jsonl or csv"
                )));
            }
        }
    }
    args.quiet |= file.quiet.unwrap_or(false);
    if args.verbose == 0 {
        args.verbose = file.verbose.unwrap_or(0);
    }
    args.sitemaps = args.sitemaps.or(file.sitemaps);
    args.user_agent = args.user_agent.take().or(file.user_agent);
    args.out = args.out.take().or(file.out);
    args.warc = args.warc.take().or(file.warc);
    args.stats_json = args.stats_json.take().or(file.stats_json);
    args.state = args.state.take().or(file.state);
    args.force |= file.force.unwrap_or(false);
    args.redis = args.redis.take().or(file.redis);
    args.crawl_id = args.crawl_id.take().or(file.crawl_id);
    args.worker = args.worker.take().or(file.worker);
    if args.format.is_none() {
        match file.format.as_deref() {
            None | Some("jsonl" | "csv") => args.format = file.format,
            Some(other) => return Err(bad(format!("`format`: `{other}` is not jsonl or csv"))),
        }
    }

    macro_rules! fill {
        ($($field:ident: $key:literal => $parse:expr,)*) => {
            $(
                if args.$field.is_none() {
                    args.$field = value($key, file.$field, $parse).map_err(bad)?;
                }
            )*
        };
    }
    fill! {
        max_depth: "max-depth" => count(settings::MAX_DEPTH),
        max_pages: "max-pages" => count(settings::MAX_PAGES),
        concurrency: "concurrency" => count(settings::CONCURRENCY),
        per_host: "per-host" => count(settings::PER_HOST),
        fetch_threads: "fetch-threads" => count(settings::FETCH_THREADS),
        parse_threads: "parse-threads" => count(settings::PARSE_THREADS),
        retries: "retries" => count(settings::RETRIES),
        max_redirects: "max-redirects" => count(settings::MAX_REDIRECTS),
        max_url_length: "max-url-length" => count(settings::MAX_URL_LENGTH),
        max_pages_per_host: "max-pages-per-host" => count(settings::MAX_PAGES),
        delay: "delay" => duration(settings::DELAY),
        max_crawl_delay: "max-crawl-delay" => duration(settings::MAX_CRAWL_DELAY),
        timeout: "timeout" => duration(settings::TIMEOUT),
        stats_interval: "stats-interval" => duration(settings::STATS_INTERVAL),
        max_body: "max-body" => size(settings::MAX_BODY),
        close_after_items: "close-after-items" => count(settings::MAX_PAGES),
        close_after_errors: "close-after-errors" => count(settings::MAX_PAGES),
        close_after: "close-after" => duration(settings::TIMEOUT),
        warc_max_size: "warc-max-size" => size(settings::WARC_MAX_SIZE),
        lease: "lease" => duration(settings::LEASE),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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

/// Generated values never panic, and each is either accepted within the option's range or
/// refused with a message naming the option as the user wrote it: the flag, the variable
/// or the key. The three sources share one parser per option.
#[cfg(test)]
mod properties {
    use std::time::Duration;

    use arachne_core::settings::{CountRange, DurationRange, SizeRange};
    use clap::Parser;
    use proptest::prelude::*;

    use super::*;
    use crate::cli::args::{Cli, Command};

    #[derive(Clone, Copy)]
    enum Range {
        Duration(DurationRange),
        Size(SizeRange),
        Count(CountRange),
    }

    /// A numeric option: its flag (and config key), its variable, its range, and where
    /// its value lands.
    struct Opt {
        key: &'static str,
        env: Option<&'static str>,
        range: Range,
        value: fn(&CrawlArgs) -> Option<u128>,
    }

    const fn opt(
        key: &'static str,
        env: Option<&'static str>,
        range: Range,
        value: fn(&CrawlArgs) -> Option<u128>,
    ) -> Opt {
        Opt {
            key,
            env,
            range,
            value,
        }
    }

    fn nanos(d: Option<Duration>) -> Option<u128> {
        d.map(|d| d.as_nanos())
    }

    const OPTIONS: [Opt; 16] = [
        opt(
            "delay",
            Some(crate::config::ENV_DELAY),
            Range::Duration(settings::DELAY),
            |a| nanos(a.delay),
        ),
        opt(
            "max-crawl-delay",
            None,
            Range::Duration(settings::MAX_CRAWL_DELAY),
            |a| nanos(a.max_crawl_delay),
        ),
        opt("timeout", None, Range::Duration(settings::TIMEOUT), |a| {
            nanos(a.timeout)
        }),
        opt(
            "stats-interval",
            None,
            Range::Duration(settings::STATS_INTERVAL),
            |a| nanos(a.stats_interval),
        ),
        opt("max-body", None, Range::Size(settings::MAX_BODY), |a| {
            a.max_body.map(u128::from)
        }),
        opt(
            "warc-max-size",
            None,
            Range::Size(settings::WARC_MAX_SIZE),
            |a| a.warc_max_size.map(u128::from),
        ),
        opt(
            "concurrency",
            Some(crate::config::ENV_CONCURRENCY),
            Range::Count(settings::CONCURRENCY),
            |a| a.concurrency.map(|n| n as u128),
        ),
        opt(
            "per-host",
            Some(crate::config::ENV_PER_HOST),
            Range::Count(settings::PER_HOST),
            |a| a.per_host.map(|n| n as u128),
        ),
        opt(
            "fetch-threads",
            Some(crate::config::ENV_FETCH_THREADS),
            Range::Count(settings::FETCH_THREADS),
            |a| a.fetch_threads.map(|n| n as u128),
        ),
        opt(
            "parse-threads",
            Some(crate::config::ENV_PARSE_THREADS),
            Range::Count(settings::PARSE_THREADS),
            |a| a.parse_threads.map(|n| n as u128),
        ),
        opt("max-depth", None, Range::Count(settings::MAX_DEPTH), |a| {
            a.max_depth.map(u128::from)
        }),
        opt("max-pages", None, Range::Count(settings::MAX_PAGES), |a| {
            a.max_pages.map(u128::from)
        }),
        opt(
            "max-pages-per-host",
            None,
            Range::Count(settings::MAX_PAGES),
            |a| a.max_pages_per_host.map(u128::from),
        ),
        opt("retries", None, Range::Count(settings::RETRIES), |a| {
            a.retries.map(u128::from)
        }),
        opt(
            "max-redirects",
            None,
            Range::Count(settings::MAX_REDIRECTS),
            |a| a.max_redirects.map(u128::from),
        ),
        opt(
            "max-url-length",
            None,
            Range::Count(settings::MAX_URL_LENGTH),
            |a| a.max_url_length.map(|n| n as u128),
        ),
    ];

    fn within(range: Range, value: u128) -> bool {
        match range {
            Range::Duration(r) => r.min.as_nanos() <= value && value <= r.max.as_nanos(),
            Range::Size(r) => u128::from(r.min) <= value && value <= u128::from(r.max),
            Range::Count(r) => u128::from(r.min) <= value && value <= u128::from(r.max),
        }
    }

    /// Checks one source's outcome for an option.
    fn judge(
        opt: &Opt,
        outcome: Result<CrawlArgs, String>,
        name: &str,
    ) -> Result<(), TestCaseError> {
        match outcome {
            Ok(args) => {
                if let Some(value) = (opt.value)(&args) {
                    prop_assert!(
                        within(opt.range, value),
                        "{} accepted {} out of range",
                        name,
                        value
                    );
                }
            }
            Err(message) => prop_assert!(
                message.contains(name),
                "{:?} does not name {}",
                message,
                name
            ),
        }
        Ok(())
    }

    fn flag(opt: &Opt, text: &str) -> Result<CrawlArgs, String> {
        let flag = format!("--{}={text}", opt.key);
        match Cli::try_parse_from(["arachne", "crawl", flag.as_str()]) {
            Ok(cli) => match cli.command {
                Command::Crawl(args) => Ok(*args),
                Command::Work(_) | Command::State(_) => Err("not a crawl".into()),
            },
            Err(e) => Err(e.to_string()),
        }
    }

    fn env(name: &str, text: &str) -> Result<CrawlArgs, String> {
        let mut args = CrawlArgs::default();
        let var = |asked: &str| (asked == name).then(|| OsString::from(text));
        apply_env(&mut args, &var).map(|()| args)
    }

    fn file(toml: &str) -> Result<CrawlArgs, String> {
        let mut args = CrawlArgs::default();
        apply_text(&mut args, toml, Path::new("test.toml")).map(|()| args)
    }

    /// A TOML basic string holding `text`.
    fn toml_string(text: &str) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn value_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[-+ .0-9eEinfaNKkMmGgTtBbiIshd]{0,16}",
            any::<f64>().prop_map(|f| f.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            (any::<u64>(), "(|ms|s|m|h|d|B|KB|KiB|MiB|GiB|x)").prop_map(|(n, u)| format!("{n}{u}")),
            (0u32..100, "(ms|s|m|h)", 0u32..100, "(ms|s|m|h)")
                .prop_map(|(a, u, b, v)| format!("{a}{u}{b}{v}")),
        ]
    }

    proptest! {
        #[test]
        fn flags_environment_and_file_agree(index in 0..OPTIONS.len(), text in value_text()) {
            let opt = &OPTIONS[index];
            judge(opt, flag(opt, &text), &format!("--{}", opt.key))?;
            if let Some(name) = opt.env {
                judge(opt, env(name, &text), name)?;
            }
            let key = format!("`{}`", opt.key);
            judge(opt, file(&format!("{} = {}\n", opt.key, toml_string(&text))), &key)?;
        }

        #[test]
        fn file_numbers_are_checked_too(index in 0..OPTIONS.len(), int in any::<i64>(), float in any::<f64>()) {
            let opt = &OPTIONS[index];
            let key = format!("`{}`", opt.key);
            judge(opt, file(&format!("{} = {int}\n", opt.key)), &key)?;
            // TOML spells the non-finite floats its own way.
            let float = if float.is_nan() { "nan".to_owned() } else if float.is_infinite() {
                if float > 0.0 { "inf".to_owned() } else { "-inf".to_owned() }
            } else {
                format!("{float:?}")
            };
            judge(opt, file(&format!("{} = {float}\n", opt.key)), &key)?;
        }

        #[test]
        fn the_same_text_means_the_same_everywhere(text in value_text()) {
            // Durations: the flag and the variable read `--delay` alike.
            let opt = &OPTIONS[0];
            let from_flag = flag(opt, &text).map(|a| a.delay);
            let from_env = env(crate::config::ENV_DELAY, &text).map(|a| a.delay);
            if text.trim().is_empty() {
                prop_assert!(from_env.is_ok_and(|d| d.is_none()), "an empty variable is unset");
            } else {
                prop_assert_eq!(from_flag.ok(), from_env.ok());
            }
        }
    }
}
