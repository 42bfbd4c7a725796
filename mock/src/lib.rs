//! An embedded WeChat Pay (微信支付) simulator for offline tests, in-process or as the `wechatpay-mock` binary.
//!
//! It checks every APIv3 request the way WeChat Pay does (the `Authorization` header, the merchant
//! certificate serial, the timestamp window, nonce replay, the RSA signature over the bytes received),
//! answers signed like WeChat Pay (platform certificate or WeChat Pay public key), keeps real in-memory
//! state for the common flows (payments, refunds, transfers, bills, uploads, certificates), posts signed
//! and encrypted callbacks, and injects faults on demand. Every other endpoint of the public catalog is
//! checked against its schema ([`catalog`]) and answered with a schema-valid example; APIv2 XML endpoints
//! check the MD5 / HMAC-SHA256 `sign`, answer signed XML and keep state for code payments, refunds (with their
//! `req_info` callbacks), red packets and bills ([`apiv2`] writes such messages for tests). Besides the plain HTTP
//! listener, a TLS-only listener ([`Server::tls_base_uri`]) serves the same endpoints to clients that present a
//! merchant certificate issued by the simulator's merchant CA, and refuses every other client at the handshake.
//!
//! With [`ServerBuilder::auto_pay`], [`ServerBuilder::auto_advance`] and [`ServerBuilder::auto_notify`] it pays
//! orders, moves transfers and refunds on and posts their callbacks by its own timers, as WeChat Pay does, with no
//! further request; a [`Clock::manual`] and [`Server::advance_time`] make that deterministic in tests. Unknown ids
//! and wrong states get WeChat Pay's error codes and messages.
//!
//! As a process (`wechatpay-mock`, `cargo install wechatpay-mock`) it serves clients in any language: the crate's
//! README shows how to start it, read its ready line and point the PHP, Node, Python, Go and Java SDKs at it.
//!
//! With [`ServerBuilder::record`] (the binary's `--record FILE`) it writes every request it receives as one line of
//! JSON ([`record`] describes the format), so that `wechatpay port-diff` can tell whether two clients, say a PHP
//! application and its Rust port, sent the same calls.
//!
//! It shares no code with the `wechatpay` client crate on purpose: it is the independent check on it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wechatpay_mock::MockError> {
//! use wechatpay_mock::{Fault, Identities, Server, TransferState};
//!
//! let server = Server::builder().identities(Identities::shared()?).start().await?;
//! let base = server.base_uri();                 // "http://127.0.0.1:PORT/"
//! let ids = server.identities();                // mchid, merchant key + serial, platform cert, public key, APIv3 key
//! server.faults().next(Fault::Status(503));     // the next request gets a signed 503
//! // ... drive your client against `base` ...
//! # let _ = (base, ids);
//! server.set_transfer_state("plfk2020042013", TransferState::Success).ok();
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apiv2;
mod auth;
pub mod catalog;
mod engine;
mod error;
mod faults;
mod identities;
mod keys;
mod multipart;
mod notify;
pub mod record;
mod reply;
mod routes;
mod server;
mod sign;
mod state;
mod tls;
mod util;
mod v2;
mod v2_endpoints;

pub use engine::{RawRequest, RawResponse, ResponseSigner};
pub use error::MockError;
pub use faults::{Fault, FaultHandle, SignatureHeader};
pub use identities::{Identities, Merchant, MerchantCa, Platform, StatePaths, WechatpayPublicKey};
pub use notify::{Delivered, DeliveryRecord, Notification};
pub use server::{Server, ServerBuilder};
pub use state::Clock;
pub use state::orders::TradeState;
pub use state::refunds::RefundStatus;
pub use state::transfers::TransferState;
