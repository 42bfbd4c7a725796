//! # wechatpay
//!
//! A client for the WeChat Pay (微信支付) merchant APIs that mirrors the official PHP SDK (`wechatpay/wechatpay`), so
//! that PHP code ports line by line, with an embedded simulator (`wechatpay-mock`) for offline tests.
//!
//! This release carries the foundation: keys and certificates ([`crypto`]), the crypto toolkit ([`crypto::Rsa`],
//! [`crypto::AesGcm`], [`crypto::AesEcb`], [`crypto::Hash`]), the protocol's strings ([`Formatter`]) and
//! [`util::PemUtil`].
//!
//! ```
//! use wechatpay::crypto::Rsa;
//! use wechatpay::Formatter;
//!
//! let key = Rsa::from_private("file://tests/fixtures/merchant_private_key.pem")?;
//! let nonce = Formatter::nonce(32)?;
//! let timestamp = Formatter::timestamp();
//! let message = Formatter::request("GET", "/v3/certificates", timestamp, &nonce, "");
//! let signature = Rsa::sign(&message, &key)?;
//! let authorization = Formatter::authorization("1900000001", &nonce, &signature, timestamp, "5F1C72E2A8931B72A2E13AF8DEE92471EB397115");
//! assert!(authorization.starts_with("WECHATPAY2-SHA256-RSA2048 "));
//! # Ok::<(), wechatpay::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bills;
mod builder;
mod certificates;
mod client;
mod client_xml;
mod config;
pub mod crypto;
mod debug;
mod download;
mod error;
mod formatter;
mod media;
pub mod models;
mod notification;
mod options;
pub mod paths;
mod pay_signature;
mod response;
mod retry;
mod runtime;
mod sensitive;
mod signer;
mod template;
mod transformer;
pub mod util;
mod verifier;
mod xml_notification;

pub use crate::bills::Bill;
pub use crate::builder::Builder;
pub use crate::certificates::{AutoRefresh, RefreshOutcome};
pub use crate::config::{BACKUP_BASE_URI, Config, ConfigBuilder, DEFAULT_BASE_URI, HK_BASE_URI, IntoConfig};
pub use crate::config::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_TIMEOUT};
pub use crate::download::Downloaded;
pub use crate::error::{ApiV2Failure, Error, Result, VerificationFailure};
pub use crate::formatter::{AUTHORIZATION_SCHEME, FormValue, Formatter};
pub use crate::media::MediaUpload;
pub use crate::notification::{
    Notification, NotificationAnswer, NotificationError, NotificationHeaders, NotificationParser, ReplayGuard,
};
pub use crate::options::{Body, IntoOptions, OPTION_KEYS, Options};
pub use crate::paths::Accessor;
pub use crate::pay_signature::{AppPayParams, JsapiPayParams};
pub use crate::response::Response;
pub use crate::retry::Retry;
pub use crate::runtime::ResponseFuture;
pub use crate::sensitive::Encryptor;
pub use crate::signer::{RsaSigner, SignFuture, Signer};
pub use crate::template::UriTemplate;
pub use crate::transformer::Transformer;
pub use crate::verifier::{PlatformKeys, Verifier};
pub use crate::xml_notification::XmlNotification;
pub use reqwest::{Method, StatusCode, header};

/// Entry points for the fuzz targets in `fuzz/` and their corpus test (`tests/fuzz_corpora.rs`): internal steps
/// that the public API reaches only through a network round trip. Not part of the API: they may change in any
/// release.
#[doc(hidden)]
pub mod __fuzz {
    use crate::{Builder, Error, Method, VerificationFailure, Verifier, header::HeaderMap};

    /// Verifies an answer to `method path` (relative to the base URI) as the v3 pipeline does, with `verifier`.
    pub fn verify_answer(
        instance: &Builder,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        verifier: &dyn Verifier,
    ) -> Result<Option<String>, VerificationFailure> {
        instance.core().verify(method, path, headers, body, verifier)
    }

    /// The error a 4xx/5xx answer with `body` becomes.
    pub fn api_error(status: u16, body: &[u8]) -> Error {
        crate::client::api_error(status, Some("REQUEST-ID".into()), bytes::Bytes::copy_from_slice(body))
    }

    /// Checks an APIv2 answer to `path` (without `v2/`) as the XML transport does, with the APIv2 key `secret`.
    pub fn check_apiv2_answer(path: &str, body: &[u8], secret: &str) -> Result<Option<&'static str>, Error> {
        crate::client_xml::check_answer_for_fuzzing(path, body, secret)
    }
}

/// PORTING.md's Rust blocks, run as doc tests against wechatpay-mock.
#[cfg(doctest)]
#[doc = include_str!("../PORTING.md")]
struct PortingGuide;
