//! Asynchronous requests: PHP's `->postAsync()->then()->otherwise()->wait()` as `post_async` with `wait()`, `.await`,
//! and several requests at once.
//!
//! `cargo run --example async_requests` runs against the embedded WeChat Pay simulator.

use serde_json::{Value, json};
use wechatpay::{Builder, Error};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start_blocking()?;
    let instance = Builder::factory(server.php_config())?;
    let mchid = server.identities().mchid.clone();

    // From blocking code: ->wait(), with `then` and `otherwise` as the two arms of a match.
    let refund = instance.chain("v3/refund/domestic/refunds").post_async(json!({"json": {
        "transaction_id": "1217752501201407033233368018", "out_refund_no": "1217752501201407033233368018",
        "amount": {"refund": 888, "total": 888, "currency": "CNY"},
    }}));
    match refund.wait() {
        Ok(response) => println!("then: {}", response.text()?),
        Err(Error::Api { status, code, .. }) => println!("otherwise: {status} {code} (no such payment)"),
        Err(other) => return Err(other.into()),
    }

    // A future sends nothing until it is polled: made and dropped, nothing went out.
    let before = server.received_requests().len();
    drop(instance.v3().certificates().get_async(()));
    println!("dropped unpolled: {} request(s) sent", server.received_requests().len() - before);

    // From async code: .await, and several at once (Guzzle's Utils::all).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let orders = instance.v3().pay().transactions().native();
        let create = |n: u32| {
            orders.post_async(json!({"json": {
                "mchid": mchid, "out_trade_no": format!("ASYNC{n}"), "appid": "wxd678efh567hg6787",
                "description": "QQ公仔", "notify_url": "https://example.com/notify", "amount": {"total": n},
            }}))
        };
        let (first, second, third) = tokio::join!(create(1), create(2), create(3));
        for created in [first, second, third] {
            println!("code_url: {}", created?.json::<Value>()?["code_url"]);
        }
        // ->then(...)->then(...): sequential code.
        let query = instance.v3().pay().transactions().out_trade_no()._out_trade_no_();
        let state = query.get_async(json!({"out_trade_no": "ASYNC1", "query": {"mchid": mchid}})).await?;
        println!("ASYNC1: {}", state.json::<Value>()?["trade_state"]);
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
