//! A page's fetch, hop by hop: the request hooks, the redirect decision, retries, the
//! response hooks, parsing, and delivery.

use super::*;

/// The response of one hop, as far as it got.
pub(super) struct Response {
    pub(super) status: Option<u16>,
    pub(super) headers: HeaderMap,
    pub(super) content_type: Option<String>,
    pub(super) body: Bytes,
    pub(super) truncated: bool,
    pub(super) error: Option<RecordError>,
    /// A hook asked to try again, for this reason.
    pub(super) hook_retry: Option<String>,
}

impl Response {
    pub(super) fn failed(error: RecordError) -> Self {
        Self {
            status: None,
            headers: HeaderMap::new(),
            content_type: None,
            body: Bytes::new(),
            truncated: false,
            error: Some(error),
            hook_retry: None,
        }
    }

    /// No response: a request hook asked to try again later.
    fn retry(why: String) -> Self {
        Self {
            error: None,
            hook_retry: Some(why),
            ..Self::failed(dropped(String::new()))
        }
    }

    /// Whether trying again may help: a connection or transfer failure, 429, or a 5xx other
    /// than 501 (Not Implemented will not change).
    fn is_transient(&self) -> bool {
        match &self.error {
            Some(error) => {
                matches!(
                    error.kind,
                    ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Body | ErrorKind::Request
                )
            }
            None => matches!(self.status, Some(429 | 500 | 502..=599)),
        }
    }

    /// The pause a 429 or 503 asks for with `Retry-After` (seconds or an HTTP date).
    fn retry_after(&self) -> Option<Duration> {
        if !matches!(self.status, Some(429 | 503)) {
            return None;
        }
        let value = self.headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let when = httpdate::parse_http_date(value).ok()?;
        Some(when.duration_since(SystemTime::now()).unwrap_or_default())
    }
}

pub(super) enum Hop {
    /// The job goes on to `job.target`: back to the supervisor for politeness.
    Redirect(FetchJob),
    /// The job ends with this response.
    Final(Box<Response>, FetchJob),
}

pub(super) async fn run_page(
    ctx: &FetchContext,
    mut job: FetchJob,
    guard: &mut DoneGuard,
) -> (Finished, HopStats) {
    let started = *job
        .started
        .get_or_insert_with(|| (Instant::now(), SystemTime::now()));
    job.attempts += 1;
    let hop_started = Instant::now();
    let (response, job) = match fetch(ctx, job).await {
        Hop::Redirect(job) => {
            let stats = Some((
                hop_started.elapsed(),
                job.redirects.last().map(|r| r.status),
            ));
            return (Finished::Redirect(Box::new(job)), stats);
        }
        Hop::Final(response, job) => (response, job),
    };
    let mut job = job;
    let stats = Some((hop_started.elapsed(), response.status));
    let shared = &ctx.shared;
    let mut response = *response;
    if response.error.is_none()
        && let Some(status) = response.status
    {
        let incoming = Incoming::new(
            job.current(),
            &job.target,
            status,
            &response.headers,
            &response.body,
        );
        for hook in &shared.hooks {
            match hook.response(&incoming) {
                Decision::Continue => continue,
                Decision::Retry(why) => response.hook_retry = Some(why),
                Decision::Drop(why) => response.error = Some(dropped(why)),
            }
            break;
        }
    }
    if let Some(why) = response.hook_retry.take() {
        if job.attempts <= shared.retries {
            tracing::debug!(url = %job.target, %why, "a hook asked for a retry");
            return (
                Finished::Retry {
                    job: Box::new(job),
                    retry_after: None,
                },
                stats,
            );
        }
        response.error = Some(dropped(format!("{why} (after {} attempts)", job.attempts)));
    }
    if response.is_transient() && job.attempts <= shared.retries {
        let retry_after = response.retry_after();
        return (
            Finished::Retry {
                job: Box::new(job),
                retry_after,
            },
            stats,
        );
    }
    let headers = Arc::new(std::mem::take(&mut response.headers));
    let wanted = response.error.is_none()
        && response
            .status
            .is_some_and(|status| shared.spider.wants(status))
        && (!shared.default_spider || is_html(response.content_type.as_deref(), &response.body));
    let mut output = ParseOutput::default();
    let mut error = response.error;
    if wanted {
        let parse = Parse {
            request: job.current().clone(),
            final_url: job.target.clone(),
            status: response.status.unwrap_or_default(),
            headers: Arc::clone(&headers),
            body: response.body.clone(),
        };
        match shared.parser.send(parse).await {
            Ok(Ok(out)) => output = out,
            Ok(Err(message)) => {
                error = Some(RecordError {
                    kind: ErrorKind::Parse,
                    message,
                })
            }
            Err(e) => {
                error = Some(RecordError {
                    kind: ErrorKind::Internal,
                    message: format!("parser unavailable: {e}"),
                });
            }
        }
    }
    if let Some(why) = &output.spider_error {
        tracing::debug!(url = %job.target, error = %why, "the spider failed on a page");
    }
    if let Some(reason) = output.stop.take() {
        shared.delivery.handle.stop(reason);
    }
    let record = PageRecord {
        url: job.request.url.clone(),
        final_url: job.target.clone(),
        status: response.status,
        depth: job.request.depth,
        parent: job.request.parent.as_deref().cloned(),
        content_type: response.content_type,
        bytes: response.body.len() as u64,
        truncated: response.truncated,
        links: output.counts.found,
        new_links: 0,
        redirects: std::mem::take(&mut job.redirects),
        attempts: job.attempts,
        elapsed_ms: elapsed_ms(started.0),
        fetched_at: humantime::format_rfc3339_millis(started.1).to_string(),
        method: job.request.method().as_str().to_owned(),
        error,
    };
    let (items, item_json) = deliver::items(&shared.delivery, &job.request, output.items).await;
    let seed = job.request.is_seed();
    // The found requests are claimed and queued, the record counts the new ones, and the
    // outcome is recorded: one store call.
    let finished = finish(
        ctx,
        job,
        record,
        output.new_requests,
        item_json,
        guard,
        stats,
    )
    .await;
    let headers = Arc::try_unwrap(headers).unwrap_or_else(|shared| (*shared).clone());
    deliver::page(
        &shared.delivery,
        &finished.record,
        headers,
        response.body,
        output.links,
    )
    .await;
    let done = PageDone {
        record: finished.record,
        seed,
        queued: finished.queued,
        counts: output.counts,
        items,
        spider_error: output.spider_error.is_some(),
        store_error: finished.error,
    };
    (Finished::Page(Box::new(done)), stats)
}

/// Hands a finished page to the store: the requests it found, its outcome with the
/// redirect targets it claimed, and its record, items and exchanges for the outputs of
/// the crawl's state. A durable store is a stage of its own: the page gives its request
/// slot back first (the request is over), and keeps a place among the pages being
/// stored.
async fn finish(
    ctx: &FetchContext,
    job: FetchJob,
    record: PageRecord,
    found: Vec<CrawlRequest>,
    items: Vec<ItemJson>,
    guard: &mut DoneGuard,
    stats: HopStats,
) -> PageFinished {
    let store = &ctx.shared.store;
    if store.is_durable() {
        guard.storing(stats);
    }
    let FetchJob {
        request,
        hops,
        archived,
        ..
    } = job;
    store
        .finish(PageEnd {
            request,
            hops,
            record,
            found,
            items,
            exchanges: archived,
        })
        .await
}

/// The error of a page a hook dropped.
pub(super) fn dropped(why: String) -> RecordError {
    RecordError {
        kind: ErrorKind::Dropped,
        message: why,
    }
}

/// Records a page without fetching it.
pub(super) async fn refuse(
    ctx: &FetchContext,
    job: FetchJob,
    error: RecordError,
    guard: &mut DoneGuard,
) -> Finished {
    let record = failed_record(&job, Instant::now(), SystemTime::now(), error);
    let seed = job.request.is_seed();
    let finished = finish(ctx, job, record, Vec::new(), Vec::new(), guard, None).await;
    deliver::page(
        &ctx.shared.delivery,
        &finished.record,
        HeaderMap::new(),
        Bytes::new(),
        Vec::new(),
    )
    .await;
    let mut done = PageDone::failed(finished.record, seed);
    done.store_error = finished.error;
    Finished::Page(Box::new(done))
}

/// Why a request hook did not let a request go.
pub(super) enum HookVerdict {
    /// Try again later.
    Retry(String),
    /// Record the page with this error.
    Error(RecordError),
}

/// The request for this hop of a page: its method, headers and body, shaped by the hooks.
/// `Err` when a hook dropped it, asked to retry it, or set a header that is not valid.
pub(super) fn page_request<'j>(
    ctx: &FetchContext,
    job: &'j FetchJob,
) -> Result<Outbound<'j>, HookVerdict> {
    let current = job.current();
    let mut headers = HeaderMap::new();
    let mut errors = Vec::new();
    for (name, value) in current.headers() {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.append(name, value);
            }
            _ => errors.push(format!("invalid header `{name}`")),
        }
    }
    let mut proxy = None;
    let mut outgoing = Outgoing::new(
        current,
        &job.target,
        job.attempts,
        &mut headers,
        &mut proxy,
        &mut errors,
    );
    for hook in &ctx.shared.hooks {
        match hook.request(&mut outgoing) {
            Decision::Continue => {}
            Decision::Retry(why) => return Err(HookVerdict::Retry(why)),
            Decision::Drop(why) => return Err(HookVerdict::Error(dropped(why))),
        }
    }
    if let Some(error) = errors.into_iter().next() {
        return Err(HookVerdict::Error(RecordError {
            kind: ErrorKind::InvalidRequest,
            message: error,
        }));
    }
    Ok(Outbound {
        method: current.method().clone(),
        url: &job.target,
        headers,
        body: current.body().cloned(),
        proxy,
    })
}

/// Requests `job.target` and reads the response, or decides where its redirect leads.
pub(super) async fn fetch(ctx: &FetchContext, mut job: FetchJob) -> Hop {
    let shared = &ctx.shared;
    let sent = match page_request(ctx, &job) {
        Ok(outbound) => {
            let archived = Sent::of(shared, &outbound);
            send(ctx, &outbound).await.map(|sent| (sent, archived))
        }
        Err(HookVerdict::Retry(why)) => return Hop::Final(Box::new(Response::retry(why)), job),
        Err(HookVerdict::Error(error)) => Err(error),
    };
    let ((mut response, head), request) = match sent {
        Ok(sent) => sent,
        Err(error) => return Hop::Final(Box::new(Response::failed(error)), job),
    };
    let status = head.status;
    let content_type = head
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    if redirect::is_redirect(status) {
        let header = head.headers.get(LOCATION).and_then(|v| v.to_str().ok());
        let location = redirect::location(&job.target, header);
        // Read the (small) body so the connection can be reused.
        let (body, _) = read_body(&mut response, &head, 64 * 1024, true).await;
        job.archived
            .extend(archive(ctx, &job.target, &request, &head, &body).await);
        job.redirects.push(Redirect {
            url: job.target.clone(),
            status,
            location: location.clone(),
        });
        let last = Response {
            status: Some(status),
            headers: head.headers,
            content_type,
            body: Bytes::new(),
            truncated: false,
            error: None,
            hook_retry: None,
        };
        job.chain.push(job.current().fingerprint());
        // A seed follows its redirects within its site, and takes its scope from where it
        // lands (the supervisor sees to that).
        let seed = job.request.is_seed().then_some(&job.request.url);
        let allowed = |target: &Url| {
            seed.is_some_and(|seed| same_site(seed, target)) || shared.scope.get().allows(target)
        };
        let next = match redirect::decide(
            job.current(),
            status,
            location,
            &job.chain,
            job.redirects.len(),
            shared.max_redirects as usize,
            allowed,
        ) {
            Ok(next) => next,
            Err(error) => {
                let mut last = last;
                last.error = Some(error);
                return Hop::Final(Box::new(last), job);
            }
        };
        let next_fingerprint = next.fingerprint();
        let location = next.url.clone();
        match shared.store.claim_hop(next.clone()).await {
            Ok(true) => job.hops.push(next_fingerprint),
            Ok(false) => {
                // The target is crawled on its own (or was): this URL ends at its redirect.
                return Hop::Final(Box::new(last), job);
            }
            Err(e) => {
                let mut last = last;
                last.error = Some(RecordError {
                    kind: ErrorKind::Store,
                    message: e.to_string(),
                });
                return Hop::Final(Box::new(last), job);
            }
        }
        job.hop = Some(Box::new(next));
        job.target = location;
        job.attempts = 0;
        return Hop::Redirect(job);
    }

    let keep_raw = shared.archiving();
    let (body, error) = read_body(&mut response, &head, shared.max_body, keep_raw).await;
    if error.is_none() {
        job.archived
            .extend(archive(ctx, &job.target, &request, &head, &body).await);
    }
    Hop::Final(
        Box::new(Response {
            status: Some(status),
            headers: head.headers,
            content_type,
            body: body.decoded,
            truncated: body.truncated,
            error,
            hook_retry: None,
        }),
        job,
    )
}

pub(super) fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A record for a job that ends without a usable response: at its last redirect, if any.
pub(super) fn failed_record(
    job: &FetchJob,
    started: Instant,
    fetched_at: SystemTime,
    error: RecordError,
) -> PageRecord {
    let last = job.redirects.last();
    PageRecord {
        url: job.request.url.clone(),
        final_url: last.map_or_else(|| job.request.url.clone(), |r| r.url.clone()),
        status: last.map(|r| r.status),
        depth: job.request.depth,
        parent: job.request.parent.as_deref().cloned(),
        content_type: None,
        bytes: 0,
        truncated: false,
        links: 0,
        new_links: 0,
        redirects: job.redirects.clone(),
        attempts: job.attempts,
        elapsed_ms: elapsed_ms(started),
        fetched_at: humantime::format_rfc3339_millis(fetched_at).to_string(),
        method: job.request.method().as_str().to_owned(),
        error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, retry_after: &str) -> Response {
        let mut response = Response::failed(RecordError {
            kind: ErrorKind::Request,
            message: String::new(),
        });
        response.error = None;
        response.status = Some(status);
        response
            .headers
            .insert(RETRY_AFTER, retry_after.parse().unwrap());
        response
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(
            response(429, "7").retry_after(),
            Some(Duration::from_secs(7))
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let pause = response(503, &later).retry_after().unwrap();
        assert!(
            pause > Duration::from_secs(100) && pause <= Duration::from_secs(120),
            "{pause:?}"
        );
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
        assert_eq!(response(503, &past).retry_after(), Some(Duration::ZERO));
        assert_eq!(response(429, "soon").retry_after(), None);
        assert_eq!(
            response(500, "7").retry_after(),
            None,
            "only 429 and 503 pause a host"
        );
    }

    #[test]
    fn transient_failures() {
        assert!(response(503, "1").is_transient());
        assert!(response(500, "1").is_transient());
        assert!(!response(501, "1").is_transient());
        assert!(!response(404, "1").is_transient());
        let reset = Response::failed(RecordError {
            kind: ErrorKind::Body,
            message: String::new(),
        });
        assert!(reset.is_transient());
        let loop_ = Response::failed(RecordError {
            kind: ErrorKind::RedirectLoop,
            message: String::new(),
        });
        assert!(!loop_.is_transient());
    }
}
