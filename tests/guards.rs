//! Crawler traps and the refusal of private addresses.

use std::net::SocketAddr;

use arachne::output::ErrorKind;
use arachne_testkit::{Response, Routes, SyntheticSite, TestServer};

use crate::support::{crawl, local};

#[test]
fn urls_longer_than_the_maximum_are_refused() {
    let long = format!("/{}", "x".repeat(3000));
    let page = format!(r#"<a href="{long}">long</a><a href="/short">short</a>"#);
    let server = Routes::new().page("/", &page).page("/short", "ok").serve();
    let (report, records) = crawl(local().seed(server.url("/")));
    assert_eq!(records.len(), 2);
    assert_eq!(report.too_long, 1);
    assert_eq!(server.hits(&long), 0);
}

#[test]
fn repeating_paths_are_refused() {
    // Every page links to a relative path that grows the URL: /t/, /t/a/b/, /t/a/b/a/b/ ...
    let server = TestServer::start(|req| match req.path() {
        path if path.starts_with("/t/") => Response::html(r#"<a href="a/b/">deeper</a>"#),
        _ => Response::not_found(),
    });
    let (report, records) = crawl(local().seed(server.url("/t/")));
    assert_eq!(records.len(), 3, "/t/, /t/a/b/, /t/a/b/a/b/");
    assert_eq!(report.repeating_path, 1);
}

#[test]
fn per_host_page_budget() {
    let server = SyntheticSite::new(50, 3).serve();
    let (report, records) = crawl(local().seed(server.url("/page/0")).max_pages_per_host(7));
    assert_eq!(records.len(), 7);
    assert!(report.host_budget > 0);
    assert_eq!(server.total_requests(), 7 + 1, "seven pages and robots.txt");
}

#[test]
fn private_addresses_are_refused_when_asked() {
    let server = Routes::new().page("/", "secret").serve();
    let (_, records) = crawl(local().seed(server.url("/")).deny_private_ips(true));
    assert_eq!(
        records[0].error.as_ref().unwrap().kind,
        ErrorKind::DeniedAddress
    );
    assert_eq!(server.total_requests(), 0, "not even robots.txt");

    // A name that resolves to a loopback address is refused too.
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port()));
    let builder = local()
        .seed(server.url_as("innocent.test", "/"))
        .resolve("innocent.test", addr)
        .deny_private_ips(true);
    let (_, records) = crawl(builder);
    let error = records[0].error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::DeniedAddress, "{}", error.message);
    assert_eq!(server.total_requests(), 0);

    // Without the option, the same crawl goes through.
    let (_, records) = crawl(local().seed(server.url("/")));
    assert!(records[0].error.is_none());
}
