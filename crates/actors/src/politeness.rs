//! Politeness, as plain logic: what the crawl knows of each host (robots.txt, requests in
//! flight, the next allowed start, the delay), whether a host may take a request now, and
//! autothrottle's delay. The supervisor owns the hosts; nothing here needs an actor.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arachne_core::store::{HostState, RobotsFetch, SavedRobots};
use arachne_core::{ErrorKind, RecordError, RobotsRules, host_key, robots_url};
use url::Url;

/// Autothrottle's aim: on average this many requests in flight per host (Scrapy's
/// `AUTOTHROTTLE_TARGET_CONCURRENCY`).
pub(crate) const AUTOTHROTTLE_TARGET_CONCURRENCY: f64 = 1.0;
/// The longest delay autothrottle sets.
pub(crate) const AUTOTHROTTLE_MAX_DELAY: Duration = Duration::from_secs(60);
/// The delay autothrottle starts from, unless the configured delay is longer.
pub(crate) const AUTOTHROTTLE_START_DELAY: Duration = Duration::from_secs(1);

/// What the supervisor knows of one host (a host name and port).
pub(crate) struct Host {
    /// Where its robots.txt is (from the first URL of the host seen).
    pub robots_url: Url,
    pub robots: RobotsState,
    /// Failed robots.txt fetches so far.
    pub robots_attempts: u32,
    /// Requests in flight to it.
    pub in_flight: usize,
    /// No request starts before this: the delay after the last start, a `Retry-After`
    /// pause, or a robots.txt retry backoff.
    pub next_start: Instant,
    /// The delay between request starts: the configured one, or autothrottle's.
    pub delay: Duration,
    /// robots.txt `Crawl-delay`, capped.
    pub crawl_delay: Option<Duration>,
    /// Requests of this host in the supervisor's window.
    pub windowed: usize,
    /// What the store keeps of its robots.txt.
    pub saved_robots: Option<SavedRobots>,
    /// The end of its `Retry-After` pause, as the store keeps it.
    pub paused_until: Option<SystemTime>,
}

pub(crate) enum RobotsState {
    /// Not fetched yet (or to be fetched again after a failure).
    Unknown,
    Fetching,
    Ready(Arc<RobotsRules>),
    /// Given up after [`ROBOTS_ATTEMPTS`] failures: the host's URLs are refused, with this
    /// error's kind.
    Unavailable(RecordError),
}

/// Whether a host may take a request now.
pub(crate) enum Gate {
    Go,
    Wait,
    /// Its robots.txt must be fetched first.
    NeedRobots,
}

impl Host {
    /// Whether the host may take a request now. A host whose robots.txt is unavailable
    /// always may: its URLs are refused without a request.
    pub fn gate(&self, per_host: usize, now: Instant) -> Gate {
        let can_start = self.in_flight < per_host && now >= self.next_start;
        match self.robots {
            RobotsState::Unknown if can_start => Gate::NeedRobots,
            RobotsState::Unknown | RobotsState::Fetching => Gate::Wait,
            RobotsState::Unavailable(_) => Gate::Go,
            RobotsState::Ready(_) if can_start => Gate::Go,
            RobotsState::Ready(_) => Gate::Wait,
        }
    }

    /// Why `url`, of this host, is recorded without a request, once robots.txt is known.
    pub fn refusal(&self, url: &Url) -> Option<RecordError> {
        match &self.robots {
            RobotsState::Unavailable(why) => Some(match why.kind {
                ErrorKind::RobotsUnavailable => RecordError {
                    kind: ErrorKind::RobotsUnavailable,
                    message: format!(
                        "robots.txt of {} unavailable: {}",
                        host_key(url),
                        why.message
                    ),
                },
                // The host cannot be reached: say so, as a fetch of the page would.
                kind => RecordError {
                    kind,
                    message: format!(
                        "{} unreachable (its robots.txt could not be fetched): {}",
                        host_key(url),
                        why.message
                    ),
                },
            }),
            RobotsState::Ready(rules) if !rules.allowed(url) => Some(RecordError {
                kind: ErrorKind::RobotsDisallowed,
                message: "disallowed by robots.txt".into(),
            }),
            _ => None,
        }
    }

    /// Holds the host's next request until `until` at the earliest, and makes sure the
    /// supervisor wakes up then.
    pub fn defer(&mut self, until: Instant, wakeups: &mut BinaryHeap<Reverse<Instant>>) {
        self.next_start = self.next_start.max(until);
        wakeups.push(Reverse(self.next_start));
    }
}

impl Host {
    /// A host first seen with `url`: robots.txt still to fetch (unless ignored), nothing in
    /// flight, free to start now.
    pub fn new(url: &Url, obey_robots: bool, delay: Duration, autothrottle: bool) -> Self {
        Self {
            robots_url: robots_url(url),
            robots: if obey_robots {
                RobotsState::Unknown
            } else {
                RobotsState::Ready(Arc::new(RobotsRules::allow_all()))
            },
            robots_attempts: 0,
            in_flight: 0,
            next_start: Instant::now(),
            delay: if autothrottle {
                delay.max(AUTOTHROTTLE_START_DELAY)
            } else {
                delay
            },
            crawl_delay: None,
            windowed: 0,
            saved_robots: None,
            paused_until: None,
        }
    }

    /// What the store keeps of the host.
    pub fn state(&self, name: &str) -> HostState {
        let mut state = HostState::new(name);
        state.robots = self.saved_robots.clone();
        state.paused_until = self.paused_until;
        state
    }

    /// Takes back what a saved crawl kept of the host: its robots.txt while it is younger
    /// than [`ROBOTS_MAX_AGE`] (unless robots.txt is ignored now), and a `Retry-After` pause
    /// that is not over. Returns the rules taken back.
    pub fn restore(
        &mut self,
        state: &HostState,
        product_token: &str,
        max_crawl_delay: Duration,
        wakeups: &mut BinaryHeap<Reverse<Instant>>,
    ) -> Option<Arc<RobotsRules>> {
        let now = SystemTime::now();
        if let Some(until) = state.paused_until
            && let Ok(left) = until.duration_since(now)
        {
            self.defer(after(Instant::now(), left), wakeups);
        }
        self.paused_until = state.paused_until;
        let saved = state.robots.as_ref()?;
        let fresh = now
            .duration_since(saved.fetched_at)
            .is_ok_and(|age| age < ROBOTS_MAX_AGE);
        if !fresh || !matches!(self.robots, RobotsState::Unknown) {
            return None;
        }
        self.saved_robots = Some(saved.clone());
        let rules = match &saved.outcome {
            RobotsFetch::Body(body) => RobotsRules::parse(product_token, body.as_bytes()),
            RobotsFetch::AllowAll => RobotsRules::allow_all(),
            RobotsFetch::Unavailable(why) => {
                self.robots = RobotsState::Unavailable(why.clone());
                return None;
            }
        };
        self.crawl_delay = rules.crawl_delay().map(|d| d.min(max_crawl_delay));
        let rules = Arc::new(rules);
        self.robots = RobotsState::Ready(Arc::clone(&rules));
        Some(rules)
    }
}

/// How long a robots.txt kept in a crawl's state is trusted when the crawl resumes; an
/// older one is fetched again (Google caches robots.txt for up to a day too).
pub(crate) const ROBOTS_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// `now + wait`, saturating: a wait too long to represent ends a year from now, which a
/// crawl never reaches. Settings are bounded, but the scheduler must not panic whatever
/// a server or a custom store hands it.
pub(crate) fn after(now: Instant, wait: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    now.checked_add(wait.min(YEAR))
        .or_else(|| now.checked_add(Duration::from_secs(60)))
        .unwrap_or(now)
}

/// `duration * factor`, saturating instead of panicking.
pub(crate) fn scaled(duration: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// AutoThrottle's next delay for a host: halfway from the current delay to the latency
/// (divided by the target concurrency), never shorter after an error response, doubled on
/// 429 and 503, kept between `min` and [`AUTOTHROTTLE_MAX_DELAY`].
pub(crate) fn autothrottle_delay(
    current: Duration,
    latency: Duration,
    status: Option<u16>,
    min: Duration,
) -> Duration {
    let max = AUTOTHROTTLE_MAX_DELAY;
    if matches!(status, Some(429 | 503)) {
        return current
            .saturating_mul(2)
            .clamp(min.max(AUTOTHROTTLE_START_DELAY), max);
    }
    let target = latency.div_f64(AUTOTHROTTLE_TARGET_CONCURRENCY);
    let next = current.saturating_add(target) / 2;
    let ok = status.is_some_and(|s| (200..400).contains(&s));
    if !ok && next < current {
        return current;
    }
    next.clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn time_arithmetic_saturates() {
        let now = Instant::now();
        assert!(after(now, Duration::MAX) > now + Duration::from_secs(3600 * 24 * 300));
        assert_eq!(
            after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert_eq!(scaled(Duration::MAX, 1.5), Duration::MAX);
        assert_eq!(scaled(Duration::from_secs(2), 0.5), Duration::from_secs(1));
        assert_eq!(
            autothrottle_delay(Duration::MAX, MS, Some(429), Duration::ZERO),
            AUTOTHROTTLE_MAX_DELAY
        );
    }

    #[test]
    fn autothrottle_moves_halfway_to_latency() {
        assert_eq!(
            autothrottle_delay(1000 * MS, 200 * MS, Some(200), Duration::ZERO),
            600 * MS
        );
        assert_eq!(
            autothrottle_delay(100 * MS, 900 * MS, Some(200), Duration::ZERO),
            500 * MS
        );
        // Never below the configured delay.
        assert_eq!(
            autothrottle_delay(100 * MS, Duration::ZERO, Some(200), 80 * MS),
            80 * MS
        );
    }

    #[test]
    fn autothrottle_does_not_speed_up_on_errors_and_backs_off_on_429() {
        assert_eq!(
            autothrottle_delay(1000 * MS, 10 * MS, Some(500), Duration::ZERO),
            1000 * MS
        );
        assert_eq!(
            autothrottle_delay(1000 * MS, 10 * MS, None, Duration::ZERO),
            1000 * MS
        );
        assert_eq!(
            autothrottle_delay(1000 * MS, 10 * MS, Some(429), Duration::ZERO),
            2000 * MS
        );
        assert_eq!(
            autothrottle_delay(50 * MS, 10 * MS, Some(503), Duration::ZERO),
            AUTOTHROTTLE_START_DELAY
        );
        assert_eq!(
            autothrottle_delay(50_000 * MS, 10 * MS, Some(503), Duration::ZERO),
            AUTOTHROTTLE_MAX_DELAY
        );
    }
}
