//! `wechatpay sign` and `wechatpay verify`: the library's RSA-SHA256 signatures and message formats, for
//! debugging a `SIGN_ERROR` or an answer that does not verify.

use wechatpay::crypto::{Rsa, SIGNTEST_PREFIX};
use wechatpay::{Formatter, PlatformKeys, VerificationFailure, Verifier as _};

use crate::args::{SignArgs, VerifyArgs};
use crate::credentials::{self, MCHID, SERIAL};
use crate::failure::{Failure, Result};
use crate::io::{self, Stdin};

pub fn sign(args: &SignArgs) -> Result {
    let stdin = Stdin::default();
    let key = credentials::private_key(&args.merchant.key.private_key)?;
    let (message, request) = match (&args.message, &args.method, &args.uri) {
        (Some(message), _, _) => (stdin.text_or_file(message, "MESSAGE")?, None),
        (None, Some(method), Some(uri)) => {
            let timestamp = args.timestamp.unwrap_or_else(Formatter::timestamp);
            let nonce = match &args.nonce {
                Some(nonce) => nonce.clone(),
                None => Formatter::nonce32()?,
            };
            let body = match &args.body {
                Some(body) => stdin.text_or_file(body, "--body")?,
                None => Vec::new(),
            };
            let method = method.to_ascii_uppercase();
            (Formatter::request_bytes(&method, uri, timestamp, &nonce, &body), Some((timestamp, nonce)))
        }
        _ => return Err(Failure::usage("give MESSAGE, or --method and --uri to build a request's message")),
    };
    if args.show_message {
        eprintln!("signing: {}", io::visible(&message));
    }
    let signature = Rsa::sign(&message, &key)?;
    match request {
        Some((timestamp, nonce)) if args.authorization => {
            let mchid = credentials::required(&args.merchant.mchid, MCHID, "the merchant id")?;
            let serial = credentials::required(&args.merchant.serial, SERIAL, "the merchant certificate serial")?;
            let header = Formatter::authorization(mchid, &nonce, &signature, timestamp, &serial.to_ascii_uppercase());
            io::out(format!("{header}\n").as_bytes())
        }
        _ => io::out(format!("{signature}\n").as_bytes()),
    }
}

pub fn verify(args: &VerifyArgs) -> Result {
    let stdin = Stdin::default();
    if let (Some(headers), Some(body)) = (&args.headers, &args.body) {
        let headers = io::header_lines(&stdin.file(headers, "--headers")?, "--headers")?;
        let body = stdin.file(body, "--body")?;
        return verify_answer(args, &headers, &body);
    }
    let message = match &args.message {
        Some(message) => stdin.text_or_file(message, "MESSAGE")?,
        None => return Err(Failure::usage("give MESSAGE with --signature, or --headers and --body")),
    };
    let signature = args.signature.as_deref().ok_or_else(|| Failure::usage("--signature is missing"))?;
    if args.show_message {
        eprintln!("verifying: {}", io::visible(&message));
    }
    if args.merchant {
        let key = credentials::private_key(&args.private_key.private_key)?.public_key()?;
        return match Rsa::verify(&message, signature, &key)? {
            true => io::out(b"verified: the signature is by the merchant key\n"),
            false => Err(Failure::failed(
                "the signature is not by the merchant key over this message: compare the message byte for byte \
                 (--show-message), or the key with the certificate whose serial the request named",
            )),
        };
    }
    let keys = keys(args)?;
    let serial = match (&args.wechatpay_serial, keys.serials().as_slice()) {
        (Some(serial), _) => serial.clone(),
        (None, [only]) => only.clone(),
        (None, serials) => {
            return Err(Failure::usage(format!(
                "--wechatpay-serial is missing: which key signed it? Given: {}",
                serials.join(", ")
            )));
        }
    };
    check(keys.verify(&serial, &message, signature), &serial)
}

/// An answer's or callback's signature headers, verified over `TIMESTAMP\nNONCE\nBODY\n`.
fn verify_answer(args: &VerifyArgs, headers: &[(String, String)], body: &[u8]) -> Result {
    let header = |name: &'static str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
            .ok_or_else(|| Failure::failed(VerificationFailure::MissingHeader(name).to_string()))
    };
    let (timestamp, nonce) = (header("Wechatpay-Timestamp")?, header("Wechatpay-Nonce")?);
    let (signature, serial) = (header("Wechatpay-Signature")?, header("Wechatpay-Serial")?);
    if signature.starts_with(SIGNTEST_PREFIX) {
        return Err(Failure::failed(VerificationFailure::Probe.to_string()));
    }
    let message = Formatter::response_bytes(timestamp, nonce, body);
    if args.show_message {
        eprintln!("verifying: {}", io::visible(&message));
    }
    if let Ok(timestamp) = timestamp.parse::<i64>() {
        let age = Formatter::timestamp().abs_diff(timestamp);
        if age > 300 {
            eprintln!(
                "note: Wechatpay-Timestamp is {age} s away from this machine's clock: the SDK refuses answers and \
                 callbacks more than 300 s away"
            );
        }
    }
    let keys = keys(args)?;
    check(keys.verify(serial, &message, signature), serial)
}

fn keys(args: &VerifyArgs) -> Result<PlatformKeys> {
    let keys = credentials::platform_keys(&args.platform)?;
    if keys.is_empty() {
        return Err(Failure::usage(
            "no key to verify with: pass --public-key FILE with --public-key-id PUB_KEY_ID_... or --certificate \
             FILE (WECHATPAY_PUBLIC_KEY, WECHATPAY_PUBLIC_KEY_ID, WECHATPAY_CERTIFICATE), or --merchant",
        ));
    }
    Ok(keys)
}

fn check(outcome: std::result::Result<(), VerificationFailure>, serial: &str) -> Result {
    match outcome {
        Ok(()) => io::out(format!("verified: the signature is by {serial}\n").as_bytes()),
        Err(failure @ VerificationFailure::BadSignature) => Err(Failure::failed(failure.to_string())
            .hint("compare the message byte for byte (--show-message): a body re-serialised or with a line break added no longer verifies")),
        Err(failure) => Err(Failure::failed(failure.to_string())),
    }
}
