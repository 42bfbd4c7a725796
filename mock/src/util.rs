//! Small helpers: randomness, clock, RFC 3339 dates, PEM, hex.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;

use crate::error::MockError;

/// Standard base64 with padding, as WeChat Pay uses everywhere.
pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Fills `buf` from the system CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    // The system RNG only fails when the OS has no entropy source at all; fall back to a
    // time-derived fill so that the simulator keeps answering (nothing here protects real money).
    if SystemRandom::new().fill(buf).is_err() {
        let mut x = now_nanos() | 1;
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
}

/// `len` random characters of `[0-9A-Za-z]`.
pub(crate) fn random_alnum(len: usize) -> String {
    random_from(ALNUM, len)
}

/// `len` random decimal digits.
pub(crate) fn random_digits(len: usize) -> String {
    random_from(b"0123456789", len)
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut raw = vec![0u8; len];
    fill_random(&mut raw);
    // 62 and 10 do not divide 256: the slight bias does not matter for test identifiers.
    raw.iter().map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()])).collect()
}

/// Upper-case hexadecimal.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Lower-case hexadecimal.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0x9E37_79B9_7F4A_7C15)
}

/// `(year, month, day, hour, minute, second)` of a Unix time shifted by `offset` seconds.
fn civil(unix: i64, offset: i64) -> (i64, i64, i64, i64, i64, i64) {
    let t = unix + offset;
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, (secs % 3600) / 60, secs % 60)
}

/// RFC 3339 in China Standard Time, the way WeChat Pay writes times: `2025-01-02T03:04:05+08:00`.
pub(crate) fn rfc3339_cst(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix, 8 * 3600);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+08:00")
}

/// `YYYYMMDD` in China Standard Time.
pub(crate) fn yyyymmdd_cst(unix: i64) -> String {
    let (y, mo, d, ..) = civil(unix, 8 * 3600);
    format!("{y:04}{mo:02}{d:02}")
}

/// `YYYYMMDDhhmmss` in China Standard Time.
pub(crate) fn compact_datetime_cst(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix, 8 * 3600);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// PEM-encodes DER with the given label, 64 columns.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Decodes the first PEM block with the given label.
pub(crate) fn pem_decode(label: &str, text: &str) -> Result<Vec<u8>, MockError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin).ok_or_else(|| MockError::crypto(format!("no PEM block labelled {label}")))?;
    let rest = &text[start + begin.len()..];
    let stop = rest.find(&end).ok_or_else(|| MockError::crypto(format!("unterminated PEM block labelled {label}")))?;
    let body: String = rest[..stop].chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(body.as_bytes()).map_err(|_| MockError::crypto(format!("PEM block {label} is not valid base64")))
}

/// Percent-decodes a query component (`+` is a space, as in forms).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hi = char::from(bytes[i + 1]).to_digit(16);
                let lo = char::from(bytes[i + 2]).to_digit(16);
                match (hi, lo) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a raw query string into decoded `(name, value)` pairs, in order.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_in_cst() {
        assert_eq!(rfc3339_cst(0), "1970-01-01T08:00:00+08:00");
        // 2020-05-20T05:29:35Z
        assert_eq!(rfc3339_cst(1_589_952_575), "2020-05-20T13:29:35+08:00");
        assert_eq!(rfc3339_cst(951_782_400), "2000-02-29T08:00:00+08:00");
        assert_eq!(yyyymmdd_cst(1_589_952_575), "20200520");
    }

    #[test]
    fn pem_round_trip() {
        let der: Vec<u8> = (0u8..200).collect();
        let pem = pem_encode("TEST", &der);
        assert_eq!(pem_decode("TEST", &pem).ok(), Some(der));
        assert!(pem_decode("OTHER", &pem).is_err());
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("a=1&b=%E4%B8%AD+x&c"),
            vec![("a".into(), "1".into()), ("b".into(), "中 x".into()), ("c".into(), String::new())]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
