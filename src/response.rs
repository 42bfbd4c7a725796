//! [`Response`]: a verified answer from WeChat Pay.

use std::fmt;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// A successful (2xx) answer whose signature has been verified (or that WeChat Pay does not sign, such as a bill
/// file). 4xx and 5xx answers are [`Error::Api`] instead.
///
/// ```no_run
/// # fn demo(instance: &wechatpay::Builder) -> wechatpay::Result<()> {
/// #[derive(serde::Deserialize)]
/// struct Bill { out_bill_no: String, state: String }
///
/// let response = instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}"]
///     .get(serde_json::json!({"out_bill_no": "plfk2020042013"}))?;
/// let bill: Bill = response.json()?;
/// println!("{} is {} (Request-ID {:?})", bill.out_bill_no, bill.state, response.request_id());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    verified_by: Option<String>,
}

impl Response {
    pub(crate) fn new(status: StatusCode, headers: HeaderMap, body: Bytes, verified_by: Option<String>) -> Self {
        Response { status, headers, body, verified_by }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `Request-ID` header: quote it to WeChat Pay support.
    pub fn request_id(&self) -> Option<&str> {
        self.header("Request-ID")
    }

    /// The serial of the key that verified this answer; `None` for answers WeChat Pay does not sign.
    pub fn verified_by(&self) -> Option<&str> {
        self.verified_by.as_deref()
    }

    /// The body bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body bytes, by value.
    pub fn into_bytes(self) -> Bytes {
        self.body
    }

    /// The body as text.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body).map_err(|err| Error::Decode { what: "UTF-8 text", reason: err.to_string() })
    }

    /// The body decoded from JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|err| Error::Decode { what: "JSON", reason: err.to_string() })
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("request_id", &self.request_id())
            .field("verified_by", &self.verified_by)
            .field("body", &format_args!("{} bytes", self.body.len()))
            .finish()
    }
}
