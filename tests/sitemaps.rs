use std::net::SocketAddr;

use arachne_testkit::{Response, Routes, TestServer, gzip};

use crate::support::{crawl, local, paths, set};

fn xml(body: &str) -> Response {
    Response::status(200)
        .header("Content-Type", "application/xml")
        .body(body.to_owned())
}

fn urlset(urls: &[String]) -> String {
    let entries: String = urls
        .iter()
        .map(|u| format!("<url><loc>{u}</loc></url>"))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>"#
    )
}

fn index(urls: &[String]) -> String {
    let entries: String = urls
        .iter()
        .map(|u| format!("<sitemap><loc>{u}</loc></sitemap>"))
        .collect();
    format!(
        r#"<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>"#
    )
}

/// A site whose pages are only reachable through sitemaps: robots.txt names an index,
/// which names a gzipped urlset and a text sitemap.
fn orphan_site(other: &TestServer) -> TestServer {
    // Routes need absolute URLs, known only once the port is: serve from a closure.
    let other_url = other.url_as("elsewhere.test", "/outside");
    TestServer::start(move |req| {
        let base = format!("http://{}", req.host());
        match req.path() {
            "/robots.txt" => Response::status(200).body(format!(
                "User-agent: *\nAllow: /\nSitemap: {base}/sitemap_index.xml\n"
            )),
            "/sitemap_index.xml" => xml(&index(&[
                format!("{base}/sm1.xml.gz"),
                format!("{base}/sm2.txt"),
            ])),
            "/sm1.xml.gz" => Response::status(200)
                .header("Content-Type", "application/gzip")
                .body(gzip(
                    urlset(&[
                        format!("{base}/orphan1"),
                        format!("{base}/orphan2?a=1&amp;b=2"),
                    ])
                    .as_bytes(),
                )),
            "/sm2.txt" => Response::status(200).body(format!("{base}/orphan3\n{other_url}\n")),
            "/" => Response::html("<p>no links</p>"),
            "/orphan1" | "/orphan2" | "/orphan3" => Response::html("orphan"),
            _ => Response::not_found(),
        }
    })
}

#[test]
fn sitemaps_from_robots_index_gzip_and_text() {
    let other = Routes::new().page("/outside", "out of scope").serve();
    let server = orphan_site(&other);
    let addr = SocketAddr::from(([127, 0, 0, 1], other.port()));
    let (report, records) = crawl(
        local()
            .seed(server.url("/"))
            .resolve("elsewhere.test", addr),
    );
    assert_eq!(
        paths(&records),
        set(["/", "/orphan1", "/orphan2?a=1&b=2", "/orphan3"])
    );
    assert_eq!(report.sitemaps_fetched, 3);
    assert_eq!(report.sitemap_urls, 3);
    assert_eq!(other.total_requests(), 0, "sitemap URLs obey the scope");
    let orphan = records.iter().find(|r| r.url.path() == "/orphan3").unwrap();
    assert_eq!(orphan.depth, 0);
    assert_eq!(orphan.parent.as_ref().unwrap().path(), "/sm2.txt");
    for path in ["/sitemap_index.xml", "/sm1.xml.gz", "/sm2.txt", "/orphan1"] {
        assert_eq!(server.hits(path), 1, "{path}");
    }
}

#[test]
fn sitemaps_off() {
    let other = Routes::new().serve();
    let server = orphan_site(&other);
    let (report, records) = crawl(local().seed(server.url("/")).sitemaps(false));
    assert_eq!(records.len(), 1);
    assert_eq!(report.sitemaps_fetched, 0);
    assert_eq!(server.hits("/sitemap_index.xml"), 0);
}

#[test]
fn sitemap_given_by_the_user() {
    let server = TestServer::start(|req| {
        let base = format!("http://{}", req.host());
        match req.path() {
            "/my-sitemap.xml" => xml(&urlset(&[format!("{base}/listed")])),
            "/" | "/listed" => Response::html("page"),
            _ => Response::not_found(),
        }
    });
    let (_, records) = crawl(
        local()
            .seed(server.url("/"))
            .sitemap(server.url("/my-sitemap.xml"))
            .obey_robots(false),
    );
    assert_eq!(paths(&records), set(["/", "/listed"]));
}

#[test]
fn sitemap_nesting_is_bounded() {
    // Each index names the next, and itself: fetched once each, and no deeper than allowed.
    let server = TestServer::start(|req| {
        let base = format!("http://{}", req.host());
        match req
            .path()
            .strip_prefix("/index/")
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(n) => xml(&index(&[
                format!("{base}/index/{}", n + 1),
                format!("{base}/index/{n}"),
            ])),
            None if req.path() == "/" => Response::html("home"),
            None => Response::not_found(),
        }
    });
    let (report, _) = crawl(
        local()
            .seed(server.url("/"))
            .sitemap(server.url("/index/0"))
            .obey_robots(false),
    );
    let fetched = u64::from(arachne_core::MAX_SITEMAP_NESTING) + 1;
    assert_eq!(report.sitemaps_fetched, fetched);
    assert_eq!(server.hits(&format!("/index/{fetched}")), 0);
    assert_eq!(server.hits("/index/0"), 1);
}

/// A site whose robots.txt names a sitemap on `other`, under another host name.
fn site_naming_a_sitemap_on(other: &TestServer) -> TestServer {
    let elsewhere = other.url_as("other.test", "/sitemap.xml");
    TestServer::start(move |req| match req.path() {
        "/robots.txt" => Response::status(200).body(format!("Sitemap: {elsewhere}\n")),
        _ => Response::html("home"),
    })
}

#[test]
fn sitemaps_named_by_robots_on_other_hosts_are_not_fetched() {
    let other = Routes::new()
        .route("/sitemap.xml", Response::redirect(301, "/real.xml"))
        .route("/real.xml", xml(&urlset(&[])))
        .serve();
    let server = site_naming_a_sitemap_on(&other);
    let (report, records) = crawl(
        local()
            .seed(server.url("/"))
            .resolve("other.test", other.addr()),
    );
    assert_eq!(records.len(), 1);
    assert_eq!(other.total_requests(), 0, "other.test is out of scope");
    assert_eq!(report.resources_out_of_scope, 1);
    assert_eq!((report.sitemaps_fetched, report.sitemaps_failed), (0, 0));

    // The user may name it: then it is read, redirects on its own host included.
    let (report, _) = crawl(
        local()
            .seed(server.url("/"))
            .sitemap(other.url_as("other.test", "/sitemap.xml"))
            .resolve("other.test", other.addr()),
    );
    assert_eq!(
        (other.hits("/sitemap.xml"), other.hits("/real.xml")),
        (1, 1)
    );
    assert_eq!(report.sitemaps_fetched, 1);
}

#[test]
fn a_prefix_crawl_does_not_reach_the_host_of_a_robots_sitemap() {
    // The command line, as a user runs it: `localhost` is another host than 127.0.0.1.
    let other = Routes::new()
        .route(
            "/sitemap.txt",
            Response::status(200).body("http://localhost/x\n"),
        )
        .serve();
    let elsewhere = other.url_as("localhost", "/sitemap.txt");
    let server = TestServer::start(move |req| match req.path() {
        "/robots.txt" => Response::status(200).body(format!("Sitemap: {elsewhere}\n")),
        _ => Response::html("<a href=\"page\">page</a>"),
    });
    let output = crate::support::arachne(
        &["crawl", &server.url("/docs/"), "--scope", "prefix", "-vv"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(other.total_requests(), 0, "{stderr}");
    assert!(
        stderr.contains("sitemap not fetched: out of scope"),
        "{stderr}"
    );
    assert!(stderr.contains("1 crawler resource"), "{stderr}");
}

#[test]
fn robots_txt_redirecting_out_of_scope_is_not_followed() {
    let other = Routes::new()
        .route(
            "/robots.txt",
            Response::status(200).body("User-agent: *\nDisallow: /\n"),
        )
        .serve();
    let target = other.url_as("other.test", "/robots.txt");
    let server = TestServer::start(move |req| match req.path() {
        "/robots.txt" => Response::redirect(301, &target),
        _ => Response::html("<a href=\"/a\">a</a>"),
    });
    let (report, records) = crawl(
        local()
            .seed(server.url("/"))
            .resolve("other.test", other.addr()),
    );
    assert_eq!(other.total_requests(), 0);
    // Not followed, so as if there were none (RFC 9309 treats that like a 4xx).
    assert_eq!(paths(&records), set(["/", "/a"]));
    assert_eq!(report.resources_out_of_scope, 1);
}

#[test]
fn nested_sitemaps_on_other_hosts_are_not_fetched() {
    let other = Routes::new()
        .route("/nested.xml", xml(&urlset(&[])))
        .serve();
    let nested = other.url_as("other.test", "/nested.xml");
    let server = TestServer::start(move |req| match req.path() {
        "/index.xml" => xml(&index(std::slice::from_ref(&nested))),
        _ => Response::html("home"),
    });
    let (report, _) = crawl(
        local()
            .seed(server.url("/"))
            .sitemap(server.url("/index.xml"))
            .resolve("other.test", other.addr()),
    );
    assert_eq!(other.total_requests(), 0);
    assert_eq!(report.sitemaps_fetched, 1);
    assert_eq!(report.resources_out_of_scope, 1);
}

#[test]
fn failed_sitemaps_are_counted_apart_and_reported() {
    let server = TestServer::start(|req| match req.path() {
        "/robots.txt" => {
            let base = format!("http://{}", req.host());
            Response::status(200).body(format!(
                "Sitemap: {base}/gone.xml\nSitemap: {base}/page.html\n"
            ))
        }
        "/gone.xml" => Response::not_found(),
        _ => Response::html("<!DOCTYPE html><html><p>not a sitemap</p></html>"),
    });
    let (report, _) = crawl(local().seed(server.url("/")));
    assert_eq!((report.sitemaps_fetched, report.sitemaps_failed), (0, 2));
    assert!(report.to_string().contains("2 sitemaps failed"), "{report}");
}

#[test]
fn a_user_sitemap_that_fails_is_a_warning() {
    let server = Routes::new().page("/", "home").serve();
    let dir = std::env::temp_dir().join(format!("arachne-sitemap-404-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stats = dir.join("stats.json");
    let sitemap = server.url("/sitemap.xml");
    let output = crate::support::arachne(
        &[
            "crawl",
            &server.url("/"),
            "--sitemap",
            &sitemap,
            "--stats-json",
            stats.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("WARN"),
        "warned at the default level: {stderr}"
    );
    assert!(stderr.contains("sitemap could not be read"), "{stderr}");
    assert!(
        stderr.contains(&sitemap) && stderr.contains("HTTP status 404"),
        "{stderr}"
    );
    assert!(
        stderr.contains("0 sitemaps (0 URLs), 1 sitemap failed"),
        "{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(
        (
            report["sitemaps_fetched"].as_u64(),
            report["sitemaps_failed"].as_u64()
        ),
        (Some(0), Some(1))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
