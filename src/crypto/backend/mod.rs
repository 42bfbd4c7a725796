//! The RSA backends, behind one small internal interface.
//!
//! Keys are normalised to PKCS#8 (private) and SPKI (public) DER before they reach a backend, so a backend only
//! implements the five operations WeChat Pay needs. Which backend a key uses is chosen when it is loaded.

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod rust_crypto;

use crate::error::Result;

/// Which implementation performs RSA operations.
///
/// The default is [`Backend::AwsLc`] (aws-lc-rs: constant-time, and the fastest measured here) unless the crate is
/// built with the `rustcrypto` feature or without the default `aws-lc` feature, in which case it is
/// [`Backend::RustCrypto`] (the pure-Rust, constant-time `rsa` 0.10 crate).
///
/// ```
/// use wechatpay::crypto::Backend;
///
/// assert!(Backend::available().contains(&Backend::default()));
/// assert!(Backend::available().contains(&Backend::RustCrypto));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// aws-lc-rs (AWS-LC, a BoringSSL fork with formally verified parts). Needs the `aws-lc` feature (on by default).
    #[cfg(feature = "aws-lc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "aws-lc")))]
    AwsLc,
    /// The RustCrypto `rsa` crate: pure Rust, no C compiler needed.
    RustCrypto,
}

impl Default for Backend {
    fn default() -> Self {
        #[cfg(all(feature = "aws-lc", not(feature = "rustcrypto")))]
        return Backend::AwsLc;
        #[cfg(any(not(feature = "aws-lc"), feature = "rustcrypto"))]
        return Backend::RustCrypto;
    }
}

impl Backend {
    /// Every backend compiled into this build.
    ///
    /// ```
    /// assert!(!wechatpay::crypto::Backend::available().is_empty());
    /// ```
    pub fn available() -> &'static [Backend] {
        &[
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc,
            Backend::RustCrypto,
        ]
    }

    /// Parses a PKCS#8 RSA private key for this backend.
    pub(crate) fn private_key(self, pkcs8: &[u8]) -> Result<Box<dyn PrivateOps>> {
        match self {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => Ok(Box::new(aws_lc::Private::from_pkcs8(pkcs8)?)),
            Backend::RustCrypto => Ok(Box::new(rust_crypto::Private::from_pkcs8(pkcs8)?)),
        }
    }

    /// Parses an SPKI RSA public key for this backend.
    pub(crate) fn public_key(self, spki: &[u8]) -> Result<Box<dyn PublicOps>> {
        match self {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => Ok(Box::new(aws_lc::Public::from_spki(spki)?)),
            Backend::RustCrypto => Ok(Box::new(rust_crypto::Public::from_spki(spki)?)),
        }
    }
}

/// The private-key half of a backend.
pub(crate) trait PrivateOps: Send + Sync {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>>;
    /// RSAES-OAEP with SHA-1 and MGF1-SHA1, no label.
    fn decrypt_oaep_sha1(&self, ciphertext: &[u8]) -> Result<Vec<u8>>;
    /// RSAES-PKCS1-v1_5 (only a few overseas APIs use it).
    fn decrypt_pkcs1v15(&self, ciphertext: &[u8]) -> Result<Vec<u8>>;
    /// The modulus size in bits.
    fn bits(&self) -> usize;
}

/// The public-key half of a backend.
pub(crate) trait PublicOps: Send + Sync {
    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool;
    /// RSAES-OAEP with SHA-1 and MGF1-SHA1, no label.
    fn encrypt_oaep_sha1(&self, plaintext: &[u8]) -> Result<Vec<u8>>;
    /// RSAES-PKCS1-v1_5.
    fn encrypt_pkcs1v15(&self, plaintext: &[u8]) -> Result<Vec<u8>>;
    /// The modulus size in bits.
    fn bits(&self) -> usize;
}

/// The reason text used when a ciphertext does not decrypt. Deliberately the same for every cause, so that the error
/// is no padding oracle.
pub(crate) const DECRYPT_FAILED: &str =
    "the ciphertext does not decrypt with this private key (wrong key, wrong padding, or corrupted data)";
