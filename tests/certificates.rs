//! Platform certificates against wechatpay-mock: download, public-key mode, rotation with refresh on an unknown
//! serial (single flight, rate limited), expired certificates. (The interval refresh: tests/refresh_interval.rs.)

mod common;

use std::time::{Duration, SystemTime};

use serde_json::json;
use wechatpay::crypto::{Certificate, PrivateKey, PublicKey};
use wechatpay::{Builder, Config, Error, RefreshOutcome, VerificationFailure};
use wechatpay_mock::{Fault, Identities, Server};

const HOUR: Duration = Duration::from_secs(3600);

/// Any signed endpoint that answers 200 and is not `v3/certificates` (so that downloads can be counted).
fn ping(instance: &Builder) -> Result<wechatpay::Response, Error> {
    instance.v3().merchant_service().complaint_notifications().get(())
}

/// A config that trusts only the WeChat Pay public key, with the APIv3 key.
fn public_key_config(server: &Server) -> wechatpay::ConfigBuilder {
    let ids = server.identities();
    Config::builder()
        .mchid(&ids.mchid)
        .serial(&ids.merchant.serial)
        .private_key(PrivateKey::from_pem(&ids.merchant.private_key_pem).unwrap())
        .public_key(&ids.public_key.id, PublicKey::from_pem(&ids.public_key.public_key_pem).unwrap())
        .apiv3_key(&ids.apiv3_key)
        .base_uri(server.base_uri())
}

#[test]
fn a_download_decrypts_verifies_and_adds_the_certificates() {
    let server = common::mock();
    let rotated = server.rotate_platform_certificate().unwrap();
    let instance = Builder::factory(public_key_config(&server)).unwrap();
    let RefreshOutcome::Certificates(listed) = instance.refresh_certificates().unwrap() else { panic!("certificates") };
    let serials: Vec<&str> = listed.iter().map(Certificate::serial_number).collect();
    assert_eq!(serials, [server.identities().platform.serial.as_str(), rotated.serial.as_str()]);
    let keys = instance.config().platform_keys().unwrap();
    assert!(keys.contains(&rotated.serial) && keys.certificate(&rotated.serial).is_some());
    // Answers signed with the downloaded certificate now verify.
    assert_eq!(ping(&instance).unwrap().verified_by(), Some(rotated.serial.as_str()));
}

#[test]
fn a_wrong_apiv3_key_fails_the_download_without_showing_the_key() {
    let server = common::mock();
    let wrong = "0123456789abcdef0123456789abcdef";
    let instance = Builder::factory(public_key_config(&server).apiv3_key(wrong)).unwrap();
    let err = instance.refresh_certificates().unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Crypto { .. }) && message.contains("check the APIv3 key"), "{message}");
    assert!(!message.contains(wrong) && !format!("{err:?}").contains(wrong));
    assert_eq!(instance.config().platform_keys().unwrap().len(), 1, "nothing added");

    let no_key = Builder::factory(common::config(&server)).unwrap();
    let err = no_key.refresh_certificates().unwrap_err();
    assert!(matches!(&err, Error::Config { field, .. } if field == "apiv3Key"), "{err}");
}

#[test]
fn an_answer_not_signed_by_a_listed_certificate_fails_the_download() {
    let server = common::mock();
    let instance = Builder::factory(public_key_config(&server)).unwrap();
    server.faults().next(Fault::TamperedSignature);
    let err = instance.refresh_certificates().unwrap_err();
    assert!(matches!(err, Error::Verification { failure: VerificationFailure::BadSignature, .. }), "{err}");
    assert_eq!(instance.config().platform_keys().unwrap().len(), 1, "nothing added from an unverified answer");
}

#[test]
fn a_merchant_without_platform_certificates_is_in_public_key_mode() {
    let server =
        Server::builder().identities(Identities::shared().unwrap()).public_key_only().start_blocking().unwrap();
    let instance = Builder::factory(public_key_config(&server)).unwrap();
    let outcome = instance.refresh_certificates().unwrap();
    assert!(
        matches!(&outcome, RefreshOutcome::PublicKeyMode { status: 404, code } if code == "RESOURCE_NOT_EXISTS"),
        "{outcome:?}"
    );
    assert_eq!(ping(&instance).unwrap().verified_by(), Some(server.identities().public_key.id.as_str()));

    // 403 and 500 mean the same, as the official SDKs read them.
    let server = common::mock();
    let instance = Builder::factory(public_key_config(&server)).unwrap();
    for status in [403, 500] {
        server.faults().on_route_n("GET", "/v3/certificates", 1, Fault::Status(status));
        let outcome = instance.refresh_certificates().unwrap();
        assert!(matches!(outcome, RefreshOutcome::PublicKeyMode { status: s, .. } if s == status), "{outcome:?}");
    }
    // Other failures are errors.
    server.faults().on_route_n("GET", "/v3/certificates", 1, Fault::Status(502));
    assert!(matches!(instance.refresh_certificates(), Err(Error::Api { status: 502, .. })));
}

#[test]
fn without_auto_refresh_a_rotated_certificate_is_an_unknown_serial() {
    let server = common::mock();
    let instance = common::client(&server);
    let rotated = server.rotate_platform_certificate().unwrap();
    let err = ping(&instance).unwrap_err();
    assert!(
        matches!(&err, Error::Verification { failure: VerificationFailure::UnknownSerial(s), .. } if *s == rotated.serial),
        "{err}"
    );
    assert_eq!(common::certificate_downloads(&server), 0);
}

#[test]
fn an_unknown_serial_downloads_once_and_the_answer_is_verified_again() {
    let server = common::mock();
    let instance = Builder::factory(common::refreshing_config(&server, HOUR)).unwrap();
    assert_eq!(ping(&instance).unwrap().verified_by(), Some(server.identities().platform.serial.as_str()));
    let rotated = server.rotate_platform_certificate().unwrap();
    assert_eq!(ping(&instance).unwrap().verified_by(), Some(rotated.serial.as_str()));
    assert_eq!(common::certificate_downloads(&server), 1);
    assert_eq!(ping(&instance).unwrap().verified_by(), Some(rotated.serial.as_str()));
    assert_eq!(common::certificate_downloads(&server), 1, "known now: no more downloads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_unknown_serials_make_one_download() {
    let server = common::mock();
    let instance = Builder::factory(common::refreshing_config(&server, HOUR)).unwrap();
    let rotated = server.rotate_platform_certificate().unwrap();
    let requests: Vec<_> = (0..100)
        .map(|_| tokio::spawn(instance.v3().merchant_service().complaint_notifications().get_async(())))
        .collect();
    for request in requests {
        let response = request.await.unwrap().expect("verified after the refresh");
        assert_eq!(response.verified_by(), Some(rotated.serial.as_str()));
    }
    assert_eq!(common::certificate_downloads(&server), 1);
}

#[test]
fn unknown_serials_download_at_most_once_per_min_gap() {
    let server = common::mock();
    let instance = Builder::factory(common::refreshing_config(&server, HOUR)).unwrap();
    // Serials WeChat Pay never lists (forged, or a fault): each is refused; only the first one downloads.
    let route = "/v3/merchant-service/complaint-notifications";
    server.faults().on_route_n("GET", route, 3, Fault::UnknownSerial);
    for _ in 0..3 {
        let err = ping(&instance).unwrap_err();
        assert!(matches!(err, Error::Verification { failure: VerificationFailure::UnknownSerial(_), .. }), "{err}");
    }
    assert_eq!(common::certificate_downloads(&server), 1);
    // A real rotation within the gap waits for the gap too: the answer is refused, nothing is downloaded.
    server.rotate_platform_certificate().unwrap();
    assert!(ping(&instance).is_err());
    assert_eq!(common::certificate_downloads(&server), 1);

    // With no gap, every unknown serial downloads.
    let eager = Builder::factory(common::refreshing_config(&server, Duration::ZERO)).unwrap();
    server.faults().on_route_n("GET", route, 2, Fault::UnknownSerial);
    assert!(ping(&eager).is_err() && ping(&eager).is_err());
    assert_eq!(common::certificate_downloads(&server), 3);
}

#[test]
fn certs_may_start_empty_with_auto_refresh() {
    let server = common::mock();
    let ids = server.identities();
    let instance = Builder::factory(json!({
        "mchid": ids.mchid,
        "serial": ids.merchant.serial,
        "privateKey": ids.merchant.private_key_pem,
        "apiv3Key": ids.apiv3_key,
        "autoRefresh": {"interval": null, "minGap": 60},
        "base_uri": server.base_uri(),
    }))
    .unwrap();
    assert!(instance.config().platform_keys().unwrap().is_empty());
    assert_eq!(ping(&instance).unwrap().verified_by(), Some(ids.platform.serial.as_str()));
}

#[test]
fn an_expired_certificate_is_kept_with_its_validity_but_verifies_nothing() {
    let server = common::mock();
    let instance = Builder::factory(common::refreshing_config(&server, Duration::ZERO)).unwrap();
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    let expired = server.add_platform_certificate(now - 400 * 86_400, now - 86_400).unwrap();
    let RefreshOutcome::Certificates(listed) = instance.refresh_certificates().unwrap() else { panic!("listed") };
    assert_eq!(listed.len(), 2, "the listing has the expired certificate too");
    let keys = instance.config().platform_keys().unwrap();
    let kept = keys.certificate(&expired.serial).expect("kept, as a certificate");
    assert!(kept.not_after() < SystemTime::now());
    assert_ne!(keys.encryption_key().map(|(serial, _)| serial), Some(expired.serial.clone()), "never chosen");

    // WeChat Pay never signs with it; if an answer is, it is refused (known serial: no download loop either).
    server.sign_with_platform_certificate(&expired.serial).unwrap();
    for _ in 0..2 {
        let err = ping(&instance).unwrap_err();
        assert!(
            matches!(&err, Error::Verification { failure: VerificationFailure::ExpiredCertificate { serial, .. }, .. } if *serial == expired.serial),
            "{err}"
        );
        assert!(err.to_string().contains("expired at"), "{err}");
    }
    assert_eq!(common::certificate_downloads(&server), 1);

    // A download whose own answer is signed with it is refused as well, and adds nothing.
    let fresh = Builder::factory(public_key_config(&server)).unwrap();
    let err = fresh.refresh_certificates().unwrap_err();
    assert!(
        matches!(err, Error::Verification { failure: VerificationFailure::ExpiredCertificate { .. }, .. }),
        "{err}"
    );
    assert_eq!(fresh.config().platform_keys().unwrap().len(), 1);
}

#[test]
fn builders_for_different_merchants_share_no_refresh_state() {
    let (first, second) = (common::mock(), common::mock());
    let a = Builder::factory(common::refreshing_config(&first, HOUR)).unwrap();
    let b = Builder::factory(common::refreshing_config(&second, HOUR)).unwrap();
    let rotated_a = first.rotate_platform_certificate().unwrap();
    assert_eq!(ping(&a).unwrap().verified_by(), Some(rotated_a.serial.as_str()));
    // B's keys did not change, and A's download does not count against B's gap.
    assert!(!b.config().platform_keys().unwrap().contains(&rotated_a.serial));
    let rotated_b = second.rotate_platform_certificate().unwrap();
    assert_eq!(ping(&b).unwrap().verified_by(), Some(rotated_b.serial.as_str()));
    assert_eq!((common::certificate_downloads(&first), common::certificate_downloads(&second)), (1, 1));
}
