use std::collections::BTreeSet;

use arachne::output::ErrorKind;
use arachne_testkit::{Response, Routes, SyntheticSite, TestServer, gzip};

use crate::support::{crawl, local, paths, record, set};

#[test]
fn synthetic_site_each_page_fetched_exactly_once() {
    let site = SyntheticSite::new(150, 4);
    let server = site.serve();
    let (report, records) = crawl(local().seed(server.url("/page/0")));

    let want: BTreeSet<String> = (0..site.pages).map(SyntheticSite::path).collect();
    assert_eq!(paths(&records), want, "exactly the site's pages");
    assert_eq!(records.len(), site.pages, "one record per page");
    for path in &want {
        assert_eq!(server.hits(path), 1, "{path} requested once");
    }
    assert_eq!(server.hits("/robots.txt"), 1, "robots.txt fetched once");
    assert_eq!(
        server.total_requests(),
        site.pages as u64 + 1,
        "no other request"
    );
    assert_eq!(report.pages, 150);
    assert_eq!(report.by_status.get(&200), Some(&150));
    assert!(report.errors.is_empty());
    assert_eq!(
        report.links_queued, 149,
        "every page but the seed queued once"
    );
    assert_eq!(report.skipped.mailto, 150, "one mailto link a page");
    for r in &records {
        assert_eq!(r.status, Some(200));
        assert!(r.error.is_none());
        assert!(r.links >= 3, "{}: {} links", r.url, r.links);
        assert_eq!(r.final_url, r.url);
        assert!(r.bytes > 0);
        assert!(r.content_type.as_deref().unwrap().starts_with("text/html"));
    }
    let total_new: u32 = records.iter().map(|r| r.new_links).sum();
    assert_eq!(total_new, 149);
    // Every parent is a crawled page, and depths follow parents.
    let seed = record(&records, "/page/0");
    assert_eq!((seed.depth, seed.parent.as_ref()), (0, None));
    for r in &records {
        if let Some(parent) = &r.parent {
            let parent = record(&records, parent.path());
            assert_eq!(r.depth, parent.depth + 1);
        }
    }
}

#[test]
fn links_from_every_source_element() {
    let server = Routes::new()
        .page(
            "/",
            r#"<html><head>
            <link rel="next" href="/next"><link rel="stylesheet" href="/style.css">
            <meta http-equiv="refresh" content="10; url=/refreshed">
            </head><body>
            <a href="/a?x=1&amp;y=2">entities</a>
            <map><area href="/area"></map>
            <iframe src="/iframe"></iframe>
            <a href="javascript:void(0)">js</a><a href="mailto:a@b.test">mail</a>
            <a href="data:text/plain,x">data</a><a href="tel:123">tel</a><a href="http://[bad">bad</a>
            <a href="/based">goes to /based</a>
            <a href="/pdf">pdf</a><a href="/sniffed">sniffed</a>
            </body></html>"#,
        )
        .page("/next", "<base href=\"/dir/\"><a href=\"rel\">relative to base</a>")
        .page("/frames", "<frameset><frame src=\"/framed\"></frameset>")
        .page("/refreshed", "<a href=\"/frames\">frames</a>")
        .route("/pdf", Response::status(200).header("Content-Type", "application/pdf").body("<a href=\"/from-pdf\">x</a>"))
        .route("/sniffed", Response::status(200).body("<!DOCTYPE html><a href=\"/from-sniffed\">x</a>"))
        .serve();
    let (report, records) = crawl(local().seed(server.url("/")));
    assert_eq!(
        paths(&records),
        set([
            "/",
            "/next",
            "/refreshed",
            "/a?x=1&y=2",
            "/area",
            "/iframe",
            "/based",
            "/pdf",
            "/sniffed",
            "/dir/rel",
            "/frames",
            "/framed",
            "/from-sniffed",
        ])
    );
    assert_eq!(server.hits("/style.css"), 0, "stylesheets are not links");
    assert_eq!(server.hits("/from-pdf"), 0, "only HTML is parsed");
    let s = report.skipped;
    assert_eq!(
        (s.javascript, s.mailto, s.data, s.tel, s.malformed),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(record(&records, "/pdf").links, 0);
}

#[test]
fn redirects_are_followed_checked_and_recorded() {
    let other = Routes::new().page("/", "elsewhere").serve();
    let mut routes = Routes::new()
        .page(
            "/",
            r#"<a href="/old">old</a> <a href="/new">new</a> <a href="/loop1">loop</a>
               <a href="/chain/0">chain</a> <a href="/away">away</a> <a href="/ftp">ftp</a>
               <a href="/nowhere">no location</a> <a href="/short/0">short chain</a>"#,
        )
        .route("/old", Response::redirect(301, "/new"))
        .page("/new", "<a href=\"/\">home</a>")
        .route("/loop1", Response::redirect(302, "/loop2"))
        .route("/loop2", Response::redirect(302, "/loop1"))
        .route(
            "/away",
            Response::redirect(302, &other.url_as("other.test", "/")),
        )
        .route("/ftp", Response::redirect(302, "ftp://127.0.0.1/file"))
        .route("/nowhere", Response::status(302))
        .route("/short/0", Response::redirect(307, "/short/1"))
        .route("/short/1", Response::redirect(308, "/short/2"))
        .page("/short/2", "end of a short chain");
    for i in 0..12 {
        routes = routes.route(
            &format!("/chain/{i}"),
            Response::redirect(302, &format!("/chain/{}", i + 1)),
        );
    }
    let server = routes.serve();
    let other_addr = std::net::SocketAddr::from(([127, 0, 0, 1], other.port()));
    let (report, records) = crawl(
        local()
            .seed(server.url("/"))
            .resolve("other.test", other_addr),
    );

    assert_eq!(server.hits("/new"), 1, "a redirect target is fetched once");
    assert_eq!(
        other.total_requests(),
        0,
        "out-of-scope redirects are not followed"
    );
    let kind = |path: &str| record(&records, path).error.as_ref().map(|e| e.kind);

    let short = record(&records, "/short/0");
    assert_eq!(short.status, Some(200));
    assert_eq!(short.final_url.path(), "/short/2");
    assert_eq!(
        short.redirects.iter().map(|r| r.status).collect::<Vec<_>>(),
        [307, 308]
    );
    assert_eq!(
        short.redirects[0].location.as_ref().unwrap().path(),
        "/short/1"
    );
    assert!(kind("/short/0").is_none());

    assert_eq!(kind("/loop1"), Some(ErrorKind::RedirectLoop));
    assert_eq!(kind("/chain/0"), Some(ErrorKind::TooManyRedirects));
    assert_eq!(record(&records, "/chain/0").redirects.len(), 11);
    assert_eq!(server.hits("/chain/10"), 1);
    assert_eq!(server.hits("/chain/11"), 0, "no request past the maximum");
    assert_eq!(kind("/away"), Some(ErrorKind::RedirectOutOfScope));
    assert_eq!(kind("/ftp"), Some(ErrorKind::RedirectBadScheme));
    assert_eq!(kind("/nowhere"), Some(ErrorKind::RedirectInvalid));
    // /old and /new: whichever was first fetches /new; the other ends at its redirect or
    // is the page itself. Either way /new's body was fetched once and both have records.
    assert!(
        records
            .iter()
            .any(|r| r.final_url.path() == "/new" && r.status == Some(200))
    );
    assert_eq!(record(&records, "/old").redirects.len(), 1);
    assert_eq!(report.pages, records.len() as u64);
    for (path, hits) in server.all_hits() {
        assert_eq!(hits, 1, "{path} requested once");
    }
}

#[test]
fn bodies_capped_decompressed_and_decoded() {
    let big = format!(
        "<a href=\"/early\">early</a>{}<a href=\"/late\">late</a>",
        "x".repeat(50_000)
    );
    let zipped = gzip(b"<html><a href=\"/from-gzip\">z</a></html>");
    let server = Routes::new()
        .page("/", r#"<a href="/big">big</a> <a href="/gz">gz</a> <a href="/latin1">latin1</a> <a href="/empty">empty</a>"#)
        .page("/big", &big)
        .route("/gz", Response::html(zipped).header("Content-Encoding", "gzip"))
        .route(
            "/latin1",
            Response::status(200).header("Content-Type", "text/html; charset=windows-1252").body(&b"<a href=\"/caf\xe9\">caf\xe9</a>"[..]),
        )
        .route("/empty", Response::html(""))
        .page("/caf%C3%A9", "accented")
        .serve();
    let (_, records) = crawl(local().seed(server.url("/")).max_body(10_000));
    let big = record(&records, "/big");
    assert!(big.truncated);
    assert_eq!(big.bytes, 10_000);
    assert!(big.error.is_none());
    assert_eq!(
        server.hits("/early"),
        1,
        "links before the cap are followed"
    );
    assert_eq!(server.hits("/late"), 0, "nothing past the cap is parsed");
    assert_eq!(server.hits("/from-gzip"), 1, "gzip bodies are decompressed");
    assert_eq!(
        server.hits("/caf%C3%A9"),
        1,
        "windows-1252 pages are decoded"
    );
    let empty = record(&records, "/empty");
    assert_eq!((empty.status, empty.bytes, empty.links), (Some(200), 0, 0));
}

#[test]
fn error_statuses_are_recorded_not_errors() {
    let server = TestServer::start(|req| match req.path() {
        "/" => Response::html(r#"<a href="/404">a</a><a href="/410">b</a><a href="/500">c</a>"#),
        "/410" => Response::status(410),
        "/500" => Response::status(500).body("<a href=\"/never\">error pages are not parsed</a>"),
        _ => Response::not_found(),
    });
    let (report, records) = crawl(local().seed(server.url("/")));
    assert_eq!(records.len(), 4);
    assert_eq!(record(&records, "/410").status, Some(410));
    assert!(records.iter().all(|r| r.error.is_none()));
    assert_eq!(report.by_status.get(&404), Some(&1));
    assert_eq!(server.hits("/never"), 0);
}

#[test]
fn user_agent_is_sent() {
    let agents = std::sync::Arc::new(dashmap::DashSet::new());
    let seen = std::sync::Arc::clone(&agents);
    let server = TestServer::start(move |req| {
        seen.insert(req.header("user-agent").unwrap_or_default().to_owned());
        match req.path() {
            "/" => Response::html("<a href=\"/deflated\">d</a>"),
            "/deflated" => {
                let body = deflate(b"<a href=\"/from-deflate\">x</a>");
                Response::html(body).header("Content-Encoding", "deflate")
            }
            _ => Response::not_found(),
        }
    });
    crawl(local().seed(server.url("/")).max_pages(2));
    assert_eq!(
        agents.iter().map(|a| a.clone()).collect::<Vec<_>>(),
        [arachne::config::DEFAULT_USER_AGENT]
    );
    crawl(local().seed(server.url("/")).user_agent("my-bot/1.0"));
    assert!(agents.contains("my-bot/1.0"));
    assert_eq!(
        server.hits("/from-deflate"),
        1,
        "deflate bodies are decompressed"
    );
}

fn deflate(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn redirect_to_another_host_in_scope() {
    use std::net::SocketAddr;
    let target = Routes::new()
        .route(
            "/robots.txt",
            Response::status(200).body("User-agent: *\nDisallow: /private\n"),
        )
        .page("/landing", "<p>landed</p>")
        .serve();
    let server = TestServer::start({
        let landing = target.url_as("b.example.test", "/landing");
        let private = target.url_as("b.example.test", "/private");
        move |req| match req.path() {
            "/" => Response::html(r#"<a href="/go">go</a><a href="/go-private">p</a>"#),
            "/go" => Response::redirect(302, &landing),
            "/go-private" => Response::redirect(302, &private),
            _ => Response::not_found(),
        }
    });
    let local_addr = |s: &TestServer| SocketAddr::from(([127, 0, 0, 1], s.port()));
    let builder = local()
        .seed(server.url_as("a.example.test", "/"))
        .scope(arachne::Scope::Domain)
        .resolve("a.example.test", local_addr(&server))
        .resolve("b.example.test", local_addr(&target));
    let (_, records) = crawl(builder);
    let go = record(&records, "/go");
    assert_eq!((go.status, go.final_url.path()), (Some(200), "/landing"));
    assert_eq!(
        target.hits("/robots.txt"),
        1,
        "the new host's robots.txt comes first"
    );
    assert_eq!(target.arrivals()[0].1, "/robots.txt");
    let private = record(&records, "/go-private");
    assert_eq!(
        private.error.as_ref().unwrap().kind,
        ErrorKind::RobotsDisallowed
    );
    assert_eq!(private.status, Some(302), "it ends at the redirect");
    assert_eq!(target.hits("/private"), 0);
}

#[test]
fn brotli_bodies_are_decoded_and_headers_kept() {
    let body = arachne_testkit::brotli(b"<a href=\"/from-brotli\">b</a>");
    let server = Routes::new()
        .page("/", r#"<a href="/br">br</a>"#)
        .route("/br", Response::html(body).header("Content-Encoding", "br"))
        .route(
            "/zstd",
            Response::html("x").header("Content-Encoding", "zstd"),
        )
        .page("/from-brotli", "<a href=\"/zstd\">z</a>")
        .serve();
    let (_, records) = crawl(local().seed(server.url("/")));
    assert_eq!(server.hits("/from-brotli"), 1, "brotli bodies are decoded");
    let zstd = record(&records, "/zstd");
    assert_eq!(zstd.status, Some(200));
    assert_eq!(
        zstd.error.as_ref().unwrap().kind,
        ErrorKind::Decode,
        "a coding not asked for is a decode error"
    );
}
