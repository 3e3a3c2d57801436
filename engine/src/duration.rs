//! GEP-2257 durations: what the HTTPRoute timeout rule and the controller need.

use std::time::Duration;

/// Parses a Gateway API Duration (GEP-2257): one to four parts, each one to five digits
/// followed by `h`, `m`, `s` or `ms` (`1h30m`, `500ms`, `0s`). No signs, decimals, spaces or
/// other units. Returns `None` for anything else, exactly where the CRD pattern
/// `^([0-9]{1,5}(h|m|s|ms)){1,4}$` fails.
pub fn parse(text: &str) -> Option<Duration> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut parts = 0;
    let mut total = Duration::ZERO;
    while at < bytes.len() {
        let digits_start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        let digits = at - digits_start;
        if !(1..=5).contains(&digits) {
            return None;
        }
        let amount: u64 = text.get(digits_start..at)?.parse().ok()?;
        let rest = text.get(at..)?;
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else {
            return None;
        };
        at += len;
        parts += 1;
        total = total.checked_add(unit.checked_mul(u32::try_from(amount).ok()?)?)?;
    }
    (1..=4).contains(&parts).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::types::DURATION;

    #[test]
    fn parses_gep_2257_durations() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0s", Some(0)),
            ("1s", Some(1000)),
            ("500ms", Some(500)),
            ("1h", Some(3_600_000)),
            ("1h30m", Some(5_400_000)),
            ("1h1m1s1ms", Some(3_661_001)),
            ("99999s", Some(99_999_000)),
            ("1m1m", Some(120_000)),
            ("", None),
            ("1", None),
            ("s", None),
            ("1d", None),
            ("1.5s", None),
            ("-1s", None),
            ("100us", None),
            ("1 s", None),
            ("123456s", None),
            ("1h1m1s1ms1h", None),
            ("1S", None),
        ];
        for (text, millis) in cases {
            let got = parse(text).map(|d| d.as_millis() as u64);
            assert_eq!(got, *millis, "{text:?}");
            // The parser and the CRD pattern agree on what is a Duration.
            assert_eq!(
                got.is_some(),
                DURATION.is_match(text),
                "pattern vs parser on {text:?}"
            );
        }
    }
}
