//! `Formatter`: the strings the protocol is made of (nonces, timestamps, the `Authorization` header, signing
//! messages, APIv2 sorted query strings), ported from the PHP SDK's `WeChatPay\Formatter`.

use std::borrow::Cow;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// The `Authorization` scheme of APIv3.
///
/// ```
/// use wechatpay::{AUTHORIZATION_SCHEME, Formatter};
///
/// let serial = "5F1C72E2A8931B72A2E13AF8DEE92471EB397115";
/// let header = Formatter::authorization("1900000001", "N", "c2ln", 1554208460, serial);
/// assert_eq!(header.split_once(' ').map(|(scheme, _)| scheme), Some(AUTHORIZATION_SCHEME));
/// ```
pub const AUTHORIZATION_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// The largest nonce [`Formatter::nonce`] makes: far beyond any protocol's, small enough to allocate.
const MAX_NONCE_SIZE: usize = 64 * 1024;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Builds the protocol's strings.
///
/// ```
/// use wechatpay::Formatter;
///
/// let nonce = Formatter::nonce(32)?;
/// let timestamp = Formatter::timestamp();
/// let message = Formatter::request("GET", "/v3/certificates", timestamp, &nonce, "");
/// assert_eq!(message, format!("GET\n/v3/certificates\n{timestamp}\n{nonce}\n\n"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Formatter;

impl Formatter {
    /// A random string of `size` characters from `[0-9A-Za-z]`, from the operating system's CSPRNG without modulo
    /// bias. WeChat Pay's nonces are 32 characters: use [`Formatter::nonce32`] or `nonce(32)`.
    ///
    /// ```
    /// use wechatpay::Formatter;
    ///
    /// let nonce = Formatter::nonce(32)?;
    /// assert_eq!(nonce.len(), 32);
    /// assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    /// assert!(Formatter::nonce(0).is_err());
    /// // Sizes beyond 65,536 are refused rather than allocated.
    /// assert!(Formatter::nonce(usize::MAX).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn nonce(size: usize) -> Result<String> {
        if size == 0 || size > MAX_NONCE_SIZE {
            return Err(Error::invalid(
                "nonce size",
                format!("it must be from 1 to {MAX_NONCE_SIZE}, not {size} (WeChat Pay uses 32)"),
            ));
        }
        let mut nonce = String::with_capacity(size);
        let mut random = [0u8; 64];
        while nonce.len() < size {
            getrandom::fill(&mut random).map_err(|err| Error::crypto("nonce generation", err))?;
            // 248 = 4 * 62: rejecting bytes at or above it keeps every character equally likely.
            for &byte in random.iter().filter(|&&b| b < 248) {
                if nonce.len() == size {
                    break;
                }
                nonce.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
        Ok(nonce)
    }

    /// A 32-character nonce, the length WeChat Pay uses.
    ///
    /// ```
    /// assert_eq!(wechatpay::Formatter::nonce32()?.len(), 32);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn nonce32() -> Result<String> {
        Self::nonce(32)
    }

    /// The current Unix time in seconds.
    ///
    /// ```
    /// assert!(wechatpay::Formatter::timestamp() > 1_700_000_000);
    /// ```
    pub fn timestamp() -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs() as i64).unwrap_or(0)
    }

    /// The APIv3 `Authorization` header value.
    ///
    /// ```
    /// use wechatpay::Formatter;
    ///
    /// let header = Formatter::authorization("1900000001", "NONCE", "c2lnbmF0dXJl", 1554208460, "5F1C72E2A8931B72A2E13AF8DEE92471EB397115");
    /// assert_eq!(
    ///     header,
    ///     "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",serial_no=\"5F1C72E2A8931B72A2E13AF8DEE92471EB397115\",\
    ///      timestamp=\"1554208460\",nonce_str=\"NONCE\",signature=\"c2lnbmF0dXJl\"",
    /// );
    /// ```
    pub fn authorization(
        mchid: &str,
        nonce: &str,
        signature: &str,
        timestamp: impl fmt::Display,
        serial: &str,
    ) -> String {
        format!(
            "{AUTHORIZATION_SCHEME} mchid=\"{mchid}\",serial_no=\"{serial}\",timestamp=\"{timestamp}\",nonce_str=\"{nonce}\",signature=\"{signature}\""
        )
    }

    /// The APIv3 request signing message: `METHOD\nURI\nTIMESTAMP\nNONCE\nBODY\n`, where URI is the path and query
    /// exactly as sent.
    ///
    /// ```
    /// use wechatpay::Formatter;
    ///
    /// let message = Formatter::request("GET", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", "");
    /// assert_eq!(message, "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n");
    /// ```
    pub fn request(method: &str, uri: &str, timestamp: impl fmt::Display, nonce: &str, body: &str) -> String {
        Self::joined_by_line_feed(&[method, uri, &timestamp.to_string(), nonce, body])
    }

    /// [`Formatter::request`] over a body of raw bytes, for bodies that are not text.
    ///
    /// ```
    /// let message = wechatpay::Formatter::request_bytes("POST", "/v3/x", 1, "N", b"{}");
    /// assert_eq!(message, b"POST\n/v3/x\n1\nN\n{}\n");
    /// ```
    pub fn request_bytes(method: &str, uri: &str, timestamp: impl fmt::Display, nonce: &str, body: &[u8]) -> Vec<u8> {
        let head = format!("{method}\n{uri}\n{timestamp}\n{nonce}\n");
        let mut message = Vec::with_capacity(head.len() + body.len() + 1);
        message.extend_from_slice(head.as_bytes());
        message.extend_from_slice(body);
        message.push(b'\n');
        message
    }

    /// The APIv3 response (and callback) verification message: `TIMESTAMP\nNONCE\nBODY\n`.
    ///
    /// ```
    /// assert_eq!(wechatpay::Formatter::response("1554208460", "N", ""), "1554208460\nN\n\n");
    /// ```
    pub fn response(timestamp: impl fmt::Display, nonce: &str, body: &str) -> String {
        Self::joined_by_line_feed(&[&timestamp.to_string(), nonce, body])
    }

    /// [`Formatter::response`] over a body of raw bytes.
    ///
    /// ```
    /// let message = wechatpay::Formatter::response_bytes(1554208460, "N", b"{\"code\":\"SUCCESS\"}");
    /// assert_eq!(message, b"1554208460\nN\n{\"code\":\"SUCCESS\"}\n");
    /// ```
    pub fn response_bytes(timestamp: impl fmt::Display, nonce: &str, body: &[u8]) -> Vec<u8> {
        let head = format!("{timestamp}\n{nonce}\n");
        let mut message = Vec::with_capacity(head.len() + body.len() + 1);
        message.extend_from_slice(head.as_bytes());
        message.extend_from_slice(body);
        message.push(b'\n');
        message
    }

    /// Every piece followed by a line feed.
    ///
    /// ```
    /// assert_eq!(wechatpay::Formatter::joined_by_line_feed(&["a", "", "b"]), "a\n\nb\n");
    /// assert_eq!(wechatpay::Formatter::joined_by_line_feed::<&str>(&[]), "");
    /// ```
    pub fn joined_by_line_feed<S: AsRef<str>>(pieces: &[S]) -> String {
        let len = pieces.iter().map(|piece| piece.as_ref().len() + 1).sum();
        pieces.iter().fold(String::with_capacity(len), |mut joined, piece| {
            joined.push_str(piece.as_ref());
            joined.push('\n');
            joined
        })
    }

    /// The pairs sorted by key in byte order, as PHP's `ksort` with `SORT_STRING` (and APIv2 signing) wants.
    ///
    /// ```
    /// let sorted = wechatpay::Formatter::ksort([("b", 1), ("B", 2), ("a", 3)]);
    /// assert_eq!(sorted, vec![("B", 2), ("a", 3), ("b", 1)]);
    /// ```
    pub fn ksort<K: AsRef<str>, V>(thing: impl IntoIterator<Item = (K, V)>) -> Vec<(K, V)> {
        let mut pairs: Vec<(K, V)> = thing.into_iter().collect();
        pairs.sort_by(|(a, _), (b, _)| a.as_ref().as_bytes().cmp(b.as_ref().as_bytes()));
        pairs
    }

    /// `k1=v1&k2=v2...` in the given order, leaving out the `sign` key and null or empty values; nothing is
    /// percent-encoded (this is the APIv2 string to sign, not a URL).
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay::Formatter;
    ///
    /// let pairs = Formatter::ksort([("mch_id", json!("10000100")), ("sign", json!("X")), ("attach", json!("")), ("total_fee", json!(1)), ("detail", json!(null))]);
    /// assert_eq!(Formatter::query_string_like(pairs), "mch_id=10000100&total_fee=1");
    /// ```
    pub fn query_string_like<K: AsRef<str>, V: FormValue>(thing: impl IntoIterator<Item = (K, V)>) -> String {
        let mut query = String::new();
        for (key, value) in thing {
            let key = key.as_ref();
            if key == "sign" {
                continue;
            }
            let Some(value) = value.form_value() else { continue };
            if value.is_empty() {
                continue;
            }
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(key);
            query.push('=');
            query.push_str(&value);
        }
        query
    }
}

/// A value that can stand in an APIv2 `k=v` pair: text, numbers, booleans, JSON values and `Option`s of them.
/// `None` and JSON `null` are left out.
///
/// ```
/// use std::borrow::Cow;
/// use wechatpay::{FormValue, Formatter};
///
/// enum SignType { Md5, HmacSha256 }
///
/// impl FormValue for SignType {
///     fn form_value(&self) -> Option<Cow<'_, str>> {
///         Some(Cow::Borrowed(match self {
///             SignType::Md5 => "MD5",
///             SignType::HmacSha256 => "HMAC-SHA256",
///         }))
///     }
/// }
///
/// let pairs = [("sign_type", SignType::HmacSha256), ("x", SignType::Md5)];
/// assert_eq!(Formatter::query_string_like(pairs), "sign_type=HMAC-SHA256&x=MD5");
/// ```
pub trait FormValue {
    /// The value as text, or `None` to leave the pair out.
    ///
    /// ```
    /// use wechatpay::FormValue;
    ///
    /// assert_eq!(1.form_value().as_deref(), Some("1"));
    /// assert_eq!(Some(true).form_value().as_deref(), Some("true"));
    /// assert_eq!(None::<&str>.form_value(), None);
    /// assert_eq!(serde_json::Value::Null.form_value(), None);
    /// ```
    fn form_value(&self) -> Option<Cow<'_, str>>;
}

impl FormValue for str {
    fn form_value(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self))
    }
}

impl FormValue for String {
    fn form_value(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self))
    }
}

impl<T: FormValue + ?Sized> FormValue for &T {
    fn form_value(&self) -> Option<Cow<'_, str>> {
        (**self).form_value()
    }
}

impl<T: FormValue> FormValue for Option<T> {
    fn form_value(&self) -> Option<Cow<'_, str>> {
        self.as_ref().and_then(FormValue::form_value)
    }
}

macro_rules! form_value_by_display {
    ($($t:ty),*) => {$(
        impl FormValue for $t {
            fn form_value(&self) -> Option<Cow<'_, str>> {
                Some(Cow::Owned(self.to_string()))
            }
        }
    )*};
}

form_value_by_display!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize, bool);

/// Arrays and objects are their JSON text; a value nested deeper than 128 levels has none (so it is left out, as
/// `null` is), rather than overflowing the stack.
impl FormValue for serde_json::Value {
    fn form_value(&self) -> Option<Cow<'_, str>> {
        match self {
            serde_json::Value::Null => None,
            serde_json::Value::String(text) => Some(Cow::Borrowed(text)),
            other => {
                crate::util::json::to_vec(other).ok().and_then(|text| String::from_utf8(text).ok()).map(Cow::Owned)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_uses_every_base62_character_and_nothing_else() {
        let nonce = Formatter::nonce(20_000).unwrap();
        for c in BASE62 {
            assert!(nonce.as_bytes().contains(c), "{} never drawn", char::from(*c));
        }
        assert!(nonce.bytes().all(|b| BASE62.contains(&b)));
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(Formatter::nonce32().unwrap(), Formatter::nonce32().unwrap());
    }

    #[test]
    fn ksort_is_byte_order_not_locale() {
        let sorted = Formatter::ksort([("é", 1), ("z", 2), ("Z", 3), ("_", 4)]);
        let keys: Vec<_> = sorted.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["Z", "_", "z", "é"]);
    }
}
