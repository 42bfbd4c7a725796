//! A dropped server leaves nothing running: its runtime's workers, blocking threads and timers all end.
//! (Its own test binary, so that no other test's server is counted.)
#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::{Client, ids};
use serde_json::json;
use wechatpay_mock::Server;

/// The threads of this process that belong to a simulator (they are all named `wechatpay-mock...`).
fn simulator_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("wechatpay-mock"))
        .count()
}

#[test]
fn dropping_a_server_with_pending_timers_ends_every_thread() {
    assert_eq!(simulator_threads(), 0, "no simulator before the test");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    for round in 0..3 {
        let server = Server::builder()
            .identities(ids())
            .auto_pay(Some(Duration::from_secs(3600)))
            .auto_advance(Some(Duration::from_secs(3600)))
            .auto_notify(true)
            .start_blocking()
            .expect("server");
        // Objects that are due in an hour: the timer task is asleep waiting for them.
        let c = Client::new(&server);
        let order = json!({
            "appid": "wxd678efh567hg6787", "mchid": c.ids.mchid, "description": "d", "out_trade_no": format!("S{round}"),
            "notify_url": "http://127.0.0.1:9/", "amount": { "total": 1 },
        });
        let prepay = runtime.block_on(c.call("POST", "/v3/pay/transactions/native", Some(&order)));
        assert_eq!(prepay.status, 200, "{}", prepay.message());
        assert!(simulator_threads() > 0, "the server runs on threads of its own");
        drop(server);
    }
    // The drop joins the server thread after its runtime shut down; the kernel may list an exiting thread
    // for a moment longer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while simulator_threads() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(simulator_threads(), 0, "every simulator thread ended");
}
