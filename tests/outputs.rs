use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use arachne::output::{WarcRecord, WarcWriter, read_warc};
use arachne_testkit::{Response, Routes, TestServer, gzip};
use arachne_warc::sha1_base32;

use crate::support::{crawl, local, run_command, warcio_installed, warcio_passes};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("arachne-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A site with plain, gzipped, redirected, missing and binary pages.
fn site() -> TestServer {
    Routes::new()
        .page("/", r#"<a href="/a">a</a><a href="/gz">gz</a><a href="/old">old</a><a href="/missing">m</a><a href="/bin">b</a>"#)
        .page("/a", "<p>page a</p>")
        .route("/gz", Response::html(gzip(b"<p>zipped page</p>")).header("Content-Encoding", "gzip"))
        .route("/old", Response::redirect(301, "/new"))
        .page("/new", "<p>new home</p>")
        .route("/bin", Response::status(200).header("Content-Type", "application/octet-stream").body(vec![0u8, 1, 2, 255]))
        .serve()
}

/// What each response should hold: status and payload.
fn expected() -> BTreeMap<&'static str, (u16, Vec<u8>)> {
    BTreeMap::from([
        ("/robots.txt", (404, b"<h1>Not found</h1>".to_vec())),
        ("/", (200, br#"<a href="/a">a</a><a href="/gz">gz</a><a href="/old">old</a><a href="/missing">m</a><a href="/bin">b</a>"#.to_vec())),
        ("/a", (200, b"<p>page a</p>".to_vec())),
        ("/gz", (200, gzip(b"<p>zipped page</p>"))),
        ("/old", (301, Vec::new())),
        ("/new", (200, b"<p>new home</p>".to_vec())),
        ("/missing", (404, b"<h1>Not found</h1>".to_vec())),
        ("/bin", (200, vec![0u8, 1, 2, 255])),
    ])
}

fn path_of(record: &WarcRecord) -> String {
    let uri: arachne::Url = record.header("WARC-Target-URI").unwrap().parse().unwrap();
    uri.path().to_owned()
}

fn check_records(records: &[WarcRecord]) {
    assert_eq!(records[0].header("WARC-Type"), Some("warcinfo"));
    let responses: Vec<&WarcRecord> = records
        .iter()
        .filter(|r| r.header("WARC-Type") == Some("response"))
        .collect();
    let requests: Vec<&WarcRecord> = records
        .iter()
        .filter(|r| r.header("WARC-Type") == Some("request"))
        .collect();
    let mut seen = HashMap::new();
    for response in &responses {
        let path = path_of(response);
        *seen.entry(path.clone()).or_insert(0) += 1;
        let (status, payload) = expected()
            .remove(path.as_str())
            .unwrap_or_else(|| panic!("unexpected {path}"));
        assert_eq!(response.http_status(), Some(status), "{path}");
        assert_eq!(response.payload().unwrap(), &payload[..], "{path}");
        assert_eq!(
            response.header("WARC-Block-Digest").unwrap(),
            sha1_base32(&response.block)
        );
        assert_eq!(
            response.header("WARC-Payload-Digest").unwrap(),
            sha1_base32(&payload)
        );
        assert_eq!(response.header("WARC-IP-Address"), Some("127.0.0.1"));
        assert!(response.header("WARC-Date").unwrap().ends_with('Z'));
        let head = String::from_utf8_lossy(&response.block[..response.block.len() - payload.len()])
            .to_lowercase();
        assert!(
            head.contains(&format!("content-length: {}\r\n", payload.len())),
            "{head}"
        );
        if path == "/gz" {
            // Stored as received: still gzipped, and saying so.
            assert!(head.contains("\r\ncontent-encoding: gzip\r\n"), "{head}");
        }
    }
    assert_eq!(
        seen.len(),
        expected().len(),
        "every fetch archived: {seen:?}"
    );
    assert!(seen.values().all(|&n| n == 1), "each once: {seen:?}");
    assert_eq!(requests.len(), responses.len());
    for request in &requests {
        let to = request.header("WARC-Concurrent-To").unwrap();
        let response = responses
            .iter()
            .find(|r| r.header("WARC-Record-ID") == Some(to))
            .expect("linked response");
        assert_eq!(path_of(request), path_of(response));
        let text = String::from_utf8_lossy(&request.block);
        assert!(
            text.starts_with(&format!("GET {} HTTP/1.1\r\n", path_of(request))),
            "{text}"
        );
        assert!(text.contains("User-Agent: arachne/"));
    }
}

#[test]
fn warc_holds_every_fetch_once_and_reads_back() {
    let server = site();
    let dir = temp_dir("warc");
    let path = dir.join("crawl.warc.gz");
    let warc = WarcWriter::create(&path, None, "arachne-test").unwrap();
    let (report, _) = crawl(local().seed(server.url("/")).archive(warc));
    assert_eq!(report.pages, 6);
    check_records(&read_warc(&path).unwrap());
    warcio_check(&[path]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn warc_rotates_past_the_maximum_size() {
    let server = site();
    let dir = temp_dir("warc-rotate");
    let path = dir.join("crawl.warc.gz");
    let warc = WarcWriter::create(&path, Some(600), "arachne-test").unwrap();
    crawl(local().seed(server.url("/")).archive(warc));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 2, "{files:?}");
    assert_eq!(files[0].file_name().unwrap(), "crawl-00000.warc.gz");
    let mut all = Vec::new();
    for file in &files {
        let records = read_warc(file).unwrap();
        assert_eq!(
            records[0].header("WARC-Type"),
            Some("warcinfo"),
            "each file starts with warcinfo"
        );
        all.extend(records.into_iter().skip(1));
    }
    all.insert(0, read_warc(&files[0]).unwrap().remove(0));
    check_records(&all);
    warcio_check(&files);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Checks files with warcio (`pip install warcio`), which CI installs, and its index of
/// the responses. Without it, the check is skipped outside CI with a notice, and fails in CI.
fn warcio_check(files: &[PathBuf]) {
    if !warcio_installed() {
        return;
    }
    let mut indexed = HashMap::new();
    for file in files {
        warcio_passes(file);
        let mut index = Command::new("warcio");
        index
            .args(["index", "-f", "warc-type,warc-target-uri,http:status"])
            .arg(file);
        let output = run_command(index);
        assert!(output.status.success());
        for line in String::from_utf8(output.stdout).unwrap().lines() {
            let entry: serde_json::Value = serde_json::from_str(line).unwrap();
            if entry["warc-type"] == "response" {
                let uri: arachne::Url = entry["warc-target-uri"].as_str().unwrap().parse().unwrap();
                let status: u16 = entry["http:status"].as_str().unwrap().parse().unwrap();
                assert!(
                    indexed.insert(uri.path().to_owned(), status).is_none(),
                    "{uri} twice"
                );
            }
        }
    }
    let want: HashMap<String, u16> = expected()
        .into_iter()
        .map(|(p, (s, _))| (p.to_owned(), s))
        .collect();
    assert_eq!(indexed, want);
}

#[test]
fn csv_output_from_the_cli() {
    let server = site();
    let mut command = Command::new(env!("CARGO_BIN_EXE_arachne"));
    command
        .args([
            "crawl",
            &server.url("/"),
            "--format",
            "csv",
            "--out",
            "-",
            "--quiet",
        ])
        .env("ARACHNE_DELAY", "0");
    let output = run_command(command);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<&str> = text.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(rows[0], arachne_core::CSV_COLUMNS.join(","));
    assert_eq!(rows.len(), 1 + 6);
    let old = rows.iter().find(|r| r.contains("/old")).unwrap();
    assert!(
        old.contains("\"[{\"\"url\"\":"),
        "redirects are a quoted JSON array: {old}"
    );
}

#[test]
fn warc_from_the_cli() {
    let server = site();
    let dir = temp_dir("warc-cli");
    let path = dir.join("out.warc.gz");
    let mut command = Command::new(env!("CARGO_BIN_EXE_arachne"));
    command
        .args([
            "crawl",
            &server.url("/"),
            "--warc",
            path.to_str().unwrap(),
            "--quiet",
        ])
        .env("ARACHNE_DELAY", "0");
    assert!(run_command(command).status.success());
    check_records(&read_warc(&path).unwrap());
    assert!(Path::new(&path).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn warc_keeps_the_reason_phrase_received() {
    // The testkit answers an unusual status with the reason "Status".
    let server = Routes::new()
        .page("/", r#"<a href="/odd">odd</a>"#)
        .route("/odd", Response::status(299).body("odd"))
        .serve();
    let dir = temp_dir("warc-reason");
    let path = dir.join("reason.warc.gz");
    let warc = WarcWriter::create(&path, None, "arachne-test").unwrap();
    crawl(local().seed(server.url("/")).archive(warc));
    let records = read_warc(&path).unwrap();
    let odd = records
        .iter()
        .find(|r| r.header("WARC-Type") == Some("response") && path_of(r) == "/odd")
        .unwrap();
    assert!(
        odd.block.starts_with(b"HTTP/1.1 299 Status\r\n"),
        "{}",
        String::from_utf8_lossy(&odd.block)
    );
    let root = records
        .iter()
        .find(|r| r.header("WARC-Type") == Some("response") && path_of(r) == "/")
        .unwrap();
    assert!(root.block.starts_with(b"HTTP/1.1 200 OK\r\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}
