//! Bad settings from flags, the environment and the config file: each is refused before
//! the crawl starts, with exit status 2 and a message naming the option as it was written.

use arachne_testkit::{Routes, SyntheticSite};

use crate::support::arachne;

/// Runs `arachne crawl SEED ARGS` with `env` against a server that must never be asked
/// anything, and checks the exit status and that stderr names `what`.
fn refused(args: &[&str], env: &[(&str, &str)], what: &[&str]) {
    let server = Routes::new().page("/", "never fetched").serve();
    let seed = server.url("/");
    let mut all = vec!["crawl", seed.as_str()];
    all.extend_from_slice(args);
    let output = arachne(&all, env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
    for text in what {
        assert!(
            stderr.contains(text),
            "{args:?} {env:?}: {text:?} not in {stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        server.total_requests(),
        0,
        "{args:?}: refused before crawling"
    );
}

#[test]
fn huge_durations_are_usage_errors() {
    for flag in [
        "--timeout",
        "--delay",
        "--max-crawl-delay",
        "--stats-interval",
    ] {
        refused(&[flag, "1e30"], &[], &[flag, "`1e30` is not a duration"]);
        refused(
            &[flag, "99999999999999999999999"],
            &[],
            &[flag, "too long a duration"],
        );
        refused(&[flag, "2d"], &[], &[flag, "must be at most 1d"]);
    }
    refused(&["--delay", "1e19"], &[], &["--delay"]);
    refused(&["--timeout", "0"], &[], &["--timeout", "more than zero"]);
    refused(&["--delay=-1s"], &[], &["--delay", "negative"]);
}

#[test]
fn bad_environment_values_name_the_variable() {
    refused(&[], &[("ARACHNE_DELAY", "1e30")], &["ARACHNE_DELAY=1e30"]);
    refused(&[], &[("ARACHNE_DELAY", "NaN")], &["ARACHNE_DELAY"]);
    refused(
        &[],
        &[("ARACHNE_FETCH_THREADS", "0")],
        &["ARACHNE_FETCH_THREADS", "at least 1"],
    );
    refused(
        &[],
        &[("ARACHNE_CONCURRENCY", "many")],
        &["ARACHNE_CONCURRENCY", "not a whole number"],
    );
}

#[test]
fn bad_config_values_name_the_key() {
    let dir = std::env::temp_dir().join(format!("arachne-usage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (line, key)) in [
        ("timeout = 1e30", "`timeout`"),
        ("max-crawl-delay = \"1e30\"", "`max-crawl-delay`"),
        ("max-body = \"2GiB\"", "`max-body`"),
        ("fetch-threads = 5000", "`fetch-threads`"),
        ("max-pages = 0", "`max-pages`"),
        ("retries = -1", "`retries`"),
        ("stats-interval = nan", "`stats-interval`"),
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.join(format!("{i}.toml"));
        std::fs::write(&path, format!("{line}\n")).unwrap();
        refused(&["--config", path.to_str().unwrap()], &[], &[key]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn thread_counts_are_capped() {
    refused(
        &["--fetch-threads", "5000"],
        &[],
        &["--fetch-threads", "at most 64"],
    );
    refused(
        &["--parse-threads", "5000"],
        &[],
        &["--parse-threads", "at most 256"],
    );
}

#[test]
fn zero_is_refused_for_limits_and_errors_name_the_flag() {
    for flag in [
        "--max-pages",
        "--max-pages-per-host",
        "--concurrency",
        "--per-host",
        "--fetch-threads",
        "--max-body",
        "--max-url-length",
    ] {
        refused(&[flag, "0"], &[], &[flag, "at least 1"]);
    }
    refused(
        &["--max-body", "2GiB"],
        &[],
        &["--max-body", "at most 1GiB"],
    );
}

#[test]
fn options_that_need_another_are_refused() {
    refused(&["--format", "csv"], &[], &["--format needs --out"]);
    refused(&["--extract", "t=h1"], &[], &["--extract needs --items"]);
    refused(&["--items", "-"], &[], &["--items needs --extract"]);
    refused(
        &["--extract", "t=[["],
        &[],
        &["--extract", "not a CSS selector"],
    );
    refused(&["-H", "no colon"], &[], &["--header", "NAME: VALUE"]);
    refused(
        &["--warc-max-size", "1GB"],
        &[],
        &["--warc-max-size needs --warc"],
    );
}

#[test]
fn zero_means_none_where_it_makes_sense() {
    let server = SyntheticSite::new(5, 2).serve();
    let output = arachne(
        &[
            "crawl",
            &server.url("/page/0"),
            "--delay",
            "0",
            "--max-crawl-delay",
            "0",
            "--retries",
            "0",
            "--max-redirects",
            "0",
            "--max-depth",
            "0",
            "--out",
            "-",
            "-q",
        ],
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
}

#[test]
fn one_duration_syntax_everywhere() {
    let server = SyntheticSite::new(3, 1).serve();
    for env in [[("ARACHNE_DELAY", "100ms")], [("ARACHNE_DELAY", "0.1")]] {
        let output = arachne(&["crawl", &server.url("/page/0"), "--out", "-", "-q"], &env);
        assert!(
            output.status.success(),
            "{env:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 3);
    }
}

#[test]
fn unwritable_stats_json_fails_before_crawling() {
    let server = Routes::new().page("/", "never fetched").serve();
    let output = arachne(
        &[
            "crawl",
            &server.url("/"),
            "--stats-json",
            "/nonexistent-arachne-dir/stats.json",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot create /nonexistent-arachne-dir/stats.json"),
        "{stderr}"
    );
    assert_eq!(server.total_requests(), 0);
}

#[test]
fn help_shows_the_real_user_agent_and_the_value_syntax() {
    let output = arachne(&["crawl", "--help"], &[]);
    assert!(output.status.success());
    // Help text is wrapped to the terminal: compare words.
    let help = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(help.contains(arachne::config::DEFAULT_USER_AGENT), "{help}");
    assert!(!help.contains("VERSION"), "{help}");
    assert!(help.contains("Zero means"), "{help}");
}

#[test]
fn an_explicit_value_wins_over_a_bad_variable() {
    // The builder reads the environment only when asked (`from_env`, as the CLI does), and
    // a value set explicitly makes a bad variable for the same knob irrelevant.
    let server = SyntheticSite::new(2, 1).serve();
    let output = arachne(
        &["crawl", &server.url("/page/0"), "--per-host", "2", "-q"],
        &[("ARACHNE_PER_HOST", "many")],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(server.hits("/page/1"), 1);
}
