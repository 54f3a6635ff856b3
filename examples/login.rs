//! Logs in through a form, then crawls the pages behind it: the login page's form is
//! filled in (its hidden fields, such as a CSRF token, kept) and POSTed; the session
//! cookie it sets is kept by the crawl's cookie jar and sent with every page after it.
//!
//! ```text
//! cargo run --example login -- https://quotes.toscrape.com/login USER PASSWORD [MAX_PAGES]
//! ```
//!
//! Prints `STATUS URL<TAB>HEADING` for every page crawled after the login.

use std::process::ExitCode;

use arachne::http::Method;
use arachne::{CrawlerBuilder, Out, Page, Request, Router, SpiderError};
use serde::Serialize;

mod common;

/// A page seen after logging in.
#[derive(Serialize)]
struct Seen {
    url: String,
    heading: String,
}

/// Fills in the first form with a password field and posts it, labelled `in`.
fn log_in(page: &Page<'_>, out: &mut Out, user: &str, password: &str) -> Result<(), SpiderError> {
    let css = |s| arachne::scraper::Selector::parse(s).map_err(SpiderError::msg);
    let (inputs, password_input) = (css("input[name]")?, css("input[type=password]")?);
    let forms = page.select("form");
    let form = forms
        .elements()
        .iter()
        .find(|form| form.select(&password_input).next().is_some())
        .ok_or_else(|| SpiderError::msg("no login form (a form with a password field)"))?;
    let mut fields: Vec<(String, String)> = Vec::new();
    for input in form.select(&inputs) {
        let input = input.value();
        let name = input.attr("name").unwrap_or_default().to_owned();
        let value = match input.attr("type").unwrap_or("text") {
            "password" => password.to_owned(),
            "hidden" => input.attr("value").unwrap_or_default().to_owned(),
            "text" | "email" => user.to_owned(),
            _ => continue,
        };
        fields.push((name, value));
    }
    let action = form.value().attr("action").unwrap_or("");
    out.request(Request::new(Method::POST, action).form(&fields).label("in"));
    Ok(())
}

/// The heading of every page after the login, and every link followed.
fn logged_in(page: &Page<'_>, out: &mut Out) -> Result<(), SpiderError> {
    out.follow_links();
    let heading = page
        .text("h1")
        .or_else(|_| page.text("title"))
        .unwrap_or_default();
    out.item(Seen {
        url: page.url().to_string(),
        heading,
    });
    Ok(())
}

fn main() -> ExitCode {
    let ([login, user, password], max_pages) =
        match common::args("login", ["LOGIN_URL", "USER", "PASSWORD"], 50) {
            Ok(args) => args,
            Err(code) => return code,
        };
    // Pages after the login are unlabelled links: the fallback handles them.
    let spider = Router::new()
        .route("login", move |page: &Page<'_>, out: &mut Out| {
            log_in(page, out, &user, &password)
        })
        .route("in", logged_in)
        .fallback(logged_in);
    let crawler = CrawlerBuilder::from_env()
        .seed(Request::get(&login).label("login"))
        .spider(spider)
        .max_pages(max_pages)
        .on_item(|item| {
            if let Some(seen) = item.item.downcast_ref::<Seen>() {
                println!("{}\t{}", seen.url, seen.heading);
            }
        })
        .build();
    let crawler = match common::built("login", crawler) {
        Ok(crawler) => crawler,
        Err(code) => return code,
    };
    match crawler.run_blocking() {
        Ok(report) => {
            eprint!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("login: {e}");
            ExitCode::FAILURE
        }
    }
}
