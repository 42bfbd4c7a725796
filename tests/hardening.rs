//! Hostile answers and hostile input (issue 11): each test is one finding of the probe, or one of its siblings,
//! and failed before its fix.

mod common;

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use wechatpay::{Builder, Config, Error};

/// A Builder with the fixture keys (it trusts [`common::fixture_signed_headers`]) pointed at `base`, with `extra`
/// config keys.
fn fixture_client(base: &str, extra: Value) -> Builder {
    let mut config = common::php_config_for(base);
    for (key, value) in extra.as_object().expect("an object") {
        config[key] = value.clone();
    }
    Builder::factory(config).expect("factory")
}

/// A script that answers `status` with `headers`, announcing `announced` bytes (or chunked when `None`), then
/// writes zeros until the client hangs up; `written` counts the body bytes that got out.
fn endless(status: u16, headers: &str, announced: Option<u64>, written: Arc<AtomicU64>) -> common::Script {
    let headers = headers.to_owned();
    Box::new(move |_, stream| {
        let framing = match announced {
            Some(length) => format!("Content-Length: {length}\r\n"),
            None => "Transfer-Encoding: chunked\r\n".to_owned(),
        };
        write!(stream, "HTTP/1.1 {status} X\r\n{headers}{framing}\r\n")?;
        let block = vec![b'0'; 64 * 1024];
        let chunk_head = format!("{:x}\r\n", block.len());
        loop {
            if announced.is_none() {
                stream.write_all(chunk_head.as_bytes())?;
            }
            stream.write_all(&block)?;
            if announced.is_none() {
                stream.write_all(b"\r\n")?;
            }
            written.fetch_add(block.len() as u64, Ordering::Relaxed);
            if written.load(Ordering::Relaxed) > 256 * 1024 * 1024 {
                return Ok(());
            }
        }
    })
}

/// Finding 1: a 200 with a 200 MB body, announced or chunked, was read whole before any check.
#[test]
fn answers_larger_than_the_limit_are_refused_without_being_read() {
    let (announced, chunked) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let json = "Content-Type: application/json\r\n";
    let server = common::scripted_server(vec![
        endless(200, json, Some(200 * 1024 * 1024), Arc::clone(&announced)),
        endless(200, json, None, Arc::clone(&chunked)),
    ]);
    let instance = fixture_client(&server.base, json!({"maxResponseSize": 64 * 1024}));

    let err = instance.v3().certificates().get(()).unwrap_err();
    let Error::ResponseTooLarge { status: 200, limit: 65536, announced: Some(length), .. } = err else {
        panic!("expected ResponseTooLarge, got {err:?}")
    };
    assert_eq!(length, 200 * 1024 * 1024);

    let err = instance.v3().certificates().get(()).unwrap_err();
    assert!(matches!(err, Error::ResponseTooLarge { announced: None, .. }), "{err:?}");
    assert!(err.to_string().contains("max_response_size"), "{err}");
    // What got out of the server before the client hung up: socket buffers, far from 200 MB.
    for written in [&announced, &chunked] {
        let written = written.load(Ordering::Relaxed);
        assert!(written < 32 * 1024 * 1024, "{written} bytes were sent before the client gave up");
    }
}

/// Finding 1: a 500 with a 200 MB body was kept whole inside `Error::Api.body`.
#[test]
fn error_answers_keep_a_bounded_prefix() {
    let written = Arc::new(AtomicU64::new(0));
    let server = common::scripted_server(vec![endless(500, "Content-Type: text/html\r\n", None, written)]);
    let instance = fixture_client(&server.base, json!({}));
    let err = instance.v3().certificates().get(()).unwrap_err();
    let Error::Api { status: 500, ref body, .. } = err else { panic!("expected Api, got {err:?}") };
    assert_eq!(body.len(), 64 * 1024, "the first 64 KiB are kept");
}

/// Sibling of finding 1: the APIv2 transport reads its answers whole too.
#[test]
fn apiv2_answers_are_limited_too() {
    let written = Arc::new(AtomicU64::new(0));
    let server = common::scripted_server(vec![endless(200, "Content-Type: text/xml\r\n", None, written)]);
    let instance =
        fixture_client(&server.base, json!({"maxResponseSize": 4096, "secret": "192006250b4c09247ec02edce69f6a2d"}));
    let err = instance.v2().pay().orderquery().post(json!({"xml": {"mch_id": "1900000001"}})).unwrap_err();
    assert!(matches!(err, Error::ResponseTooLarge { limit: 4096, .. }), "{err:?}");
}

/// An answer within the limit is read whole, however it is cut into chunks.
#[test]
fn answers_within_the_limit_are_read_whole() {
    let body = serde_json::to_vec(&json!({"data": [], "padding": "x".repeat(3000)})).unwrap();
    let server =
        common::scripted_server(vec![common::answer(200, common::fixture_signed_headers(&body), body.clone())]);
    let instance = fixture_client(&server.base, json!({"maxResponseSize": body.len()}));
    let response = instance.v3().certificates().get(()).expect("exactly at the limit");
    assert_eq!(response.bytes().as_ref(), body.as_slice());
    assert!(Config::from_value(&json!({"maxResponseSize": 0})).unwrap_err().to_string().contains("maxResponseSize"));
}

/// Finding 2: `..` in a chain key was resolved by the URL parser, sending the signed request to the unsigned bill
/// download, whose forged answer came back as `Ok`.
#[test]
fn dot_segments_in_literal_keys_are_refused_before_sending() {
    let server = common::scripted_server(vec![common::answer(200, vec![], b"forged,bill\n".to_vec())]);
    let instance = fixture_client(&server.base, json!({}));
    let climbing = instance.chain("v3/pay/transactions/id/../../../billdownload/file");
    let err = climbing.get(json!({"query": {"token": "x"}})).unwrap_err();
    assert!(matches!(err, Error::Template { .. }), "{err:?}");
    assert!(err.to_string().contains("another endpoint"), "{err}");
    assert!(server.heads().is_empty(), "nothing was sent");

    for key in [
        "v3/pay/transactions/id/%2e%2e/%2E%2E/%2e./billdownload/file",
        "v3/pay/transactions/id/..\\..\\..\\billdownload/file",
        "v3/pay/transactions/id/.\t./billdownload/file",
        "v3/pay/transactions/./native",
        "v3/certificates#fragment",
        "v3/certificates\r\nX-Injected: 1",
    ] {
        let err = instance.chain(key).url(json!({"query": {"a": "1"}})).unwrap_err();
        assert!(matches!(err, Error::Template { .. }), "{key:?}: {err:?}");
        let err = instance[key].url(()).unwrap_err();
        assert!(matches!(err, Error::Template { .. }), "index {key:?}: {err:?}");
        assert!(instance.verbatim(key).url(()).is_err(), "verbatim {key:?}");
    }
    // Dots inside a segment are only text.
    let url = instance.chain("v3/a.b/..c/c..").url(()).expect("not dot segments");
    assert!(url.ends_with("/v3/a.b/..c/c.."), "{url}");
}

/// Finding 2: a key could climb above a base_uri path prefix (`https://host/hk/`).
#[test]
fn keys_never_climb_above_the_base_uri_prefix() {
    let instance = fixture_client("https://api.mch.weixin.qq.com/hk/", json!({}));
    assert_eq!(instance.v3().certificates().url(()).unwrap(), "https://api.mch.weixin.qq.com/hk/v3/certificates");
    for key in ["../v3/certificates", "%2e%2e/v3/certificates", "..\\v3/certificates"] {
        assert!(matches!(instance.chain(key).url(()), Err(Error::Template { .. })), "{key}");
    }
    // A variable can hold no dot segment either (this held before; kept as a regression test).
    let err = instance.chain("{+rest}").url(json!({"rest": "../v3/certificates"})).unwrap_err();
    assert!(err.to_string().contains("another resource"), "{err}");
    // APIv2 paths are checked the same way.
    let v2 = fixture_client("https://api.mch.weixin.qq.com/hk/", json!({"secret": "192006250b4c09247ec02edce69f6a2d"}));
    let err = v2.chain("v2/../pay/orderquery").url(json!({"xml": {"mch_id": "1900000001"}})).unwrap_err();
    assert!(matches!(err, Error::Template { .. }), "{err:?}");
}

/// Finding 3: plain `http://` to a host other than loopback was accepted: signed requests and bill files in
/// clear text.
#[test]
fn plain_http_is_for_loopback_unless_allowed_by_name() {
    let config = |base: &str, extra: Value| {
        let mut config = common::php_config_for(base);
        for (key, value) in extra.as_object().unwrap() {
            config[key] = value.clone();
        }
        Config::from_value(&config)
    };
    for base in ["http://api.mch.weixin.qq.com/", "http://10.0.0.8:8080/", "http://[2001:db8::1]/"] {
        let err = config(base, json!({})).unwrap_err();
        assert!(matches!(err, Error::Config { ref field, .. } if field == "base_uri"), "{base}: {err:?}");
        assert!(err.to_string().contains("allowPlainHttp"), "{err}");
        assert!(config(base, json!({"allowPlainHttp": true})).is_ok(), "{base}");
    }
    for base in ["http://127.0.0.1:1/", "http://[::1]:1/", "http://localhost:1/", "https://10.0.0.8/"] {
        assert!(config(base, json!({})).is_ok(), "{base}");
    }
    assert!(config("https://10.0.0.8/", json!({"allowPlainHttp": "yes"})).is_err());
    // The APIv2 per-request base_uri follows the same rule.
    let v2 = fixture_client("http://127.0.0.1:1/", json!({"secret": "192006250b4c09247ec02edce69f6a2d"}));
    let options = |base: &str| json!({"base_uri": base, "xml": {"mch_id": "1900000001"}});
    let err = v2.v2().risk().getpublickey().url(options("http://fraud.mch.weixin.qq.com/")).unwrap_err();
    assert!(matches!(err, Error::Options { .. }), "{err:?}");
    assert!(v2.v2().risk().getpublickey().url(options("https://fraud.mch.weixin.qq.com/")).is_ok());
}

/// Finding 4: caller headers could change the framing (`Content-Length` shorter than the signed body, or longer,
/// which hung; `Host`; `Transfer-Encoding`), and their siblings could manage the connection.
#[test]
fn headers_that_frame_the_message_are_refused() {
    let instance = fixture_client("http://127.0.0.1:1/", json!({}));
    let node = instance.v3().merchant_service().complaint_notifications();
    for name in [
        "Content-Length",
        "content-length",
        "Transfer-Encoding",
        "Host",
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Upgrade",
        "Expect",
    ] {
        let php = json!({"json": {"url": "https://example.com/"}, "headers": {name: "1"}});
        let err = node.url(php).unwrap_err();
        assert!(matches!(err, Error::Options { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(name), "{name}: {err}");
        let typed = wechatpay::Options::new().body("{}").header(name, "1");
        assert!(matches!(node.url(typed), Err(Error::Options { .. })), "{name}");
    }
    // A media upload's Content-Type carries its boundary.
    let media = wechatpay::MediaUpload::new("a.png", b"\x89PNG".to_vec());
    let upload = wechatpay::Options::new().media(media).header("Content-Type", "image/png");
    assert!(matches!(instance.v3().merchant().media().upload().url(upload), Err(Error::Options { .. })));
    // Other headers stay the caller's.
    let fine = json!({"json": {}, "headers": {"Wechatpay-Serial": "PUB_KEY_ID_0114232134912410000000000000000",
        "Accept-Language": "en", "Content-Type": "application/json; charset=utf-8"}});
    assert!(node.url(fine).is_ok());
    // The APIv2 transport shares the check.
    let v2 = fixture_client("http://127.0.0.1:1/", json!({"secret": "192006250b4c09247ec02edce69f6a2d"}));
    let options = json!({"xml": {"mch_id": "1900000001"}, "headers": {"Content-Length": "3"}});
    assert!(matches!(v2.v2().pay().orderquery().url(options), Err(Error::Options { .. })));
}

/// Findings 4 and 10: there was no default timeout (a stalled server held a request forever), and zero timeouts
/// were accepted by the typed APIs (the JSON form refused them).
#[test]
fn timeouts_have_production_defaults_and_zero_is_refused() {
    let config = Config::from_value(&common::php_config_for("http://127.0.0.1:1/")).unwrap();
    assert_eq!(config.timeout(), wechatpay::DEFAULT_TIMEOUT);
    assert_eq!(config.timeout(), std::time::Duration::from_secs(30));
    assert_eq!(config.connect_timeout(), wechatpay::DEFAULT_CONNECT_TIMEOUT);

    let typed = || common::config_for_fixtures("http://127.0.0.1:1/");
    let zero = std::time::Duration::ZERO;
    let err = typed().timeout(zero).build().unwrap_err();
    assert!(matches!(err, Error::Config { ref field, .. } if field == "timeout"), "{err:?}");
    let err = typed().connect_timeout(zero).build().unwrap_err();
    assert!(matches!(err, Error::Config { ref field, .. } if field == "connect_timeout"), "{err:?}");
    let php = json!({"timeout": 0});
    assert!(wechatpay::Options::from_value(&php).is_err(), "the JSON form refused it already");

    let instance = Builder::factory(typed()).unwrap();
    let err = instance.v3().certificates().url(wechatpay::Options::new().timeout(zero)).unwrap_err();
    assert!(matches!(err, Error::Options { .. }), "{err:?}");
    let bill = wechatpay::Bill::from_json(&json!({"download_url": "https://x/v3/billdownload/file?token=1"}))
        .unwrap()
        .timeout(zero);
    assert!(matches!(bill.download(&instance, &mut Vec::new()), Err(Error::InvalidArgument { .. })));
}

/// A stalled server is cut off by the default-shaped timeout (here shortened), and the largest durations are
/// accepted without overflowing a timer.
#[test]
fn a_stalled_server_times_out_and_huge_timeouts_do_not_overflow() {
    let stall: common::Script = Box::new(|_, _| {
        std::thread::sleep(std::time::Duration::from_secs(3));
        Ok(())
    });
    let server = common::scripted_server(vec![stall]);
    let instance = fixture_client(&server.base, json!({"timeout": 0.3}));
    let err = instance.v3().certificates().get(()).unwrap_err();
    assert!(matches!(err, Error::Timeout { after: Some(after), .. } if after.as_millis() == 300), "{err:?}");

    let mock = common::mock();
    let patient = Builder::factory(common::config(&mock).timeout(std::time::Duration::MAX)).unwrap();
    assert_eq!(patient.v3().certificates().get(()).unwrap().status(), 200);
    let options = wechatpay::Options::new().timeout(std::time::Duration::MAX);
    assert_eq!(common::client(&mock).v3().certificates().get(options).unwrap().status(), 200);
}

/// A streaming download is not cut after the configured timeout while its body keeps coming, but a pause longer
/// than it ends it.
#[test]
fn streaming_downloads_are_bounded_by_pauses_not_by_their_length() {
    let slow_but_steady: common::Script = Box::new(|_, stream| {
        write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n")?;
        for _ in 0..30 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            stream.write_all(b"4\r\nPNG.\r\n")?;
        }
        stream.write_all(b"0\r\n\r\n")
    });
    let stalling: common::Script = Box::new(|_, stream| {
        write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n")?;
        stream.write_all(b"4\r\nPNG.\r\n")?;
        std::thread::sleep(std::time::Duration::from_secs(4));
        Ok(())
    });
    let stalling_error: common::Script = Box::new(|_, stream| {
        write!(stream, "HTTP/1.1 500 X\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{")?;
        std::thread::sleep(std::time::Duration::from_secs(4));
        Ok(())
    });
    let server = common::scripted_server(vec![slow_but_steady, stalling, stalling_error]);
    // 1 s: far above each 50 ms pause, below the 1.5 s the whole download takes.
    let instance = fixture_client(&server.base, json!({"timeout": 1}));
    let image = instance.v3().merchant_service().images()._media_id_();
    let mut body = Vec::new();
    let downloaded = image.download(json!({"media_id": "slow.png"}), &mut body).expect("a steady download");
    assert_eq!(downloaded.bytes(), 120);
    let err = image.download(json!({"media_id": "stalled.png"}), &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    // An error answer whose body stalls is cut off the same way.
    let err = image.download(json!({"media_id": "failed.png"}), &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

/// A value `depth` arrays deep, built without recursion.
fn nested(depth: usize) -> Value {
    let mut value = Value::Null;
    for _ in 0..depth {
        value = Value::Array(vec![value]);
    }
    value
}

/// Drops a deep value without recursion (its own drop would overflow this test's stack).
fn dismantle(value: Value) {
    let mut pending = vec![value];
    while let Some(mut value) = pending.pop() {
        match &mut value {
            Value::Array(items) => pending.append(items),
            Value::Object(fields) => pending.extend(std::mem::take(fields).into_iter().map(|(_, child)| child)),
            _ => {}
        }
    }
}

/// Finding 5: a 5,000-deep JSON body aborted the process with a stack overflow, through both option forms. Here
/// 100,000 levels, on a 2 MiB test thread.
#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let instance = fixture_client("http://127.0.0.1:1/", json!({"secret": "192006250b4c09247ec02edce69f6a2d"}));
    let node = instance.v3().merchant_service().complaint_notifications();
    let deep = || nested(100_000);
    let refused = |result: wechatpay::Result<String>| {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Options { .. }), "{err:?}");
        assert!(err.to_string().contains("deeper than 128 levels"), "{err}");
    };

    // PHP-shaped, by value (the options are dropped inside the SDK) and by reference (they are not cloned).
    let mut options = json!({"json": {}});
    options["json"] = deep();
    refused(node.url(options));
    let mut options = json!({"json": {}});
    options["json"] = deep();
    refused(node.url(&options));
    dismantle(options);
    // Typed.
    let body = deep();
    refused(node.url(wechatpay::Options::new().json(&body)));
    // APIv2's xml payload.
    let mut xml = serde_json::Map::new();
    xml.insert("mch_id".into(), "1900000001".into());
    xml.insert("detail".into(), deep());
    refused(instance.v2().pay().orderquery().url(wechatpay::Options::new().xml(xml)));
    // A media upload's meta.
    let media = wechatpay::MediaUpload::new("a.png", b"\x89PNG".to_vec()).with_meta(&body);
    assert!(media.to_body().is_err());
    let err = instance.v3().merchant().media().upload().url(wechatpay::Options::new().media(media)).unwrap_err();
    assert!(err.to_string().contains("deeper than 128"), "{err}");
    dismantle(body);

    // 128 levels are fine, and sent as given.
    let mut options = json!({"json": {}});
    options["json"] = nested(128);
    assert!(node.url(options).is_ok());
}

/// Finding 6: a ~100 KB path variable passed `url()`, then failed in the HTTP layer with an error saying the
/// request "may have reached WeChat Pay" though nothing was sent, and a 100 KB Display.
#[test]
fn overlong_paths_are_refused_before_sending_with_a_short_message() {
    let server = common::scripted_server(vec![]);
    let instance = fixture_client(&server.base, json!({}));
    let bills = &instance["v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}"];
    let long = json!({"out_bill_no": "x".repeat(100_000)});
    let err = bills.url(&long).unwrap_err();
    assert!(matches!(err, Error::Template { .. }), "{err:?}");
    let err = bills.get(&long).unwrap_err();
    assert!(matches!(err, Error::Template { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("not sent") && !message.contains("may have reached"), "{message}");
    assert!(message.len() < 2048, "a {} byte message", message.len());
    // The same through a literal key, and through the query.
    let err = instance.chain(&format!("v3/{}", "y".repeat(100_000))).get(()).unwrap_err();
    assert!(err.to_string().len() < 2048 && err.to_string().contains("bytes in all"), "{err}");
    let err = instance.v3().certificates().get(json!({"query": {"q": "z".repeat(9000)}})).unwrap_err();
    assert!(matches!(err, Error::Template { .. }), "{err:?}");
    assert!(server.heads().is_empty(), "nothing was sent");
    // Up to 8 KiB of path and query is sent as before.
    let fits = json!({"out_bill_no": "x".repeat(4000)});
    assert!(bills.url(&fits).is_ok());
}

/// Finding 7: duplicate `Wechatpay-Signature` / `-Serial` / `-Timestamp` (and `-Nonce`) headers: the first was used
/// and the answer accepted.
#[test]
fn repeated_signature_headers_are_refused() {
    let body = br#"{"data":[]}"#.to_vec();
    let names = ["Wechatpay-Signature", "Wechatpay-Serial", "Wechatpay-Timestamp", "Wechatpay-Nonce"];
    let mut scripts = Vec::new();
    for name in names {
        let mut headers = common::fixture_signed_headers(&body);
        // The signed value first (what a first-wins reader verifies), then another.
        headers.push((name.to_owned(), "1".to_owned()));
        scripts.push(common::answer(200, headers, body.clone()));
    }
    scripts.push(common::answer(200, common::fixture_signed_headers(&body), body.clone()));
    let server = common::scripted_server(scripts);
    let instance = fixture_client(&server.base, json!({}));
    for name in names {
        let err = instance.v3().certificates().get(()).unwrap_err();
        let Error::Verification { failure, .. } = err else {
            panic!("{name}: expected a verification failure: {err:?}")
        };
        assert_eq!(failure, wechatpay::VerificationFailure::RepeatedHeader(name));
    }
    assert!(instance.v3().certificates().get(()).is_ok(), "the same answer without the repeat");
}

/// Sibling of finding 7: callbacks read the same headers, from any framework's header map.
#[test]
fn repeated_signature_headers_in_a_callback_are_refused() {
    let keys = wechatpay::PlatformKeys::new();
    let public_key = wechatpay::crypto::PublicKey::load("file://tests/fixtures/wechat_pay_public_key.pem").unwrap();
    keys.insert("PUB_KEY_ID_0114232134912410000000000000000", public_key);
    let parser = wechatpay::NotificationParser::new(keys, "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").unwrap();
    let body = br#"{"id":"EV-1","event_type":"X","resource":{}}"#;
    let signed = common::fixture_signed_headers(body);
    let parse = |headers: &[(String, String)]| parser.parse::<Value, _>(headers, body).unwrap_err();
    // Signed and intact: refused only later, for its resource (so the headers passed).
    assert!(matches!(parse(&signed), wechatpay::NotificationError::Malformed(_)));
    let mut repeated = signed.clone();
    repeated.push(("wechatpay-serial".into(), "PUB_KEY_ID_0114232134912410000000000000000".into()));
    let err = parse(&repeated);
    assert_eq!(
        err,
        wechatpay::NotificationError::Verification(wechatpay::VerificationFailure::RepeatedHeader("Wechatpay-Serial"))
    );
    assert_eq!(err.answer().status(), 401);
    let mut map = wechatpay::header::HeaderMap::new();
    for (name, value) in &signed {
        map.append(wechatpay::header::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    map.append("Wechatpay-Timestamp", "1".parse().unwrap());
    assert!(matches!(
        parser.parse::<Value, _>(&map, body),
        Err(wechatpay::NotificationError::Verification(wechatpay::VerificationFailure::RepeatedHeader(_)))
    ));
}

/// Sibling of finding 7 in APIv2: an answer or callback with a deciding field twice (`return_code`, `result_code`,
/// `sign`...) was read as if the field were missing (`result_code` FAIL + SUCCESS passed as a success).
#[test]
fn repeated_deciding_fields_in_apiv2_messages_are_refused() {
    let key = "192006250b4c09247ec02edce69f6a2d";
    // An unsigned endpoint (red packets): only the codes decide.
    let answer = b"<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
        <result_code>FAIL</result_code><err_code>NOTENOUGH</err_code></xml>"
        .to_vec();
    let server = common::scripted_server(vec![common::answer(200, vec![], answer)]);
    let instance = fixture_client(&server.base, json!({"secret": key}));
    let options = json!({"xml": {"mch_id": "1900000001", "total_amount": 100}});
    let err = instance.v2().mmpaymkttransfers().sendredpack().post(options).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("<result_code> more than once"), "{err}");

    let notification = "<xml><return_code>SUCCESS</return_code><return_code>FAIL</return_code><sign>X</sign></xml>";
    let err = wechatpay::XmlNotification::verify(notification, key).unwrap_err();
    assert!(err.to_string().contains("<return_code> more than once"), "{err}");
}

/// Finding 8: a `certs` entry with key and value swapped printed the private-key PEM inside the error (as the
/// field name). Its siblings: every other place an error quotes a name the caller gave.
#[test]
fn secrets_given_where_a_name_belongs_are_never_shown() {
    let pem = std::fs::read_to_string("tests/fixtures/merchant_private_key.pem").unwrap();
    let public_pem = std::fs::read_to_string("tests/fixtures/wechat_pay_public_key.pem").unwrap();
    let body_lines: Vec<&str> = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    let assert_hidden = |err: &Error| {
        let shown = format!("{err} {err:?}");
        for line in &body_lines {
            assert!(!shown.contains(&line[..16]), "the key shows in: {shown}");
        }
        assert!(shown.len() < 1024, "{shown}");
    };
    let base = common::php_config_for("http://127.0.0.1:1/");

    // The finding: serial and key swapped, either way round.
    for certs in [
        json!({pem.clone(): "PUB_KEY_ID_0114232134912410000000000000000"}),
        json!({pem.clone(): public_pem.clone()}),
        json!({pem.clone(): 1}),
    ] {
        let mut config = base.clone();
        config["certs"] = certs;
        let err = Config::from_value(&config).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        assert_hidden(&err);
    }
    let mut config = base.clone();
    config["certs"] = json!({pem.clone(): "PUB_KEY_ID_0114232134912410000000000000000"});
    assert!(Config::from_value(&config).unwrap_err().to_string().contains("swapped"));
    // Typed: a serial that is a key is refused when built, and Debug never lists it.
    let public_key = wechatpay::crypto::PublicKey::from_pem(&public_pem).unwrap();
    let err = common::config_for_fixtures("http://127.0.0.1:1/").cert(pem.clone(), public_key).build().unwrap_err();
    assert_hidden(&err);
    let err = wechatpay::Config::builder().cert_from(&pem, &public_pem).err().expect("refused");
    assert_hidden(&err);

    // A key pasted as a config key, an option name, a header name, a query or header pair's name.
    let mut config = base.clone();
    config[pem.as_str()] = json!("privateKey");
    assert_hidden(&Config::from_value(&config).unwrap_err());
    let mut config = base.clone();
    config["autoRefresh"] = json!({pem.clone(): 1});
    config["apiv3Key"] = json!("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb");
    assert_hidden(&Config::from_value(&config).unwrap_err());
    let instance = Builder::factory(&base).unwrap();
    let certificates = instance.v3().certificates();
    assert_hidden(&certificates.url(json!({pem.clone(): "x"})).unwrap_err());
    assert_hidden(&certificates.url(json!({pem.clone(): {"a": 1}})).unwrap_err());
    assert_hidden(&certificates.url(json!({"headers": {pem.clone(): "x"}})).unwrap_err());
    assert_hidden(&certificates.url(json!({"headers": {pem.clone(): []}})).unwrap_err());
    assert_hidden(&certificates.url(json!({"query": {pem.clone(): {}}})).unwrap_err());
}

/// Finding 9: a merchant serial of the wrong length (`5F1C`) was accepted, and failed later as a remote 401.
#[test]
fn a_merchant_serial_of_the_wrong_length_is_refused_up_front() {
    let with_serial = |serial: &str| {
        let mut config = common::php_config_for("http://127.0.0.1:1/");
        config["serial"] = json!(serial);
        Config::from_value(&config)
    };
    let full = "5F1C72E2A8931B72A2E13AF8DEE92471EB397115";
    for wrong in ["5F1C", &full[..39], &format!("{full}0"), &format!("{}X", &full[..39])] {
        let err = with_serial(wrong).unwrap_err();
        assert!(matches!(err, Error::Config { ref field, .. } if field == "serial"), "{wrong}: {err:?}");
        assert!(err.to_string().contains("40 hex digits"), "{err}");
    }
    assert_eq!(with_serial(&full.to_ascii_lowercase()).unwrap().serial(), full, "sent in upper case");
    let typed = common::config_for_fixtures("http://127.0.0.1:1/").serial("5F1C").build();
    assert!(matches!(typed, Err(Error::Config { ref field, .. }) if field == "serial"));
}

/// Finding 10: `Formatter::nonce(usize::MAX)` panicked (capacity overflow).
#[test]
fn nonce_sizes_beyond_reason_are_errors() {
    for size in [usize::MAX, usize::MAX / 2, 64 * 1024 + 1] {
        let err = wechatpay::Formatter::nonce(size).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    }
    assert_eq!(wechatpay::Formatter::nonce(64 * 1024).unwrap().len(), 64 * 1024);
}

/// Finding 10: an HTML 502 put raw CR/LF and markup into the error's Display.
#[test]
fn a_proxy_error_page_becomes_one_line_of_text() {
    let page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>\
        </center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        .to_vec();
    let headers = vec![("Content-Type".to_owned(), "text/html".to_owned())];
    let server = common::scripted_server(vec![common::answer(502, headers, page)]);
    let instance = fixture_client(&server.base, json!({}));
    let err = instance.v3().certificates().get(()).unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, Error::Api { status: 502, .. }), "{err:?}");
    assert!(!shown.contains(['\r', '\n', '<', '>']), "{shown:?}");
    assert!(shown.contains("502 Bad Gateway"), "{shown}");
}

/// Sibling (config loading trusts a length it does not know): a `file://` key, certificate or CA bundle path to
/// something endless was read whole, filling memory.
#[cfg(unix)]
#[test]
fn key_and_bundle_files_are_read_within_a_bound() {
    for load in [
        wechatpay::crypto::PrivateKey::load("file:///dev/zero").map(drop),
        wechatpay::crypto::PublicKey::load("file:///dev/zero").map(drop),
        wechatpay::crypto::Certificate::load("file:///dev/zero").map(drop),
    ] {
        let err = load.unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }
    let mut config = common::php_config_for("http://127.0.0.1:1/");
    config["verify"] = json!("/dev/zero");
    let err = Config::from_value(&config).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

/// Sibling of finding 4: the typed `Options::header` could give a header twice; sensitive fields were encrypted
/// with the first `Wechatpay-Serial`'s key while the last one was sent.
#[test]
fn a_header_given_twice_is_refused() {
    let instance = fixture_client("http://127.0.0.1:1/", json!({}));
    let options = wechatpay::Options::new()
        .json(&json!({"user_name": "张三"}))
        .header("Wechatpay-Serial", "PUB_KEY_ID_0114232134912410000000000000000")
        .header("wechatpay-serial", "440024045C4A427599D09BB4E3DE0279F2E813FD");
    let err = instance.v3().certificates().url(options).unwrap_err();
    assert!(matches!(err, Error::Options { .. }) && err.to_string().contains("twice"), "{err:?}");
}
