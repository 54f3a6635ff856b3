//! Why a crawl could not be built or did not complete.

use std::io;
use std::path::PathBuf;

use arachne_core::PatternError;
use arachne_core::store::StoreError;

/// Why a crawl could not be built or did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No seed URL was given.
    #[error("no seed URL given")]
    NoSeeds,
    /// A seed is not an absolute http or https URL.
    #[error("invalid seed: {0}")]
    InvalidSeed(String),
    /// An include or exclude pattern is not a valid regular expression.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// A setting has a value it cannot take (zero threads, say), or an environment
    /// variable does not parse.
    #[error("invalid setting `{name}`: {message}")]
    InvalidSetting {
        /// The setting (or environment variable).
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The HTTP client could not be built (TLS set-up, say).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// An output file could not be created.
    #[error("cannot create {path}: {source}")]
    CreateOutput {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Writing an output failed during the crawl. The crawl itself completed.
    #[error("writing the output failed: {0}")]
    WriteOutput(io::Error),
    /// The crawl's actors stopped before the crawl completed (the actor system was shut
    /// down from outside).
    #[error("the crawl was interrupted: the actor system stopped")]
    Interrupted,
    /// `run_blocking` was called on a thread of an actix system, where blocking could stall
    /// the actors that receive the crawl's pages. Await
    /// [`Crawler::run`](crate::Crawler::run) there instead.
    #[error("run_blocking() was called inside an actix system: use `crawler.run().await` there")]
    BlockingInRuntime,
    /// The crawl's thread could not be started.
    #[error("cannot start the crawl's thread: {0}")]
    Thread(io::Error),
    /// The crawl's state cannot be used: a state file locked by a running crawl, damaged,
    /// written by a newer arachne, or holding another crawl; an output file changed since
    /// the crawl wrote it; or the store failed.
    #[error(transparent)]
    State(#[from] StoreError),
}

impl Error {
    /// Whether the error is in what the caller gave (no seed, a bad seed, pattern or
    /// setting), as opposed to the machine or the network: a command line exits with its
    /// usage status (2) for these.
    pub fn is_usage(&self) -> bool {
        match self {
            Error::NoSeeds
            | Error::InvalidSeed(_)
            | Error::Pattern(_)
            | Error::InvalidSetting { .. } => true,
            Error::State(error) => error.is_usage(),
            _ => false,
        }
    }
}
