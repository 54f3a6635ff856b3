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
// Seeds that redirect (the scope follows them) and seeds that fail.
mod seeds;
// The crawl ends by itself: single pages, cycles, failing and duplicate seeds.
mod completion;
// robots.txt: disallow, groups, 4xx, 5xx, Crawl-delay, the size cap.
mod robots;
// Per-host limits and delays measured at the server; Retry-After; autothrottle.
mod politeness;
// Retries of transient failures.
mod retries;
// Sitemaps from robots.txt and the user: indexes, gzip, text, bounds, scope, failures.
mod sitemaps;
// Broken and hostile servers and pages, one test per case.
mod hostile;
// Links read without a document: the same as a document holds, page by page.
mod links;
// Crawler traps and refused addresses.
mod guards;
// WARC and CSV outputs, checked by reading them back and with warcio.
mod outputs;
// User actors, closures and the event stream receive pages and items; runtimes.
mod handlers;
// Spiders steer the crawl: labels, data, priorities, POSTs, JSON; follow-ups obey the rules.
mod spiders;
// Item pipelines, item outputs and the item limit.
mod pipelines;
// Request and response hooks, cookies, the crawl handle and close conditions.
mod control;
// The `arachne` binary: records, summary, exit codes, environment knobs.
mod cli;
// State files: kill -9 at random points, graceful stops and resumes, refusals.
mod state;
// Crawls shared by several processes on Redis: workers killed, Redis restarted.
mod shared;
// Bad values from flags, environment and config file: refused up front, named as written.
mod usage;
// The example programs, run against local sites.
mod examples;
