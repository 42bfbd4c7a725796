//! `AesGcm`: AEAD_AES_256_GCM as WeChat Pay uses it for callbacks and certificate downloads (protocol §5).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};

/// AES-256-GCM with WeChat Pay's conventions: the 32-byte APIv3 key used as raw bytes, the 12-character `nonce`
/// field as the IV, the `associated_data` field as AAD, and base64 of ciphertext‖16-byte tag.
///
/// ```
/// use wechatpay::crypto::AesGcm;
///
/// let key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
/// let ciphertext = AesGcm::encrypt("message", key, "uluk4a9R25RW", "associatedData")?;
/// assert_eq!(ciphertext, "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=");
/// assert_eq!(AesGcm::decrypt(&ciphertext, key, "uluk4a9R25RW", "associatedData")?, "message");
/// assert!(AesGcm::decrypt(&ciphertext, key, "uluk4a9R25RW", "bad-associatedData").is_err());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AesGcm;

impl AesGcm {
    /// The key length in bytes (PHP `AesGcm::KEY_LENGTH_BYTE`).
    pub const KEY_LENGTH_BYTE: usize = 32;
    /// The authentication tag length in bytes (PHP `AesGcm::BLOCK_SIZE`).
    pub const BLOCK_SIZE: usize = 16;
    /// The nonce length in bytes that WeChat Pay uses.
    pub const NONCE_LENGTH_BYTE: usize = 12;

    /// Encrypts and returns base64 of ciphertext‖tag.
    pub fn encrypt(
        plaintext: impl AsRef<[u8]>,
        key: impl AsRef<[u8]>,
        nonce: impl AsRef<[u8]>,
        aad: impl AsRef<[u8]>,
    ) -> Result<String> {
        Ok(STANDARD.encode(Self::encrypt_bytes(plaintext.as_ref(), key.as_ref(), nonce.as_ref(), aad.as_ref())?))
    }

    /// Decrypts base64 ciphertext‖tag into text.
    pub fn decrypt(
        ciphertext: &str,
        key: impl AsRef<[u8]>,
        nonce: impl AsRef<[u8]>,
        aad: impl AsRef<[u8]>,
    ) -> Result<String> {
        let plaintext = Self::decrypt_base64(ciphertext, key.as_ref(), nonce.as_ref(), aad.as_ref())?;
        String::from_utf8(plaintext).map_err(|_| {
            Error::crypto(DECRYPT, "the plaintext is not UTF-8 text; use AesGcm::decrypt_base64 for bytes")
        })
    }

    /// Decrypts base64 ciphertext‖tag into bytes.
    ///
    /// ```
    /// use wechatpay::crypto::AesGcm;
    ///
    /// let err = AesGcm::decrypt_base64("AAAA", b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", b"uluk4a9R25RW", b"").unwrap_err();
    /// assert!(err.to_string().contains("tag"));
    /// ```
    pub fn decrypt_base64(ciphertext: &str, key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let raw =
            STANDARD.decode(ciphertext.trim()).map_err(|_| Error::crypto(DECRYPT, "the ciphertext is not base64"))?;
        Self::decrypt_bytes(&raw, key, nonce, aad)
    }

    /// Encrypts raw bytes; returns ciphertext‖tag.
    pub fn encrypt_bytes(plaintext: &[u8], key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let (cipher, nonce) = Self::cipher(key, nonce)?;
        cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad })
            .map_err(|_| Error::crypto("AEAD_AES_256_GCM encrypt", "the plaintext is too long for AES-GCM"))
    }

    /// Decrypts raw ciphertext‖tag bytes.
    pub fn decrypt_bytes(ciphertext: &[u8], key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let (cipher, nonce) = Self::cipher(key, nonce)?;
        if ciphertext.len() < Self::BLOCK_SIZE {
            return Err(Error::crypto(
                DECRYPT,
                format!(
                    "the ciphertext is {} bytes, shorter than the {}-byte authentication tag",
                    ciphertext.len(),
                    Self::BLOCK_SIZE
                ),
            ));
        }
        cipher.decrypt(&nonce, Payload { msg: ciphertext, aad }).map_err(|_| {
            Error::crypto(
                DECRYPT,
                "authentication failed: the APIv3 key, nonce or associated_data is wrong, or the ciphertext was altered",
            )
        })
    }

    fn cipher(key: &[u8], nonce: &[u8]) -> Result<(Aes256Gcm, Nonce<aes_gcm::aead::consts::U12>)> {
        if key.len() != Self::KEY_LENGTH_BYTE {
            return Err(Error::invalid(
                "APIv3 key",
                format!(
                    "it must be {} bytes (the 32-character APIv3 key from the merchant platform), not {}",
                    Self::KEY_LENGTH_BYTE,
                    key.len()
                ),
            ));
        }
        let nonce = Nonce::try_from(nonce).map_err(|_| {
            Error::invalid("nonce", format!("it must be {} bytes, not {}", Self::NONCE_LENGTH_BYTE, nonce.len()))
        })?;
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| Error::invalid("APIv3 key", "it must be 32 bytes"))?;
        Ok((cipher, nonce))
    }
}

const DECRYPT: &str = "AEAD_AES_256_GCM decrypt";
