//! Platform certificates and keys: what the PHP SDK's `CertificateDownloader.php` does (download, decrypt with the
//! APIv3 key, verify with what was downloaded), the FAQ's `AesGcm::decrypt` by hand, and loading keys in every form
//! `Rsa::from` takes. The `wechatpay certificates download` command does the download from a shell.
//!
//! `cargo run --example certificates` runs against the embedded WeChat Pay simulator.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wechatpay::crypto::{AesGcm, Rsa};
use wechatpay::util::PemUtil;
use wechatpay::{Builder, RefreshOutcome};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start_blocking()?;
    let ids = server.identities();

    // Only the APIv3 key and the WeChat Pay public key at first: the certificates are downloaded.
    let instance = Builder::factory(json!({
        "mchid": ids.mchid,
        "serial": ids.merchant.serial,
        "privateKey": ids.merchant.private_key_pem,
        "certs": {ids.public_key.id.clone(): ids.public_key.public_key_pem},
        "apiv3Key": ids.apiv3_key,
        "base_uri": server.base_uri(),
    }))?;
    match instance.refresh_certificates()? {
        RefreshOutcome::Certificates(listed) => {
            for certificate in &listed {
                println!("platform certificate {} ({})", certificate.serial_number(), certificate.subject());
            }
        }
        other => println!("{other:?}"),
    }

    // AesGcm::decrypt($cert->ciphertext, $apiv3Key, $cert->nonce, $cert->associated_data), by hand.
    let answer: Value = instance.v3().certificates().get(())?.json()?;
    for entry in answer["data"].as_array().into_iter().flatten() {
        let field = |name: &str| entry["encrypt_certificate"][name].as_str().unwrap_or_default().to_owned();
        let pem = AesGcm::decrypt(&field("ciphertext"), &ids.apiv3_key, field("nonce"), field("associated_data"))?;
        let certificate = PemUtil::load_certificate_from_string(&pem)?;
        println!("decrypted by hand: {}", PemUtil::parse_certificate_serial_no(&certificate));
    }

    // Rsa::from and its sugar: PEM text or file:// paths, PKCS#1, PKCS#8 and SPKI bodies in base64.
    let private = Rsa::from_private(&ids.merchant.private_key_pem)?;
    let public = private.public_key()?;
    let pkcs1 = STANDARD.encode(public.to_pkcs1_der()?);
    let loaded = [
        ("Rsa::from_pkcs8", Rsa::from_pkcs8(&STANDARD.encode(private.to_pkcs8_der()))?.public_key()?),
        ("Rsa::from_pkcs1", Rsa::from_pkcs1(&pkcs1, Rsa::KEY_TYPE_PUBLIC)?.into_public()?),
        ("Rsa::from_spki", Rsa::from_spki(&Rsa::pkcs1_to_spki(&pkcs1)?)?),
        ("Rsa::from_public (certificate)", Rsa::from_public(&ids.merchant.certificate_pem)?),
    ];
    for (how, key) in loaded {
        println!("{how}: the merchant key? {}", key == public);
    }
    Ok(())
}
