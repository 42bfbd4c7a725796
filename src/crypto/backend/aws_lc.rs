//! RSA through aws-lc-rs.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeyPair, OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, Pkcs1PrivateDecryptingKey,
    Pkcs1PublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};

use super::{DECRYPT_FAILED, PrivateOps, PublicOps};
use crate::error::{Error, Result};

const EXPECTED_PRIVATE: &str = "an RSA private key";
const EXPECTED_PUBLIC: &str = "an RSA public key";

pub(super) struct Private {
    signing: KeyPair,
    oaep: OaepPrivateDecryptingKey,
    pkcs1: Pkcs1PrivateDecryptingKey,
}

impl Private {
    pub(super) fn from_pkcs8(pkcs8: &[u8]) -> Result<Self> {
        let rejected = |err: &dyn std::fmt::Display| {
            Error::key(EXPECTED_PRIVATE, format!("a key aws-lc rejects ({err})"), SIZE_HINT)
        };
        let signing = KeyPair::from_pkcs8(pkcs8).map_err(|err| rejected(&err))?;
        // aws-lc keeps one key object per use: parse once here rather than per decryption.
        let decrypting = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|err| rejected(&err))?;
        let unusable = |_| Error::key(EXPECTED_PRIVATE, "a key aws-lc cannot decrypt with", SIZE_HINT);
        let oaep = OaepPrivateDecryptingKey::new(decrypting.clone()).map_err(unusable)?;
        let pkcs1 = Pkcs1PrivateDecryptingKey::new(decrypting).map_err(unusable)?;
        Ok(Private { signing, oaep, pkcs1 })
    }
}

const SIZE_HINT: &str = "WeChat Pay keys are RSA keys of 2048 to 8192 bits";

impl PrivateOps for Private {
    fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>> {
        let mut signature = vec![0; self.signing.public_modulus_len()];
        self.signing
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
            .map_err(|_| Error::crypto("RSA-SHA256 sign", "aws-lc could not sign with this key"))?;
        Ok(signature)
    }

    fn decrypt_oaep_sha1(&self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        let mut plaintext = vec![0; self.oaep.min_output_size()];
        let len = self
            .oaep
            .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut plaintext, None)
            .map_err(|_| Error::crypto("RSA-OAEP decrypt", DECRYPT_FAILED))?
            .len();
        plaintext.truncate(len);
        Ok(plaintext)
    }

    fn decrypt_pkcs1v15(&self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        let mut plaintext = vec![0; self.pkcs1.min_output_size()];
        let len = self
            .pkcs1
            .decrypt(ciphertext, &mut plaintext)
            .map_err(|_| Error::crypto("RSA-PKCS1 decrypt", DECRYPT_FAILED))?
            .len();
        plaintext.truncate(len);
        Ok(plaintext)
    }

    fn bits(&self) -> usize {
        self.signing.public_modulus_len() * 8
    }
}

pub(super) struct Public {
    verifying: ParsedPublicKey,
    encrypting: PublicEncryptingKey,
}

impl Public {
    pub(super) fn from_spki(spki: &[u8]) -> Result<Self> {
        let rejected = |err: &dyn std::fmt::Display| {
            Error::key(EXPECTED_PUBLIC, format!("a key aws-lc rejects ({err})"), SIZE_HINT)
        };
        let verifying = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki).map_err(|err| rejected(&err))?;
        let encrypting = PublicEncryptingKey::from_der(spki).map_err(|err| rejected(&err))?;
        Ok(Public { verifying, encrypting })
    }
}

impl PublicOps for Public {
    fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifying.verify_sig(message, signature).is_ok()
    }

    fn encrypt_oaep_sha1(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = OaepPublicEncryptingKey::new(self.encrypting.clone())
            .map_err(|_| Error::crypto("RSA-OAEP encrypt", "aws-lc cannot use this key for encryption"))?;
        let mut ciphertext = vec![0; key.ciphertext_size()];
        let len = key
            .encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut ciphertext, None)
            .map_err(|_| too_long("RSA-OAEP encrypt", key.max_plaintext_size(&OAEP_SHA1_MGF1SHA1), plaintext.len()))?
            .len();
        ciphertext.truncate(len);
        Ok(ciphertext)
    }

    fn encrypt_pkcs1v15(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = Pkcs1PublicEncryptingKey::new(self.encrypting.clone())
            .map_err(|_| Error::crypto("RSA-PKCS1 encrypt", "aws-lc cannot use this key for encryption"))?;
        let mut ciphertext = vec![0; key.ciphertext_size()];
        let len = key
            .encrypt(plaintext, &mut ciphertext)
            .map_err(|_| too_long("RSA-PKCS1 encrypt", key.max_plaintext_size(), plaintext.len()))?
            .len();
        ciphertext.truncate(len);
        Ok(ciphertext)
    }

    fn bits(&self) -> usize {
        self.encrypting.key_size_bits()
    }
}

fn too_long(operation: &'static str, max: usize, len: usize) -> Error {
    Error::crypto(operation, format!("the plaintext is {len} bytes; this key encrypts at most {max}"))
}
