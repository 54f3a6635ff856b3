//! The link reader behind [`scan_links`](crate::scan_links): one pass over a page's text
//! that reads tags as the HTML standard's tokenizer does, and keeps only what link
//! extraction needs. No token is built for text, comments or tags of no interest; an
//! attribute value is copied only for the few that are kept.
//!
//! Where tokenizing depends on the tree builder, it follows the tree builder: the contents
//! of `<script>` (with its escaped and double-escaped states), `<style>`, `<xmp>`,
//! `<iframe>`, `<noembed>`, `<noframes>`, `<title>`, `<textarea>` and `<plaintext>` are
//! text; in SVG and MathML they are not, and CDATA sections are read there. `<noscript>` is
//! markup (a crawler runs no scripts). Character references in kept values are decoded by
//! html5ever's own tokenizer, so they decode exactly as in a parsed document.
//!
//! What it does not follow is the rest of the tree builder, which in malformed markup
//! drops or moves elements: a `<frame>` outside a `<frameset>`, say, or content after a
//! stray `<template>` in foreign content. There it may read a link a document does not
//! hold. Real pages do not differ (the side-by-side test in `tests/links.rs`, over all
//! 48,625 pages of the Rust documentation); random mixes of the markup that tokenizing depends
//! on do not either (a property test in `html.rs`).
//!
//! # Why a reader of its own
//!
//! Three were measured on the same pages, reading links only (the pages in memory, one
//! thread, the Rust documentation's 48,625 pages and 554 MB):
//! - html5ever's tokenizer with a sink that switches its raw-text states: correct, but it
//!   builds every tag and attribute; about 3,000 pages/s a thread.
//! - `lol_html` 2.9 with element handlers for the same selectors: 11,900 pages/s (135
//!   MB/s). It reads `<noscript>` as raw text, as a browser running scripts does, so it
//!   misses the 3,329 links in there (466,515 distinct links against 469,844), and it
//!   would bring a second `cssparser` and `selectors` beside scraper's.
//! - This reader: 32,400 pages/s (370 MB/s), the same links as a parsed document.
//!
//! Its memory is the page's text, which the crawl holds anyway, plus the references kept.

use std::borrow::Cow;
use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

use crate::html::reference;

/// What a reading keeps of a page.
#[derive(Debug, Default)]
pub(crate) struct Scan<'h> {
    /// References of link elements, in document order, as written (entities decoded):
    /// borrowed from the page unless decoding changed them.
    pub references: Vec<Cow<'h, str>>,
    /// The first `<base href>`.
    pub base: Option<Cow<'h, str>>,
    /// The deepest nesting of elements met.
    pub max_depth: usize,
}

/// Reads a page.
pub(crate) fn read(html: &str) -> Scan<'_> {
    let mut reader = Reader {
        text: html,
        bytes: html.as_bytes(),
        attrs: Vec::new(),
        foreign: Vec::new(),
        html_points: 0,
        depth: 0,
        scan: Scan::default(),
    };
    reader.run();
    reader.scan
}

// Tag names the reader tells apart, lower case, each set as one `match` (the compiler
// dispatches on length, then compares).

/// Elements that never have content, or whose end tag is optional: they do not count
/// towards nesting.
fn flat(name: &[u8]) -> bool {
    matches!(
        name,
        b"area"
            | b"base"
            | b"br"
            | b"col"
            | b"embed"
            | b"hr"
            | b"img"
            | b"input"
            | b"link"
            | b"meta"
            | b"param"
            | b"source"
            | b"track"
            | b"wbr"
            | b"p"
            | b"li"
            | b"dt"
            | b"dd"
            | b"tr"
            | b"td"
            | b"th"
            | b"tbody"
            | b"thead"
            | b"tfoot"
            | b"option"
            | b"optgroup"
            | b"colgroup"
            | b"rb"
            | b"rt"
            | b"rp"
    )
}

/// HTML elements that end SVG or MathML content when met inside it (the tree builder's
/// "breakout" elements).
fn breakout(name: &[u8]) -> bool {
    matches!(
        name,
        b"b" | b"big"
            | b"blockquote"
            | b"body"
            | b"br"
            | b"center"
            | b"code"
            | b"dd"
            | b"div"
            | b"dl"
            | b"dt"
            | b"em"
            | b"embed"
            | b"h1"
            | b"h2"
            | b"h3"
            | b"h4"
            | b"h5"
            | b"h6"
            | b"head"
            | b"hr"
            | b"i"
            | b"img"
            | b"li"
            | b"listing"
            | b"menu"
            | b"meta"
            | b"nobr"
            | b"ol"
            | b"p"
            | b"pre"
            | b"ruby"
            | b"s"
            | b"small"
            | b"span"
            | b"strong"
            | b"strike"
            | b"sub"
            | b"sup"
            | b"table"
            | b"tt"
            | b"u"
            | b"ul"
            | b"var"
    )
}

/// Elements of SVG and MathML whose content is HTML (HTML integration points).
fn integration_point(name: &[u8]) -> bool {
    matches!(
        name,
        b"foreignobject" | b"desc" | b"title" | b"mi" | b"mo" | b"mn" | b"ms" | b"mtext"
    )
}

/// Elements whose content is text (RAWTEXT and RCDATA), up to their end tag.
fn raw_text(name: &[u8]) -> bool {
    matches!(
        name,
        b"style" | b"xmp" | b"iframe" | b"noembed" | b"noframes" | b"title" | b"textarea"
    )
}

fn space(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// An attribute of the tag being read: spans of its name and value in the text, and the
/// quote around the value (0 when unquoted or absent).
#[derive(Debug, Clone, Copy)]
struct Attr {
    name: (usize, usize),
    value: (usize, usize),
    quote: u8,
}

struct Reader<'h> {
    text: &'h str,
    bytes: &'h [u8],
    /// The attributes of the tag being read (reused from tag to tag).
    attrs: Vec<Attr>,
    /// Open `<svg>` (`true`) and `<math>` elements, innermost last: their content is
    /// foreign.
    foreign: Vec<bool>,
    /// Open HTML integration points in foreign content (`<foreignObject>`, `<mtext>`...):
    /// their content is HTML again.
    html_points: usize,
    depth: usize,
    scan: Scan<'h>,
}

impl<'h> Reader<'h> {
    fn run(&mut self) {
        let mut at = 0;
        while let Some(found) = memchr::memchr(b'<', &self.bytes[at..]) {
            let i = at + found;
            at = match self.bytes.get(i + 1) {
                Some(b'!') => self.declaration(i),
                Some(b'/') => self.end_tag(i),
                Some(b'?') => self.until_gt(i + 1),
                Some(c) if c.is_ascii_alphabetic() => match self.start_tag(i) {
                    Some(next) => next,
                    None => return,
                },
                _ => i + 1,
            };
        }
    }

    /// Whether the reader is in SVG or MathML content, outside an HTML integration point.
    fn in_foreign(&self) -> bool {
        !self.foreign.is_empty() && self.html_points == 0
    }

    /// Past the next `>` from `from` (a bogus comment, a doctype), or the end.
    fn until_gt(&self, from: usize) -> usize {
        memchr::memchr(b'>', &self.bytes[from.min(self.bytes.len())..])
            .map_or(self.bytes.len(), |p| from + p + 1)
    }

    /// `<!`: a comment, a CDATA section (in foreign content), or a bogus comment.
    fn declaration(&self, i: usize) -> usize {
        let rest = &self.bytes[i + 2..];
        if rest.starts_with(b"--") {
            return self.comment(i + 4);
        }
        if self.in_foreign() && rest.starts_with(b"[CDATA[") {
            let from = i + 9;
            return memchr::memmem::find(&self.bytes[from..], b"]]>")
                .map_or(self.bytes.len(), |p| from + p + 3);
        }
        self.until_gt(i + 2)
    }

    /// Past the end of a comment whose text starts at `start`.
    fn comment(&self, start: usize) -> usize {
        let bytes = self.bytes;
        // `<!-->` and `<!--->` end at once.
        match bytes.get(start..start + 2) {
            Some([b'>', _]) => return start + 1,
            Some(b"->") => return start + 2,
            _ if bytes.get(start) == Some(&b'>') => return start + 1,
            _ => {}
        }
        let mut from = start;
        while let Some(p) = memchr::memmem::find(&bytes[from..], b"--") {
            let mut j = from + p + 2;
            while bytes.get(j) == Some(&b'-') {
                j += 1;
            }
            match bytes.get(j) {
                Some(b'>') => return j + 1,
                Some(b'!') if bytes.get(j + 1) == Some(&b'>') => return j + 2,
                None => return bytes.len(),
                // No end in that run of dashes: on from its end (linear on any run).
                _ => from = j,
            }
        }
        bytes.len()
    }

    /// The end of a tag name that starts at `start`.
    fn name_end(&self, start: usize) -> usize {
        let bytes = self.bytes;
        let mut j = start;
        while j < bytes.len() && !space(bytes[j]) && bytes[j] != b'/' && bytes[j] != b'>' {
            j += 1;
        }
        j
    }

    /// Reads the attributes from `at` to the end of the tag: where the tag ends and
    /// whether it ends with `/>`, or `None` when the text ends first (the tag is lost, as
    /// in a parsed document).
    fn attributes(&mut self, mut at: usize) -> Option<(usize, bool)> {
        let bytes = self.bytes;
        let len = bytes.len();
        self.attrs.clear();
        loop {
            while at < len && space(bytes[at]) {
                at += 1;
            }
            match bytes.get(at)? {
                b'>' => return Some((at + 1, false)),
                b'/' => {
                    if bytes.get(at + 1) == Some(&b'>') {
                        return Some((at + 2, true));
                    }
                    at += 1;
                    continue;
                }
                _ => {}
            }
            // A name's first character may be `=`.
            let name_start = at;
            at += 1;
            while at < len && !space(bytes[at]) && !matches!(bytes[at], b'/' | b'>' | b'=') {
                at += 1;
            }
            let name = (name_start, at);
            while at < len && space(bytes[at]) {
                at += 1;
            }
            let (mut value, mut quote) = ((at, at), 0);
            if bytes.get(at) == Some(&b'=') {
                at += 1;
                while at < len && space(bytes[at]) {
                    at += 1;
                }
                match *bytes.get(at)? {
                    q @ (b'"' | b'\'') => {
                        let end = at + 1 + memchr::memchr(q, &bytes[at + 1..])?;
                        (value, quote) = ((at + 1, end), q);
                        at = end + 1;
                    }
                    b'>' => value = (at, at),
                    _ => {
                        let start = at;
                        while at < len && !space(bytes[at]) && bytes[at] != b'>' {
                            at += 1;
                        }
                        value = (start, at);
                    }
                }
            }
            // Of two attributes of the same name the first counts: `attr` finds it first.
            self.attrs.push(Attr { name, value, quote });
        }
    }

    /// The value of an attribute of the tag just read, decoded as a document would hold
    /// it.
    fn attr(&self, name: &str) -> Option<Cow<'h, str>> {
        let attr = self
            .attrs
            .iter()
            .find(|a| self.bytes[a.name.0..a.name.1].eq_ignore_ascii_case(name.as_bytes()))?;
        let raw = &self.text[attr.value.0..attr.value.1];
        if raw.contains(['&', '\0', '\r']) {
            Some(Cow::Owned(decode_value(raw, attr.quote)))
        } else {
            Some(Cow::Borrowed(raw))
        }
    }

    /// `</`: an end tag, `</>` (nothing), or a bogus comment.
    fn end_tag(&mut self, i: usize) -> usize {
        match self.bytes.get(i + 2) {
            Some(c) if c.is_ascii_alphabetic() => {}
            Some(b'>') => return i + 3,
            None => return self.bytes.len(),
            Some(_) => return self.until_gt(i + 2),
        }
        let (start, end) = (i + 2, self.name_end(i + 2));
        let Some((next, _)) = self.attributes(end) else {
            return self.bytes.len();
        };
        let mut buf = [0; NAME_MAX];
        let name = lower(&self.bytes[start..end], &mut buf);
        if self.html_points > 0 && integration_point(name) {
            self.html_points -= 1;
        } else if matches!(name, b"svg" | b"math") {
            // Closes the innermost open one of that name, and what is open inside it.
            let svg = name == b"svg";
            if let Some(at) = self.foreign.iter().rposition(|&open| open == svg) {
                self.foreign.truncate(at);
                if self.foreign.is_empty() {
                    self.html_points = 0;
                }
            }
        }
        if !flat(name) {
            self.depth = self.depth.saturating_sub(1);
        }
        next
    }

    /// A start tag at `i`: where reading goes on, or `None` at the end of the text.
    fn start_tag(&mut self, i: usize) -> Option<usize> {
        let (start, end) = (i + 1, self.name_end(i + 1));
        let (next, self_closing) = self.attributes(end)?;
        let mut buf = [0; NAME_MAX];
        let name = lower(&self.bytes[start..end], &mut buf);
        if !self_closing && !flat(name) {
            self.depth += 1;
            self.scan.max_depth = self.scan.max_depth.max(self.depth);
        }
        self.keep(name);
        if self.in_foreign() && breakout(name) {
            self.foreign.clear();
            self.html_points = 0;
        }
        if matches!(name, b"svg" | b"math") {
            if !self_closing {
                self.foreign.push(name == b"svg");
            }
            return Some(next);
        }
        if self.in_foreign() {
            if !self_closing && integration_point(name) {
                self.html_points += 1;
            }
            return Some(next);
        }
        match name {
            b"script" => Some(self.script_end(next)),
            b"plaintext" => None,
            _ if raw_text(name) => Some(self.raw_text_end(next, name)),
            _ => Some(next),
        }
    }

    /// Keeps the reference of a link element (lower-cased `name`), or the page's first
    /// base.
    fn keep(&mut self, name: &[u8]) {
        if name == b"base" {
            if self.scan.base.is_none() {
                self.scan.base = self.attr("href");
            }
        } else if let Some(reference) = reference(name, |attr| self.attr(attr)) {
            self.scan.references.push(reference);
        }
    }

    /// Whether an end tag named `name` starts at `j`.
    fn end_tag_at(&self, j: usize, name: &[u8]) -> bool {
        self.bytes.get(j + 1) == Some(&b'/') && self.name_at(j + 2, name)
    }

    /// Whether the tag name `name` (any case) is at `at`, followed by a space, `/` or `>`.
    fn name_at(&self, at: usize, name: &[u8]) -> bool {
        let bytes = self.bytes;
        bytes
            .get(at..at + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
            && bytes
                .get(at + name.len())
                .is_some_and(|&c| space(c) || c == b'/' || c == b'>')
    }

    /// Where the text of a RAWTEXT or RCDATA element that started before `from` ends: at
    /// its end tag, or the end of the page.
    fn raw_text_end(&self, from: usize, name: &[u8]) -> usize {
        let mut at = from;
        while let Some(p) = memchr::memchr(b'<', &self.bytes[at..]) {
            let j = at + p;
            if self.end_tag_at(j, name) {
                return j;
            }
            at = j + 1;
        }
        self.bytes.len()
    }

    /// Where a script's text that started at `from` ends, through `<!--` escapes and
    /// `<script>` double escapes, as the tokenizer's script data states go.
    fn script_end(&self, from: usize) -> usize {
        #[derive(PartialEq)]
        enum State {
            Plain,
            Escaped,
            DoubleEscaped,
        }
        let bytes = self.bytes;
        let mut state = State::Plain;
        // Dashes before a `>` end an escape only from here on (those of its `<!--` count).
        let mut dashes_from = 0;
        let mut at = from;
        while let Some(p) = memchr::memchr2(b'<', b'>', &bytes[at..]) {
            let j = at + p;
            at = j + 1;
            if bytes[j] == b'>' {
                if state != State::Plain
                    && j >= dashes_from + 2
                    && bytes[j - 1] == b'-'
                    && bytes[j - 2] == b'-'
                {
                    state = State::Plain;
                }
                continue;
            }
            if self.end_tag_at(j, b"script") {
                if state == State::DoubleEscaped {
                    state = State::Escaped;
                    at = j + 8;
                    continue;
                }
                return j;
            }
            match state {
                State::Plain if bytes[j + 1..].starts_with(b"!--") => {
                    state = State::Escaped;
                    dashes_from = j + 2;
                    at = j + 4;
                }
                State::Escaped if self.name_at(j + 1, b"script") => {
                    state = State::DoubleEscaped;
                    at = j + 7;
                }
                _ => {}
            }
        }
        bytes.len()
    }
}

/// The longest tag name the reader tells apart (`foreignobject`, `blockquote`...); longer
/// ones are other elements to it.
const NAME_MAX: usize = 16;

/// A tag name lower-cased into `buf`, as the tokenizer lower-cases it; empty for one
/// longer than any the reader knows.
fn lower<'b>(name: &[u8], buf: &'b mut [u8; NAME_MAX]) -> &'b [u8] {
    let Some(out) = buf.get_mut(..name.len()) else {
        return &[];
    };
    for (to, from) in out.iter_mut().zip(name) {
        *to = from.to_ascii_lowercase();
    }
    out
}

/// An attribute value with character references (or NUL, or CR) decoded as html5ever's
/// tokenizer decodes it: the value is read again, alone, by that tokenizer.
fn decode_value(raw: &str, quote: u8) -> String {
    #[derive(Default)]
    struct First(RefCell<Option<String>>);
    impl TokenSink for First {
        type Handle = ();
        fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
            if let Token::TagToken(tag) = token
                && let Some(attr) = tag.attrs.first()
            {
                self.0
                    .borrow_mut()
                    .get_or_insert_with(|| attr.value.to_string());
            }
            TokenSinkResult::Continue
        }
    }
    let quote = match quote {
        b'"' => "\"",
        b'\'' => "'",
        _ => "",
    };
    let tag = format!("<a v={quote}{raw}{quote}>");
    let tokenizer = Tokenizer::new(First::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(&tag));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.0.into_inner().unwrap_or_default()
}
