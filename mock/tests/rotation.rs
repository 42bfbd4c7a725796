//! Platform certificate rotation: new certificates listed and signing, expired ones listed, every listed key
//! usable for sensitive fields; checked with a verifier written here.

mod common;

use common::{Client, aes_gcm_decrypt, cert_info, now, oaep_encrypt, server, verify_with_certificates};
use serde_json::{Value, json};
use wechatpay_mock::{Fault, Identities, Server};

const QQ: &str = "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills";

/// The certificates `GET /v3/certificates` lists, decrypted with the APIv3 key: (serial_no, entry, PEM).
async fn listed(c: &Client) -> Vec<(String, Value, String)> {
    let answer = c.call("GET", "/v3/certificates", None).await;
    assert_eq!(answer.status, 200, "{}", answer.message());
    let body = answer.json();
    let mut out = Vec::new();
    for entry in body["data"].as_array().expect("data[]") {
        let pem = String::from_utf8(aes_gcm_decrypt(&c.ids.apiv3_key, &entry["encrypt_certificate"])).expect("PEM");
        let serial = entry["serial_no"].as_str().expect("serial_no").to_owned();
        assert_eq!(cert_info(&pem).0, serial, "serial_no names the certificate it carries");
        out.push((serial, entry.clone(), pem));
    }
    out
}

#[tokio::test]
async fn a_rotated_certificate_is_listed_beside_the_old_one_and_signs_from_then_on() {
    let server = server().await;
    let c = Client::new(&server);
    let old = c.ids.platform.clone();
    let before = c.call("GET", "/v3/certificates", None).await;
    assert_eq!(
        verify_with_certificates(&[&old.certificate_pem], &before.headers, &before.body),
        Ok(old.serial.clone())
    );

    let new = server.rotate_platform_certificate().expect("rotation");
    let listed = listed(&c).await;
    let serials: Vec<&str> = listed.iter().map(|(s, ..)| s.as_str()).collect();
    assert_eq!(serials, [old.serial.as_str(), new.serial.as_str()]);
    assert_eq!(listed[1].2, new.certificate_pem);

    // Answers are now signed with the new certificate: a client that knows only the old one cannot verify them.
    let after = c.call("GET", "/v3/certificates", None).await;
    assert_eq!(
        verify_with_certificates(&[&old.certificate_pem], &after.headers, &after.body),
        Err(format!("unknown serial {}", new.serial))
    );
    assert_eq!(verify_with_certificates(&[&new.certificate_pem], &after.headers, &after.body), Ok(new.serial.clone()));
    // A request that names the old certificate still gets an answer signed with it, as WeChat Pay does.
    let named = c.call_with("GET", "/v3/certificates", None, &[("Wechatpay-Serial", old.serial.clone())]).await;
    assert_eq!(verify_with_certificates(&[&old.certificate_pem], &named.headers, &named.body), Ok(old.serial.clone()));

    // Callbacks and faults follow the signing certificate too.
    let callback = server.notification("TRANSACTION.SUCCESS", "支付成功", "transaction", &json!({"a": 1})).unwrap();
    assert_eq!(
        verify_with_certificates(&[&new.certificate_pem], &callback.headers, &callback.body),
        Ok(new.serial.clone())
    );
    server.faults().next(Fault::TamperedSignature);
    let tampered = c.call("GET", "/v3/certificates", None).await;
    assert_eq!(
        verify_with_certificates(&[&new.certificate_pem], &tampered.headers, &tampered.body),
        Err("bad signature".into())
    );

    // And back.
    server.sign_with_platform_certificate(&old.serial).unwrap();
    let back = c.call("GET", "/v3/certificates", None).await;
    assert_eq!(verify_with_certificates(&[&old.certificate_pem], &back.headers, &back.body), Ok(old.serial));
}

#[tokio::test]
async fn an_expired_certificate_is_listed_with_its_dates_and_can_be_made_to_sign() {
    let server = server().await;
    let c = Client::new(&server);
    let now = now();
    let expired = server.add_platform_certificate(now - 400 * 86_400, now - 86_400).expect("added");
    assert_eq!(server.signing_platform_certificate(), c.ids.platform, "adding does not switch the signer");
    let listed = listed(&c).await;
    assert_eq!(listed.len(), 2);
    let (_, entry, pem) = &listed[1];
    assert_eq!(pem, &expired.certificate_pem);
    assert_eq!(entry["expire_time"], json!(rfc3339_cst(now - 86_400)));
    assert_eq!(entry["effective_time"], json!(rfc3339_cst(now - 400 * 86_400)));

    server.sign_with_platform_certificate(&expired.serial).unwrap();
    let answer = c.call("GET", "/v3/certificates", None).await;
    assert_eq!(
        verify_with_certificates(&[&expired.certificate_pem], &answer.headers, &answer.body),
        Ok(expired.serial.clone())
    );
    assert!(server.add_platform_certificate(now, now).is_err(), "expiry must follow the start");
    assert!(server.sign_with_platform_certificate("ABCDEF").is_err());
}

#[tokio::test]
async fn sensitive_fields_decrypt_with_any_listed_certificate() {
    let server = server().await;
    let c = Client::new(&server);
    let new = server.rotate_platform_certificate().unwrap();
    for (no, platform) in [("rot-old", &c.ids.platform), ("rot-new", &new)] {
        let (serial, spki) = cert_info(&platform.certificate_pem);
        let mut body = json!({
            "appid": "102022609",
            "out_bill_no": no,
            "transfer_scene_id": "1401",
            "transfer_scene_report_infos": [{ "info_type": "活动名称", "info_content": "注册会员有礼" }],
            "openid": "o-MYE42l80oelYMDE34nYD456Xoy",
            "transfer_amount": 400,
            "transfer_remark": "2020年4月报销",
        });
        body["user_name"] = json!(oaep_encrypt(&spki, "张三"));
        let ok = c.call_with("POST", QQ, Some(&body), &[("Wechatpay-Serial", serial)]).await;
        assert_eq!(ok.status, 200, "{}: {}", no, ok.message());
    }
}

#[tokio::test]
async fn public_key_only_merchants_list_nothing_even_after_a_rotation() {
    let server = Server::builder().identities(Identities::shared().unwrap()).public_key_only().start().await.unwrap();
    server.rotate_platform_certificate().unwrap();
    assert!(server.platform_certificates().is_empty());
    let answer = Client::new(&server).call("GET", "/v3/certificates", None).await;
    assert_eq!((answer.status, answer.code().as_str()), (404, "RESOURCE_NOT_EXISTS"));
}

/// RFC 3339 in China Standard Time, computed here independently of the simulator.
fn rfc3339_cst(unix: i64) -> String {
    let t = unix + 8 * 3600;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00", secs / 3600, (secs % 3600) / 60, secs % 60)
}
