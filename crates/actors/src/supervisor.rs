//! The supervisor: one per crawl. Owns the frontier and decides what is fetched when, and
//! when the crawl is over.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use actix::{Actor, ActorContext, Addr, Context, Handler, Message};
use arachne_core::{CrawlReport, CrawlRequest, CrawlStats, Frontier, PageRecord, host_key};
use tokio::sync::oneshot;
use url::Url;

use crate::fetcher::{Fetch, FetchJob, Fetcher};
use crate::parser::LinkCounts;

/// A fetcher finished a job's hop. Exactly one `Done` arrives for every `Fetch` sent.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Done {
    pub fetcher: usize,
    /// The host the hop went to, whose in-flight count this frees.
    pub host: String,
    pub finished: Finished,
}

pub(crate) enum Finished {
    /// The URL is done: its record, and the new in-scope links of its page.
    Page(Box<PageDone>),
    /// The URL redirected to a new, in-scope URL: the next hop goes through the supervisor,
    /// so it obeys the same concurrency limits as any request.
    Redirect(Box<FetchJob>),
}

pub(crate) struct PageDone {
    pub record: Arc<PageRecord>,
    pub new_links: Vec<Url>,
    pub counts: LinkCounts,
}

impl Finished {
    pub fn page(record: Arc<PageRecord>, new_links: Vec<Url>, counts: LinkCounts) -> Self {
        Finished::Page(Box::new(PageDone {
            record,
            new_links,
            counts,
        }))
    }
}

/// The limits the supervisor enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub concurrency: usize,
    pub per_host: usize,
    pub max_pages: Option<u64>,
    /// Dispatch level by level: no URL of depth d+1 starts while one of depth d is in
    /// flight. Set with a depth limit, so that every URL gets its true (shortest) depth
    /// and the limit crawls exactly the pages within it.
    pub level_sync: bool,
}

/// Dispatches URLs from the frontier to fetchers within the limits, collects their results,
/// and ends the crawl when nothing is left.
pub(crate) struct Supervisor {
    /// URLs waiting, by host. On its own, the only structure that grows with the site.
    frontier: Box<dyn Frontier>,
    /// Later hops of redirected URLs. They go before the frontier: they belong to URLs that
    /// already count against the page limit.
    hops: VecDeque<FetchJob>,
    /// Hops in flight per host. A host is absent when it has none.
    host_load: HashMap<String, usize>,
    /// Each fetcher and its hops in flight: work goes to the least loaded.
    fetchers: Vec<(Addr<Fetcher>, usize)>,
    /// Hops in flight over all hosts: dispatched and not yet `Done`. A hop counts from
    /// dispatch until its page is parsed and delivered, so this bounds every mailbox and
    /// every body held in memory. The crawl ends when this is zero and nothing waits.
    in_flight: usize,
    /// URLs taken from the frontier (the page limit counts these).
    dispatched: u64,
    /// Hops in flight by depth of their URL: the lowest key caps dispatch in level-sync
    /// mode.
    depth_load: std::collections::BTreeMap<u32, usize>,
    limits: Limits,
    report: CrawlReport,
    stats: Arc<CrawlStats>,
    started: Instant,
    /// Where the report goes when the crawl ends; taken then, so it ends once.
    done: Option<oneshot::Sender<CrawlReport>>,
}

impl Supervisor {
    pub fn new(
        frontier: Box<dyn Frontier>,
        limits: Limits,
        stats: Arc<CrawlStats>,
        done: oneshot::Sender<CrawlReport>,
    ) -> Self {
        Self {
            frontier,
            hops: VecDeque::new(),
            host_load: HashMap::new(),
            fetchers: Vec::new(),
            in_flight: 0,
            dispatched: 0,
            depth_load: std::collections::BTreeMap::new(),
            limits,
            report: CrawlReport::default(),
            stats,
            started: Instant::now(),
            done: Some(done),
        }
    }

    pub fn add_fetcher(&mut self, fetcher: Addr<Fetcher>) {
        self.fetchers.push((fetcher, 0));
    }

    fn page_limit_reached(&self) -> bool {
        self.limits
            .max_pages
            .is_some_and(|max| self.dispatched >= max)
    }

    /// Sends work to fetchers while there is free capacity.
    fn dispatch(&mut self) {
        while self.in_flight < self.limits.concurrency {
            let per_host = self.limits.per_host;
            let host_load = &self.host_load;
            let ready = |url: &Url| host_load.get(host_key(url)).is_none_or(|&n| n < per_host);
            let job = if let Some(at) = self.hops.iter().position(|job| ready(&job.target)) {
                self.hops.remove(at)
            } else if self.page_limit_reached() {
                None
            } else {
                let mut host_ready = |host: &str| host_load.get(host).is_none_or(|&n| n < per_host);
                let depth_cap = if self.limits.level_sync {
                    let waiting = self.hops.iter().map(|job| job.request.depth);
                    self.depth_load
                        .keys()
                        .copied()
                        .chain(waiting)
                        .min()
                        .unwrap_or(u32::MAX)
                } else {
                    u32::MAX
                };
                let request = self.frontier.pop(depth_cap, &mut host_ready);
                self.dispatched += u64::from(request.is_some());
                request.map(FetchJob::new)
            };
            let Some(job) = job else { break };
            self.send(job);
        }
    }

    fn send(&mut self, job: FetchJob) {
        *self
            .host_load
            .entry(host_key(&job.target).to_owned())
            .or_default() += 1;
        *self.depth_load.entry(job.request.depth).or_default() += 1;
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
        });
    }

    fn release(&mut self, fetcher: usize, host: &str, depth: u32) {
        self.in_flight -= 1;
        if let Some(load) = self.depth_load.get_mut(&depth) {
            *load -= 1;
            if *load == 0 {
                self.depth_load.remove(&depth);
            }
        }
        if let Some((_, load)) = self.fetchers.get_mut(fetcher) {
            *load = load.saturating_sub(1);
        }
        if let Some(load) = self.host_load.get_mut(host) {
            *load -= 1;
            if *load == 0 {
                self.host_load.remove(host);
            }
        }
    }

    fn enqueue_links(&mut self, parent: &PageRecord, links: Vec<Url>) {
        for url in links {
            let pending = self.dispatched + self.frontier.len() as u64;
            if self.limits.max_pages.is_some_and(|max| pending >= max) {
                // Never crawled: the page limit is already covered by what is queued.
                self.report.not_crawled += 1;
                continue;
            }
            self.frontier.push(CrawlRequest {
                url,
                depth: parent.depth + 1,
                parent: Some(parent.url.clone()),
            });
        }
    }

    /// Ends the crawl when nothing is in flight and nothing more will be dispatched.
    fn finish_if_done(&mut self, ctx: &mut Context<Self>) {
        self.stats
            .set_load(self.frontier.len() as u64, self.in_flight as u64);
        let idle = self.in_flight == 0 && self.hops.is_empty();
        if !idle || !(self.frontier.is_empty() || self.page_limit_reached()) {
            return;
        }
        if let Some(done) = self.done.take() {
            let mut report = std::mem::take(&mut self.report);
            report.not_crawled += self.frontier.len() as u64;
            report.elapsed = self.started.elapsed();
            let _ = done.send(report);
        }
        ctx.stop();
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.started = Instant::now();
        self.dispatch();
        self.finish_if_done(ctx);
    }
}

/// Accounts for a finished hop, queues what it found, and dispatches more work.
impl Handler<Done> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Done, ctx: &mut Self::Context) {
        let depth = match &msg.finished {
            Finished::Redirect(job) => job.request.depth,
            Finished::Page(page) => page.record.depth,
        };
        self.release(msg.fetcher, &msg.host, depth);
        match msg.finished {
            Finished::Redirect(job) => self.hops.push_back(*job),
            Finished::Page(page) => {
                let PageDone {
                    record,
                    new_links,
                    counts,
                } = *page;
                self.stats.record(&record);
                self.report.add(&record);
                self.report.links_found += u64::from(counts.found);
                self.report.links_queued += new_links.len() as u64;
                self.report.out_of_scope += u64::from(counts.out_of_scope);
                self.report.beyond_max_depth += u64::from(counts.beyond_depth);
                self.report.skipped.merge(&counts.skipped);
                self.enqueue_links(&record, new_links);
            }
        }
        self.dispatch();
        self.finish_if_done(ctx);
    }
}
