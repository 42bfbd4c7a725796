//! `AesEcb`: AES-256-ECB with PKCS#7 padding, used only by the APIv2 refund callback's `req_info`.

use aes::Aes256;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};

/// AES-256-ECB with PKCS#7 padding, base64 in and out.
///
/// For `req_info`, the key is the lower-case hex MD5 of the APIv2 key: see [`AesEcb::req_info_key`].
///
/// ```
/// use wechatpay::crypto::AesEcb;
///
/// let key = "0123456789abcdef0123456789abcdef";
/// assert_eq!(AesEcb::encrypt("hello", key)?, "pZwJZBLuy3mDACEQT4YTBw==");
/// assert_eq!(AesEcb::decrypt("pZwJZBLuy3mDACEQT4YTBw==", key)?, "hello");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AesEcb;

impl AesEcb {
    /// The key length in bytes.
    ///
    /// ```
    /// use wechatpay::crypto::AesEcb;
    ///
    /// assert_eq!(AesEcb::req_info_key("192006250b4c09247ec02edce69f6a2d").len(), AesEcb::KEY_LENGTH_BYTE);
    /// // The APIv2 key itself is 32 bytes too, but it is not the AES key: see req_info_key.
    /// assert!(AesEcb::encrypt("hello", "0123456789abcdef").is_err());
    /// ```
    pub const KEY_LENGTH_BYTE: usize = 32;

    /// Encrypts and returns base64.
    ///
    /// ```
    /// use wechatpay::crypto::AesEcb;
    ///
    /// let key = "0123456789abcdef0123456789abcdef";
    /// // PKCS#7 always pads: 16 bytes in, 32 bytes (44 base64 characters) out.
    /// assert_eq!(AesEcb::encrypt("0123456789abcdef", key)?.len(), 44);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encrypt(plaintext: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Result<String> {
        let cipher = ecb::Encryptor::<Aes256>::new_from_slice(key.as_ref()).map_err(|_| key_error(key.as_ref()))?;
        Ok(STANDARD.encode(cipher.encrypt_padded_vec::<Pkcs7>(plaintext.as_ref())))
    }

    /// Decrypts base64 into text.
    ///
    /// ```
    /// use wechatpay::crypto::AesEcb;
    ///
    /// let key = AesEcb::req_info_key("192006250b4c09247ec02edce69f6a2d");
    /// # let req_info = AesEcb::encrypt("<root><out_refund_no>R1</out_refund_no></root>", &key)?;
    /// let xml = AesEcb::decrypt(&req_info, &key)?;
    /// assert!(xml.contains("<out_refund_no>R1</out_refund_no>"));
    /// assert!(AesEcb::decrypt(&req_info, AesEcb::req_info_key("another APIv2 key")).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn decrypt(ciphertext: &str, key: impl AsRef<[u8]>) -> Result<String> {
        let plaintext = Self::decrypt_bytes(ciphertext, key.as_ref())?;
        String::from_utf8(plaintext).map_err(|_| Error::crypto(DECRYPT, "the plaintext is not UTF-8 text"))
    }

    /// Decrypts base64 into bytes.
    ///
    /// ```
    /// let err = wechatpay::crypto::AesEcb::decrypt_bytes("AAAA", b"0123456789abcdef0123456789abcdef").unwrap_err();
    /// assert!(err.to_string().contains("multiple of 16"));
    /// ```
    pub fn decrypt_bytes(ciphertext: &str, key: &[u8]) -> Result<Vec<u8>> {
        let cipher = ecb::Decryptor::<Aes256>::new_from_slice(key).map_err(|_| key_error(key))?;
        let raw =
            STANDARD.decode(ciphertext.trim()).map_err(|_| Error::crypto(DECRYPT, "the ciphertext is not base64"))?;
        if raw.is_empty() || raw.len() % 16 != 0 {
            return Err(Error::crypto(
                DECRYPT,
                format!("the ciphertext is {} bytes, not a positive multiple of 16", raw.len()),
            ));
        }
        cipher.decrypt_padded_vec::<Pkcs7>(&raw).map_err(|_| {
            Error::crypto(
                DECRYPT,
                "the padding is wrong: the key is not the MD5 of this APIv2 key, or the data was altered",
            )
        })
    }

    /// The `req_info` key: the lower-case hex MD5 of the APIv2 key, whose 32 ASCII bytes are the AES-256 key.
    ///
    /// ```
    /// use wechatpay::crypto::AesEcb;
    ///
    /// let key = AesEcb::req_info_key("192006250b4c09247ec02edce69f6a2d");
    /// assert_eq!(key.len(), 32);
    /// assert_eq!(AesEcb::decrypt(&AesEcb::encrypt("<root/>", &key)?, &key)?, "<root/>");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn req_info_key(apiv2_key: &str) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(super::Hash::md5(apiv2_key, "", false))
    }
}

const DECRYPT: &str = "AES-256-ECB decrypt";

fn key_error(key: &[u8]) -> Error {
    Error::invalid("AES-256-ECB key", format!("it must be 32 bytes (the hex MD5 of the APIv2 key), not {}", key.len()))
}
