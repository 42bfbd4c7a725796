//! Typed request and answer models: the QQ-wallet transfer family as the pattern for your own.
//!
//! The chain sends any `Serialize` body ([`Options::json`](crate::Options::json)) and reads any answer into a
//! `Deserialize` type ([`Response::json`](crate::Response::json)), so a typed model is plain `serde`: one struct per
//! request body and per answer, named after the endpoint's purpose. The models here follow the rules that keep
//! such types correct against a live API that grows:
//!
//! - **Money is an integer in fen** (分, 1/100 yuan): `u64`, never a float, exactly as WeChat Pay sends it.
//! - **Optional fields are `Option`** and are left out when `None` (`skip_serializing_if`), so a request never
//!   sends `null` where WeChat Pay expects nothing.
//! - **States are enums that keep what they do not know**: a state WeChat Pay adds later is `Other(String)`, not
//!   a decode error that would stop your reconciliation job (see [`qq_wallet::TransferState`]).
//! - **Answers ignore unknown fields** (serde's default) and are `#[non_exhaustive]`, so new fields in WeChat
//!   Pay's answers, and in later versions of these types, break nothing.
//! - **Times stay text** (RFC 3339 with an offset, e.g. `2015-05-20T13:29:35.120+08:00`): parse them with the date
//!   crate your application already uses.
//!
//! Write your own the same way for any endpoint: the field names and which are required come from WeChat Pay's
//! documentation of that endpoint (or its OpenAPI description).

pub mod qq_wallet;
