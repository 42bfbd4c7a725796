//! Property tests: round trips hold for any input, and garbage in gives an error, never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use wechatpay::crypto::{AesEcb, AesGcm, Backend, Certificate, Padding, PrivateKey, PublicKey, Rsa};

const KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

fn merchant_key() -> PrivateKey {
    PrivateKey::load(format!("file://{}/tests/fixtures/merchant_private_key.pem", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn nonce() -> impl Strategy<Value = String> {
    "[0-9A-Za-z]{12}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn rsa_sign_verify_round_trips_across_backends(message in proptest::collection::vec(any::<u8>(), 0..512), flip in any::<usize>()) {
        let key = merchant_key();
        for signer in Backend::available() {
            let signature = key.with_backend(*signer).unwrap().sign(&message).unwrap();
            for verifier in Backend::available() {
                let public = key.public_key().unwrap().with_backend(*verifier).unwrap();
                prop_assert!(public.verify(&message, &signature));
                let mut tampered = signature.clone();
                let at = flip % tampered.len();
                tampered[at] ^= 1;
                prop_assert!(!public.verify(&message, &tampered));
            }
        }
    }

    #[test]
    fn rsa_oaep_round_trips_across_backends(plaintext in proptest::collection::vec(any::<u8>(), 0..=214)) {
        let key = merchant_key();
        for encryptor in Backend::available() {
            let ciphertext = key.public_key().unwrap().with_backend(*encryptor).unwrap().encrypt(&plaintext, Padding::Oaep).unwrap();
            for decryptor in Backend::available() {
                prop_assert_eq!(&key.with_backend(*decryptor).unwrap().decrypt(&ciphertext, Padding::Oaep).unwrap(), &plaintext);
            }
        }
    }

    #[test]
    fn rsa_oaep_refuses_plaintext_over_the_limit(extra in 1usize..64) {
        let public = merchant_key().public_key().unwrap();
        for backend in Backend::available() {
            let err = public.with_backend(*backend).unwrap().encrypt(&vec![b'x'; 214 + extra], Padding::Oaep).unwrap_err();
            prop_assert!(matches!(err, wechatpay::Error::Crypto { .. }), "{:?}", err);
        }
    }

    #[test]
    fn rsa_decrypt_of_garbage_is_an_error(garbage in proptest::collection::vec(any::<u8>(), 0..300), text in ".{0,400}") {
        let key = merchant_key();
        for backend in Backend::available() {
            let key = key.with_backend(*backend).unwrap();
            prop_assert!(key.decrypt(&garbage, Padding::Oaep).is_err());
            prop_assert!(key.decrypt(&garbage, Padding::Pkcs1v15).is_err() || garbage.len() == 256);
            let _ = Rsa::decrypt(&text, &key);
            prop_assert!(Rsa::decrypt(&STANDARD.encode(&garbage), &key).is_err());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn aes_gcm_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..2048), aad in ".{0,64}", nonce in nonce()) {
        let ciphertext = AesGcm::encrypt(&plaintext, KEY, &nonce, &aad).unwrap();
        prop_assert_eq!(AesGcm::decrypt_base64(&ciphertext, KEY.as_bytes(), nonce.as_bytes(), aad.as_bytes()).unwrap(), plaintext);
    }

    #[test]
    fn aes_gcm_detects_any_single_bit_flip(plaintext in proptest::collection::vec(any::<u8>(), 0..256), nonce in nonce(), bit in any::<usize>()) {
        let mut raw = AesGcm::encrypt_bytes(&plaintext, KEY.as_bytes(), nonce.as_bytes(), b"").unwrap();
        let at = bit % (raw.len() * 8);
        raw[at / 8] ^= 1 << (at % 8);
        prop_assert!(AesGcm::decrypt_bytes(&raw, KEY.as_bytes(), nonce.as_bytes(), b"").is_err());
    }

    #[test]
    fn aes_gcm_garbage_is_an_error(ciphertext in ".{0,200}", raw in proptest::collection::vec(any::<u8>(), 0..64), key in proptest::collection::vec(any::<u8>(), 0..40), nonce in proptest::collection::vec(any::<u8>(), 0..20)) {
        let _ = AesGcm::decrypt(&ciphertext, &key, &nonce, "");
        // Short inputs (a tag of the wrong length) and random bytes never authenticate.
        prop_assert!(AesGcm::decrypt_bytes(&raw, KEY.as_bytes(), b"uluk4a9R25RW", b"").is_err());
        prop_assert!(AesGcm::decrypt(&STANDARD.encode(&raw), KEY, "uluk4a9R25RW", "").is_err());
        if key.len() != 32 {
            let is_invalid_argument = matches!(AesGcm::decrypt_bytes(&raw, &key, b"uluk4a9R25RW", b""), Err(wechatpay::Error::InvalidArgument { .. }));
            prop_assert!(is_invalid_argument);
        }
        if nonce.len() != 12 {
            prop_assert!(AesGcm::encrypt_bytes(b"x", KEY.as_bytes(), &nonce, b"").is_err());
        }
    }

    #[test]
    fn aes_ecb_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let key = AesEcb::req_info_key("192006250b4c09247ec02edce69f6a2d");
        let ciphertext = AesEcb::encrypt(&plaintext, key.as_bytes()).unwrap();
        prop_assert_eq!(AesEcb::decrypt_bytes(&ciphertext, key.as_bytes()).unwrap(), plaintext);
    }

    #[test]
    fn aes_ecb_garbage_is_an_error_or_text(ciphertext in ".{0,200}", raw in proptest::collection::vec(any::<u8>(), 0..100)) {
        let key = "0123456789abcdef0123456789abcdef";
        let _ = AesEcb::decrypt(&ciphertext, key);
        if raw.len() % 16 != 0 || raw.is_empty() {
            prop_assert!(AesEcb::decrypt(&STANDARD.encode(&raw), key).is_err());
        } else {
            let _ = AesEcb::decrypt(&STANDARD.encode(&raw), key);
        }
    }

    #[test]
    fn key_loaders_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(PrivateKey::load(&bytes).is_err());
        prop_assert!(PublicKey::load(&bytes).is_err());
        prop_assert!(Certificate::load(&bytes).is_err());
        prop_assert!(PrivateKey::from_der(&bytes).is_err());
        prop_assert!(PublicKey::from_der(&bytes).is_err());
    }

    #[test]
    fn key_loaders_never_panic_on_text(
        prefix in prop::sample::select(vec!["", "private.pkcs1://", "private.pkcs8://", "public.pkcs1://", "public.spki://", "file://", "-----BEGIN PRIVATE KEY-----\n", "-----BEGIN CERTIFICATE-----\n", "-----BEGIN PUBLIC KEY-----\n"]),
        body in "[A-Za-z0-9+/=\n -]{0,300}",
        suffix in prop::sample::select(vec!["", "\n-----END PRIVATE KEY-----", "\n-----END CERTIFICATE-----", "\n-----END PUBLIC KEY-----"]),
    ) {
        let thing = format!("{prefix}{body}{suffix}");
        prop_assert!(PrivateKey::load(&thing).is_err());
        prop_assert!(PublicKey::load(&thing).is_err());
        prop_assert!(Certificate::load(&thing).is_err());
        let _ = Rsa::pkcs1_to_spki(&body);
        prop_assert!(Rsa::from_spki(&body).is_err());
    }

    #[test]
    fn pem_with_a_valid_frame_but_garbage_der_is_an_error(der in proptest::collection::vec(any::<u8>(), 1..400), label in prop::sample::select(vec!["PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE"])) {
        let pem = format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", STANDARD.encode(&der));
        prop_assert!(PrivateKey::from_pem_with_passphrase(&pem, "x").is_err());
        prop_assert!(PublicKey::from_pem(&pem).is_err());
        prop_assert!(Certificate::from_pem(&pem).is_err());
    }

    #[test]
    fn signature_strings_never_panic(signature in "(WECHATPAY/SIGNTEST/)?[A-Za-z0-9+/=]{0,400}", message in ".{0,64}") {
        let public = merchant_key().public_key().unwrap();
        match Rsa::verify(&message, &signature, &public) {
            Ok(valid) => prop_assert!(!valid),
            Err(err) => prop_assert!(matches!(err, wechatpay::Error::Crypto { .. }), "{:?}", err),
        }
        if signature.starts_with(wechatpay::crypto::SIGNTEST_PREFIX) {
            prop_assert!(Rsa::verify(&message, &signature, &public).is_err());
        }
    }
}
