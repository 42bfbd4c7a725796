//! The simulator's error type.

use std::fmt;

/// Everything that can go wrong while starting, controlling or talking to the simulator.
///
/// Messages never contain key material: at most a path, a serial number or a bill number.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// Reading or writing a file, binding a socket or starting a thread failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A key or certificate could not be generated, parsed or used.
    #[error("crypto: {0}")]
    Crypto(String),
    /// A state directory exists but its manifest or PEM files do not fit together.
    #[error("state directory: {0}")]
    StateDir(String),
    /// A state-control call named a bill, order or refund the simulator does not have.
    #[error("not found: {0}")]
    NotFound(String),
    /// A state-control call asked for something the object's state does not allow.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// Delivering a callback failed (bad URL, connection refused, timeout, bad answer).
    #[error("callback delivery: {0}")]
    Delivery(String),
    /// The server's runtime has stopped.
    #[error("the simulator has stopped")]
    Stopped,
}

impl MockError {
    pub(crate) fn io(context: impl fmt::Display, source: std::io::Error) -> Self {
        MockError::Io { context: context.to_string(), source }
    }

    pub(crate) fn crypto(what: impl fmt::Display) -> Self {
        MockError::Crypto(what.to_string())
    }
}
