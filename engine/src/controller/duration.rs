//! GEP-2257 durations (`1h`, `500ms`, `1h2m3s`): one to four `<digits><unit>` pairs, units
//! `h`, `m`, `s`, `ms`, up to five digits each. Admission has validated the format; this parser
//! still refuses anything else rather than guess.

use std::time::Duration;

/// Parses a GEP-2257 duration. `None` for anything that is not one.
pub fn parse(text: &str) -> Option<Duration> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut total = Duration::ZERO;
    let mut parts = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &text[start..i];
        if digits.is_empty() || digits.len() > 5 {
            return None;
        }
        let value: u64 = digits.parse().ok()?;
        let unit = if text[i..].starts_with("ms") {
            i += 2;
            Duration::from_millis(value)
        } else {
            let unit = match bytes.get(i)? {
                b'h' => Duration::from_secs(value * 3600),
                b'm' => Duration::from_secs(value * 60),
                b's' => Duration::from_secs(value),
                _ => return None,
            };
            i += 1;
            unit
        };
        total += unit;
        parts += 1;
        if parts > 4 {
            return None;
        }
    }
    (parts > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gep_2257() {
        let ms = Duration::from_millis;
        let cases: &[(&str, Option<Duration>)] = &[
            ("0s", Some(Duration::ZERO)),
            ("500ms", Some(ms(500))),
            ("1h", Some(ms(3_600_000))),
            ("1h2m", Some(ms(3_720_000))),
            ("1h2m3s4ms", Some(ms(3_723_004))),
            ("99999s", Some(ms(99_999_000))),
            ("", None),
            ("1", None),
            ("s", None),
            ("1d", None),
            ("1.5s", None),
            ("-1s", None),
            ("100000s", None),
            ("1h1h1h1h1h", None),
            ("1 s", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), *expected, "{text:?}");
        }
    }
}
