//! Response and callback verification (protocol §3): the [`Verifier`] trait and the default [`PlatformKeys`], a map
//! from serial to public key holding platform certificates and WeChat Pay public keys side by side.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::{Certificate, PublicKey};
use crate::error::VerificationFailure;

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
    /// use wechatpay::crypto::{Certificate, Rsa};
    ///
    /// let keys = PlatformKeys::new();
    /// keys.insert_certificate(&Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?);
    /// let message = Formatter::response("1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", "{}");
    /// // The Wechatpay-Signature header WeChat Pay would send with this answer:
    /// # let platform_key = Rsa::from_private("file://tests/fixtures/wechat_pay_private_key.pem")?;
    /// let signature = Rsa::sign(&message, &platform_key)?;
    /// let serial = "440024045C4A427599D09BB4E3DE0279F2E813FD";
    /// assert!(keys.verify(serial, message.as_bytes(), &signature).is_ok());
    /// assert!(keys.verify(serial, b"1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{\"x\":1}\n", &signature).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    fn verify(&self, serial: &str, message: &[u8], signature: &str) -> Result<(), VerificationFailure>;
}

/// The default [`Verifier`]: serial → public key, for platform certificates (serial = certificate serial) and
/// WeChat Pay public keys (serial = `PUB_KEY_ID_...`) at once, as during a migration between the two.
///
/// Cloning shares the map, so keys added later (a certificate refresh) are seen by every clone.
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
    keys: Arc<RwLock<HashMap<String, PublicKey>>>,
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

    /// Adds (or replaces) the key for `serial`. Certificate serials are matched case-insensitively.
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
        self.write().insert(serial, key);
    }

    /// Adds a platform certificate under its own serial.
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
        self.insert(certificate.serial_number(), certificate.public_key().clone());
    }

    /// Whether a key is known for `serial`.
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
        self.read().contains_key(&normalise(serial))
    }

    /// The key for `serial`.
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
        self.read().get(&normalise(serial)).cloned()
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
        let mut serials: Vec<String> = self.read().keys().cloned().collect();
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
        self.read().len()
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
        self.read().is_empty()
    }

    // A panic while holding the lock cannot leave the map half-updated (insert is one call), so a poisoned lock is
    // still safe to use.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, PublicKey>> {
        self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, PublicKey>> {
        self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Certificate serials are hex, which WeChat Pay writes in upper case but some tools print in lower case;
/// `PUB_KEY_ID_` ids are already upper case.
fn normalise(serial: &str) -> String {
    serial.trim().to_ascii_uppercase()
}

impl Verifier for PlatformKeys {
    fn verify(&self, serial: &str, message: &[u8], signature: &str) -> Result<(), VerificationFailure> {
        let key = self.get(serial).ok_or_else(|| VerificationFailure::UnknownSerial(serial.to_owned()))?;
        let raw = STANDARD.decode(signature.trim()).map_err(|_| VerificationFailure::MalformedSignature)?;
        if key.verify(message, &raw) { Ok(()) } else { Err(VerificationFailure::BadSignature) }
    }
}

impl fmt::Debug for PlatformKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformKeys").field("serials", &self.serials()).finish()
    }
}
