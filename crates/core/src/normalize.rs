//! URL normalization and link resolution.
//!
//! Two spellings of one resource must produce one normalized URL, or the crawler fetches the
//! resource twice. [`normalize`] applies these rules, on top of what the WHATWG URL parser in
//! the `url` crate already does when it parses:
//!
//! | rule | example | done by |
//! |---|---|---|
//! | scheme and host lower case | `HTTP://Example.COM/` → `http://example.com/` | parser |
//! | default port dropped | `http://a.test:80/` → `http://a.test/` | parser |
//! | empty path is `/` | `http://a.test` → `http://a.test/` | parser |
//! | dot segments resolved | `/a/./b/../c` → `/a/c` | parser |
//! | IDN hosts in punycode | `http://bücher.test/` → `http://xn--bcher-kva.test/` | parser |
//! | fragment dropped | `/a#top` → `/a` | here |
//! | empty query dropped | `/a?` → `/a` | here |
//! | unreserved characters decoded | `/%7Euser/%41` → `/~user/A` | here |
//! | percent-encoding hex upper case | `/a%2fb` → `/a%2Fb` | here |
//!
//! Query parameters are not reordered and trailing slashes are kept: servers may treat those
//! spellings as different resources.

use url::Url;

/// Why an `href` found in a page was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkSkip {
    /// An empty, all-whitespace or fragment-only reference (`""`, `#top`): a link to the
    /// page itself, which is already being crawled. Not a skipped link.
    SamePage,
    /// A `javascript:` URL.
    Javascript,
    /// A `mailto:` URL.
    Mailto,
    /// A `data:` URL.
    Data,
    /// A `tel:` URL.
    Tel,
    /// Any other scheme than http and https (`ftp:`, `file:`, ...).
    OtherScheme,
    /// A reference that does not parse as a URL.
    Malformed,
}

/// Returns the normalized form of an absolute URL.
///
/// # Example
/// ```
/// use arachne_core::normalize;
/// let url = url::Url::parse("HTTP://Example.COM:80/a/./b/../%7Ec?#frag").unwrap();
/// assert_eq!(normalize(url).as_str(), "http://example.com/a/~c");
/// ```
pub fn normalize(mut url: Url) -> Url {
    url.set_fragment(None);
    if let Some(path) = normalize_percent(url.path()) {
        url.set_path(&path);
    }
    match url.query() {
        Some("") => url.set_query(None),
        Some(query) => {
            if let Some(query) = normalize_percent(query) {
                url.set_query(Some(&query));
            }
        }
        None => {}
    }
    url
}

/// Resolves `href` against `base` and normalizes it, or says why it is not followed.
///
/// Only `http` and `https` URLs with a host are followed.
///
/// # Example
/// ```
/// use arachne_core::{resolve_link, LinkSkip};
/// let base = url::Url::parse("http://a.test/dir/page.html").unwrap();
/// assert_eq!(resolve_link(&base, "../x#y").unwrap().as_str(), "http://a.test/x");
/// assert_eq!(resolve_link(&base, "mailto:me@a.test"), Err(LinkSkip::Mailto));
/// ```
pub fn resolve_link(base: &Url, href: &str) -> Result<Url, LinkSkip> {
    let href = trim_reference(href);
    if href.is_empty() || href.starts_with('#') {
        return Err(LinkSkip::SamePage);
    }
    if let Some(skip) = skip_for_scheme(href) {
        return Err(skip);
    }
    let url = base.join(href).map_err(|_| LinkSkip::Malformed)?;
    match url.scheme() {
        "http" | "https" => {}
        _ => return Err(LinkSkip::OtherScheme),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(LinkSkip::Malformed);
    }
    Ok(normalize(url))
}

/// A reference without the whitespace and control characters around it, which
/// [`resolve_link`] ignores.
pub(crate) fn trim_reference(href: &str) -> &str {
    href.trim_matches(|c: char| c.is_ascii_whitespace() || c.is_ascii_control())
}

/// Parses an absolute URL given by a user (a seed), and normalizes it.
///
/// # Errors
/// Returns a message when the text is not an absolute `http` or `https` URL with a host.
pub fn parse_seed(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("`{text}` is not a valid URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "`{text}`: only http and https URLs are crawled, not `{other}:`"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    Ok(normalize(url))
}

/// Classifies a reference by its scheme before parsing, when that scheme is never followed.
/// Tabs and newlines in it are dropped first, as the URL parser drops them
/// (`java\tscript:` is `javascript:`).
fn skip_for_scheme(href: &str) -> Option<LinkSkip> {
    let colon = href.find(':')?;
    let scheme = &href[..colon];
    let joined: String;
    let scheme = if scheme.contains(['\t', '\n', '\r']) {
        joined = scheme.replace(['\t', '\n', '\r'], "");
        joined.as_str()
    } else {
        scheme
    };
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let skip = if scheme.eq_ignore_ascii_case("javascript") {
        LinkSkip::Javascript
    } else if scheme.eq_ignore_ascii_case("mailto") {
        LinkSkip::Mailto
    } else if scheme.eq_ignore_ascii_case("data") {
        LinkSkip::Data
    } else if scheme.eq_ignore_ascii_case("tel") {
        LinkSkip::Tel
    } else {
        return None;
    };
    Some(skip)
}

/// Decodes percent-encoded unreserved characters and upper-cases the remaining escapes.
/// Returns `None` when the text is already normal, so the common case allocates nothing.
fn normalize_percent(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let needs_work = bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && bytes.get(i + 1..i + 3).is_some_and(|hex| {
                hex.iter().all(u8::is_ascii_hexdigit)
                    && (hex.iter().any(u8::is_ascii_lowercase) || is_unreserved(hex_value(hex)))
            })
    });
    if !needs_work {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && hex.iter().all(u8::is_ascii_hexdigit)
        {
            let value = hex_value(hex);
            if is_unreserved(value) {
                out.push(char::from(value));
            } else {
                out.push('%');
                out.push(char::from(hex[0].to_ascii_uppercase()));
                out.push(char::from(hex[1].to_ascii_uppercase()));
            }
            i += 3;
            continue;
        }
        // Copy the rest of this character (it may be multi-byte) as it is.
        let len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + len]);
        i += len;
    }
    Some(out)
}

fn hex_value(hex: &[u8]) -> u8 {
    let digit = |b: u8| match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    };
    digit(hex[0]) * 16 + digit(hex[1])
}

/// RFC 3986 section 2.3.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> String {
        normalize(Url::parse(text).unwrap()).to_string()
    }

    #[test]
    fn scheme_and_host_case() {
        assert_eq!(
            norm("HTTP://WWW.Example.COM/Path"),
            "http://www.example.com/Path"
        );
    }

    #[test]
    fn default_ports() {
        assert_eq!(norm("http://a.test:80/x"), "http://a.test/x");
        assert_eq!(norm("https://a.test:443/x"), "https://a.test/x");
        assert_eq!(norm("http://a.test:8080/x"), "http://a.test:8080/x");
        assert_eq!(norm("https://a.test:80/x"), "https://a.test:80/x");
    }

    #[test]
    fn fragments_and_empty_query_dropped() {
        assert_eq!(norm("http://a.test/x#frag"), "http://a.test/x");
        assert_eq!(norm("http://a.test/x?#frag"), "http://a.test/x");
        assert_eq!(norm("http://a.test/x?q=1#f"), "http://a.test/x?q=1");
    }

    #[test]
    fn dot_segments() {
        assert_eq!(norm("http://a.test/a/./b/../c"), "http://a.test/a/c");
        assert_eq!(norm("http://a.test/../../x"), "http://a.test/x");
        assert_eq!(norm("http://a.test/a/%2E%2E/b"), "http://a.test/b");
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(
            norm("http://a.test/%7euser/%41%62"),
            "http://a.test/~user/Ab"
        );
        assert_eq!(
            norm("http://a.test/a%2fb%c3%a9"),
            "http://a.test/a%2Fb%C3%A9"
        );
        assert_eq!(
            norm("http://a.test/x?a=%2f&b=%7E"),
            "http://a.test/x?a=%2F&b=~"
        );
        assert_eq!(norm("http://a.test/100%"), "http://a.test/100%");
        assert_eq!(norm("http://a.test/caf%C3%A9"), "http://a.test/caf%C3%A9");
        assert_eq!(norm("http://a.test/café"), "http://a.test/caf%C3%A9");
    }

    #[test]
    fn empty_path() {
        assert_eq!(norm("http://a.test"), "http://a.test/");
        assert_eq!(norm("http://a.test?x=1"), "http://a.test/?x=1");
    }

    #[test]
    fn idn_hosts() {
        assert_eq!(norm("http://Bücher.test/"), "http://xn--bcher-kva.test/");
    }

    #[test]
    fn resolve_relative_forms() {
        let base = Url::parse("http://a.test/dir/sub/page.html").unwrap();
        let cases = [
            ("other.html", "http://a.test/dir/sub/other.html"),
            ("./other.html", "http://a.test/dir/sub/other.html"),
            ("../up.html", "http://a.test/dir/up.html"),
            ("/root", "http://a.test/root"),
            ("//b.test/x", "http://b.test/x"),
            ("?q=1", "http://a.test/dir/sub/page.html?q=1"),
            ("  spaced.html\n", "http://a.test/dir/sub/spaced.html"),
            ("https://c.test:443/", "https://c.test/"),
        ];
        for (href, want) in cases {
            assert_eq!(resolve_link(&base, href).unwrap().as_str(), want, "{href}");
        }
    }

    #[test]
    fn skipped_references() {
        let base = Url::parse("http://a.test/").unwrap();
        let cases = [
            ("", LinkSkip::SamePage),
            ("   ", LinkSkip::SamePage),
            ("#top", LinkSkip::SamePage),
            ("javascript:void(0)", LinkSkip::Javascript),
            ("JavaScript:alert(1)", LinkSkip::Javascript),
            ("java\tscript:alert(1)", LinkSkip::Javascript),
            ("mail\nto:a@b.test", LinkSkip::Mailto),
            ("mailto:a@b.test", LinkSkip::Mailto),
            ("data:text/html,hi", LinkSkip::Data),
            ("tel:+123", LinkSkip::Tel),
            ("ftp://a.test/f", LinkSkip::OtherScheme),
            ("file:///etc/passwd", LinkSkip::OtherScheme),
            ("http://", LinkSkip::Malformed),
            ("http://[::1", LinkSkip::Malformed),
            ("http://a b.test/", LinkSkip::Malformed),
        ];
        for (href, want) in cases {
            assert_eq!(resolve_link(&base, href), Err(want), "{href:?}");
        }
    }

    #[test]
    fn seeds() {
        assert_eq!(
            parse_seed("HTTP://A.test").unwrap().as_str(),
            "http://a.test/"
        );
        assert!(parse_seed("ftp://a.test/").is_err());
        assert!(parse_seed("not a url").is_err());
        assert!(parse_seed("/relative").is_err());
    }
}
