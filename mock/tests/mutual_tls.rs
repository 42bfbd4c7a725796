//! The mutual-TLS listener: a client with the merchant certificate gets answers; a client without a certificate,
//! or with one the merchant CA did not issue, is refused during the handshake and never reaches the endpoints.

mod common;

use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wechatpay_mock::Server;

/// One request over TLS to the mutual-TLS listener, presenting `identity` (certificate PEM, key PEM) if given.
async fn exchange(server: &Server, identity: Option<(&str, &str)>, request: &str) -> Result<String, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(server.tls_ca_pem().as_bytes()).expect("CA")).expect("root");
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = match identity {
        Some((certificate, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(certificate.as_bytes()).expect("certificate")],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
            )
            .expect("client auth"),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.tls_local_addr()).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let mut tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
    tls.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn orderquery(mchid: &str) -> String {
    let body = format!("<xml><mch_id>{mchid}</mch_id><out_trade_no>T</out_trade_no><sign>00</sign></xml>");
    format!(
        "POST /pay/orderquery HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A certificate for the merchant's own key, valid and for client authentication, but self-signed.
fn self_signed(key_pem: &str) -> String {
    let key = rcgen::KeyPair::from_pem(key_pem).expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.self_signed(&key).expect("self-signed").pem()
}

#[tokio::test]
async fn only_the_merchant_certificate_gets_through() {
    let server = common::server().await;
    let ids = server.identities().clone();
    let request = orderquery(&ids.mchid);

    let answer = exchange(&server, Some((&ids.merchant.certificate_pem, &ids.merchant.private_key_pem)), &request)
        .await
        .expect("the merchant certificate is accepted");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("签名错误"), "the APIv2 endpoint answered (the sign is wrong on purpose): {answer}");
    assert_eq!(server.tls_connections_accepted(), 1);
    assert_eq!(server.requests_served(), 1);

    let anonymous = exchange(&server, None, &request).await;
    assert!(anonymous.is_err(), "no certificate: {anonymous:?}");
    let stranger = self_signed(&ids.merchant.private_key_pem);
    let forged = exchange(&server, Some((&stranger, &ids.merchant.private_key_pem)), &request).await;
    assert!(forged.is_err(), "a certificate the merchant CA did not issue: {forged:?}");
    assert_eq!(server.requests_served(), 1, "refused clients never reach an endpoint");
    // The server counts a refusal once its side of the handshake has ended, which may be just after the client's.
    for _ in 0..200 {
        if server.tls_handshakes_refused() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(server.tls_handshakes_refused(), 2);
    assert_eq!(server.tls_connections_accepted(), 1);
}
