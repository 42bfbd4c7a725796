//! RSA keys: [`PrivateKey`] (the merchant API key) and [`PublicKey`] (a platform certificate's key or the WeChat Pay
//! public key), loaded once and shared cheaply (`Clone` is a reference-count increment).

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use der::asn1::{BitStringRef, OctetStringRef};
use der::{Decode, Encode};
use pkcs8::{EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

use super::backend::{Backend, PrivateOps, PublicOps};
use super::certificate::Certificate;
use super::source::{self, Form, Material};
use crate::error::{Error, Result};

const EXPECTED_PRIVATE: &str = "an RSA private key";
const EXPECTED_PUBLIC: &str = "an RSA public key or X.509 certificate";
const RSA_ENCRYPTION: ObjectIdentifier = pkcs1::ALGORITHM_OID;

/// Which half of a key pair [`Rsa::from`](super::Rsa::from) should load.
///
/// ```
/// use wechatpay::crypto::{Key, KeyType, Rsa};
///
/// let certificate = "file://tests/fixtures/wechat_pay_certificate.pem";
/// assert!(matches!(Rsa::from(certificate, KeyType::Public)?, Key::Public(_)));
/// assert!(Rsa::from(certificate, KeyType::Private).is_err());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// A private key (PKCS#1 or PKCS#8, possibly encrypted).
    Private,
    /// A public key (SPKI or PKCS#1) or an X.509 certificate's key.
    Public,
}

/// Either half of a key pair, as [`Rsa::from`](super::Rsa::from) returns it.
///
/// ```
/// use wechatpay::crypto::{Key, KeyType, Rsa};
///
/// let key = Rsa::from("file://tests/fixtures/merchant_private_key.pem", KeyType::Private)?;
/// assert!(matches!(key, Key::Private(_)));
/// let private = key.into_private()?;
/// assert_eq!(private.bits(), 2048);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone, Debug)]
pub enum Key {
    /// A private key.
    Private(PrivateKey),
    /// A public key.
    Public(PublicKey),
}

impl Key {
    /// The private key, or an error saying a public key was found.
    ///
    /// ```
    /// use wechatpay::crypto::{KeyType, Rsa};
    ///
    /// let key = Rsa::from("file://tests/fixtures/merchant_private_key.pkcs1.pem", KeyType::Private)?;
    /// assert_eq!(key.into_private()?.bits(), 2048);
    /// let public = Rsa::from("file://tests/fixtures/wechat_pay_public_key.pem", KeyType::Public)?;
    /// assert!(public.into_private().is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn into_private(self) -> Result<PrivateKey> {
        match self {
            Key::Private(key) => Ok(key),
            Key::Public(_) => Err(Error::key(EXPECTED_PRIVATE, "a public key", "")),
        }
    }

    /// The public key, or an error saying a private key was found.
    ///
    /// ```
    /// use wechatpay::crypto::{KeyType, Rsa};
    ///
    /// let key = Rsa::from("file://tests/fixtures/wechat_pay_certificate.pem", KeyType::Public)?.into_public()?;
    /// assert_eq!(key.bits(), 2048);
    /// let private = Rsa::from("file://tests/fixtures/merchant_private_key.pem", KeyType::Private)?;
    /// assert!(private.into_public().unwrap_err().to_string().contains("public_key()"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn into_public(self) -> Result<PublicKey> {
        match self {
            Key::Public(key) => Ok(key),
            Key::Private(_) => {
                Err(Error::key(EXPECTED_PUBLIC, "a private key", "use PrivateKey::public_key() to derive it"))
            }
        }
    }
}

/// An RSA private key, parsed once for the chosen [`Backend`]. Zeroized when the last clone is dropped, redacted in
/// `Debug`.
///
/// ```
/// use wechatpay::crypto::PrivateKey;
///
/// let pem = std::fs::read_to_string("tests/fixtures/merchant_private_key.pem").unwrap();
/// let key = PrivateKey::from_pem(&pem)?;
/// let signature = key.sign(b"message")?;
/// assert!(key.public_key()?.verify(b"message", &signature));
/// assert!(!format!("{key:?}").contains("MII"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct PrivateKey(Arc<PrivateInner>);

struct PrivateInner {
    ops: Box<dyn PrivateOps>,
    backend: Backend,
    pkcs8: Zeroizing<Vec<u8>>,
    public: OnceLock<Result<PublicKey, String>>,
}

impl PrivateKey {
    /// Loads a private key by PHP's `Rsa::from` rules: PEM text, DER bytes, a `file://` path, or base64 prefixed with
    /// `private.pkcs1://` or `private.pkcs8://`.
    ///
    /// ```
    /// use wechatpay::crypto::PrivateKey;
    ///
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// assert_eq!(key.bits(), 2048);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn load(thing: impl AsRef<[u8]>) -> Result<Self> {
        Self::from_material(source::read(thing.as_ref(), EXPECTED_PRIVATE)?, None, Backend::default())
    }

    /// [`load`](Self::load) for a key that may be an encrypted PKCS#8 one (`ENCRYPTED PRIVATE KEY`): PEM text or a
    /// `file://` path, with its passphrase (ignored when the key is not encrypted).
    ///
    /// ```
    /// use wechatpay::crypto::PrivateKey;
    ///
    /// let key = PrivateKey::load_with_passphrase("file://tests/fixtures/merchant_private_key.encrypted.pem", "wechatpay")?;
    /// assert_eq!(key.public_key()?, PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?.public_key()?);
    /// assert!(PrivateKey::load_with_passphrase("file://tests/fixtures/merchant_private_key.encrypted.pem", "wrong").is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn load_with_passphrase(thing: impl AsRef<[u8]>, passphrase: &str) -> Result<Self> {
        Self::from_material(source::read(thing.as_ref(), EXPECTED_PRIVATE)?, Some(passphrase), Backend::default())
    }

    /// Loads a private key from a file (PEM or DER).
    ///
    /// ```
    /// let key = wechatpay::crypto::PrivateKey::from_file("tests/fixtures/merchant_private_key.pem")?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_file_with_passphrase_opt(path.as_ref(), None)
    }

    /// Loads a private key from a file that may hold an encrypted PKCS#8 key.
    ///
    /// ```
    /// let key = wechatpay::crypto::PrivateKey::from_file_with_passphrase(
    ///     "tests/fixtures/merchant_private_key.encrypted.pem",
    ///     "wechatpay",
    /// )?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_file_with_passphrase(path: impl AsRef<Path>, passphrase: &str) -> Result<Self> {
        Self::from_file_with_passphrase_opt(path.as_ref(), Some(passphrase))
    }

    fn from_file_with_passphrase_opt(path: &Path, passphrase: Option<&str>) -> Result<Self> {
        let thing = format!("file://{}", path.display());
        Self::from_material(source::read(thing.as_bytes(), EXPECTED_PRIVATE)?, passphrase, Backend::default())
    }

    /// Parses PEM text holding a PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) key.
    ///
    /// ```
    /// let pem = std::fs::read_to_string("tests/fixtures/merchant_private_key.pem").unwrap();
    /// let key = wechatpay::crypto::PrivateKey::from_pem(&pem)?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_pem_opt(pem, None)
    }

    /// Parses PEM text holding an encrypted PKCS#8 key (`ENCRYPTED PRIVATE KEY`, PBES2), or an unencrypted one (the
    /// passphrase is then ignored).
    ///
    /// ```
    /// let pem = std::fs::read_to_string("tests/fixtures/merchant_private_key.encrypted.pem").unwrap();
    /// let key = wechatpay::crypto::PrivateKey::from_pem_with_passphrase(&pem, "wechatpay")?;
    /// assert!(wechatpay::crypto::PrivateKey::from_pem_with_passphrase(&pem, "wrong").is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_pem_with_passphrase(pem: &str, passphrase: &str) -> Result<Self> {
        Self::from_pem_opt(pem, Some(passphrase))
    }

    fn from_pem_opt(pem: &str, passphrase: Option<&str>) -> Result<Self> {
        if !pem.contains("-----BEGIN ") {
            return Err(Error::key(EXPECTED_PRIVATE, "text that is not PEM", "PEM text starts with -----BEGIN"));
        }
        Self::from_material(source::read(pem.as_bytes(), EXPECTED_PRIVATE)?, passphrase, Backend::default())
    }

    /// Parses DER: PKCS#8 `PrivateKeyInfo` or PKCS#1 `RSAPrivateKey`, whichever it is.
    ///
    /// ```
    /// let key = wechatpay::crypto::PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let again = wechatpay::crypto::PrivateKey::from_der(&key.to_pkcs8_der())?;
    /// assert_eq!(again.public_key()?, key.public_key()?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let material = Material { form: Form::Unknown, der: Zeroizing::new(der.to_vec()) };
        Self::from_material(material, None, Backend::default())
    }

    /// Parses PKCS#1 `RSAPrivateKey` DER.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let pkcs1 = key.to_pkcs1_der()?;
    /// let again = wechatpay::crypto::PrivateKey::from_pkcs1_der(&pkcs1)?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let material = Material { form: Form::Pkcs1Private, der: Zeroizing::new(der.to_vec()) };
        Self::from_material(material, None, Backend::default())
    }

    /// Parses PKCS#8 `PrivateKeyInfo` DER.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let again = wechatpay::crypto::PrivateKey::from_pkcs8_der(&key.to_pkcs8_der())?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let material = Material { form: Form::Pkcs8Private, der: Zeroizing::new(der.to_vec()) };
        Self::from_material(material, None, Backend::default())
    }

    pub(crate) fn from_material(material: Material, passphrase: Option<&str>, backend: Backend) -> Result<Self> {
        let pkcs8 = match material.form {
            Form::Pkcs8Private => rsa_pkcs8(&material.der)?,
            Form::Pkcs1Private => pkcs1_to_pkcs8(&material.der)?,
            Form::EncryptedPkcs8 => decrypt_pkcs8(&material.der, passphrase)?,
            Form::Unknown => sniff_private(&material.der, passphrase)?,
            Form::Spki | Form::Pkcs1Public => return Err(Error::key(EXPECTED_PRIVATE, "a public key", "")),
            Form::Certificate => {
                return Err(Error::key(
                    EXPECTED_PRIVATE,
                    "a PEM block labelled CERTIFICATE",
                    "the private key is apiclient_key.pem, not apiclient_cert.pem",
                ));
            }
        };
        Self::from_pkcs8_with_backend(pkcs8, backend)
    }

    fn from_pkcs8_with_backend(pkcs8: Zeroizing<Vec<u8>>, backend: Backend) -> Result<Self> {
        let ops = backend.private_key(&pkcs8)?;
        Ok(PrivateKey(Arc::new(PrivateInner { ops, backend, pkcs8, public: OnceLock::new() })))
    }

    /// The same key, parsed for another backend.
    ///
    /// ```
    /// use wechatpay::crypto::{Backend, PrivateKey};
    ///
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let pure = key.with_backend(Backend::RustCrypto)?;
    /// assert_eq!(pure.backend(), Backend::RustCrypto);
    /// // PKCS#1 v1.5 signatures are deterministic: both backends give the same bytes.
    /// assert_eq!(pure.sign(b"hello")?, key.sign(b"hello")?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn with_backend(&self, backend: Backend) -> Result<Self> {
        if backend == self.0.backend {
            return Ok(self.clone());
        }
        Self::from_pkcs8_with_backend(self.0.pkcs8.clone(), backend)
    }

    /// The backend this key was parsed for.
    ///
    /// ```
    /// use wechatpay::crypto::{Backend, PrivateKey};
    ///
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// assert_eq!(key.backend(), Backend::default());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn backend(&self) -> Backend {
        self.0.backend
    }

    /// The modulus size in bits.
    ///
    /// ```
    /// let key = wechatpay::crypto::PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// assert_eq!(key.bits(), 2048);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn bits(&self) -> usize {
        self.0.ops.bits()
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 and SHA-256, the APIv3 signature. Returns raw signature bytes; see
    /// [`Rsa::sign`](super::Rsa::sign) for base64.
    ///
    /// ```
    /// let key = wechatpay::crypto::PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let signature = key.sign(b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n")?;
    /// assert_eq!(signature.len(), key.bits() / 8);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.0.ops.sign_sha256(message)
    }

    /// Decrypts raw `ciphertext` bytes with the given padding.
    ///
    /// ```
    /// use wechatpay::crypto::{Padding, PrivateKey};
    ///
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let ciphertext = key.public_key()?.encrypt(b"Alice", Padding::Oaep)?;
    /// assert_eq!(key.decrypt(&ciphertext, Padding::Oaep)?, b"Alice");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn decrypt(&self, ciphertext: &[u8], padding: super::Padding) -> Result<Vec<u8>> {
        match padding {
            super::Padding::Oaep => self.0.ops.decrypt_oaep_sha1(ciphertext),
            super::Padding::Pkcs1v15 => self.0.ops.decrypt_pkcs1v15(ciphertext),
        }
    }

    /// The matching public key, parsed for the same backend (computed once).
    ///
    /// ```
    /// use wechatpay::crypto::{Certificate, PrivateKey};
    ///
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let certificate = Certificate::load("file://tests/fixtures/merchant_certificate.pem")?;
    /// // A key and certificate that belong together: the pair merchants get as apiclient_key/cert.pem.
    /// assert_eq!(&key.public_key()?, certificate.public_key());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn public_key(&self) -> Result<PublicKey> {
        self.0
            .public
            .get_or_init(|| derive_public(&self.0.pkcs8, self.0.backend).map_err(|err| err.to_string()))
            .clone()
            .map_err(|reason| Error::crypto("deriving the public key", reason))
    }

    /// The key as PKCS#8 DER. The caller holds key material: keep it zeroized.
    ///
    /// ```
    /// use wechatpay::crypto::PrivateKey;
    ///
    /// // A PKCS#1 key comes out as PKCS#8.
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pkcs1.pem")?;
    /// let again = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der())?;
    /// assert_eq!(again.public_key()?, key.public_key()?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.0.pkcs8.clone()
    }

    /// The key as PKCS#1 `RSAPrivateKey` DER.
    ///
    /// ```
    /// use wechatpay::crypto::PrivateKey;
    ///
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let pkcs1 = key.to_pkcs1_der()?;
    /// assert_eq!(PrivateKey::from_pkcs1_der(&pkcs1)?.public_key()?, key.public_key()?);
    /// assert!(pkcs1.len() < key.to_pkcs8_der().len());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn to_pkcs1_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let info =
            PrivateKeyInfoRef::try_from(self.0.pkcs8.as_slice()).map_err(|err| Error::crypto("PKCS#1 export", err))?;
        Ok(Zeroizing::new(info.private_key.as_bytes().to_vec()))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("backend", &self.0.backend)
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl FromStr for PrivateKey {
    type Err = Error;

    /// Same as [`PrivateKey::load`].
    ///
    /// ```
    /// let key: wechatpay::crypto::PrivateKey = "file://tests/fixtures/merchant_private_key.pem".parse()?;
    /// assert_eq!(key.bits(), 2048);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    fn from_str(thing: &str) -> Result<Self> {
        Self::load(thing)
    }
}

/// An RSA public key, parsed once for the chosen [`Backend`].
///
/// ```
/// use wechatpay::crypto::PublicKey;
///
/// let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
/// let from_certificate = PublicKey::load("file://tests/fixtures/wechat_pay_certificate.pem")?;
/// assert_eq!(key, from_certificate);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct PublicKey(Arc<PublicInner>);

struct PublicInner {
    ops: Box<dyn PublicOps>,
    backend: Backend,
    spki: Vec<u8>,
}

impl PublicKey {
    /// Loads a public key by PHP's `Rsa::from` rules: PEM text (`PUBLIC KEY`, `RSA PUBLIC KEY` or `CERTIFICATE`),
    /// DER bytes, a `file://` path, or base64 prefixed with `public.pkcs1://` or `public.spki://`.
    ///
    /// ```
    /// let key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn load(thing: impl AsRef<[u8]>) -> Result<Self> {
        Self::from_material(source::read(thing.as_ref(), EXPECTED_PUBLIC)?, Backend::default())
    }

    /// Loads a public key or certificate from a file (PEM or DER).
    ///
    /// ```
    /// let key = wechatpay::crypto::PublicKey::from_file("tests/fixtures/wechat_pay_certificate.pem")?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::load(format!("file://{}", path.as_ref().display()))
    }

    /// Parses PEM text: `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1) or `CERTIFICATE`.
    ///
    /// ```
    /// let pem = std::fs::read_to_string("tests/fixtures/wechat_pay_public_key.pem").unwrap();
    /// let key = wechatpay::crypto::PublicKey::from_pem(&pem)?;
    /// assert_eq!(wechatpay::crypto::PublicKey::from_pem(&key.to_pem())?, key);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_pem(pem: &str) -> Result<Self> {
        if !pem.contains("-----BEGIN ") {
            return Err(Error::key(EXPECTED_PUBLIC, "text that is not PEM", "PEM text starts with -----BEGIN"));
        }
        Self::load(pem)
    }

    /// Parses DER: SPKI, PKCS#1 `RSAPublicKey` or an X.509 certificate, whichever it is.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// assert_eq!(wechatpay::crypto::PublicKey::from_der(key.to_spki_der())?, key);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_der(der: &[u8]) -> Result<Self> {
        Self::from_material(Material { form: Form::Unknown, der: Zeroizing::new(der.to_vec()) }, Backend::default())
    }

    /// Parses SPKI (`SubjectPublicKeyInfo`) DER.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// assert_eq!(wechatpay::crypto::PublicKey::from_spki_der(key.to_spki_der())?, key);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        Self::from_material(Material { form: Form::Spki, der: Zeroizing::new(der.to_vec()) }, Backend::default())
    }

    /// Parses PKCS#1 `RSAPublicKey` DER.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// assert_eq!(wechatpay::crypto::PublicKey::from_pkcs1_der(&key.to_pkcs1_der()?)?, key);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        Self::from_material(Material { form: Form::Pkcs1Public, der: Zeroizing::new(der.to_vec()) }, Backend::default())
    }

    pub(crate) fn from_material(material: Material, backend: Backend) -> Result<Self> {
        let spki = match material.form {
            Form::Spki => rsa_spki(&material.der)?,
            Form::Pkcs1Public => pkcs1_to_spki(&material.der)?,
            Form::Certificate => return Ok(Certificate::from_der(&material.der)?.public_key().clone()),
            Form::Unknown => sniff_public(&material.der)?,
            Form::Pkcs8Private | Form::Pkcs1Private | Form::EncryptedPkcs8 => {
                return Err(Error::key(
                    EXPECTED_PUBLIC,
                    "a private key",
                    "give the public key or certificate; PrivateKey::public_key() derives one",
                ));
            }
        };
        Self::from_spki_with_backend(spki, backend)
    }

    pub(crate) fn from_spki_with_backend(spki: Vec<u8>, backend: Backend) -> Result<Self> {
        let ops = backend.public_key(&spki)?;
        Ok(PublicKey(Arc::new(PublicInner { ops, backend, spki })))
    }

    /// The same key, parsed for another backend.
    ///
    /// ```
    /// use wechatpay::crypto::{Backend, PublicKey};
    ///
    /// let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// assert_eq!(key.with_backend(Backend::RustCrypto)?.backend(), Backend::RustCrypto);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn with_backend(&self, backend: Backend) -> Result<Self> {
        if backend == self.0.backend {
            return Ok(self.clone());
        }
        Self::from_spki_with_backend(self.0.spki.clone(), backend)
    }

    /// The backend this key was parsed for.
    ///
    /// ```
    /// use wechatpay::crypto::{Backend, PublicKey};
    ///
    /// let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// assert_eq!(key.backend(), Backend::default());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn backend(&self) -> Backend {
        self.0.backend
    }

    /// The modulus size in bits.
    ///
    /// ```
    /// let key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// assert_eq!(key.bits(), 2048);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn bits(&self) -> usize {
        self.0.ops.bits()
    }

    /// Whether `signature` (raw bytes) is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    ///
    /// ```
    /// use wechatpay::crypto::{PrivateKey, PublicKey};
    ///
    /// let public = PublicKey::load("file://tests/fixtures/merchant_certificate.pem")?;
    /// # let private = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let signature = private.sign(b"message")?;
    /// assert!(public.verify(b"message", &signature));
    /// assert!(!public.verify(b"massage", &signature));
    /// assert!(!public.verify(b"message", b"not a signature"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.ops.verify_sha256(message, signature)
    }

    /// Encrypts `plaintext` with the given padding; [`Padding::Oaep`](super::Padding::Oaep) is what WeChat Pay's
    /// sensitive fields use.
    ///
    /// ```
    /// use wechatpay::crypto::{Padding, PublicKey};
    ///
    /// let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// assert_eq!(key.encrypt(b"Alice", Padding::Oaep)?.len(), 256);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encrypt(&self, plaintext: &[u8], padding: super::Padding) -> Result<Vec<u8>> {
        match padding {
            super::Padding::Oaep => self.0.ops.encrypt_oaep_sha1(plaintext),
            super::Padding::Pkcs1v15 => self.0.ops.encrypt_pkcs1v15(plaintext),
        }
    }

    /// The key as SPKI DER.
    ///
    /// ```
    /// use wechatpay::crypto::{Certificate, PublicKey};
    ///
    /// let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// let certificate = Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?;
    /// assert_eq!(key.to_spki_der(), certificate.public_key().to_spki_der());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn to_spki_der(&self) -> &[u8] {
        &self.0.spki
    }

    /// The key as PKCS#1 `RSAPublicKey` DER.
    ///
    /// ```
    /// use wechatpay::crypto::PublicKey;
    ///
    /// let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// let pkcs1 = key.to_pkcs1_der()?;
    /// assert_eq!(PublicKey::from_pkcs1_der(&pkcs1)?, key);
    /// // PKCS#1 is the bare key; SPKI wraps it with the algorithm.
    /// assert!(pkcs1.len() < key.to_spki_der().len());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn to_pkcs1_der(&self) -> Result<Vec<u8>> {
        let info = SubjectPublicKeyInfoRef::try_from(self.0.spki.as_slice())
            .map_err(|err| Error::crypto("PKCS#1 export", err))?;
        Ok(info.subject_public_key.raw_bytes().to_vec())
    }

    /// The key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    ///
    /// ```
    /// use wechatpay::crypto::PublicKey;
    ///
    /// // Extract the public key of a platform certificate, as `openssl x509 -pubkey` does.
    /// let key = PublicKey::load("file://tests/fixtures/wechat_pay_certificate.pem")?;
    /// let pem = std::fs::read_to_string("tests/fixtures/wechat_pay_public_key.pem").unwrap();
    /// assert_eq!(key.to_pem(), pem);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn to_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.0.spki)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.spki == other.0.spki
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("backend", &self.0.backend)
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl FromStr for PublicKey {
    type Err = Error;

    /// Same as [`PublicKey::load`].
    ///
    /// ```
    /// let key: wechatpay::crypto::PublicKey = "file://tests/fixtures/wechat_pay_public_key.pem".parse()?;
    /// assert_eq!(key.bits(), 2048);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    fn from_str(thing: &str) -> Result<Self> {
        Self::load(thing)
    }
}

/// PEM with 64-character lines, as OpenSSL writes it.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// Names a key algorithm OID for error messages.
fn algorithm_name(oid: ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.2.840.10045.2.1" => "an EC key".to_owned(),
        "1.3.101.112" => "an Ed25519 key".to_owned(),
        "1.2.156.10197.1.301" => "an SM2 key".to_owned(),
        "1.2.840.113549.1.1.10" => "an RSA-PSS-only key".to_owned(),
        other => format!("a key of algorithm {other}"),
    }
}

fn rsa_pkcs8(der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let info = PrivateKeyInfoRef::try_from(der)
        .map_err(|err| Error::key(EXPECTED_PRIVATE, format!("PKCS#8 DER that does not parse ({err})"), ""))?;
    if info.algorithm.oid != RSA_ENCRYPTION {
        return Err(Error::key(EXPECTED_PRIVATE, algorithm_name(info.algorithm.oid), "WeChat Pay uses RSA keys"));
    }
    Ok(Zeroizing::new(der.to_vec()))
}

fn pkcs1_to_pkcs8(der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    pkcs1::RsaPrivateKeyRef::from_der(der)
        .map_err(|err| Error::key(EXPECTED_PRIVATE, format!("PKCS#1 DER that does not parse ({err})"), ""))?;
    let octets = OctetStringRef::new(der).map_err(|err| Error::crypto("PKCS#8 wrapping", err))?;
    let info = PrivateKeyInfoRef::new(pkcs1::ALGORITHM_ID, octets);
    Ok(Zeroizing::new(info.to_der().map_err(|err| Error::crypto("PKCS#8 wrapping", err))?))
}

fn decrypt_pkcs8(der: &[u8], passphrase: Option<&str>) -> Result<Zeroizing<Vec<u8>>> {
    let Some(passphrase) = passphrase else {
        return Err(Error::key(
            EXPECTED_PRIVATE,
            "an encrypted PKCS#8 key and no passphrase",
            "load it with PrivateKey::from_pem_with_passphrase or PemUtil::load_private_key(path, Some(passphrase))",
        ));
    };
    let info = EncryptedPrivateKeyInfoRef::try_from(der)
        .map_err(|err| Error::key(EXPECTED_PRIVATE, format!("encrypted PKCS#8 DER that does not parse ({err})"), ""))?;
    check_kdf_cost(&info)?;
    let document = info.decrypt(passphrase).map_err(|_| {
        Error::key(
            EXPECTED_PRIVATE,
            "an encrypted PKCS#8 key that this passphrase does not open",
            "check the passphrase; PBES2 with PBKDF2 or scrypt and AES-CBC is supported",
        )
    })?;
    rsa_pkcs8(document.as_bytes())
}

/// The most PBKDF2 iterations an encrypted key may ask for (OpenSSL uses 2,048; current advice is ~600,000).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// The most memory scrypt may need for an encrypted key (128 · r · N bytes; OpenSSL allows 32 MiB by default).
const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;

/// Refuses an encrypted key whose key derivation would take minutes or gigabytes: its parameters are part of the
/// file, so a hostile or corrupted one could hold the process.
fn check_kdf_cost(info: &EncryptedPrivateKeyInfoRef<'_>) -> Result<()> {
    let Some(parameters) = info.encryption_algorithm.pbes2() else { return Ok(()) };
    let too_costly = |what: String| {
        Err(Error::key(
            EXPECTED_PRIVATE,
            format!("an encrypted PKCS#8 key whose key derivation asks for {what}"),
            "re-encrypt it with usual parameters (`openssl pkcs8 -topk8 -v2 aes-256-cbc`)",
        ))
    };
    if let Some(pbkdf2) = parameters.kdf.pbkdf2() {
        if pbkdf2.iteration_count > MAX_PBKDF2_ITERATIONS {
            return too_costly(format!(
                "{} PBKDF2 iterations (at most {MAX_PBKDF2_ITERATIONS} are accepted)",
                pbkdf2.iteration_count
            ));
        }
    }
    if let Some(scrypt) = parameters.kdf.scrypt() {
        let memory = 128u64.saturating_mul(u64::from(scrypt.block_size)).saturating_mul(scrypt.cost_parameter);
        let work = memory.saturating_mul(u64::from(scrypt.parallelization));
        if memory > MAX_SCRYPT_MEMORY || work > 16 * MAX_SCRYPT_MEMORY {
            return too_costly(format!(
                "scrypt with N={}, r={}, p={} (more than {} MiB of memory or work)",
                scrypt.cost_parameter,
                scrypt.block_size,
                scrypt.parallelization,
                MAX_SCRYPT_MEMORY >> 20
            ));
        }
    }
    Ok(())
}

fn sniff_private(der: &[u8], passphrase: Option<&str>) -> Result<Zeroizing<Vec<u8>>> {
    if PrivateKeyInfoRef::try_from(der).is_ok() {
        return rsa_pkcs8(der);
    }
    if pkcs1::RsaPrivateKeyRef::from_der(der).is_ok() {
        return pkcs1_to_pkcs8(der);
    }
    if EncryptedPrivateKeyInfoRef::try_from(der).is_ok() {
        return decrypt_pkcs8(der, passphrase);
    }
    Err(Error::key(EXPECTED_PRIVATE, describe_der(der), ""))
}

fn rsa_spki(der: &[u8]) -> Result<Vec<u8>> {
    let info = SubjectPublicKeyInfoRef::try_from(der)
        .map_err(|err| Error::key(EXPECTED_PUBLIC, format!("SPKI DER that does not parse ({err})"), ""))?;
    if info.algorithm.oid != RSA_ENCRYPTION {
        return Err(Error::key(EXPECTED_PUBLIC, algorithm_name(info.algorithm.oid), "WeChat Pay uses RSA keys"));
    }
    Ok(der.to_vec())
}

fn pkcs1_to_spki(der: &[u8]) -> Result<Vec<u8>> {
    pkcs1::RsaPublicKeyRef::from_der(der)
        .map_err(|err| Error::key(EXPECTED_PUBLIC, format!("PKCS#1 public key DER that does not parse ({err})"), ""))?;
    let bits = BitStringRef::from_bytes(der).map_err(|err| Error::crypto("SPKI wrapping", err))?;
    let info = SubjectPublicKeyInfoRef { algorithm: pkcs1::ALGORITHM_ID, subject_public_key: bits };
    info.to_der().map_err(|err| Error::crypto("SPKI wrapping", err))
}

fn sniff_public(der: &[u8]) -> Result<Vec<u8>> {
    if SubjectPublicKeyInfoRef::try_from(der).is_ok() {
        return rsa_spki(der);
    }
    if pkcs1::RsaPublicKeyRef::from_der(der).is_ok() {
        return pkcs1_to_spki(der);
    }
    if let Ok(certificate) = Certificate::from_der(der) {
        return Ok(certificate.public_key().to_spki_der().to_vec());
    }
    Err(Error::key(EXPECTED_PUBLIC, describe_der(der), ""))
}

/// Says what some DER is, for an error message, without quoting it.
fn describe_der(der: &[u8]) -> String {
    if PrivateKeyInfoRef::try_from(der).is_ok() || pkcs1::RsaPrivateKeyRef::from_der(der).is_ok() {
        "DER of a private key".to_owned()
    } else if EncryptedPrivateKeyInfoRef::try_from(der).is_ok() {
        "DER of an encrypted private key".to_owned()
    } else if SubjectPublicKeyInfoRef::try_from(der).is_ok() || pkcs1::RsaPublicKeyRef::from_der(der).is_ok() {
        "DER of a public key".to_owned()
    } else if Certificate::from_der(der).is_ok() {
        "DER of a certificate".to_owned()
    } else {
        format!("{} bytes that are not a DER key or certificate", der.len())
    }
}

/// Derives the SPKI public key from a PKCS#8 RSA private key.
fn derive_public(pkcs8: &[u8], backend: Backend) -> Result<PublicKey> {
    let info = PrivateKeyInfoRef::try_from(pkcs8).map_err(|err| Error::crypto("deriving the public key", err))?;
    let private = pkcs1::RsaPrivateKeyRef::from_der(info.private_key.as_bytes())
        .map_err(|err| Error::crypto("deriving the public key", err))?;
    let public = private.public_key().to_der().map_err(|err| Error::crypto("deriving the public key", err))?;
    PublicKey::from_spki_with_backend(pkcs1_to_spki(&public)?, backend)
}

#[cfg(test)]
mod tests {
    use der::{Decode as _, Encode as _};
    use pkcs8::pkcs5::{EncryptionScheme, pbes2::Kdf};

    use super::*;

    /// The fixture's encrypted key with its PBKDF2 iteration count replaced.
    fn with_iterations(iterations: u32) -> String {
        let pem = std::fs::read_to_string("tests/fixtures/merchant_private_key.encrypted.pem").unwrap();
        let der = super::super::source::read(pem.as_bytes(), EXPECTED_PRIVATE).unwrap().der;
        let mut info = EncryptedPrivateKeyInfoRef::from_der(&der).unwrap();
        let EncryptionScheme::Pbes2(parameters) = &mut info.encryption_algorithm else { panic!("PBES2") };
        let Kdf::Pbkdf2(pbkdf2) = &mut parameters.kdf else { panic!("PBKDF2") };
        pbkdf2.iteration_count = iterations;
        pem_encode("ENCRYPTED PRIVATE KEY", &info.to_der().unwrap())
    }

    #[test]
    fn encrypted_keys_asking_for_unbounded_work_are_refused_before_any() {
        let err = PrivateKey::from_pem_with_passphrase(&with_iterations(u32::MAX), "wechatpay").unwrap_err();
        assert!(err.to_string().contains("4294967295 PBKDF2 iterations"), "{err}");
        // The fixture's own 2,048 still open it.
        assert!(PrivateKey::from_pem_with_passphrase(&with_iterations(2048), "wechatpay").is_ok());
    }
}
