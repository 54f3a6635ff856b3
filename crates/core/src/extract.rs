//! User extractors: code that runs on parser threads with each parsed page.

use url::Url;

/// A page as an [`Extractor`] sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ParsedPage<'a> {
    /// The URL queued.
    pub url: &'a Url,
    /// The URL of the response, after redirects: relative links resolve against it.
    pub final_url: &'a Url,
    /// Link distance from a seed.
    pub depth: u32,
    /// The parsed document.
    pub html: &'a scraper::Html,
}

impl<'a> ParsedPage<'a> {
    /// A page view (for testing extractors without a crawl).
    pub fn new(url: &'a Url, final_url: &'a Url, depth: u32, html: &'a scraper::Html) -> Self {
        Self {
            url,
            final_url,
            depth,
            html,
        }
    }
}

/// Turns parsed pages into items, the way a Scrapy spider's `parse` does.
///
/// Extractors run on the parser threads, in parallel, with the parsed document; the
/// document never leaves the thread (`scraper::Html` is not `Send`), so an extractor returns
/// owned data: JSON values. Subscribers receive each item as an `ItemExtracted` message.
///
/// # Example
/// ```
/// use arachne_core::{Extractor, ParsedPage};
/// use scraper::{Html, Selector};
///
/// /// Emits `{"title": ...}` for every page with a `<title>`.
/// struct Titles(Selector);
///
/// impl Extractor for Titles {
///     fn extract(&self, page: &ParsedPage<'_>, items: &mut Vec<serde_json::Value>) {
///         if let Some(title) = page.html.select(&self.0).next() {
///             let title: String = title.text().collect();
///             items.push(serde_json::json!({ "url": page.url, "title": title.trim() }));
///         }
///     }
/// }
///
/// let html = Html::parse_document("<title> Hello </title>");
/// let url = "http://a.test/".parse().unwrap();
/// let mut items = Vec::new();
/// Titles(Selector::parse("title").unwrap()).extract(&ParsedPage::new(&url, &url, 0, &html), &mut items);
/// assert_eq!(items[0]["title"], "Hello");
/// ```
pub trait Extractor: Send + Sync + 'static {
    /// Appends the items found on `page` to `items`.
    fn extract(&self, page: &ParsedPage<'_>, items: &mut Vec<serde_json::Value>);
}
