//! Virtual time: the simulator's clock, and the duration syntax scenarios use.
//!
//! Time moves only when a scenario advances it. It starts at a fixed epoch,
//! 2026-01-01T00:00:00Z, so timestamps in statuses are the same on every run.

use std::fmt;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// 2026-01-01T00:00:00Z in seconds since the Unix epoch: where every simulation starts.
pub const EPOCH_UNIX_SECONDS: i64 = 1_767_225_600;

/// A point in simulated time, in milliseconds since [`EPOCH_UNIX_SECONDS`].
/// Serialized as milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SimTime(u64);

impl SimTime {
    /// The start of every simulation.
    pub const START: SimTime = SimTime(0);

    pub fn from_millis(millis: u64) -> SimTime {
        SimTime(millis)
    }

    /// Milliseconds since the start.
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// Time since the start.
    pub fn elapsed(self) -> Duration {
        Duration::from_millis(self.0)
    }

    /// This time moved forward by `by` (saturating; sub-millisecond parts are dropped).
    pub fn after(self, by: Duration) -> SimTime {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        SimTime(self.0.saturating_add(millis))
    }

    /// The wall-clock instant this time stands for, at whole-second resolution, as the API
    /// server stores `creationTimestamp` and condition times.
    pub fn timestamp(self) -> Timestamp {
        let seconds = EPOCH_UNIX_SECONDS.saturating_add((self.0 / 1000) as i64);
        // Past the last representable instant, the last one (time saturates, never wraps).
        Timestamp::from_second(seconds).unwrap_or(Timestamp::MAX)
    }

    /// [`SimTime::timestamp`] as a metav1 `Time`.
    pub fn meta_time(self) -> Time {
        Time(self.timestamp())
    }
}

impl fmt::Display for SimTime {
    /// `+1.250s`: time since the start of the simulation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

/// A duration that is not in the accepted syntax.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: {reason}")]
pub struct DurationError {
    pub text: String,
    pub reason: &'static str,
}

/// Parses a duration as scenarios write it: one or more `<number><unit>` parts with units `h`,
/// `m`, `s` and `ms` (the Gateway API duration syntax, GEP-2257), for example `250ms`, `5s`,
/// `1m30s`. Integers only; at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    parse_parts(text, false)
}

/// Parses a Go `time.ParseDuration` string, as the echo server reads `?delay=`: the units above
/// plus `us`, `µs` and `ns`, decimal fractions (`1.5s`), and a bare `0`; at most
/// [`MAX_DURATION`], as Go refuses longer ones.
pub fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    parse_parts(text, true)
}

/// The longest duration either syntax accepts: Go's limit, the largest `int64` count of
/// nanoseconds (about 2,562,047 hours). Longer ones are refused, as Go's `ParseDuration` does.
pub const MAX_DURATION: Duration = Duration::new(9_223_372_036, 854_775_807);

fn parse_parts(text: &str, go: bool) -> Result<Duration, DurationError> {
    let fail = |reason| DurationError {
        text: text.to_string(),
        reason,
    };
    let too_large = || fail("number too large");
    if text.is_empty() {
        return Err(fail("empty"));
    }
    let mut rest = text;
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || (go && c == '.')))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(fail("expected a number"));
        }
        let number = &rest[..digits];
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_nanos: u128 = match unit {
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "µs" if go => 1_000,
            "ns" if go => 1,
            "" => return Err(fail("a unit (h, m, s, ms) is required")),
            _ => return Err(fail("unknown unit; use h, m, s or ms")),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(fail("expected a number"));
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(too_large)?;
        if !fraction.is_empty() {
            // Digits past the 18th are below a nanosecond of any unit: dropped, as Go does.
            let digits = fraction.len().min(18) as u32;
            let fraction: u128 = fraction[..digits as usize]
                .parse()
                .map_err(|_| fail("expected a number"))?;
            let part = fraction.checked_mul(unit_nanos).ok_or_else(too_large)? / 10u128.pow(digits);
            nanos = nanos.checked_add(part).ok_or_else(too_large)?;
        }
        total_nanos = total_nanos.checked_add(nanos).ok_or_else(too_large)?;
        if total_nanos > MAX_DURATION.as_nanos() {
            return Err(too_large());
        }
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| too_large())?;
    Ok(Duration::new(secs, (total_nanos % 1_000_000_000) as u32))
}

/// A duration written back in the scenario syntax: `1m30s`, `250ms`, `0s`.
pub fn format_duration(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if millis >= size {
            out.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scenario_durations() {
        let cases = [
            ("250ms", Some(250)),
            ("5s", Some(5_000)),
            ("1m", Some(60_000)),
            ("1h", Some(3_600_000)),
            ("1m30s", Some(90_000)),
            ("1s500ms", Some(1_500)),
            ("0s", Some(0)),
            ("", None),
            ("5", None),
            ("s", None),
            ("1.5s", None),
            ("5d", None),
            ("-1s", None),
        ];
        for (text, want) in cases {
            let got = parse_duration(text).ok().map(|d| d.as_millis() as u64);
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn parses_go_durations() {
        let cases = [
            ("1s", Some(1_000_000_000)),
            ("1.5s", Some(1_500_000_000)),
            (".5s", Some(500_000_000)),
            ("100us", Some(100_000)),
            ("10ns", Some(10)),
            ("0", Some(0)),
            ("1.2.3s", None),
            ("abc", None),
        ];
        for (text, want) in cases {
            let got = parse_go_duration(text).ok().map(|d| d.as_nanos() as u64);
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn long_fractions_and_huge_numbers_are_refused_not_wrapped() {
        // Issue 10, finding 2: the whole part times the unit fits in u128, the fraction then
        // overflowed the sum (a panic in debug, about 30 minutes in release).
        for text in [
            "94522879700260684295381835.9h",
            "94522879700260684295381835.999999999999999999999h",
            "4000000000000000h",
            "2562048h",
            "9223372036854775808ns",
            "340282366920938463463374607431768211456ns",
        ] {
            let err = parse_go_duration(text).expect_err(text);
            assert_eq!(err.reason, "number too large", "{text}");
            assert!(parse_duration(text).is_err(), "{text}");
        }
        // Go's limit (the largest int64 of nanoseconds, about 2,562,047 hours) is accepted.
        assert_eq!(
            parse_go_duration("9223372036854775807ns").unwrap(),
            Duration::from_nanos(i64::MAX as u64)
        );
        assert!(parse_go_duration("2562047h").is_ok());
        assert_eq!(
            parse_go_duration("1.99999999999999999999999s").unwrap(),
            Duration::new(1, 999_999_999)
        );
    }

    #[test]
    fn virtual_time_saturates() {
        let far = SimTime::from_millis(u64::MAX - 1);
        assert_eq!(far.after(Duration::MAX).as_millis(), u64::MAX);
        assert_eq!(far.after(Duration::from_millis(5)).as_millis(), u64::MAX);
        // The timestamp of the end of time is still a timestamp.
        let _ = SimTime::from_millis(u64::MAX).timestamp();
    }

    #[test]
    fn formats_durations() {
        for (millis, text) in [
            (0, "0s"),
            (250, "250ms"),
            (90_000, "1m30s"),
            (3_601_001, "1h1s1ms"),
        ] {
            assert_eq!(format_duration(Duration::from_millis(millis)), text);
        }
    }

    #[test]
    fn timestamps_start_at_the_epoch_with_second_resolution() {
        assert_eq!(
            SimTime::START.timestamp().to_string(),
            "2026-01-01T00:00:00Z"
        );
        let t = SimTime::START.after(Duration::from_millis(61_999));
        assert_eq!(t.timestamp().to_string(), "2026-01-01T00:01:01Z");
        assert_eq!(t.to_string(), "+61.999s");
        assert!(t > SimTime::START);
    }
}
