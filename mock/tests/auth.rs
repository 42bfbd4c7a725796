//! Every request check (each SIGN_ERROR cause) and the signing of every answer.

mod common;

use common::{Client, cert_info, ids, nonce, now, server, verify};
use wechatpay_mock::{ResponseSigner, Server};

const CERTS: &str = "/v3/certificates";

async fn sign_error(client: &Client, headers: &[(&str, String)]) -> String {
    let answer = client.raw("GET", CERTS, headers, Vec::new()).await.expect("answer");
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.code(), "SIGN_ERROR");
    // Errors are signed too.
    verify(&client.ids, &answer.headers, &answer.body).expect("error answers are signed");
    answer.message()
}

#[tokio::test]
async fn a_correct_request_passes_and_its_answer_verifies() {
    let server = server().await;
    let client = Client::new(&server);
    let answer = client.call_verified("GET", CERTS, None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Wechatpay-Signature-Type"), Some("WECHATPAY2-SHA256-RSA2048"));
    assert!(answer.header("Request-ID").is_some_and(|id| !id.is_empty()));
    let (platform_serial, _) = cert_info(&server.identities().platform.certificate_pem);
    assert_eq!(platform_serial, server.identities().platform.serial, "the certificate carries the serial");
    assert_eq!(answer.header("Wechatpay-Serial"), Some(platform_serial.as_str()));
}

#[tokio::test]
async fn each_authorization_fault_is_a_sign_error_naming_the_cause() {
    let server = server().await;
    let c = Client::new(&server);
    let ids = &c.ids;
    let ts = now();
    let good = |n: &str| c.authorization_with("GET", CERTS, b"", ts, n);

    let m = sign_error(&c, &[]).await;
    assert!(m.contains("Authorization header is missing"), "{m}");

    let m = sign_error(&c, &[("Authorization", good(&nonce()).replace("WECHATPAY2-SHA256-RSA2048", "Bearer"))]).await;
    assert!(m.contains("scheme"), "{m}");

    let m = sign_error(&c, &[("Authorization", "WECHATPAY2-SHA256-RSA2048 mchid".to_owned())]).await;
    assert!(m.contains("malformed"), "{m}");

    let without_nonce = good(&nonce()).replace("nonce_str=", "nonce=");
    let m = sign_error(&c, &[("Authorization", without_nonce)]).await;
    assert!(m.contains("nonce_str"), "{m}");

    let m = sign_error(&c, &[("Authorization", good(&nonce()).replace(&ids.mchid, "1234567890"))]).await;
    assert!(m.contains("mchid"), "{m}");

    let wrong_serial = good(&nonce()).replace(&ids.merchant.serial, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
    let m = sign_error(&c, &[("Authorization", wrong_serial)]).await;
    assert!(m.contains("serial_no"), "{m}");

    let m = sign_error(&c, &[("Authorization", c.authorization_with("GET", CERTS, b"", ts - 400, &nonce()))]).await;
    assert!(m.contains("timestamp"), "{m}");
    let m = sign_error(&c, &[("Authorization", c.authorization_with("GET", CERTS, b"", ts + 400, &nonce()))]).await;
    assert!(m.contains("timestamp"), "{m}");
    let m = sign_error(&c, &[("Authorization", good(&nonce()).replace(&format!("\"{ts}\""), "\"yesterday\""))]).await;
    assert!(m.contains("timestamp"), "{m}");

    // Signed over another message (a different body).
    let other = c.authorization_with("GET", CERTS, b"{}", ts, &nonce());
    let m = sign_error(&c, &[("Authorization", other)]).await;
    assert!(m.contains("signature does not verify"), "{m}");

    let header = good(&nonce());
    let start = header.find("signature=\"").map(|i| i + 11).unwrap_or(0);
    let not_base64 = format!("{}!!!{}", &header[..start], &header[start + 3..]);
    let m = sign_error(&c, &[("Authorization", not_base64)]).await;
    assert!(m.contains("base64"), "{m}");

    // A replayed nonce.
    let once = good("replayednonce0123456789abcdefABC");
    let first = c.raw("GET", CERTS, &[("Authorization", once.clone())], Vec::new()).await.expect("answer");
    assert_eq!(first.status, 200);
    let m = sign_error(&c, &[("Authorization", once)]).await;
    assert!(m.contains("already used"), "{m}");
}

#[tokio::test]
async fn fields_in_any_order_with_spaces_and_a_lower_case_serial_pass() {
    let server = server().await;
    let c = Client::new(&server);
    let (ts, n) = (now(), nonce());
    let message = format!("GET\n{CERTS}\n{ts}\n{n}\n\n").into_bytes();
    let sig = common::sign(&c.ids.merchant.private_key_pem, &message);
    let header = format!(
        r#"WECHATPAY2-SHA256-RSA2048 serial_no="{}", signature="{sig}", timestamp="{ts}", mchid="{}", nonce_str="{n}""#,
        c.ids.merchant.serial.to_lowercase(),
        c.ids.mchid
    );
    let answer = c.raw("GET", CERTS, &[("Authorization", header)], Vec::new()).await.expect("answer");
    assert_eq!(answer.status, 200, "{}", answer.message());
}

#[tokio::test]
async fn the_signature_covers_the_raw_body_and_the_query_as_sent() {
    let server = server().await;
    let c = Client::new(&server);
    // Unusual but valid JSON spacing: a server re-serialising the body would compute another message.
    let body = br#"{ "mchid" :  "X" }"#.to_vec();
    let target = "/v3/pay/transactions/out-trade-no/nope/close";
    let auth = c.authorization("POST", target, &body);
    let answer = c
        .raw("POST", target, &[("Authorization", auth), ("Content-Type", "application/json".into())], body)
        .await
        .expect("answer");
    assert_ne!(answer.status, 401, "raw body signature must pass: {}", answer.message());

    let target = format!("/v3/pay/transactions/out-trade-no/x?mchid={}&b=%E4%B8%AD", c.ids.mchid);
    let sorted = format!("/v3/pay/transactions/out-trade-no/x?b=%E4%B8%AD&mchid={}", c.ids.mchid);
    let ok = c
        .raw("GET", &target, &[("Authorization", c.authorization("GET", &target, b""))], Vec::new())
        .await
        .expect("answer");
    assert_eq!(ok.status, 404, "checked, then ORDER_NOT_EXIST: {}", ok.message());
    assert_eq!(ok.code(), "ORDER_NOT_EXIST");
    let bad = c
        .raw("GET", &target, &[("Authorization", c.authorization("GET", &sorted, b""))], Vec::new())
        .await
        .expect("answer");
    assert_eq!(bad.status, 401);
    let decoded = target.replace("%E4%B8%AD", "中");
    let bad = c
        .raw("GET", &target, &[("Authorization", c.authorization("GET", &decoded, b""))], Vec::new())
        .await
        .expect("answer");
    assert_eq!(bad.status, 401, "the percent-encoding as sent is what is signed");
}

#[tokio::test]
async fn the_answer_signer_follows_the_setting_and_the_request_serial() {
    let ids = ids();
    let server = Server::builder().identities(ids.clone()).start().await.expect("server");
    let c = Client::new(&server);
    let by_platform = c.call_verified("GET", CERTS, None).await;
    assert_eq!(by_platform.header("Wechatpay-Serial"), Some(ids.platform.serial.as_str()));
    let by_key = c.call_with("GET", CERTS, None, &[("Wechatpay-Serial", ids.public_key.id.clone())]).await;
    assert_eq!(verify(&ids, &by_key.headers, &by_key.body).as_deref(), Ok(ids.public_key.id.as_str()));

    let server = Server::builder()
        .identities(ids.clone())
        .response_signer(ResponseSigner::PublicKey)
        .start()
        .await
        .expect("server");
    let c = Client::new(&server);
    let a = c.call("GET", CERTS, None).await;
    assert_eq!(verify(&ids, &a.headers, &a.body).as_deref(), Ok(ids.public_key.id.as_str()));
    let a = c.call_with("GET", CERTS, None, &[("Wechatpay-Serial", ids.platform.serial.clone())]).await;
    assert_eq!(verify(&ids, &a.headers, &a.body).as_deref(), Ok(ids.platform.serial.as_str()));
}

#[tokio::test]
async fn public_key_only_merchants_have_no_certificates() {
    let ids = ids();
    let server = Server::builder().identities(ids.clone()).public_key_only().start().await.expect("server");
    let c = Client::new(&server);
    let a = c.call("GET", CERTS, None).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.code(), "RESOURCE_NOT_EXISTS");
    assert_eq!(verify(&ids, &a.headers, &a.body).as_deref(), Ok(ids.public_key.id.as_str()));
    // Naming the platform serial does not bring the certificate back.
    let a = c.call_with("GET", CERTS, None, &[("Wechatpay-Serial", ids.platform.serial.clone())]).await;
    assert_eq!(verify(&ids, &a.headers, &a.body).as_deref(), Ok(ids.public_key.id.as_str()));
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_signed_errors() {
    let server = server().await;
    let c = Client::new(&server);
    let a = c.call_verified("GET", "/v3/no/such/endpoint", None).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.code(), "NOT_FOUND");
    let a = c.call_verified("DELETE", CERTS, None).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.code(), "METHOD_NOT_ALLOWED");
    // Bad JSON after a valid signature.
    let body = b"{not json".to_vec();
    let target = "/v3/refund/domestic/refunds";
    let auth = c.authorization("POST", target, &body);
    let a = c.raw("POST", target, &[("Authorization", auth)], body).await.expect("answer");
    assert_eq!(a.status, 400);
    assert_eq!(a.code(), "PARAM_ERROR");
}
