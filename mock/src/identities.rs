//! The identities the simulator plays with: the merchant, the platform certificate, the WeChat Pay public key
//! and the two symmetric keys; generated fresh or kept in a state directory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;

use crate::error::MockError;
use crate::tls::Authority;
use crate::util::{fill_random, hex_upper, now_secs, pem_encode, random_alnum, random_digits};

/// How long generated certificates are valid: five years, as WeChat Pay's platform certificates are.
pub(crate) const CERT_LIFETIME_SECS: i64 = 5 * 365 * 86_400;

/// The merchant CA outlives the certificates it issues.
const CA_LIFETIME_SECS: i64 = 10 * 365 * 86_400;

/// The CA that issues merchant API certificates (WeChat Pay's "Tenpay" CA in real life): the mutual-TLS listener
/// accepts client certificates it issued, and only those.
#[derive(Clone, PartialEq, Eq)]
pub struct MerchantCa {
    /// The CA certificate, X.509 PEM.
    pub certificate_pem: String,
    /// The CA private key (ECDSA P-256), PKCS#8 PEM: only the simulator needs it.
    pub private_key_pem: String,
}

/// The merchant: the key that signs requests and the certificate whose serial goes in `serial_no`.
#[derive(Clone, PartialEq, Eq)]
pub struct Merchant {
    /// Certificate serial number, upper-case hex (what the client puts in `serial_no`).
    pub serial: String,
    /// The merchant API private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub private_key_pem: String,
    /// The merchant API certificate (`apiclient_cert.pem`), X.509 PEM, issued by [`Identities::merchant_ca`].
    pub certificate_pem: String,
}

/// The platform certificate WeChat Pay signs with (the one `GET /v3/certificates` hands out).
#[derive(Clone, PartialEq, Eq)]
pub struct Platform {
    /// Certificate serial number, upper-case hex (what answers carry in `Wechatpay-Serial`).
    pub serial: String,
    /// The platform certificate, X.509 PEM.
    pub certificate_pem: String,
    /// The platform private key, PKCS#8 PEM: only the simulator needs it (and tests that fake WeChat).
    pub private_key_pem: String,
    /// Start of the certificate's validity, Unix seconds (`effective_time` in `/v3/certificates`).
    pub effective_time: i64,
    /// End of the certificate's validity, Unix seconds (`expire_time` in `/v3/certificates`).
    pub expire_time: i64,
}

/// The WeChat Pay public key (public-key mode), named by a `PUB_KEY_ID_...` id.
#[derive(Clone, PartialEq, Eq)]
pub struct WechatpayPublicKey {
    /// The key id, `PUB_KEY_ID_` followed by digits (what answers carry in `Wechatpay-Serial`).
    pub id: String,
    /// The public key, SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as merchants download it (`pub_key.pem`).
    pub public_key_pem: String,
    /// The matching private key, PKCS#8 PEM: only the simulator needs it.
    pub private_key_pem: String,
}

/// Every key and identifier one simulated merchant account uses.
///
/// Generating one costs three RSA-2048 key generations; tests that start many servers should share one,
/// with [`Identities::shared`] or by cloning.
///
/// ```
/// let ids = wechatpay_mock::Identities::shared()?;
/// assert_eq!(ids.apiv3_key.len(), 32);
/// assert!(ids.public_key.id.starts_with("PUB_KEY_ID_"));
/// # Ok::<(), wechatpay_mock::MockError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Identities {
    /// The merchant id (`mchid`), 10 digits.
    pub mchid: String,
    /// The merchant's API key and certificate.
    pub merchant: Merchant,
    /// The CA that issued the merchant certificate.
    pub merchant_ca: MerchantCa,
    /// The platform certificate and its key.
    pub platform: Platform,
    /// The WeChat Pay public key and its key.
    pub public_key: WechatpayPublicKey,
    /// The APIv3 key: 32 ASCII characters, used as raw AES-256-GCM key bytes.
    pub apiv3_key: String,
    /// The APIv2 key: 32 ASCII characters.
    pub apiv2_key: String,
}

impl fmt::Debug for Merchant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Merchant")
            .field("serial", &self.serial)
            .field("private_key_pem", &"<redacted>")
            .field("certificate_pem", &format_args!("<{} bytes>", self.certificate_pem.len()))
            .finish()
    }
}

impl fmt::Debug for MerchantCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerchantCa")
            .field("certificate_pem", &format_args!("<{} bytes>", self.certificate_pem.len()))
            .field("private_key_pem", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Platform")
            .field("serial", &self.serial)
            .field("certificate_pem", &format_args!("<{} bytes>", self.certificate_pem.len()))
            .field("private_key_pem", &"<redacted>")
            .field("effective_time", &self.effective_time)
            .field("expire_time", &self.expire_time)
            .finish()
    }
}

impl fmt::Debug for WechatpayPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatpayPublicKey")
            .field("id", &self.id)
            .field("public_key_pem", &format_args!("<{} bytes>", self.public_key_pem.len()))
            .field("private_key_pem", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identities")
            .field("mchid", &self.mchid)
            .field("merchant", &self.merchant)
            .field("merchant_ca", &self.merchant_ca)
            .field("platform", &self.platform)
            .field("public_key", &self.public_key)
            .field("apiv3_key", &"<redacted>")
            .field("apiv2_key", &"<redacted>")
            .finish()
    }
}

/// Where [`Identities::save`] and [`Identities::load_or_create`] keep each file of a state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePaths {
    /// `manifest.json`: ids, serials, the two symmetric keys and the file names.
    pub manifest: PathBuf,
    /// `apiclient_key.pem`: the merchant private key (PKCS#8).
    pub merchant_private_key: PathBuf,
    /// `apiclient_cert.pem`: the merchant certificate.
    pub merchant_certificate: PathBuf,
    /// `merchant_ca_cert.pem`: the CA that issued the merchant certificate.
    pub merchant_ca_certificate: PathBuf,
    /// `merchant_ca_key.pem`: that CA's private key.
    pub merchant_ca_private_key: PathBuf,
    /// `tls_ca.pem`: the CA of the mutual-TLS listener's certificate, written at every start (trust it to reach
    /// that listener).
    pub tls_ca_certificate: PathBuf,
    /// `wechatpay_platform_cert.pem`: the platform certificate.
    pub platform_certificate: PathBuf,
    /// `wechatpay_platform_key.pem`: the platform private key.
    pub platform_private_key: PathBuf,
    /// `pub_key.pem`: the WeChat Pay public key (SPKI).
    pub public_key: PathBuf,
    /// `pub_key_private.pem`: the private half of the WeChat Pay public key.
    pub public_key_private_key: PathBuf,
}

impl StatePaths {
    /// The file layout inside `dir`.
    pub fn in_dir(dir: &Path) -> StatePaths {
        StatePaths {
            manifest: dir.join("manifest.json"),
            merchant_private_key: dir.join("apiclient_key.pem"),
            merchant_certificate: dir.join("apiclient_cert.pem"),
            merchant_ca_certificate: dir.join("merchant_ca_cert.pem"),
            merchant_ca_private_key: dir.join("merchant_ca_key.pem"),
            tls_ca_certificate: dir.join("tls_ca.pem"),
            platform_certificate: dir.join("wechatpay_platform_cert.pem"),
            platform_private_key: dir.join("wechatpay_platform_key.pem"),
            public_key: dir.join("pub_key.pem"),
            public_key_private_key: dir.join("pub_key_private.pem"),
        }
    }
}

/// A fresh RSA-2048 key: (PKCS#8 DER, SPKI DER).
fn rsa_key() -> Result<(Vec<u8>, Vec<u8>), MockError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| MockError::crypto("RSA key generation failed"))?;
    let pkcs8 = pair.as_der().map_err(|_| MockError::crypto("PKCS#8 encoding failed"))?.as_ref().to_vec();
    let spki = pair.public_key().as_der().map_err(|_| MockError::crypto("SPKI encoding failed"))?.as_ref().to_vec();
    Ok((pkcs8, spki))
}

/// A positive 20-byte serial whose upper-case hex is always 40 characters.
fn serial_bytes() -> [u8; 20] {
    let mut serial = [0u8; 20];
    fill_random(&mut serial);
    serial[0] = 0x10 | (serial[0] & 0x6F);
    serial
}

/// A self-signed certificate for `pkcs8` with the given serial and subject, valid from `not_before` to `not_after`.
fn certificate(
    pkcs8: &[u8],
    serial: &[u8],
    common_name: &str,
    org_unit: &str,
    (not_before, not_after): (i64, i64),
) -> Result<String, MockError> {
    let key = rcgen::KeyPair::try_from(pkcs8).map_err(|e| MockError::crypto(format!("certificate key: {e}")))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| MockError::crypto(format!("certificate: {e}")))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CountryName, "CN");
    dn.push(rcgen::DnType::OrganizationName, "wechatpay-mock");
    dn.push(rcgen::DnType::OrganizationalUnitName, org_unit);
    dn.push(rcgen::DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
    params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before)
        .map_err(|_| MockError::crypto("certificate start time out of range"))?;
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after)
        .map_err(|_| MockError::crypto("certificate end time out of range"))?;
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::DataEncipherment,
    ];
    let cert = params.self_signed(&key).map_err(|e| MockError::crypto(format!("certificate signing: {e}")))?;
    Ok(cert.pem())
}

/// A merchant CA for identities saved without one, and the merchant certificate issued again by it (same key and
/// serial).
fn reissue_merchant(merchant: Merchant, mchid: &str) -> Result<(Merchant, MerchantCa), MockError> {
    let pkcs8 = crate::util::pem_decode("PRIVATE KEY", &merchant.private_key_pem)?;
    let serial = (0..merchant.serial.len())
        .step_by(2)
        .map(|i| merchant.serial.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| MockError::StateDir("merchant_serial is not hex".into()))?;
    let not_before = now_secs() - 86_400;
    let authority = Authority::generate("Tenpay.com mock merchant CA", not_before, CA_LIFETIME_SECS)?;
    let certificate_pem = authority.issue_merchant(&pkcs8, &serial, mchid, not_before, CERT_LIFETIME_SECS)?;
    let ca = MerchantCa { certificate_pem: authority.certificate_pem, private_key_pem: authority.private_key_pem };
    Ok((Merchant { certificate_pem, ..merchant }, ca))
}

static SHARED: Mutex<Option<Identities>> = Mutex::new(None);

impl Platform {
    /// A platform certificate with a fresh RSA-2048 key and serial, valid from `effective_time` to `expire_time`
    /// (Unix seconds).
    pub(crate) fn generate((effective_time, expire_time): (i64, i64)) -> Result<Platform, MockError> {
        let (pkcs8, _) = rsa_key()?;
        let serial = serial_bytes();
        let certificate_pem =
            certificate(&pkcs8, &serial, "Tenpay.com mock platform", "platform", (effective_time, expire_time))?;
        Ok(Platform {
            serial: hex_upper(&serial),
            certificate_pem,
            private_key_pem: pem_encode("PRIVATE KEY", &pkcs8),
            effective_time,
            expire_time,
        })
    }
}

impl Identities {
    /// Fresh identities: a random `19xxxxxxxx` mchid, three new RSA-2048 keys, a merchant CA and the merchant
    /// certificate it issues, a self-signed platform certificate (all valid from yesterday for five years), and
    /// random 32-character APIv3 and APIv2 keys.
    ///
    /// # Errors
    /// [`MockError::Crypto`] when key generation or certificate signing fails.
    pub fn generate() -> Result<Identities, MockError> {
        let mchid = format!("19{}", random_digits(8));
        let not_before = now_secs() - 86_400;

        let (merchant_pkcs8, _) = rsa_key()?;
        let merchant_serial = serial_bytes();
        let authority = Authority::generate("Tenpay.com mock merchant CA", not_before, CA_LIFETIME_SECS)?;
        let merchant_cert =
            authority.issue_merchant(&merchant_pkcs8, &merchant_serial, &mchid, not_before, CERT_LIFETIME_SECS)?;
        let platform = Platform::generate((not_before, not_before + CERT_LIFETIME_SECS))?;

        let (pubkey_pkcs8, pubkey_spki) = rsa_key()?;
        let public_key_id = format!("PUB_KEY_ID_01{mchid}{}", random_digits(16));

        Ok(Identities {
            merchant: Merchant {
                serial: hex_upper(&merchant_serial),
                private_key_pem: pem_encode("PRIVATE KEY", &merchant_pkcs8),
                certificate_pem: merchant_cert,
            },
            merchant_ca: MerchantCa {
                certificate_pem: authority.certificate_pem,
                private_key_pem: authority.private_key_pem,
            },
            platform,
            public_key: WechatpayPublicKey {
                id: public_key_id,
                public_key_pem: pem_encode("PUBLIC KEY", &pubkey_spki),
                private_key_pem: pem_encode("PRIVATE KEY", &pubkey_pkcs8),
            },
            mchid,
            apiv3_key: random_alnum(32),
            apiv2_key: random_alnum(32),
        })
    }

    /// One set of identities generated once per process and handed out as clones: the cheap way for a test
    /// suite to start many servers.
    ///
    /// # Errors
    /// As [`Identities::generate`] (the next call tries again).
    pub fn shared() -> Result<Identities, MockError> {
        let mut guard = SHARED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(ids) = guard.as_ref() {
            return Ok(ids.clone());
        }
        let ids = Identities::generate()?;
        *guard = Some(ids.clone());
        Ok(ids)
    }

    /// Loads the identities kept in `dir`, or generates fresh ones and saves them there (creating `dir`).
    ///
    /// # Errors
    /// [`MockError::Io`] on file errors, [`MockError::StateDir`] when an existing manifest is incomplete.
    pub fn load_or_create(dir: &Path) -> Result<Identities, MockError> {
        let paths = StatePaths::in_dir(dir);
        if paths.manifest.exists() {
            return Identities::load(dir);
        }
        let ids = Identities::generate()?;
        ids.save(dir)?;
        Ok(ids)
    }

    /// Loads identities saved by [`Identities::save`]. A directory saved before the merchant CA existed (its merchant
    /// certificate self-signed) is migrated: a merchant CA is made, the merchant certificate is issued again by it
    /// with the same key and serial, and both are saved with an updated manifest.
    ///
    /// # Errors
    /// [`MockError::Io`] when a file cannot be read, [`MockError::StateDir`] when the manifest lacks a field.
    pub fn load(dir: &Path) -> Result<Identities, MockError> {
        let paths = StatePaths::in_dir(dir);
        let read =
            |p: &Path| std::fs::read_to_string(p).map_err(|e| MockError::io(format!("reading {}", p.display()), e));
        let manifest: serde_json::Value = serde_json::from_str(&read(&paths.manifest)?)
            .map_err(|e| MockError::StateDir(format!("{} is not JSON: {e}", paths.manifest.display())))?;
        let field = |name: &str| -> Result<String, MockError> {
            manifest
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| MockError::StateDir(format!("manifest.json lacks the string field {name}")))
        };
        let number = |name: &str| -> Result<i64, MockError> {
            manifest
                .get(name)
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| MockError::StateDir(format!("manifest.json lacks the integer field {name}")))
        };
        let merchant = Merchant {
            serial: field("merchant_serial")?,
            private_key_pem: read(&paths.merchant_private_key)?,
            certificate_pem: read(&paths.merchant_certificate)?,
        };
        let mchid = field("mchid")?;
        let (merchant, merchant_ca, migrated) = match manifest.get("merchant_ca_certificate") {
            Some(_) => {
                let ca = MerchantCa {
                    certificate_pem: read(&paths.merchant_ca_certificate)?,
                    private_key_pem: read(&paths.merchant_ca_private_key)?,
                };
                (merchant, ca, false)
            }
            None => {
                let (merchant, ca) = reissue_merchant(merchant, &mchid)?;
                (merchant, ca, true)
            }
        };
        let ids = Identities {
            mchid,
            merchant,
            merchant_ca,
            platform: Platform {
                serial: field("platform_serial")?,
                certificate_pem: read(&paths.platform_certificate)?,
                private_key_pem: read(&paths.platform_private_key)?,
                effective_time: number("platform_effective_time")?,
                expire_time: number("platform_expire_time")?,
            },
            public_key: WechatpayPublicKey {
                id: field("public_key_id")?,
                public_key_pem: read(&paths.public_key)?,
                private_key_pem: read(&paths.public_key_private_key)?,
            },
            apiv3_key: field("apiv3_key")?,
            apiv2_key: field("apiv2_key")?,
        };
        if ids.apiv3_key.len() != 32 {
            return Err(MockError::StateDir("apiv3_key must be 32 ASCII characters".into()));
        }
        // Parse every key once so that a broken directory fails here and not on the first request.
        crate::keys::Keys::new(&ids)?;
        if migrated {
            ids.save(dir)?;
        }
        Ok(ids)
    }

    /// Writes the PEM files and `manifest.json` into `dir` (created if needed; private keys get mode 0600 on Unix).
    ///
    /// # Errors
    /// [`MockError::Io`] when a file cannot be written.
    pub fn save(&self, dir: &Path) -> Result<StatePaths, MockError> {
        std::fs::create_dir_all(dir).map_err(|e| MockError::io(format!("creating {}", dir.display()), e))?;
        let paths = StatePaths::in_dir(dir);
        write_file(&paths.merchant_private_key, &self.merchant.private_key_pem, true)?;
        write_file(&paths.merchant_certificate, &self.merchant.certificate_pem, false)?;
        write_file(&paths.merchant_ca_certificate, &self.merchant_ca.certificate_pem, false)?;
        write_file(&paths.merchant_ca_private_key, &self.merchant_ca.private_key_pem, true)?;
        write_file(&paths.platform_certificate, &self.platform.certificate_pem, false)?;
        write_file(&paths.platform_private_key, &self.platform.private_key_pem, true)?;
        write_file(&paths.public_key, &self.public_key.public_key_pem, false)?;
        write_file(&paths.public_key_private_key, &self.public_key.private_key_pem, true)?;
        let manifest = serde_json::json!({
            "mchid": self.mchid,
            "merchant_serial": self.merchant.serial,
            "merchant_ca_certificate": "merchant_ca_cert.pem",
            "platform_serial": self.platform.serial,
            "platform_effective_time": self.platform.effective_time,
            "platform_expire_time": self.platform.expire_time,
            "public_key_id": self.public_key.id,
            "apiv3_key": self.apiv3_key,
            "apiv2_key": self.apiv2_key,
            "files": {
                "merchant_private_key": "apiclient_key.pem",
                "merchant_certificate": "apiclient_cert.pem",
                "merchant_ca_certificate": "merchant_ca_cert.pem",
                "merchant_ca_private_key": "merchant_ca_key.pem",
                "platform_certificate": "wechatpay_platform_cert.pem",
                "platform_private_key": "wechatpay_platform_key.pem",
                "public_key": "pub_key.pem",
                "public_key_private_key": "pub_key_private.pem",
            },
        });
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| MockError::StateDir(e.to_string()))?;
        // The manifest holds the APIv3 and APIv2 keys.
        write_file(&paths.manifest, &(text + "\n"), true)?;
        Ok(paths)
    }
}

fn write_file(path: &Path, contents: &str, secret: bool) -> Result<(), MockError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(|e| MockError::io(format!("writing {}", path.display()), e))?;
    std::io::Write::write_all(&mut file, contents.as_bytes())
        .map_err(|e| MockError::io(format!("writing {}", path.display()), e))
}
