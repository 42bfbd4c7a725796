//! wechatpay-mock in a child process (the bench binary itself, run with `--serve-mock`), so that its CPU time and
//! memory are not counted as the client's. Shared by the benches that measure the client alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The simulator's process and the client config it printed.
pub struct MockProcess {
    child: Child,
    /// The PHP-shaped client config for the simulator, plus the bench's extra keys.
    pub config: Value,
}

impl MockProcess {
    /// Starts this binary with `--serve-mock` and reads its config line.
    pub fn start() -> MockProcess {
        let exe = std::env::current_exe().expect("own executable");
        let mut child = Command::new(exe)
            .arg("--serve-mock")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the mock process starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
        let config = serde_json::from_str(&line).expect("the mock's config line");
        MockProcess { child, config }
    }

    /// The simulator process's peak resident memory (Linux; 0 elsewhere).
    pub fn peak_rss_mib(&self) -> u64 {
        status_kib(&format!("/proc/{}/status", self.child.id()), "VmHWM:") / 1024
    }

    /// Closes the simulator's stdin, which ends it, and waits for it.
    pub fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The child's side: a simulator on loopback, its client config (with `extra` keys merged in) on stdout, until
/// stdin closes.
pub fn serve_mock(extra: Value) {
    let server = wechatpay_mock::Server::builder().start_blocking().expect("mock starts");
    let ids = server.identities();
    let mut config = json!({
        "mchid": ids.mchid,
        "serial": ids.merchant.serial,
        "privateKey": ids.merchant.private_key_pem,
        "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem},
        "base_uri": server.base_uri(),
    });
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    println!("{config}");
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// A `kB` figure of a `/proc/<pid>/status` file (Linux; 0 elsewhere).
pub fn status_kib(path: &str, key: &str) -> u64 {
    let status = std::fs::read_to_string(path).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
