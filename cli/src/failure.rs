//! How the tool fails: a message that says what to do, and an exit status that says whose move it is.
//!
//! - 1: the operation ran and failed: WeChat Pay answered an error (4xx/5xx, an APIv2 `FAIL`), an answer, a
//!   callback or a signature failed verification, a download failed its check, the network failed, two
//!   recordings compared by `port-diff` differ.
//! - 2: usage or configuration: a missing or unreadable credential, a bad flag or argument; nothing was sent.
//!
//! No message ever holds a key: the library's errors never quote key material, and this tool only ever names
//! the flag or variable a secret came from.

use std::fmt;
use std::process::ExitCode;

use wechatpay::Error;

/// Exit status 1: the operation failed.
pub const FAILED: u8 = 1;
/// Exit status 2: usage or configuration error.
pub const USAGE: u8 = 2;

/// A failure to report on stderr, with its exit status.
#[derive(Debug)]
pub struct Failure {
    pub status: u8,
    pub message: String,
}

pub type Result<T = (), E = Failure> = std::result::Result<T, E>;

impl Failure {
    /// A usage or configuration error (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure { status: USAGE, message: message.into() }
    }

    /// The operation failed (exit status 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Failure { status: FAILED, message: message.into() }
    }

    /// The same failure with `context` in front of its message.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The same failure with `hint` after its message.
    pub fn hint(mut self, hint: impl fmt::Display) -> Self {
        self.message = format!("{}; {hint}", self.message);
        self
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.status)
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        let status = match &err {
            Error::Config { .. }
            | Error::Key { .. }
            | Error::Options { .. }
            | Error::Template { .. }
            | Error::InvalidArgument { .. }
            | Error::Unsupported { .. } => USAGE,
            _ => FAILED,
        };
        let message = match &err {
            Error::Config { field, .. } => match config_flag(field) {
                Some(flag) => format!("{err} (set it with {flag})"),
                None => err.to_string(),
            },
            _ => err.to_string(),
        };
        Failure { status, message }
    }
}

/// The flag and variable that set a configuration key the library names (`privateKey`, `certs`, ...).
fn config_flag(field: &str) -> Option<&'static str> {
    Some(match field.split('.').next().unwrap_or(field) {
        "mchid" => "-m/--mchid or WECHATPAY_MCHID",
        "serial" => "-s/--serial or WECHATPAY_SERIAL",
        "privateKey" => "-f/--private-key or WECHATPAY_PRIVATE_KEY",
        "certs" => {
            "--public-key with --public-key-id (WECHATPAY_PUBLIC_KEY, WECHATPAY_PUBLIC_KEY_ID), --certificate \
             (WECHATPAY_CERTIFICATE), or the APIv3 key (-k/--apiv3-key, WECHATPAY_APIV3_KEY) to download the \
             platform certificates"
        }
        "apiv3Key" | "autoRefresh" => "-k/--apiv3-key or WECHATPAY_APIV3_KEY",
        "secret" => "--apiv2-key or WECHATPAY_APIV2_KEY",
        "merchant" => "--merchant-certificate or WECHATPAY_MERCHANT_CERTIFICATE, with the private key",
        "base_uri" => "-u/--base-uri or WECHATPAY_BASE_URI",
        "root_certificate" | "verify" => "--ca or WECHATPAY_CA",
        _ => return None,
    })
}
