//! Sensitive fields: names, ID numbers, phones and bank accounts travel RSA-OAEP encrypted. Upward
//! fields are encrypted with a WeChat Pay key, whose serial goes in `Wechatpay-Serial`; downward fields are
//! decrypted with the merchant key.
//!
//! [`Options::encrypt_fields`](crate::Options::encrypt_fields) does both halves of an upward request at once:
//! it encrypts the named fields of the `json` body and sends the key's serial, preferring the WeChat Pay public
//! key when both kinds of keys are configured; a `Wechatpay-Serial` header given by the caller picks the key
//! instead. [`Encryptor`] and [`Config::decrypt`] are the same operations by hand, as the PHP README shows them.

use serde_json::Value;

use crate::config::Config;
use crate::crypto::{PublicKey, Rsa};
use crate::error::{Error, Result};

/// Encrypts sensitive request fields with one WeChat Pay key (RSA-OAEP, SHA-1), and knows the serial to send in
/// `Wechatpay-Serial` with them.
///
/// ```
/// use wechatpay::Encryptor;
/// use wechatpay::crypto::{PublicKey, Rsa};
///
/// let key = PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
/// let encryptor = Encryptor::new("PUB_KEY_ID_0114232134912410000000000000000", key);
/// let mut body = serde_json::json!({"out_bill_no": "plfk2020042013", "user_name": "张三"});
/// encryptor.encrypt_fields(&mut body, &["user_name"])?;
/// // Only WeChat Pay's private key turns it back:
/// # let wechat = Rsa::from_private("file://tests/fixtures/wechat_pay_private_key.pem")?;
/// assert_eq!(Rsa::decrypt(body["user_name"].as_str().unwrap(), &wechat)?, "张三");
/// // Send `encryptor.serial()` in the Wechatpay-Serial header with this body.
/// assert_eq!(encryptor.serial(), "PUB_KEY_ID_0114232134912410000000000000000");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Encryptor {
    serial: String,
    key: PublicKey,
}

impl Encryptor {
    /// An encryptor for the WeChat Pay key `key` named `serial` (a `PUB_KEY_ID_...` or a platform certificate
    /// serial).
    ///
    /// ```
    /// use wechatpay::Encryptor;
    /// use wechatpay::crypto::Certificate;
    ///
    /// let certificate = Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?;
    /// let encryptor = Encryptor::new(certificate.serial_number(), certificate.public_key().clone());
    /// assert_eq!(encryptor.serial(), "440024045C4A427599D09BB4E3DE0279F2E813FD");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn new(serial: impl Into<String>, key: PublicKey) -> Self {
        Encryptor { serial: serial.into(), key }
    }

    /// The serial to send in `Wechatpay-Serial`.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// let encryptor = wechatpay::Encryptor::new("PUB_KEY_ID_0114232134912410000000000000000", key);
    /// assert!(encryptor.serial().starts_with("PUB_KEY_ID_"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The key.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// let encryptor = wechatpay::Encryptor::new("PUB_KEY_ID_0114232134912410000000000000000", key.clone());
    /// assert_eq!(encryptor.public_key(), &key);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// Encrypts one value: base64 RSA-OAEP (SHA-1, MGF1-SHA1), PHP's `Rsa::encrypt`.
    ///
    /// ```
    /// # let key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// let encryptor = wechatpay::Encryptor::new("PUB_KEY_ID_0114232134912410000000000000000", key);
    /// let ciphertext = encryptor.encrypt("13800138000")?;
    /// assert_eq!(ciphertext.len(), 344);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encrypt(&self, plaintext: &str) -> Result<String> {
        Rsa::encrypt(plaintext, &self.key)
    }

    /// Encrypts the string fields named by `fields` in `body`, in place. A name is a dotted path
    /// (`contact_info.contact_name`); a path through an array applies to each of its elements
    /// (`ubo_info_list.ubo_id_doc_name`). Every named field must be there and be a string: a misspelt name is an
    /// error rather than a field sent in clear.
    ///
    /// ```
    /// use serde_json::json;
    /// # let key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?;
    /// let encryptor = wechatpay::Encryptor::new("PUB_KEY_ID_0114232134912410000000000000000", key);
    /// let mut body = json!({
    ///     "contact_info": {"contact_name": "张三", "mobile_phone": "13000000000"},
    ///     "ubo_info_list": [{"ubo_id_doc_name": "李四"}, {"ubo_id_doc_name": "王五"}],
    /// });
    /// encryptor.encrypt_fields(&mut body, &["contact_info.contact_name", "ubo_info_list.ubo_id_doc_name"])?;
    /// assert_ne!(body["contact_info"]["contact_name"], "张三");
    /// assert_eq!(body["contact_info"]["mobile_phone"], "13000000000");
    /// assert_ne!(body["ubo_info_list"][1]["ubo_id_doc_name"], "王五");
    ///
    /// let err = encryptor.encrypt_fields(&mut body, &["contact_info.contact_nmae"]).unwrap_err();
    /// assert!(err.to_string().contains("contact_info.contact_nmae"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encrypt_fields(&self, body: &mut Value, fields: &[&str]) -> Result<()> {
        for field in fields {
            transform(body, field, &mut |plaintext| self.encrypt(plaintext))?;
        }
        Ok(())
    }
}

impl Config {
    /// The [`Encryptor`] for sensitive request fields: the WeChat Pay public key when one is configured, else the
    /// valid platform certificate that expires last (see
    /// [`PlatformKeys::encryption_key`](crate::PlatformKeys::encryption_key)).
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey, PublicKey};
    /// let config = wechatpay::Config::builder()
    /// #   .mchid("1900000001").serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #   .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    ///     // ...
    ///     .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?)
    ///     .public_key("PUB_KEY_ID_0114232134912410000000000000000", PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?)
    ///     .build()?;
    /// assert_eq!(config.encryptor()?.serial(), "PUB_KEY_ID_0114232134912410000000000000000");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encryptor(&self) -> Result<Encryptor> {
        let keys = self.platform_keys.as_ref().ok_or_else(no_keys)?;
        let (serial, key) = keys.encryption_key().ok_or_else(|| {
            Error::config(
                "certs",
                "no key can encrypt sensitive fields: configure the WeChat Pay public key (PUB_KEY_ID_...) or a \
                 platform certificate that has not expired (Builder::refresh_certificates downloads them)",
            )
        })?;
        Ok(Encryptor::new(serial, key))
    }

    /// The [`Encryptor`] for the configured key `serial`, as when a request names it in `Wechatpay-Serial`. An
    /// expired certificate is refused: WeChat Pay no longer decrypts with it.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey, PublicKey};
    /// # let config = wechatpay::Config::builder()
    /// #   .mchid("1900000001").serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #   .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #   .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?)
    /// #   .public_key("PUB_KEY_ID_0114232134912410000000000000000", PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem")?)
    /// #   .build()?;
    /// assert!(config.encryptor_for("PUB_KEY_ID_0114232134912410000000000000000").is_ok());
    /// // The fixture certificate expired in 2025.
    /// let err = config.encryptor_for("440024045C4A427599D09BB4E3DE0279F2E813FD").unwrap_err();
    /// assert!(err.to_string().contains("expired"));
    /// assert!(config.encryptor_for("ABCDEF").is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encryptor_for(&self, serial: &str) -> Result<Encryptor> {
        let keys = self.platform_keys.as_ref().ok_or_else(no_keys)?;
        if let Some(certificate) = keys.certificate(serial) {
            if certificate.not_after() < std::time::SystemTime::now() {
                return Err(Error::invalid(
                    "Wechatpay-Serial",
                    format!(
                        "platform certificate {serial} expired at {}: WeChat Pay no longer decrypts with it",
                        crate::util::time::rfc3339_utc(certificate.not_after())
                    ),
                ));
            }
        }
        let key = keys.get(serial).ok_or_else(|| {
            Error::invalid(
                "Wechatpay-Serial",
                format!("{serial} is not among the configured certs, so nothing can encrypt for it"),
            )
        })?;
        Ok(Encryptor::new(serial.trim(), key))
    }

    /// Decrypts a sensitive answer field with the merchant private key (RSA-OAEP, SHA-1), PHP's `Rsa::decrypt`.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey};
    /// # let config = wechatpay::Config::builder()
    /// #   .mchid("1900000001").serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #   .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #   .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?)
    /// #   .build()?;
    /// // The wechatpay-java test vector, encrypted for the fixture merchant key.
    /// let vectors: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("tests/fixtures/vectors.json").unwrap()).unwrap();
    /// let ciphertext = vectors["rsa_oaep_sha1_decrypt"][0]["ciphertext_base64"].as_str().unwrap();
    /// assert_eq!(config.decrypt(ciphertext)?, "plaintext");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn decrypt(&self, ciphertext: &str) -> Result<String> {
        Rsa::decrypt(ciphertext, self.decryption_key()?)
    }

    /// Decrypts the fields named by `fields` (dotted paths, as [`Encryptor::encrypt_fields`]) of an answer, in
    /// place.
    ///
    /// ```
    /// # use wechatpay::crypto::{Certificate, PrivateKey, Rsa};
    /// # let config = wechatpay::Config::builder()
    /// #   .mchid("1900000001").serial("5F1C72E2A8931B72A2E13AF8DEE92471EB397115")
    /// #   .private_key(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?)
    /// #   .platform_certificate(Certificate::load("file://tests/fixtures/wechat_pay_certificate.pem")?)
    /// #   .build()?;
    /// # let for_merchant = |s: &str| Rsa::encrypt(s, &config.private_key().unwrap().public_key().unwrap()).unwrap();
    /// let mut bill = serde_json::json!({"out_bill_no": "plfk2020042013", "user_name": for_merchant("张三")});
    /// config.decrypt_fields(&mut bill, &["user_name"])?;
    /// assert_eq!(bill["user_name"], "张三");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn decrypt_fields(&self, body: &mut Value, fields: &[&str]) -> Result<()> {
        let key = self.decryption_key()?;
        for field in fields {
            transform(body, field, &mut |ciphertext| Rsa::decrypt(ciphertext, key))?;
        }
        Ok(())
    }

    fn decryption_key(&self) -> Result<&crate::crypto::PrivateKey> {
        self.private_key.as_ref().ok_or_else(|| {
            Error::config(
                "privateKey",
                "decrypting sensitive fields needs the merchant private key, and only a Signer was configured: give \
                 ConfigBuilder::private_key too",
            )
        })
    }
}

fn no_keys() -> Error {
    Error::config(
        "certs",
        "a custom verifier replaced the configured keys, so none is known to encrypt with: use Encryptor::new with \
         the WeChat Pay public key and its PUB_KEY_ID",
    )
}

/// Replaces the string at dotted `path` in `value` (every element of arrays on the way) with `f` of it.
pub(crate) fn transform(value: &mut Value, path: &str, f: &mut dyn FnMut(&str) -> Result<String>) -> Result<()> {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|segment| segment.is_empty()) {
        return Err(Error::invalid(
            "fields",
            format!("`{path}` is not a dotted field path like contact_info.contact_name"),
        ));
    }
    walk(value, &segments, 0, path, f)
}

fn walk(
    value: &mut Value,
    segments: &[&str],
    depth: usize,
    path: &str,
    f: &mut dyn FnMut(&str) -> Result<String>,
) -> Result<()> {
    let missing = |why: &str| Error::invalid("fields", format!("`{path}`: {why}; name only fields the body has"));
    match value {
        Value::Array(items) => {
            for item in items {
                walk(item, segments, depth, path, f)?;
            }
            Ok(())
        }
        Value::String(text) if depth == segments.len() => {
            *text = f(text)?;
            Ok(())
        }
        _ if depth == segments.len() => Err(missing("it is not a string")),
        Value::Object(map) => match map.get_mut(segments[depth]) {
            Some(child) => walk(child, segments, depth + 1, path, f),
            None => Err(missing(&format!("there is no `{}` there", segments[..=depth].join(".")))),
        },
        _ => Err(missing(&format!("`{}` is not an object", segments[..depth].join(".")))),
    }
}
