//! Serves a synthetic site of realistic pages on 127.0.0.1 and crawls it with the
//! `arachne` command line, progress bar and all: a crawl that needs no network.
//!
//! ```text
//! cargo run --release --example local_crawl                      # 5,000 pages
//! cargo run --release --example local_crawl -- --pages 20000 --parse-threads 2
//! ```
//!
//! Records go to `pages.jsonl`; any argument after `--pages N` is passed to
//! `arachne crawl`.

use std::process::ExitCode;

use arachne_testkit::SyntheticSite;

fn main() -> ExitCode {
    // As the `arachne` command line does: large buffers go back to the system when freed.
    let _ = arachne::tune_malloc();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut pages = 5_000;
    if let Some(at) = args.iter().position(|a| a == "--pages") {
        match args.get(at + 1).and_then(|n| n.parse().ok()) {
            Some(n) => pages = n,
            None => {
                eprintln!("local_crawl: --pages takes a number");
                return ExitCode::from(2);
            }
        }
        args.drain(at..at + 2);
    }
    let server = SyntheticSite::realistic(pages).serve();
    let seed = server.url("/page/0");
    eprintln!("serving a synthetic site of {pages} pages at {seed}");
    // The site is ours and local: no politeness delay, and a deep pipeline per host. Flags
    // given after these override them.
    let mut cli: Vec<String> = [
        "arachne",
        "crawl",
        &seed,
        "--out",
        "pages.jsonl",
        "--delay",
        "0",
        "--per-host",
        "64",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    cli.extend(args);
    let code = arachne::cli::run(cli);
    eprintln!("records written to pages.jsonl");
    code
}
