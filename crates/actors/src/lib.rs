//! The actors of [arachne](https://docs.rs/arachne) and the [`Crawler`] that wires them.
//!
//! A crawl is a small actor system:
//!
//! - the **supervisor** owns the frontier and the limits, and dispatches URLs to fetchers
//!   only while they have free capacity;
//! - **fetchers**, one per fetcher thread, run many requests at once with `reqwest`;
//! - **parsers**, a `SyncArbiter` pool, parse HTML in parallel threads, extract links and
//!   run user [`Extractor`](arachne_core::Extractor)s, and claim new URLs in the shared seen
//!   set;
//! - **sinks**, one per output, write records so that they never interleave;
//! - **subscribers**, any user actor with a `Handler<`[`PageFetched`]`>` or
//!   `Handler<`[`ItemExtracted`]`>`, receive pages and items.
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

#![deny(missing_docs)]

mod crawler;
mod decode;
mod fetcher;
mod messages;
mod parser;
mod resolve;
mod scope;
mod sink;
mod supervisor;

pub use crawler::{Crawler, CrawlerBuilder, Error, StopHandle};
pub use messages::{ItemExtracted, PageFetched};
