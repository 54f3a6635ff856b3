//! Sitemaps: `urlset` and `sitemapindex` XML, gzipped or not, and plain-text lists.

use std::io::Read;

use quick_xml::events::Event;

/// The most bytes a sitemap may have, after decompression (the sitemaps.org limit).
pub const SITEMAP_MAX_BYTES: u64 = 50 * 1024 * 1024;

/// The most URLs read from one sitemap (the sitemaps.org limit).
pub const SITEMAP_MAX_URLS: usize = 50_000;

/// What a sitemap lists.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sitemap {
    /// Page URLs (`<url><loc>`, or lines of a text sitemap), as written.
    pub pages: Vec<String>,
    /// Further sitemaps (`<sitemap><loc>` of a sitemap index), as written.
    pub sitemaps: Vec<String>,
    /// Whether the sitemap had more entries than the limit, or more bytes.
    pub truncated: bool,
}

/// Parses a sitemap body. Gzipped bodies (by their magic bytes, whatever the headers say)
/// are decompressed, up to [`SITEMAP_MAX_BYTES`]. XML is read as a stream of events (no
/// tree is built); anything else is read as a text sitemap, one URL per line.
///
/// # Errors
/// A message when gzip data is corrupt, the XML is malformed before any entry, or its root
/// element is neither `urlset` nor `sitemapindex` (an HTML page, say); entries read before
/// a later XML error are kept.
pub fn parse_sitemap(body: &[u8], max_urls: usize) -> Result<Sitemap, String> {
    let mut inflated;
    let mut truncated = false;
    let body = if body.starts_with(&[0x1f, 0x8b]) {
        inflated = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(body).take(SITEMAP_MAX_BYTES + 1);
        decoder
            .read_to_end(&mut inflated)
            .map_err(|e| format!("corrupt gzip sitemap: {e}"))?;
        if inflated.len() as u64 > SITEMAP_MAX_BYTES {
            inflated.truncate(SITEMAP_MAX_BYTES as usize);
            truncated = true;
        }
        &inflated[..]
    } else {
        body
    };
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let body = &body[start..];
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut sitemap = if body.starts_with(b"<") {
        parse_xml(body, max_urls)?
    } else {
        parse_text(body, max_urls)
    };
    sitemap.truncated |= truncated;
    Ok(sitemap)
}

fn parse_text(body: &[u8], max_urls: usize) -> Sitemap {
    let mut sitemap = Sitemap::default();
    for line in String::from_utf8_lossy(body).lines() {
        let line = line.trim();
        if line.starts_with("http://") || line.starts_with("https://") {
            if sitemap.pages.len() == max_urls {
                sitemap.truncated = true;
                break;
            }
            sitemap.pages.push(line.to_owned());
        }
    }
    sitemap
}

fn parse_xml(body: &[u8], max_urls: usize) -> Result<Sitemap, String> {
    #[derive(PartialEq)]
    enum Entry {
        None,
        Page,
        Sitemap,
    }
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut sitemap = Sitemap::default();
    let mut entry = Entry::None;
    let mut in_loc = false;
    let mut loc = String::new();
    let mut buf = Vec::new();
    let mut root_seen = false;
    loop {
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(e) if sitemap.pages.is_empty() && sitemap.sitemaps.is_empty() => {
                return Err(format!("malformed sitemap XML: {e}"));
            }
            // Keep what came before the error.
            Err(_) => break,
        };
        if let Event::Start(element) | Event::Empty(element) = &event
            && !std::mem::replace(&mut root_seen, true)
            && !matches!(element.local_name().as_ref(), "urlset" | "sitemapindex")
        {
            // An HTML error page served with 200, say.
            return Err(format!(
                "not a sitemap: the document is <{}>, not <urlset> or <sitemapindex>",
                element.local_name().as_ref()
            ));
        }
        match event {
            Event::Start(start) => match start.local_name().as_ref() {
                "url" => entry = Entry::Page,
                "sitemap" => entry = Entry::Sitemap,
                "loc" if entry != Entry::None => {
                    in_loc = true;
                    loc.clear();
                }
                _ => {}
            },
            Event::Text(text) if in_loc => loc.push_str(&text.into_inner()),
            Event::CData(data) if in_loc => loc.push_str(&data.into_inner()),
            Event::GeneralRef(reference) if in_loc => {
                if let Ok(Some(c)) = reference.resolve_char_ref() {
                    loc.push(c);
                } else if let Some(text) =
                    quick_xml::escape::resolve_predefined_entity(&reference.into_inner())
                {
                    loc.push_str(text);
                }
            }
            Event::End(end) => match end.local_name().as_ref() {
                "loc" if in_loc => {
                    in_loc = false;
                    let url = loc.trim().to_owned();
                    if url.is_empty() {
                        continue;
                    }
                    if sitemap.pages.len() + sitemap.sitemaps.len() == max_urls {
                        sitemap.truncated = true;
                        break;
                    }
                    match entry {
                        Entry::Page => sitemap.pages.push(url),
                        Entry::Sitemap => sitemap.sitemaps.push(url),
                        Entry::None => {}
                    }
                }
                "url" | "sitemap" => entry = Entry::None,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(sitemap)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn urlset() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <url><loc>http://a.test/1</loc><lastmod>2024-01-01</lastmod></url>
              <url><loc> http://a.test/2?a=1&amp;b=2 </loc></url>
              <url><loc><![CDATA[http://a.test/3]]></loc></url>
            </urlset>"#;
        let s = parse_sitemap(xml, 100).unwrap();
        assert_eq!(
            s.pages,
            [
                "http://a.test/1",
                "http://a.test/2?a=1&b=2",
                "http://a.test/3"
            ]
        );
        assert!(s.sitemaps.is_empty() && !s.truncated);
    }

    #[test]
    fn index_gzip_text_and_limits() {
        let xml =
            b"<sitemapindex><sitemap><loc>http://a.test/s1.xml.gz</loc></sitemap></sitemapindex>";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(xml).unwrap();
        let s = parse_sitemap(&gz.finish().unwrap(), 100).unwrap();
        assert_eq!(s.sitemaps, ["http://a.test/s1.xml.gz"]);

        let s = parse_sitemap(b"http://a.test/a\n\nnot a url\nhttps://a.test/b\r\n", 100).unwrap();
        assert_eq!(s.pages, ["http://a.test/a", "https://a.test/b"]);

        let s = parse_sitemap(b"http://a.test/1\nhttp://a.test/2\nhttp://a.test/3\n", 2).unwrap();
        assert_eq!((s.pages.len(), s.truncated), (2, true));

        assert!(parse_sitemap(b"\x1f\x8bnot gzip", 10).is_err());
        let html = parse_sitemap(b"<!DOCTYPE html><html><a href=x>x</a></html>", 10);
        assert!(html.unwrap_err().contains("<html>"));
        assert!(parse_sitemap(b"<?xml version=\"1.0\"?><!-- hi --><urlset/>", 10).is_ok());
        assert!(
            parse_sitemap(b"<urlset><url><loc>http://a.test/1</loc></url><broken", 10)
                .unwrap()
                .pages
                .len()
                == 1
        );
    }
}
