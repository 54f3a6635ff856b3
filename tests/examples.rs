use std::path::PathBuf;
use std::process::{Command, Output};

use arachne_testkit::{Response, Routes, SyntheticSite};

/// A command for an example binary that `cargo test` built beside this test binary.
fn example_command(name: &str, args: &[&str]) -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path: PathBuf = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test`",
        path.display()
    );
    let mut command = Command::new(path);
    command.args(args);
    command
}

/// Runs an example against the tests' local servers: no politeness delay.
fn example(name: &str, args: &[&str]) -> Output {
    let mut command = example_command(name, args);
    command
        .env("ARACHNE_DELAY", "0")
        .env("ARACHNE_PER_HOST", "8");
    crate::support::run_command(command)
}

/// The examples that crawl from a URL argument, with the arguments before MAX_PAGES.
const URL_EXAMPLES: [(&str, &[&str]); 6] = [
    ("basic_crawl", &[]),
    ("custom_actor", &[]),
    ("link_checker", &[]),
    ("extract_items", &[]),
    ("sitemap_crawl", &[]),
    ("warc_archive", &["arachne-example-usage.warc.gz"]),
];

#[test]
fn examples_agree_on_usage_errors() {
    for (name, more) in URL_EXAMPLES {
        // A bad seed: exit 2, with the reason and the politeness hint (the crawl would
        // have used the polite defaults).
        let mut args = vec!["not a url"];
        args.extend_from_slice(more);
        let mut command = example_command(name, &args);
        command
            .env_remove("ARACHNE_DELAY")
            .current_dir(std::env::temp_dir());
        let output = crate::support::run_command(command);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains("not a valid URL"), "{name}: {stderr}");
        assert!(stderr.contains("ARACHNE_DELAY=0"), "{name}: {stderr}");
        assert!(
            !std::env::temp_dir()
                .join(more.first().unwrap_or(&"-"))
                .exists(),
            "{name}: no output is left behind"
        );

        // A MAX_PAGES that is not a number: exit 2, never silently the default.
        let mut args = vec!["http://127.0.0.1:9/"];
        args.extend_from_slice(more);
        args.push("many");
        let output = example(name, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("MAX_PAGES: `many` is not a whole number"),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn basic_crawl() {
    let server = SyntheticSite::new(40, 2).serve();
    let output = example("basic_crawl", &[&server.url("/page/0"), "25"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 25);
    for line in stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    assert!(String::from_utf8_lossy(&output.stderr).contains("crawled 25 pages"));
}

#[test]
fn custom_actor_collects_titles() {
    let server = SyntheticSite::new(30, 2).serve();
    let output = example("custom_actor", &[&server.url("/page/0")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 30);
    for i in 0..30 {
        let line = format!("{}\tPage {i}", server.url(&SyntheticSite::path(i)));
        assert!(stdout.lines().any(|l| l == line), "missing {line:?}");
    }
}

#[test]
fn link_checker_finds_broken_links_and_referrers() {
    let server = Routes::new()
        .page(
            "/",
            r#"<a href="/ok">ok</a> <a href="/missing">missing</a> <a href="/gone">gone</a>"#,
        )
        .page(
            "/ok",
            r#"<a href="/missing">again</a> <a href="/">home</a>"#,
        )
        .route("/gone", Response::status(410))
        .serve();
    let output = example("link_checker", &[&server.url("/")]);
    assert_eq!(output.status.code(), Some(1), "broken links found");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let want = format!(
        "BROKEN 410 {gone}\n  linked from {root}\nBROKEN 404 {missing}\n  linked from {root}\n  linked from {ok}\n",
        gone = server.url("/gone"),
        missing = server.url("/missing"),
        root = server.url("/"),
        ok = server.url("/ok"),
    );
    assert_eq!(stdout, want);
}

#[test]
fn local_crawl_runs_the_cli_on_a_local_site() {
    let dir = std::env::temp_dir().join(format!("arachne-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("local_crawl");
    let mut command = Command::new(path);
    command
        .args(["--pages", "50", "--no-progress"])
        .current_dir(&dir);
    let output = crate::support::run_command(command);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("pages.jsonl"))
            .unwrap()
            .lines()
            .count(),
        50
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extract_items_writes_typed_items() {
    let server = SyntheticSite::new(20, 2).serve();
    let output = example("extract_items", &[&server.url("/page/0")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let items: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(items.len(), 20);
    for item in &items {
        let url: arachne::Url = item["url"].as_str().unwrap().parse().unwrap();
        let n = url.path().rsplit('/').next().unwrap();
        assert_eq!(item["title"], format!("Page {n}"));
        assert_eq!(item["headings"][0], format!("Page {n}"));
        assert!(item["links"].as_u64().unwrap() >= 3);
    }
}

#[test]
fn sitemap_crawl_fetches_the_listed_pages() {
    let server = arachne_testkit::TestServer::start(|req| {
        let base = format!("http://{}", req.host());
        match req.path() {
            "/sitemap.xml" => Response::status(200).body(format!(
                "<urlset><url><loc>{base}/listed/1</loc></url><url><loc>{base}/listed/2</loc></url></urlset>"
            )),
            "/" => Response::html("<a href=\"/not-listed\">x</a>"),
            _ => Response::html("listed"),
        }
    });
    let output = example("sitemap_crawl", &[&server.url("/sitemap.xml")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    for path in ["/", "/listed/1", "/listed/2"] {
        assert!(
            stdout.contains(&format!("200 {}\n", server.url(path))),
            "{path}: {stdout}"
        );
    }
    assert_eq!(server.hits("/not-listed"), 0, "links are not followed");
}

#[test]
fn warc_archive_writes_a_readable_warc() {
    let server = SyntheticSite::new(10, 2).serve();
    let dir = std::env::temp_dir().join(format!("arachne-warc-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("site.warc.gz");
    let output = example(
        "warc_archive",
        &[&server.url("/page/0"), path.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    // warcinfo, then a response and a request for robots.txt and each of the ten pages.
    assert!(
        stdout.contains(": 23 records, 11 responses, for 10 pages"),
        "{stdout}"
    );
    let records = arachne::output::read_warc(&path).unwrap();
    assert_eq!(records.len(), 23);
    std::fs::remove_dir_all(&dir).unwrap();
}
