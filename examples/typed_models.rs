//! Typed models: the QQ-wallet transfer story with `serde` structs instead of `serde_json::Value`, the pattern to
//! copy for your own endpoints (see `wechatpay::models`).
//!
//! `cargo run --example typed_models` runs it against the embedded WeChat Pay simulator.

use wechatpay::models::qq_wallet::{CancelledTransfer, CreateTransfer, SceneReportInfo, TransferBill, TransferState};
use wechatpay::{Builder, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start_blocking()?;
    let ids = server.identities();
    let instance = Builder::factory(serde_json::json!({
        "mchid": ids.mchid,
        "serial": ids.merchant.serial,
        "privateKey": ids.merchant.private_key_pem,
        "certs": {
            ids.platform.serial.clone(): ids.platform.certificate_pem,
            ids.public_key.id.clone(): ids.public_key.public_key_pem,
        },
        "base_uri": server.base_uri(),
    }))?;
    let bills = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills();

    let transfer = CreateTransfer {
        appid: "102022609".into(),
        out_bill_no: "plfk2020042013".into(),
        transfer_scene_id: "1401".into(),
        transfer_scene_report_infos: vec![SceneReportInfo::new("活动名称", "注册会员有礼")],
        openid: "o-MYE42l80oelYMDE34nYD456Xoy".into(),
        transfer_amount: 400, // fen: 4.00 yuan
        transfer_remark: "2020年4月报销".into(),
        user_qq: None,
        user_name: Some("张三".into()), // encrypted on the way by encrypt_fields
        notify_url: None,
    };
    let created: TransferBill = bills.post(Options::new().json(&transfer).encrypt_fields(["user_name"]))?.json()?;
    println!(
        "created {} ({}): {} fen, {}",
        created.out_bill_no, created.transfer_bill_no, created.transfer_amount, created.state
    );

    // Query until the transfer is over; the simulator moves it one step per advance_transfer.
    let bill = bills._out_bill_no_();
    let by_number = || Options::new().var("out_bill_no", &created.out_bill_no);
    loop {
        let queried: TransferBill = bill.get(by_number())?.json()?;
        println!("  state {}", queried.state);
        match queried.state {
            TransferState::WaitUserConfirm => println!("  (the payee confirms in the QQ client)"),
            TransferState::Other(unknown) => println!("  a state this release does not know: {unknown}"),
            state if state.is_final() => break,
            _ => {}
        }
        server.advance_transfer(&created.out_bill_no)?;
    }
    let done: TransferBill = bill.get(by_number())?.json()?;
    if let Some(name) = &done.user_name {
        println!("payee name (decrypted with the merchant key): {}", instance.config().decrypt(name)?);
    }

    // A second transfer, cancelled before it completes.
    let second = CreateTransfer { out_bill_no: "plfk2020042014".into(), ..transfer };
    bills.post(Options::new().json(&second).encrypt_fields(["user_name"]))?;
    let cancelled: CancelledTransfer =
        bill.cancel().post(Options::new().var("out_bill_no", "plfk2020042014"))?.json()?;
    println!("cancel accepted for {}: {} (query until CANCELLED)", cancelled.out_bill_no, cancelled.state);
    Ok(())
}
