//! Test helpers: an APIv3 signer and answer verifier written here, independent of the simulator's code.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{
    KeyPair, OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use der::{DecodePem, Encode};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wechatpay_mock::{Identities, Server};

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

pub fn nonce() -> String {
    let mut raw = [0u8; 32];
    SystemRandom::new().fill(&mut raw).expect("rng");
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    raw.iter().map(|b| A[*b as usize % A.len()] as char).collect()
}

pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    B64.decode(body.trim()).expect("PEM base64")
}

/// (serial upper hex, SPKI DER) of an X.509 PEM certificate.
pub fn cert_info(pem: &str) -> (String, Vec<u8>) {
    let cert = x509_cert::Certificate::from_pem(pem.as_bytes()).expect("certificate parses");
    let serial: String = cert.tbs_certificate().serial_number().as_bytes().iter().map(|b| format!("{b:02X}")).collect();
    let spki = cert.tbs_certificate().subject_public_key_info().to_der().expect("SPKI");
    (serial, spki)
}

pub fn sign(pkcs8_pem: &str, message: &[u8]) -> String {
    let key = KeyPair::from_pkcs8(&pem_der(pkcs8_pem)).expect("merchant key");
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig).expect("sign");
    B64.encode(sig)
}

pub fn oaep_encrypt(spki_der: &[u8], plaintext: &str) -> String {
    let key = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(spki_der).expect("spki")).expect("oaep");
    let mut out = vec![0u8; key.ciphertext_size()];
    let ct = key.encrypt(&OAEP_SHA1_MGF1SHA1, plaintext.as_bytes(), &mut out, None).expect("encrypt");
    B64.encode(ct)
}

pub fn oaep_decrypt(pkcs8_pem: &str, b64: &str) -> String {
    let key = OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(&pem_der(pkcs8_pem)).expect("key"))
        .expect("oaep");
    let ct = B64.decode(b64).expect("base64");
    let mut out = vec![0u8; key.min_output_size()];
    String::from_utf8(key.decrypt(&OAEP_SHA1_MGF1SHA1, &ct, &mut out, None).expect("decrypt").to_vec()).expect("utf8")
}

/// AEAD_AES_256_GCM decryption of a `{ciphertext, nonce, associated_data}` object.
pub fn aes_gcm_decrypt(apiv3_key: &str, resource: &Value) -> Vec<u8> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, apiv3_key.as_bytes()).expect("key"));
    let nonce = resource["nonce"].as_str().expect("nonce");
    let aad = resource["associated_data"].as_str().unwrap_or_default();
    let mut buf = B64.decode(resource["ciphertext"].as_str().expect("ciphertext")).expect("b64");
    let nonce = Nonce::try_assume_unique_for_key(nonce.as_bytes()).expect("12-byte nonce");
    key.open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf).expect("GCM tag verifies").to_vec()
}

/// Identities shared by every server of a test binary (one key generation).
pub fn ids() -> Identities {
    Identities::shared().expect("identities")
}

pub async fn server() -> Server {
    Server::builder().identities(ids()).start().await.expect("server starts")
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }

    pub fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or_default().to_owned()
    }
}

/// Verifies an answer's signature the way a client must: headers present, timestamp fresh, serial known
/// (platform certificate or public key), RSA SHA-256 over `TS\nNONCE\nBODY\n`. Returns the serial used.
pub fn verify(ids: &Identities, headers: &[(String, String)], body: &[u8]) -> Result<String, String> {
    let h = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .ok_or(format!("missing {name}"))
    };
    let ts = h("Wechatpay-Timestamp")?;
    let nonce = h("Wechatpay-Nonce")?;
    let sig = h("Wechatpay-Signature")?;
    let serial = h("Wechatpay-Serial")?;
    let ts_num: i64 = ts.parse().map_err(|_| "timestamp not a number".to_owned())?;
    if (now() - ts_num).abs() > 300 {
        return Err("stale timestamp".into());
    }
    if sig.starts_with("WECHATPAY/SIGNTEST/") {
        return Err("probe signature".into());
    }
    let (platform_serial, platform_spki) = cert_info(&ids.platform.certificate_pem);
    let spki = if serial == platform_serial {
        platform_spki
    } else if serial == ids.public_key.id {
        pem_der(&ids.public_key.public_key_pem)
    } else {
        return Err(format!("unknown serial {serial}"));
    };
    let raw = B64.decode(sig.as_bytes()).map_err(|_| "signature not base64".to_owned())?;
    let mut message = format!("{ts}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &spki)
        .map_err(|e| e.to_string())?
        .verify_sig(&message, &raw)
        .map_err(|_| "bad signature".to_owned())?;
    Ok(serial)
}

/// A minimal APIv3 client: signs with the merchant key, sends over reqwest, reads the whole answer.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub ids: Identities,
}

impl Client {
    pub fn new(server: &Server) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: server.base_uri().trim_end_matches('/').to_owned(),
            ids: server.identities().clone(),
        }
    }

    /// An Authorization header over exactly these parts.
    pub fn authorization_with(&self, method: &str, target: &str, body: &[u8], ts: i64, nonce: &str) -> String {
        let mut message = format!("{method}\n{target}\n{ts}\n{nonce}\n").into_bytes();
        message.extend_from_slice(body);
        message.push(b'\n');
        let sig = sign(&self.ids.merchant.private_key_pem, &message);
        format!(
            r#"WECHATPAY2-SHA256-RSA2048 mchid="{}",nonce_str="{nonce}",signature="{sig}",timestamp="{ts}",serial_no="{}""#,
            self.ids.mchid, self.ids.merchant.serial
        )
    }

    pub fn authorization(&self, method: &str, target: &str, body: &[u8]) -> String {
        self.authorization_with(method, target, body, now(), &nonce())
    }

    /// Sends raw bytes with the given headers (no signing added).
    pub async fn raw(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, reqwest::Error> {
        let mut req = self
            .http
            .request(method.parse().expect("method"), format!("{}{target}", self.base))
            .header("Accept", "application/json")
            .header("User-Agent", "wechatpay-mock-tests");
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let resp = req.body(body).send().await?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let body = resp.bytes().await?.to_vec();
        Ok(Answer { status, headers, body })
    }

    /// A correctly signed JSON request.
    pub async fn call(&self, method: &str, target: &str, body: Option<&Value>) -> Answer {
        self.call_with(method, target, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        target: &str,
        body: Option<&Value>,
        extra: &[(&str, String)],
    ) -> Answer {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("json")).unwrap_or_default();
        let mut headers = vec![("Authorization", self.authorization(method, target, &bytes))];
        if body.is_some() {
            headers.push(("Content-Type", "application/json".to_owned()));
        }
        headers.extend(extra.iter().cloned());
        self.raw(method, target, &headers, bytes).await.expect("request goes through")
    }

    /// A signed call whose answer must verify; returns it.
    pub async fn call_verified(&self, method: &str, target: &str, body: Option<&Value>) -> Answer {
        let answer = self.call(method, target, body).await;
        verify(&self.ids, &answer.headers, &answer.body)
            .unwrap_or_else(|e| panic!("{method} {target}: answer does not verify: {e}"));
        answer
    }
}

/// Verifies a signed answer or callback against the given platform certificates (PEM) only: headers present,
/// timestamp fresh, `Wechatpay-Serial` one of theirs, RSA SHA-256 over `TS\nNONCE\nBODY\n`. Returns the serial.
pub fn verify_with_certificates(
    certificates: &[&str],
    headers: &[(String, String)],
    body: &[u8],
) -> Result<String, String> {
    let h = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .ok_or(format!("missing {name}"))
    };
    let (ts, nonce, sig, serial) =
        (h("Wechatpay-Timestamp")?, h("Wechatpay-Nonce")?, h("Wechatpay-Signature")?, h("Wechatpay-Serial")?);
    let ts_num: i64 = ts.parse().map_err(|_| "timestamp not a number".to_owned())?;
    if (now() - ts_num).abs() > 300 {
        return Err("stale timestamp".into());
    }
    let spki = certificates
        .iter()
        .map(|pem| cert_info(pem))
        .find(|(s, _)| *s == serial)
        .map(|(_, spki)| spki)
        .ok_or_else(|| format!("unknown serial {serial}"))?;
    let raw = B64.decode(sig.as_bytes()).map_err(|_| "signature not base64".to_owned())?;
    let mut message = format!("{ts}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &spki)
        .map_err(|e| e.to_string())?
        .verify_sig(&message, &raw)
        .map_err(|_| "bad signature".to_owned())?;
    Ok(serial)
}

/// A received callback: (request line, headers, body).
pub type Received = (String, Vec<(String, String)>, Vec<u8>);

/// A loopback HTTP listener answering each request with `status` and `body`; yields what it received.
pub async fn listener(status: u16, body: &'static str) -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/notify/wechat?x=1", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, content_length) = loop {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_string();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0usize);
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + content_length {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.lines();
                let request_line = lines.next().unwrap_or_default().to_owned();
                let headers = lines
                    .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
                    .collect();
                let _ = tx.send((request_line, headers, buf[head_end..head_end + content_length].to_vec()));
                let reason = if status < 300 { "OK" } else { "Error" };
                let answer = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, rx)
}

/// Checks a callback the way a merchant must and returns (event_type, decrypted resource).
pub fn open_callback(ids: &Identities, headers: &[(String, String)], body: &[u8]) -> (String, Value) {
    verify(ids, headers, body).expect("callback signature verifies over the raw body");
    let envelope: Value = serde_json::from_slice(body).expect("json");
    assert_eq!(envelope["resource_type"], "encrypt-resource");
    assert_eq!(envelope["resource"]["algorithm"], "AEAD_AES_256_GCM");
    let plain = aes_gcm_decrypt(&ids.apiv3_key, &envelope["resource"]);
    (
        envelope["event_type"].as_str().unwrap_or_default().to_owned(),
        serde_json::from_slice(&plain).expect("resource json"),
    )
}
