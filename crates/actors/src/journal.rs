//! How the crawl calls its store: in place for a store that never blocks (memory), or
//! through the journal, a thread of its own, for a durable one.
//!
//! The journal owns a durable store and the output files that are part of the crawl's
//! state. It writes each page's record, items and HTTP exchanges to those files in the
//! same order as it records the page's outcome in the store, and commits the store
//! together with how far each file was written. After a crash the files are cut back to
//! their committed lengths and the pages after that point are fetched again: each page's
//! record is in each file exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::{Actor, Addr, Handler, Message, MessageResult, SyncContext};
use arachne_core::store::{
    Claimed, HostState, Note, Outcome, OutputMark, Remaining, Sharing, Store, StoreError, Want,
};
use arachne_core::{CrawlRequest, ExchangeWriter, Fingerprint, HttpExchange, PageRecord, SeenSet};

use crate::outputs::{FileWriter, OpenedFile};
use crate::sink::Output;

/// A commit at least this often while the crawl runs: after a crash, the pages that were in
/// flight or finished within this time before it are fetched again.
pub(crate) const COMMIT_INTERVAL: Duration = Duration::from_millis(500);
/// A commit after this many changes, whichever comes first.
pub(crate) const COMMIT_CHANGES: usize = 2_000;

/// The crawl's handle on its store.
#[derive(Clone)]
pub(crate) struct StoreClient {
    inner: Inner,
    /// What `Store::queued` said after the latest call.
    queued: Arc<AtomicU64>,
    /// The store's seen set, when it lives in this process.
    seen: Option<Arc<dyn SeenSet>>,
    /// How a store shared with other processes steers the crawl.
    sharing: Option<Sharing>,
}

/// What a take gave: the requests, what the store's queue held right after, and what other
/// processes kept of hosts taken for the first time and of seeds that landed.
pub(crate) struct Taken {
    pub requests: Vec<CrawlRequest>,
    pub queued: u64,
    pub hosts: Vec<HostState>,
    /// Seeds that landed, as other processes noted them.
    pub landings: Vec<(url::Url, url::Url)>,
}

/// Takes requests, with what goes with them.
fn take_from(store: &mut dyn Store, want: &Want) -> Result<Taken, StoreError> {
    let requests = store.take(want)?;
    Ok(Taken {
        requests,
        queued: store.queued(),
        hosts: store.taken_hosts(),
        landings: store.seed_landings(),
    })
}

#[derive(Clone)]
enum Inner {
    InPlace(Arc<Mutex<Box<dyn Store>>>),
    Journal(Addr<Journal>),
}

/// An item for the durable item outputs: its type's name and its JSON form.
pub(crate) type ItemJson = (&'static str, Arc<serde_json::Value>);

/// What a fetcher hands the store when a page is done.
pub(crate) struct PageEnd {
    /// The request as it was taken.
    pub request: CrawlRequest,
    /// The redirect targets it claimed.
    pub hops: Vec<Fingerprint>,
    /// Its record; `new_links` is filled in by the claim.
    pub record: PageRecord,
    /// Requests it found, to claim and queue.
    pub found: Vec<CrawlRequest>,
    /// Its items, for the durable item outputs.
    pub items: Vec<ItemJson>,
    /// Its exchanges, for the durable archives.
    pub exchanges: Vec<Arc<HttpExchange>>,
}

/// What became of a page in the store.
pub(crate) struct PageFinished {
    /// The record as written.
    pub record: Arc<PageRecord>,
    /// Requests claimed and queued.
    pub queued: u32,
    /// The store failed: the links, or the outcome, were not recorded.
    pub error: Option<StoreError>,
}

impl PageFinished {
    fn failed(record: PageRecord, error: StoreError) -> Self {
        Self {
            record: Arc::new(record),
            queued: 0,
            error: Some(error),
        }
    }
}

/// Claims and queues what a crawler resource listed, and keeps its notes.
fn keep_resource(
    store: &mut dyn Store,
    claims: Vec<CrawlRequest>,
    notes: Vec<Note>,
) -> Result<Claimed, StoreError> {
    let claimed = if claims.is_empty() {
        Claimed::default()
    } else {
        store.claim(claims)?
    };
    store.note(notes)?;
    Ok(claimed)
}

/// A durable output's writes for a page.
type WritePage<'a> =
    dyn FnMut(&PageRecord, &[ItemJson], &[Arc<HttpExchange>]) -> Result<(), StoreError> + 'a;

/// Claims a page's requests, fills in its record, writes it (with `write`) and records its
/// outcome, in this order.
fn finish_page(store: &mut dyn Store, end: PageEnd, write: &mut WritePage<'_>) -> PageFinished {
    let PageEnd {
        request,
        hops,
        mut record,
        found,
        items,
        exchanges,
    } = end;
    let claimed = if found.is_empty() {
        Ok(0)
    } else {
        store.claim(found).map(|claimed| claimed.new)
    };
    let queued = *claimed.as_ref().unwrap_or(&0);
    record.new_links = queued;
    let record = Arc::new(record);
    let error = match claimed {
        Err(error) => Some(error),
        Ok(_) => write(&record, &items, &exchanges)
            .and_then(|()| {
                store.complete(vec![Outcome::new(&request, Arc::clone(&record)).hops(hops)])
            })
            .err(),
    };
    PageFinished {
        record,
        queued,
        error,
    }
}

impl StoreClient {
    /// Calls `store` in place.
    pub fn in_place(store: Box<dyn Store>) -> Self {
        let queued = Arc::new(AtomicU64::new(store.queued()));
        let seen = store.seen();
        let sharing = store.sharing();
        Self {
            inner: Inner::InPlace(Arc::new(Mutex::new(store))),
            queued,
            seen,
            sharing,
        }
    }

    /// Starts the journal thread for a durable store and the files it keeps.
    pub fn journal(store: Box<dyn Store>, files: Vec<OpenedFile>) -> Self {
        let queued = Arc::new(AtomicU64::new(store.queued()));
        let seen = store.seen();
        let sharing = store.sharing();
        let journal = Journal {
            store: Some(store),
            files,
            queued: Arc::clone(&queued),
            changes: 0,
            committed: false,
            last_commit: Instant::now(),
            failed: None,
        };
        let journal = Mutex::new(Some(journal));
        let addr = actix::SyncArbiter::start(1, move || {
            journal
                .lock()
                .ok()
                .and_then(|mut journal| journal.take())
                .expect("the journal thread starts once (it is never restarted)")
        });
        Self {
            inner: Inner::Journal(addr),
            queued,
            seen,
            sharing,
        }
    }

    /// How a store shared with other processes steers the crawl; `None` for one of this
    /// process alone.
    pub fn sharing(&self) -> Option<&Sharing> {
        self.sharing.as_ref()
    }

    /// Whether the outputs of this crawl's state are written by the journal.
    pub fn is_durable(&self) -> bool {
        matches!(self.inner, Inner::Journal(_))
    }

    /// The seen set parser threads look links up in.
    pub fn seen(&self) -> Option<Arc<dyn SeenSet>> {
        self.seen.clone()
    }

    /// Requests queued in the store that a take may return.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Acquire)
    }

    fn call_in_place<T>(
        &self,
        store: &Mutex<Box<dyn Store>>,
        call: impl FnOnce(&mut dyn Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut store = store
            .lock()
            .map_err(|_| StoreError::Failed("the store panicked in an earlier call".into()))?;
        let result = call(store.as_mut());
        self.queued.store(store.queued(), Ordering::Release);
        result
    }

    async fn ask_journal<M>(addr: &Addr<Journal>, msg: M) -> Result<M::Result, StoreError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        Journal: Handler<M>,
    {
        addr.send(msg)
            .await
            .map_err(|_| StoreError::Failed("the journal thread stopped".into()))
    }

    pub async fn claim(&self, requests: Vec<CrawlRequest>) -> Result<Claimed, StoreError> {
        match &self.inner {
            Inner::InPlace(store) => self.call_in_place(store, |s| s.claim(requests)),
            Inner::Journal(addr) => Self::ask_journal(addr, Claim(requests)).await?,
        }
    }

    pub async fn claim_hop(&self, hop: CrawlRequest) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::InPlace(store) => self.call_in_place(store, |s| s.claim_hop(&hop)),
            Inner::Journal(addr) => Self::ask_journal(addr, ClaimHop(hop)).await?,
        }
    }

    /// A page is done: claims and queues the requests it found, counts the new ones in its
    /// record, and records its outcome, in one call. With the journal, the record, items
    /// and exchanges go to the durable outputs too, in the same order as the outcome.
    pub async fn finish(&self, end: PageEnd) -> PageFinished {
        match &self.inner {
            Inner::InPlace(store) => {
                let Ok(mut store) = store.lock() else {
                    let error = StoreError::Failed("the store panicked in an earlier call".into());
                    return PageFinished::failed(end.record, error);
                };
                let finished = finish_page(store.as_mut(), end, &mut |_, _, _| Ok(()));
                self.queued.store(store.queued(), Ordering::Release);
                finished
            }
            Inner::Journal(addr) => {
                let fallback = end.record.clone();
                match Self::ask_journal(addr, Finish(end)).await {
                    Ok(finished) => finished,
                    Err(error) => PageFinished::failed(fallback, error),
                }
            }
        }
    }

    /// What a crawler resource (a robots.txt, a sitemap) gave, in one call: the requests
    /// it listed, claimed and queued, the facts to keep (a host's robots.txt, a sitemap
    /// read), and, with the journal, its exchanges for the durable archives. In one call,
    /// so that after a crash the resource is either wholly kept or fetched again.
    pub async fn resource(
        &self,
        claims: Vec<CrawlRequest>,
        notes: Vec<Note>,
        exchanges: Vec<Arc<HttpExchange>>,
    ) -> Result<Claimed, StoreError> {
        match &self.inner {
            Inner::InPlace(store) => self.call_in_place(store, |s| keep_resource(s, claims, notes)),
            Inner::Journal(addr) => {
                Self::ask_journal(
                    addr,
                    Resource {
                        claims,
                        notes,
                        exchanges,
                    },
                )
                .await?
            }
        }
    }

    /// Takes requests for the window.
    pub async fn take(&self, want: Want) -> Result<Taken, StoreError> {
        match &self.inner {
            Inner::InPlace(store) => self.call_in_place(store, |s| take_from(s, &want)),
            Inner::Journal(addr) => Self::ask_journal(addr, Take(want)).await?,
        }
    }

    pub async fn release(&self, requests: Vec<CrawlRequest>) -> Result<(), StoreError> {
        match &self.inner {
            Inner::InPlace(store) => self.call_in_place(store, |s| s.release(requests)),
            Inner::Journal(addr) => Self::ask_journal(addr, Release(requests)).await?,
        }
    }

    pub async fn note(&self, notes: Vec<Note>) -> Result<(), StoreError> {
        match &self.inner {
            Inner::InPlace(store) => self.call_in_place(store, |s| s.note(notes)),
            Inner::Journal(addr) => Self::ask_journal(addr, Notes(notes)).await?,
        }
    }

    /// Lets the journal commit if one is due.
    pub async fn tick(&self) -> Result<(), StoreError> {
        match &self.inner {
            Inner::InPlace(_) => Ok(()),
            Inner::Journal(addr) => Self::ask_journal(addr, Tick).await?,
        }
    }

    /// The last commit; what is left queued.
    pub async fn close(&self, ended: String) -> Result<Remaining, StoreError> {
        match &self.inner {
            Inner::InPlace(store) => self.call_in_place(store, |s| s.close(&ended, &[])),
            Inner::Journal(addr) => Self::ask_journal(addr, Close(ended)).await?,
        }
    }
}

/// The journal: the one thread that calls a durable store and writes the files of the
/// crawl's state.
pub(crate) struct Journal {
    /// Dropped at `Close`, which releases what the store holds (a file lock) before the
    /// crawl's report goes out.
    store: Option<Box<dyn Store>>,
    files: Vec<OpenedFile>,
    queued: Arc<AtomicU64>,
    /// Changes since the last commit.
    changes: usize,
    /// Whether this run committed yet.
    committed: bool,
    last_commit: Instant,
    /// A failed store stays failed: every later call gets this error.
    failed: Option<StoreError>,
}

impl Actor for Journal {
    type Context = SyncContext<Self>;
}

impl Journal {
    fn store(&mut self) -> Result<&mut dyn Store, StoreError> {
        match &mut self.store {
            Some(store) => Ok(store.as_mut()),
            None => Err(StoreError::Failed("the store was closed".into())),
        }
    }

    /// Runs a call, unless the store failed before; counts the change, and commits when
    /// one is due.
    fn call<T>(
        &mut self,
        changes: usize,
        call: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = call(self);
        self.changes += changes;
        let result = result.and_then(|value| {
            // The first commit comes at once: from then on, the state knows every output
            // of this run (a file it does not know is not this crawl's).
            if !self.committed
                || self.changes >= COMMIT_CHANGES
                || self.last_commit.elapsed() >= COMMIT_INTERVAL
            {
                self.commit()?;
            }
            Ok(value)
        });
        if let Some(store) = &self.store {
            self.queued.store(store.queued(), Ordering::Release);
        }
        if let Err(error) = &result {
            tracing::error!(%error, "the crawl's state store failed; the crawl stops");
            self.failed = Some(error.clone());
        }
        result
    }

    fn marks(&self) -> Vec<OutputMark> {
        self.files.iter().map(OpenedFile::mark).collect()
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if self.changes == 0 && self.committed {
            self.last_commit = Instant::now();
            return Ok(());
        }
        self.sync_files()?;
        let marks = self.marks();
        self.store()?.commit(&marks)?;
        self.changes = 0;
        self.committed = true;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Forces every file of the crawl's state to the disk: after a power cut too, no file
    /// is shorter than the mark a commit gives it.
    fn sync_files(&mut self) -> Result<(), StoreError> {
        for file in &mut self.files {
            file.sync().map_err(|e| write_failed(&file.key, &e))?;
        }
        Ok(())
    }

    fn write_exchanges(&mut self, exchanges: &[Arc<HttpExchange>]) -> Result<(), StoreError> {
        for file in &mut self.files {
            if let FileWriter::Warc(warc) = &mut file.writer {
                exchanges
                    .iter()
                    .try_for_each(|exchange| warc.write_exchange(exchange))
                    .map_err(|e| write_failed(&file.key, &e))?;
            }
        }
        Ok(())
    }
}

/// Writes a page's record, items and exchanges to the durable outputs.
fn write_page(
    files: &mut [OpenedFile],
    record: &PageRecord,
    items: &[ItemJson],
    exchanges: &[Arc<HttpExchange>],
) -> Result<(), StoreError> {
    for file in files {
        let result = match &mut file.writer {
            FileWriter::Records(Output::Records(w), _) => w.write_record(record),
            FileWriter::Items(Output::Items(w), _) => items
                .iter()
                .try_for_each(|(kind, item)| w.write_item(kind, item)),
            FileWriter::Warc(warc) => exchanges
                .iter()
                .try_for_each(|exchange| warc.write_exchange(exchange)),
            _ => Ok(()),
        };
        result.map_err(|e| write_failed(&file.key, &e))?;
    }
    Ok(())
}

fn write_failed(path: &str, error: &std::io::Error) -> StoreError {
    StoreError::Failed(format!("writing {path}: {error}"))
}

#[derive(Message)]
#[rtype(result = "Result<Claimed, StoreError>")]
struct Claim(Vec<CrawlRequest>);

#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
struct ClaimHop(CrawlRequest);

#[derive(Message)]
#[rtype(result = "PageFinished")]
struct Finish(PageEnd);

#[derive(Message)]
#[rtype(result = "Result<Claimed, StoreError>")]
struct Resource {
    claims: Vec<CrawlRequest>,
    notes: Vec<Note>,
    exchanges: Vec<Arc<HttpExchange>>,
}

#[derive(Message)]
#[rtype(result = "Result<Taken, StoreError>")]
struct Take(Want);

#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
struct Release(Vec<CrawlRequest>);

#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
struct Notes(Vec<Note>);

#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
struct Tick;

#[derive(Message)]
#[rtype(result = "Result<Remaining, StoreError>")]
struct Close(String);

impl Handler<Claim> for Journal {
    type Result = MessageResult<Claim>;

    fn handle(&mut self, msg: Claim, _: &mut Self::Context) -> Self::Result {
        let changes = msg.0.len();
        MessageResult(self.call(changes, |j| j.store()?.claim(msg.0)))
    }
}

impl Handler<ClaimHop> for Journal {
    type Result = MessageResult<ClaimHop>;

    fn handle(&mut self, msg: ClaimHop, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.call(0, |j| j.store()?.claim_hop(&msg.0)))
    }
}

impl Handler<Finish> for Journal {
    type Result = MessageResult<Finish>;

    fn handle(&mut self, msg: Finish, _: &mut Self::Context) -> Self::Result {
        let end = msg.0;
        if let Some(error) = &self.failed {
            return MessageResult(PageFinished::failed(end.record, error.clone()));
        }
        let Some(store) = self.store.as_deref_mut() else {
            let error = StoreError::Failed("the store was closed".into());
            return MessageResult(PageFinished::failed(end.record, error));
        };
        let changes = 1 + end.found.len();
        let files = &mut self.files;
        let mut finished = finish_page(store, end, &mut |record, items, exchanges| {
            write_page(files, record, items, exchanges)
        });
        // The page's failure, or a failed commit after it, fails the store.
        let result = self.call(changes, |_| finished.error.clone().map_or(Ok(()), Err));
        if finished.error.is_none() {
            finished.error = result.err();
        }
        MessageResult(finished)
    }
}

impl Handler<Resource> for Journal {
    type Result = MessageResult<Resource>;

    fn handle(&mut self, msg: Resource, _: &mut Self::Context) -> Self::Result {
        let Resource {
            claims,
            notes,
            exchanges,
        } = msg;
        let changes = 1 + claims.len() + notes.len();
        MessageResult(self.call(changes, |j| {
            j.write_exchanges(&exchanges)?;
            keep_resource(j.store()?, claims, notes)
        }))
    }
}

impl Handler<Take> for Journal {
    type Result = MessageResult<Take>;

    fn handle(&mut self, msg: Take, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.call(0, |j| take_from(j.store()?, &msg.0)))
    }
}

impl Handler<Release> for Journal {
    type Result = MessageResult<Release>;

    fn handle(&mut self, msg: Release, _: &mut Self::Context) -> Self::Result {
        let changes = msg.0.len();
        MessageResult(self.call(changes, |j| j.store()?.release(msg.0)))
    }
}

impl Handler<Notes> for Journal {
    type Result = MessageResult<Notes>;

    fn handle(&mut self, msg: Notes, _: &mut Self::Context) -> Self::Result {
        let changes = msg.0.len();
        MessageResult(self.call(changes, |j| j.store()?.note(msg.0)))
    }
}

impl Handler<Tick> for Journal {
    type Result = MessageResult<Tick>;

    fn handle(&mut self, _: Tick, _: &mut Self::Context) -> Self::Result {
        let idle = self.committed && self.changes == 0;
        MessageResult(self.call(0, |j| if idle { j.store()?.idle() } else { Ok(()) }))
    }
}

impl Handler<Close> for Journal {
    type Result = MessageResult<Close>;

    fn handle(&mut self, msg: Close, _: &mut Self::Context) -> Self::Result {
        let result = match self.failed.clone() {
            Some(error) => Err(error),
            None => self.sync_files().and_then(|()| {
                let marks = self.marks();
                self.store()?.close(&msg.0, &marks)
            }),
        };
        self.changes = 0;
        // Released now, before the report: the same state can be opened again at once.
        self.store = None;
        if let Err(error) = &result {
            tracing::error!(%error, "the crawl's state store failed at the end");
            self.failed = Some(error.clone());
        }
        MessageResult(result)
    }
}
