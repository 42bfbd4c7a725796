//! Customisation: the PHP README's remote signer and verifier (Guzzle middlewares swapped on the handler stack) as a
//! `Signer` and a `Verifier` given to the config, e.g. for a merchant key kept in a KMS or an HSM.
//!
//! `cargo run --example customisation` runs against the embedded WeChat Pay simulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wechatpay::crypto::Rsa;
use wechatpay::{Builder, Config, PlatformKeys, RsaSigner, SignFuture, Signer, VerificationFailure, Verifier};

/// Signs through "a signing service": the SDK hands over the message (`METHOD\nPATH\nTIMESTAMP\nNONCE\nBODY\n`) and
/// builds the Authorization header around the signature. Here the service is simulated in process.
struct RemoteSigner {
    service: RsaSigner,
    calls: Arc<AtomicUsize>,
}

impl Signer for RemoteSigner {
    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            // let signature = http.post(".../wechatpay-merchant-request-signature").body(message).send().await?;
            self.service.sign(message).await
        })
    }
}

/// Verifies through "a verification service", which answers for each serial.
struct RemoteVerifier {
    service: PlatformKeys,
    calls: Arc<AtomicUsize>,
}

impl Verifier for RemoteVerifier {
    fn verify(&self, serial: &str, message: &[u8], signature: &str) -> Result<(), VerificationFailure> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.service.verify(serial, message, signature)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start_blocking()?;
    let ids = server.identities();
    let (signed, verified) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let platform_keys = PlatformKeys::new();
    platform_keys.insert(&ids.platform.serial, Rsa::from_public(&ids.platform.certificate_pem)?);

    let signer = RsaSigner::new(Rsa::from_private(&ids.merchant.private_key_pem)?);
    let instance = Builder::factory(
        Config::builder()
            .mchid(&ids.mchid)
            .serial(&ids.merchant.serial)
            .signer(RemoteSigner { service: signer, calls: Arc::clone(&signed) })
            .verifier(RemoteVerifier { service: platform_keys, calls: Arc::clone(&verified) })
            .base_uri(server.base_uri()),
    )?;

    // $instance->v3->certificates->getAsync()->then(static function($res) { return $res->getBody(); })->wait();
    let body = instance.v3().certificates().get_async(()).wait()?.text()?.to_owned();
    println!("{body}");
    println!(
        "signed remotely {} time(s), verified remotely {} time(s)",
        signed.load(Ordering::Relaxed),
        verified.load(Ordering::Relaxed)
    );
    Ok(())
}
