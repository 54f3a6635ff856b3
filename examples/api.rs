//! Follows a paginated JSON API: each response's records become items (written as JSON
//! Lines to standard output), and the next page is requested, until there is none.
//!
//! ```text
//! cargo run --example api -- https://quotes.toscrape.com/api/quotes?page=1 [MAX_PAGES]
//! ```
//!
//! The next page is the response's `next` (a URL, absolute or not), or, when it says
//! `"has_next": true`, the same URL with `page` one higher. The records are the first
//! array of objects in the response.

use std::process::ExitCode;

use arachne::output::JsonLinesItems;
use arachne::serde_json::Value;
use arachne::{CrawlerBuilder, Out, Page, Request, SpiderError};

mod common;

/// One page of the API: its records, and the next page.
fn api(page: &Page<'_>, out: &mut Out) -> Result<(), SpiderError> {
    let body: Value = page.json()?;
    let Value::Object(fields) = &body else {
        return Err(SpiderError::msg(
            "the API answered something that is not an object",
        ));
    };
    let records = fields
        .values()
        .find_map(|v| v.as_array().filter(|a| a.iter().all(Value::is_object)))
        .ok_or_else(|| SpiderError::msg("no array of records in the response"))?;
    for record in records {
        out.item(record.clone());
    }
    if let Some(next) = body["next"].as_str() {
        out.request(Request::get(next).label("api"));
    } else if body["has_next"] == Value::Bool(true)
        && let Some(page_number) = body["page"].as_u64()
    {
        let mut next = page.url().clone();
        let query: Vec<(String, String)> = next
            .query_pairs()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        next.query_pairs_mut()
            .clear()
            .extend_pairs(query)
            .append_pair("page", &(page_number + 1).to_string());
        out.request(Request::get(next).label("api"));
    }
    Ok(())
}

fn main() -> ExitCode {
    let ([seed], max_pages) = match common::args("api", ["URL"], 100) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let crawler = CrawlerBuilder::from_env()
        .seed(Request::get(seed).label("api"))
        .spider(api)
        .max_pages(max_pages)
        .item_output(JsonLinesItems::new(std::io::stdout()))
        .build();
    let crawler = match common::built("api", crawler) {
        Ok(crawler) => crawler,
        Err(code) => return code,
    };
    match crawler.run_blocking() {
        Ok(report) => {
            eprint!("{report}");
            if report.spider_errors > 0 {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("api: {e}");
            ExitCode::FAILURE
        }
    }
}
