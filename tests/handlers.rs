//! User code that receives pages and items: actors (in the caller's system or started by
//! the crawl), closures and the event stream; and the runtimes a crawl runs from.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use arachne::actix::prelude::*;
use arachne::{Event, ItemScraped, Out, Page, PageFetched, SpiderError, Url};
use arachne_testkit::{Behavior, SyntheticSite, TestServer};
use serde::Serialize;

use crate::support::{local, run_guarded};

/// A user actor that keeps what it receives.
#[derive(Default)]
struct Collector {
    pages: Vec<PageFetched>,
    items: Vec<ItemScraped>,
}

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<PageFetched> for Collector {
    type Result = ();

    fn handle(&mut self, page: PageFetched, _: &mut Context<Self>) {
        self.pages.push(page);
    }
}

impl Handler<ItemScraped> for Collector {
    type Result = ();

    fn handle(&mut self, item: ItemScraped, _: &mut Context<Self>) {
        self.items.push(item);
    }
}

#[derive(Message)]
#[rtype(result = "(Vec<PageFetched>, Vec<ItemScraped>)")]
struct Take;

impl Handler<Take> for Collector {
    type Result = MessageResult<Take>;

    fn handle(&mut self, _: Take, _: &mut Context<Self>) -> Self::Result {
        MessageResult((
            std::mem::take(&mut self.pages),
            std::mem::take(&mut self.items),
        ))
    }
}

/// The item of [`headings`].
#[derive(Serialize, Debug)]
struct Heading {
    heading: String,
    depth: u32,
}

/// Emits each page's `<h1>` text, and follows every link.
fn headings(page: &Page<'_>, out: &mut Out) -> Result<(), SpiderError> {
    out.follow_links();
    for heading in page.select("h1").texts() {
        out.item(Heading {
            heading,
            depth: page.depth(),
        });
    }
    Ok(())
}

#[test]
fn user_actor_receives_every_page_and_item() {
    let site = SyntheticSite::new(80, 3);
    let server = site.serve();
    let seed = server.url("/page/0");
    let (report, pages, items) = run_guarded(move || {
        System::new().block_on(async move {
            let collector = Collector::default().start();
            let report = local()
                .seed(seed)
                .subscribe(collector.clone().recipient())
                .subscribe_items(collector.clone().recipient())
                .spider(headings)
                .build()
                .unwrap()
                .run()
                .await
                .unwrap();
            let (pages, items) = collector.send(Take).await.unwrap();
            (report, pages, items)
        })
    });
    assert_eq!(report.pages, 80);
    let urls: BTreeSet<Url> = pages.iter().map(|p| p.record.url.clone()).collect();
    assert_eq!(pages.len(), 80, "one message per page");
    assert_eq!(urls.len(), 80);
    for page in &pages {
        assert!(page.text().contains("<h1>Page "));
        assert_eq!(page.links.len() as u32, page.record.links);
        assert!(page.headers.contains_key("content-type"));
    }
    let headings: BTreeSet<String> = items
        .iter()
        .map(|i| i.item.downcast_ref::<Heading>().unwrap().heading.clone())
        .collect();
    let want: BTreeSet<String> = (0..80).map(|i| format!("Page {i}")).collect();
    assert_eq!(items.len(), 80);
    assert_eq!(headings, want);
    assert_eq!(report.items.get("Heading"), Some(&80));
    for item in &items {
        let n: usize = item.url.path().rsplit('/').next().unwrap().parse().unwrap();
        let heading = item.item.downcast_ref::<Heading>().unwrap();
        assert_eq!(
            heading.heading,
            format!("Page {n}"),
            "items carry their page"
        );
    }
}

/// Stops the crawl through the handle its pages carry, after `after` pages.
struct Stopper {
    seen: usize,
    after: usize,
}

impl Actor for Stopper {
    type Context = Context<Self>;
}

impl Handler<PageFetched> for Stopper {
    type Result = ();

    fn handle(&mut self, page: PageFetched, _: &mut Context<Self>) {
        self.seen += 1;
        if self.seen == self.after {
            page.handle.stop("seen enough");
        }
    }
}

fn slow_site(pages: usize) -> TestServer {
    let site = SyntheticSite::new(pages, 3);
    TestServer::start(move |req| {
        site.respond(req)
            .behave(Behavior::Slow(std::time::Duration::from_millis(10)))
    })
}

#[test]
fn an_actor_stops_the_crawl_through_the_handle_it_is_given() {
    let server = slow_site(500);
    let seed = server.url("/page/0");
    let (report, pages) = run_guarded(move || {
        System::new().block_on(async move {
            let stopper = Stopper { seen: 0, after: 20 }.start();
            let collector = Collector::default().start();
            let crawler = local()
                .seed(seed)
                .per_host(4)
                .subscribe(stopper.recipient())
                .subscribe(collector.clone().recipient())
                .build()
                .unwrap();
            let report = crawler.run().await.unwrap();
            let (pages, _) = collector.send(Take).await.unwrap();
            (report, pages)
        })
    });
    assert!(report.stopped);
    assert_eq!(
        report.ended,
        arachne::report::EndReason::Stopped {
            by: "seen enough".into()
        }
    );
    assert!(
        report.pages >= 20 && report.pages < 500,
        "{} pages",
        report.pages
    );
    assert_eq!(
        pages.len() as u64,
        report.pages,
        "every fetched page was delivered"
    );
    assert!(report.not_crawled > 0);
    assert!(
        report.to_string().contains("ended    stopped: seen enough"),
        "{report}"
    );
}

#[test]
fn run_works_under_tokio_without_actix() {
    let server = SyntheticSite::new(15, 2).serve();
    let seed = server.url("/page/0");
    let report = run_guarded(move || {
        on_tokio(async move { local().seed(seed).build().unwrap().run().await })
    })
    .unwrap();
    assert_eq!(report.pages, 15);
}

#[test]
fn run_blocking_works_from_tokio_but_not_on_an_actix_thread() {
    let server = SyntheticSite::new(3, 1).serve();
    let seed = server.url("/page/0");
    let (in_tokio, in_actix) = run_guarded(move || {
        let crawler = local().seed(seed.as_str()).build().unwrap();
        let in_tokio = on_tokio(async move { crawler.run_blocking() });
        let crawler = local().seed(seed.as_str()).build().unwrap();
        let in_actix = System::new().block_on(async move { crawler.run_blocking() });
        (in_tokio, in_actix)
    });
    assert_eq!(
        in_tokio.unwrap().pages,
        3,
        "the crawl has a thread of its own"
    );
    let error = in_actix.unwrap_err();
    assert!(
        matches!(error, arachne::Error::BlockingInRuntime),
        "{error}"
    );
    assert!(error.to_string().contains("run().await"));
}

/// Counts pages, and says how many when the crawl's system stops it.
struct Counter(Arc<Mutex<usize>>);

impl Actor for Counter {
    type Context = Context<Self>;
}

impl Handler<PageFetched> for Counter {
    type Result = ();

    fn handle(&mut self, _: PageFetched, _: &mut Context<Self>) {
        *self.0.lock().unwrap() += 1;
    }
}

#[test]
fn run_blocking_with_an_actor_the_crawl_starts_and_closures() {
    let server = SyntheticSite::new(25, 2).serve();
    let seed = server.url("/page/0");
    let counted = Arc::new(Mutex::new(0));
    let seen_by_closure = Arc::new(Mutex::new(Vec::new()));
    let items_seen = Arc::new(Mutex::new(0));
    let (counter, closure, items) = (
        Counter(Arc::clone(&counted)),
        Arc::clone(&seen_by_closure),
        Arc::clone(&items_seen),
    );
    let report = run_guarded(move || {
        local()
            .seed(seed)
            .spider(headings)
            .subscribe_actor(counter)
            .on_page(move |page| closure.lock().unwrap().push(page.record.url.clone()))
            .on_item(move |_| *items.lock().unwrap() += 1)
            .build()
            .unwrap()
            .run_blocking()
            .unwrap()
    });
    assert_eq!(report.pages, 25);
    assert_eq!(seen_by_closure.lock().unwrap().len(), 25);
    assert_eq!(*items_seen.lock().unwrap(), 25);
    assert_eq!(*counted.lock().unwrap(), 25, "the actor had every page");
}

#[test]
fn the_event_stream_yields_pages_items_and_the_end() {
    let server = SyntheticSite::new(12, 2).serve();
    let seed = server.url("/page/0");
    let (pages, items, finished, after) = run_guarded(move || {
        on_tokio(async move {
            let mut events = local()
                .seed(seed)
                .spider(headings)
                .build()
                .unwrap()
                .events();
            let (mut pages, mut items, mut finished) = (0, 0, None);
            while let Some(event) = events.next().await {
                match event {
                    Event::Page(_) => pages += 1,
                    Event::Item(_) => items += 1,
                    Event::Finished(report) => finished = Some(report.unwrap()),
                    _ => {}
                }
            }
            (pages, items, finished, events.next().await.is_none())
        })
    });
    assert_eq!((pages, items), (12, 12));
    assert_eq!(finished.unwrap().pages, 12);
    assert!(after, "nothing after the end");
}

#[test]
fn dropping_the_event_stream_stops_the_crawl() {
    let server = slow_site(2000);
    let seed = server.url("/page/0");
    let stats = run_guarded(move || {
        on_tokio(async move {
            let crawler = local().seed(seed).per_host(2).build().unwrap();
            let stats = crawler.stats();
            let mut events = crawler.events();
            for _ in 0..5 {
                events.next().await;
            }
            drop(events);
            stats
        })
    });
    assert_winds_down(&stats);
}

#[test]
fn messages_can_be_made_to_test_handlers() {
    use arachne::output::PageRecord;
    let url: Url = "http://a.test/".parse().unwrap();
    let record: PageRecord = serde_json::from_value(serde_json::json!({
        "url": url, "final_url": url, "status": 200, "depth": 0, "parent": null,
        "content_type": "text/html", "bytes": 4, "truncated": false, "links": 0,
        "new_links": 0, "redirects": [], "attempts": 1, "elapsed_ms": 1,
        "fetched_at": "2026-01-01T00:00:00.000Z", "error": null
    }))
    .unwrap();
    let handle = arachne::CrawlHandle::new();
    let page = PageFetched::new(
        record,
        arachne::http::HeaderMap::new(),
        "<p>",
        Vec::new(),
        handle.clone(),
    );
    let item = ItemScraped::new(
        arachne::Item::new(Heading {
            heading: "H".into(),
            depth: 0,
        }),
        url,
        Some("list".into()),
        handle.clone(),
    );
    let (pages, items) = System::new().block_on(async move {
        let collector = Collector::default().start();
        collector.send(page).await.unwrap();
        collector.send(item).await.unwrap();
        collector.send(Take).await.unwrap()
    });
    assert_eq!(pages[0].text(), "<p>");
    assert_eq!(items[0].label.as_deref(), Some("list"));
    items[0].handle.stop("from a test");
    assert!(handle.is_stopped(), "the same crawl's handle");
}

#[test]
fn dropping_the_run_future_stops_the_crawl() {
    let server = slow_site(2000);
    let seed = server.url("/page/0");
    let stats = run_guarded(move || {
        on_tokio(async move {
            let (seen_five, five) = tokio::sync::oneshot::channel();
            let seen_five = Mutex::new(Some(seen_five));
            let count = Mutex::new(0);
            let crawler = local()
                .seed(seed)
                .per_host(2)
                .on_page(move |_| {
                    let mut count = count.lock().unwrap();
                    *count += 1;
                    if *count == 5
                        && let Some(tx) = seen_five.lock().unwrap().take()
                    {
                        let _ = tx.send(());
                    }
                })
                .build()
                .unwrap();
            let stats = crawler.stats();
            tokio::select! {
                _ = crawler.run() => panic!("the crawl of 2000 slow pages ended first"),
                _ = five => {}
            }
            stats
        })
    });
    assert_winds_down(&stats);
}

/// The crawl winds down: it stops growing (nothing in flight, no new page) well short of
/// its 2,000-page site.
fn assert_winds_down(stats: &arachne::report::CrawlStats) {
    let deadline = std::time::Instant::now() + crate::support::HANG_GUARD;
    let mut last = stats.snapshot().pages;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = stats.snapshot();
        if now.pages == last && now.in_flight == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the crawl went on");
        last = now.pages;
    }
    assert!(last < 2000, "{last} pages");
}

/// Runs a future to its end on a tokio runtime of its own (current thread, I/O and time).
fn on_tokio<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
