//! Transfers to a QQ wallet (转账到QQ钱包): create, query and cancel.
//!
//! | call | request | answer |
//! | --- | --- | --- |
//! | `POST v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills` | [`CreateTransfer`] | [`TransferBill`] |
//! | `GET v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}` | (the path) | [`TransferBill`] |
//! | `POST v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel` | (the path) | [`CancelledTransfer`] |
//!
//! ```
//! use wechatpay::Options;
//! use wechatpay::models::qq_wallet::{CancelledTransfer, CreateTransfer, SceneReportInfo, TransferBill, TransferState};
//! # let server = wechatpay_mock::Server::builder()
//! #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
//! # let ids = server.identities();
//! # let instance = wechatpay::Builder::factory(serde_json::json!({
//! #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
//! #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem,
//! #               ids.public_key.id.clone(): ids.public_key.public_key_pem}, "base_uri": server.base_uri(),
//! # }))?;
//! let bills = instance.v3().fund_app().mch_transfer().transfer_to_qq_wallet_bills();
//! let transfer = CreateTransfer {
//!     appid: "102022609".into(),
//!     out_bill_no: "plfk2020042013".into(),
//!     transfer_scene_id: "1401".into(),
//!     transfer_scene_report_infos: vec![SceneReportInfo::new("活动名称", "注册会员有礼")],
//!     openid: "o-MYE42l80oelYMDE34nYD456Xoy".into(),
//!     transfer_amount: 400, // fen: 4.00 yuan
//!     transfer_remark: "2020年4月报销".into(),
//!     user_qq: None,
//!     user_name: Some("张三".into()), // sent encrypted, below
//!     notify_url: None,
//! };
//! let created: TransferBill = bills.post(Options::new().json(&transfer).encrypt_fields(["user_name"]))?.json()?;
//! assert_eq!(created.state, TransferState::Accepted);
//! assert_eq!(created.transfer_amount, 400);
//!
//! let bill = bills._out_bill_no_();
//! let queried: TransferBill = bill.get(Options::new().var("out_bill_no", &created.out_bill_no))?.json()?;
//! assert_eq!(queried.transfer_bill_no, created.transfer_bill_no);
//!
//! let cancelled: CancelledTransfer =
//!     bill.cancel().post(Options::new().var("out_bill_no", &created.out_bill_no))?.json()?;
//! assert_eq!(cancelled.state, TransferState::Canceling);
//! assert!(!cancelled.state.is_final());
//! # Ok::<(), wechatpay::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The body of `POST v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills` (发起转账到QQ钱包).
///
/// `user_name` is a sensitive field: give it in clear and send the request with
/// [`Options::encrypt_fields(["user_name"])`](crate::Options::encrypt_fields), which encrypts it and adds the
/// `Wechatpay-Serial` header.
///
/// ```
/// use wechatpay::models::qq_wallet::{CreateTransfer, SceneReportInfo};
///
/// let transfer = CreateTransfer {
///     appid: "102022609".into(),
///     out_bill_no: "plfk2020042013".into(),
///     transfer_scene_id: "1401".into(),
///     transfer_scene_report_infos: vec![SceneReportInfo::new("活动名称", "注册会员有礼")],
///     openid: "o-MYE42l80oelYMDE34nYD456Xoy".into(),
///     transfer_amount: 400,
///     transfer_remark: "2020年4月报销".into(),
///     user_qq: None,
///     user_name: None,
///     notify_url: Some("https://www.weixin.qq.com/wxpay/pay.php".into()),
/// };
/// let body = serde_json::to_value(&transfer).unwrap();
/// assert_eq!(body["transfer_amount"], 400);
/// assert!(body.get("user_name").is_none(), "None is left out, never sent as null");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTransfer {
    /// The QQ Connect (QQ互联开放平台) AppID.
    pub appid: String,
    /// Your bill number (商户单号), unique per merchant.
    pub out_bill_no: String,
    /// The transfer scene (转账场景ID), e.g. `1401`.
    pub transfer_scene_id: String,
    /// What the scene reports (转账场景报备信息).
    pub transfer_scene_report_infos: Vec<SceneReportInfo>,
    /// The payee's OpenID.
    pub openid: String,
    /// The amount in fen (分).
    pub transfer_amount: u64,
    /// The remark the payee sees (转账备注).
    pub transfer_remark: String,
    /// The payee's QQ number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_qq: Option<String>,
    /// The payee's name, in clear here: send it with `encrypt_fields(["user_name"])`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Where WeChat Pay posts the transfer's result (通知地址).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
}

/// One item of a transfer's scene report (转账场景报备信息).
///
/// ```
/// let info = wechatpay::models::qq_wallet::SceneReportInfo::new("活动名称", "注册会员有礼");
/// assert_eq!(serde_json::to_string(&info).unwrap(), r#"{"info_type":"活动名称","info_content":"注册会员有礼"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneReportInfo {
    /// What is reported (信息类型), e.g. `活动名称`.
    pub info_type: String,
    /// Its content (信息内容).
    pub info_content: String,
}

impl SceneReportInfo {
    /// An item from its type and content.
    ///
    /// ```
    /// let info = wechatpay::models::qq_wallet::SceneReportInfo::new("奖励说明", "注册会员抽奖一等奖");
    /// assert_eq!(info.info_type, "奖励说明");
    /// ```
    pub fn new(info_type: impl Into<String>, info_content: impl Into<String>) -> Self {
        SceneReportInfo { info_type: info_type.into(), info_content: info_content.into() }
    }
}

/// A transfer bill, as the create and query calls answer it.
///
/// ```
/// use wechatpay::models::qq_wallet::{TransferBill, TransferState};
///
/// let bill: TransferBill = serde_json::from_str(r#"{
///     "mchid": "1900001109", "out_bill_no": "plfk2020042013",
///     "transfer_bill_no": "1330000071100999991182020050700019480001", "create_time": "2015-05-20T13:29:35.120+08:00",
///     "state": "SUCCESS", "transfer_amount": 400000, "transfer_remark": "2020年4月报销", "a_field_added_later": 1
/// }"#).unwrap();
/// assert_eq!(bill.state, TransferState::Success);
/// assert_eq!(bill.transfer_amount, 400_000);
/// assert_eq!(bill.fail_reason, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TransferBill {
    /// The merchant id.
    pub mchid: String,
    /// Your bill number.
    pub out_bill_no: String,
    /// WeChat Pay's bill number (微信转账单号).
    pub transfer_bill_no: String,
    /// When the bill was made (RFC 3339).
    pub create_time: String,
    /// Where the transfer stands.
    pub state: TransferState,
    /// The amount in fen (分).
    pub transfer_amount: u64,
    /// The remark the payee sees.
    pub transfer_remark: String,
    /// The QQ Connect AppID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// The payee's OpenID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
    /// The payee's QQ number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_qq: Option<String>,
    /// The payee's name, encrypted for your merchant key: decrypt it with
    /// [`Config::decrypt`](crate::Config::decrypt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Why it failed (`FAIL`), e.g. `PAYEE_ACCOUNT_ABNORMAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
    /// When the state last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
}

/// What the cancel call answers: the bill's number and state (`CANCELING` once the cancel is accepted; query the
/// bill until it is `CANCELLED`).
///
/// ```
/// use wechatpay::models::qq_wallet::{CancelledTransfer, TransferState};
///
/// let answer: CancelledTransfer = serde_json::from_str(r#"{"out_bill_no": "plfk2020042013",
///     "transfer_bill_no": "1330000071100999991182020050700019480001", "state": "CANCELING",
///     "update_time": "2015-05-20T13:29:35.120+08:00"}"#).unwrap();
/// assert_eq!(answer.state, TransferState::Canceling);
/// assert_eq!(answer.mchid, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CancelledTransfer {
    /// Your bill number.
    pub out_bill_no: String,
    /// WeChat Pay's bill number.
    pub transfer_bill_no: String,
    /// Where the transfer stands: `CANCELING` when the cancel was accepted.
    pub state: TransferState,
    /// When the state last changed (RFC 3339).
    pub update_time: String,
    /// The merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mchid: Option<String>,
    /// The QQ Connect AppID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// The amount in fen (分).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_amount: Option<u64>,
    /// The remark the payee sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_remark: Option<String>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
    /// The payee's OpenID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
    /// The payee's QQ number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_qq: Option<String>,
    /// The payee's name, encrypted for your merchant key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// When the bill was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
}

/// Where a QQ-wallet transfer stands (单据状态). A state this release does not know is kept as
/// [`Other`](Self::Other) with its text, never a decode error: WeChat Pay may add states.
///
/// ```
/// use wechatpay::models::qq_wallet::TransferState;
///
/// let state: TransferState = serde_json::from_str(r#""WAIT_USER_CONFIRM""#).unwrap();
/// assert_eq!(state, TransferState::WaitUserConfirm);
/// let future: TransferState = serde_json::from_str(r#""FROZEN""#).unwrap();
/// assert_eq!(future, TransferState::Other("FROZEN".into()));
/// assert_eq!(serde_json::to_string(&future).unwrap(), r#""FROZEN""#);
/// assert_eq!("SUCCESS".parse::<TransferState>(), Ok(TransferState::Success));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransferState {
    /// `ACCEPTED`: the transfer was accepted (转账已受理).
    Accepted,
    /// `PROCESSING`: being processed; if it stays here, check the account's balance (转账处理中).
    Processing,
    /// `WAIT_USER_CONFIRM`: the payee has to confirm in the QQ client (待收款用户确认).
    WaitUserConfirm,
    /// `TRANSFERING` (WeChat Pay's spelling): being transferred; the payee may confirm again (转账中).
    Transfering,
    /// `SUCCESS`: transferred (final; 转账成功).
    Success,
    /// `FAIL`: failed, with a `fail_reason` (final; 转账失败).
    Fail,
    /// `CANCELING`: your cancel was accepted and is in progress (撤销中).
    Canceling,
    /// `CANCELLED`: cancelled (final; 转账撤销完成).
    Cancelled,
    /// A state this release does not know, as WeChat Pay wrote it.
    Other(String),
}

impl TransferState {
    /// The state as WeChat Pay writes it.
    ///
    /// ```
    /// use wechatpay::models::qq_wallet::TransferState;
    /// assert_eq!(TransferState::WaitUserConfirm.as_str(), "WAIT_USER_CONFIRM");
    /// assert_eq!(TransferState::Other("NEW".into()).as_str(), "NEW");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            TransferState::Accepted => "ACCEPTED",
            TransferState::Processing => "PROCESSING",
            TransferState::WaitUserConfirm => "WAIT_USER_CONFIRM",
            TransferState::Transfering => "TRANSFERING",
            TransferState::Success => "SUCCESS",
            TransferState::Fail => "FAIL",
            TransferState::Canceling => "CANCELING",
            TransferState::Cancelled => "CANCELLED",
            TransferState::Other(state) => state,
        }
    }

    /// Whether the transfer is over (`SUCCESS`, `FAIL`, `CANCELLED`): no later query will change it. An unknown
    /// state is not taken as final: keep querying, and look at what WeChat Pay documents for it.
    ///
    /// ```
    /// use wechatpay::models::qq_wallet::TransferState;
    /// assert!(TransferState::Cancelled.is_final());
    /// assert!(!TransferState::Canceling.is_final());
    /// assert!(!TransferState::Other("NEW".into()).is_final());
    /// ```
    pub fn is_final(&self) -> bool {
        matches!(self, TransferState::Success | TransferState::Fail | TransferState::Cancelled)
    }
}

impl From<&str> for TransferState {
    fn from(state: &str) -> Self {
        match state {
            "ACCEPTED" => TransferState::Accepted,
            "PROCESSING" => TransferState::Processing,
            "WAIT_USER_CONFIRM" => TransferState::WaitUserConfirm,
            "TRANSFERING" => TransferState::Transfering,
            "SUCCESS" => TransferState::Success,
            "FAIL" => TransferState::Fail,
            "CANCELING" => TransferState::Canceling,
            "CANCELLED" => TransferState::Cancelled,
            other => TransferState::Other(other.to_owned()),
        }
    }
}

impl FromStr for TransferState {
    type Err = std::convert::Infallible;

    fn from_str(state: &str) -> Result<Self, Self::Err> {
        Ok(TransferState::from(state))
    }
}

impl fmt::Display for TransferState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TransferState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TransferState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let state = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Ok(TransferState::from(state.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::TransferState;

    #[test]
    fn every_documented_state_round_trips() {
        let states =
            ["ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM", "TRANSFERING", "SUCCESS", "FAIL", "CANCELING", "CANCELLED"];
        for text in states {
            let state = TransferState::from(text);
            assert!(!matches!(state, TransferState::Other(_)), "{text}");
            assert_eq!(state.as_str(), text);
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(serde_json::from_str::<TransferState>(&json).unwrap(), state);
        }
        assert_eq!(TransferState::from("success"), TransferState::Other("success".into()), "states are exact");
    }
}
