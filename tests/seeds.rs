//! Seeds: a seed that redirects takes its scope from where it lands; seeds that fail say so.

use std::net::SocketAddr;

use arachne::Scope;
use arachne_testkit::{Behavior, Response, Routes, TestServer};

use crate::support::{RefusingPort, arachne, crawl, local, paths, set};

#[test]
fn a_redirecting_seed_does_not_widen_the_prefix() {
    let server = Routes::new()
        .route("/book", Response::redirect(301, "/book/"))
        .page(
            "/book/",
            r#"<a href="ch1">1</a> <a href="/blog/">blog</a> <a href="/">home</a>"#,
        )
        .page(
            "/book/ch1",
            r#"<a href="/book/ch2">2</a> <a href="/other">x</a>"#,
        )
        .page("/book/ch2", "end")
        .page("/blog/", "out of scope")
        .page("/", "out of scope")
        .serve();
    let (report, records) = crawl(local().seed(server.url("/book")).scope(Scope::Prefix));
    assert_eq!(paths(&records), set(["/book", "/book/ch1", "/book/ch2"]));
    let seed = &records[0];
    assert_eq!(seed.final_url.path(), "/book/");
    assert_eq!(seed.new_links, 1, "only ch1 is under /book/");
    for path in ["/blog/", "/", "/other"] {
        assert_eq!(server.hits(path), 0, "{path} is outside /book/");
    }
    assert_eq!(report.out_of_scope, 3);
}

#[test]
fn a_seed_redirecting_to_another_host_moves_the_scope_there() {
    let www = Routes::new()
        .page(
            "/",
            r#"<a href="/x">x</a> <a href="http://a.test/y">back to the old host</a>"#,
        )
        .page("/x", "x")
        .serve();
    let www_url = www.url_as("www.a.test", "/");
    let bare = TestServer::start(move |req| match req.path() {
        "/" => Response::redirect(301, &www_url),
        _ => Response::html("the old host"),
    });
    let bare_port = bare.port();
    let seed = bare.url_as("a.test", "/");
    let (_, records) = crawl(
        local()
            .seed(&seed)
            .scope(Scope::Host)
            .resolve("a.test", SocketAddr::from(([127, 0, 0, 1], bare_port)))
            .resolve("www.a.test", www.addr()),
    );
    assert_eq!(paths(&records), set(["/", "/x"]));
    let seed = records.iter().find(|r| r.depth == 0).unwrap();
    assert_eq!(seed.final_url.host_str(), Some("www.a.test"));
    assert!(seed.error.is_none(), "{:?}", seed.error);
    assert_eq!(bare.hits("/y"), 0, "the old host is out of scope now");
    assert_eq!(www.hits("/x"), 1);
}

#[test]
fn links_found_before_another_seed_lands_wait_for_it() {
    // Seed /a redirects to /a/, but only once /b/1 has been asked for: by then seed /b/
    // has been crawled, and its link to /x, which only /a's first-guess scope (/) covers,
    // is queued. /x waits for /a to land, and is then out of scope; /b/1, in /b/'s own
    // scope, did not wait.
    let server = TestServer::start(|req| match req.path() {
        "/a" => Response::redirect(301, "/a/").behave(Behavior::AfterHit("/b/1")),
        "/a/" => Response::html(r#"<a href="/a/1">1</a>"#),
        "/b/" => Response::html(r#"<a href="/x">x</a> <a href="/b/1">1</a>"#),
        "/robots.txt" => Response::not_found(),
        _ => Response::html("page"),
    });
    let (report, records) = crawl(
        local()
            .seed(server.url("/a"))
            .seed(server.url("/b/"))
            .scope(Scope::Prefix),
    );
    assert_eq!(paths(&records), set(["/a", "/a/1", "/b/", "/b/1"]));
    assert_eq!(server.hits("/x"), 0);
    assert_eq!(report.out_of_scope, 1, "/x, once /a landed");
    assert_eq!(report.links_queued, 2, "/b/1 and /a/1");
}

#[test]
fn every_seed_failing_is_said_plainly() {
    let refusing = RefusingPort::new();
    let output = arachne(&["crawl", &refusing.url("/")], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("every seed failed, so nothing else was crawled: "),
        "{stderr}"
    );
    assert!(stderr.contains("connect: "), "{stderr}");
    assert!(stderr.contains("crawled 1 page in"), "{stderr}");
}

#[test]
fn a_seed_redirecting_to_another_site_is_not_followed() {
    // A local mirror whose seed redirects to the public site it mirrors: the crawl stays.
    let public = Routes::new().page("/", "the public site").serve();
    let target = public.url_as("docs.example.org", "/");
    let mirror = TestServer::start(move |req| match req.path() {
        "/" => Response::redirect(301, &target),
        _ => Response::not_found(),
    });
    let (_, records) = crawl(
        local()
            .seed(mirror.url("/"))
            .resolve("docs.example.org", public.addr()),
    );
    let error = records[0].error.as_ref().expect("an error");
    assert_eq!(
        error.kind,
        arachne::output::ErrorKind::RedirectOutOfScope,
        "{}",
        error.message
    );
    assert_eq!(public.total_requests(), 0);
}
