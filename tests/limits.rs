use std::collections::BTreeSet;
use std::net::SocketAddr;

use arachne::Scope;
use arachne_testkit::{Routes, SyntheticSite, TestServer};

use crate::support::{crawl, local, paths, set};

#[test]
fn max_depth_is_exact() {
    let site = SyntheticSite::new(300, 2);
    let depths = site.depths();
    let server = site.serve();
    for max_depth in [0, 1, 3] {
        let (report, records) = crawl(local().seed(server.url("/page/0")).max_depth(max_depth));
        let want: BTreeSet<String> = (0..site.pages)
            .filter(|&i| depths[i] <= max_depth)
            .map(SyntheticSite::path)
            .collect();
        assert_eq!(paths(&records), want, "max depth {max_depth}");
        for r in &records {
            let i: usize = r.url.path().rsplit('/').next().unwrap().parse().unwrap();
            assert_eq!(r.depth, depths[i], "{} has its shortest depth", r.url);
        }
        if max_depth < 3 {
            assert!(report.beyond_max_depth > 0);
        }
    }
}

#[test]
fn max_pages_is_exact() {
    let site = SyntheticSite::new(200, 3);
    let server = site.serve();
    let (report, records) = crawl(
        local()
            .seed(server.url("/page/0"))
            .max_pages(37)
            .concurrency(16),
    );
    assert_eq!(records.len(), 37);
    assert_eq!(server.total_requests(), 37 + 1, "37 pages and robots.txt");
    assert_eq!(paths(&records).len(), 37);
    assert!(report.not_crawled > 0);
}

/// Three servers under three host names, all on 127.0.0.1.
struct Hosts {
    a: TestServer,
    b: TestServer,
    c: TestServer,
}

impl Hosts {
    fn start() -> Self {
        let b = Routes::new()
            .page("/", "<a href=\"/b2\">b2</a>")
            .page("/b2", "b2")
            .serve();
        let c = Routes::new().page("/", "c").serve();
        let a_links = format!(
            r#"<a href="/docs/x">x</a> <a href="/docs/sub/y">y</a> <a href="/blog/z">z</a>
               <a href="/docsearch">s</a> <a href="http://b.example.test:{}/">b</a>
               <a href="http://other.test:{}/">c</a>"#,
            b.port(),
            c.port()
        );
        let a = Routes::new()
            .page("/docs/", &a_links)
            .page("/docs/x", "x")
            .page("/docs/sub/y", "y")
            .page("/blog/z", "z")
            .page("/docsearch", "s")
            .serve();
        Self { a, b, c }
    }

    fn crawl(&self, scope: Scope) -> (u64, u64, u64, BTreeSet<String>) {
        let resolve = |server: &TestServer| SocketAddr::from(([127, 0, 0, 1], server.port()));
        let builder = local()
            .seed(self.a.url_as("a.example.test", "/docs/"))
            .scope(scope)
            .resolve("a.example.test", resolve(&self.a))
            .resolve("b.example.test", resolve(&self.b))
            .resolve("other.test", resolve(&self.c));
        let before = (
            self.a.total_requests(),
            self.b.total_requests(),
            self.c.total_requests(),
        );
        let (_, records) = crawl(builder);
        let urls = records
            .iter()
            .map(|r| format!("{}{}", r.url.host_str().unwrap(), r.url.path()))
            .collect();
        (
            self.a.total_requests() - before.0,
            self.b.total_requests() - before.1,
            self.c.total_requests() - before.2,
            urls,
        )
    }
}

#[test]
fn scope_modes() {
    let hosts = Hosts::start();
    let a_all = [
        "a.example.test/docs/",
        "a.example.test/docs/x",
        "a.example.test/docs/sub/y",
        "a.example.test/blog/z",
        "a.example.test/docsearch",
    ];

    // Each host contacted also gets one robots.txt request.
    let (a, b, c, urls) = hosts.crawl(Scope::Host);
    assert_eq!((a, b, c), (6, 0, 0), "host");
    assert_eq!(urls, set(a_all));

    let (a, b, c, urls) = hosts.crawl(Scope::Domain);
    assert_eq!((a, b, c), (6, 3, 0), "domain");
    assert!(urls.contains("b.example.test/b2"));

    let (a, b, c, urls) = hosts.crawl(Scope::Prefix);
    assert_eq!((a, b, c), (4, 0, 0), "prefix");
    assert_eq!(
        urls,
        set([
            "a.example.test/docs/",
            "a.example.test/docs/x",
            "a.example.test/docs/sub/y"
        ])
    );

    let (a, b, c, _) = hosts.crawl(Scope::Any);
    assert_eq!((a, b, c), (6, 3, 2), "any");
}

#[test]
fn include_and_exclude_patterns() {
    let server = Routes::new()
        .page("/", r#"<a href="/keep/1">1</a><a href="/keep/2">2</a><a href="/drop/1">d</a><a href="/keep/private">p</a>"#)
        .page("/keep/1", "<a href=\"/drop/2\">d2</a>")
        .serve();
    let builder = local()
        .seed(server.url("/"))
        .include("/keep/")
        .exclude("private$");
    let (report, records) = crawl(builder);
    assert_eq!(
        paths(&records),
        set(["/", "/keep/1", "/keep/2"]),
        "the seed is crawled whatever the patterns"
    );
    assert_eq!(report.out_of_scope, 3);
}
