//! Spiders: user code that turns responses into items and follow-up requests.
//!
//! A [`Spider`] runs on the parser threads, in parallel, with each response as a [`Page`]
//! (status, headers, final URL, body, the request's label and data, and the parsed document
//! when it asks for it), and fills an [`Out`] with items and follow-up requests. The crawl
//! applies its scope, robots.txt, politeness, deduplication and limits to every follow-up
//! request, exactly as to the links it discovers itself.
//!
//! Without a spider, the crawl follows every in-scope link ([`FollowLinks`]). A [`Router`]
//! dispatches pages to handlers by the label of their request, and any closure
//! `Fn(&Page, &mut Out) -> Result<(), SpiderError>` is a spider.
//!
//! # Example
//! ```
//! use arachne_core::spider::{Out, Page, Router, SpiderError, run_spider};
//! use arachne_core::Request;
//! use serde::Serialize;
//!
//! #[derive(Serialize)]
//! struct Book { title: String, price: Option<f64> }
//!
//! let spider = Router::new()
//!     .route("list", |page: &Page<'_>, out: &mut Out| {
//!         out.follow(page.select("article h3 a"), "book");
//!         out.follow(page.select("li.next a"), "list");
//!         Ok(())
//!     })
//!     .route("book", |page: &Page<'_>, out: &mut Out| {
//!         out.item(Book {
//!             title: page.text("h1")?,
//!             price: page.text(".price")?.trim_start_matches('£').parse().ok(),
//!         });
//!         Ok(())
//!     });
//!
//! // Try it on a fixture, with no network.
//! let html = r#"<article><h3><a href="/b/1">Dune</a></h3></article>
//!               <ul><li class="next"><a href="?page=2">next</a></li></ul>"#;
//! let out = run_spider(&spider, Request::get("http://shop.test/list").label("list"), 200, html).unwrap();
//! let follow: Vec<_> = out.requests.iter().map(|r| (r.url.as_str(), r.label())).collect();
//! assert_eq!(follow, [("http://shop.test/b/1", Some("book")), ("http://shop.test/list?page=2", Some("list"))]);
//! ```

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use scraper::{ElementRef, Html, Selector};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::html::{
    MAX_DOCUMENT_BYTES, MAX_NESTING, Scanned, decode_html, is_html, parse_document, scan_links,
};
use crate::item::Item;
use crate::request::{CrawlRequest, Request, RequestError};

/// Turns pages into items and follow-up requests. Runs on the parser threads.
///
/// See the [module docs](self) for an example, and [`run_spider`] to test one.
pub trait Spider: Send + Sync + 'static {
    /// Handles one response.
    ///
    /// # Errors
    /// Whatever went wrong on this page (a missing element, say). The crawl counts and logs
    /// it and goes on; items and requests added to `out` before the error are kept.
    fn parse(&self, page: &Page<'_>, out: &mut Out) -> Result<(), SpiderError>;

    /// Whether responses with this status reach [`Spider::parse`]. By default, 2xx only
    /// (as Scrapy's `HttpErrorMiddleware`): other statuses are recorded, not parsed.
    fn wants(&self, status: u16) -> bool {
        (200..300).contains(&status)
    }
}

/// Any closure over a page and an [`Out`] is a spider.
impl<F> Spider for F
where
    F: Fn(&Page<'_>, &mut Out) -> Result<(), SpiderError> + Send + Sync + 'static,
{
    fn parse(&self, page: &Page<'_>, out: &mut Out) -> Result<(), SpiderError> {
        self(page, out)
    }
}

/// The default spider: follows every link of every HTML page (the crawl keeps those in
/// scope), and emits no items.
#[derive(Debug, Clone, Copy, Default)]
pub struct FollowLinks;

impl Spider for FollowLinks {
    fn parse(&self, _: &Page<'_>, out: &mut Out) -> Result<(), SpiderError> {
        out.follow_links();
        Ok(())
    }
}

type Handler = Arc<dyn Fn(&Page<'_>, &mut Out) -> Result<(), SpiderError> + Send + Sync>;

/// A spider made of handlers, one per request label, as Crawlee's router: a seed labelled
/// `list` goes to the `list` handler, which follows product pages labelled `book`.
/// Unlabelled requests go to the [`Router::fallback`] handler; a label without a handler is
/// a [`SpiderError`].
#[derive(Clone, Default)]
pub struct Router {
    routes: HashMap<String, Handler>,
    fallback: Option<Handler>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("labels", &self.routes.keys().collect::<Vec<_>>())
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl Router {
    /// A router without routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles the pages of requests labelled `label`.
    #[must_use]
    pub fn route<F>(mut self, label: impl Into<String>, handler: F) -> Self
    where
        F: Fn(&Page<'_>, &mut Out) -> Result<(), SpiderError> + Send + Sync + 'static,
    {
        self.routes.insert(label.into(), Arc::new(handler));
        self
    }

    /// Handles the pages of unlabelled requests (seeds without a label, links followed
    /// with [`Out::follow_links`]).
    #[must_use]
    pub fn fallback<F>(mut self, handler: F) -> Self
    where
        F: Fn(&Page<'_>, &mut Out) -> Result<(), SpiderError> + Send + Sync + 'static,
    {
        self.fallback = Some(Arc::new(handler));
        self
    }
}

impl Spider for Router {
    fn parse(&self, page: &Page<'_>, out: &mut Out) -> Result<(), SpiderError> {
        let handler = match page.request.label() {
            Some(label) => self.routes.get(label),
            None => self.fallback.as_ref(),
        };
        match handler {
            Some(handler) => handler(page, out),
            None => Err(SpiderError::msg(format!(
                "no route for the label `{}`",
                page.label()
            ))),
        }
    }
}

/// Why a spider could not handle a page. Any error converts into one with `?`.
pub struct SpiderError(Box<dyn std::error::Error + Send + Sync>);

impl SpiderError {
    /// An error with a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self(message.to_string().into())
    }

    /// No element matched a selector that the spider needed.
    pub fn missing(selector: &str) -> Self {
        Self::msg(format!("nothing matches `{selector}`"))
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for SpiderError {
    fn from(error: E) -> Self {
        Self(Box::new(error))
    }
}

impl fmt::Display for SpiderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for SpiderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpiderError({})", self.0)
    }
}

/// A response, as a spider sees it, on a parser thread. It never leaves the thread (the
/// parsed document is not `Send`).
pub struct Page<'a> {
    request: &'a CrawlRequest,
    url: &'a Url,
    status: u16,
    headers: &'a HeaderMap,
    body: &'a [u8],
    text: OnceCell<Cow<'a, str>>,
    html: OnceCell<Html>,
    /// The links, base and nesting depth read from the body without a document.
    scanned: OnceCell<Cow<'a, Scanned>>,
}

/// Why a page's document was not built for a spider: markup nested deeper than
/// [`MAX_NESTING`], or text larger than [`MAX_DOCUMENT_BYTES`]. Building one would hold a
/// parser thread for long (tree building slows down with depth) or take much memory. The
/// crawl still follows the page's links (read without a document), drops what the spider
/// made of the page, and counts it (`documents_refused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentRefused {
    /// Elements nest this deep.
    TooDeep(usize),
    /// The text is this many bytes.
    TooLarge(usize),
}

impl fmt::Display for DocumentRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooDeep(depth) => write!(
                f,
                "elements nest {depth} deep, more than {MAX_NESTING} for a document"
            ),
            Self::TooLarge(bytes) => write!(
                f,
                "{bytes} bytes of text, more than {MAX_DOCUMENT_BYTES} for a document"
            ),
        }
    }
}

impl fmt::Debug for Page<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("url", &self.url.as_str())
            .field("status", &self.status)
            .field("label", &self.request.label())
            .field("bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Page<'a> {
    /// A page for the response to `request`, which came from `url` (after redirects).
    /// The document is parsed when first asked for.
    pub fn new(
        request: &'a CrawlRequest,
        url: &'a Url,
        status: u16,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Self {
        Self {
            request,
            url,
            status,
            headers,
            body,
            text: OnceCell::new(),
            html: OnceCell::new(),
            scanned: OnceCell::new(),
        }
    }

    /// Hands the page its text and what was read of it without a document (the crawler
    /// reads every HTML page so for its links; the document is built only if the spider
    /// asks for it).
    pub fn with_scanned(self, text: Cow<'a, str>, scanned: &'a Scanned) -> Self {
        let _ = self.text.set(text);
        let _ = self.scanned.set(Cow::Borrowed(scanned));
        self
    }

    /// The request, as queued.
    pub fn request(&self) -> &CrawlRequest {
        self.request
    }

    /// The request's label, or `""` when it has none.
    pub fn label(&self) -> &str {
        self.request.label().unwrap_or("")
    }

    /// The request's user data (`null` when none).
    pub fn data(&self) -> &serde_json::Value {
        self.request.data()
    }

    /// The request's user data as a type of yours.
    ///
    /// # Errors
    /// When the data does not deserialize into `T`.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, SpiderError> {
        Ok(T::deserialize(self.request.data())?)
    }

    /// Link distance from a seed.
    pub fn depth(&self) -> u32 {
        self.request.depth
    }

    /// The URL of the response, after redirects.
    pub fn url(&self) -> &Url {
        self.url
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers
    }

    /// A response header, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Content-Type`, when present.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// Whether the response is HTML (by `Content-Type`, or sniffed).
    pub fn is_html(&self) -> bool {
        is_html(self.content_type(), self.body)
    }

    /// The body, decompressed (at most the body-size cap).
    pub fn body(&self) -> &[u8] {
        self.body
    }

    /// The body as text, decoded with the page's charset.
    pub fn body_text(&self) -> &str {
        self.text
            .get_or_init(|| decode_html(self.body, self.content_type()).0)
    }

    /// The body as JSON, into a type of yours (a JSON API, say).
    ///
    /// # Errors
    /// When the body is not JSON of that shape.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, SpiderError> {
        Ok(serde_json::from_slice(self.body)?)
    }

    /// The parsed document, parsed on first use, as a browser without scripts sees it
    /// (`<noscript>` content is markup). A page whose elements nest deeper than
    /// [`MAX_NESTING`] or whose text is larger than [`MAX_DOCUMENT_BYTES`] gets an empty
    /// document instead, and [`Page::document_refused`] says why: the crawl then drops
    /// what the spider made of the page and follows its links.
    pub fn html(&self) -> &Html {
        self.html.get_or_init(|| match self.refusal() {
            Some(_) => Html::new_document(),
            None => parse_document(self.body_text()),
        })
    }

    /// Why the page's document was not built, when a spider asked for it and it was
    /// refused (see [`Page::html`]).
    pub fn document_refused(&self) -> Option<DocumentRefused> {
        self.html.get().and_then(|_| self.refusal())
    }

    /// Why a document would be refused for this page, if it would.
    fn refusal(&self) -> Option<DocumentRefused> {
        let depth = self.scanned().depth;
        let bytes = self.body_text().len();
        if depth > MAX_NESTING {
            Some(DocumentRefused::TooDeep(depth))
        } else if bytes > MAX_DOCUMENT_BYTES {
            Some(DocumentRefused::TooLarge(bytes))
        } else {
            None
        }
    }

    /// What was read of the body without a document (nothing, for other responses than
    /// HTML).
    fn scanned(&self) -> &Scanned {
        self.scanned.get_or_init(|| {
            Cow::Owned(if self.is_html() {
                scan_links(self.body_text(), self.url)
            } else {
                Scanned {
                    links: crate::html::PageLinks::default(),
                    base: self.url.clone(),
                    depth: 0,
                }
            })
        })
    }

    /// Every distinct http(s) link of an HTML page, resolved and normalized, in document
    /// order (none for other responses).
    pub fn links(&self) -> &[Url] {
        &self.scanned().links.links
    }

    /// What relative references of the page resolve against: its `<base href>`, or its
    /// URL.
    pub fn base(&self) -> Url {
        self.scanned().base.clone()
    }

    /// The elements matching a CSS selector. An invalid selector gives an empty selection
    /// that remembers why: following it, or asking it for text, reports the error.
    pub fn select(&self, css: &str) -> Selection<'_> {
        match Selector::parse(css) {
            Ok(selector) => Selection {
                css: css.to_owned(),
                found: Ok(self.html().select(&selector).collect()),
            },
            Err(e) => Selection {
                css: css.to_owned(),
                found: Err(format!("invalid selector `{css}`: {e}")),
            },
        }
    }

    /// The text of the first element matching `css`, whitespace collapsed.
    ///
    /// # Errors
    /// When nothing matches, or the selector is invalid.
    pub fn text(&self, css: &str) -> Result<String, SpiderError> {
        self.select(css).text()
    }

    /// An attribute of the first element matching `css`.
    ///
    /// # Errors
    /// When nothing matches, the element lacks the attribute, or the selector is invalid.
    pub fn attr(&self, css: &str, name: &str) -> Result<String, SpiderError> {
        let selection = self.select(css);
        let first = selection.first()?;
        first
            .value()
            .attr(name)
            .map(str::to_owned)
            .ok_or_else(|| SpiderError::msg(format!("`{css}` has no `{name}`")))
    }
}

/// The elements a CSS selector matched on a page.
#[derive(Debug)]
pub struct Selection<'a> {
    css: String,
    found: Result<Vec<ElementRef<'a>>, String>,
}

impl<'a> Selection<'a> {
    /// The elements, in document order (none for an invalid selector).
    pub fn elements(&self) -> &[ElementRef<'a>] {
        self.found.as_deref().unwrap_or(&[])
    }

    /// How many elements matched.
    pub fn len(&self) -> usize {
        self.elements().len()
    }

    /// Whether nothing matched.
    pub fn is_empty(&self) -> bool {
        self.elements().is_empty()
    }

    /// The first element.
    ///
    /// # Errors
    /// When nothing matched, or the selector is invalid.
    pub fn first(&self) -> Result<ElementRef<'a>, SpiderError> {
        match &self.found {
            Ok(found) => found
                .first()
                .copied()
                .ok_or_else(|| SpiderError::missing(&self.css)),
            Err(e) => Err(SpiderError::msg(e)),
        }
    }

    /// The text of the first element, whitespace collapsed.
    ///
    /// # Errors
    /// When nothing matched, or the selector is invalid.
    pub fn text(&self) -> Result<String, SpiderError> {
        Ok(element_text(self.first()?))
    }

    /// The text of every element, whitespace collapsed.
    pub fn texts(&self) -> Vec<String> {
        self.elements().iter().map(|e| element_text(*e)).collect()
    }

    /// An attribute of every element that has it.
    pub fn attrs(&self, name: &str) -> Vec<&'a str> {
        self.elements()
            .iter()
            .filter_map(|e| e.value().attr(name))
            .collect()
    }
}

/// The text of an element, whitespace collapsed.
fn element_text(element: ElementRef<'_>) -> String {
    element
        .text()
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a spider leaves for the crawl: items, follow-up requests, and whether to stop.
#[derive(Debug)]
pub struct Out {
    base: Url,
    items: Vec<Item>,
    requests: Vec<Request>,
    follow_links: bool,
    stop: Option<String>,
    errors: Vec<String>,
}

impl Out {
    /// An empty output for a page at `base` (relative requests resolve against it).
    pub fn new(base: Url) -> Self {
        Self {
            base,
            items: Vec::new(),
            requests: Vec::new(),
            follow_links: false,
            stop: None,
            errors: Vec::new(),
        }
    }

    /// Emits an item of any serializable type of yours.
    pub fn item<T: Serialize + Send + Sync + 'static>(&mut self, item: T) {
        self.items.push(Item::new(item));
    }

    /// Queues a request: an absolute URL, or one relative to this page, with whatever
    /// intent it carries (label, data, priority, method, body, headers).
    pub fn request(&mut self, request: impl Into<Request>) {
        self.requests.push(request.into());
    }

    /// Follows every target (the links of a [`Selection`], URLs, or text) with a label.
    pub fn follow(&mut self, targets: impl Targets, label: &str) {
        match targets.targets() {
            Ok(targets) => {
                for target in targets {
                    let request = Request::get(target);
                    self.requests.push(if label.is_empty() {
                        request
                    } else {
                        request.label(label)
                    });
                }
            }
            Err(e) => self.errors.push(e),
        }
    }

    /// Follows every link of the page, unlabelled: what the crawl does without a spider.
    pub fn follow_links(&mut self) {
        self.follow_links = true;
    }

    /// Stops the crawl: nothing new is dispatched; what is in flight finishes.
    pub fn stop(&mut self, reason: impl Into<String>) {
        self.stop = Some(reason.into());
    }

    /// The URL that relative requests resolve against.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Takes what was left: see [`SpiderOutput`].
    pub fn finish(self) -> SpiderOutput {
        SpiderOutput {
            base: self.base,
            items: self.items,
            requests: self.requests,
            follow_links: self.follow_links,
            stop: self.stop,
            errors: self.errors,
        }
    }
}

/// Everything a spider left for one page, before the crawl resolves its requests.
#[derive(Debug)]
#[non_exhaustive]
pub struct SpiderOutput {
    /// What relative requests resolve against.
    pub base: Url,
    /// The items, in order.
    pub items: Vec<Item>,
    /// The requests, as made.
    pub requests: Vec<Request>,
    /// Whether every link of the page is to be followed.
    pub follow_links: bool,
    /// A reason to stop the crawl, if the spider asked.
    pub stop: Option<String>,
    /// Errors met while filling the output (an invalid selector followed, say).
    pub errors: Vec<String>,
}

/// What [`Out::follow`] can follow.
pub trait Targets {
    /// The URLs or references to follow.
    ///
    /// # Errors
    /// Why they cannot be had (an invalid selector).
    fn targets(self) -> Result<Vec<String>, String>;
}

/// The `href` (or `src`) of each element.
impl Targets for Selection<'_> {
    fn targets(self) -> Result<Vec<String>, String> {
        let elements = self.found?;
        Ok(elements
            .iter()
            .filter_map(|e| e.value().attr("href").or_else(|| e.value().attr("src")))
            .map(str::to_owned)
            .collect())
    }
}

impl Targets for &str {
    fn targets(self) -> Result<Vec<String>, String> {
        Ok(vec![self.to_owned()])
    }
}

impl Targets for String {
    fn targets(self) -> Result<Vec<String>, String> {
        Ok(vec![self])
    }
}

impl Targets for &Url {
    fn targets(self) -> Result<Vec<String>, String> {
        Ok(vec![self.as_str().to_owned()])
    }
}

impl Targets for Url {
    fn targets(self) -> Result<Vec<String>, String> {
        Ok(vec![self.into()])
    }
}

impl Targets for &[Url] {
    fn targets(self) -> Result<Vec<String>, String> {
        Ok(self.iter().map(|u| u.as_str().to_owned()).collect())
    }
}

impl<T: Targets> Targets for Vec<T> {
    fn targets(self) -> Result<Vec<String>, String> {
        let mut all = Vec::new();
        for target in self {
            all.extend(target.targets()?);
        }
        Ok(all)
    }
}

impl<T: Targets> Targets for Option<T> {
    fn targets(self) -> Result<Vec<String>, String> {
        self.map_or(Ok(Vec::new()), Targets::targets)
    }
}

/// What [`run_spider`] gives: the spider's items and its requests, resolved as the crawl
/// would (before scope and deduplication).
#[derive(Debug)]
#[non_exhaustive]
pub struct Fixture {
    /// The items, in order.
    pub items: Vec<Item>,
    /// The requests, resolved; with [`Out::follow_links`], every link of the page too.
    pub requests: Vec<CrawlRequest>,
    /// The requests that could not be resolved, with why.
    pub rejected: Vec<(String, RequestError)>,
    /// The stop the spider asked for, if any.
    pub stop: Option<String>,
}

/// Runs a spider on a fixture response, with no network: `request` (absolute) answered
/// with `status` and `body`, as `text/html` unless the body starts with `{` or `[` (then
/// `application/json`). For other headers, use [`run_spider_with`].
///
/// # Errors
/// The request's URL is not absolute, or the spider failed.
pub fn run_spider(
    spider: &dyn Spider,
    request: Request,
    status: u16,
    body: impl Into<bytes::Bytes>,
) -> Result<Fixture, SpiderError> {
    let body = body.into();
    let json =
        body.trim_ascii_start().starts_with(b"{") || body.trim_ascii_start().starts_with(b"[");
    let mut headers = HeaderMap::new();
    let content_type = if json {
        "application/json"
    } else {
        "text/html; charset=utf-8"
    };
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    run_spider_with(spider, request, status, &headers, &body)
}

/// [`run_spider`] with the response headers given.
///
/// # Errors
/// The request's URL is not absolute, or the spider failed.
pub fn run_spider_with(
    spider: &dyn Spider,
    request: Request,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Fixture, SpiderError> {
    let request = request
        .resolve(None, 0, None)
        .map_err(|e| SpiderError::msg(format!("the fixture's request: {e}")))?;
    let page = Page::new(&request, &request.url, status, headers, body);
    let mut out = Out::new(page.base());
    let result = spider.parse(&page, &mut out);
    let output = out.finish();
    if let Some(error) = output.errors.first() {
        return Err(SpiderError::msg(error));
    }
    result?;
    let mut fixture = Fixture {
        items: output.items,
        requests: Vec::new(),
        rejected: Vec::new(),
        stop: output.stop,
    };
    let links = if output.follow_links {
        page.links()
    } else {
        &[]
    };
    let followed = output
        .requests
        .into_iter()
        .chain(links.iter().map(Request::from));
    let parent = std::sync::Arc::new(page.url().clone());
    for request in followed {
        let target = request.target().to_owned();
        match request.resolve(Some(&output.base), page.depth() + 1, Some(parent.clone())) {
            Ok(resolved) => fixture.requests.push(resolved),
            Err(e) => fixture.rejected.push((target, e)),
        }
    }
    Ok(fixture)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Book {
        title: String,
    }

    #[test]
    fn closures_are_spiders_and_pages_answer_questions() {
        let spider = |page: &Page<'_>, out: &mut Out| {
            assert_eq!(page.label(), "book");
            assert_eq!(page.data()["shelf"], 3);
            assert_eq!(page.status(), 200);
            assert!(page.is_html());
            assert_eq!(page.attr("a", "href")?, "/next");
            assert_eq!(page.select("p").texts(), ["one two", "three"]);
            out.item(Book {
                title: page.text("h1")?,
            });
            Ok(())
        };
        let request = Request::get("http://a.test/b")
            .label("book")
            .data(serde_json::json!({"shelf": 3}));
        let html = "<h1> The\n  Title </h1><p>one   two</p><p>three</p><a href=/next>n</a>";
        let out = run_spider(&spider, request, 200, html).unwrap();
        assert_eq!(
            out.items[0].downcast_ref::<Book>().unwrap().title,
            "The Title"
        );
        assert!(out.requests.is_empty(), "nothing followed unless asked");
    }

    #[test]
    fn missing_elements_and_bad_selectors_are_errors() {
        let spider = |page: &Page<'_>, _: &mut Out| page.text(".price").map(drop);
        let err = run_spider(&spider, Request::get("http://a.test/"), 200, "<p>x</p>").unwrap_err();
        assert!(err.to_string().contains("`.price`"), "{err}");
        let follows_garbage = |page: &Page<'_>, out: &mut Out| {
            out.follow(page.select("a[["), "x");
            Ok(())
        };
        let err = run_spider(
            &follows_garbage,
            Request::get("http://a.test/"),
            200,
            "<a href=x>",
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid selector"), "{err}");
    }

    #[test]
    fn routes_by_label_and_follows_links() {
        let router = Router::new()
            .route("json", |page: &Page<'_>, out: &mut Out| {
                let body: serde_json::Value = page.json()?;
                out.request(Request::get(body["next"].as_str().unwrap()).label("json"));
                Ok(())
            })
            .fallback(|_: &Page<'_>, out: &mut Out| {
                out.follow_links();
                Ok(())
            });
        let out = run_spider(
            &router,
            Request::get("http://a.test/api?page=1").label("json"),
            200,
            r#"{"next": "/api?page=2"}"#,
        )
        .unwrap();
        assert_eq!(out.requests[0].url.as_str(), "http://a.test/api?page=2");
        assert_eq!(out.requests[0].label(), Some("json"));
        let out = run_spider(
            &router,
            Request::get("http://a.test/"),
            200,
            r#"<a href="/x">x</a><a href="mailto:m@a.test">m</a>"#,
        )
        .unwrap();
        assert_eq!(out.requests.len(), 1);
        assert_eq!(out.requests[0].depth, 1);
        let err = run_spider(
            &router,
            Request::get("http://a.test/").label("nope"),
            200,
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains("`nope`"));
    }

    #[test]
    fn data_comes_back_typed() {
        let spider = |page: &Page<'_>, out: &mut Out| {
            let book: Book = page.data_as()?;
            out.item(book);
            out.stop("enough");
            Ok(())
        };
        let request = Request::get("http://a.test/").data(serde_json::json!({"title": "T"}));
        let out = run_spider(&spider, request, 200, "").unwrap();
        assert_eq!(out.items[0].downcast_ref::<Book>().unwrap().title, "T");
        assert_eq!(out.stop.as_deref(), Some("enough"));
    }
}
