//! Client-side pay signatures: the parameters a web page (`WeixinJSBridge`, `wx.requestPayment`) or
//! an app (`PayReq`) needs to start a payment, signed with the merchant key. They serialise with exactly the field
//! names the front end expects, so the server can hand them over as JSON.
//!
//! The PHP README's "签名" section does this by hand with `Formatter::joinedByLineFeed` and `Rsa::sign`; these
//! types are that, done once.

use serde::{Deserialize, Serialize};

use crate::builder::Builder;
use crate::crypto::PrivateKey;
use crate::error::{Error, Result};
use crate::formatter::Formatter;
use crate::signer::Signer;

/// What a JSAPI page (`WeixinJSBridge.invoke('getBrandWCPayRequest', ...)`) or a mini program
/// (`wx.requestPayment`) needs: `appId`, `timeStamp`, `nonceStr`, `package`, `signType` and `paySign`, where
/// `paySign` signs `appId\ntimeStamp\nnonceStr\npackage\n` with the merchant key.
///
/// ```
/// use wechatpay::JsapiPayParams;
/// use wechatpay::crypto::PrivateKey;
///
/// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
/// let params = JsapiPayParams::sign("wx8888888888888888", "wx201410272009395522657a690389285100", &key)?;
/// assert_eq!(params.package, "prepay_id=wx201410272009395522657a690389285100");
/// let json = serde_json::to_value(&params).unwrap();
/// let names: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
/// assert_eq!(names, ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"]);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsapiPayParams {
    /// The appid the order was made with.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// Unix seconds, as text.
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    /// 32 random characters.
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `prepay_id=...`.
    pub package: String,
    /// `RSA`.
    #[serde(rename = "signType")]
    pub sign_type: String,
    /// The base64 signature.
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

impl JsapiPayParams {
    /// Signs with the merchant key for `appid` and the `prepay_id` that `v3/pay/transactions/jsapi` answered (a
    /// `prepay_id=` prefix is accepted too).
    ///
    /// ```
    /// use wechatpay::{Formatter, JsapiPayParams};
    /// use wechatpay::crypto::{PrivateKey, Rsa};
    ///
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let params = JsapiPayParams::sign("wx8888888888888888", "prepay_id=wx2014102720093955", &key)?;
    /// let message = Formatter::joined_by_line_feed(&[&params.app_id, &params.time_stamp, &params.nonce_str, &params.package]);
    /// assert!(Rsa::verify(&message, &params.pay_sign, &key.public_key()?)?);
    /// assert_eq!(params.sign_type, "RSA");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn sign(appid: &str, prepay_id: &str, key: &PrivateKey) -> Result<Self> {
        let mut params = Self::unsigned(appid, prepay_id)?;
        params.pay_sign = crate::crypto::Rsa::sign(params.message(), key)?;
        Ok(params)
    }

    /// [`sign`](Self::sign) with any [`Signer`] (a KMS, an HSM).
    ///
    /// ```
    /// use wechatpay::{JsapiPayParams, RsaSigner};
    /// use wechatpay::crypto::PrivateKey;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// let signer = RsaSigner::new(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?);
    /// let params = JsapiPayParams::sign_with("wx8888888888888888", "wx2014102720093955", &signer).await?;
    /// assert_eq!(params.pay_sign.len(), 344);
    /// # Ok(()) }
    /// ```
    pub async fn sign_with(appid: &str, prepay_id: &str, signer: &dyn Signer) -> Result<Self> {
        let mut params = Self::unsigned(appid, prepay_id)?;
        params.pay_sign = encode(&signer.sign(params.message().as_bytes()).await?);
        Ok(params)
    }

    /// The message `paySign` signs: `appId\ntimeStamp\nnonceStr\npackage\n`.
    ///
    /// ```
    /// let params = wechatpay::JsapiPayParams {
    ///     app_id: "wx8888888888888888".into(), time_stamp: "1414561699".into(), nonce_str: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".into(),
    ///     package: "prepay_id=wx201410272009395522657a690389285100".into(), sign_type: "RSA".into(), pay_sign: String::new(),
    /// };
    /// assert_eq!(params.message(), "wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n");
    /// ```
    pub fn message(&self) -> String {
        Formatter::joined_by_line_feed(&[&self.app_id, &self.time_stamp, &self.nonce_str, &self.package])
    }

    fn unsigned(appid: &str, prepay_id: &str) -> Result<Self> {
        let prepay_id = prepay_id.trim().strip_prefix("prepay_id=").unwrap_or(prepay_id.trim());
        Ok(JsapiPayParams {
            app_id: checked("appid", appid)?,
            time_stamp: Formatter::timestamp().to_string(),
            nonce_str: Formatter::nonce32()?,
            package: format!("prepay_id={}", checked("prepay_id", prepay_id)?),
            sign_type: "RSA".to_owned(),
            pay_sign: String::new(),
        })
    }
}

/// What an app's WeChat SDK (`PayReq`) needs: `appid`, `partnerid` (the mchid), `prepayid`,
/// `package=Sign=WXPay`, `noncestr`, `timestamp` and `sign`, where `sign` signs
/// `appid\ntimestamp\nnoncestr\nprepayid\n` with the merchant key.
///
/// ```
/// use wechatpay::AppPayParams;
/// use wechatpay::crypto::PrivateKey;
///
/// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
/// let params = AppPayParams::sign("wxd678efh567hg6787", "1900000001", "WX1217752501201407033233368018", &key)?;
/// assert_eq!(params.package, "Sign=WXPay");
/// let json = serde_json::to_value(&params).unwrap();
/// let names: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
/// assert_eq!(names, ["appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"]);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPayParams {
    /// The app's appid.
    pub appid: String,
    /// The merchant id.
    pub partnerid: String,
    /// The `prepay_id` that `v3/pay/transactions/app` answered.
    pub prepayid: String,
    /// `Sign=WXPay`.
    pub package: String,
    /// 32 random characters.
    pub noncestr: String,
    /// Unix seconds, as text.
    pub timestamp: String,
    /// The base64 signature.
    pub sign: String,
}

impl AppPayParams {
    /// Signs with the merchant key for `appid`, merchant `mchid` and `prepay_id`.
    ///
    /// ```
    /// use wechatpay::{AppPayParams, Formatter};
    /// use wechatpay::crypto::{PrivateKey, Rsa};
    ///
    /// let key = PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?;
    /// let params = AppPayParams::sign("wxd678efh567hg6787", "1900000001", "WX1217752501201407033233368018", &key)?;
    /// let message = Formatter::joined_by_line_feed(&[&params.appid, &params.timestamp, &params.noncestr, &params.prepayid]);
    /// assert!(Rsa::verify(&message, &params.sign, &key.public_key()?)?);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn sign(appid: &str, mchid: &str, prepay_id: &str, key: &PrivateKey) -> Result<Self> {
        let mut params = Self::unsigned(appid, mchid, prepay_id)?;
        params.sign = crate::crypto::Rsa::sign(params.message(), key)?;
        Ok(params)
    }

    /// [`sign`](Self::sign) with any [`Signer`].
    ///
    /// ```
    /// use wechatpay::{AppPayParams, RsaSigner};
    /// use wechatpay::crypto::PrivateKey;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay::Result<()> {
    /// let signer = RsaSigner::new(PrivateKey::load("file://tests/fixtures/merchant_private_key.pem")?);
    /// let params = AppPayParams::sign_with("wxd678efh567hg6787", "1900000001", "WX1217752501", &signer).await?;
    /// assert_eq!(params.partnerid, "1900000001");
    /// # Ok(()) }
    /// ```
    pub async fn sign_with(appid: &str, mchid: &str, prepay_id: &str, signer: &dyn Signer) -> Result<Self> {
        let mut params = Self::unsigned(appid, mchid, prepay_id)?;
        params.sign = encode(&signer.sign(params.message().as_bytes()).await?);
        Ok(params)
    }

    /// The message `sign` signs: `appid\ntimestamp\nnoncestr\nprepayid\n`.
    ///
    /// ```
    /// let params = wechatpay::AppPayParams {
    ///     appid: "wxd678efh567hg6787".into(), partnerid: "1900000001".into(), prepayid: "WX1217752501".into(),
    ///     package: "Sign=WXPay".into(), noncestr: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".into(),
    ///     timestamp: "1414561699".into(), sign: String::new(),
    /// };
    /// assert_eq!(params.message(), "wxd678efh567hg6787\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nWX1217752501\n");
    /// ```
    pub fn message(&self) -> String {
        Formatter::joined_by_line_feed(&[&self.appid, &self.timestamp, &self.noncestr, &self.prepayid])
    }

    fn unsigned(appid: &str, mchid: &str, prepay_id: &str) -> Result<Self> {
        Ok(AppPayParams {
            appid: checked("appid", appid)?,
            partnerid: checked("mchid", mchid)?,
            prepayid: checked("prepay_id", prepay_id)?,
            package: "Sign=WXPay".to_owned(),
            noncestr: Formatter::nonce32()?,
            timestamp: Formatter::timestamp().to_string(),
            sign: String::new(),
        })
    }
}

impl Builder {
    /// [`JsapiPayParams::sign`] with this Builder's signer (its private key, or a configured [`Signer`]).
    ///
    /// ```
    /// # let server = wechatpay_mock::Server::builder()
    /// #     .identities(wechatpay_mock::Identities::shared().unwrap()).start_blocking().unwrap();
    /// # let ids = server.identities();
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({
    /// #     "mchid": ids.mchid, "serial": ids.merchant.serial, "privateKey": ids.merchant.private_key_pem,
    /// #     "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem}, "base_uri": server.base_uri(),
    /// # }))?;
    /// let order: serde_json::Value = instance.v3().pay().transactions().jsapi().post(serde_json::json!({"json": {
    ///     "appid": "wxd678efh567hg6787", "mchid": ids.mchid, "description": "Image形象店-深圳腾大-QQ公仔",
    ///     "out_trade_no": "1217752501201407033233368018", "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
    ///     "amount": {"total": 100}, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    /// }}))?.json()?;
    /// let params = instance.jsapi_pay_params("wxd678efh567hg6787", order["prepay_id"].as_str().unwrap())?;
    /// // Hand it to the page: serde_json::to_string(&params)
    /// assert!(params.package.starts_with("prepay_id="));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn jsapi_pay_params(&self, appid: &str, prepay_id: &str) -> Result<JsapiPayParams> {
        let config = self.config().clone();
        let (appid, prepay_id) = (appid.to_owned(), prepay_id.to_owned());
        self.core().block_on(async move { JsapiPayParams::sign_with(&appid, &prepay_id, &*config.signer).await })
    }

    /// [`AppPayParams::sign`] with this Builder's signer and mchid.
    ///
    /// ```
    /// # let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1900000001",
    /// #   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",
    /// #   "privateKey": "file://tests/fixtures/merchant_private_key.pem",
    /// #   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;
    /// let params = instance.app_pay_params("wxd678efh567hg6787", "WX1217752501201407033233368018")?;
    /// assert_eq!(params.partnerid, "1900000001");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn app_pay_params(&self, appid: &str, prepay_id: &str) -> Result<AppPayParams> {
        let config = self.config().clone();
        let (appid, prepay_id) = (appid.to_owned(), prepay_id.to_owned());
        self.core()
            .block_on(async move { AppPayParams::sign_with(&appid, &config.mchid, &prepay_id, &*config.signer).await })
    }
}

/// A parameter that goes into a signed, line-feed-joined message: present, and without a line feed (which would
/// let one message read as another).
fn checked(name: &'static str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(name, "it is required"));
    }
    if value.contains(['\n', '\r']) {
        return Err(Error::invalid(name, "it must be one line: the signed message separates fields by line feeds"));
    }
    Ok(value.to_owned())
}

fn encode(signature: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(signature)
}
