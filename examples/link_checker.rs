//! A link checker: crawls a site and lists its broken links (4xx, 5xx, or failed fetches)
//! with the pages that link to them.
//!
//! ```text
//! cargo run --example link_checker -- https://example.com/ [MAX_PAGES]
//! ```
//!
//! Links are checked within the crawl's scope (the seed's host). Prints, for each broken
//! URL, a line `BROKEN <status or error> <url>` and then `  linked from <page>` lines;
//! exits with status 1 when any link is broken.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use arachne::actix::prelude::*;
use arachne::{CrawlerBuilder, PageFetched, Url};

mod common;

/// What the crawl has learned about links so far.
#[derive(Default)]
struct LinkChecker {
    /// For each URL, the pages linking to it.
    linked_from: BTreeMap<Url, BTreeSet<Url>>,
    /// The URLs whose fetch failed or gave a 4xx or 5xx, with what went wrong.
    broken: BTreeMap<Url, String>,
}

impl Actor for LinkChecker {
    type Context = Context<Self>;
}

/// Notes the page's outgoing links, and whether the page itself is broken.
impl Handler<PageFetched> for LinkChecker {
    type Result = ();

    fn handle(&mut self, page: PageFetched, _: &mut Context<Self>) {
        let record = &page.record;
        for link in page.links.iter() {
            self.linked_from
                .entry(link.clone())
                .or_default()
                .insert(record.url.clone());
        }
        let problem = match (&record.error, record.status) {
            (Some(error), _) => Some(format!("{}", error.kind)),
            (None, Some(status)) if status >= 400 => Some(status.to_string()),
            _ => None,
        };
        if let Some(problem) = problem {
            self.broken.insert(record.url.clone(), problem);
        }
    }
}

/// The final list: each broken URL, what is wrong, and who links to it.
struct Findings;

impl Message for Findings {
    type Result = Vec<(Url, String, Vec<Url>)>;
}

impl Handler<Findings> for LinkChecker {
    type Result = MessageResult<Findings>;

    fn handle(&mut self, _: Findings, _: &mut Context<Self>) -> Self::Result {
        let findings = self
            .broken
            .iter()
            .map(|(url, problem)| {
                let from = self
                    .linked_from
                    .get(url)
                    .map(|p| p.iter().cloned().collect())
                    .unwrap_or_default();
                (url.clone(), problem.clone(), from)
            })
            .collect();
        MessageResult(findings)
    }
}

/// The crawl runs on a thread of its own; this actor lives in the actix system of the main
/// thread, which `block_on` runs.
fn main() -> ExitCode {
    arachne::actix::System::new().block_on(run())
}

async fn run() -> ExitCode {
    let ([seed], max_pages) = match common::args("link_checker", ["URL"], 1_000) {
        Ok(args) => args,
        Err(code) => return code,
    };

    let checker = LinkChecker::default().start();
    let crawler = CrawlerBuilder::from_env()
        .seed(seed)
        .max_pages(max_pages)
        .subscribe(checker.clone().recipient())
        .build();
    let crawler = match common::built("link_checker", crawler) {
        Ok(crawler) => crawler,
        Err(code) => return code,
    };
    let report = match crawler.run().await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("link_checker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let findings = checker.send(Findings).await.unwrap_or_default();
    for (url, problem, from) in &findings {
        println!("BROKEN {problem} {url}");
        for page in from {
            println!("  linked from {page}");
        }
    }
    eprintln!(
        "{} broken links among {} URLs checked",
        findings.len(),
        report.pages
    );
    if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
