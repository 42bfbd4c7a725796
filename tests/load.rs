//! The load test, scaled down for CI: 2,000 verified requests from 64 tasks and 8 blocking threads on one Builder,
//! no error, and no file descriptor or thread left once the Builder is dropped. The full 100,000 requests run on
//! demand: `cargo bench --bench load` (see BENCHMARKS.md).

mod load_support;

#[test]
fn one_builder_under_load_leaks_nothing() {
    let report = load_support::run(2_000, false);
    assert_eq!(report.errors, 0, "{} errors, first: {:?}", report.errors, report.first_errors);
    if cfg!(target_os = "linux") {
        let (fds_before, fds_peak, fds_after) = report.fds;
        let (sdk_threads_peak, sdk_threads_after) = report.sdk_threads;
        assert!(fds_peak > fds_before, "connections were opened: {:?}", report.fds);
        assert!(fds_after <= fds_before, "file descriptors left after the Builder was dropped: {:?}", report.fds);
        assert!(sdk_threads_peak > 0, "the SDK's runtime ran: {:?}", report.sdk_threads);
        assert_eq!(sdk_threads_after, 0, "the SDK's threads outlived the Builder: {report:?}");
    }
}
