//! Broken and hostile input: each case gets a recorded outcome, nothing panics or hangs,
//! and the rest of the site is still crawled.

use std::net::SocketAddr;
use std::time::Duration;

use arachne::output::{ErrorKind, PageRecord};
use arachne::{CrawlerBuilder, Scope};
use arachne_testkit::{Behavior, Response, Routes, TestServer, gzip};

use crate::support::{crawl, local, record};

/// Serves `/` linking to `/case` and `/after`, with `case` at `/case`; crawls it with
/// `tune` applied, checks that `/after` was crawled, and returns the record of `/case`.
fn hostile(case: Response, tune: impl FnOnce(CrawlerBuilder) -> CrawlerBuilder) -> PageRecord {
    let (records, _) = hostile_site(case, tune);
    record(&records, "/case").clone()
}

fn hostile_site(
    case: Response,
    tune: impl FnOnce(CrawlerBuilder) -> CrawlerBuilder,
) -> (Vec<PageRecord>, TestServer) {
    let server = Routes::new()
        .page(
            "/",
            r#"<a href="/case">case</a> <a href="/after">after</a>"#,
        )
        .route("/case", case)
        .page("/after", "still crawled")
        .serve();
    let (_, records) = crawl(tune(local().seed(server.url("/"))));
    assert_eq!(
        record(&records, "/after").status,
        Some(200),
        "the rest of the site is crawled"
    );
    (records, server)
}

fn html_bytes(content_type: &str, body: Vec<u8>) -> Response {
    Response::status(200)
        .header("Content-Type", content_type)
        .body(body)
}

fn kind(record: &PageRecord) -> Option<ErrorKind> {
    record.error.as_ref().map(|e| e.kind)
}

#[test]
fn malformed_html() {
    let body = r#"<html><body><div><p>unclosed <b><i>tags</div></div></span><a href=/unquoted>u</a>
        <table><tr><td><a href="/in-table">t</a><td></tr></tr></table><a href="/x" <a href='/y'>
        <!-- unterminated comment <a href="/hidden">"#;
    let (records, server) = hostile_site(Response::html(body), |b| b);
    let case = record(&records, "/case");
    assert_eq!((case.status, kind(case)), (Some(200), None));
    assert!(case.links >= 2);
    assert_eq!(server.hits("/unquoted"), 1);
    assert_eq!(server.hits("/in-table"), 1);
}

#[test]
fn deeply_nested_html() {
    // Links are read without a document, in linear time: the one at the bottom of 300,000
    // nested elements counts too.
    let body = format!(
        "<a href=\"/shallow\">s</a>{}<a href=\"/deep\">d</a>{}",
        "<div>".repeat(300_000),
        "</div>".repeat(10)
    );
    let (records, server) = hostile_site(Response::html(body), |b| b);
    let case = record(&records, "/case");
    assert_eq!((case.status, kind(case), case.links), (Some(200), None, 2));
    assert_eq!(server.hits("/shallow"), 1);
    assert_eq!(server.hits("/deep"), 1);
}

#[test]
fn windows_1252_page() {
    let (_, server) = hostile_site(
        html_bytes(
            "text/html; charset=windows-1252",
            b"<a href=\"/caf\xe9\">caf\xe9</a>".to_vec(),
        ),
        |b| b,
    );
    assert_eq!(
        server.hits("/caf%C3%A9"),
        1,
        "the link is decoded as windows-1252"
    );
}

#[test]
fn shift_jis_page_sniffed_from_meta() {
    // "/日本" in Shift_JIS, declared only by a <meta>.
    let mut body = b"<meta charset=\"Shift_JIS\"><a href=\"/".to_vec();
    body.extend_from_slice(b"\x93\xfa\x96\x7b");
    body.extend_from_slice(b"\">jp</a>");
    let (_, server) = hostile_site(html_bytes("text/html", body), |b| b);
    assert_eq!(server.hits("/%E6%97%A5%E6%9C%AC"), 1);
}

#[test]
fn utf16_page_with_bom() {
    let mut body = vec![0xFF, 0xFE];
    for unit in "<a href=\"/utf16\">sixteen</a>".encode_utf16() {
        body.extend_from_slice(&unit.to_le_bytes());
    }
    let (_, server) = hostile_site(html_bytes("text/html", body), |b| b);
    assert_eq!(server.hits("/utf16"), 1);
}

#[test]
fn charset_that_lies() {
    // Declared UTF-8, actually windows-1252: invalid bytes become U+FFFD, links still work.
    let body = b"<p>caf\xe9 \xff\xfe</p><a href=\"/ascii-link\">x</a>".to_vec();
    let (records, server) = hostile_site(html_bytes("text/html; charset=utf-8", body), |b| b);
    assert_eq!(kind(record(&records, "/case")), None);
    assert_eq!(server.hits("/ascii-link"), 1);
}

#[test]
fn body_larger_than_the_cap() {
    let case = hostile(Response::html("<p>big</p>".repeat(100_000)), |b| {
        b.max_body(64 * 1024)
    });
    assert!(case.truncated);
    assert_eq!(case.bytes, 64 * 1024);
    assert_eq!(kind(&case), None);
}

#[test]
fn endless_chunked_body() {
    let case = hostile(Response::html("").behave(Behavior::EndlessChunked), |b| {
        b.max_body(256 * 1024)
    });
    assert!(case.truncated);
    assert_eq!(case.bytes, 256 * 1024);
}

#[test]
fn gzip_bomb_is_capped_after_decompression() {
    let bomb = gzip(&vec![b'a'; 32 * 1024 * 1024]);
    assert!(bomb.len() < 200_000, "the bomb is small on the wire");
    let case = hostile(
        Response::html(bomb).header("Content-Encoding", "gzip"),
        |b| b.max_body(1024 * 1024),
    );
    assert!(case.truncated);
    assert_eq!(case.bytes, 1024 * 1024);
}

#[test]
fn redirect_loop() {
    let server = Routes::new()
        .page(
            "/",
            r#"<a href="/case">case</a> <a href="/after">after</a>"#,
        )
        .route("/case", Response::redirect(302, "/case2"))
        .route("/case2", Response::redirect(302, "/case"))
        .page("/after", "still crawled")
        .serve();
    let (_, records) = crawl(local().seed(server.url("/")));
    assert_eq!(
        kind(record(&records, "/case")),
        Some(ErrorKind::RedirectLoop)
    );
    assert_eq!(record(&records, "/after").status, Some(200));
}

#[test]
fn redirect_chain_longer_than_the_maximum() {
    let server = TestServer::start(|req| match req.path() {
        "/" => Response::html(r#"<a href="/case">case</a> <a href="/after">after</a>"#),
        "/case" => Response::redirect(302, "/hop/1"),
        "/after" => Response::html("still crawled"),
        path => match path
            .strip_prefix("/hop/")
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(n) => Response::redirect(302, &format!("/hop/{}", n + 1)),
            None => Response::not_found(),
        },
    });
    let (_, records) = crawl(local().seed(server.url("/")).max_redirects(3));
    let case = record(&records, "/case");
    assert_eq!(kind(case), Some(ErrorKind::TooManyRedirects));
    assert_eq!(case.redirects.len(), 4);
    assert_eq!(server.hits("/hop/4"), 0);
    assert_eq!(record(&records, "/after").status, Some(200));
}

#[test]
fn redirect_to_another_host_out_of_scope() {
    let other = Routes::new().page("/", "elsewhere").serve();
    let target = other.url_as("elsewhere.test", "/");
    let addr = SocketAddr::from(([127, 0, 0, 1], other.port()));
    let case = hostile(Response::redirect(301, &target), |b| {
        b.resolve("elsewhere.test", addr)
    });
    assert_eq!(kind(&case), Some(ErrorKind::RedirectOutOfScope));
    assert_eq!(other.total_requests(), 0);
}

#[test]
fn redirect_to_file_scheme() {
    let case = hostile(Response::redirect(302, "file:///etc/passwd"), |b| b);
    assert_eq!(kind(&case), Some(ErrorKind::RedirectBadScheme));
    assert_eq!(case.status, Some(302));
}

#[test]
fn server_that_never_answers() {
    let case = hostile(Response::html("").behave(Behavior::NeverAnswer), |b| {
        b.timeout(Duration::from_millis(300)).retries(0)
    });
    assert_eq!(kind(&case), Some(ErrorKind::Timeout));
}

#[test]
fn slow_loris_headers_then_nothing() {
    let case = hostile(
        Response::html("x".repeat(1000)).behave(Behavior::StallAfterHeaders),
        |b| b.timeout(Duration::from_millis(300)).retries(1),
    );
    assert_eq!(kind(&case), Some(ErrorKind::Timeout));
    assert_eq!(case.attempts, 2);
}

#[test]
fn connection_reset_mid_body() {
    let case = hostile(
        Response::html("x".repeat(100_000)).behave(Behavior::ResetAfter(1000)),
        |b| b.retries(0),
    );
    let kind = kind(&case).unwrap_or_else(|| panic!("an error: {case:?}"));
    assert!(
        matches!(kind, ErrorKind::Body | ErrorKind::Request),
        "{case:?}"
    );
}

/// An error status is recorded as it is; error pages are not parsed; 429 and 500 are
/// retried (once here).
fn error_status(status: u16, attempts: u32) {
    let case = hostile(
        Response::status(status).body("<a href=\"/from-error\">x</a>"),
        |b| b.retries(1),
    );
    assert_eq!((case.status, kind(&case)), (Some(status), None));
    assert_eq!(case.attempts, attempts);
    assert_eq!(case.links, 0, "error pages are not parsed");
}

#[test]
fn status_404() {
    error_status(404, 1);
}

#[test]
fn status_410() {
    error_status(410, 1);
}

#[test]
fn status_500() {
    error_status(500, 2);
}

#[test]
fn status_429() {
    error_status(429, 2);
}

#[test]
fn empty_200() {
    let case = hostile(Response::html(""), |b| b);
    assert_eq!(
        (case.status, case.bytes, case.links, kind(&case)),
        (Some(200), 0, 0, None)
    );
}

#[test]
fn binary_body_labelled_html() {
    let mut garbage: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    garbage.splice(0..0, b"\x89PNG\r\n\x1a\n".iter().copied());
    let case = hostile(html_bytes("text/html", garbage), |b| b);
    assert_eq!((case.status, kind(&case)), (Some(200), None));
}

/// A page whose only links are `hrefs`: nothing but the page is fetched, and the skipped
/// references are counted.
fn not_links(hrefs: &[&str]) -> arachne::report::SkipCounts {
    let body: String = hrefs
        .iter()
        .map(|h| format!("<a href=\"{h}\">x</a>"))
        .collect();
    let server = Routes::new().page("/", &body).serve();
    let (report, records) = crawl(local().seed(server.url("/")));
    assert_eq!(records.len(), 1);
    assert_eq!(server.total_requests(), 2, "the page and robots.txt");
    report.skipped
}

#[test]
fn empty_hrefs() {
    let counts = not_links(&["", "#", "#top"]);
    assert_eq!((counts.same_page, counts.total()), (3, 0));
}

#[test]
fn whitespace_hrefs() {
    assert_eq!(not_links(&["   ", "\t\n", " #x "]).same_page, 3);
}

#[test]
fn javascript_hrefs() {
    assert_eq!(
        not_links(&["javascript:void(0)", "JavaScript:alert(1)", " javascript:x"]).javascript,
        3
    );
}

#[test]
fn mailto_hrefs() {
    assert_eq!(
        not_links(&["mailto:a@b.test", "MAILTO:x@y.test?subject=hi"]).mailto,
        2
    );
}

#[test]
fn data_hrefs() {
    assert_eq!(
        not_links(&["data:text/html,<a href=/evil>x</a>", "data:,x"]).data,
        2
    );
}

#[test]
fn protocol_relative_links() {
    let server = TestServer::start(|req| match req.path() {
        "/" => Response::html(format!(r#"<a href="//{}/proto">p</a>"#, req.host())),
        _ => Response::html("ok"),
    });
    crawl(local().seed(server.url("/")));
    assert_eq!(server.hits("/proto"), 1);
}

#[test]
fn idn_hosts() {
    let server = TestServer::start(|req| match req.path() {
        "/" if req.host().starts_with("xn--bcher-kva.test:") => Response::html("idn host"),
        _ => Response::not_found(),
    });
    let page = format!(r#"<a href="http://bücher.test:{}/">idn</a>"#, server.port());
    let entry = Routes::new().page("/", &page).serve();
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port()));
    let (_, records) = crawl(
        local()
            .seed(entry.url("/"))
            .scope(Scope::Any)
            .resolve("xn--bcher-kva.test", addr),
    );
    let idn = records
        .iter()
        .find(|r| r.url.host_str() == Some("xn--bcher-kva.test"))
        .expect("IDN URL crawled");
    assert_eq!(idn.status, Some(200));
    assert_eq!(server.hits("/"), 1);
}

#[test]
fn percent_encoded_unicode() {
    let server = Routes::new()
        .page("/", r#"<a href="/café">raw</a><a href="/caf%C3%A9">encoded</a><a href="/caf%c3%a9">lower</a>"#)
        .page("/caf%C3%A9", "accented")
        .serve();
    let (_, records) = crawl(local().seed(server.url("/")));
    assert_eq!(records.len(), 2, "three spellings, one URL");
    assert_eq!(server.hits("/caf%C3%A9"), 1);
}

#[test]
fn ten_thousand_links_on_one_page() {
    let links: String = (0..10_000)
        .map(|i| format!("<a href=\"/l/{i}\">{i}</a>\n"))
        .collect();
    let server = Routes::new().page("/", &links).serve();
    let (report, records) = crawl(local().seed(server.url("/")).exclude("/l/"));
    assert_eq!(records[0].links, 10_000);
    assert_eq!(report.out_of_scope, 10_000);
}
