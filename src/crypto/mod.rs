//! The crypto toolkit, ported from the PHP SDK's `WeChatPay\Crypto` namespace: [`Rsa`], [`AesGcm`], [`AesEcb`] and
//! [`Hash`](struct@Hash), with the typed keys they work on ([`PrivateKey`], [`PublicKey`], [`Certificate`]).
//!
//! RSA runs on one of two [`Backend`]s: aws-lc-rs by default, or the pure-Rust `rsa` crate with the `rustcrypto`
//! feature. Both are constant-time; keys are parsed once, when they are loaded.
//!
//! ```
//! use wechatpay::crypto::{AesGcm, Rsa};
//!
//! let merchant_key = Rsa::from_private("file://tests/fixtures/merchant_private_key.pem")?;
//! let signature = Rsa::sign("message", &merchant_key)?;
//! assert_eq!(signature.len(), 344);
//!
//! let plaintext = AesGcm::decrypt("ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=", "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", "uluk4a9R25RW", "associatedData")?;
//! assert_eq!(plaintext, "message");
//! # Ok::<(), wechatpay::Error>(())
//! ```

mod aes_ecb;
mod aes_gcm;
mod backend;
mod certificate;
pub(crate) mod gcm_stream;
mod hash;
mod keys;
mod rsa;
pub(crate) mod source;

pub use self::aes_ecb::AesEcb;
pub use self::aes_gcm::AesGcm;
pub use self::backend::Backend;
pub use self::certificate::Certificate;
pub use self::hash::Hash;
pub(crate) use self::hash::hex_lower;
pub(crate) use self::keys::pem_encode;
pub use self::keys::{Key, KeyType, PrivateKey, PublicKey};
pub use self::rsa::{Padding, Rsa, SIGNTEST_PREFIX};
