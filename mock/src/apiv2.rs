//! APIv2 messages as WeChat Pay writes them, for tests that play WeChat Pay's side of an APIv2 callback: a signed
//! XML document, and a refund callback whose `req_info` is encrypted. Written independently of the client crate.
//!
//! ```
//! let body = wechatpay_mock::apiv2::sign_xml(&[("return_code", "SUCCESS"), ("out_trade_no", "T1")], "key");
//! let text = String::from_utf8(body).unwrap();
//! assert!(text.starts_with("<xml><return_code><![CDATA[SUCCESS]]></return_code>"));
//! assert!(text.contains("<sign><![CDATA["));
//! ```

use crate::v2::{SignType, render_xml, sign};

/// `<xml>` of `fields` in their order, then `sign`: MD5, or HMAC-SHA256 when a `sign_type` field says so.
pub fn sign_xml(fields: &[(&str, &str)], apiv2_key: &str) -> Vec<u8> {
    let mut owned: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let kind = match fields.iter().find(|(k, _)| *k == "sign_type") {
        Some((_, "HMAC-SHA256")) => SignType::HmacSha256,
        _ => SignType::Md5,
    };
    let s = sign(&owned, apiv2_key, kind);
    owned.push(("sign".into(), s));
    render_xml(&owned).into_bytes()
}

/// A refund callback: `return_code`, `appid`, `mch_id`, `nonce_str` and `req_info`, the `<root>` of `fields`
/// encrypted with AES-256-ECB (PKCS#7) under the lower-case hex MD5 of the APIv2 key, base64. Unsigned, as
/// WeChat Pay sends it.
///
/// ```
/// let body = wechatpay_mock::apiv2::refund_notification_xml(&[("refund_status", "SUCCESS")], "wx1", "1900000109", "key");
/// assert!(String::from_utf8(body).unwrap().contains("<req_info><![CDATA["));
/// ```
pub fn refund_notification_xml(fields: &[(&str, &str)], appid: &str, mch_id: &str, apiv2_key: &str) -> Vec<u8> {
    crate::v2::refund_notification_xml(fields, appid, mch_id, apiv2_key)
}
