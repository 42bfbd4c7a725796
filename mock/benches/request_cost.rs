//! The simulator's CPU cost per request, next to its floor: one RSA-2048 verify (the request) plus one
//! RSA-2048 sign (the answer).
//!
//! Client-side signing is done in the untimed setup of each batch, so `dispatch/*` measures only the
//! simulator's own work (checks, routing, state, JSON, answer signature).

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;
use wechatpay_mock::{Identities, RawRequest, Server};

fn signed(client: &common::Client, method: &str, target: &str, body: &[u8]) -> RawRequest {
    RawRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: vec![
            ("authorization".to_owned(), client.authorization(method, target, body)),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("accept".to_owned(), "application/json".to_owned()),
        ],
        body: body.to_vec(),
    }
}

fn bench(c: &mut Criterion) {
    let ids = Identities::generate().expect("identities");
    let server = Server::builder().identities(ids.clone()).start_blocking().expect("server");
    let client = common::Client::new(&server);

    // The floor: one verify with a parsed public key and one sign, as the simulator does per request.
    let merchant = KeyPair::from_pkcs8(&common::pem_der(&ids.merchant.private_key_pem)).expect("key");
    let platform = KeyPair::from_pkcs8(&common::pem_der(&ids.platform.private_key_pem)).expect("key");
    let (_, merchant_spki) = common::cert_info(&ids.merchant.certificate_pem);
    let verifier = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &merchant_spki).expect("spki");
    let message = b"GET\n/v3/pay/transactions/out-trade-no/BENCH?mchid=1900000109\n1700000000\nNONCE\n\n";
    let mut request_sig = vec![0u8; merchant.public_modulus_len()];
    merchant.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut request_sig).expect("sign");
    c.bench_function("floor/rsa2048_verify_plus_sign", |b| {
        let rng = SystemRandom::new();
        let mut sig = vec![0u8; platform.public_modulus_len()];
        b.iter(|| {
            verifier.verify_sig(black_box(message), black_box(&request_sig)).expect("verifies");
            platform.sign(&RSA_PKCS1_SHA256, &rng, black_box(message), &mut sig).expect("signs");
        });
    });

    // A real query against state.
    let order = json!({
        "appid": "wxd678efh567hg6787", "mchid": ids.mchid, "description": "bench", "out_trade_no": "BENCH",
        "notify_url": "https://example.invalid/n", "amount": { "total": 1 },
    });
    let body = serde_json::to_vec(&order).expect("json");
    let created = server.dispatch(&signed(&client, "POST", "/v3/pay/transactions/native", &body));
    assert_eq!(created.status, 200);
    let query = format!("/v3/pay/transactions/out-trade-no/BENCH?mchid={}", ids.mchid);
    c.bench_function("dispatch/query_order", |b| {
        b.iter_batched(
            || signed(&client, "GET", &query, b""),
            |req| {
                let answer = server.dispatch(&req);
                assert_eq!(answer.status, 200);
                answer
            },
            BatchSize::SmallInput,
        );
    });

    // A create with a JSON body (a new out_bill_no each time).
    let mut n = 0u64;
    c.bench_function("dispatch/create_qq_transfer", |b| {
        b.iter_batched(
            || {
                n += 1;
                let body = serde_json::to_vec(&json!({
                    "appid": "102022609", "out_bill_no": format!("bench{n}"), "transfer_scene_id": "1401",
                    "transfer_scene_report_infos": [{ "info_type": "a", "info_content": "b" }],
                    "openid": "o-x", "transfer_amount": 1, "transfer_remark": "r",
                }))
                .expect("json");
                signed(&client, "POST", "/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills", &body)
            },
            |req| {
                let answer = server.dispatch(&req);
                assert_eq!(answer.status, 200);
                answer
            },
            BatchSize::SmallInput,
        );
    });

    // The whole loop over loopback HTTP with keep-alive (client signing and verification included).
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    c.bench_function("http/query_order_round_trip", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let answer = client.call("GET", &query, None).await;
                assert_eq!(answer.status, 200);
                common::verify(&ids, &answer.headers, &answer.body).expect("verifies");
            })
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
