//! Utilities ported from the PHP SDK's `WeChatPay\Util` namespace.
//!
//! ```
//! use wechatpay::util::PemUtil;
//!
//! let key = PemUtil::load_private_key("tests/fixtures/merchant_private_key.pkcs1.pem", None)?;
//! let certificate = PemUtil::load_certificate("tests/fixtures/merchant_certificate.pem")?;
//! assert_eq!(&key.public_key()?, certificate.public_key());
//! # Ok::<(), wechatpay::Error>(())
//! ```

pub(crate) mod json;
mod pem_util;
pub(crate) mod time;

pub use self::pem_util::PemUtil;
pub use self::time::rfc3339_utc;
