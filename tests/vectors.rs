//! Every published vector in tests/fixtures/vectors.json (a copy of ../shared/vectors), with every RSA backend.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use wechatpay::crypto::{AesEcb, AesGcm, Backend, Certificate, Hash, Padding, PrivateKey, PublicKey, Rsa};
use wechatpay::{Error, Formatter};

fn vectors() -> Value {
    serde_json::from_str(include_str!("fixtures/vectors.json")).expect("vectors.json parses")
}

fn fixture(name: &str) -> String {
    format!("file://{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn private_key(name: &str, backend: Backend) -> PrivateKey {
    PrivateKey::load(fixture(name)).unwrap().with_backend(backend).unwrap()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn rsa_sha256_signatures_match_the_official_sdks() {
    for backend in Backend::available() {
        for case in vectors()["rsa_sha256_sign"].as_array().unwrap() {
            let key = private_key(str_of(case, "private_key"), *backend);
            let message = str_of(case, "message");
            let expected = str_of(case, "signature_base64");
            assert_eq!(Rsa::sign(message, &key).unwrap(), expected, "{backend:?} {}", str_of(case, "source"));
            let public = key.public_key().unwrap();
            assert!(Rsa::verify(message, expected, &public).unwrap(), "{backend:?}");
            assert!(!Rsa::verify(format!("{message}."), expected, &public).unwrap(), "{backend:?}");
        }
    }
}

#[test]
fn java_signature_does_not_verify_with_the_wrong_key() {
    let case = &vectors()["rsa_sha256_sign"][1];
    assert!(case["note"].as_str().unwrap().contains("must fail"));
    for backend in Backend::available() {
        let wrong = PublicKey::load(fixture("wechat_pay_public_key.pem")).unwrap().with_backend(*backend).unwrap();
        assert!(!Rsa::verify(str_of(case, "message"), str_of(case, "signature_base64"), &wrong).unwrap());
    }
}

#[test]
fn oaep_sha1_ciphertext_decrypts_and_wrong_inputs_fail() {
    for backend in Backend::available() {
        for case in vectors()["rsa_oaep_sha1_decrypt"].as_array().unwrap() {
            let key = private_key(str_of(case, "private_key"), *backend);
            let ciphertext = str_of(case, "ciphertext_base64");
            assert_eq!(Rsa::decrypt(ciphertext, &key).unwrap(), str_of(case, "plaintext"), "{backend:?}");
            // The note: 'MTIzNA==' must fail, and so must PKCS#1 v1.5 on an OAEP ciphertext.
            assert!(matches!(Rsa::decrypt("MTIzNA==", &key), Err(Error::Crypto { .. })));
            assert!(Rsa::decrypt_with(ciphertext, &key, Padding::Pkcs1v15).is_err());
        }
    }
}

#[test]
fn pkcs1v15_ciphertext_decrypts() {
    for backend in Backend::available() {
        for case in vectors()["rsa_pkcs1v15_decrypt"].as_array().unwrap() {
            let key = private_key(str_of(case, "private_key"), *backend);
            let plaintext = Rsa::decrypt_with(str_of(case, "ciphertext_base64"), &key, Padding::Pkcs1v15).unwrap();
            assert_eq!(plaintext, str_of(case, "plaintext"), "{backend:?}");
            assert!(
                Rsa::decrypt(str_of(case, "ciphertext_base64"), &key).is_err(),
                "OAEP must refuse a PKCS#1 ciphertext"
            );
        }
    }
}

#[test]
fn certificates_give_serials_and_matching_keys() {
    for case in vectors()["certificates"].as_array().unwrap() {
        let certificate = Certificate::load(fixture(str_of(case, "file"))).unwrap();
        assert_eq!(certificate.serial_number(), str_of(case, "serial"));
        let key = PrivateKey::load(fixture(str_of(case, "key"))).unwrap();
        assert_eq!(&key.public_key().unwrap(), certificate.public_key());
        if let Some(public) = case["public_key"].as_str() {
            assert_eq!(&PublicKey::load(fixture(public)).unwrap(), certificate.public_key());
        }
    }
}

#[test]
fn aes_256_gcm_vector_and_its_must_fail_cases() {
    for case in vectors()["aes_256_gcm"].as_array().unwrap() {
        let (key, nonce, aad) = (str_of(case, "key"), str_of(case, "nonce"), str_of(case, "associated_data"));
        let ciphertext = str_of(case, "ciphertext_base64");
        assert_eq!(AesGcm::encrypt(str_of(case, "plaintext"), key, nonce, aad).unwrap(), ciphertext);
        assert_eq!(AesGcm::decrypt(ciphertext, key, nonce, aad).unwrap(), str_of(case, "plaintext"));
        for bad in case["must_fail"].as_array().unwrap() {
            let nonce = bad["nonce"].as_str().unwrap_or(nonce);
            let aad = bad["associated_data"].as_str().unwrap_or(aad);
            let err = AesGcm::decrypt(ciphertext, key, nonce, aad).unwrap_err();
            assert!(err.to_string().contains("authentication failed"), "{err}");
        }
    }
}

#[test]
fn aes_256_ecb_vector() {
    for case in vectors()["aes_256_ecb_pkcs7"].as_array().unwrap() {
        let key = str_of(case, "key");
        assert_eq!(AesEcb::encrypt(str_of(case, "plaintext"), key).unwrap(), str_of(case, "ciphertext_base64"));
        assert_eq!(AesEcb::decrypt(str_of(case, "ciphertext_base64"), key).unwrap(), str_of(case, "plaintext"));
    }
}

#[test]
fn md5_with_key_vectors() {
    for case in vectors()["md5_with_key"].as_array().unwrap() {
        let agency = case["agency"].as_bool().unwrap_or(false);
        assert_eq!(Hash::md5(str_of(case, "thing"), str_of(case, "key"), agency), str_of(case, "hex"), "{case}");
    }
}

#[test]
fn apiv2_signature_vector() {
    for case in vectors()["apiv2_sign"].as_array().unwrap() {
        let params = case["params"].as_object().unwrap();
        let data = Formatter::query_string_like(Formatter::ksort(params.iter().map(|(k, v)| (k.as_str(), v))));
        let key = str_of(case, "key");
        assert_eq!(format!("{data}&key={key}"), str_of(case, "string_to_sign"));
        assert_eq!(Hash::sign(Hash::ALGO_MD5, &data, key).unwrap(), str_of(case, "MD5"));
        assert_eq!(Hash::sign(Hash::ALGO_HMAC_SHA256, &data, key).unwrap(), str_of(case, "HMAC-SHA256"));
        assert!(Hash::sign("SHA1", &data, key).is_err());
    }
}

#[test]
fn one_backend_signs_and_the_other_verifies() {
    let [first, second, ..] = Backend::available() else {
        // Built without aws-lc: there is only one backend to compare, which the other tests cover.
        assert_eq!(Backend::available(), [Backend::RustCrypto]);
        return;
    };
    let message = b"POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{}\n";
    for (signer, verifier) in [(first, second), (second, first)] {
        let key = private_key("merchant_private_key.pem", *signer);
        let public = key.public_key().unwrap().with_backend(*verifier).unwrap();
        let signature = key.sign(message).unwrap();
        assert!(public.verify(message, &signature), "{signer:?} -> {verifier:?}");
        let ciphertext = key.public_key().unwrap().encrypt(b"Alice", Padding::Oaep).unwrap();
        let other = key.with_backend(*verifier).unwrap();
        assert_eq!(other.decrypt(&ciphertext, Padding::Oaep).unwrap(), b"Alice", "{signer:?} -> {verifier:?}");
    }
}

#[test]
fn every_key_form_loads_the_same_key() {
    let expected = PrivateKey::load(fixture("merchant_private_key.pem")).unwrap().public_key().unwrap();
    let pkcs8 = PrivateKey::load(fixture("merchant_private_key.pem")).unwrap().to_pkcs8_der();
    let pkcs1 = PrivateKey::load(fixture("merchant_private_key.pkcs1.pem")).unwrap().to_pkcs1_der().unwrap();
    let forms: Vec<PrivateKey> = vec![
        PrivateKey::load(fixture("merchant_private_key.pkcs1.pem")).unwrap(),
        PrivateKey::from_pem_with_passphrase(
            &std::fs::read_to_string(&fixture("merchant_private_key.encrypted.pem")[7..]).unwrap(),
            "wechatpay",
        )
        .unwrap(),
        PrivateKey::load(pkcs8.as_slice()).unwrap(),
        PrivateKey::load(pkcs1.as_slice()).unwrap(),
        Rsa::from_private(format!("private.pkcs8://{}", STANDARD.encode(&pkcs8))).unwrap(),
        Rsa::from_private(format!("private.pkcs1://{}", STANDARD.encode(&pkcs1))).unwrap(),
        Rsa::from_pkcs8(&STANDARD.encode(&pkcs8)).unwrap(),
    ];
    for key in forms {
        assert_eq!(key.public_key().unwrap(), expected);
    }
    let spki = expected.to_spki_der().to_vec();
    let public_pkcs1 = expected.to_pkcs1_der().unwrap();
    let publics = [
        Rsa::from_public(format!("public.spki://{}", STANDARD.encode(&spki))).unwrap(),
        Rsa::from_public(format!("public.pkcs1://{}", STANDARD.encode(&public_pkcs1))).unwrap(),
        Rsa::from_public(fixture("merchant_certificate.pem")).unwrap(),
        Rsa::from_public(Certificate::load(fixture("merchant_certificate.pem")).unwrap().to_der()).unwrap(),
        PublicKey::from_der(&public_pkcs1).unwrap(),
        PublicKey::from_pem(&expected.to_pem()).unwrap(),
    ];
    for key in publics {
        assert_eq!(key, expected);
    }
}

#[test]
fn wrong_kinds_of_input_say_what_was_expected_and_found() {
    let cases: [(Result<PrivateKey, Error>, &str); 5] = [
        (Rsa::from_private(fixture("merchant_certificate.pem")), "CERTIFICATE"),
        (Rsa::from_private(fixture("wechat_pay_public_key.pem")), "public key"),
        (Rsa::from_private(fixture("merchant_private_key.encrypted.pem")), "passphrase"),
        (Rsa::from_private("private.pkcs8://!!!"), "not base64"),
        (
            PrivateKey::from_pem_with_passphrase(
                &std::fs::read_to_string(&fixture("merchant_private_key.encrypted.pem")[7..]).unwrap(),
                "nope",
            ),
            "passphrase",
        ),
    ];
    for (result, needle) in cases {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Key { expected: "an RSA private key", .. }), "{err:?}");
        assert!(err.to_string().contains(needle), "{err} should mention {needle}");
    }
    let err = Rsa::from_public(fixture("merchant_private_key.pem")).unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
}

#[test]
fn errors_and_debug_never_show_key_material() {
    let pem = std::fs::read_to_string(&fixture("merchant_private_key.pem")[7..]).unwrap();
    let body_line = pem.lines().nth(3).unwrap();
    let key = PrivateKey::from_pem(&pem).unwrap();
    assert!(!format!("{key:?}").contains(body_line));
    // Damage the key so that it fails to parse: the error must not quote it.
    let damaged = pem.replacen(body_line, &body_line.replace('A', "B"), 1);
    let message = match PrivateKey::from_pem(&damaged) {
        Ok(_) => String::new(),
        Err(err) => format!("{err} {err:?}"),
    };
    assert!(!message.contains(body_line) && !message.contains(&body_line[..20]), "{message}");
    // A broken BEGIN line must not turn the key body into the "label" of the error.
    for broken in [
        pem.replacen("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY", 1),
        pem.replacen("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY----", 1),
    ] {
        let message = match PrivateKey::load(&broken) {
            Ok(_) => panic!("a broken PEM loaded"),
            Err(err) => format!("{err} {err:?}"),
        };
        assert!(!message.contains(&body_line[..20]), "{message}");
        assert!(message.len() < 400, "{message}");
    }
}
