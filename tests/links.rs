//! The streaming link reader (`scan_links`, no document) against a document parsed as a
//! browser without scripts parses it (`parse_document` and `extract_links`): page by page,
//! the same links in the same order, the same base, the same references left out.
//!
//! Over the testkit's pages and hand-written tricky pages here; over a directory of real
//! pages: the PostgreSQL manual of Debian's `postgresql-doc-15` (which CI installs), or
//! the directory `ARACHNE_LINK_CORPUS` names (every `*.html` under it, e.g. the Rust
//! documentation):
//!
//! ```text
//! ARACHNE_LINK_CORPUS=~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html \
//!     cargo test --release --test integration links::the_streaming_reader_agrees -- --nocapture
//! ```

use std::collections::HashSet;
use std::path::Path;

use arachne::Url;
use arachne_core::{Scanned, base_url, decode_html, extract_links, parse_document, scan_links};
use arachne_testkit::{SyntheticSite, html_files};

/// What differs between a page's reading (`scanned`) and its document, if anything.
fn difference(html: &str, url: &Url, scanned: &Scanned) -> Option<String> {
    let document = parse_document(html);
    let parsed = extract_links(&document, url);
    let base = base_url(&document, url);
    if scanned.links.links != parsed.links {
        let only_scanned: Vec<_> = scanned
            .links
            .links
            .iter()
            .filter(|link| !parsed.links.contains(link))
            .map(Url::as_str)
            .collect();
        let only_parsed: Vec<_> = parsed
            .links
            .iter()
            .filter(|link| !scanned.links.links.contains(link))
            .map(Url::as_str)
            .collect();
        return Some(format!(
            "links differ: {} read, {} in the document; only read: {only_scanned:?}; only in the document: {only_parsed:?}",
            scanned.links.links.len(),
            parsed.links.len()
        ));
    }
    if scanned.links.skipped != parsed.skipped {
        return Some(format!(
            "references left out differ: {:?} read, {:?} in the document",
            scanned.links.skipped, parsed.skipped
        ));
    }
    (scanned.base != base).then(|| format!("base {} read, {base} in the document", scanned.base))
}

/// Pages that make tokenizing depend on the tree: raw text, foreign content, odd markup.
const TRICKY: &[&str] = &[
    r#"<script>document.write('<a href="/no">')</script><a href="/yes">y</a>"#,
    r#"<script><!--<script>"<a href='/no'>"</script>--></script><a href="/after">a</a>"#,
    r#"<style>/* <a href="/no"> */</style><noscript><a href="/ns">n</a></noscript>"#,
    r#"<title><a href="/no"></title><textarea><a href="/no2"></textarea><a href="/ok">o</a>"#,
    r#"<iframe src="/frame"><a href="/inside"></iframe><noembed><a href="/no"></noembed>"#,
    r#"<noframes><a href="/no"></noframes><frameset><frame src="/f"></frameset>"#,
    r#"<svg><a href="/svg-link"><text>t</text></a><style><a href="/svg-style"></a></style></svg>"#,
    r#"<math><mtext><a href="/in-math">m</a></mtext></math><a href="/after-math">x</a>"#,
    r#"<svg><![CDATA[<a href="/no">]]></svg><a href="/yes">y</a>"#,
    r#"<table><a href="/foster">f</a><tr><td><a href="/cell">c</a></table>"#,
    r#"<a href="/one"><a href="/two">nested anchors</a></a>"#,
    r#"<base href="/dir/"><a href="x">x</a><base href="/other/"><a href="y">y</a>"#,
    r#"<a href=" /spaced ">s</a><a href="&#x2F;encoded&amp;x=1">e</a><a href=/unquoted>u</a>"#,
    r#"<a HREF="/upper">u</a><A href="/upper-tag">t</A><a href="/dup" href="/second">d</a>"#,
    r#"<link rel="next prefetch" href="/n"><link rel=PREV href="/p"><link rel=icon href="/i">"#,
    r#"<meta http-equiv="refresh" content="0;url=/r"><meta http-equiv=refresh content="5">"#,
    r#"<!-- <a href="/comment"> --><!DOCTYPE html><a href="/x">x</a><!--unclosed"#,
    r#"<template><a href="/in-template">t</a></template><a href="/out">o</a>"#,
    r#"<xmp><a href="/no"></xmp><plaintext><a href="/no2">"#,
    r##"<a href="javascript:go()">j</a><a href="mailto:a@b.test">m</a><a href="#top">t</a>"##,
    r#"<select><option><a href="/in-select">s</a></select><a href="/after">a</a>"#,
    r#"<p><a href="/p1">one<p><a href="/p2">two"#,
    // Script data: escapes and double escapes.
    r#"<script><!--<script>"</script>"<a href='/no1'>"</script><a href="/yes1">y</a>"#,
    r#"<script><!-- x --> <a href='/no2'></script><a href="/yes2">y</a>"#,
    r#"<script><!--> "<a href='/no3'>" </script><a href="/yes3">y</a>"#,
    r#"<script><!--<script></script>--></script><a href="/yes4">y</a>"#,
    r#"<SCRIPT>"</scripty>"</Script ><a href="/yes5">y</a>"#,
    r#"<script>never closed <a href="/no6">"#,
    // Comments.
    r#"<!--><a href="/c1">c</a><!---><a href="/c2">c</a><!-- -- --><a href="/c3">c</a>"#,
    r#"<!--x--!><a href="/c4">c</a><!----><a href="/c5">c</a><!--- x ---><a href="/c6">c</a>"#,
    r#"<! bogus <a href="/no"> ><a href="/c7">c</a><?php echo '<a href=/no2>' ?><a href="/c8">c</a>"#,
    // Attributes, odd and broken.
    r#"<a href=/u/>u</a><a/href="/slash">s</a><a =href="/eq" href="/after-eq">e</a>"#,
    r#"<a href = "/spaces" >s</a><a href='/single'>q</a><a href="/gt>inside">g</a>"#,
    r#"<a href>empty</a><a href=>empty2</a><a hr"ef="/quote-in-name" href="/real">q</a>"#,
    r#"<a href="/x?a=1&copy=2&amp;b&lt;c&#x26;d&#38;e&notit;f&ampx">e</a>"#,
    r#"<a href="/nul?&#0;x">n</a><a href='/cr?a&#13;b'>r</a><a href="/eof"#,
    r#"<A HREF=/UPPER>u</A><a HrEf="/mixed">m</a></a x="1"><a href="/after-end-attr">z</a>"#,
    r#"<textarea>x</textarea ><a href="/t1">t</a><title>x</TITLE><a href="/t2">t</a>"#,
    r#"<style>x</style/><a href="/s1">s</a><iframe src=/f1></iframe><a href="/s2">s</a>"#,
    // Foreign content with HTML integration points.
    r#"<svg><foreignObject><style><a href="/fo-style"></a></style><p><a href="/fo">f</a></p></foreignObject></svg><a href="/out">o</a>"#,
    r#"<svg><desc><textarea><a href="/desc-ta"></textarea></desc><title><a href="/svg-title">t</a></title></svg>"#,
    r#"<math><mtext><style><a href="/mtext-style"></a></style></mtext><mi><a href="/mi">m</a></mi></math>"#,
    r#"<svg><p><script>"<a href='/after-breakout'>"</script><a href="/broke-out">b</a>"#,
    r#"<svg>t</math><script>"<a href='/svg-script'>"</script></svg><a href="/after-svg">a</a>"#,
    r#"<math><svg></math><style><a href="/html-style"></a></style><a href="/after">a</a>"#,
];

#[test]
fn the_streaming_reader_finds_what_a_document_holds() {
    let url: Url = "http://a.test/dir/page.html".parse().unwrap();
    let mut pages: Vec<(String, String)> = TRICKY
        .iter()
        .enumerate()
        .map(|(i, html)| (format!("tricky {i}"), (*html).to_owned()))
        .collect();
    let realistic = SyntheticSite::realistic(100);
    let small = SyntheticSite::new(100, 4);
    let dense = SyntheticSite::dense(100);
    for i in 0..100 {
        pages.push((format!("realistic {i}"), realistic.page(i, "a.test")));
        pages.push((format!("small {i}"), small.page(i, "a.test")));
        pages.push((format!("dense {i}"), dense.page(i, "a.test")));
    }
    let mut differences = Vec::new();
    for (name, html) in &pages {
        if let Some(difference) = difference(html, &url, &scan_links(html, &url)) {
            differences.push(format!("{name}: {difference}"));
        }
    }
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(pages.len(), TRICKY.len() + 300);
}

/// Where the Debian package `postgresql-doc-15` puts its pages: the real corpus read when
/// `ARACHNE_LINK_CORPUS` names none. CI installs it.
const DEBIAN_CORPUS: &str = "/usr/share/doc/postgresql-doc-15/html";

/// Over a directory of real pages: the one `ARACHNE_LINK_CORPUS` names, or else the
/// PostgreSQL manual from Debian's `postgresql-doc-15`. In CI a missing corpus fails the
/// test; elsewhere it is skipped with a notice.
#[test]
fn the_streaming_reader_agrees_on_a_real_corpus() {
    let dir = match std::env::var_os("ARACHNE_LINK_CORPUS") {
        Some(dir) => std::path::PathBuf::from(dir),
        None if Path::new(DEBIAN_CORPUS).is_dir() => DEBIAN_CORPUS.into(),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "no real corpus: apt-get install postgresql-doc-15, or set ARACHNE_LINK_CORPUS"
            );
            eprintln!(
                "no real corpus: skipping (apt-get install postgresql-doc-15, or set ARACHNE_LINK_CORPUS)"
            );
            return;
        }
    };
    let files = html_files(&dir);
    assert!(
        !files.is_empty(),
        "no *.html under {}",
        dir.to_string_lossy()
    );
    let mut differences = Vec::new();
    let (mut links, mut gained) = (0, 0);
    for path in &files {
        let body = std::fs::read(path).unwrap();
        let (text, _) = decode_html(&body, None);
        let url = Url::from_file_path(path).map_or_else(
            |()| "http://corpus.test/".parse().unwrap(),
            |file| {
                format!("http://corpus.test{}", file.path())
                    .parse()
                    .unwrap()
            },
        );
        let scanned = scan_links(&text, &url);
        // What a document parsed with scripting on (html5ever's default, and how links
        // were read before) misses: <noscript> content.
        let scripting: HashSet<Url> = extract_links(&scraper::Html::parse_document(&text), &url)
            .links
            .into_iter()
            .collect();
        let read = &scanned.links.links;
        gained += read
            .iter()
            .filter(|link| !scripting.contains(*link))
            .count();
        links += read.len();
        if let Some(difference) = difference(&text, &url, &scanned) {
            differences.push(format!("{}: {difference}", path.display()));
        }
    }
    eprintln!(
        "{} pages, {links} links read ({gained} that a parse with scripting on misses); {} differ",
        files.len(),
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "{:#?}",
        &differences[..differences.len().min(20)]
    );
    assert!(links > files.len(), "too few links for real pages: {links}");
}
