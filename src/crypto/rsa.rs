//! `Rsa`: the PHP SDK's `Crypto\Rsa`, with base64 in and out, ported name for name.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::backend::Backend;
use super::keys::{Key, KeyType, PrivateKey, PublicKey};
use super::source::{Form, Material};
use crate::error::{Error, Result};

/// The prefix of the probe signatures WeChat Pay sends on purpose to check that merchants verify.
///
/// ```
/// use wechatpay::crypto::{Rsa, SIGNTEST_PREFIX};
///
/// let key = Rsa::from_public("file://tests/fixtures/wechat_pay_public_key.pem")?;
/// let probe = format!("{SIGNTEST_PREFIX}ABCDEF");
/// assert!(Rsa::verify("message", &probe, &key).is_err());
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub const SIGNTEST_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// RSA encryption padding.
///
/// ```
/// assert_eq!(wechatpay::crypto::Padding::default(), wechatpay::crypto::Padding::Oaep);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Padding {
    /// RSAES-OAEP with SHA-1 and MGF1-SHA1, no label: every APIv3 sensitive field (PHP `OPENSSL_PKCS1_OAEP_PADDING`).
    #[default]
    Oaep,
    /// RSAES-PKCS1-v1_5: only a few overseas APIs (PHP `OPENSSL_PKCS1_PADDING`).
    Pkcs1v15,
}

/// RSA as the PHP SDK's `WeChatPay\Crypto\Rsa` offers it: keys from the inputs merchants have, signatures and
/// ciphertexts as base64 strings.
///
/// ```
/// use wechatpay::crypto::Rsa;
///
/// let private_key = Rsa::from_private("file://tests/fixtures/merchant_private_key.pem")?;
/// let public_key = Rsa::from_public("file://tests/fixtures/merchant_certificate.pem")?;
///
/// let signature = Rsa::sign("GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n", &private_key)?;
/// assert!(Rsa::verify("GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n", &signature, &public_key)?);
///
/// let ciphertext = Rsa::encrypt("张三", &public_key)?;
/// assert_eq!(Rsa::decrypt(&ciphertext, &private_key)?, "张三");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Rsa;

impl Rsa {
    /// PHP's `Rsa::KEY_TYPE_PRIVATE`.
    ///
    /// ```
    /// use wechatpay::crypto::{Key, Rsa};
    ///
    /// let key = Rsa::from("file://tests/fixtures/merchant_private_key.pem", Rsa::KEY_TYPE_PRIVATE)?;
    /// assert!(matches!(key, Key::Private(_)));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub const KEY_TYPE_PRIVATE: KeyType = KeyType::Private;
    /// PHP's `Rsa::KEY_TYPE_PUBLIC`.
    ///
    /// ```
    /// use wechatpay::crypto::{Key, Rsa};
    ///
    /// let key = Rsa::from("file://tests/fixtures/wechat_pay_public_key.pem", Rsa::KEY_TYPE_PUBLIC)?;
    /// assert!(matches!(key, Key::Public(_)));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub const KEY_TYPE_PUBLIC: KeyType = KeyType::Public;

    /// Loads a key by PHP's rules: PEM text, DER bytes, `file://` paths, and base64 bodies prefixed with
    /// `private.pkcs1://`, `private.pkcs8://`, `public.pkcs1://` or `public.spki://`. Public keys may also be given
    /// as X.509 certificates.
    ///
    /// ```
    /// use wechatpay::crypto::{KeyType, Rsa};
    ///
    /// let public = Rsa::from("file://tests/fixtures/wechat_pay_certificate.pem", KeyType::Public)?.into_public()?;
    /// let err = Rsa::from("file://tests/fixtures/wechat_pay_certificate.pem", Rsa::KEY_TYPE_PRIVATE).unwrap_err();
    /// assert!(err.to_string().contains("CERTIFICATE"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from(thing: impl AsRef<[u8]>, kind: KeyType) -> Result<Key> {
        match kind {
            KeyType::Private => PrivateKey::load(thing).map(Key::Private),
            KeyType::Public => PublicKey::load(thing).map(Key::Public),
        }
    }

    /// [`Rsa::from`] for a private key.
    ///
    /// ```
    /// use base64::Engine as _;
    /// use wechatpay::crypto::Rsa;
    ///
    /// let key = Rsa::from_private("file://tests/fixtures/merchant_private_key.pkcs1.pem")?;
    /// // PHP's prefixed base64 form, as some config stores keep keys.
    /// let body = base64::engine::general_purpose::STANDARD.encode(key.to_pkcs1_der()?);
    /// let prefixed = Rsa::from_private(format!("private.pkcs1://{body}"))?;
    /// assert_eq!(prefixed.public_key()?, key.public_key()?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_private(thing: impl AsRef<[u8]>) -> Result<PrivateKey> {
        PrivateKey::load(thing)
    }

    /// [`Rsa::from`] for a public key or certificate.
    ///
    /// ```
    /// use wechatpay::crypto::Rsa;
    ///
    /// let from_certificate = Rsa::from_public("file://tests/fixtures/wechat_pay_certificate.pem")?;
    /// assert_eq!(from_certificate, Rsa::from_public("file://tests/fixtures/wechat_pay_public_key.pem")?);
    /// // A private key is refused, not silently turned into its public half.
    /// assert!(Rsa::from_public("file://tests/fixtures/merchant_private_key.pem").is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_public(thing: impl AsRef<[u8]>) -> Result<PublicKey> {
        PublicKey::load(thing)
    }

    /// Loads a PKCS#1 key from its base64 body (PHP `Rsa::fromPkcs1`).
    ///
    /// ```
    /// use wechatpay::crypto::{KeyType, Rsa};
    /// # let pkcs1 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD,
    /// #     Rsa::from_public("file://tests/fixtures/wechat_pay_public_key.pem")?.to_pkcs1_der()?);
    /// let key = Rsa::from_pkcs1(&pkcs1, KeyType::Public)?.into_public()?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_pkcs1(base64: &str, kind: KeyType) -> Result<Key> {
        let der = decode_key_base64(base64, "a base64 PKCS#1 key")?;
        match kind {
            KeyType::Private => {
                PrivateKey::from_material(Material { form: Form::Pkcs1Private, der }, None, Backend::default())
                    .map(Key::Private)
            }
            KeyType::Public => {
                PublicKey::from_material(Material { form: Form::Pkcs1Public, der }, Backend::default()).map(Key::Public)
            }
        }
    }

    /// Loads a PKCS#8 private key from its base64 body (PHP `Rsa::fromPkcs8`).
    ///
    /// ```
    /// use base64::Engine as _;
    /// use wechatpay::crypto::Rsa;
    ///
    /// let key = Rsa::from_private("file://tests/fixtures/merchant_private_key.pem")?;
    /// let body = base64::engine::general_purpose::STANDARD.encode(key.to_pkcs8_der());
    /// assert_eq!(Rsa::from_pkcs8(&body)?.public_key()?, key.public_key()?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_pkcs8(base64: &str) -> Result<PrivateKey> {
        let der = decode_key_base64(base64, "a base64 PKCS#8 private key")?;
        PrivateKey::from_material(Material { form: Form::Pkcs8Private, der }, None, Backend::default())
    }

    /// Loads an SPKI public key from its base64 body (PHP `Rsa::fromSpki`).
    ///
    /// ```
    /// use base64::Engine as _;
    /// use wechatpay::crypto::Rsa;
    ///
    /// let key = Rsa::from_public("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// let body = base64::engine::general_purpose::STANDARD.encode(key.to_spki_der());
    /// assert_eq!(Rsa::from_spki(&body)?, key);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_spki(base64: &str) -> Result<PublicKey> {
        let der = decode_key_base64(base64, "a base64 SPKI public key")?;
        PublicKey::from_material(Material { form: Form::Spki, der }, Backend::default())
    }

    /// Converts a base64 PKCS#1 `RSAPublicKey` into a base64 SPKI (PHP `Rsa::pkcs1ToSpki`).
    ///
    /// ```
    /// use base64::Engine as _;
    /// use wechatpay::crypto::Rsa;
    ///
    /// let key = Rsa::from_public("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// let pkcs1 = base64::engine::general_purpose::STANDARD.encode(key.to_pkcs1_der()?);
    /// let spki = Rsa::pkcs1_to_spki(&pkcs1)?;
    /// assert_eq!(Rsa::from_spki(&spki)?, key);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn pkcs1_to_spki(base64: &str) -> Result<String> {
        let key = Self::from_pkcs1(base64, KeyType::Public)?.into_public()?;
        Ok(STANDARD.encode(key.to_spki_der()))
    }

    /// Signs `message` with SHA256-RSA (PKCS#1 v1.5) and returns the base64 signature.
    ///
    /// ```
    /// use wechatpay::crypto::Rsa;
    ///
    /// let key = Rsa::from_private("file://tests/fixtures/merchant_private_key.pem")?;
    /// let message = "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n";
    /// let signature = Rsa::sign(message, &key)?;
    /// assert_eq!(signature.len(), 344);
    /// assert!(Rsa::verify(message, &signature, &key.public_key()?)?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn sign(message: impl AsRef<[u8]>, key: &PrivateKey) -> Result<String> {
        Ok(STANDARD.encode(key.sign(message.as_ref())?))
    }

    /// Verifies a base64 SHA256-RSA signature.
    ///
    /// `Ok(false)` means the signature is well formed but does not match. An error means it is not a signature at
    /// all: not base64, or a `WECHATPAY/SIGNTEST/` probe that WeChat Pay sends on purpose.
    ///
    /// ```
    /// use wechatpay::crypto::Rsa;
    ///
    /// let key = Rsa::from_public("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// assert!(Rsa::verify("message", "WECHATPAY/SIGNTEST/ABCDEFG", &key).is_err());
    /// assert!(!Rsa::verify("message", "AAAA", &key)?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn verify(message: impl AsRef<[u8]>, signature: &str, key: &PublicKey) -> Result<bool> {
        if signature.starts_with(SIGNTEST_PREFIX) {
            return Err(Error::crypto(
                "RSA-SHA256 verify",
                "the signature is a WECHATPAY/SIGNTEST/ probe, which WeChat Pay sends to check that you verify; reject it",
            ));
        }
        let raw = STANDARD
            .decode(signature.trim())
            .map_err(|_| Error::crypto("RSA-SHA256 verify", "the signature is not base64"))?;
        Ok(key.verify(message.as_ref(), &raw))
    }

    /// Encrypts with RSA-OAEP (SHA-1) and returns base64, the encoding of every APIv3 sensitive field.
    ///
    /// ```
    /// use wechatpay::crypto::Rsa;
    ///
    /// let platform = Rsa::from_public("file://tests/fixtures/wechat_pay_certificate.pem")?;
    /// let ciphertext = Rsa::encrypt("张三", &platform)?;
    /// assert_eq!(ciphertext.len(), 344);
    /// // OAEP is randomised: the same name never gives the same ciphertext twice.
    /// assert_ne!(ciphertext, Rsa::encrypt("张三", &platform)?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encrypt(plaintext: impl AsRef<[u8]>, key: &PublicKey) -> Result<String> {
        Self::encrypt_with(plaintext, key, Padding::Oaep)
    }

    /// Encrypts with the given padding and returns base64.
    ///
    /// ```
    /// use wechatpay::crypto::{Padding, Rsa};
    ///
    /// let public = Rsa::from_public("file://tests/fixtures/merchant_certificate.pem")?;
    /// let private = Rsa::from_private("file://tests/fixtures/merchant_private_key.pem")?;
    /// let ciphertext = Rsa::encrypt_with("plaintext", &public, Padding::Pkcs1v15)?;
    /// assert_eq!(Rsa::decrypt_with(&ciphertext, &private, Padding::Pkcs1v15)?, "plaintext");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encrypt_with(plaintext: impl AsRef<[u8]>, key: &PublicKey, padding: Padding) -> Result<String> {
        Ok(STANDARD.encode(key.encrypt(plaintext.as_ref(), padding)?))
    }

    /// Decrypts base64 RSA-OAEP (SHA-1) ciphertext into text.
    ///
    /// ```
    /// use wechatpay::crypto::Rsa;
    ///
    /// let merchant = Rsa::from_private("file://tests/fixtures/merchant_private_key.pem")?;
    /// let ciphertext = Rsa::encrypt("13800138000", &merchant.public_key()?)?;
    /// assert_eq!(Rsa::decrypt(&ciphertext, &merchant)?, "13800138000");
    /// let other = Rsa::from_private("file://tests/fixtures/wechat_pay_private_key.pem")?;
    /// assert!(Rsa::decrypt(&ciphertext, &other).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn decrypt(ciphertext: &str, key: &PrivateKey) -> Result<String> {
        Self::decrypt_with(ciphertext, key, Padding::Oaep)
    }

    /// Decrypts base64 ciphertext with the given padding into text.
    ///
    /// ```
    /// use wechatpay::crypto::{Padding, Rsa};
    ///
    /// let merchant = Rsa::from_private("file://tests/fixtures/merchant_private_key.pem")?;
    /// let ciphertext = Rsa::encrypt_with("13800138000", &merchant.public_key()?, Padding::Pkcs1v15)?;
    /// assert_eq!(Rsa::decrypt_with(&ciphertext, &merchant, Padding::Pkcs1v15)?, "13800138000");
    /// assert!(Rsa::decrypt_with("not base64!", &merchant, Padding::Pkcs1v15).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn decrypt_with(ciphertext: &str, key: &PrivateKey, padding: Padding) -> Result<String> {
        let operation = match padding {
            Padding::Oaep => "RSA-OAEP decrypt",
            Padding::Pkcs1v15 => "RSA-PKCS1 decrypt",
        };
        let raw =
            STANDARD.decode(ciphertext.trim()).map_err(|_| Error::crypto(operation, "the ciphertext is not base64"))?;
        let plaintext = key.decrypt(&raw, padding)?;
        String::from_utf8(plaintext)
            .map_err(|_| Error::crypto(operation, "the plaintext is not UTF-8 text; use PrivateKey::decrypt for bytes"))
    }
}

fn decode_key_base64(base64: &str, expected: &'static str) -> Result<Zeroizing<Vec<u8>>> {
    let compact: Zeroizing<String> = Zeroizing::new(base64.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    STANDARD.decode(compact.as_bytes()).map(Zeroizing::new).map_err(|_| {
        Error::key(expected, "text that is not base64", "give the base64 body of the DER, without PEM lines")
    })
}
