use std::path::PathBuf;
use std::process::{Command, Output};

use arachne_testkit::{Response, Routes, Shop, SyntheticSite};

/// A command for an example binary that `cargo test` built beside this test binary.
fn example_command(name: &str, args: &[&str]) -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path: PathBuf = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test`",
        path.display()
    );
    let mut command = Command::new(path);
    command.args(args);
    command
}

/// Runs an example against the tests' local servers: no politeness delay.
fn example(name: &str, args: &[&str]) -> Output {
    let mut command = example_command(name, args);
    command
        .env("ARACHNE_DELAY", "0")
        .env("ARACHNE_PER_HOST", "8");
    crate::support::run_command(command)
}

/// The examples that crawl from a URL argument, with the arguments before MAX_PAGES.
const URL_EXAMPLES: [(&str, &[&str]); 9] = [
    ("basic_crawl", &[]),
    ("custom_actor", &[]),
    ("link_checker", &[]),
    ("extract_items", &[]),
    ("sitemap_crawl", &[]),
    ("warc_archive", &["arachne-example-usage.warc.gz"]),
    ("books", &["arachne-example-books.jsonl"]),
    ("login", &["user", "password"]),
    ("api", &[]),
];

#[test]
fn examples_agree_on_usage_errors() {
    for (name, more) in URL_EXAMPLES {
        // A bad seed: exit 2, with the reason and the politeness hint (the crawl would
        // have used the polite defaults).
        let mut args = vec!["not a url"];
        args.extend_from_slice(more);
        let mut command = example_command(name, &args);
        command
            .env_remove("ARACHNE_DELAY")
            .current_dir(std::env::temp_dir());
        let output = crate::support::run_command(command);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains("not a valid URL"), "{name}: {stderr}");
        assert!(stderr.contains("ARACHNE_DELAY=0"), "{name}: {stderr}");
        assert!(
            !std::env::temp_dir()
                .join(more.first().unwrap_or(&"-"))
                .exists(),
            "{name}: no output is left behind"
        );

        // A MAX_PAGES that is not a number: exit 2, never silently the default.
        let mut args = vec!["http://127.0.0.1:9/"];
        args.extend_from_slice(more);
        args.push("many");
        let output = example(name, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("MAX_PAGES: `many` is not a whole number"),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn basic_crawl() {
    let server = SyntheticSite::new(40, 2).serve();
    let output = example("basic_crawl", &[&server.url("/page/0"), "25"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 25);
    for line in stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    assert!(String::from_utf8_lossy(&output.stderr).contains("crawled 25 pages"));
}

#[test]
fn custom_actor_collects_titles() {
    let server = SyntheticSite::new(30, 2).serve();
    let output = example("custom_actor", &[&server.url("/page/0")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 30);
    for i in 0..30 {
        let line = format!("{}\tPage {i}", server.url(&SyntheticSite::path(i)));
        assert!(stdout.lines().any(|l| l == line), "missing {line:?}");
    }
}

#[test]
fn link_checker_finds_broken_links_and_referrers() {
    let server = Routes::new()
        .page(
            "/",
            r#"<a href="/ok">ok</a> <a href="/missing">missing</a> <a href="/gone">gone</a>"#,
        )
        .page(
            "/ok",
            r#"<a href="/missing">again</a> <a href="/">home</a>"#,
        )
        .route("/gone", Response::status(410))
        .serve();
    let output = example("link_checker", &[&server.url("/")]);
    assert_eq!(output.status.code(), Some(1), "broken links found");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let want = format!(
        "BROKEN 410 {gone}\n  linked from {root}\nBROKEN 404 {missing}\n  linked from {root}\n  linked from {ok}\n",
        gone = server.url("/gone"),
        missing = server.url("/missing"),
        root = server.url("/"),
        ok = server.url("/ok"),
    );
    assert_eq!(stdout, want);
}

#[test]
fn local_crawl_runs_the_cli_on_a_local_site() {
    let dir = std::env::temp_dir().join(format!("arachne-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("local_crawl");
    let mut command = Command::new(path);
    command
        .args(["--pages", "50", "--no-progress"])
        .current_dir(&dir);
    let output = crate::support::run_command(command);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("pages.jsonl"))
            .unwrap()
            .lines()
            .count(),
        50
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extract_items_writes_typed_items() {
    let server = SyntheticSite::new(20, 2).serve();
    let output = example("extract_items", &[&server.url("/page/0")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let items: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(items.len(), 20);
    for item in &items {
        let url: arachne::Url = item["url"].as_str().unwrap().parse().unwrap();
        let n = url.path().rsplit('/').next().unwrap();
        assert_eq!(item["title"], format!("Page {n}"));
        assert_eq!(item["headings"][0], format!("Page {n}"));
        assert!(item["links"].as_u64().unwrap() >= 3);
    }
}

#[test]
fn sitemap_crawl_fetches_the_listed_pages() {
    let server = arachne_testkit::TestServer::start(|req| {
        let base = format!("http://{}", req.host());
        match req.path() {
            "/sitemap.xml" => Response::status(200).body(format!(
                "<urlset><url><loc>{base}/listed/1</loc></url><url><loc>{base}/listed/2</loc></url></urlset>"
            )),
            "/" => Response::html("<a href=\"/not-listed\">x</a>"),
            _ => Response::html("listed"),
        }
    });
    let output = example("sitemap_crawl", &[&server.url("/sitemap.xml")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    for path in ["/", "/listed/1", "/listed/2"] {
        assert!(
            stdout.contains(&format!("200 {}\n", server.url(path))),
            "{path}: {stdout}"
        );
    }
    assert_eq!(server.hits("/not-listed"), 0, "links are not followed");
}

#[test]
fn warc_archive_writes_a_readable_warc() {
    let server = SyntheticSite::new(10, 2).serve();
    let dir = std::env::temp_dir().join(format!("arachne-warc-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("site.warc.gz");
    let output = example(
        "warc_archive",
        &[&server.url("/page/0"), path.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    // warcinfo, then a response and a request for robots.txt and each of the ten pages.
    assert!(
        stdout.contains(": 23 records, 11 responses, for 10 pages"),
        "{stdout}"
    );
    let records = arachne::output::read_warc(&path).unwrap();
    assert_eq!(records.len(), 23);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn books_scrapes_the_shop_through_a_pipeline() {
    let shop = Shop::default();
    let priced: Vec<String> = shop
        .books()
        .iter()
        .filter(|b| b.price.is_some())
        .map(|b| b.title.clone())
        .collect();
    let server = shop.serve();
    let dir = std::env::temp_dir().join(format!("arachne-books-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("books.jsonl");
    let output = example("books", &[&server.url("/"), out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let books: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut titles: Vec<String> = books
        .iter()
        .map(|b| b["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    let mut want = priced.clone();
    want.sort();
    assert_eq!(titles, want, "every priced book once, none without a price");
    let keys: Vec<&String> = books[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["title", "price", "url"],
        "fields in the order of the type"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(&format!("{} books with a price, 3 dropped", priced.len())),
        "{stdout}"
    );
    for category in arachne_testkit::shop::CATEGORIES {
        let first = format!("/catalogue/category/{category}/index.html");
        let second = format!("/catalogue/category/{category}/page-2.html");
        assert_eq!(
            (server.hits(&first), server.hits(&second)),
            (1, 1),
            "{category}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn login_posts_the_form_and_crawls_with_the_session() {
    let server = Shop::default().serve();
    let (user, password) = arachne_testkit::shop::CREDENTIALS;
    let output = example("login", &[&server.url("/login"), user, password]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    for n in 1..=arachne_testkit::shop::MEMBER_PAGES {
        let line = format!("{}\tMember page {n}", server.url(&format!("/members/{n}")));
        assert!(
            stdout.lines().any(|l| l == line),
            "{line:?} missing: {stdout}"
        );
    }
    assert!(stdout.contains("\tYour account"), "{stdout}");

    // A wrong password: the members' pages stay shut.
    let output = example("login", &[&server.url("/login"), user, "wrong"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains("Member page"), "{stdout}");
}

#[test]
fn api_follows_the_pages_of_a_json_api() {
    let shop = Shop::default();
    let count = shop.books().len();
    let server = shop.serve();
    let output = example("api", &[&server.url("/api/books?page=1")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let records: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), count);
    let ids: std::collections::BTreeSet<u64> =
        records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), count, "each page once");
    assert_eq!(server.hits("/api/books?page=5"), 1);
}

/// The `books` example's spider, compiled here too to be tested on its own.
#[path = "../examples/books/spider.rs"]
mod books_example;

/// The `books` example's spider on the shop's pages, with no network: the fixture answers
/// in place, and `run_spider` runs the spider as the crawl would.
mod books_spider {
    use arachne::Request;
    use arachne::spider::run_spider;
    use arachne_testkit::Shop;

    use super::books_example::{Book, spider};

    fn fixture(shop: &Shop, path: &str) -> arachne::bytes::Bytes {
        let request = arachne_testkit::Request {
            method: "GET".into(),
            target: path.into(),
            headers: Vec::new(),
            body: Default::default(),
        };
        shop.respond(&request).body
    }

    #[test]
    fn list_pages_lead_to_books_and_the_next_list() {
        let shop = Shop::default();
        let list = Request::get("http://shop.test/").label("list");
        let out = run_spider(&spider(), list, 200, fixture(&shop, "/")).unwrap();
        let labels: Vec<_> = out.requests.iter().map(|r| r.label().unwrap()).collect();
        assert_eq!(
            labels,
            [
                "book", "book", "book", "book", "book", "list", "list", "list", "list"
            ]
        );
        assert_eq!(
            out.requests[0].url.as_str(),
            "http://shop.test/catalogue/1/index.html"
        );
        assert_eq!(
            out.requests[5].url.as_str(),
            "http://shop.test/catalogue/page-2.html"
        );
        assert_eq!(
            out.requests[6].url.as_str(),
            "http://shop.test/catalogue/category/travel/index.html"
        );
    }

    #[test]
    fn book_pages_become_books() {
        let shop = Shop::default();
        let page = |id: usize| {
            let request =
                Request::get(format!("http://shop.test/catalogue/{id}/index.html")).label("book");
            let body = fixture(&shop, &format!("/catalogue/{id}/index.html"));
            run_spider(&spider(), request, 200, body).unwrap()
        };
        let book = page(1).items.remove(0).downcast::<Book>().unwrap();
        assert_eq!(book.title, shop.books()[0].title);
        assert_eq!(book.price, shop.books()[0].price);
        let unpriced = page(7).items.remove(0).downcast::<Book>().unwrap();
        assert_eq!(unpriced.price, None, "the pipeline drops it");
    }
}
