//! The configuration `Builder::factory` takes: the typed [`Config`] (via [`ConfigBuilder`]) or the PHP SDK's array,
//! as a `serde_json::Value`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use url::Url;
use zeroize::Zeroizing;

use crate::certificates::AutoRefresh;
use crate::crypto::{Certificate, PrivateKey, PublicKey};
use crate::error::{Error, Result, shown_name};
use crate::retry::Retry;
use crate::signer::{RsaSigner, Signer};
use crate::verifier::{PlatformKeys, Verifier};

/// WeChat Pay's main host.
///
/// ```
/// # use wechatpay::crypto::{Certificate, PrivateKey};
/// # let builder = wechatpay::Config::builder().mchid("1900000001")
/// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
/// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
/// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
/// assert_eq!(builder.build()?.base_uri(), wechatpay::DEFAULT_BASE_URI);
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub const DEFAULT_BASE_URI: &str = "https://api.mch.weixin.qq.com/";
/// The official backup host, for failover.
///
/// ```
/// # use wechatpay::crypto::{Certificate, PrivateKey};
/// # let builder = wechatpay::Config::builder().mchid("1900000001")
/// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
/// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
/// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
/// // Same keys, other host: fail over by building a second client.
/// let backup = wechatpay::Builder::factory(builder.base_uri(wechatpay::BACKUP_BASE_URI))?;
/// assert_eq!(backup.config().base_uri(), "https://api2.mch.weixin.qq.com/");
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub const BACKUP_BASE_URI: &str = "https://api2.mch.weixin.qq.com/";
/// The overseas host (`/v3/global/*`).
///
/// ```
/// # use wechatpay::crypto::{Certificate, PrivateKey};
/// # let builder = wechatpay::Config::builder().mchid("1900000001")
/// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
/// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
/// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
/// let overseas = wechatpay::Builder::factory(builder.base_uri(wechatpay::HK_BASE_URI))?;
/// let url = overseas.v3().global().transactions().url(())?;
/// assert_eq!(url, "https://apihk.mch.weixin.qq.com/v3/global/transactions");
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub const HK_BASE_URI: &str = "https://apihk.mch.weixin.qq.com/";

/// The default [`ConfigBuilder::timeout`] of a whole request: 30 s, as WeChat Pay's Go SDK.
///
/// ```
/// assert_eq!(wechatpay::DEFAULT_TIMEOUT, std::time::Duration::from_secs(30));
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default [`ConfigBuilder::connect_timeout`]: 10 s.
///
/// ```
/// assert_eq!(wechatpay::DEFAULT_CONNECT_TIMEOUT, std::time::Duration::from_secs(10));
/// ```
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default [`ConfigBuilder::max_response_size`]: 4 MiB, far above any JSON or XML answer WeChat Pay sends.
///
/// ```
/// # use wechatpay::crypto::{Certificate, PrivateKey};
/// # let builder = wechatpay::Config::builder().mchid("1900000001")
/// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
/// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
/// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
/// assert_eq!(builder.build()?.max_response_size(), wechatpay::DEFAULT_MAX_RESPONSE_SIZE);
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub const DEFAULT_MAX_RESPONSE_SIZE: u64 = 4 * 1024 * 1024;

/// The length of a merchant API certificate serial in hex: WeChat Pay issues them with 20-byte serials.
const MERCHANT_SERIAL_LENGTH: usize = 40;

/// The keys the PHP-shaped config may have (`apiv3Key` and `autoRefresh` are this SDK's own).
const CONFIG_KEYS: [&str; 15] = [
    "mchid",
    "serial",
    "privateKey",
    "certs",
    "secret",
    "apiv3Key",
    "autoRefresh",
    "merchant",
    "base_uri",
    "timeout",
    "connect_timeout",
    "verify",
    "maxResponseSize",
    "allowPlainHttp",
    "retry",
];

/// Everything a [`Builder`](crate::Builder) needs: who the merchant is, how to sign, whom to trust, where to go.
///
/// Made by [`Config::builder`] or from the PHP SDK's config array with [`Config::from_value`]; keys are parsed
/// once, here, never per request.
///
/// ```
/// use wechatpay::Config;
/// use wechatpay::crypto::{Certificate, PrivateKey};
///
/// let config = Config::builder()
///     .mchid("1900000001")
///     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
///     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
///     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?)
///     .build()?;
/// assert_eq!(config.mchid(), "1900000001");
/// assert!(!format!("{config:?}").contains("PRIVATE"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) mchid: String,
    pub(crate) serial: String,
    pub(crate) signer: Arc<dyn Signer>,
    /// Whether `signer` is the built-in one over `private_key`, which needs no runtime of its own: only then may the
    /// blocking verbs run a request on their caller's thread (see [`crate::runtime`]).
    pub(crate) signs_in_process: bool,
    pub(crate) private_key: Option<PrivateKey>,
    pub(crate) verifier: Arc<dyn Verifier>,
    pub(crate) platform_keys: Option<PlatformKeys>,
    pub(crate) secret: Option<Secret>,
    pub(crate) apiv3_key: Option<Apiv3Key>,
    pub(crate) auto_refresh: Option<AutoRefresh>,
    pub(crate) merchant_tls: Option<(Certificate, PrivateKey)>,
    /// DER of each extra TLS root.
    pub(crate) root_certificates: Vec<Vec<u8>>,
    pub(crate) base_uri: Url,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) io_threads: usize,
    pub(crate) max_clock_skew: Duration,
    pub(crate) max_response_size: u64,
    pub(crate) allow_plain_http: bool,
    pub(crate) retry: Option<Retry>,
    /// The origin of `retry.failover_to`, parsed.
    pub(crate) retry_failover: Option<Url>,
}

impl Config {
    /// Starts a typed configuration.
    ///
    /// ```
    /// let err = wechatpay::Config::builder().mchid("1900000001").build().unwrap_err();
    /// assert!(err.to_string().contains("serial"));
    /// ```
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Reads the PHP SDK's config array:
    /// `{"mchid", "serial", "privateKey", "certs": {serial: key or certificate}, "secret"?, "merchant"?: {"cert", "key"},
    /// "base_uri"?, "timeout"?, "connect_timeout"?, "verify"?}`; an encrypted `merchant.key` is PHP's
    /// `[key, passphrase]`. Keys and certificates follow
    /// [`Rsa::from`](crate::crypto::Rsa::from): `file://` paths, PEM text or prefixed base64. Timeouts are seconds.
    /// `verify` is Guzzle's option: a CA bundle (a path, `file://` path or PEM text) whose certificates are trusted
    /// as [`ConfigBuilder::root_certificate`] trusts them, beside the system's roots (Guzzle would trust the bundle
    /// alone); `false` is refused.
    ///
    /// Some keys are this SDK's own: `"apiv3Key"` (the APIv3 key, see [`ConfigBuilder::apiv3_key`]; PHP's `secret`
    /// is the APIv2 key), `"autoRefresh"` (see [`ConfigBuilder::auto_refresh`]): `true` for the defaults, or
    /// `{"interval": seconds or null for none, "minGap": seconds}`; `"maxResponseSize"` (bytes, see
    /// [`ConfigBuilder::max_response_size`]), `"allowPlainHttp"` (see [`ConfigBuilder::allow_plain_http`]) and
    /// `"retry"` (see [`ConfigBuilder::retry`]). Timeouts default to 30 s (`timeout`) and 10 s (`connect_timeout`).
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay::Config;
    ///
    /// let config = Config::from_value(&json!({
    ///     "mchid": "1900000001",
    ///     "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    ///     "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    ///     "certs": {
    ///         "440024045C4A427599D09BB4E3DE0279F2E813FD": "file://tests/fixtures/wechat_pay_certificate.pem",
    ///         "PUB_KEY_ID_0114232134912410000000000000000": "file://tests/fixtures/wechat_pay_public_key.pem",
    ///     },
    ///     "timeout": 10,
    /// }))?;
    ///
    /// let err = Config::from_value(&json!({"mchid": "1900000001"})).unwrap_err();
    /// assert!(err.to_string().contains("serial"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_value(value: &Value) -> Result<Config> {
        let Value::Object(object) = value else {
            return Err(Error::config("config", "it must be a JSON object with mchid, serial, privateKey and certs"));
        };
        if let Some(unknown) = object.keys().find(|key| !CONFIG_KEYS.contains(&key.as_str())) {
            return Err(Error::config(
                shown_name(unknown),
                format!("not a config key; the keys are {}", CONFIG_KEYS.join(", ")),
            ));
        }
        let text = |key: &'static str| -> Result<Option<&str>> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.as_str())),
                Some(_) => Err(Error::config(key, "it must be a string")),
            }
        };
        let seconds = |key: &'static str| -> Result<Option<Duration>> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => crate::options::seconds(value)
                    .map(Some)
                    .ok_or_else(|| Error::config(key, "it must be a positive number of seconds")),
            }
        };

        let mut builder = Config::builder();
        builder.mchid = text("mchid")?.map(str::to_owned);
        builder.serial = text("serial")?.map(str::to_owned);
        if let Some(key) = text("privateKey")? {
            builder.private_key = Some(PrivateKey::load(key).map_err(|err| Error::config("privateKey", err))?);
        }
        match object.get("certs") {
            None | Some(Value::Null) => {}
            Some(Value::Object(certs)) => {
                for (serial, thing) in certs {
                    let Value::String(thing) = thing else {
                        return Err(Error::config(
                            format!("certs.{}", shown_name(serial)),
                            "it must be a string: a key or certificate",
                        ));
                    };
                    builder = builder.cert_from(serial, thing)?;
                }
            }
            Some(_) => return Err(Error::config("certs", "it must be an object of serial to key or certificate")),
        }
        if let Some(secret) = text("secret")? {
            builder = builder.secret(secret);
        }
        if let Some(key) = text("apiv3Key")? {
            builder = builder.apiv3_key(key);
        }
        match object.get("autoRefresh") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => builder = builder.auto_refresh(AutoRefresh::default()),
            Some(Value::Object(refresh)) => {
                let mut policy = AutoRefresh::default();
                for (key, value) in refresh {
                    let field = || format!("autoRefresh.{}", shown_name(key));
                    match (key.as_str(), value) {
                        ("interval", Value::Null | Value::Bool(false)) => policy.interval = None,
                        ("interval", value) => {
                            let interval = crate::options::seconds(value)
                                .ok_or_else(|| Error::config(field(), "it must be a positive number of seconds"))?;
                            policy.interval = Some(interval);
                        }
                        ("minGap", value) if value.as_f64() == Some(0.0) => policy.min_gap = Duration::ZERO,
                        ("minGap", value) => {
                            policy.min_gap = crate::options::seconds(value)
                                .ok_or_else(|| Error::config(field(), "it must be a number of seconds, 0 or more"))?;
                        }
                        _ => return Err(Error::config(field(), "not a refresh setting; they are interval and minGap")),
                    }
                }
                builder = builder.auto_refresh(policy);
            }
            Some(_) => {
                return Err(Error::config(
                    "autoRefresh",
                    "it must be true, false, or an object {\"interval\": seconds, \"minGap\": seconds}",
                ));
            }
        }
        match object.get("merchant") {
            None | Some(Value::Null) => {}
            Some(Value::Object(merchant)) => {
                let (cert, passphrase) = merchant_field(merchant, "cert")?;
                if passphrase.is_some_and(|passphrase| !passphrase.is_empty()) {
                    return Err(Error::config(
                        "merchant.cert",
                        "a passphrase for the certificate is not needed: apiclient_cert.pem is not encrypted; give \
                         its path alone (a passphrase belongs to an encrypted key: merchant.key = [path, passphrase])",
                    ));
                }
                let certificate = Certificate::load(cert).map_err(|err| Error::config("merchant.cert", err))?;
                let (key, passphrase) = merchant_field(merchant, "key")?;
                let key = match passphrase {
                    Some(passphrase) => PrivateKey::load_with_passphrase(key, passphrase),
                    None => PrivateKey::load(key),
                }
                .map_err(|err| Error::config("merchant.key", err))?;
                builder = builder.merchant_tls(certificate, key);
            }
            Some(_) => return Err(Error::config("merchant", "it must be an object with cert and key")),
        }
        if let Some(base_uri) = text("base_uri")? {
            builder = builder.base_uri(base_uri);
        }
        match object.get("verify") {
            None | Some(Value::Null) | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                return Err(Error::config(
                    "verify",
                    "turning TLS verification off is not supported: give the CA bundle (a path or PEM) to trust instead",
                ));
            }
            Some(Value::String(bundle)) if bundle.trim_start().starts_with("-----BEGIN") => {
                builder = builder.root_certificate(bundle.as_bytes());
            }
            Some(Value::String(path)) => {
                let path = path.strip_prefix("file://").unwrap_or(path);
                // A CA bundle is at most a few hundred KiB (the system's); never read something endless whole.
                let bundle = crate::crypto::source::read_bounded(path, 16 * 1024 * 1024)
                    .map_err(|err| Error::config("verify", format!("cannot read the CA bundle {path}: {err}")))?;
                builder = builder.root_certificate(bundle);
            }
            Some(_) => return Err(Error::config("verify", "it must be a CA bundle: a file path or PEM text")),
        }
        builder.timeout = seconds("timeout")?;
        builder.connect_timeout = seconds("connect_timeout")?;
        match object.get("retry") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => builder = builder.retry(Retry::default()),
            Some(Value::Object(settings)) => {
                let mut retry = Retry::default();
                for (key, value) in settings {
                    let field = || format!("retry.{}", shown_name(key));
                    let seconds = || {
                        value
                            .as_f64()
                            .filter(|seconds| *seconds >= 0.0)
                            .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    };
                    match (key.as_str(), value) {
                        ("attempts", value) => {
                            retry.max_attempts = value
                                .as_u64()
                                .and_then(|attempts| u32::try_from(attempts).ok())
                                .ok_or_else(|| Error::config(field(), "it must be a whole number, at least 1"))?;
                        }
                        ("initialBackoff", _) => {
                            retry.initial_backoff =
                                seconds().ok_or_else(|| Error::config(field(), "it must be seconds, 0 or more"))?;
                        }
                        ("maxBackoff", _) => {
                            retry.max_backoff =
                                seconds().ok_or_else(|| Error::config(field(), "it must be seconds, 0 or more"))?;
                        }
                        ("failover", Value::Bool(true)) => retry = retry.failover(),
                        ("failover", Value::Bool(false) | Value::Null) => retry.failover_to = None,
                        ("failover", Value::String(uri)) => retry = retry.failover_to(uri.as_str()),
                        ("failover", _) => {
                            return Err(Error::config(field(), "it must be true (the backup host), false, or a URI"));
                        }
                        ("retryWrites", Value::Bool(writes)) => retry.retry_writes = *writes,
                        ("retryWrites", _) => return Err(Error::config(field(), "it must be true or false")),
                        _ => {
                            return Err(Error::config(
                                field(),
                                "not a retry setting; they are attempts, initialBackoff, maxBackoff, failover and \
                                 retryWrites",
                            ));
                        }
                    }
                }
                builder = builder.retry(retry);
            }
            Some(_) => {
                return Err(Error::config(
                    "retry",
                    "it must be true, false, or an object {\"attempts\", \"initialBackoff\", \"maxBackoff\", \
                     \"failover\", \"retryWrites\"}",
                ));
            }
        }
        match object.get("allowPlainHttp") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(allow)) => builder = builder.allow_plain_http(*allow),
            Some(_) => return Err(Error::config("allowPlainHttp", "it must be true or false")),
        }
        match object.get("maxResponseSize") {
            None | Some(Value::Null) => {}
            Some(value) => {
                let bytes = value
                    .as_u64()
                    .filter(|bytes| *bytes > 0)
                    .ok_or_else(|| Error::config("maxResponseSize", "it must be a positive whole number of bytes"))?;
                builder = builder.max_response_size(bytes);
            }
        }
        builder.build()
    }

    /// The merchant id.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// assert_eq!(builder.build()?.mchid(), "1900000001");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn mchid(&self) -> &str {
        &self.mchid
    }

    /// The merchant API certificate serial.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// assert_eq!(builder.build()?.serial(), "5F1C72E2A8931B72A2E13AF8DEE92471EB397115");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The base URI requests go to.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let config = builder.base_uri("https://api.mch.weixin.qq.com/hk").build()?;
    /// assert_eq!(config.base_uri(), "https://api.mch.weixin.qq.com/hk/");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn base_uri(&self) -> &str {
        self.base_uri.as_str()
    }

    /// The merchant private key, when one was configured: it decrypts the sensitive fields of answers.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let config = builder.build()?;
    /// let key = config.private_key().expect("configured");
    /// // What a sensitive answer field would hold, encrypted with the merchant's public key.
    /// let ciphertext = wechatpay::crypto::Rsa::encrypt("张三", &key.public_key()?)?;
    /// assert_eq!(wechatpay::crypto::Rsa::decrypt(&ciphertext, key)?, "张三");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn private_key(&self) -> Option<&PrivateKey> {
        self.private_key.as_ref()
    }

    /// The configured platform keys (certificates and public keys by serial), unless a custom verifier replaced
    /// them entirely: pick one of them to encrypt sensitive request fields.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let config = builder.build()?;
    /// let keys = config.platform_keys().expect("configured");
    /// assert_eq!(keys.serials(), ["440024045C4A427599D09BB4E3DE0279F2E813FD"]);
    /// // Encrypt a sensitive request field, then send that serial in the Wechatpay-Serial header.
    /// let key = keys.get("440024045C4A427599D09BB4E3DE0279F2E813FD").expect("known serial");
    /// let name = wechatpay::crypto::Rsa::encrypt("张三", &key)?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn platform_keys(&self) -> Option<&PlatformKeys> {
        self.platform_keys.as_ref()
    }

    /// The merchant certificate for APIv2 mutual TLS, when configured.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let certificate = Certificate::load("file://tests/fixtures/merchant_certificate.pem")?;
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let config = builder.merchant_tls(certificate, key).build()?;
    /// let serial = config.merchant_certificate().map(Certificate::serial_number);
    /// assert_eq!(serial, Some("5F1C72E2A8931B72A2E13AF8DEE92471EB397115"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn merchant_certificate(&self) -> Option<&Certificate> {
        self.merchant_tls.as_ref().map(|(certificate, _)| certificate)
    }

    /// The DER of each root certificate trusted for TLS besides the system's (see
    /// [`ConfigBuilder::root_certificate`]).
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// let config = wechatpay::Config::from_value(&serde_json::json!({
    ///     "mchid": "1900000001",
    ///     "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    ///     "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    ///     "certs": {"440024045C4A427599D09BB4E3DE0279F2E813FD": "file://tests/fixtures/wechat_pay_certificate.pem"},
    ///     "verify": "tests/fixtures/wechat_pay_certificate.pem",
    /// }))?;
    /// let platform = Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?;
    /// assert_eq!(config.root_certificates(), [platform.to_der()]);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn root_certificates(&self) -> &[Vec<u8>] {
        &self.root_certificates
    }

    /// Whether an APIv2 key (`secret`) is configured. The key itself is never shown.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let config = builder.secret("192006250b4c09247ec02edce69f6a2d").build()?;
    /// assert!(config.has_apiv2_key());
    /// assert!(!format!("{config:?}").contains("192006250b4c09247ec02edce69f6a2d"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn has_apiv2_key(&self) -> bool {
        self.secret.as_ref().is_some_and(|secret| !secret.0.is_empty())
    }

    /// Whether the APIv3 key is configured (for callbacks and certificate downloads). The key itself is never
    /// shown.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let config = builder.apiv3_key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").build()?;
    /// assert!(config.has_apiv3_key());
    /// assert!(!format!("{config:?}").contains("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn has_apiv3_key(&self) -> bool {
        self.apiv3_key.is_some()
    }

    /// The automatic certificate refresh, when enabled.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechatpay::AutoRefresh;
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let config = builder.apiv3_key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").auto_refresh(AutoRefresh::default()).build()?;
    /// assert_eq!(config.auto_refresh().and_then(|refresh| refresh.interval), Some(Duration::from_secs(24 * 3600)));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn auto_refresh(&self) -> Option<&AutoRefresh> {
        self.auto_refresh.as_ref()
    }

    /// The retry policy, when configured (see [`ConfigBuilder::retry`]).
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let config = builder.retry(wechatpay::Retry::default().failover()).build()?;
    /// assert_eq!(config.retry().map(|retry| retry.max_attempts), Some(3));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn retry(&self) -> Option<&Retry> {
        self.retry.as_ref()
    }

    /// The whole-request timeout (see [`ConfigBuilder::timeout`]).
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// assert_eq!(builder.build()?.timeout(), wechatpay::DEFAULT_TIMEOUT);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The connection timeout (see [`ConfigBuilder::connect_timeout`]).
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// assert_eq!(builder.build()?.connect_timeout(), wechatpay::DEFAULT_CONNECT_TIMEOUT);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The largest answer body read whole, in bytes (see [`ConfigBuilder::max_response_size`]).
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// let config = wechatpay::Config::from_value(&serde_json::json!({
    ///     "mchid": "1900000001",
    ///     "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    ///     "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    ///     "certs": {"PUB_KEY_ID_0114232134912410000000000000000": "file://tests/fixtures/wechat_pay_public_key.pem"},
    ///     "maxResponseSize": 65536,
    /// }))?;
    /// assert_eq!(config.max_response_size(), 65536);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn max_response_size(&self) -> u64 {
        self.max_response_size
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("mchid", &self.mchid)
            .field("serial", &self.serial)
            .field("certs", &self.platform_keys.as_ref().map(PlatformKeys::serials))
            .field("secret", &self.secret)
            .field("apiv3_key", &self.apiv3_key)
            .field("auto_refresh", &self.auto_refresh)
            .field("base_uri", &self.base_uri.as_str())
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_response_size", &self.max_response_size)
            .field("allow_plain_http", &self.allow_plain_http)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A secret string (the APIv2 key): zeroized on drop, never shown.
#[derive(Clone)]
pub(crate) struct Secret(pub(crate) Zeroizing<String>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The APIv3 key: 32 bytes used as the AES-256-GCM key of callbacks and certificate downloads. Zeroized on drop,
/// never shown.
#[derive(Clone)]
pub(crate) struct Apiv3Key(Zeroizing<[u8; 32]>);

impl Apiv3Key {
    /// Checks the length; the error never quotes the key.
    pub(crate) fn new(key: &[u8], field: &str) -> Result<Apiv3Key> {
        if key.len() != 32 {
            return Err(Error::config(
                field,
                format!(
                    "it must be the 32-character APIv3 key set on the merchant platform (Account > API security), \
                     not {} bytes; PHP's `secret` is the APIv2 key",
                    key.len()
                ),
            ));
        }
        // Copied straight into the zeroizing buffer: no stray copy of the key is left behind.
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(key);
        Ok(Apiv3Key(bytes))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl fmt::Debug for Apiv3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Apiv3Key(<redacted>)")
    }
}

/// Builds a [`Config`]. `mchid`, `serial`, a private key (or [`signer`](Self::signer)) and at least one platform
/// key (or [`verifier`](Self::verifier)) are required.
///
/// ```
/// use wechatpay::crypto::PrivateKey;
///
/// let builder = wechatpay::Config::builder()
///     .mchid("1900000001")
///     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
///     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?);
/// // No platform key yet: answers could not be verified, so this is refused.
/// assert!(builder.build().unwrap_err().to_string().contains("certs"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Default)]
pub struct ConfigBuilder {
    mchid: Option<String>,
    serial: Option<String>,
    private_key: Option<PrivateKey>,
    signer: Option<Arc<dyn Signer>>,
    keys: PlatformKeys,
    verifier: Option<Arc<dyn Verifier>>,
    secret: Option<Secret>,
    apiv3_key: Option<Zeroizing<String>>,
    auto_refresh: Option<AutoRefresh>,
    merchant_tls: Option<(Certificate, PrivateKey)>,
    /// PEM or DER as given: parsed by `build`.
    root_certificates: Vec<Vec<u8>>,
    base_uri: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    io_threads: Option<usize>,
    max_clock_skew: Option<Duration>,
    max_response_size: Option<u64>,
    allow_plain_http: bool,
    retry: Option<Retry>,
}

impl ConfigBuilder {
    /// The merchant id (`mchid`).
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let err = builder.mchid("1900 0001").build().unwrap_err();
    /// assert!(err.to_string().contains("letters and digits"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn mchid(mut self, mchid: impl Into<String>) -> Self {
        self.mchid = Some(mchid.into());
        self
    }

    /// The serial of the merchant API certificate (`apiclient_cert.pem`): 40 hex digits (lower case is accepted and
    /// sent in upper case). Any other length is refused when the config is built, rather than by WeChat Pay later.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let err = builder.serial("apiclient_cert.pem").build().unwrap_err();
    /// assert!(err.to_string().contains("hex"));
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let err = builder.serial("5F1C").build().unwrap_err();
    /// assert!(err.to_string().contains("40 hex digits"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn serial(mut self, serial: impl Into<String>) -> Self {
        self.serial = Some(serial.into());
        self
    }

    /// The merchant API private key (`apiclient_key.pem`): signs requests and decrypts sensitive answers.
    ///
    /// ```
    /// use wechatpay::Config;
    /// use wechatpay::crypto::{Certificate, PrivateKey};
    ///
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let config = Config::builder()
    ///     .mchid("1900000001")
    ///     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    ///     .private_key(key.clone())
    /// #   .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?)
    ///     .build()?;
    /// assert_eq!(config.private_key().map(PrivateKey::bits), Some(2048));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn private_key(mut self, key: PrivateKey) -> Self {
        self.private_key = Some(key);
        self
    }

    /// Signs with something else than an in-process key (a KMS, an HSM). [`private_key`](Self::private_key) may
    /// still be given for decryption.
    ///
    /// ```
    /// use wechatpay::{Config, RsaSigner};
    /// use wechatpay::crypto::{Certificate, PrivateKey};
    ///
    /// # let kms = RsaSigner::new(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?);
    /// let config = Config::builder()
    ///     .mchid("1900000001")
    ///     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    ///     .signer(kms)
    ///     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?)
    ///     .build()?;
    /// // The key stays in the KMS: nothing here can decrypt sensitive answers.
    /// assert!(config.private_key().is_none());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn signer(mut self, signer: impl Signer + 'static) -> Self {
        self.signer = Some(Arc::new(signer));
        self
    }

    /// Trusts `key` for answers signed with `serial`: a platform certificate serial or a `PUB_KEY_ID_...`.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// let config = builder.cert("PUB_KEY_ID_0114232134912410000000000000000", key).build()?;
    /// assert_eq!(config.platform_keys().map(|keys| keys.len()), Some(2));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn cert(self, serial: impl Into<String>, key: PublicKey) -> Self {
        self.keys.insert(serial, key);
        self
    }

    /// Trusts a platform certificate, under its own serial.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// // The merchant's own certificate is no platform certificate: refused.
    /// let own = Certificate::load("file://tests/fixtures/merchant_certificate.pem")?;
    /// let err = builder.platform_certificate(own).build().unwrap_err();
    /// assert!(err.to_string().contains("never your own certificate"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn platform_certificate(self, certificate: Certificate) -> Self {
        self.keys.insert_certificate(&certificate);
        self
    }

    /// Trusts the WeChat Pay public key with id `PUB_KEY_ID_...`.
    ///
    /// ```
    /// use wechatpay::Config;
    /// use wechatpay::crypto::{PrivateKey, PublicKey};
    ///
    /// let config = Config::builder()
    ///     .mchid("1900000001")
    ///     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    ///     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    ///     .public_key(
    ///         "PUB_KEY_ID_0114232134912410000000000000000",
    ///         PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?,
    ///     )
    ///     .build()?;
    /// assert!(config.platform_keys().unwrap().contains("PUB_KEY_ID_0114232134912410000000000000000"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn public_key(self, id: impl Into<String>, key: PublicKey) -> Self {
        self.cert(id, key)
    }

    /// Trusts a key or certificate given by [`Rsa::from`](crate::crypto::Rsa::from) rules; a certificate must carry
    /// the serial it is filed under.
    ///
    /// ```
    /// let err = wechatpay::Config::builder()
    ///     .cert_from("ABCDEF", "file://tests/fixtures/wechat_pay_certificate.pem")
    ///     .err()
    ///     .unwrap();
    /// assert!(err.to_string().contains("440024045C4A427599D09BB4E3DE0279F2E813FD"));
    /// ```
    pub fn cert_from(self, serial: &str, thing: &str) -> Result<Self> {
        check_platform_serial(serial)?;
        let field = || format!("certs.{serial}");
        if let Ok(certificate) = Certificate::load(thing) {
            if !certificate.serial_number().eq_ignore_ascii_case(serial.trim()) {
                return Err(Error::config(
                    field(),
                    format!("the certificate's serial is {}: file it under that serial", certificate.serial_number()),
                ));
            }
            return Ok(self.platform_certificate(certificate));
        }
        let key = PublicKey::load(thing).map_err(|err| Error::config(field(), err))?;
        Ok(self.cert(serial, key))
    }

    /// Verifies answers with something else than the configured keys.
    ///
    /// ```
    /// use wechatpay::{Config, PlatformKeys};
    /// use wechatpay::crypto::{Certificate, PrivateKey};
    ///
    /// // A key store shared with (and refreshed by) other parts of the program.
    /// let shared = PlatformKeys::new();
    /// shared.insert_certificate(&Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let config = Config::builder()
    ///     .mchid("1900000001")
    ///     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    ///     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    ///     .verifier(shared)
    ///     .build()?;
    /// assert!(config.platform_keys().is_none());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn verifier(mut self, verifier: impl Verifier + 'static) -> Self {
        self.verifier = Some(Arc::new(verifier));
        self
    }

    /// The APIv2 key (`secret`), for APIv2 signatures and `req_info` decryption.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// assert!(builder.secret("192006250b4c09247ec02edce69f6a2d").build()?.has_apiv2_key());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(Secret(Zeroizing::new(secret.into())));
        self
    }

    /// The APIv3 key (`apiv3Key` in the PHP-shaped config): the 32-character key set on the merchant platform. It
    /// decrypts callbacks ([`NotificationParser`](crate::NotificationParser)) and downloaded platform certificates
    /// ([`Builder::refresh_certificates`](crate::Builder::refresh_certificates)). It is zeroized on drop and never
    /// shown in `Debug`, errors or logs. Not PHP's `secret`, which is the APIv2 key.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = || wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").unwrap())
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem").unwrap());
    /// assert!(builder().apiv3_key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").build()?.has_apiv3_key());
    /// // The wrong length is refused, and the error never quotes the key.
    /// let err = builder().apiv3_key("tooshort-but-secret").build().unwrap_err();
    /// assert!(err.to_string().contains("32-character APIv3 key"));
    /// assert!(!err.to_string().contains("tooshort-but-secret"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn apiv3_key(mut self, key: impl Into<String>) -> Self {
        self.apiv3_key = Some(Zeroizing::new(key.into()));
        self
    }

    /// Keeps the platform certificates current (needs [`apiv3_key`](Self::apiv3_key)): downloads
    /// `GET /v3/certificates` in the background every [`AutoRefresh::interval`] (first right away), and when an
    /// answer names an unknown `Wechatpay-Serial` (one download for any number of such answers at once, at most one
    /// per [`AutoRefresh::min_gap`]), then verifies that answer again. With it, `certs` may start empty. A merchant
    /// without platform certificates (404/403/500 there) keeps using its configured public key; that is logged once.
    ///
    /// ```
    /// use wechatpay::{AutoRefresh, Config};
    /// use wechatpay::crypto::PrivateKey;
    ///
    /// let config = Config::builder()
    ///     .mchid("1900000001")
    ///     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    ///     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    ///     .apiv3_key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb")
    ///     .auto_refresh(AutoRefresh::default())
    ///     .build()?;
    /// assert!(config.platform_keys().is_some_and(|keys| keys.is_empty()), "filled by the first download");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn auto_refresh(mut self, refresh: AutoRefresh) -> Self {
        self.auto_refresh = Some(refresh);
        self
    }

    /// The merchant certificate and key for APIv2 mutual TLS (`merchant` in the PHP config).
    ///
    /// ```
    /// use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    ///
    /// let config = builder
    ///     .merchant_tls(
    ///         Certificate::load("file://tests/fixtures/merchant_certificate.pem")?,
    ///         PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?,
    ///     )
    ///     .build()?;
    /// assert!(config.merchant_certificate().is_some());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn merchant_tls(mut self, certificate: Certificate, key: PrivateKey) -> Self {
        self.merchant_tls = Some((certificate, key));
        self
    }

    /// Trusts more root certificates for TLS, beside the system's, on every connection (APIv3, APIv2 and mutual
    /// TLS): a company's TLS-inspecting proxy, or a simulator's test CA. `certificates` is PEM (one certificate or a
    /// bundle) or DER, of any key type; it is checked by [`build`](Self::build).
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = || wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").unwrap())
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem").unwrap());
    /// let server = wechatpay_mock::Server::builder()
    ///     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// let config = builder().root_certificate(server.tls_ca_pem()).build()?;
    /// assert_eq!(config.root_certificates().len(), 1);
    /// assert!(builder().root_certificate("not a certificate").build().is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn root_certificate(mut self, certificates: impl AsRef<[u8]>) -> Self {
        self.root_certificates.push(certificates.as_ref().to_vec());
        self
    }

    /// Where requests go (default [`DEFAULT_BASE_URI`]). A path prefix without a version segment is kept (a
    /// gateway's `https://gateway.example/wechatpay/`, or `https://api.mch.weixin.qq.com/hk/` for the `hk/v3/...`
    /// paths, which `instance.hk().v3()` also reaches from the default host). A base that holds `v2` or `v3`
    /// (`https://api.mch.weixin.qq.com/v3/`) is a config error when built: every chain adds its version itself, so
    /// it would send `.../v3/v3/...`.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let instance = wechatpay::Builder::factory(builder.base_uri("https://api.mch.weixin.qq.com/hk"))?;
    /// assert_eq!(instance.v3().certificates().url(())?, "https://api.mch.weixin.qq.com/hk/v3/certificates");
    ///
    /// # let builder = || wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").unwrap())
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem").unwrap());
    /// let err = builder().base_uri("https://api.mch.weixin.qq.com/v3/").build().unwrap_err();
    /// assert!(err.to_string().contains("version segment `v3`"), "{err}");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn base_uri(mut self, base_uri: impl Into<String>) -> Self {
        self.base_uri = Some(base_uri.into());
        self
    }

    /// The whole-request timeout: connecting, sending, and reading the answer (default [`DEFAULT_TIMEOUT`], 30 s;
    /// Guzzle's default is none, which lets a stalled server hold a request forever). One request may set its own
    /// with [`Options::timeout`](crate::Options::timeout). Streaming downloads
    /// ([`Builder::download`](crate::Builder::download), [`Bill`](crate::Bill)) are not cut after this long: it
    /// bounds the wait for the answer's head and every pause between two pieces of the body instead (set a
    /// whole-download limit with `Options::timeout` or [`Bill::timeout`](crate::Bill::timeout)). Uploads are
    /// requests like any other: give a large one a longer `Options::timeout`. Zero is refused.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let config = || wechatpay::Config::builder().mchid(&ids.mchid).serial(&ids.merchant.serial)
    /// #     .private_key(wechatpay::crypto::PrivateKey::from_pem(&ids.merchant.private_key_pem).unwrap())
    /// #     .platform_certificate(wechatpay::crypto::Certificate::from_pem(&ids.platform.certificate_pem).unwrap())
    /// #     .base_uri(server.base_uri());
    /// let impatient = wechatpay::Builder::factory(config().timeout(Duration::from_millis(200)))?;
    /// server.faults().next(wechatpay_mock::Fault::Delay(Duration::from_secs(1)));
    /// let err = impatient.v3().certificates().get(()).unwrap_err();
    /// assert!(matches!(err, wechatpay::Error::Timeout { .. }));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The connection timeout: how long establishing a connection (TCP and TLS) may take (default
    /// [`DEFAULT_CONNECT_TIMEOUT`], 10 s). A request whose connection times out was not sent. Zero is refused.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let config = builder.connect_timeout(Duration::from_secs(3)).build()?;
    /// assert!(format!("{config:?}").contains("connect_timeout: 3s"));
    /// assert!(wechatpay::Config::builder().connect_timeout(Duration::ZERO).build().is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How many threads the SDK's I/O runtime uses (default: the number of CPUs, at most 4). The async verbs sign
    /// and verify there, so more threads verify more answers at once; the blocking verbs do it on the calling thread.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let err = builder.io_threads(0).build().unwrap_err();
    /// assert!(err.to_string().contains("io_threads"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn io_threads(mut self, threads: usize) -> Self {
        self.io_threads = Some(threads);
        self
    }

    /// How far an answer's `Wechatpay-Timestamp` may be from this machine's clock (default and WeChat's rule: 300 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechatpay_mock::Fault;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let config = || wechatpay::Config::builder().mchid(&ids.mchid).serial(&ids.merchant.serial)
    /// #     .private_key(wechatpay::crypto::PrivateKey::from_pem(&ids.merchant.private_key_pem).unwrap())
    /// #     .platform_certificate(wechatpay::crypto::Certificate::from_pem(&ids.platform.certificate_pem).unwrap())
    /// #     .base_uri(server.base_uri());
    /// // The simulator's stale answers are ten minutes old.
    /// let strict = wechatpay::Builder::factory(config())?;
    /// let lenient = wechatpay::Builder::factory(config().max_clock_skew(Duration::from_secs(15 * 60)))?;
    /// server.faults().next_n(2, Fault::StaleTimestamp);
    /// assert!(strict.v3().certificates().get(()).is_err());
    /// assert!(lenient.v3().certificates().get(()).is_ok());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = Some(skew);
        self
    }

    /// Sends failed requests again as `retry` says (default: never; `retry` in the PHP-shaped config: `true` for
    /// [`Retry::default`], or `{"attempts", "initialBackoff", "maxBackoff"` (seconds)`, "failover"` (`true` for
    /// [`BACKUP_BASE_URI`], or a URI)`, "retryWrites"}`). By default only what was certainly not processed is
    /// retried (a connection that could not be made, `429`), and any failed `GET`: see [`Retry`] for which calls
    /// are safe to retry.
    ///
    /// ```
    /// use wechatpay::{Retry, StatusCode};
    /// use wechatpay_mock::Fault;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let config = || wechatpay::Config::builder().mchid(&ids.mchid).serial(&ids.merchant.serial)
    /// #     .private_key(wechatpay::crypto::PrivateKey::from_pem(&ids.merchant.private_key_pem).unwrap())
    /// #     .platform_certificate(wechatpay::crypto::Certificate::from_pem(&ids.platform.certificate_pem).unwrap())
    /// #     .base_uri(server.base_uri());
    /// let patient = wechatpay::Builder::factory(config().retry(Retry::default()))?;
    /// // Rate limited twice: the third attempt gets through.
    /// server.faults().next_n(2, Fault::Status(429));
    /// assert_eq!(patient.v3().certificates().get(())?.status(), StatusCode::OK);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Allows `http://` base URIs (and APIv2 `base_uri` options) to hosts that are not loopback (default: refused;
    /// `allowPlainHttp` in the PHP-shaped config). Only for a TLS-terminating proxy on a network you trust: signed
    /// requests, answers and bills would otherwise cross it in clear text. Loopback (`127.0.0.1`, `[::1]`,
    /// `localhost`), where simulators run, is always allowed.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = || wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem").unwrap())
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem").unwrap());
    /// let err = builder().base_uri("http://wechatpay-proxy.internal/").build().unwrap_err();
    /// assert!(err.to_string().contains("allow_plain_http"));
    /// assert!(builder().base_uri("http://wechatpay-proxy.internal/").allow_plain_http(true).build().is_ok());
    /// assert!(builder().base_uri("http://127.0.0.1:8080/").build().is_ok());
    /// ```
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// The largest answer body read whole, in bytes (default [`DEFAULT_MAX_RESPONSE_SIZE`], 4 MiB;
    /// `maxResponseSize` in the PHP-shaped config). A larger answer is refused with [`Error::ResponseTooLarge`]:
    /// from its `Content-Length` before any of it is read, or as soon as more than this has arrived. Error answers
    /// (4xx/5xx) are read up to 64 KiB at most, whatever this says. Streaming downloads
    /// ([`Builder::download`](crate::Builder::download), [`Bill`](crate::Bill)) are not limited: their writer or
    /// file is their bound. Raise it for large APIv2 bills (`v2/pay/downloadbill`), which are read whole.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let config = || wechatpay::Config::builder().mchid(&ids.mchid).serial(&ids.merchant.serial)
    /// #     .private_key(wechatpay::crypto::PrivateKey::from_pem(&ids.merchant.private_key_pem).unwrap())
    /// #     .platform_certificate(wechatpay::crypto::Certificate::from_pem(&ids.platform.certificate_pem).unwrap())
    /// #     .base_uri(server.base_uri());
    /// let tiny = wechatpay::Builder::factory(config().max_response_size(16))?;
    /// let err = tiny.v3().certificates().get(()).unwrap_err();
    /// assert!(matches!(err, wechatpay::Error::ResponseTooLarge { limit: 16, .. }), "{err}");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn max_response_size(mut self, bytes: u64) -> Self {
        self.max_response_size = Some(bytes);
        self
    }

    /// Checks the configuration as the PHP SDK does, and more.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let builder = wechatpay::Config::builder().mchid("1900000001")
    /// #     .serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #     .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let config = builder.build()?;
    /// assert_eq!(config.mchid(), "1900000001");
    /// assert_eq!(config.base_uri(), "https://api.mch.weixin.qq.com/");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn build(self) -> Result<Config> {
        let mchid = self
            .mchid
            .ok_or_else(|| Error::config("mchid", "it is required: your merchant id, e.g. \"1900000001\""))?;
        if mchid.is_empty() || !mchid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::config("mchid", "it must be the merchant id: letters and digits only"));
        }
        let serial = self.serial.ok_or_else(|| {
            Error::config("serial", "it is required: the serial of your merchant API certificate (apiclient_cert.pem)")
        })?;
        if serial.len() != MERCHANT_SERIAL_LENGTH || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
            let shown = if serial.bytes().all(|b| b.is_ascii_hexdigit()) {
                format!("{} hex digits", serial.len())
            } else {
                format!("{} characters, not all hex", serial.chars().count())
            };
            return Err(Error::config(
                "serial",
                format!(
                    "it must be the merchant API certificate's serial, {MERCHANT_SERIAL_LENGTH} hex digits (`openssl \
                     x509 -noout -serial -in apiclient_cert.pem`, or the merchant platform's API security page), not \
                     {shown}: WeChat Pay would refuse every request with 401 SIGN_ERROR"
                ),
            ));
        }
        // WeChat Pay writes serials in upper case, and so does `serial_no` in every Authorization header we send.
        let serial = serial.to_ascii_uppercase();
        let signs_in_process = self.signer.is_none();
        let signer: Arc<dyn Signer> = match (self.signer, &self.private_key) {
            (Some(signer), _) => signer,
            (None, Some(key)) => Arc::new(RsaSigner::new(key.clone())),
            (None, None) => {
                return Err(Error::config(
                    "privateKey",
                    "it is required: your merchant API private key (apiclient_key.pem), or a Signer",
                ));
            }
        };
        for platform_serial in self.keys.serials() {
            check_platform_serial(&platform_serial)?;
        }
        if self.keys.contains(&serial) {
            return Err(Error::config(
                "certs",
                format!(
                    "it holds the merchant serial {serial}: certs are WeChat Pay's platform certificates or public key, \
                     never your own certificate"
                ),
            ));
        }
        let apiv3_key = self.apiv3_key.as_deref().map(|key| Apiv3Key::new(key.as_bytes(), "apiv3Key")).transpose()?;
        if let Some(refresh) = &self.auto_refresh {
            if apiv3_key.is_none() {
                return Err(Error::config(
                    "autoRefresh",
                    "it needs the APIv3 key (apiv3Key, ConfigBuilder::apiv3_key) to decrypt the downloaded certificates",
                ));
            }
            if self.verifier.is_some() {
                return Err(Error::config(
                    "autoRefresh",
                    "it refreshes the configured certs, which a custom verifier replaces: keep your verifier's keys \
                     current yourself (Builder::refresh_certificates returns the downloaded certificates)",
                ));
            }
            if refresh.interval.is_some_and(|interval| interval.is_zero()) {
                return Err(Error::config("autoRefresh.interval", "it must be more than zero, or none"));
            }
        }
        let (verifier, platform_keys): (Arc<dyn Verifier>, Option<PlatformKeys>) = match self.verifier {
            Some(verifier) => (verifier, (!self.keys.is_empty()).then_some(self.keys)),
            None if self.keys.is_empty() && self.auto_refresh.is_none() => {
                return Err(Error::config(
                    "certs",
                    "at least one is required: a platform certificate (serial -> certificate) or the WeChat Pay public \
                     key (PUB_KEY_ID_... -> public key), to verify answers; or apiv3Key with autoRefresh to download \
                     the platform certificates",
                ));
            }
            None => (Arc::new(self.keys.clone()), Some(self.keys)),
        };
        let base = self.base_uri.as_deref().unwrap_or(DEFAULT_BASE_URI);
        let shown = if base.contains('@') { "the base URI".to_owned() } else { format!("{base:?}") };
        let mut base_uri =
            Url::parse(base).map_err(|err| Error::config("base_uri", format!("{shown} is not a URL: {err}")))?;
        if !base_uri.username().is_empty() || base_uri.password().is_some() {
            return Err(Error::config(
                "base_uri",
                "it must not carry credentials (user:password@): WeChat Pay authenticates each request by its signature",
            ));
        }
        if !matches!(base_uri.scheme(), "http" | "https") || base_uri.host().is_none() {
            return Err(Error::config("base_uri", format!("{shown} must be an http:// or https:// URL with a host")));
        }
        check_plain_http(&base_uri, self.allow_plain_http).map_err(|reason| Error::config("base_uri", reason))?;
        if base_uri.query().is_some() || base_uri.fragment().is_some() {
            return Err(Error::config("base_uri", format!("{shown} must not have a query or fragment")));
        }
        if !base_uri.path().ends_with('/') {
            let path = format!("{}/", base_uri.path());
            base_uri.set_path(&path);
        }
        if let Some(version) = version_in_path(&base_uri) {
            return Err(Error::config(
                "base_uri",
                format!(
                    "{shown} holds the version segment `{version}`, which every chain adds itself \
                     (`instance.v3()...`, `chain(\"v3/...\")`): give the host alone, e.g. {DEFAULT_BASE_URI} (or \
                     {HK_BASE_URI} for the overseas host); a path prefix without a version, such as a gateway's \
                     `/wechatpay/` or `/hk/`, is kept"
                ),
            ));
        }
        if let Some((certificate, key)) = &self.merchant_tls {
            if key.public_key()? != *certificate.public_key() {
                return Err(Error::config(
                    "merchant",
                    "the key does not match the certificate: give apiclient_cert.pem with its own apiclient_key.pem",
                ));
            }
        }
        let mut root_certificates = Vec::new();
        for given in &self.root_certificates {
            root_certificates.extend(root_ders(given)?);
        }
        let max_response_size = match self.max_response_size {
            Some(0) => return Err(Error::config("maxResponseSize", "it must be at least 1 byte")),
            Some(bytes) => bytes,
            None => DEFAULT_MAX_RESPONSE_SIZE,
        };
        let retry_failover = match &self.retry {
            Some(retry) if retry.max_attempts == 0 => {
                return Err(Error::config("retry.attempts", "it must be at least 1 (1: send once, never retry)"));
            }
            Some(Retry { failover_to: Some(failover), .. }) => Some(
                crate::retry::failover_origin(failover, self.allow_plain_http)
                    .map_err(|reason| Error::config("retry.failover", reason))?,
            ),
            _ => None,
        };
        let timeout = positive(self.timeout, DEFAULT_TIMEOUT, "timeout")?;
        let connect_timeout = positive(self.connect_timeout, DEFAULT_CONNECT_TIMEOUT, "connect_timeout")?;
        let io_threads = match self.io_threads {
            Some(0) => return Err(Error::config("io_threads", "it must be at least 1")),
            Some(threads) => threads,
            None => std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
        };
        Ok(Config {
            mchid,
            serial,
            signer,
            signs_in_process,
            private_key: self.private_key,
            verifier,
            platform_keys,
            secret: self.secret,
            apiv3_key,
            auto_refresh: self.auto_refresh,
            merchant_tls: self.merchant_tls,
            root_certificates,
            base_uri,
            timeout,
            connect_timeout,
            io_threads,
            max_clock_skew: self.max_clock_skew.unwrap_or(Duration::from_secs(300)),
            max_response_size,
            allow_plain_http: self.allow_plain_http,
            retry: self.retry,
            retry_failover,
        })
    }
}

/// `merchant.cert` or `merchant.key` as the PHP SDK takes it: a file (a `file://` path) or PEM text, or Guzzle's
/// `[that, passphrase]` for an encrypted key.
fn merchant_field<'a>(merchant: &'a Map<String, Value>, key: &str) -> Result<(&'a str, Option<&'a str>)> {
    match merchant.get(key) {
        Some(Value::String(thing)) => Ok((thing, None)),
        Some(Value::Array(pair)) => match pair.as_slice() {
            [Value::String(thing)] => Ok((thing, None)),
            [Value::String(thing), Value::String(passphrase)] => Ok((thing, Some(passphrase))),
            _ => Err(Error::config(
                format!("merchant.{key}"),
                "as an array it must be [path, passphrase], two strings, as the PHP SDK takes it",
            )),
        },
        _ => Err(Error::config(
            format!("merchant.{key}"),
            "it must be a string (a file:// path or PEM text) or [that, passphrase] for an encrypted key",
        )),
    }
}

/// The version segment (`v2`, `v3`) a base URI's path holds, if any. Every chain starts with its protocol's
/// version (`v3/...`, `v2/...`, `hk/v3/...`), so a base that already holds one (`.../v3/`) would send `.../v3/v3/...`
/// and meet a 404 only once a request is made. A prefix without a version is kept: a gateway that forwards
/// `https://gateway.example/wechatpay/v3/...`, or `.../hk/` for the Hong Kong paths.
pub(crate) fn version_in_path(base_uri: &Url) -> Option<&str> {
    base_uri
        .path_segments()
        .into_iter()
        .flatten()
        .find(|segment| segment.eq_ignore_ascii_case("v2") || segment.eq_ignore_ascii_case("v3"))
}

/// Refuses a `certs` serial that is neither a certificate serial (hex) nor a public key id (`PUB_KEY_ID_...`),
/// without ever quoting it: a key and its value swapped would put the key (or a private key pasted by mistake)
/// there.
fn check_platform_serial(serial: &str) -> Result<()> {
    let serial = serial.trim();
    if (1..=64).contains(&serial.len()) && serial.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Ok(());
    }
    let looks_like = if serial.contains("-----BEGIN") { "PEM text" } else { "text" };
    Err(Error::config(
        "certs",
        format!(
            "an entry's serial is {looks_like} of {} characters (not shown), not a platform certificate serial (hex) \
             or a public key id (PUB_KEY_ID_...): certs maps each serial to its key or certificate; are the two \
             swapped?",
            serial.chars().count()
        ),
    ))
}

/// A timeout as given, or `default`; zero is refused: it would fail every request without trying.
fn positive(given: Option<Duration>, default: Duration, field: &str) -> Result<Duration> {
    match given {
        Some(duration) if duration.is_zero() => {
            Err(Error::config(field, "it must be more than zero: a zero timeout fails every request before it is sent"))
        }
        Some(duration) => Ok(duration),
        None => Ok(default),
    }
}

/// Refuses `http://` to a host other than loopback unless `allowed`: signed requests, their answers, bills and
/// decrypted sensitive fields would cross the network in clear text.
pub(crate) fn check_plain_http(url: &Url, allowed: bool) -> std::result::Result<(), String> {
    if url.scheme() != "http" || allowed || crate::client::is_loopback(url) {
        return Ok(());
    }
    Err(format!(
        "{} is plain http:// to a host that is not loopback, so requests and answers would cross the network \
         unencrypted: use https://, or allow it explicitly (ConfigBuilder::allow_plain_http, allowPlainHttp) for a \
         TLS-terminating proxy you trust",
        url.origin().ascii_serialization()
    ))
}

/// The DER of each certificate in `given`: PEM (one or a bundle) or DER, each checked to be X.509.
fn root_ders(given: &[u8]) -> Result<Vec<Vec<u8>>> {
    use base64::Engine as _;
    use der::Decode as _;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let invalid = |reason: &str| Error::config("root_certificate", reason);
    let ders = match std::str::from_utf8(given) {
        Ok(text) if text.contains("-----BEGIN") => {
            let mut ders = Vec::new();
            let mut rest = text;
            while let Some(start) = rest.find(BEGIN) {
                let block = &rest[start + BEGIN.len()..];
                let end = block.find(END).ok_or_else(|| invalid("a PEM certificate is not closed"))?;
                let body: String = block[..end].chars().filter(|c| !c.is_whitespace()).collect();
                ders.push(
                    base64::engine::general_purpose::STANDARD
                        .decode(body)
                        .map_err(|_| invalid("a PEM certificate is not base64"))?,
                );
                rest = &block[end + END.len()..];
            }
            ders
        }
        _ => vec![given.to_vec()],
    };
    if ders.is_empty() {
        return Err(invalid("no certificate found: give PEM (-----BEGIN CERTIFICATE-----) or DER"));
    }
    for der in &ders {
        x509_cert::Certificate::from_der(der)
            .map_err(|err| invalid(&format!("it is not an X.509 certificate (PEM or DER): {err}")))?;
    }
    Ok(ders)
}

/// What [`Builder::factory`](crate::Builder::factory) accepts: a [`Config`], a [`ConfigBuilder`], or the PHP config
/// array as a `serde_json::Value`.
///
/// ```
/// use serde_json::json;
/// use wechatpay::IntoConfig;
///
/// fn mchid_of(config: impl IntoConfig) -> wechatpay::Result<String> {
///     Ok(config.into_config()?.mchid().to_owned())
/// }
/// let php = json!({
///     "mchid": "1900000001",
///     "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
///     "privateKey": "file://tests/fixtures/merchant_private_key.pem",
///     "certs": {"PUB_KEY_ID_0114232134912410000000000000000": "file://tests/fixtures/wechat_pay_public_key.pem"},
/// });
/// assert_eq!(mchid_of(&php)?, "1900000001");
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub trait IntoConfig {
    /// Converts, validating.
    ///
    /// ```
    /// use wechatpay::IntoConfig;
    ///
    /// let err = serde_json::json!({"mchid": "1900000001", "sreial": "5F1C"}).into_config().unwrap_err();
    /// assert!(err.to_string().contains("sreial"));
    /// ```
    fn into_config(self) -> Result<Config>;
}

impl IntoConfig for Config {
    fn into_config(self) -> Result<Config> {
        Ok(self)
    }
}

impl IntoConfig for ConfigBuilder {
    fn into_config(self) -> Result<Config> {
        self.build()
    }
}

impl IntoConfig for Value {
    fn into_config(self) -> Result<Config> {
        Config::from_value(&self)
    }
}

impl IntoConfig for &Value {
    fn into_config(self) -> Result<Config> {
        Config::from_value(self)
    }
}
