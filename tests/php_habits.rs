//! PHP habits that must just work, or be refused with an error that says how: Guzzle's request options
//! (`http_errors`, `sink`, `allow_redirects`, the rest), MediaUtil's literal port, `->wait()`, lazy async
//! futures, redirects and answers that did not come from WeChat Pay's API.

mod common;

use std::time::Duration;

use serde_json::json;
use wechatpay::{Builder, Error, MediaUpload, Options};
use wechatpay_mock::Fault;

fn options_error(result: wechatpay::Result<wechatpay::Response>) -> String {
    match result {
        Err(Error::Options { reason }) => reason,
        other => panic!("expected an options error, got {other:?}"),
    }
}

#[test]
fn guzzle_options_this_sdk_does_not_take_say_what_to_use_instead() {
    let server = common::mock();
    let instance = common::client(&server);
    let certificates = instance.v3().certificates();
    let cases = [
        (json!({"proxy": "http://127.0.0.1:3128"}), "HTTPS_PROXY"),
        (json!({"verify": false}), "root_certificate"),
        (json!({"cert": ["/path/apiclient_cert.pem", "pass"]}), "merchant_tls"),
        (json!({"connect_timeout": 3}), "ConfigBuilder::connect_timeout"),
        (json!({"multipart": [{"name": "meta"}]}), "MediaUpload"),
        (json!({"form_params": {"a": "b"}}), "`json`"),
        (json!({"auth": ["user", "password"]}), "signature"),
        (json!({"on_stats": "fn"}), "debug"),
    ];
    for (options, instead) in cases {
        let reason = options_error(certificates.get(&options));
        assert!(reason.contains("is a Guzzle request option this SDK does not take"), "{options}: {reason}");
        assert!(reason.contains(instead), "{options}: {reason}");
    }
    let reason = options_error(certificates.get(json!({"allow_redirects": true})));
    assert!(reason.contains("never follows a redirect"), "{reason}");
    // PHP's README passes `need_vefify` to promotion/transfers; nothing reads it.
    let reason = options_error(certificates.get(json!({"need_vefify": false})));
    assert!(reason.contains("remove it"), "{reason}");
    // A key that is neither still names the options and the path's variables.
    let reason = options_error(certificates.get(json!({"out_trade_no": "1"})));
    assert!(reason.contains("neither an option") && reason.contains("http_errors"), "{reason}");
    // `allow_redirects => false` asks for what the SDK always does.
    assert_eq!(certificates.get(json!({"allow_redirects": false})).unwrap().status(), 200);
    assert_eq!(server.received_requests().len(), 1, "nothing was sent for the refused options");
}

/// A path variable may share a name with a Guzzle option: the template decides.
#[test]
fn a_guzzle_option_name_that_is_a_path_variable_fills_the_path() {
    let instance = Builder::factory(common::php_config_for("https://api.mch.weixin.qq.com/")).unwrap();
    let url = instance.chain("v3/custom/{version}").url(json!({"version": "2"})).unwrap();
    assert!(url.ends_with("/v3/custom/2"), "{url}");
}

#[test]
fn http_errors_false_answers_error_statuses_as_responses_verified_when_signed() {
    let server = common::mock();
    let instance = common::client(&server);
    let bill = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills()._out_bill_no_();
    let php = json!({"out_bill_no": "no-such-bill", "http_errors": false});
    let response = bill.get(&php).unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<serde_json::Value>().unwrap()["code"], "NOT_FOUND");
    assert_eq!(response.verified_by(), Some(server.identities().platform.serial.as_str()));
    // The default is Guzzle's: an error.
    assert!(matches!(bill.get(json!({"out_bill_no": "no-such-bill"})), Err(Error::Api { status: 404, .. })));

    // A tampered error answer is still refused: a signature that is there must verify.
    server.faults().next(Fault::TamperedSignature);
    server.faults().next(Fault::Status(503));
    let typed = Options::new().var("out_bill_no", "no-such-bill").http_errors(false);
    let first = bill.get(typed.clone());
    let second = bill.get(typed).unwrap();
    assert!(matches!(first, Err(Error::Verification { .. })), "{first:?}");
    assert_eq!(second.status(), 503);

    // A proxy's page carries no signature: passed on, unverified.
    let base = common::canned_server_with_headers(vec![(
        502,
        vec![("Content-Type".into(), "text/html".into())],
        b"<html><body>Bad Gateway</body></html>".to_vec(),
    )]);
    let proxied = Builder::factory(common::php_config_for(&base)).unwrap();
    let response = proxied.v3().certificates().get(Options::new().http_errors(false)).unwrap();
    assert_eq!((response.status().as_u16(), response.verified_by()), (502, None));
}

/// With retries configured, an error answered as a Response is the caller's to judge: it is not sent again.
#[test]
fn http_errors_false_answers_are_not_retried() {
    let server = common::mock();
    let mut config = server.php_config();
    config["retry"] = json!({"attempts": 3, "initialBackoff": 0.01});
    let instance = Builder::factory(config).unwrap();
    server.faults().next(Fault::Status(503));
    let response = instance.v3().certificates().get(Options::new().http_errors(false)).unwrap();
    assert_eq!((response.status().as_u16(), server.received_requests().len()), (503, 1));
    // The same failure without it is retried, as the Retry says.
    server.faults().next(Fault::Status(503));
    assert_eq!(instance.v3().certificates().get(()).unwrap().status(), 200);
    assert_eq!(server.received_requests().len(), 3);
}

/// An error answer handed over as a Response is read whole (within max_response_size), not cut at the 64 KiB an
/// error keeps of its body.
#[test]
fn http_errors_false_reads_a_large_error_answer_whole() {
    let page = format!("<html><body>{}</body></html>", "x".repeat(100 * 1024)).into_bytes();
    let answers = vec![
        (503, vec![("Content-Type".into(), "text/html".into())], page.clone()),
        (503, vec![("Content-Type".into(), "text/html".into())], page.clone()),
    ];
    let base = common::canned_server_with_headers(answers);
    let instance = Builder::factory(common::php_config_for(&base)).unwrap();
    let response = instance.v3().certificates().get(Options::new().http_errors(false)).unwrap();
    assert_eq!((response.status().as_u16(), response.bytes().len()), (503, page.len()));
    let Err(Error::Api { body, .. }) = instance.v3().certificates().get(()) else { panic!("an error") };
    assert_eq!(body.len(), 64 * 1024, "an error keeps the first 64 KiB");
}

#[test]
fn a_non_json_error_page_says_it_did_not_come_from_wechat_pay() {
    let page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body>\r\n</html>".to_vec();
    let base = common::canned_server_with_headers(vec![(502, vec![("Content-Type".into(), "text/html".into())], page)]);
    let instance = Builder::factory(common::php_config_for(&base)).unwrap();
    let err = instance.v3().certificates().get(()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(&err, Error::Api { status: 502, code, .. } if code.is_empty()), "{err:?}");
    assert!(message.contains("did not come from WeChat Pay's API"), "{message}");
    assert!(!message.starts_with("WeChat Pay answered"), "{message}");
    assert!(message.contains("502 Bad Gateway"), "{message}");
}

#[test]
fn a_redirect_is_an_error_that_names_it_and_shows_location() {
    let location = "https://login.proxy.example/?next=/v3/certificates";
    let base = common::canned_server_with_headers(vec![(302, vec![("Location".into(), location.into())], vec![])]);
    let instance = Builder::factory(common::php_config_for(&base)).unwrap();
    let err = instance.v3().certificates().get(()).unwrap_err();
    let Error::Redirect { status, location: Some(ref shown), ref url, .. } = err else { panic!("{err:?}") };
    assert_eq!((status, shown.as_str()), (302, location));
    assert!(url.ends_with("/v3/certificates"), "{url}");
    let message = err.to_string();
    assert!(message.contains("a redirect") && message.contains(location), "{message}");

    // http_errors => false does not turn a redirect into an answer, and APIv2 judges it the same way.
    let base = common::canned_server_with_headers(vec![
        (301, vec![("Location".into(), "https://elsewhere.example/".into())], vec![]),
        (307, vec![], vec![]),
    ]);
    let mut config = common::php_config_for(&base);
    config["secret"] = json!("192006250b4c09247ec02edce69f6a2d");
    let instance = Builder::factory(config).unwrap();
    let err = instance.v3().certificates().get(Options::new().http_errors(false)).unwrap_err();
    assert!(matches!(err, Error::Redirect { status: 301, .. }), "{err:?}");
    let v2 = json!({"xml": {"mch_id": "1900000001"}, "allow_redirects": false});
    let err = instance.v2().sandboxnew().pay().getsignkey().post(v2).unwrap_err();
    assert!(matches!(err, Error::Redirect { status: 307, location: None, .. }), "{err:?}");
    assert!(err.to_string().contains("without a Location header"), "{err}");
}

#[test]
fn sink_writes_the_verified_body_to_a_file_and_nothing_for_a_failure() {
    let server = common::mock();
    let instance = common::client(&server);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("certificates.json");
    let php = json!({"sink": path.to_str().unwrap()});
    let response = instance.chain("v3/certificates").get(&php).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), response.bytes().to_vec());

    let failed = dir.path().join("failed.json");
    server.faults().next(Fault::TamperedSignature);
    assert!(instance.v3().certificates().get(Options::new().sink(&failed)).is_err());
    assert!(!failed.exists(), "an unverified body is never written");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
    let err = options_error(instance.v3().certificates().get(json!({"sink": {"resource": 1}})));
    assert!(err.contains("file path"), "{err}");
}

#[test]
fn guzzle_options_for_whole_answers_are_refused_by_downloads_not_ignored() {
    let server = common::mock();
    let instance = common::client(&server);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.png");
    let image = instance.v3().merchant_service().images()._media_id_();
    let sunk = image.download(json!({"media_id": "A.png", "sink": path.to_str().unwrap()}), &mut Vec::new());
    let err = sunk.unwrap_err();
    assert!(matches!(err, Error::Options { .. }) && err.to_string().contains("download_to_file"), "{err:?}");
    assert!(!path.exists());
    let unchecked = image.download(Options::new().var("media_id", "A.png").http_errors(false), &mut Vec::new());
    let err = unchecked.unwrap_err();
    assert!(matches!(err, Error::Options { .. }) && err.to_string().contains("http_errors"), "{err:?}");

    // APIv2 answers are read whole: download() says so, and how to read a large bill.
    let v2 = Builder::factory(common::v2_config(&server)).unwrap();
    let mchid = server.identities().mchid.clone();
    let xml = json!({"appid": "wxd930ea5d5a258f4f", "mch_id": mchid, "bill_date": "20240101", "bill_type": "ALL"});
    let err = v2.v2().pay().downloadbill().download(json!({"xml": xml}), &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }) && err.to_string().contains("max_response_size"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_works_with_the_async_verbs() {
    let server = common::mock();
    let instance = common::client(&server);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("certificates.json");
    let response = instance.v3().certificates().get_async(Options::new().sink(&path)).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), response.bytes().to_vec());
}

#[test]
fn the_literal_mediautil_port_uploads_and_a_hand_made_multipart_body_is_refused() {
    let server = common::mock();
    let instance = common::client(&server);
    let upload = instance.v3().merchant().media().upload();
    // PHP: ->post(['body' => $media->getStream(), 'headers' => ['Content-Type' => $media->getContentType()]])
    let media = MediaUpload::new("logo.png", b"\x89PNG\r\n\x1a\n logo".to_vec());
    let content_type = media.content_type();
    let answer = upload.post(Options::new().body(media).header("Content-Type", &content_type)).unwrap();
    assert!(answer.json::<serde_json::Value>().unwrap()["media_id"].is_string());
    let media = MediaUpload::new("logo.png", b"\x89PNG\r\n\x1a\n logo".to_vec());
    assert_eq!(upload.post(Options::new().body(media)).unwrap().status(), 200);
    let sent = server.received_requests().len();

    let media = MediaUpload::new("logo.png", b"\x89PNG".to_vec());
    let reason = options_error(upload.post(Options::new().body(media).header("content-type", "multipart/form-data")));
    assert!(reason.contains("media.content_type()"), "{reason}");
    let form = "--B\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{}\r\n--B--\r\n".to_owned();
    let raw = Options::new().body(form.clone()).header("Content-Type", "multipart/form-data; boundary=B");
    let reason = options_error(upload.post(raw));
    assert!(reason.contains("MediaUpload") && reason.contains("meta"), "{reason}");
    let php = json!({"body": form, "headers": {"Content-Type": "Multipart/Form-Data; boundary=B"}});
    assert!(options_error(upload.post(php)).contains("MediaUpload"));
    assert_eq!(server.received_requests().len(), sent, "nothing was sent for the refused bodies");
}

#[test]
fn an_async_verb_sends_nothing_until_polled_and_wait_blocks_for_it() {
    let server = common::mock();
    let instance = common::client(&server);
    let future = instance.v3().certificates().get_async(());
    std::thread::sleep(Duration::from_millis(100));
    assert!(server.received_requests().is_empty(), "made, not polled: nothing sent");
    drop(future);
    std::thread::sleep(Duration::from_millis(50));
    assert!(server.received_requests().is_empty(), "dropped unpolled: nothing sent");

    // PHP's ->wait(), from a plain thread.
    let response = instance.v3().certificates().get_async(()).wait().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.received_requests().len(), 1);
    // Bad options surface when it is waited for.
    let err = instance.v3().certificates().get_async(json!({"proxy": "x"})).wait().unwrap_err();
    assert!(matches!(err, Error::Options { .. }), "{err:?}");

    // And from inside both kinds of Tokio runtime.
    let current = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = current.block_on(async { instance.v3().certificates().get_async(()).wait().map(|r| r.status()) });
    assert_eq!(status.unwrap(), 200);
    let multi = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let status = multi.block_on(async { instance.v3().certificates().get_async(()).wait().map(|r| r.status()) });
    assert_eq!(status.unwrap(), 200);
}

/// Dropping a future that has been polled: the request may already have reached WeChat Pay (the documented reason
/// to query before retrying), and the future ends at once.
#[tokio::test(flavor = "current_thread")]
async fn dropping_a_polled_future_abandons_the_answer_but_the_request_may_have_arrived() {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let (arrived, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else { return };
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
            head.push(byte[0]);
        }
        let _ = arrived.send(String::from_utf8_lossy(&head).into_owned());
        // A server that processes slowly, and never answers in time.
        std::thread::sleep(Duration::from_secs(3));
    });
    let instance = Builder::factory(common::php_config_for(&base)).unwrap();
    let future = instance.v3().certificates().get_async(());
    let started = std::time::Instant::now();
    assert!(tokio::time::timeout(Duration::from_millis(500), future).await.is_err(), "dropped before an answer");
    assert!(started.elapsed() < Duration::from_secs(2), "the drop does not wait for the server");
    let head = received.recv_timeout(Duration::from_secs(5)).expect("the request arrived before the drop");
    assert!(head.starts_with("GET /v3/certificates HTTP/1.1"), "{head}");
}
