//! What the examples share: their command line, `NAME ARGS... [MAX_PAGES]`, and how a
//! crawl that cannot be built ends.

use std::process::ExitCode;

use arachne::{Crawler, Error};

/// Reads the example's arguments: the `names` it needs, then an optional MAX_PAGES
/// (`default_max` without it). Says how to use it (exit 2) when one is missing or MAX_PAGES
/// is not a count, and that the crawl is polite unless `ARACHNE_DELAY` says otherwise.
pub fn args<const N: usize>(
    example: &str,
    names: [&str; N],
    default_max: u64,
) -> Result<([String; N], u64), ExitCode> {
    let mut args = std::env::args().skip(1);
    let given: Vec<String> = args.by_ref().take(N).collect();
    let Ok(given) = <[String; N]>::try_from(given) else {
        eprintln!("usage: {example} {} [MAX_PAGES]", names.join(" "));
        return Err(ExitCode::from(2));
    };
    let max_pages = match args
        .next()
        .map(|n| arachne::config::settings::MAX_PAGES.parse(&n))
    {
        None => default_max,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("{example}: MAX_PAGES: {e}");
            return Err(ExitCode::from(2));
        }
    };
    if std::env::var_os(arachne::config::ENV_DELAY).is_none() {
        eprintln!(
            "{example}: polite by default: 1 s between requests to a host (ARACHNE_DELAY=0 for a site of your own)"
        );
    }
    Ok((given, max_pages))
}

/// The crawler, or why it cannot be built: exit 2 for what the user gave, 1 otherwise.
pub fn built(example: &str, crawler: Result<Crawler, Error>) -> Result<Crawler, ExitCode> {
    crawler.map_err(|e| {
        eprintln!("{example}: {e}");
        ExitCode::from(if e.is_usage() { 2 } else { 1 })
    })
}
