//! The supervisor: one per crawl. Keeps a bounded window of requests taken from the store
//! and the politeness state of every host, decides what is fetched when, and when the
//! crawl is over.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::future::Future;
use std::time::SystemTime;

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Recipient, WrapFuture,
};
use arachne_core::store::{
    HostState, Note, Remaining, Resume, RobotsFetch, SavedRobots, StoreError, Want,
};
use arachne_core::{
    CrawlHandle, CrawlReport, CrawlRequest, CrawlStats, EndReason, ErrorKind, Fingerprint,
    Frontier, HttpExchange, MAX_RETRY_AFTER, MAX_SITEMAP_NESTING, MAX_SITEMAPS, MemoryFrontier,
    ROBOTS_ATTEMPTS, RecordError, RobotsRules, ScopeRules, host_key,
};
use tokio::sync::oneshot;
use url::Url;

use crate::journal::StoreClient;
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
    /// The user agent's product token, for robots.txt kept in the store.
    pub product_token: String,
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

/// Dispatches requests from its window to fetchers within the limits and politeness
/// rules, refills the window from the store, collects the fetchers' results, and ends the
/// crawl when nothing is left.
pub(crate) struct Supervisor {
    /// Where the crawl's requests wait; the supervisor takes them in batches.
    store: StoreClient,
    /// Requests taken from the store and not dispatched yet, in per-host queues: the only
    /// queue in the supervisor's memory, bounded.
    window: MemoryFrontier,
    /// The window's size: it is refilled when it falls below half.
    window_size: usize,
    /// The most requests of one host the window holds.
    host_window: usize,
    /// The hosts that hold that many, which a take skips (kept as requests come and go,
    /// so that no refill walks every host).
    full_hosts: BTreeSet<String>,
    /// Store calls made and not answered. The crawl is not over while any is out.
    store_calls: usize,
    /// A take is out.
    refilling: bool,
    /// The store's queue, and the hosts skipped, when a take last came back empty: no take
    /// is asked again until one of them changes.
    dry: Option<(u64, BTreeSet<String>, Instant)>,
    /// Requests found by no page (seeds, requests given through the handle), to claim in
    /// one call each batch.
    found: Vec<Vec<CrawlRequest>>,
    /// Facts for the store, sent in one call.
    notes: Vec<Note>,
    /// What crawler resources gave, one store call each.
    resources: Vec<ResourceCall>,
    /// Taken requests given up, returned to the store in one call.
    releases: Vec<CrawlRequest>,
    /// The last store call is out: the crawl is ending.
    closing: bool,
    /// Whether the store was found to count requests it does not give (logged once).
    store_dry_warned: bool,
    /// Whether the shared store's leases lapsed (warned once, until they are renewed).
    leases_lapsed: bool,
    /// Jobs that are already counted against the page limit and need another request:
    /// redirect hops and due retries. They go before the window.
    hops: VecDeque<FetchJob>,
    /// Retries waiting for their backoff.
    delayed: BinaryHeap<Delayed>,
    /// Pages between two requests when the crawl stopped, with a durable store: not
    /// recorded, so that a resumed crawl fetches them again.
    interrupted: u64,
    /// Sitemaps to fetch.
    sitemaps: VecDeque<FetchJob>,
    /// Sitemaps already queued (or read in an earlier run), so each is fetched once (at most
    /// `MAX_SITEMAPS`).
    sitemaps_seen: HashSet<Fingerprint>,
    /// Politeness and robots.txt state per host.
    hosts: HashMap<String, Host>,
    /// Each fetcher and its hops in flight: work goes to the least loaded.
    fetchers: Vec<(Recipient<Fetch>, usize)>,
    /// Requests in flight: dispatched and not yet `Done`. A page counts from dispatch until
    /// it is parsed, delivered and recorded in the store, so this bounds every mailbox and
    /// every body held in memory. The crawl ends when this is zero and nothing waits.
    in_flight: usize,
    /// Pages whose request is over and that a durable store is storing (its journal
    /// writes and records them): a stage of their own, bounded like requests in flight.
    storing: usize,
    /// Pages in flight by depth (being stored included): the lowest caps dispatch in
    /// level-sync mode.
    depth_load: BTreeMap<u32, usize>,
    /// Pages taken for fetching, this run and earlier ones (the page limit counts these).
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
    /// Stopping: nothing new starts; what is in flight finishes and is recorded.
    stopping: bool,
    /// The crawl's scope, shared with fetchers and parsers. The supervisor changes it when
    /// a seed redirects: the seed's part is then taken from where it lands.
    scope: SharedScope,
    /// The scope as it is now (the supervisor is its only writer).
    current: Arc<ScopeRules>,
    /// Whether the scope changed since requests were queued (a seed landed, or a resumed
    /// crawl's seeds landed in an earlier run), so that queued URLs are checked again when
    /// they are dispatched.
    scope_changed: bool,
    /// Seeds queued or in flight that have not landed yet (ended at a final response or
    /// failed): until they land, their part of the scope may still change.
    pending_seeds: HashSet<Url>,
    /// The scope without the parts of pending seeds: URLs it allows go ahead.
    settled: Arc<ScopeRules>,
    /// URLs taken from the window that only the part of a pending seed allows: they wait
    /// until every seed has landed, and are checked again then. Sitemaps wait too.
    held: Vec<CrawlRequest>,
    /// Pages that failed (a fetch failure, or the spider's), for `close_after_errors`.
    failures: u64,
    /// What the store kept of hosts in earlier runs, taken back when a host is met again.
    saved_hosts: HashMap<String, HostState>,
}

/// What a crawler resource (robots.txt, a sitemap) gave, for one store call: the requests
/// it listed, the facts to keep, its exchanges for the durable archives, and whether it is
/// a sitemap (whose new URLs the report counts).
struct ResourceCall {
    claims: Vec<CrawlRequest>,
    notes: Vec<Note>,
    archived: Vec<Arc<HttpExchange>>,
    sitemap: bool,
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
        store: StoreClient,
        resume: &Resume,
        limits: Limits,
        stats: Arc<CrawlStats>,
        done: oneshot::Sender<CrawlReport>,
        handle: CrawlHandle,
        scope: SharedScope,
    ) -> Self {
        let window_size = limits.concurrency.saturating_mul(2).max(64);
        let host_window = limits.per_host.saturating_mul(2).clamp(4, window_size);
        let mut supervisor = Self {
            store,
            window: MemoryFrontier::new(),
            window_size,
            host_window,
            full_hosts: BTreeSet::new(),
            store_calls: 0,
            refilling: false,
            dry: None,
            found: Vec::new(),
            notes: Vec::new(),
            resources: Vec::new(),
            releases: Vec::new(),
            closing: false,
            store_dry_warned: false,
            leases_lapsed: false,
            hops: VecDeque::new(),
            delayed: BinaryHeap::new(),
            interrupted: 0,
            sitemaps: VecDeque::new(),
            sitemaps_seen: resume.sitemaps_read.iter().map(Fingerprint::of).collect(),
            hosts: HashMap::new(),
            fetchers: Vec::new(),
            in_flight: 0,
            storing: 0,
            depth_load: BTreeMap::new(),
            dispatched: resume.pages_done,
            limits,
            wakeups: BinaryHeap::new(),
            wake_at: None,
            retry_seq: 0,
            report: CrawlReport::default(),
            stats,
            started: Instant::now(),
            done: Some(done),
            handle,
            stopping: false,
            current: scope.get(),
            settled: scope.get(),
            scope,
            scope_changed: !resume.forced.is_empty(),
            pending_seeds: HashSet::new(),
            held: Vec::new(),
            failures: 0,
            saved_hosts: resume
                .hosts
                .iter()
                .map(|state| (state.host.clone(), state.clone()))
                .collect(),
        };
        if resume.resumed {
            supervisor.report.resumed = Some(arachne_core::Resumed::new(
                resume.runs,
                resume.pages_done,
                resume.queued,
            ));
        }
        for (seed, landing) in &resume.landings {
            if supervisor.scope.land(seed, landing) {
                supervisor.scope_changed = true;
            }
        }
        supervisor.current = supervisor.scope.get();
        supervisor.settled = supervisor.scope.get();
        supervisor
    }

    pub fn add_fetcher(&mut self, fetcher: Recipient<Fetch>) {
        self.fetchers.push((fetcher, 0));
    }

    /// Queues the seeds; those without an outcome yet (`done[i]` false) are pending: their
    /// part of the scope may still change when they land.
    pub fn add_seeds(&mut self, seeds: Vec<CrawlRequest>, done: &[bool]) {
        for (i, seed) in seeds.iter().enumerate() {
            if !done.get(i).copied().unwrap_or(false) {
                self.pending_seeds.insert(seed.url.clone());
            }
        }
        self.settle();
        self.found.push(seeds);
    }

    /// The state of a URL's host, created on first sight, with what the store kept of it
    /// in an earlier run.
    fn meet(&mut self, url: &Url) -> &mut Host {
        let key = host_key(url);
        if !self.hosts.contains_key(key.as_ref()) {
            let mut host = Host::new(
                url,
                self.limits.obey_robots,
                self.limits.delay,
                self.limits.autothrottle,
            );
            let rules = self.saved_hosts.remove(key.as_ref()).and_then(|state| {
                host.restore(
                    &state,
                    &self.limits.product_token,
                    self.limits.max_crawl_delay,
                    &mut self.wakeups,
                )
            });
            self.hosts.insert(key.clone().into_owned(), host);
            if let Some(rules) = rules
                && self.limits.sitemaps_from_robots
            {
                // Sitemaps read already are skipped; one that was queued but not read is
                // read now.
                for sitemap in rules.sitemaps() {
                    if let Ok(sitemap) = arachne_core::parse_seed(sitemap) {
                        self.enqueue_sitemap(sitemap, 0, false);
                    }
                }
            }
        }
        self.hosts.get_mut(key.as_ref()).expect("inserted above")
    }

    /// Recomputes the scope that pending seeds cannot change; when no seed is pending any
    /// more, the URLs held for them go back to the window.
    fn settle(&mut self) {
        let pending = &self.pending_seeds;
        self.settled = Arc::new(self.current.only_seeds(|seed| !pending.contains(seed)));
        if self.pending_seeds.is_empty() {
            for request in std::mem::take(&mut self.held) {
                self.add_to_window(request);
            }
        }
    }

    fn add_to_window(&mut self, request: CrawlRequest) {
        let host_window = self.host_window;
        let host = self.meet(&request.url);
        host.windowed += 1;
        if host.windowed == host_window {
            self.full_hosts.insert(host_key(&request.url).into_owned());
        }
        self.window.push(request);
    }

    /// A request of `host` left the window.
    fn left_window(&mut self, host: &str) {
        if let Some(state) = self.hosts.get_mut(host) {
            if state.windowed == self.host_window {
                self.full_hosts.remove(host);
            }
            state.windowed = state.windowed.saturating_sub(1);
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
        self.meet(&url);
        self.sitemaps.push_back(FetchJob::new(
            JobKind::Sitemap { nesting, from_user },
            CrawlRequest::seed(url),
        ));
    }

    /// Whether requests may be sent: with a shared store, only while this process's
    /// leases on its hosts are renewed (another process may take them over otherwise).
    fn may_send(&mut self) -> bool {
        let Some(sharing) = self.store.sharing() else {
            return true;
        };
        let may = sharing.may_send();
        if may == self.leases_lapsed {
            self.leases_lapsed = !may;
            if may {
                tracing::info!("the shared crawl's leases are renewed again: sending requests");
            } else {
                tracing::warn!(
                    "the shared crawl's leases could not be renewed: no request is sent until they are"
                );
            }
        }
        may
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

    /// Sends work to fetchers while there is free capacity and polite hosts, asks the
    /// store for more when the window runs low, and sends the store what waits for it.
    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        if !self.stopping && self.handle.is_stopped() {
            // A stop asked from anywhere holds at once, not at the next tick.
            self.begin_stop(ctx);
            return;
        }
        let now = Instant::now();
        if self.stopping {
            let waiting: Vec<FetchJob> = self
                .hops
                .drain(..)
                .chain(std::mem::take(&mut self.delayed).into_iter().map(|d| d.job))
                .collect();
            if self.store.is_durable() {
                // Not recorded: they stay the store's, and a resumed crawl fetches them
                // again from their first request.
                self.interrupted += waiting.len() as u64;
            } else {
                // Pages between two requests get a record saying they were interrupted.
                for mut job in waiting {
                    job.kind = JobKind::Refused(RecordError {
                        kind: ErrorKind::Interrupted,
                        message: "the crawl was stopped before this URL finished".into(),
                    });
                    self.send(job, now);
                }
            }
            self.sitemaps.clear();
            self.flush_store_calls(ctx);
            return;
        }
        while self.delayed.peek().is_some_and(|d| d.due <= now) {
            let delayed = self.delayed.pop().expect("peeked");
            self.hops.push_back(delayed.job);
        }
        let mut need_robots: Vec<String> = Vec::new();
        // With a shared store, nothing is sent while the leases are not renewed.
        let may_send = self.may_send();
        while may_send
            && self.in_flight < self.limits.concurrency
            && self.storing < self.limits.concurrency
        {
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
                if let Some(request) = self.window.pop(cap, &mut ready) {
                    let key = host_key(&request.url).into_owned();
                    self.left_window(&key);
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
                            self.drop_out_of_scope(request);
                            continue;
                        }
                    }
                    self.dispatched += 1;
                    let refusal = self
                        .hosts
                        .get(&key)
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
        let starved =
            self.in_flight < self.limits.concurrency && self.storing < self.limits.concurrency;
        self.refill(ctx, starved);
        self.flush_store_calls(ctx);
        self.schedule_wakeup(ctx);
        if !self.pending_seeds.is_empty()
            && self.in_flight == 0
            && self.storing == 0
            && self.hops.is_empty()
            && self.delayed.is_empty()
            && self.wakeups.is_empty()
            && self.window.is_empty()
            && self.store_calls == 0
            && self.store.queued() == 0
        {
            // Nothing more can happen to the pending seeds: they were claimed in an
            // earlier run, as the target of another seed's redirect, say. Waiting for them
            // would hang the crawl.
            tracing::warn!(
                seeds = self.pending_seeds.len(),
                "seeds ended without a record; crawling on without them"
            );
            self.pending_seeds.clear();
            self.settle();
            self.dispatch(ctx);
        }
    }

    /// Asks the store for more requests: when the window is below half, or when capacity
    /// is free and the window holds nothing that may go (its hosts are waiting), for other
    /// hosts, up to four windows. Hosts with a full share of the window are skipped.
    fn refill(&mut self, ctx: &mut Context<Self>, starved: bool) {
        if self.refilling || self.stopping || self.closing || self.page_limit_reached() {
            return;
        }
        let queued = self.store.queued();
        if queued == 0 {
            return;
        }
        let len = self.window.len() + self.held.len();
        let low = len < self.window_size / 2;
        if !low && !starved {
            return;
        }
        // A shared store is asked again after a while: other processes change it.
        let poll = self.store.sharing().map(|sharing| sharing.poll);
        if self.dry.as_ref().is_some_and(|(was, skipped, at)| {
            *was == queued
                && *skipped == self.full_hosts
                && poll.is_none_or(|poll| at.elapsed() < poll)
        }) {
            return;
        }
        let most = if low {
            self.window_size
        } else {
            self.window_size.saturating_mul(4)
        };
        let mut max = most.saturating_sub(len);
        if let Some(limit) = self.limits.max_pages {
            let left = limit.saturating_sub(self.dispatched + len as u64);
            max = max.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        if max == 0 {
            return;
        }
        self.refilling = true;
        let skip = self.full_hosts.clone();
        let want = Want::new(max, self.host_window).skip(skip.iter().cloned());
        let store = self.store.clone();
        self.call(
            ctx,
            async move { store.take(want).await },
            move |me, taken| {
                me.refilling = false;
                me.dry = taken
                    .requests
                    .is_empty()
                    .then(|| (taken.queued, skip, Instant::now()));
                // Seeds that another process of a shared crawl saw land: the scope follows
                // them before the requests are judged.
                for (seed, landing) in taken.landings {
                    // It landed in another process: it is not pending here.
                    let was_pending = me.pending_seeds.remove(&seed);
                    if !me.follow_landing(&seed, &landing) && was_pending {
                        me.settle();
                    }
                }
                // Hosts another process of a shared crawl worked on: what it kept of them
                // (robots.txt, pauses) is taken back when they are met, or now for a host
                // met already (its robots.txt is taken unless known here).
                for state in taken.hosts {
                    match me.hosts.get_mut(&state.host) {
                        Some(host) => {
                            host.restore(
                                &state,
                                &me.limits.product_token,
                                me.limits.max_crawl_delay,
                                &mut me.wakeups,
                            );
                        }
                        None => {
                            me.saved_hosts.insert(state.host.clone(), state);
                        }
                    }
                }
                for request in taken.requests {
                    me.add_to_window(request);
                }
            },
        );
    }

    /// Sends the store the claims, notes and releases gathered since the last call.
    fn flush_store_calls(&mut self, ctx: &mut Context<Self>) {
        for requests in std::mem::take(&mut self.found) {
            if requests.is_empty() {
                continue;
            }
            let store = self.store.clone();
            self.call(ctx, async move { store.claim(requests).await }, |_, _| {});
        }
        for resource in std::mem::take(&mut self.resources) {
            let store = self.store.clone();
            let ResourceCall {
                claims,
                notes,
                archived,
                sitemap,
            } = resource;
            let call = async move { store.resource(claims, notes, archived).await };
            self.call(ctx, call, move |me, claimed| {
                if sitemap {
                    me.report.sitemap_urls += u64::from(claimed.new);
                }
            });
        }
        if !self.releases.is_empty() {
            let store = self.store.clone();
            let releases = std::mem::take(&mut self.releases);
            self.call(
                ctx,
                async move { store.release(releases).await },
                |_, ()| {},
            );
        }
        if !self.notes.is_empty() {
            let store = self.store.clone();
            let notes = std::mem::take(&mut self.notes);
            self.call(ctx, async move { store.note(notes).await }, |_, ()| {});
        }
    }

    /// Makes a store call; `then` gets its answer. A failed call stops the crawl.
    fn call<T: 'static>(
        &mut self,
        ctx: &mut Context<Self>,
        call: impl Future<Output = Result<T, StoreError>> + 'static,
        then: impl FnOnce(&mut Self, T) + 'static,
    ) {
        self.store_calls += 1;
        ctx.spawn(call.into_actor(self).map(move |result, me, ctx| {
            me.store_calls -= 1;
            match result {
                Ok(value) => then(me, value),
                Err(error) => me.store_failed(error, ctx),
            }
            me.dispatch(ctx);
            me.finish_if_done(ctx);
        }));
    }

    /// The store failed: the crawl stops (its state is only good up to the last commit).
    fn store_failed(&mut self, error: StoreError, ctx: &mut Context<Self>) {
        self.refilling = false;
        tracing::error!(%error, "the store failed; stopping the crawl");
        if !matches!(self.report.ended, EndReason::StoreFailed { .. }) {
            self.report.ended = EndReason::StoreFailed {
                error: error.to_string(),
            };
        }
        self.handle.stop_with(EndReason::StoreFailed {
            error: error.to_string(),
        });
        self.begin_stop(ctx);
    }

    /// Gives a taken URL that a seed's landing put out of scope back to the store.
    fn drop_out_of_scope(&mut self, request: CrawlRequest) {
        self.report.out_of_scope += 1;
        // It was counted as queued when it was found: on a page, or in a sitemap.
        if request.depth > 0 {
            self.report.links_queued = self.report.links_queued.saturating_sub(1);
        } else if request.parent.is_some() {
            self.report.sitemap_urls = self.report.sitemap_urls.saturating_sub(1);
        }
        self.releases.push(request);
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
        if let Some(depth) = depth {
            self.release_depth(depth);
        }
    }

    fn release_depth(&mut self, depth: u32) {
        if let Some(load) = self.depth_load.get_mut(&depth) {
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

    fn on_robots(&mut self, name: &str, outcome: RobotsOutcome, archived: Vec<Arc<HttpExchange>>) {
        self.report.robots_fetched += 1;
        let mut notes = Vec::new();
        let backoff = self.limits.retry_backoff;
        let max_crawl_delay = self.limits.max_crawl_delay;
        let Some(host) = self.hosts.get_mut(name) else {
            return;
        };
        let saved = |outcome| Some(SavedRobots::new(SystemTime::now(), outcome));
        match outcome {
            RobotsOutcome::Rules(rules, fetched) => {
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
                host.saved_robots = saved(fetched);
                notes.push(Note::Host(host.state(name)));
                for sitemap in sitemaps {
                    self.enqueue_sitemap(sitemap, 0, false);
                }
            }
            RobotsOutcome::RedirectOutOfScope(why) => {
                tracing::debug!(host = name, %why, "robots.txt redirect not followed: crawling the host as if it had none");
                host.robots = RobotsState::Ready(Arc::new(RobotsRules::allow_all()));
                host.saved_robots = saved(RobotsFetch::AllowAll);
                notes.push(Note::Host(host.state(name)));
                self.report.resources_out_of_scope += 1;
            }
            RobotsOutcome::Unavailable(why) => {
                host.robots_attempts += 1;
                tracing::warn!(host = name, attempt = host.robots_attempts, kind = %why.kind, why = %why.message, "robots.txt unavailable");
                if host.robots_attempts >= ROBOTS_ATTEMPTS {
                    host.saved_robots = saved(RobotsFetch::Unavailable(why.clone()));
                    notes.push(Note::Host(host.state(name)));
                    host.robots = RobotsState::Unavailable(why);
                } else {
                    host.robots = RobotsState::Unknown;
                    let wait =
                        backoff.saturating_mul(2u32.saturating_pow(host.robots_attempts - 1));
                    host.defer(after(Instant::now(), wait), &mut self.wakeups);
                }
            }
        }
        self.keep_resource(Vec::new(), notes, archived, false);
    }

    /// Queues a store call for what a crawler resource gave, unless it gave nothing.
    fn keep_resource(
        &mut self,
        claims: Vec<CrawlRequest>,
        notes: Vec<Note>,
        archived: Vec<Arc<HttpExchange>>,
        sitemap: bool,
    ) {
        if claims.is_empty() && notes.is_empty() && archived.is_empty() {
            return;
        }
        self.resources.push(ResourceCall {
            claims,
            notes,
            archived,
            sitemap,
        });
    }

    /// A seed redirected to `landing`: its part of the scope is taken from there, and the
    /// store keeps it.
    fn land(&mut self, seed: &Url, landing: &Url) {
        if self.follow_landing(seed, landing) {
            self.notes.push(Note::SeedLanded {
                seed: seed.clone(),
                landing: landing.clone(),
            });
            tracing::info!(%seed, %landing, "seed redirected: its scope is taken from where it lands");
        }
    }

    /// The scope follows a seed's landing, seen here or by another process of a shared
    /// crawl. Whether the scope changed.
    fn follow_landing(&mut self, seed: &Url, landing: &Url) -> bool {
        let changed = self.scope.land(seed, landing);
        if changed {
            self.current = self.scope.get();
            self.scope_changed = true;
            self.settle();
        }
        changed
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
            archived,
        } = sitemap;
        if let Some(why) = error {
            self.keep_resource(Vec::new(), Vec::new(), archived, true);
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
        self.report.out_of_scope += u64::from(counts.out_of_scope);
        self.report.too_long += u64::from(counts.too_long);
        self.report.repeating_path += u64::from(counts.repeating);
        tracing::debug!(sitemap = %url, pages = pages.len(), nested = nested.len(), "sitemap read");
        let parent = std::sync::Arc::new(url.clone());
        let requests = pages
            .into_iter()
            .map(|page| CrawlRequest {
                parent: Some(parent.clone()),
                seed: false,
                ..CrawlRequest::seed(page)
            })
            .collect();
        // Its URLs, the note that it was read and its exchanges in one call: after a crash
        // it is either wholly kept or read again.
        self.keep_resource(requests, vec![Note::SitemapRead(url)], archived, true);
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
            let name = host_key(&job.target).into_owned();
            self.meet(&job.target);
            let host = self.hosts.get_mut(&name).expect("met above");
            host.paused_until = SystemTime::now().checked_add(pause);
            let state = host.state(&name);
            host.defer(after(now, pause), &mut self.wakeups);
            self.notes.push(Note::Host(state));
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

    /// Ends the crawl when nothing is in flight and nothing more will be dispatched: the
    /// store's last call, then the report.
    fn finish_if_done(&mut self, ctx: &mut Context<Self>) {
        let mut queued = self.store.queued();
        self.stats.set_load(
            queued + (self.window.len() + self.held.len()) as u64,
            (self.in_flight + self.storing) as u64,
        );
        if queued > 0
            && self.store.sharing().is_none()
            && self.window.is_empty()
            && self.held.is_empty()
            && self.in_flight + self.storing == 0
            && self
                .dry
                .as_ref()
                .is_some_and(|(was, skipped, _)| *was == queued && skipped.is_empty())
        {
            // The store says requests are queued, but gave none when asked for any host:
            // it is taken at its word that there is nothing to take (a custom store whose
            // count is wrong), rather than waited for forever.
            if !self.store_dry_warned {
                tracing::warn!(
                    queued,
                    "the store counts requests queued but gives none: ending the crawl"
                );
                self.store_dry_warned = true;
            }
            queued = 0;
        }
        let more = !self.hops.is_empty()
            || !self.delayed.is_empty()
            || (!self.stopping
                && !self.page_limit_reached()
                && (queued > 0
                    || !self.window.is_empty()
                    || !self.held.is_empty()
                    || !self.sitemaps.is_empty()));
        if self.in_flight > 0 || self.storing > 0 || self.store_calls > 0 || more || self.closing {
            return;
        }
        self.closing = true;
        self.handle.mark_finished();
        // Requests given at the last moment, before the mark, are counted as not crawled
        // rather than lost without a word.
        let late = self.handle.take_requests().len() as u64;
        let store = self.store.clone();
        let ended = self.end_reason(0, false).to_string();
        ctx.spawn(
            async move { store.close(ended).await }
                .into_actor(self)
                .map(move |remaining, me, ctx| {
                    me.report_end(remaining, late);
                    ctx.stop();
                }),
        );
    }

    /// Why the crawl ended, with `not_crawled` URLs left (`pages_spent`: a shared store
    /// says the crawl's page budget is spent).
    fn end_reason(&self, not_crawled: u64, pages_spent: bool) -> EndReason {
        if let EndReason::StoreFailed { .. } = &self.report.ended {
            self.report.ended.clone()
        } else if self.stopping {
            self.handle.stop_reason().unwrap_or(EndReason::Stopped {
                by: "a stop was asked for".into(),
            })
        } else if (self.page_limit_reached() || pages_spent) && not_crawled > 0 {
            EndReason::PageLimit
        } else {
            EndReason::Completed
        }
    }

    /// Sends the report, once.
    fn report_end(&mut self, remaining: Result<Remaining, StoreError>, late: u64) {
        let Some(done) = self.done.take() else {
            return;
        };
        let remaining = match remaining {
            Ok(remaining) => remaining,
            Err(error) => {
                tracing::error!(%error, "the store failed at the end of the crawl");
                self.report.ended = EndReason::StoreFailed {
                    error: error.to_string(),
                };
                Remaining::default()
            }
        };
        let not_crawled = late
            + remaining.queued
            + (self.window.len() + self.held.len()) as u64
            + self.interrupted;
        let ended = self.end_reason(not_crawled, remaining.pages_spent);
        let mut report = std::mem::take(&mut self.report);
        report.not_crawled += not_crawled;
        report.host_budget += remaining.over_budget;
        report.stopped = self.stopping;
        report.ended = ended;
        report.elapsed = self.started.elapsed();
        tracing::info!(pages = report.pages, elapsed = ?report.elapsed, ended = %report.ended, "crawl finished");
        let _ = done.send(report);
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
        let mut requests = Vec::new();
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
            requests.push(request);
        }
        if !requests.is_empty() {
            self.found.push(requests);
        }
    }
    /// Accounts for a page that is done: its record, its links and items, the seeds'
    /// landing, and the close conditions.
    fn on_page(&mut self, page: PageDone, ctx: &mut Context<Self>) {
        let PageDone {
            record,
            seed,
            queued,
            counts,
            items,
            spider_error,
            store_error,
        } = page;
        if let Some(error) = store_error {
            self.store_failed(error, ctx);
        }
        if seed {
            // A seed whose redirect target was crawled already ends at its redirect; it
            // landed there all the same.
            if record.error.is_none()
                && let Some(landing) = record.redirects.last().and_then(|r| r.location.as_ref())
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
        self.report.documents_refused += u64::from(counts.documents_refused);
        self.report.links_found += u64::from(counts.found);
        self.report.links_queued += u64::from(queued);
        self.report.out_of_scope += u64::from(counts.out_of_scope);
        self.report.beyond_max_depth += u64::from(counts.beyond_depth);
        self.report.too_long += u64::from(counts.too_long);
        self.report.repeating_path += u64::from(counts.repeating);
        self.report.skipped.merge(&counts.skipped);
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
            queued = self.store.queued(),
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
        if self.store.is_durable() {
            // A durable store commits at least this often, even when nothing else calls it.
            ctx.run_interval(crate::journal::COMMIT_INTERVAL / 2, |supervisor, ctx| {
                if supervisor.closing {
                    return;
                }
                let store = supervisor.store.clone();
                ctx.spawn(
                    async move { store.tick().await }
                        .into_actor(supervisor)
                        .map(|result, supervisor, ctx| {
                            if let Err(error) = result {
                                supervisor.store_failed(error, ctx);
                            }
                        }),
                );
            });
        }
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
        if let Finished::Stored(page) = msg.finished {
            // The end of a page whose request was released at `Storing`.
            self.storing -= 1;
            self.release_depth(page.record.depth);
            self.on_page(*page, ctx);
            self.take_handle_requests();
            self.dispatch(ctx);
            self.finish_if_done(ctx);
            return;
        }
        let page_depth = match &msg.finished {
            Finished::Redirect(job) | Finished::Retry { job, .. } => Some(job.request.depth),
            Finished::Page(page) => Some(page.record.depth),
            // The page keeps its place among the pages in flight by depth until stored.
            Finished::Storing | Finished::Stored(_) => None,
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
                self.meet(&job.target);
                self.hops.push_back(*job);
            }
            Finished::Retry { job, retry_after } => self.retry_later(*job, retry_after),
            Finished::Robots {
                host,
                outcome,
                archived,
            } => self.on_robots(&host, outcome, archived),
            Finished::Sitemap(sitemap) => self.on_sitemap(*sitemap),
            Finished::Storing => self.storing += 1,
            Finished::Page(page) | Finished::Stored(page) => self.on_page(*page, ctx),
        }
        self.take_handle_requests();
        self.dispatch(ctx);
        self.finish_if_done(ctx);
    }
}
