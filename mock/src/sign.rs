//! Signing answers and callbacks as WeChat Pay does (`TIMESTAMP\nNONCE\nBODY\n`, RSA PKCS#1 v1.5 SHA-256),
//! with the header-level faults applied.

use base64::Engine as _;

use crate::error::MockError;
use crate::faults::{Fault, SignatureHeader};
use crate::keys::WechatKey;
use crate::util::{B64, fill_random, hex_upper, now_secs, random_alnum};

/// The value of `Wechatpay-Signature-Type`.
pub(crate) const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";

/// The prefix of WeChat Pay's deliberate probe signatures.
pub(crate) const SIGNTEST_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// How far in the past [`Fault::StaleTimestamp`] puts the timestamp.
const STALE_BY_SECS: i64 = 600;

/// The `Wechatpay-*` headers for `body`, signed with `key`, with `fault` applied when it is a header fault.
pub(crate) fn signature_headers(
    key: &WechatKey,
    body: &[u8],
    fault: Option<&Fault>,
) -> Result<Vec<(&'static str, String)>, MockError> {
    let mut timestamp = now_secs();
    if fault == Some(&Fault::StaleTimestamp) {
        timestamp -= STALE_BY_SECS;
    }
    let timestamp = timestamp.to_string();
    let nonce = random_alnum(32);
    let mut message = Vec::with_capacity(body.len() + 48);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    let mut signature = key.sign_base64(&message)?;
    let mut serial = key.serial.clone();
    match fault {
        Some(Fault::TamperedSignature) => {
            let mut raw = B64.decode(signature.as_bytes()).unwrap_or_default();
            let mid = raw.len() / 2;
            if let Some(b) = raw.get_mut(mid) {
                *b ^= 0x01;
            }
            signature = B64.encode(&raw);
        }
        Some(Fault::SignTestProbe) => {
            let mut raw = [0u8; 256];
            fill_random(&mut raw);
            signature = format!("{SIGNTEST_PREFIX}{}", B64.encode(raw));
        }
        Some(Fault::UnknownSerial) => {
            let mut raw = [0u8; 20];
            fill_random(&mut raw);
            raw[0] = 0x10 | (raw[0] & 0x6F);
            serial = hex_upper(&raw);
        }
        _ => {}
    }
    let mut headers = vec![
        (SignatureHeader::Timestamp.name(), timestamp),
        (SignatureHeader::Nonce.name(), nonce),
        (SignatureHeader::Signature.name(), signature),
        (SignatureHeader::Serial.name(), serial),
        ("Wechatpay-Signature-Type", SIGNATURE_TYPE.to_owned()),
    ];
    match fault {
        Some(Fault::MissingHeader(which)) => headers.retain(|(name, _)| *name != which.name()),
        Some(Fault::MissingSignatureHeaders) => headers.retain(|(name, _)| !name.starts_with("Wechatpay-")),
        _ => {}
    }
    Ok(headers)
}
