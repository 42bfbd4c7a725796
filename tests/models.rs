//! The typed QQ-wallet models against wechatpay-mock: every state the simulator can put a bill in decodes into
//! `TransferState`, the request struct is what the simulator's schema checks accept, and the encrypted name
//! decrypts.

mod common;

use wechatpay::Options;
use wechatpay::models::qq_wallet::{CancelledTransfer, CreateTransfer, SceneReportInfo, TransferBill, TransferState};

fn transfer(out_bill_no: &str) -> CreateTransfer {
    CreateTransfer {
        appid: "102022609".into(),
        out_bill_no: out_bill_no.into(),
        transfer_scene_id: "1401".into(),
        transfer_scene_report_infos: vec![SceneReportInfo::new("活动名称", "注册会员有礼")],
        openid: "o-MYE42l80oelYMDE34nYD456Xoy".into(),
        transfer_amount: 400,
        transfer_remark: "2020年4月报销".into(),
        user_qq: Some("490379403".into()),
        user_name: Some("张三".into()),
        notify_url: None,
    }
}

#[test]
fn every_state_of_the_simulator_decodes_and_the_typed_story_runs() {
    let server = common::mock();
    let instance = common::client(&server);
    let bills = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills();
    let out_bill_no = common::bill_no("MODEL");
    let request = Options::new().json(&transfer(&out_bill_no)).encrypt_fields(["user_name"]);
    let created: TransferBill = bills.post(request).unwrap().json().unwrap();
    assert_eq!((created.state.clone(), created.transfer_amount), (TransferState::Accepted, 400));

    let bill = bills._out_bill_no_();
    let query =
        || -> TransferBill { bill.get(Options::new().var("out_bill_no", &out_bill_no)).unwrap().json().unwrap() };
    for state in wechatpay_mock::TransferState::ALL {
        server.set_transfer_state(&out_bill_no, state).unwrap();
        let queried = query();
        assert_eq!(queried.state.as_str(), state.as_str());
        assert!(!matches!(queried.state, TransferState::Other(_)), "{state:?} is a known state");
        assert_eq!(queried.state.is_final(), state.is_final(), "{state:?}");
        if state == wechatpay_mock::TransferState::Fail {
            assert!(queried.fail_reason.is_some(), "a failed bill says why");
        }
    }
    let name = query().user_name.expect("the simulator answers the name, encrypted for the merchant");
    assert_eq!(instance.config().decrypt(&name).unwrap(), "张三");

    let other = common::bill_no("MODEL");
    bills.post(Options::new().json(&transfer(&other)).encrypt_fields(["user_name"])).unwrap();
    let cancelled: CancelledTransfer =
        bill.cancel().post(Options::new().var("out_bill_no", &other)).unwrap().json().unwrap();
    assert_eq!((cancelled.out_bill_no.as_str(), cancelled.state), (other.as_str(), TransferState::Canceling));
}
