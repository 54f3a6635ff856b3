//! Spiders steer the crawl: routes by label, user data, priorities, POSTs, JSON
//! responses; and every follow-up request obeys the scope, robots.txt, deduplication and
//! the limits.

use std::sync::{Arc, Mutex};

use arachne::{Out, Page, Request, Router, Scope, SpiderError};
use arachne_testkit::{Response, Routes, Shop, TestServer};
use serde::Serialize;

use crate::support::{crawl, local, paths, set};

#[derive(Serialize, Debug, Clone, PartialEq)]
struct Book {
    title: String,
    category: String,
}

#[test]
fn routes_carry_labels_and_data_from_list_to_product() {
    let shop = Shop::default();
    let server = shop.clone().serve();
    let items = Arc::new(Mutex::new(Vec::new()));
    let collected = Arc::clone(&items);
    let spider = Router::new()
        .route("home", |page: &Page<'_>, out: &mut Out| {
            for category in page.select(".side_categories ul li ul li a").elements() {
                let name = category.text().collect::<String>();
                let href = category.value().attr("href").unwrap_or_default();
                out.request(
                    Request::get(href)
                        .label("list")
                        .data(serde_json::json!({ "category": name })),
                );
            }
            Ok(())
        })
        .route("list", |page: &Page<'_>, out: &mut Out| {
            for href in page.select("article.product_pod h3 a").attrs("href") {
                out.request(Request::get(href).label("book").data(page.data().clone()));
            }
            if let Some(next) = page.select("li.next a").attrs("href").first() {
                out.request(Request::get(*next).label("list").data(page.data().clone()));
            }
            Ok(())
        })
        .route("book", |page: &Page<'_>, out: &mut Out| {
            out.item(Book {
                title: page.text(".product_main h1")?,
                category: page.data()["category"].as_str().unwrap_or("?").to_owned(),
            });
            Ok(())
        });
    let (report, records) = crawl(
        local()
            .seed(Request::get(server.url("/")).label("home"))
            .spider(spider)
            .on_item(move |item| {
                collected
                    .lock()
                    .unwrap()
                    .push(item.item.downcast_ref::<Book>().unwrap().clone());
            }),
    );
    let items = items.lock().unwrap();
    assert_eq!(items.len(), shop.books().len());
    for book in shop.books() {
        let got = items.iter().find(|b| b.title == book.title).unwrap();
        assert_eq!(got.category, book.category, "the data rode along");
    }
    assert_eq!(report.items.get("Book"), Some(&(shop.books().len() as u64)));
    let lists = records
        .iter()
        .filter(|r| r.url.path().starts_with("/catalogue/category/"))
        .count();
    assert_eq!(
        lists, 6,
        "every page of every category once (8, 8 and 7 books)"
    );
    assert_eq!(server.hits("/login"), 0, "only what the spider asked for");
}

#[test]
fn follow_ups_obey_scope_robots_dedup_and_depth() {
    let other = Routes::new().page("/x", "elsewhere").serve();
    let elsewhere = other.url_as("elsewhere.test", "/x");
    let server = TestServer::start(move |req| match req.path() {
        "/robots.txt" => Response::status(200).body("User-agent: *\nDisallow: /private\n"),
        "/" => Response::html("<p>start</p>"),
        _ => Response::html("<p>leaf</p>"),
    });
    let spider = move |page: &Page<'_>, out: &mut Out| {
        if page.depth() == 0 {
            out.request("/a");
            out.request("/a#again");
            out.request(Request::get("/a").priority(3));
            out.request("/private/secret");
            out.request(elsewhere.as_str());
            out.request("/deeper");
            out.request("mailto:someone@a.test");
        } else {
            out.request(format!("/from{}", page.url().path()));
        }
        Ok(())
    };
    let (report, records) = crawl(
        local()
            .seed(server.url("/"))
            .scope(Scope::Host)
            .resolve("elsewhere.test", other.addr())
            .max_depth(1)
            .spider(spider),
    );
    assert_eq!(
        paths(&records),
        set(["/", "/a", "/deeper", "/private/secret"])
    );
    let private = crate::support::record(&records, "/private/secret");
    assert_eq!(
        private.error.as_ref().unwrap().kind,
        arachne::output::ErrorKind::RobotsDisallowed
    );
    assert_eq!(server.hits("/private/secret"), 0);
    assert_eq!(server.hits("/a"), 1, "deduplicated");
    assert_eq!(server.hits("/from/a"), 0, "beyond the depth limit");
    assert_eq!(other.total_requests(), 0, "out of scope");
    assert_eq!(report.out_of_scope, 1);
    assert_eq!(report.beyond_max_depth, 2);
    assert_eq!(report.skipped.mailto, 1);
}

#[test]
fn posts_json_and_non_html_reach_the_spider() {
    let server = TestServer::start(|req| match (req.method.as_str(), req.path()) {
        ("POST", "/search") => {
            let query = String::from_utf8_lossy(&req.body).into_owned();
            Response::status(200)
                .header("Content-Type", "application/json")
                .body(format!(
                    r#"{{"query": {query:?}, "hits": ["/r/1", "/r/2"]}}"#
                ))
        }
        (_, "/robots.txt") => Response::not_found(),
        (_, path) => Response::status(200)
            .header("Content-Type", "text/plain")
            .body(format!("result {path}")),
    });
    #[derive(Serialize)]
    struct Hit {
        query: String,
        body: String,
    }
    let spider = Router::new()
        .route("search", |page: &Page<'_>, out: &mut Out| {
            let answer: serde_json::Value = page.json()?;
            for hit in answer["hits"].as_array().into_iter().flatten() {
                out.request(
                    Request::get(hit.as_str().unwrap_or_default())
                        .label("hit")
                        .data(answer["query"].clone()),
                );
            }
            Ok(())
        })
        .route("hit", |page: &Page<'_>, out: &mut Out| {
            out.item(Hit {
                query: page.data().as_str().unwrap_or_default().to_owned(),
                body: page.body_text().to_owned(),
            });
            Ok(())
        });
    let items = Arc::new(Mutex::new(Vec::new()));
    let collected = Arc::clone(&items);
    let (_, records) = crawl(
        local()
            .seed(
                Request::post(server.url("/search"))
                    .form(&[("q", "rust")])
                    .label("search"),
            )
            .spider(spider)
            .on_item(move |item| {
                let hit = item.item.downcast_ref::<Hit>().unwrap();
                collected
                    .lock()
                    .unwrap()
                    .push((hit.query.clone(), hit.body.clone()));
            }),
    );
    assert_eq!(records.len(), 3);
    let mut items = items.lock().unwrap().clone();
    items.sort();
    assert_eq!(
        items,
        [
            ("q=rust".to_owned(), "result /r/1".to_owned()),
            ("q=rust".to_owned(), "result /r/2".to_owned())
        ]
    );
}

#[test]
fn two_posts_to_one_url_are_two_requests_and_priority_goes_first() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&order);
    let server = TestServer::start(move |req| {
        seen.lock().unwrap().push(format!(
            "{} {} {}",
            req.method,
            req.target,
            String::from_utf8_lossy(&req.body)
        ));
        match req.path() {
            "/robots.txt" => Response::not_found(),
            "/" => Response::html("start"),
            _ => Response::html("done"),
        }
    });
    let spider = |page: &Page<'_>, out: &mut Out| {
        if page.depth() == 0 {
            out.request(Request::get("/low").priority(-5));
            out.request(Request::post("/form").form(&[("n", "1")]));
            out.request(Request::post("/form").form(&[("n", "2")]));
            out.request(Request::post("/form").form(&[("n", "1")]));
            out.request(Request::get("/high").priority(5));
        }
        Ok(())
    };
    let (_, records) = crawl(local().seed(server.url("/")).per_host(1).spider(spider));
    assert_eq!(records.len(), 5, "the same POST twice is one request");
    let order = order.lock().unwrap().clone();
    let after_seed: Vec<&str> = order[2..].iter().map(String::as_str).collect();
    assert_eq!(
        after_seed,
        [
            "GET /high ",
            "POST /form n=1",
            "POST /form n=2",
            "GET /low "
        ],
        "highest priority first, then in order"
    );
}

#[test]
fn spider_errors_are_counted_and_the_crawl_goes_on() {
    let server = Routes::new()
        .page("/", r#"<a href="/a">a</a><a href="/b">b</a>"#)
        .page("/a", "<h1>A</h1>")
        .page("/b", "<p>no heading</p>")
        .serve();
    let spider = |page: &Page<'_>, out: &mut Out| {
        out.follow_links();
        if page.depth() > 0 {
            out.item(page.text("h1")?);
        }
        Ok(())
    };
    let (report, records) = crawl(local().seed(server.url("/")).spider(spider));
    assert_eq!(records.len(), 3);
    assert!(
        records.iter().all(|r| r.error.is_none()),
        "the pages are fine"
    );
    assert_eq!(report.spider_errors, 1);
    assert_eq!(report.items.get("String"), Some(&1));
    assert!(
        report.to_string().contains("spider   1 page failed"),
        "{report}"
    );
}

#[test]
fn a_spider_stops_the_crawl() {
    let server = arachne_testkit::SyntheticSite::new(300, 3).serve();
    let spider = |page: &Page<'_>, out: &mut Out| -> Result<(), SpiderError> {
        out.follow_links();
        if page.url().path() == "/page/5" {
            out.stop("found page 5");
        }
        Ok(())
    };
    let (report, records) = crawl(
        local()
            .seed(server.url("/page/0"))
            .per_host(2)
            .spider(spider),
    );
    assert!(report.stopped);
    assert_eq!(
        report.ended,
        arachne::report::EndReason::Stopped {
            by: "found page 5".into()
        }
    );
    assert!(records.len() < 300);
}
