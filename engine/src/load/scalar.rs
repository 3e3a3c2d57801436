//! YAML scalars into JSON values, as kubectl reads them (sigs.k8s.io/yaml, a YAML 1.1
//! resolver): `yes`/`no`/`on`/`off` are booleans, `0777` is octal, `1e3` is the integer 1000
//! once written as JSON, and quoted or block scalars are always strings.

use serde_json::{Number, Value};

/// A plain (unquoted, untagged) scalar. `Err` for `.inf` and `.nan`, which JSON cannot hold.
pub(super) fn resolve_plain(text: &str) -> Result<Value, String> {
    let Some(&first) = text.as_bytes().first() else {
        return Ok(Value::Null);
    };
    match first {
        b'~' | b'n' | b'N' | b'y' | b'Y' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' => {
            Ok(word(text).unwrap_or_else(|| Value::String(text.to_string())))
        }
        b'+' | b'-' | b'.' | b'0'..=b'9' => number(text),
        _ => Ok(Value::String(text.to_string())),
    }
}

/// The null and boolean spellings of the YAML 1.1 resolver kubectl uses.
fn word(text: &str) -> Option<Value> {
    Some(match text {
        "~" | "null" | "Null" | "NULL" => Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Value::Bool(false)
        }
        _ => return None,
    })
}

/// An integer (decimal, `0x`, `0o`, `0b`, or a leading-zero octal; `_` ignored) or a float;
/// anything else is a string.
fn number(text: &str) -> Result<Value, String> {
    if let Some(infinite) = special_float(text) {
        return Err(format!(
            "{text} ({infinite}) is not a number JSON can hold; quote it to keep it as text"
        ));
    }
    let owned;
    let plain = if text.contains('_') {
        owned = text.replace('_', "");
        owned.as_str()
    } else {
        text
    };
    if let Some(n) = integer(plain) {
        return Ok(n);
    }
    if is_decimal_float(plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return float(f).ok_or_else(|| {
            format!(
                "{text} is out of the range of numbers JSON can hold; quote it to keep it as text"
            )
        });
    }
    Ok(Value::String(text.to_string()))
}

fn special_float(text: &str) -> Option<&'static str> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some("infinity"),
        "-.inf" | "-.Inf" | "-.INF" => Some("minus infinity"),
        ".nan" | ".NaN" | ".NAN" => Some("not a number"),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: a sign, then `0x`, `0o`, `0b` or a
/// leading `0` (octal), or decimal digits.
pub(super) fn integer(text: &str) -> Option<Value> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let bytes = unsigned.as_bytes();
    let (radix, digits) = match bytes {
        [b'0', b'x' | b'X', ..] => (16, &unsigned[2..]),
        [b'0', b'o' | b'O', ..] => (8, &unsigned[2..]),
        [b'0', b'b' | b'B', ..] => (2, &unsigned[2..]),
        [b'0', _, ..] => (8, &unsigned[1..]),
        _ => (10, unsigned),
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        if magnitude <= i64::MAX as u64 + 1 {
            Some(Value::Number(Number::from(
                (magnitude as i64).wrapping_neg(),
            )))
        } else {
            None
        }
    } else {
        Some(Value::Number(Number::from(magnitude)))
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`: the floats the YAML 1.1 resolver
/// recognises.
fn is_decimal_float(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'-' | b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// A float as the JSON kubectl sends has it: Go writes integral values below 1e21 without a
/// fraction, so the API server reads them as integers. `None` when not finite.
pub(super) fn float(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= 0.0 && f <= u64::MAX as f64 && (f as u64) as f64 == f {
            return Some(Value::Number(Number::from(f as u64)));
        }
        if f < 0.0 && f >= i64::MIN as f64 && (f as i64) as f64 == f {
            return Some(Value::Number(Number::from(f as i64)));
        }
    }
    Number::from_f64(f).map(Value::Number)
}

/// A scalar with a core tag (`!!str`, `!!int`, ...). Other tags (`!Ref`, `!custom`) make a
/// string, as kubectl's resolver does.
pub(super) fn resolve_tagged(core_suffix: Option<&str>, text: &str) -> Result<Value, String> {
    let refused = |what: &str| {
        format!(
            "{:?} is not {what} (tagged !!{})",
            text,
            core_suffix.unwrap_or("")
        )
    };
    match core_suffix {
        Some("null") => match text {
            "" | "~" | "null" | "Null" | "NULL" => Ok(Value::Null),
            _ => Err(refused("null")),
        },
        Some("bool") => match word(text) {
            Some(b @ Value::Bool(_)) => Ok(b),
            _ => Err(refused("a boolean")),
        },
        Some("int") => {
            let plain = text.replace('_', "");
            integer(&plain).ok_or_else(|| refused("an integer"))
        }
        Some("float") => {
            let plain = text.replace('_', "");
            if let Some(n) = integer(&plain) {
                return Ok(n);
            }
            if is_decimal_float(&plain)
                && let Some(v) = plain.parse::<f64>().ok().and_then(float)
            {
                return Ok(v);
            }
            Err(refused("a number JSON can hold"))
        }
        _ => Ok(Value::String(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_as_kubectl_does() {
        let cases = [
            ("", json!(null)),
            ("~", json!(null)),
            ("yes", json!(true)),
            ("Off", json!(false)),
            ("yEs", json!("yEs")),
            ("80", json!(80)),
            ("-12", json!(-12)),
            ("0x1F", json!(31)),
            ("0777", json!(511)),
            ("0o17", json!(15)),
            ("0b101", json!(5)),
            ("1_000", json!(1000)),
            ("08080", json!(8080)),
            ("1e3", json!(1000)),
            ("1.5", json!(1.5)),
            (".5", json!(0.5)),
            ("1.2.3", json!("1.2.3")),
            ("2026-01-01T00:00:00Z", json!("2026-01-01T00:00:00Z")),
            ("-", json!("-")),
            ("18446744073709551615", json!(18446744073709551615u64)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("nginx", json!("nginx")),
        ];
        for (text, want) in cases {
            assert_eq!(resolve_plain(text), Ok(want), "{text}");
        }
        assert!(resolve_plain(".inf").is_err());
        assert!(resolve_plain(".nan").is_err());
    }

    #[test]
    fn core_tags() {
        assert_eq!(resolve_tagged(Some("str"), "80"), Ok(json!("80")));
        assert_eq!(resolve_tagged(Some("int"), "80"), Ok(json!(80)));
        assert!(resolve_tagged(Some("int"), "eighty").is_err());
        assert_eq!(resolve_tagged(None, "x"), Ok(json!("x")));
    }
}
