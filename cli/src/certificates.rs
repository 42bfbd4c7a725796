//! `wechatpay certificates download`: the PHP SDK's `CertificateDownloader`, on the library's
//! [`Builder::refresh_certificates`](wechatpay::Builder::refresh_certificates) (decrypt with the APIv3 key, verify
//! the answer with what it carries), saving each certificate as `wechatpay_<serial>.pem` exactly as decrypted.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use wechatpay::RefreshOutcome;
use wechatpay::crypto::Certificate;
use wechatpay::util::rfc3339_utc;

use crate::args::CertificatesDownloadArgs;
use crate::credentials::Client;
use crate::failure::{Failure, Result};
use crate::io;

pub fn run(args: &CertificatesDownloadArgs) -> Result {
    let instance = Client {
        merchant: Some(&args.merchant),
        apiv3: Some(&args.apiv3),
        ca: Some(&args.ca),
        endpoint: Some(&args.endpoint),
        needs_apiv3_key: true,
        ..Client::default()
    }
    .build()?;
    let certificates = match instance.refresh_certificates()? {
        RefreshOutcome::Certificates(certificates) => certificates,
        RefreshOutcome::PublicKeyMode { status, code } => {
            return Err(Failure::failed(format!(
                "GET v3/certificates answered {status} {code}: this merchant has no platform certificates, and \
                 WeChat Pay signs with the WeChat Pay public key instead; download it (with its PUB_KEY_ID_...) from \
                 the merchant platform and pass it with --public-key and --public-key-id"
            )));
        }
        other => return Err(Failure::failed(format!("GET v3/certificates: unexpected outcome {other:?}"))),
    };
    if certificates.is_empty() {
        return Err(Failure::failed("GET v3/certificates listed no certificate: nothing was saved"));
    }
    let dir = output_dir(args.output.as_deref())?;
    for (index, certificate) in certificates.iter().enumerate() {
        let path = dir.join(format!("wechatpay_{}.pem", certificate.serial_number()));
        // The text as decrypted (a certificate from the library always has it); a fresh encoding otherwise.
        let pem = certificate.pem_text().map_or_else(|| certificate.to_pem(), str::to_owned);
        save(&path, pem.as_bytes())?;
        io::out(describe(index, certificate, &path).as_bytes())?;
    }
    Ok(())
}

/// `--output`, created if missing; else a new private directory under the system's temporary directory.
fn output_dir(output: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = output {
        std::fs::create_dir_all(dir)
            .map_err(|err| Failure::failed(format!("cannot create the directory `{}`: {err}", dir.display())))?;
        return Ok(dir.to_path_buf());
    }
    let dir = tempfile::Builder::new()
        .prefix("wechatpay-")
        .tempdir()
        .map_err(|err| Failure::failed(format!("cannot create a private directory, give -o DIR: {err}")))?
        .keep();
    io::out(format!("The certificates will be saved into the private directory: {}\n", dir.display()).as_bytes())?;
    Ok(dir)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed to disk, then renamed (never following
/// a link at `path`).
fn save(path: &Path, bytes: &[u8]) -> Result {
    let dir = path.parent().unwrap_or(Path::new("."));
    let failed = |err: std::io::Error| Failure::failed(format!("cannot write `{}`: {err}", path.display()));
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    temp.write_all(bytes).and_then(|()| temp.as_file().sync_all()).map_err(failed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // A certificate is public: readable by the services that verify with it, as PHP's downloader leaves it.
        temp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(failed)?;
    }
    temp.persist(path).map(drop).map_err(|err| failed(err.error))
}

fn describe(index: usize, certificate: &Certificate, path: &Path) -> String {
    let expired = if certificate.not_after() < SystemTime::now() { " (expired)" } else { "" };
    format!(
        "Certificate #{index} {{\n    Serial Number: {}\n    Not Before: {}\n    Not After: {}{expired}\n    \
         Saved to: {}\n    You may confirm the above again (the answer was verified with it already):\n      \
         openssl x509 -in {} -noout -serial -dates\n}}\n",
        certificate.serial_number(),
        rfc3339_utc(certificate.not_before()),
        rfc3339_utc(certificate.not_after()),
        path.display(),
        path.display(),
    )
}
