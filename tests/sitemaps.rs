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
    let fetched = u64::from(arachne::MAX_SITEMAP_NESTING) + 1;
    assert_eq!(report.sitemaps_fetched, fetched);
    assert_eq!(server.hits(&format!("/index/{fetched}")), 0);
    assert_eq!(server.hits("/index/0"), 1);
}
