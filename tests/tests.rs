//! arachne's integration tests, in one binary (it builds faster than many).
//!
//! Every test crawls servers that the testkit starts on 127.0.0.1:0; none reaches another
//! address.

// Shared helpers: running a crawl and collecting its records, with a hang guard.
mod support;

// Fetching a synthetic site exactly once per page; link sources, redirects, bodies.
mod crawl;
// Depth and page limits, scope modes, include and exclude patterns.
mod limits;
// The crawl ends by itself: single pages, cycles, failing and duplicate seeds.
mod completion;
// User actors and extractors receive pages and items.
mod handlers;
// The `arachne` binary: records, summary, exit codes, environment knobs.
mod cli;
// The example programs, run against local sites.
mod examples;
