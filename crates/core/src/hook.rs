//! Request and response hooks: code that shapes every page request before it is sent, and
//! judges every final response before it is parsed (Scrapy's downloader middlewares, Colly's
//! `OnRequest` and `OnResponse`).
//!
//! Hooks run in the order they were added, on the fetcher threads, for every hop of every
//! page request (redirects and retries included); robots.txt and sitemaps are fetched
//! without them. Keep them quick: they run between network events.
//!
//! ```
//! use arachne_core::hook::{Decision, Hook, Incoming, Outgoing};
//!
//! /// Sends a token to the API host, and retries pages that say "try again".
//! struct ApiToken(String);
//!
//! impl Hook for ApiToken {
//!     fn request(&self, request: &mut Outgoing<'_>) -> Decision {
//!         if request.url().host_str() == Some("api.shop.test") {
//!             request.set_header("Authorization", &format!("Bearer {}", self.0));
//!         }
//!         Decision::Continue
//!     }
//!
//!     fn response(&self, response: &Incoming<'_>) -> Decision {
//!         if response.body().starts_with(b"try again") {
//!             return Decision::Retry("the server asked to try again".into());
//!         }
//!         Decision::Continue
//!     }
//! }
//! ```

use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::request::CrawlRequest;

/// What a hook decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on: the next hook, then the request or the parse.
    Continue,
    /// Try again later, as for a transient failure: after a backoff, within the retry
    /// budget; then the page is recorded with the error kind `dropped` and this reason.
    Retry(String),
    /// Give up on the page: it is recorded with the error kind `dropped` and this reason.
    Drop(String),
}

/// Shapes requests and judges responses. Both methods continue by default.
pub trait Hook: Send + Sync + 'static {
    /// Called before each request of a page is sent.
    fn request(&self, request: &mut Outgoing<'_>) -> Decision {
        let _ = request;
        Decision::Continue
    }

    /// Called on each final response of a page (after redirects: redirect responses do
    /// not reach it), body read, before it is parsed.
    fn response(&self, response: &Incoming<'_>) -> Decision {
        let _ = response;
        Decision::Continue
    }
}

/// A hook from a closure over requests: see [`Hook::request`].
#[derive(Debug, Clone, Copy)]
pub struct OnRequest<F>(pub F);

impl<F> Hook for OnRequest<F>
where
    F: Fn(&mut Outgoing<'_>) -> Decision + Send + Sync + 'static,
{
    fn request(&self, request: &mut Outgoing<'_>) -> Decision {
        (self.0)(request)
    }
}

/// A hook from a closure over responses: see [`Hook::response`].
#[derive(Debug, Clone, Copy)]
pub struct OnResponse<F>(pub F);

impl<F> Hook for OnResponse<F>
where
    F: Fn(&Incoming<'_>) -> Decision + Send + Sync + 'static,
{
    fn response(&self, response: &Incoming<'_>) -> Decision {
        (self.0)(response)
    }
}

/// A request about to be sent, which hooks may change.
#[derive(Debug)]
pub struct Outgoing<'a> {
    request: &'a CrawlRequest,
    url: &'a Url,
    attempt: u32,
    headers: &'a mut HeaderMap,
    proxy: &'a mut Option<Url>,
    errors: &'a mut Vec<String>,
}

impl<'a> Outgoing<'a> {
    /// A request to `url` (this hop of `request`), at its `attempt`-th try (1 for the
    /// first), with the headers and proxy to send it with.
    pub fn new(
        request: &'a CrawlRequest,
        url: &'a Url,
        attempt: u32,
        headers: &'a mut HeaderMap,
        proxy: &'a mut Option<Url>,
        errors: &'a mut Vec<String>,
    ) -> Self {
        Self {
            request,
            url,
            attempt,
            headers,
            proxy,
            errors,
        }
    }

    /// The request as it stands: as queued, or as its redirects made it (a 303 turns a
    /// POST into a GET); with its label, data, depth and parent.
    pub fn request(&self) -> &CrawlRequest {
        self.request
    }

    /// The URL this request goes to (a redirect's target, for a later hop).
    pub fn url(&self) -> &Url {
        self.url
    }

    /// Which try this is: 1, then 2 for the first retry.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The headers to send (besides `Host`, `User-Agent`, `Accept-Encoding` and cookies,
    /// which the crawler sets).
    pub fn headers(&mut self) -> &mut HeaderMap {
        self.headers
    }

    /// Sets a header, replacing any of the same name. An invalid name or value fails the
    /// page with a recorded error.
    pub fn set_header(&mut self, name: &str, value: &str) {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            _ => self.errors.push(format!("invalid header `{name}`")),
        }
    }

    /// Sends this request through an HTTP(S) proxy (`http://user:pass@proxy:8080`).
    pub fn set_proxy(&mut self, proxy: Url) {
        *self.proxy = Some(proxy);
    }
}

/// A response, body read, that hooks judge before it is parsed.
#[derive(Debug)]
pub struct Incoming<'a> {
    request: &'a CrawlRequest,
    url: &'a Url,
    status: u16,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl<'a> Incoming<'a> {
    /// A response from `url` to `request`.
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
        }
    }

    /// The request as queued.
    pub fn request(&self) -> &CrawlRequest {
        self.request
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &Url {
        self.url
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers, as received.
    pub fn headers(&self) -> &HeaderMap {
        self.headers
    }

    /// The body, decompressed.
    pub fn body(&self) -> &[u8] {
        self.body
    }
}
