//! The seen set: which URLs the crawl has already discovered.

use dashmap::DashSet;

use crate::fingerprint::{BuildFingerprintHasher, Fingerprint};

/// The set of URL fingerprints a crawl has already discovered.
///
/// Parser threads and the supervisor share one seen set. A URL travels to the frontier only
/// when [`SeenSet::insert`] returns `true`, so each normalized URL is queued at most once
/// per crawl without any lock around the check-then-insert.
///
/// Implementations must be safe to call from many threads at once. Calls may block (a
/// parser thread is a plain thread), which leaves room for on-disk and networked stores.
///
/// # Example: a custom seen set
/// ```
/// use std::collections::HashSet;
/// use std::sync::Mutex;
/// use arachne_core::{Fingerprint, SeenSet};
///
/// /// A seen set that also logs every new URL fingerprint.
/// #[derive(Default)]
/// struct LoggingSeen(Mutex<HashSet<Fingerprint>>);
///
/// impl SeenSet for LoggingSeen {
///     fn insert(&self, fp: Fingerprint) -> bool {
///         let new = self.0.lock().unwrap().insert(fp);
///         if new {
///             eprintln!("new: {:032x}", fp.as_u128());
///         }
///         new
///     }
///     fn contains(&self, fp: Fingerprint) -> bool {
///         self.0.lock().unwrap().contains(&fp)
///     }
///     fn len(&self) -> usize {
///         self.0.lock().unwrap().len()
///     }
/// }
///
/// let seen = LoggingSeen::default();
/// let fp = Fingerprint::of_str("http://a.test/");
/// assert!(seen.insert(fp));
/// assert!(!seen.insert(fp));
/// ```
pub trait SeenSet: Send + Sync + 'static {
    /// Marks a fingerprint as seen. Returns `true` when it was not seen before: the caller
    /// that gets `true` owns the URL and is the one to queue it.
    fn insert(&self, fp: Fingerprint) -> bool;

    /// Whether a fingerprint has been seen.
    fn contains(&self, fp: Fingerprint) -> bool;

    /// The number of fingerprints seen.
    fn len(&self) -> usize;

    /// Whether nothing has been seen yet.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The in-memory seen set: a sharded [`DashSet`] of fingerprints (about 20-40 bytes a URL).
///
/// Sharding keeps parser threads from contending on one lock; no shard lock is held
/// beyond a single call.
#[derive(Debug, Default)]
pub struct MemorySeenSet {
    set: DashSet<Fingerprint, BuildFingerprintHasher>,
}

impl MemorySeenSet {
    /// An empty seen set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty seen set with room for `n` fingerprints (a resumed crawl's, say), so that
    /// loading them does not grow the table step by step.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            set: DashSet::with_capacity_and_hasher(n, BuildFingerprintHasher::default()),
        }
    }
}

impl SeenSet for MemorySeenSet {
    fn insert(&self, fp: Fingerprint) -> bool {
        self.set.insert(fp)
    }

    fn contains(&self, fp: Fingerprint) -> bool {
        self.set.contains(&fp)
    }

    fn len(&self) -> usize {
        self.set.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn one_winner_per_fingerprint_across_threads() {
        let seen = Arc::new(MemorySeenSet::new());
        let winners: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let seen = &seen;
                    s.spawn(move || {
                        (0..10_000)
                            .filter(|i| {
                                seen.insert(Fingerprint::of_str(&format!("http://a.test/{i}")))
                            })
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(winners, 10_000);
        assert_eq!(seen.len(), 10_000);
        assert!(seen.contains(Fingerprint::of_str("http://a.test/5")));
    }
}
