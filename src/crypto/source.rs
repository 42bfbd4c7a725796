//! Turning the key inputs people have into DER: PEM text, `file://` paths, DER bytes and PHP's prefixed base64.
//!
//! This is the single place that reads key inputs, so that every loader accepts the same forms and fails with the
//! same clear words. Nothing here ever puts input bytes into an error message.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// PHP's `Rsa::from` prefixes for bare base64 DER.
pub(crate) const PRIVATE_PKCS1: &str = "private.pkcs1://";
pub(crate) const PRIVATE_PKCS8: &str = "private.pkcs8://";
pub(crate) const PUBLIC_PKCS1: &str = "public.pkcs1://";
pub(crate) const PUBLIC_SPKI: &str = "public.spki://";
const FILE: &str = "file://";

/// What a piece of DER claims to be, from its PEM label or its prefix. `Unknown` is raw DER to be sniffed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Pkcs8Private,
    Pkcs1Private,
    EncryptedPkcs8,
    Spki,
    Pkcs1Public,
    Certificate,
    Unknown,
}

/// DER bytes with what they claim to be. Zeroized on drop, because they may be a private key.
pub(crate) struct Material {
    pub(crate) form: Form,
    pub(crate) der: Zeroizing<Vec<u8>>,
}

/// Reads `thing` as DER, PEM text, a `file://` path or a prefixed base64 string.
pub(crate) fn read(thing: &[u8], expected: &'static str) -> Result<Material> {
    if thing.first() == Some(&0x30) {
        return Ok(Material { form: Form::Unknown, der: Zeroizing::new(thing.to_vec()) });
    }
    let text = std::str::from_utf8(thing)
        .map_err(|_| Error::key(expected, "binary data that is neither DER nor UTF-8 text", FORMS_HINT))?;
    let text = text.trim();
    if let Some(path) = text.strip_prefix(FILE) {
        return read_file(path, expected);
    }
    for (prefix, form) in [
        (PRIVATE_PKCS1, Form::Pkcs1Private),
        (PRIVATE_PKCS8, Form::Pkcs8Private),
        (PUBLIC_PKCS1, Form::Pkcs1Public),
        (PUBLIC_SPKI, Form::Spki),
    ] {
        if let Some(body) = text.strip_prefix(prefix) {
            let der = decode_base64(body)
                .ok_or_else(|| Error::key(expected, format!("a {prefix} string whose body is not base64"), ""))?;
            return Ok(Material { form, der });
        }
    }
    if text.contains("-----BEGIN ") {
        return read_pem(text, expected);
    }
    Err(Error::key(expected, describe_text(text), FORMS_HINT))
}

const FORMS_HINT: &str = "give PEM text, DER bytes, a file:// path, or base64 prefixed with private.pkcs1://, \
                          private.pkcs8://, public.pkcs1:// or public.spki://";

/// The largest key or certificate file read: keys and certificates are a few KiB.
const MAX_KEY_FILE: u64 = 1024 * 1024;

/// Reads at most `limit` bytes of the file at `path`: a path to something endless (`/dev/zero`, a FIFO) or huge
/// is an error, not a process that fills its memory.
pub(crate) fn read_bounded(path: &str, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is larger than {limit} bytes, so it is not one"),
        ));
    }
    Ok(bytes)
}

fn read_file(path: &str, expected: &'static str) -> Result<Material> {
    let bytes = Zeroizing::new(read_bounded(path, MAX_KEY_FILE).map_err(|err| {
        Error::key(
            expected,
            format!("a file:// path that cannot be read ({path}: {err})"),
            "check the path and its permissions",
        )
    })?);
    if bytes.first() == Some(&0x30) {
        return Ok(Material { form: Form::Unknown, der: Zeroizing::new(bytes.to_vec()) });
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::key(expected, format!("a file ({path}) that is neither DER nor UTF-8 text"), "give a PEM or DER file")
    })?;
    if !text.contains("-----BEGIN ") {
        return Err(Error::key(expected, format!("a file ({path}) with no PEM block"), "give a PEM or DER file"));
    }
    read_pem(text, expected)
}

/// Finds the first PEM block we understand. Deliberately lenient about framing, as OpenSSL is: text before the block
/// (PKCS#12 "Bag Attributes"), CRLF line ends and any line length, since those are the files merchants really have.
fn read_pem(text: &str, expected: &'static str) -> Result<Material> {
    let mut rest = text;
    let mut labels = Vec::new();
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        // The label ends on its own line; a label that runs on (a BEGIN line without its dashes) would otherwise
        // swallow the base64 body and show it in an error.
        let line = after.split(['\r', '\n']).next().unwrap_or_default();
        let label = line.strip_suffix("-----").unwrap_or_default();
        if label.is_empty()
            || label.len() > 40
            || !label.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
        {
            return Err(Error::key(expected, "a PEM block with a broken -----BEGIN ...----- line", ""));
        }
        let body_and_more = &after[label.len() + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(body_end) = body_and_more.find(&end_marker) else {
            return Err(Error::key(expected, format!("a PEM block labelled {label} with no END line"), ""));
        };
        let body = &body_and_more[..body_end];
        rest = &body_and_more[body_end + end_marker.len()..];
        let form = match label {
            "PRIVATE KEY" => Form::Pkcs8Private,
            "RSA PRIVATE KEY" => Form::Pkcs1Private,
            "ENCRYPTED PRIVATE KEY" => Form::EncryptedPkcs8,
            "PUBLIC KEY" => Form::Spki,
            "RSA PUBLIC KEY" => Form::Pkcs1Public,
            "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => Form::Certificate,
            other => {
                labels.push(other.to_owned());
                continue;
            }
        };
        if body.contains("Proc-Type:") {
            return Err(Error::key(
                expected,
                format!("a legacy encrypted PEM block labelled {label}"),
                "convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc` and give its passphrase",
            ));
        }
        let der = decode_base64(body).ok_or_else(|| {
            Error::key(expected, format!("a PEM block labelled {label} whose body is not base64"), "")
        })?;
        return Ok(Material { form, der });
    }
    let found = match labels.as_slice() {
        [] => "text with a broken PEM header".to_owned(),
        labels => format!("PEM labelled {}", labels.join(", ")),
    };
    Err(Error::key(expected, found, "WeChat Pay uses RSA keys and X.509 certificates"))
}

/// Base64 with any whitespace (line breaks, CRLF, indentation) removed first.
fn decode_base64(body: &str) -> Option<Zeroizing<Vec<u8>>> {
    let compact = Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect::<String>());
    if compact.is_empty() {
        return None;
    }
    STANDARD.decode(compact.as_bytes()).ok().map(Zeroizing::new)
}

/// A description of unrecognised text that never quotes it: its length and a guess at what it is.
fn describe_text(text: &str) -> Description {
    Description {
        len: text.len(),
        looks_like_path: text.starts_with('/') || text.starts_with("./") || text.ends_with(".pem"),
    }
}

struct Description {
    len: usize,
    looks_like_path: bool,
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.looks_like_path {
            write!(f, "what looks like a file path without the file:// prefix")
        } else {
            write!(f, "{} characters of text that are not PEM, a file:// path or a prefixed base64 key", self.len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_with_preamble_and_crlf_is_read() {
        let pem = "Bag Attributes\r\n    localKeyID: 01\r\n-----BEGIN PUBLIC KEY-----\r\nMAA=\r\n-----END PUBLIC KEY-----\r\n";
        let material = read(pem.as_bytes(), "a key").unwrap();
        assert_eq!(material.form, Form::Spki);
        assert_eq!(material.der.as_slice(), &[0x30, 0x00]);
    }

    #[test]
    fn unknown_label_is_named_but_body_never_quoted() {
        let err = read(b"-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0\n-----END EC PRIVATE KEY-----", "an RSA private key")
            .err()
            .unwrap();
        let message = err.to_string();
        assert!(message.contains("EC PRIVATE KEY"), "{message}");
        assert!(!message.contains("c2VjcmV0"), "{message}");
    }

    #[test]
    fn path_without_prefix_gets_a_hint() {
        let err = read(b"/etc/wechatpay/apiclient_key.pem", "a key").err().unwrap();
        assert!(err.to_string().contains("file://"), "{err}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read(b"file:///definitely/not/here.pem", "a key").err().unwrap();
        assert!(err.to_string().contains("/definitely/not/here.pem"), "{err}");
    }

    #[test]
    fn legacy_encrypted_pem_is_refused_with_advice() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMAA=\n-----END RSA PRIVATE KEY-----";
        let err = read(pem.as_bytes(), "a key").err().unwrap();
        assert!(err.to_string().contains("pkcs8"), "{err}");
    }
}
