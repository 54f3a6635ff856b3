//! Items: typed pipeline stages in order, actor stages, item outputs, and the item limit.

use arachne::actix::prelude::*;
use arachne::output::{CsvItems, JsonLinesItems};
use arachne::{Item, Out, Page, ProcessItem};
use arachne_testkit::SyntheticSite;
use serde::Serialize;

use crate::support::{crawl, local, run_guarded};

#[derive(Serialize, Debug, Clone)]
struct PageNo {
    n: u32,
    title: String,
}

#[derive(Serialize, Debug)]
struct Note(String);

/// One `PageNo` per page, and a `Note` on page 0.
fn numbered(page: &Page<'_>, out: &mut Out) -> Result<(), arachne::SpiderError> {
    out.follow_links();
    let n: u32 = page
        .url()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or("0")
        .parse()?;
    out.item(PageNo {
        n,
        title: page.text("h1")?,
    });
    if n == 0 {
        out.item(Note("the first page".into()));
    }
    Ok(())
}

/// A shared buffer that item outputs write to, read at the end.
#[derive(Clone, Default)]
struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[test]
fn typed_stages_run_in_order_and_drop_what_they_refuse() {
    let server = SyntheticSite::new(30, 2).serve();
    let (jsonl, csv) = (Buffer::default(), Buffer::default());
    let (report, _) = crawl(
        local()
            .seed(server.url("/page/0"))
            .spider(numbered)
            // Odd pages are dropped; then even ones get a shouted title.
            .pipeline(|page: PageNo| page.n.is_multiple_of(2).then_some(page))
            .pipeline(|mut page: PageNo| {
                page.title = page.title.to_uppercase();
                Some(page)
            })
            // An untyped stage sees every item: notes are kept as they are.
            .stage(|item: Item| Some(item))
            .item_output(JsonLinesItems::new(jsonl.clone()))
            .item_output(CsvItems::new(csv.clone())),
    );
    assert_eq!(report.items.get("PageNo"), Some(&15));
    assert_eq!(report.items.get("Note"), Some(&1));
    assert_eq!(report.items_dropped, 15);
    let lines: Vec<serde_json::Value> = jsonl
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 16);
    for line in lines.iter().filter(|l| l.is_object()) {
        let n = line["n"].as_u64().unwrap();
        assert_eq!(n % 2, 0);
        assert_eq!(line["title"], format!("PAGE {n}"));
    }
    assert!(lines.iter().any(|l| l == "the first page"));
    // The columns are the first item's (page 0's `PageNo`); the `Note`, a string, fills no
    // column: an empty row, as `CsvItems` documents.
    let csv = csv.text();
    let rows: Vec<&str> = csv.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(rows[0], "n,title", "{csv}");
    assert_eq!(rows.len(), 17, "a header and 16 rows");
    assert_eq!(rows.iter().filter(|r| **r == ",").count(), 1, "the note");
    for row in rows[1..].iter().filter(|r| **r != ",") {
        let (n, title) = row.split_once(',').unwrap();
        assert_eq!(title, format!("PAGE {n}"));
        assert!(n.parse::<u32>().unwrap().is_multiple_of(2));
    }
    assert!(
        report
            .to_string()
            .contains("items    1 Note, 15 PageNo, 15 dropped by the pipeline"),
        "{report}"
    );
}

/// A pipeline stage that is an actor: numbers items, drops every third.
#[derive(Default)]
struct Numberer(u32);

impl Actor for Numberer {
    type Context = Context<Self>;
}

impl Handler<ProcessItem> for Numberer {
    type Result = Option<Item>;

    fn handle(&mut self, msg: ProcessItem, _: &mut Context<Self>) -> Option<Item> {
        self.0 += 1;
        (!self.0.is_multiple_of(3)).then_some(msg.item)
    }
}

#[test]
fn an_actor_stage_sees_every_item_and_may_drop_it() {
    let server = SyntheticSite::new(30, 2).serve();
    let seed = server.url("/page/0");
    let report = run_guarded(move || {
        System::new().block_on(async move {
            let numberer = Numberer::default().start();
            local()
                .seed(seed)
                .spider(numbered)
                .stage_actor(numberer.recipient())
                .build()
                .unwrap()
                .run()
                .await
                .unwrap()
        })
    });
    let emitted: u64 = report.items.values().sum();
    assert_eq!(emitted + report.items_dropped, 31);
    assert_eq!(report.items_dropped, 10);
}

#[test]
fn the_item_limit_is_exact() {
    let server = SyntheticSite::new(300, 3).serve();
    let out = Buffer::default();
    let (report, _) = crawl(
        local()
            .seed(server.url("/page/0"))
            .per_host(8)
            .spider(numbered)
            .close_after_items(50)
            .item_output(JsonLinesItems::new(out.clone())),
    );
    assert_eq!(
        out.text().lines().count(),
        50,
        "exactly the limit reaches the outputs"
    );
    assert_eq!(report.items.values().sum::<u64>(), 50);
    assert_eq!(report.ended, arachne::report::EndReason::ItemLimit);
    assert!(report.stopped && report.pages < 300);
}

#[test]
fn items_to_files() {
    let server = SyntheticSite::new(10, 2).serve();
    let dir = std::env::temp_dir().join(format!("arachne-items-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (jsonl, csv) = (dir.join("items.jsonl"), dir.join("items.csv"));
    crawl(
        local()
            .seed(server.url("/page/0"))
            .spider(numbered)
            .pipeline(|_: Note| None)
            .items_jsonl(&jsonl)
            .items_csv(&csv),
    );
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap().lines().count(), 10);
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(csv.starts_with("n,title\r\n"), "{csv}");
    assert_eq!(csv.lines().count(), 11);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An item whose `Serialize` fails: a map with keys that are not strings.
#[derive(Serialize)]
struct Broken(std::collections::HashMap<Vec<u8>, u8>);

#[test]
fn items_that_do_not_serialize_never_count_against_the_limit() {
    let server = SyntheticSite::new(200, 3).serve();
    let out = Buffer::default();
    let spider = |page: &Page<'_>, out: &mut Out| -> Result<(), arachne::SpiderError> {
        out.follow_links();
        out.item(Broken([(vec![1], 1)].into_iter().collect()));
        numbered(page, out)
    };
    let (report, _) = crawl(
        local()
            .seed(server.url("/page/0"))
            .spider(spider)
            .close_after_items(20)
            .item_output(JsonLinesItems::new(out.clone())),
    );
    assert_eq!(out.text().lines().count(), 20);
    assert_eq!(report.items.values().sum::<u64>(), 20);
    assert!(
        report.items_lost >= 20,
        "every broken item, and those past the limit"
    );
    assert_eq!(report.ended, arachne::report::EndReason::ItemLimit);
}
