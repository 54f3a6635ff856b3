//! Requests: what user code asks the crawl to fetch, and what the crawl queues.
//!
//! A [`Request`] is made by user code, as a seed or as a follow-up from a spider: a URL
//! (absolute, or relative to the page it was found on) and its intent: a label that routes
//! it, user data, a priority, and the method, headers and body to send. The crawl resolves
//! it into a [`CrawlRequest`], which is what the frontier keeps.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::fingerprint::Fingerprint;
use crate::normalize::{LinkSkip, normalize, resolve_link};

/// A request to crawl, as user code makes it.
///
/// ```
/// use arachne_core::Request;
/// use serde_json::json;
///
/// let list = Request::get("https://shop.test/catalogue/").label("list");
/// let search = Request::post("/search")
///     .form(&[("q", "rust"), ("page", "1")])
///     .label("results")
///     .data(json!({ "query": "rust" }))
///     .priority(10);
/// assert_eq!(search.intent().label.as_deref(), Some("results"));
/// assert_eq!(list.target(), "https://shop.test/catalogue/");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The URL as given: absolute, or relative to the page that follows it.
    target: String,
    intent: Intent,
    /// Why the request cannot be sent (a body that did not serialize), found when it was
    /// built; reported when it is queued.
    error: Option<String>,
}

/// What a request carries besides its URL. Plain GET requests without label, data or
/// priority carry none, and cost nothing extra in the frontier.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Intent {
    /// The HTTP method. By default, GET.
    #[serde(with = "method_text")]
    pub method: Method,
    /// Headers sent with the request, in order, besides those the crawler sends.
    pub headers: Vec<(String, String)>,
    /// The body sent, if any.
    pub body: Option<Bytes>,
    /// A label that routes the response to the spider code that handles it (Crawlee's
    /// label, Scrapy's callback).
    pub label: Option<String>,
    /// User data, carried to the response and kept by durable and shared stores (Scrapy's
    /// `meta`/`cb_kwargs`, Colly's `Context`, Crawlee's `userData`). `null` when none.
    pub data: serde_json::Value,
    /// Higher goes first among the URLs of a host waiting at once. By default, 0.
    pub priority: i32,
}

impl Intent {
    fn is_default(&self) -> bool {
        *self == Intent::default()
    }
}

impl Request {
    /// A request with a method. `target` is an absolute http(s) URL, or a reference that
    /// resolves against the page that follows it (`/page/2`, `?sort=price`).
    pub fn new(method: Method, target: impl AsRef<str>) -> Self {
        Self {
            target: target.as_ref().trim().to_owned(),
            intent: Intent {
                method,
                ..Intent::default()
            },
            error: None,
        }
    }

    /// A GET request.
    pub fn get(target: impl AsRef<str>) -> Self {
        Self::new(Method::GET, target)
    }

    /// A POST request: give it a body with [`Request::form`], [`Request::json`] or
    /// [`Request::body`].
    pub fn post(target: impl AsRef<str>) -> Self {
        Self::new(Method::POST, target)
    }

    /// Labels the request, to route its response (see the spider's `Router`).
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.intent.label = Some(label.into());
        self
    }

    /// Attaches user data, handed back with the response (`page.data()`).
    #[must_use]
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.intent.data = data;
        self
    }

    /// Sets the priority: higher goes first among the waiting URLs of a host. By default,
    /// 0.
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Self {
        self.intent.priority = priority;
        self
    }

    /// Adds a header. Invalid names or values make the fetch fail with a recorded error.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.intent.headers.push((name.into(), value.into()));
        self
    }

    /// Adds an `Authorization: Basic` header.
    #[must_use]
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let token = base64(format!("{user}:{password}").as_bytes());
        self.header("Authorization", format!("Basic {token}"))
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.intent.body = Some(body.into());
        self
    }

    /// Sets a form body (`application/x-www-form-urlencoded`), as a browser submits a form.
    #[must_use]
    pub fn form<K: AsRef<str>, V: AsRef<str>>(self, fields: &[(K, V)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
            .finish();
        self.header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// Sets a JSON body (`application/json`). A value that does not serialize makes the
    /// request fail with a recorded error when it is queued.
    #[must_use]
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => self.header("Content-Type", "application/json").body(body),
            Err(e) => Self {
                error: Some(format!("the JSON body does not serialize: {e}")),
                ..self
            },
        }
    }

    /// The URL as given.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.intent.method
    }

    /// Everything but the URL.
    pub fn intent(&self) -> &Intent {
        &self.intent
    }

    /// Resolves the request against `base` (the page that follows it; `None` for a
    /// seed, which must be absolute) into what the crawl queues, at `depth` with `parent`.
    ///
    /// # Errors
    /// Why the request cannot be crawled: its URL (empty, a `mailto:` link, not a URL, ...)
    /// or its body.
    pub fn resolve(
        self,
        base: Option<&Url>,
        depth: u32,
        parent: Option<Arc<Url>>,
    ) -> Result<CrawlRequest, RequestError> {
        if let Some(message) = self.error {
            return Err(RequestError::Invalid(message));
        }
        let url = match base {
            Some(base) => resolve_link(base, &self.target).map_err(RequestError::Link)?,
            None => crate::parse_seed(&self.target).map_err(RequestError::Invalid)?,
        };
        Ok(CrawlRequest {
            url,
            depth,
            parent,
            intent: (!self.intent.is_default()).then(|| Box::new(self.intent)),
            seed: false,
        })
    }
}

impl From<&str> for Request {
    fn from(target: &str) -> Self {
        Request::get(target)
    }
}

impl From<String> for Request {
    fn from(target: String) -> Self {
        Request::get(target)
    }
}

impl From<&String> for Request {
    fn from(target: &String) -> Self {
        Request::get(target)
    }
}

impl From<Url> for Request {
    fn from(url: Url) -> Self {
        Request::get(url)
    }
}

impl From<&Url> for Request {
    fn from(url: &Url) -> Self {
        Request::get(url)
    }
}

/// Why a request could not be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The URL is not one the crawler follows (see [`LinkSkip`]).
    Link(LinkSkip),
    /// The URL or the body is invalid; the message says how.
    Invalid(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Link(skip) => write!(f, "not followed: {skip:?}"),
            RequestError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for RequestError {}

/// A request the crawl has queued: an absolute, normalized URL, where it was found, and its
/// intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrawlRequest {
    /// The normalized URL to fetch.
    pub url: Url,
    /// Link distance from a seed: seeds are depth 0.
    pub depth: u32,
    /// The page on which the URL was first found (none for seeds). The requests found on
    /// one page share one copy of its URL (those read back from a state file or Redis
    /// have their own).
    pub parent: Option<Arc<Url>>,
    /// Method, headers, body, label, data and priority, when any is not the default (a
    /// plain GET).
    pub intent: Option<Box<Intent>>,
    /// Whether it is one of the crawl's seeds: always crawled, and its scope is taken from
    /// where it lands.
    #[serde(default)]
    pub seed: bool,
}

impl CrawlRequest {
    /// A plain GET request for a seed URL (depth 0, no parent).
    pub fn seed(url: Url) -> Self {
        Self {
            url,
            depth: 0,
            parent: None,
            intent: None,
            seed: true,
        }
    }

    /// A plain GET request found on `parent` (a `Url`, or an `Arc<Url>` that the page's
    /// other links share).
    pub fn link(url: Url, depth: u32, parent: impl Into<Arc<Url>>) -> Self {
        Self {
            url,
            depth,
            parent: Some(parent.into()),
            intent: None,
            seed: false,
        }
    }

    /// Whether this is one of the crawl's seeds.
    pub fn is_seed(&self) -> bool {
        self.seed
    }

    /// The method.
    pub fn method(&self) -> &Method {
        self.intent.as_ref().map_or(&Method::GET, |i| &i.method)
    }

    /// The label, if any.
    pub fn label(&self) -> Option<&str> {
        self.intent.as_ref().and_then(|i| i.label.as_deref())
    }

    /// The user data (`null` when none).
    pub fn data(&self) -> &serde_json::Value {
        static NULL: serde_json::Value = serde_json::Value::Null;
        self.intent.as_ref().map_or(&NULL, |i| &i.data)
    }

    /// The priority.
    pub fn priority(&self) -> i32 {
        self.intent.as_ref().map_or(0, |i| i.priority)
    }

    /// The extra headers.
    pub fn headers(&self) -> &[(String, String)] {
        self.intent.as_ref().map_or(&[], |i| &i.headers)
    }

    /// The body, if any.
    pub fn body(&self) -> Option<&Bytes> {
        self.intent.as_ref().and_then(|i| i.body.as_ref())
    }

    /// The identity of the request for deduplication: the URL's fingerprint for a GET
    /// without a body; otherwise the method, URL and body together, so that two searches
    /// posted to one URL are two requests, and a HEAD is not the GET of its URL.
    pub fn fingerprint(&self) -> Fingerprint {
        let method = self.method();
        match self.body() {
            None if *method == Method::GET => Fingerprint::of(&self.url),
            body => Fingerprint::of_parts(&[
                method.as_str().as_bytes(),
                self.url.as_str().as_bytes(),
                body.map_or(&[][..], |b| &b[..]),
            ]),
        }
    }

    /// The same request at another URL: a redirect hop. 301, 302 and 303 turn it into a GET
    /// without a body, as browsers do; 307 and 308 keep the method and body. Credentials
    /// (`Authorization`, `Cookie`, `Proxy-Authorization`) do not follow a redirect to
    /// another origin (scheme, host or port).
    pub fn redirected(&self, url: Url, status: u16) -> Self {
        let mut next = self.clone();
        next.url = normalize(url);
        let same_origin = self.url.scheme() == next.url.scheme()
            && self.url.host_str() == next.url.host_str()
            && self.url.port_or_known_default() == next.url.port_or_known_default();
        if !same_origin && let Some(intent) = next.intent.as_mut() {
            intent.headers.retain(|(name, _)| {
                !["authorization", "cookie", "proxy-authorization"]
                    .iter()
                    .any(|secret| name.eq_ignore_ascii_case(secret))
            });
        }
        if matches!(status, 301..=303)
            && let Some(intent) = next.intent.as_mut()
            && intent.method != Method::HEAD
        {
            intent.method = Method::GET;
            intent.body = None;
            intent
                .headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        }
        next
    }
}

/// Standard base64, for basic authentication.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

mod method_text {
    use http::Method;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(method: &Method, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(method.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Method, D::Error> {
        let text = String::deserialize(d)?;
        Method::from_bytes(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        "http://a.test/dir/page".parse().unwrap()
    }

    #[test]
    fn relative_targets_resolve_against_the_page() {
        let r = Request::get("../x?b=1#frag")
            .resolve(Some(&base()), 2, Some(Arc::new(base())))
            .unwrap();
        assert_eq!(r.url.as_str(), "http://a.test/x?b=1");
        assert_eq!(
            (r.depth, r.intent),
            (2, None),
            "a plain GET carries nothing"
        );
        assert_eq!(
            Request::get("mailto:a@b.test").resolve(Some(&base()), 1, None),
            Err(RequestError::Link(LinkSkip::Mailto))
        );
        assert!(
            Request::get("/relative").resolve(None, 0, None).is_err(),
            "seeds are absolute"
        );
    }

    #[test]
    fn intent_travels_and_shapes_the_fingerprint() {
        let a = Request::post("http://a.test/search")
            .form(&[("q", "rust")])
            .label("results")
            .data(serde_json::json!({"n": 1}))
            .resolve(None, 0, None)
            .unwrap();
        let b = Request::post("http://a.test/search")
            .form(&[("q", "go")])
            .resolve(None, 0, None)
            .unwrap();
        assert_eq!(a.label(), Some("results"));
        assert_eq!(a.data()["n"], 1);
        assert_eq!(a.body().unwrap().as_ref(), b"q=rust");
        assert_ne!(a.fingerprint(), b.fingerprint(), "two searches");
        let get = Request::get("http://a.test/search")
            .resolve(None, 0, None)
            .unwrap();
        assert_eq!(get.fingerprint(), Fingerprint::of(&get.url));
        assert_ne!(get.fingerprint(), a.fingerprint());
    }

    #[test]
    fn redirects_turn_posts_into_gets_but_307_keeps_them() {
        let post = Request::post("http://a.test/login")
            .form(&[("u", "me")])
            .resolve(None, 0, None)
            .unwrap();
        let after_303 = post.redirected("http://a.test/home".parse().unwrap(), 303);
        assert_eq!((after_303.method(), after_303.body()), (&Method::GET, None));
        assert!(after_303.headers().is_empty());
        let after_307 = post.redirected("http://a.test/login2".parse().unwrap(), 307);
        assert_eq!(after_307.method(), &Method::POST);
        assert!(after_307.body().is_some());
    }

    #[test]
    fn credentials_stay_with_their_origin() {
        let r = Request::get("http://a.test/private")
            .basic_auth("me", "pw")
            .header("Cookie", "s=1")
            .header("X-Keep", "yes")
            .resolve(None, 0, None)
            .unwrap();
        let same = r.redirected("http://a.test/elsewhere".parse().unwrap(), 302);
        assert_eq!(same.headers().len(), 3);
        for other in ["http://b.test/", "https://a.test/", "http://a.test:8080/"] {
            let moved = r.redirected(other.parse().unwrap(), 302);
            assert_eq!(
                moved.headers(),
                [("X-Keep".to_owned(), "yes".to_owned())],
                "{other}"
            );
        }
        let head = Request::new(Method::HEAD, "http://a.test/")
            .resolve(None, 0, None)
            .unwrap();
        let get = Request::get("http://a.test/")
            .resolve(None, 0, None)
            .unwrap();
        assert_ne!(head.fingerprint(), get.fingerprint());
    }

    #[test]
    fn requests_serialize_for_durable_stores() {
        let r = Request::post("http://a.test/api")
            .json(&serde_json::json!({"page": 2}))
            .priority(-3)
            .resolve(None, 1, Some(Arc::new(base())))
            .unwrap();
        let text = serde_json::to_string(&r).unwrap();
        let back: CrawlRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn basic_auth_and_bad_bodies() {
        let r = Request::get("http://a.test/").basic_auth("Aladdin", "open sesame");
        assert_eq!(
            r.intent().headers[0].1,
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let bad = Request::post("http://a.test/").json(&map);
        assert!(matches!(
            bad.resolve(None, 0, None),
            Err(RequestError::Invalid(_))
        ));
    }
}
