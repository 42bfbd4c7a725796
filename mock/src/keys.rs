//! Parsed key material: what the request checks, answer signatures, OAEP and AES-GCM need at run time.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeyPair, OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use aws_lc_rs::signature::{KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::Engine as _;

use crate::error::MockError;
use crate::identities::{Identities, Platform};
use crate::util::{B64, pem_decode};

/// A platform certificate the simulator lists in `GET /v3/certificates`, with the key that signs as it.
pub(crate) struct PlatformEntry {
    pub(crate) platform: Platform,
    pub(crate) key: WechatKey,
}

/// One of the two keys WeChat Pay signs with and decrypts sensitive fields with.
pub(crate) struct WechatKey {
    /// The platform certificate serial or the `PUB_KEY_ID_...` id.
    pub(crate) serial: String,
    signer: KeyPair,
    decrypter: OaepPrivateDecryptingKey,
}

impl WechatKey {
    pub(crate) fn new(serial: &str, private_key_pem: &str) -> Result<WechatKey, MockError> {
        let pkcs8 = pem_decode("PRIVATE KEY", private_key_pem)?;
        let signer = KeyPair::from_pkcs8(&pkcs8)
            .map_err(|e| MockError::crypto(format!("key {serial} is not RSA PKCS#8: {e}")))?;
        let decrypting = PrivateDecryptingKey::from_pkcs8(&pkcs8)
            .map_err(|e| MockError::crypto(format!("key {serial} is not RSA PKCS#8: {e}")))?;
        let decrypter = OaepPrivateDecryptingKey::new(decrypting)
            .map_err(|_| MockError::crypto(format!("key {serial} cannot do OAEP")))?;
        Ok(WechatKey { serial: serial.to_owned(), signer, decrypter })
    }

    /// The public key as PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`), as APIv2's `/risk/getpublickey` hands out.
    pub(crate) fn public_pkcs1_pem(&self) -> String {
        crate::util::pem_encode("RSA PUBLIC KEY", self.signer.public_key().as_ref())
    }

    /// RSA PKCS#1 v1.5 SHA-256 signature of `message`, base64.
    pub(crate) fn sign_base64(&self, message: &[u8]) -> Result<String, MockError> {
        let mut sig = vec![0u8; self.signer.public_modulus_len()];
        self.signer
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
            .map_err(|_| MockError::crypto("RSA signing failed"))?;
        Ok(B64.encode(&sig))
    }

    /// Decrypts a base64 RSAES-OAEP (SHA-1, MGF1-SHA1) field; `None` when it is not one for this key.
    pub(crate) fn decrypt_field(&self, base64_ciphertext: &str) -> Option<String> {
        let ciphertext = B64.decode(base64_ciphertext.as_bytes()).ok()?;
        let mut out = vec![0u8; self.decrypter.min_output_size()];
        let plain = self.decrypter.decrypt(&OAEP_SHA1_MGF1SHA1, &ciphertext, &mut out, None).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

/// All run-time keys of one simulated account.
pub(crate) struct Keys {
    pub(crate) mchid: String,
    pub(crate) merchant_serial: String,
    merchant_verifier: ParsedPublicKey,
    merchant_encrypter: OaepPublicEncryptingKey,
    pub(crate) platform: WechatKey,
    pub(crate) public_key: WechatKey,
    apiv3: LessSafeKey,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("mchid", &self.mchid)
            .field("merchant_serial", &self.merchant_serial)
            .field("platform", &self.platform.serial)
            .field("public_key", &self.public_key.serial)
            .finish_non_exhaustive()
    }
}

impl Keys {
    pub(crate) fn new(ids: &Identities) -> Result<Keys, MockError> {
        let merchant_pkcs8 = pem_decode("PRIVATE KEY", &ids.merchant.private_key_pem)?;
        let merchant = KeyPair::from_pkcs8(&merchant_pkcs8)
            .map_err(|e| MockError::crypto(format!("merchant key is not RSA PKCS#8: {e}")))?;
        let spki =
            merchant.public_key().as_der().map_err(|_| MockError::crypto("merchant public key encoding failed"))?;
        let merchant_verifier = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki.as_ref())
            .map_err(|e| MockError::crypto(format!("merchant public key: {e}")))?;
        let merchant_encrypter = PublicEncryptingKey::from_der(spki.as_ref())
            .ok()
            .and_then(|k| OaepPublicEncryptingKey::new(k).ok())
            .ok_or_else(|| MockError::crypto("merchant public key cannot do OAEP"))?;
        if ids.apiv3_key.len() != 32 {
            return Err(MockError::crypto("the APIv3 key must be 32 bytes"));
        }
        let apiv3 = UnboundKey::new(&AES_256_GCM, ids.apiv3_key.as_bytes())
            .map_err(|_| MockError::crypto("the APIv3 key is not a valid AES-256 key"))?;
        Ok(Keys {
            mchid: ids.mchid.clone(),
            merchant_serial: ids.merchant.serial.clone(),
            merchant_verifier,
            merchant_encrypter,
            platform: WechatKey::new(&ids.platform.serial, &ids.platform.private_key_pem)?,
            public_key: WechatKey::new(&ids.public_key.id, &ids.public_key.private_key_pem)?,
            apiv3: LessSafeKey::new(apiv3),
        })
    }

    /// Verifies a merchant request signature (raw signature bytes) over `message`.
    pub(crate) fn verify_merchant(&self, message: &[u8], signature: &[u8]) -> bool {
        self.merchant_verifier.verify_sig(message, signature).is_ok()
    }

    /// Encrypts a downward sensitive field for the merchant (OAEP with the merchant's public key), base64.
    pub(crate) fn encrypt_for_merchant(&self, plaintext: &str) -> Result<String, MockError> {
        self.encrypt_bytes_for_merchant(plaintext.as_bytes())
    }

    /// As [`Keys::encrypt_for_merchant`], for bytes (an encrypted bill's AES key).
    pub(crate) fn encrypt_bytes_for_merchant(&self, plaintext: &[u8]) -> Result<String, MockError> {
        let mut out = vec![0u8; self.merchant_encrypter.ciphertext_size()];
        let ct = self
            .merchant_encrypter
            .encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None)
            .map_err(|_| MockError::crypto("OAEP encryption failed (field too long?)"))?;
        Ok(B64.encode(ct))
    }

    /// AEAD_AES_256_GCM with the APIv3 key: base64(ciphertext ‖ tag). `nonce` must be 12 bytes.
    pub(crate) fn apiv3_seal(&self, nonce: &str, associated_data: &str, plaintext: &[u8]) -> Result<String, MockError> {
        let nonce = Nonce::try_assume_unique_for_key(nonce.as_bytes())
            .map_err(|_| MockError::crypto("AES-GCM nonce must be 12 bytes"))?;
        let mut buf = plaintext.to_vec();
        self.apiv3
            .seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut buf)
            .map_err(|_| MockError::crypto("AES-GCM sealing failed"))?;
        Ok(B64.encode(&buf))
    }

    /// The WeChat Pay public key, when `serial` is its `PUB_KEY_ID_...` (platform certificates are the engine's).
    pub(crate) fn public_key_named(&self, serial: &str) -> Option<&WechatKey> {
        (serial == self.public_key.serial).then_some(&self.public_key)
    }
}
