//! Response and callback verification: the [`Verifier`] trait and the default [`PlatformKeys`], a map
//! from serial to public key holding platform certificates and WeChat Pay public keys side by side.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::{Certificate, PublicKey};
use crate::error::VerificationFailure;
use crate::formatter::Formatter;
use crate::notification::NotificationHeaders;

/// Checks that a signature from the key named `serial` (the `Wechatpay-Serial` header) matches `message`
/// (`TIMESTAMP\nNONCE\nBODY\n`).
///
/// The SDK checks headers, timestamps and `WECHATPAY/SIGNTEST/` probes before it calls the verifier; a verifier
/// only answers "is this signature by this key". Replace it through
/// [`ConfigBuilder::verifier`](crate::ConfigBuilder::verifier), e.g. to share keys between processes.
///
/// ```
/// use wechatpay::{PlatformKeys, VerificationFailure, Verifier};
///
/// /// Trusts only WeChat Pay public keys (`PUB_KEY_ID_...`), never a platform certificate.
/// struct PublicKeysOnly(PlatformKeys);
///
/// impl Verifier for PublicKeysOnly {
///     fn verify(&self, serial: &str, message: &[u8], signature: &str) -> Result<(), VerificationFailure> {
///         if !serial.starts_with("PUB_KEY_ID_") {
///             return Err(VerificationFailure::UnknownSerial(serial.to_owned()));
///         }
///         self.0.verify(serial, message, signature)
///     }
/// }
///
/// let verifier = PublicKeysOnly(PlatformKeys::new());
/// let serial = "440024045C4A427599D09BB4E3DE0279F2E813FD";
/// assert_eq!(verifier.verify(serial, b"", "c2ln"), Err(VerificationFailure::UnknownSerial(serial.into())));
/// ```
pub trait Verifier: Send + Sync {
    /// Verifies the base64 `signature` over `message` with the key `serial` names.
    ///
    /// ```
    /// use wechatpay::{Formatter, PlatformKeys, Verifier};
    /// use wechatpay::crypto::{PublicKey, Rsa};
    ///
    /// let keys = PlatformKeys::new();
    /// let serial = "PUB_KEY_ID_0114232134912410000000000000000";
    /// keys.insert(serial, PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?);
    /// let message = Formatter::response("1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", "{}");
    /// // The Wechatpay-Signature header WeChat Pay would send with this answer:
    /// # let platform_key = Rsa::from_private("file://tests/fixtures/wechat_pay_private_key.pem")?;
    /// let signature = Rsa::sign(&message, &platform_key)?;
    /// assert!(keys.verify(serial, message.as_bytes(), &signature).is_ok());
    /// assert!(keys.verify(serial, b"1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{\"x\":1}\n", &signature).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    fn verify(&self, serial: &str, message: &[u8], signature: &str) -> Result<(), VerificationFailure>;
}

/// The default [`Verifier`]: serial → public key, for platform certificates (serial = certificate serial) and
/// WeChat Pay public keys (serial = `PUB_KEY_ID_...`) at once, as during a migration between the two.
///
/// Cloning shares the map, so keys added later (a certificate refresh) are seen by every clone. Changes are
/// copy-on-write: a batch ([`insert_certificates`](Self::insert_certificates)) becomes visible all at once, and
/// a verification running meanwhile sees the map before or after it, never half of it.
///
/// Certificates keep their validity: an answer signed with an expired certificate is refused
/// ([`VerificationFailure::ExpiredCertificate`]) and the first such refusal per serial is logged (`tracing`, warn).
///
/// ```
/// use wechatpay::PlatformKeys;
/// use wechatpay::crypto::{Certificate, PublicKey};
///
/// let keys = PlatformKeys::new();
/// keys.insert_certificate(&Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
/// keys.insert("PUB_KEY_ID_0114232134912410000000000000000", PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?);
/// assert!(keys.contains("440024045c4a427599d09bb4e3de0279f2e813fd"));
/// assert_eq!(keys.len(), 2);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct PlatformKeys {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Replaced whole on every change, so readers never see a change half applied.
    map: RwLock<Arc<HashMap<String, Entry>>>,
    /// Expired certificates already logged, so each is logged once.
    reported_expired: Mutex<HashSet<String>>,
}

/// A key, and where it came from: a certificate remembers its validity.
#[derive(Clone)]
enum Entry {
    Key(PublicKey),
    Certificate(Certificate),
}

impl Entry {
    fn public_key(&self) -> &PublicKey {
        match self {
            Entry::Key(key) => key,
            Entry::Certificate(certificate) => certificate.public_key(),
        }
    }
}

impl PlatformKeys {
    /// An empty map.
    ///
    /// ```
    /// let keys = wechatpay::PlatformKeys::new();
    /// assert!(keys.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the key for `serial`. Certificate serials are matched case-insensitively. A key added
    /// this way has no validity period; prefer [`insert_certificate`](Self::insert_certificate) for certificates.
    ///
    /// ```
    /// use wechatpay::PlatformKeys;
    /// use wechatpay::crypto::PublicKey;
    ///
    /// let keys = PlatformKeys::new();
    /// let shared = keys.clone();
    /// let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// keys.insert("PUB_KEY_ID_0114232134912410000000000000000", key);
    /// // Clones share one map: a key added to one is trusted by all.
    /// assert!(shared.contains("PUB_KEY_ID_0114232134912410000000000000000"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn insert(&self, serial: impl Into<String>, key: PublicKey) {
        let serial = normalise(&serial.into());
        self.update(|map| {
            map.insert(serial, Entry::Key(key));
        });
    }

    /// Adds a platform certificate under its own serial, with its validity: once it expires it no longer
    /// verifies anything.
    ///
    /// ```
    /// use wechatpay::PlatformKeys;
    /// use wechatpay::crypto::Certificate;
    ///
    /// let keys = PlatformKeys::new();
    /// keys.insert_certificate(&Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// assert_eq!(keys.serials(), ["440024045C4A427599D09BB4E3DE0279F2E813FD"]);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn insert_certificate(&self, certificate: &Certificate) {
        self.insert_certificates([certificate.clone()]);
    }

    /// Adds several platform certificates at once: verifications running meanwhile see all of them or none, as
    /// after a download of `GET /v3/certificates`.
    ///
    /// ```
    /// use wechatpay::PlatformKeys;
    /// use wechatpay::crypto::Certificate;
    ///
    /// let keys = PlatformKeys::new();
    /// let listed = [
    ///     Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?,
    ///     Certificate::load("file://tests/fixtures/merchant_certificate.pem")?,
    /// ];
    /// keys.insert_certificates(listed);
    /// assert_eq!(keys.len(), 2);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn insert_certificates(&self, certificates: impl IntoIterator<Item = Certificate>) {
        let certificates: Vec<Certificate> = certificates.into_iter().collect();
        self.update(|map| {
            for certificate in certificates {
                map.insert(normalise(certificate.serial_number()), Entry::Certificate(certificate));
            }
        });
    }

    /// Whether a key is known for `serial` (expired certificates included).
    ///
    /// ```
    /// # let keys = wechatpay::PlatformKeys::new();
    /// # let certificate = wechatpay::crypto::Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?;
    /// # keys.insert_certificate(&certificate);
    /// assert!(keys.contains("440024045C4A427599D09BB4E3DE0279F2E813FD"));
    /// // Some tools print serials in lower case.
    /// assert!(keys.contains("440024045c4a427599d09bb4e3de0279f2e813fd"));
    /// assert!(!keys.contains("5F1C72E2A8931B72A2E13AF8DEE92471EB397115"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn contains(&self, serial: &str) -> bool {
        self.snapshot().contains_key(&normalise(serial))
    }

    /// The key for `serial`, whatever its validity.
    ///
    /// ```
    /// use wechatpay::crypto::Certificate;
    ///
    /// let certificate = Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?;
    /// # let keys = wechatpay::PlatformKeys::new();
    /// # keys.insert_certificate(&certificate);
    /// let key = keys.get(certificate.serial_number()).expect("a known serial");
    /// assert_eq!(&key, certificate.public_key());
    /// assert!(keys.get("PUB_KEY_ID_0114232134912410000000000000000").is_none());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn get(&self, serial: &str) -> Option<PublicKey> {
        self.snapshot().get(&normalise(serial)).map(|entry| entry.public_key().clone())
    }

    /// The certificate filed under `serial`, when that entry is a certificate (not a bare public key).
    ///
    /// ```
    /// use wechatpay::PlatformKeys;
    /// use wechatpay::crypto::{Certificate, PublicKey};
    ///
    /// let keys = PlatformKeys::new();
    /// keys.insert_certificate(&Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// keys.insert("PUB_KEY_ID_0114232134912410000000000000000", PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?);
    /// let certificate = keys.certificate("440024045C4A427599D09BB4E3DE0279F2E813FD").expect("a certificate");
    /// assert!(certificate.not_after() < std::time::SystemTime::now(), "the fixture expired in 2025");
    /// assert!(keys.certificate("PUB_KEY_ID_0114232134912410000000000000000").is_none());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn certificate(&self, serial: &str) -> Option<Certificate> {
        match self.snapshot().get(&normalise(serial)) {
            Some(Entry::Certificate(certificate)) => Some(certificate.clone()),
            _ => None,
        }
    }

    /// Every certificate held (expired ones included), by serial.
    ///
    /// ```
    /// use wechatpay::PlatformKeys;
    /// use wechatpay::crypto::{Certificate, PublicKey};
    ///
    /// let keys = PlatformKeys::new();
    /// keys.insert_certificate(&Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// keys.insert("PUB_KEY_ID_0114232134912410000000000000000", PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?);
    /// let serials: Vec<String> = keys.certificates().iter().map(|c| c.serial_number().to_owned()).collect();
    /// assert_eq!(serials, ["440024045C4A427599D09BB4E3DE0279F2E813FD"]);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn certificates(&self) -> Vec<Certificate> {
        let map = self.snapshot();
        let mut certificates: Vec<Certificate> = map
            .values()
            .filter_map(|entry| match entry {
                Entry::Certificate(certificate) => Some(certificate.clone()),
                Entry::Key(_) => None,
            })
            .collect();
        certificates.sort_by(|a, b| a.serial_number().cmp(b.serial_number()));
        certificates
    }

    /// The key to encrypt sensitive request fields with, and its serial for the `Wechatpay-Serial` header: the
    /// WeChat Pay public key (`PUB_KEY_ID_...`) when there is one, else the valid platform certificate that
    /// expires last, else any other key. Expired certificates are never chosen.
    ///
    /// ```
    /// use wechatpay::PlatformKeys;
    /// use wechatpay::crypto::{Certificate, PublicKey};
    ///
    /// let keys = PlatformKeys::new();
    /// // The fixture certificate expired in 2025: it is never chosen.
    /// keys.insert_certificate(&Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// assert!(keys.encryption_key().is_none());
    /// let public_key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// keys.insert("PUB_KEY_ID_0114232134912410000000000000000", public_key.clone());
    /// assert_eq!(keys.encryption_key(), Some(("PUB_KEY_ID_0114232134912410000000000000000".to_owned(), public_key)));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encryption_key(&self) -> Option<(String, PublicKey)> {
        let map = self.snapshot();
        let now = SystemTime::now();
        let mut entries: Vec<(&String, &Entry)> = map.iter().collect();
        // Public keys first; then valid certificates, the one that expires last first; then other bare keys.
        let rank = |(serial, entry): &(&String, &Entry)| match entry {
            Entry::Key(_) if serial.starts_with(PUBLIC_KEY_ID_PREFIX) => Some((0, None)),
            Entry::Certificate(certificate) if certificate.not_after() >= now => {
                Some((1, Some(std::cmp::Reverse(certificate.not_after()))))
            }
            Entry::Certificate(_) => None,
            Entry::Key(_) => Some((2, None)),
        };
        entries.retain(|candidate| rank(candidate).is_some());
        entries.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.0.cmp(b.0)));
        entries.first().map(|(serial, entry)| ((*serial).clone(), entry.public_key().clone()))
    }

    /// The known serials, sorted.
    ///
    /// ```
    /// use wechatpay::PlatformKeys;
    /// use wechatpay::crypto::PublicKey;
    ///
    /// let keys = PlatformKeys::new();
    /// let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// keys.insert("PUB_KEY_ID_0114232134912410000000000000000", key.clone());
    /// keys.insert("440024045c4a427599d09bb4e3de0279f2e813fd", key);
    /// // Sorted, with certificate serials in upper case.
    /// let expected = ["440024045C4A427599D09BB4E3DE0279F2E813FD", "PUB_KEY_ID_0114232134912410000000000000000"];
    /// assert_eq!(keys.serials(), expected);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn serials(&self) -> Vec<String> {
        let mut serials: Vec<String> = self.snapshot().keys().cloned().collect();
        serials.sort();
        serials
    }

    /// How many keys are known.
    ///
    /// ```
    /// use wechatpay::PlatformKeys;
    /// use wechatpay::crypto::Certificate;
    ///
    /// let keys = PlatformKeys::new();
    /// let certificate = Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?;
    /// keys.insert_certificate(&certificate);
    /// // Adding the same serial again replaces the key.
    /// keys.insert_certificate(&certificate);
    /// assert_eq!(keys.len(), 1);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// Whether no key is known.
    ///
    /// ```
    /// use wechatpay::PlatformKeys;
    /// use wechatpay::crypto::Certificate;
    ///
    /// let keys = PlatformKeys::new();
    /// assert!(keys.is_empty());
    /// keys.insert_certificate(&Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// assert!(!keys.is_empty());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }

    /// The current map; later changes replace it rather than alter it.
    fn snapshot(&self) -> Arc<HashMap<String, Entry>> {
        // Every change swaps in a complete map, so a lock poisoned by a panic elsewhere still guards a whole map.
        Arc::clone(&self.shared.map.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Applies `change` to a copy of the map and swaps the copy in. Changes are rare (configuration, refreshes)
    /// and maps are small, so copying beats making every reader wait.
    fn update(&self, change: impl FnOnce(&mut HashMap<String, Entry>)) {
        let mut current = self.shared.map.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = HashMap::clone(&current);
        change(&mut next);
        *current = Arc::new(next);
    }

    /// Logs an expired certificate the first time it is skipped.
    fn report_expired(&self, certificate: &Certificate) {
        let first = self
            .shared
            .reported_expired
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(certificate.serial_number().to_owned());
        if first {
            tracing::warn!(
                serial = certificate.serial_number(),
                expired_at = %crate::util::time::rfc3339_utc(certificate.not_after()),
                "skipped an expired WeChat Pay platform certificate: answers signed with it are refused; download \
                 the current ones (Builder::refresh_certificates) or configure the WeChat Pay public key"
            );
        }
    }
}

/// The prefix of WeChat Pay public key ids.
const PUBLIC_KEY_ID_PREFIX: &str = "PUB_KEY_ID_";

/// Certificate serials are hex, which WeChat Pay writes in upper case but some tools print in lower case;
/// `PUB_KEY_ID_` ids are already upper case.
fn normalise(serial: &str) -> String {
    serial.trim().to_ascii_uppercase()
}

impl Verifier for PlatformKeys {
    fn verify(&self, serial: &str, message: &[u8], signature: &str) -> Result<(), VerificationFailure> {
        let map = self.snapshot();
        let entry = map.get(&normalise(serial)).ok_or_else(|| VerificationFailure::UnknownSerial(serial.to_owned()))?;
        if let Entry::Certificate(certificate) = entry {
            if certificate.not_after() < SystemTime::now() {
                self.report_expired(certificate);
                return Err(VerificationFailure::ExpiredCertificate {
                    serial: certificate.serial_number().to_owned(),
                    expired_at: certificate.not_after(),
                });
            }
        }
        let raw = STANDARD.decode(signature.trim()).map_err(|_| VerificationFailure::MalformedSignature)?;
        if entry.public_key().verify(message, &raw) { Ok(()) } else { Err(VerificationFailure::BadSignature) }
    }
}

impl fmt::Debug for PlatformKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformKeys").field("serials", &self.serials()).finish()
    }
}

/// The four signature headers of an answer or callback, read and checked before the signature is.
pub(crate) struct SignatureHeaders<'h> {
    pub(crate) timestamp: &'h str,
    pub(crate) nonce: &'h str,
    pub(crate) signature: &'h str,
    pub(crate) serial: &'h str,
}

impl<'h> SignatureHeaders<'h> {
    /// Reads the headers and refuses what must be refused before any RSA work: a missing or non-ASCII header, a
    /// `WECHATPAY/SIGNTEST/` probe, a timestamp that is not a number or is more than `max_skew` from now.
    pub(crate) fn read<H: NotificationHeaders + ?Sized>(
        headers: &'h H,
        max_skew: Duration,
    ) -> Result<Self, VerificationFailure> {
        let header = |name: &'static str| match headers.header(name).map(std::str::from_utf8) {
            // Which of two values the signature covers would be ambiguous (hyper and most maps keep the first).
            _ if headers.header_count(name) > 1 => Err(VerificationFailure::RepeatedHeader(name)),
            None => Err(VerificationFailure::MissingHeader(name)),
            Some(Ok(value)) if value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) => match value.trim() {
                "" => Err(VerificationFailure::MissingHeader(name)),
                value => Ok(value),
            },
            Some(_) => Err(VerificationFailure::InvalidHeader(name)),
        };
        let signed = SignatureHeaders {
            timestamp: header("Wechatpay-Timestamp")?,
            nonce: header("Wechatpay-Nonce")?,
            signature: header("Wechatpay-Signature")?,
            serial: header("Wechatpay-Serial")?,
        };
        if signed.signature.starts_with(crate::crypto::SIGNTEST_PREFIX) {
            return Err(VerificationFailure::Probe);
        }
        let timestamp = signed.unix_timestamp()?;
        let now = Formatter::timestamp();
        let max_skew = max_skew.as_secs();
        if timestamp.abs_diff(now) > max_skew {
            return Err(VerificationFailure::ClockSkew { timestamp, now, max_skew });
        }
        Ok(signed)
    }

    pub(crate) fn unix_timestamp(&self) -> Result<i64, VerificationFailure> {
        self.timestamp.parse().map_err(|_| VerificationFailure::InvalidTimestamp)
    }

    /// Verifies the signature over `TIMESTAMP\nNONCE\nSIGNED\n` with the key the serial names.
    pub(crate) fn verify(&self, signed: &[u8], verifier: &dyn Verifier) -> Result<(), VerificationFailure> {
        let message = Formatter::response_bytes(self.timestamp, self.nonce, signed);
        verifier.verify(self.serial, &message, self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::PublicKey;

    /// Readers running beside a writer that adds pairs of keys in one change never see an odd count.
    #[test]
    fn a_batch_is_seen_whole_or_not_at_all() {
        let keys = PlatformKeys::new();
        let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem").unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (keys, stop) = (keys.clone(), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut reads = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        assert_eq!(keys.len() % 2, 0, "half a batch was visible");
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        for i in 0..2_000 {
            keys.update(|map| {
                map.insert(format!("A{i}"), Entry::Key(key.clone()));
                map.insert(format!("B{i}"), Entry::Key(key.clone()));
            });
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().expect("no reader saw half a batch") > 0);
        }
        assert_eq!(keys.len(), 4_000);
    }

    #[test]
    fn the_encryption_key_prefers_the_public_key_then_the_latest_valid_certificate() {
        let keys = PlatformKeys::new();
        let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem").unwrap();
        keys.insert("0A0B", key.clone());
        assert_eq!(keys.encryption_key().map(|(serial, _)| serial).as_deref(), Some("0A0B"), "a bare key will do");
        keys.insert("PUB_KEY_ID_0114232134912410000000000000000", key);
        assert_eq!(
            keys.encryption_key().map(|(serial, _)| serial).as_deref(),
            Some("PUB_KEY_ID_0114232134912410000000000000000")
        );
    }
}
