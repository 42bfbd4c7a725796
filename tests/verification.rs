//! Every verification failure and transport fault, injected by wechatpay-mock, becomes its own typed error.

mod common;

use std::time::Duration;

use serde_json::json;
use wechatpay::{Error, VerificationFailure};
use wechatpay_mock::{Fault, SignatureHeader};

fn certificates_with(fault: Fault) -> Result<wechatpay::Response, Error> {
    let server = common::mock();
    let instance = common::client(&server);
    server.faults().next(fault);
    instance.v3().certificates().get(())
}

fn failure_of(result: Result<wechatpay::Response, Error>) -> VerificationFailure {
    match result {
        Err(Error::Verification { failure, request_id, path, .. }) => {
            assert_eq!(path, "/v3/certificates");
            assert!(request_id.is_some(), "the Request-ID is quoted");
            failure
        }
        other => panic!("expected a verification error, got {other:?}"),
    }
}

#[test]
fn a_clean_answer_verifies() {
    let server = common::mock();
    let response = common::client(&server).v3().certificates().get(()).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.verified_by(), Some(server.identities().platform.serial.as_str()));
}

#[test]
fn tampered_signature_is_rejected() {
    assert_eq!(failure_of(certificates_with(Fault::TamperedSignature)), VerificationFailure::BadSignature);
}

#[test]
fn unknown_serial_is_rejected_and_named() {
    match failure_of(certificates_with(Fault::UnknownSerial)) {
        VerificationFailure::UnknownSerial(serial) => assert!(!serial.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn stale_timestamp_is_rejected() {
    match failure_of(certificates_with(Fault::StaleTimestamp)) {
        VerificationFailure::ClockSkew { timestamp, now, max_skew } => {
            assert_eq!(max_skew, 300);
            assert!(now - timestamp > 300);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_missing_header_is_named() {
    for (header, name) in [
        (SignatureHeader::Timestamp, "Wechatpay-Timestamp"),
        (SignatureHeader::Nonce, "Wechatpay-Nonce"),
        (SignatureHeader::Signature, "Wechatpay-Signature"),
        (SignatureHeader::Serial, "Wechatpay-Serial"),
    ] {
        assert_eq!(
            failure_of(certificates_with(Fault::MissingHeader(header))),
            VerificationFailure::MissingHeader(name)
        );
    }
    assert!(matches!(
        failure_of(certificates_with(Fault::MissingSignatureHeaders)),
        VerificationFailure::MissingHeader(_)
    ));
}

#[test]
fn signtest_probe_is_rejected_cleanly() {
    let err = certificates_with(Fault::SignTestProbe).unwrap_err();
    assert!(err.to_string().contains("WECHATPAY/SIGNTEST/"), "{err}");
    assert_eq!(failure_of(Err(err)), VerificationFailure::Probe);
}

#[test]
fn server_errors_are_api_errors_with_code_and_request_id() {
    match certificates_with(Fault::Status(503)) {
        Err(Error::Api { status, code, message, request_id, .. }) => {
            assert_eq!(status, 503);
            assert_eq!(code, "SYSTEM_ERROR");
            assert!(!message.is_empty());
            assert!(request_id.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dropped_connections_and_truncated_bodies_are_transport_errors() {
    for fault in [Fault::DropConnection, Fault::DropAfterProcessing, Fault::TruncatedBody] {
        match certificates_with(fault.clone()) {
            Err(Error::Transport { method, url, reason, .. }) => {
                assert_eq!(method, "GET");
                assert!(url.ends_with("/v3/certificates"));
                // The connection was made: the request may have been processed, so the advice is to query first.
                assert!(reason.contains("query"), "{fault:?}: {reason}");
            }
            other => panic!("{fault:?}: {other:?}"),
        }
    }
}

#[test]
fn a_slow_answer_times_out_per_request_and_per_config() {
    let server = common::mock();
    let instance = common::client(&server);
    server.faults().next(Fault::Delay(Duration::from_secs(3)));
    let err = instance.v3().certificates().get(json!({"timeout": 0.3})).unwrap_err();
    assert!(matches!(err, Error::Timeout { after: Some(after), .. } if after == Duration::from_millis(300)), "{err:?}");
    assert!(err.to_string().contains("query it before retrying"));

    let impatient = wechatpay::Builder::factory(common::config(&server).timeout(Duration::from_millis(300))).unwrap();
    server.faults().next(Fault::Delay(Duration::from_secs(3)));
    assert!(matches!(impatient.v3().certificates().get(()), Err(Error::Timeout { .. })));
    // The next request, without a fault, goes through.
    assert!(impatient.v3().certificates().get(()).is_ok());
}

#[test]
fn answers_signed_with_the_public_key_verify_too() {
    let server = wechatpay_mock::Server::builder()
        .identities(wechatpay_mock::Identities::shared().unwrap())
        .response_signer(wechatpay_mock::ResponseSigner::PublicKey)
        .start_blocking()
        .unwrap();
    let response = common::client(&server).v3().certificates().get(()).unwrap();
    assert_eq!(response.verified_by(), Some(server.identities().public_key.id.as_str()));
}

#[test]
fn a_client_that_only_knows_the_certificate_rejects_public_key_answers() {
    let server = wechatpay_mock::Server::builder()
        .identities(wechatpay_mock::Identities::shared().unwrap())
        .response_signer(wechatpay_mock::ResponseSigner::PublicKey)
        .start_blocking()
        .unwrap();
    let ids = server.identities();
    let instance = wechatpay::Builder::factory(json!({
        "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
        "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    }))
    .unwrap();
    match instance.v3().certificates().get(()) {
        Err(Error::Verification { failure: VerificationFailure::UnknownSerial(serial), .. }) => {
            assert_eq!(serial, ids.public_key.id)
        }
        other => panic!("{other:?}"),
    }
}
