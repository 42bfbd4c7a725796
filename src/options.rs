//! Request options: the PHP SDK's Guzzle options array, as a `serde_json::Value` or the typed [`Options`].

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::media::MediaUpload;
use crate::util::json;

/// The keys that are options; any other top-level key is a URI template variable.
///
/// ```
/// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
/// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
/// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
/// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
/// // `query` is an option; `out_trade_no` is not, so it fills the path.
/// assert!(wechatpay::OPTION_KEYS.contains(&"query"));
/// let url = instance.v3().pay().transactions().out_trade_no()._out_trade_no_()
///     .url(serde_json::json!({"query": {"mchid": "1230000109"}, "out_trade_no": "T1"}))?;
/// assert!(url.ends_with("/v3/pay/transactions/out-trade-no/T1?mchid=1230000109"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub const OPTION_KEYS: [&str; 13] = [
    "json",
    "query",
    "headers",
    "body",
    "xml",
    "security",
    "nonceless",
    "timeout",
    "base_uri",
    "debug",
    "http_errors",
    "sink",
    "allow_redirects",
];

/// What a request sends: the PHP options array, typed.
///
/// ```
/// use serde_json::json;
/// use wechatpay::Options;
///
/// // The same request, PHP-style and typed:
/// let php = Options::from_value(&json!({
///     "out_bill_no": "plfk2020042013",
///     "query": {"offset": 0, "limit": 20},
///     "headers": {"Wechatpay-Serial": "PUB_KEY_ID_0114232134912410000000000000000"},
/// }))?;
/// let typed = Options::new()
///     .var("out_bill_no", "plfk2020042013")
///     .query("offset", 0)
///     .query("limit", 20)
///     .header("Wechatpay-Serial", "PUB_KEY_ID_0114232134912410000000000000000");
/// assert_eq!(format!("{php:?}"), format!("{typed:?}"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub(crate) json: Option<std::result::Result<Json, String>>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Body>,
    pub(crate) xml: Option<Map<String, Value>>,
    pub(crate) security: bool,
    pub(crate) nonceless: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) base_uri: Option<String>,
    /// Guzzle's `debug`, `http_errors` and `sink`: how the exchange is logged, judged and delivered.
    pub(crate) handling: Handling,
    /// Fields of the `json` body to encrypt as sensitive (dotted paths).
    pub(crate) encrypt: Vec<String>,
    pub(crate) vars: Vec<(String, String)>,
    /// Top-level keys whose values cannot be path variables (objects, arrays, ...), with the kind found: an error
    /// once the path's variables are known, either "not an option nor a variable" or "a variable of the wrong type".
    pub(crate) unusable: Vec<(String, &'static str)>,
}

/// Guzzle's request options that change how an exchange is handled rather than what is sent.
#[derive(Debug, Clone)]
pub(crate) struct Handling {
    /// Log the request and the answer through `tracing`, secrets redacted (Guzzle's `debug`).
    pub(crate) debug: bool,
    /// `false`: a 4xx/5xx answer is a [`Response`](crate::Response), not an error (Guzzle's `http_errors`).
    pub(crate) http_errors: bool,
    /// Write the verified body to this file too (Guzzle's `sink`).
    pub(crate) sink: Option<PathBuf>,
    /// The fields `debug` shows redacted: those sent encrypted.
    pub(crate) redact: Vec<String>,
}

impl Default for Handling {
    fn default() -> Self {
        Handling { debug: false, http_errors: true, sink: None, redact: Vec::new() }
    }
}

/// The `json` option: a value from the PHP-style options, or the bytes a typed body serialised to (once).
#[derive(Debug, Clone)]
pub(crate) enum Json {
    Value(Value),
    Bytes(Bytes),
}

impl Json {
    /// The bytes to send and sign.
    pub(crate) fn into_bytes(self) -> std::result::Result<Bytes, String> {
        match self {
            Json::Value(value) => json::to_vec(&value).map(Bytes::from),
            Json::Bytes(bytes) => Ok(bytes),
        }
    }
}

/// What [`Options::body`] takes (PHP's `body` option): raw bytes, or a [`MediaUpload`] as PHP's `MediaUtil` stream.
///
/// ```
/// use wechatpay::{Body, MediaUpload};
///
/// assert!(matches!(Body::from("{}"), Body::Raw(_)));
/// assert!(matches!(Body::from(MediaUpload::new("logo.png", b"\x89PNG".to_vec())), Body::Media(_)));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Body {
    /// Raw bytes, sent and signed as they are. A multipart form given this way is refused: it would be signed
    /// whole, and WeChat Pay checks the signature over its `meta` part only.
    Raw(Bytes),
    /// A multipart upload: the whole form is sent, only its `meta` JSON is signed.
    Media(MediaUpload),
}

impl From<MediaUpload> for Body {
    fn from(media: MediaUpload) -> Self {
        Body::Media(media)
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::Raw(bytes)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::Raw(bytes.into())
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::Raw(text.into())
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::Raw(Bytes::from_static(text.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Body::Raw(Bytes::from_static(bytes))
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Raw(bytes) => write!(f, "Raw({} bytes)", bytes.len()),
            Body::Media(media) => write!(f, "Media({media:?})"),
        }
    }
}

impl Options {
    /// No body, no query, no variables.
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let certificates = instance.v3().certificates();
    /// assert_eq!(certificates.url(Options::new())?, certificates.url(())?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON body (PHP's `json` option), serialised once; the bytes signed are the bytes sent. Top-level fields
    /// of the body also fill path placeholders that no [`var`](Self::var) gives.
    ///
    /// ```
    /// use wechatpay::Options;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Close { mchid: String }
    /// let options = Options::new().json(&Close { mchid: "1900000001".into() });
    /// ```
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.json = Some(json::to_vec(body).map(|bytes| Json::Bytes(bytes.into())));
        self
    }

    /// Appends a query parameter (PHP's `query` option); parameters are sent in the order given, RFC 3986-encoded.
    /// Values are sent as their text: unlike PHP's `http_build_query`, `true` is sent as `true`, not `1`.
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let options = Options::new().query("algorithm_type", "RSA").query("note", "a b&c");
    /// let url = instance.v3().certificates().url(options)?;
    /// assert!(url.ends_with("/v3/certificates?algorithm_type=RSA&note=a%20b%26c"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn query(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((name.into(), value.to_string()));
        self
    }

    /// Adds a request header (PHP's `headers` option), e.g. `Wechatpay-Serial` for sensitive fields.
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let certificates = instance.v3().certificates();
    /// let serial = "PUB_KEY_ID_0114232134912410000000000000000";
    /// assert!(certificates.url(Options::new().header("Wechatpay-Serial", serial)).is_ok());
    /// // The SDK signs every request itself.
    /// assert!(certificates.url(Options::new().header("Authorization", "WECHATPAY2-SHA256-RSA2048 ...")).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Encrypts these fields of the `json` body as sensitive (RSA-OAEP with a WeChat Pay key) and sends that key's
    /// serial in `Wechatpay-Serial`: the WeChat Pay public key when one is configured, else the latest valid
    /// platform certificate, unless a [`header`](Self::header) `Wechatpay-Serial` names the key to use. Names are
    /// dotted paths, as [`Encryptor::encrypt_fields`](crate::Encryptor::encrypt_fields) takes them; each must be a
    /// string of the body.
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem,
    /// #               ids.public_key.id.clone(): ids.public_key.public_key_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let transfer = serde_json::json!({
    ///     "appid": "102022609", "out_bill_no": "plfk2020042013", "transfer_scene_id": "1401",
    ///     "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "注册会员有礼"}],
    ///     "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 400, "transfer_remark": "2020年4月报销",
    ///     "user_name": "张三",
    /// });
    /// let options = Options::new().json(&transfer).encrypt_fields(["user_name"]);
    /// instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills().post(options)?;
    /// // wechatpay-mock decrypted user_name with the key the header named: the public key, preferred.
    /// let sent = server.last_request().unwrap();
    /// assert!(sent.headers.iter().any(|(name, value)| name == "wechatpay-serial" && *value == ids.public_key.id));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encrypt_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.encrypt.extend(fields.into_iter().map(Into::into));
        self
    }

    /// A raw body (PHP's `body` option), sent and signed as is; set a `Content-Type` header to go with it. Or a
    /// [`MediaUpload`], as PHP's `'body' => $media->getStream()`: the form is sent and its `meta` part signed, as
    /// [`media`](Self::media) does, and a `Content-Type` header given with it must be the upload's own
    /// ([`MediaUpload::content_type`], as PHP's `$media->getContentType()`), whose boundary the form uses. A raw
    /// `multipart/...` body is refused: WeChat Pay checks the signature over `meta` only, so build it with
    /// `MediaUpload`.
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let body = r#"{"url":"https://example.com/complaints"}"#;
    /// let options = Options::new().body(body).header("Content-Type", "application/json");
    /// assert_eq!(instance.v3().merchant_service().complaint_notifications().post(options)?.status(), 200);
    /// assert_eq!(server.last_request().unwrap().body, body.as_bytes());
    ///
    /// // PHP's MediaUtil, literally: 'body' => $media->getStream(), 'Content-Type' => $media->getContentType().
    /// let media = wechatpay::MediaUpload::new("logo.png", b"\x89PNG\r\n\x1a\n".to_vec());
    /// let content_type = media.content_type();
    /// let upload = Options::new().body(media).header("Content-Type", content_type);
    /// let answer = instance.v3().merchant().media().upload().post(upload)?;
    /// assert!(answer.json::<serde_json::Value>()?["media_id"].is_string());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// A multipart media upload: the form is sent, its `meta` part is what gets signed.
    ///
    /// ```
    /// use wechatpay::{MediaUpload, Options};
    ///
    /// let media = MediaUpload::new("logo.png", b"\x89PNG...".to_vec());
    /// let options = Options::new().media(media);
    /// ```
    pub fn media(mut self, media: MediaUpload) -> Self {
        self.body = Some(Body::Media(media));
        self
    }

    /// A URI template variable: `{name}` in the path takes `value`, percent-encoded, never case-mangled.
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let refund = instance.v3().refund().domestic().refunds()._out_refund_no_();
    /// let url = refund.url(Options::new().var("out_refund_no", "R 1/2"))?;
    /// assert!(url.ends_with("/v3/refund/domestic/refunds/R%201%2F2"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    /// A timeout for this request alone, overriding the configured one
    /// ([`ConfigBuilder::timeout`](crate::ConfigBuilder::timeout)); for a streaming download, a limit on the whole
    /// download. Zero is refused when the request is made.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechatpay::Options;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// server.faults().next(wechatpay_mock::Fault::Delay(Duration::from_secs(1)));
    /// let options = Options::new().timeout(Duration::from_millis(200));
    /// let err = instance.v3().certificates().get(options).unwrap_err();
    /// assert!(matches!(err, wechatpay::Error::Timeout { after: Some(_), .. }));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// APIv2: the XML payload as flat key/value pairs.
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let mut xml = serde_json::Map::new();
    /// xml.insert("appid".into(), "wxd930ea5d5a258f4f".into());
    /// // An APIv2 payload on an APIv3 path is refused before anything is sent.
    /// let err = instance.v3().certificates().url(Options::new().xml(xml)).unwrap_err();
    /// assert!(err.to_string().contains("APIv2"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn xml(mut self, xml: Map<String, Value>) -> Self {
        self.xml = Some(xml);
        self
    }

    /// APIv2: use the merchant's client certificate (mutual TLS).
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// // APIv3 has no client certificate: the option is refused there.
    /// let err = instance.v3().certificates().url(Options::new().security(true)).unwrap_err();
    /// assert!(err.to_string().contains("security"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn security(mut self, security: bool) -> Self {
        self.security = security;
        self
    }

    /// APIv2: do not add `nonce_str`.
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let err = instance.v3().certificates().url(Options::new().nonceless(true)).unwrap_err();
    /// assert!(err.to_string().contains("nonceless"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn nonceless(mut self, nonceless: bool) -> Self {
        self.nonceless = nonceless;
        self
    }

    /// APIv2: send this request to another host than the configured `base_uri`, as PHP's per-request `base_uri`
    /// does for the few APIv2 endpoints WeChat Pay serves elsewhere (`https://fraud.mch.weixin.qq.com/` for
    /// `risk/getpublickey`, `https://payapp.weixin.qq.com/` for face payments), or a simulator's mutual-TLS listener.
    /// APIv3 requests refuse it: configure their host with [`ConfigBuilder::base_uri`](crate::ConfigBuilder::base_uri).
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem", "secret": "192006250b4c09247ec02edce69f6a2d",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let options = Options::new().base_uri("https://fraud.mch.weixin.qq.com/");
    /// let mut xml = serde_json::Map::new();
    /// xml.insert("mch_id".into(), "1".into());
    /// let url = instance.v2().risk().getpublickey().url(options.clone().xml(xml))?;
    /// assert!(url.starts_with("https://fraud.mch.weixin.qq.com/risk/getpublickey"));
    /// assert!(instance.v3().certificates().url(options).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn base_uri(mut self, base_uri: impl Into<String>) -> Self {
        self.base_uri = Some(base_uri.into());
        self
    }

    /// Logs this exchange through [`tracing`](https://docs.rs/tracing) at `INFO` level under the target
    /// `wechatpay::debug`, as Guzzle's `debug` prints it: the request line, headers and body, then the answer's
    /// status, headers and body (the first 4 KiB of text). Secrets never appear: the `Authorization` signature, the
    /// answer's `Wechatpay-Signature`, an APIv2 `sign` and the values of [`encrypt_fields`](Self::encrypt_fields)
    /// are shown as `(redacted)`, an upload as its `meta` and size. Nothing is printed unless the application
    /// installs a subscriber (e.g. `tracing-subscriber`'s `fmt()`).
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// // PHP: $instance->chain('v3/certificates')->get(['debug' => true]);
    /// let typed = instance.v3().certificates().get(Options::new().debug(true))?;
    /// let php = instance.chain("v3/certificates").get(serde_json::json!({"debug": true}))?;
    /// assert_eq!(typed.status(), php.status());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn debug(mut self, debug: bool) -> Self {
        self.handling.debug = debug;
        self
    }

    /// `false` answers a 4xx or 5xx status as a [`Response`](crate::Response) instead of
    /// [`Error::Api`](crate::Error::Api), as Guzzle's `http_errors => false` does (default `true`). Such an answer
    /// is verified when it carries WeChat Pay's signature headers ([`verified_by`](crate::Response::verified_by)
    /// names the key, and a bad signature is still an error) and passed on unverified when it carries none (a
    /// proxy's page): read its status before its body. Its body is read whole, within
    /// [`max_response_size`](crate::ConfigBuilder::max_response_size), where an error keeps only its first 64 KiB.
    /// Redirects (3xx) stay errors, and APIv2 `FAIL` answers stay [`Error::ApiV2`](crate::Error::ApiV2), since they
    /// come with status 200. A [`Retry`](crate::Retry) never retries an answer handed over this way: it is yours to
    /// judge.
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let bill = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills()._out_bill_no_();
    /// let options = Options::new().var("out_bill_no", "no-such-bill").http_errors(false);
    /// let response = bill.get(options)?;
    /// assert_eq!(response.status(), 404);
    /// assert_eq!(response.json::<serde_json::Value>()?["code"], "NOT_FOUND");
    /// assert_eq!(response.verified_by(), Some(ids.platform.serial.as_str()));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn http_errors(mut self, http_errors: bool) -> Self {
        self.handling.http_errors = http_errors;
        self
    }

    /// Writes the answer's body to the file at `path` as well, as Guzzle's `sink` does: once the answer has been
    /// verified, through a temporary file beside `path` renamed only when complete, so `path` never holds an
    /// unverified or partial body. The [`Response`](crate::Response) keeps the body too. The body is read whole
    /// first: for bill files, which may be gigabytes, use [`Bill`](crate::Bill) or
    /// [`Builder::download_to_file`](crate::Builder::download_to_file), which stream and check the file's digest.
    ///
    /// ```
    /// use wechatpay::Options;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("certificates.json");
    /// // PHP: $instance->chain('v3/certificates')->get(['sink' => $path]);
    /// let response = instance.v3().certificates().get(Options::new().sink(&path))?;
    /// assert_eq!(std::fs::read(&path).unwrap(), response.bytes().to_vec());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn sink(mut self, path: impl Into<PathBuf>) -> Self {
        self.handling.sink = Some(path.into());
        self
    }

    /// Reads the PHP options array: the keys of [`OPTION_KEYS`] are options, any other key is a URI template
    /// variable (whether it is one of this path is checked when the request is made).
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay::Options;
    ///
    /// assert!(Options::from_value(&json!({"json": {"appid": "wx"}, "timeout": 2.5})).is_ok());
    /// let err = Options::from_value(&json!({"query": "offset=0"})).unwrap_err();
    /// assert!(err.to_string().contains("query"));
    /// ```
    pub fn from_value(value: &Value) -> Result<Self> {
        // Checked before the clone, which would recurse once per level.
        if json::deeper_than(value, json::MAX_DEPTH + 1) {
            return Err(Error::options(json::too_deep_reason("the options")));
        }
        Self::from_owned(value.clone())
    }

    fn from_owned(value: Value) -> Result<Self> {
        if json::deeper_than(&value, json::MAX_DEPTH + 1) {
            json::dismantle(value);
            return Err(Error::options(json::too_deep_reason("the options")));
        }
        let object = match value {
            Value::Object(object) => object,
            Value::Null => return Ok(Self::new()),
            other => return Err(Error::options(format!("options must be a JSON object, not {}", kind(&other)))),
        };
        let mut options = Self::new();
        for (key, value) in object {
            match key.as_str() {
                // As Guzzle: `json => null` sends no body.
                "json" => options.json = (!value.is_null()).then_some(Ok(Json::Value(value))),
                "query" => options.query = pairs("query", &value)?,
                "headers" => options.headers = pairs("headers", &value)?,
                "body" => match value {
                    Value::String(text) => options.body = Some(Body::Raw(Bytes::from(text))),
                    other => return Err(Error::options(format!("`body` must be a string, not {}", kind(&other)))),
                },
                "xml" => match value {
                    Value::Object(xml) => options.xml = Some(xml),
                    other => return Err(Error::options(format!("`xml` must be an object, not {}", kind(&other)))),
                },
                "security" => options.security = flag("security", &value)?,
                "base_uri" => match value {
                    Value::String(text) => options.base_uri = Some(text),
                    other => return Err(Error::options(format!("`base_uri` must be a string, not {}", kind(&other)))),
                },
                "nonceless" => options.nonceless = flag("nonceless", &value)?,
                "debug" => match value {
                    Value::Bool(debug) => options.handling.debug = debug,
                    other => {
                        return Err(Error::options(format!(
                            "`debug` must be true or false, not {}: the exchange is logged through tracing (target \
                             wechatpay::debug), not written to a stream",
                            kind(&other)
                        )));
                    }
                },
                "http_errors" => options.handling.http_errors = flag("http_errors", &value)?,
                "sink" => match value {
                    Value::String(path) => options.handling.sink = Some(PathBuf::from(path)),
                    other => {
                        return Err(Error::options(format!(
                            "`sink` must be a file path, not {}; to stream into a writer use Builder::download (bill \
                             files, images, statements)",
                            kind(&other)
                        )));
                    }
                },
                // Redirects are never followed: `false` asks for what the SDK always does.
                "allow_redirects" => {
                    if value != Value::Bool(false) {
                        return Err(Error::options(
                            "`allow_redirects` can only be false: a signed request is valid for its own URL, so the SDK \
                             never follows a redirect and answers a 3xx with Error::Redirect naming its Location",
                        ));
                    }
                }
                "timeout" => {
                    options.timeout = Some(
                        seconds(&value)
                            .ok_or_else(|| Error::options("`timeout` must be a positive number of seconds"))?,
                    )
                }
                _ => match scalar(&value) {
                    Some(text) => options.vars.push((key, text.into_owned())),
                    None => options.unusable.push((key, kind(&value))),
                },
            }
        }
        Ok(options)
    }

    /// The value of template variable `name`: a [`var`](Self::var), else a top-level string or number of the json
    /// body.
    pub(crate) fn variable(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some((_, value)) = self.vars.iter().rev().find(|(key, _)| key == name) {
            return Some(Cow::Borrowed(value));
        }
        match &self.json {
            Some(Ok(Json::Value(Value::Object(body)))) => body.get(name).and_then(scalar),
            // A typed body is only parsed back when a placeholder needs one of its fields.
            Some(Ok(Json::Bytes(bytes))) => match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(body)) => body.get(name).and_then(scalar).map(|text| Cow::Owned(text.into_owned())),
                _ => None,
            },
            _ => None,
        }
    }
}

/// What the verbs accept as options: [`Options`], a PHP-style `serde_json::Value`, or `()` for none.
///
/// ```
/// use wechatpay::{Builder, IntoOptions, Options};
/// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",
/// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
/// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
/// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
///
/// fn bill_url(instance: &Builder, options: impl IntoOptions) -> wechatpay::Result<String> {
///     instance["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}"].url(options)
/// }
/// let typed = bill_url(&instance, Options::new().var("out_bill_no", "plfk2020042013"))?;
/// let php = bill_url(&instance, serde_json::json!({"out_bill_no": "plfk2020042013"}))?;
/// assert_eq!(typed, php);
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub trait IntoOptions {
    /// Converts into [`Options`], or says what is wrong.
    ///
    /// ```
    /// use wechatpay::{IntoOptions, Options};
    ///
    /// assert_eq!(format!("{:?}", ().into_options()?), format!("{:?}", Options::new()));
    /// assert!(serde_json::json!(["query"]).into_options().is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    fn into_options(self) -> Result<Options>;
}

impl IntoOptions for Options {
    fn into_options(self) -> Result<Options> {
        Ok(self)
    }
}

impl IntoOptions for Value {
    fn into_options(self) -> Result<Options> {
        Options::from_owned(self)
    }
}

impl IntoOptions for &Value {
    fn into_options(self) -> Result<Options> {
        Options::from_value(self)
    }
}

impl IntoOptions for () {
    fn into_options(self) -> Result<Options> {
        Ok(Options::new())
    }
}

/// For a key that is one of Guzzle's request options this SDK does not take: what to use instead. The PHP SDK
/// hands its options array to Guzzle, so PHP code may pass any of them; here they would otherwise be taken for path
/// variables.
pub(crate) fn guzzle_instead(key: &str) -> Option<&'static str> {
    Some(match key {
        "auth" => {
            "WeChat Pay authenticates each request by its signature, which the SDK makes from the config (mchid, \
                   serial, privateKey) or a ConfigBuilder::signer"
        }
        "cert" | "ssl_key" => {
            "the merchant certificate is configured once (config `merchant` {cert, key}, \
                               ConfigBuilder::merchant_tls) and presented with `security: true` (APIv2)"
        }
        "verify" => "trust a CA once, in the config (`verify`: a CA bundle; ConfigBuilder::root_certificate)",
        "connect_timeout" => {
            "set it in the config (`connect_timeout`, ConfigBuilder::connect_timeout); per request, \
                              `timeout` bounds the whole exchange"
        }
        "read_timeout" => "`timeout` bounds the whole exchange, per request or in the config",
        "proxy" => "the SDK uses the system's proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), never for loopback",
        "cookies" => "WeChat Pay's API uses no cookies",
        "form_params" => "APIv3 takes a JSON body (`json`), APIv2 an XML payload (`xml`)",
        "multipart" => {
            "build an upload with MediaUpload and pass it as `Options::media` or `Options::body`: only its \
                        `meta` part is signed, as WeChat Pay checks it"
        }
        "stream" => "bill files, images and statements stream with Bill and Builder::download / download_to_file",
        "decode_content" => "answers are passed on as sent; gzip bills are decompressed by Bill",
        "delay" => "wait before calling (std::thread::sleep, or tokio::time::sleep in async code)",
        "expect" => "bodies are sent with their length, without Expect: 100-continue",
        "force_ip_resolve" => "names resolve as the system resolves them; give an IP address in base_uri to choose",
        "version" => "requests use HTTP/1.1",
        "synchronous" => "the blocking verbs (get, post, ...) are synchronous; the _async verbs return futures",
        "on_headers" | "on_stats" | "progress" => {
            "log the exchange with `debug: true` (through tracing), and read \
                                                   Response::status and headers once it is answered"
        }
        "handler" => "replace signing or verification with ConfigBuilder::signer / ConfigBuilder::verifier",
        "idn_conversion" => "give base_uri in ASCII (punycode)",
        _ => return None,
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn scalar(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(text) => Some(Cow::Borrowed(text)),
        Value::Number(number) => Some(Cow::Owned(number.to_string())),
        _ => None,
    }
}

/// A positive, representable number of seconds.
pub(crate) fn seconds(value: &Value) -> Option<Duration> {
    value.as_f64().filter(|seconds| *seconds > 0.0).and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
}

fn flag(name: &str, value: &Value) -> Result<bool> {
    value.as_bool().ok_or_else(|| Error::options(format!("`{name}` must be true or false, not {}", kind(value))))
}

fn pairs(name: &str, value: &Value) -> Result<Vec<(String, String)>> {
    let Value::Object(object) = value else {
        return Err(Error::options(format!("`{name}` must be an object of names to values, not {}", kind(value))));
    };
    object
        .iter()
        .map(|(key, value)| match value {
            Value::Bool(flag) => Ok((key.clone(), flag.to_string())),
            other => scalar(other).map(|text| (key.clone(), text.into_owned())).ok_or_else(|| {
                Error::options(format!(
                    "`{name}.{}` must be a string, number or boolean, not {}",
                    crate::error::shown_name(key),
                    kind(other)
                ))
            }),
        })
        .collect()
}
