//! Requests shaped the way the official SDKs send them, where a first run of those SDKs against the
//! simulator showed it stricter (or looser) than WeChat Pay. Raw HTTP only: no SDK is needed here.

mod common;

use common::{Client, server};
use sha2::{Digest as _, Sha256};

/// A multipart body as Python's `requests` builds it for `wechatpayv3`'s `image_upload`: the `meta` part
/// without a content type, then the file.
fn upload_body(boundary: &str, meta: &[u8], file: &[u8]) -> Vec<u8> {
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n").into_bytes();
    body.extend_from_slice(meta);
    body.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pixel.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn an_upload_whose_content_type_has_no_boundary_is_read_from_the_body() {
    // wechatpayv3 2.0.4 sets `Content-Type: multipart/form-data` itself, so `requests` adds no boundary
    // parameter; WeChat Pay accepts such uploads and checks the signature over `meta`.
    let server = server().await;
    let c = Client::new(&server);
    let file = b"\x89PNG\r\n\x1a\n a one-pixel image".to_vec();
    let sha: String = Sha256::digest(&file).iter().map(|b| format!("{b:02x}")).collect();
    let meta = format!(r#"{{"filename":"pixel.png","sha256":"{sha}"}}"#).into_bytes();
    let body = upload_body("35c0d4e8a340394bbbad194aa75c8383", &meta, &file);
    let target = "/v3/merchant/media/upload";

    let auth = c.authorization("POST", target, &meta);
    let ok = c
        .raw(
            "POST",
            target,
            &[("Authorization", auth), ("Content-Type", "multipart/form-data".to_owned())],
            body.clone(),
        )
        .await
        .expect("answer");
    assert_eq!(ok.status, 200, "{}", ok.message());
    common::verify(&c.ids, &ok.headers, &ok.body).expect("verifies");
    assert!(ok.json()["media_id"].as_str().is_some_and(|m| !m.is_empty()));

    // The signature still covers meta only: signing the whole body fails as it does with a boundary.
    let auth = c.authorization("POST", target, &body);
    let bad = c
        .raw("POST", target, &[("Authorization", auth), ("Content-Type", "multipart/form-data".to_owned())], body)
        .await
        .expect("answer");
    assert_eq!((bad.status, bad.code().as_str()), (401, "SIGN_ERROR"));

    // A body that does not open with a delimiter is a bad multipart body, not a signature problem.
    let auth = c.authorization("POST", target, &meta);
    let junk = c
        .raw(
            "POST",
            target,
            &[("Authorization", auth), ("Content-Type", "multipart/form-data".to_owned())],
            b"meta=1&file=2".to_vec(),
        )
        .await
        .expect("answer");
    assert_eq!((junk.status, junk.code().as_str()), (400, "PARAM_ERROR"));
    assert!(junk.message().contains("multipart"), "{}", junk.message());
}
