//! # wechatpay
//!
//! A client for the WeChat Pay (微信支付) merchant APIs that mirrors the official PHP SDK (`wechatpay/wechatpay`),
//! so that PHP code ports line by line, with a WeChat Pay simulator (`wechatpay-mock`) for offline tests.
//!
//! ```
//! use serde_json::{json, Value};
//! use wechatpay::Builder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The simulator, and a client configured for it (the PHP SDK's config array, as JSON).
//! let server = wechatpay_mock::Server::start_blocking()?;
//! let instance = Builder::factory(server.php_config())?;
//!
//! let bills = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills();
//! bills.post(json!({"json": {
//!     "appid": "102022609", "out_bill_no": "plfk2020042013", "transfer_scene_id": "1401",
//!     "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "注册会员有礼"}],
//!     "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 400, "transfer_remark": "2020年4月报销",
//! }}))?;
//! let cancelled = bills._out_bill_no_().cancel().post(json!({"out_bill_no": "plfk2020042013"}))?;
//! assert_eq!(cancelled.json::<Value>()?["state"], "CANCELING");
//! # Ok(()) }
//! ```
//!
//! ## The pieces
//!
//! - [`Builder`] is the chain: `instance.v3().fund_app()...` (typed accessors generated from WeChat Pay's endpoint
//!   catalog, see [`paths`]), `instance.chain("v3/...")` and `instance["v3/..."]`, normalised as PHP normalises them.
//!   [`Builder::factory`] takes the PHP SDK's config array as a `serde_json::Value`, or a typed [`Config`] from
//!   [`Config::builder`].
//! - The verbs [`get`](Builder::get), [`put`](Builder::put), [`post`](Builder::post), [`patch`](Builder::patch) and
//!   [`delete`](Builder::delete) block the calling thread (no runtime needed, and they work inside one too); their
//!   `_async` twins return a lazy [`ResponseFuture`] that any executor can poll, or [`wait`](ResponseFuture::wait)
//!   for. They take the PHP options array as JSON or a typed [`Options`], sign the request, send it, and verify the
//!   answer into a [`Response`]; every failure is an [`Error`] that says what to do.
//! - APIv2 (XML) goes through the same chain under `v2/`: the `xml` option, MD5 or HMAC-SHA256 signatures, mutual TLS
//!   (`security`), [`Transformer`] and [`XmlNotification`].
//! - Beside the requests: [`NotificationParser`] for callbacks, [`MediaUpload`] (PHP's `MediaUtil`), [`Bill`] for bill
//!   downloads, [`Encryptor`] and [`Options::encrypt_fields`] for sensitive fields, [`JsapiPayParams`] and
//!   [`AppPayParams`] for pay signatures, [`Retry`], platform certificate refresh
//!   ([`Builder::refresh_certificates`], [`AutoRefresh`]), replaceable [`Signer`] and [`Verifier`], typed
//!   [`models`].
//! - The PHP SDK's toolkit, name for name: [`crypto::Rsa`], [`crypto::AesGcm`], [`crypto::AesEcb`],
//!   [`crypto::Hash`], [`Formatter`], [`util::PemUtil`].
//!
//! The repository's README covers installation, production defaults and the simulator; PORTING.md puts every
//! example of the PHP SDK's README beside its Rust equivalent. Both are compiled and run as doc tests.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
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

/// README.md's Rust blocks, run as doc tests against wechatpay-mock.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

/// The README and PORTING.md are read on GitHub, where rustdoc's hidden lines (`# ...`) show as they are: their
/// Rust blocks must be complete programs, and none may be skipped.
#[cfg(test)]
mod documents {
    fn check(name: &str, text: &str) {
        let mut fence: Option<&str> = None;
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            match fence {
                None if trimmed.starts_with("```") => {
                    let info = trimmed.trim_start_matches('`');
                    assert!(!info.contains("ignore"), "{name}:{}: a block that is never compiled", number + 1);
                    fence = Some(info);
                }
                Some(_) if trimmed.starts_with("```") => fence = None,
                Some(info) if info.starts_with("rust") => {
                    let hidden = trimmed == "#" || (trimmed.starts_with("# ") && !trimmed.starts_with("# ["));
                    assert!(!hidden, "{name}:{}: a rustdoc hidden line shows on GitHub: {line}", number + 1);
                }
                _ => {}
            }
        }
        assert!(fence.is_none(), "{name}: a code block is not closed");
    }

    #[test]
    fn rust_blocks_show_everything_they_run() {
        check("README.md", include_str!("../README.md"));
        check("PORTING.md", include_str!("../PORTING.md"));
    }

    #[test]
    fn the_check_finds_hidden_lines_and_skipped_blocks() {
        for bad in ["```rust\n# fn main() {}\n```\n", "```rust,ignore\nlet a = 1;\n```\n", "```rust\nlet a = 1;\n"] {
            assert!(std::panic::catch_unwind(|| check("bad", bad)).is_err(), "{bad}");
        }
        check("good", "```rust\n#[derive(Debug)]\nstruct A;\n```\n```sh\n# a comment\n```\n");
    }
}
