//! Deterministic sites to crawl: a synthetic link graph, realistic pages, and fixed routes.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::server::{Request, Response, TestServer};

/// A deterministic synthetic site of `pages` pages at `/page/0` .. `/page/{pages-1}`
/// (`/page/0` is the entry point; `/` is not part of the site).
///
/// Page `i` links to its tree children `2i+1` and `2i+2` (so every page is reachable),
/// to `fan_out` more pages picked by a fixed formula, to itself, and back to `/page/0`
/// (cycles). Each link is spelled one of several ways that all normalize to the same URL:
/// plain, with a fragment, absolute with upper-case scheme and host, `./` relative, `../`
/// relative, with a dot segment, protocol-relative, percent-encoded, with an empty query.
/// A crawl that normalizes correctly fetches each page exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticSite {
    /// Number of pages.
    pub pages: usize,
    /// Extra links per page, besides the tree, self and entry links.
    pub fan_out: usize,
    /// Tag-dense pages like real documentation (see [`SyntheticSite::dense`]), for
    /// benchmarks.
    pub dense: bool,
    /// Pad pages to realistic sizes (20-60 KB of text, 30-100 links), for benchmarks.
    pub realistic: bool,
}

impl SyntheticSite {
    /// A small site for tests.
    pub fn new(pages: usize, fan_out: usize) -> Self {
        Self {
            pages,
            fan_out,
            dense: false,
            realistic: false,
        }
    }

    /// A site of tag-dense pages, as real documentation sites are: nested markup, about
    /// one tag per 35 bytes and one link per 200 bytes, most pages 2 to 12 KB and one in
    /// 1,000 of 3 to 8 MB. Every page is reachable from `/page/0`, as in [`SyntheticSite::new`].
    pub fn dense(pages: usize) -> Self {
        Self {
            pages,
            fan_out: 0,
            dense: true,
            realistic: false,
        }
    }

    /// A site of realistic pages: 20-60 KB, 30-100 links each.
    pub fn realistic(pages: usize) -> Self {
        Self {
            pages,
            fan_out: 0,
            dense: false,
            realistic: true,
        }
    }

    /// The path of page `i`.
    pub fn path(i: usize) -> String {
        format!("/page/{i}")
    }

    /// The pages page `i` links to, in order, with repeats.
    pub fn links(&self, i: usize) -> Vec<usize> {
        let n = self.pages;
        let mut out = Vec::new();
        for child in [2 * i + 1, 2 * i + 2] {
            if child < n {
                out.push(child);
            }
        }
        let extra = if self.realistic {
            28 + (mix(i as u64) % 71) as usize
        } else {
            self.fan_out
        };
        for j in 0..extra {
            out.push((mix((i * 31 + j) as u64) % n as u64) as usize);
        }
        out.push(i);
        out.push(0);
        out
    }

    /// The link depth of every page from `/page/0` (breadth-first).
    pub fn depths(&self) -> Vec<u32> {
        let mut depth = vec![u32::MAX; self.pages];
        let mut queue = VecDeque::from([0]);
        depth[0] = 0;
        while let Some(i) = queue.pop_front() {
            for t in self.links(i) {
                if depth[t] == u32::MAX {
                    depth[t] = depth[i] + 1;
                    queue.push_back(t);
                }
            }
        }
        depth
    }

    /// The size of dense page `i`, in bytes (about).
    fn dense_size(i: usize) -> usize {
        let rng = mix(i as u64 ^ 0xde05e);
        if i % 1000 == 999 {
            (3 << 20) + (rng % (5 << 20)) as usize
        } else {
            // Most small, some larger: 2 to 12 KB, a median near 5 KB.
            let a = (rng % 5_000) as usize;
            let b = (mix(rng) % 5_000) as usize;
            2_000 + a.min(b) * 2
        }
    }

    /// A tag-dense page: sections of nested lists, about one tag per 35 bytes and one link
    /// per 200.
    fn dense_page(&self, i: usize, host: &str) -> String {
        let size = Self::dense_size(i);
        let mut html = String::with_capacity(size + 1024);
        let _ = write!(
            html,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Page {i}</title>\
             <link rel=\"stylesheet\" href=\"/static/site.css\"></head><body><div class=\"wrap\">\
             <nav class=\"side\"><ul>"
        );
        let n = self.pages;
        let mut rng = mix(i as u64 ^ 0x7a95);
        let mut word = || {
            rng = mix(rng);
            WORDS[(rng % 16) as usize]
        };
        // The tree links first (every page reachable), then links all over the site.
        let mut targets = self.links(i).into_iter();
        let mut j = 0;
        let mut next_target = |j: usize| {
            targets
                .next()
                .unwrap_or_else(|| (mix((i * 7919 + j) as u64) % n as u64) as usize)
        };
        while html.len() < size {
            let _ = write!(
                html,
                "<section class=\"s{}\"><h3 id=\"h{j}\"><span>{}</span> {}</h3><ul class=\"list\">",
                j % 7,
                word(),
                word()
            );
            for _ in 0..4 {
                let target = next_target(j);
                let _ = write!(
                    html,
                    "<li class=\"item\"><a href=\"{}\">{} {}</a> {} {} <em>{}</em></li>\
                     <li>{} {} {} <code>{}</code> {} {}</li>",
                    spell(target, i, j, host),
                    word(),
                    word(),
                    word(),
                    word(),
                    word(),
                    word(),
                    word(),
                    word(),
                    word(),
                    word(),
                    word()
                );
                j += 1;
            }
            html.push_str("</ul></section>\n");
        }
        html.push_str("</ul></nav></div></body></html>");
        html
    }

    /// The HTML of page `i`, with absolute links on `host` (a `Host` header value).
    pub fn page(&self, i: usize, host: &str) -> String {
        if self.dense {
            return self.dense_page(i, host);
        }
        let mut html = String::with_capacity(if self.realistic { 48 * 1024 } else { 1024 });
        let _ = write!(
            html,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Page {i}</title>\
             <link rel=\"stylesheet\" href=\"/static/site.css\"></head><body><h1>Page {i}</h1><nav>"
        );
        let mut rng = mix(i as u64 ^ 0x5eed);
        let text_target = if self.realistic {
            20_000 + (rng % 40_000) as usize
        } else {
            0
        };
        for (j, target) in self.links(i).into_iter().enumerate() {
            let href = spell(target, i, j, host);
            let _ = writeln!(html, "<p><a href=\"{href}\">Link to page {target}</a></p>");
            if self.realistic && j % 3 == 0 {
                paragraph(&mut html, &mut rng, text_target / 40);
            }
        }
        html.push_str("</nav><main>");
        while html.len() < text_target {
            paragraph(&mut html, &mut rng, 600);
        }
        html.push_str(
            "<p><a href=\"mailto:webmaster@example.test\">Contact</a></p></main></body></html>",
        );
        html
    }

    /// Starts a server for this site on 127.0.0.1:0.
    pub fn serve(self) -> TestServer {
        TestServer::start(move |req| self.respond(req))
    }

    /// The response to a request.
    pub fn respond(&self, req: &Request) -> Response {
        let page = req
            .path()
            .strip_prefix("/page/")
            .and_then(|n| n.parse::<usize>().ok());
        match page {
            Some(i) if i < self.pages && req.path() == Self::path(i) => {
                Response::html(self.page(i, req.host()))
            }
            _ => Response::not_found(),
        }
    }
}

/// Spells a link to page `target`, found on page `from`, in one of several equivalent ways.
fn spell(target: usize, from: usize, j: usize, host: &str) -> String {
    match (from + j) % 9 {
        0 => format!("/page/{target}"),
        1 => format!("/page/{target}#section-{j}"),
        2 => format!("HTTP://{}/page/{target}", host.to_ascii_uppercase()),
        3 => format!("./{target}"),
        4 => format!("../page/{target}"),
        5 => format!("/page/./x/../{target}"),
        6 => format!("//{host}/page/{target}"),
        7 => format!("/%70age/{target}"),
        _ => format!("/page/{target}?"),
    }
}

const WORDS: [&str; 16] = [
    "crawler", "actor", "spider", "frontier", "polite", "robots", "parser", "thread", "request",
    "response", "archive", "index", "queue", "host", "depth", "page",
];

fn paragraph(html: &mut String, rng: &mut u64, len: usize) {
    html.push_str("<p>");
    let start = html.len();
    while html.len() - start < len {
        *rng = mix(*rng);
        html.push_str(WORDS[(*rng % 16) as usize]);
        html.push(' ');
    }
    html.push_str("</p>\n");
}

/// SplitMix64: a fast, well-mixed deterministic hash.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Every `*.html` and `*.htm` file under `dir`, in order (a corpus of real pages).
pub fn html_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "html" || e == "htm") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
}

/// Fixed responses by request target, for fixture sites; anything else is a 404.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    routes: HashMap<String, Response>,
}

impl Routes {
    /// No routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves a response at a request target (path and query).
    #[must_use]
    pub fn route(mut self, target: &str, response: Response) -> Self {
        self.routes.insert(target.to_owned(), response);
        self
    }

    /// Serves an HTML page at a path.
    #[must_use]
    pub fn page(self, target: &str, html: &str) -> Self {
        self.route(target, Response::html(html.to_owned()))
    }

    /// Starts a server for these routes on 127.0.0.1:0.
    pub fn serve(self) -> TestServer {
        let routes = Arc::new(self.routes);
        TestServer::start(move |req| {
            routes
                .get(&req.target)
                .cloned()
                .unwrap_or_else(Response::not_found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_reachable() {
        let site = SyntheticSite::new(100, 3);
        assert!(site.depths().iter().all(|&d| d != u32::MAX));
        assert_eq!(site.depths()[0], 0);
        assert_eq!(site.depths()[1], 1);
    }

    #[test]
    fn realistic_pages_have_realistic_sizes() {
        let site = SyntheticSite::realistic(1000);
        for i in [0, 1, 500, 999] {
            let len = site.page(i, "a.test").len();
            assert!((20_000..70_000).contains(&len), "page {i}: {len} bytes");
            assert!((30..=102).contains(&site.links(i).len()));
        }
    }

    #[test]
    fn dense_pages_are_tag_dense_with_a_long_tail() {
        let site = SyntheticSite::dense(2000);
        let (mut bytes, mut tags, mut links) = (0, 0, 0);
        let mut sizes = Vec::new();
        for i in 0..998 {
            let page = site.page(i, "a.test");
            bytes += page.len();
            tags += page.matches('<').count() - page.matches("</").count();
            links += page.matches("href=").count();
            sizes.push(page.len());
        }
        let (per_tag, per_link) = (bytes / tags, bytes / links);
        assert!((25..=45).contains(&per_tag), "{per_tag} bytes per tag");
        assert!((150..=260).contains(&per_link), "{per_link} bytes per link");
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!((3_000..7_000).contains(&median), "median {median} bytes");
        let big = site.page(999, "a.test").len();
        assert!((3 << 20..9 << 20).contains(&big), "{big} bytes");
        assert_eq!(site.depths().len(), 2000);
    }
}
