//! The record of one fetched URL: the crawl's output, one per URL.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

/// What happened to one URL the crawl fetched. Serialized, this is one line of the JSON
/// Lines output; every field is always present (`null` when it does not apply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageRecord {
    /// The URL as queued (normalized).
    pub url: Url,
    /// The URL of the last response, after redirects (equal to `url` without them).
    pub final_url: Url,
    /// The HTTP status of the last response; `null` when no response arrived.
    pub status: Option<u16>,
    /// Link distance from a seed (seeds are 0).
    pub depth: u32,
    /// The page on which the URL was first found; `null` for seeds.
    pub parent: Option<Url>,
    /// The `Content-Type` of the last response.
    pub content_type: Option<String>,
    /// Body bytes received, after decompression (at most the body-size cap).
    pub bytes: u64,
    /// Whether the body was cut at the body-size cap; only the bytes up to the cap are parsed.
    pub truncated: bool,
    /// Distinct http(s) links found on the page.
    pub links: u32,
    /// Links that were in scope and seen for the first time in this crawl (queued).
    pub new_links: u32,
    /// Each redirect response on the way to `final_url`, in order.
    pub redirects: Vec<Redirect>,
    /// Requests made for the last hop: 1, plus one per retry.
    pub attempts: u32,
    /// Time from the first request to the end of the last body, in milliseconds.
    pub elapsed_ms: u64,
    /// When the fetch started, RFC 3339 in UTC.
    pub fetched_at: String,
    /// The method of the request as queued (`GET`; `POST` for a form, say).
    #[serde(default = "get")]
    pub method: String,
    /// Why the fetch failed or stopped short; `null` on success. An HTTP error status such
    /// as 404 is not an error here: it is in `status`.
    pub error: Option<RecordError>,
}

fn get() -> String {
    "GET".to_owned()
}

/// One redirect response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// The URL that answered with a redirect.
    pub url: Url,
    /// Its status (301, 302, 303, 307 or 308).
    pub status: u16,
    /// Its `Location`, resolved against `url`; `null` when it was missing or invalid.
    pub location: Option<Url>,
}

/// Why a fetch failed, in a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// The kind of failure, to group and count by.
    pub kind: ErrorKind,
    /// A human-readable description.
    pub message: String,
}

/// The kinds of fetch failure. Serialized in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connect or total timeout elapsed.
    Timeout,
    /// The connection could not be made (refused, unreachable, DNS, TLS).
    Connect,
    /// The request failed in another way before a response arrived.
    Request,
    /// The response body broke off (reset, malformed chunking).
    Body,
    /// The body could not be decompressed.
    Decode,
    /// More redirects than the maximum.
    TooManyRedirects,
    /// A redirect led back to a URL already in the chain.
    RedirectLoop,
    /// A redirect led out of the crawl's scope; it was not followed.
    RedirectOutOfScope,
    /// A redirect led to another scheme than http or https; it was not followed.
    RedirectBadScheme,
    /// A redirect had no `Location`, or one that is not a URL.
    RedirectInvalid,
    /// The page could not be parsed (a fault in the parser, never expected).
    Parse,
    /// robots.txt forbids the URL; it was not fetched.
    RobotsDisallowed,
    /// The host's robots.txt answered 5xx or 429 (after retries), so none of its URLs were
    /// fetched. When the host itself cannot be reached, its URLs' records carry the kind of
    /// that failure instead (`connect`, `timeout`), as fetching them would.
    RobotsUnavailable,
    /// The host resolved to a loopback, private, link-local or unspecified address, which
    /// `deny_private_ips` refuses.
    DeniedAddress,
    /// The crawl was stopped (Ctrl-C, say) while this URL was between two requests: a
    /// redirect hop or a retry was not made.
    Interrupted,
    /// A hook dropped the request or its response (see `hook::Decision::Drop`), or asked
    /// for retries past the budget.
    Dropped,
    /// The request could not be built: an invalid header, a proxy that is not a proxy
    /// URL. Never retried.
    InvalidRequest,
    /// The crawl's store failed while this URL was handled (a full disk, say); the crawl
    /// stops.
    Store,
    /// The fetch was lost inside the crawler (a fault in arachne, never expected).
    Internal,
}

impl ErrorKind {
    /// The name used in records and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Request => "request",
            ErrorKind::Body => "body",
            ErrorKind::Decode => "decode",
            ErrorKind::TooManyRedirects => "too_many_redirects",
            ErrorKind::RedirectLoop => "redirect_loop",
            ErrorKind::RedirectOutOfScope => "redirect_out_of_scope",
            ErrorKind::RedirectBadScheme => "redirect_bad_scheme",
            ErrorKind::RedirectInvalid => "redirect_invalid",
            ErrorKind::Parse => "parse",
            ErrorKind::RobotsDisallowed => "robots_disallowed",
            ErrorKind::RobotsUnavailable => "robots_unavailable",
            ErrorKind::DeniedAddress => "denied_address",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Dropped => "dropped",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Store => "store",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let url: Url = "http://a.test/".parse().unwrap();
        let record = PageRecord {
            url: url.clone(),
            final_url: url.clone(),
            status: None,
            depth: 0,
            parent: None,
            content_type: None,
            bytes: 0,
            truncated: false,
            links: 0,
            new_links: 0,
            redirects: vec![],
            attempts: 1,
            elapsed_ms: 3,
            fetched_at: "2026-01-01T00:00:00.000Z".into(),
            method: "GET".into(),
            error: Some(RecordError {
                kind: ErrorKind::TooManyRedirects,
                message: "x".into(),
            }),
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["error"]["kind"], "too_many_redirects");
        assert!(json["status"].is_null());
        assert_eq!(json.as_object().unwrap().len(), 16);
        let back: PageRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);
    }
}
