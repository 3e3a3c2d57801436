//! Base64 as the API server decodes `[]byte` fields (Secret `data`, ConfigMap `binaryData`):
//! Go's `encoding/base64` standard encoding, padded, which skips `\r` and `\n` anywhere in the
//! input (so text wrapped by `base64` at 76 columns decodes) and reports the first bad byte as
//! `illegal base64 data at input byte N`, N counting every input byte, newlines included.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn value_of(byte: u8) -> Option<u8> {
    ALPHABET.iter().position(|&a| a == byte).map(|p| p as u8)
}

fn is_newline(byte: u8) -> bool {
    byte == b'\n' || byte == b'\r'
}

/// Decodes `input`; `Err(n)` is the offset Go's `CorruptInputError` reports.
pub(crate) fn decode(input: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut si = 0;
    loop {
        // One quantum: up to four symbols, newlines skipped.
        let mut quantum = [0u8; 4];
        let mut len = 0;
        while len < 4 {
            if si == input.len() {
                return match len {
                    0 => Ok(out),
                    // A partial quantum without padding.
                    _ => Err(si - len),
                };
            }
            let byte = input[si];
            si += 1;
            if let Some(v) = value_of(byte) {
                quantum[len] = v;
                len += 1;
                continue;
            }
            if is_newline(byte) {
                continue;
            }
            if byte != b'=' {
                return Err(si - 1);
            }
            // Padding: only after two or three symbols, then only newlines to the end.
            match len {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < input.len() && is_newline(input[si]) {
                        si += 1;
                    }
                    if si == input.len() {
                        return Err(input.len());
                    }
                    if input[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < input.len() && is_newline(input[si]) {
                si += 1;
            }
            if si < input.len() {
                return Err(si);
            }
            push_quantum(&mut out, &quantum, len);
            return Ok(out);
        }
        push_quantum(&mut out, &quantum, 4);
    }
}

fn push_quantum(out: &mut Vec<u8>, q: &[u8; 4], symbols: usize) {
    let n = (u32::from(q[0]) << 18)
        | (u32::from(q[1]) << 12)
        | (u32::from(q[2]) << 6)
        | u32::from(q[3]);
    let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    out.extend_from_slice(&bytes[..symbols - 1]);
}

/// Standard, padded encoding, one line.
pub(crate) fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    #[test]
    fn decodes_as_go_does() {
        assert_eq!(decode(b"aGVsbG8="), Ok(b"hello".to_vec()));
        assert_eq!(decode(b"aGVs\nbG8=\n"), Ok(b"hello".to_vec()));
        assert_eq!(decode(b"aGVs\r\nbG8=\r\n"), Ok(b"hello".to_vec()));
        assert_eq!(decode(b"aGk="), Ok(b"hi".to_vec()));
        assert_eq!(decode(b"aA=="), Ok(b"h".to_vec()));
        assert_eq!(decode(b"aA=\n="), Ok(b"h".to_vec()));
        assert_eq!(decode(b""), Ok(Vec::new()));
        // Go: illegal base64 data at input byte N.
        assert_eq!(decode(b"aGVs bG8="), Err(4), "a space is not skipped");
        assert_eq!(decode(b"aGVsbG8"), Err(4), "unpadded partial quantum");
        assert_eq!(decode(b"a"), Err(0));
        assert_eq!(decode(b"aA="), Err(3), "not enough padding");
        assert_eq!(decode(b"aA=x"), Err(2), "incorrect padding");
        assert_eq!(decode(b"a==="), Err(1));
        assert_eq!(decode(b"aGk=aGk="), Err(4), "data after padding");
        assert_eq!(decode(b"aGk*"), Err(3));
    }

    #[test]
    fn encodes_and_round_trips() {
        for data in [
            &b""[..],
            b"h",
            b"hi",
            b"hey",
            b"hello world",
            &[0, 255, 128, 7],
        ] {
            assert_eq!(decode(encode(data).as_bytes()), Ok(data.to_vec()));
        }
        assert_eq!(encode(b"hello"), "aGVsbG8=");
    }
}
