//! Utilities ported from the PHP SDK's `WeChatPay\Util` namespace.

mod pem_util;

pub use self::pem_util::PemUtil;
