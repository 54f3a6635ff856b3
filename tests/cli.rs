use std::process::Command;

use arachne_testkit::SyntheticSite;
use serde_json::Value;

use crate::support::arachne;

const FIELDS: [&str; 16] = [
    "url",
    "final_url",
    "status",
    "depth",
    "parent",
    "content_type",
    "bytes",
    "truncated",
    "links",
    "new_links",
    "redirects",
    "attempts",
    "elapsed_ms",
    "fetched_at",
    "method",
    "error",
];

#[test]
fn crawl_writes_a_complete_json_line_per_url() {
    let site = SyntheticSite::new(120, 3);
    let server = site.serve();
    let dir = std::env::temp_dir().join(format!("arachne-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("pages.jsonl");
    let output = arachne(
        &[
            "crawl",
            &server.url("/page/0"),
            "--out",
            out.to_str().unwrap(),
            "--no-progress",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("crawled 120 pages"), "{stderr}");

    let text = std::fs::read_to_string(&out).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("valid JSON"))
        .collect();
    assert_eq!(records.len(), 120);
    for record in &records {
        let object = record.as_object().unwrap();
        for field in FIELDS {
            assert!(object.contains_key(field), "{field} missing in {record}");
        }
        assert_eq!(record["status"], 200);
        assert!(record["error"].is_null());
        assert!(humantime::parse_rfc3339(record["fetched_at"].as_str().unwrap()).is_ok());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn records_to_stdout_and_quiet() {
    let server = SyntheticSite::new(20, 2).serve();
    let output = arachne(
        &[
            "crawl",
            &server.url("/page/0"),
            "--out",
            "-",
            "--quiet",
            "--max-pages",
            "7",
        ],
        &[],
    );
    assert!(output.status.success());
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 7);
}

#[test]
fn knobs_from_flags_and_environment() {
    let server = SyntheticSite::new(30, 2).serve();
    let env = [
        ("ARACHNE_FETCH_THREADS", "2"),
        ("ARACHNE_PARSE_THREADS", "1"),
        ("ARACHNE_CONCURRENCY", "3"),
    ];
    let output = arachne(
        &[
            "crawl",
            &server.url("/page/0"),
            "--per-host",
            "2",
            "--no-progress",
        ],
        &env,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("crawled 30 pages"));
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 6] = [
        (&["crawl", "not a url"], &[], "not a valid URL"),
        (&["crawl", "ftp://127.0.0.1/"], &[], "only http and https"),
        (
            &["crawl", "http://127.0.0.1:1/", "--include", "("],
            &[],
            "invalid include pattern",
        ),
        (
            &["crawl", "http://127.0.0.1:1/", "--scope", "planet"],
            &[],
            "unknown scope",
        ),
        (
            &["crawl", "http://127.0.0.1:1/", "--concurrency", "0"],
            &[],
            "at least 1",
        ),
        (
            &["crawl", "http://127.0.0.1:1/"],
            &[("ARACHNE_PARSE_THREADS", "many")],
            "ARACHNE_PARSE_THREADS",
        ),
    ];
    for (args, env, message) in cases {
        let output = arachne(args, env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let output = arachne(&["crawl"], &[]);
    assert_eq!(output.status.code(), Some(2), "no seed");
}

#[test]
fn politeness_flags() {
    use arachne_testkit::{Response, TestServer};
    let server = TestServer::start(|req| {
        let base = format!("http://{}", req.host());
        match req.path() {
            "/robots.txt" => Response::status(200).body("User-agent: *\nDisallow: /\n"),
            "/sitemap.txt" => {
                Response::status(200).body(format!("{base}/orphan\n{base}/orphan2\n"))
            }
            _ => Response::html("page"),
        }
    });
    let seed = server.url("/");
    let sitemap = server.url("/sitemap.txt");
    let output = arachne(
        &[
            "crawl",
            &seed,
            "--ignore-robots",
            "--sitemap",
            &sitemap,
            "--retries",
            "0",
            "--max-pages-per-host",
            "2",
            "--delay",
            "0",
            "--out",
            "-",
            "--quiet",
        ],
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        records.len(),
        2,
        "the seed and one sitemap URL, within the budget of 2"
    );
    assert_eq!(server.hits("/robots.txt"), 0);

    let output = arachne(
        &[
            "crawl",
            &seed,
            "--deny-private-ips",
            "--out",
            "-",
            "--quiet",
        ],
        &[],
    );
    assert!(output.status.success());
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(record["error"]["kind"], "denied_address");

    let output = arachne(&["crawl", &seed, "--sitemaps", "maybe"], &[]);
    assert_eq!(output.status.code(), Some(2));
}

/// Starts a crawl of a slow 2,000-page site writing to a file, and waits until it has
/// written some records. Returns the child and the output path.
fn start_long_crawl(
    server: &arachne_testkit::TestServer,
    name: &str,
) -> (std::process::Child, std::path::PathBuf) {
    use std::process::Stdio;
    let dir = std::env::temp_dir().join(format!("arachne-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("pages.jsonl");
    let child = Command::new(env!("CARGO_BIN_EXE_arachne"))
        .args([
            "crawl",
            &server.url("/page/0"),
            "--out",
            out.to_str().unwrap(),
            "--no-progress",
            "--per-host",
            "4",
        ])
        .env("ARACHNE_DELAY", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + crate::support::HANG_GUARD;
    while std::fs::read_to_string(&out).map_or(0, |t| t.lines().count()) < 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "the crawl wrote nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (child, out)
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn slow_site() -> arachne_testkit::TestServer {
    use arachne_testkit::{Behavior, TestServer};
    let site = SyntheticSite::new(2000, 3);
    TestServer::start(move |req| {
        site.respond(req)
            .behave(Behavior::Slow(std::time::Duration::from_millis(20)))
    })
}

/// Every line is a whole JSON record.
fn read_records(out: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(out).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the last record is complete"
    );
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a whole JSON record"))
        .collect()
}

/// Starts a long crawl, sends it `signals` (5 ms apart), and waits for it to exit with 130.
/// Returns its stderr and the records it wrote, each checked to be whole.
fn interrupt(name: &str, signals: &[&str]) -> (String, Vec<Value>) {
    let server = slow_site();
    let (child, out) = start_long_crawl(&server, name);
    for (i, name) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        signal(&child, name);
    }
    let output = crate::support::run_guarded(move || child.wait_with_output().unwrap());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    let records = read_records(&out);
    std::fs::remove_dir_all(out.parent().unwrap()).unwrap();
    (stderr, records)
}

#[test]
fn first_signal_stops_gracefully() {
    let (stderr, records) = interrupt("sigint", &["INT"]);
    assert!(stderr.contains("ended    stopped: a signal"), "{stderr}");
    assert!(records.len() < 2000);
    assert!(
        stderr.contains(&format!("crawled {} pages", records.len())),
        "every fetched page is written: {stderr}"
    );
}

#[test]
fn sigterm_stops_gracefully_too() {
    let (stderr, records) = interrupt("sigterm", &["TERM"]);
    assert!(stderr.contains(&format!("crawled {} pages", records.len())));
}

#[test]
fn second_signal_quits_at_once_without_torn_records() {
    interrupt("sigint2", &["INT", "INT"]);
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("arachne-{name}-{}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn config_file_with_flag_and_environment_precedence() {
    let server = SyntheticSite::new(30, 2).serve();
    let config = temp_file(
        "config.toml",
        &format!(
            "seeds = [\"{}\"]\nmax-pages = 5\nmax-depth = 0\nper-host = 1\nout = \"-\"\nformat = \"csv\"\nquiet = true\n",
            server.url("/page/0")
        ),
    );
    let config_arg = config.to_str().unwrap();
    // The file alone: 5 pages as CSV.
    let output = arachne(
        &["crawl", "--config", config_arg],
        &[("ARACHNE_PER_HOST", "")],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("url,final_url,"));
    assert_eq!(
        text.split("\r\n").filter(|l| !l.is_empty()).count(),
        1 + 1,
        "depth 0: the seed"
    );
    // A flag wins over the file.
    let output = arachne(
        &[
            "crawl",
            "--config",
            config_arg,
            "--max-depth",
            "5",
            "--format",
            "jsonl",
        ],
        &[],
    );
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 5);
    // The environment wins over the file: a bad value there is reported, not the file's.
    let output = arachne(
        &["crawl", "--config", config_arg],
        &[("ARACHNE_PER_HOST", "0")],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ARACHNE_PER_HOST"));
    std::fs::remove_file(config).unwrap();
}

#[test]
fn config_file_errors_name_the_key() {
    let config = temp_file(
        "bad.toml",
        "seeds = [\"http://127.0.0.1:1/\"]\nmax-dpth = 2\n",
    );
    let output = arachne(&["crawl", "--config", config.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max-dpth"), "{stderr}");
    std::fs::remove_file(config).unwrap();
}

#[test]
fn stats_json_progress_lines_and_logs() {
    use arachne_testkit::{Behavior, TestServer};
    let site = SyntheticSite::new(40, 2);
    let server = TestServer::start(move |req| {
        site.respond(req)
            .behave(Behavior::Slow(std::time::Duration::from_millis(30)))
    });
    let stats = temp_file("stats.json", "");
    let output = arachne(
        &[
            "crawl",
            &server.url("/page/0"),
            "--per-host",
            "1",
            "--stats-interval",
            "100ms",
            "--stats-json",
            stats.to_str().unwrap(),
            "-v",
        ],
        &[],
    );
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("crawled ") && l.contains(" pages/s), queued "))
        .expect("a progress line");
    assert!(
        line.contains(", queued ") && line.contains(", in flight ") && line.contains(", errors 0"),
        "{line}"
    );
    assert!(
        stderr.contains("crawl started"),
        "-v shows info logs: {stderr}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(report["pages"], 40);
    assert_eq!(report["by_status"]["200"], 40);
    assert!(report["pages_per_sec"].as_f64().unwrap() > 0.0);
    std::fs::remove_file(stats).unwrap();
}

#[test]
fn extract_fields_into_items_with_headers_and_an_item_limit() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    let site = SyntheticSite::new(60, 3);
    let server = arachne_testkit::TestServer::start(move |req| {
        log.lock()
            .unwrap()
            .push(req.header("x-token").unwrap_or("").to_owned());
        site.respond(req)
    });
    let output = arachne(
        &[
            "crawl",
            &server.url("/page/0"),
            "--extract",
            "title=h1",
            "--extract",
            "first_link=a@href",
            "--items",
            "-",
            "--close-after-items",
            "10",
            "-H",
            "X-Token: secret",
            "--no-progress",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let items: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(items.len(), 10, "exactly the item limit");
    for item in &items {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["url", "title", "first_link"]);
        assert!(item["title"].as_str().unwrap().starts_with("Page "));
    }
    assert!(stderr.contains("items    10 Extracted"), "{stderr}");
    let link = items[0]["first_link"].as_str().unwrap();
    assert!(
        link.starts_with("http://127.0.0.1:"),
        "links are absolute: {link}"
    );
    assert!(stderr.contains("ended    item limit reached"), "{stderr}");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .filter(|t| *t == "secret")
            .count()
            >= 10,
        "the header went with the page requests"
    );
}

#[test]
fn items_as_csv_from_a_config_file() {
    let server = SyntheticSite::new(5, 2).serve();
    let config = temp_file(
        "items.toml",
        &format!(
            "seeds = [\"{}\"]\nextract = [\"title=h1\"]\nitems = \"-\"\nitems-format = \"csv\"\nquiet = true\n",
            server.url("/page/0")
        ),
    );
    let output = arachne(&["crawl", "--config", config.to_str().unwrap()], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("url,title\r\n"), "{text}");
    assert_eq!(text.lines().count(), 6);
    std::fs::remove_file(config).unwrap();
}
