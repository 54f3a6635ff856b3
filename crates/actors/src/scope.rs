//! The crawl's scope, shared by the supervisor, the fetchers and the parsers.

use std::sync::{Arc, PoisonError, RwLock};

use arachne_core::ScopeRules;
use url::Url;

/// The scope rules of a running crawl. They change only when a seed redirects: the seed's
/// part of the scope is then taken from where it lands. Readers take a snapshot (one
/// uncontended read lock and an `Arc` clone) per page or per hop, never per link.
#[derive(Debug, Clone)]
pub(crate) struct SharedScope(Arc<RwLock<Arc<ScopeRules>>>);

impl SharedScope {
    pub fn new(rules: ScopeRules) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(rules))))
    }

    /// The rules as they are now.
    pub fn get(&self) -> Arc<ScopeRules> {
        // The lock guards a plain `Arc` swap, which cannot leave it half-written.
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Takes `seed`'s part of the scope from `landing`. Returns whether the scope changed.
    pub fn land(&self, seed: &Url, landing: &Url) -> bool {
        let mut rules = self.0.write().unwrap_or_else(PoisonError::into_inner);
        match rules.landed(seed, landing) {
            Some(landed) => {
                *rules = Arc::new(landed);
                true
            }
            None => false,
        }
    }
}
