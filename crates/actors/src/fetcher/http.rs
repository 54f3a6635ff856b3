//! Sending requests: the HTTP clients (one per fetcher thread, one per proxy), the address
//! checks, reading and decoding bodies, and classifying errors.

use super::*;

/// Refuses a request to a private address given literally, when private addresses are
/// denied (names are checked by the resolver).
pub(super) fn denied_literal(shared: &FetchShared, url: &Url) -> Option<RecordError> {
    if !shared.deny_private {
        return None;
    }
    let ip = match url.host()? {
        Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
        Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
        Host::Domain(_) => return None,
    };
    is_denied(ip).then(|| RecordError {
        kind: ErrorKind::DeniedAddress,
        message: DeniedAddress(ip.to_string()).to_string(),
    })
}

/// The status line and headers of a response, and where and when it came from.
pub(super) struct ResponseHead {
    pub(super) sent_at: SystemTime,
    pub(super) version: reqwest::Version,
    pub(super) remote_addr: Option<std::net::SocketAddr>,
    pub(super) status: u16,
    /// The reason phrase, when not the standard one for the status.
    pub(super) reason: Option<String>,
    pub(super) headers: HeaderMap,
}

/// What to send: a method, a URL, headers and a body, through a proxy or not.
pub(super) struct Outbound<'a> {
    pub(super) method: Method,
    pub(super) url: &'a Url,
    pub(super) headers: HeaderMap,
    pub(super) body: Option<Bytes>,
    pub(super) proxy: Option<Url>,
}

impl<'a> Outbound<'a> {
    /// A plain GET (robots.txt, sitemaps).
    pub(super) fn get(url: &'a Url) -> Self {
        Self {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: None,
            proxy: None,
        }
    }
}

/// Sends a request, refusing private addresses given literally when they are denied (names
/// are checked by the resolver). Every request of the crawl goes through here.
pub(super) async fn send(
    ctx: &FetchContext,
    outbound: &Outbound<'_>,
) -> Result<(reqwest::Response, ResponseHead), RecordError> {
    if let Some(error) = denied_literal(&ctx.shared, outbound.url) {
        return Err(error);
    }
    let client = match &outbound.proxy {
        None => ctx.client.clone(),
        Some(proxy) => {
            // The proxy resolves the target, so the crawler checks it first.
            if ctx.shared.deny_private
                && let Some(Host::Domain(name)) = outbound.url.host()
                && let Some(denied) = ctx.shared.client_settings.resolver.denied(name).await
            {
                return Err(RecordError {
                    kind: ErrorKind::DeniedAddress,
                    message: denied.to_string(),
                });
            }
            proxy_client(ctx, proxy)?
        }
    };
    let mut request = client
        .request(outbound.method.clone(), outbound.url.clone())
        .headers(outbound.headers.clone());
    if let Some(body) = &outbound.body {
        request = request.body(body.clone());
    }
    let sent_at = SystemTime::now();
    let mut response = request.send().await.map_err(|e| error_of(&e))?;
    let head = ResponseHead {
        sent_at,
        version: response.version(),
        remote_addr: response.remote_addr(),
        status: response.status().as_u16(),
        reason: response
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|reason| String::from_utf8_lossy(reason.as_bytes()).into_owned()),
        headers: std::mem::take(response.headers_mut()),
    };
    Ok((response, head))
}

/// The most proxy clients a fetcher thread keeps.
pub(super) const MAX_PROXY_CLIENTS: usize = 64;

/// The client of this fetcher thread for a proxy, built on first use.
pub(super) fn proxy_client(
    ctx: &FetchContext,
    proxy: &Url,
) -> Result<reqwest::Client, RecordError> {
    if let Some(client) = ctx.proxies.borrow().get(proxy) {
        return Ok(client.clone());
    }
    let client =
        build_client(&ctx.shared.client_settings, Some(proxy)).map_err(|e| RecordError {
            kind: ErrorKind::InvalidRequest,
            message: format!("cannot use the proxy {proxy}: {e}"),
        })?;
    let mut proxies = ctx.proxies.borrow_mut();
    // Rotating proxies should not grow the cache without end.
    if proxies.len() >= MAX_PROXY_CLIENTS {
        proxies.clear();
    }
    proxies.insert(proxy.clone(), client.clone());
    Ok(client)
}

/// Reads a body, decoding its `Content-Encoding`, up to `max` decoded bytes (so a
/// compression bomb stops at the cap). Keeps the received bytes too when `keep_raw`.
/// Returns the body as far as it got, and the error that broke it off, if any.
pub(super) async fn read_body(
    response: &mut reqwest::Response,
    head: &ResponseHead,
    max: u64,
    keep_raw: bool,
) -> (Body, Option<RecordError>) {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let decode_error = |message: String| RecordError {
        kind: ErrorKind::Decode,
        message,
    };
    let coding = head
        .headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let mut decoder = match BodyDecoder::new(coding, max, keep_raw) {
        Ok(decoder) => decoder,
        Err(message) => {
            let empty = Body {
                decoded: Bytes::new(),
                raw: None,
                truncated: false,
            };
            return (empty, Some(decode_error(message)));
        }
    };
    if let Some(length) = response.content_length() {
        decoder.expect(length);
    }
    let mut error = None;
    while !decoder.is_full() {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if let Err(message) = decoder.feed(&chunk) {
                    error = Some(decode_error(message));
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                // Decoding is done here, so whatever reqwest reports while reading the body
                // (it calls it "decoding") is a broken transfer: a body error, worth a retry.
                let mut transfer = error_of(&e);
                if transfer.kind == ErrorKind::Decode {
                    transfer.kind = ErrorKind::Body;
                }
                error = Some(transfer);
                break;
            }
        }
    }
    let (body, finish_error) = decoder.finish();
    (body, error.or(finish_error.map(decode_error)))
}

/// Classifies a reqwest error, with its chain of causes as the message.
pub(super) fn error_of(error: &reqwest::Error) -> RecordError {
    let mut kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connect() {
        ErrorKind::Connect
    } else if error.is_decode() {
        ErrorKind::Decode
    } else if error.is_body() {
        ErrorKind::Body
    } else {
        ErrorKind::Request
    };
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.downcast_ref::<DeniedAddress>().is_some() {
            kind = ErrorKind::DeniedAddress;
        }
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    RecordError { kind, message }
}

/// Builds the HTTP client of one fetcher thread, or of one proxy on it.
pub(crate) fn build_client(
    settings: &ClientSettings,
    proxy: Option<&Url>,
) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder();
    if let Some(jar) = &settings.cookies {
        builder = builder.cookie_provider(Arc::clone(jar));
    }
    let mut resolver = settings.resolver.clone();
    if let Some(proxy) = proxy {
        builder = builder.proxy(reqwest::Proxy::all(proxy.as_str())?);
        // The proxy is the user's choice, private or not; targets are checked in `send`.
        resolver.deny_private = false;
    }
    builder
        .user_agent(settings.user_agent.clone())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .dns_resolver(resolver)
        // The fetcher decodes bodies itself, so the response headers stay as received.
        .default_headers(HeaderMap::from_iter([(
            ACCEPT_ENCODING_HEADER,
            HeaderValue::from_static(ACCEPT_ENCODING),
        )]))
        .build()
}

/// What a fetcher's client is built from.
#[derive(Debug, Clone)]
pub(crate) struct ClientSettings {
    pub user_agent: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub resolver: Resolver,
    /// The crawl's cookie jar, shared by every client; `None` when cookies are off.
    pub cookies: Option<Arc<reqwest::cookie::Jar>>,
}
