//! The supervisor: one per crawl. Owns the frontier and the politeness state of every host,
//! decides what is fetched when, and when the crawl is over.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, AsyncContext, Context, Handler, Recipient};
use arachne_core::{
    CrawlHandle, CrawlReport, CrawlRequest, CrawlStats, EndReason, ErrorKind, Fingerprint,
    Frontier, MAX_RETRY_AFTER, MAX_SITEMAP_NESTING, MAX_SITEMAPS, ROBOTS_ATTEMPTS, RecordError,
    RobotsRules, ScopeRules, SeenSet, host_key,
};
use tokio::sync::oneshot;
use url::Url;

use crate::politeness::{Gate, Host, RobotsState, after, autothrottle_delay, scaled};
use crate::protocol::{
    Done, Fetch, FetchJob, Finished, JobKind, PageDone, RobotsOutcome, SitemapDone,
};
use crate::scope::SharedScope;

/// The limits and politeness settings the supervisor enforces.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub concurrency: usize,
    pub per_host: usize,
    pub max_pages: Option<u64>,
    pub max_pages_per_host: Option<u64>,
    /// Dispatch level by level: no URL of depth d+1 starts while one of depth d is in
    /// flight. Set with a depth limit, so that every URL gets its true (shortest) depth
    /// and the limit crawls exactly the pages within it.
    pub level_sync: bool,
    pub delay: Duration,
    pub max_crawl_delay: Duration,
    pub autothrottle: bool,
    pub obey_robots: bool,
    pub sitemaps_from_robots: bool,
    pub retry_backoff: Duration,
    /// Stop after this many failed records (`close_after_errors`).
    pub close_after_errors: Option<u64>,
    /// Stop after this long (`close_after`).
    pub close_after: Option<Duration>,
    /// The longest URL queued, for requests given through the handle.
    pub max_url_length: usize,
}

/// A retry waiting for its time.
struct Delayed {
    due: Instant,
    seq: u64,
    job: FetchJob,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Earliest first in a max-heap.
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// Dispatches URLs from the frontier to fetchers within the limits and politeness rules,
/// collects their results, and ends the crawl when nothing is left.
pub(crate) struct Supervisor {
    /// URLs waiting, by host. On its own, the only structure that grows with the site.
    frontier: Box<dyn Frontier>,
    /// Jobs already counted against the page limit that need another request: redirect
    /// hops and due retries. They go before the frontier.
    hops: VecDeque<FetchJob>,
    /// Retries waiting for their backoff.
    delayed: BinaryHeap<Delayed>,
    /// Sitemaps to fetch.
    sitemaps: VecDeque<FetchJob>,
    /// Sitemaps already queued, so each is fetched once (at most `MAX_SITEMAPS`).
    sitemaps_seen: HashSet<Fingerprint>,
    /// Politeness and robots.txt state per host.
    hosts: HashMap<String, Host>,
    /// Each fetcher and its hops in flight: work goes to the least loaded.
    fetchers: Vec<(Recipient<Fetch>, usize)>,
    /// Requests in flight: dispatched and not yet `Done`. A page counts from dispatch until
    /// it is parsed and delivered, so this bounds every mailbox and every body held in
    /// memory. The crawl ends when this is zero and nothing waits.
    in_flight: usize,
    /// Pages in flight by depth: the lowest caps dispatch in level-sync mode.
    depth_load: BTreeMap<u32, usize>,
    /// URLs taken from the frontier (the page limit counts these).
    dispatched: u64,
    limits: Limits,
    /// When the supervisor must look again at hosts that are waiting for their time.
    wakeups: BinaryHeap<Reverse<Instant>>,
    /// The earliest wake-up already scheduled.
    wake_at: Option<Instant>,
    retry_seq: u64,
    report: CrawlReport,
    stats: Arc<CrawlStats>,
    started: Instant,
    /// Where the report goes when the crawl ends; taken then, so it ends once.
    done: Option<oneshot::Sender<CrawlReport>>,
    /// Stops the crawl gracefully from anywhere, and brings requests given from outside.
    handle: CrawlHandle,
    /// The seen set, for the requests given through the handle.
    seen: Arc<dyn SeenSet>,
    /// Stopping: nothing new starts; what is in flight finishes and is recorded.
    stopping: bool,
    /// The crawl's scope, shared with fetchers and parsers. The supervisor changes it when
    /// a seed redirects: the seed's part is then taken from where it lands.
    scope: SharedScope,
    /// The scope as it is now (the supervisor is its only writer).
    current: Arc<ScopeRules>,
    /// Whether a landing changed the scope, so that URLs queued before it are checked
    /// again when they are dispatched.
    scope_changed: bool,
    /// Seeds queued or in flight that have not landed yet (ended at a final response or
    /// failed): until they land, their part of the scope may still change.
    pending_seeds: HashSet<Url>,
    /// The scope without the parts of pending seeds: URLs it allows go ahead.
    settled: Arc<ScopeRules>,
    /// URLs taken from the frontier that only the part of a pending seed allows: they wait
    /// until every seed has landed, and are checked again then. Sitemaps wait too.
    held: Vec<CrawlRequest>,
    /// Pages that failed (a fetch failure, or the spider's), for `close_after_errors`.
    failures: u64,
}

/// What to do with a URL taken from the frontier, given the scope as it stands.
enum Verdict {
    Go,
    /// Only a seed that has not landed yet allows it.
    Hold,
    /// A seed landed elsewhere since it was queued.
    OutOfScope,
}

impl Supervisor {
    pub fn new(
        frontier: Box<dyn Frontier>,
        limits: Limits,
        stats: Arc<CrawlStats>,
        done: oneshot::Sender<CrawlReport>,
        handle: CrawlHandle,
        seen: Arc<dyn SeenSet>,
        scope: SharedScope,
    ) -> Self {
        Self {
            frontier,
            hops: VecDeque::new(),
            delayed: BinaryHeap::new(),
            sitemaps: VecDeque::new(),
            sitemaps_seen: HashSet::new(),
            hosts: HashMap::new(),
            fetchers: Vec::new(),
            in_flight: 0,
            depth_load: BTreeMap::new(),
            dispatched: 0,
            limits,
            wakeups: BinaryHeap::new(),
            wake_at: None,
            retry_seq: 0,
            report: CrawlReport::default(),
            stats,
            started: Instant::now(),
            done: Some(done),
            handle,
            seen,
            stopping: false,
            current: scope.get(),
            settled: scope.get(),
            scope,
            scope_changed: false,
            pending_seeds: HashSet::new(),
            held: Vec::new(),
            failures: 0,
        }
    }

    pub fn add_fetcher(&mut self, fetcher: Recipient<Fetch>) {
        self.fetchers.push((fetcher, 0));
    }

    /// Queues a URL (a seed, a new link, a sitemap entry), within the page limits.
    pub fn enqueue(&mut self, request: CrawlRequest) {
        let pending = self.dispatched + self.frontier.len() as u64 + self.held.len() as u64;
        if self.limits.max_pages.is_some_and(|max| pending >= max) {
            // Never crawled: the page limit is already covered by what is queued.
            self.report.not_crawled += 1;
            return;
        }
        let budget = self.limits.max_pages_per_host;
        let host = self.host_entry(&request.url);
        if budget.is_some_and(|max| host.accepted >= max) {
            self.report.host_budget += 1;
            return;
        }
        host.accepted += 1;
        if request.is_seed() && self.pending_seeds.insert(request.url.clone()) {
            self.settle();
        }
        self.frontier.push(request);
    }

    /// Recomputes the scope that pending seeds cannot change; when no seed is pending any
    /// more, the URLs held for them go back to the frontier.
    fn settle(&mut self) {
        let pending = &self.pending_seeds;
        self.settled = Arc::new(self.current.only_seeds(|seed| !pending.contains(seed)));
        if self.pending_seeds.is_empty() {
            for request in self.held.drain(..) {
                self.frontier.push(request);
            }
        }
    }

    /// Whether a URL taken from the frontier may be fetched now.
    fn verdict(&self, url: &Url) -> Verdict {
        if self.pending_seeds.is_empty() {
            if self.scope_changed && !self.current.allows(url) {
                return Verdict::OutOfScope;
            }
            return Verdict::Go;
        }
        if self.settled.allows(url) {
            Verdict::Go
        } else if self.current.allows(url) {
            Verdict::Hold
        } else {
            Verdict::OutOfScope
        }
    }

    /// Queues a sitemap, once, up to `MAX_SITEMAPS`. It is fetched once every seed has
    /// landed: one the user named (`from_user` at nesting 0) always, others (from
    /// robots.txt, or listed in an index) only on a host the scope then covers.
    pub fn enqueue_sitemap(&mut self, url: Url, nesting: u32, from_user: bool) {
        if nesting > MAX_SITEMAP_NESTING
            || self.sitemaps_seen.len() >= MAX_SITEMAPS
            || !self.sitemaps_seen.insert(Fingerprint::of(&url))
        {
            return;
        }
        self.host_entry(&url);
        self.sitemaps.push_back(FetchJob::new(
            JobKind::Sitemap { nesting, from_user },
            CrawlRequest::seed(url),
        ));
    }

    fn host_entry(&mut self, url: &Url) -> &mut Host {
        host_entry(&mut self.hosts, &self.limits, url)
    }

    fn page_limit_reached(&self) -> bool {
        self.limits
            .max_pages
            .is_some_and(|max| self.dispatched >= max)
    }

    /// The deepest page depth that may start now.
    fn depth_cap(&self) -> u32 {
        if !self.limits.level_sync {
            return u32::MAX;
        }
        let waiting = self
            .hops
            .iter()
            .chain(self.delayed.iter().map(|d| &d.job))
            .map(|job| job.request.depth);
        self.depth_load
            .keys()
            .copied()
            .chain(waiting)
            .min()
            .unwrap_or(u32::MAX)
    }

    /// Sends work to fetchers while there is free capacity and polite hosts.
    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        if !self.stopping && self.handle.is_stopped() {
            // A stop asked from anywhere holds at once, not at the next tick.
            self.begin_stop(ctx);
            return;
        }
        let now = Instant::now();
        if self.stopping {
            // Pages between two requests get a record saying they were interrupted.
            let waiting: Vec<FetchJob> = self
                .hops
                .drain(..)
                .chain(std::mem::take(&mut self.delayed).into_iter().map(|d| d.job))
                .collect();
            for mut job in waiting {
                job.kind = JobKind::Refused(RecordError {
                    kind: ErrorKind::Interrupted,
                    message: "the crawl was stopped before this URL finished".into(),
                });
                self.send(job, now);
            }
            self.sitemaps.clear();
            return;
        }
        while self.delayed.peek().is_some_and(|d| d.due <= now) {
            let delayed = self.delayed.pop().expect("peeked");
            self.hops.push_back(delayed.job);
        }
        let mut need_robots: Vec<String> = Vec::new();
        while self.in_flight < self.limits.concurrency {
            let per_host = self.limits.per_host;

            // Hops and retries first: their pages already count against the page limit.
            let mut next = None;
            for at in 0..self.hops.len() {
                let target = &self.hops[at].target;
                let key = host_key(target);
                // Every hop's host was entered when the hop was queued.
                let Some(host) = self.hosts.get(key.as_ref()) else {
                    continue;
                };
                if let Some(error) = host.refusal(target) {
                    let mut job = self.hops.remove(at).expect("in range");
                    job.kind = JobKind::Refused(error);
                    next = Some(job);
                    break;
                }
                match host.gate(per_host, now) {
                    Gate::Go => {
                        next = self.hops.remove(at);
                        break;
                    }
                    Gate::NeedRobots => need_robots.push(key.into_owned()),
                    Gate::Wait => {}
                }
            }
            if next.is_none() && !self.page_limit_reached() {
                let cap = self.depth_cap();
                let hosts = &self.hosts;
                let mut ready =
                    |name: &str| match hosts.get(name).map(|host| host.gate(per_host, now)) {
                        Some(Gate::Go) => true,
                        Some(Gate::NeedRobots) => {
                            need_robots.push(name.to_owned());
                            false
                        }
                        Some(Gate::Wait) | None => false,
                    };
                if let Some(request) = self.frontier.pop(cap, &mut ready) {
                    // Seeds are always crawled.
                    let verdict = if request.is_seed() {
                        Verdict::Go
                    } else {
                        self.verdict(&request.url)
                    };
                    match verdict {
                        Verdict::Go => {}
                        Verdict::Hold => {
                            self.held.push(request);
                            continue;
                        }
                        Verdict::OutOfScope => {
                            self.drop_out_of_scope(&request);
                            continue;
                        }
                    }
                    self.dispatched += 1;
                    let refusal = self
                        .hosts
                        .get(host_key(&request.url).as_ref())
                        .and_then(|host| host.refusal(&request.url));
                    let mut job = FetchJob::new(JobKind::Page, request);
                    if let Some(error) = refusal {
                        job.kind = JobKind::Refused(error);
                    }
                    next = Some(job);
                }
            }
            if next.is_none() {
                next = self.next_sitemap(now);
            }
            if next.is_none() {
                next = self.next_robots(&mut need_robots, now);
            }
            let Some(job) = next else { break };
            self.send(job, now);
        }
        self.schedule_wakeup(ctx);
        if !self.pending_seeds.is_empty()
            && self.in_flight == 0
            && self.hops.is_empty()
            && self.delayed.is_empty()
            && self.wakeups.is_empty()
        {
            // Nothing more can happen to the pending seeds: a custom frontier lost them.
            // Waiting for them would hang the crawl.
            tracing::warn!(
                seeds = self.pending_seeds.len(),
                "seeds left the frontier without a record; crawling on without them"
            );
            self.pending_seeds.clear();
            self.settle();
            self.dispatch(ctx);
        }
    }

    /// Forgets a queued URL that a seed's landing put out of scope.
    fn drop_out_of_scope(&mut self, request: &CrawlRequest) {
        self.report.out_of_scope += 1;
        // It was counted as queued when it was found: on a page, or in a sitemap.
        if request.depth > 0 {
            self.report.links_queued = self.report.links_queued.saturating_sub(1);
        } else if request.parent.is_some() {
            self.report.sitemap_urls = self.report.sitemap_urls.saturating_sub(1);
        }
        if let Some(host) = self.hosts.get_mut(host_key(&request.url).as_ref()) {
            host.accepted = host.accepted.saturating_sub(1);
        }
    }

    /// A sitemap whose host may take a request now.
    fn next_sitemap(&mut self, now: Instant) -> Option<FetchJob> {
        if self.page_limit_reached() || !self.pending_seeds.is_empty() {
            return None;
        }
        // Judged now that the scope is settled: a seed may have landed on another host.
        let current = &self.current;
        let before = self.sitemaps.len();
        self.sitemaps.retain(|job| {
            let named = matches!(
                job.kind,
                JobKind::Sitemap {
                    nesting: 0,
                    from_user: true
                }
            );
            named || current.covers_host(&job.target) || {
                tracing::debug!(sitemap = %job.target, "sitemap not fetched: out of scope");
                false
            }
        });
        self.report.resources_out_of_scope += (before - self.sitemaps.len()) as u64;
        let per_host = self.limits.per_host;
        let at = self.sitemaps.iter().position(|job| {
            self.hosts
                .get(host_key(&job.target).as_ref())
                .is_some_and(|host| host.in_flight < per_host && now >= host.next_start)
        })?;
        self.sitemaps.remove(at)
    }

    /// A robots.txt fetch for a host that needs one and may take a request now.
    fn next_robots(&mut self, need: &mut Vec<String>, now: Instant) -> Option<FetchJob> {
        let per_host = self.limits.per_host;
        while let Some(name) = need.pop() {
            let Some(host) = self.hosts.get_mut(&name) else {
                continue;
            };
            if matches!(host.robots, RobotsState::Unknown)
                && host.in_flight < per_host
                && now >= host.next_start
            {
                host.robots = RobotsState::Fetching;
                return Some(FetchJob::new(
                    JobKind::Robots,
                    CrawlRequest::seed(host.robots_url.clone()),
                ));
            }
        }
        None
    }

    fn send(&mut self, job: FetchJob, now: Instant) {
        let charged = !matches!(job.kind, JobKind::Refused(_));
        if charged {
            let max_crawl_delay = self.limits.max_crawl_delay;
            let host = host_entry(&mut self.hosts, &self.limits, &job.target);
            host.in_flight += 1;
            let delay = host
                .delay
                .max(host.crawl_delay.unwrap_or_default().min(max_crawl_delay));
            if !delay.is_zero() {
                // A random factor from 1 to 1.5, so requests do not fall into lockstep.
                host.defer(
                    after(now, scaled(delay, 1.0 + fastrand::f64() * 0.5)),
                    &mut self.wakeups,
                );
            }
        }
        if matches!(job.kind, JobKind::Page | JobKind::Refused(_)) {
            *self.depth_load.entry(job.request.depth).or_default() += 1;
        }
        self.in_flight += 1;
        let (index, (fetcher, load)) = self
            .fetchers
            .iter_mut()
            .enumerate()
            .min_by_key(|(_, (_, load))| *load)
            .expect("a crawl has at least one fetcher");
        *load += 1;
        // Unbounded send, but never more than `concurrency` messages outstanding.
        fetcher.do_send(Fetch {
            job,
            fetcher: index,
            charged_host: charged,
        });
    }

    /// Makes sure the supervisor wakes up for the earliest host that waits for its time.
    fn schedule_wakeup(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        while self.wakeups.peek().is_some_and(|Reverse(at)| *at <= now) {
            self.wakeups.pop();
        }
        let Some(&Reverse(at)) = self.wakeups.peek() else {
            return;
        };
        if self
            .wake_at
            .is_some_and(|scheduled| scheduled <= at && scheduled > now)
        {
            return;
        }
        self.wake_at = Some(at);
        ctx.run_later(at.saturating_duration_since(now), |supervisor, ctx| {
            supervisor.wake_at = None;
            supervisor.dispatch(ctx);
            supervisor.finish_if_done(ctx);
        });
    }

    fn release(&mut self, msg: &Done, depth: Option<u32>) {
        self.in_flight -= 1;
        if let Some((_, load)) = self.fetchers.get_mut(msg.fetcher) {
            *load = load.saturating_sub(1);
        }
        if msg.charged_host
            && let Some(host) = self.hosts.get_mut(&msg.host)
        {
            host.in_flight = host.in_flight.saturating_sub(1);
        }
        if let Some(depth) = depth
            && let Some(load) = self.depth_load.get_mut(&depth)
        {
            *load -= 1;
            if *load == 0 {
                self.depth_load.remove(&depth);
            }
        }
    }

    /// Adapts a host's delay to its latency, as Scrapy's AutoThrottle does.
    fn autothrottle(&mut self, host: &str, latency: Duration, status: Option<u16>) {
        let min = self.limits.delay;
        if let Some(host) = self.hosts.get_mut(host) {
            host.delay = autothrottle_delay(host.delay, latency, status, min);
        }
    }

    fn on_robots(&mut self, name: &str, outcome: RobotsOutcome) {
        self.report.robots_fetched += 1;
        let backoff = self.limits.retry_backoff;
        let max_crawl_delay = self.limits.max_crawl_delay;
        let Some(host) = self.hosts.get_mut(name) else {
            return;
        };
        match outcome {
            RobotsOutcome::Rules(rules) => {
                host.crawl_delay = rules.crawl_delay().map(|d| d.min(max_crawl_delay));
                if let Some(delay) = host.crawl_delay {
                    // The robots.txt request itself counts: the first page waits too.
                    host.defer(after(Instant::now(), delay), &mut self.wakeups);
                }
                let sitemaps: Vec<Url> = if self.limits.sitemaps_from_robots {
                    rules
                        .sitemaps()
                        .iter()
                        .filter_map(|s| arachne_core::parse_seed(s).ok())
                        .collect()
                } else {
                    Vec::new()
                };
                tracing::debug!(host = name, crawl_delay = ?host.crawl_delay, sitemaps = sitemaps.len(), "robots.txt read");
                host.robots = RobotsState::Ready(Arc::new(rules));
                for sitemap in sitemaps {
                    self.enqueue_sitemap(sitemap, 0, false);
                }
            }
            RobotsOutcome::RedirectOutOfScope(why) => {
                tracing::debug!(host = name, %why, "robots.txt redirect not followed: crawling the host as if it had none");
                host.robots = RobotsState::Ready(Arc::new(RobotsRules::allow_all()));
                self.report.resources_out_of_scope += 1;
            }
            RobotsOutcome::Unavailable(why) => {
                host.robots_attempts += 1;
                tracing::warn!(host = name, attempt = host.robots_attempts, kind = %why.kind, why = %why.message, "robots.txt unavailable");
                if host.robots_attempts >= ROBOTS_ATTEMPTS {
                    host.robots = RobotsState::Unavailable(why);
                } else {
                    host.robots = RobotsState::Unknown;
                    let wait =
                        backoff.saturating_mul(2u32.saturating_pow(host.robots_attempts - 1));
                    host.defer(after(Instant::now(), wait), &mut self.wakeups);
                }
            }
        }
    }

    /// A seed redirected to `landing`: its part of the scope is taken from there.
    fn land(&mut self, seed: &Url, landing: &Url) {
        if self.scope.land(seed, landing) {
            self.current = self.scope.get();
            self.scope_changed = true;
            self.settle();
            tracing::info!(%seed, %landing, "seed redirected: its scope is taken from where it lands");
        }
    }

    /// Queues what a sitemap listed, or reports why it could not be read: a sitemap the
    /// user named at warn level, others at info.
    fn on_sitemap(&mut self, sitemap: SitemapDone) {
        let SitemapDone {
            url,
            pages,
            nested,
            nesting,
            from_user,
            counts,
            error,
            redirect_out_of_scope,
        } = sitemap;
        if let Some(why) = error {
            self.report.sitemaps_failed += 1;
            self.report.resources_out_of_scope += u64::from(redirect_out_of_scope);
            if from_user {
                tracing::warn!(sitemap = %url, %why, "sitemap could not be read");
            } else {
                tracing::info!(sitemap = %url, %why, "sitemap could not be read");
            }
            return;
        }
        self.report.sitemaps_fetched += 1;
        self.report.sitemap_urls += pages.len() as u64;
        self.report.out_of_scope += u64::from(counts.out_of_scope);
        self.report.too_long += u64::from(counts.too_long);
        self.report.repeating_path += u64::from(counts.repeating);
        tracing::debug!(sitemap = %url, pages = pages.len(), nested = nested.len(), "sitemap read");
        for page in pages {
            self.enqueue(CrawlRequest {
                parent: Some(url.clone()),
                seed: false,
                ..CrawlRequest::seed(page)
            });
        }
        for sitemap in nested {
            self.enqueue_sitemap(sitemap, nesting + 1, from_user);
        }
    }

    fn retry_later(&mut self, job: FetchJob, retry_after: Option<Duration>) {
        self.report.retries += 1;
        let now = Instant::now();
        tracing::debug!(url = %job.target, attempts = job.attempts, ?retry_after, "retrying");
        if let Some(pause) = retry_after {
            // 429 or 503 with Retry-After: the whole host waits.
            self.report.host_pauses += 1;
            let pause = pause.min(MAX_RETRY_AFTER);
            host_entry(&mut self.hosts, &self.limits, &job.target)
                .defer(after(now, pause), &mut self.wakeups);
        }
        let exponent = job.attempts.saturating_sub(1).min(16);
        let backoff = self
            .limits
            .retry_backoff
            .saturating_mul(1 << exponent)
            .min(Duration::from_secs(60));
        let wait = retry_after.unwrap_or(scaled(backoff, 0.5 + fastrand::f64()));
        let due = after(now, wait.min(MAX_RETRY_AFTER));
        self.wakeups.push(Reverse(due));
        self.retry_seq += 1;
        self.delayed.push(Delayed {
            due,
            seq: self.retry_seq,
            job,
        });
    }

    /// Ends the crawl when nothing is in flight and nothing more will be dispatched.
    fn finish_if_done(&mut self, ctx: &mut Context<Self>) {
        self.stats.set_load(
            (self.frontier.len() + self.held.len()) as u64,
            self.in_flight as u64,
        );
        let more = !self.hops.is_empty()
            || !self.delayed.is_empty()
            || (!self.stopping
                && !self.page_limit_reached()
                && (!self.frontier.is_empty()
                    || !self.held.is_empty()
                    || !self.sitemaps.is_empty()));
        if self.in_flight > 0 || more {
            return;
        }
        if let Some(done) = self.done.take() {
            self.handle.mark_finished();
            // Requests given at the last moment, before the mark, are counted as not
            // crawled rather than lost without a word.
            let late = self.handle.take_requests().len() as u64;
            let mut report = std::mem::take(&mut self.report);
            report.not_crawled += late;
            report.not_crawled += (self.frontier.len() + self.held.len()) as u64;
            report.stopped = self.stopping;
            report.ended = if self.stopping {
                self.handle.stop_reason().unwrap_or(EndReason::Stopped {
                    by: "a stop was asked for".into(),
                })
            } else if self.page_limit_reached() && report.not_crawled > 0 {
                EndReason::PageLimit
            } else {
                EndReason::Completed
            };
            report.elapsed = self.started.elapsed();
            tracing::info!(pages = report.pages, elapsed = ?report.elapsed, ended = %report.ended, "crawl finished");
            let _ = done.send(report);
        }
        ctx.stop();
    }

    /// Starts stopping, once: nothing new is dispatched, and what waits between two
    /// requests is recorded as interrupted.
    fn begin_stop(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        tracing::info!(
            in_flight = self.in_flight,
            reason = ?self.handle.stop_reason(),
            "stopping: finishing the requests in flight"
        );
        self.stopping = true;
        self.dispatch(ctx);
        self.finish_if_done(ctx);
    }

    /// Queues the requests given through the handle, as requests found by no page: they
    /// obey the scope, the seen set and the limits like any other.
    fn take_handle_requests(&mut self) {
        for request in self.handle.take_requests() {
            let request = match request.resolve(None, 0, None) {
                Ok(request) => request,
                Err(error) => {
                    tracing::warn!(%error, "a request given through the handle was rejected");
                    self.report.requests_rejected += 1;
                    continue;
                }
            };
            if !self.current.allows(&request.url) {
                self.report.out_of_scope += 1;
                continue;
            }
            if request.url.as_str().len() > self.limits.max_url_length {
                self.report.too_long += 1;
                continue;
            }
            if self.seen.insert(request.fingerprint()) {
                self.enqueue(request);
            }
        }
    }
}

/// Whether a record's error is a failure, as `close_after_errors` counts them: the page could
/// not be had. Refusals (robots.txt, a hook, a denied address) and interruptions are
/// choices, not failures.
fn is_failure(kind: ErrorKind) -> bool {
    !matches!(
        kind,
        ErrorKind::RobotsDisallowed
            | ErrorKind::Dropped
            | ErrorKind::DeniedAddress
            | ErrorKind::Interrupted
    )
}

/// The state of a URL's host, created on first sight. (A free function, so that it
/// borrows only the hosts while other fields of the supervisor are in use.)
fn host_entry<'a>(
    hosts: &'a mut HashMap<String, Host>,
    limits: &Limits,
    url: &Url,
) -> &'a mut Host {
    let key = host_key(url);
    if !hosts.contains_key(key.as_ref()) {
        let host = Host::new(url, limits.obey_robots, limits.delay, limits.autothrottle);
        hosts.insert(key.clone().into_owned(), host);
    }
    hosts.get_mut(key.as_ref()).expect("inserted above")
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.started = Instant::now();
        tracing::info!(
            queued = self.frontier.len(),
            concurrency = self.limits.concurrency,
            per_host = self.limits.per_host,
            delay = ?self.limits.delay,
            robots = self.limits.obey_robots,
            "crawl started"
        );
        // The handle is used from any thread (a signal handler, say): look at it often.
        ctx.run_interval(Duration::from_millis(50), |supervisor, ctx| {
            if supervisor.handle.is_stopped() {
                supervisor.begin_stop(ctx);
            } else {
                supervisor.take_handle_requests();
                supervisor.dispatch(ctx);
                supervisor.finish_if_done(ctx);
            }
        });
        if let Some(limit) = self.limits.close_after {
            ctx.run_later(limit, |supervisor, ctx| {
                supervisor.handle.stop_with(EndReason::TimeLimit);
                supervisor.begin_stop(ctx);
            });
        }
        self.take_handle_requests();
        self.dispatch(ctx);
        self.finish_if_done(ctx);
    }
}

/// Accounts for a finished hop, queues what it found, and dispatches more work.
impl Handler<Done> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Done, ctx: &mut Self::Context) {
        let page_depth = match &msg.finished {
            Finished::Redirect(job) | Finished::Retry { job, .. } => Some(job.request.depth),
            Finished::Page(page) => Some(page.record.depth),
            Finished::Robots { .. } | Finished::Sitemap { .. } => None,
        };
        self.release(&msg, page_depth);
        if self.limits.autothrottle
            && msg.charged_host
            && let Some((latency, status)) = msg.response
        {
            self.autothrottle(&msg.host, latency, status);
        }
        match msg.finished {
            Finished::Redirect(job) => {
                if job.request.is_seed() {
                    self.land(&job.request.url, &job.target);
                }
                // The hop may lead to a host not seen before: it needs politeness state and
                // its own robots.txt before the hop is made.
                self.host_entry(&job.target);
                self.hops.push_back(*job);
            }
            Finished::Retry { job, retry_after } => self.retry_later(*job, retry_after),
            Finished::Robots { host, outcome } => self.on_robots(&host, outcome),
            Finished::Sitemap(sitemap) => self.on_sitemap(*sitemap),
            Finished::Page(page) => {
                let PageDone {
                    record,
                    seed,
                    new_requests,
                    counts,
                    items,
                    spider_error,
                } = *page;
                if seed {
                    // A seed whose redirect target was crawled already ends at its
                    // redirect; it landed there all the same.
                    if record.error.is_none()
                        && let Some(landing) =
                            record.redirects.last().and_then(|r| r.location.as_ref())
                    {
                        self.land(&record.url, landing);
                    }
                    if self.pending_seeds.remove(&record.url) {
                        self.settle();
                    }
                }
                self.stats.record(&record);
                self.report.add(&record);
                if seed {
                    self.report.add_seed(&record);
                }
                for (kind, n) in items.emitted {
                    *self.report.items.entry(kind.to_owned()).or_default() += n;
                }
                self.report.items_dropped += items.dropped;
                self.report.items_lost += items.lost;
                self.report.spider_errors += u64::from(spider_error);
                self.report.requests_rejected += u64::from(counts.rejected);
                self.report.links_found += u64::from(counts.found);
                self.report.links_queued += new_requests.len() as u64;
                self.report.out_of_scope += u64::from(counts.out_of_scope);
                self.report.beyond_max_depth += u64::from(counts.beyond_depth);
                self.report.too_long += u64::from(counts.too_long);
                self.report.repeating_path += u64::from(counts.repeating);
                self.report.skipped.merge(&counts.skipped);
                for request in new_requests {
                    self.enqueue(request);
                }
                let failed = record.error.as_ref().is_some_and(|e| is_failure(e.kind));
                self.failures += u64::from(failed || spider_error);
                if let Some(max) = self.limits.close_after_errors
                    && self.failures >= max
                {
                    self.handle.stop_with(EndReason::ErrorLimit);
                    self.begin_stop(ctx);
                }
                if self.handle.is_stopped() {
                    self.begin_stop(ctx);
                }
            }
        }
        self.take_handle_requests();
        self.dispatch(ctx);
        self.finish_if_done(ctx);
    }
}
