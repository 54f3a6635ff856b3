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
use arachne_core::store::{Claimed, Note, Outcome, OutputMark, Remaining, Store, StoreError, Want};
use arachne_core::{CrawlRequest, ExchangeWriter, Fingerprint, HttpExchange, SeenSet};

use crate::outputs::{FileWriter, OpenedFile};
use crate::sink::Output;

/// A commit at least this often while the crawl runs: after a crash, the pages that were in
/// flight or finished within this time before it are fetched again.
pub(crate) const COMMIT_INTERVAL: Duration = Duration::from_millis(100);
/// A commit after this many changes, whichever comes first.
pub(crate) const COMMIT_CHANGES: usize = 1_000;

/// The crawl's handle on its store.
#[derive(Clone)]
pub(crate) struct StoreClient {
    inner: Inner,
    /// What `Store::queued` said after the latest call.
    queued: Arc<AtomicU64>,
    /// The store's seen set, when it lives in this process.
    seen: Option<Arc<dyn SeenSet>>,
}

#[derive(Clone)]
enum Inner {
    InPlace(Arc<Mutex<Box<dyn Store>>>),
    Journal(Addr<Journal>),
}

/// An item for the durable item outputs: its type's name and its JSON form.
pub(crate) type ItemJson = (&'static str, Arc<serde_json::Value>);

impl StoreClient {
    /// Calls `store` in place.
    pub fn in_place(store: Box<dyn Store>) -> Self {
        let queued = Arc::new(AtomicU64::new(store.queued()));
        let seen = store.seen();
        Self {
            inner: Inner::InPlace(Arc::new(Mutex::new(store))),
            queued,
            seen,
        }
    }

    /// Starts the journal thread for a durable store and the files it keeps.
    pub fn journal(store: Box<dyn Store>, files: Vec<OpenedFile>) -> Self {
        let queued = Arc::new(AtomicU64::new(store.queued()));
        let seen = store.seen();
        let journal = Journal {
            store: Some(store),
            files,
            queued: Arc::clone(&queued),
            changes: 0,
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
        }
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

    pub async fn claim_hop(&self, fingerprint: Fingerprint) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::InPlace(store) => self.call_in_place(store, |s| s.claim_hop(fingerprint)),
            Inner::Journal(addr) => Self::ask_journal(addr, ClaimHop(fingerprint)).await?,
        }
    }

    /// Records a page's outcome. With the journal, its record, items and exchanges go to
    /// the durable outputs first, in the same order.
    pub async fn complete(
        &self,
        outcome: Outcome,
        items: Vec<ItemJson>,
        exchanges: Vec<Arc<HttpExchange>>,
    ) -> Result<(), StoreError> {
        match &self.inner {
            Inner::InPlace(store) => self.call_in_place(store, |s| s.complete(vec![outcome])),
            Inner::Journal(addr) => {
                Self::ask_journal(
                    addr,
                    Complete {
                        outcome,
                        items,
                        exchanges,
                    },
                )
                .await?
            }
        }
    }

    /// Archives exchanges that belong to no page (robots.txt, sitemaps) in the durable
    /// archives.
    pub async fn archive(&self, exchanges: Vec<Arc<HttpExchange>>) -> Result<(), StoreError> {
        match &self.inner {
            Inner::InPlace(_) => Ok(()),
            Inner::Journal(addr) => Self::ask_journal(addr, Archive(exchanges)).await?,
        }
    }

    /// Takes requests for the window; with what the store's queue held right after.
    pub async fn take(&self, want: Want) -> Result<(Vec<CrawlRequest>, u64), StoreError> {
        match &self.inner {
            Inner::InPlace(store) => {
                self.call_in_place(store, |s| Ok((s.take(&want)?, s.queued())))
            }
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
            if self.changes >= COMMIT_CHANGES || self.last_commit.elapsed() >= COMMIT_INTERVAL {
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
        if self.changes == 0 {
            self.last_commit = Instant::now();
            return Ok(());
        }
        self.flush()?;
        let marks = self.marks();
        self.store()?.commit(&marks)?;
        self.changes = 0;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Hands what the writers hold to the operating system (they write whole records
    /// unbuffered; this is for writers that buffer).
    fn flush(&mut self) -> Result<(), StoreError> {
        for file in &mut self.files {
            let result = match &mut file.writer {
                FileWriter::Records(Output::Records(w), _) => w.flush(),
                FileWriter::Items(Output::Items(w), _) => w.flush(),
                // WARC records go to the file whole and unbuffered.
                _ => Ok(()),
            };
            result.map_err(|e| write_failed(&file.key, &e))?;
        }
        Ok(())
    }

    fn write_page(
        &mut self,
        outcome: &Outcome,
        items: &[ItemJson],
        exchanges: &[Arc<HttpExchange>],
    ) -> Result<(), StoreError> {
        for file in &mut self.files {
            let result = match &mut file.writer {
                FileWriter::Records(Output::Records(w), _) => w.write_record(&outcome.record),
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

fn write_failed(path: &str, error: &std::io::Error) -> StoreError {
    StoreError::Failed(format!("writing {path}: {error}"))
}

#[derive(Message)]
#[rtype(result = "Result<Claimed, StoreError>")]
struct Claim(Vec<CrawlRequest>);

#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
struct ClaimHop(Fingerprint);

#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
struct Complete {
    outcome: Outcome,
    items: Vec<ItemJson>,
    exchanges: Vec<Arc<HttpExchange>>,
}

#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
struct Archive(Vec<Arc<HttpExchange>>);

#[derive(Message)]
#[rtype(result = "Result<(Vec<CrawlRequest>, u64), StoreError>")]
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
        MessageResult(self.call(0, |j| j.store()?.claim_hop(msg.0)))
    }
}

impl Handler<Complete> for Journal {
    type Result = MessageResult<Complete>;

    fn handle(&mut self, msg: Complete, _: &mut Self::Context) -> Self::Result {
        let Complete {
            outcome,
            items,
            exchanges,
        } = msg;
        MessageResult(self.call(1, |j| {
            j.write_page(&outcome, &items, &exchanges)?;
            j.store()?.complete(vec![outcome])
        }))
    }
}

impl Handler<Archive> for Journal {
    type Result = MessageResult<Archive>;

    fn handle(&mut self, msg: Archive, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.call(1, |j| j.write_exchanges(&msg.0)))
    }
}

impl Handler<Take> for Journal {
    type Result = MessageResult<Take>;

    fn handle(&mut self, msg: Take, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.call(0, |j| {
            let store = j.store()?;
            Ok((store.take(&msg.0)?, store.queued()))
        }))
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
        MessageResult(self.call(0, |_| Ok(())))
    }
}

impl Handler<Close> for Journal {
    type Result = MessageResult<Close>;

    fn handle(&mut self, msg: Close, _: &mut Self::Context) -> Self::Result {
        let result = match self.failed.clone() {
            Some(error) => Err(error),
            None => self.flush().and_then(|()| {
                let marks = self.marks();
                self.store()?.close(&msg.0, &marks)
            }),
        };
        for file in &mut self.files {
            if let FileWriter::Warc(warc) = &mut file.writer
                && let Err(e) = warc.sync()
            {
                tracing::warn!(file = %file.key, error = %e, "could not sync the WARC file");
            }
        }
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
