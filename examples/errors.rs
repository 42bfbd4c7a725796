//! Error handling: every way a call fails, as PHP's `catch` and `->otherwise()` see it, here as `wechatpay::Error`
//! variants (PORTING.md maps one onto the other).
//!
//! `cargo run --example errors` runs against the embedded WeChat Pay simulator, which injects each failure.

use std::time::Duration;

use serde_json::json;
use wechatpay::{Builder, Error, Options, VerificationFailure};
use wechatpay_mock::Fault;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start_blocking()?;
    let instance = Builder::factory(server.php_config())?;
    let bill = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills()._out_bill_no_();

    // ClientException / ServerException: WeChat Pay answered 4xx or 5xx.
    match bill.get(json!({"out_bill_no": "no-such-bill"})) {
        Err(Error::Api { status, code, message, request_id, .. }) => {
            let request_id = request_id.unwrap_or_default();
            println!("1. Api: {status} {code}: {message} (quote Request-ID {request_id} to WeChat Pay support)");
        }
        other => return Err(format!("expected Error::Api, got {other:?}").into()),
    }

    // Guzzle's http_errors => false: the same answer as a Response, still verified.
    let answer = bill.get(Options::new().var("out_bill_no", "no-such-bill").http_errors(false))?;
    println!("2. http_errors false: {} {}", answer.status(), answer.text()?);

    // RequestException on a 2xx answer: the signature does not verify, so the answer must not be trusted.
    server.faults().next(Fault::TamperedSignature);
    match instance.v3().certificates().get(()) {
        Err(err @ Error::Verification { failure: VerificationFailure::BadSignature, .. }) => println!("3. {err}"),
        other => return Err(format!("expected a bad signature, got {other:?}").into()),
    }

    // RequestException without an answer: too slow...
    server.faults().next(Fault::Delay(Duration::from_secs(2)));
    match instance.v3().certificates().get(Options::new().timeout(Duration::from_millis(300))) {
        Err(err @ Error::Timeout { .. }) => println!("4. {err}"),
        other => return Err(format!("expected a timeout, got {other:?}").into()),
    }
    // ...or the connection dropped.
    server.faults().next(Fault::DropConnection);
    match instance.v3().certificates().get(()) {
        Err(err @ Error::Transport { .. }) => println!("5. {err}"),
        other => return Err(format!("expected a transport error, got {other:?}").into()),
    }

    // UnexpectedValueException: refused before anything is sent.
    let missing = bill.get(()).unwrap_err();
    println!("6. {missing}");
    let guzzle = instance.v3().certificates().get(json!({"proxy": "http://127.0.0.1:3128"})).unwrap_err();
    println!("7. {guzzle}");

    // InvalidArgumentException: the config.
    let mut config = server.php_config();
    config["base_uri"] = json!(format!("{}v3/", server.base_uri()));
    println!("8. {}", Builder::factory(config).unwrap_err());

    // Every message names what was wrong and what to do; none quotes a key.
    Ok(())
}
