//! `Hash`: the APIv2 digests (MD5 and HMAC-SHA256 "with key") and a constant-time comparison.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// The APIv2 hash helpers, as the PHP SDK's `WeChatPay\Crypto\Hash` has them.
///
/// ```
/// use wechatpay::crypto::Hash;
///
/// let data = "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA";
/// let key = "192006250b4c09247ec02edce69f6a2d";
/// assert_eq!(Hash::sign(Hash::ALGO_MD5, data, key)?, "9A0A8659F005D6984697E2CA0A9CF3B7");
/// assert_eq!(
///     Hash::sign(Hash::ALGO_HMAC_SHA256, data, key)?,
///     "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6",
/// );
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Hash;

impl Hash {
    /// The APIv2 `sign_type` value for MD5 (PHP `Hash::ALGO_MD5`).
    ///
    /// ```
    /// use wechatpay::crypto::Hash;
    ///
    /// assert_eq!(Hash::sign(Hash::ALGO_MD5, "a=1", "192006250b4c09247ec02edce69f6a2d")?.len(), 32);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub const ALGO_MD5: &'static str = "MD5";
    /// The APIv2 `sign_type` value for HMAC-SHA256 (PHP `Hash::ALGO_HMAC_SHA256`).
    ///
    /// ```
    /// use wechatpay::crypto::Hash;
    ///
    /// assert_eq!(Hash::sign(Hash::ALGO_HMAC_SHA256, "a=1", "192006250b4c09247ec02edce69f6a2d")?.len(), 64);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub const ALGO_HMAC_SHA256: &'static str = "HMAC-SHA256";

    /// Lower-case hex MD5 of `thing`, followed by `&key=<key>` (or `&secret=<key>` for agencies) when `key` is not
    /// empty.
    ///
    /// ```
    /// use wechatpay::crypto::Hash;
    ///
    /// assert_eq!(Hash::md5("", "exposed_your_key_here_have_risks", false), "b3d43c8390f26e2030d4d17bd580fbc8");
    /// assert_eq!(Hash::md5("", "exposed_your_key_here_have_risks", true), "7831c3ff1bde78fd0ac1107e00ac92e6");
    /// ```
    pub fn md5(thing: &str, key: &str, agency: bool) -> String {
        let mut md5 = Md5::new();
        md5.update(thing.as_bytes());
        if !key.is_empty() {
            md5.update(if agency { "&secret=" } else { "&key=" }.as_bytes());
            md5.update(key.as_bytes());
        }
        hex_lower(&md5.finalize())
    }

    /// Lower-case hex HMAC-SHA256 keyed with `key` over `thing`, followed by `&key=<key>`.
    ///
    /// ```
    /// let mac = wechatpay::crypto::Hash::hmac("a=1", "secret");
    /// assert_eq!(mac.len(), 64);
    /// ```
    pub fn hmac(thing: &str, key: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length"); // infallible
        mac.update(thing.as_bytes());
        if !key.is_empty() {
            mac.update(b"&key=");
            mac.update(key.as_bytes());
        }
        hex_lower(&mac.finalize().into_bytes())
    }

    /// The APIv2 signature of `data` (the sorted `k=v&...` string, without `&key=`): upper-case hex of
    /// [`md5`](Self::md5) or [`hmac`](Self::hmac), chosen by `sign_type`.
    ///
    /// ```
    /// use wechatpay::Formatter;
    /// use wechatpay::crypto::Hash;
    ///
    /// let key = "192006250b4c09247ec02edce69f6a2d";
    /// let params = [("mch_id", "10000100"), ("appid", "wxd930ea5d5a258f4f"), ("sign", "")];
    /// let data = Formatter::query_string_like(Formatter::ksort(params));
    /// assert_eq!(data, "appid=wxd930ea5d5a258f4f&mch_id=10000100");
    /// assert_eq!(Hash::sign(Hash::ALGO_MD5, &data, key)?, Hash::md5(&data, key, false).to_ascii_uppercase());
    /// assert!(Hash::sign("SHA1", &data, key).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn sign(sign_type: &str, data: &str, key: &str) -> Result<String> {
        match sign_type {
            Self::ALGO_MD5 => Ok(Self::md5(data, key, false).to_ascii_uppercase()),
            Self::ALGO_HMAC_SHA256 => Ok(Self::hmac(data, key).to_ascii_uppercase()),
            other => Err(Error::invalid("sign_type", format!("{other:?} is not one of MD5, HMAC-SHA256"))),
        }
    }

    /// Constant-time equality, for comparing signatures.
    ///
    /// ```
    /// use wechatpay::crypto::Hash;
    ///
    /// assert!(Hash::equals("9A0A8659", "9A0A8659"));
    /// assert!(!Hash::equals("9A0A8659", "9A0A8658"));
    /// assert!(!Hash::equals("9A0A8659", "9A0A"));
    /// ```
    pub fn equals(known: &str, user: &str) -> bool {
        known.as_bytes().ct_eq(user.as_bytes()).into()
    }
}

/// Lower-case hex.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}
