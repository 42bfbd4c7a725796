//! Client CPU per verified request, end to end against wechatpay-mock on loopback, as ratios to the RSA floor
//! measured in the same run: `openssl speed rsa2048` (when `openssl` is on PATH) and the SDK's own backend.
//!
//! `cargo bench -p wechatpay-sdk --bench request_cpu` (run without `--bench`, as `cargo test --benches` does, it
//! makes a few requests of each case, to show it still works). Linux only: it reads `/proc`. BENCHMARKS.md has the
//! method and the figures.
//!
//! The simulator runs in a child process (this binary with `--serve-mock`), so only the client's CPU is counted:
//! user + system time of every thread of this process (`CLOCK_PROCESS_CPUTIME_ID`, the figure getrusage
//! `RUSAGE_SELF` gives), over signed `POST`s whose answers are verified. The sections:
//! - `ratios`, in rounds: the floors (OpenSSL's RSA-2048 sign + verify from `openssl speed`, its own CPU time; the
//!   backend's sign + verify through [`PrivateKey::sign`] and [`PublicKey::verify`]; a loopback round trip on a plain
//!   socket), then blocking verbs from 1 and 8 threads and async verbs with 1, 16 and 64 requests in flight on a
//!   caller's Tokio runtime (2 workers), each in slices interleaved with the backend's floor: client CPU per request,
//!   requests per second (wall), the ratios; medians over the rounds.
//! - `in-flow`: the same cases with every sign and verify timed on its thread's CPU clock, and what remains.
//! - `one-time`: factory, first signature, first request, each in a fresh child process (`--cold STAGE`).
//! - `memory`: resident memory over many requests (async, 16 in flight; blocking, 8 threads), which must stay flat.
//!
//! Knobs (environment): `WECHATPAY_BENCH_ROUNDS` (5), `WECHATPAY_BENCH_REQUESTS` (requests per case and round,
//! 2,000), `WECHATPAY_BENCH_MEMORY_REQUESTS` (100,000; 0 skips), `WECHATPAY_BENCH_CASES` (a comma-separated subset
//! of `blocking-1,blocking-8,async-1,async-16,async-64`), `WECHATPAY_BENCH_SECTIONS` (a comma-separated subset of
//! `ratios,in-flow,one-time,memory`), `WECHATPAY_BENCH_IO_THREADS` (`ConfigBuilder::io_threads`),
//! `WECHATPAY_BENCH_PROFILE=1` (nothing but the requests of each case, no floor: for `perf record` or
//! `valgrind --tool=callgrind`).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::{Value, json};
use wechatpay::crypto::{Backend, PrivateKey, PublicKey};
use wechatpay::{Builder, Formatter};

#[allow(dead_code)]
#[path = "support/mock_process.rs"]
mod mock_process;
use mock_process::{MockProcess, serve_mock};

/// What each request sends: a PHP-shaped options array with a JSON body, as a port writes it.
fn body() -> Value {
    json!({"json": {"url": "https://example.com/wechatpay/complaints"}})
}

fn endpoint(instance: &Builder) -> &Builder {
    instance.v3().merchant_service().complaint_notifications()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--serve-mock") => return serve_mock(json!({})),
        Some("--cold") => return cold(args.get(1).map(String::as_str).unwrap_or_default()),
        _ => {}
    }
    let benching = args.iter().any(|arg| arg == "--bench");
    let knob = |name: &str, full: usize, smoke: usize| {
        std::env::var(name).ok().and_then(|text| text.parse().ok()).unwrap_or(if benching { full } else { smoke })
    };
    let rounds = knob("WECHATPAY_BENCH_ROUNDS", 5, 1).max(1);
    let requests = knob("WECHATPAY_BENCH_REQUESTS", 2_000, 64).max(64);
    let memory_requests = knob("WECHATPAY_BENCH_MEMORY_REQUESTS", 100_000, 256);
    let list =
        |name: &str| std::env::var(name).ok().map(|list| list.split(',').map(|item| item.trim().to_owned()).collect());
    let selected: Option<Vec<String>> = list("WECHATPAY_BENCH_CASES");
    let cases: Vec<Case> = Case::ALL
        .into_iter()
        .filter(|case| selected.as_ref().is_none_or(|names| names.contains(&case.name())))
        .collect();
    let sections: Option<Vec<String>> = list("WECHATPAY_BENCH_SECTIONS");
    let section = |name: &str| sections.as_ref().is_none_or(|names| names.iter().any(|given| given == name));

    let mock = MockProcess::start();
    let instance = Builder::factory(client_config(&mock.config)).expect("client");
    println!("machine: {}", machine());
    println!("client: default features, RSA backend {:?}; wechatpay-mock in a child process", Backend::default());
    // Warm up: the runtimes, the pools (64 connections for the widest case), the mock's code paths.
    for _ in 0..50 {
        endpoint(&instance).post(body()).expect("warm-up request");
    }
    let caller = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    in_flight(&caller, &instance, 64, 128);

    if std::env::var("WECHATPAY_BENCH_PROFILE").is_ok_and(|value| value == "1") {
        // Nothing but the requests, for `perf record` or `valgrind --tool=callgrind`.
        for case in &cases {
            let run = measure(requests, || case.send(&instance, &caller, requests));
            let (per_request, per_second) = (run.cpu_ms / run.requests as f64, run.requests as f64 / run.wall_s);
            println!("{}: {per_request:.3} ms of client CPU per request, {per_second:.0} requests/s", case.name());
        }
        return;
    }
    if section("ratios") {
        ratios(&mock.config, &instance, &caller, &cases, rounds, requests, benching);
    }
    if section("in-flow") {
        println!();
        in_flow_report(&mock.config, &caller, &cases, requests);
    }
    if section("one-time") {
        println!();
        println!("one-time costs of a fresh process (CPU ms, each in a new child process; median of 3)");
        cold_start_report(&mock.config);
    }
    if section("memory") && memory_requests > 0 {
        for case in [Case::Async(16), Case::Blocking(8)] {
            println!();
            memory(&caller, &instance, case, memory_requests);
        }
    }
    drop(instance);
    mock.stop();
}

/// The rounds: the floors, then every case against its interleaved floor; then the medians over the rounds.
fn ratios(
    config: &Value,
    instance: &Builder,
    caller: &tokio::runtime::Runtime,
    cases: &[Case],
    rounds: usize,
    requests: usize,
    benching: bool,
) {
    let key = PrivateKey::from_pem(config["privateKey"].as_str().expect("key")).expect("merchant key");
    let public = key.public_key().expect("public key");
    let mut table: Vec<(String, Vec<f64>)> = Vec::new();
    let mut record = |name: String, value: f64| match table.iter_mut().find(|(row, _)| *row == name) {
        Some((_, values)) => values.push(value),
        None => table.push((name, vec![value])),
    };
    for round in 1..=rounds {
        let openssl = openssl_floor();
        let backend = backend_floor(&key, &public, if benching { 500 } else { 20 });
        println!();
        println!("round {round}/{rounds}");
        if let Some(openssl) = &openssl {
            println!(
                "  floor, OpenSSL (openssl speed rsa2048): sign {:.3} ms + verify {:.3} ms = {:.3} ms",
                openssl.sign_ms,
                openssl.verify_ms,
                openssl.total()
            );
        }
        println!(
            "  floor, backend {:?} (measured next to it): sign {:.3} ms + verify {:.3} ms = {:.3} ms",
            key.backend(),
            backend.sign_ms,
            backend.verify_ms,
            backend.total()
        );
        let transport = transport_floor(config, &key, if benching { 500 } else { 20 });
        println!(
            "  floor, transport: {transport:.3} ms per loopback HTTP/1.1 round trip on a plain blocking socket (the \
             same request, signed beforehand; the answer not verified), {:.0}% of one backend sign",
            transport / backend.sign_ms * 100.0
        );
        record("transport floor / one backend sign (%)".into(), transport / backend.sign_ms * 100.0);
        // Converts a ratio to the backend into one to OpenSSL, both floors measured back to back.
        let backend_per_openssl = openssl.as_ref().map(|openssl| backend.total() / openssl.total());
        if let Some(ratio) = backend_per_openssl {
            record("floor: backend sign + verify / OpenSSL sign + verify".into(), ratio);
        }
        println!(
            "  | case | requests | client CPU / request | backend floor (interleaved) | requests/s | / OpenSSL floor | \
             / backend floor | non-RSA / one sign |"
        );
        println!("  | --- | --- | --- | --- | --- | --- | --- | --- |");
        for case in cases {
            let (run, floor) = case.run(instance, caller, requests, |pairs| backend_floor(&key, &public, pairs));
            let per_request = run.cpu_ms / run.requests as f64;
            let vs_backend = per_request / floor.total();
            let vs_openssl = backend_per_openssl.map(|ratio| vs_backend * ratio);
            let non_rsa = (per_request - floor.total()) / floor.sign_ms;
            println!(
                "  | {} | {} | {:.3} ms | {:.3} ms | {:.0} | {} | {:.2}x | {:.0}% |",
                case.name(),
                run.requests,
                per_request,
                floor.total(),
                run.requests as f64 / run.wall_s,
                vs_openssl.map_or("-".to_owned(), |ratio| format!("{ratio:.2}x")),
                vs_backend,
                non_rsa * 100.0
            );
            if let Some(ratio) = vs_openssl {
                record(format!("{}: client CPU / OpenSSL floor", case.name()), ratio);
            }
            record(format!("{}: client CPU / backend floor", case.name()), vs_backend);
            record(format!("{}: non-RSA CPU / one backend sign (%)", case.name()), non_rsa * 100.0);
            record(format!("{}: requests/s", case.name()), run.requests as f64 / run.wall_s);
        }
    }
    println!();
    println!("summary over {rounds} round(s): median [min - max]");
    println!("| figure | median | min | max |");
    println!("| --- | --- | --- | --- |");
    for (name, mut values) in table {
        values.sort_by(f64::total_cmp);
        let median = values[values.len() / 2];
        println!("| {name} | {median:.2} | {:.2} | {:.2} |", values[0], values[values.len() - 1]);
    }
}

#[derive(Clone, Copy)]
enum Case {
    Blocking(usize),
    Async(usize),
}

impl Case {
    const ALL: [Case; 5] = [Case::Blocking(1), Case::Blocking(8), Case::Async(1), Case::Async(16), Case::Async(64)];

    fn name(self) -> String {
        match self {
            Case::Blocking(threads) => format!("blocking-{threads}"),
            Case::Async(in_flight) => format!("async-{in_flight}"),
        }
    }

    /// Threads, or requests in flight.
    fn width(self) -> usize {
        match self {
            Case::Blocking(width) | Case::Async(width) => width,
        }
    }

    /// `requests` requests in slices, each after a batch of the backend's sign + verify, so that the floor is
    /// measured under the same conditions as the requests (a shared machine drifts): the requests, and the floor.
    fn run(
        self,
        instance: &Builder,
        caller: &tokio::runtime::Runtime,
        requests: usize,
        floor: impl Fn(usize) -> Floor,
    ) -> (Run, Floor) {
        const SLICES: usize = 8;
        let per_slice = (requests / SLICES / self.width()).max(1) * self.width();
        let mut total = Run { requests: 0, cpu_ms: 0.0, wall_s: 0.0 };
        let (mut sign_ms, mut verify_ms) = (0.0, 0.0);
        for _ in 0..SLICES {
            let pairs = (per_slice / 4).max(4);
            let measured = floor(pairs);
            sign_ms += measured.sign_ms;
            verify_ms += measured.verify_ms;
            let run = measure(per_slice, || self.send(instance, caller, per_slice));
            total.requests += run.requests;
            total.cpu_ms += run.cpu_ms;
            total.wall_s += run.wall_s;
        }
        (total, Floor { sign_ms: sign_ms / SLICES as f64, verify_ms: verify_ms / SLICES as f64 })
    }

    /// `total` requests of this case.
    fn send(self, instance: &Builder, caller: &tokio::runtime::Runtime, total: usize) {
        match self {
            Case::Blocking(threads) => std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(|| {
                        for _ in 0..total / threads {
                            endpoint(instance).post(body()).expect("blocking request");
                        }
                    });
                }
            }),
            Case::Async(width) => in_flight(caller, instance, width, total),
        }
    }
}

/// `total` requests through the async verbs, `width` at a time, on the caller's runtime.
fn in_flight(caller: &tokio::runtime::Runtime, instance: &Builder, width: usize, total: usize) {
    let instance = Arc::new(instance.clone());
    caller.block_on(async {
        let tasks: Vec<_> = (0..width)
            .map(|_| {
                let instance = Arc::clone(&instance);
                tokio::spawn(async move {
                    for _ in 0..total / width {
                        endpoint(&instance).post_async(body()).await.expect("async request");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
    });
}

struct Run {
    requests: usize,
    cpu_ms: f64,
    wall_s: f64,
}

fn measure(requests: usize, work: impl FnOnce()) -> Run {
    let (cpu, start) = (cpu_ms(), Instant::now());
    work();
    Run { requests, cpu_ms: cpu_ms() - cpu, wall_s: start.elapsed().as_secs_f64() }
}

/// CPU time of this process, every thread (live or ended), user + system: what getrusage(RUSAGE_SELF) sums.
fn cpu_ms() -> f64 {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    time.tv_sec as f64 * 1e3 + time.tv_nsec as f64 / 1e6
}

struct Floor {
    sign_ms: f64,
    verify_ms: f64,
}

impl Floor {
    fn total(&self) -> f64 {
        self.sign_ms + self.verify_ms
    }
}

/// `openssl speed rsa2048`: its sign/s and verify/s (OpenSSL divides by its own user CPU time), or `None` without
/// `openssl` on PATH.
fn openssl_floor() -> Option<Floor> {
    let output = Command::new("openssl").args(["speed", "-seconds", "1", "rsa2048"]).stderr(Stdio::null()).output();
    let text = String::from_utf8(output.ok()?.stdout).ok()?;
    parse_openssl_speed(&text)
}

/// Reads the `sign/s` and `verify/s` columns of `openssl speed rsa2048` (1.1 and 3.x print them under one header
/// line; 3.2+ adds encrypt and decrypt columns).
fn parse_openssl_speed(text: &str) -> Option<Floor> {
    let header: Vec<&str> = text.lines().find(|line| line.contains("sign/s"))?.split_whitespace().collect();
    let row = text.lines().find(|line| line.trim_start().starts_with("rsa") && line.contains("2048 bits"))?;
    let values: Vec<&str> = row.split_once("bits")?.1.split_whitespace().collect();
    let column = |name: &str| -> Option<f64> { values.get(header.iter().position(|h| *h == name)?)?.parse().ok() };
    Some(Floor { sign_ms: 1e3 / column("sign/s")?, verify_ms: 1e3 / column("verify/s")? })
}

/// The least CPU any client spends per request on loopback besides RSA: keep-alive HTTP/1.1 round trips to the
/// simulator over a plain blocking `std::net` socket (one write, blocking reads), each request signed beforehand
/// (outside the timing) so that the simulator verifies it and signs its answer, as for the SDK's requests, and the
/// answer is read but not verified. CPU ms per round trip.
fn transport_floor(config: &Value, key: &PrivateKey, n: usize) -> f64 {
    use base64::Engine as _;
    let addr = config["base_uri"].as_str().expect("base_uri").trim_start_matches("http://").trim_end_matches('/');
    let (mchid, serial) = (config["mchid"].as_str().expect("mchid"), config["serial"].as_str().expect("serial"));
    let path = "/v3/merchant-service/complaint-notifications";
    let body = r#"{"url":"https://example.com/wechatpay/complaints"}"#;
    let requests: Vec<String> = (0..n)
        .map(|_| {
            let (timestamp, nonce) = (Formatter::timestamp(), Formatter::nonce32().expect("nonce"));
            let message = Formatter::request_bytes("POST", path, timestamp, &nonce, body.as_bytes());
            let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(&message).expect("sign"));
            let authorization = Formatter::authorization(mchid, &nonce, &signature, timestamp, serial);
            format!(
                "POST {path} HTTP/1.1\r\naccept: application/json\r\ncontent-type: application/json\r\n\
                 authorization: {authorization}\r\nuser-agent: wechatpay-sdk-rust (bench)\r\nhost: {addr}\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            )
        })
        .collect();
    let connect = || {
        let stream = std::net::TcpStream::connect(addr).expect("loopback connection");
        stream.set_nodelay(true).expect("nodelay");
        stream
    };
    let mut stream = connect();
    let mut buffer = vec![0u8; 64 * 1024];
    let start = cpu_ms();
    for request in &requests {
        let answered = stream.write_all(request.as_bytes()).is_ok() && read_response(&mut stream, &mut buffer);
        assert!(answered && buffer.starts_with(b"HTTP/1.1 200"), "the simulator answers a signed request");
    }
    (cpu_ms() - start) / n as f64
}

/// Reads one HTTP/1.1 answer with a `Content-Length`; false when the connection ended.
fn read_response(stream: &mut std::net::TcpStream, buffer: &mut [u8]) -> bool {
    let mut filled = 0;
    loop {
        match stream.read(&mut buffer[filled..]) {
            Ok(0) | Err(_) => return false,
            Ok(read) => filled += read,
        }
        let Some(head_end) = buffer[..filled].windows(4).position(|window| window == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        while filled < head_end + 4 + length {
            match stream.read(&mut buffer[filled..]) {
                Ok(0) | Err(_) => return false,
                Ok(read) => filled += read,
            }
        }
        return true;
    }
}

/// The backend's own RSA: `n` signs of a request-sized message with the merchant key, `n` verifies.
fn backend_floor(key: &PrivateKey, public: &PublicKey, n: usize) -> Floor {
    let message = b"POST\n/v3/merchant-service/complaint-notifications\n1700000000\n593BEC0C930BF1AFEB40B4A08C8FB242\n{\"url\":\"https://example.com/wechatpay/complaints\"}\n";
    let signature = key.sign(message).expect("signs");
    let start = cpu_ms();
    for _ in 0..n {
        std::hint::black_box(key.sign(std::hint::black_box(message)).expect("signs"));
    }
    let sign_ms = (cpu_ms() - start) / n as f64;
    let verifies = n * 4;
    let start = cpu_ms();
    for _ in 0..verifies {
        assert!(public.verify(std::hint::black_box(message), std::hint::black_box(&signature)));
    }
    Floor { sign_ms, verify_ms: (cpu_ms() - start) / verifies as f64 }
}

/// Where the time goes: the same cases with the RSA operations timed where they run (each sign and verify on its
/// thread's CPU clock, through a Signer and a Verifier that wrap the default ones), so that "everything but RSA"
/// is the request's CPU time minus the RSA work it actually did, not minus the floor measured in a hot loop (RSA in
/// a request runs with colder caches and vector units than in a loop of thousands).
fn in_flow_report(config: &Value, caller: &tokio::runtime::Runtime, cases: &[Case], requests: usize) {
    let clock = Arc::new(RsaClock::default());
    let key = PrivateKey::from_pem(config["privateKey"].as_str().expect("key")).expect("merchant key");
    let keys = wechatpay::PlatformKeys::new();
    for pem in config["certs"].as_object().expect("certs").values() {
        keys.insert_certificate(&wechatpay::crypto::Certificate::from_pem(pem.as_str().expect("pem")).expect("pem"));
    }
    let timed = client_config(config)
        .signer(TimedSigner { key, clock: Arc::clone(&clock) })
        .verifier(TimedVerifier { keys, clock: Arc::clone(&clock) });
    let instance = Builder::factory(timed).expect("timed client");
    for _ in 0..20 {
        endpoint(&instance).post(body()).expect("warm-up request");
    }
    println!("RSA timed inside the requests (thread CPU clock around each sign and verify)");
    println!("| case | client CPU / request | sign in the flow | verify in the flow | everything else | / one sign |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for case in cases {
        clock.reset();
        let (run, _) = case.run(&instance, caller, requests, |_| Floor { sign_ms: 0.0, verify_ms: 0.0 });
        let per_request = run.cpu_ms / run.requests as f64;
        let (sign_ms, verify_ms) = clock.averages();
        let rest = per_request - sign_ms - verify_ms;
        println!(
            "| {} | {per_request:.3} ms | {sign_ms:.3} ms | {verify_ms:.3} ms | {rest:.3} ms | {:.0}% |",
            case.name(),
            rest / sign_ms * 100.0
        );
    }
}

#[derive(Default)]
struct RsaClock {
    sign_ns: AtomicU64,
    signs: AtomicU64,
    verify_ns: AtomicU64,
    verifies: AtomicU64,
}

impl RsaClock {
    fn reset(&self) {
        for counter in [&self.sign_ns, &self.signs, &self.verify_ns, &self.verifies] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Mean CPU ms of a sign and of a verify.
    fn averages(&self) -> (f64, f64) {
        let mean = |ns: &AtomicU64, n: &AtomicU64| {
            ns.load(Ordering::Relaxed) as f64 / 1e6 / n.load(Ordering::Relaxed).max(1) as f64
        };
        (mean(&self.sign_ns, &self.signs), mean(&self.verify_ns, &self.verifies))
    }
}

/// CPU time of the calling thread.
fn thread_cpu_ns() -> u64 {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64
}

struct TimedSigner {
    key: PrivateKey,
    clock: Arc<RsaClock>,
}

impl wechatpay::Signer for TimedSigner {
    fn sign<'a>(&'a self, message: &'a [u8]) -> wechatpay::SignFuture<'a> {
        let start = thread_cpu_ns();
        let signature = self.key.sign(message);
        self.clock.sign_ns.fetch_add(thread_cpu_ns() - start, Ordering::Relaxed);
        self.clock.signs.fetch_add(1, Ordering::Relaxed);
        Box::pin(std::future::ready(signature))
    }
}

struct TimedVerifier {
    keys: wechatpay::PlatformKeys,
    clock: Arc<RsaClock>,
}

impl wechatpay::Verifier for TimedVerifier {
    fn verify(&self, serial: &str, message: &[u8], signature: &str) -> Result<(), wechatpay::VerificationFailure> {
        let start = thread_cpu_ns();
        let verified = self.keys.verify(serial, message, signature);
        self.clock.verify_ns.fetch_add(thread_cpu_ns() - start, Ordering::Relaxed);
        self.clock.verifies.fetch_add(1, Ordering::Relaxed);
        verified
    }
}

/// The client's configuration for the simulator: its keys, and `WECHATPAY_BENCH_IO_THREADS` when set.
fn client_config(config: &Value) -> wechatpay::ConfigBuilder {
    let text = |key: &str| config[key].as_str().expect("config key").to_owned();
    let certificate = config["certs"].as_object().and_then(|certs| certs.values().next()).expect("certs");
    let mut builder = wechatpay::Config::builder()
        .mchid(text("mchid"))
        .serial(text("serial"))
        .private_key(PrivateKey::from_pem(&text("privateKey")).expect("merchant key"))
        .platform_certificate(
            wechatpay::crypto::Certificate::from_pem(certificate.as_str().expect("pem")).expect("certificate"),
        )
        .base_uri(text("base_uri"));
    if let Some(threads) = std::env::var("WECHATPAY_BENCH_IO_THREADS").ok().and_then(|text| text.parse().ok()) {
        builder = builder.io_threads(threads);
    }
    builder
}

/// The one-time costs: each stage in a fresh child process (`--cold STAGE`), median of three.
fn cold_start_report(config: &Value) {
    println!("| stage | CPU | wall |");
    println!("| --- | --- | --- |");
    for stage in ["process", "factory", "first-sign", "first-request", "two-requests"] {
        let mut runs: Vec<(f64, f64)> = (0..3)
            .map(|_| {
                let exe = std::env::current_exe().expect("own executable");
                let output = Command::new(exe)
                    .args(["--cold", stage])
                    .env("WECHATPAY_BENCH_CONFIG", config.to_string())
                    .output()
                    .expect("cold child");
                let text = String::from_utf8_lossy(&output.stdout);
                let mut numbers = text.split_whitespace().filter_map(|word| word.parse::<f64>().ok());
                (numbers.next().unwrap_or(f64::NAN), numbers.next().unwrap_or(f64::NAN))
            })
            .collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (cpu, wall) = runs[1];
        println!("| {stage} | {cpu:.1} ms | {wall:.1} ms |");
    }
}

/// A fresh process doing one stage of a first request, printing its CPU and wall time (ms) since it started.
fn cold(stage: &str) {
    let start = Instant::now();
    let config: Value =
        serde_json::from_str(&std::env::var("WECHATPAY_BENCH_CONFIG").unwrap_or_default()).expect("config");
    let key = || PrivateKey::from_pem(config["privateKey"].as_str().expect("key")).expect("merchant key");
    match stage {
        "process" => {}
        "factory" => drop(Builder::factory(config.clone()).expect("factory")),
        "first-sign" => drop(key().sign(b"GET\n/v3/certificates\n1700000000\nN\n\n").expect("sign")),
        "first-request" => {
            let instance = Builder::factory(config.clone()).expect("factory");
            endpoint(&instance).post(body()).expect("request");
        }
        "two-requests" => {
            let instance = Builder::factory(config.clone()).expect("factory");
            endpoint(&instance).post(body()).expect("request");
            endpoint(&instance).post(body()).expect("request");
        }
        other => panic!("unknown stage {other}"),
    }
    println!("{:.3} {:.3}", cpu_ms(), start.elapsed().as_secs_f64() * 1e3);
}

/// Resident memory over `total` requests of `case` (the same threads throughout): it must not grow with the count.
fn memory(caller: &tokio::runtime::Runtime, instance: &Builder, case: Case, total: usize) {
    const CHECKPOINTS: usize = 10;
    println!("resident memory over {total} requests, {}", case.name());
    println!("| requests | VmRSS | VmHWM |");
    println!("| --- | --- | --- |");
    let report = |done: usize| println!("| {done} | {} KiB | {} KiB |", status_kib("VmRSS:"), status_kib("VmHWM:"));
    report(0);
    match case {
        Case::Async(width) => {
            let step = (total / CHECKPOINTS / width).max(1) * width;
            for checkpoint in 1..=CHECKPOINTS {
                in_flight(caller, instance, width, step);
                report(checkpoint * step);
            }
        }
        Case::Blocking(threads) => {
            let per_thread = (total / CHECKPOINTS / threads).max(1);
            let checkpoint = std::sync::Barrier::new(threads + 1);
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(|| {
                        for _ in 0..CHECKPOINTS {
                            for _ in 0..per_thread {
                                endpoint(instance).post(body()).expect("blocking request");
                            }
                            checkpoint.wait();
                        }
                    });
                }
                for done in 1..=CHECKPOINTS {
                    checkpoint.wait();
                    report(done * per_thread * threads);
                }
            });
        }
    }
}

/// A `kB` line of `/proc/self/status`.
fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']));
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{} x {cpus}, load average {}",
        model.unwrap_or("unknown CPU"),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}
