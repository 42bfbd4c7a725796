//! X.509 certificates: the merchant's `apiclient_cert.pem` and WeChat Pay's platform certificates.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use der::{Decode, Encode};

use super::backend::Backend;
use super::keys::{PublicKey, pem_encode};
use super::source::{self, Form};
use crate::error::{Error, Result};

const EXPECTED: &str = "an X.509 certificate";

/// A parsed X.509 certificate: its serial (upper-case hex, as WeChat Pay writes it), validity and RSA public key.
///
/// ```
/// use wechatpay::crypto::Certificate;
///
/// let certificate = Certificate::load("file://tests/fixtures/merchant_certificate.pem")?;
/// assert_eq!(certificate.serial_number(), "5F1C72E2A8931B72A2E13AF8DEE92471EB397115");
/// assert!(certificate.not_before() < certificate.not_after());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct Certificate(Arc<Inner>);

#[derive(Clone)]
struct Inner {
    der: Vec<u8>,
    serial: String,
    subject: String,
    not_before: SystemTime,
    not_after: SystemTime,
    public_key: PublicKey,
    /// The PEM text it was parsed from, byte for byte, when it was given as PEM text.
    pem: Option<Box<str>>,
}

impl Certificate {
    /// Loads a certificate from PEM text, DER bytes or a `file://` path.
    ///
    /// ```
    /// let pem = std::fs::read_to_string("tests/fixtures/wechat_pay_certificate.pem").unwrap();
    /// let certificate = wechatpay::crypto::Certificate::load(&pem)?;
    /// assert_eq!(certificate.serial_number(), "440024045C4A427599D09BB4E3DE0279F2E813FD");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn load(thing: impl AsRef<[u8]>) -> Result<Self> {
        let thing = thing.as_ref();
        let material = source::read(thing, EXPECTED)?;
        let certificate = match material.form {
            Form::Certificate | Form::Unknown => Self::from_der(&material.der)?,
            _ => {
                return Err(Error::key(
                    EXPECTED,
                    "a key rather than a certificate",
                    "certificates are PEM labelled CERTIFICATE",
                ));
            }
        };
        // Only the text of this one certificate is kept: never a bundle, nor a key given along with it.
        match std::str::from_utf8(thing) {
            Ok(text) if !text.trim_start().starts_with("file://") && text.matches("-----BEGIN ").count() == 1 => {
                Ok(certificate.with_pem(text))
            }
            _ => Ok(certificate),
        }
    }

    /// Loads a certificate from a PEM or DER file.
    ///
    /// ```
    /// let certificate = wechatpay::crypto::Certificate::from_file("tests/fixtures/merchant_certificate.pem")?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::load(format!("file://{}", path.as_ref().display()))
    }

    /// Parses PEM text labelled `CERTIFICATE`.
    ///
    /// ```
    /// let pem = std::fs::read_to_string("tests/fixtures/merchant_certificate.pem").unwrap();
    /// let certificate = wechatpay::crypto::Certificate::from_pem(&pem)?;
    /// assert_eq!(wechatpay::crypto::Certificate::from_pem(&certificate.to_pem())?.serial_number(), certificate.serial_number());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_pem(pem: &str) -> Result<Self> {
        if !pem.contains("-----BEGIN ") {
            return Err(Error::key(
                EXPECTED,
                "text that is not PEM",
                "PEM text starts with -----BEGIN CERTIFICATE-----",
            ));
        }
        Self::load(pem)
    }

    /// Parses DER.
    ///
    /// ```
    /// # let certificate = wechatpay::crypto::Certificate::from_file("tests/fixtures/merchant_certificate.pem")?;
    /// let again = wechatpay::crypto::Certificate::from_der(certificate.to_der())?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_der(der: &[u8]) -> Result<Self> {
        Self::from_der_with_backend(der, Backend::default())
    }

    pub(crate) fn from_der_with_backend(der: &[u8], backend: Backend) -> Result<Self> {
        let certificate = x509_cert::Certificate::from_der(der)
            .map_err(|err| Error::key(EXPECTED, format!("DER that is not an X.509 certificate ({err})"), ""))?;
        let tbs = certificate.tbs_certificate();
        let spki = tbs.subject_public_key_info().to_der().map_err(|err| Error::crypto("certificate parsing", err))?;
        let public_key = PublicKey::from_material(
            source::Material { form: Form::Spki, der: zeroize::Zeroizing::new(spki) },
            backend,
        )
        .map_err(|err| match err {
            Error::Key { found, hint, .. } => {
                Error::Key { expected: EXPECTED, found: format!("a certificate for {found}"), hint }
            }
            other => other,
        })?;
        Ok(Certificate(Arc::new(Inner {
            der: der.to_vec(),
            serial: serial_hex(tbs.serial_number().as_bytes()),
            subject: tbs.subject().to_string(),
            not_before: std::time::UNIX_EPOCH + tbs.validity().not_before.to_unix_duration(),
            not_after: std::time::UNIX_EPOCH + tbs.validity().not_after.to_unix_duration(),
            public_key,
            pem: None,
        })))
    }

    /// The same certificate, remembering the PEM text it was parsed from.
    fn with_pem(self, pem: &str) -> Self {
        let Inner { der, serial, subject, not_before, not_after, public_key, pem: _ } =
            Arc::try_unwrap(self.0).unwrap_or_else(|shared| Inner::clone(&shared));
        Certificate(Arc::new(Inner { der, serial, subject, not_before, not_after, public_key, pem: Some(pem.into()) }))
    }

    /// The serial number as upper-case hex without leading zero bytes, the form WeChat Pay uses in
    /// `Wechatpay-Serial` and `serial_no`.
    ///
    /// ```
    /// let certificate = wechatpay::crypto::Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?;
    /// assert_eq!(certificate.serial_number(), "440024045C4A427599D09BB4E3DE0279F2E813FD");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn serial_number(&self) -> &str {
        &self.0.serial
    }

    /// The subject's distinguished name (RFC 4514 text).
    ///
    /// ```
    /// let certificate = wechatpay::crypto::Certificate::load("file://tests/fixtures/merchant_certificate.pem")?;
    /// assert!(certificate.subject().contains("CN=test"));
    /// assert!(certificate.subject().contains("L=shenzhen"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The start of the validity period.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let certificate = wechatpay::crypto::Certificate::load("file://tests/fixtures/merchant_certificate.pem")?;
    /// // 2022-05-10T01:57:10Z
    /// assert_eq!(certificate.not_before(), UNIX_EPOCH + Duration::from_secs(1_652_147_830));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn not_before(&self) -> SystemTime {
        self.0.not_before
    }

    /// The end of the validity period.
    ///
    /// ```
    /// use std::time::SystemTime;
    ///
    /// let certificate = wechatpay::crypto::Certificate::load("file://tests/fixtures/merchant_certificate.pem")?;
    /// // The fixture expired in May 2025: time to download a new platform certificate or switch to the public key.
    /// assert!(certificate.not_after() < SystemTime::now());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn not_after(&self) -> SystemTime {
        self.0.not_after
    }

    /// Whether `at` lies within the validity period.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// # let certificate = wechatpay::crypto::Certificate::from_file("tests/fixtures/merchant_certificate.pem")?;
    /// // The fixture is valid from May 2022 to May 2025.
    /// assert!(certificate.is_valid_at(UNIX_EPOCH + Duration::from_secs(1_700_000_000)));
    /// assert!(!certificate.is_valid_at(UNIX_EPOCH + Duration::from_secs(1_800_000_000)));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn is_valid_at(&self, at: SystemTime) -> bool {
        self.0.not_before <= at && at <= self.0.not_after
    }

    /// The certificate's RSA public key.
    ///
    /// ```
    /// use wechatpay::crypto::{Certificate, PrivateKey};
    ///
    /// let certificate = Certificate::load("file://tests/fixtures/merchant_certificate.pem")?;
    /// let signature = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?.sign(b"message")?;
    /// assert!(certificate.public_key().verify(b"message", &signature));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn public_key(&self) -> &PublicKey {
        &self.0.public_key
    }

    /// The certificate as DER.
    ///
    /// ```
    /// use wechatpay::crypto::Certificate;
    ///
    /// let certificate = Certificate::load("file://tests/fixtures/merchant_certificate.pem")?;
    /// let again = Certificate::load(certificate.to_der())?;
    /// assert_eq!(again.serial_number(), certificate.serial_number());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn to_der(&self) -> &[u8] {
        &self.0.der
    }

    /// The certificate as PEM.
    ///
    /// ```
    /// let certificate = wechatpay::crypto::Certificate::load("file://tests/fixtures/merchant_certificate.pem")?;
    /// let pem = std::fs::read_to_string("tests/fixtures/merchant_certificate.pem").unwrap();
    /// assert_eq!(certificate.to_pem().trim_end(), pem.trim_end());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn to_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.0.der)
    }

    /// The PEM text this certificate was parsed from, byte for byte, when it was given as the PEM text of this one
    /// certificate ([`from_pem`](Self::from_pem), or [`load`](Self::load) with PEM text); `None` when it came from
    /// DER, a file, or text with more PEM blocks (a bundle, a key beside it). A platform certificate from [`Builder::refresh_certificates`](crate::Builder::refresh_certificates)
    /// has the text exactly as it was decrypted, which is what the PHP SDK's `CertificateDownloader` writes to
    /// `wechatpay_<serial>.pem`; [`to_pem`](Self::to_pem) encodes the DER anew instead.
    ///
    /// ```
    /// use wechatpay::crypto::Certificate;
    ///
    /// let pem = std::fs::read_to_string("tests/fixtures/wechat_pay_certificate.pem").unwrap().replace('\n', "\r\n");
    /// let certificate = Certificate::from_pem(&pem)?;
    /// assert_eq!(certificate.pem_text(), Some(pem.as_str()));
    /// assert!(!certificate.to_pem().contains('\r'));
    /// assert_eq!(Certificate::from_der(certificate.to_der())?.pem_text(), None);
    /// // Never a key that came along.
    /// let key = std::fs::read_to_string("tests/fixtures/merchant_private_key.pem").unwrap();
    /// assert_eq!(Certificate::load(format!("{pem}{key}"))?.pem_text(), None);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn pem_text(&self) -> Option<&str> {
        self.0.pem.as_deref()
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("serial", &self.0.serial)
            .field("subject", &self.0.subject)
            .field("not_before", &self.0.not_before)
            .field("not_after", &self.0.not_after)
            .finish_non_exhaustive()
    }
}

/// Upper-case hex of a DER INTEGER's magnitude: the sign-padding zero bytes are dropped, as OpenSSL prints serials.
fn serial_hex(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    bytes[start..].iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::serial_hex;

    #[test]
    fn serial_drops_sign_padding_only() {
        assert_eq!(serial_hex(&[0x00, 0x8F, 0x01]), "8F01");
        assert_eq!(serial_hex(&[0x0A, 0x00]), "0A00");
        assert_eq!(serial_hex(&[0x00]), "00");
    }
}
