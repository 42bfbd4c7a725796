//! [`Response`]: a verified answer from WeChat Pay.

use std::fmt;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// A successful (2xx) answer whose signature has been verified (or that WeChat Pay does not sign, such as a bill
/// file). 4xx and 5xx answers are [`Error::Api`] instead, and APIv2 `FAIL` answers [`Error::ApiV2`].
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
    url: Option<url::Url>,
}

impl Response {
    pub(crate) fn new(status: StatusCode, headers: HeaderMap, body: Bytes, verified_by: Option<String>) -> Self {
        Response { status, headers, body, verified_by, url: None }
    }

    /// Records the URL the request went to.
    pub(crate) fn with_url(mut self, url: url::Url) -> Self {
        self.url = Some(url);
        self
    }

    /// The URL the request went to, query included, as sent (`None` for answers not made by an HTTP request).
    /// [`Bill::from_response`](crate::Bill::from_response) reads the apply's `tar_type` and `algorithm` from it.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().certificates().get(serde_json::json!({"query": {"algorithm_type": "RSA"}}))?;
    /// assert_eq!(response.url(), Some(format!("{}v3/certificates?algorithm_type=RSA", server.base_uri()).as_str()));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn url(&self) -> Option<&str> {
        self.url.as_ref().map(url::Url::as_str)
    }

    /// The HTTP status.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().merchant_service().complaint_notifications().delete(())?;
    /// assert_eq!(response.status(), wechatpay::StatusCode::NO_CONTENT);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    ///
    /// ```
    /// use wechatpay::header::CONTENT_TYPE;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().certificates().get(())?;
    /// assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text, if present and visible ASCII.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().certificates().get(())?;
    /// // Header names are case-insensitive.
    /// assert_eq!(response.header("wechatpay-serial"), Some(ids.platform.serial.as_str()));
    /// assert_eq!(response.header("X-Not-Sent"), None);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `Request-ID` header: quote it to WeChat Pay support.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().certificates().get(())?;
    /// assert!(response.request_id().is_some_and(|id| !id.is_empty()));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        self.header("Request-ID")
    }

    /// The serial of the key that verified this answer (for APIv2, the sign type: `MD5` or `HMAC-SHA256`); `None`
    /// for answers WeChat Pay does not sign.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().certificates().get(())?;
    /// assert_eq!(response.verified_by(), Some(ids.platform.serial.as_str()));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn verified_by(&self) -> Option<&str> {
        self.verified_by.as_deref()
    }

    /// The body bytes.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().certificates().get(())?;
    /// assert!(response.bytes().starts_with(b"{"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body bytes, by value.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().merchant_service().complaint_notifications().delete(())?;
    /// // A 204 has no body.
    /// assert!(response.into_bytes().is_empty());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn into_bytes(self) -> Bytes {
        self.body
    }

    /// The body as text.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let response = instance.v3().certificates().get(())?;
    /// assert!(response.text()?.contains(&ids.platform.serial));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body).map_err(|err| Error::Decode { what: "UTF-8 text", reason: err.to_string() })
    }

    /// The body decoded from JSON.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Certificates { data: Vec<Entry> }
    /// #[derive(serde::Deserialize)]
    /// struct Entry { serial_no: String }
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    ///
    /// let response = instance.v3().certificates().get(())?;
    /// let certificates: Certificates = response.json()?;
    /// assert_eq!(certificates.data[0].serial_no, ids.platform.serial);
    /// assert!(matches!(response.json::<Vec<u8>>(), Err(wechatpay::Error::Decode { .. })));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|err| Error::Decode { what: "JSON", reason: err.to_string() })
    }

    /// An APIv2 answer's fields, as [`Transformer::to_array`](crate::Transformer::to_array) reads them (text
    /// values; nested elements as maps).
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// #     "secret": ids.apiv2_key,
    /// # }))?;
    /// let response = instance.v2().pay().micropay().post(serde_json::json!({"xml": {
    ///     "appid": "wxd930ea5d5a258f4f", "mch_id": ids.mchid, "body": "coffee", "out_trade_no": "M20240101",
    ///     "total_fee": 1, "spbill_create_ip": "127.0.0.1", "auth_code": "134567890123456789",
    /// }}))?;
    /// let answer = response.xml()?;
    /// assert_eq!(answer["result_code"], "SUCCESS");
    /// assert_eq!(answer["total_fee"], "1");
    /// assert_eq!(response.verified_by(), Some("MD5"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn xml(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        crate::Transformer::to_array(&self.body)
    }

    /// An APIv2 answer as a `serde` type; text is read as the field's type asks (`total_fee: u64`).
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Micropay { out_trade_no: String, total_fee: u64, transaction_id: String }
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// #     "secret": ids.apiv2_key,
    /// # }))?;
    /// let paid: Micropay = instance.v2().pay().micropay().post(serde_json::json!({"xml": {
    ///     "appid": "wxd930ea5d5a258f4f", "mch_id": ids.mchid, "body": "tea", "out_trade_no": "M20240102",
    ///     "total_fee": 2, "spbill_create_ip": "127.0.0.1", "auth_code": "134567890123456789",
    /// }}))?.xml_as()?;
    /// assert_eq!(paid.total_fee, 2);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn xml_as<T: DeserializeOwned>(&self) -> Result<T> {
        crate::Transformer::from_xml(&self.body)
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
