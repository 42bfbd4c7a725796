//! [`Bill`]: from a bill apply's answer to the bill file in one call.
//!
//! An apply (`GET v3/bill/tradebill`, `v3/bill/fundflowbill`, `v3/bill/sub-merchant-fundflowbill`,
//! `v3/ecommerce/bill/fundflowbill`, `v3/funds-to-oversea/bill-download-url`,
//! `v3/global/profit-sharing/bill-download-url`, ...) answers where to download the file and its SHA-1. The download
//! is a signed `GET` whose answer WeChat Pay does not sign: the SHA-1 from the (verified) apply answer is what
//! vouches for it, computed over the decompressed (and decrypted) bytes while they stream into a writer or a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tokio::io::AsyncWrite;
use zeroize::Zeroizing;

use crate::builder::Builder;
use crate::crypto::Padding;
use crate::download::{self, Checks, Downloaded, Job};
use crate::error::{Error, Result};
use crate::response::Response;
use crate::runtime::ResponseFuture;

/// A bill to download, read from its apply answer: one file (trade and fund-flow bills, the overseas ones) or the
/// numbered files of an encrypted fund-flow bill (`download_bill_list` of the sub-merchant and e-commerce fund
/// flows), written in `bill_sequence` order.
///
/// Each file is downloaded with a signed `GET` to its `download_url`'s path and query on the configured
/// `base_uri` (so a signed request never goes to another host), gunzipped when the apply asked `tar_type=GZIP`,
/// decrypted (AEAD_AES_256_GCM with the key in `encrypt_key`, itself decrypted with the merchant private key) when
/// it is encrypted, and its SHA-1 compared with `hash_value`. A mismatch is [`Error::Integrity`], a cut
/// connection [`Error::Truncated`]; [`download_to_file`](Self::download_to_file) writes under a temporary name
/// and renames only a complete, checked file, so a partial file never looks complete.
///
/// ```
/// use serde_json::json;
/// use wechatpay::Bill;
/// # let server = wechatpay_mock::Server::builder()
/// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
/// # let ids = server.identities();
/// # let instance = wechatpay::Builder::factory(serde_json::json!({
/// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
/// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
/// # }))?;
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("trade-2024-01-02.csv");
/// let apply = instance.v3().bill().tradebill()
///     .get(json!({"query": {"bill_date": "2024-01-02", "tar_type": "GZIP"}}))?;
/// let downloaded = Bill::from_response(&apply)?.download_to_file(&instance, &path)?;
/// assert!(downloaded.verified());
/// assert!(std::fs::read_to_string(&path).unwrap().starts_with("交易时间,"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct Bill {
    files: Vec<BillFile>,
    gzip: bool,
    date: Option<String>,
    timeout: Option<Duration>,
}

#[derive(Clone)]
struct BillFile {
    sequence: u64,
    download_url: String,
    /// Lower-case hex.
    sha1: Option<String>,
    encrypted: Option<Encrypted>,
}

/// An encrypted file's key (RSA-OAEP with the merchant's public key, base64) and GCM nonce.
#[derive(Clone)]
struct Encrypted {
    encrypt_key: String,
    nonce: String,
}

impl Bill {
    /// Reads an apply answer, and from its request URL whether it asked `tar_type=GZIP` and which `algorithm`.
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay::Bill;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let apply = instance.v3().bill().fundflowbill()
    ///     .get(json!({"query": {"bill_date": "2024-01-02", "tar_type": "GZIP"}}))?;
    /// let bill = Bill::from_response(&apply)?;
    /// assert!(bill.is_gzip());
    /// assert_eq!(bill.files(), 1);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_response(response: &Response) -> Result<Bill> {
        let answer: Value = response.json()?;
        let mut bill = Bill::from_json(&answer)?;
        if let Some(url) = response.url().and_then(|url| url::Url::parse(url).ok()) {
            for (name, value) in url.query_pairs() {
                match (name.as_ref(), value.as_ref()) {
                    ("tar_type", tar_type) => bill.gzip = tar_type.eq_ignore_ascii_case("GZIP"),
                    ("bill_date" | "date", date) => bill.date = Some(date.to_owned()),
                    ("algorithm", "SM4_GCM") => {
                        return Err(Error::Unsupported {
                            what: "SM4_GCM-encrypted bills".into(),
                            hint: "apply with algorithm=AEAD_AES_256_GCM",
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(bill)
    }

    /// Reads an apply answer's JSON (`download_url`, `hash_type`, `hash_value`, or `download_bill_list`). It does not
    /// say whether the file is gzip: set [`gzip`](Self::gzip) when the apply asked `tar_type=GZIP`.
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay::Bill;
    ///
    /// let bill = Bill::from_json(&json!({
    ///     "hash_type": "SHA1",
    ///     "hash_value": "79bb0f45fc4c42234a918000b2668d689e2bde04",
    ///     "download_url": "https://api.mch.weixin.qq.com/v3/billdownload/file?token=xxx",
    /// }))?.gzip(true);
    /// assert!(bill.is_gzip() && bill.is_verifiable());
    ///
    /// let err = Bill::from_json(&json!({"hash_type": "MD5", "hash_value": "x", "download_url": "https://x/y"})).unwrap_err();
    /// assert!(err.to_string().contains("MD5"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_json(answer: &Value) -> Result<Bill> {
        let files = match answer.get("download_bill_list") {
            Some(Value::Array(list)) => {
                let mut files = list.iter().map(file).collect::<Result<Vec<_>>>()?;
                files.sort_by_key(|file| file.sequence);
                files
            }
            Some(_) => return Err(not_an_apply("download_bill_list is not a list")),
            None => vec![file(answer)?],
        };
        if files.is_empty() {
            return Err(not_an_apply("download_bill_list is empty: there is no bill file for that day"));
        }
        Ok(Bill { files, gzip: false, date: None, timeout: None })
    }

    /// Whether the files are gzip-compressed (the apply asked `tar_type=GZIP`).
    ///
    /// ```
    /// let bill = wechatpay::Bill::from_json(&serde_json::json!({"download_url": "https://x/v3/y?token=1"}))?;
    /// assert!(bill.gzip(true).is_gzip());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// A timeout for each file's whole download. Without one, a download takes as long as it needs, but no single
    /// wait (for the answer, or for the next piece of it) may take longer than the configured timeout
    /// ([`ConfigBuilder::timeout`](crate::ConfigBuilder::timeout), 30 s by default). Zero is refused when the
    /// download starts.
    ///
    /// ```
    /// let bill = wechatpay::Bill::from_json(&serde_json::json!({"download_url": "https://x/v3/y?token=1"}))?
    ///     .timeout(std::time::Duration::from_secs(600));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether the files are gzip-compressed.
    ///
    /// ```
    /// let bill = wechatpay::Bill::from_json(&serde_json::json!({"download_url": "https://x/v3/y?token=1"}))?;
    /// assert!(!bill.is_gzip());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// How many files the bill is made of.
    ///
    /// ```
    /// let bill = wechatpay::Bill::from_json(&serde_json::json!({"download_bill_count": 2, "download_bill_list": [
    ///     {"bill_sequence": 2, "download_url": "https://x/v3/bill/downloadurl?token=2", "hash_type": "SHA1",
    ///      "hash_value": "0000000000000000000000000000000000000000", "encrypt_key": "a2V5", "nonce": "a8607ef79034c49c"},
    ///     {"bill_sequence": 1, "download_url": "https://x/v3/bill/downloadurl?token=1", "hash_type": "SHA1",
    ///      "hash_value": "0000000000000000000000000000000000000000", "encrypt_key": "a2V5", "nonce": "a8607ef79034c49c"},
    /// ]}))?;
    /// assert_eq!(bill.files(), 2);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn files(&self) -> usize {
        self.files.len()
    }

    /// Whether every file has a `hash_value` to be checked against (the overseas profit-sharing bills have none:
    /// their downloads are written unchecked, and [`Downloaded::verified`] says so).
    ///
    /// ```
    /// let bill = wechatpay::Bill::from_json(&serde_json::json!({"download_url": "https://x/v3/y?token=1"}))?;
    /// assert!(!bill.is_verifiable());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn is_verifiable(&self) -> bool {
        self.files.iter().all(|file| file.sha1.is_some() || file.encrypted.is_some())
    }

    /// Downloads the bill into `writer`, blocking. The writer receives the bytes as they are checked along the way,
    /// but the whole file is only vouched for when this returns `Ok`: on an error, discard what it received.
    ///
    /// ```
    /// use serde_json::json;
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// // A corrupted download is refused.
    /// server.faults().on_route_n("GET", "/v3/billdownload/file", 1, wechatpay_mock::Fault::CorruptByte(10));
    /// let apply = instance.v3().bill().tradebill().get(json!({"query": {"bill_date": "2024-01-02"}}))?;
    /// let err = wechatpay::Bill::from_response(&apply)?.download(&instance, &mut Vec::new()).unwrap_err();
    /// assert!(matches!(err, wechatpay::Error::Integrity { check: "SHA-1", .. }));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn download(&self, instance: &Builder, writer: &mut (impl Write + ?Sized)) -> Result<Downloaded> {
        download::to_writer(instance.core(), self.jobs(instance)?, writer)
    }

    /// Downloads the bill into a file at `path`: written under a hidden temporary name in the same directory and
    /// renamed to `path` (replacing it) only once every check passed; on any error the temporary file is removed.
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("fundflow.csv");
    /// server.faults().on_route_n("GET", "/v3/billdownload/file", 1, wechatpay_mock::Fault::CutAfter(100));
    /// let apply = instance.v3().bill().fundflowbill().get(serde_json::json!({"query": {"bill_date": "2024-01-02"}}))?;
    /// let err = wechatpay::Bill::from_response(&apply)?.download_to_file(&instance, &path).unwrap_err();
    /// assert!(matches!(err, wechatpay::Error::Truncated { received: 100, .. }));
    /// assert!(!path.exists());
    /// assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no temporary file is left");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn download_to_file(&self, instance: &Builder, path: impl AsRef<Path>) -> Result<Downloaded> {
        download::to_file(instance.core(), self.jobs(instance)?, path.as_ref())
    }

    /// Downloads the bill into an async writer. The connection is read on the SDK's I/O threads; the decoding runs
    /// in this future. On an error, discard what the writer received.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let apply = instance.v3().bill().tradebill()
    ///     .get_async(serde_json::json!({"query": {"bill_date": "2024-01-02", "tar_type": "GZIP"}})).await?;
    /// let mut bill = Vec::new();
    /// let downloaded = wechatpay::Bill::from_response(&apply)?.download_async(&instance, &mut bill).await?;
    /// assert_eq!(downloaded.bytes(), bill.len() as u64);
    /// # Ok(()) }
    /// ```
    pub async fn download_async<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        instance: &Builder,
        writer: &mut W,
    ) -> Result<Downloaded> {
        let jobs = self.jobs(instance)?;
        download::to_async_writer(std::sync::Arc::clone(instance.core()), jobs, writer).await
    }

    /// Downloads the bill into a file, as [`download_to_file`](Self::download_to_file) does, as a future that runs
    /// on the SDK's I/O threads (`Send + 'static`: it can be spawned). Dropping it cancels the download and
    /// removes the temporary file.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let apply = instance.v3().bill().tradebill()
    ///     .get_async(serde_json::json!({"query": {"bill_date": "2024-01-02"}})).await?;
    /// let path = dir.path().join("trade.csv");
    /// let downloaded = wechatpay::Bill::from_response(&apply)?.download_to_file_async(&instance, &path).await?;
    /// assert_eq!(downloaded.path(), Some(path.as_path()));
    /// # Ok(()) }
    /// ```
    pub fn download_to_file_async(&self, instance: &Builder, path: impl Into<PathBuf>) -> ResponseFuture<Downloaded> {
        match self.jobs(instance) {
            Ok(jobs) => download::to_file_async(std::sync::Arc::clone(instance.core()), jobs, path.into()),
            Err(err) => ResponseFuture::failed(err),
        }
    }

    /// One download per file, each with what its bytes must satisfy.
    fn jobs(&self, instance: &Builder) -> Result<Vec<Job>> {
        let count = self.files.len();
        self.files
            .iter()
            .map(|file| {
                let prepared = instance.core().prepare_download(&file.download_url, self.timeout)?;
                let path = url::Url::parse(&file.download_url).map(|url| url.path().to_owned()).unwrap_or_default();
                let mut what = match &self.date {
                    Some(date) => format!("the bill file of {date}"),
                    None => "the bill file".to_owned(),
                };
                if count > 1 {
                    what.push_str(&format!(" (file {} of {count})", file.sequence));
                }
                what.push_str(&format!(" from GET {path}"));
                let decrypt = match &file.encrypted {
                    Some(encrypted) => Some(decryption(instance, encrypted, &what)?),
                    None => None,
                };
                Ok(Job {
                    prepared,
                    verify_head: false,
                    checks: Checks { what, sha1: file.sha1.clone(), gzip: self.gzip, decrypt },
                })
            })
            .collect()
    }
}

impl std::fmt::Debug for Bill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bill")
            .field("files", &self.files.len())
            .field("gzip", &self.gzip)
            .field("date", &self.date)
            .field("encrypted", &self.files.iter().any(|file| file.encrypted.is_some()))
            .finish()
    }
}

fn not_an_apply(reason: &str) -> Error {
    Error::Decode { what: "a bill apply answer", reason: reason.to_owned() }
}

/// One file of an apply answer (the answer itself, or an entry of its `download_bill_list`).
fn file(entry: &Value) -> Result<BillFile> {
    let text = |name: &str| entry.get(name).and_then(Value::as_str).filter(|text| !text.is_empty());
    let download_url = text("download_url").ok_or_else(|| not_an_apply("it has no download_url"))?.to_owned();
    let sha1 = match text("hash_value") {
        None => None,
        Some(value) => {
            if let Some(other) = text("hash_type").filter(|kind| !kind.eq_ignore_ascii_case("SHA1")) {
                return Err(Error::Unsupported {
                    what: format!("bills with hash_type {other}"),
                    hint: "WeChat Pay's bills use hash_type SHA1; please report an answer with another one",
                });
            }
            if value.len() != 40 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(not_an_apply("its hash_value is not a SHA-1 in hex"));
            }
            Some(value.to_ascii_lowercase())
        }
    };
    let encrypted = match (text("encrypt_key"), text("nonce")) {
        (Some(encrypt_key), Some(nonce)) => {
            Some(Encrypted { encrypt_key: encrypt_key.to_owned(), nonce: nonce.to_owned() })
        }
        (None, None) => None,
        _ => return Err(not_an_apply("it has an encrypt_key without a nonce, or a nonce without an encrypt_key")),
    };
    let sequence = entry.get("bill_sequence").and_then(Value::as_u64).unwrap_or(1);
    Ok(BillFile { sequence, download_url, sha1, encrypted })
}

/// The AES-256-GCM key (decrypted with the merchant private key) and nonce of an encrypted file.
fn decryption(instance: &Builder, encrypted: &Encrypted, what: &str) -> Result<(Zeroizing<[u8; 32]>, Vec<u8>)> {
    let private_key = instance.config().private_key().ok_or_else(|| {
        Error::config(
            "privateKey",
            "encrypted bills carry their key encrypted for the merchant certificate: configure the merchant private \
             key to decrypt it",
        )
    })?;
    let sealed = STANDARD.decode(encrypted.encrypt_key.as_bytes()).map_err(|_| {
        Error::crypto("decrypting a bill's encrypt_key", format!("the encrypt_key of {what} is not base64"))
    })?;
    let key = Zeroizing::new(private_key.decrypt(&sealed, Padding::Oaep)?);
    let key: [u8; 32] = key.as_slice().try_into().map_err(|_| {
        Error::crypto(
            "decrypting a bill's encrypt_key",
            format!("the key of {what} is {} bytes, not the 32 of AES-256", key.len()),
        )
    })?;
    Ok((Zeroizing::new(key), encrypted.nonce.as_bytes().to_vec()))
}
