//! APIv3 callbacks (notifications): a [`NotificationParser`] turns the headers and the exact body
//! bytes of WeChat Pay's POST into a verified, decrypted [`Notification`], whatever the web framework; a
//! [`ReplayGuard`] refuses replays; [`NotificationAnswer`] is what to answer.
//!
//! The PHP SDK leaves this to the merchant (its README lists the steps); this module is those steps, done once:
//! the signature headers and the 300 s window over the raw body, `WECHATPAY/SIGNTEST/` probes refused,
//! `resource` decrypted with the APIv3 key, the plaintext deserialised into the caller's type.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::builder::Builder;
use crate::client::Core;
use crate::config::Apiv3Key;
use crate::crypto::AesGcm;
use crate::error::{Error, Result, VerificationFailure};
use crate::formatter::Formatter;
use crate::verifier::{SignatureHeaders, Verifier};

/// Where a [`NotificationParser`] reads the `Wechatpay-*` headers from: any web framework's header map. Names are
/// matched case-insensitively.
///
/// Implemented for `http::HeaderMap` (axum, hyper, reqwest, actix's `http` types), slices, arrays and vectors of
/// name/value pairs, and `HashMap`/`BTreeMap` of strings.
///
/// ```
/// use wechatpay::NotificationHeaders;
///
/// let pairs = [("wechatpay-serial", "PUB_KEY_ID_0114232134912410000000000000000")];
/// assert_eq!(pairs.header("Wechatpay-Serial"), Some(&b"PUB_KEY_ID_0114232134912410000000000000000"[..]));
/// assert_eq!(pairs.header("Wechatpay-Nonce"), None);
/// ```
pub trait NotificationHeaders {
    /// The value of the header `name` (any case), as bytes.
    ///
    /// ```
    /// use wechatpay::NotificationHeaders;
    /// use wechatpay::header::{HeaderMap, HeaderValue};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("Wechatpay-Timestamp", HeaderValue::from_static("1554208460"));
    /// assert_eq!(headers.header("wechatpay-timestamp"), Some(&b"1554208460"[..]));
    /// ```
    fn header(&self, name: &str) -> Option<&[u8]>;

    /// How many times the header `name` (any case) is present. A signature header present twice is refused
    /// ([`VerificationFailure::RepeatedHeader`]): which of its values was signed would be ambiguous. The default
    /// counts [`header`](Self::header) once, for maps that keep one value per name.
    ///
    /// ```
    /// use wechatpay::NotificationHeaders;
    ///
    /// let pairs = [("Wechatpay-Serial", "A"), ("wechatpay-serial", "B")];
    /// assert_eq!(pairs.header_count("Wechatpay-Serial"), 2);
    /// assert_eq!(pairs.header_count("Wechatpay-Nonce"), 0);
    /// ```
    fn header_count(&self, name: &str) -> usize {
        usize::from(self.header(name).is_some())
    }
}

impl NotificationHeaders for HeaderMap {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(|value| value.as_bytes())
    }

    fn header_count(&self, name: &str) -> usize {
        self.get_all(name).iter().count()
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> NotificationHeaders for [(K, V)] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.iter().find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name)).map(|(_, value)| value.as_ref())
    }

    fn header_count(&self, name: &str) -> usize {
        self.iter().filter(|(key, _)| key.as_ref().eq_ignore_ascii_case(name)).count()
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>, const N: usize> NotificationHeaders for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().header(name)
    }

    fn header_count(&self, name: &str) -> usize {
        self.as_slice().header_count(name)
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> NotificationHeaders for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().header(name)
    }

    fn header_count(&self, name: &str) -> usize {
        self.as_slice().header_count(name)
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>, S: BuildHasher> NotificationHeaders for HashMap<K, V, S> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.iter().find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name)).map(|(_, value)| value.as_ref())
    }

    /// Keys that differ only in case (`Wechatpay-Serial` and `wechatpay-serial`) count as one header twice.
    fn header_count(&self, name: &str) -> usize {
        self.keys().filter(|key| key.as_ref().eq_ignore_ascii_case(name)).count()
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> NotificationHeaders for BTreeMap<K, V> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.iter().find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name)).map(|(_, value)| value.as_ref())
    }

    /// Keys that differ only in case count as one header twice.
    fn header_count(&self, name: &str) -> usize {
        self.keys().filter(|key| key.as_ref().eq_ignore_ascii_case(name)).count()
    }
}

impl<T: NotificationHeaders + ?Sized> NotificationHeaders for &T {
    fn header(&self, name: &str) -> Option<&[u8]> {
        (**self).header(name)
    }

    fn header_count(&self, name: &str) -> usize {
        (**self).header_count(name)
    }
}

/// A verified and decrypted callback. `T` is what `resource` decrypts to: your own `Deserialize` type, or
/// `serde_json::Value` (the default).
///
/// ```
/// # let server = wechatpay_mock::Server::builder()
/// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
/// # let ids = server.identities();
/// # let instance = wechatpay::Builder::factory(serde_json::json!({
/// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
/// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
/// #     "apiv3Key": ids.apiv3_key,
/// # }))?;
/// # let callback = server.notification("TRANSACTION.SUCCESS", "支付成功", "transaction",
/// #     &serde_json::json!({"out_trade_no": "1217752501201407033233368018", "trade_state": "SUCCESS",
/// #         "amount": {"total": 100, "currency": "CNY"}})).unwrap();
/// # let (headers, body) = (callback.headers.clone(), callback.body.clone());
/// #[derive(serde::Deserialize)]
/// struct Transaction { out_trade_no: String, trade_state: String }
///
/// let parser = instance.notification_parser()?;
/// let notification: wechatpay::Notification<Transaction> = parser.parse(&headers, &body)?;
/// assert_eq!(notification.event_type, "TRANSACTION.SUCCESS");
/// assert_eq!(notification.resource.trade_state, "SUCCESS");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Notification<T = Value> {
    /// The notification id (the same for WeChat Pay's retries of one event).
    pub id: String,
    /// When WeChat Pay created it, RFC 3339 (`2015-05-20T13:29:35+08:00`).
    pub create_time: String,
    /// What happened, e.g. `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, `MCHTRANSFER.BILL.FINISHED`.
    pub event_type: String,
    /// `encrypt-resource`.
    pub resource_type: String,
    /// WeChat Pay's one-line summary, e.g. `支付成功`.
    pub summary: String,
    /// The kind of object `resource` was, e.g. `transaction`.
    pub original_type: String,
    /// The decrypted resource.
    pub resource: T,
    /// The key that verified the signature (`Wechatpay-Serial`).
    pub serial: String,
    /// `Wechatpay-Timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
}

/// Why a callback was refused. Every one says what is wrong; [`answer`](Self::answer) is what to reply.
///
/// ```
/// use wechatpay::{NotificationError, VerificationFailure};
///
/// let err = NotificationError::Verification(VerificationFailure::Probe);
/// assert_eq!(err.answer().status(), 401);
/// assert!(err.to_string().contains("SIGNTEST"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// The signature headers, timestamp or signature are wrong: it is not from WeChat Pay, or was altered.
    #[error("the notification failed verification: {0}")]
    Verification(VerificationFailure),
    /// The same signed notification (same `Wechatpay-Nonce`) arrived before, within the time window: a replay.
    #[error("the notification was received before (Wechatpay-Nonce {nonce} within the time window): a replay, refused")]
    Replayed {
        /// The repeated nonce.
        nonce: String,
    },
    /// A notification whose id was already [acknowledged](NotificationParser::acknowledge): WeChat Pay sent it
    /// again because it did not get the answer. Answer success again, without processing it twice.
    #[error("notification {id} was already acknowledged: answer success again without processing it twice")]
    Duplicate {
        /// The notification id.
        id: String,
    },
    /// The body is not a WeChat Pay notification.
    #[error("the body is not a WeChat Pay notification: {0}")]
    Malformed(String),
    /// `resource.algorithm` is not `AEAD_AES_256_GCM`.
    #[error("resource.algorithm is {0:?}; only AEAD_AES_256_GCM is known")]
    UnsupportedAlgorithm(String),
    /// `resource` does not decrypt with the configured APIv3 key.
    #[error(
        "the resource does not decrypt with the configured APIv3 key: the key is wrong (compare apiv3Key with the \
         merchant platform's) or the resource was altered"
    )]
    Decryption,
    /// The decrypted resource is not what the caller asked for.
    #[error("the decrypted resource does not deserialise into the requested type: {0}")]
    Resource(String),
}

impl NotificationError {
    /// The answer to send WeChat Pay: a 4xx/5xx `{"code":"FAIL","message":...}` so that it retries (401 for what
    /// failed verification, 400 for a malformed or replayed body, 500 for what is this side's fault: a wrong APIv3
    /// key, a resource type that does not fit); success for a [`Duplicate`](Self::Duplicate).
    ///
    /// ```
    /// use wechatpay::NotificationError;
    ///
    /// assert_eq!(NotificationError::Decryption.answer().status(), 500);
    /// assert!(NotificationError::Duplicate { id: "EV-1".into() }.answer().is_success());
    /// ```
    pub fn answer(&self) -> NotificationAnswer {
        let status = match self {
            NotificationError::Duplicate { .. } => return NotificationAnswer::success(),
            NotificationError::Verification(_) => 401,
            NotificationError::Replayed { .. }
            | NotificationError::Malformed(_)
            | NotificationError::UnsupportedAlgorithm(_) => 400,
            NotificationError::Decryption | NotificationError::Resource(_) => 500,
        };
        NotificationAnswer::fail(status, self.to_string())
    }
}

/// What to answer a callback: `200 {"code":"SUCCESS"}`, or a 4xx/5xx `{"code":"FAIL","message":...}` that makes
/// WeChat Pay send it again later. Framework-agnostic: copy [`status`](Self::status), the `Content-Type` and the
/// [`body`](Self::body) into your framework's response.
///
/// ```
/// use wechatpay::NotificationAnswer;
///
/// let ok = NotificationAnswer::success();
/// assert_eq!((ok.status(), ok.body()), (200, r#"{"code":"SUCCESS"}"#));
/// let retry = NotificationAnswer::fail(503, "the database is down");
/// assert_eq!(retry.body(), r#"{"code":"FAIL","message":"the database is down"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationAnswer {
    status: u16,
    body: String,
}

impl NotificationAnswer {
    /// The `Content-Type` of every answer.
    ///
    /// ```
    /// assert_eq!(wechatpay::NotificationAnswer::CONTENT_TYPE, "application/json");
    /// ```
    pub const CONTENT_TYPE: &'static str = "application/json";

    /// `200 {"code":"SUCCESS"}`: received, do not send it again.
    ///
    /// ```
    /// assert!(wechatpay::NotificationAnswer::success().is_success());
    /// ```
    pub fn success() -> Self {
        NotificationAnswer { status: 200, body: r#"{"code":"SUCCESS"}"#.to_owned() }
    }

    /// `{"code":"FAIL","message":...}` with `status`, which must be 4xx or 5xx for WeChat Pay to retry: any other
    /// status becomes 500 (a 2xx would tell WeChat Pay the callback was handled).
    ///
    /// ```
    /// use wechatpay::NotificationAnswer;
    ///
    /// assert_eq!(NotificationAnswer::fail(409, "busy").status(), 409);
    /// assert_eq!(NotificationAnswer::fail(200, "oops").status(), 500);
    /// ```
    pub fn fail(status: u16, message: impl Into<String>) -> Self {
        let status = if (400..=599).contains(&status) { status } else { 500 };
        let body = serde_json::json!({"code": "FAIL", "message": message.into()}).to_string();
        NotificationAnswer { status, body }
    }

    /// The HTTP status.
    ///
    /// ```
    /// assert_eq!(wechatpay::NotificationAnswer::fail(400, "bad").status(), 400);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The JSON body.
    ///
    /// ```
    /// assert!(wechatpay::NotificationAnswer::fail(400, "bad").body().contains("FAIL"));
    /// ```
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Whether this answer tells WeChat Pay the callback was received.
    ///
    /// ```
    /// assert!(!wechatpay::NotificationAnswer::fail(500, "later").is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl From<&NotificationError> for NotificationAnswer {
    fn from(err: &NotificationError) -> Self {
        err.answer()
    }
}

/// Remembers, for the time window, the nonces of the callbacks parsed and the ids of those acknowledged, so
/// that a replayed callback is refused ([`NotificationError::Replayed`]) and a duplicate of one already handled is
/// answered without being processed twice ([`NotificationError::Duplicate`]). Memory is bounded: past
/// `capacity` entries the oldest are forgotten (and that is logged once).
///
/// Ids are remembered on [`NotificationParser::acknowledge`], not on parse: a callback whose processing failed
/// (and was answered FAIL) must be processed when WeChat Pay sends it again.
///
/// ```
/// use wechatpay::ReplayGuard;
///
/// let guard = ReplayGuard::new(10_000);
/// assert!(guard.is_empty());
/// ```
pub struct ReplayGuard {
    capacity: usize,
    state: Mutex<GuardState>,
}

#[derive(Default)]
struct GuardState {
    /// Entry → when it may be forgotten (Unix seconds).
    expiry: HashMap<Seen, i64>,
    /// Entries in the order remembered, with the expiry they were remembered with.
    order: VecDeque<(Seen, i64)>,
    overflow_logged: bool,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Seen {
    Nonce(String),
    Id(String),
}

impl ReplayGuard {
    /// The default capacity: 65,536 entries (a few MiB at most).
    ///
    /// ```
    /// assert_eq!(wechatpay::ReplayGuard::DEFAULT_CAPACITY, 65_536);
    /// ```
    pub const DEFAULT_CAPACITY: usize = 65_536;

    /// A guard that remembers at most `capacity` nonces and ids (at least one).
    ///
    /// ```
    /// let guard = wechatpay::ReplayGuard::new(1_000);
    /// assert_eq!(guard.len(), 0);
    /// ```
    pub fn new(capacity: usize) -> Self {
        ReplayGuard { capacity: capacity.max(1), state: Mutex::new(GuardState::default()) }
    }

    /// How many nonces and ids are remembered now.
    ///
    /// ```
    /// assert_eq!(wechatpay::ReplayGuard::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.lock().expiry.len()
    }

    /// Whether nothing is remembered.
    ///
    /// ```
    /// assert!(wechatpay::ReplayGuard::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remembers `seen` until `expires`; `false` when it is remembered already (and not expired).
    fn remember(&self, seen: Seen, expires: i64, now: i64) -> bool {
        let mut state = self.lock();
        state.forget_expired(now);
        match state.expiry.entry(seen.clone()) {
            MapEntry::Occupied(_) => return false,
            MapEntry::Vacant(vacant) => {
                vacant.insert(expires);
            }
        }
        state.order.push_back((seen, expires));
        while state.expiry.len() > self.capacity {
            state.forget_oldest();
            if !state.overflow_logged {
                state.overflow_logged = true;
                tracing::warn!(
                    capacity = self.capacity,
                    "the notification replay guard is full: it forgets its oldest entries early; give it a larger \
                     capacity (ReplayGuard::new)"
                );
            }
        }
        true
    }

    fn contains(&self, seen: &Seen, now: i64) -> bool {
        let mut state = self.lock();
        state.forget_expired(now);
        state.expiry.contains_key(seen)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GuardState> {
        // Every change leaves the map and the queue consistent between statements that cannot panic.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl GuardState {
    /// Forgets entries from the front while they are expired. Expiries are nearly in order, so this stops at the
    /// first live one; a later expired entry waits its turn (it cannot be replayed: the clock check refuses it).
    fn forget_expired(&mut self, now: i64) {
        while self.order.front().is_some_and(|(_, expires)| *expires <= now) {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((seen, expires)) = self.order.pop_front() {
            if self.expiry.get(&seen) == Some(&expires) {
                self.expiry.remove(&seen);
            }
        }
    }
}

impl Default for ReplayGuard {
    fn default() -> Self {
        ReplayGuard::new(Self::DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayGuard").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

/// Parses APIv3 callbacks: from the request's headers and exact body bytes to a verified, decrypted
/// [`Notification`]. Framework-agnostic (see [`NotificationHeaders`]); cheap to clone and share between threads.
///
/// Made from a Builder ([`Builder::notification_parser`]), it trusts the Builder's keys (a refreshed certificate
/// included) and, with [`AutoRefresh`](crate::AutoRefresh), a callback signed by an unknown serial starts a
/// certificate download in the background: the callback is refused now, and verifies when WeChat Pay sends it
/// again.
///
/// ```
/// # let server = wechatpay_mock::Server::builder()
/// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
/// # let ids = server.identities();
/// # let instance = wechatpay::Builder::factory(serde_json::json!({
/// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
/// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
/// #     "apiv3Key": ids.apiv3_key,
/// # }))?;
/// # let callback = server.notification("REFUND.SUCCESS", "退款成功", "refund",
/// #     &serde_json::json!({"out_refund_no": "R1", "refund_status": "SUCCESS"})).unwrap();
/// use wechatpay::{NotificationAnswer, ReplayGuard};
///
/// let parser = instance.notification_parser()?.replay_guard(ReplayGuard::default());
/// // In your web handler: `headers` and the raw `body` bytes of WeChat Pay's POST.
/// # let (headers, body) = (callback.headers.clone(), callback.body.clone());
/// let answer: NotificationAnswer = match parser.parse::<serde_json::Value, _>(&headers, &body) {
///     Ok(notification) => {
///         assert_eq!(notification.resource["refund_status"], "SUCCESS");
///         // ... record the refund, then:
///         parser.acknowledge(&notification)
///     }
///     Err(refused) => refused.answer(),
/// };
/// assert_eq!(answer.status(), 200);
/// // The same POST again is a replay.
/// assert!(parser.parse::<serde_json::Value, _>(&headers, &body).is_err());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct NotificationParser {
    verifier: Arc<dyn Verifier>,
    apiv3_key: Apiv3Key,
    max_clock_skew: Duration,
    guard: Option<Arc<ReplayGuard>>,
    /// The Builder's core, to refresh certificates on an unknown serial (with auto refresh).
    core: Option<Arc<Core>>,
}

impl Builder {
    /// A [`NotificationParser`] with this Builder's keys, APIv3 key and clock window. Needs
    /// [`ConfigBuilder::apiv3_key`](crate::ConfigBuilder::apiv3_key).
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let config = || wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").unwrap())
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem").unwrap());
    /// let without_key = wechatpay::Builder::factory(config())?;
    /// assert!(without_key.notification_parser().unwrap_err().to_string().contains("apiv3Key"));
    /// let instance = wechatpay::Builder::factory(config().apiv3_key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"))?;
    /// let parser = instance.notification_parser()?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn notification_parser(&self) -> Result<NotificationParser> {
        let config = self.config();
        let apiv3_key = config.apiv3_key.clone().ok_or_else(|| {
            Error::config(
                "apiv3Key",
                "it is required to decrypt notifications: ConfigBuilder::apiv3_key, or apiv3Key in the PHP config",
            )
        })?;
        Ok(NotificationParser {
            verifier: Arc::clone(&config.verifier),
            apiv3_key,
            max_clock_skew: config.max_clock_skew,
            guard: None,
            core: config.auto_refresh.is_some().then(|| Arc::clone(self.core())),
        })
    }
}

impl NotificationParser {
    /// A parser on its own, without a Builder: `verifier` holds WeChat Pay's keys (e.g. [`PlatformKeys`]), and
    /// `apiv3_key` is the 32-character APIv3 key.
    ///
    /// [`PlatformKeys`]: crate::PlatformKeys
    ///
    /// ```
    /// use wechatpay::{NotificationParser, PlatformKeys};
    /// use wechatpay::crypto::PublicKey;
    ///
    /// let keys = PlatformKeys::new();
    /// keys.insert("PUB_KEY_ID_0114232134912410000000000000000", PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?);
    /// let parser = NotificationParser::new(keys, "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")?;
    /// // The APIv3 key is checked, and never shown.
    /// let err = NotificationParser::new(PlatformKeys::new(), "not-32-bytes").unwrap_err();
    /// assert!(!err.to_string().contains("not-32-bytes"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn new(verifier: impl Verifier + 'static, apiv3_key: impl AsRef<[u8]>) -> Result<Self> {
        Ok(NotificationParser {
            verifier: Arc::new(verifier),
            apiv3_key: Apiv3Key::new(apiv3_key.as_ref(), "apiv3Key")?,
            max_clock_skew: Duration::from_secs(300),
            guard: None,
            core: None,
        })
    }

    /// How far `Wechatpay-Timestamp` may be from this machine's clock (default: the Builder's, else WeChat's 300 s).
    ///
    /// ```
    /// # use wechatpay::{NotificationParser, PlatformKeys};
    /// let parser = NotificationParser::new(PlatformKeys::new(), "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")?
    ///     .max_clock_skew(std::time::Duration::from_secs(120));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = skew;
        self
    }

    /// Refuses replays and recognises duplicates with `guard` (none by default). Clones of this parser share it.
    ///
    /// ```
    /// # use wechatpay::{NotificationParser, PlatformKeys, ReplayGuard};
    /// let parser = NotificationParser::new(PlatformKeys::new(), "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")?
    ///     .replay_guard(ReplayGuard::new(100_000));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn replay_guard(mut self, guard: ReplayGuard) -> Self {
        self.guard = Some(Arc::new(guard));
        self
    }

    /// Verifies and decrypts a callback: `headers` as received and `body` exactly as received (never a
    /// re-serialised JSON: the signature covers the bytes). `T` is the resource's type, or `serde_json::Value`.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// #     "apiv3Key": ids.apiv3_key,
    /// # }))?;
    /// use wechatpay::{NotificationError, VerificationFailure};
    /// use wechatpay_mock::Fault;
    ///
    /// let parser = instance.notification_parser()?;
    /// let callback = server.notification("TRANSACTION.SUCCESS", "支付成功", "transaction", &serde_json::json!({"a": 1})).unwrap();
    /// let notification = parser.parse::<serde_json::Value, _>(&callback.headers, &callback.body)?;
    /// assert_eq!(notification.resource["a"], 1);
    ///
    /// // WeChat Pay's probes are refused, as they must be.
    /// let probe = server.resign_notification(&callback, Some(Fault::SignTestProbe)).unwrap();
    /// let refused = parser.parse::<serde_json::Value, _>(&probe.headers, &probe.body).unwrap_err();
    /// assert_eq!(refused, NotificationError::Verification(VerificationFailure::Probe));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn parse<T, H>(&self, headers: &H, body: &[u8]) -> std::result::Result<Notification<T>, NotificationError>
    where
        T: DeserializeOwned,
        H: NotificationHeaders + ?Sized,
    {
        let signed = SignatureHeaders::read(headers, self.max_clock_skew).map_err(NotificationError::Verification)?;
        if let Err(failure) = signed.verify(body, &*self.verifier) {
            if let (VerificationFailure::UnknownSerial(serial), Some(core)) = (&failure, &self.core) {
                core.refresh_in_background(serial);
            }
            return Err(NotificationError::Verification(failure));
        }
        let timestamp = signed.unix_timestamp().map_err(NotificationError::Verification)?;
        let now = Formatter::timestamp();
        if let Some(guard) = &self.guard {
            // Past timestamp + window the clock check refuses it anyway.
            let expires = timestamp.saturating_add(self.window_secs()).saturating_add(1);
            if !guard.remember(Seen::Nonce(signed.nonce.to_owned()), expires, now) {
                return Err(NotificationError::Replayed { nonce: signed.nonce.to_owned() });
            }
        }

        let envelope: Envelope =
            serde_json::from_slice(body).map_err(|err| NotificationError::Malformed(err.to_string()))?;
        if let Some(guard) = &self.guard {
            if guard.contains(&Seen::Id(envelope.id.clone()), now) {
                return Err(NotificationError::Duplicate { id: envelope.id });
            }
        }
        let resource = envelope.resource;
        if resource.algorithm != "AEAD_AES_256_GCM" {
            return Err(NotificationError::UnsupportedAlgorithm(resource.algorithm));
        }
        if resource.nonce.len() != AesGcm::NONCE_LENGTH_BYTE {
            return Err(NotificationError::Malformed(format!(
                "resource.nonce must be {} characters, not {}",
                AesGcm::NONCE_LENGTH_BYTE,
                resource.nonce.len()
            )));
        }
        let ciphertext = STANDARD
            .decode(resource.ciphertext.trim())
            .map_err(|_| NotificationError::Malformed("resource.ciphertext is not base64".to_owned()))?;
        let plaintext = AesGcm::decrypt_bytes(
            &ciphertext,
            self.apiv3_key.as_bytes(),
            resource.nonce.as_bytes(),
            resource.associated_data.as_bytes(),
        )
        .map_err(|_| NotificationError::Decryption)?;
        let decrypted: T =
            serde_json::from_slice(&plaintext).map_err(|err| NotificationError::Resource(err.to_string()))?;
        Ok(Notification {
            id: envelope.id,
            create_time: envelope.create_time,
            event_type: envelope.event_type,
            resource_type: envelope.resource_type,
            summary: envelope.summary,
            original_type: resource.original_type,
            resource: decrypted,
            serial: signed.serial.to_owned(),
            timestamp,
            nonce: signed.nonce.to_owned(),
        })
    }

    /// The success answer for a handled notification; with a [`ReplayGuard`], its id is remembered for the time
    /// window so that WeChat Pay's resend (when this answer gets lost) is a [`NotificationError::Duplicate`].
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// #     "apiv3Key": ids.apiv3_key,
    /// # }))?;
    /// use wechatpay::{NotificationError, ReplayGuard};
    ///
    /// let parser = instance.notification_parser()?.replay_guard(ReplayGuard::default());
    /// let callback = server.notification("REFUND.SUCCESS", "退款成功", "refund", &serde_json::json!({})).unwrap();
    /// let notification = parser.parse::<serde_json::Value, _>(&callback.headers, &callback.body)?;
    /// assert!(parser.acknowledge(&notification).is_success());
    /// // WeChat Pay did not get the answer and sends it again, signed anew.
    /// let resent = server.resign_notification(&callback, None).unwrap();
    /// let again = parser.parse::<serde_json::Value, _>(&resent.headers, &resent.body).unwrap_err();
    /// assert_eq!(again, NotificationError::Duplicate { id: callback.id.clone() });
    /// assert!(again.answer().is_success());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn acknowledge<T>(&self, notification: &Notification<T>) -> NotificationAnswer {
        if let Some(guard) = &self.guard {
            let now = Formatter::timestamp();
            guard.remember(Seen::Id(notification.id.clone()), now.saturating_add(self.window_secs()), now);
        }
        NotificationAnswer::success()
    }

    fn window_secs(&self) -> i64 {
        i64::try_from(self.max_clock_skew.as_secs()).unwrap_or(i64::MAX)
    }
}

impl fmt::Debug for NotificationParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationParser")
            .field("apiv3_key", &self.apiv3_key)
            .field("max_clock_skew", &self.max_clock_skew)
            .field("replay_guard", &self.guard)
            .field("refreshes_certificates", &self.core.is_some())
            .finish_non_exhaustive()
    }
}

/// The notification body, before `resource` is decrypted.
#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(default)]
    create_time: String,
    event_type: String,
    #[serde(default)]
    resource_type: String,
    #[serde(default)]
    summary: String,
    resource: EncryptedResource,
}

#[derive(Deserialize)]
struct EncryptedResource {
    algorithm: String,
    ciphertext: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
    #[serde(default)]
    original_type: String,
}

impl From<NotificationError> for Error {
    fn from(err: NotificationError) -> Self {
        Error::Notification(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_forgets_expired_entries_and_stays_bounded() {
        let guard = ReplayGuard::new(3);
        assert!(guard.remember(Seen::Nonce("a".into()), 100, 0));
        assert!(!guard.remember(Seen::Nonce("a".into()), 100, 1), "remembered");
        assert!(guard.remember(Seen::Id("a".into()), 100, 1), "ids and nonces are apart");
        // Expired: forgotten, so the nonce is accepted again (the clock check refuses it in real use).
        assert!(guard.remember(Seen::Nonce("a".into()), 200, 100));
        assert!(guard.remember(Seen::Nonce("b".into()), 200, 100));
        assert!(guard.remember(Seen::Nonce("c".into()), 200, 100));
        assert!(guard.remember(Seen::Nonce("d".into()), 200, 100));
        assert_eq!(guard.len(), 3, "bounded");
        assert!(!guard.contains(&Seen::Nonce("a".into()), 100), "the oldest went first");
        assert!(guard.contains(&Seen::Nonce("d".into()), 100));
    }

    #[test]
    fn failed_answers_are_never_2xx_and_escape_their_message() {
        let answer = NotificationAnswer::fail(204, "quote \" and 中文");
        assert_eq!(answer.status(), 500);
        let body: Value = serde_json::from_str(answer.body()).unwrap();
        assert_eq!(body["message"], "quote \" and 中文");
    }
}
