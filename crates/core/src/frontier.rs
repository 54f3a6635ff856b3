//! The frontier: URLs waiting to be fetched, in per-host queues.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, VecDeque};

use url::Url;

use crate::request::CrawlRequest;

/// The key of the queue a URL waits in, and of the politeness and robots.txt state of its
/// host: the host name, lower case, with the port when it is not the scheme's default
/// (`a.test`, `a.test:8080`).
pub fn host_key(url: &Url) -> std::borrow::Cow<'_, str> {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => std::borrow::Cow::Owned(format!("{host}:{port}")),
        None => std::borrow::Cow::Borrowed(host),
    }
}

/// Where URLs wait to be fetched, in the in-memory store ([`MemoryStore`]).
///
/// The frontier keeps one queue per host ([`host_key`]). It returns the next request of any
/// host for which `ready` says yes; the frontier chooses among those hosts in turn, and
/// within a host returns the request of highest priority first, then the shallowest, first
/// in first out among equals: with default priorities the crawl is breadth-first.
///
/// [`MemoryStore::with`] takes any frontier; the supervisor keeps its window of requests
/// in a [`MemoryFrontier`] too. Stores that keep their queue elsewhere (on disk, shared
/// between processes) implement [`Store`] instead.
///
/// [`MemoryStore`]: crate::store::MemoryStore
/// [`MemoryStore::with`]: crate::store::MemoryStore::with
/// [`Store`]: crate::store::Store
///
/// # Example: a custom frontier
/// ```
/// use std::collections::VecDeque;
/// use arachne_core::{CrawlRequest, Frontier, host_key};
///
/// /// One global FIFO, ignoring hosts that are not ready.
/// #[derive(Default)]
/// struct Fifo(VecDeque<CrawlRequest>);
///
/// impl Frontier for Fifo {
///     fn push(&mut self, request: CrawlRequest) {
///         self.0.push_back(request);
///     }
///     fn pop(&mut self, max_depth: u32, ready: &mut dyn FnMut(&str) -> bool) -> Option<CrawlRequest> {
///         let at = self.0.iter().position(|r| r.depth <= max_depth && ready(&host_key(&r.url)))?;
///         self.0.remove(at)
///     }
///     fn len(&self) -> usize {
///         self.0.len()
///     }
/// }
///
/// let mut fifo = Fifo::default();
/// fifo.push(CrawlRequest::seed("http://a.test/".parse().unwrap()));
/// assert_eq!(fifo.pop(u32::MAX, &mut |_| true).unwrap().url.as_str(), "http://a.test/");
/// assert!(fifo.is_empty());
/// ```
pub trait Frontier: Send + 'static {
    /// Adds a request to the queue of its host.
    fn push(&mut self, request: CrawlRequest);

    /// Removes and returns the next request, of depth at most `max_depth`, of a host for
    /// which `ready(host)` is `true`; `None` when no such request waits.
    fn pop(&mut self, max_depth: u32, ready: &mut dyn FnMut(&str) -> bool) -> Option<CrawlRequest>;

    /// The number of requests waiting.
    fn len(&self) -> usize;

    /// Whether no request is waiting.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Frontier for Box<dyn Frontier> {
    fn push(&mut self, request: CrawlRequest) {
        (**self).push(request);
    }

    fn pop(&mut self, max_depth: u32, ready: &mut dyn FnMut(&str) -> bool) -> Option<CrawlRequest> {
        (**self).pop(max_depth, ready)
    }

    fn len(&self) -> usize {
        (**self).len()
    }
}

/// The order of requests within a host: highest priority, then shallowest.
type Rank = (Reverse<i32>, u32);

/// The in-memory frontier: per-host queues ordered by priority and depth, hosts served in
/// turn.
#[derive(Debug, Default)]
pub struct MemoryFrontier {
    /// Waiting requests of each host that has any, by rank, FIFO within a rank.
    hosts: HashMap<String, BTreeMap<Rank, VecDeque<CrawlRequest>>>,
    /// Hosts with waiting requests, in the order they get their next turn.
    turns: VecDeque<String>,
    len: usize,
}

impl MemoryFrontier {
    /// An empty frontier.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Frontier for MemoryFrontier {
    fn push(&mut self, request: CrawlRequest) {
        let host = host_key(&request.url);
        let queues = match self.hosts.get_mut(host.as_ref()) {
            Some(queues) => queues,
            None => {
                self.turns.push_back(host.clone().into_owned());
                self.hosts.entry(host.into_owned()).or_default()
            }
        };
        let rank = (Reverse(request.priority()), request.depth);
        queues.entry(rank).or_default().push_back(request);
        self.len += 1;
    }

    fn pop(&mut self, max_depth: u32, ready: &mut dyn FnMut(&str) -> bool) -> Option<CrawlRequest> {
        for _ in 0..self.turns.len() {
            let host = self.turns.pop_front()?;
            // The first rank within the depth cap (level by level with a depth limit).
            let rank = self
                .hosts
                .get(&host)
                .and_then(|queues| queues.keys().find(|(_, depth)| *depth <= max_depth))
                .copied();
            let Some(rank) = rank.filter(|_| ready(&host)) else {
                self.turns.push_back(host);
                continue;
            };
            let queues = self.hosts.get_mut(&host)?;
            let queue = queues.get_mut(&rank)?;
            let request = queue.pop_front();
            if queue.is_empty() {
                queues.remove(&rank);
            }
            if queues.is_empty() {
                self.hosts.remove(&host);
            } else {
                self.turns.push_back(host);
            }
            if request.is_some() {
                self.len -= 1;
            }
            return request;
        }
        None
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(url: &str, depth: u32) -> CrawlRequest {
        CrawlRequest {
            depth,
            ..CrawlRequest::seed(url.parse().unwrap())
        }
    }

    fn drain(frontier: &mut MemoryFrontier) -> Vec<String> {
        std::iter::from_fn(|| frontier.pop(u32::MAX, &mut |_| true))
            .map(|r| r.url.to_string())
            .collect()
    }

    #[test]
    fn breadth_first_within_a_host() {
        let mut f = MemoryFrontier::new();
        f.push(req("http://a.test/deep", 2));
        f.push(req("http://a.test/one", 1));
        f.push(req("http://a.test/two", 1));
        f.push(req("http://a.test/", 0));
        assert_eq!(f.len(), 4);
        assert_eq!(
            drain(&mut f),
            [
                "http://a.test/",
                "http://a.test/one",
                "http://a.test/two",
                "http://a.test/deep"
            ]
        );
        assert!(f.is_empty());
    }

    #[test]
    fn priority_goes_first_within_a_host() {
        let mut f = MemoryFrontier::new();
        f.push(req("http://a.test/shallow", 1));
        let urgent = crate::Request::get("http://a.test/urgent")
            .priority(5)
            .resolve(None, 3, None)
            .unwrap();
        f.push(urgent);
        let later = crate::Request::get("http://a.test/later")
            .priority(-1)
            .resolve(None, 0, None)
            .unwrap();
        f.push(later);
        assert_eq!(
            drain(&mut f),
            [
                "http://a.test/urgent",
                "http://a.test/shallow",
                "http://a.test/later"
            ]
        );
        // Under a depth cap, the best request within it.
        let mut f = MemoryFrontier::new();
        f.push(
            crate::Request::get("http://a.test/deep")
                .priority(9)
                .resolve(None, 2, None)
                .unwrap(),
        );
        f.push(req("http://a.test/ok", 1));
        assert_eq!(
            f.pop(1, &mut |_| true).unwrap().url.as_str(),
            "http://a.test/ok"
        );
    }

    #[test]
    fn hosts_take_turns() {
        let mut f = MemoryFrontier::new();
        for i in 0..3 {
            f.push(req(&format!("http://a.test/{i}"), 1));
        }
        f.push(req("http://b.test/0", 1));
        assert_eq!(
            drain(&mut f),
            [
                "http://a.test/0",
                "http://b.test/0",
                "http://a.test/1",
                "http://a.test/2"
            ]
        );
    }

    #[test]
    fn hosts_not_ready_are_skipped() {
        let mut f = MemoryFrontier::new();
        f.push(req("http://a.test/0", 0));
        f.push(req("http://b.test/0", 0));
        let got = f.pop(u32::MAX, &mut |host| host == "b.test").unwrap();
        assert_eq!(got.url.as_str(), "http://b.test/0");
        assert!(f.pop(u32::MAX, &mut |host| host == "b.test").is_none());
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn deeper_requests_wait_for_the_depth_cap() {
        let mut f = MemoryFrontier::new();
        f.push(req("http://a.test/deep", 2));
        f.push(req("http://b.test/shallow", 1));
        assert_eq!(
            f.pop(1, &mut |_| true).unwrap().url.as_str(),
            "http://b.test/shallow"
        );
        assert!(f.pop(1, &mut |_| true).is_none());
        assert_eq!(
            f.pop(2, &mut |_| true).unwrap().url.as_str(),
            "http://a.test/deep"
        );
    }
}
