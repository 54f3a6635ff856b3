use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use arachne::output::ErrorKind;
use arachne_testkit::{Behavior, Response, TestServer};

use crate::support::{crawl, local, record};

/// A server whose `/flaky` answers `first` the first `times` times, then 200.
fn flaky(first: Response, times: u32) -> TestServer {
    let calls = Arc::new(AtomicU32::new(0));
    TestServer::start(move |req| match req.path() {
        "/" => Response::html(r#"<a href="/flaky">f</a><a href="/fine">ok</a>"#),
        "/flaky" if calls.fetch_add(1, Ordering::SeqCst) < times => first.clone(),
        "/robots.txt" => Response::not_found(),
        _ => Response::html("fine"),
    })
}

#[test]
fn transient_503_is_retried_until_it_succeeds() {
    let server = flaky(Response::status(503), 2);
    let (report, records) = crawl(local().seed(server.url("/")));
    let r = record(&records, "/flaky");
    assert_eq!((r.status, r.attempts), (Some(200), 3));
    assert_eq!(server.hits("/flaky"), 3);
    assert_eq!(report.retries, 2);
}

#[test]
fn exhausted_retries_keep_the_last_outcome() {
    let server = flaky(Response::status(500), 100);
    let (_, records) = crawl(local().seed(server.url("/")).retries(2));
    let r = record(&records, "/flaky");
    assert_eq!((r.status, r.attempts), (Some(500), 3));
    assert_eq!(record(&records, "/fine").status, Some(200));
}

#[test]
fn not_implemented_is_not_retried() {
    let server = flaky(Response::status(501), 100);
    let (_, records) = crawl(local().seed(server.url("/")));
    assert_eq!(record(&records, "/flaky").attempts, 1);
    assert_eq!(server.hits("/flaky"), 1);
}

#[test]
fn reset_is_retried() {
    let server = flaky(
        Response::html("x".repeat(10_000)).behave(Behavior::ResetAfter(100)),
        1,
    );
    let (_, records) = crawl(local().seed(server.url("/")));
    let r = record(&records, "/flaky");
    assert_eq!((r.status, r.attempts), (Some(200), 2));
    assert!(r.error.is_none());
}

#[test]
fn no_retries_records_the_first_failure() {
    let server = flaky(
        Response::html("x".repeat(10_000)).behave(Behavior::ResetAfter(100)),
        1,
    );
    let (_, records) = crawl(local().seed(server.url("/")).retries(0));
    let r = record(&records, "/flaky");
    assert_eq!(r.attempts, 1);
    let kind = r.error.as_ref().unwrap().kind;
    assert!(
        matches!(kind, ErrorKind::Body | ErrorKind::Request),
        "{kind:?}"
    );
}
