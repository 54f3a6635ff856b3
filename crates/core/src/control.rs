//! The handle that steers a running crawl from anywhere: stop it, or give it requests.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::report::EndReason;
use crate::request::Request;

/// Steers a crawl from any thread: user actors, pipeline stages, signal handlers.
///
/// Get one from the builder before the crawl is built (`CrawlerBuilder::handle`), so that
/// code registered with the builder can hold it; messages to subscribers carry one too.
/// Cloning is cheap; every clone steers the same crawl.
///
/// ```
/// use arachne_core::CrawlHandle;
///
/// let handle = CrawlHandle::new();
/// assert!(handle.enqueue("https://shop.test/new-arrivals"));
/// handle.stop("found what we came for");
/// handle.stop("a second reason is ignored");
/// assert!(handle.is_stopped());
/// assert_eq!(handle.stop_reason().unwrap().to_string(), "stopped: found what we came for");
/// ```
#[derive(Clone, Default)]
pub struct CrawlHandle(Arc<Shared>);

#[derive(Default)]
struct Shared {
    stopped: AtomicBool,
    /// The crawl has ended: requests given now would never be taken.
    finished: AtomicBool,
    /// Why, the first time it was asked.
    reason: Mutex<Option<EndReason>>,
    /// Requests given to the crawl and not yet taken by it.
    requests: Mutex<Vec<Request>>,
}

impl fmt::Debug for CrawlHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrawlHandle")
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

impl CrawlHandle {
    /// A handle for a crawl not built yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the crawl gracefully: nothing new is dispatched, requests in flight finish
    /// (within the timeout) and are recorded, no item is emitted past that, outputs are
    /// flushed, and the report says `reason`. The first reason given is kept.
    pub fn stop(&self, reason: impl Into<String>) {
        self.stop_with(EndReason::Stopped { by: reason.into() });
    }

    /// Stops the crawl with an end reason of the crawl's own (a close condition).
    pub fn stop_with(&self, reason: EndReason) {
        let mut kept = self.0.reason.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.is_none() {
            *kept = Some(reason);
        }
        self.0.stopped.store(true, Ordering::Release);
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::Acquire)
    }

    /// Why the crawl was asked to stop, if it was.
    pub fn stop_reason(&self) -> Option<EndReason> {
        self.0
            .reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Gives the crawl a request: an absolute URL with its intent. It is queued as a
    /// request found by no page (depth 0), and obeys the scope, robots.txt, politeness,
    /// deduplication and limits like any other.
    ///
    /// Returns `false`, and drops the request, when the crawl was stopped or has ended. A
    /// crawl ends when nothing is left to do: requests given by code that runs while a
    /// page is delivered (a spider, a closure, an actor's handler) are always in time,
    /// while a reader of the event stream may be too late.
    pub fn enqueue(&self, request: impl Into<Request>) -> bool {
        if self.is_stopped() || self.0.finished.load(Ordering::Acquire) {
            return false;
        }
        self.0
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.into());
        true
    }

    /// Marks the crawl as ended: called by the crawl itself when it finishes, so that
    /// later [`CrawlHandle::enqueue`] calls say they were too late.
    pub fn mark_finished(&self) {
        self.0.finished.store(true, Ordering::Release);
    }

    /// Whether the crawl has ended.
    pub fn is_finished(&self) -> bool {
        self.0.finished.load(Ordering::Acquire)
    }

    /// Takes the requests given so far: for the crawl's supervisor.
    pub fn take_requests(&self) -> Vec<Request> {
        std::mem::take(
            &mut *self
                .0
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}
