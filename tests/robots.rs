use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use arachne::output::ErrorKind;
use arachne_testkit::{Response, Routes, TestServer};

use crate::support::{crawl, local, paths, record, set};

const PAGES: &str = r#"<a href="/public">p</a> <a href="/private/x">x</a> <a href="/a">a</a>"#;

fn site(robots: Response) -> TestServer {
    Routes::new()
        .route("/robots.txt", robots)
        .page("/", PAGES)
        .page("/public", "public")
        .page("/private/x", "private")
        .page("/a", "a")
        .serve()
}

fn robots(txt: &str) -> Response {
    Response::status(200)
        .header("Content-Type", "text/plain")
        .body(txt.to_owned())
}

#[test]
fn disallowed_urls_are_recorded_not_fetched() {
    let server = site(robots("User-agent: *\nDisallow: /private\n"));
    let (report, records) = crawl(local().seed(server.url("/")));
    assert_eq!(paths(&records), set(["/", "/public", "/private/x", "/a"]));
    let private = record(&records, "/private/x");
    assert_eq!(
        private.error.as_ref().unwrap().kind,
        ErrorKind::RobotsDisallowed
    );
    assert_eq!((private.status, private.attempts), (None, 0));
    assert_eq!(server.hits("/private/x"), 0, "never requested");
    assert_eq!(server.hits("/robots.txt"), 1, "fetched once for the host");
    assert_eq!(report.errors.get(&ErrorKind::RobotsDisallowed), Some(&1));
}

#[test]
fn our_product_token_group_wins() {
    let txt = "User-agent: *\nDisallow: /\n\nUser-agent: arachne\nDisallow: /a\n";
    let server = site(robots(txt));
    let (_, records) = crawl(local().seed(server.url("/")));
    assert_eq!(server.hits("/a"), 0);
    assert_eq!(
        server.hits("/public"),
        1,
        "the * group does not apply to arachne"
    );
    assert_eq!(
        record(&records, "/a").error.as_ref().unwrap().kind,
        ErrorKind::RobotsDisallowed
    );
    // Another user agent gets the * group.
    let server = site(robots(txt));
    let (_, records) = crawl(local().seed(server.url("/")).user_agent("otherbot/2.0"));
    assert_eq!(server.total_requests(), 1, "only robots.txt");
    assert_eq!(
        records[0].error.as_ref().unwrap().kind,
        ErrorKind::RobotsDisallowed
    );
}

#[test]
fn robots_4xx_allows_everything() {
    let server = site(Response::status(403));
    let (report, _) = crawl(local().seed(server.url("/")));
    assert_eq!(report.pages, 4);
    assert!(report.errors.is_empty());
}

#[test]
fn robots_5xx_waits_and_retries() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&calls);
    let server = TestServer::start(move |req| match req.path() {
        "/robots.txt" if seen.fetch_add(1, Ordering::SeqCst) == 0 => Response::status(503),
        "/robots.txt" => robots("User-agent: *\nDisallow: /private\n"),
        "/" => Response::html(PAGES),
        _ => Response::html("page"),
    });
    let (report, records) = crawl(local().seed(server.url("/")));
    assert_eq!(server.hits("/robots.txt"), 2, "tried again after the 503");
    assert_eq!(report.pages, 4);
    assert_eq!(
        record(&records, "/private/x").error.as_ref().unwrap().kind,
        ErrorKind::RobotsDisallowed
    );
    // Nothing of the host was fetched before robots.txt was known.
    let arrivals = server.arrivals();
    assert_eq!(arrivals[0].1, "/robots.txt");
    assert_eq!(arrivals[1].1, "/robots.txt");
}

#[test]
fn robots_always_unavailable_refuses_the_host() {
    let server = site(Response::status(500));
    let (report, records) = crawl(local().seed(server.url("/")));
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].error.as_ref().unwrap().kind,
        ErrorKind::RobotsUnavailable
    );
    assert_eq!(
        server.hits("/robots.txt"),
        arachne_core::ROBOTS_ATTEMPTS as u64
    );
    assert_eq!(server.hits("/"), 0);
    assert_eq!(
        report.robots_fetched,
        u64::from(arachne_core::ROBOTS_ATTEMPTS)
    );
}

#[test]
fn crawl_delay_is_honoured_and_capped() {
    let server = site(robots("User-agent: *\nCrawl-delay: 0.2\n"));
    let (report, _) = crawl(local().seed(server.url("/")));
    assert_eq!(report.pages, 4);
    for gap in server.gaps() {
        assert!(
            gap >= Duration::from_millis(180),
            "gap of {gap:?} under a Crawl-delay of 0.2 s"
        );
    }
    // A huge Crawl-delay is cut to the maximum.
    let server = site(robots("User-agent: *\nCrawl-delay: 3600\n"));
    let (report, _) = crawl(
        local()
            .seed(server.url("/"))
            .max_crawl_delay(Duration::from_millis(50)),
    );
    assert_eq!(report.pages, 4);
}

#[test]
fn ignore_robots() {
    let server = site(robots("User-agent: *\nDisallow: /\n"));
    let (report, _) = crawl(local().seed(server.url("/")).obey_robots(false));
    assert_eq!(report.pages, 4);
    assert_eq!(server.hits("/robots.txt"), 0);
}

#[test]
fn robots_beyond_500_kib_is_ignored() {
    let txt = format!(
        "User-agent: *\n{}\nDisallow: /private\n",
        "# padding\n".repeat(52_000)
    );
    let server = site(robots(&txt));
    let (_, records) = crawl(local().seed(server.url("/")));
    assert!(
        record(&records, "/private/x").error.is_none(),
        "rules past 500 KiB do not count"
    );
}
