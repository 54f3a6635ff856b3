//! The spider of the `books` example, apart so that the tests run it on fixture pages.

use arachne::{Out, Page, Router};
use serde::Serialize;

/// A book, as the shop shows it.
#[derive(Debug, Serialize)]
pub struct Book {
    pub title: String,
    /// In pounds; `None` when the page shows none.
    pub price: Option<f64>,
    pub url: String,
}

/// List pages (`list`) lead to books (`book`), to the next list page, and to the
/// categories, which are lists too.
pub fn spider() -> Router {
    Router::new()
        .route("list", |page: &Page<'_>, out: &mut Out| {
            out.follow(page.select("article.product_pod h3 a"), "book");
            out.follow(page.select("li.next a"), "list");
            // Each category is a list of its own (the crawl fetches each page once).
            out.follow(page.select(".side_categories ul li ul li a"), "list");
            Ok(())
        })
        .route("book", |page: &Page<'_>, out: &mut Out| {
            let price = page
                .text(".product_main .price_color")
                .ok()
                .and_then(|p| p.trim_start_matches(['£', '$', '€']).parse().ok());
            out.item(Book {
                title: page.text(".product_main h1")?,
                price,
                url: page.url().to_string(),
            });
            Ok(())
        })
}
