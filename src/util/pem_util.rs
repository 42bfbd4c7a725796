//! `PemUtil`: loading the merchant's PEM files, as the PHP SDK's `WeChatPay\Util\PemUtil` does.

use std::path::Path;

use crate::crypto::{Certificate, PrivateKey, PublicKey};
use crate::error::Result;

/// Loads keys and certificates from PEM files and strings.
///
/// ```
/// use wechatpay::util::PemUtil;
///
/// let certificate = PemUtil::load_certificate("tests/fixtures/merchant_certificate.pem")?;
/// assert_eq!(PemUtil::parse_certificate_serial_no(&certificate), "5F1C72E2A8931B72A2E13AF8DEE92471EB397115");
/// let key = PemUtil::load_private_key("tests/fixtures/merchant_private_key.pem", None)?;
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PemUtil;

impl PemUtil {
    /// Reads an X.509 certificate from a PEM (or DER) file.
    ///
    /// ```
    /// let certificate = wechatpay::util::PemUtil::load_certificate("tests/fixtures/wechat_pay_certificate.pem")?;
    /// assert_eq!(certificate.serial_number(), "440024045C4A427599D09BB4E3DE0279F2E813FD");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn load_certificate(path: impl AsRef<Path>) -> Result<Certificate> {
        Certificate::from_file(path)
    }

    /// Parses an X.509 certificate from PEM text.
    ///
    /// ```
    /// let pem = std::fs::read_to_string("tests/fixtures/wechat_pay_certificate.pem").unwrap();
    /// let certificate = wechatpay::util::PemUtil::load_certificate_from_string(&pem)?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn load_certificate_from_string(pem: &str) -> Result<Certificate> {
        Certificate::from_pem(pem)
    }

    /// The certificate's serial number as upper-case hex (PHP `PemUtil::parseCertificateSerialNo`).
    ///
    /// ```
    /// use wechatpay::util::PemUtil;
    ///
    /// let certificate = PemUtil::load_certificate("tests/fixtures/wechat_pay_certificate.pem")?;
    /// assert_eq!(PemUtil::parse_certificate_serial_no(&certificate), "440024045C4A427599D09BB4E3DE0279F2E813FD");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn parse_certificate_serial_no(certificate: &Certificate) -> String {
        certificate.serial_number().to_owned()
    }

    /// Reads a private key from a PEM (or DER) file; `passphrase` opens an encrypted PKCS#8 key.
    ///
    /// ```
    /// use wechatpay::util::PemUtil;
    ///
    /// let key = PemUtil::load_private_key("tests/fixtures/merchant_private_key.encrypted.pem", Some("wechatpay"))?;
    /// let err = PemUtil::load_private_key("tests/fixtures/merchant_private_key.encrypted.pem", None).unwrap_err();
    /// assert!(err.to_string().contains("passphrase"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn load_private_key(path: impl AsRef<Path>, passphrase: Option<&str>) -> Result<PrivateKey> {
        match passphrase {
            Some(passphrase) => PrivateKey::from_file_with_passphrase(path, passphrase),
            None => PrivateKey::from_file(path),
        }
    }

    /// Parses a private key from PEM text; `passphrase` opens an encrypted PKCS#8 key.
    ///
    /// ```
    /// let pem = std::fs::read_to_string("tests/fixtures/merchant_private_key.pem").unwrap();
    /// let key = wechatpay::util::PemUtil::load_private_key_from_string(&pem, None)?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn load_private_key_from_string(pem: &str, passphrase: Option<&str>) -> Result<PrivateKey> {
        match passphrase {
            Some(passphrase) => PrivateKey::from_pem_with_passphrase(pem, passphrase),
            None => PrivateKey::from_pem(pem),
        }
    }

    /// Reads a public key (SPKI or PKCS#1 PEM) or a certificate's key from a file.
    ///
    /// ```
    /// let key = wechatpay::util::PemUtil::load_public_key("tests/fixtures/wechat_pay_public_key.pem")?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn load_public_key(path: impl AsRef<Path>) -> Result<PublicKey> {
        PublicKey::from_file(path)
    }
}
