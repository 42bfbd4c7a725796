//! The one error type of the crate.
//!
//! Every failure is a variant of [`Error`] whose message says what went wrong and what to do about it. No variant ever
//! carries key material: a key that fails to load is described by its kind and shape, never by its content.

use std::fmt;
use std::time::Duration;

/// A `Result` whose error is this crate's [`Error`].
///
/// ```
/// use wechatpay::crypto::PrivateKey;
///
/// fn merchant_key() -> wechatpay::Result<PrivateKey> {
///     PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")
/// }
/// assert_eq!(merchant_key()?.bits(), 2048);
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// ```
/// use wechatpay::crypto::Rsa;
///
/// let err = Rsa::from_private("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----").unwrap_err();
/// assert!(matches!(err, wechatpay::Error::Key { .. }));
/// assert!(err.to_string().contains("CERTIFICATE"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key or certificate could not be loaded: `expected` names what was asked for, `found` describes (never quotes)
    /// what was given, `hint` says what to do.
    #[error("cannot load {expected}: found {found}{}", hint_suffix(.hint))]
    Key {
        /// What kind of input was expected, e.g. "an RSA private key".
        expected: &'static str,
        /// What was found instead, e.g. "a PEM block labelled CERTIFICATE".
        found: String,
        /// What the caller can do about it (may be empty).
        hint: &'static str,
    },

    /// A cryptographic operation failed: a bad signature encoding, a ciphertext that does not decrypt, a GCM tag that
    /// does not authenticate.
    #[error("{operation} failed: {reason}")]
    Crypto {
        /// The operation, e.g. "AEAD_AES_256_GCM decrypt".
        operation: &'static str,
        /// Why it failed, in words (never the data itself).
        reason: String,
    },

    /// An argument was outside what the function accepts (e.g. a nonce length of 0 or an AES key of the wrong size).
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// What was wrong and what is accepted.
        reason: String,
    },

    /// The configuration given to [`Builder::factory`](crate::Builder::factory) is incomplete or inconsistent.
    #[error("invalid configuration `{field}`: {reason}")]
    Config {
        /// The configuration key, as the PHP-shaped config names it (`mchid`, `serial`, `privateKey`, `certs`, ...).
        field: String,
        /// What is wrong and what to do.
        reason: String,
    },

    /// The request options are wrong: an unknown key, a value of the wrong type, a body that does not serialise.
    #[error("invalid request options: {reason}")]
    Options {
        /// What is wrong and what to do.
        reason: String,
    },

    /// The URI template could not be expanded: a missing or unusable variable, or a malformed template.
    #[error("cannot expand `{template}`: {reason}")]
    Template {
        /// The path template, e.g. `v3/pay/transactions/id/{transaction_id}`.
        template: String,
        /// What is wrong and what to do; a missing variable is named.
        reason: String,
    },

    /// The request could not be sent or its answer not received (connection refused or reset, TLS, a truncated body).
    #[error("{method} {url} failed: {reason}")]
    Transport {
        /// The HTTP method.
        method: String,
        /// The URL (no credentials are ever in it; abbreviated past 512 characters).
        url: String,
        /// What happened and what to do.
        reason: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// No answer came in time. The request may still have reached WeChat Pay: query the resource before retrying
    /// anything that moves money.
    #[error("{method} {url} timed out{}: the request may have reached WeChat Pay, so query it before retrying", after_suffix(.after))]
    Timeout {
        /// The HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// The timeout that ran out, when known.
        after: Option<Duration>,
    },

    /// The answer did not pass signature verification: it must not be trusted.
    #[error("the answer to {method} {path} failed verification: {failure}{}", request_id_suffix(.request_id))]
    Verification {
        /// The HTTP method.
        method: String,
        /// The request path.
        path: String,
        /// What failed.
        failure: VerificationFailure,
        /// The `Request-ID` header, if the answer had one: quote it to WeChat Pay support.
        request_id: Option<String>,
    },

    /// WeChat Pay answered with a 4xx or 5xx status and (usually) a JSON body `{"code","message","detail"}`.
    ///
    /// An answer whose body is not that JSON (`code` is then empty: an HTML page, an empty body) did not come from
    /// WeChat Pay's API but from something on the way (a proxy, a gateway, a load balancer), and its message says
    /// so.
    #[error("{}", api_message(*.status, .code, .message, .request_id))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error code, e.g. `PARAM_ERROR`, `SIGN_ERROR`, `NOT_FOUND` (empty when the body had none).
        code: String,
        /// The error message, on one line (control characters become spaces); for a body that is not WeChat Pay's
        /// JSON (a proxy's HTML page), a line of its text.
        message: String,
        /// The `detail` object, when present (boxed to keep `Error` small).
        detail: Option<Box<serde_json::Value>>,
        /// The `Request-ID` header: quote it to WeChat Pay support.
        request_id: Option<String>,
        /// The raw body (its first 64 KiB at most).
        body: bytes::Bytes,
    },

    /// A response body could not be decoded as asked (for example [`Response::json`](crate::Response::json)).
    #[error("cannot decode the answer as {what}: {reason}")]
    Decode {
        /// What was asked for, e.g. "JSON".
        what: &'static str,
        /// Why it failed.
        reason: String,
    },

    /// The SDK's I/O runtime could not run the request, or a blocking call was made where it would deadlock.
    #[error("{reason}")]
    Runtime {
        /// What happened and what to do.
        reason: String,
    },

    /// Something this release does not do yet.
    #[error("{what} is not supported yet: {hint}")]
    Unsupported {
        /// What was asked for.
        what: String,
        /// What to do instead.
        hint: &'static str,
    },

    /// An APIv2 answer said `FAIL`: `return_code` (the request was not taken: a bad sign, a missing field) or
    /// `result_code` (the business failed: `ORDERNOTEXIST`, `USERPAYING`, `NOTENOUGH`...). Boxed to keep `Error`
    /// small; see [`ApiV2Failure`].
    #[error("{0}")]
    ApiV2(Box<ApiV2Failure>),

    /// A callback was refused by [`NotificationParser::parse`](crate::NotificationParser::parse).
    #[error("{0}")]
    Notification(crate::notification::NotificationError),

    /// A downloaded file failed a check of its integrity: its SHA-1 is not the `hash_value` WeChat Pay gave for
    /// it, or its gzip stream or its AEAD_AES_256_GCM tag is broken. A file target was removed; bytes already
    /// given to a writer must be discarded.
    #[error(
        "{what} failed its {check} check after {bytes} bytes{}: it was altered on the way or is not the file that was \
         applied for; {AFTER_A_BAD_DOWNLOAD}",
        digests_suffix(.expected, .actual)
    )]
    Integrity {
        /// What was downloaded, e.g. "the bill file of 2024-01-02 from GET /v3/billdownload/file".
        what: String,
        /// The check that failed: "SHA-1", "gzip", "AEAD_AES_256_GCM tag".
        check: &'static str,
        /// The expected digest (lower-case hex), when the check compares digests.
        expected: Option<String>,
        /// The digest of what arrived.
        actual: Option<String>,
        /// How many bytes had been written when the check failed.
        bytes: u64,
    },

    /// A download ended before the whole file arrived: the connection was cut short of the announced length, or
    /// the file stops short (a gzip stream without its end, an encrypted file without its tag). A file target was
    /// removed; bytes already given to a writer must be discarded.
    #[error("{what} ended after {received} bytes{}: the connection was cut or the file stops short; {AFTER_A_BAD_DOWNLOAD}", expected_suffix(.expected))]
    Truncated {
        /// What was downloaded.
        what: String,
        /// The bytes that arrived (as sent, before decompression or decryption).
        received: u64,
        /// The length the answer announced, when it did.
        expected: Option<u64>,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// Reading or writing a local file or stream failed (a download's target, a temporary file).
    #[error("{what}: {source}")]
    Io {
        /// What was being done, e.g. "writing bill.csv".
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// An answer's body was larger than [`ConfigBuilder::max_response_size`](crate::ConfigBuilder::max_response_size)
    /// allows: it was refused from its `Content-Length` before any of it was read, or as soon as more arrived. The
    /// answer came, so the request was processed: do not send it again blindly.
    #[error(
        "{method} {url}: WeChat Pay answered {status} with a body {}larger than the {limit}-byte limit, which was not \
         read: raise ConfigBuilder::max_response_size (maxResponseSize) if such answers are expected, or stream \
         APIv3 bill files and images with download()", announced_suffix(.announced)
    )]
    ResponseTooLarge {
        /// The HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// The HTTP status of the answer.
        status: u16,
        /// The limit, in bytes.
        limit: u64,
        /// The `Content-Length` the answer announced, when it did.
        announced: Option<u64>,
    },

    /// The answer was a redirect (3xx). The SDK never follows one: a signed request is valid for its own URL only,
    /// and WeChat Pay's API does not redirect, so `base_uri` leads somewhere else (a proxy's login page, an
    /// `http://` URL sent on to `https://`, a gateway that moved).
    #[error(
        "{method} {url} was answered {status}, a redirect{}: the SDK never follows one (a signed request is valid \
         for its own URL only) and WeChat Pay's API does not redirect, so check base_uri and any proxy on the way{}",
        location_suffix(.location), request_id_suffix(.request_id)
    )]
    Redirect {
        /// The HTTP method.
        method: String,
        /// The URL the request went to.
        url: String,
        /// The HTTP status: 301, 302, 303, 307, 308...
        status: u16,
        /// The `Location` header, when the answer had one.
        location: Option<String>,
        /// The `Request-ID` header, when the answer had one.
        request_id: Option<String>,
    },
}

/// What an APIv2 `FAIL` answer said, with the whole answer.
///
/// ```
/// use wechatpay::Error;
/// # let server = wechatpay_mock::Server::builder()
/// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
/// # let ids = server.identities();
/// # let instance = wechatpay::Builder::factory(serde_json::json!({
/// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
/// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
/// #     "secret": ids.apiv2_key,
/// # }))?;
/// let query = serde_json::json!({"xml": {"appid": "wxd930ea5d5a258f4f", "mch_id": ids.mchid, "out_trade_no": "NO-SUCH-ORDER"}});
/// match instance.v2().pay().orderquery().post(query) {
///     Err(Error::ApiV2(failure)) => {
///         assert_eq!(failure.err_code.as_deref(), Some("ORDERNOTEXIST"));
///         assert_eq!(failure.fields["mch_id"], ids.mchid.as_str());
///     }
///     other => panic!("expected ORDERNOTEXIST, got {other:?}"),
/// }
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiV2Failure {
    /// The request path, e.g. `pay/orderquery`.
    pub path: String,
    /// `return_code`: `FAIL` when the request was not taken, else `SUCCESS`.
    pub return_code: String,
    /// `return_msg`, e.g. `签名错误` (when present).
    pub return_msg: Option<String>,
    /// `result_code`: `FAIL` for a business failure (when present).
    pub result_code: Option<String>,
    /// `err_code`, e.g. `ORDERNOTEXIST`, `USERPAYING`, `SYSTEMERROR` (when present).
    pub err_code: Option<String>,
    /// `err_code_des`, the business error in words (when present).
    pub err_code_des: Option<String>,
    /// Every field of the answer (a `USERPAYING` micropay answer still names the order, for example).
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The raw body.
    pub body: bytes::Bytes,
}

impl ApiV2Failure {
    pub(crate) fn new(path: &str, fields: serde_json::Map<String, serde_json::Value>, body: bytes::Bytes) -> Self {
        let text = |name: &str| fields.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
        ApiV2Failure {
            path: path.to_owned(),
            return_code: text("return_code").unwrap_or_default(),
            return_msg: text("return_msg"),
            result_code: text("result_code"),
            err_code: text("err_code"),
            err_code_des: text("err_code_des"),
            fields,
            body,
        }
    }
}

impl fmt::Display for ApiV2Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        if self.return_code != "SUCCESS" {
            let message = self.return_msg.as_deref().unwrap_or("(no return_msg)");
            return write!(
                f,
                "WeChat Pay did not take the APIv2 request {path} (return_code {}): {message}",
                self.return_code
            );
        }
        let code = self.err_code.as_deref().unwrap_or("(no err_code)");
        let description = self.err_code_des.as_deref().or(self.return_msg.as_deref()).unwrap_or("(no err_code_des)");
        write!(f, "WeChat Pay answered the APIv2 request {path} with result_code FAIL {code}: {description}")
    }
}

/// What to do after a download failed a check or was cut.
const AFTER_A_BAD_DOWNLOAD: &str = "nothing was kept (a file target is removed; discard what a writer received) - \
     download it again, and apply again first if its download_url has expired (they live 5 minutes)";

/// Why an answer failed verification. Each says what to do.
///
/// ```
/// use wechatpay::{Error, VerificationFailure};
/// # let server = wechatpay_mock::Server::builder()
/// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
/// # let ids = server.identities();
/// # let instance = wechatpay::Builder::factory(serde_json::json!({
/// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
/// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
/// # }))?;
/// server.faults().next(wechatpay_mock::Fault::TamperedSignature);
/// match instance.v3().certificates().get(()) {
///     Err(Error::Verification { failure, .. }) => assert_eq!(failure, VerificationFailure::BadSignature),
///     other => panic!("expected a verification failure, got {other:?}"),
/// }
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerificationFailure {
    /// A `Wechatpay-*` header is missing.
    #[error(
        "the {0} header is missing; answers from WeChat Pay always carry it, so this one is not from WeChat Pay or was altered on the way"
    )]
    MissingHeader(&'static str),
    /// A `Wechatpay-*` header is present but not visible ASCII text.
    #[error("the {0} header is not ASCII text, so it cannot be from WeChat Pay")]
    InvalidHeader(&'static str),
    /// `Wechatpay-Timestamp` is not a number.
    #[error("the Wechatpay-Timestamp header is not a Unix time")]
    InvalidTimestamp,
    /// The answer's timestamp is too far from this machine's clock.
    #[error("the answer's timestamp {timestamp} is {} s away from this machine's clock {now} (at most {max_skew} s is accepted): check the clock (NTP) or suspect a replay", timestamp.abs_diff(*now))]
    ClockSkew {
        /// The `Wechatpay-Timestamp` value.
        timestamp: i64,
        /// This machine's time.
        now: i64,
        /// The accepted difference in seconds.
        max_skew: u64,
    },
    /// The answer is signed by a key whose serial is not configured.
    #[error(
        "the answer is signed by key {0}, which is not among the configured certs: add that platform certificate \
         (GET v3/certificates lists them, encrypted with your APIv3 key) or the WeChat Pay public key with its \
         PUB_KEY_ID from the merchant platform"
    )]
    UnknownSerial(String),
    /// `Wechatpay-Signature` starts with `WECHATPAY/SIGNTEST/`: a probe WeChat Pay sends to check that merchants verify.
    #[error(
        "the signature is a WECHATPAY/SIGNTEST/ probe, which WeChat Pay sends to check that you verify; it was rejected as it must be"
    )]
    Probe,
    /// `Wechatpay-Signature` is not base64.
    #[error("the Wechatpay-Signature header is not base64")]
    MalformedSignature,
    /// The signature does not match the answer.
    #[error("the signature does not match the answer: it was altered, or signed by another key with the same serial")]
    BadSignature,
    /// An overseas statement's body does not match its `Wechatpay-Statement-Sha1` header.
    #[error(
        "the statement's SHA-1 does not match its Wechatpay-Statement-Sha1 header: the file was altered or truncated"
    )]
    DigestMismatch,
    /// An APIv2 answer or callback that must be signed has no `sign` field.
    #[error("the APIv2 message has no sign field, so it is not from WeChat Pay or was altered on the way")]
    MissingSign,
    /// An APIv2 `sign` does not match the message.
    #[error(
        "the APIv2 sign does not match the message: it was altered, or the configured APIv2 key (secret) is not \
         the one set on the merchant platform"
    )]
    SignMismatch,
    /// The answer is signed with a platform certificate that has expired: WeChat Pay never signs with one.
    #[error(
        "the answer is signed with platform certificate {serial}, which expired at {}: WeChat Pay no longer signs \
         with it; download the current certificates (Builder::refresh_certificates) or configure the WeChat Pay \
         public key", crate::util::time::rfc3339_utc(*.expired_at)
    )]
    ExpiredCertificate {
        /// The certificate serial (`Wechatpay-Serial`).
        serial: String,
        /// When it expired.
        expired_at: std::time::SystemTime,
    },
    /// A `Wechatpay-*` header the verification reads is present more than once: which value was signed is
    /// ambiguous, so the answer is refused.
    #[error(
        "the {0} header is present more than once, which WeChat Pay never does: which value the signature covers is \
         ambiguous, so the answer is refused"
    )]
    RepeatedHeader(&'static str),
}

/// The most of a caller's text (a URL, a template) an error repeats.
const SHOWN_LENGTH: usize = 512;

/// `text`, cut to its first 512 characters (with its length in bytes) when longer, so that an error's message stays
/// readable whatever it quotes.
pub(crate) fn abbreviate(text: &str) -> String {
    match text.char_indices().nth(SHOWN_LENGTH) {
        Some((end, _)) => format!("{}... ({} bytes in all)", &text[..end], text.len()),
        None => text.to_owned(),
    }
}

/// A name from the caller (a config or option key, a serial, a header name) as an error may quote it: itself
/// when it looks like a name, else only its length. A key and a value swapped (`"certs": {"-----BEGIN PRIVATE
/// KEY-----...": "PUB_KEY_ID_..."}`) would otherwise print the secret in the error.
pub(crate) fn shown_name(name: &str) -> std::borrow::Cow<'_, str> {
    let looks_like_a_name = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+'))
        && !name.contains("--");
    if looks_like_a_name {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(format!("<{} characters, not shown: not a name, maybe a key>", name.chars().count()))
    }
}

fn request_id_suffix(request_id: &Option<String>) -> String {
    match request_id {
        Some(id) => format!(" (Request-ID {id})"),
        None => String::new(),
    }
}

fn location_suffix(location: &Option<String>) -> String {
    match location {
        Some(location) => format!(" to Location: {location}"),
        None => " without a Location header".to_owned(),
    }
}

/// [`Error::Api`]'s message: WeChat Pay's code and message, or, for a body that is not WeChat Pay's JSON, that the
/// answer came from something else on the way.
fn api_message(status: u16, code: &str, message: &str, request_id: &Option<String>) -> String {
    let request_id = request_id_suffix(request_id);
    if code.is_empty() {
        format!(
            "the answer {status} did not come from WeChat Pay's API (its body is not WeChat Pay's \
             {{\"code\",\"message\"}} JSON, so a proxy, gateway or load balancer on the way answered): \
             {message}{request_id}"
        )
    } else {
        format!("WeChat Pay answered {status} {code}: {message}{request_id}")
    }
}

fn after_suffix(after: &Option<Duration>) -> String {
    match after {
        Some(after) => format!(" after {after:?}"),
        None => String::new(),
    }
}

fn digests_suffix(expected: &Option<String>, actual: &Option<String>) -> String {
    match (expected, actual) {
        (Some(expected), Some(actual)) => format!(" (expected {expected}, got {actual})"),
        _ => String::new(),
    }
}

fn expected_suffix(expected: &Option<u64>) -> String {
    match expected {
        Some(expected) => format!(" of {expected}"),
        None => String::new(),
    }
}

fn announced_suffix(announced: &Option<u64>) -> String {
    match announced {
        Some(announced) => format!("of {announced} bytes, "),
        None => String::new(),
    }
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() { String::new() } else { format!(". {hint}") }
}

impl Error {
    pub(crate) fn key(expected: &'static str, found: impl fmt::Display, hint: &'static str) -> Self {
        Error::Key { expected, found: found.to_string(), hint }
    }

    pub(crate) fn crypto(operation: &'static str, reason: impl fmt::Display) -> Self {
        Error::Crypto { operation, reason: reason.to_string() }
    }

    pub(crate) fn config(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Error::Config { field: field.into(), reason: reason.to_string() }
    }

    pub(crate) fn options(reason: impl fmt::Display) -> Self {
        Error::Options { reason: reason.to_string() }
    }

    pub(crate) fn template(template: impl Into<String>, reason: impl fmt::Display) -> Self {
        Error::Template { template: abbreviate(&template.into()), reason: reason.to_string() }
    }

    pub(crate) fn runtime(reason: impl fmt::Display) -> Self {
        Error::Runtime { reason: reason.to_string() }
    }

    /// The `Request-ID` of the answer this error came from, when there was one.
    ///
    /// ```
    /// let err = wechatpay::Error::Api {
    ///     status: 404, code: "NOT_FOUND".into(), message: "no such bill".into(), detail: None,
    ///     request_id: Some("08F0".into()), body: Default::default(),
    /// };
    /// assert_eq!(err.request_id(), Some("08F0"));
    /// assert!(err.to_string().contains("Request-ID 08F0"));
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. }
            | Error::Verification { request_id, .. }
            | Error::Redirect { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn invalid(name: &'static str, reason: impl fmt::Display) -> Self {
        Error::InvalidArgument { name, reason: reason.to_string() }
    }
}

#[cfg(test)]
mod tests {
    /// Clippy's `result_large_err` fires in callers' code above 128 bytes: keep `Result<T, Error>` cheap to return.
    #[test]
    fn error_stays_small() {
        assert!(std::mem::size_of::<super::Error>() <= 128, "{}", std::mem::size_of::<super::Error>());
    }
}
