//! The `wechatpay` binary, run as a user would, against wechatpay-mock on loopback: every command, its output and
//! its error paths. Every run is also checked to print no secret (APIv3 key, APIv2 key, private key), on stdout or
//! stderr, whatever happened.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use wechatpay_mock::{Fault, Identities, Server, TransferState};

/// A simulator with the process-wide shared identities.
fn mock() -> Server {
    Server::builder().identities(Identities::shared().expect("identities")).start_blocking().expect("mock starts")
}

/// The simulator's keys as the files a merchant has.
struct Files {
    dir: tempfile::TempDir,
    private_key: PathBuf,
    merchant_certificate: PathBuf,
    public_key: PathBuf,
    platform_certificate: PathBuf,
    tls_ca: PathBuf,
}

impl Files {
    fn new(server: &Server) -> Files {
        let ids = server.identities();
        let dir = tempfile::tempdir().expect("temporary directory");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("written");
            path
        };
        Files {
            private_key: write("apiclient_key.pem", &ids.merchant.private_key_pem),
            merchant_certificate: write("apiclient_cert.pem", &ids.merchant.certificate_pem),
            public_key: write("pub_key.pem", &ids.public_key.public_key_pem),
            platform_certificate: write("platform.pem", &ids.platform.certificate_pem),
            tls_ca: write("tls_ca.pem", server.tls_ca_pem()),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("written");
        path
    }
}

/// What a run printed.
#[derive(Debug)]
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| panic!("stdout is not JSON ({err}): {self:?}"))
    }

    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(self.status, 0, "{self:?}");
        self
    }

    #[track_caller]
    fn fails(self, status: i32, needle: &str) -> Run {
        assert_eq!(self.status, status, "{self:?}");
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}: {self:?}");
        self
    }
}

/// The binary with no WECHATPAY_* variable of the caller's environment.
fn wechatpay() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wechatpay"));
    for (name, _) in std::env::vars() {
        if name.starts_with("WECHATPAY_") {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null());
    command
}

/// The binary with the merchant's credentials in the environment, as the quickstart reads them.
fn merchant(server: &Server, files: &Files) -> Command {
    let ids = server.identities();
    let mut command = wechatpay();
    command
        .env("WECHATPAY_MCHID", &ids.mchid)
        .env("WECHATPAY_SERIAL", &ids.merchant.serial)
        .env("WECHATPAY_PRIVATE_KEY", &files.private_key)
        .env("WECHATPAY_PUBLIC_KEY", &files.public_key)
        .env("WECHATPAY_PUBLIC_KEY_ID", &ids.public_key.id)
        .env("WECHATPAY_CERTIFICATE", &files.platform_certificate)
        .env("WECHATPAY_BASE_URI", server.base_uri());
    command
}

/// Runs `command` (with `input` on stdin) and checks that no secret was printed.
fn run(command: &mut Command, args: &[&str], input: Option<&[u8]>) -> Run {
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("wechatpay runs");
    if let Some(input) = input {
        child.stdin.take().expect("stdin").write_all(input).expect("input written");
    }
    let output = child.wait_with_output().expect("wechatpay ends");
    let run = Run {
        status: output.status.code().expect("exited"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let ids = Identities::shared().expect("identities");
    let key_line = ids.merchant.private_key_pem.lines().nth(3).expect("a line of the private key");
    for (what, secret) in
        [("APIv3 key", ids.apiv3_key.as_str()), ("APIv2 key", ids.apiv2_key.as_str()), ("private key", key_line)]
    {
        assert!(!run.stdout.contains(secret), "the {what} was printed on stdout: {run:?}");
        assert!(!run.stderr.contains(secret), "the {what} was printed on stderr: {run:?}");
    }
    run
}

/// A callback's headers as a server log shows them, with the request line.
fn header_file(headers: &[(String, String)]) -> String {
    let mut text = "POST /notify/wechatpay HTTP/1.1\r\n".to_owned();
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text
}

#[test]
fn every_command_has_help_and_no_secret_shows_in_it() {
    let server = mock();
    let files = Files::new(&server);
    let ids = server.identities();
    for command in [
        &[][..],
        &["certificates"],
        &["certificates", "download"],
        &["api"],
        &["notify"],
        &["notify", "decrypt"],
        &["sign"],
        &["verify"],
        &["bill"],
        &["bill", "download"],
        &["completions"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let mut with_secrets = merchant(&server, &files);
        with_secrets.env("WECHATPAY_APIV3_KEY", &ids.apiv3_key).env("WECHATPAY_APIV2_KEY", &ids.apiv2_key);
        with_secrets.env("WECHATPAY_PRIVATE_KEY", &ids.merchant.private_key_pem);
        let help = run(&mut with_secrets, &args, None).ok();
        assert!(help.stdout.contains("Usage: wechatpay"), "{args:?}: {help:?}");
    }

    // The PHP CertificateDownloader's options, short and long.
    let help = run(&mut wechatpay(), &["certificates", "download", "--help"], None).ok().stdout;
    for option in ["-m, --mchid", "-s, --serial", "--serialno", "-f, --private-key", "--privatekey", "-k, --apiv3-key"]
    {
        assert!(help.contains(option), "{option}: {help}");
    }
    for option in ["--key", "-o, --output", "-u, --base-uri", "--baseuri"] {
        assert!(help.contains(option), "{option}: {help}");
    }
    let help = run(&mut wechatpay(), &["--help"], None).ok().stdout;
    assert!(help.contains("Exit status") && help.contains("WECHATPAY_APIV3_KEY"), "{help}");

    let usage = run(&mut wechatpay(), &["api"], None);
    assert_eq!(usage.status, 2, "a usage error: {usage:?}");
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = run(&mut wechatpay(), &["completions", shell], None).ok().stdout;
        assert!(script.contains("wechatpay") && script.contains("certificates"), "{shell}: {script}");
    }
    run(&mut wechatpay(), &["completions", "tcsh"], None).fails(2, "tcsh");
}

#[test]
fn certificates_download_saves_each_certificate_exactly_as_decrypted() {
    let server = mock();
    let files = Files::new(&server);
    let ids = server.identities().clone();
    let rotated = server.rotate_platform_certificate().expect("a second certificate");
    let out = files.path("certs");
    let base = server.base_uri().to_owned();
    let private_key = files.private_key.to_str().expect("path").to_owned();

    // The PHP downloader's short options, nothing from the environment.
    let short = ["certificates", "download", "-m", &ids.mchid, "-s", &ids.merchant.serial, "-f", &private_key];
    let short = [&short[..], &["-k", &ids.apiv3_key, "-o", out.to_str().expect("path"), "-u", &base]].concat();
    let printed = run(&mut wechatpay(), &short, None).ok().stdout;
    for platform in [&ids.platform, &rotated] {
        let path = out.join(format!("wechatpay_{}.pem", platform.serial));
        assert_eq!(std::fs::read_to_string(&path).expect("saved"), platform.certificate_pem, "byte for byte");
        assert!(printed.contains(&format!("Serial Number: {}", platform.serial)), "{printed}");
        assert!(printed.contains(&format!("Saved to: {}", path.display())), "{printed}");
    }
    assert_eq!(printed.matches("Not Before: ").count(), 2, "{printed}");
    assert_eq!(printed.matches("Not After: ").count(), 2, "{printed}");
    assert_eq!(std::fs::read_dir(&out).expect("listed").count(), 2, "no temporary file is left");

    // The long options, and the environment, into a fresh private directory by default.
    let long = ["certificates", "download", "--mchid", &ids.mchid, "--serialno", &ids.merchant.serial];
    let long = [&long[..], &["--privatekey", &private_key, "--key", &ids.apiv3_key, "--baseuri", &base]].concat();
    let printed = run(&mut wechatpay(), &long, None).ok().stdout;
    let dir = printed
        .lines()
        .find_map(|line| line.strip_prefix("The certificates will be saved into the private directory: "))
        .expect("the directory is named");
    let saved = Path::new(dir).join(format!("wechatpay_{}.pem", rotated.serial));
    assert_eq!(std::fs::read_to_string(&saved).expect("saved"), rotated.certificate_pem);
    std::fs::remove_dir_all(dir).expect("cleaned up");

    let mut from_env = merchant(&server, &files);
    from_env.env("WECHATPAY_APIV3_KEY", &ids.apiv3_key);
    let again = files.path("again");
    run(&mut from_env, &["certificates", "download", "-o", again.to_str().expect("path")], None).ok();
    assert!(again.join(format!("wechatpay_{}.pem", ids.platform.serial)).exists());
}

#[test]
fn certificates_download_fails_clearly() {
    let server = mock();
    let files = Files::new(&server);
    let ids = server.identities();
    let out = files.path("certs");
    let args = ["certificates", "download", "-o", out.to_str().expect("path")];
    let with_key = |key: &str| {
        let mut command = merchant(&server, &files);
        command.env("WECHATPAY_APIV3_KEY", key);
        command
    };

    run(&mut merchant(&server, &files), &args, None).fails(2, "WECHATPAY_APIV3_KEY");
    let wrong: String = ids.apiv3_key.chars().rev().collect();
    run(&mut with_key(&wrong), &args, None).fails(1, "check the APIv3 key");
    run(&mut with_key("too-short"), &args, None).fails(2, "-k/--apiv3-key");

    server.faults().on_route_n("GET", "/v3/certificates", 1, Fault::TamperedSignature);
    run(&mut with_key(&ids.apiv3_key), &args, None).fails(1, "signature does not match");
    assert!(!out.exists() || std::fs::read_dir(&out).expect("listed").count() == 0, "nothing saved");

    let mut bad_key = with_key(&ids.apiv3_key);
    bad_key.env("WECHATPAY_PRIVATE_KEY", &files.platform_certificate);
    run(&mut bad_key, &args, None).fails(2, "WECHATPAY_PRIVATE_KEY");
    let mut no_file = with_key(&ids.apiv3_key);
    no_file.env("WECHATPAY_PRIVATE_KEY", files.path("missing.pem"));
    run(&mut no_file, &args, None).fails(2, "missing.pem");
    // A key pasted where the path belongs is never echoed.
    let mut pasted = with_key(&ids.apiv3_key);
    pasted.env("WECHATPAY_PRIVATE_KEY", &ids.apiv2_key);
    run(&mut pasted, &args, None).fails(2, "does not look like a path");

    let public_key_only = Server::builder()
        .identities(Identities::shared().expect("identities"))
        .public_key_only()
        .start_blocking()
        .expect("mock");
    let mut command = merchant(&public_key_only, &files);
    command.env("WECHATPAY_APIV3_KEY", &ids.apiv3_key);
    run(&mut command, &args, None).fails(1, "--public-key-id");
}

#[test]
fn api_calls_any_endpoint_in_any_chain_form() {
    let server = mock();
    let files = Files::new(&server);
    let ids = server.identities();

    let listed = run(&mut merchant(&server, &files), &["api", "GET", "v3/certificates"], None).ok();
    assert_eq!(listed.stdout.lines().count(), 1, "compact when piped: {listed:?}");
    assert_eq!(listed.json()["data"][0]["serial_no"], ids.platform.serial.as_str());
    let pretty = run(&mut merchant(&server, &files), &["api", "get", "/v3/certificates", "--pretty"], None).ok();
    assert!(pretty.stdout.lines().count() > 5, "{pretty:?}");
    assert_eq!(pretty.json()["data"][0]["serial_no"], ids.platform.serial.as_str());

    let included = run(&mut merchant(&server, &files), &["api", "GET", "v3/certificates", "-i"], None).ok().stdout;
    let mut lines = included.lines();
    assert_eq!(lines.next(), Some("HTTP/1.1 200 OK"));
    assert!(lines.next().is_some_and(|line| line.starts_with("Request-ID: ")), "{included}");
    assert!(included.contains("\nWechatpay-Serial: "), "{included}");
    let body = included.split("\n\n").nth(1).expect("a blank line before the body");
    assert_eq!(serde_json::from_str::<Value>(body).expect("JSON body")["data"][0]["serial_no"], ids.platform.serial);

    // The QQ-wallet transfer: create with --json @file, query in camelCase chain form, cancel with `{placeholder}`.
    let out_bill_no = "CLI20240101";
    let order = files.write(
        "transfer.json",
        json!({
            "appid": "102022609", "out_bill_no": out_bill_no, "transfer_scene_id": "1401",
            "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "注册会员有礼"}],
            "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": 400, "transfer_remark": "2020年4月报销",
        })
        .to_string(),
    );
    let json_arg = format!("@{}", order.display());
    let create = ["api", "POST", "v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills", "--json", &json_arg];
    let created = run(&mut merchant(&server, &files), &create, None).ok().json();
    assert_eq!(created["out_bill_no"], out_bill_no);

    let field = format!("out_bill_no={out_bill_no}");
    let query = ["api", "GET", "v3/fundApp/mchTransfer/transferToQqWalletBills/_out_bill_no_", "-F", &field];
    assert_eq!(run(&mut merchant(&server, &files), &query, None).ok().json()["out_bill_no"], out_bill_no);
    let cancel = ["api", "POST", "v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel"];
    run(&mut merchant(&server, &files), &[&cancel[..], &["-F", &field]].concat(), None).ok();
    assert_eq!(server.transfer_state(out_bill_no), Some(TransferState::Canceling));

    // A sensitive field, encrypted with WeChat Pay's key (whose serial goes in Wechatpay-Serial).
    let mut named = serde_json::from_slice::<Value>(&std::fs::read(&order).expect("read")).expect("JSON");
    named["out_bill_no"] = json!("CLI20240102");
    named["user_name"] = json!("张三");
    let create = ["api", "POST", "v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills", "--json", "@-"];
    let args = [&create[..], &["--encrypt", "user_name"]].concat();
    run(&mut merchant(&server, &files), &args, Some(named.to_string().as_bytes())).ok();
    let sent = server.last_request().expect("received");
    assert!(!String::from_utf8_lossy(&sent.body).contains("张三"), "encrypted");
    assert!(sent.headers.iter().any(|(name, value)| name == "wechatpay-serial" && *value == ids.public_key.id));

    // Query parameters, in the URI or with --query, and extra headers reach the server as given.
    let args = ["api", "GET", "v3/certificates?algorithm_type=RSA", "--query", "note=a b", "-H", "X-Trace: 42"];
    run(&mut merchant(&server, &files), &args, None).ok();
    let sent = server.last_request().expect("received");
    assert_eq!(sent.target, "/v3/certificates?algorithm_type=RSA&note=a%20b");
    assert!(sent.headers.iter().any(|(name, value)| name.eq_ignore_ascii_case("x-trace") && value == "42"));

    // With only the APIv3 key, the platform certificates are downloaded to verify the answer.
    let mut keyless = wechatpay();
    keyless
        .env("WECHATPAY_MCHID", &ids.mchid)
        .env("WECHATPAY_SERIAL", &ids.merchant.serial)
        .env("WECHATPAY_PRIVATE_KEY", &files.private_key)
        .env("WECHATPAY_APIV3_KEY", &ids.apiv3_key)
        .env("WECHATPAY_BASE_URI", server.base_uri());
    run(&mut keyless, &["api", "GET", "v3/certificates"], None).ok();
}

#[test]
fn api_failures_exit_with_the_message_and_wechat_pays_code() {
    let server = mock();
    let files = Files::new(&server);
    let ids = server.identities();
    let unknown = ["api", "GET", "v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{no}", "-F", "no=NOPE"];

    let answered = run(&mut merchant(&server, &files), &unknown, None).fails(1, "WeChat Pay answered 404");
    assert!(answered.stderr.contains("Request-ID"), "{answered:?}");
    let code = answered.json()["code"].as_str().expect("code").to_owned();
    assert!(answered.stderr.contains(&code), "{answered:?}");
    let included = run(&mut merchant(&server, &files), &[&unknown[..], &["--include"]].concat(), None);
    assert!(included.stdout.starts_with("HTTP/1.1 404 Not Found\nRequest-ID: "), "{included:?}");

    server.faults().next(Fault::TamperedSignature);
    let tampered = run(&mut merchant(&server, &files), &["api", "GET", "v3/certificates"], None);
    let tampered = tampered.fails(1, "failed verification");
    assert!(tampered.stdout.is_empty(), "an unverified answer is not printed: {tampered:?}");
    server.faults().next(Fault::UnknownSerial);
    run(&mut merchant(&server, &files), &["api", "GET", "v3/certificates"], None).fails(1, "not among the configured");
    server.faults().next(Fault::Delay(std::time::Duration::from_secs(2)));
    run(&mut merchant(&server, &files), &["api", "GET", "v3/certificates", "--timeout", "0.3"], None)
        .fails(1, "timed out");
    server.faults().next(Fault::Status(503));
    run(&mut merchant(&server, &files), &["api", "GET", "v3/certificates", "--include"], None)
        .fails(1, "503 SYSTEM_ERROR");

    // Usage and configuration errors send nothing.
    let served = server.requests_served();
    let mut no_mchid = merchant(&server, &files);
    no_mchid.env_remove("WECHATPAY_MCHID");
    run(&mut no_mchid, &["api", "GET", "v3/certificates"], None).fails(2, "WECHATPAY_MCHID");
    let mut no_keys = merchant(&server, &files);
    no_keys.env_remove("WECHATPAY_PUBLIC_KEY").env_remove("WECHATPAY_CERTIFICATE");
    run(&mut no_keys, &["api", "GET", "v3/certificates"], None).fails(2, "--public-key-id");
    let mut no_id = merchant(&server, &files);
    no_id.env_remove("WECHATPAY_PUBLIC_KEY_ID");
    run(&mut no_id, &["api", "GET", "v3/certificates"], None).fails(2, "WECHATPAY_PUBLIC_KEY_ID");
    let mut bad_serial = merchant(&server, &files);
    bad_serial.env("WECHATPAY_SERIAL", "apiclient_cert.pem");
    run(&mut bad_serial, &["api", "GET", "v3/certificates"], None).fails(2, "WECHATPAY_SERIAL");
    let mut bad_certificate = merchant(&server, &files);
    bad_certificate.env("WECHATPAY_CERTIFICATE", &files.private_key);
    run(&mut bad_certificate, &["api", "GET", "v3/certificates"], None).fails(2, "--certificate");

    let missing = ["api", "GET", "v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{no}"];
    run(&mut merchant(&server, &files), &missing, None).fails(2, "needs a value for {no}: add -F no=VALUE");
    run(&mut merchant(&server, &files), &[&missing[..], &["-F", "on=1"]].concat(), None).fails(2, "it has {no}");
    run(&mut merchant(&server, &files), &["api", "FETCH", "v3/certificates"], None).fails(2, "FETCH");
    run(&mut merchant(&server, &files), &["api", "POST", "v3/x", "--json", "{oops"], None).fails(2, "not JSON");
    run(&mut merchant(&server, &files), &["api", "POST", "v3/x", "--xml", "{}"], None).fails(2, "APIv2 only");
    run(&mut merchant(&server, &files), &["api", "GET", "https://x/v3/y"], None).fails(2, "--base-uri");
    assert_eq!(server.requests_served(), served, "nothing was sent");
    let _ = ids;
}

#[test]
fn api_v2_with_xml_and_mutual_tls() {
    let server = mock();
    let files = Files::new(&server);
    let ids = server.identities();
    let key_file = files.write("apiv2.key", format!("{}\n", ids.apiv2_key));
    let v2 = || {
        let mut command = merchant(&server, &files);
        command.env("WECHATPAY_APIV2_KEY", format!("@{}", key_file.display()));
        command
    };
    let micropay = json!({
        "appid": "wxd930ea5d5a258f4f", "mch_id": ids.mchid, "body": "coffee", "out_trade_no": "CLI-M1",
        "total_fee": 1, "spbill_create_ip": "127.0.0.1", "auth_code": "134567890123456789",
    })
    .to_string();
    let paid = run(&mut v2(), &["api", "POST", "v2/pay/micropay", "--xml", "@-"], Some(micropay.as_bytes())).ok();
    assert_eq!(paid.json()["result_code"], "SUCCESS");

    let query = json!({"appid": "wxd930ea5d5a258f4f", "mch_id": ids.mchid, "out_trade_no": "NOPE"}).to_string();
    let unknown = run(&mut v2(), &["api", "POST", "v2/pay/orderquery", "--xml", &query], None);
    let unknown = unknown.fails(1, "ORDERNOTEXIST");
    assert_eq!(unknown.json()["err_code"], "ORDERNOTEXIST", "the answer's fields on stdout");

    let reverse = json!({"appid": "wxd930ea5d5a258f4f", "mch_id": ids.mchid, "out_trade_no": "CLI-M1"}).to_string();
    let args = ["api", "POST", "v2/secapi/pay/reverse", "--xml", &reverse, "--security", "-u", server.tls_base_uri()];
    run(&mut v2(), &args, None).fails(2, "WECHATPAY_MERCHANT_CERTIFICATE");
    let mut tls = v2();
    tls.env("WECHATPAY_MERCHANT_CERTIFICATE", &files.merchant_certificate).env("WECHATPAY_CA", &files.tls_ca);
    let reversed = run(&mut tls, &args, None).ok();
    assert_eq!(reversed.json()["result_code"], "SUCCESS");
    assert!(server.tls_connections_accepted() >= 1, "over mutual TLS");

    run(&mut merchant(&server, &files), &["api", "POST", "v2/pay/orderquery", "--xml", &query], None)
        .fails(2, "WECHATPAY_APIV2_KEY");
    run(&mut v2(), &["api", "POST", "v2/pay/orderquery", "--json", "{}"], None).fails(2, "APIv3 only");
}

#[test]
fn notify_decrypt_verifies_then_prints_the_resource_or_names_the_refusal() {
    let server = mock();
    let files = Files::new(&server);
    let ids = server.identities();
    let resource = json!({"out_trade_no": "1217752501201407033233368018", "trade_state": "SUCCESS"});
    let callback = server.notification("TRANSACTION.SUCCESS", "支付成功", "transaction", &resource).expect("callback");
    let notify = |headers: &[(String, String)], body: &[u8], extra: &[&str]| {
        let headers = files.write("headers.txt", header_file(headers));
        let body = files.write("body.json", body);
        let mut command = merchant(&server, &files);
        command.env("WECHATPAY_APIV3_KEY", &ids.apiv3_key);
        let args = ["notify", "decrypt", "--headers", headers.to_str().expect("path"), "--body"];
        run(&mut command, &[&args[..], &[body.to_str().expect("path")], extra].concat(), None)
    };

    let decrypted = notify(&callback.headers, &callback.body, &[]).ok();
    assert_eq!(decrypted.json(), resource);
    assert!(decrypted.stderr.contains("TRANSACTION.SUCCESS"), "{decrypted:?}");
    let envelope = notify(&callback.headers, &callback.body, &["--envelope"]).ok().json();
    assert_eq!((&envelope["id"], &envelope["resource"]), (&json!(callback.id), &resource));

    // The body on stdin.
    let headers = files.write("stdin-headers.txt", header_file(&callback.headers));
    let mut command = merchant(&server, &files);
    command.env("WECHATPAY_APIV3_KEY", &ids.apiv3_key);
    let args = ["notify", "decrypt", "--headers", headers.to_str().expect("path"), "--body", "-"];
    assert_eq!(run(&mut command, &args, Some(&callback.body)).ok().json(), resource);
    let mut command = merchant(&server, &files);
    command.env("WECHATPAY_APIV3_KEY", &ids.apiv3_key);
    run(&mut command, &["notify", "decrypt", "--headers", "-", "--body", "-"], Some(b"")).fails(2, "both read stdin");

    for (fault, reason) in [
        (Fault::TamperedSignature, "(tampered)"),
        (Fault::StaleTimestamp, "(stale)"),
        (Fault::UnknownSerial, "(unknown serial)"),
        (Fault::SignTestProbe, "(probe)"),
        (Fault::MissingHeader(wechatpay_mock::SignatureHeader::Nonce), "(missing header)"),
    ] {
        let refused = server.resign_notification(&callback, Some(fault)).expect("re-signed");
        notify(&refused.headers, &refused.body, &[]).fails(1, reason);
    }
    let stale = server.resign_notification(&callback, Some(Fault::StaleTimestamp)).expect("re-signed");
    assert_eq!(notify(&stale.headers, &stale.body, &["--max-clock-skew", "1200"]).ok().json(), resource);

    let mut altered = callback.body.clone();
    altered.push(b'\n');
    notify(&callback.headers, &altered, &[]).fails(1, "ends with a line break");

    let (headers, body) = (files.write("h.txt", header_file(&callback.headers)), files.write("b.json", &callback.body));
    let key_file = files.write("apiv3.key", &ids.apiv3_key);
    let args =
        ["notify", "decrypt", "--headers", headers.to_str().expect("path"), "--body", body.to_str().expect("path")];
    let key_arg = format!("@{}", key_file.display());
    assert_eq!(
        run(&mut merchant(&server, &files), &[&args[..], &["-k", &key_arg]].concat(), None).ok().json(),
        resource
    );
    let wrong: String = ids.apiv3_key.chars().rev().collect();
    let args =
        ["notify", "decrypt", "--headers", headers.to_str().expect("path"), "--body", body.to_str().expect("path")];
    let mut command = merchant(&server, &files);
    command.env("WECHATPAY_APIV3_KEY", &wrong);
    run(&mut command, &args, None).fails(1, "(wrong APIv3 key)");
    run(&mut merchant(&server, &files), &args, None).fails(2, "WECHATPAY_APIV3_KEY");
    let mut keyless = wechatpay();
    keyless.env("WECHATPAY_APIV3_KEY", &ids.apiv3_key);
    run(&mut keyless, &args, None).fails(2, "--public-key");
}

/// Sends one HTTP/1.1 request by hand and returns the status line.
fn raw_request(base_uri: &str, head: &str) -> String {
    let address = base_uri.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connected");
    stream.write_all(head.as_bytes()).expect("sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answered");
    answer.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn sign_makes_signatures_wechat_pay_accepts() {
    let server = mock();
    let files = Files::new(&server);
    let ids = server.identities();
    let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let (timestamp, nonce) = (timestamp.to_string(), "N0NCEN0NCEN0NCEN0NCEN0NCEN0NCE12");

    // The Authorization header from `sign` is one the simulator accepts.
    let args = ["sign", "--method", "GET", "--uri", "/v3/certificates", "--timestamp", &timestamp, "--nonce", nonce];
    let authorization = run(&mut merchant(&server, &files), &[&args[..], &["--authorization"]].concat(), None).ok();
    let authorization = authorization.stdout.trim();
    assert!(authorization.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\""), "{authorization}");
    let host = server.base_uri().trim_start_matches("http://").trim_end_matches('/');
    let head = format!(
        "GET /v3/certificates HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\nAccept: application/json\r\n\
         User-Agent: wechatpay-cli-test\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw_request(server.base_uri(), &head), "HTTP/1.1 200 OK");
    let head = head.replace("/v3/certificates HTTP", "/v3/certificates?x=1 HTTP");
    assert!(raw_request(server.base_uri(), &head).starts_with("HTTP/1.1 401"), "another request, another signature");

    // The bare signature equals the message's, given literally, from a file or from stdin.
    let signature = run(&mut merchant(&server, &files), &args, None).ok().stdout;
    let message = format!("GET\n/v3/certificates\n{timestamp}\n{nonce}\n\n");
    assert_eq!(run(&mut merchant(&server, &files), &["sign", &message], None).ok().stdout, signature);
    let file = files.write("message.txt", &message);
    let from_file = format!("@{}", file.display());
    assert_eq!(run(&mut merchant(&server, &files), &["sign", &from_file], None).ok().stdout, signature);
    let shown = run(&mut merchant(&server, &files), &["sign", "@-", "--show-message"], Some(message.as_bytes())).ok();
    assert_eq!(shown.stdout, signature);
    assert!(shown.stderr.contains("GET\\n/v3/certificates\\n"), "{shown:?}");

    // The merchant key verifies it; one changed byte does not.
    let signature = signature.trim();
    let verify = ["verify", "--merchant", "--signature", signature, &message];
    run(&mut merchant(&server, &files), &verify, None).ok();
    let changed = message.replace("GET", "PUT");
    let verify = ["verify", "--merchant", "--signature", signature, &changed];
    run(&mut merchant(&server, &files), &verify, None).fails(1, "not by the merchant key");

    let mut no_key = merchant(&server, &files);
    no_key.env_remove("WECHATPAY_PRIVATE_KEY");
    run(&mut no_key, &["sign", "x"], None).fails(2, "WECHATPAY_PRIVATE_KEY");
    let mut no_serial = merchant(&server, &files);
    no_serial.env_remove("WECHATPAY_SERIAL");
    run(&mut no_serial, &[&args[..], &["--authorization"]].concat(), None).fails(2, "WECHATPAY_SERIAL");
    let _ = ids;
}

#[test]
fn verify_checks_answers_callbacks_and_messages() {
    let server = mock();
    let files = Files::new(&server);
    let ids = server.identities();
    let callback = server.notification("REFUND.SUCCESS", "退款成功", "refund", &json!({"a": 1})).expect("callback");
    let verify = |headers: &[(String, String)], body: &[u8]| {
        let headers = files.write("headers.txt", header_file(headers));
        let body = files.write("body.json", body);
        let args = ["verify", "--headers", headers.to_str().expect("path"), "--body", body.to_str().expect("path")];
        run(&mut merchant(&server, &files), &args, None)
    };
    let verified = verify(&callback.headers, &callback.body).ok();
    let serial = callback.header("Wechatpay-Serial").expect("serial");
    assert_eq!(verified.stdout, format!("verified: the signature is by {serial}\n"));

    let tampered = server.resign_notification(&callback, Some(Fault::TamperedSignature)).expect("re-signed");
    verify(&tampered.headers, &tampered.body).fails(1, "does not match");
    let probe = server.resign_notification(&callback, Some(Fault::SignTestProbe)).expect("re-signed");
    verify(&probe.headers, &probe.body).fails(1, "SIGNTEST");
    let unknown = server.resign_notification(&callback, Some(Fault::UnknownSerial)).expect("re-signed");
    verify(&unknown.headers, &unknown.body).fails(1, "not among the configured");
    let stale = server.resign_notification(&callback, Some(Fault::StaleTimestamp)).expect("re-signed");
    let stale = verify(&stale.headers, &stale.body).ok();
    assert!(stale.stderr.contains("300 s"), "the age is noted: {stale:?}");

    // A message and its signature: the key is named, or is the only one given.
    let message = String::from_utf8(wechatpay::Formatter::response_bytes(
        callback.header("Wechatpay-Timestamp").expect("timestamp"),
        callback.header("Wechatpay-Nonce").expect("nonce"),
        &callback.body,
    ))
    .expect("text");
    let signature = callback.header("Wechatpay-Signature").expect("signature");
    let args = ["verify", "--signature", signature, "--wechatpay-serial", serial, &message];
    run(&mut merchant(&server, &files), &args, None).ok();
    run(&mut merchant(&server, &files), &["verify", "--signature", signature, &message], None)
        .fails(2, "--wechatpay-serial");
    let one_key = || {
        let mut command = merchant(&server, &files);
        if serial == ids.public_key.id {
            command.env_remove("WECHATPAY_CERTIFICATE");
        } else {
            command.env_remove("WECHATPAY_PUBLIC_KEY").env_remove("WECHATPAY_PUBLIC_KEY_ID");
        }
        command
    };
    run(&mut one_key(), &["verify", "--signature", signature, &message], None).ok();
    run(&mut one_key(), &["verify", "--signature", signature, &format!("{message} ")], None).fails(1, "does not match");
}

#[test]
fn bill_download_writes_a_checked_file_or_nothing() {
    let server = mock();
    let files = Files::new(&server);
    let path = files.path("trade-2024-01-02.csv");
    let args = ["bill", "download", "tradebill", "--date", "2024-01-02", "--gzip", "-o", path.to_str().expect("path")];

    let downloaded = run(&mut merchant(&server, &files), &args, None).ok();
    assert!(downloaded.stdout.contains("checked against the hash_value"), "{downloaded:?}");
    assert!(downloaded.stderr.is_empty(), "no progress bar when stderr is not a terminal: {downloaded:?}");
    let sent = server.received_requests();
    let target =
        &sent.iter().rev().find(|request| request.target.starts_with("/v3/billdownload/file")).expect("sent").target;
    let expected = server.bill_file(target).expect("the simulator's bill");
    assert_eq!(std::fs::read(&path).expect("written"), expected);

    // On stdout, with the summary on stderr.
    let to_stdout = ["bill", "download", "fundflowbill", "--date", "2024-01-02", "-o", "-"];
    let printed = run(&mut merchant(&server, &files), &to_stdout, None).ok();
    assert!(printed.stdout.starts_with("记账时间,"), "{printed:?}");
    assert!(printed.stderr.contains("to stdout: SHA-1"), "{printed:?}");

    // A corrupted or cut download leaves nothing behind.
    std::fs::remove_file(&path).expect("removed");
    server.faults().on_route_n("GET", "/v3/billdownload/file", 1, Fault::CorruptByte(10));
    let plain = ["bill", "download", "--date", "2024-01-02", "-o", path.to_str().expect("path")];
    run(&mut merchant(&server, &files), &plain, None).fails(1, "failed its SHA-1 check");
    server.faults().on_route_n("GET", "/v3/billdownload/file", 1, Fault::CorruptByte(10));
    run(&mut merchant(&server, &files), &args, None).fails(1, "failed its gzip check");
    server.faults().on_route_n("GET", "/v3/billdownload/file", 1, Fault::CutAfter(50));
    run(&mut merchant(&server, &files), &args, None).fails(1, "ended after");
    assert!(!path.exists());
    let left: Vec<_> =
        std::fs::read_dir(files.dir.path()).expect("listed").flatten().map(|entry| entry.file_name()).collect();
    assert!(!left.iter().any(|name| name.to_string_lossy().ends_with(".part")), "no temporary file: {left:?}");

    let never = files.path("never.csv");
    let args = ["bill", "download", "--date", "20240102", "-o", never.to_str().expect("path")];
    run(&mut merchant(&server, &files), &args, None).fails(1, "WeChat Pay answered 400");
    assert!(!never.exists());
}
