//! AES-256-GCM decryption of a stream (encrypted bill files, which may be gigabytes): the plaintext comes out
//! as the ciphertext arrives, the last 16 bytes are held back as the tag, and [`GcmDecryptor::finish`] says
//! whether the whole stream authenticates. Built from the AES block cipher, CTR mode and GHASH of the RustCrypto
//! crates that `aes-gcm` itself is made of; `aes-gcm` only decrypts whole buffers.
//!
//! Until `finish` succeeds the plaintext is unauthenticated: callers must not trust (and, for files, must not
//! keep) what they wrote when it fails.

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, KeyInit, KeyIvInit, StreamCipher};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

const BLOCK: usize = 16;

/// A streaming AES-256-GCM decryption with a 16-byte tag after the ciphertext.
pub(crate) struct GcmDecryptor {
    ctr: ctr::Ctr32BE<Aes256>,
    ghash: GHash,
    /// `E(K, J0)`, which masks the tag.
    tag_mask: [u8; BLOCK],
    /// Ciphertext bytes waiting for a whole GHASH block.
    partial: [u8; BLOCK],
    partial_len: usize,
    /// The last bytes seen, which may be the tag.
    held: Vec<u8>,
    aad_len: u64,
    ciphertext_len: u64,
}

impl GcmDecryptor {
    /// A decryption with a 32-byte key, a nonce of any non-zero length (12 bytes is the usual one) and AAD.
    pub(crate) fn new(key: &[u8; 32], nonce: &[u8], aad: &[u8]) -> Option<GcmDecryptor> {
        if nonce.is_empty() {
            return None;
        }
        let aes = Aes256::new(key.into());
        let mut h = [0u8; BLOCK];
        aes.encrypt_block((&mut h).into());
        let mut j0 = [0u8; BLOCK];
        if nonce.len() == 12 {
            j0[..12].copy_from_slice(nonce);
            j0[15] = 1;
        } else {
            // NIST SP 800-38D: J0 = GHASH(IV ‖ 0-padding ‖ 0^64 ‖ [len(IV) in bits]^64).
            let mut hash = GHash::new(&h.into());
            hash.update_padded(nonce);
            let mut lengths = [0u8; BLOCK];
            lengths[8..].copy_from_slice(&((nonce.len() as u64) * 8).to_be_bytes());
            hash.update(&[lengths.into()]);
            j0 = hash.finalize().into();
        }
        let mut tag_mask = j0;
        aes.encrypt_block((&mut tag_mask).into());
        let mut counter = j0;
        let low = u32::from_be_bytes([counter[12], counter[13], counter[14], counter[15]]).wrapping_add(1);
        counter[12..].copy_from_slice(&low.to_be_bytes());
        let ctr = ctr::Ctr32BE::<Aes256>::new(key.into(), &counter.into());
        let mut ghash = GHash::new(&h.into());
        ghash.update_padded(aad);
        h.zeroize();
        Some(GcmDecryptor {
            ctr,
            ghash,
            tag_mask,
            partial: [0; BLOCK],
            partial_len: 0,
            held: Vec::with_capacity(2 * BLOCK),
            aad_len: aad.len() as u64,
            ciphertext_len: 0,
        })
    }

    /// Decrypts what can be decrypted of `input` (all but the last 16 bytes seen so far) onto `out`.
    pub(crate) fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        if input.len() >= BLOCK {
            // The held bytes and all of `input` but its last 16 are ciphertext.
            out.extend_from_slice(&self.held);
            out.extend_from_slice(&input[..input.len() - BLOCK]);
            self.held.clear();
            self.held.extend_from_slice(&input[input.len() - BLOCK..]);
        } else {
            self.held.extend_from_slice(input);
            let excess = self.held.len().saturating_sub(BLOCK);
            out.extend(self.held.drain(..excess));
        }
        let ciphertext = &mut out[start..];
        self.hash(ciphertext);
        self.ciphertext_len += ciphertext.len() as u64;
        self.ctr.apply_keystream(ciphertext);
    }

    fn hash(&mut self, mut data: &[u8]) {
        if self.partial_len > 0 {
            let take = (BLOCK - self.partial_len).min(data.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&data[..take]);
            self.partial_len += take;
            data = &data[take..];
            if self.partial_len < BLOCK {
                return;
            }
            self.ghash.update(&[self.partial.into()]);
            self.partial_len = 0;
        }
        let whole = data.len() - data.len() % BLOCK;
        for block in data[..whole].chunks_exact(BLOCK) {
            let block: [u8; BLOCK] = block.try_into().unwrap_or([0; BLOCK]);
            self.ghash.update(&[block.into()]);
        }
        let rest = &data[whole..];
        self.partial[..rest.len()].copy_from_slice(rest);
        self.partial_len = rest.len();
    }

    /// Whether the stream authenticates: `Err(true)` when it was too short to hold a tag (cut), `Err(false)` when
    /// the tag does not match (altered, cut, or another key or nonce).
    pub(crate) fn finish(mut self) -> Result<(), bool> {
        if self.held.len() < BLOCK {
            return Err(true);
        }
        if self.partial_len > 0 {
            let partial = self.partial;
            self.ghash.update_padded(&partial[..self.partial_len]);
        }
        let mut lengths = [0u8; BLOCK];
        lengths[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lengths[8..].copy_from_slice(&(self.ciphertext_len * 8).to_be_bytes());
        self.ghash.update(&[lengths.into()]);
        let mut tag: [u8; BLOCK] = self.ghash.finalize().into();
        tag.iter_mut().zip(self.tag_mask).for_each(|(t, m)| *t ^= m);
        if bool::from(tag.ct_eq(&self.held[..])) { Ok(()) } else { Err(false) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::aes_gcm::aead::consts::{U12, U16};
    use ::aes_gcm::aead::{Aead, Payload};

    fn seal<N: ::aes_gcm::aead::array::ArraySize>(key: &[u8; 32], nonce: &[u8], aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let cipher = ::aes_gcm::AesGcm::<Aes256, N>::new(key.into());
        let nonce = ::aes_gcm::Nonce::<N>::try_from(nonce).unwrap_or_default();
        cipher.encrypt(&nonce, Payload { msg: plain, aad }).unwrap_or_default()
    }

    fn open_in_pieces(key: &[u8; 32], nonce: &[u8], aad: &[u8], sealed: &[u8], piece: usize) -> Result<Vec<u8>, bool> {
        let mut decryptor = GcmDecryptor::new(key, nonce, aad).ok_or(false)?;
        let mut out = Vec::new();
        for chunk in sealed.chunks(piece.max(1)) {
            decryptor.update(chunk, &mut out);
        }
        decryptor.finish().map(|()| out)
    }

    #[test]
    fn decrypts_what_aes_gcm_seals_in_pieces_of_any_size() {
        let key = *b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
        let plain: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        for len in [0, 1, 15, 16, 17, 100, 1000] {
            let twelve = seal::<U12>(&key, b"uluk4a9R25RW", b"transaction", &plain[..len]);
            let sixteen = seal::<U16>(&key, b"a8607ef79034c49c", b"", &plain[..len]);
            for piece in [1, 3, 16, 17, 64, 2000] {
                assert_eq!(
                    open_in_pieces(&key, b"uluk4a9R25RW", b"transaction", &twelve, piece),
                    Ok(plain[..len].to_vec())
                );
                assert_eq!(open_in_pieces(&key, b"a8607ef79034c49c", b"", &sixteen, piece), Ok(plain[..len].to_vec()));
            }
        }
    }

    #[test]
    fn altered_cut_or_foreign_streams_fail() {
        let key = *b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
        let sealed = seal::<U16>(&key, b"a8607ef79034c49c", b"", b"`2024-01-02 00:00:00,`4200...\r\n");
        let mut altered = sealed.clone();
        altered[3] ^= 1;
        assert_eq!(open_in_pieces(&key, b"a8607ef79034c49c", b"", &altered, 7), Err(false));
        assert_eq!(open_in_pieces(&key, b"a8607ef79034c49c", b"", &sealed[..sealed.len() - 1], 7), Err(false));
        assert_eq!(open_in_pieces(&key, b"a8607ef79034c49c", b"", &sealed[..10], 7), Err(true));
        assert_eq!(open_in_pieces(&key, b"b8607ef79034c49c", b"", &sealed, 7), Err(false));
        assert!(GcmDecryptor::new(&key, b"", b"").is_none());
    }
}
