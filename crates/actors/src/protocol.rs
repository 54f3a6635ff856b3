//! The messages between the supervisor and the fetchers. Each actor holds a `Recipient` of
//! the messages it sends, not the other's address, so the dependencies run one way:
//! both depend on this module, neither on the other.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::Message;
use arachne_core::store::{RobotsFetch, StoreError};
use arachne_core::{
    CrawlRequest, Fingerprint, HttpExchange, PageRecord, RecordError, Redirect, RobotsRules,
};
use url::Url;

use crate::deliver::ItemCounts;
use crate::parser::LinkCounts;

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
    pub chain: Vec<Fingerprint>,
    pub redirects: Vec<Redirect>,
    /// Requests made for the current hop (retries included).
    pub attempts: u32,
    /// When the first hop started; set by the fetcher.
    pub started: Option<(Instant, SystemTime)>,
    /// The redirect targets claimed on the way (the store keeps these claims with the
    /// page's outcome).
    pub hops: Vec<Fingerprint>,
    /// Exchanges for the durable archives, written with the page's outcome.
    pub archived: Vec<Arc<HttpExchange>>,
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
            hops: Vec::new(),
            archived: Vec::new(),
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

/// Latency and status of a hop's response, for autothrottle.
pub(crate) type HopStats = Option<(Duration, Option<u16>)>;

/// A fetcher finished a job's hop. Exactly one `Done` arrives for every `Fetch` sent.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Done {
    pub fetcher: usize,
    /// The host the hop went to, and whether it counted against that host's limit.
    pub host: String,
    pub charged_host: bool,
    /// Latency and status of the response, for autothrottle.
    pub response: Option<(Duration, Option<u16>)>,
    pub finished: Finished,
}

pub(crate) enum Finished {
    /// The URL is done: its record, and the new in-scope links of its page.
    Page(Box<PageDone>),
    /// The page's request is over and the page goes to a durable store, a stage of its own:
    /// the request's slot is free, and the page's end comes as `Stored`. (Exactly one
    /// `Done` still comes for every `Fetch`; a `Stored` follows a `Storing`.)
    Storing,
    /// A page that was `Storing` is done, as `Page` says.
    Stored(Box<PageDone>),
    /// The URL redirected to a new, in-scope URL: the next hop goes through the supervisor,
    /// so it obeys the same politeness as any request.
    Redirect(Box<FetchJob>),
    /// A transient failure: try the hop again after a backoff, or after `Retry-After`.
    Retry {
        job: Box<FetchJob>,
        retry_after: Option<Duration>,
    },
    /// A host's robots.txt arrived, or could not be had.
    Robots {
        host: String,
        outcome: RobotsOutcome,
        /// Its exchanges, for the durable archives: written with what the store keeps of
        /// the host, in one call.
        archived: Vec<Arc<HttpExchange>>,
    },
    /// A sitemap was read, or could not be.
    Sitemap(Box<SitemapDone>),
}

pub(crate) enum RobotsOutcome {
    /// The rules, and what the store keeps of them.
    Rules(RobotsRules, RobotsFetch),
    /// 5xx, 429 or no response: the host waits, and its robots.txt is tried again. The
    /// kind says why: `connect` or `timeout` when the host cannot be reached (its pages'
    /// records then carry that kind), `robots_unavailable` otherwise.
    Unavailable(RecordError),
    /// robots.txt redirected to a host out of scope, which is not fetched: the host is
    /// crawled as if it had none (as for a 4xx, RFC 9309).
    RedirectOutOfScope(String),
}

/// What a sitemap gave.
pub(crate) struct SitemapDone {
    pub url: Url,
    /// In-scope page URLs not seen yet, to claim.
    pub pages: Vec<Url>,
    /// Sitemaps that a sitemap index lists.
    pub nested: Vec<Url>,
    pub nesting: u32,
    /// Whether the user named it (or an index the user named lists it).
    pub from_user: bool,
    pub counts: LinkCounts,
    /// Why it could not be read.
    pub error: Option<String>,
    /// It redirected out of scope, and the redirect was not followed.
    pub redirect_out_of_scope: bool,
    /// Its exchanges, for the durable archives: written with its URLs and the note that it
    /// was read, in one call.
    pub archived: Vec<Arc<HttpExchange>>,
}

pub(crate) struct PageDone {
    pub record: Arc<PageRecord>,
    /// Whether the page was one of the seeds.
    pub seed: bool,
    /// The requests the page was first to ask for (its new links and the spider's
    /// follow-ups), claimed and queued in the store.
    pub queued: u32,
    pub counts: LinkCounts,
    /// What became of the page's items.
    pub items: ItemCounts,
    /// Whether the spider failed on the page.
    pub spider_error: bool,
    /// The store failed while the page's links or outcome were recorded.
    pub store_error: Option<StoreError>,
}

impl PageDone {
    /// A page recorded without a response to parse.
    pub fn failed(record: Arc<PageRecord>, seed: bool) -> Self {
        Self {
            record,
            seed,
            queued: 0,
            counts: LinkCounts::default(),
            items: ItemCounts::default(),
            spider_error: false,
            store_error: None,
        }
    }
}
