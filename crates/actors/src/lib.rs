//! The actors of [arachne](https://docs.rs/arachne) and the [`Crawler`] that wires them.
//!
//! A crawl is a small actor system:
//!
//! - the **supervisor** keeps a bounded window of requests taken from the store, the
//!   politeness state of hosts and the limits, and dispatches to fetchers only while they
//!   have free capacity;
//! - **fetchers**, one per fetcher thread, run many requests at once with `reqwest`, and
//!   hand each finished page to the store (its links claimed and queued, its outcome
//!   recorded: one call);
//! - **parsers**, a `SyncArbiter` pool, parse HTML in parallel threads, extract links, run
//!   the user's [`Spider`](arachne_core::spider::Spider), and leave out the links the
//!   store's seen set already holds;
//! - the **store** ([`Store`](arachne_core::store::Store)): in memory, called in place, or
//!   durable (a SQLite state file) behind the **journal**, a thread that also writes the
//!   output files of the crawl's state in step with its commits;
//! - **sinks**, one per output, write records so that they never interleave;
//! - items go through the **pipeline** stages, then to item outputs;
//! - **subscribers**, any user actor with a `Handler<`[`PageFetched`]`>` or
//!   `Handler<`[`ItemScraped`]`>`, closures, or the [`Events`] stream, receive pages and
//!   items.
//!
//! # Example
//! ```no_run
//! use arachne_actors::Crawler;
//!
//! # fn main() -> Result<(), arachne_actors::Error> {
//! let report = Crawler::builder()
//!     .seed("https://example.com/")
//!     .max_pages(100)
//!     .jsonl_file("pages.jsonl")
//!     .build()?
//!     .run_blocking()?;
//! println!("{report}");
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

mod builder;
mod crawler;
mod decode;
mod deliver;
mod error;
mod fetcher;
mod journal;
mod messages;
mod outputs;
mod parser;
mod politeness;
mod protocol;
mod resolve;
mod scope;
mod sink;
mod supervisor;

pub use builder::CrawlerBuilder;
pub use crawler::{Crawler, Events};
pub use error::Error;
pub use messages::{Event, ItemScraped, PageFetched, ProcessItem};
