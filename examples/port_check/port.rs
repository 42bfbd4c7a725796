//! The Rust port of the README's PHP snippet ("Port check: does the port send what PHP sent?"), call for call,
//! the PHP line above each. `main.rs` runs it; the `wechatpay port-diff` tests (cli/tests/port_diff.rs) record it
//! and compare the recordings.

use serde_json::{Value, json};
use wechatpay::{Builder, MediaUpload, Options};

/// The application's appid (the PHP snippet's `$appid`).
pub const APPID: &str = "wxd678efh567hg6787";

/// The image the PHP snippet uploads (`/path/to/logo.png`): a few bytes that pass for a PNG.
pub const LOGO: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// A native payment (prepay, query, close), an image upload and an APIv2 order, as the PHP snippet does them;
/// returns the prepay's `code_url`.
pub fn checkout(instance: &Builder, mchid: &str, out_trade_no: &str) -> wechatpay::Result<String> {
    // $instance->chain('v3/pay/transactions/native')->post(['json' => [...]]);
    let prepay: Value = instance
        .chain("v3/pay/transactions/native")
        .post(json!({"json": {
            "mchid": mchid,
            "out_trade_no": out_trade_no,
            "appid": APPID,
            "description": "Image形象店-深圳腾大-QQ公仔",
            "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
            "amount": {"total": 1, "currency": "CNY"},
        }}))?
        .json()?;

    // $instance->v3->pay->transactions->outTradeNo->_out_trade_no_->get([
    //     'query' => ['mchid' => $mchid], 'out_trade_no' => $outTradeNo]);
    let order = instance.v3().pay().transactions().out_trade_no()._out_trade_no_();
    order.get(json!({"query": {"mchid": mchid}, "out_trade_no": out_trade_no}))?;

    // $instance->v3->pay->transactions->outTradeNo->{'{out_trade_no}'}->close->post([
    //     'json' => ['mchid' => $mchid], 'out_trade_no' => $outTradeNo]);
    order.close().post(json!({"json": {"mchid": mchid}, "out_trade_no": out_trade_no}))?;

    // $media = new MediaUtil('file:///path/to/logo.png');
    // $instance->v3->merchant->media->upload->post([
    //     'body' => $media->getStream(), 'headers' => ['Content-Type' => $media->getContentType()]]);
    let media = MediaUpload::new("logo.png", LOGO);
    instance.v3().merchant().media().upload().post(Options::new().media(media))?;

    // $instance->v2->pay->unifiedorder->post(['xml' => [...]]);
    instance.v2().pay().unifiedorder().post(json!({"xml": {
        "appid": APPID,
        "mch_id": mchid,
        "body": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": format!("{out_trade_no}V2"),
        "total_fee": 1,
        "spbill_create_ip": "127.0.0.1",
        "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "trade_type": "NATIVE",
    }}))?;

    Ok(prepay["code_url"].as_str().unwrap_or_default().to_owned())
}
