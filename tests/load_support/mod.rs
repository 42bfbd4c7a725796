//! The load test: `requests` verified round trips from 64 async tasks and 8 blocking threads sharing one Builder,
//! against wechatpay-mock on loopback; then the Builder is dropped and the process must have no more file
//! descriptors or threads than before it was made. Shared by `tests/load.rs` (2,000 requests, in CI) and
//! `benches/load.rs` (100,000 requests, on demand: `cargo bench --bench load`).

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use wechatpay::Builder;
use wechatpay::crypto::{Certificate, PrivateKey, PublicKey};
use wechatpay_mock::{Identities, Server};

/// The async tasks and the blocking threads that share the Builder.
pub const TASKS: usize = 64;
pub const THREADS: usize = 8;

/// What a run did.
#[derive(Debug)]
pub struct Report {
    pub requests: usize,
    pub errors: usize,
    /// The first few errors, as text.
    pub first_errors: Vec<String>,
    pub elapsed: Duration,
    /// How long after the Builder was dropped its threads and connections were gone.
    pub settled: Duration,
    /// Open file descriptors before the Builder was made, at the peak, and after it was dropped.
    pub fds: (usize, usize, usize),
    /// The SDK's threads (`wechatpay-io`) at the peak and after the Builder was dropped.
    pub sdk_threads: (usize, usize),
    /// All the process's threads before, at the peak and after (the in-process simulator's idle threads linger
    /// for Tokio's 10 s keep-alive: waited for only when asked).
    pub threads: (usize, usize, usize),
}

/// Open file descriptors of this process (Linux; 0 elsewhere).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |entries| entries.count())
}

/// Threads of this process (Linux; 0 elsewhere).
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |entries| entries.count())
}

/// Threads of the SDK's own I/O runtime, by their name (Linux; 0 elsewhere).
pub fn sdk_threads() -> usize {
    let Ok(entries) = std::fs::read_dir("/proc/self/task") else { return 0 };
    entries
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("wechatpay-io"))
        .count()
}

fn builder(server: &Server) -> Builder {
    let ids = server.identities();
    // The fastest RSA backend compiled in signs: the load is about connections, threads and sharing, which do not
    // depend on the backend, and the pure-Rust one is slow in debug builds (CI's second run selects it).
    let fastest = wechatpay::crypto::Backend::available()[0];
    let key = PrivateKey::from_pem(&ids.merchant.private_key_pem).expect("merchant key");
    let config = wechatpay::Config::builder()
        .mchid(&ids.mchid)
        .serial(&ids.merchant.serial)
        .private_key(key.with_backend(fastest).expect("the fastest backend"))
        .platform_certificate(Certificate::from_pem(&ids.platform.certificate_pem).expect("platform certificate"))
        .public_key(&ids.public_key.id, PublicKey::from_pem(&ids.public_key.public_key_pem).expect("public key"))
        .base_uri(server.base_uri());
    Builder::factory(config).expect("factory")
}

/// The body of request number `n` when it is a write: one request in four creates a transfer (a signed POST with
/// a body); the others query the platform certificates (a signed GET whose answer carries a certificate).
fn body(n: usize) -> serde_json::Value {
    json!({"json": {
        "appid": "102022609", "out_bill_no": format!("LOAD{n:08}"), "transfer_scene_id": "1401",
        "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "注册会员有礼"}],
        "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 400, "transfer_remark": "load",
    }})
}

/// Runs the load: `requests` in all, shared by [`TASKS`] tasks and [`THREADS`] threads.
/// With `settle_all_threads`, it also waits (up to 20 s) for the simulator's idle threads to end.
pub fn run(requests: usize, settle_all_threads: bool) -> Report {
    let server =
        Server::builder().identities(Identities::shared().expect("identities")).start_blocking().expect("mock");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("caller runtime");
    // Warm what lives as long as the process (the mock's listener, the caller's runtime), then measure.
    std::thread::sleep(Duration::from_millis(100));
    let (fds_before, threads_before) = (open_fds(), threads());

    let instance = Arc::new(builder(&server));
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let take = {
        let next = Arc::clone(&next);
        move || Some(next.fetch_add(1, Ordering::Relaxed)).filter(|n| *n < requests)
    };
    let record = {
        let errors = Arc::clone(&errors);
        move |err: wechatpay::Error| errors.lock().unwrap().push(err.to_string())
    };

    // The peak is sampled after every 100th request, by whichever caller made it: blocking threads and async tasks
    // run at different speeds, so neither kind alone is sure to see the connections open.
    let peak = Arc::new(std::sync::Mutex::new((0usize, 0usize, 0usize)));
    let sample = {
        let peak = Arc::clone(&peak);
        move |n: usize| {
            if n % 100 == 50 {
                let mut peak = peak.lock().unwrap();
                *peak = (peak.0.max(open_fds()), peak.1.max(threads()), peak.2.max(sdk_threads()));
            }
        }
    };

    let blocking: Vec<_> = (0..THREADS)
        .map(|_| {
            let (instance, take, record, sample) =
                (Arc::clone(&instance), take.clone(), record.clone(), sample.clone());
            std::thread::spawn(move || {
                while let Some(n) = take() {
                    let outcome = if n % 4 == 0 {
                        instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills().post(body(n))
                    } else {
                        instance.v3().certificates().get(())
                    };
                    if let Err(err) = outcome {
                        record(err);
                    }
                    sample(n);
                }
            })
        })
        .collect();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (instance, take, record, sample) =
                    (Arc::clone(&instance), take.clone(), record.clone(), sample.clone());
                tokio::spawn(async move {
                    while let Some(n) = take() {
                        let outcome = if n % 4 == 0 {
                            instance
                                .v3()
                                .fund_app()
                                .mch_transfer()
                                .transfer_to_qq_wallet_bills()
                                .post_async(body(n))
                                .await
                        } else {
                            instance.v3().certificates().get_async(()).await
                        };
                        if let Err(err) = outcome {
                            record(err);
                        }
                        sample(n);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a load task");
        }
    });
    for thread in blocking {
        thread.join().expect("a load thread");
    }
    let elapsed = started.elapsed();
    // Once more with every caller done: the pools' idle connections and the SDK's threads live until the drop.
    sample(50);

    drop(instance);
    let dropped = Instant::now();
    // The SDK's runtime shuts down in the background and the simulator closes its ends of the connections as they
    // close: wait for both to settle (a bounded wait for a condition, not a timing assertion).
    let deadline = Instant::now() + Duration::from_secs(20);
    let unsettled =
        || open_fds() > fds_before || sdk_threads() > 0 || (settle_all_threads && threads() > threads_before);
    while unsettled() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (fds_after, threads_after, sdk_threads_after) = (open_fds(), threads(), sdk_threads());
    let settled = dropped.elapsed();
    let first_errors = errors.lock().unwrap().iter().take(5).cloned().collect();
    let error_count = errors.lock().unwrap().len();
    let peak = *peak.lock().unwrap();
    drop(runtime);
    drop(server);
    Report {
        requests,
        errors: error_count,
        first_errors,
        elapsed,
        settled,
        fds: (fds_before, peak.0, fds_after),
        sdk_threads: (peak.2, sdk_threads_after),
        threads: (threads_before, peak.1, threads_after),
    }
}
