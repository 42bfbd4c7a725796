//! Port check, worked example: the Rust side of the README's PHP snippet ("Port check: does the port send what PHP
//! sent?"), recorded by the simulator for `wechatpay port-diff`.
//!
//! ```sh
//! # On its own: an embedded simulator records the calls (to rust.jsonl in the system's temporary directory, or FILE).
//! cargo run --example port_check [-- FILE]
//! # Against a running `wechatpay-mock --record rust.jsonl --state-dir ./mock-state --listen 127.0.0.1:8080`, with the
//! # credentials the PHP snippet reads from the same state directory:
//! cargo run --example port_check -- --against http://127.0.0.1:8080/ ./mock-state
//! wechatpay port-diff php.jsonl rust.jsonl
//! ```
//!
//! The configuration is read the way the PHP snippet reads it: ids and keys from the simulator's `manifest.json`,
//! the merchant key and the platform certificate as `file://` paths. Nothing leaves 127.0.0.1.

mod port;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wechatpay::Builder;

/// The order the PHP snippet pays for (`$outTradeNo`).
const OUT_TRADE_NO: &str = "1217752501201407033233368018";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, base_uri, state_dir] if flag == "--against" => {
            let code_url = run(base_uri, Path::new(state_dir))?;
            println!("5 calls sent to {base_uri} (the prepay's code_url: {code_url}); the simulator recorded them");
        }
        [] | [_] if args.first().is_none_or(|a| !a.starts_with('-')) => {
            let recording = match args.first() {
                Some(file) => PathBuf::from(file),
                None => std::env::temp_dir().join("rust.jsonl"),
            };
            let state_dir = std::env::temp_dir().join(format!("wechatpay-port-check-{}", std::process::id()));
            let server = wechatpay_mock::Server::builder().state_dir(&state_dir).record(&recording).start_blocking()?;
            let result = run(server.base_uri(), &state_dir);
            drop(server);
            std::fs::remove_dir_all(&state_dir)?;
            let code_url = result?;
            let lines = std::fs::read_to_string(&recording)?.lines().count();
            println!("{lines} calls recorded in {} (the prepay's code_url: {code_url})", recording.display());
            println!("compare them with PHP's: wechatpay port-diff php.jsonl {}", recording.display());
        }
        _ => {
            eprintln!("usage: port_check [FILE] | port_check --against BASE_URI STATE_DIR");
            std::process::exit(2);
        }
    }
    Ok(())
}

/// The PHP snippet's `Builder::factory([...])`, then its calls.
fn run(base_uri: &str, state_dir: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(state_dir.join("manifest.json"))?)?;
    let field = |name: &str| manifest[name].as_str().unwrap_or_default().to_owned();
    let file = |name: &str| -> Result<String, std::io::Error> {
        Ok(format!("file://{}", std::fs::canonicalize(state_dir.join(name))?.display()))
    };
    let mchid = field("mchid");
    let instance = Builder::factory(json!({
        "mchid": mchid,
        "serial": field("merchant_serial"),
        "privateKey": file("apiclient_key.pem")?,
        "certs": {field("platform_serial"): file("wechatpay_platform_cert.pem")?},
        "secret": field("apiv2_key"),
        "base_uri": base_uri,
    }))?;
    Ok(port::checkout(&instance, &mchid, OUT_TRADE_NO)?)
}
