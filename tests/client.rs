//! The client against wechatpay-mock: options, the signed bytes, the runtime model, keep-alive, custom signers,
//! media uploads, sensitive fields and bill downloads.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use wechatpay::crypto::{Certificate, Rsa};
use wechatpay::{Builder, Error, MediaUpload, Options, RsaSigner, SignFuture, Signer};

#[test]
fn query_and_path_variables_are_sent_encoded_and_signed_as_sent() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("Mixed Case/");
    // The out_bill_no has a space and a slash: both must be percent-encoded, and the case kept.
    let err = instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}"]
        .get(json!({"out_bill_no": no, "query": {"note": "a b&c", "n": 1}}))
        .unwrap_err();
    // The mock checked our signature over the exact target; the bill does not exist, so 404 (not 401).
    assert!(matches!(err, Error::Api { status: 404, .. }), "{err:?}");
    let sent = server.last_request().unwrap();
    let encoded = no.replace(' ', "%20").replace('/', "%2F");
    assert_eq!(
        sent.target,
        format!("/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{encoded}?note=a%20b%26c&n=1")
    );
}

#[test]
fn placeholders_fall_back_to_top_level_json_fields() {
    let server = common::mock();
    let instance = common::client(&server);
    let no = common::bill_no("jsonvar");
    common::create_transfer(&instance, &no);
    // No out_bill_no option: it is taken from the json body, which is then sent.
    let answer: Value = instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel"]
        .post(json!({"json": {"out_bill_no": no}}))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(answer["out_bill_no"], no.as_str());
    let sent = server.last_request().unwrap();
    assert_eq!(sent.body, serde_json::to_vec(&json!({"out_bill_no": no})).unwrap());
    assert_eq!(header(&sent, "Content-Type"), Some("application/json"));
    assert_eq!(header(&sent, "Accept"), Some("application/json"));
    assert!(header(&sent, "User-Agent").is_some_and(|agent| agent.starts_with("wechatpay-sdk-rust/")));
}

#[test]
fn typed_options_send_the_same_request() {
    let server = common::mock();
    let instance = common::client(&server);
    #[derive(serde::Serialize)]
    struct Transfer<'a> {
        appid: &'a str,
        out_bill_no: &'a str,
        transfer_scene_id: &'a str,
        transfer_scene_report_infos: Vec<Info<'a>>,
        openid: &'a str,
        transfer_amount: u64,
        transfer_remark: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Info<'a> {
        info_type: &'a str,
        info_content: &'a str,
    }
    let no = common::bill_no("typed");
    let request = Transfer {
        appid: "102022609",
        out_bill_no: &no,
        transfer_scene_id: "1401",
        transfer_scene_report_infos: vec![Info { info_type: "活动名称", info_content: "注册会员有礼" }],
        openid: "o-MYE42l80oelYMDE34nYD456Xoy",
        transfer_amount: 400,
        transfer_remark: "2020年4月报销",
    };
    let created: Value = instance
        .v3()
        .fund_app()
        .mch_transfer()
        .transfer_to_qq_wallet_bills()
        .post(Options::new().json(&request))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(created["out_bill_no"], no.as_str());
    let cancelled: Value = instance
        .v3()
        .fund_app()
        .mch_transfer()
        .transfer_to_qq_wallet_bills()
        ._out_bill_no_()
        .cancel()
        .post(Options::new().var("out_bill_no", &no))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(cancelled["state"], "CANCELING");
}

#[test]
fn option_mistakes_are_errors_that_say_what_to_do() {
    let server = common::mock();
    let instance = common::client(&server);
    let cancel = &instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel"];
    let err = cancel.post(json!({"out_bill_no": "x", "jsno": {"a": 1}})).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("jsno") && message.contains("json, query, headers") && message.contains("out_bill_no"),
        "{message}"
    );
    let err = cancel.post(json!({"json": {}})).unwrap_err();
    assert!(matches!(err, Error::Template { .. }) && err.to_string().contains("{out_bill_no}"), "{err}");
    let err = cancel.post(json!({"out_bill_no": ""})).unwrap_err();
    assert!(err.to_string().contains("another resource"), "{err}");
    let err = cancel.post(json!({"out_bill_no": ".."})).unwrap_err();
    assert!(matches!(err, Error::Template { .. }), "{err}");
    let err = cancel.post(json!({"out_bill_no": "x", "headers": {"Authorization": "mine"}})).unwrap_err();
    assert!(err.to_string().contains("Authorization"), "{err}");
    let err = cancel.post(json!({"out_bill_no": "x", "json": {}, "body": "raw"})).unwrap_err();
    assert!(err.to_string().contains("either"), "{err}");
    let err = cancel.post(json!({"out_bill_no": "x", "xml": {}})).unwrap_err();
    assert!(err.to_string().contains("APIv2"), "{err}");
    // APIv2 without the APIv2 key configured.
    let err = instance.v2().pay().micropay().post(json!({"xml": {"body": "x"}})).unwrap_err();
    assert!(matches!(err, Error::Config { ref field, .. } if field == "secret"), "{err:?}");
    // Nothing of this reached the server.
    assert_eq!(server.requests_served(), 0);
}

#[test]
fn the_mock_rejects_a_request_whose_body_differs_from_what_was_signed() {
    // A signer that signs a different body than the one sent: WeChat (and the mock) answer 401 SIGN_ERROR.
    struct WrongBody(RsaSigner);
    impl Signer for WrongBody {
        fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
            let mut altered = message.to_vec();
            let at = altered.len() - 2;
            altered[at] ^= 1;
            Box::pin(async move { self.0.sign(&altered).await })
        }
    }
    let server = common::mock();
    let key = wechatpay::crypto::PrivateKey::from_pem(&server.identities().merchant.private_key_pem).unwrap();
    let instance = Builder::factory(common::config(&server).signer(WrongBody(RsaSigner::new(key)))).unwrap();
    match instance.v3().certificates().get(()) {
        Err(Error::Api { status: 401, code, .. }) => assert_eq!(code, "SIGN_ERROR"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_async_signer_is_awaited() {
    struct Remote {
        inner: RsaSigner,
        calls: Arc<AtomicUsize>,
    }
    impl Signer for Remote {
        fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                self.calls.fetch_add(1, Ordering::SeqCst);
                self.inner.sign(message).await
            })
        }
    }
    let server = common::mock();
    let calls = Arc::new(AtomicUsize::new(0));
    let key = wechatpay::crypto::PrivateKey::from_pem(&server.identities().merchant.private_key_pem).unwrap();
    let signer = Remote { inner: RsaSigner::new(key), calls: Arc::clone(&calls) };
    let instance = Builder::factory(common::config(&server).signer(signer)).unwrap();
    instance.v3().certificates().get(()).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Runs `call` on a thread of its own and waits at most a minute for it: a hang fails the test instead of CI.
fn within_a_minute<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    receiver.recv_timeout(Duration::from_secs(60)).expect("the call hung")
}

#[test]
fn a_signer_with_connections_of_its_own_works_for_blocking_and_async_calls_in_turn() {
    // A remote signing service reached through one pooled client: its connection must not be left on a runtime
    // that stops running when the blocking call returns.
    struct Remote {
        http: reqwest::Client,
        url: String,
        inner: RsaSigner,
    }
    impl Signer for Remote {
        fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
            Box::pin(async move {
                let asked = self.http.get(&self.url).send().await;
                assert!(asked.is_ok(), "the signing service was reached: {asked:?}");
                self.inner.sign(message).await
            })
        }
    }
    let server = common::mock();
    let key = wechatpay::crypto::PrivateKey::from_pem(&server.identities().merchant.private_key_pem).unwrap();
    let remote = Remote {
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        url: format!("{}v3/certificates", server.base_uri()),
        inner: RsaSigner::new(key),
    };
    let instance = Builder::factory(common::config(&server).signer(remote)).unwrap();
    let statuses = within_a_minute(move || {
        let blocking = instance.v3().certificates().get(()).map(|r| r.status().as_u16());
        let waited = instance.v3().certificates().get_async(()).wait().map(|r| r.status().as_u16());
        let again = instance.v3().certificates().get(()).map(|r| r.status().as_u16());
        (blocking, waited, again)
    });
    assert!(matches!(statuses, (Ok(200), Ok(200), Ok(200))), "{statuses:?}");
}

#[test]
fn a_signer_that_never_answers_is_bounded_by_the_request_timeout() {
    struct Hanging;
    impl Signer for Hanging {
        fn sign<'a>(&'a self, _message: &'a [u8]) -> SignFuture<'a> {
            Box::pin(std::future::pending())
        }
    }
    let server = common::mock();
    let instance = Builder::factory(common::config(&server).signer(Hanging)).unwrap();
    let async_instance = instance.clone();
    let outcome = within_a_minute(move || {
        let blocking = instance.v3().certificates().get(Options::new().timeout(Duration::from_millis(200)));
        let waited = async_instance.v3().certificates().get_async(Options::new().timeout(Duration::from_millis(200)));
        (blocking, waited.wait())
    });
    for result in [outcome.0, outcome.1] {
        let err = result.unwrap_err();
        assert!(
            matches!(err, Error::Timeout { after: Some(after), .. } if after == Duration::from_millis(200)),
            "{err:?}"
        );
    }
}

#[test]
fn a_blocking_call_from_inside_the_sdks_own_threads_is_an_error_not_a_deadlock() {
    struct Reentrant(std::sync::OnceLock<Builder>, RsaSigner);
    impl Signer for Reentrant {
        fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
            Box::pin(async move {
                if let Some(instance) = self.0.get() {
                    let err = instance.v3().certificates().get(()).unwrap_err();
                    assert!(matches!(err, Error::Runtime { .. }), "{err:?}");
                }
                self.1.sign(message).await
            })
        }
    }
    let server = common::mock();
    let key = wechatpay::crypto::PrivateKey::from_pem(&server.identities().merchant.private_key_pem).unwrap();
    let signer = Arc::new(Reentrant(std::sync::OnceLock::new(), RsaSigner::new(key)));
    struct Shared(Arc<Reentrant>);
    impl Signer for Shared {
        fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
            self.0.sign(message)
        }
    }
    let instance = Builder::factory(common::config(&server).signer(Shared(Arc::clone(&signer)))).unwrap();
    let _ = signer.0.set(instance.clone());
    instance.v3().certificates().get(()).unwrap();
}

#[test]
fn blocking_verbs_work_inside_async_runtimes() {
    let server = common::mock();
    let instance = common::client(&server);
    let current = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = current.block_on(async { instance.v3().certificates().get(()).map(|r| r.status()) }).unwrap();
    assert_eq!(status, 200);
    let multi = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let status = multi.block_on(async { instance.v3().certificates().get(()).map(|r| r.status()) }).unwrap();
    assert_eq!(status, 200);
}

#[test]
fn async_futures_run_on_any_executor_and_a_builder_drops_inside_async_code() {
    let server = common::mock();
    let config = common::config(&server).build().unwrap();
    // A minimal executor that is not Tokio: the future does not need the caller's runtime.
    let response = block_on_without_tokio(Builder::factory(config.clone()).unwrap().v3().certificates().get_async(()));
    assert_eq!(response.unwrap().status(), 200);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let instance = Builder::factory(config).unwrap();
        assert!(instance.v3().certificates().get_async(()).await.is_ok());
        drop(instance); // shuts the I/O runtime down in the background: no panic inside async code
    });
}

fn block_on_without_tokio<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Thread(std::thread::Thread);
    impl Wake for Thread {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Thread(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[test]
fn connections_are_kept_alive_across_many_requests() {
    let server = common::mock();
    let instance = Builder::factory(common::config(&server).io_threads(2)).unwrap();
    for _ in 0..40 {
        instance.v3().certificates().get(()).unwrap();
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for _ in 0..40 {
            instance.v3().certificates().get_async(()).await.unwrap();
        }
    });
    assert_eq!(server.requests_served(), 80);
    assert!(
        server.connections_accepted() <= 2,
        "{} connections for 80 sequential requests",
        server.connections_accepted()
    );
}

#[test]
fn concurrent_requests_share_the_pool() {
    let server = common::mock();
    let instance = Arc::new(common::client(&server));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..32).map(|_| tokio::spawn(instance.v3().certificates().get_async(()))).collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().status(), 200);
        }
    });
    assert_eq!(server.requests_served(), 32);
    // The connections the burst opened stay in the pool: sequential calls reuse them.
    let opened = server.connections_accepted();
    runtime.block_on(async {
        for _ in 0..8 {
            instance.v3().certificates().get_async(()).await.unwrap();
        }
    });
    assert_eq!(server.connections_accepted(), opened, "pooled connections were not reused");
    // The blocking verbs run on the calling thread with a pool of their own (a connection belongs to the runtime
    // that opened it): one more connection, reused by every blocking call after it.
    for _ in 0..8 {
        instance.v3().certificates().get(()).unwrap();
    }
    assert_eq!(server.connections_accepted(), opened + 1, "the blocking verbs' connection was not reused");
}

#[test]
fn dropping_a_future_or_the_builder_mid_request_is_clean() {
    let server = common::mock();
    let instance = common::client(&server);
    server.faults().next_n(2, wechatpay_mock::Fault::Delay(Duration::from_millis(500)));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        // Dropping the future cancels the request on the SDK's runtime.
        let pending = instance.v3().certificates().get_async(());
        assert!(tokio::time::timeout(Duration::from_millis(50), pending).await.is_err());
        // Dropping the Builder while its request runs: the future still resolves, to an answer or a clear error.
        let future = instance.v3().certificates().get_async(());
        drop(instance);
        match future.await {
            Ok(response) => assert_eq!(response.status(), 200),
            Err(err) => assert!(matches!(err, Error::Runtime { .. } | Error::Transport { .. }), "{err:?}"),
        }
    });
}

#[test]
fn blocking_verbs_from_many_threads_at_once_all_complete_on_shared_connections() {
    // The blocking verbs drive one runtime from the calling threads: one thread runs the connections while the
    // others wait for their answers.
    let server = common::mock();
    let instance = common::client(&server);
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                for _ in 0..5 {
                    assert_eq!(instance.v3().certificates().get(()).unwrap().status(), 200);
                }
            });
        }
    });
    assert_eq!(server.requests_served(), 30);
    // A thread waiting for a connection may open one while another frees up: a few spare ones at most.
    let opened = server.connections_accepted();
    assert!(opened <= 12, "{opened} connections for 6 threads");
    for _ in 0..5 {
        instance.v3().certificates().get(()).unwrap();
    }
    assert_eq!(server.connections_accepted(), opened, "pooled connections were not reused");
}

#[test]
fn a_panicking_signer_is_an_error_and_the_next_blocking_call_works() {
    struct PanicsOnce(RsaSigner, AtomicUsize);
    impl Signer for PanicsOnce {
        fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
            if self.1.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("a signer bug");
            }
            self.0.sign(message)
        }
    }
    let server = common::mock();
    let key = wechatpay::crypto::PrivateKey::from_pem(&server.identities().merchant.private_key_pem).unwrap();
    let instance =
        Builder::factory(common::config(&server).signer(PanicsOnce(RsaSigner::new(key), AtomicUsize::new(0)))).unwrap();
    let err = instance.v3().certificates().get(()).unwrap_err();
    assert!(matches!(err, Error::Runtime { ref reason } if reason.contains("panicked")), "{err:?}");
    assert_eq!(instance.v3().certificates().get(()).unwrap().status(), 200);
}

#[test]
fn a_pooled_connection_the_server_closed_between_blocking_calls_is_replaced() {
    // Between blocking calls nothing reads the idle pooled connections, so a connection the server closed
    // meanwhile is only noticed by the next call, which must still get through (on a new connection).
    let identities = wechatpay_mock::Identities::shared().unwrap();
    let first = wechatpay_mock::Server::builder().identities(identities.clone()).start_blocking().unwrap();
    let addr = first.local_addr();
    let instance = common::client(&first);
    assert_eq!(instance.v3().certificates().get(()).unwrap().status(), 200);
    drop(first);
    let second = wechatpay_mock::Server::builder().identities(identities).listen(addr).start_blocking().unwrap();
    assert_eq!(instance.v3().certificates().get(()).unwrap().status(), 200);
    assert_eq!(instance.v3().certificates().get(()).unwrap().status(), 200);
    assert_eq!(second.connections_accepted(), 1);
}

#[test]
fn a_future_polled_after_completion_errs_instead_of_panicking() {
    use std::task::{Context, Poll, Waker};
    let server = common::mock();
    let instance = common::client(&server);
    let mut future = Box::pin(instance.v3().certificates().get_async(()));
    let mut context = Context::from_waker(Waker::noop());
    let first = loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => break output,
            Poll::Pending => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    assert!(first.is_ok());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(Err(Error::Runtime { .. })) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn transport_errors_say_whether_the_request_may_have_been_processed() {
    let server = common::mock();
    let instance = common::client(&server);
    for fault in [wechatpay_mock::Fault::DropAfterProcessing, wechatpay_mock::Fault::TruncatedBody] {
        server.faults().next(fault.clone());
        match instance.v3().certificates().get(()) {
            Err(Error::Transport { reason, .. }) => {
                assert!(reason.contains("may have reached WeChat Pay"), "{fault:?}: {reason}")
            }
            other => panic!("{fault:?}: {other:?}"),
        }
    }
    // Nothing listens on the port of a stopped server: the request was never sent, so it is safe to retry.
    let base = server.base_uri().to_owned();
    drop(server);
    let unreachable = Builder::factory(common::php_config_for(&base)).unwrap();
    match unreachable.v3().certificates().get(()) {
        Err(Error::Transport { reason, .. }) => assert!(reason.contains("not sent"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn json_null_means_no_body_as_in_guzzle() {
    let server = common::mock();
    let instance = common::client(&server);
    instance.v3().certificates().get(json!({"json": null})).unwrap();
    let sent = server.last_request().unwrap();
    assert!(sent.body.is_empty());
    assert_eq!(header(&sent, "Content-Type"), None);
}

#[test]
fn the_merchant_serial_is_sent_in_upper_case() {
    let server = common::mock();
    let lower = server.identities().merchant.serial.to_ascii_lowercase();
    let instance = Builder::factory(common::config(&server).serial(lower)).unwrap();
    instance.v3().certificates().get(()).unwrap();
    let sent = server.last_request().unwrap();
    let authorization = header(&sent, "Authorization").unwrap();
    assert!(
        authorization.contains(&format!("serial_no=\"{}\"", server.identities().merchant.serial)),
        "{authorization}"
    );
}

#[test]
fn media_upload_signs_the_meta_only() {
    let server = common::mock();
    let instance = common::client(&server);
    let media = MediaUpload::new("logo.png", b"\x89PNG\r\n\x1a\n not really a picture".to_vec());
    let answer: Value =
        instance.v3().merchant().media().upload().post(Options::new().media(media.clone())).unwrap().json().unwrap();
    assert!(answer["media_id"].as_str().is_some_and(|id| !id.is_empty()), "{answer}");
    let sent = server.last_request().unwrap();
    assert!(header(&sent, "Content-Type").is_some_and(|ct| ct.starts_with("multipart/form-data; boundary=")));
    assert_eq!(sent.body, media.to_body().unwrap());
}

#[test]
fn sensitive_fields_are_encrypted_for_the_key_named_in_wechatpay_serial() {
    let server = common::mock();
    let instance = common::client(&server);
    let ids = server.identities();
    let platform = Certificate::from_pem(&ids.platform.certificate_pem).unwrap();
    let no = common::bill_no("sensitive");
    let mut body = common::transfer_request(&no);
    body["user_name"] = json!(Rsa::encrypt("张三", platform.public_key()).unwrap());
    let created = instance
        .v3()
        .fund_app()
        .mch_transfer()
        .transfer_to_qq_wallet_bills()
        .post(json!({"json": body, "headers": {"Wechatpay-Serial": platform.serial_number()}}));
    assert!(created.is_ok(), "{created:?}");
    // Encrypted for the platform certificate but announced as the public key: WeChat cannot decrypt it.
    let mut body = common::transfer_request(&common::bill_no("sensitive"));
    body["user_name"] = json!(Rsa::encrypt("张三", platform.public_key()).unwrap());
    let err = instance
        .v3()
        .fund_app()
        .mch_transfer()
        .transfer_to_qq_wallet_bills()
        .post(json!({"json": body, "headers": {"Wechatpay-Serial": ids.public_key.id}}))
        .unwrap_err();
    assert!(matches!(err, Error::Api { status: 400, .. }), "{err:?}");
}

#[test]
fn bill_files_are_downloaded_unsigned_and_match_their_hash() {
    use sha1::{Digest, Sha1};
    let server = common::mock();
    let instance = common::client(&server);
    let bill: Value =
        instance.v3().bill().tradebill().get(json!({"query": {"bill_date": "2024-01-02"}})).unwrap().json().unwrap();
    let url = bill["download_url"].as_str().unwrap();
    let token = url.split("token=").nth(1).unwrap();
    let file = instance.v3().billdownload().file().get(json!({"query": {"token": token}})).unwrap();
    assert_eq!(file.verified_by(), None, "bill files are not signed");
    let digest: String = Sha1::digest(file.bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(digest, bill["hash_value"].as_str().unwrap().to_ascii_lowercase());
}

#[test]
fn every_catalog_endpoint_reaches_the_simulator() {
    // Not a 404: the simulator knows every path the accessors build (it answers 200, or 400 for missing fields).
    let server = common::mock();
    let instance = common::client(&server);
    let mut reached = 0;
    for line in include_str!("fixtures/catalog/endpoints-v3.tsv").lines().filter(|l| !l.trim().is_empty()) {
        let (method, path) = line.split_once('\t').unwrap();
        let path = path.trim().trim_start_matches('/');
        let mut options = serde_json::Map::new();
        for name in path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))) {
            options.insert(name.to_owned(), json!(format!("x{name}")));
        }
        let method: wechatpay::Method = method.parse().unwrap();
        match instance.chain(path).request(method.clone(), Value::Object(options)) {
            Ok(_) => {}
            Err(Error::Api { status, code, .. }) => {
                assert!(status != 404 || code != "NOT_FOUND" || is_stateful(path), "{method} {path}: {status} {code}");
                assert_ne!(status, 401, "{method} {path}: the simulator refused our signature");
            }
            Err(other) => panic!("{method} {path}: {other}"),
        }
        reached += 1;
    }
    assert_eq!(reached, 1023);
}

/// The simulator's stateful endpoints answer 404 for ids they never issued, as WeChat does; every other path is
/// answered from the catalog and must never be a 404.
fn is_stateful(path: &str) -> bool {
    [
        "v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}",
        "v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel",
        "v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}",
        "v3/fund-app/mch-transfer/transfer-bills/transfer-bill-no/{transfer_bill_no}",
        "v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel",
        "v3/pay/transactions/id/{transaction_id}",
        "v3/pay/transactions/out-trade-no/{out_trade_no}",
        "v3/pay/transactions/out-trade-no/{out_trade_no}/close",
        "v3/refund/domestic/refunds/{out_refund_no}",
    ]
    .contains(&path)
}

fn header<'a>(request: &'a wechatpay_mock::RawRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}
