//! The crawl itself: a built [`Crawler`], and the ways to run it.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};

use actix::{Actor, Arbiter, AsyncContext, SyncArbiter};
use arachne_core::hook::Hook;
use arachne_core::spider::Spider;
use arachne_core::store::{Resume, Store};
use arachne_core::{
    CrawlHandle, CrawlReport, CrawlRequest, CrawlStats, ExchangeWriter, ItemWriter, RecordWriter,
    ScopeRules,
};
use tokio::sync::{mpsc, oneshot};
use url::Url;

use crate::builder::{CrawlerBuilder, Subscribers};
use crate::deliver::{Delivery, StageKind};
use crate::error::Error;
use crate::fetcher::{ClientSettings, FetchShared, Fetcher};
use crate::journal::StoreClient;
use crate::messages::Event;
use crate::outputs::{FileWriter, OpenedFile};
use crate::parser::{ParseShared, Parser};
use crate::scope::SharedScope;
use crate::sink::{Flush, Output, Sink};
use crate::supervisor::{Limits, Supervisor};

/// A crawl, ready to run. Build one with [`Crawler::builder`].
///
/// Three ways to run it, from any kind of program:
/// - [`Crawler::run`]: a future, awaited in any async runtime (tokio, actix, or another);
/// - [`Crawler::run_blocking`]: from plain synchronous code;
/// - [`Crawler::events`]: a stream of pages and items, for code that would rather pull
///   than be called.
///
/// The crawl always runs on an actix system of its own, on a thread of its own, so it
/// needs nothing from the caller's runtime, and user actors in the caller's actix system
/// receive pages as well as any.
pub struct Crawler {
    pub(crate) seeds: Vec<CrawlRequest>,
    pub(crate) sitemaps: Vec<Url>,
    pub(crate) scope: ScopeRules,
    pub(crate) limits: Limits,
    pub(crate) product_token: String,
    pub(crate) retries: u32,
    pub(crate) max_url_length: usize,
    pub(crate) deny_private_ips: bool,
    pub(crate) max_depth: Option<u32>,
    pub(crate) parse_threads: usize,
    pub(crate) max_body: u64,
    pub(crate) max_redirects: u32,
    pub(crate) client_settings: ClientSettings,
    /// One client per fetcher thread.
    pub(crate) clients: Vec<reqwest::Client>,
    pub(crate) outputs: Vec<Box<dyn RecordWriter>>,
    pub(crate) archives: Vec<Box<dyn ExchangeWriter>>,
    pub(crate) item_outputs: Vec<Box<dyn ItemWriter>>,
    pub(crate) user_agent: String,
    pub(crate) subscribers: Subscribers,
    pub(crate) spider: Arc<dyn Spider>,
    /// Whether `spider` is the default, link-following one.
    pub(crate) default_spider: bool,
    pub(crate) stages: Vec<StageKind>,
    pub(crate) hooks: Vec<Arc<dyn Hook>>,
    pub(crate) handle: CrawlHandle,
    pub(crate) item_limit: Option<u64>,
    /// Output files named by path, opened (continued, for a resumed crawl).
    pub(crate) files: Vec<OpenedFile>,
    /// The store, opened; taken when the crawl runs.
    pub(crate) store: Option<Box<dyn Store>>,
    /// What the store held when it was opened.
    pub(crate) resume: Resume,
    pub(crate) stats: Arc<CrawlStats>,
}

impl fmt::Debug for Crawler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crawler")
            .field("seeds", &self.seeds)
            .field("limits", &self.limits)
            .field("fetch_threads", &self.clients.len())
            .field("parse_threads", &self.parse_threads)
            .finish_non_exhaustive()
    }
}

/// Stops the crawl when the future awaiting it is dropped (a `select!` that gave up, a
/// cancelled task): a crawl nobody waits for should not go on.
struct StopOnDrop(Option<CrawlHandle>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.stop("the future running the crawl was dropped");
        }
    }
}

impl Crawler {
    /// A builder with the default settings.
    pub fn builder() -> CrawlerBuilder {
        CrawlerBuilder::new()
    }

    /// The live counters of this crawl, to watch it while it runs.
    pub fn stats(&self) -> Arc<CrawlStats> {
        Arc::clone(&self.stats)
    }

    /// The handle that steers this crawl: stop it, or give it requests.
    pub fn handle(&self) -> CrawlHandle {
        self.handle.clone()
    }

    /// The seeds, resolved and normalized.
    pub fn seeds(&self) -> impl Iterator<Item = &Url> {
        self.seeds.iter().map(|seed| &seed.url)
    }

    /// Runs the crawl to the end and returns its report. Await it in any async runtime:
    /// the crawl runs on a thread of its own. Dropping the future stops the crawl.
    ///
    /// The future resolves exactly when no URL is queued or in flight and every output is
    /// flushed.
    ///
    /// # Errors
    /// [`Error::WriteOutput`] when an output could not be written (the crawl itself
    /// completed), [`Error::Interrupted`] when the crawl's actor system stopped first,
    /// [`Error::Thread`] when its thread could not start.
    pub async fn run(self) -> Result<CrawlReport, Error> {
        let mut guard = StopOnDrop(Some(self.handle.clone()));
        let (done, result) = oneshot::channel();
        std::thread::Builder::new()
            .name("arachne-crawl".into())
            .spawn(move || {
                let report = actix::System::new().block_on(self.run_here(None));
                let _ = done.send(report);
            })
            .map_err(Error::Thread)?;
        let report = result.await.map_err(|_| Error::Interrupted)?;
        guard.0 = None;
        report
    }

    /// Runs the crawl to the end, blocking this thread, and returns its report: for
    /// synchronous programs (and tokio's `spawn_blocking`). Subscribers can be closures,
    /// actors the crawl starts ([`CrawlerBuilder::subscribe_actor`]), or actors of another
    /// thread's system.
    ///
    /// # Errors
    /// As [`Crawler::run`], and [`Error::BlockingInRuntime`] when called on a thread of an
    /// actix system: blocking it would stall the actors living there, your subscribers
    /// perhaps. Use `run().await` there.
    pub fn run_blocking(self) -> Result<CrawlReport, Error> {
        if actix::System::try_current().is_some() {
            return Err(Error::BlockingInRuntime);
        }
        let crawl = std::thread::Builder::new()
            .name("arachne-crawl".into())
            .spawn(move || actix::System::new().block_on(self.run_here(None)))
            .map_err(Error::Thread)?;
        crawl.join().unwrap_or(Err(Error::Interrupted))
    }

    /// Starts the crawl and returns the stream of its pages and items, ending with
    /// [`Event::Finished`] and its report. Works in any async runtime; the crawl waits
    /// while the stream is not read (at most 64 events wait), and stops when the stream is
    /// dropped.
    ///
    /// ```no_run
    /// use arachne_actors::{Crawler, Event};
    ///
    /// # async fn example() -> Result<(), arachne_actors::Error> {
    /// let mut events = Crawler::builder().seed("https://example.com/").build()?.events();
    /// while let Some(event) = events.next().await {
    ///     match event {
    ///         Event::Page(page) => println!("{:?} {}", page.record.status, page.record.url),
    ///         Event::Item(item) => println!("{:?}", item.item),
    ///         Event::Finished(report) => println!("{}", report?),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn events(self) -> Events {
        let (sender, receiver) = mpsc::channel(64);
        let handle = self.handle.clone();
        let finish = sender.clone();
        let started = std::thread::Builder::new()
            .name("arachne-crawl".into())
            .spawn(move || {
                let report = actix::System::new().block_on(self.run_here(Some(sender)));
                let _ = finish.blocking_send(Event::Finished(report));
            });
        let failed = match started {
            Ok(_) => None,
            Err(e) => Some(Event::Finished(Err(Error::Thread(e)))),
        };
        Events {
            receiver,
            failed,
            guard: StopOnDrop(Some(handle)),
            finished: false,
        }
    }

    /// Runs the crawl in the current actix system.
    async fn run_here(mut self, events: Option<mpsc::Sender<Event>>) -> Result<CrawlReport, Error> {
        let (done_tx, done_rx) = oneshot::channel();
        let scope = SharedScope::new(self.scope.clone());
        let mut subscribers = std::mem::take(&mut self.subscribers);
        for start in std::mem::take(&mut subscribers.page_starters) {
            subscribers.page_actors.push(start());
        }
        for start in std::mem::take(&mut subscribers.item_starters) {
            subscribers.item_actors.push(start());
        }
        let wants_links = !subscribers.page_actors.is_empty()
            || !subscribers.page_fns.is_empty()
            || events.is_some();

        // A durable store writes the crawl's output files itself, in step with its
        // commits; otherwise they are sinks like any other output.
        let store = self
            .store
            .take()
            .expect("a crawler is built with a store and runs once");
        let files = std::mem::take(&mut self.files);
        let mut record_outputs: Vec<Output> = std::mem::take(&mut self.outputs)
            .into_iter()
            .map(Output::Records)
            .collect();
        let mut archive_outputs: Vec<Output> = std::mem::take(&mut self.archives)
            .into_iter()
            .map(Output::Exchanges)
            .collect();
        let mut item_outputs: Vec<Output> = std::mem::take(&mut self.item_outputs)
            .into_iter()
            .map(Output::Items)
            .collect();
        let (store, durable_archives, durable_items) = if store.durable() {
            let archives = files
                .iter()
                .any(|f| matches!(f.writer, FileWriter::Warc(_)));
            let items = files
                .iter()
                .any(|f| matches!(f.writer, FileWriter::Items(..)));
            (StoreClient::journal(store, files), archives, items)
        } else {
            for file in files {
                match file.writer {
                    FileWriter::Records(..) => record_outputs.push(file.into_output()),
                    FileWriter::Items(..) => item_outputs.push(file.into_output()),
                    FileWriter::Warc(_) => archive_outputs.push(file.into_output()),
                }
            }
            (StoreClient::in_place(store), false, false)
        };

        let parse_shared = Arc::new(ParseShared {
            scope: scope.clone(),
            seen: store.seen(),
            max_depth: self.max_depth,
            max_url_length: self.max_url_length,
            spider: Arc::clone(&self.spider),
            keep_links: wants_links,
        });
        let parser = SyncArbiter::start(self.parse_threads, move || {
            Parser::new(Arc::clone(&parse_shared))
        });

        let mut arbiters = Vec::new();
        let mut start_sinks = |outputs: Vec<Output>| -> Vec<actix::Addr<Sink>> {
            outputs
                .into_iter()
                .map(|output| {
                    let arbiter = Arbiter::new();
                    let sink =
                        Sink::start_in_arbiter(&arbiter.handle(), move |_| Sink::new(output));
                    arbiters.push(arbiter);
                    sink
                })
                .collect()
        };
        let record_sinks = start_sinks(record_outputs);
        let archives = start_sinks(archive_outputs);
        let item_sinks = start_sinks(item_outputs);
        let all_sinks: Vec<actix::Addr<Sink>> = record_sinks
            .iter()
            .chain(&archives)
            .chain(&item_sinks)
            .cloned()
            .collect();

        let fetch_shared = Arc::new(FetchShared {
            max_body: self.max_body,
            max_redirects: self.max_redirects,
            retries: self.retries,
            deny_private: self.deny_private_ips,
            product_token: self.product_token.clone(),
            scope: scope.clone(),
            store: store.clone(),
            parser,
            spider: Arc::clone(&self.spider),
            default_spider: self.default_spider,
            hooks: std::mem::take(&mut self.hooks),
            archives,
            durable_archives,
            user_agent: self.user_agent.clone(),
            delivery: Delivery {
                record_sinks,
                item_sinks,
                durable_items,
                stages: std::mem::take(&mut self.stages),
                page_actors: subscribers.page_actors,
                item_actors: subscribers.item_actors,
                page_fns: subscribers.page_fns,
                item_fns: subscribers.item_fns,
                events,
                handle: self.handle.clone(),
                items_emitted: AtomicU64::new(0),
                item_limit: self.item_limit,
            },
            client_settings: self.client_settings.clone(),
        });

        let clients = std::mem::take(&mut self.clients);
        let mut supervisor = Supervisor::new(
            store,
            &self.resume,
            self.limits.clone(),
            Arc::clone(&self.stats),
            done_tx,
            self.handle.clone(),
            scope,
        );
        supervisor.add_seeds(std::mem::take(&mut self.seeds), &self.resume.seeds_done);
        for sitemap in std::mem::take(&mut self.sitemaps) {
            supervisor.enqueue_sitemap(sitemap, 0, true);
        }
        let mut fetch_arbiters = Vec::new();
        let _supervisor = Supervisor::create(|ctx| {
            let mut supervisor = supervisor;
            for client in clients {
                let arbiter = Arbiter::new();
                let shared = Arc::clone(&fetch_shared);
                let me = ctx.address().recipient();
                let fetcher = Fetcher::start_in_arbiter(&arbiter.handle(), move |_| {
                    Fetcher::new(client, shared, me)
                });
                supervisor.add_fetcher(fetcher.recipient());
                fetch_arbiters.push(arbiter);
            }
            supervisor
        });
        drop(fetch_shared);

        let report = done_rx.await.map_err(|_| Error::Interrupted);
        for arbiter in &fetch_arbiters {
            arbiter.stop();
        }
        let mut write_error = None;
        for sink in &all_sinks {
            match sink.send(Flush).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    write_error.get_or_insert(e);
                }
                Err(_) => {
                    write_error.get_or_insert(io::Error::other("the output's writer stopped"));
                }
            }
        }
        for arbiter in &arbiters {
            arbiter.stop();
        }
        let report = report?;
        match write_error {
            Some(e) => Err(Error::WriteOutput(e)),
            None => Ok(report),
        }
    }
}

/// The pages and items of a running crawl, in the order they are delivered, then
/// [`Event::Finished`]. Made by [`Crawler::events`]. It is a [`futures_core::Stream`];
/// [`Events::next`] reads it without any stream library.
pub struct Events {
    receiver: mpsc::Receiver<Event>,
    /// The end, when the crawl could not even start.
    failed: Option<Event>,
    /// Stops the crawl if the stream is dropped before its end.
    guard: StopOnDrop,
    finished: bool,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Events {
    /// The next event; `None` after [`Event::Finished`].
    pub async fn next(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if let Some(event) = self.failed.take() {
            self.finished = true;
            self.guard.0 = None;
            return Poll::Ready(Some(event));
        }
        match self.receiver.poll_recv(cx) {
            Poll::Ready(Some(event)) => {
                if matches!(event, Event::Finished(_)) {
                    self.finished = true;
                    self.guard.0 = None;
                }
                Poll::Ready(Some(event))
            }
            Poll::Ready(None) => {
                // The crawl's thread died without a word: say so, once.
                self.finished = true;
                self.guard.0 = None;
                Poll::Ready(Some(Event::Finished(Err(Error::Interrupted))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl futures_core::Stream for Events {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().poll_event(cx)
    }
}
