//! Fetcher actors: one per fetcher thread, each running many requests at once.

use std::error::Error as _;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::{Actor, Addr, Context, Handler, Message, Recipient};
use arachne_core::{
    CrawlRequest, ErrorKind, Fingerprint, PageRecord, RecordError, Redirect, ScopeRules, SeenSet,
    is_html, normalize,
};
use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION};
use url::Url;

use crate::messages::{ItemExtracted, PageFetched};
use crate::parser::{LinkCounts, Parse, ParseOutput, Parser};
use crate::sink::{Sink, WriteRecord};
use crate::supervisor::{Done, Finished, Supervisor};

/// What every fetcher shares: limits, scope, the seen set, and where results go.
pub(crate) struct FetchShared {
    pub max_body: u64,
    pub max_redirects: u32,
    pub scope: ScopeRules,
    pub seen: Arc<dyn SeenSet>,
    pub parser: Addr<Parser>,
    pub sinks: Vec<Addr<Sink>>,
    pub page_subscribers: Vec<Recipient<PageFetched>>,
    pub item_subscribers: Vec<Recipient<ItemExtracted>>,
}

/// A URL on its way through the fetchers: the request as queued, and the redirect chain so
/// far when it is a later hop.
#[derive(Debug)]
pub(crate) struct FetchJob {
    pub request: CrawlRequest,
    /// The URL to request now: `request.url`, or the target of the last redirect.
    pub target: Url,
    pub redirects: Vec<Redirect>,
    /// When the first hop started; set by the fetcher.
    pub started: Option<(Instant, SystemTime)>,
}

impl FetchJob {
    pub fn new(request: CrawlRequest) -> Self {
        Self {
            target: request.url.clone(),
            request,
            redirects: Vec::new(),
            started: None,
        }
    }
}

/// Fetch one hop of a job. `fetcher` is the index of the fetcher, for the supervisor's
/// load accounting.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Fetch {
    pub job: FetchJob,
    pub fetcher: usize,
}

/// One fetcher thread's actor. It owns its own `reqwest::Client`, since pooled connections
/// belong to the runtime (arbiter) that opened them.
pub(crate) struct Fetcher {
    ctx: Rc<FetchContext>,
}

struct FetchContext {
    client: reqwest::Client,
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
            let mut guard = DoneGuard {
                supervisor: ctx.supervisor.clone(),
                fetcher: msg.fetcher,
                host: arachne_core::host_key(&msg.job.target).to_owned(),
                request: Some(msg.job.request.clone()),
            };
            let finished = run_hop(&ctx, msg.job).await;
            guard.request = None;
            ctx.supervisor.do_send(Done {
                fetcher: guard.fetcher,
                host: std::mem::take(&mut guard.host),
                finished,
            });
        });
    }
}

/// Makes sure the supervisor hears of every job, even if its task dies: otherwise the
/// crawl would wait for it forever.
struct DoneGuard {
    supervisor: Addr<Supervisor>,
    fetcher: usize,
    host: String,
    request: Option<CrawlRequest>,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        if let Some(request) = self.request.take() {
            let record = failed_record(
                &request,
                &request.url,
                &[],
                (Instant::now(), SystemTime::now()),
                RecordError {
                    kind: ErrorKind::Internal,
                    message: "the fetch task was lost".into(),
                },
            );
            self.supervisor.do_send(Done {
                fetcher: self.fetcher,
                host: std::mem::take(&mut self.host),
                finished: Finished::page(record, Vec::new(), LinkCounts::default()),
            });
        }
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
        }
    }
}

enum Hop {
    /// The job goes on to `job.target`: back to the supervisor for politeness.
    Redirect(FetchJob),
    /// The job ends with this response.
    Final(Response, FetchJob),
}

async fn run_hop(ctx: &FetchContext, mut job: FetchJob) -> Finished {
    let started = *job
        .started
        .get_or_insert_with(|| (Instant::now(), SystemTime::now()));
    let (response, job) = match fetch(ctx, job).await {
        Hop::Redirect(job) => return Finished::Redirect(Box::new(job)),
        Hop::Final(response, job) => (response, job),
    };
    let shared = &ctx.shared;
    let parseable = response.error.is_none()
        && response.status.is_some_and(|s| (200..300).contains(&s))
        && is_html(response.content_type.as_deref(), &response.body);
    let mut output = ParseOutput::default();
    let mut error = response.error;
    if parseable {
        let parse = Parse {
            url: job.request.url.clone(),
            final_url: job.target.clone(),
            depth: job.request.depth,
            content_type: response.content_type.clone(),
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
                })
            }
        }
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
        new_links: u32::try_from(output.new_links.len()).unwrap_or(u32::MAX),
        redirects: job.redirects,
        elapsed_ms: elapsed_ms(started.0),
        fetched_at: humantime::format_rfc3339_millis(started.1).to_string(),
        error,
    });

    // Deliver before reporting done: the page's slot stays taken until every output and
    // subscriber has it, which bounds what waits in their mailboxes.
    for sink in &shared.sinks {
        let _ = sink.send(WriteRecord(Arc::clone(&record))).await;
    }
    if !shared.page_subscribers.is_empty() {
        let page = PageFetched {
            record: Arc::clone(&record),
            headers: Arc::new(response.headers),
            body: response.body,
            links: output.links.into(),
        };
        for subscriber in &shared.page_subscribers {
            // A subscriber that has stopped no longer wants pages; the crawl goes on.
            let _ = subscriber.send(page.clone()).await;
        }
    }
    for item in output.items {
        for subscriber in &shared.item_subscribers {
            let msg = ItemExtracted {
                url: record.url.clone(),
                item: item.clone(),
            };
            let _ = subscriber.send(msg).await;
        }
    }
    Finished::page(record, output.new_links, output.counts)
}

/// Requests `job.target` and reads the response, or decides where its redirect leads.
async fn fetch(ctx: &FetchContext, mut job: FetchJob) -> Hop {
    let shared = &ctx.shared;
    let mut response = match ctx.client.get(job.target.clone()).send().await {
        Ok(response) => response,
        Err(e) => return Hop::Final(Response::failed(error_of(&e)), job),
    };
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    if matches!(status, 301 | 302 | 303 | 307 | 308) {
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| job.target.join(l.trim()).ok())
            .map(normalize);
        // Read the (small) body so the connection can be reused.
        let _ = read_body(&mut response, 64 * 1024).await;
        job.redirects.push(Redirect {
            url: job.target.clone(),
            status,
            location: location.clone(),
        });
        let mut last = Response::failed(RecordError {
            kind: ErrorKind::RedirectInvalid,
            message: String::new(),
        });
        last.status = Some(status);
        last.headers = headers;
        last.content_type = content_type;
        let fail = |mut last: Response, job, kind, message: String| {
            last.error = Some(RecordError { kind, message });
            Hop::Final(last, job)
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
        if location == job.request.url || job.redirects.iter().any(|r| r.url == location) {
            return fail(
                last,
                job,
                ErrorKind::RedirectLoop,
                format!("redirect loop back to {location}"),
            );
        }
        if !shared.scope.allows(&location) {
            return fail(
                last,
                job,
                ErrorKind::RedirectOutOfScope,
                format!("redirect to {location} not followed: out of scope"),
            );
        }
        if !shared.seen.insert(Fingerprint::of(&location)) {
            // The target is crawled on its own (or was): this URL ends at its redirect.
            last.error = None;
            return Hop::Final(last, job);
        }
        job.target = location;
        return Hop::Redirect(job);
    }

    let (body, truncated, error) = read_body(&mut response, shared.max_body).await;
    Hop::Final(
        Response {
            status: Some(status),
            headers,
            content_type,
            body,
            truncated,
            error,
        },
        job,
    )
}

/// Reads a body up to `max` bytes (after decompression). Returns the bytes, whether the body
/// was longer than `max`, and the error that broke it off, if any.
async fn read_body(
    response: &mut reqwest::Response,
    max: u64,
) -> (Bytes, bool, Option<RecordError>) {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let hint = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(16 * 1024);
    let mut body = BytesMut::with_capacity(hint.min(max));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = max - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    return (body.freeze(), true, None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return (body.freeze(), false, None),
            Err(e) => return (body.freeze(), false, Some(error_of(&e))),
        }
    }
}

/// Classifies a reqwest error, with its chain of causes as the message.
fn error_of(error: &reqwest::Error) -> RecordError {
    let kind = if error.is_timeout() {
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
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    RecordError { kind, message }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A record for a job that failed before any usable response.
fn failed_record(
    request: &CrawlRequest,
    final_url: &Url,
    redirects: &[Redirect],
    started: (Instant, SystemTime),
    error: RecordError,
) -> Arc<PageRecord> {
    Arc::new(PageRecord {
        url: request.url.clone(),
        final_url: final_url.clone(),
        status: None,
        depth: request.depth,
        parent: request.parent.clone(),
        content_type: None,
        bytes: 0,
        truncated: false,
        links: 0,
        new_links: 0,
        redirects: redirects.to_vec(),
        elapsed_ms: elapsed_ms(started.0),
        fetched_at: humantime::format_rfc3339_millis(started.1).to_string(),
        error: Some(error),
    })
}

/// Builds the HTTP client of one fetcher thread.
pub(crate) fn build_client(settings: &ClientSettings) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .user_agent(settings.user_agent.clone())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true);
    for (host, addr) in &settings.resolve {
        builder = builder.resolve(host, *addr);
    }
    builder.build()
}

/// What a fetcher's client is built from.
#[derive(Debug, Clone)]
pub(crate) struct ClientSettings {
    pub user_agent: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub resolve: Vec<(String, std::net::SocketAddr)>,
}
