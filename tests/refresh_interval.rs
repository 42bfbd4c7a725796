//! The interval refresh of platform certificates: it runs in the background without requests, and ends with its
//! Builder (no task keeps the Builder alive, no thread is left behind). Alone in its binary, so that the count of the
//! SDK's threads is this test's own.

mod common;

use std::time::{Duration, Instant};

use wechatpay::{AutoRefresh, Builder};

/// Waits (up to 10 s) for `done`, polling.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

#[test]
fn the_interval_refresh_runs_in_the_background_and_ends_with_the_builder() {
    let server = common::mock();
    let mut refresh = AutoRefresh::default();
    refresh.interval = Some(Duration::from_millis(50));
    let instance =
        Builder::factory(common::config(&server).apiv3_key(&server.identities().apiv3_key).auto_refresh(refresh))
            .unwrap();
    let keys = instance.config().platform_keys().unwrap().clone();
    let rotated = server.rotate_platform_certificate().unwrap();
    // No request is made: the scheduled downloads bring the new certificate.
    assert!(eventually(|| keys.contains(&rotated.serial)), "the scheduled refresh brought the new certificate");
    assert!(eventually(|| common::certificate_downloads(&server) >= 3), "it keeps running");

    drop(instance);
    // The task holds the Builder only while downloading, and its runtime goes with the Builder: the downloads stop.
    let mut last = common::certificate_downloads(&server);
    assert!(
        eventually(|| {
            std::thread::sleep(Duration::from_millis(200));
            let now = common::certificate_downloads(&server);
            std::mem::replace(&mut last, now) == now
        }),
        "downloads stop once the Builder is gone"
    );
    #[cfg(target_os = "linux")]
    assert!(eventually(|| io_threads() == 0), "the Builder's I/O threads end");
}

/// The SDK's I/O threads alive in this process (this binary's only test counts them, so it sees its own).
#[cfg(target_os = "linux")]
fn io_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .filter(|name| name.trim() == "wechatpay-io")
                .count()
        })
        .unwrap_or(0)
}
