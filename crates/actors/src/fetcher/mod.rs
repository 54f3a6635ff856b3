//! Fetcher actors: one per fetcher thread, each running many requests at once.
//!
//! - [`http`]: sending (clients, proxies, address checks), bodies, errors;
//! - [`page`]: a page's fetch, hop by hop, and its delivery;
//! - [`redirect`]: the redirect decision, as a pure function;
//! - [`archive`]: what archives get of each exchange;
//! - [`resources`]: robots.txt and sitemaps.

mod archive;
mod http;
mod page;
mod redirect;
mod resources;

pub(crate) use http::{ClientSettings, build_client};

use archive::*;
use http::*;
use page::*;
use resources::*;

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as _;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::{Actor, Addr, Context, Handler, Recipient};
use arachne_core::hook::{Decision, Hook, Incoming, Outgoing};
use arachne_core::spider::Spider;
use arachne_core::store::RobotsFetch;
use arachne_core::{
    CrawlRequest, ErrorKind, HttpExchange, PageRecord, ROBOTS_MAX_BYTES, RecordError, Redirect,
    RobotsRules, SITEMAP_MAX_BYTES, host_key, is_html, same_site,
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
use crate::journal::{ItemJson, PageEnd, PageFinished, StoreClient};
use crate::parser::{LinkCounts, Parse, ParseOutput, ParseSitemap, Parser};
use crate::protocol::{
    Done, Fetch, FetchJob, Finished, HopStats, JobKind, PageDone, RobotsOutcome, SitemapDone,
};
use crate::resolve::{DeniedAddress, Resolver, is_denied};
use crate::scope::SharedScope;
use crate::sink::{Sink, WriteExchange};

/// What every fetcher shares: limits, scope, the seen set, and where results go.
pub(crate) struct FetchShared {
    pub max_body: u64,
    pub max_redirects: u32,
    pub retries: u32,
    pub deny_private: bool,
    /// The user agent's product token, which robots.txt rules are matched against.
    pub product_token: String,
    pub scope: SharedScope,
    /// Where links are claimed and outcomes recorded.
    pub store: StoreClient,
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
    /// Whether the crawl's state has archives (written by the journal).
    pub durable_archives: bool,
    /// The user agent, for the request records of archives.
    pub user_agent: String,
    /// Outputs, pipeline and subscribers.
    pub delivery: Delivery,
    /// How to build a client for a proxy a hook asks for.
    pub client_settings: ClientSettings,
}

impl FetchShared {
    /// Whether exchanges are archived at all.
    pub fn archiving(&self) -> bool {
        !self.archives.is_empty() || self.durable_archives
    }
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
    supervisor: Recipient<Done>,
}

impl Fetcher {
    pub fn new(
        client: reqwest::Client,
        shared: Arc<FetchShared>,
        supervisor: Recipient<Done>,
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
                storing: false,
                lost: Some(LostJob {
                    request: job.request.clone(),
                    nesting: job_nesting(&job.kind),
                }),
            };
            let (finished, response) = match std::mem::replace(&mut job.kind, JobKind::Page) {
                JobKind::Page => run_page(&ctx, job, &mut guard).await,
                JobKind::Robots => (run_robots(&ctx, job).await, None),
                JobKind::Sitemap { nesting, from_user } => {
                    (run_sitemap(&ctx, job, nesting, from_user).await, None)
                }
                JobKind::Refused(error) => (refuse(&ctx, job, error, &mut guard).await, None),
            };
            guard.lost = None;
            let done = match (guard.storing, finished) {
                // The request's slot was given back already: this is the page's end.
                (true, Finished::Page(page)) => guard.done(Finished::Stored(page), None),
                (_, finished) => guard.done(finished, response),
            };
            ctx.supervisor.do_send(done);
        });
    }
}

/// Makes sure the supervisor hears of every job, even if its task dies: otherwise the
/// crawl would wait for it forever.
pub(super) struct DoneGuard {
    supervisor: Recipient<Done>,
    fetcher: usize,
    host: String,
    charged_host: bool,
    /// The page is with a durable store: its request's slot was given back
    /// ([`Finished::Storing`]), and its end comes as [`Finished::Stored`].
    storing: bool,
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
    /// Gives the request's slot back while the page is stored (with its response's
    /// latency and status, for autothrottle).
    pub(super) fn storing(&mut self, response: HopStats) {
        if self.storing {
            return;
        }
        let done = self.done(Finished::Storing, response);
        self.host = done.host.clone();
        self.supervisor.do_send(done);
        self.storing = true;
    }

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
                let page = Box::new(PageDone::failed(Arc::new(record), job.request.is_seed()));
                if self.storing {
                    Finished::Stored(page)
                } else {
                    Finished::Page(page)
                }
            }
            Some(None) => Finished::Robots {
                host: self.host.clone(),
                outcome: RobotsOutcome::Unavailable(error),
                archived: Vec::new(),
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
                archived: Vec::new(),
            })),
        };
        let done = self.done(finished, None);
        self.supervisor.do_send(done);
    }
}
