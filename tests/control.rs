//! Hooks shape requests and judge responses; the cookie jar; the crawl handle and the close
//! conditions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arachne::hook::Decision;
use arachne::output::ErrorKind;
use arachne::report::EndReason;
use arachne::{CrawlHandle, Request};
use arachne_testkit::{Behavior, Response, Routes, SyntheticSite, TestServer};

use crate::support::{crawl, local, paths, record, set};

/// Each request a server received: its target and headers.
type Log = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

/// A server that answers every path with a page, and remembers each request's headers.
fn recording() -> (TestServer, Log) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let server = TestServer::start(move |req| {
        log.lock()
            .unwrap()
            .push((req.target.clone(), req.headers.clone()));
        match req.path() {
            "/robots.txt" => Response::not_found(),
            "/" => Response::html(r#"<a href="/a">a</a><a href="/b">b</a><a href="/c">c</a>"#),
            _ => Response::html("leaf"),
        }
    });
    (server, seen)
}

#[test]
fn request_hooks_set_headers_and_drop_requests() {
    let (server, seen) = recording();
    let (_, records) = crawl(
        local()
            .seed(Request::get(server.url("/")).header("X-Seed", "yes"))
            .on_request(|request| {
                request.set_header("Authorization", "Bearer t0ken");
                if request.url().path() == "/b" {
                    return Decision::Drop("not wanted".into());
                }
                Decision::Continue
            }),
    );
    let b = record(&records, "/b");
    let error = b.error.as_ref().unwrap();
    assert_eq!(
        (error.kind, error.message.as_str()),
        (ErrorKind::Dropped, "not wanted")
    );
    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|(target, _)| target != "/b"), "never sent");
    let header = |target: &str, name: &str| {
        seen.iter()
            .find(|(t, _)| t == target)
            .and_then(|(_, headers)| headers.iter().find(|(n, _)| n == name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("/", "authorization").as_deref(),
        Some("Bearer t0ken")
    );
    assert_eq!(
        header("/a", "authorization").as_deref(),
        Some("Bearer t0ken")
    );
    assert_eq!(header("/", "x-seed").as_deref(), Some("yes"));
    assert_eq!(
        header("/a", "x-seed"),
        None,
        "a request's own headers are its own"
    );
    assert_eq!(
        header("/robots.txt", "authorization"),
        None,
        "hooks are for pages"
    );
}

#[test]
fn response_hooks_retry_within_the_budget_then_drop() {
    let server = TestServer::start(|req| match req.path() {
        "/robots.txt" => Response::not_found(),
        "/busy" => Response::html("try again later"),
        _ => Response::html(r#"<a href="/busy">busy</a>"#),
    });
    let (report, records) = crawl(local().seed(server.url("/")).retries(2).on_response(
        |response| {
            if response.body().starts_with(b"try again") {
                return Decision::Retry("the server is busy".into());
            }
            Decision::Continue
        },
    ));
    assert_eq!(server.hits("/busy"), 3, "the first try and two retries");
    let busy = record(&records, "/busy");
    assert_eq!(busy.error.as_ref().unwrap().kind, ErrorKind::Dropped);
    assert_eq!(busy.attempts, 3);
    assert_eq!(report.retries, 2);
}

#[test]
fn a_hook_sends_a_request_through_a_proxy() {
    // The proxy answers requests in absolute form, as an HTTP proxy does.
    let proxy = TestServer::start(|req| {
        if req.target.starts_with("http://") {
            Response::html(format!("<h1>via proxy: {}</h1>", req.target))
        } else {
            Response::status(400)
        }
    });
    let origin = Routes::new()
        .page("/", r#"<a href="/proxied">p</a>"#)
        .page("/proxied", "direct")
        .serve();
    let proxy_url: arachne::Url = proxy.url("/").parse().unwrap();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    crawl(
        local()
            .seed(origin.url("/"))
            .on_request(move |request| {
                if request.url().path() == "/proxied" {
                    request.set_proxy(proxy_url.clone());
                }
                Decision::Continue
            })
            .on_page(move |page| seen.lock().unwrap().push(page.text().into_owned())),
    );
    assert_eq!(origin.hits("/proxied"), 0, "it went through the proxy");
    assert_eq!(proxy.total_requests(), 1);
    let bodies = bodies.lock().unwrap();
    assert!(
        bodies
            .iter()
            .any(|b| b.contains(&format!("via proxy: {}", origin.url("/proxied")))),
        "{bodies:?}"
    );
}

/// A site that sets a cookie on `/` and shows what cookie came back on `/echo`.
fn cookie_site() -> TestServer {
    TestServer::start(|req| match req.path() {
        "/robots.txt" => Response::not_found(),
        "/" => Response::html(r#"<a href="/echo">echo</a>"#).header("Set-Cookie", "id=42; Path=/"),
        _ => Response::html(format!(
            "cookie: {}",
            req.header("cookie").unwrap_or("none")
        )),
    })
}

#[test]
fn cookies_are_kept_unless_turned_off() {
    for (on, want) in [(true, "cookie: id=42"), (false, "cookie: none")] {
        let server = cookie_site();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        crawl(
            local()
                .seed(server.url("/"))
                .per_host(1)
                .cookies(on)
                .on_page(move |page| seen.lock().unwrap().push(page.text().into_owned())),
        );
        let bodies = bodies.lock().unwrap();
        assert!(bodies.iter().any(|b| b == want), "cookies {on}: {bodies:?}");
    }
}

#[test]
fn the_handle_gives_requests_before_and_during_the_crawl() {
    let other = Routes::new().page("/", "other host").serve();
    let server = Routes::new()
        .page("/", "home, no links")
        .page("/given", "given before")
        .page("/later", "given during")
        .serve();
    let later = server.url("/later");
    let builder = local()
        .seed(server.url("/"))
        .resolve("other.test", other.addr());
    let handle: CrawlHandle = builder.handle();
    handle.enqueue(server.url("/given"));
    handle.enqueue(server.url("/given"));
    handle.enqueue(other.url_as("other.test", "/"));
    handle.enqueue("not a url");
    let during = handle.clone();
    let (report, records) = crawl(builder.on_page(move |page| {
        if page.record.url.path() == "/" {
            during.enqueue(later.as_str());
        }
    }));
    assert_eq!(paths(&records), set(["/", "/given", "/later"]));
    assert_eq!(
        other.total_requests(),
        0,
        "the scope holds for given requests"
    );
    assert_eq!(report.requests_rejected, 1);
    assert_eq!(report.out_of_scope, 1);
}

#[test]
fn close_after_errors_and_after_a_time() {
    let server = TestServer::start(|req| match req.path() {
        "/robots.txt" => Response::not_found(),
        "/" => Response::html(
            (0..50)
                .map(|i| format!("<a href=\"/gone/{i}\">x</a>"))
                .collect::<String>(),
        ),
        _ => Response::status(500),
    });
    let (report, records) = crawl(
        local()
            .seed(server.url("/"))
            .per_host(2)
            .retries(0)
            .close_after_errors(1),
    );
    // 500 is a status, not an error: no record has one, so the crawl completes.
    assert_eq!(report.ended, EndReason::Completed);
    assert_eq!(records.len(), 51);

    let refusing = crate::support::RefusingPort::new();
    let page: String = (0..50)
        .map(|i| format!("<a href=\"{}\">x</a>", refusing.url(&format!("/{i}"))))
        .collect();
    let server = Routes::new().page("/", &page).serve();
    let (report, _) = crawl(
        local()
            .seed(server.url("/"))
            .scope(arachne::Scope::Any)
            .obey_robots(false)
            .retries(0)
            .per_host(1)
            .close_after_errors(3),
    );
    assert_eq!(report.ended, EndReason::ErrorLimit);
    assert!(report.error_count() >= 3 && report.error_count() < 50);

    let site = SyntheticSite::new(2000, 3);
    let slow = TestServer::start(move |req| {
        site.respond(req)
            .behave(Behavior::Slow(Duration::from_millis(20)))
    });
    let (report, _) = crawl(
        local()
            .seed(slow.url("/page/0"))
            .per_host(2)
            .close_after(Duration::from_millis(300)),
    );
    assert_eq!(report.ended, EndReason::TimeLimit);
    assert!(report.pages < 2000);
}

#[test]
fn credentials_do_not_follow_a_redirect_to_another_origin() {
    let (other, seen) = recording();
    let target = other.url_as("other.test", "/");
    let server = TestServer::start(move |req| match req.path() {
        "/robots.txt" => Response::not_found(),
        "/here" => Response::redirect(302, "/there"),
        "/there" => Response::html(format!(
            "auth: {}",
            req.header("authorization").unwrap_or("none")
        )),
        _ => Response::redirect(302, &target),
    });
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&bodies);
    crawl(
        local()
            .scope(arachne::Scope::Any)
            .resolve("other.test", other.addr())
            .seed(Request::get(server.url("/away")).basic_auth("me", "pw"))
            .seed(Request::get(server.url("/here")).basic_auth("me", "pw"))
            .on_page(move |page| log.lock().unwrap().push(page.text().into_owned())),
    );
    let seen = seen.lock().unwrap();
    let (_, headers) = seen.iter().find(|(target, _)| target == "/").unwrap();
    assert!(
        headers.iter().all(|(name, _)| name != "authorization"),
        "{headers:?}"
    );
    assert!(
        bodies
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.starts_with("auth: Basic ")),
        "kept on the same origin"
    );
}

#[test]
fn a_post_answered_by_a_303_to_itself_is_not_a_loop() {
    let server = TestServer::start(|req| match (req.method.as_str(), req.path()) {
        (_, "/robots.txt") => Response::not_found(),
        ("POST", "/form") => Response::redirect(303, "/form"),
        _ => Response::html("thanks"),
    });
    let (_, records) = crawl(local().seed(Request::post(server.url("/form")).form(&[("a", "1")])));
    let record = &records[0];
    assert!(record.error.is_none(), "{:?}", record.error);
    assert_eq!((record.status, record.redirects.len()), (Some(200), 1));
}

#[test]
fn a_stop_before_the_run_holds_and_late_requests_are_refused() {
    let server = Routes::new().page("/", "home").serve();
    let builder = local().seed(server.url("/"));
    let handle = builder.handle();
    handle.stop("not today");
    let (report, records) = crawl(builder);
    assert!(records.is_empty());
    assert_eq!(server.total_requests(), 0, "not even robots.txt");
    assert_eq!(
        report.ended,
        EndReason::Stopped {
            by: "not today".into()
        }
    );
    assert!(!handle.enqueue(server.url("/")), "the crawl is over");

    let server = Routes::new().page("/", "home").serve();
    let builder = local().seed(server.url("/"));
    let handle = builder.handle();
    crawl(builder);
    assert!(handle.is_finished());
    assert!(
        !handle.enqueue(server.url("/late")),
        "too late, and said so"
    );
}
