//! [`XmlNotification`]: the APIv2 callbacks WeChat Pay POSTs to a merchant (payment results, signed with the APIv2
//! key; refund results, whose `req_info` is AES-256-ECB encrypted with the MD5 of that key) and the XML answers it
//! expects back. The steps the PHP SDK's README_APIv2 spells out by hand, done once, in constant time.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::client_xml::{check_unrepeated, verify_sign};
use crate::crypto::{AesEcb, Hash};
use crate::error::{ApiV2Failure, Error, Result, VerificationFailure};
use crate::transformer::Transformer;

/// A verified APIv2 callback: its fields, and the XML they were read from.
///
/// ```
/// use wechatpay::XmlNotification;
/// # let key = "192006250b4c09247ec02edce69f6a2d";
/// # let body = wechatpay_mock::apiv2::sign_xml(&[("return_code", "SUCCESS"), ("result_code", "SUCCESS"),
/// #     ("out_trade_no", "T1"), ("total_fee", "101"), ("mch_id", "1900000109")], key);
///
/// // In the merchant's notify_url handler, with the raw request body:
/// let reply = match XmlNotification::verify(&body, key) {
///     Ok(paid) => {
///         assert_eq!(paid.get("out_trade_no"), Some("T1"));
///         XmlNotification::success()
///     }
///     Err(err) => XmlNotification::fail(&err.to_string()),
/// };
/// assert!(reply.contains("<return_code>SUCCESS</return_code>"));
/// ```
#[derive(Debug, Clone)]
pub struct XmlNotification {
    fields: Map<String, Value>,
    document: String,
}

impl XmlNotification {
    /// Verifies a signed callback (the payment result of `pay/unifiedorder`, for one): the body is parsed safely
    /// (no DOCTYPE, no entities), `return_code` must be `SUCCESS`, and `sign` must match in constant time, with the
    /// `sign_type` the body names (MD5 when it names none and the sign is not 64 characters long).
    ///
    /// A `result_code` of `FAIL` (a payment that failed) is not an error here: it is news the merchant must read.
    ///
    /// ```
    /// use wechatpay::{Error, VerificationFailure, XmlNotification};
    /// # let key = "192006250b4c09247ec02edce69f6a2d";
    /// # let body = wechatpay_mock::apiv2::sign_xml(&[("return_code", "SUCCESS"), ("out_trade_no", "T1")], key);
    /// assert!(XmlNotification::verify(&body, key).is_ok());
    /// let forged = String::from_utf8_lossy(&body).replace("T1", "T2");
    /// let err = XmlNotification::verify(forged.as_bytes(), key).unwrap_err();
    /// assert!(matches!(err, Error::Verification { failure: VerificationFailure::SignMismatch, .. }));
    /// ```
    pub fn verify(body: impl AsRef<[u8]>, apiv2_key: &str) -> Result<XmlNotification> {
        let body = body.as_ref();
        let fields = Transformer::to_array(body)?;
        check_unrepeated(&fields, "an APIv2 notification")?;
        check_return_code(&fields, body)?;
        let sign_type = fields
            .get("sign_type")
            .and_then(Value::as_str)
            .map(|kind| if kind == Hash::ALGO_HMAC_SHA256 { Hash::ALGO_HMAC_SHA256 } else { Hash::ALGO_MD5 });
        verify_sign(&fields, sign_type, apiv2_key).map_err(unverified)?;
        let document = String::from_utf8_lossy(body).into_owned();
        Ok(XmlNotification { fields, document })
    }

    /// Decrypts a refund callback: `return_code` must be `SUCCESS`, and `req_info` is decrypted with AES-256-ECB
    /// under the lower-case hex MD5 of the APIv2 key. The result holds the fields of `req_info` (`out_refund_no`,
    /// `refund_status`, `settlement_refund_fee`, ...): the callback is not signed, and only the holder of the APIv2
    /// key can make a `req_info` that decrypts with a valid padding and parses.
    ///
    /// ```
    /// use wechatpay::XmlNotification;
    /// # let key = "192006250b4c09247ec02edce69f6a2d";
    /// # let body = wechatpay_mock::apiv2::refund_notification_xml(
    /// #     &[("out_refund_no", "R1"), ("refund_status", "SUCCESS"), ("refund_fee", "1")], "wx8888888888888888", "1900000109", key);
    /// let refund = XmlNotification::decrypt_refund(&body, key)?;
    /// assert_eq!(refund.get("refund_status"), Some("SUCCESS"));
    /// assert!(XmlNotification::decrypt_refund(&body, "another APIv2 key").is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn decrypt_refund(body: impl AsRef<[u8]>, apiv2_key: &str) -> Result<XmlNotification> {
        let body = body.as_ref();
        let fields = Transformer::to_array(body)?;
        check_unrepeated(&fields, "an APIv2 refund notification")?;
        check_return_code(&fields, body)?;
        let Some(req_info) = fields.get("req_info").and_then(Value::as_str) else {
            return Err(Error::Decode {
                what: "an APIv2 refund notification",
                reason: "it has no req_info: is it a refund notification?".into(),
            });
        };
        let document = AesEcb::decrypt(req_info, AesEcb::req_info_key(apiv2_key))?;
        let fields = Transformer::to_array(&document)?;
        Ok(XmlNotification { fields, document })
    }

    /// The fields, as [`Transformer::to_array`] reads them.
    ///
    /// ```
    /// # let key = "192006250b4c09247ec02edce69f6a2d";
    /// # let body = wechatpay_mock::apiv2::sign_xml(&[("return_code", "SUCCESS"), ("out_trade_no", "T1")], key);
    /// let notification = wechatpay::XmlNotification::verify(&body, key)?;
    /// assert_eq!(notification.fields()["out_trade_no"], "T1");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// One field as text.
    ///
    /// ```
    /// # let key = "192006250b4c09247ec02edce69f6a2d";
    /// # let body = wechatpay_mock::apiv2::sign_xml(&[("return_code", "SUCCESS"), ("out_trade_no", "T1")], key);
    /// let notification = wechatpay::XmlNotification::verify(&body, key)?;
    /// assert_eq!(notification.get("out_trade_no"), Some("T1"));
    /// assert_eq!(notification.get("transaction_id"), None);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// The fields as a `serde` type (text read as the type asks: `total_fee` can be a number).
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Paid { out_trade_no: String, total_fee: u64 }
    /// # let key = "192006250b4c09247ec02edce69f6a2d";
    /// # let body = wechatpay_mock::apiv2::sign_xml(&[("return_code", "SUCCESS"), ("out_trade_no", "T1"), ("total_fee", "101")], key);
    /// let paid: Paid = wechatpay::XmlNotification::verify(&body, key)?.deserialize()?;
    /// assert_eq!(paid.total_fee, 101);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        Transformer::from_xml(&self.document)
    }

    /// The answer that tells WeChat Pay the callback was handled: `<xml><return_code>SUCCESS</return_code>...`.
    ///
    /// ```
    /// let reply = wechatpay::XmlNotification::success();
    /// assert_eq!(reply, "<xml><return_code>SUCCESS</return_code><return_msg>OK</return_msg></xml>");
    /// ```
    pub fn success() -> String {
        reply("SUCCESS", "OK")
    }

    /// The answer that makes WeChat Pay send the callback again later, with a reason (escaped).
    ///
    /// ```
    /// let reply = wechatpay::XmlNotification::fail("sign <mismatch>");
    /// assert_eq!(reply, "<xml><return_code>FAIL</return_code><return_msg>sign &lt;mismatch&gt;</return_msg></xml>");
    /// ```
    pub fn fail(message: &str) -> String {
        // Characters XML cannot carry are dropped rather than failing the answer.
        let message: String = message.chars().filter(|c| !c.is_control() || matches!(c, '\t' | '\n')).collect();
        reply("FAIL", &message)
    }
}

fn reply(code: &str, message: &str) -> String {
    let mut fields = Map::new();
    fields.insert("return_code".into(), code.into());
    fields.insert("return_msg".into(), message.into());
    Transformer::to_xml(&fields).unwrap_or_else(|_| format!("<xml><return_code>{code}</return_code></xml>"))
}

fn check_return_code(fields: &Map<String, Value>, body: &[u8]) -> Result<()> {
    match fields.get("return_code").and_then(Value::as_str) {
        Some("SUCCESS") => Ok(()),
        _ => Err(Error::ApiV2(Box::new(ApiV2Failure::new(
            "(notification)",
            fields.clone(),
            bytes::Bytes::copy_from_slice(body),
        )))),
    }
}

fn unverified(failure: VerificationFailure) -> Error {
    Error::Verification { method: "POST".into(), path: "(APIv2 notification)".into(), failure, request_id: None }
}
