//! The one error type of the crate.
//!
//! Every failure is a variant of [`Error`] whose message says what went wrong and what to do about it. No variant ever
//! carries key material: a key that fails to load is described by its kind and shape, never by its content.

use std::fmt;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// ```
/// use wechatpay::crypto::Rsa;
///
/// let err = Rsa::from_private("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----").unwrap_err();
/// assert!(matches!(err, wechatpay::Error::Key { .. }));
/// assert!(err.to_string().contains("CERTIFICATE"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key or certificate could not be loaded: `expected` names what was asked for, `found` describes (never quotes)
    /// what was given, `hint` says what to do.
    #[error("cannot load {expected}: found {found}{}", hint_suffix(.hint))]
    Key {
        /// What kind of input was expected, e.g. "an RSA private key".
        expected: &'static str,
        /// What was found instead, e.g. "a PEM block labelled CERTIFICATE".
        found: String,
        /// What the caller can do about it (may be empty).
        hint: &'static str,
    },

    /// A cryptographic operation failed: a bad signature encoding, a ciphertext that does not decrypt, a GCM tag that
    /// does not authenticate.
    #[error("{operation} failed: {reason}")]
    Crypto {
        /// The operation, e.g. "AEAD_AES_256_GCM decrypt".
        operation: &'static str,
        /// Why it failed, in words (never the data itself).
        reason: String,
    },

    /// An argument was outside what the function accepts (e.g. a nonce length of 0 or an AES key of the wrong size).
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// What was wrong and what is accepted.
        reason: String,
    },
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() { String::new() } else { format!(". {hint}") }
}

impl Error {
    pub(crate) fn key(expected: &'static str, found: impl fmt::Display, hint: &'static str) -> Self {
        Error::Key { expected, found: found.to_string(), hint }
    }

    pub(crate) fn crypto(operation: &'static str, reason: impl fmt::Display) -> Self {
        Error::Crypto { operation, reason: reason.to_string() }
    }

    pub(crate) fn invalid(name: &'static str, reason: impl fmt::Display) -> Self {
        Error::InvalidArgument { name, reason: reason.to_string() }
    }
}
