//! Progress on stderr: a live bar on a terminal, periodic lines otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::CrawlStats;

/// How progress is shown.
pub(crate) enum Mode {
    /// A bar redrawn ten times a second.
    Bar,
    /// A line every interval, for logs and pipes.
    Lines(Duration),
}

/// The thread that shows progress from the crawl's lock-free counters until finished.
pub(crate) struct Progress {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Progress {
    pub fn start(stats: Arc<CrawlStats>, mode: Mode) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || match mode {
            Mode::Bar => bar(&stats, &flag),
            Mode::Lines(every) => lines(&stats, &flag, every),
        });
        Self { stop, thread }
    }

    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

fn bar(stats: &CrawlStats, stop: &AtomicBool) {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(
        ProgressStyle::with_template("{spinner:.green} [{elapsed_precise}] {msg}")
            .expect("static template"),
    );
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let s = stats.snapshot();
        let rate = s.pages as f64 / started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!(
            "{} pages, {} queued, {} in flight, {rate:.1} pages/s, {} errors",
            s.pages, s.queued, s.in_flight, s.errors
        ));
        bar.tick();
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

/// Prints, every interval, a line in the manner of Scrapy's log stats, with the rate over
/// the interval in pages per second, the unit of the summary.
fn lines(stats: &CrawlStats, stop: &AtomicBool, every: Duration) {
    let mut last = (Instant::now(), 0u64);
    let mut next = Instant::now() + every;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50).min(every));
        if Instant::now() < next {
            continue;
        }
        next += every;
        let s = stats.snapshot();
        let secs = last.0.elapsed().as_secs_f64();
        let rate = s.pages.saturating_sub(last.1) as f64 / secs.max(1e-9);
        last = (Instant::now(), s.pages);
        let pages = if s.pages == 1 { "page" } else { "pages" };
        eprintln!(
            "crawled {} {pages} ({rate:.1} pages/s), queued {}, in flight {}, errors {}",
            s.pages, s.queued, s.in_flight, s.errors
        );
    }
}
