//! `wechatpay notify decrypt`: a callback from a server log, verified and decrypted by the library's
//! [`NotificationParser`], or refused with the reason named.

use std::time::Duration;

use serde_json::{Value, json};
use wechatpay::{NotificationError, NotificationParser, VerificationFailure};

use crate::args::NotifyDecryptArgs;
use crate::credentials::{self, APIV3_KEY};
use crate::failure::{Failure, Result};
use crate::io::{self, Stdin, Style};

pub fn run(args: &NotifyDecryptArgs) -> Result {
    let stdin = Stdin::default();
    let headers = io::header_lines(&stdin.file(&args.headers, "--headers")?, "--headers")?;
    let body = stdin.file(&args.body, "--body")?;
    let keys = credentials::platform_keys(&args.platform)?;
    if keys.is_empty() {
        return Err(Failure::usage(
            "no WeChat Pay key to verify the callback with: pass --public-key FILE with --public-key-id \
             PUB_KEY_ID_... (WECHATPAY_PUBLIC_KEY, WECHATPAY_PUBLIC_KEY_ID), or --certificate FILE \
             (WECHATPAY_CERTIFICATE)",
        ));
    }
    let key = credentials::required(&args.apiv3.apiv3_key, APIV3_KEY, "the APIv3 key (it decrypts the resource)")?;
    let parser = NotificationParser::new(keys, credentials::secret(key, APIV3_KEY)?.as_bytes())
        .map_err(|err| Failure::from(err).context(APIV3_KEY))?
        .max_clock_skew(Duration::from_secs(args.max_clock_skew));

    let notification = parser.parse::<Value, _>(&headers, &body).map_err(|err| refused(&err, &body))?;
    eprintln!(
        "verified with {}: {} {} (id {}, created {})",
        notification.serial, notification.event_type, notification.summary, notification.id, notification.create_time
    );
    let style = Style::choose(args.pretty, false);
    if args.envelope {
        let envelope = json!({
            "id": notification.id,
            "create_time": notification.create_time,
            "event_type": notification.event_type,
            "resource_type": notification.resource_type,
            "summary": notification.summary,
            "original_type": notification.original_type,
            "resource": notification.resource,
            "serial": notification.serial,
            "timestamp": notification.timestamp,
            "nonce": notification.nonce,
        });
        return io::print_json(&envelope, style);
    }
    io::print_json(&notification.resource, style)
}

/// The refusal, with its reason first (`tampered`, `stale`, `unknown serial`, `probe`, ...) and what to do.
fn refused(err: &NotificationError, body: &[u8]) -> Failure {
    let (reason, hint) = match err {
        NotificationError::Verification(failure) => match failure {
            VerificationFailure::BadSignature | VerificationFailure::MalformedSignature => (
                "tampered",
                if body.ends_with(b"\n") {
                    "the body file ends with a line break: the signature covers the exact bytes WeChat Pay sent, so \
                     remove it if a log or an editor added it"
                } else {
                    "the signature covers the exact body bytes: check the body file was saved as received"
                },
            ),
            VerificationFailure::ClockSkew { .. } | VerificationFailure::InvalidTimestamp => {
                ("stale", "to check an old callback from a log anyway, pass --max-clock-skew SECONDS")
            }
            VerificationFailure::UnknownSerial(_) => (
                "unknown serial",
                "pass the key it names: --public-key with --public-key-id, or --certificate (from `wechatpay \
                 certificates download`)",
            ),
            VerificationFailure::ExpiredCertificate { .. } => {
                ("expired certificate", "download the current ones: `wechatpay certificates download`")
            }
            VerificationFailure::Probe => ("probe", "WeChat Pay sends these on purpose: refusing it is right"),
            VerificationFailure::MissingHeader(_) | VerificationFailure::InvalidHeader(_) => (
                "missing header",
                "the headers file needs Wechatpay-Timestamp, Wechatpay-Nonce, Wechatpay-Signature and Wechatpay-Serial",
            ),
            _ => ("not verified", ""),
        },
        NotificationError::Decryption => ("wrong APIv3 key", ""),
        NotificationError::Malformed(_) | NotificationError::UnsupportedAlgorithm(_) => ("malformed", ""),
        _ => ("refused", ""),
    };
    let failure = Failure::failed(format!("the notification was refused ({reason}): {err}"));
    if hint.is_empty() { failure } else { failure.hint(hint) }
}
