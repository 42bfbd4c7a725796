//! Starting and stopping (async, blocking, drop inside a runtime), keep-alive counting, state directories
//! and the binary.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{Client, ids};
use wechatpay_mock::{Identities, Server};

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    std::env::temp_dir().join(format!("wechatpay-mock-test-{name}-{}-{nanos}", std::process::id()))
}

/// A raw unauthenticated GET: (status line, whole answer).
fn raw_get(base: &str, path: &str) -> String {
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("write");
    let mut out = String::new();
    stream.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn blocking_start_serves_and_drop_stops() {
    let server = Server::builder().identities(ids()).start_blocking().expect("server");
    let base = server.base_uri().to_owned();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with('/'));
    let answer = raw_get(&base, "/v3/certificates");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("SIGN_ERROR"));
    assert!(answer.contains("Wechatpay-Signature:"));
    drop(server);
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    assert!(TcpStream::connect(addr).is_err(), "the port is closed after drop");
}

#[tokio::test(flavor = "current_thread")]
async fn drop_inside_a_single_threaded_runtime_does_not_panic() {
    let server = Server::builder().identities(ids()).start().await.expect("server");
    let c = Client::new(&server);
    c.call_verified("GET", "/v3/certificates", None).await;
    drop(server);
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_and_counts_requests() {
    let server = Server::builder().identities(ids()).start().await.expect("server");
    let c = Client::new(&server);
    for _ in 0..3 {
        c.call_verified("GET", "/v3/certificates", None).await;
    }
    assert_eq!(server.connections_accepted(), 1);
    assert_eq!(server.requests_served(), 3);
    let last = server.last_request().expect("logged");
    assert_eq!((last.method.as_str(), last.target.as_str()), ("GET", "/v3/certificates"));
    assert!(last.headers.iter().any(|(k, v)| k == "user-agent" && v == "wechatpay-mock-tests"));
    assert_eq!(server.received_requests().len(), 3);
    // A second client opens a second connection.
    Client::new(&server).call_verified("GET", "/v3/certificates", None).await;
    assert_eq!(server.connections_accepted(), 2);
}

#[test]
fn fresh_servers_have_fresh_identities() {
    let a = Server::start_blocking().expect("server");
    let b = Server::builder().identities(a.identities().clone()).start_blocking().expect("server");
    assert_eq!(a.identities(), b.identities());
    let fresh = Identities::generate().expect("identities");
    assert_ne!(fresh.mchid, "");
    assert_ne!(fresh.merchant.serial, a.identities().merchant.serial);
    assert_eq!(fresh.apiv3_key.len(), 32);
    assert!(fresh.public_key.id.starts_with("PUB_KEY_ID_"));
    // Debug never shows secrets.
    let debug = format!("{fresh:?}");
    assert!(!debug.contains(&fresh.apiv3_key) && !debug.contains(&fresh.apiv2_key));
    assert!(!debug.contains("BEGIN PRIVATE KEY"));
}

#[test]
fn state_directories_keep_identities() {
    let dir = temp_dir("state");
    let first = Identities::load_or_create(&dir).expect("created");
    let again = Identities::load_or_create(&dir).expect("loaded");
    assert_eq!(first, again);
    let server = Server::builder().state_dir(&dir).start_blocking().expect("server");
    assert_eq!(server.identities(), &first);
    let paths = server.state_paths().expect("paths");
    let key = std::fs::read_to_string(&paths.merchant_private_key).expect("key file");
    assert_eq!(key, first.merchant.private_key_pem);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&paths.merchant_private_key).expect("meta").permissions().mode();
        assert_eq!(mode & 0o077, 0, "private keys are not world-readable");
    }
    drop(server);
    // A broken manifest is an error, not a panic.
    std::fs::write(dir.join("manifest.json"), "{}").expect("write");
    assert!(Identities::load_or_create(&dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn state_directories_from_before_the_merchant_ca_are_migrated() {
    let dir = temp_dir("migrate");
    let old = Identities::load_or_create(&dir).expect("created");
    // What an older release saved: no merchant CA in the manifest or on disk, a self-signed merchant certificate.
    let paths = wechatpay_mock::StatePaths::in_dir(&dir);
    let manifest_text = std::fs::read_to_string(&paths.manifest).expect("manifest");
    let mut manifest: serde_json::Value = serde_json::from_str(&manifest_text).expect("JSON");
    manifest.as_object_mut().expect("object").remove("merchant_ca_certificate");
    std::fs::write(&paths.manifest, manifest.to_string()).expect("write");
    std::fs::remove_file(&paths.merchant_ca_certificate).expect("remove");
    std::fs::remove_file(&paths.merchant_ca_private_key).expect("remove");

    let migrated = Identities::load(&dir).expect("migrated");
    assert_eq!((&migrated.mchid, &migrated.merchant.serial), (&old.mchid, &old.merchant.serial));
    assert_eq!(migrated.merchant.private_key_pem, old.merchant.private_key_pem);
    assert_ne!(migrated.merchant_ca, old.merchant_ca, "a new merchant CA");
    assert_eq!(common::cert_info(&migrated.merchant.certificate_pem).0, old.merchant.serial, "same serial");
    assert_eq!(Identities::load(&dir).expect("loaded again"), migrated, "saved once, stable after");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_binary_prints_a_ready_line_and_stops_on_sigterm() {
    let dir = temp_dir("bin");
    let mut mchid = String::new();
    for round in 0..2 {
        // A relative state directory: the ready line still names absolute paths.
        let (parent, name) = (dir.parent().expect("a parent"), dir.file_name().expect("a name"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_wechatpay-mock"))
            .args(["--listen", "127.0.0.1:0", "--state-dir"])
            .arg(name)
            .current_dir(parent)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
        let ready: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
        for field in [
            "base_uri",
            "mchid",
            "merchant_serial",
            "merchant_private_key",
            "merchant_certificate",
            "platform_serial",
            "platform_certificate",
            "public_key_id",
            "public_key",
            "apiv3_key",
            "apiv2_key",
        ] {
            assert!(ready[field].as_str().is_some_and(|v| !v.is_empty()), "{field} in {line}");
        }
        assert_eq!(ready["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
        assert!(ready["tls_base_uri"].as_str().is_some_and(|uri| uri.starts_with("https://127.0.0.1:")), "{line}");
        for file in [
            "merchant_private_key",
            "merchant_certificate",
            "merchant_ca_certificate",
            "tls_ca_certificate",
            "platform_certificate",
            "public_key",
        ] {
            let path = ready[file].as_str().unwrap_or_default();
            assert!(std::path::Path::new(path).is_absolute(), "{file}: {path}");
            assert!(std::fs::read_to_string(path).is_ok_and(|t| t.starts_with("-----BEGIN")), "{file}");
        }
        if round == 0 {
            mchid = ready["mchid"].as_str().unwrap_or_default().to_owned();
        } else {
            assert_eq!(ready["mchid"].as_str(), Some(mchid.as_str()), "the state directory is reused");
        }
        let answer = raw_get(ready["base_uri"].as_str().unwrap_or_default(), "/v3/certificates");
        assert!(answer.starts_with("HTTP/1.1 401"));
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
        let exit = child.wait().expect("exits");
        assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_wechatpay-mock")).arg("--nope").output().expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
