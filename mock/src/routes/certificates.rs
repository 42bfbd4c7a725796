//! `GET /v3/certificates`: every platform certificate, AES-256-GCM encrypted with the APIv3 key.

use serde_json::{Value, json};

use super::Ctx;
use crate::reply::Reply;
use crate::util::{random_alnum, rfc3339_cst};

/// The certificate list, or 404 `RESOURCE_NOT_EXISTS` for a merchant in public-key-only mode.
pub(crate) fn list(ctx: &Ctx<'_>) -> Reply {
    if ctx.platform_certificates.is_empty() {
        return Reply::error(404, "RESOURCE_NOT_EXISTS", "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥");
    }
    if let Some(alg) = ctx.query("algorithm_type") {
        if !matches!(alg, "RSA" | "SM2" | "ALL") {
            return Reply::param_error("algorithm_type", "query", "algorithm_type must be RSA, SM2 or ALL");
        }
        if alg == "SM2" {
            return Reply::ok(&json!({ "data": [] }));
        }
    }
    let mut data = Vec::with_capacity(ctx.platform_certificates.len());
    for entry in &ctx.platform_certificates {
        let cert = &entry.platform;
        let nonce = random_alnum(12);
        let associated_data = "certificate";
        let Ok(ciphertext) = ctx.keys.apiv3_seal(&nonce, associated_data, cert.certificate_pem.as_bytes()) else {
            return Reply::error(500, "SYSTEM_ERROR", "certificate encryption failed");
        };
        data.push(json!({
            "serial_no": cert.serial,
            "effective_time": rfc3339_cst(cert.effective_time),
            "expire_time": rfc3339_cst(cert.expire_time),
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": associated_data,
                "ciphertext": ciphertext,
            },
        }));
    }
    Reply::ok(&json!({ "data": Value::Array(data) }))
}
