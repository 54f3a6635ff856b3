//! Fetcher actors: one per fetcher thread, each running many requests at once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as _;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::{Actor, Addr, Context, Handler, Message};
use arachne_core::hook::{Decision, Hook, Incoming, Outgoing};
use arachne_core::spider::Spider;
use arachne_core::{
    CrawlRequest, ErrorKind, HttpExchange, PageRecord, ROBOTS_MAX_BYTES, RecordError, Redirect,
    RobotsRules, SITEMAP_MAX_BYTES, SeenSet, host_key, is_html, normalize, same_site,
};
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{
    ACCEPT_ENCODING as ACCEPT_ENCODING_HEADER, CONTENT_ENCODING, CONTENT_TYPE, HeaderMap,
    HeaderName, HeaderValue, LOCATION, RETRY_AFTER,
};
use url::{Host, Url};

use crate::decode::{ACCEPT_ENCODING, Body, BodyDecoder};
use crate::deliver::{self, Delivery};
use crate::parser::{LinkCounts, Parse, ParseOutput, ParseSitemap, Parser};
use crate::resolve::{DeniedAddress, Resolver, is_denied};
use crate::scope::SharedScope;
use crate::sink::{Sink, WriteExchange};
use crate::supervisor::{Done, Finished, PageDone, RobotsOutcome, SitemapDone, Supervisor};

/// What every fetcher shares: limits, scope, the seen set, and where results go.
pub(crate) struct FetchShared {
    pub max_body: u64,
    pub max_redirects: u32,
    pub retries: u32,
    pub deny_private: bool,
    /// The user agent's product token, which robots.txt rules are matched against.
    pub product_token: String,
    pub scope: SharedScope,
    pub seen: Arc<dyn SeenSet>,
    pub parser: Addr<Parser>,
    /// The spider: the fetcher asks it which statuses it wants parsed.
    pub spider: Arc<dyn Spider>,
    /// Whether the spider is the default one, which only follows links: then only HTML is
    /// sent to the parsers.
    pub default_spider: bool,
    /// Request and response hooks, in order.
    pub hooks: Vec<Arc<dyn Hook>>,
    /// Sinks that archive every HTTP exchange (redirects and error responses included).
    pub archives: Vec<Addr<Sink>>,
    /// The user agent, for the request records of archives.
    pub user_agent: String,
    /// Outputs, pipeline and subscribers.
    pub delivery: Delivery,
    /// How to build a client for a proxy a hook asks for.
    pub client_settings: ClientSettings,
}

/// What a job fetches.
#[derive(Debug)]
pub(crate) enum JobKind {
    /// A page: the crawl's own work, one record at the end.
    Page,
    /// A host's robots.txt.
    Robots,
    /// A sitemap, at a depth of sitemap-index nesting; `from_user` when the user named it
    /// (or an index the user named lists it), so that its failure is a warning.
    Sitemap { nesting: u32, from_user: bool },
    /// A page recorded without a request (robots.txt forbids it, say).
    Refused(RecordError),
}

/// A URL on its way through the fetchers: the request as queued, and the redirect chain so
/// far when it is a later hop.
#[derive(Debug)]
pub(crate) struct FetchJob {
    pub kind: JobKind,
    pub request: CrawlRequest,
    /// The URL to request now: `request.url`, or the target of the last redirect.
    pub target: Url,
    /// The request as the last redirect left it (a 303 turns a POST into a GET); `None`
    /// before any redirect.
    pub hop: Option<Box<CrawlRequest>>,
    /// The fingerprints of the requests made so far in the redirect chain: a redirect to one
    /// of them is a loop (a POST answered by a 303 to its own URL is not: that is a GET).
    pub chain: Vec<arachne_core::Fingerprint>,
    pub redirects: Vec<Redirect>,
    /// Requests made for the current hop (retries included).
    pub attempts: u32,
    /// When the first hop started; set by the fetcher.
    pub started: Option<(Instant, SystemTime)>,
}

impl FetchJob {
    pub fn new(kind: JobKind, request: CrawlRequest) -> Self {
        Self {
            kind,
            target: request.url.clone(),
            hop: None,
            chain: Vec::new(),
            request,
            redirects: Vec::new(),
            attempts: 0,
            started: None,
        }
    }
}

impl FetchJob {
    /// The request to send now: the one queued, or what its redirects made of it.
    pub fn current(&self) -> &CrawlRequest {
        self.hop.as_deref().unwrap_or(&self.request)
    }
}

/// Fetch one hop of a job. `fetcher` is the index of the fetcher, for the supervisor's
/// load accounting.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Fetch {
    pub job: FetchJob,
    pub fetcher: usize,
    pub charged_host: bool,
}

/// One fetcher thread's actor. It owns its own `reqwest::Client`, since pooled connections
/// belong to the runtime (arbiter) that opened them.
pub(crate) struct Fetcher {
    ctx: Rc<FetchContext>,
}

struct FetchContext {
    client: reqwest::Client,
    /// Clients for the proxies hooks asked for, built on first use on this thread.
    proxies: RefCell<HashMap<Url, reqwest::Client>>,
    shared: Arc<FetchShared>,
    supervisor: Addr<Supervisor>,
}

impl Fetcher {
    pub fn new(
        client: reqwest::Client,
        shared: Arc<FetchShared>,
        supervisor: Addr<Supervisor>,
    ) -> Self {
        Self {
            ctx: Rc::new(FetchContext {
                client,
                proxies: RefCell::new(HashMap::new()),
                shared,
                supervisor,
            }),
        }
    }
}

impl Actor for Fetcher {
    type Context = Context<Self>;
}

/// Starts the fetch as a task on this fetcher's thread; the supervisor hears back with
/// exactly one `Done`.
impl Handler<Fetch> for Fetcher {
    type Result = ();

    fn handle(&mut self, msg: Fetch, _: &mut Self::Context) {
        let ctx = Rc::clone(&self.ctx);
        actix::spawn(async move {
            let Fetch {
                mut job,
                fetcher,
                charged_host,
            } = msg;
            let mut guard = DoneGuard {
                supervisor: ctx.supervisor.clone(),
                fetcher,
                host: host_key(&job.target).into_owned(),
                charged_host,
                lost: Some(LostJob {
                    request: job.request.clone(),
                    nesting: job_nesting(&job.kind),
                }),
            };
            let (finished, response) = match std::mem::replace(&mut job.kind, JobKind::Page) {
                JobKind::Page => run_page(&ctx, job).await,
                JobKind::Robots => (run_robots(&ctx, job).await, None),
                JobKind::Sitemap { nesting, from_user } => {
                    (run_sitemap(&ctx, job, nesting, from_user).await, None)
                }
                JobKind::Refused(error) => (refuse(&ctx, job, error).await, None),
            };
            guard.lost = None;
            ctx.supervisor.do_send(guard.done(finished, response));
        });
    }
}

/// Makes sure the supervisor hears of every job, even if its task dies: otherwise the
/// crawl would wait for it forever.
struct DoneGuard {
    supervisor: Addr<Supervisor>,
    fetcher: usize,
    host: String,
    charged_host: bool,
    /// Set while the job runs: what to report if its task is dropped before it ends.
    lost: Option<LostJob>,
}

/// Enough of a job to report it lost.
struct LostJob {
    request: CrawlRequest,
    /// `None` for pages and refusals, `Some(None)` for robots.txt, `Some(Some(..))` for a
    /// sitemap: its nesting and whether the user named it.
    nesting: Option<Option<(u32, bool)>>,
}

fn job_nesting(kind: &JobKind) -> Option<Option<(u32, bool)>> {
    match kind {
        JobKind::Page | JobKind::Refused(_) => None,
        JobKind::Robots => Some(None),
        JobKind::Sitemap { nesting, from_user } => Some(Some((*nesting, *from_user))),
    }
}

impl DoneGuard {
    fn done(&mut self, finished: Finished, response: HopStats) -> Done {
        Done {
            fetcher: self.fetcher,
            host: std::mem::take(&mut self.host),
            charged_host: self.charged_host,
            response,
            finished,
        }
    }
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let Some(LostJob { request, nesting }) = self.lost.take() else {
            return;
        };
        let error = RecordError {
            kind: ErrorKind::Internal,
            message: "the fetch task was lost".into(),
        };
        let finished = match nesting {
            None => {
                let job = FetchJob::new(JobKind::Page, request);
                let record = failed_record(&job, Instant::now(), SystemTime::now(), error);
                Finished::Page(Box::new(PageDone::failed(record, job.request.is_seed())))
            }
            Some(None) => Finished::Robots {
                host: self.host.clone(),
                outcome: RobotsOutcome::Unavailable(error),
            },
            Some(Some((nesting, from_user))) => Finished::Sitemap(Box::new(SitemapDone {
                url: request.url,
                pages: Vec::new(),
                nested: Vec::new(),
                nesting,
                from_user,
                counts: LinkCounts::default(),
                error: Some(error.message),
                redirect_out_of_scope: false,
            })),
        };
        let done = self.done(finished, None);
        self.supervisor.do_send(done);
    }
}

/// The response of one hop, as far as it got.
struct Response {
    status: Option<u16>,
    headers: HeaderMap,
    content_type: Option<String>,
    body: Bytes,
    truncated: bool,
    error: Option<RecordError>,
    /// A hook asked to try again, for this reason.
    hook_retry: Option<String>,
}

impl Response {
    fn failed(error: RecordError) -> Self {
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

enum Hop {
    /// The job goes on to `job.target`: back to the supervisor for politeness.
    Redirect(FetchJob),
    /// The job ends with this response.
    Final(Box<Response>, FetchJob),
}

type HopStats = Option<(Duration, Option<u16>)>;

async fn run_page(ctx: &FetchContext, mut job: FetchJob) -> (Finished, HopStats) {
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
    let record = Arc::new(PageRecord {
        url: job.request.url.clone(),
        final_url: job.target.clone(),
        status: response.status,
        depth: job.request.depth,
        parent: job.request.parent.clone(),
        content_type: response.content_type,
        bytes: response.body.len() as u64,
        truncated: response.truncated,
        links: output.counts.found,
        new_links: u32::try_from(output.new_requests.len()).unwrap_or(u32::MAX),
        redirects: job.redirects,
        attempts: job.attempts,
        elapsed_ms: elapsed_ms(started.0),
        fetched_at: humantime::format_rfc3339_millis(started.1).to_string(),
        method: job.request.method().as_str().to_owned(),
        error,
    });
    tracing::debug!(url = %record.url, status = ?record.status, ms = record.elapsed_ms, error = ?record.error.as_ref().map(|e| e.kind), "fetched");
    let items = deliver::items(&shared.delivery, &job.request, output.items).await;
    let headers = Arc::try_unwrap(headers).unwrap_or_else(|shared| (*shared).clone());
    deliver::page(
        &shared.delivery,
        &record,
        headers,
        response.body,
        output.links,
    )
    .await;
    let done = PageDone {
        record,
        seed: job.request.is_seed(),
        new_requests: output.new_requests,
        counts: output.counts,
        items,
        spider_error: output.spider_error.is_some(),
    };
    (Finished::Page(Box::new(done)), stats)
}

/// The error of a page a hook dropped.
fn dropped(why: String) -> RecordError {
    RecordError {
        kind: ErrorKind::Dropped,
        message: why,
    }
}

/// Records a page without fetching it.
async fn refuse(ctx: &FetchContext, job: FetchJob, error: RecordError) -> Finished {
    let record = failed_record(&job, Instant::now(), SystemTime::now(), error);
    let delivery = &ctx.shared.delivery;
    deliver::page(
        delivery,
        &record,
        HeaderMap::new(),
        Bytes::new(),
        Vec::new(),
    )
    .await;
    Finished::Page(Box::new(PageDone::failed(record, job.request.is_seed())))
}

/// Refuses a request to a private address given literally, when private addresses are
/// denied (names are checked by the resolver).
fn denied_literal(shared: &FetchShared, url: &Url) -> Option<RecordError> {
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
struct ResponseHead {
    sent_at: SystemTime,
    version: reqwest::Version,
    remote_addr: Option<std::net::SocketAddr>,
    status: u16,
    /// The reason phrase, when not the standard one for the status.
    reason: Option<String>,
    headers: HeaderMap,
}

/// What to send: a method, a URL, headers and a body, through a proxy or not.
struct Outbound<'a> {
    method: Method,
    url: &'a Url,
    headers: HeaderMap,
    body: Option<Bytes>,
    proxy: Option<Url>,
}

impl<'a> Outbound<'a> {
    /// A plain GET (robots.txt, sitemaps).
    fn get(url: &'a Url) -> Self {
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
async fn send(
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
const MAX_PROXY_CLIENTS: usize = 64;

/// The client of this fetcher thread for a proxy, built on first use.
fn proxy_client(ctx: &FetchContext, proxy: &Url) -> Result<reqwest::Client, RecordError> {
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

/// Why a request hook did not let a request go.
enum HookVerdict {
    /// Try again later.
    Retry(String),
    /// Record the page with this error.
    Error(RecordError),
}

/// The request for this hop of a page: its method, headers and body, shaped by the hooks.
/// `Err` when a hook dropped it, asked to retry it, or set a header that is not valid.
fn page_request<'j>(ctx: &FetchContext, job: &'j FetchJob) -> Result<Outbound<'j>, HookVerdict> {
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
async fn fetch(ctx: &FetchContext, mut job: FetchJob) -> Hop {
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

    if matches!(status, 301 | 302 | 303 | 307 | 308) {
        let location = head
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| job.target.join(l.trim()).ok())
            .map(normalize);
        // Read the (small) body so the connection can be reused.
        let (body, _) = read_body(&mut response, &head, 64 * 1024, true).await;
        archive(ctx, &job.target, &request, &head, &body).await;
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
        let fail = |mut last: Response, job, kind, message: String| {
            last.error = Some(RecordError { kind, message });
            Hop::Final(Box::new(last), job)
        };
        let Some(location) = location else {
            return fail(
                last,
                job,
                ErrorKind::RedirectInvalid,
                format!("{status} redirect without a valid Location"),
            );
        };
        if !matches!(location.scheme(), "http" | "https") {
            return fail(
                last,
                job,
                ErrorKind::RedirectBadScheme,
                format!("redirect to {location} not followed: only http and https"),
            );
        }
        if job.redirects.len() > shared.max_redirects as usize {
            return fail(
                last,
                job,
                ErrorKind::TooManyRedirects,
                format!("more than {} redirects", shared.max_redirects),
            );
        }
        let next = job.current().redirected(location.clone(), status);
        let next_fingerprint = next.fingerprint();
        job.chain.push(job.current().fingerprint());
        if job.chain.contains(&next_fingerprint) {
            return fail(
                last,
                job,
                ErrorKind::RedirectLoop,
                format!("redirect loop back to {location}"),
            );
        }
        // A seed follows its redirects within its site, and takes its scope from where it
        // lands (the supervisor sees to that).
        let landing = job.request.is_seed() && same_site(&job.request.url, &location);
        if !landing && !shared.scope.get().allows(&location) {
            return fail(
                last,
                job,
                ErrorKind::RedirectOutOfScope,
                format!("redirect to {location} not followed: out of scope"),
            );
        }
        if !shared.seen.insert(next_fingerprint) {
            // The target is crawled on its own (or was): this URL ends at its redirect.
            return Hop::Final(Box::new(last), job);
        }
        job.hop = Some(Box::new(next));
        job.target = location;
        job.attempts = 0;
        return Hop::Redirect(job);
    }

    let keep_raw = !shared.archives.is_empty();
    let (body, error) = read_body(&mut response, &head, shared.max_body, keep_raw).await;
    if error.is_none() {
        archive(ctx, &job.target, &request, &head, &body).await;
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

/// A request as an archive records it: method, the headers set beyond the crawler's own,
/// and the body.
#[derive(Default)]
struct Sent {
    method: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Sent {
    /// What archives need of a request; nothing when there are none.
    fn of(shared: &FetchShared, outbound: &Outbound<'_>) -> Self {
        if shared.archives.is_empty() {
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
    fn get() -> Self {
        Self {
            method: "GET".into(),
            ..Self::default()
        }
    }
}

/// Hands an exchange to every archive (WARC, say), waiting until each has it: the headers
/// and the body as received. Does nothing without archives.
async fn archive(ctx: &FetchContext, url: &Url, sent: &Sent, head: &ResponseHead, body: &Body) {
    let shared = &ctx.shared;
    if shared.archives.is_empty() {
        return;
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
}

/// GETs a URL for the crawler's own use (robots.txt, sitemaps), following up to five
/// redirects (on the same host, or to hosts the scope covers), and reads at most `max`
/// bytes. Gives the final status and body, or why not.
async fn get_resource(
    ctx: &FetchContext,
    url: &Url,
    max: u64,
) -> Result<(u16, Bytes), RecordError> {
    let mut url = url.clone();
    for _ in 0..=5 {
        let (mut response, head) = send(ctx, &Outbound::get(&url)).await?;
        if (300..400).contains(&head.status)
            && let Some(next) = head
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l.trim()).ok())
                .filter(|next| matches!(next.scheme(), "http" | "https"))
        {
            // Staying on the host already asked (http to https, say) leaves nothing.
            if next.host_str() != url.host_str() && !ctx.shared.scope.get().covers_host(&next) {
                return Err(RecordError {
                    kind: ErrorKind::RedirectOutOfScope,
                    message: format!("{url} redirects to {next}, which is out of scope"),
                });
            }
            url = next;
            continue;
        }
        let keep_raw = !ctx.shared.archives.is_empty();
        let (body, error) = read_body(&mut response, &head, max, keep_raw).await;
        if let Some(error) = error {
            return Err(error);
        }
        archive(ctx, &url, &Sent::get(), &head, &body).await;
        return Ok((head.status, body.decoded));
    }
    // More than five redirects: RFC 9309 lets a crawler treat robots.txt as unavailable,
    // which for redirects means allow all (like a 4xx).
    Ok((404, Bytes::new()))
}

/// Fetches a host's robots.txt (RFC 9309): 2xx gives rules, 4xx allows all, 5xx, 429 and
/// network failures make it unavailable for now.
async fn run_robots(ctx: &FetchContext, job: FetchJob) -> Finished {
    let host = host_key(&job.target).into_owned();
    let unavailable = |message: String| {
        RobotsOutcome::Unavailable(RecordError {
            kind: ErrorKind::RobotsUnavailable,
            message,
        })
    };
    let outcome = match get_resource(ctx, &job.target, ROBOTS_MAX_BYTES).await {
        Ok((status, body)) if (200..300).contains(&status) => {
            RobotsOutcome::Rules(RobotsRules::parse(&ctx.shared.product_token, &body))
        }
        Ok((429, _)) => unavailable("robots.txt answered 429".into()),
        Ok((status, _)) if (400..500).contains(&status) => {
            RobotsOutcome::Rules(RobotsRules::allow_all())
        }
        Ok((status, _)) => unavailable(format!("robots.txt answered {status}")),
        // A refused address: the pages' own fetches are refused and say so.
        Err(error) if error.kind == ErrorKind::DeniedAddress => {
            RobotsOutcome::Rules(RobotsRules::allow_all())
        }
        Err(error) if error.kind == ErrorKind::RedirectOutOfScope => {
            RobotsOutcome::RedirectOutOfScope(error.message)
        }
        // The host itself cannot be reached: its pages' records say so, with this kind.
        Err(error) if matches!(error.kind, ErrorKind::Connect | ErrorKind::Timeout) => {
            RobotsOutcome::Unavailable(error)
        }
        Err(error) => unavailable(error.message),
    };
    Finished::Robots { host, outcome }
}

/// Fetches a sitemap and has a parser thread read it.
async fn run_sitemap(ctx: &FetchContext, job: FetchJob, nesting: u32, from_user: bool) -> Finished {
    let mut done = SitemapDone {
        url: job.target.clone(),
        pages: Vec::new(),
        nested: Vec::new(),
        nesting,
        from_user,
        counts: LinkCounts::default(),
        error: None,
        redirect_out_of_scope: false,
    };
    match get_resource(ctx, &job.target, SITEMAP_MAX_BYTES).await {
        Err(error) => {
            done.redirect_out_of_scope = error.kind == ErrorKind::RedirectOutOfScope;
            done.error = Some(format!("{}: {}", error.kind, error.message));
        }
        Ok((status, _)) if !(200..300).contains(&status) => {
            done.error = Some(format!("HTTP status {status}"));
        }
        Ok((_, body)) => match ctx.shared.parser.send(ParseSitemap { body }).await {
            Ok(Ok(out)) => {
                done.pages = out.pages;
                done.nested = out.sitemaps;
                done.counts = out.counts;
            }
            Ok(Err(message)) => done.error = Some(message),
            Err(e) => done.error = Some(format!("parser unavailable: {e}")),
        },
    }
    Finished::Sitemap(Box::new(done))
}

/// Reads a body, decoding its `Content-Encoding`, up to `max` decoded bytes (so a
/// compression bomb stops at the cap). Keeps the received bytes too when `keep_raw`.
/// Returns the body as far as it got, and the error that broke it off, if any.
async fn read_body(
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
fn error_of(error: &reqwest::Error) -> RecordError {
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

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A record for a job that ends without a usable response: at its last redirect, if any.
fn failed_record(
    job: &FetchJob,
    started: Instant,
    fetched_at: SystemTime,
    error: RecordError,
) -> Arc<PageRecord> {
    let last = job.redirects.last();
    Arc::new(PageRecord {
        url: job.request.url.clone(),
        final_url: last.map_or_else(|| job.request.url.clone(), |r| r.url.clone()),
        status: last.map(|r| r.status),
        depth: job.request.depth,
        parent: job.request.parent.clone(),
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
    })
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
