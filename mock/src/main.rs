//! `wechatpay-mock`: the WeChat Pay simulator as a process, for clients in any language.
//!
//! Prints one JSON line on stdout when ready (base URI, ids, key file paths, the APIv3 and APIv2 keys) and
//! stops cleanly on SIGINT or SIGTERM.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wechatpay_mock::{ResponseSigner, Server};

const USAGE: &str = "\
wechatpay-mock: an embedded WeChat Pay simulator on loopback

USAGE:
    wechatpay-mock [OPTIONS]

OPTIONS:
    --listen ADDR            address to listen on (default 127.0.0.1:0, an ephemeral port)
    --tls-listen ADDR        address of the mutual-TLS listener (default: the --listen IP, an ephemeral port)
    --state-dir DIR          keep the keys in DIR: reuse them if DIR has a manifest.json, else create them
                             (default: a fresh directory under the system temp dir, removed on exit)
    --signer KIND            sign answers with `platform` (certificate, default) or `public-key`
    --public-key-only        play a merchant without platform certificates (implies --signer public-key)
    --auto-advance MILLIS    transfers, refunds and red packets move on by themselves, one state every MILLIS
                             milliseconds (QQ-wallet bills ACCEPTED to SUCCESS in four steps; refunds end)
    --auto-pay MILLIS        play the payer: every order (v3 prepay, APIv2 unifiedorder) is paid MILLIS
                             milliseconds after it was made, by the simulator's own timer
    --auto-notify            POST the callbacks to http:// notify URLs when payments, refunds, transfers end
                             (v3: signed and encrypted JSON; APIv2: XML), with no further request needed
    --bill-size BYTES        bill applies serve generated bills of BYTES bytes (streamed, deterministic); a
                             request header `Wechatpay-Mock-Bill-Size: BYTES` asks for one bill's size
    --record FILE            write every request received to FILE (emptied first), one JSON line each, for
                             `wechatpay port-diff` (the port check: compare what two clients sent)
    -h, --help               this text
    -V, --version            the version

When ready it prints one JSON line on stdout with version, base_uri, mchid, merchant_serial,
merchant_private_key, merchant_certificate, merchant_ca_certificate, platform_serial, platform_certificate,
public_key_id, public_key, tls_base_uri (the mutual-TLS listener: present merchant_certificate with
merchant_private_key) and tls_ca_certificate (the CA to trust for it) (paths are absolute file paths),
apiv3_key and apiv2_key. It stops on SIGINT or SIGTERM. Guide: https://crates.io/crates/wechatpay-mock";

#[derive(Debug, Default)]
struct Args {
    listen: Option<SocketAddr>,
    tls_listen: Option<SocketAddr>,
    state_dir: Option<PathBuf>,
    signer: Option<ResponseSigner>,
    public_key_only: bool,
    auto_advance: Option<Duration>,
    auto_pay: Option<Duration>,
    auto_notify: bool,
    bill_size: Option<u64>,
    record: Option<PathBuf>,
}

enum Parsed {
    Run(Args),
    Exit(String),
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut out = Args::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Exit(USAGE.to_owned())),
            "-V" | "--version" => return Ok(Parsed::Exit(format!("wechatpay-mock {}", env!("CARGO_PKG_VERSION")))),
            "--listen" => {
                let v = value("--listen")?;
                out.listen =
                    Some(v.parse().map_err(|_| format!("--listen: `{v}` is not an address like 127.0.0.1:8080"))?);
            }
            "--tls-listen" => {
                let v = value("--tls-listen")?;
                out.tls_listen =
                    Some(v.parse().map_err(|_| format!("--tls-listen: `{v}` is not an address like 127.0.0.1:8443"))?);
            }
            "--state-dir" => out.state_dir = Some(PathBuf::from(value("--state-dir")?)),
            "--signer" => {
                out.signer = Some(match value("--signer")?.as_str() {
                    "platform" => ResponseSigner::PlatformCertificate,
                    "public-key" => ResponseSigner::PublicKey,
                    other => return Err(format!("--signer: `{other}` is neither platform nor public-key")),
                })
            }
            "--public-key-only" => out.public_key_only = true,
            "--auto-advance" => {
                let v = value("--auto-advance")?;
                let ms: u64 = v.parse().map_err(|_| format!("--auto-advance: `{v}` is not milliseconds"))?;
                out.auto_advance = Some(Duration::from_millis(ms));
            }
            "--auto-pay" => {
                let v = value("--auto-pay")?;
                let ms: u64 = v.parse().map_err(|_| format!("--auto-pay: `{v}` is not milliseconds"))?;
                out.auto_pay = Some(Duration::from_millis(ms));
            }
            "--auto-notify" => out.auto_notify = true,
            "--bill-size" => {
                let v = value("--bill-size")?;
                out.bill_size = Some(v.parse().map_err(|_| format!("--bill-size: `{v}` is not a number of bytes"))?);
            }
            "--record" => out.record = Some(PathBuf::from(value("--record")?)),
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    Ok(Parsed::Run(out))
}

fn ready_line(server: &Server) -> Result<String, String> {
    let ids = server.identities();
    let paths = server.state_paths().ok_or("the server has no state directory")?;
    let path = |p: &std::path::Path| p.display().to_string();
    let line = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "base_uri": server.base_uri(),
        "listen": server.local_addr().to_string(),
        "pid": std::process::id(),
        "mchid": ids.mchid,
        "merchant_serial": ids.merchant.serial,
        "merchant_private_key": path(&paths.merchant_private_key),
        "merchant_certificate": path(&paths.merchant_certificate),
        "merchant_ca_certificate": path(&paths.merchant_ca_certificate),
        "tls_base_uri": server.tls_base_uri(),
        "tls_listen": server.tls_local_addr().to_string(),
        "tls_ca_certificate": path(&paths.tls_ca_certificate),
        "platform_serial": ids.platform.serial,
        "platform_certificate": path(&paths.platform_certificate),
        "platform_private_key": path(&paths.platform_private_key),
        "public_key_id": ids.public_key.id,
        "public_key": path(&paths.public_key),
        "public_key_private_key": path(&paths.public_key_private_key),
        "apiv3_key": ids.apiv3_key,
        "apiv2_key": ids.apiv2_key,
        "state_dir": path(paths.manifest.parent().unwrap_or(std::path::Path::new("."))),
    });
    serde_json::to_string(&line).map_err(|e| e.to_string())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn run(args: Args) -> Result<(), String> {
    let (state_dir, temporary) = match args.state_dir {
        Some(dir) => (dir, false),
        None => (std::env::temp_dir().join(format!("wechatpay-mock-{}", std::process::id())), true),
    };
    // The ready line names files: absolute paths, so that a client started elsewhere finds them.
    let state_dir =
        std::path::absolute(&state_dir).map_err(|e| format!("the state directory {}: {e}", state_dir.display()))?;
    let mut builder = Server::builder()
        .state_dir(&state_dir)
        .auto_advance(args.auto_advance)
        .auto_pay(args.auto_pay)
        .auto_notify(args.auto_notify)
        .bill_size(args.bill_size);
    if let Some(addr) = args.listen {
        builder = builder.listen(addr);
    }
    if let Some(addr) = args.tls_listen {
        builder = builder.tls_listen(addr);
    }
    if let Some(signer) = args.signer {
        builder = builder.response_signer(signer);
    }
    if args.public_key_only {
        builder = builder.public_key_only();
    }
    if let Some(path) = args.record {
        builder = builder.record(path);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the signal runtime: {e}"))?;
    let result = (|| {
        let server = builder.start_blocking().map_err(|e| e.to_string())?;
        println!("{}", ready_line(&server)?);
        runtime.block_on(wait_for_signal());
        drop(server);
        Ok(())
    })();
    if temporary {
        let _ = std::fs::remove_dir_all(&state_dir);
    }
    result
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Exit(text)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Parsed::Run(args)) => match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wechatpay-mock: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("wechatpay-mock: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn parses_flags() {
        let Ok(Parsed::Run(a)) = parse(&["--listen", "127.0.0.1:9", "--state-dir=/tmp/x", "--auto-advance", "50"])
        else {
            panic!("should parse");
        };
        assert_eq!(a.listen, Some(SocketAddr::from(([127, 0, 0, 1], 9))));
        assert_eq!(a.state_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(a.auto_advance, Some(Duration::from_millis(50)));
        assert_eq!(a.auto_pay, None);
        let Ok(Parsed::Run(a)) = parse(&["--auto-pay=0"]) else { panic!("should parse") };
        assert_eq!(a.auto_pay, Some(Duration::ZERO));
        assert!(parse(&["--auto-pay", "soon"]).is_err());
        let Ok(Parsed::Run(a)) = parse(&["--bill-size", "1073741824"]) else { panic!("should parse") };
        assert_eq!(a.bill_size, Some(1 << 30));
        assert!(parse(&["--bill-size", "1G"]).is_err());
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--listen", "nope"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        let Ok(Parsed::Run(a)) = parse(&["--record", "php.jsonl"]) else { panic!("should parse") };
        assert_eq!(a.record, Some(PathBuf::from("php.jsonl")));
        assert!(parse(&["--record"]).is_err());
        assert!(matches!(parse(&["--help"]), Ok(Parsed::Exit(_))));
        assert!(matches!(
            parse(&["--signer", "public-key"]),
            Ok(Parsed::Run(Args { signer: Some(ResponseSigner::PublicKey), .. }))
        ));
    }
}
