use std::path::PathBuf;
use std::process::{Command, Output};

use arachne_testkit::{Response, Routes, SyntheticSite};

/// Runs an example binary that `cargo test` built beside this test binary.
fn example(name: &str, args: &[&str]) -> Output {
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
    // The tests' servers are local: no politeness delay.
    command
        .args(args)
        .env("ARACHNE_DELAY", "0")
        .env("ARACHNE_PER_HOST", "8");
    crate::support::run_command(command)
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
