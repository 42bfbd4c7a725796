//! Request signing: the [`Signer`] trait, replaceable for a remote KMS or HSM, and the default
//! [`RsaSigner`] over the merchant's private key.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::crypto::PrivateKey;
use crate::error::Result;

/// The future a [`Signer`] returns: the raw signature bytes.
///
/// ```
/// use wechatpay::{Error, SignFuture};
///
/// // What a remote signer returns while its service is down.
/// fn unavailable<'a>() -> SignFuture<'a> {
///     Box::pin(async { Err(Error::Runtime { reason: "the KMS is unreachable".into() }) })
/// }
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let err = runtime.block_on(unavailable()).unwrap_err();
/// assert!(err.to_string().contains("KMS"));
/// ```
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>>> + Send + 'a>>;

/// Signs APIv3 request messages with the merchant API key (RSASSA-PKCS1-v1_5, SHA-256).
///
/// Replace it through [`ConfigBuilder::signer`](crate::ConfigBuilder::signer) to keep the key in a KMS or HSM: the
/// SDK hands over the exact message (`METHOD\nPATH\nTIMESTAMP\nNONCE\nBODY\n`) and puts the returned signature,
/// base64-encoded, in the `Authorization` header. Signing may be asynchronous. A custom signer always runs on the
/// SDK's I/O runtime (a Tokio runtime), for the blocking verbs too, so it may use Tokio-based clients and keep
/// their connections between requests.
///
/// ```
/// use wechatpay::{SignFuture, Signer};
///
/// /// A signer that asks a remote service (here: pretends to).
/// struct Kms { key_id: String }
///
/// impl Signer for Kms {
///     fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
///         Box::pin(async move {
///             // let signature = kms_client.sign(&self.key_id, "RSASSA_PKCS1_V1_5_SHA_256", message).await?;
///             # let _ = (&self.key_id, message);
///             # let signature = vec![0u8; 256];
///             Ok(signature)
///         })
///     }
/// }
/// ```
pub trait Signer: Send + Sync {
    /// Signs `message` and returns the raw signature bytes.
    ///
    /// ```
    /// use wechatpay::{RsaSigner, Signer};
    /// use wechatpay::crypto::PrivateKey;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let signature = RsaSigner::new(key.clone()).sign(b"GET\n/v3/certificates\n1554208460\nN\n\n").await?;
    /// assert!(key.public_key()?.verify(b"GET\n/v3/certificates\n1554208460\nN\n\n", &signature));
    /// # Ok(()) }
    /// ```
    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a>;
}

/// The default [`Signer`]: the merchant's API private key (`apiclient_key.pem`), in process.
///
/// ```
/// use wechatpay::{RsaSigner, Signer};
/// use wechatpay::crypto::PrivateKey;
///
/// let signer = RsaSigner::new(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?);
/// let signature = futures_lite_block_on(signer.sign(b"GET\n/v3/certificates\n1\nN\n\n"))?;
/// assert_eq!(signature.len(), 256);
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct RsaSigner {
    key: PrivateKey,
}

impl RsaSigner {
    /// A signer over `key`.
    ///
    /// ```
    /// use wechatpay::RsaSigner;
    /// use wechatpay::crypto::PrivateKey;
    ///
    /// let signer = RsaSigner::new(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?);
    /// // Debug names the key's size, never its bytes.
    /// assert!(format!("{signer:?}").contains("bits: 2048"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn new(key: PrivateKey) -> Self {
        RsaSigner { key }
    }
}

impl Signer for RsaSigner {
    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
        Box::pin(std::future::ready(self.key.sign(message)))
    }
}

impl fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigner").field("key", &self.key).finish()
    }
}
