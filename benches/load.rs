//! The load test in full: 100,000 verified requests (a quarter of them POSTs) from 64 async tasks and 8 blocking
//! threads sharing one Builder, against wechatpay-mock in this process; zero errors, and no file descriptor or
//! thread left once the Builder is dropped. Minutes on 2 cores, so on demand, not in CI (which runs the same code
//! with 2,000 requests: `tests/load.rs`).
//!
//! `cargo bench --bench load` (`WECHATPAY_LOAD_REQUESTS` sets the count; run without `--bench`, as
//! `cargo test --benches` does, it makes 2,000). Linux only for the descriptor and thread counts (`/proc`).

#[path = "../tests/load_support/mod.rs"]
mod load_support;

fn main() {
    let benching = std::env::args().any(|arg| arg == "--bench");
    let requests = std::env::var("WECHATPAY_LOAD_REQUESTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(if benching { 100_000 } else { 2_000 });
    let report = load_support::run(requests, true);
    let seconds = report.elapsed.as_secs_f64();
    println!(
        "{} requests from {} tasks and {} threads: {} errors in {seconds:.1} s ({:.0} requests/s)",
        report.requests,
        load_support::TASKS,
        load_support::THREADS,
        report.errors,
        report.requests as f64 / seconds
    );
    println!("file descriptors before / peak / after drop: {:?}", report.fds);
    println!("the SDK's threads at the peak / after drop: {:?}", report.sdk_threads);
    println!("all threads before / peak / after drop and settling: {:?}", report.threads);
    println!("settled {:.1} s after the Builder was dropped", report.settled.as_secs_f64());
    assert_eq!(report.errors, 0, "first errors: {:?}", report.first_errors);
    assert!(report.fds.2 <= report.fds.0, "file descriptors leaked");
    assert_eq!(report.sdk_threads.1, 0, "the SDK's threads outlived the Builder");
    assert!(report.threads.2 <= report.threads.0, "threads leaked");
}
