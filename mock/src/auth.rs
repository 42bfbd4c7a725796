//! The checks WeChat Pay makes on every APIv3 request's `Authorization` header.

use std::collections::HashMap;

use base64::Engine as _;

use crate::keys::Keys;
use crate::util::B64;

/// The only scheme APIv3 accepts.
pub(crate) const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

const FIELDS: [&str; 5] = ["mchid", "serial_no", "timestamp", "nonce_str", "signature"];

/// The parsed fields of an `Authorization` header.
#[derive(Debug, Default)]
struct Credentials {
    mchid: String,
    serial_no: String,
    timestamp: String,
    nonce_str: String,
    signature: String,
}

/// Parses `WECHATPAY2-SHA256-RSA2048 k="v",k="v",...` (fields in any order, optional spaces, quotes optional).
fn parse(header: &str) -> Result<Credentials, String> {
    let header = header.trim();
    let (scheme, params) = match header.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((s, p)) => (s, p),
        None => (header, ""),
    };
    if scheme != SCHEME {
        return Err(format!("Authorization scheme must be {SCHEME}, got `{}`", truncate(scheme, 40)));
    }
    let mut fields: HashMap<&str, String> = HashMap::new();
    let bytes = params.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i] == b',' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let key_start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        let key = &params[key_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if key.is_empty() || i >= bytes.len() || bytes[i] != b'=' {
            return Err("Authorization header is malformed: expected key=\"value\" pairs separated by commas".into());
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if i < bytes.len() && bytes[i] == b'"' {
            let start = i + 1;
            let Some(len) = params[start..].find('"') else {
                return Err(format!("Authorization header is malformed: unterminated quote in {key}"));
            };
            i = start + len + 1;
            &params[start..start + len]
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b',' {
                i += 1;
            }
            params[start..i].trim_end()
        };
        if fields.insert(key, value.to_owned()).is_some() {
            return Err(format!("Authorization header repeats the field {key}"));
        }
    }
    let mut take = |name: &str| -> Result<String, String> {
        match fields.remove(name) {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(format!("Authorization field {name} is empty")),
            None => Err(format!("Authorization header lacks the field {name}")),
        }
    };
    let creds = Credentials {
        mchid: take(FIELDS[0])?,
        serial_no: take(FIELDS[1])?,
        timestamp: take(FIELDS[2])?,
        nonce_str: take(FIELDS[3])?,
        signature: take(FIELDS[4])?,
    };
    Ok(creds)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Nonces seen recently, with the time they were seen.
#[derive(Debug, Default)]
pub(crate) struct NonceCache {
    seen: HashMap<(String, String), i64>,
    last_prune: i64,
}

impl NonceCache {
    fn contains(&self, mchid: &str, nonce: &str) -> bool {
        self.seen.contains_key(&(mchid.to_owned(), nonce.to_owned()))
    }

    /// Remembers a nonce; forgets those older than two windows (a timestamp may be `window` early or late).
    fn insert(&mut self, mchid: &str, nonce: &str, now: i64, window: i64) {
        if now - self.last_prune > window {
            self.seen.retain(|_, seen| now - *seen <= 2 * window);
            self.last_prune = now;
        }
        self.seen.insert((mchid.to_owned(), nonce.to_owned()), now);
    }
}

/// What one request brings to the check.
pub(crate) struct SignedRequest<'a> {
    pub(crate) method: &'a str,
    /// The request target exactly as received (path and query).
    pub(crate) target: &'a str,
    pub(crate) authorization: Option<&'a str>,
    /// The bytes the signature covers: the raw body, or the `meta` part of a multipart upload.
    pub(crate) signed_body: &'a [u8],
}

/// Checks a request the way WeChat Pay does; `Err` carries the `SIGN_ERROR` message.
pub(crate) fn check(
    keys: &Keys,
    nonces: &std::sync::Mutex<NonceCache>,
    window: i64,
    now: i64,
    req: &SignedRequest<'_>,
) -> Result<(), String> {
    let creds = credentials(keys, window, now, req)?;
    let nonces_guard = || nonces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if nonces_guard().contains(&creds.mchid, &creds.nonce_str) {
        return Err(format!("nonce_str {} was already used (replayed request)", creds.nonce_str));
    }
    signature_verifies(keys, &creds, req)?;
    let mut guard = nonces_guard();
    // Two identical requests racing each other: only the first one wins.
    if guard.contains(&creds.mchid, &creds.nonce_str) {
        return Err(format!("nonce_str {} was already used (replayed request)", creds.nonce_str));
    }
    guard.insert(&creds.mchid, &creds.nonce_str, now, window);
    Ok(())
}

/// The checks of [`check`] but the nonce replay check, which would use the nonce up: header present and well
/// formed, the merchant and its serial, the timestamp within the window, the signature over the bytes received.
/// For the request recorder, which says whether a request was signed without changing what the server answers.
pub(crate) fn verify(keys: &Keys, window: i64, now: i64, req: &SignedRequest<'_>) -> Result<(), String> {
    let creds = credentials(keys, window, now, req)?;
    signature_verifies(keys, &creds, req)
}

/// The `Authorization` header's fields, checked but for the signature.
fn credentials(keys: &Keys, window: i64, now: i64, req: &SignedRequest<'_>) -> Result<Credentials, String> {
    let header = req.authorization.ok_or_else(|| "the Authorization header is missing".to_owned())?;
    let creds = parse(header)?;
    if creds.mchid != keys.mchid {
        return Err(format!("mchid {} is not a known merchant", truncate(&creds.mchid, 32)));
    }
    if !creds.serial_no.eq_ignore_ascii_case(&keys.merchant_serial) {
        return Err(format!(
            "serial_no {} is not the serial of the merchant's API certificate",
            truncate(&creds.serial_no, 64)
        ));
    }
    let ts: i64 = if !creds.timestamp.is_empty() && creds.timestamp.bytes().all(|b| b.is_ascii_digit()) {
        creds.timestamp.parse().map_err(|_| "timestamp is out of range".to_owned())?
    } else {
        return Err(format!("timestamp `{}` is not Unix seconds", truncate(&creds.timestamp, 20)));
    };
    if (now - ts).abs() > window {
        return Err(format!("timestamp {ts} is outside the allowed window of {window} s around the server time {now}"));
    }
    if creds.nonce_str.len() > 64 {
        return Err("nonce_str is longer than 64 characters".into());
    }
    Ok(creds)
}

/// The RSA signature over `METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n` with the merchant's key.
fn signature_verifies(keys: &Keys, creds: &Credentials, req: &SignedRequest<'_>) -> Result<(), String> {
    let signature = B64.decode(creds.signature.as_bytes()).map_err(|_| "signature is not valid base64".to_owned())?;
    let mut message = Vec::with_capacity(req.target.len() + req.signed_body.len() + 64);
    for part in [req.method.as_bytes(), req.target.as_bytes(), creds.timestamp.as_bytes(), creds.nonce_str.as_bytes()] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    message.extend_from_slice(req.signed_body);
    message.push(b'\n');
    if !keys.verify_merchant(&message, &signature) {
        return Err(format!(
            "the signature does not verify with the merchant certificate {}: sign exactly `{}\\n{}\\n{}\\n{}\\n<body>\\n` over the bytes sent",
            keys.merchant_serial, req.method, req.target, creds.timestamp, creds.nonce_str
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_in_any_order() {
        let c = parse(
            r#"WECHATPAY2-SHA256-RSA2048 signature="c2ln", nonce_str="abc",timestamp="123" ,serial_no="AB",mchid="1900""#,
        )
        .unwrap_or_default();
        assert_eq!(c.mchid, "1900");
        assert_eq!(c.serial_no, "AB");
        assert_eq!(c.timestamp, "123");
        assert_eq!(c.nonce_str, "abc");
        assert_eq!(c.signature, "c2ln");
    }

    #[test]
    fn rejects_bad_headers() {
        let err = |h: &str| parse(h).err().unwrap_or_default();
        assert!(err("Bearer x").contains("scheme"));
        assert!(err("WECHATPAY2-SHA256-RSA2048 mchid=\"1\"").contains("serial_no"));
        assert!(err("WECHATPAY2-SHA256-RSA2048 mchid=\"1\",mchid=\"2\"").contains("repeats"));
        assert!(err("WECHATPAY2-SHA256-RSA2048 mchid").contains("malformed"));
        assert!(err("WECHATPAY2-SHA256-RSA2048 mchid=\"1").contains("unterminated"));
    }
}
