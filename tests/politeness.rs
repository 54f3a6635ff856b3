use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use arachne_testkit::{Behavior, Response, SyntheticSite, TestServer};

use crate::support::{crawl, local, record};

/// Arrival jitter allowed below the configured delay: the server sees a request a little
/// after the crawler starts it, and the first request of a connection a little later still.
const JITTER: Duration = Duration::from_millis(10);

/// A site with a redirect, a page that fails once, and ordinary pages.
fn tricky_site() -> TestServer {
    let site = SyntheticSite::new(12, 2);
    let flaky = Arc::new(AtomicU32::new(0));
    TestServer::start(move |req| match req.path() {
        "/page/0" => {
            let mut page = site.page(0, req.host());
            page.push_str(r#"<a href="/moved">m</a><a href="/flaky">f</a>"#);
            Response::html(page)
        }
        "/moved" => Response::redirect(301, "/moved/here"),
        "/moved/here" => Response::html("moved"),
        "/flaky" if flaky.fetch_add(1, Ordering::SeqCst) == 0 => Response::status(503),
        _ => site
            .respond(req)
            .behave(Behavior::Slow(Duration::from_millis(20))),
    })
}

#[test]
fn per_host_limit_and_delay_hold_at_the_server() {
    let server = tricky_site();
    let delay = Duration::from_millis(100);
    let (report, records) = crawl(local().seed(server.url("/page/0")).per_host(2).delay(delay));
    assert_eq!(report.pages, 12 + 2);
    assert_eq!(record(&records, "/flaky").attempts, 2, "retried once");
    assert_eq!(record(&records, "/moved").final_url.path(), "/moved/here");
    assert!(
        server.max_in_flight() <= 2,
        "{} in flight",
        server.max_in_flight()
    );
    for (i, gap) in server.gaps().into_iter().enumerate() {
        assert!(
            gap + JITTER >= delay,
            "gap {i} was {gap:?}, under the {delay:?} delay"
        );
    }
}

#[test]
fn per_host_limit_holds_without_delay() {
    let site = SyntheticSite::new(40, 3);
    let server = TestServer::start(move |req| {
        site.respond(req)
            .behave(Behavior::Slow(Duration::from_millis(30)))
    });
    let (report, _) = crawl(
        local()
            .seed(server.url("/page/0"))
            .per_host(3)
            .concurrency(32),
    );
    assert_eq!(report.pages, 40);
    let max = server.max_in_flight();
    assert!(max <= 3, "{max} requests in flight to one host");
    assert!(
        max >= 2,
        "requests to a host do overlap up to the limit ({max})"
    );
}

#[test]
fn retry_after_pauses_the_whole_host() {
    let limited = Arc::new(AtomicU32::new(0));
    let server = TestServer::start(move |req| match req.path() {
        "/" => Response::html(
            r#"<a href="/limited">l</a><a href="/a">a</a><a href="/b">b</a><a href="/c">c</a>"#,
        ),
        "/limited" if limited.fetch_add(1, Ordering::SeqCst) == 0 => {
            Response::status(429).header("Retry-After", "1")
        }
        _ => Response::html("ok").behave(Behavior::Slow(Duration::from_millis(50))),
    });
    let (report, records) = crawl(local().seed(server.url("/")).per_host(1));
    assert_eq!(report.pages, 5);
    assert_eq!(report.host_pauses, 1);
    assert_eq!(record(&records, "/limited").status, Some(200));
    let arrivals = server.arrivals();
    let at = arrivals
        .iter()
        .position(|(_, path)| path == "/limited")
        .unwrap();
    if let Some((next, path)) = arrivals.get(at + 1) {
        let pause = next.duration_since(arrivals[at].0);
        assert!(
            pause + JITTER >= Duration::from_secs(1),
            "{path} came {pause:?} after the 429"
        );
    }
}

#[test]
fn autothrottle_crawls_and_backs_off() {
    let server = SyntheticSite::new(3, 1).serve();
    let (report, _) = crawl(local().seed(server.url("/page/0")).autothrottle(true));
    assert_eq!(report.pages, 3);
    // It starts from 1 s between requests.
    for gap in server.gaps().into_iter().skip(1) {
        assert!(gap + JITTER >= Duration::from_millis(250), "{gap:?}");
    }
}
