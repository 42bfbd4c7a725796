//! Certificates and TLS for the mutual-TLS listener: the merchant CA (the "Tenpay" CA that issues merchant API
//! certificates, part of the identities), the listener's own CA and server certificate (made at every start), and
//! the rustls server configuration that refuses any client without a certificate from the merchant CA.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::error::MockError;
use crate::util::{fill_random, now_secs};

fn crypto(what: &str) -> impl Fn(rcgen::Error) -> MockError + '_ {
    move |e| MockError::crypto(format!("{what}: {e}"))
}

fn at(unix: i64) -> Result<time::OffsetDateTime, MockError> {
    time::OffsetDateTime::from_unix_timestamp(unix).map_err(|_| MockError::crypto("certificate time out of range"))
}

fn distinguished_name(common_name: &str, org_unit: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CountryName, "CN");
    dn.push(rcgen::DnType::OrganizationName, "wechatpay-mock");
    dn.push(rcgen::DnType::OrganizationalUnitName, org_unit);
    dn.push(rcgen::DnType::CommonName, common_name);
    dn
}

/// A certificate authority that can issue certificates (ECDSA P-256: cheap to make at every start).
pub(crate) struct Authority {
    pub(crate) certificate_pem: String,
    pub(crate) private_key_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Authority {
    /// A fresh CA valid from `not_before` for `lifetime_secs`.
    pub(crate) fn generate(common_name: &str, not_before: i64, lifetime_secs: i64) -> Result<Authority, MockError> {
        let key = rcgen::KeyPair::generate().map_err(crypto("CA key"))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(crypto("CA"))?;
        params.distinguished_name = distinguished_name(common_name, "CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial()));
        params.not_before = at(not_before)?;
        params.not_after = at(not_before + lifetime_secs)?;
        let certificate = params.self_signed(&key).map_err(crypto("CA signing"))?;
        Ok(Authority {
            certificate_pem: certificate.pem(),
            private_key_pem: key.serialize_pem(),
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// A merchant API certificate (`apiclient_cert.pem`) for the RSA key `pkcs8`: the subject names the mchid, the
    /// extended key usage allows TLS client authentication.
    pub(crate) fn issue_merchant(
        &self,
        pkcs8: &[u8],
        serial: &[u8],
        mchid: &str,
        not_before: i64,
        lifetime_secs: i64,
    ) -> Result<String, MockError> {
        let key = rcgen::KeyPair::try_from(pkcs8).map_err(crypto("merchant key"))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(crypto("certificate"))?;
        params.distinguished_name = distinguished_name(mchid, "merchant");
        params.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
        params.not_before = at(not_before)?;
        params.not_after = at(not_before + lifetime_secs)?;
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::DataEncipherment,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let certificate = params.signed_by(&key, &self.issuer).map_err(crypto("certificate signing"))?;
        Ok(certificate.pem())
    }

    /// A TLS server certificate for `names` (IP addresses or host names) and its key, PEM.
    fn issue_server(&self, names: &[String]) -> Result<(String, String), MockError> {
        let key = rcgen::KeyPair::generate().map_err(crypto("server key"))?;
        let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(crypto("server certificate"))?;
        params.distinguished_name = distinguished_name("wechatpay-mock", "TLS");
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial()));
        let now = now_secs();
        params.not_before = at(now - 3600)?;
        params.not_after = at(now + 30 * 86_400)?;
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let certificate = params.signed_by(&key, &self.issuer).map_err(crypto("server certificate signing"))?;
        Ok((certificate.pem(), key.serialize_pem()))
    }
}

/// A positive 16-byte serial.
fn serial() -> [u8; 16] {
    let mut serial = [0u8; 16];
    fill_random(&mut serial);
    serial[0] &= 0x7F;
    serial[0] |= 0x10;
    serial
}

/// The mutual-TLS listener's side of TLS, made at every start.
pub(crate) struct ServerTls {
    /// The CA that issued the listener's certificate: what a client trusts to reach it.
    pub(crate) ca_pem: String,
    pub(crate) acceptor: TlsAcceptor,
}

/// A server certificate for `names` from a fresh CA, and a configuration that requires a client certificate issued
/// by `merchant_ca_pem`.
pub(crate) fn server_tls(names: &[String], merchant_ca_pem: &str) -> Result<ServerTls, MockError> {
    let authority = Authority::generate("wechatpay-mock TLS CA", now_secs() - 3600, 30 * 86_400)?;
    let (certificate_pem, key_pem) = authority.issue_server(names)?;
    let certificate = CertificateDer::from_pem_slice(certificate_pem.as_bytes())
        .map_err(|e| MockError::crypto(format!("server certificate: {e}")))?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| MockError::crypto(format!("server key: {e}")))?;
    let merchant_ca = CertificateDer::from_pem_slice(merchant_ca_pem.as_bytes())
        .map_err(|e| MockError::crypto(format!("merchant CA: {e}")))?;
    let mut roots = RootCertStore::empty();
    roots.add(merchant_ca).map_err(|e| MockError::crypto(format!("merchant CA: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .map_err(|e| MockError::crypto(format!("client verifier: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MockError::crypto(format!("TLS versions: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![certificate], key)
        .map_err(|e| MockError::crypto(format!("server certificate: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls { ca_pem: authority.certificate_pem, acceptor: TlsAcceptor::from(Arc::new(config)) })
}
