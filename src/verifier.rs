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
pub trait Verifier: Send + Sync {
    /// Verifies the base64 `signature` over `message` with the key `serial` names.
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
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the key for `serial`. Certificate serials are matched case-insensitively.
    pub fn insert(&self, serial: impl Into<String>, key: PublicKey) {
        let serial = normalise(&serial.into());
        self.write().insert(serial, key);
    }

    /// Adds a platform certificate under its own serial.
    pub fn insert_certificate(&self, certificate: &Certificate) {
        self.insert(certificate.serial_number(), certificate.public_key().clone());
    }

    /// Whether a key is known for `serial`.
    pub fn contains(&self, serial: &str) -> bool {
        self.read().contains_key(&normalise(serial))
    }

    /// The key for `serial`.
    pub fn get(&self, serial: &str) -> Option<PublicKey> {
        self.read().get(&normalise(serial)).cloned()
    }

    /// The known serials, sorted.
    pub fn serials(&self) -> Vec<String> {
        let mut serials: Vec<String> = self.read().keys().cloned().collect();
        serials.sort();
        serials
    }

    /// How many keys are known.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no key is known.
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
