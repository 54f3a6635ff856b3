//! Local test sites for arachne's tests, examples and benchmarks.
//!
//! Every server here listens on 127.0.0.1 on a port the system picks, runs on a thread of
//! its own, counts the requests for each path, and stops when dropped:
//!
//! - [`TestServer`]: a server answering with any function of the [`Request`];
//! - [`SyntheticSite`]: a deterministic site of N pages with cycles and links spelled in
//!   many equivalent ways, optionally with realistic page sizes;
//! - [`Routes`]: fixed fixture pages by path;
//! - [`Shop`]: a small shop, with categories, paginated lists, product pages, a login form
//!   and a JSON API, for spiders and examples.
//!
//! ```
//! use arachne_testkit::SyntheticSite;
//!
//! let server = SyntheticSite::new(10, 2).serve();
//! let url = server.url("/page/0");
//! assert!(url.starts_with("http://127.0.0.1:"));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod redis;
mod server;
pub mod shop;
mod site;

pub use redis::{RedisCluster, RedisServer, redis_installed};
pub use server::{Behavior, Request, Response, TestServer, brotli, gzip};
pub use shop::Shop;
pub use site::{Routes, SyntheticSite, html_files};
