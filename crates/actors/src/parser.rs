//! Parser actors: a `SyncArbiter` pool that runs the spider on each response and sorts the
//! page's links and follow-up requests: those in scope and not seen yet go on to be
//! claimed in the store.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use actix::{Actor, Handler, Message, MessageResult, SyncContext};
use arachne_core::spider::{Out, Page, Spider};
use arachne_core::{
    CrawlRequest, Fingerprint, Item, PageLinks, RequestError, SITEMAP_MAX_URLS, ScopeRules,
    SeenSet, SkipCounts, decode_html, has_repeating_segments, is_html, parse_seed, parse_sitemap,
    scan_links,
};
use bytes::Bytes;
use http::HeaderMap;
use url::Url;

use crate::scope::SharedScope;

/// What every parser thread shares.
pub(crate) struct ParseShared {
    pub scope: SharedScope,
    /// The store's seen set, when it lives in this process: links found there are left
    /// out early (the claim itself is the store's).
    pub seen: Option<Arc<dyn SeenSet>>,
    pub max_depth: Option<u32>,
    pub max_url_length: usize,
    pub spider: Arc<dyn Spider>,
    /// Whether subscribers want the full list of links of each page.
    pub keep_links: bool,
}

/// Parse one response. Carries bytes, never a DOM: the DOM lives and dies on the parser
/// thread.
#[derive(Message)]
#[rtype(result = "Result<ParseOutput, String>")]
pub(crate) struct Parse {
    pub request: CrawlRequest,
    pub final_url: Url,
    pub status: u16,
    pub headers: Arc<HeaderMap>,
    pub body: Bytes,
}

/// How the links of a page were sorted.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LinkCounts {
    pub found: u32,
    pub out_of_scope: u32,
    pub beyond_depth: u32,
    /// Longer than the maximum URL length.
    pub too_long: u32,
    /// With a repeating path (`/a/b/a/b/a/b`).
    pub repeating: u32,
    pub skipped: SkipCounts,
    /// Follow-up requests that could not be queued (not a URL, a bad body).
    pub rejected: u32,
    /// 1 when the spider asked for the page's document and it was refused (too deep or
    /// too large): what it made of the page was dropped.
    pub documents_refused: u32,
}

/// Read a sitemap body (gzipped or not) and sort its URLs. Fails when the body is not a
/// sitemap.
#[derive(Message)]
#[rtype(result = "Result<SitemapOutput, String>")]
pub(crate) struct ParseSitemap {
    pub body: Bytes,
}

/// What a sitemap gave.
#[derive(Debug, Default)]
pub(crate) struct SitemapOutput {
    /// In-scope page URLs not seen yet, to claim.
    pub pages: Vec<Url>,
    /// Nested sitemaps (of a sitemap index).
    pub sitemaps: Vec<Url>,
    pub counts: LinkCounts,
}

/// What a parser returns: owned data only.
#[derive(Debug, Default)]
pub(crate) struct ParseOutput {
    /// All links, when subscribers want them; empty otherwise.
    pub links: Vec<Url>,
    /// Requests to claim: the page's links and the spider's follow-up requests that are in
    /// scope, within the limits, and not seen yet.
    pub new_requests: Vec<CrawlRequest>,
    pub counts: LinkCounts,
    pub items: Vec<Item>,
    /// Why the spider failed on this page, if it did.
    pub spider_error: Option<String>,
    /// A stop the spider asked for.
    pub stop: Option<String>,
}

/// One parser thread.
pub(crate) struct Parser {
    shared: Arc<ParseShared>,
}

impl Parser {
    pub fn new(shared: Arc<ParseShared>) -> Self {
        Self { shared }
    }
}

impl Actor for Parser {
    type Context = SyncContext<Self>;
}

/// Runs the spider on the page, and sorts the page's links and requests.
impl Handler<Parse> for Parser {
    type Result = MessageResult<Parse>;

    fn handle(&mut self, msg: Parse, _: &mut Self::Context) -> Self::Result {
        // A panic (in the HTML parser, or in the user's spider) must not take the thread,
        // and the page's accounting, down with it.
        let result =
            catch_unwind(AssertUnwindSafe(|| parse_page(&self.shared, &msg))).map_err(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                format!("parsing this page panicked: {what}")
            });
        MessageResult(result)
    }
}

/// Reads a sitemap and sorts its URLs.
impl Handler<ParseSitemap> for Parser {
    type Result = MessageResult<ParseSitemap>;

    fn handle(&mut self, msg: ParseSitemap, _: &mut Self::Context) -> Self::Result {
        let shared = &self.shared;
        let mut out = SitemapOutput::default();
        let sitemap = match parse_sitemap(&msg.body, SITEMAP_MAX_URLS) {
            Ok(sitemap) => sitemap,
            Err(message) => return MessageResult(Err(message)),
        };
        let scope = shared.scope.get();
        for page in sitemap.pages {
            let Ok(url) = parse_seed(&page) else { continue };
            out.counts.found += 1;
            if sort(
                shared,
                &scope,
                &url,
                Fingerprint::of(&url),
                true,
                &mut out.counts,
            ) {
                out.pages.push(url);
            }
        }
        out.sitemaps = sitemap
            .sitemaps
            .iter()
            .filter_map(|s| parse_seed(s).ok())
            .collect();
        MessageResult(Ok(out))
    }
}

/// Sorts one request: whether it is in scope, not seen yet, and passes the trap guards and
/// the depth limit. Requests already seen cost one lookup.
fn sort(
    shared: &ParseShared,
    scope: &ScopeRules,
    url: &Url,
    fingerprint: Fingerprint,
    within_depth: bool,
    counts: &mut LinkCounts,
) -> bool {
    if !scope.allows(url) {
        counts.out_of_scope += 1;
        return false;
    }
    if shared
        .seen
        .as_ref()
        .is_some_and(|seen| seen.contains(fingerprint))
    {
        return false;
    }
    if url.as_str().len() > shared.max_url_length {
        counts.too_long += 1;
    } else if has_repeating_segments(url) {
        counts.repeating += 1;
    } else if !within_depth {
        counts.beyond_depth += 1;
    } else {
        return true;
    }
    false
}

/// The whole of a parser's work on one page, as a plain function.
pub(crate) fn parse_page(shared: &ParseShared, msg: &Parse) -> ParseOutput {
    let content_type = msg
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // HTML is read once without a document, for the crawler's links; the document is
    // built only if the spider asks for it.
    let text = is_html(content_type, &msg.body).then(|| decode_html(&msg.body, content_type).0);
    let scanned = text.as_deref().map(|text| scan_links(text, &msg.final_url));
    let mut page = Page::new(
        &msg.request,
        &msg.final_url,
        msg.status,
        &msg.headers,
        &msg.body,
    );
    if let (Some(text), Some(scanned)) = (text, &scanned) {
        page = page.with_scanned(text, scanned);
    }
    let base = page.base();
    let mut out = Out::new(base.clone());
    let mut result = shared.spider.parse(&page, &mut out);
    let mut output = out.finish();
    let refused = page.document_refused();
    drop(page);
    if let Some(why) = refused {
        // The spider worked on an empty document: what it made is dropped, and the page's
        // links are followed.
        tracing::warn!(page = %msg.final_url, %why, "no document for the spider: its output for the page is dropped, the links are followed");
        let mut out = Out::new(base);
        out.follow_links();
        output = out.finish();
        result = Ok(());
    }
    let found = scanned.map(|scanned| scanned.links).unwrap_or_default();

    let within_depth = shared.max_depth.is_none_or(|max| msg.request.depth < max);
    let depth = msg.request.depth + 1;
    // One copy of the page URL, shared by every request found on it.
    let parent = Arc::new(msg.request.url.clone());
    let PageLinks {
        links,
        fingerprints,
        skipped,
    } = found;
    let mut counts = LinkCounts {
        found: u32::try_from(links.len()).unwrap_or(u32::MAX),
        skipped,
        documents_refused: u32::from(refused.is_some()),
        ..LinkCounts::default()
    };
    let scope = shared.scope.get();
    let mut new_requests = Vec::new();
    // The links go to the sink only when it asked for them; otherwise they move into the
    // requests, uncopied.
    let kept_links = if shared.keep_links {
        links.clone()
    } else {
        Vec::new()
    };
    if output.follow_links {
        for (url, fingerprint) in links.into_iter().zip(fingerprints) {
            if sort(shared, &scope, &url, fingerprint, within_depth, &mut counts) {
                new_requests.push(CrawlRequest::link(url, depth, parent.clone()));
            }
        }
    }
    for request in output.requests {
        match request.resolve(Some(&output.base), depth, Some(parent.clone())) {
            Ok(request) => {
                let fingerprint = request.fingerprint();
                if sort(
                    shared,
                    &scope,
                    &request.url,
                    fingerprint,
                    within_depth,
                    &mut counts,
                ) {
                    new_requests.push(request);
                }
            }
            Err(RequestError::Link(skip)) => counts.skipped.add(skip),
            Err(error) => {
                counts.rejected += 1;
                tracing::debug!(page = %msg.request.url, %error, "follow-up request rejected");
            }
        }
    }
    let spider_error = match (result, output.errors.first()) {
        (Err(e), _) => Some(e.to_string()),
        (Ok(()), Some(e)) => Some(e.clone()),
        (Ok(()), None) => None,
    };
    ParseOutput {
        links: kept_links,
        new_requests,
        counts,
        items: output.items,
        spider_error,
        stop: output.stop,
    }
}

#[cfg(test)]
mod tests {
    use arachne_core::{MemorySeenSet, Scope};

    use super::*;

    fn shared(max_depth: Option<u32>) -> ParseShared {
        let seed: Url = "http://a.test/".parse().unwrap();
        ParseShared {
            scope: SharedScope::new(ScopeRules::new(Scope::Host, &[seed], &[], &[]).unwrap()),
            seen: Some(Arc::new(MemorySeenSet::new())),
            max_depth,
            max_url_length: 100,
            spider: Arc::new(arachne_core::spider::FollowLinks),
            keep_links: true,
        }
    }

    fn page(depth: u32, html: &'static str) -> Parse {
        let url: Url = "http://a.test/p".parse().unwrap();
        Parse {
            request: CrawlRequest {
                depth,
                ..CrawlRequest::seed(url.clone())
            },
            final_url: url,
            status: 200,
            headers: Arc::new(HeaderMap::new()),
            body: Bytes::from(html),
        }
    }

    #[test]
    fn sorts_links_and_leaves_out_those_seen() {
        let shared = shared(Some(2));
        let html = r#"<a href="/x">x</a><a href="/y">y</a><a href="http://b.test/">b</a><a href="mailto:m@a.test">m</a>"#;
        let out = parse_page(&shared, &page(1, html));
        assert_eq!(out.links.len(), 3);
        assert_eq!(out.new_requests.len(), 2);
        assert_eq!(
            (
                out.counts.found,
                out.counts.out_of_scope,
                out.counts.skipped.mailto
            ),
            (3, 1, 1)
        );
        // Once claimed (in the store's seen set), the same links are left out.
        let seen = shared.seen.as_ref().unwrap();
        for request in &out.new_requests {
            seen.insert(request.fingerprint());
        }
        let again = parse_page(&shared, &page(1, html));
        assert!(again.new_requests.is_empty());
        // Without a seen set to look in, every candidate goes to the store.
        let blind = ParseShared {
            seen: None,
            ..shared
        };
        assert_eq!(parse_page(&blind, &page(1, html)).new_requests.len(), 2);
    }

    #[test]
    fn trap_guards() {
        let shared = shared(None);
        let long = format!(
            "<a href=\"/{}\">long</a><a href=\"/a/b/a/b/a/b/\">loop</a>",
            "x".repeat(200)
        );
        let out = parse_page(
            &shared,
            &Parse {
                body: Bytes::from(long),
                ..page(0, "")
            },
        );
        assert!(out.new_requests.is_empty());
        assert_eq!((out.counts.too_long, out.counts.repeating), (1, 1));
    }

    #[test]
    fn the_document_is_built_only_for_a_spider_that_asks_and_within_bounds() {
        // A spider that reads the document: an item with how many links it selected.
        let spider = |page: &Page<'_>, out: &mut Out| {
            out.item(serde_json::json!({ "links": page.select("a").len() }));
            out.follow_links();
            Ok(())
        };
        let shared = ParseShared {
            spider: Arc::new(spider),
            ..shared(None)
        };
        let shallow = parse_page(&shared, &page(0, r#"<div><a href="/x">x</a></div>"#));
        assert_eq!(shallow.items.len(), 1);
        assert_eq!(shallow.counts.documents_refused, 0);
        // Too deep for a document: the spider's output is dropped, the link followed.
        let deep = format!("{}<a href=\"/bottom\">b</a>", "<div>".repeat(600));
        let out = parse_page(
            &shared,
            &Parse {
                body: Bytes::from(deep),
                ..page(0, "")
            },
        );
        assert!(
            out.items.is_empty(),
            "dropped, not made of an empty document"
        );
        assert_eq!(out.counts.documents_refused, 1);
        assert_eq!(out.new_requests.len(), 1);
        assert_eq!(out.new_requests[0].url.as_str(), "http://a.test/bottom");
    }

    #[test]
    fn pages_at_max_depth_queue_nothing() {
        let shared = shared(Some(1));
        let out = parse_page(&shared, &page(1, r#"<a href="/x">x</a>"#));
        assert!(out.new_requests.is_empty());
        assert_eq!(out.counts.beyond_depth, 1);
    }
}
