//! Streaming downloads and uploads against wechatpay-mock in another process, so that only the client's memory is
//! measured: a 1 GiB bill into a sink (plain, gzip) and into a file, and a 256 MiB video upload from a file.
//!
//! `cargo bench -p wechatpay-sdk --bench streaming` (sizes from `WECHATPAY_BENCH_BILL_BYTES` and
//! `WECHATPAY_BENCH_VIDEO_BYTES`; run without `--bench`, as `cargo test --benches` does, it uses small ones).
//!
//! For each case it prints the client's peak resident memory during it (`VmHWM`, reset through
//! `/proc/self/clear_refs` before the case), wall time and throughput, and the client's CPU time (all its threads,
//! from `/proc/self/stat`) as a ratio to the floor measured in the same run: SHA-1 over the same bytes in memory.
//! Linux only (it reads `/proc`).

use std::io::Write;
use std::time::Instant;

use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use wechatpay::{Bill, Builder, MediaUpload, Options};

#[path = "support/mock_process.rs"]
mod mock_process;
use mock_process::{MockProcess, serve_mock, status_kib};

const MIB: u64 = 1024 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-mock") {
        // The apply of a 1 GiB bill (hashed by the mock first) and the 256 MiB upload are single requests that
        // may take longer than the default 30 s on a slow machine.
        return serve_mock(json!({"timeout": 600}));
    }
    let benching = args.iter().any(|arg| arg == "--bench");
    let size = |name: &str, full: u64, smoke: u64| {
        std::env::var(name).ok().and_then(|text| text.parse().ok()).unwrap_or(if benching { full } else { smoke })
    };
    let bill_bytes = size("WECHATPAY_BENCH_BILL_BYTES", 1024 * MIB, 16 * MIB);
    let video_bytes = size("WECHATPAY_BENCH_VIDEO_BYTES", 256 * MIB, 8 * MIB);

    let mock = MockProcess::start();
    let instance = Builder::factory(mock.config.clone()).expect("client");
    let dir = tempfile::tempdir().expect("temporary directory");

    // Warm up: the connection pool, the I/O runtime, the mock's code paths.
    let bill = apply(&instance, 64 * 1024, false);
    bill.download(&instance, &mut std::io::sink()).expect("warm-up download");

    println!("| case | bytes | wall | throughput | client CPU | CPU / SHA-1 floor | client peak RSS |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let floor = measure(|| {
        let block = vec![b'`'; MIB as usize];
        let mut digest = Sha1::new();
        for _ in 0..bill_bytes / MIB {
            digest.update(&block);
        }
        std::hint::black_box(digest.finalize());
    });
    report("floor: SHA-1 in memory", bill_bytes, &floor, floor.cpu);

    for gzip in [false, true] {
        let bill = apply(&instance, bill_bytes, gzip);
        let run = measure(|| {
            let downloaded = bill.download(&instance, &mut std::io::sink()).expect("download");
            assert_eq!(downloaded.bytes(), bill_bytes);
            assert!(downloaded.verified());
        });
        let case = if gzip { "bill, gzip, into a sink" } else { "bill, plain, into a sink" };
        report(case, bill_bytes, &run, floor.cpu);
    }

    let bill = apply(&instance, bill_bytes, false);
    let path = dir.path().join("bill.csv");
    let run = measure(|| {
        let downloaded = bill.download_to_file(&instance, &path).expect("download to file");
        assert_eq!(downloaded.bytes(), bill_bytes);
    });
    report("bill, plain, into a file", bill_bytes, &run, floor.cpu);
    std::fs::remove_file(&path).expect("bill removed");

    let video = dir.path().join("video.mp4");
    write_video(&video, video_bytes);
    let run = measure(|| {
        let media = MediaUpload::from_file(&video).expect("hashed");
        let answer: Value = instance
            .v3()
            .merchant()
            .media()
            .video_upload()
            .post(Options::new().media(media))
            .expect("uploaded")
            .json()
            .expect("JSON");
        assert!(answer["media_id"].as_str().is_some());
    });
    report("video upload from a file (hash pass + streamed send)", video_bytes, &run, floor.cpu);

    println!();
    println!("wechatpay-mock process peak RSS: {} MiB", mock.peak_rss_mib());
    mock.stop();
}

/// Applies for a generated trade bill of `bytes` bytes (the mock hashes it in a first pass, outside the timing).
fn apply(instance: &Builder, bytes: u64, gzip: bool) -> Bill {
    let mut options =
        Options::new().query("bill_date", "2024-01-02").header("Wechatpay-Mock-Bill-Size", bytes.to_string());
    if gzip {
        options = options.query("tar_type", "GZIP");
    }
    let answer = instance.v3().bill().tradebill().get(options).expect("apply");
    Bill::from_response(&answer).expect("bill")
}

/// A file of `bytes` pseudo-random bytes, written a MiB at a time.
fn write_video(path: &std::path::Path, bytes: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("video created"));
    let mut block: Vec<u8> = (0..MIB).map(|i| ((i * 2_654_435_761) >> 13) as u8).collect();
    for round in 0..bytes / MIB {
        block[0] = round as u8;
        file.write_all(&block).expect("video written");
    }
    file.flush().expect("video flushed");
}

struct Run {
    wall: f64,
    cpu: f64,
    peak_rss_kib: u64,
}

fn measure(work: impl FnOnce()) -> Run {
    // Reset the peak-RSS mark (VmHWM) to the current RSS, so the peak is this case's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (cpu, start) = (cpu_seconds(), Instant::now());
    work();
    Run {
        wall: start.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu,
        peak_rss_kib: status_kib("/proc/self/status", "VmHWM:"),
    }
}

fn report(case: &str, bytes: u64, run: &Run, floor_cpu: f64) {
    let mib = bytes as f64 / MIB as f64;
    println!(
        "| {case} | {} MiB | {:.2} s | {:.0} MiB/s | {:.2} s | {:.1}x | {:.1} MiB |",
        bytes / MIB,
        run.wall,
        mib / run.wall,
        run.cpu,
        run.cpu / floor_cpu.max(0.01),
        run.peak_rss_kib as f64 / 1024.0
    );
}

/// User + system CPU time of this process, all threads (`/proc/self/stat`, in clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name may hold spaces: the fields that follow start after its closing parenthesis.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|field| field.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
