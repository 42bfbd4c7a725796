//! `AesGcm`: AEAD_AES_256_GCM as WeChat Pay uses it for callbacks and certificate downloads.

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
    ///
    /// ```
    /// use wechatpay::crypto::AesGcm;
    ///
    /// let apiv3_key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    /// assert_eq!(apiv3_key.len(), AesGcm::KEY_LENGTH_BYTE);
    /// assert!(AesGcm::encrypt("message", "too short", "uluk4a9R25RW", "").is_err());
    /// ```
    pub const KEY_LENGTH_BYTE: usize = 32;
    /// The authentication tag length in bytes (PHP `AesGcm::BLOCK_SIZE`).
    ///
    /// ```
    /// use wechatpay::crypto::AesGcm;
    ///
    /// let sealed = AesGcm::encrypt_bytes(b"message", b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", b"uluk4a9R25RW", b"")?;
    /// assert_eq!(sealed.len(), "message".len() + AesGcm::BLOCK_SIZE);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub const BLOCK_SIZE: usize = 16;
    /// The nonce length in bytes that WeChat Pay uses.
    ///
    /// ```
    /// use wechatpay::crypto::AesGcm;
    /// use wechatpay::Formatter;
    ///
    /// let nonce = Formatter::nonce(AesGcm::NONCE_LENGTH_BYTE)?;
    /// assert!(AesGcm::encrypt("message", "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", &nonce, "").is_ok());
    /// assert!(AesGcm::encrypt("message", "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", "sixteen-bytes-iv", "").is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub const NONCE_LENGTH_BYTE: usize = 12;

    /// Encrypts and returns base64 of ciphertext‖tag.
    ///
    /// ```
    /// use wechatpay::crypto::AesGcm;
    ///
    /// let key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    /// // Never reuse a nonce with the same key: the same inputs give the same ciphertext.
    /// let once = AesGcm::encrypt("message", key, "uluk4a9R25RW", "transaction")?;
    /// assert_eq!(once, AesGcm::encrypt("message", key, "uluk4a9R25RW", "transaction")?);
    /// assert_ne!(once, AesGcm::encrypt("message", key, "1234567890ab", "transaction")?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encrypt(
        plaintext: impl AsRef<[u8]>,
        key: impl AsRef<[u8]>,
        nonce: impl AsRef<[u8]>,
        aad: impl AsRef<[u8]>,
    ) -> Result<String> {
        Ok(STANDARD.encode(Self::encrypt_bytes(plaintext.as_ref(), key.as_ref(), nonce.as_ref(), aad.as_ref())?))
    }

    /// Decrypts base64 ciphertext‖tag into text.
    ///
    /// ```
    /// use wechatpay::crypto::{AesGcm, Certificate};
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// // `GET /v3/certificates` answers each platform certificate encrypted with the APIv3 key.
    /// let body: serde_json::Value = instance.v3().certificates().get(())?.json()?;
    /// let encrypted = &body["data"][0]["encrypt_certificate"];
    /// let field = |name: &str| encrypted[name].as_str().unwrap_or_default();
    /// let pem = AesGcm::decrypt(field("ciphertext"), &ids.apiv3_key, field("nonce"), field("associated_data"))?;
    /// assert_eq!(Certificate::from_pem(&pem)?.serial_number(), ids.platform.serial);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
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
    ///
    /// ```
    /// use wechatpay::crypto::AesGcm;
    ///
    /// let (key, nonce) = (b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", b"uluk4a9R25RW");
    /// let sealed = AesGcm::encrypt_bytes(&[0xff, 0x00], key, nonce, b"")?;
    /// assert_eq!(AesGcm::decrypt_bytes(&sealed, key, nonce, b"")?, [0xff, 0x00]);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encrypt_bytes(plaintext: &[u8], key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let (cipher, nonce) = Self::cipher(key, nonce)?;
        cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad })
            .map_err(|_| Error::crypto("AEAD_AES_256_GCM encrypt", "the plaintext is too long for AES-GCM"))
    }

    /// Decrypts raw ciphertext‖tag bytes.
    ///
    /// ```
    /// use wechatpay::crypto::AesGcm;
    ///
    /// let (key, nonce, aad) = (b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", b"uluk4a9R25RW", b"certificate");
    /// let mut sealed = AesGcm::encrypt_bytes(b"message", key, nonce, aad)?;
    /// assert_eq!(AesGcm::decrypt_bytes(&sealed, key, nonce, aad)?, b"message");
    /// sealed[0] ^= 1;
    /// assert!(AesGcm::decrypt_bytes(&sealed, key, nonce, aad).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
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
