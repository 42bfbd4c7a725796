//! End-to-end cost of one verified request through the chain, against wechatpay-mock on loopback: blocking and
//! async, sequential and concurrent. See BENCHMARKS.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use wechatpay::Builder;
use wechatpay::crypto::{Certificate, PrivateKey, PublicKey};
use wechatpay_mock::{Identities, Server};

fn setup() -> (Server, Builder) {
    let server =
        Server::builder().identities(Identities::shared().expect("identities")).start_blocking().expect("mock");
    let ids = server.identities();
    let config = wechatpay::Config::builder()
        .mchid(&ids.mchid)
        .serial(&ids.merchant.serial)
        .private_key(PrivateKey::from_pem(&ids.merchant.private_key_pem).expect("key"))
        .platform_certificate(Certificate::from_pem(&ids.platform.certificate_pem).expect("certificate"))
        .public_key(&ids.public_key.id, PublicKey::from_pem(&ids.public_key.public_key_pem).expect("public key"))
        .base_uri(server.base_uri());
    let instance = Builder::factory(config).expect("factory");
    (server, instance)
}

fn round_trips(c: &mut Criterion) {
    let (server, instance) = setup();
    let no = "benchbill0001";
    instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills"]
        .post(json!({"json": {
            "appid": "102022609", "out_bill_no": no, "transfer_scene_id": "1401",
            "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "注册会员有礼"}],
            "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 400, "transfer_remark": "bench",
        }}))
        .expect("bill created");
    let bill = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills()._out_bill_no_();

    let mut group = c.benchmark_group("client");
    group
        .bench_function("blocking_get_round_trip", |b| b.iter(|| bill.get(json!({"out_bill_no": no})).expect("query")));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    group.bench_function("async_get_round_trip", |b| {
        b.to_async(&runtime).iter(|| async { bill.get_async(json!({"out_bill_no": no})).await.expect("query") })
    });
    group.throughput(Throughput::Elements(16));
    group.bench_function("async_16_concurrent", |b| {
        b.to_async(&runtime).iter(|| async {
            let tasks: Vec<_> = (0..16).map(|_| tokio::spawn(bill.get_async(json!({"out_bill_no": no})))).collect();
            for task in tasks {
                task.await.expect("joined").expect("query");
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("client_prepare");
    group.bench_function("url_expansion_index", |b| {
        b.iter(|| {
            instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel"]
                .url(json!({"out_bill_no": no}))
        })
    });
    group.bench_function("accessor_walk", |b| {
        b.iter(|| {
            instance
                .v3()
                .fund_app()
                .mch_transfer()
                .transfer_to_qq_wallet_bills()
                ._out_bill_no_()
                .cancel()
                .template()
                .len()
        })
    });
    group.finish();
    drop(server);
}

criterion_group!(benches, round_trips);
criterion_main!(benches);
