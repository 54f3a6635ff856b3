//! Parser actors: a `SyncArbiter` pool that turns HTML bodies into links and items.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use actix::{Actor, Handler, Message, MessageResult, SyncContext};
use arachne_core::{
    Extractor, Fingerprint, ParsedPage, SITEMAP_MAX_URLS, ScopeRules, SeenSet, SkipCounts,
    decode_html, extract_links, has_repeating_segments, parse_seed, parse_sitemap,
};
use bytes::Bytes;
use url::Url;

use crate::scope::SharedScope;

/// What every parser thread shares.
pub(crate) struct ParseShared {
    pub scope: SharedScope,
    pub seen: Arc<dyn SeenSet>,
    pub max_depth: Option<u32>,
    pub max_url_length: usize,
    pub extractors: Vec<Arc<dyn Extractor>>,
    /// Whether subscribers want the full list of links of each page.
    pub keep_links: bool,
}

/// Parse one HTML body. Carries bytes, never a DOM: the DOM lives and dies on the parser
/// thread.
#[derive(Message)]
#[rtype(result = "Result<ParseOutput, String>")]
pub(crate) struct Parse {
    pub url: Url,
    pub final_url: Url,
    pub depth: u32,
    pub content_type: Option<String>,
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
}

/// Read a sitemap body (gzipped or not) and claim its new in-scope URLs. Fails when the
/// body is not a sitemap.
#[derive(Message)]
#[rtype(result = "Result<SitemapOutput, String>")]
pub(crate) struct ParseSitemap {
    pub body: Bytes,
}

/// What a sitemap gave.
#[derive(Debug, Default)]
pub(crate) struct SitemapOutput {
    /// In-scope page URLs new to the crawl.
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
    /// In-scope links this page was the first to find.
    pub new_links: Vec<Url>,
    pub counts: LinkCounts,
    pub items: Vec<serde_json::Value>,
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

/// Parses the page, runs the extractors, and claims the page's new links in the seen set.
impl Handler<Parse> for Parser {
    type Result = MessageResult<Parse>;

    fn handle(&mut self, msg: Parse, _: &mut Self::Context) -> Self::Result {
        // A panic must not take the thread (and the page's accounting) down with it.
        let result =
            catch_unwind(AssertUnwindSafe(|| parse_page(&self.shared, &msg))).map_err(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                format!("the HTML parser failed on this page: {what}")
            });
        MessageResult(result)
    }
}

/// Reads a sitemap and claims its new URLs.
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
            if claim(
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

/// Sorts one link: whether it is in scope, new, and passes the trap guards and the depth
/// limit; it is then claimed in the seen set. Links already seen cost one lookup.
fn claim(
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
    if shared.seen.contains(fingerprint) {
        return false;
    }
    if url.as_str().len() > shared.max_url_length {
        counts.too_long += 1;
    } else if has_repeating_segments(url) {
        counts.repeating += 1;
    } else if !within_depth {
        counts.beyond_depth += 1;
    } else {
        return shared.seen.insert(fingerprint);
    }
    false
}

/// The whole of a parser's work on one page, as a plain function.
pub(crate) fn parse_page(shared: &ParseShared, page: &Parse) -> ParseOutput {
    let (text, _encoding) = decode_html(&page.body, page.content_type.as_deref());
    let text = match arachne_core::nesting_cut(&text, arachne_core::MAX_NESTING) {
        Some(cut) => &text[..cut],
        None => &text[..],
    };
    let html = scraper::Html::parse_document(text);
    let found = extract_links(&html, &page.final_url);
    let mut items = Vec::new();
    if !shared.extractors.is_empty() {
        let view = ParsedPage::new(&page.url, &page.final_url, page.depth, &html);
        for extractor in &shared.extractors {
            extractor.extract(&view, &mut items);
        }
    }
    drop(html);

    let within_depth = shared.max_depth.is_none_or(|max| page.depth < max);
    let mut counts = LinkCounts {
        found: u32::try_from(found.links.len()).unwrap_or(u32::MAX),
        skipped: found.skipped,
        ..LinkCounts::default()
    };
    let scope = shared.scope.get();
    let new_links = found
        .links
        .iter()
        .zip(&found.fingerprints)
        .filter(|&(url, &fingerprint)| {
            claim(shared, &scope, url, fingerprint, within_depth, &mut counts)
        })
        .map(|(url, _)| url.clone())
        .collect();
    let links = if shared.keep_links {
        found.links
    } else {
        Vec::new()
    };
    ParseOutput {
        links,
        new_links,
        counts,
        items,
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
            seen: Arc::new(MemorySeenSet::new()),
            max_depth,
            max_url_length: 100,
            extractors: vec![],
            keep_links: true,
        }
    }

    fn page(depth: u32, html: &'static str) -> Parse {
        let url: Url = "http://a.test/p".parse().unwrap();
        Parse {
            url: url.clone(),
            final_url: url,
            depth,
            content_type: None,
            body: Bytes::from(html),
        }
    }

    #[test]
    fn sorts_links_and_claims_new_ones_once() {
        let shared = shared(Some(2));
        let html = r#"<a href="/x">x</a><a href="/y">y</a><a href="http://b.test/">b</a><a href="mailto:m@a.test">m</a>"#;
        let out = parse_page(&shared, &page(1, html));
        assert_eq!(out.links.len(), 3);
        assert_eq!(out.new_links.len(), 2);
        assert_eq!(
            (
                out.counts.found,
                out.counts.out_of_scope,
                out.counts.skipped.mailto
            ),
            (3, 1, 1)
        );
        // The same links from another page are no longer new.
        let again = parse_page(&shared, &page(1, html));
        assert!(again.new_links.is_empty());
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
        assert!(out.new_links.is_empty());
        assert_eq!((out.counts.too_long, out.counts.repeating), (1, 1));
    }

    #[test]
    fn pages_at_max_depth_queue_nothing() {
        let shared = shared(Some(1));
        let out = parse_page(&shared, &page(1, r#"<a href="/x">x</a>"#));
        assert!(out.new_links.is_empty());
        assert_eq!(out.counts.beyond_depth, 1);
        assert!(!shared.seen.contains(Fingerprint::of_str("http://a.test/x")));
    }
}
