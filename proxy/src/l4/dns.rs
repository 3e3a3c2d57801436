//! The little DNS (RFC 1035) the CoreDNS stand-in and the wire client speak: one question of
//! type A, class IN; the answer names the answering pod's address.

use std::net::Ipv4Addr;

const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
/// QR (a response), AA, RD copied from the query, RA.
const RESPONSE_FLAGS: u16 = 0x8000 | 0x0400 | 0x0080;
const RD: u16 = 0x0100;
const RCODE_FORMERR: u16 = 1;

/// A query for `name`, type A, recursion desired.
pub(crate) fn query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(12 + name.len() + 6);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&RD.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("{name:?} is not a DNS name"));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&TYPE_A.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

/// The question section's end (offset after QTYPE and QCLASS) and its type, for a message
/// with one question.
fn question(message: &[u8]) -> Option<(usize, u16)> {
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        at += 1 + len;
    }
    let qtype = u16::from_be_bytes([*message.get(at)?, *message.get(at + 1)?]);
    message.get(at + 3)?;
    Some((at + 4, qtype))
}

fn u16_at(message: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([
        *message.get(at)?,
        *message.get(at + 1)?,
    ]))
}

/// The server's answer to `message`: an A record of `address` for an A question (no record
/// for other types, or without an address); FORMERR for a query whose question cannot be
/// read; nothing for what is not a standard query (a response, another opcode, garbage).
pub(crate) fn answer(message: &[u8], address: Option<Ipv4Addr>) -> Option<Vec<u8>> {
    let flags = u16_at(message, 2)?;
    let is_query = flags & 0x8000 == 0 && (flags >> 11) & 0xf == 0;
    if !is_query || u16_at(message, 4)? != 1 {
        return None;
    }
    let mut out = message[..2].to_vec();
    let rd = flags & RD;
    let Some((end, qtype)) = question(message) else {
        out.extend_from_slice(&(RESPONSE_FLAGS | rd | RCODE_FORMERR).to_be_bytes());
        out.extend_from_slice(&[0; 8]);
        return Some(out);
    };
    let record = address.filter(|_| qtype == TYPE_A);
    out.extend_from_slice(&(RESPONSE_FLAGS | rd).to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, u8::from(record.is_some()), 0, 0, 0, 0]);
    out.extend_from_slice(&message[12..end]);
    if let Some(ip) = record {
        // The name by pointer to the question's, TTL 0 (the answer is about who answered).
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 4]);
        out.extend_from_slice(&ip.octets());
    }
    Some(out)
}

/// The A records of an answer to the query `id`; an error for what is not that answer.
pub(crate) fn addresses(reply: &[u8], id: u16) -> Result<Vec<Ipv4Addr>, String> {
    let bad = |why: &str| Err(format!("not a DNS answer to the query: {why}"));
    let (Some(got), Some(flags)) = (u16_at(reply, 0), u16_at(reply, 2)) else {
        return bad("too short");
    };
    if got != id || flags & 0x8000 == 0 {
        return bad("another id, or not a response");
    }
    if flags & 0xf != 0 {
        return Err(format!(
            "the DNS server answered with rcode {}",
            flags & 0xf
        ));
    }
    let count = u16_at(reply, 6).unwrap_or(0);
    let Some((mut at, _)) = question(reply) else {
        return bad("no question section");
    };
    let mut out = Vec::new();
    for _ in 0..count {
        // The owner name: labels, or a pointer that ends it.
        loop {
            match reply.get(at).copied() {
                Some(0) => {
                    at += 1;
                    break;
                }
                Some(b) if b & 0xc0 == 0xc0 => {
                    at += 2;
                    break;
                }
                Some(len) => at += 1 + usize::from(len),
                None => return bad("truncated record"),
            }
        }
        let (Some(rtype), Some(len)) = (u16_at(reply, at), u16_at(reply, at + 8)) else {
            return bad("truncated record");
        };
        let data = reply
            .get(at + 10..at + 10 + usize::from(len))
            .ok_or("not a DNS answer to the query: truncated record data")?;
        if rtype == TYPE_A
            && let [a, b, c, d] = *data
        {
            out.push(Ipv4Addr::new(a, b, c, d));
        }
        at += 10 + usize::from(len);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_gets_the_address_back() {
        let q = query(0x1234, "foo.bar.com").unwrap();
        let a = answer(&q, Some(Ipv4Addr::new(10, 1, 2, 3))).unwrap();
        assert_eq!(
            addresses(&a, 0x1234).unwrap(),
            vec![Ipv4Addr::new(10, 1, 2, 3)]
        );
        // Another id is not the answer to this query.
        assert!(addresses(&a, 0x1235).is_err());
    }

    #[test]
    fn what_is_not_a_query_gets_no_answer() {
        // upstream's UDP echo probe read as DNS: opcode 14.
        assert_eq!(answer(b"gateway-api-conformance-udp-echo", None), None);
        assert_eq!(answer(b"\x00\x01", None), None);
        // A query whose question is cut short: FORMERR.
        let q = query(7, "foo.bar.com").unwrap();
        let a = answer(&q[..15], Some(Ipv4Addr::LOCALHOST)).unwrap();
        assert!(addresses(&a, 7).unwrap_err().contains("rcode 1"));
    }

    #[test]
    fn a_json_echo_is_not_a_dns_answer() {
        let json = br#"{"request":"x","namespace":"ns"}"#;
        assert!(addresses(json, 0x1234).is_err());
    }
}
