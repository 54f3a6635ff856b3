//! Setting values written as text, and the range of values each setting accepts.
//!
//! One syntax everywhere: the command line's flags, its config file, the `ARACHNE_*`
//! environment variables and the builder all read values with these functions and check
//! them against these ranges, so a value means the same, and fails the same way, wherever
//! it is given. Nothing here panics, whatever the text.
//!
//! | kind | syntax | examples |
//! |---|---|---|
//! | duration | a number of seconds, or numbers with units one after another: `ms`, `s`, `m` (or `min`), `h`, `d` | `0`, `1.5`, `250ms`, `30s`, `2m`, `1h30m` |
//! | size | a whole number of bytes, or a number with a unit: `B`, `KB` (1000), `KiB` (1024), `MB`, `MiB`, `GB`, `GiB`, `TB`, `TiB` (or `K`, `M`, `G`, `T` for the decimal ones) | `65536`, `500KB`, `1.5MiB` |
//! | count | a whole number | `0`, `64` |
//!
//! Exponents (`1e3`), signs, `inf` and `NaN` are refused.
//!
//! # Zero
//! Zero is accepted where it means "none of this": no delay between requests
//! ([`DELAY`]), no `Crawl-delay` obeyed ([`MAX_CRAWL_DELAY`]), no retries ([`RETRIES`]), no
//! redirects followed ([`MAX_REDIRECTS`]), the seeds only ([`MAX_DEPTH`]). Every limit on
//! how much is crawled, how much runs at once, or how long something may take must be at
//! least 1: to have no limit, leave the setting out.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use arachne_core::settings;
//!
//! assert_eq!(settings::DELAY.parse("1m30s"), Ok(Duration::from_secs(90)));
//! assert_eq!(settings::MAX_BODY.parse("10MiB"), Ok(10 * 1024 * 1024));
//! assert_eq!(settings::CONCURRENCY.parse("0").unwrap_err(), "must be at least 1");
//! assert!(settings::TIMEOUT.parse("1e30").unwrap_err().contains("not a duration"));
//! ```

use std::fmt;
use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// The durations a setting accepts, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationRange {
    /// The shortest.
    pub min: Duration,
    /// The longest.
    pub max: Duration,
}

impl DurationRange {
    /// Checks a value against the range.
    ///
    /// # Errors
    /// A message such as `must be at most 1d`.
    pub fn check(&self, value: Duration) -> Result<Duration, String> {
        if value < self.min {
            Err(if value.is_zero() {
                format!(
                    "must be more than zero (at least {})",
                    DurationText(self.min)
                )
            } else {
                format!("must be at least {}", DurationText(self.min))
            })
        } else if value > self.max {
            Err(format!("must be at most {}", DurationText(self.max)))
        } else {
            Ok(value)
        }
    }

    /// Parses a duration ([`parse_duration`]) and checks it against the range.
    ///
    /// # Errors
    /// What is wrong with the text or the value.
    pub fn parse(&self, text: &str) -> Result<Duration, String> {
        self.check(parse_duration(text)?)
    }
}

/// The whole numbers a setting accepts, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountRange {
    /// The least.
    pub min: u64,
    /// The most.
    pub max: u64,
}

impl CountRange {
    /// Checks a value against the range.
    ///
    /// # Errors
    /// A message such as `must be at least 1`.
    pub fn check(&self, value: u64) -> Result<u64, String> {
        if value < self.min {
            Err(format!("must be at least {}", self.min))
        } else if value > self.max {
            Err(format!("must be at most {}", self.max))
        } else {
            Ok(value)
        }
    }

    /// Parses a whole number ([`parse_count`]) and checks it against the range.
    ///
    /// # Errors
    /// What is wrong with the text or the value.
    pub fn parse(&self, text: &str) -> Result<u64, String> {
        self.check(parse_count(text)?)
    }
}

/// The sizes in bytes a setting accepts, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange {
    /// The least.
    pub min: u64,
    /// The most.
    pub max: u64,
}

impl SizeRange {
    /// Checks a value against the range.
    ///
    /// # Errors
    /// A message such as `must be at most 1GiB`.
    pub fn check(&self, value: u64) -> Result<u64, String> {
        if value < self.min {
            Err(format!("must be at least {}", SizeText(self.min)))
        } else if value > self.max {
            Err(format!("must be at most {}", SizeText(self.max)))
        } else {
            Ok(value)
        }
    }

    /// Parses a size ([`parse_size`]) and checks it against the range.
    ///
    /// # Errors
    /// What is wrong with the text or the value.
    pub fn parse(&self, text: &str) -> Result<u64, String> {
        self.check(parse_size(text)?)
    }
}

/// The least time between request starts to one host: from 0 (none) to a day.
pub const DELAY: DurationRange = DurationRange {
    min: Duration::ZERO,
    max: DAY,
};
/// The longest robots.txt `Crawl-delay` obeyed: from 0 (obey none) to a day.
pub const MAX_CRAWL_DELAY: DurationRange = DELAY;
/// The time allowed for one request, or to connect: from 1 ms to a day.
pub const TIMEOUT: DurationRange = DurationRange {
    min: Duration::from_millis(1),
    max: DAY,
};
/// The base of the backoff between retries: from 0 to an hour.
pub const RETRY_BACKOFF: DurationRange = DurationRange {
    min: Duration::ZERO,
    max: Duration::from_secs(60 * 60),
};
/// A shared crawl's worker lease (`--lease`): from 2 s (renewals come every half second
/// or so) to an hour.
pub const LEASE: DurationRange = DurationRange {
    min: Duration::from_secs(2),
    max: Duration::from_secs(3600),
};
/// How often the command line prints a progress line: from 100 ms to a day.
pub const STATS_INTERVAL: DurationRange = DurationRange {
    min: Duration::from_millis(100),
    max: DAY,
};
/// Requests in flight over the crawl: from 1 to 10,000.
pub const CONCURRENCY: CountRange = CountRange {
    min: 1,
    max: 10_000,
};
/// Requests in flight to one host: from 1 to 10,000.
pub const PER_HOST: CountRange = CONCURRENCY;
/// Fetcher threads: from 1 to 64. Each runs many requests at once and holds a few file
/// descriptors of its own; more than a handful never helps.
pub const FETCH_THREADS: CountRange = CountRange { min: 1, max: 64 };
/// Parser threads: from 1 to 256.
pub const PARSE_THREADS: CountRange = CountRange { min: 1, max: 256 };
/// Retries of a transient failure: from 0 (none) to 100.
pub const RETRIES: CountRange = CountRange { min: 0, max: 100 };
/// Redirects followed for one URL: from 0 (none) to 100.
pub const MAX_REDIRECTS: CountRange = RETRIES;
/// The greatest link depth crawled: from 0 (the seeds only) up.
pub const MAX_DEPTH: CountRange = CountRange {
    min: 0,
    max: u32::MAX as u64,
};
/// The most URLs fetched, over the crawl or per host: at least 1.
pub const MAX_PAGES: CountRange = CountRange {
    min: 1,
    max: u64::MAX,
};
/// The longest URL followed, in bytes: from 1 to 1 MiB.
pub const MAX_URL_LENGTH: CountRange = CountRange { min: 1, max: MIB };
/// The body-size cap: from 1 byte to 1 GiB (a body is held in memory while it is parsed
/// and written).
pub const MAX_BODY: SizeRange = SizeRange { min: 1, max: GIB };
/// The size past which a new WARC file is started: at least 1 byte.
pub const WARC_MAX_SIZE: SizeRange = SizeRange {
    min: 1,
    max: u64::MAX,
};

/// Parses a duration: a number of seconds (`1.5`), or numbers with units one after
/// another (`250ms`, `2m`, `1h30m`, `1h 30m`). See the [module docs](self).
///
/// # Errors
/// A message saying what is wrong: empty, negative, not a duration, an unknown unit, or
/// too long to represent.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty: expected a duration such as 30s, 500ms or 1.5 (seconds)".into());
    }
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative"));
    }
    let not_a_duration = |why: &str| {
        format!("`{text}` is not a duration{why}: use seconds (1.5) or units (500ms, 30s, 2m, 1h)")
    };
    if let Some(why) = exponent(text) {
        return Err(format!("`{text}` is not a duration: {why}"));
    }
    let mut rest = text;
    let mut nanos: u128 = 0;
    let mut terms = 0;
    while !rest.is_empty() {
        let (number, after) = split_number(rest).ok_or_else(|| not_a_duration(""))?;
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let factor: u128 = match unit.to_ascii_lowercase().as_str() {
            // A plain number is seconds, alone only.
            "" if terms == 0 && after.trim().is_empty() => NANOS_PER_SEC,
            "" => return Err(not_a_duration(": a number without a unit")),
            "ms" => 1_000_000,
            "s" | "sec" | "secs" => NANOS_PER_SEC,
            "m" | "min" | "mins" => 60 * NANOS_PER_SEC,
            "h" => 60 * 60 * NANOS_PER_SEC,
            "d" => 24 * 60 * 60 * NANOS_PER_SEC,
            other => return Err(not_a_duration(&format!(" (unknown unit `{other}`)"))),
        };
        let term = number
            .scaled(factor)
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
        nanos = nanos
            .checked_add(term)
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
        terms += 1;
        rest = after.trim_start();
    }
    let secs = u64::try_from(nanos / NANOS_PER_SEC)
        .map_err(|_| format!("`{text}` is too long a duration"))?;
    let sub = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Ok(Duration::new(secs, sub))
}

/// Parses a size in bytes: a whole number (`65536`), or a number with a unit (`500KB`,
/// `1.5MiB`). See the [module docs](self).
///
/// # Errors
/// A message saying what is wrong: empty, negative, not a size, an unknown unit, a
/// fraction of a byte, or too large.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty: expected a size such as 65536, 500KB or 10MiB".into());
    }
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative"));
    }
    if let Some(why) = exponent(text) {
        return Err(format!("`{text}` is not a size: {why}"));
    }
    let (number, unit) = split_number(text).ok_or_else(|| {
        format!("`{text}` is not a size: use bytes (65536) or units (500KB, 10MiB, 1GB)")
    })?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => KIB,
        "m" | "mb" => 1_000_000,
        "mib" => MIB,
        "g" | "gb" => 1_000_000_000,
        "gib" => GIB,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1024 * GIB,
        other => {
            return Err(format!(
                "`{text}`: unknown size unit `{other}` (use B, KB, KiB, MB, MiB, GB, GiB, TB, TiB)"
            ));
        }
    };
    if factor == 1 && number.has_fraction() {
        return Err(format!("`{text}`: a number of bytes is whole"));
    }
    number
        .scaled(u128::from(factor))
        .and_then(|bytes| u64::try_from(bytes).ok())
        .ok_or_else(|| format!("`{text}` is too large a size"))
}

/// Parses a whole number.
///
/// # Errors
/// A message saying what is wrong: empty, negative, not a whole number, or too large.
pub fn parse_count(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty: expected a whole number".into());
    }
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a whole number"));
    }
    text.parse()
        .map_err(|_| format!("`{text}` is too large a number"))
}

/// Why a number written with an exponent (`1e30`, `2.5E-3`) is refused, if it is one.
fn exponent(text: &str) -> Option<&'static str> {
    let (mantissa, power) = text.split_once(['e', 'E'])?;
    let power = power.strip_prefix(['+', '-']).unwrap_or(power);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    (digits(mantissa) && digits(power))
        .then_some("exponents are not accepted; write the number out, or use a unit")
}

/// A decimal number as written: its whole part and its fraction digits.
struct Decimal<'a> {
    whole: &'a str,
    fraction: &'a str,
}

impl Decimal<'_> {
    fn has_fraction(&self) -> bool {
        self.fraction.bytes().any(|b| b != b'0')
    }

    /// The number times `factor`, rounded down; `None` past `u128`.
    fn scaled(&self, factor: u128) -> Option<u128> {
        let mut whole: u128 = 0;
        for digit in self.whole.bytes() {
            whole = whole
                .checked_mul(10)?
                .checked_add(u128::from(digit - b'0'))?;
        }
        // Digits past the 18th change nothing that a nanosecond or a byte can hold.
        let fraction = &self.fraction[..self.fraction.len().min(18)];
        let mut numerator: u128 = 0;
        for digit in fraction.bytes() {
            numerator = numerator * 10 + u128::from(digit - b'0');
        }
        let denominator = 10u128.pow(u32::try_from(fraction.len()).unwrap_or(0));
        let part = numerator.checked_mul(factor)? / denominator;
        whole.checked_mul(factor)?.checked_add(part)
    }
}

/// Splits a leading decimal number (`12`, `1.5`, `.5`, `3.`) from the rest of the text.
fn split_number(text: &str) -> Option<(Decimal<'_>, &str)> {
    let whole_len = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (whole, rest) = text.split_at(whole_len);
    let (fraction, rest) = match rest.strip_prefix('.') {
        Some(after) => {
            let len = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            after.split_at(len)
        }
        None => ("", rest),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    Some((Decimal { whole, fraction }, rest))
}

/// A duration written as [`parse_duration`] reads it: `0`, `250ms`, `30s`, `2m`, `1h`, `1d`.
pub struct DurationText(pub Duration);

impl fmt::Display for DurationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.is_zero() {
            return f.write_str("0");
        }
        if d.subsec_nanos() != 0 {
            return if d.subsec_nanos().is_multiple_of(1_000_000) {
                write!(f, "{}ms", d.as_millis())
            } else {
                write!(f, "{}s", d.as_secs_f64())
            };
        }
        let secs = d.as_secs();
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
            if secs.is_multiple_of(size) {
                return write!(f, "{}{unit}", secs / size);
            }
        }
        write!(f, "{secs}s")
    }
}

/// A size written as [`parse_size`] reads it, in the largest binary unit that divides it
/// (`1GiB`, `1536KiB`, `1000`).
pub struct SizeText(pub u64);

impl fmt::Display for SizeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
            if n >= size && n.is_multiple_of(size) {
                return write!(f, "{}{unit}", n / size);
            }
        }
        write!(f, "{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |text: &str, millis: u64| {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        };
        ok("0", 0);
        ok("1.5", 1500);
        ok(".5", 500);
        ok("2.", 2000);
        ok("250ms", 250);
        ok("30s", 30_000);
        ok("2m", 120_000);
        ok("2min", 120_000);
        ok("1h30m", 5_400_000);
        ok("1h 30m", 5_400_000);
        ok(" 1D ", 86_400_000);
        ok("1.5s", 1500);
        assert_eq!(parse_duration("0.0001s"), Ok(Duration::from_micros(100)));
        assert_eq!(
            parse_duration("1.000000001"),
            Ok(Duration::new(1, 1)),
            "nanoseconds count"
        );
        for bad in [
            "", " ", "-1", "-0", "1e30", "inf", "NaN", "soon", "1x", "1 2", "1s2", "s", ".",
            "1..5", "+1", "1,5",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse_duration(&"9".repeat(40))
                .unwrap_err()
                .contains("too long")
        );
        assert!(
            parse_duration("18446744073709551616")
                .unwrap_err()
                .contains("too long")
        );
        assert_eq!(
            parse_duration("18446744073709551615.999999999"),
            Ok(Duration::MAX)
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB"), Ok(10 * MIB));
        assert_eq!(parse_size("500KB"), Ok(500_000));
        assert_eq!(parse_size("500 kb"), Ok(500_000));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("123B"), Ok(123));
        assert_eq!(parse_size("2G"), Ok(2_000_000_000));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        for bad in [
            "",
            "-5",
            "1.5",
            "1e3",
            "12 parsecs",
            "lots",
            "inf",
            "NaN",
            "KB",
            "1KB2",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse_size("18446744073709551616")
                .unwrap_err()
                .contains("too large")
        );
        assert!(parse_size("99999999TiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count(" 64 "), Ok(64));
        assert_eq!(parse_count("0"), Ok(0));
        for bad in ["", "-1", "1.0", "1e3", "+1", "many", "0x10", "1_000"] {
            assert!(parse_count(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse_count("99999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn ranges_name_their_bounds() {
        assert!(
            DELAY
                .parse("1e19")
                .unwrap_err()
                .contains("exponents are not accepted")
        );
        assert!(
            MAX_BODY
                .parse("1E6")
                .unwrap_err()
                .contains("exponents are not accepted")
        );
        assert!(DELAY.parse("1e").unwrap_err().contains("unknown unit `e`"));
        assert_eq!(DELAY.parse("2d").unwrap_err(), "must be at most 1d");
        assert_eq!(
            TIMEOUT.parse("0").unwrap_err(),
            "must be more than zero (at least 1ms)"
        );
        assert_eq!(TIMEOUT.parse("0.0005").unwrap_err(), "must be at least 1ms");
        assert_eq!(
            STATS_INTERVAL.parse("10ms").unwrap_err(),
            "must be at least 100ms"
        );
        assert_eq!(
            FETCH_THREADS.parse("5000").unwrap_err(),
            "must be at most 64"
        );
        assert_eq!(MAX_PAGES.parse("0").unwrap_err(), "must be at least 1");
        assert_eq!(MAX_BODY.parse("2GiB").unwrap_err(), "must be at most 1GiB");
        assert_eq!(MAX_BODY.parse("0").unwrap_err(), "must be at least 1");
        assert_eq!(RETRIES.parse("0"), Ok(0));
    }

    #[test]
    fn texts_read_back() {
        for d in [
            Duration::ZERO,
            Duration::from_millis(250),
            Duration::from_secs(90),
            Duration::from_secs(3600),
            DAY,
            Duration::new(1, 5),
        ] {
            assert_eq!(parse_duration(&DurationText(d).to_string()), Ok(d), "{d:?}");
        }
        for n in [0, 1000, KIB, 1536 * KIB, GIB, u64::MAX] {
            assert_eq!(parse_size(&SizeText(n).to_string()), Ok(n), "{n}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Text that looks like a setting value, or nearly: numbers, units, signs, garbage.
    fn value_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[-+ .0-9eEinfaNKkMmGgTtBbiIshd]{0,16}",
            (any::<f64>()).prop_map(|f| f.to_string()),
            (
                any::<u64>(),
                "(|ms|s|m|min|h|d|B|KB|KiB|MB|MiB|GB|GiB|TB|TiB|x)"
            )
                .prop_map(|(n, unit)| format!("{n}{unit}")),
            (
                0u32..10_000,
                0u32..1000,
                "(ms|s|m|h|d)",
                0u32..100,
                "(ms|s|m|h)"
            )
                .prop_map(|(a, frac, u1, b, u2)| format!("{a}.{frac}{u1}{b}{u2}")),
        ]
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in value_text()) {
            let _ = parse_duration(&text);
            let _ = parse_size(&text);
            let _ = parse_count(&text);
        }

        #[test]
        fn accepted_values_are_within_their_range(text in value_text()) {
            for range in [DELAY, TIMEOUT, RETRY_BACKOFF, STATS_INTERVAL] {
                match range.parse(&text) {
                    Ok(d) => prop_assert!(range.min <= d && d <= range.max),
                    Err(message) => prop_assert!(!message.is_empty()),
                }
            }
            for range in [CONCURRENCY, FETCH_THREADS, PARSE_THREADS, RETRIES, MAX_DEPTH, MAX_PAGES, MAX_URL_LENGTH] {
                match range.parse(&text) {
                    Ok(n) => prop_assert!(range.min <= n && n <= range.max),
                    Err(message) => prop_assert!(!message.is_empty()),
                }
            }
            for range in [MAX_BODY, WARC_MAX_SIZE] {
                match range.parse(&text) {
                    Ok(n) => prop_assert!(range.min <= n && n <= range.max),
                    Err(message) => prop_assert!(!message.is_empty()),
                }
            }
        }

        #[test]
        fn whole_numbers_with_units_mean_what_they_say(n in 0u64..1_000_000, unit in 0usize..5) {
            let (suffix, secs) = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("", 1)][unit];
            prop_assert_eq!(parse_duration(&format!("{n}{suffix}")), Ok(Duration::from_secs(n * secs)));
            prop_assert_eq!(parse_duration(&format!("{n}ms")), Ok(Duration::from_millis(n)));
            prop_assert_eq!(parse_size(&format!("{n}KiB")), Ok(n * 1024));
            prop_assert_eq!(parse_size(&format!("{n} MB")), Ok(n * 1_000_000));
            prop_assert_eq!(parse_count(&n.to_string()), Ok(n));
        }

        #[test]
        fn seconds_as_a_float_are_read_as_written(secs in 0.0f64..1e9) {
            // How a config file's `delay = 0.25` reaches the parser.
            let text = secs.to_string();
            let d = parse_duration(&text).unwrap();
            prop_assert!((d.as_secs_f64() - secs).abs() < 1e-6, "{} -> {:?}", text, d);
        }

        #[test]
        fn durations_and_sizes_read_back(d in any::<u64>(), n in any::<u64>()) {
            let d = Duration::from_millis(d);
            prop_assert_eq!(parse_duration(&DurationText(d).to_string()), Ok(d));
            prop_assert_eq!(parse_size(&SizeText(n).to_string()), Ok(n));
        }
    }
}
