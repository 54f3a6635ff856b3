//! What archives (WARC) get of each exchange: the request as sent and the response as
//! received.

use super::*;

/// A request as an archive records it: method, the headers set beyond the crawler's own,
/// and the body.
#[derive(Default)]
pub(super) struct Sent {
    pub(super) method: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Bytes,
}

impl Sent {
    /// What archives need of a request; nothing when there are none.
    pub(super) fn of(shared: &FetchShared, outbound: &Outbound<'_>) -> Self {
        if !shared.archiving() {
            return Self::default();
        }
        let mut headers: Vec<(String, String)> = outbound
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        // The cookies the jar is about to add on the way out.
        if let Some(jar) = &shared.client_settings.cookies
            && let Some(cookies) = reqwest::cookie::CookieStore::cookies(&**jar, outbound.url)
        {
            headers.push((
                "Cookie".to_owned(),
                String::from_utf8_lossy(cookies.as_bytes()).into_owned(),
            ));
        }
        Self {
            method: outbound.method.as_str().to_owned(),
            headers,
            body: outbound.body.clone().unwrap_or_default(),
        }
    }

    /// A plain GET.
    pub(super) fn get() -> Self {
        Self {
            method: "GET".into(),
            ..Self::default()
        }
    }
}

/// Hands an exchange to every archive (WARC, say), waiting until each has it: the headers
/// and the body as received. Returns it for the durable archives (those of the crawl's
/// state), which get it with the page's outcome, or at once with `durable_now`. Does
/// nothing without archives.
pub(super) async fn archive(
    ctx: &FetchContext,
    url: &Url,
    sent: &Sent,
    head: &ResponseHead,
    body: &Body,
) -> Option<Arc<HttpExchange>> {
    let shared = &ctx.shared;
    if !shared.archiving() {
        return None;
    }
    // The request as reqwest sends it (cookies aside: the jar adds them on the way out).
    let mut request_headers = vec![
        ("Host".to_owned(), host_key(url).into_owned()),
        ("User-Agent".to_owned(), shared.user_agent.clone()),
        ("Accept".to_owned(), "*/*".to_owned()),
        ("Accept-Encoding".to_owned(), ACCEPT_ENCODING.to_owned()),
    ];
    request_headers.extend(sent.headers.iter().cloned());
    if !sent.body.is_empty() {
        request_headers.push(("Content-Length".to_owned(), sent.body.len().to_string()));
    }
    let response_headers = head
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let record = Arc::new(
        HttpExchange::new(
            url.clone(),
            head.remote_addr,
            head.sent_at,
            request_headers,
            format!("{:?}", head.version),
            head.status,
            head.reason.clone(),
            response_headers,
            body.raw.clone().unwrap_or_else(|| body.decoded.clone()),
            body.truncated,
        )
        .with_request(&sent.method, sent.body.clone()),
    );
    for sink in &shared.archives {
        let _ = sink.send(WriteExchange(Arc::clone(&record))).await;
    }
    shared.durable_archives.then_some(record)
}
