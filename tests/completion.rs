use arachne::output::ErrorKind;
use arachne_testkit::Routes;

use crate::support::{RefusingPort, crawl, local, paths, set};

#[test]
fn single_page_without_links() {
    let server = Routes::new().page("/", "<p>alone</p>").serve();
    let (report, records) = crawl(local().seed(server.url("/")));
    assert_eq!((report.pages, records[0].links), (1, 0));
}

#[test]
fn self_links_and_cycles() {
    let server = Routes::new()
        .page(
            "/",
            r##"<a href="/">me</a><a href="/b">b</a><a href="#top">top</a>"##,
        )
        .page("/b", r#"<a href="/">back</a><a href="/b">me</a>"#)
        .serve();
    let (_, records) = crawl(local().seed(server.url("/")));
    assert_eq!(paths(&records), set(["/", "/b"]));
    assert_eq!((server.hits("/"), server.hits("/b")), (1, 1));
}

#[test]
fn failing_seed_is_recorded() {
    let refusing = RefusingPort::new();
    let seed = refusing.url("/");
    let (report, records) = crawl(local().seed(&seed));
    assert_eq!(records.len(), 1);
    // An unreachable robots.txt means "disallow" (RFC 9309): the seed is not fetched, and
    // its record says why, with the kind of the failure that kept robots.txt away.
    let error = records[0].error.as_ref().expect("an error");
    assert_eq!(error.kind, ErrorKind::Connect, "{}", error.message);
    assert!(error.message.contains("unreachable"), "{}", error.message);
    assert!(error.message.contains("onnect"), "{}", error.message);
    assert!(records[0].status.is_none());
    assert_eq!(report.errors.get(&ErrorKind::Connect), Some(&1));
    assert!(report.every_seed_failed());
    assert!(report.to_string().contains("every seed failed"), "{report}");

    // Without robots.txt, the fetch itself fails, after its retries: the same kind.
    let (_, records) = crawl(local().seed(&seed).obey_robots(false).retries(1));
    let error = records[0].error.as_ref().expect("an error");
    assert_eq!(
        (error.kind, records[0].attempts),
        (ErrorKind::Connect, 2),
        "{}",
        error.message
    );
}

#[test]
fn all_seeds_failing() {
    let missing = Routes::new().serve();
    let (a, b) = (RefusingPort::new(), RefusingPort::new());
    let seeds = [a.url("/a"), b.url("/b"), missing.url("/gone")];
    let (report, records) = crawl(local().seeds(&seeds));
    assert_eq!(records.len(), 3);
    assert_eq!(report.error_count(), 2);
    assert_eq!(report.by_status.get(&404), Some(&1));
    assert_eq!((report.seeds, report.seeds_failed), (3, 3));
}

#[test]
fn unreachable_host_among_good_ones() {
    let refusing = RefusingPort::new();
    let port = refusing.port;
    let page = format!(
        r#"<a href="{}">dead</a><a href="/ok">ok</a>"#,
        refusing.url("/x")
    );
    let server = Routes::new().page("/", &page).page("/ok", "fine").serve();
    let builder = local()
        .seed(server.url("/"))
        .scope(arachne::Scope::Any)
        .max_depth(1);
    let (report, records) = crawl(builder);
    assert_eq!(records.len(), 3);
    let dead = records.iter().find(|r| r.url.port() == Some(port)).unwrap();
    assert_eq!(dead.error.as_ref().unwrap().kind, ErrorKind::Connect);
    assert!(!report.every_seed_failed());
}

#[test]
fn duplicate_seeds_are_crawled_once() {
    let server = Routes::new().page("/", "x").serve();
    let (_, records) = crawl(
        local()
            .seed(server.url("/"))
            .seed(server.url("/#frag"))
            .seed(server.url("")),
    );
    assert_eq!(records.len(), 1);
    assert_eq!(server.hits("/"), 1);
}

#[test]
fn bad_settings_are_reported_by_build() {
    use arachne::Error;
    let err = |b: arachne::CrawlerBuilder| b.build().unwrap_err();
    assert!(matches!(err(local()), Error::NoSeeds));
    assert!(matches!(
        err(local().seed("ftp://a.test/")),
        Error::InvalidSeed(_)
    ));
    assert!(matches!(
        err(local().seed("http://a.test/").include("(")),
        Error::Pattern(_)
    ));
    assert!(matches!(
        err(local().seed("http://a.test/").concurrency(0)),
        Error::InvalidSetting {
            name: "concurrency",
            ..
        }
    ));
}
