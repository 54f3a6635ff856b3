//! HTML handling on parser threads: content sniffing, charset decoding, link extraction.
//!
//! Links are taken from these elements, in document order:
//!
//! | element | attribute |
//! |---|---|
//! | `<a>`, `<area>` | `href` |
//! | `<link rel="next">`, `<link rel="prev">` (also `previous`) | `href` |
//! | `<frame>`, `<iframe>` | `src` |
//! | `<meta http-equiv="refresh" content="0; url=...">` | the URL in `content` |
//!
//! They are resolved against the first `<base href>` when the page has one (itself resolved
//! against the page URL), otherwise against the page URL (after redirects). HTML entities
//! in attributes (`&amp;`) are decoded by the HTML parser.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252, X_USER_DEFINED};
use scraper::{Html, Selector};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::fingerprint::{BuildFingerprintHasher, Fingerprint};
use crate::normalize::{LinkSkip, resolve_link, trim_reference};

/// How many references of each kind a crawl did not follow, and how many pointed at their
/// own page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SkipCounts {
    /// Empty, whitespace-only and fragment-only references (`#top`): links to the page
    /// itself. Not skipped links, and not in [`SkipCounts::total`].
    pub same_page: u64,
    /// `javascript:` URLs.
    pub javascript: u64,
    /// `mailto:` URLs.
    pub mailto: u64,
    /// `data:` URLs.
    pub data: u64,
    /// `tel:` URLs.
    pub tel: u64,
    /// Other schemes than http and https.
    pub other_scheme: u64,
    /// References that do not parse as URLs.
    pub malformed: u64,
}

impl SkipCounts {
    /// Counts one reference that was not followed.
    pub fn add(&mut self, skip: LinkSkip) {
        let counter = match skip {
            LinkSkip::SamePage => &mut self.same_page,
            LinkSkip::Javascript => &mut self.javascript,
            LinkSkip::Mailto => &mut self.mailto,
            LinkSkip::Data => &mut self.data,
            LinkSkip::Tel => &mut self.tel,
            LinkSkip::OtherScheme => &mut self.other_scheme,
            LinkSkip::Malformed => &mut self.malformed,
        };
        *counter += 1;
    }

    /// Adds another set of counts to this one.
    pub fn merge(&mut self, other: &SkipCounts) {
        self.same_page += other.same_page;
        self.javascript += other.javascript;
        self.mailto += other.mailto;
        self.data += other.data;
        self.tel += other.tel;
        self.other_scheme += other.other_scheme;
        self.malformed += other.malformed;
    }

    /// The skipped references: every count but [`SkipCounts::same_page`].
    pub fn total(&self) -> u64 {
        self.kinds().iter().map(|(_, n)| n).sum()
    }

    /// The skipped references by kind, named as the summary names them: `javascript:`,
    /// `mailto:`, `data:`, `tel:`, `other scheme`, `malformed`.
    pub fn kinds(&self) -> [(&'static str, u64); 6] {
        [
            ("javascript:", self.javascript),
            ("mailto:", self.mailto),
            ("data:", self.data),
            ("tel:", self.tel),
            ("other scheme", self.other_scheme),
            ("malformed", self.malformed),
        ]
    }
}

/// The links of one page.
#[derive(Debug, Default, Clone)]
pub struct PageLinks {
    /// The distinct http and https links, normalized, in document order.
    pub links: Vec<Url>,
    /// The fingerprint of each link: `fingerprints[i]` is that of `links[i]`.
    pub fingerprints: Vec<Fingerprint>,
    /// The references that were not followed, by kind.
    pub skipped: SkipCounts,
}

/// Whether a response is HTML, by its `Content-Type`, or by sniffing the body when the
/// header is missing (the WHATWG MIME sniffing rules for HTML).
pub fn is_html(content_type: Option<&str>, body: &[u8]) -> bool {
    match content_type.map(mime_essence) {
        Some(essence) if !essence.is_empty() => {
            essence.eq_ignore_ascii_case("text/html")
                || essence.eq_ignore_ascii_case("application/xhtml+xml")
        }
        _ => sniff_html(body),
    }
}

fn mime_essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

fn sniff_html(body: &[u8]) -> bool {
    const TAGS: [&[u8]; 17] = [
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
    ];
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let body = &body[start..];
    TAGS.iter().any(|tag| {
        body.len() > tag.len()
            && body[..tag.len()].eq_ignore_ascii_case(tag)
            && (tag == b"<!--" || matches!(body[tag.len()], b' ' | b'>'))
    })
}

/// Decodes an HTML body to text. The encoding is, in order of precedence: a byte order
/// mark, the `charset` of the `Content-Type` header, a `<meta charset>` or
/// `<meta http-equiv="Content-Type">` in the first 1024 bytes, and UTF-8 otherwise.
/// Invalid bytes become U+FFFD; decoding never fails.
pub fn decode_html<'a>(
    body: &'a [u8],
    content_type: Option<&str>,
) -> (Cow<'a, str>, &'static Encoding) {
    let declared = content_type
        .and_then(charset_param)
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .or_else(|| meta_charset(body));
    let encoding = declared.unwrap_or(UTF_8);
    // `decode` lets a BOM override the declared encoding and strips it.
    let (text, used, _had_errors) = encoding.decode(body);
    (text, used)
}

/// The `charset` parameter of a `Content-Type` value.
pub fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']))
    })
}

/// The encoding declared by a `<meta>` in the first 1024 bytes (a simplified form of the
/// HTML prescan). UTF-16 labels count as UTF-8 there, as the HTML standard says, since a
/// document that can be prescanned as ASCII is not UTF-16.
fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(1024)];
    let mut rest = head;
    while let Some(at) = find_ci(rest, b"<meta") {
        let tag = &rest[at..];
        let end = tag.iter().position(|&b| b == b'>').unwrap_or(tag.len());
        let tag = &tag[..end];
        if let Some(pos) = find_ci(tag, b"charset") {
            let value = &tag[pos + b"charset".len()..];
            let value = value.trim_ascii_start();
            if let Some(value) = value.strip_prefix(b"=") {
                let value = value.trim_ascii_start();
                let value = value
                    .strip_prefix(b"\"")
                    .or_else(|| value.strip_prefix(b"'"))
                    .unwrap_or(value);
                let len = value
                    .iter()
                    .position(|&b| {
                        matches!(b, b'"' | b'\'' | b';' | b'/' | b'>') || b.is_ascii_whitespace()
                    })
                    .unwrap_or(value.len());
                if let Some(encoding) = Encoding::for_label(&value[..len]) {
                    return Some(if encoding == UTF_16LE || encoding == UTF_16BE {
                        UTF_8
                    } else if encoding == X_USER_DEFINED {
                        WINDOWS_1252
                    } else {
                        encoding
                    });
                }
            }
        }
        rest = &rest[at + end.max(1)..];
    }
    None
}

fn find_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

static LINK_SELECTOR: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(
        "a[href], area[href], link[href], frame[src], iframe[src], meta[http-equiv][content]",
    )
    .expect("static selector")
});
static BASE_SELECTOR: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("base[href]").expect("static selector"));

/// How a page was read for links by [`scan_links`]: its links, what relative references
/// resolve against, and how deep its markup nests.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// The links, as [`extract_links`] gives them from a parsed document.
    pub links: PageLinks,
    /// What relative references resolve against: the first `<base href>` (resolved
    /// against the page URL), or the page URL.
    pub base: Url,
    /// The deepest nesting of elements met (void elements and those whose end tag may be
    /// left out do not count): what building a document would cost.
    pub depth: usize,
}

/// Reads the links of an HTML page in one pass over its text, without building a
/// document: the same links as [`extract_links`] from the same elements (see the module
/// docs), in document order, with entities decoded.
///
/// It reads tags as the HTML standard's tokenizer does (and decodes character references
/// with html5ever's), and follows the tree builder only where tokenizing depends on it: the contents of `<script>`, `<style>`,
/// `<xmp>`, `<iframe>`, `<noembed>`, `<noframes>`, `<title>`, `<textarea>` and
/// `<plaintext>` are text, and so are CDATA sections in SVG and MathML. `<noscript>` is
/// read as markup, as a browser without scripts reads it (a crawler runs none). Time is
/// linear in the page, and memory beyond the page's text is what its references take, on
/// any input (deep nesting, unclosed tags, huge attributes).
pub fn scan_links(html: &str, page_url: &Url) -> Scanned {
    let scan = crate::scan::read(html);
    let base = resolve_base(scan.base.as_deref(), page_url);
    let links = resolve_all(&base, scan.references.iter().map(AsRef::as_ref));
    Scanned {
        links,
        base,
        depth: scan.max_depth,
    }
}

/// Resolves a page's references against its base: the distinct http(s) links in order,
/// and the others counted by kind.
///
/// Pages repeat their references (a documentation page names the same type dozens of
/// times, with different `#fragment`s), and resolving a URL is the costly part. So each
/// reference is resolved once per page, by its text up to the first `#` (after the
/// trimming that [`resolve_link`] does): two references alike up to there resolve to the
/// same link, or are skipped for the same reason, which is counted again.
fn resolve_all<'r>(base: &Url, references: impl Iterator<Item = &'r str>) -> PageLinks {
    let mut out = PageLinks::default();
    let mut distinct: HashSet<Fingerprint, BuildFingerprintHasher> = HashSet::default();
    // Keyed by text from the page: std's randomly keyed hasher, which a page cannot
    // flood with colliding references.
    let mut resolved: HashMap<&str, Option<LinkSkip>> = HashMap::new();
    for reference in references {
        let trimmed = trim_reference(reference);
        let key = trimmed
            .split_once('#')
            .map_or(trimmed, |(before, _)| before);
        if let Some(&outcome) = resolved.get(key) {
            if let Some(skip) = outcome {
                out.skipped.add(skip);
            }
            continue;
        }
        let outcome = match resolve_link(base, reference) {
            Ok(url) => {
                let fingerprint = Fingerprint::of(&url);
                if distinct.insert(fingerprint) {
                    out.links.push(url);
                    out.fingerprints.push(fingerprint);
                }
                None
            }
            Err(skip) => {
                out.skipped.add(skip);
                Some(skip)
            }
        };
        resolved.insert(key, outcome);
    }
    out
}

/// Parses a document as a browser without scripts does: `<noscript>` content is markup
/// (a crawler runs no scripts). Tree building slows down with nesting depth: see
/// [`MAX_NESTING`].
pub fn parse_document(text: &str) -> Html {
    use html5ever::tendril::TendrilSink;
    let opts = html5ever::ParseOpts {
        tree_builder: html5ever::tree_builder::TreeBuilderOpts {
            scripting_enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    html5ever::driver::parse_document(scraper::HtmlTreeSink::new(Html::new_document()), opts)
        .one(text)
}

/// The URL that relative links of a page resolve against: its first `<base href>`
/// (resolved against the page URL), or the page URL.
pub fn base_url(doc: &Html, page_url: &Url) -> Url {
    let href = doc
        .select(&BASE_SELECTOR)
        .next()
        .and_then(|base| base.value().attr("href"));
    resolve_base(href, page_url)
}

/// A page's base: its first `<base href>` resolved against its URL, or its URL.
fn resolve_base(href: Option<&str>, page_url: &Url) -> Url {
    href.and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone())
}

/// The reference a link element holds (see the module docs), by its lower-case name, with
/// `attr` reading its attributes: the one place that says which elements are links, for
/// the reader and for documents.
pub(crate) fn reference<'v>(
    name: &[u8],
    attr: impl Fn(&str) -> Option<Cow<'v, str>>,
) -> Option<Cow<'v, str>> {
    match name {
        b"a" | b"area" => attr("href"),
        b"frame" | b"iframe" => attr("src"),
        b"link" => attr("rel")
            .filter(|rel| paging(rel))
            .and_then(|_| attr("href")),
        b"meta" => attr("http-equiv")
            .filter(|equiv| refresh(equiv))
            .and_then(|_| attr("content"))
            .and_then(|content| match content {
                Cow::Borrowed(content) => refresh_url(content).map(Cow::Borrowed),
                Cow::Owned(content) => refresh_url(&content).map(|url| Cow::Owned(url.to_owned())),
            }),
        _ => None,
    }
}

/// Whether a `<link rel>` names the next or previous page (`next`, `prev`, `previous`).
fn paging(rel: &str) -> bool {
    rel.split_ascii_whitespace().any(|token| {
        ["next", "prev", "previous"]
            .iter()
            .any(|t| token.eq_ignore_ascii_case(t))
    })
}

/// Whether a `<meta http-equiv>` is a refresh.
fn refresh(equiv: &str) -> bool {
    equiv.trim().eq_ignore_ascii_case("refresh")
}

/// Extracts the links of a parsed page (see the module docs for which elements count).
/// [`scan_links`] gives the same without a parsed document.
pub fn extract_links(doc: &Html, page_url: &Url) -> PageLinks {
    let base = base_url(doc, page_url);
    let references: Vec<Cow<'_, str>> = doc
        .select(&LINK_SELECTOR)
        .filter_map(|element| {
            let el = element.value();
            reference(el.name().as_bytes(), |attr| {
                el.attr(attr).map(Cow::Borrowed)
            })
        })
        .collect();
    resolve_all(&base, references.iter().map(AsRef::as_ref))
}

/// The deepest element nesting a document is built for (Blink's HTML parser keeps to the
/// same depth): tree building slows down with depth, and a page of 50,000 nested `<div>`s
/// would hold a parser thread for minutes. Deeper pages still give their links
/// ([`scan_links`] reads them without a document).
pub const MAX_NESTING: usize = 512;

/// The largest page text a document is built for, in bytes (16 MiB): a document takes
/// several times its text in memory. Larger pages still give their links.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// The URL in the `content` of a `<meta http-equiv="refresh">`: `5; url=/next`,
/// `0;URL='/next'`, or `0, /next`.
pub fn refresh_url(content: &str) -> Option<&str> {
    let rest = content.trim_start();
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    let rest = rest.trim_start();
    let rest = rest.strip_prefix([';', ',']).unwrap_or(rest).trim_start();
    let rest = if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case("url") {
        let after = rest[3..].trim_start();
        match after.strip_prefix('=') {
            Some(after) => after.trim_start(),
            None => rest,
        }
    } else {
        rest
    };
    let url = match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let inner = &rest[1..];
            &inner[..inner.find(quote).unwrap_or(inner.len())]
        }
        _ => rest.trim_end(),
    };
    (!url.is_empty()).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The links of a page, read without a document; the same as from a parsed document.
    fn links(html: &str, url: &str) -> PageLinks {
        let url: Url = url.parse().unwrap();
        let scanned = scan_links(html, &url);
        let document = parse_document(html);
        let parsed = extract_links(&document, &url);
        assert_eq!(scanned.links.links, parsed.links, "{html}");
        assert_eq!(scanned.links.skipped, parsed.skipped, "{html}");
        assert_eq!(scanned.base, base_url(&document, &url));
        scanned.links
    }

    fn scanned(html: &str) -> Vec<String> {
        let scanned = scan_links(html, &"http://a.test/".parse().unwrap());
        scanned.links.links.iter().map(Url::to_string).collect()
    }

    fn urls(l: &PageLinks) -> Vec<&str> {
        l.links.iter().map(Url::as_str).collect()
    }

    #[test]
    fn every_link_source() {
        let html = r#"<html><head>
            <link rel="next" href="/next"><link rel="Prev stylesheet" href="/prev">
            <link rel="stylesheet" href="/style.css">
            <meta http-equiv="Refresh" content="5; URL='/refreshed'">
            </head><body>
            <a href="/a">a</a><map><area href="/area"></map>
            <iframe src="/iframe"></iframe>
            <a>no href</a><img src="/img.png">
            </body></html>"#;
        let got = links(html, "http://a.test/page");
        assert_eq!(
            urls(&got),
            [
                "http://a.test/next",
                "http://a.test/prev",
                "http://a.test/refreshed",
                "http://a.test/a",
                "http://a.test/area",
                "http://a.test/iframe",
            ]
        );
        let frames = links(
            r#"<frameset><frame src="f1.html"></frameset>"#,
            "http://a.test/d/",
        );
        assert_eq!(urls(&frames), ["http://a.test/d/f1.html"]);
    }

    #[test]
    fn base_href_and_entities() {
        let html =
            r#"<a href="x?a=1&amp;b=2">x</a><base href="http://b.test/dir/"><a href="../y">y</a>"#;
        let got = links(html, "http://a.test/");
        assert_eq!(
            urls(&got),
            ["http://b.test/dir/x?a=1&b=2", "http://b.test/y"]
        );
    }

    #[test]
    fn skipped_and_duplicates() {
        let html = r#"<a href="">e</a><a href="  ">w</a><a href="javascript:void(0)">j</a>
            <a href="mailto:x@a.test">m</a><a href="data:,x">d</a><a href="tel:1">t</a>
            <a href="ftp://a.test/">f</a><a href="http://[oops">bad</a>
            <a href="/same">1</a><a href="/same#frag">2</a><a href="HTTP://A.TEST/same">3</a>"#;
        let got = links(html, "http://a.test/");
        assert_eq!(urls(&got), ["http://a.test/same"]);
        let s = got.skipped;
        assert_eq!(
            (s.same_page, s.javascript, s.mailto, s.data, s.tel),
            (2, 1, 1, 1, 1)
        );
        assert_eq!(
            (s.other_scheme, s.malformed, s.total()),
            (1, 1, 6),
            "links to the page itself are not skipped links"
        );
    }

    #[test]
    fn raw_text_and_foreign_content_are_not_markup() {
        let html = r#"<script>var s = "<a href='/no1'>";</script>
            <style>a[href="/no2"] { }</style><title><a href="/no3"></title>
            <textarea><a href="/no4"></textarea><xmp><a href="/no5"></xmp>
            <iframe src="/frame"><a href="/no6"></iframe>
            <!-- <a href="/no7"> --><a href="/yes1">y</a>
            <svg><style><a href="/svg-style"></a></style><![CDATA[<a href="/no8">]]></svg>
            <math><mi>x</mi></math><a href="/yes2">y</a>
            <plaintext><a href="/no9">"#;
        assert_eq!(
            scanned(html),
            [
                "http://a.test/frame",
                "http://a.test/yes1",
                "http://a.test/svg-style",
                "http://a.test/yes2"
            ]
        );
        // The same as a parsed document gives.
        links(html, "http://a.test/");
        // An unclosed <svg> ends at the first HTML element that breaks out of it.
        links(
            r#"<svg><rect/><div><script>"<a href='/no'>"</script><a href="/ok">k</a>"#,
            "http://a.test/",
        );
    }

    #[test]
    fn what_a_browser_without_scripts_sees() {
        // mdBook's table of contents: an iframe inside <noscript>. A parser with scripting
        // on reads <noscript> as text and misses it; a crawler runs no scripts.
        let html = r#"<noscript><iframe class="sidebar" src="toc.html"></iframe></noscript>
            <a href="ch1.html">1</a>"#;
        assert_eq!(
            scanned(html),
            ["http://a.test/toc.html", "http://a.test/ch1.html"]
        );
        // The same as a document parsed without scripts; with scripting on (html5ever's
        // default), <noscript> is text and the frame is missed.
        links(html, "http://a.test/");
        let scripting = extract_links(
            &Html::parse_document(html),
            &"http://a.test/".parse().unwrap(),
        );
        assert_eq!(scripting.links.len(), 1);
    }

    #[test]
    fn deep_and_hostile_markup_in_linear_time() {
        // A link at the bottom of 300,000 nested elements.
        let deep = format!("{}<a href=\"/bottom\">b</a>", "<div>".repeat(300_000));
        let scan = scan_links(&deep, &"http://a.test/".parse().unwrap());
        assert_eq!(scan.links.links.len(), 1);
        assert_eq!(scan.links.links[0].as_str(), "http://a.test/bottom");
        assert_eq!(scan.depth, 300_001, "the divs and the link");
        // Nesting as a document counts it: void elements and closed ones do not add up.
        let flat = "<p>one<p>two<br><img src=x><li>a<li>b</li><div>ok</div>".repeat(1000);
        assert!(scan_links(&flat, &"http://a.test/".parse().unwrap()).depth <= 2);
        let closed = "<div><span>x</span></div>".repeat(10_000);
        assert_eq!(
            scan_links(&closed, &"http://a.test/".parse().unwrap()).depth,
            2
        );
        // Ten megabytes of `<`, an unclosed tag, a huge attribute.
        assert!(scanned(&"<".repeat(10 * 1024 * 1024)).is_empty());
        assert!(
            scanned("<a href=\"/x").is_empty(),
            "a tag never closed is not a link"
        );
        let huge = format!("<a title=\"{}\" href=\"/after\">", "x".repeat(5_000_000));
        assert_eq!(scanned(&huge), ["http://a.test/after"]);
        // Runs that a careless reader would go over again and again: dashes in a comment,
        // attributes in one tag.
        let dashes = format!("<!--{}x--><a href=\"/d\">", "-".repeat(1_000_000));
        assert_eq!(scanned(&dashes), ["http://a.test/d"]);
        let attributes = format!("<a {} href=\"/many\">", "x ".repeat(500_000));
        assert_eq!(scanned(&attributes), ["http://a.test/many"]);
    }

    /// Pieces of markup that make tokenizing depend on state: raw text, script escapes,
    /// comments, quotes, references, broken tags. (The tree builder's own rules, which
    /// drop or move elements in malformed markup, are left to the fixtures above and to
    /// real pages: see `tests/links.rs`.)
    const PIECES: &[&str] = &[
        "<a href=\"/x\">",
        "<a href='/y'>",
        "<a href=/z>",
        "</a>",
        "<script>",
        "</script>",
        "<!--",
        "-->",
        "<style>",
        "</style>",
        "<title>",
        "</title>",
        "<textarea>",
        "</textarea>",
        "<noscript>",
        "</noscript>",
        "<iframe src=/f>",
        "</iframe>",
        "<base href=/b/>",
        "<p>",
        "<div>",
        "</div>",
        "<table>",
        "<td>",
        "text",
        "<",
        ">",
        "\"",
        "'",
        "=",
        "&amp;",
        "&copy",
        "/",
        " ",
        "<a href=\"/q?a&copy=2\">",
        "<link rel=next href=/n>",
        "<meta http-equiv=refresh content='0;url=/r'>",
        "<!DOCTYPE html>",
        "<?x>",
        "</",
        "<!",
        "-",
        "<xmp>",
        "</xmp>",
        "<script><!--",
        "<area href=/ar>",
        "<noembed>",
        "</noembed>",
        "<a href=\"/e&#x2F;&#38;\">",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn any_mix_of_tricky_markup_reads_as_a_document_holds(
            picks in proptest::collection::vec(0..PIECES.len(), 0..40)
        ) {
            let html: String = picks.iter().map(|&i| PIECES[i]).collect();
            links(&html, "http://a.test/dir/page");
        }

        /// Resolving each reference once per page changes nothing: the same links in the
        /// same order, and every skipped reference counted, repeats included.
        #[test]
        fn resolving_a_reference_once_per_page_changes_nothing(
            references in proptest::collection::vec(
                proptest::collection::vec(0..REFERENCE_PIECES.len(), 0..6), 0..30)
        ) {
            let references: Vec<String> = references
                .iter()
                .map(|picks| picks.iter().map(|&i| REFERENCE_PIECES[i]).collect())
                .collect();
            let base = Url::parse("http://a.test/dir/page").unwrap();
            let memoized = resolve_all(&base, references.iter().map(String::as_str));
            let mut plain = PageLinks::default();
            for reference in &references {
                match resolve_link(&base, reference) {
                    Ok(url) if !plain.links.contains(&url) => plain.links.push(url),
                    Ok(_) => {}
                    Err(skip) => plain.skipped.add(skip),
                }
            }
            proptest::prop_assert_eq!(memoized.links, plain.links);
            proptest::prop_assert_eq!(memoized.skipped, plain.skipped);
        }
    }

    /// What the references of the property above are made of: the characters that trimming,
    /// fragments, schemes and paths depend on.
    const REFERENCE_PIECES: &[&str] = &[
        "#",
        "#x",
        " ",
        "\t",
        "\n",
        "\u{1}",
        "\u{7f}",
        "@",
        "\\",
        "%23",
        "data:",
        "a",
        "b/",
        "../",
        "?q",
        "&",
        ":",
        "mailto:",
        "javascript:",
        "ftp:",
        "http:",
        "//b.test",
        "%41",
        "%7e",
        "[",
        "/",
    ];

    #[test]
    fn refresh_forms() {
        assert_eq!(refresh_url("5; url=/next"), Some("/next"));
        assert_eq!(refresh_url("0;URL='/q'"), Some("/q"));
        assert_eq!(refresh_url("0, /plain"), Some("/plain"));
        assert_eq!(refresh_url("3"), None);
    }

    #[test]
    fn html_detection() {
        assert!(is_html(Some("text/html; charset=utf-8"), b""));
        assert!(is_html(Some("application/xhtml+xml"), b""));
        assert!(!is_html(Some("application/json"), b"<html>"));
        assert!(is_html(None, b"  \n<!DOCTYPE html><html>"));
        assert!(is_html(Some(""), b"<html>"));
        assert!(is_html(None, b"\xEF\xBB\xBF<p>hi"));
        assert!(!is_html(None, b"%PDF-1.4"));
        assert!(!is_html(None, b"<html"));
    }

    #[test]
    fn charsets() {
        let (text, enc) = decode_html(b"caf\xe9", Some("text/html; charset=\"windows-1252\""));
        assert_eq!((text.as_ref(), enc.name()), ("café", "windows-1252"));
        let (text, enc) = decode_html(b"<meta charset=\"iso-8859-1\">\xe9", None);
        assert_eq!((text.ends_with('é'), enc.name()), (true, "windows-1252"));
        let body =
            b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">\x93\xfa";
        assert_eq!(decode_html(body, None).0.chars().last(), Some('日'));
        // A BOM wins over a lying header.
        let (text, enc) = decode_html(b"\xFF\xFEh\0i\0", Some("text/html; charset=iso-8859-1"));
        assert_eq!((text.as_ref(), enc.name()), ("hi", "UTF-16LE"));
        // A meta claiming UTF-16 means UTF-8.
        assert_eq!(
            decode_html("<meta charset=utf-16>é".as_bytes(), None).1,
            UTF_8
        );
        // No declaration: UTF-8, invalid bytes replaced.
        assert_eq!(decode_html(b"a\xffb", None).0, "a\u{fffd}b");
    }
}
