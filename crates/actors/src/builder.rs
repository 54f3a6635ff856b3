//! The builder of a crawl: seeds, scope, limits, politeness, the spider, the pipeline,
//! hooks, outputs and subscribers.

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Handler, Recipient};
use arachne_core::hook::{Decision, Hook, Incoming, OnRequest, OnResponse, Outgoing};
use arachne_core::pipeline::{Stage, typed};
use arachne_core::spider::{FollowLinks, Spider};
use arachne_core::store::{CrawlSpec, MemoryStore, Opening, Store, StoreError};
use arachne_core::{
    CrawlHandle, CrawlRequest, CrawlStats, DEFAULT_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DELAY, DEFAULT_MAX_BODY, DEFAULT_MAX_CRAWL_DELAY, DEFAULT_MAX_REDIRECTS,
    DEFAULT_MAX_URL_LENGTH, DEFAULT_PER_HOST, DEFAULT_RETRIES, DEFAULT_RETRY_BACKOFF,
    DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, ENV_CONCURRENCY, ENV_DELAY, ENV_FETCH_THREADS,
    ENV_PARSE_THREADS, ENV_PER_HOST, ExchangeWriter, Frontier, ItemWriter, JsonLinesWriter,
    MemoryFrontier, MemorySeenSet, RecordWriter, Request, RequestError, Scope, ScopeRules, SeenSet,
    default_fetch_threads, default_parse_threads, parse_seed, product_token, settings,
};
use url::Url;

use crate::crawler::Crawler;
use crate::deliver::{ItemFn, PageFn, StageKind};
use crate::error::Error;
use crate::fetcher::{ClientSettings, build_client};
use crate::messages::{ItemScraped, PageFetched, ProcessItem};
use crate::outputs::{FileKind, FileOutput, OpenError};
use crate::resolve::Resolver;
use crate::supervisor::Limits;

/// Builds a [`Crawler`]. Start with [`Crawler::builder`].
///
/// A bad value given to a setter is recorded, and [`CrawlerBuilder::build`] reports the
/// first one, so setters chain without `?`. Each setter states its default and the values
/// it accepts; the ranges are in [`settings`], shared with the command line. Zero is
/// accepted where it means "none" (no delay, no retries); limits are at least 1.
#[must_use]
pub struct CrawlerBuilder {
    seeds: Vec<Request>,
    scope: Scope,
    include: Vec<String>,
    exclude: Vec<String>,
    max_depth: Option<u32>,
    max_pages: Option<u64>,
    concurrency: usize,
    per_host: usize,
    fetch_threads: usize,
    parse_threads: usize,
    timeout: Duration,
    connect_timeout: Duration,
    max_body: u64,
    max_redirects: u32,
    user_agent: String,
    resolve: Vec<(String, SocketAddr)>,
    delay: Duration,
    max_crawl_delay: Duration,
    autothrottle: bool,
    obey_robots: bool,
    sitemaps_from_robots: bool,
    sitemap_urls: Vec<String>,
    retries: u32,
    retry_backoff: Duration,
    max_url_length: usize,
    max_pages_per_host: Option<u64>,
    deny_private_ips: bool,
    outputs: Vec<Box<dyn RecordWriter>>,
    archives: Vec<Box<dyn ExchangeWriter>>,
    item_outputs: Vec<Box<dyn ItemWriter>>,
    /// Outputs named by path, opened by `build`.
    files: Vec<FileOutput>,
    subscribers: Subscribers,
    spider: Option<Arc<dyn Spider>>,
    stages: Vec<StageKind>,
    hooks: Vec<Arc<dyn Hook>>,
    handle: CrawlHandle,
    cookies: bool,
    close_after_items: Option<u64>,
    close_after_errors: Option<u64>,
    close_after: Option<Duration>,
    frontier: Option<Box<dyn Frontier>>,
    seen: Option<Arc<dyn SeenSet>>,
    store: Option<Box<dyn Store>>,
    state: Option<PathBuf>,
    force: bool,
    /// The first bad value given to a setter, reported by `build`.
    error: Option<Error>,
    /// `ARACHNE_*` variables that did not parse, by the setter that overrides them: reported
    /// by `build` unless that setter was called.
    env_errors: Vec<(&'static str, Error)>,
}

/// Everyone who receives pages and items, as registered.
#[derive(Default)]
pub(crate) struct Subscribers {
    pub page_actors: Vec<Recipient<PageFetched>>,
    pub item_actors: Vec<Recipient<ItemScraped>>,
    pub page_fns: Vec<PageFn>,
    pub item_fns: Vec<ItemFn>,
    /// Actors the crawl starts in its own actor system.
    pub page_starters: Vec<Box<dyn FnOnce() -> Recipient<PageFetched> + Send>>,
    pub item_starters: Vec<Box<dyn FnOnce() -> Recipient<ItemScraped> + Send>>,
}

impl fmt::Debug for CrawlerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrawlerBuilder")
            .field("seeds", &self.seeds)
            .field("scope", &self.scope)
            .field("concurrency", &self.concurrency)
            .field("per_host", &self.per_host)
            .field("fetch_threads", &self.fetch_threads)
            .field("parse_threads", &self.parse_threads)
            .finish_non_exhaustive()
    }
}

impl Default for CrawlerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl CrawlerBuilder {
    /// A builder with the defaults. It reads no environment variable: see
    /// [`CrawlerBuilder::from_env`].
    pub fn new() -> Self {
        Self {
            seeds: Vec::new(),
            scope: Scope::default(),
            include: Vec::new(),
            exclude: Vec::new(),
            max_depth: None,
            max_pages: None,
            concurrency: DEFAULT_CONCURRENCY,
            per_host: DEFAULT_PER_HOST,
            fetch_threads: default_fetch_threads(),
            parse_threads: default_parse_threads(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            resolve: Vec::new(),
            delay: DEFAULT_DELAY,
            max_crawl_delay: DEFAULT_MAX_CRAWL_DELAY,
            autothrottle: false,
            obey_robots: true,
            sitemaps_from_robots: true,
            sitemap_urls: Vec::new(),
            retries: DEFAULT_RETRIES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            max_url_length: DEFAULT_MAX_URL_LENGTH,
            max_pages_per_host: None,
            deny_private_ips: false,
            outputs: Vec::new(),
            archives: Vec::new(),
            item_outputs: Vec::new(),
            files: Vec::new(),
            subscribers: Subscribers::default(),
            spider: None,
            stages: Vec::new(),
            hooks: Vec::new(),
            handle: CrawlHandle::new(),
            cookies: true,
            close_after_items: None,
            close_after_errors: None,
            close_after: None,
            frontier: None,
            seen: None,
            store: None,
            state: None,
            force: false,
            error: None,
            env_errors: Vec::new(),
        }
    }

    /// A builder with the defaults, after the environment variables
    /// `ARACHNE_FETCH_THREADS`, `ARACHNE_PARSE_THREADS`, `ARACHNE_CONCURRENCY`,
    /// `ARACHNE_PER_HOST` and `ARACHNE_DELAY` (in the syntax of [`settings`]), as the
    /// command line does. Setters override them; a variable that does not parse fails
    /// [`CrawlerBuilder::build`], unless its setter was called.
    pub fn from_env() -> Self {
        let mut builder = Self::new();
        builder.read_env();
        builder
    }

    /// Reads the knobs' environment variables; unset and empty ones are left alone.
    fn read_env(&mut self) {
        let var = |name: &'static str| match std::env::var(name) {
            Ok(value) if value.trim().is_empty() => Ok(None),
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::InvalidSetting {
                name,
                message: "not valid UTF-8".into(),
            }),
        };
        let invalid = |name, message| Error::InvalidSetting { name, message };
        let counts = [
            (
                ENV_FETCH_THREADS,
                "fetch_threads",
                settings::FETCH_THREADS,
                &mut self.fetch_threads,
            ),
            (
                ENV_PARSE_THREADS,
                "parse_threads",
                settings::PARSE_THREADS,
                &mut self.parse_threads,
            ),
            (
                ENV_CONCURRENCY,
                "concurrency",
                settings::CONCURRENCY,
                &mut self.concurrency,
            ),
            (
                ENV_PER_HOST,
                "per_host",
                settings::PER_HOST,
                &mut self.per_host,
            ),
        ];
        for (name, setter, range, slot) in counts {
            match var(name) {
                Ok(Some(text)) => match range.parse(&text) {
                    // Within the range, which fits a usize.
                    Ok(n) => *slot = usize::try_from(n).unwrap_or(usize::MAX),
                    Err(message) => self.env_errors.push((setter, invalid(name, message))),
                },
                Ok(None) => {}
                Err(error) => self.env_errors.push((setter, error)),
            }
        }
        match var(ENV_DELAY) {
            Ok(Some(text)) => match settings::DELAY.parse(&text) {
                Ok(delay) => self.delay = delay,
                Err(message) => self.env_errors.push(("delay", invalid(ENV_DELAY, message))),
            },
            Ok(None) => {}
            Err(error) => self.env_errors.push(("delay", error)),
        }
    }

    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    /// Takes a setter's checked value: the value, or `None` after recording why not. The
    /// setter overrides its environment variable, bad or not.
    fn checked<T>(&mut self, setter: &'static str, checked: Result<T, String>) -> Option<T> {
        self.env_errors.retain(|(name, _)| *name != setter);
        match checked {
            Ok(value) => Some(value),
            Err(message) => {
                self.fail(Error::InvalidSetting {
                    name: setter,
                    message,
                });
                None
            }
        }
    }

    /// Sets a count after checking it against its range.
    fn set_count(
        mut self,
        setter: &'static str,
        range: settings::CountRange,
        n: usize,
        slot: fn(&mut Self) -> &mut usize,
    ) -> Self {
        if self.checked(setter, range.check(n as u64)).is_some() {
            *slot(&mut self) = n;
        }
        self
    }

    /// Adds a seed: an absolute http or https URL, or a [`Request`] with a label, data, a
    /// method and body, crawled at depth 0. Seeds are always crawled, whatever the include
    /// and exclude patterns; duplicates are crawled once.
    pub fn seed(mut self, seed: impl Into<Request>) -> Self {
        self.seeds.push(seed.into());
        self
    }

    /// Adds several seeds.
    pub fn seeds<I, S>(mut self, seeds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Request>,
    {
        self.seeds.extend(seeds.into_iter().map(Into::into));
        self
    }

    /// The handle that steers this crawl: give it to your actors, pipeline stages or
    /// signal handlers before the crawl is built. Every call gives the same crawl's handle.
    pub fn handle(&self) -> CrawlHandle {
        self.handle.clone()
    }

    /// The spider: the code that turns pages into items and follow-up requests (see
    /// [`arachne_core::spider`]). A closure `|page: &Page, out: &mut Out| ...` is one. By
    /// default, [`FollowLinks`]: every in-scope link is followed, no items.
    pub fn spider(mut self, spider: impl Spider) -> Self {
        self.spider = Some(Arc::new(spider));
        self
    }

    /// Adds a pipeline stage for items of type `T`: it returns the item (changed or not),
    /// or `None` to drop it. Items of other types pass it by. Stages run in the order
    /// added, on the fetcher threads; keep them quick, or use an actor
    /// ([`CrawlerBuilder::stage_actor`]) for work that waits.
    pub fn pipeline<T, F>(self, stage: F) -> Self
    where
        T: serde::Serialize + Send + Sync + 'static,
        F: Fn(T) -> Option<T> + Send + Sync + 'static,
    {
        self.stage(typed(stage))
    }

    /// Adds a pipeline stage over items of any type (see [`arachne_core::pipeline`]).
    pub fn stage(mut self, stage: impl Stage) -> Self {
        self.stages.push(StageKind::Sync(Arc::new(stage)));
        self
    }

    /// Adds a pipeline stage that is an actor: it receives a [`ProcessItem`] and answers
    /// with the item, or `None` to drop it. The page waits for its answer.
    pub fn stage_actor(mut self, actor: Recipient<ProcessItem>) -> Self {
        self.stages.push(StageKind::Actor(actor));
        self
    }

    /// Adds a request and response hook (see [`arachne_core::hook`]). Hooks run in the
    /// order added.
    pub fn hook(mut self, hook: impl Hook) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// Adds a hook from a closure over each request before it is sent: set headers, a
    /// proxy; drop it.
    pub fn on_request<F>(self, f: F) -> Self
    where
        F: Fn(&mut Outgoing<'_>) -> Decision + Send + Sync + 'static,
    {
        self.hook(OnRequest(f))
    }

    /// Adds a hook from a closure over each final response before it is parsed: retry it,
    /// drop it, or let it go on.
    pub fn on_response<F>(self, f: F) -> Self
    where
        F: Fn(&Incoming<'_>) -> Decision + Send + Sync + 'static,
    {
        self.hook(OnResponse(f))
    }

    /// Whether the crawl keeps cookies (one jar for the crawl, as Scrapy's
    /// `COOKIES_ENABLED`): a session cookie set by a login response is sent with the
    /// pages after it. By default, on.
    pub fn cookies(mut self, on: bool) -> Self {
        self.cookies = on;
        self
    }

    /// Stops the crawl once this many items have been emitted (Scrapy's
    /// `CLOSESPIDER_ITEMCOUNT`): exactly this many reach the outputs and subscribers.
    /// Pipeline stages see items before the limit, so a stage that writes items elsewhere
    /// may see a few more. At least 1. By default, no limit.
    pub fn close_after_items(mut self, items: u64) -> Self {
        if let Some(items) = self.checked("close_after_items", settings::MAX_PAGES.check(items)) {
            self.close_after_items = Some(items);
        }
        self
    }

    /// Stops the crawl once this many pages have failed (Scrapy's
    /// `CLOSESPIDER_ERRORCOUNT`): a fetch that failed (timeout, connect, ...), or a page the
    /// spider failed on. Refusals (robots.txt, a hook's drop, a denied address) are not
    /// failures. At least 1. By default, no limit.
    pub fn close_after_errors(mut self, errors: u64) -> Self {
        if let Some(errors) = self.checked("close_after_errors", settings::MAX_PAGES.check(errors))
        {
            self.close_after_errors = Some(errors);
        }
        self
    }

    /// Stops the crawl after this long (Scrapy's `CLOSESPIDER_TIMEOUT`); what is in flight
    /// finishes. From 1 ms to a day. By default, no limit. The page count is
    /// [`CrawlerBuilder::max_pages`].
    pub fn close_after(mut self, after: Duration) -> Self {
        if let Some(after) = self.checked("close_after", settings::TIMEOUT.check(after)) {
            self.close_after = Some(after);
        }
        self
    }

    /// Which discovered URLs are followed, relative to the seeds. By default,
    /// [`Scope::Host`].
    ///
    /// A seed follows its redirects within its site ([`arachne_core::same_site`]), and its
    /// part of the scope is then taken from where it lands: with [`Scope::Prefix`], a seed
    /// `http://a.test/book` that redirects to `/book/` covers `/book/`, not the whole host.
    /// A redirect to another site is recorded as `redirect_out_of_scope`. While a seed has
    /// not landed, URLs that only its part of the scope allows wait, and sitemaps too.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Follows only URLs matching this regular expression (or another include pattern).
    /// Patterns match the whole normalized URL text, anywhere in it unless anchored. By
    /// default, none: every URL in scope.
    pub fn include(mut self, pattern: impl Into<String>) -> Self {
        self.include.push(pattern.into());
        self
    }

    /// Never follows URLs matching this regular expression. By default, none.
    pub fn exclude(mut self, pattern: impl Into<String>) -> Self {
        self.exclude.push(pattern.into());
        self
    }

    /// The greatest link distance from a seed that is crawled: 0 crawls only the seeds.
    /// By default, no limit.
    ///
    /// With a depth limit the crawl goes level by level (no URL of depth d+1 starts before
    /// every URL of depth d is done), so each URL's depth is its shortest link distance and
    /// the limit is exact. Without one, levels overlap for speed, and a URL's depth is that
    /// of the path it was first found by, which concurrency can make longer than the
    /// shortest.
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = Some(depth);
        self
    }

    /// The most URLs fetched (records written), counting seeds and failures: at least 1. By
    /// default, no limit.
    pub fn max_pages(mut self, pages: u64) -> Self {
        if let Some(pages) = self.checked("max_pages", settings::MAX_PAGES.check(pages)) {
            self.max_pages = Some(pages);
        }
        self
    }

    /// Requests in flight at once over the crawl. A request counts from dispatch until its
    /// page is parsed and delivered to outputs and subscribers. By default,
    /// [`DEFAULT_CONCURRENCY`] (64), or `ARACHNE_CONCURRENCY`; from 1 to 10,000
    /// ([`settings::CONCURRENCY`]).
    pub fn concurrency(self, n: usize) -> Self {
        self.set_count("concurrency", settings::CONCURRENCY, n, |b| {
            &mut b.concurrency
        })
    }

    /// Requests in flight at once to one host (host name and port). By default,
    /// [`DEFAULT_PER_HOST`] (2), or `ARACHNE_PER_HOST`; from 1 to 10,000.
    pub fn per_host(self, n: usize) -> Self {
        self.set_count("per_host", settings::PER_HOST, n, |b| &mut b.per_host)
    }

    /// Fetcher threads (actix arbiters), each with its own HTTP client and many requests in
    /// flight. By default, one per four cores ([`default_fetch_threads`]), or
    /// `ARACHNE_FETCH_THREADS`; from 1 to 64 ([`settings::FETCH_THREADS`]).
    pub fn fetch_threads(self, n: usize) -> Self {
        self.set_count("fetch_threads", settings::FETCH_THREADS, n, |b| {
            &mut b.fetch_threads
        })
    }

    /// Parser threads (a `SyncArbiter`), parsing pages in parallel. By default, one per core
    /// ([`default_parse_threads`]), or `ARACHNE_PARSE_THREADS`; from 1 to 256
    /// ([`settings::PARSE_THREADS`]).
    pub fn parse_threads(self, n: usize) -> Self {
        self.set_count("parse_threads", settings::PARSE_THREADS, n, |b| {
            &mut b.parse_threads
        })
    }

    /// The total time allowed for one request, connecting to the last body byte. By
    /// default, [`DEFAULT_TIMEOUT`] (30 s); from 1 ms to a day ([`settings::TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        if let Some(timeout) = self.checked("timeout", settings::TIMEOUT.check(timeout)) {
            self.timeout = timeout;
        }
        self
    }

    /// The time allowed to open a connection. By default, [`DEFAULT_CONNECT_TIMEOUT`]
    /// (10 s); from 1 ms to a day.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        if let Some(timeout) = self.checked("connect_timeout", settings::TIMEOUT.check(timeout)) {
            self.connect_timeout = timeout;
        }
        self
    }

    /// The body-size cap, in bytes after decompression; longer bodies are cut and recorded
    /// as truncated. By default, [`DEFAULT_MAX_BODY`] (10 MiB); from 1 byte to 1 GiB
    /// ([`settings::MAX_BODY`]).
    pub fn max_body(mut self, bytes: u64) -> Self {
        if let Some(bytes) = self.checked("max_body", settings::MAX_BODY.check(bytes)) {
            self.max_body = bytes;
        }
        self
    }

    /// The most redirects followed for one URL: 0 follows none. By default,
    /// [`DEFAULT_MAX_REDIRECTS`] (10); at most 100.
    pub fn max_redirects(mut self, n: u32) -> Self {
        if self
            .checked("max_redirects", settings::MAX_REDIRECTS.check(n.into()))
            .is_some()
        {
            self.max_redirects = n;
        }
        self
    }

    /// The `User-Agent` header. By default, [`DEFAULT_USER_AGENT`].
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// The least time between two request starts to one host (each gap is this times a
    /// random factor from 1 to 1.5). A longer robots.txt `Crawl-delay` wins. By default,
    /// [`DEFAULT_DELAY`] (1 s), or `ARACHNE_DELAY`; from 0 (none) to a day
    /// ([`settings::DELAY`]).
    pub fn delay(mut self, delay: Duration) -> Self {
        if let Some(delay) = self.checked("delay", settings::DELAY.check(delay)) {
            self.delay = delay;
        }
        self
    }

    /// The longest robots.txt `Crawl-delay` obeyed; longer ones are cut to this, and 0
    /// obeys none. By default, [`DEFAULT_MAX_CRAWL_DELAY`] (30 s); at most a day.
    pub fn max_crawl_delay(mut self, delay: Duration) -> Self {
        if let Some(delay) = self.checked("max_crawl_delay", settings::MAX_CRAWL_DELAY.check(delay))
        {
            self.max_crawl_delay = delay;
        }
        self
    }

    /// Adapts each host's delay to its latency, as Scrapy's AutoThrottle: the delay moves
    /// halfway to the latency after every response (never below [`Self::delay`], at most
    /// 60 s), does not shrink on error responses, and doubles on 429 and 503. By default,
    /// off.
    pub fn autothrottle(mut self, on: bool) -> Self {
        self.autothrottle = on;
        self
    }

    /// Whether robots.txt is fetched and obeyed (RFC 9309), matching the product token of
    /// the user agent. URLs it forbids are recorded with the error kind
    /// `robots_disallowed`. By default, obeyed.
    pub fn obey_robots(mut self, obey: bool) -> Self {
        self.obey_robots = obey;
        self
    }

    /// Whether the `Sitemap:` lines of robots.txt are followed: those on a host the scope
    /// covers ([`ScopeRules::covers_host`]); the others are counted in
    /// `CrawlReport::resources_out_of_scope` and not fetched. Sitemap URLs enter the
    /// frontier at depth 0, under the same scope rules. By default, on.
    pub fn sitemaps(mut self, on: bool) -> Self {
        self.sitemaps_from_robots = on;
        self
    }

    /// Adds a sitemap to read (XML, gzipped XML, or text), on any host: it is fetched even
    /// out of scope, since it was named, and so are its redirects on the same host. The
    /// sitemaps a sitemap index lists, and the URLs of all of them, obey the scope.
    /// Sitemaps are read once every seed has landed. One that cannot be read is logged at
    /// warn level and counted in `CrawlReport::sitemaps_failed`.
    pub fn sitemap(mut self, url: impl AsRef<str>) -> Self {
        self.sitemap_urls.push(url.as_ref().to_owned());
        self
    }

    /// Retries of a transient failure (connect error, reset, timeout, 429, 5xx other than
    /// 501), with exponential backoff and jitter: 0 retries none. By default,
    /// [`DEFAULT_RETRIES`] (2); at most 100.
    pub fn retries(mut self, n: u32) -> Self {
        if self
            .checked("retries", settings::RETRIES.check(n.into()))
            .is_some()
        {
            self.retries = n;
        }
        self
    }

    /// The base of the exponential backoff between retries. By default,
    /// [`DEFAULT_RETRY_BACKOFF`] (1 s); at most an hour.
    pub fn retry_backoff(mut self, base: Duration) -> Self {
        if let Some(base) = self.checked("retry_backoff", settings::RETRY_BACKOFF.check(base)) {
            self.retry_backoff = base;
        }
        self
    }

    /// The longest URL followed, in bytes; longer links are counted and dropped. By
    /// default, [`DEFAULT_MAX_URL_LENGTH`] (2,048); from 1 to 1 MiB.
    pub fn max_url_length(self, bytes: usize) -> Self {
        self.set_count("max_url_length", settings::MAX_URL_LENGTH, bytes, |b| {
            &mut b.max_url_length
        })
    }

    /// The most URLs queued per host (seeds and sitemap URLs included): at least 1. By
    /// default, no limit.
    pub fn max_pages_per_host(mut self, pages: u64) -> Self {
        if let Some(pages) = self.checked("max_pages_per_host", settings::MAX_PAGES.check(pages)) {
            self.max_pages_per_host = Some(pages);
        }
        self
    }

    /// Refuses to connect to loopback, private, link-local and unspecified addresses, on
    /// every request and redirect, whether given literally or resolved from a name; such
    /// URLs are recorded with the error kind `denied_address`. For crawls whose seeds come
    /// from untrusted users. By default, off.
    pub fn deny_private_ips(mut self, deny: bool) -> Self {
        self.deny_private_ips = deny;
        self
    }

    /// Connects to `addr` for host name `host` instead of resolving it (like curl's
    /// `--resolve`); the port still comes from the URL. By default, none.
    pub fn resolve(mut self, host: impl Into<String>, addr: SocketAddr) -> Self {
        self.resolve.push((host.into().to_ascii_lowercase(), addr));
        self
    }

    /// Writes records as JSON Lines to a file, created (or truncated) by `build`. With a
    /// state file ([`CrawlerBuilder::state`]), a resumed crawl continues it instead, cut
    /// back to what the state committed: each record is in it once.
    pub fn jsonl_file(self, path: impl AsRef<Path>) -> Self {
        self.file(path, FileKind::RecordsJsonl)
    }

    /// Writes records as CSV to a file (see [`arachne_core::CsvWriter`] for the columns),
    /// created (or truncated) by `build`, or continued as [`CrawlerBuilder::jsonl_file`]
    /// says.
    pub fn csv_file(self, path: impl AsRef<Path>) -> Self {
        self.file(path, FileKind::RecordsCsv)
    }

    /// Archives every HTTP exchange (redirects and error responses included) in WARC
    /// files: `path`, or, with `max_size`, files numbered after it (`NAME-00000.warc.gz`,
    /// ...), a new one started past that size. Created by `build`, or continued as
    /// [`CrawlerBuilder::jsonl_file`] says.
    pub fn warc_file(mut self, path: impl AsRef<Path>, max_size: Option<u64>) -> Self {
        let software = format!("arachne/{}", env!("CARGO_PKG_VERSION"));
        self.files.push(FileOutput {
            path: path.as_ref().to_owned(),
            kind: FileKind::Warc { max_size, software },
        });
        self
    }

    fn file(mut self, path: impl AsRef<Path>, kind: FileKind) -> Self {
        self.files.push(FileOutput {
            path: path.as_ref().to_owned(),
            kind,
        });
        self
    }

    /// Writes records as JSON Lines to any writer (standard output, say).
    pub fn jsonl_writer(self, writer: impl Write + Send + 'static) -> Self {
        self.output(JsonLinesWriter::new(writer))
    }

    /// Writes records with a custom [`RecordWriter`]. Each output gets its own sink actor on
    /// its own thread.
    pub fn output(mut self, writer: impl RecordWriter) -> Self {
        self.outputs.push(Box::new(writer));
        self
    }

    /// Archives every HTTP exchange (each request and response, redirects and error
    /// responses included) with an [`ExchangeWriter`], such as `arachne_warc::WarcWriter`.
    /// Each archive gets its own sink actor on its own thread.
    pub fn archive(mut self, writer: impl ExchangeWriter) -> Self {
        self.archives.push(Box::new(writer));
        self
    }

    /// Writes items (after the pipeline) with an [`ItemWriter`]; each output gets its own
    /// sink actor on its own thread.
    pub fn item_output(mut self, writer: impl ItemWriter) -> Self {
        self.item_outputs.push(Box::new(writer));
        self
    }

    /// Writes items as JSON Lines to a file, created (or truncated) by `build`, or
    /// continued as [`CrawlerBuilder::jsonl_file`] says.
    pub fn items_jsonl(self, path: impl AsRef<Path>) -> Self {
        self.file(path, FileKind::ItemsJsonl)
    }

    /// Writes items as CSV to a file (see [`arachne_core::CsvItems`] for the columns),
    /// created (or truncated) by `build`, or continued as [`CrawlerBuilder::jsonl_file`]
    /// says.
    pub fn items_csv(self, path: impl AsRef<Path>) -> Self {
        self.file(path, FileKind::ItemsCsv)
    }

    /// Sends every fetched page to an actor that implements `Handler<PageFetched>`, by
    /// its `Recipient` (`addr.recipient()`), in whatever actor system it runs. The crawl
    /// waits for each delivery, so a slow subscriber slows the crawl instead of piling up
    /// pages.
    pub fn subscribe(mut self, recipient: Recipient<PageFetched>) -> Self {
        self.subscribers.page_actors.push(recipient);
        self
    }

    /// Sends every item out of the pipeline to an actor that implements
    /// `Handler<ItemScraped>`.
    pub fn subscribe_items(mut self, recipient: Recipient<ItemScraped>) -> Self {
        self.subscribers.item_actors.push(recipient);
        self
    }

    /// Starts `actor` in the crawl's own actor system and sends it every fetched page:
    /// for programs without an actor system of their own (see
    /// [`Crawler::run_blocking`]).
    pub fn subscribe_actor<A>(mut self, actor: A) -> Self
    where
        A: Actor<Context = actix::Context<A>> + Handler<PageFetched> + Send,
    {
        self.subscribers
            .page_starters
            .push(Box::new(move || actor.start().recipient()));
        self
    }

    /// Starts `actor` in the crawl's own actor system and sends it every item.
    pub fn subscribe_items_actor<A>(mut self, actor: A) -> Self
    where
        A: Actor<Context = actix::Context<A>> + Handler<ItemScraped> + Send,
    {
        self.subscribers
            .item_starters
            .push(Box::new(move || actor.start().recipient()));
        self
    }

    /// Calls `f` with every fetched page, on the fetcher threads: keep it quick.
    pub fn on_page(mut self, f: impl Fn(&PageFetched) + Send + Sync + 'static) -> Self {
        self.subscribers.page_fns.push(Arc::new(f));
        self
    }

    /// Calls `f` with every item out of the pipeline, on the fetcher threads: keep it
    /// quick.
    pub fn on_item(mut self, f: impl Fn(&ItemScraped) + Send + Sync + 'static) -> Self {
        self.subscribers.item_fns.push(Arc::new(f));
        self
    }

    /// Uses another frontier in the in-memory store. By default, a [`MemoryFrontier`].
    pub fn frontier(mut self, frontier: impl Frontier) -> Self {
        self.frontier = Some(Box::new(frontier));
        self
    }

    /// Uses another seen set in the in-memory store, possibly shared with other crawls. By
    /// default, a new [`MemorySeenSet`].
    pub fn seen_set(mut self, seen: Arc<dyn SeenSet>) -> Self {
        self.seen = Some(seen);
        self
    }

    /// Keeps the crawl's whole state in a SQLite file ([`arachne_sqlite::SqliteStore`]):
    /// its queue, seen set, outcomes, host state, and how far each output file was
    /// written. The crawl survives a crash or a stop: building the same crawl with the
    /// same file resumes it, fetching again only what was in flight, and the output files
    /// named by path ([`CrawlerBuilder::jsonl_file`] and the like) are continued with each
    /// record once. A file that holds another crawl (other seeds or scope) is refused
    /// unless [`CrawlerBuilder::force`].
    pub fn state(mut self, path: impl AsRef<Path>) -> Self {
        self.state = Some(path.as_ref().to_owned());
        self
    }

    /// Resumes a state file even if its seeds or scope differ: the crawl continues with
    /// the new ones. An output file shorter than the state says is continued as it is.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Keeps the crawl's state in another [`Store`]. By default, a
    /// [`MemoryStore`](arachne_core::store::MemoryStore). A store shared by several
    /// processes (`arachne::store::RedisStore`) makes this crawl one worker of a shared
    /// crawl: its output files are this worker's.
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// The settings a state file keeps besides the seeds and scope, as text.
    fn options(&self) -> std::collections::BTreeMap<String, String> {
        let duration = |d: Duration| humantime::format_duration(d).to_string();
        let limit = |n: Option<u64>| n.map_or_else(|| "none".to_owned(), |n| n.to_string());
        [
            ("concurrency", self.concurrency.to_string()),
            ("per-host", self.per_host.to_string()),
            ("delay", duration(self.delay)),
            ("max-crawl-delay", duration(self.max_crawl_delay)),
            ("autothrottle", self.autothrottle.to_string()),
            ("robots", self.obey_robots.to_string()),
            ("max-pages", limit(self.max_pages)),
            ("max-pages-per-host", limit(self.max_pages_per_host)),
            ("retries", self.retries.to_string()),
            ("timeout", duration(self.timeout)),
            ("user-agent", self.user_agent.clone()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// Checks the settings and builds the crawler.
    ///
    /// # Errors
    /// The first bad setting: [`Error::NoSeeds`], [`Error::InvalidSeed`],
    /// [`Error::Pattern`], [`Error::InvalidSetting`], [`Error::CreateOutput`] or
    /// [`Error::Client`].
    pub fn build(self) -> Result<Crawler, Error> {
        let options = self.options();
        if let Some(error) = self.error {
            return Err(error);
        }
        if let Some((_, error)) = self.env_errors.into_iter().next() {
            return Err(error);
        }
        if self.seeds.is_empty() {
            return Err(Error::NoSeeds);
        }
        let seeds = self
            .seeds
            .into_iter()
            .map(|seed| {
                let target = seed.target().to_owned();
                match seed.resolve(None, 0, None) {
                    Ok(request) => Ok(CrawlRequest {
                        seed: true,
                        ..request
                    }),
                    Err(RequestError::Invalid(message)) => Err(Error::InvalidSeed(message)),
                    Err(other) => Err(Error::InvalidSeed(format!("`{target}`: {other}"))),
                }
            })
            .collect::<Result<Vec<CrawlRequest>, Error>>()?;
        let sitemaps = self
            .sitemap_urls
            .iter()
            .map(|s| parse_seed(s).map_err(Error::InvalidSeed))
            .collect::<Result<Vec<Url>, Error>>()?;
        let seed_urls: Vec<Url> = seeds.iter().map(|s| s.url.clone()).collect();
        let scope = ScopeRules::new(self.scope, &seed_urls, &self.include, &self.exclude)?;
        let spec = CrawlSpec {
            seeds: seeds.iter().map(describe_seed).collect(),
            scope: self.scope.to_string(),
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            max_depth: self.max_depth,
            options,
        };
        // A state file this build creates is removed again if the build fails after it: it
        // would hold a crawl that never ran.
        let created = self.state.as_ref().filter(|path| !path.exists()).cloned();
        let state = self.state.clone();
        let mut store: Box<dyn Store> = match (self.store, self.state) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidSetting {
                    name: "state",
                    message: "give a state file or a store, not both".into(),
                });
            }
            (Some(_), None) | (None, Some(_)) if self.frontier.is_some() || self.seen.is_some() => {
                return Err(Error::InvalidSetting {
                    name: "frontier",
                    message: "a frontier or seen set is for the in-memory store; a state file or another store has its own".into(),
                });
            }
            (Some(store), None) => store,
            (None, Some(path)) => Box::new(arachne_sqlite::SqliteStore::open(&path)?),
            (None, None) => Box::new(MemoryStore::with(
                self.frontier
                    .unwrap_or_else(|| Box::new(MemoryFrontier::new())),
                self.seen.unwrap_or_else(|| Arc::new(MemorySeenSet::new())),
            )),
        };
        let opening = Opening::new(spec, seeds.iter().map(CrawlRequest::fingerprint).collect())
            .host_budget(self.max_pages_per_host)
            .force(self.force);
        let opened = store
            .open(&opening)
            .map_err(Error::from)
            .and_then(|resume| {
                let files = open_files(&self.files, &resume, state.as_deref(), self.force)?;
                Ok((resume, files))
            });
        let (resume, files) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                drop(store);
                if let Some(path) = created {
                    for suffix in ["", "-wal", "-shm"] {
                        let mut name = path.clone().into_os_string();
                        name.push(suffix);
                        let _ = std::fs::remove_file(name);
                    }
                }
                return Err(error);
            }
        };
        for change in &resume.option_changes {
            tracing::warn!(%change, "resuming with an option changed since the last run");
        }
        for difference in &resume.forced {
            tracing::warn!(%difference, "continuing the saved crawl with new settings (--force)");
        }
        install_crypto_provider();
        let product_token = product_token(&self.user_agent).to_owned();
        // Kept for the request records of archives.
        let user_agent = self.user_agent.clone();
        let client_settings = ClientSettings {
            user_agent: self.user_agent,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout.min(self.timeout),
            resolver: Resolver {
                overrides: Arc::new(self.resolve.into_iter().collect()),
                deny_private: self.deny_private_ips,
            },
            cookies: self
                .cookies
                .then(|| Arc::new(reqwest::cookie::Jar::default())),
        };
        let clients = (0..self.fetch_threads)
            .map(|_| build_client(&client_settings, None))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Client(e.to_string()))?;
        let default_spider = self.spider.is_none();
        Ok(Crawler {
            seeds,
            sitemaps,
            scope,
            limits: Limits {
                concurrency: self.concurrency,
                per_host: self.per_host,
                max_pages: self.max_pages,
                level_sync: self.max_depth.is_some(),
                delay: self.delay,
                max_crawl_delay: self.max_crawl_delay,
                autothrottle: self.autothrottle,
                obey_robots: self.obey_robots,
                sitemaps_from_robots: self.sitemaps_from_robots,
                retry_backoff: self.retry_backoff,
                close_after_errors: self.close_after_errors,
                close_after: self.close_after,
                max_url_length: self.max_url_length,
                product_token: product_token.clone(),
            },
            product_token,
            retries: self.retries,
            max_url_length: self.max_url_length,
            deny_private_ips: self.deny_private_ips,
            max_depth: self.max_depth,
            parse_threads: self.parse_threads,
            max_body: self.max_body,
            max_redirects: self.max_redirects,
            client_settings,
            clients,
            outputs: self.outputs,
            archives: self.archives,
            item_outputs: self.item_outputs,
            files,
            store: Some(store),
            resume,
            user_agent,
            subscribers: self.subscribers,
            spider: self.spider.unwrap_or_else(|| Arc::new(FollowLinks)),
            default_spider,
            stages: self.stages,
            hooks: self.hooks,
            handle: self.handle,
            item_limit: self.close_after_items,
            stats: Arc::new(CrawlStats::default()),
        })
    }
}

/// Opens the output files named by path, once the state is open: every one is checked
/// first, so that a refusal leaves them all as they were; then each is created, or, with a
/// mark in the state, cut back to it and continued.
fn open_files(
    files: &[FileOutput],
    resume: &arachne_core::store::Resume,
    state: Option<&Path>,
    force: bool,
) -> Result<Vec<crate::outputs::OpenedFile>, Error> {
    let keyed: Vec<(String, &FileOutput)> = files
        .iter()
        .map(|file| (crate::outputs::key_of(&file.path, state), file))
        .collect();
    let mark = |key: &str| resume.outputs.iter().find(|mark| mark.path == key);
    let failed = |file: &FileOutput, error: OpenError| match error {
        OpenError::Io(source) => Error::CreateOutput {
            path: file.path.clone(),
            source,
        },
        OpenError::Changed(why) => Error::State(StoreError::Output {
            path: file.path.display().to_string(),
            why: format!(
                "{why}. It was changed since the crawl stopped: restore it, or run with --force to continue it as it is"
            ),
        }),
    };
    for (key, file) in &keyed {
        file.check(mark(key), resume.resumed, force)
            .map_err(|e| failed(file, e))?;
    }
    keyed
        .into_iter()
        .map(|(key, file)| {
            let found = mark(&key);
            file.open(key, found, force).map_err(|e| failed(file, e))
        })
        .collect()
}

/// A seed as a state file names it: its URL, with the method in front when it is not GET.
fn describe_seed(seed: &CrawlRequest) -> String {
    if seed.method() == http::Method::GET {
        seed.url.to_string()
    } else {
        format!("{} {}", seed.method(), seed.url)
    }
}

/// Installs rustls's `ring` provider as the process default, unless one is installed.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
