//! RSA through the RustCrypto `rsa` crate (0.10: constant-time big-integer arithmetic, blinded private operations).

use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use sha2::Sha256;

use super::{DECRYPT_FAILED, PrivateOps, PublicOps};
use crate::error::{Error, Result};

/// The same range aws-lc accepts, so that a key valid with one backend is valid with the other.
const MIN_BITS: usize = 2048;
const MAX_BITS: usize = 8192;
const SIZE_HINT: &str = "WeChat Pay keys are RSA keys of 2048 to 8192 bits";

fn check_size(expected: &'static str, bits: usize) -> Result<()> {
    if (MIN_BITS..=MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(Error::key(expected, format!("an RSA key of {bits} bits"), SIZE_HINT))
    }
}

pub(super) struct Private(rsa::PrivateKey);

impl Private {
    pub(super) fn from_pkcs8(pkcs8: &[u8]) -> Result<Self> {
        const EXPECTED: &str = "an RSA private key";
        let key = rsa::PrivateKey::from_pkcs8_der(pkcs8)
            .map_err(|err| Error::key(EXPECTED, format!("a PKCS#8 key the rsa crate rejects ({err})"), SIZE_HINT))?;
        check_size(EXPECTED, key.n().bit_width() as usize)?;
        Ok(Private(key))
    }
}

impl PrivateOps for Private {
    fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.0.pkcs1v15_sign::<Sha256>(message).map_err(|err| Error::crypto("RSA-SHA256 sign", err))
    }

    fn decrypt_oaep_sha1(&self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        self.0.oaep_decrypt::<Sha1>(ciphertext).map_err(|_| Error::crypto("RSA-OAEP decrypt", DECRYPT_FAILED))
    }

    fn decrypt_pkcs1v15(&self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        self.0.pkcs1v15_decrypt(ciphertext).map_err(|_| Error::crypto("RSA-PKCS1 decrypt", DECRYPT_FAILED))
    }

    fn bits(&self) -> usize {
        self.0.n().bit_width() as usize
    }
}

pub(super) struct Public(rsa::PublicKey);

impl Public {
    pub(super) fn from_spki(spki: &[u8]) -> Result<Self> {
        const EXPECTED: &str = "an RSA public key";
        let key = rsa::PublicKey::from_public_key_der(spki)
            .map_err(|err| Error::key(EXPECTED, format!("an SPKI key the rsa crate rejects ({err})"), SIZE_HINT))?;
        check_size(EXPECTED, key.n().bit_width() as usize)?;
        Ok(Public(key))
    }
}

impl PublicOps for Public {
    fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.pkcs1v15_verify::<Sha256>(message, signature).is_ok()
    }

    fn encrypt_oaep_sha1(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.0.oaep_encrypt::<Sha1>(plaintext).map_err(|err| Error::crypto("RSA-OAEP encrypt", err))
    }

    fn encrypt_pkcs1v15(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.0.pkcs1v15_encrypt(plaintext).map_err(|err| Error::crypto("RSA-PKCS1 encrypt", err))
    }

    fn bits(&self) -> usize {
        self.0.n().bit_width() as usize
    }
}
