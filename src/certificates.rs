//! Platform certificates: downloaded from `GET v3/certificates` as the PHP SDK's
//! `CertificateDownloader` does, and kept current by an optional [`AutoRefresh`].
//!
//! A download decrypts every listed certificate with the APIv3 key (the AES-GCM tag is what authenticates the very
//! first download, when no certificate is known yet), then verifies the answer itself with what it downloaded (or a
//! key already configured), and only then adds the certificates to the Builder's
//! [`PlatformKeys`](crate::PlatformKeys), all at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;

use crate::builder::Builder;
use crate::client::Core;
use crate::crypto::{AesGcm, Certificate};
use crate::error::{Error, Result, VerificationFailure};
use crate::options::Options;
use crate::runtime::ResponseFuture;
use crate::template::UriTemplate;
use crate::verifier::{PlatformKeys, Verifier};

/// How [`ConfigBuilder::auto_refresh`](crate::ConfigBuilder::auto_refresh) keeps the platform certificates current.
///
/// ```
/// use std::time::Duration;
/// use wechatpay::AutoRefresh;
///
/// // The defaults: every 24 hours (as the Go SDK), and on an unknown serial at most once a minute.
/// let refresh = AutoRefresh::default();
/// assert_eq!(refresh.interval, Some(Duration::from_secs(24 * 3600)));
/// assert_eq!(refresh.min_gap, Duration::from_secs(60));
///
/// // Only when an answer names an unknown serial, at most every five minutes.
/// let mut on_demand = AutoRefresh::default();
/// on_demand.interval = None;
/// on_demand.min_gap = Duration::from_secs(300);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AutoRefresh {
    /// How often to download in the background (the first download starts with the Builder); `None` downloads
    /// only when an answer names an unknown serial. Default: 24 hours.
    pub interval: Option<Duration>,
    /// The least time between two downloads caused by unknown serials, so that answers (or forged callbacks)
    /// naming serials WeChat Pay does not list cannot make the client hammer `v3/certificates`. Default: 60 s.
    pub min_gap: Duration,
}

impl Default for AutoRefresh {
    fn default() -> Self {
        AutoRefresh { interval: Some(Duration::from_secs(24 * 3600)), min_gap: Duration::from_secs(60) }
    }
}

/// What a certificate refresh found.
///
/// ```
/// # let server = wechatpay_mock::Server::builder()
/// #     .identities(wechatpay_mock::Identities::shared().unwrap()).public_key_only().start_blocking().unwrap();
/// # let ids = server.identities();
/// # let instance = wechatpay::Builder::factory(serde_json::json!({
/// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
/// #     "certs": {ids.public_key.id.clone(): ids.public_key.public_key_pem}, "base_uri": server.base_uri(),
/// #     "apiv3Key": ids.apiv3_key,
/// # }))?;
/// use wechatpay::RefreshOutcome;
///
/// match instance.refresh_certificates()? {
///     RefreshOutcome::Certificates(certificates) => println!("{} platform certificates", certificates.len()),
///     // A merchant that only has the WeChat Pay public key.
///     RefreshOutcome::PublicKeyMode { status, code } => assert_eq!((status, code.as_str()), (404, "RESOURCE_NOT_EXISTS")),
///     _ => {}
/// }
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// Every certificate `v3/certificates` listed (expired ones included), decrypted and verified; they were
    /// added to the configured [`PlatformKeys`](crate::PlatformKeys), where expired ones verify nothing (with a
    /// custom [`Verifier`](crate::Verifier) instead, nothing is added: keep its keys current with these).
    Certificates(Vec<Certificate>),
    /// `v3/certificates` answered 404, 403 or 500: this merchant has no platform certificates and WeChat Pay signs
    /// with the WeChat Pay public key, which must be configured (`PUB_KEY_ID_...`).
    PublicKeyMode {
        /// The HTTP status.
        status: u16,
        /// WeChat Pay's error code, e.g. `RESOURCE_NOT_EXISTS`.
        code: String,
    },
}

impl Builder {
    /// Downloads the platform certificates (`GET v3/certificates`), decrypts them with the APIv3 key, verifies the
    /// answer with them, and adds them to the configured keys at once; what the PHP SDK's `CertificateDownloader`
    /// does, without the files. Needs [`ConfigBuilder::apiv3_key`](crate::ConfigBuilder::apiv3_key).
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// use serde_json::json;
    /// use wechatpay::{Builder, RefreshOutcome};
    ///
    /// // Only the WeChat Pay public key is configured at first.
    /// let instance = Builder::factory(json!({
    ///     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    ///     "certs": {ids.public_key.id.clone(): ids.public_key.public_key_pem},
    ///     "apiv3Key": ids.apiv3_key, "base_uri": server.base_uri(),
    /// }))?;
    /// let RefreshOutcome::Certificates(certificates) = instance.refresh_certificates()? else { panic!("certificates") };
    /// assert_eq!(certificates[0].serial_number(), ids.platform.serial);
    /// assert!(instance.config().platform_keys().unwrap().contains(&ids.platform.serial));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn refresh_certificates(&self) -> Result<RefreshOutcome> {
        let core = Arc::clone(self.core());
        self.core().block_on(async move { core.refresh().await })
    }

    /// [`refresh_certificates`](Self::refresh_certificates) as a future.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.public_key.id.clone(): ids.public_key.public_key_pem}, "base_uri": server.base_uri(),
    /// #     "apiv3Key": ids.apiv3_key,
    /// # }))?;
    /// let outcome = instance.refresh_certificates_async().await?;
    /// assert!(matches!(outcome, wechatpay::RefreshOutcome::Certificates(ref listed) if listed.len() == 1));
    /// # Ok(()) }
    /// ```
    pub fn refresh_certificates_async(&self) -> ResponseFuture<RefreshOutcome> {
        let core = Arc::clone(self.core());
        self.core().spawn_task(async move { core.refresh().await })
    }
}

/// A Builder's refresh state: one download at a time, and what has been logged.
#[derive(Debug, Default)]
pub(crate) struct Refresher {
    /// Held while a download runs; holds when the last download caused by an unknown serial started.
    flight: tokio::sync::Mutex<Option<Instant>>,
    /// Counts finished downloads, so that requests that waited for one know it happened.
    generation: AtomicU64,
    /// Public-key mode is logged once per Builder.
    public_key_mode_logged: AtomicBool,
}

impl Core {
    /// Starts the background refresh when [`AutoRefresh::interval`] is set. The task holds the Core only while
    /// it downloads, so a dropped Builder ends it (its runtime goes with the Core).
    pub(crate) fn start_auto_refresh(self: &Arc<Self>) {
        let Some(interval) = self.config.auto_refresh.as_ref().and_then(|refresh| refresh.interval) else {
            return;
        };
        let io = match self.io() {
            Ok(io) => io,
            Err(err) => {
                tracing::warn!(mchid = %self.config.mchid, error = %err, "the certificate refresh could not start");
                return;
            }
        };
        let core = Arc::downgrade(self);
        io.spawn(async move {
            loop {
                let Some(strong) = core.upgrade() else { break };
                if let Err(err) = strong.refresh().await {
                    tracing::warn!(
                        mchid = %strong.config.mchid,
                        error = %err,
                        "the scheduled platform certificate refresh failed; the known keys stay in use"
                    );
                }
                drop(strong);
                tokio::time::sleep(interval).await;
            }
        });
    }

    /// A download now, after any running one: explicit and scheduled refreshes.
    pub(crate) async fn refresh(self: &Arc<Self>) -> Result<RefreshOutcome> {
        let _flight = self.refresher.flight.lock().await;
        let outcome = self.download().await;
        self.refresher.generation.fetch_add(1, Ordering::AcqRel);
        outcome
    }

    /// After an answer named `serial`, which no configured key has: downloads the certificates unless a download
    /// ran meanwhile or the last one caused this way is more recent than [`AutoRefresh::min_gap`]. Concurrent
    /// callers wait for one download. Returns whether `serial` is known now (so that the answer is verified again).
    pub(crate) async fn refresh_for_unknown_serial(self: &Arc<Self>, serial: &str) -> bool {
        let (Some(policy), Some(keys)) = (&self.config.auto_refresh, &self.config.platform_keys) else {
            return false;
        };
        let seen = self.refresher.generation.load(Ordering::Acquire);
        let mut last = self.refresher.flight.lock().await;
        if keys.contains(serial) {
            return true;
        }
        if self.refresher.generation.load(Ordering::Acquire) != seen {
            // A download finished while this request waited, and did not bring the serial.
            return false;
        }
        if last.is_some_and(|started| started.elapsed() < policy.min_gap) {
            tracing::debug!(
                mchid = %self.config.mchid,
                serial,
                min_gap_secs = policy.min_gap.as_secs(),
                "unknown Wechatpay-Serial, but the certificates were downloaded recently: not downloading again yet"
            );
            return false;
        }
        *last = Some(Instant::now());
        tracing::info!(mchid = %self.config.mchid, serial, "unknown Wechatpay-Serial: downloading the platform certificates");
        if let Err(err) = self.download().await {
            tracing::warn!(mchid = %self.config.mchid, serial, error = %err, "the platform certificate download failed");
        }
        self.refresher.generation.fetch_add(1, Ordering::AcqRel);
        keys.contains(serial)
    }

    /// Starts [`refresh_for_unknown_serial`](Self::refresh_for_unknown_serial) in the background, for callers that
    /// cannot wait (a callback is refused now, and verifies when WeChat Pay sends it again).
    pub(crate) fn refresh_in_background(self: &Arc<Self>, serial: &str) {
        if self.config.auto_refresh.is_none() {
            return;
        }
        let (core, serial) = (Arc::clone(self), serial.to_owned());
        if let Ok(io) = self.io() {
            io.spawn(async move {
                core.refresh_for_unknown_serial(&serial).await;
            });
        }
    }

    /// `GET v3/certificates`: decrypt, verify, add.
    async fn download(self: &Arc<Self>) -> Result<RefreshOutcome> {
        let apiv3_key = self.config.apiv3_key.as_ref().ok_or_else(|| {
            Error::config(
                "apiv3Key",
                "it is required to download platform certificates, which WeChat Pay encrypts with it \
                 (ConfigBuilder::apiv3_key, or apiv3Key in the PHP config)",
            )
        })?;
        let prepared = self.prepare(Method::GET, &UriTemplate::parse("v3/certificates")?, Options::default())?;
        let exchange = self.exchange(prepared).await?;
        let status = exchange.status.as_u16();
        if matches!(status, 403 | 404 | 500) {
            let code = match exchange.into_api_error() {
                Error::Api { code, .. } => code,
                _ => String::new(),
            };
            self.log_public_key_mode(status, &code);
            return Ok(RefreshOutcome::PublicKeyMode { status, code });
        }
        if !exchange.status.is_success() {
            return Err(exchange.into_api_error());
        }
        let certificates = decrypt_listing(&exchange.body, apiv3_key.as_bytes())?;

        // Verified with what it carries (PHP's downloader injects the certificates before its verifier runs), or
        // with a key already trusted; expired certificates verify nothing here either.
        let downloaded = PlatformKeys::new();
        downloaded.insert_certificates(certificates.iter().cloned());
        let verifier = DownloadedFirst { downloaded: &downloaded, configured: &*self.config.verifier };
        let path = exchange.relative_path(&self.config.base_uri);
        self.verify(&exchange.method, path, &exchange.headers, &exchange.body, &verifier)
            .map_err(|failure| exchange.verification_error(failure))?;

        if let Some(keys) = &self.config.platform_keys {
            keys.insert_certificates(certificates.iter().cloned());
        }
        let serials: Vec<&str> = certificates.iter().map(Certificate::serial_number).collect();
        if serials.is_empty() {
            // PHP's downloader fails here; the configured keys stay in use, so this is a warning, not an error.
            tracing::warn!(mchid = %self.config.mchid, "GET v3/certificates listed no certificate");
        } else {
            tracing::info!(mchid = %self.config.mchid, serials = ?serials, "downloaded the platform certificates");
        }
        Ok(RefreshOutcome::Certificates(certificates))
    }

    fn log_public_key_mode(&self, status: u16, code: &str) {
        if self.refresher.public_key_mode_logged.swap(true, Ordering::AcqRel) {
            return;
        }
        let has_public_key = self
            .config
            .platform_keys
            .as_ref()
            .is_some_and(|keys| keys.serials().iter().any(|serial| keys.certificate(serial).is_none()));
        if has_public_key || self.config.platform_keys.is_none() {
            tracing::info!(
                mchid = %self.config.mchid,
                status,
                code,
                "GET v3/certificates: this merchant has no platform certificates (public-key mode); answers are \
                 verified with the configured WeChat Pay public key"
            );
        } else {
            tracing::warn!(
                mchid = %self.config.mchid,
                status,
                code,
                "GET v3/certificates: this merchant has no platform certificates (public-key mode), and no WeChat Pay \
                 public key is configured: add it (PUB_KEY_ID_... from the merchant platform) or answers cannot be \
                 verified"
            );
        }
    }
}

/// Verifies with a freshly downloaded certificate when the answer names one, else with the configured verifier.
struct DownloadedFirst<'a> {
    downloaded: &'a PlatformKeys,
    configured: &'a dyn Verifier,
}

impl Verifier for DownloadedFirst<'_> {
    fn verify(&self, serial: &str, message: &[u8], signature: &str) -> std::result::Result<(), VerificationFailure> {
        if self.downloaded.contains(serial) {
            self.downloaded.verify(serial, message, signature)
        } else {
            self.configured.verify(serial, message, signature)
        }
    }
}

#[derive(Deserialize)]
struct Listing {
    data: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    serial_no: String,
    encrypt_certificate: Encrypted,
}

#[derive(Deserialize)]
struct Encrypted {
    algorithm: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
    ciphertext: String,
}

/// The certificates of a `v3/certificates` answer, each decrypted with the APIv3 key and checked to carry the
/// serial it is listed under.
fn decrypt_listing(body: &[u8], apiv3_key: &[u8]) -> Result<Vec<Certificate>> {
    let listing: Listing = serde_json::from_slice(body).map_err(|err| Error::Decode {
        what: "a GET v3/certificates answer ({\"data\": [...]})",
        reason: err.to_string(),
    })?;
    let mut certificates = Vec::with_capacity(listing.data.len());
    for listed in listing.data {
        let Listed { serial_no, encrypt_certificate: encrypted } = listed;
        if encrypted.algorithm != "AEAD_AES_256_GCM" {
            return Err(Error::Unsupported {
                what: format!("certificate {serial_no} encrypted with {}", encrypted.algorithm),
                hint: "only AEAD_AES_256_GCM is known; ask for algorithm_type=RSA",
            });
        }
        let pem = AesGcm::decrypt(&encrypted.ciphertext, apiv3_key, &encrypted.nonce, &encrypted.associated_data)
            .map_err(|err| {
                Error::crypto(
                    "decrypting a downloaded platform certificate",
                    format!("certificate {serial_no}: {err}; check the APIv3 key (apiv3Key)"),
                )
            })?;
        let certificate = Certificate::from_pem(&pem)?;
        if !certificate.serial_number().eq_ignore_ascii_case(serial_no.trim()) {
            return Err(Error::Decode {
                what: "a GET v3/certificates answer",
                reason: format!("the certificate listed as {serial_no} carries serial {}", certificate.serial_number()),
            });
        }
        certificates.push(certificate);
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

    fn listing(serial: &str, pem: &str, algorithm: &str) -> Vec<u8> {
        use base64::Engine as _;
        let sealed = AesGcm::encrypt_bytes(pem.as_bytes(), KEY, b"0123456789ab", b"certificate").unwrap();
        let ciphertext = base64::engine::general_purpose::STANDARD.encode(sealed);
        serde_json::to_vec(&serde_json::json!({"data": [{
            "serial_no": serial, "effective_time": "", "expire_time": "",
            "encrypt_certificate": {"algorithm": algorithm, "nonce": "0123456789ab", "associated_data": "certificate",
                "ciphertext": ciphertext},
        }]}))
        .unwrap()
    }

    #[test]
    fn listings_decrypt_and_must_carry_their_serial() {
        let pem = std::fs::read_to_string("tests/fixtures/wechat_pay_certificate.pem").unwrap();
        let serial = "440024045C4A427599D09BB4E3DE0279F2E813FD";
        let certificates = decrypt_listing(&listing(serial, &pem, "AEAD_AES_256_GCM"), KEY).unwrap();
        assert_eq!(certificates[0].serial_number(), serial);

        let err = decrypt_listing(&listing("ABCDEF", &pem, "AEAD_AES_256_GCM"), KEY).unwrap_err();
        assert!(err.to_string().contains("listed as ABCDEF carries serial 4400"), "{err}");
        let err = decrypt_listing(&listing(serial, &pem, "SM4_GCM"), KEY).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        let err = decrypt_listing(&listing(serial, &pem, "AEAD_AES_256_GCM"), b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gc")
            .unwrap_err();
        assert!(err.to_string().contains("check the APIv3 key"), "{err}");
        assert!(!err.to_string().contains("a7cde1ZJB1kG2e7VfTs3jQzaWizur8G"), "never the key");
        let err = decrypt_listing(b"<html>", KEY).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
    }

    #[test]
    fn downloaded_certificates_keep_the_pem_exactly_as_decrypted() {
        // CRLF line ends and no final line break: not what re-encoding the DER would give.
        let pem = std::fs::read_to_string("tests/fixtures/wechat_pay_certificate.pem").unwrap();
        let pem = pem.trim_end().replace('\n', "\r\n");
        let serial = "440024045C4A427599D09BB4E3DE0279F2E813FD";
        let certificates = decrypt_listing(&listing(serial, &pem, "AEAD_AES_256_GCM"), KEY).unwrap();
        assert_eq!(certificates[0].pem_text(), Some(pem.as_str()));
        assert_ne!(certificates[0].to_pem(), pem);
    }
}
