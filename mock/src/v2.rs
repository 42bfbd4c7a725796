//! APIv2 (XML): flat `<xml>` payloads signed with the APIv2 key (MD5 or HMAC-SHA256 over the sorted
//! `k=v&...&key=KEY` string), answered with signed XML (a few endpoints answer unsigned, as WeChat does), with
//! state for payments (unifiedorder, micropay, query, close, reverse), refunds (request, query, callback with
//! `req_info`), red packets, transfers to balance and bills, kept in [`crate::state::v2`].

use std::io::Write as _;
use std::time::Duration;

use aws_lc_rs::cipher::{AES_256, PaddedBlockEncryptingKey, UnboundCipherKey};
use aws_lc_rs::hmac;
use md5::{Digest as _, Md5};
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::reply::{Reply, Signing};
use crate::state::v2::{Ledger, Order, Payment, RedPacket, Refund, TradeState};
use crate::util::{B64, compact_datetime_cst, hex_lower, hex_upper, random_alnum, random_digits, rfc3339_cst};
use base64::Engine as _;

/// Endpoints that answer without a `sign`.
const UNSIGNED: [&str; 6] = [
    "/pay/downloadbill",
    "/mmpaymkttransfers/gethbinfo",
    "/mmpaymkttransfers/gettransferinfo",
    "/mmpaymkttransfers/promotion/transfers",
    "/mmpaymkttransfers/sendredpack",
    "/risk/getpublickey",
];

/// A micropay of this amount (fen) or more waits for the payer's password: `USERPAYING` until queried once.
pub(crate) const PASSWORD_THRESHOLD: u64 = 100_000;

/// The two APIv2 signature kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignType {
    Md5,
    HmacSha256,
}

/// `sign` over the fields: keys sorted (ASCII), `sign` and empty values left out, `&key=` appended,
/// upper-case hex of MD5 or HMAC-SHA256 (keyed with the APIv2 key).
pub(crate) fn sign(fields: &[(String, String)], key: &str, kind: SignType) -> String {
    let mut pairs: Vec<&(String, String)> = fields.iter().filter(|(k, v)| k != "sign" && !v.is_empty()).collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    text.push_str("&key=");
    text.push_str(key);
    match kind {
        SignType::Md5 => hex_upper(&Md5::digest(text.as_bytes())),
        SignType::HmacSha256 => {
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()), text.as_bytes());
            hex_upper(tag.as_ref())
        }
    }
}

/// Parses a flat `<xml><k>v</k>...</xml>` document. A DOCTYPE is refused (so no entity can be declared: XXE,
/// billion laughs) and entities other than XML's five are refused, never expanded; nested elements and a field
/// given twice are refused too (fragment injection: a value that smuggles in `</k><total_fee>1</total_fee>`
/// must not become a second field).
pub(crate) fn parse_xml(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the XML is not UTF-8".to_owned())?;
    let mut reader = Reader::from_str(text);
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<(String, String)> = None;
    let mut rooted = false;
    loop {
        match reader.read_event().map_err(|e| format!("malformed XML: {e}"))? {
            Event::DocType(_) => return Err("XML with a DOCTYPE (entity declarations) is refused".into()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                depth += 1;
                match depth {
                    1 if rooted => return Err("more than one root element".into()),
                    1 if name != "xml" => return Err("the root element must be <xml>".into()),
                    1 => rooted = true,
                    2 => current = Some((name, String::new())),
                    _ => return Err("APIv2 payloads are flat: nested elements are refused".into()),
                }
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                match depth {
                    0 if !rooted && name == "xml" => rooted = true,
                    0 => return Err("the root element must be <xml>".into()),
                    1 => push_field(&mut fields, name, String::new())?,
                    _ => return Err("APIv2 payloads are flat: nested elements are refused".into()),
                }
            }
            Event::End(_) => {
                if let Some((name, value)) = current.take().filter(|_| depth == 2) {
                    push_field(&mut fields, name, value)?;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => {
                let content = t.xml10_content().map_err(|e| e.to_string())?;
                match current.as_mut() {
                    Some((_, value)) => value.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err("text outside an element".into()),
                }
            }
            Event::CData(c) => {
                let content = c.xml10_content().map_err(|e| e.to_string())?;
                current.as_mut().ok_or("CDATA outside an element")?.1.push_str(&content);
            }
            Event::GeneralRef(r) => {
                let value = &mut current.as_mut().ok_or("an entity outside an element")?.1;
                if r.is_char_ref() {
                    value.push(r.resolve_char_ref().map_err(|e| e.to_string())?.ok_or("bad character reference")?);
                    continue;
                }
                value.push(match r.decode().map_err(|e| e.to_string())?.as_ref() {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "apos" => '\'',
                    "quot" => '"',
                    _ => return Err("undeclared entity (entities are never expanded)".into()),
                });
            }
            Event::Eof if depth == 0 && rooted => return Ok(fields),
            Event::Eof => return Err("the document ends early or has no <xml> root".into()),
        }
    }
}

fn push_field(fields: &mut Vec<(String, String)>, name: String, value: String) -> Result<(), String> {
    if fields.iter().any(|(k, _)| *k == name) {
        return Err(format!("the field {name} is given twice"));
    }
    fields.push((name, value));
    Ok(())
}

/// Renders flat XML with CDATA sections, as WeChat Pay writes it.
pub(crate) fn render_xml(fields: &[(String, String)]) -> String {
    render_root("xml", fields)
}

fn render_root(root: &str, fields: &[(String, String)]) -> String {
    let mut out = format!("<{root}>");
    for (k, v) in fields {
        if v.contains("]]>") {
            let escaped = v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            out.push_str(&format!("<{k}>{escaped}</{k}>"));
        } else {
            out.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
        }
    }
    out.push_str(&format!("</{root}>"));
    out
}

fn xml_reply(body: String) -> Reply {
    Reply {
        status: 200,
        body: body.into_bytes(),
        content_type: Some("text/xml; charset=utf-8"),
        signing: Signing::Unsigned,
        extra_headers: Vec::new(),
        stream: None,
    }
}

/// `return_code=FAIL`: WeChat Pay's answer to a request it cannot take (HTTP 200 all the same).
fn fail(message: &str) -> Reply {
    xml_reply(render_xml(&[("return_code".into(), "FAIL".into()), ("return_msg".into(), message.into())]))
}

/// What the handler needs from the account.
pub(crate) struct Account<'a> {
    pub(crate) mchid: &'a str,
    pub(crate) apiv2_key: &'a str,
    /// PKCS#1 PEM of the key `/risk/getpublickey` hands out.
    pub(crate) rsa_public_key_pem: &'a str,
    pub(crate) now: i64,
}

/// The fields a paid order shows in answers and callbacks.
fn paid_fields(order: &Order, out: &mut Vec<(String, String)>) {
    let mut add = |k: &str, v: String| out.push((k.to_owned(), v));
    add("openid", order.openid.clone());
    add("is_subscribe", "N".into());
    add("trade_type", order.trade_type.clone());
    add("bank_type", "OTHERS".into());
    add("fee_type", "CNY".into());
    add("total_fee", order.total_fee.to_string());
    add("cash_fee", order.total_fee.to_string());
    add("transaction_id", order.transaction_id.clone());
    add("out_trade_no", order.out_trade_no.clone());
    add("time_end", compact_datetime_cst(order.time_end.unwrap_or_default()));
}

/// `2024-01-02 15:04:05` (China time), as APIv2 writes times.
fn v2_time(unix: i64) -> String {
    rfc3339_cst(unix).replace('T', " ").replace("+08:00", "")
}

/// The signed payment callback of an order (what WeChat Pay posts to its `notify_url`): a `NOTPAY` or
/// `USERPAYING` order is paid first (the payer pays).
pub(crate) fn payment_notification(ledger: &mut Ledger, out_trade_no: &str, account: &Account<'_>) -> Option<Vec<u8>> {
    let order = ledger.orders.get_mut(out_trade_no)?;
    if matches!(order.state, TradeState::NotPay | TradeState::UserPaying) {
        order.pay(account.now);
    }
    let mut fields = vec![
        ("return_code".to_owned(), "SUCCESS".to_owned()),
        ("result_code".to_owned(), if order.state.paid() { "SUCCESS" } else { "FAIL" }.to_owned()),
        ("appid".to_owned(), order.appid.clone()),
        ("mch_id".to_owned(), account.mchid.to_owned()),
        ("nonce_str".to_owned(), random_alnum(32)),
    ];
    paid_fields(order, &mut fields);
    let s = sign(&fields, account.apiv2_key, SignType::Md5);
    fields.push(("sign".into(), s));
    Some(render_xml(&fields).into_bytes())
}

/// The refund callback: a `PROCESSING` refund ends first. `req_info` is encrypted, the callback unsigned.
pub(crate) fn refund_notification(ledger: &mut Ledger, out_refund_no: &str, account: &Account<'_>) -> Option<Vec<u8>> {
    let refund = ledger.refunds.iter_mut().find(|r| r.out_refund_no == out_refund_no)?;
    refund.success.get_or_insert(account.now);
    let appid = ledger.orders.get(&refund.out_trade_no).map(|o| o.appid.clone()).unwrap_or_default();
    let inner = [
        ("out_refund_no", refund.out_refund_no.clone()),
        ("out_trade_no", refund.out_trade_no.clone()),
        ("refund_account", "REFUND_SOURCE_RECHARGE_FUNDS".into()),
        ("refund_fee", refund.refund_fee.to_string()),
        ("refund_id", refund.refund_id.clone()),
        ("refund_recv_accout", "支付用户零钱".into()),
        ("refund_request_source", "API".into()),
        ("refund_status", refund.status().into()),
        ("settlement_refund_fee", refund.refund_fee.to_string()),
        ("settlement_total_fee", refund.total_fee.to_string()),
        ("success_time", v2_time(refund.success.unwrap_or(account.now))),
        ("total_fee", refund.total_fee.to_string()),
        ("transaction_id", refund.transaction_id.clone()),
    ];
    let inner: Vec<(&str, &str)> = inner.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Some(refund_notification_xml(&inner, &appid, account.mchid, account.apiv2_key))
}

/// A refund callback: `req_info` is the `<root>` of `fields`, AES-256-ECB (PKCS#7) encrypted with the lower-case
/// hex MD5 of the APIv2 key, base64.
pub(crate) fn refund_notification_xml(fields: &[(&str, &str)], appid: &str, mch_id: &str, apiv2_key: &str) -> Vec<u8> {
    let owned: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let plaintext = render_root("root", &owned);
    let outer = [
        ("return_code".to_owned(), "SUCCESS".to_owned()),
        ("appid".to_owned(), appid.to_owned()),
        ("mch_id".to_owned(), mch_id.to_owned()),
        ("nonce_str".to_owned(), random_alnum(32)),
        ("req_info".to_owned(), encrypt_req_info(plaintext.as_bytes(), apiv2_key)),
    ];
    render_xml(&outer).into_bytes()
}

fn encrypt_req_info(plaintext: &[u8], apiv2_key: &str) -> String {
    let key = hex_lower(&Md5::digest(apiv2_key.as_bytes()));
    let mut data = plaintext.to_vec();
    // A 32-byte key always makes an AES-256 key, and PKCS#7 encryption of any length succeeds.
    let encrypted = UnboundCipherKey::new(&AES_256, key.as_bytes())
        .and_then(PaddedBlockEncryptingKey::ecb_pkcs7)
        .and_then(|cipher| cipher.encrypt(&mut data));
    match encrypted {
        Ok(_) => B64.encode(&data),
        Err(_) => String::new(),
    }
}

/// Answers one APIv2 request; `at` is the simulator clock's reading (what auto-pay and auto-advance count from).
pub(crate) fn handle(path: &str, body: &[u8], account: &Account<'_>, ledger: &mut Ledger, at: Duration) -> Reply {
    let fields = match parse_xml(body) {
        Ok(f) => f,
        Err(e) => return fail(&format!("XML格式错误 (bad XML: {e})")),
    };
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let Some(mchid) = get("mch_id").or_else(|| get("mchid")).or_else(|| get("combine_mch_id")) else {
        return fail("缺少参数mch_id (missing mch_id)");
    };
    if mchid != account.mchid {
        return fail("mch_id参数错误 (mch_id is not this merchant)");
    }
    let Some(their_sign) = get("sign") else {
        return fail("缺少参数sign (missing sign)");
    };
    let kind = match get("sign_type") {
        None | Some("MD5") => SignType::Md5,
        Some("HMAC-SHA256") => SignType::HmacSha256,
        Some(other) => return fail(&format!("sign_type参数错误 (unknown sign_type {other})")),
    };
    if !sign(&fields, account.apiv2_key, kind).eq_ignore_ascii_case(their_sign) {
        return fail("签名错误 (the sign does not match; check the APIv2 key and the sign_type)");
    }
    let required = |names: &[&str]| {
        names
            .iter()
            .find(|name| get(name).is_none_or(str::is_empty))
            .map(|name| fail(&format!("缺少参数{name} (missing {name})")))
    };

    if path == "/pay/downloadbill" {
        if let Some(reply) = required(&["bill_date", "bill_type"]) {
            return reply;
        }
        return download_bill(get("bill_date").unwrap_or_default(), get("tar_type") == Some("GZIP"), ledger);
    }

    let mut answer: Vec<(String, String)> = vec![
        ("return_code".into(), "SUCCESS".into()),
        ("return_msg".into(), "OK".into()),
        ("result_code".into(), "SUCCESS".into()),
        ("nonce_str".into(), random_alnum(32)),
    ];
    let echo = [
        "appid",
        "mch_appid",
        "wxappid",
        "mch_id",
        "mchid",
        "sub_appid",
        "sub_mch_id",
        "device_info",
        "out_trade_no",
        "transaction_id",
        "out_refund_no",
        "partner_trade_no",
        "mch_billno",
        "re_openid",
        "total_amount",
    ];
    for name in echo {
        if let Some(v) = get(name) {
            answer.push((name.to_owned(), v.to_owned()));
        }
    }
    let lookup = |name: &str| get(name).map(str::to_owned);
    let outcome = match path {
        "/pay/unifiedorder" => {
            required(&["body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type"])
                .map_or_else(|| unifiedorder(&get, at, ledger, &mut answer), Err)
        }
        "/pay/micropay" => required(&["body", "out_trade_no", "total_fee", "spbill_create_ip", "auth_code"])
            .map_or_else(|| micropay(&get, (account.now, at), ledger, &mut answer), Err),
        "/pay/orderquery" => orderquery(&lookup, account.now, ledger, &mut answer),
        "/pay/closeorder" => required(&["out_trade_no"]).map_or_else(|| close_order(&lookup, ledger, &mut answer), Err),
        "/secapi/pay/reverse" => reverse(&lookup, ledger, &mut answer),
        "/secapi/pay/refund" => required(&["out_refund_no", "total_fee", "refund_fee"])
            .map_or_else(|| refund(&get, &lookup, at, ledger, &mut answer), Err),
        "/pay/refundquery" => refundquery(&lookup, account.now, ledger, &mut answer),
        "/mmpaymkttransfers/sendredpack" => required(&[
            "mch_billno",
            "wxappid",
            "send_name",
            "re_openid",
            "total_amount",
            "total_num",
            "wishing",
            "client_ip",
            "act_name",
            "remark",
        ])
        .map_or_else(|| send_red_packet(&get, (account.now, at), ledger, &mut answer), Err),
        "/mmpaymkttransfers/gethbinfo" => {
            required(&["mch_billno", "bill_type"]).map_or_else(|| red_packet_info(&get, ledger, &mut answer), Err)
        }
        "/mmpaymkttransfers/promotion/transfers" => {
            required(&["partner_trade_no", "openid", "check_name", "amount", "desc"])
                .map_or_else(|| transfer_to_balance(&get, account.now, ledger, &mut answer), Err)
        }
        "/mmpaymkttransfers/gettransferinfo" => {
            required(&["partner_trade_no"]).map_or_else(|| transfer_info(&get, ledger, &mut answer), Err)
        }
        "/risk/getpublickey" => {
            answer.push(("pub_key".into(), account.rsa_public_key_pem.to_owned()));
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(reply) = outcome {
        return reply;
    }
    if !UNSIGNED.contains(&path) {
        let s = sign(&answer, account.apiv2_key, kind);
        answer.push(("sign".into(), s));
    }
    xml_reply(render_xml(&answer))
}

/// `result_code=FAIL` with `err_code`, signed as WeChat signs business failures.
struct Business<'a> {
    code: &'a str,
    description: &'a str,
}

type Outcome = Result<(), Reply>;

fn business_fail(answer: &mut Vec<(String, String)>, failure: Business<'_>) -> Outcome {
    for (k, v) in answer.iter_mut() {
        if k == "result_code" {
            *v = "FAIL".into();
        }
    }
    answer.push(("err_code".into(), failure.code.into()));
    answer.push(("err_code_des".into(), failure.description.into()));
    Ok(())
}

fn fee<'f>(get: &dyn Fn(&str) -> Option<&'f str>, name: &str) -> Result<u64, Reply> {
    get(name)
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|fee| *fee > 0)
        .ok_or_else(|| fail(&format!("{name}参数错误 ({name} must be a positive whole number of fen)")))
}

fn new_order<'f>(get: &dyn Fn(&str) -> Option<&'f str>, trade_type: &str, total_fee: u64, at: Duration) -> Order {
    Order {
        appid: get("appid").unwrap_or_default().to_owned(),
        out_trade_no: get("out_trade_no").unwrap_or_default().to_owned(),
        transaction_id: format!("42{}", random_digits(26)),
        trade_type: trade_type.to_owned(),
        total_fee,
        refunded: 0,
        state: TradeState::NotPay,
        openid: format!("o{}", random_alnum(27)),
        time_end: None,
        queried: false,
        notify_url: None,
        created_at: at,
    }
}

fn unifiedorder<'f>(
    get: &dyn Fn(&str) -> Option<&'f str>,
    at: Duration,
    ledger: &mut Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    let total_fee = fee(get, "total_fee")?;
    let trade_type = get("trade_type").unwrap_or_default().to_owned();
    let out_trade_no = get("out_trade_no").unwrap_or_default();
    match ledger.orders.get(out_trade_no) {
        Some(order) if order.state.paid() => {
            return business_fail(answer, Business { code: "ORDERPAID", description: "该订单已支付" });
        }
        Some(order) if order.state == TradeState::Closed => {
            return business_fail(answer, Business { code: "ORDERCLOSED", description: "订单已关闭" });
        }
        Some(order) if order.total_fee != total_fee => {
            return business_fail(answer, Business { code: "OUT_TRADE_NO_USED", description: "商户订单号重复" });
        }
        Some(_) => {}
        None => {
            let mut order = new_order(get, &trade_type, total_fee, at);
            order.notify_url = get("notify_url").map(str::to_owned);
            ledger.orders.insert(out_trade_no.to_owned(), order);
        }
    }
    if trade_type == "NATIVE" {
        answer.push(("code_url".into(), format!("weixin://wxpay/bizpayurl?pr={}", random_alnum(7))));
    }
    answer.push(("trade_type".into(), trade_type));
    answer.push(("prepay_id".into(), format!("wx{}", random_alnum(30).to_ascii_lowercase())));
    Ok(())
}

fn micropay<'f>(
    get: &dyn Fn(&str) -> Option<&'f str>,
    (now, at): (i64, Duration),
    ledger: &mut Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    let total_fee = fee(get, "total_fee")?;
    let auth_code = get("auth_code").unwrap_or_default();
    // Payment codes are 18 digits starting 10 to 15.
    let valid = auth_code.len() == 18
        && auth_code.bytes().all(|b| b.is_ascii_digit())
        && (b'0'..=b'5').contains(&auth_code.as_bytes()[1])
        && auth_code.starts_with('1');
    if !valid {
        return business_fail(answer, Business { code: "AUTH_CODE_INVALID", description: "付款码无效，请重新扫码" });
    }
    let out_trade_no = get("out_trade_no").unwrap_or_default();
    if let Some(order) = ledger.orders.get(out_trade_no) {
        let (code, description) = match order.state {
            TradeState::Success | TradeState::Refund => ("ORDERPAID", "该订单已支付"),
            TradeState::Revoked => ("ORDERREVERSED", "当前订单已经被撤销"),
            TradeState::Closed => ("ORDERCLOSED", "订单已关闭"),
            TradeState::UserPaying => ("USERPAYING", "需要用户输入支付密码"),
            TradeState::NotPay => ("OUT_TRADE_NO_USED", "商户订单号重复"),
        };
        return business_fail(answer, Business { code, description });
    }
    let mut order = new_order(get, "MICROPAY", total_fee, at);
    if total_fee >= PASSWORD_THRESHOLD {
        order.state = TradeState::UserPaying;
        ledger.orders.insert(out_trade_no.to_owned(), order);
        return business_fail(answer, Business { code: "USERPAYING", description: "需要用户输入支付密码" });
    }
    order.pay(now);
    answer.retain(|(k, _)| k != "out_trade_no");
    paid_fields(&order, answer);
    ledger.orders.insert(out_trade_no.to_owned(), order);
    Ok(())
}

fn order_not_exist(answer: &mut Vec<(String, String)>) -> Outcome {
    business_fail(answer, Business { code: "ORDERNOTEXIST", description: "此交易订单号不存在" })
}

fn orderquery(
    lookup: &dyn Fn(&str) -> Option<String>,
    now: i64,
    ledger: &mut Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    if lookup("transaction_id").is_none() && lookup("out_trade_no").is_none() {
        return Err(fail("缺少参数out_trade_no (give out_trade_no or transaction_id)"));
    }
    let Some(order) = ledger.order_by(lookup) else {
        return order_not_exist(answer);
    };
    if order.state == TradeState::UserPaying {
        if order.queried {
            order.pay(now);
        }
        order.queried = true;
    }
    answer.retain(|(k, _)| k != "out_trade_no" && k != "transaction_id");
    answer.push(("trade_state".into(), order.state.wire().into()));
    answer.push(("trade_state_desc".into(), order.state.description().into()));
    if order.state.paid() {
        paid_fields(order, answer);
    } else {
        answer.push(("out_trade_no".into(), order.out_trade_no.clone()));
        answer.push(("total_fee".into(), order.total_fee.to_string()));
    }
    Ok(())
}

fn close_order(
    lookup: &dyn Fn(&str) -> Option<String>,
    ledger: &mut Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    let Some(order) = ledger.order_by(lookup) else {
        return order_not_exist(answer);
    };
    let (code, description) = match order.state {
        TradeState::NotPay => {
            order.state = TradeState::Closed;
            answer.retain(|(k, _)| k != "out_trade_no");
            answer.push(("result_msg".into(), "OK".into()));
            return Ok(());
        }
        TradeState::Success | TradeState::Refund => ("ORDERPAID", "订单已支付，不能发起关单"),
        TradeState::Closed => ("ORDERCLOSED", "订单已关闭，无法重复关闭"),
        TradeState::Revoked => ("ORDERREVERSED", "当前订单已经被撤销"),
        TradeState::UserPaying => ("USERPAYING", "用户支付中，需要输入密码"),
    };
    business_fail(answer, Business { code, description })
}

fn reverse(
    lookup: &dyn Fn(&str) -> Option<String>,
    ledger: &mut Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    let Some(order) = ledger.order_by(lookup) else {
        return order_not_exist(answer);
    };
    // A reversal closes an unpaid order and refunds a paid one: nothing is left to retry.
    order.state = TradeState::Revoked;
    answer.push(("recall".into(), "N".into()));
    Ok(())
}

fn refund<'f>(
    get: &dyn Fn(&str) -> Option<&'f str>,
    lookup: &dyn Fn(&str) -> Option<String>,
    at: Duration,
    ledger: &mut Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    let total_fee = fee(get, "total_fee")?;
    let refund_fee = fee(get, "refund_fee")?;
    let out_refund_no = get("out_refund_no").unwrap_or_default().to_owned();
    if let Some(existing) = ledger.refunds.iter().find(|r| r.out_refund_no == out_refund_no) {
        // A retry with the same out_refund_no answers the same refund.
        if existing.refund_fee != refund_fee {
            return business_fail(
                answer,
                Business { code: "PARAM_ERROR", description: "同一退款单号的退款金额不一致" },
            );
        }
        refund_fields(existing, answer);
        return Ok(());
    }
    let Some(order) = ledger.order_by(lookup) else {
        return order_not_exist(answer);
    };
    if !order.state.paid() {
        return business_fail(
            answer,
            Business { code: "TRADE_STATE_ERROR", description: "订单状态错误：未支付的订单不能退款" },
        );
    }
    if total_fee != order.total_fee {
        return business_fail(
            answer,
            Business { code: "PARAM_ERROR", description: "订单金额total_fee与支付金额不一致" },
        );
    }
    if refund_fee > order.total_fee - order.refunded {
        return business_fail(answer, Business { code: "NOTENOUGH", description: "退款金额大于可退金额" });
    }
    order.refunded += refund_fee;
    order.state = TradeState::Refund;
    let refund = Refund {
        out_refund_no,
        refund_id: format!("50{}", random_digits(27)),
        out_trade_no: order.out_trade_no.clone(),
        transaction_id: order.transaction_id.clone(),
        total_fee,
        refund_fee,
        success: None,
        queried: false,
        notify_url: get("notify_url").filter(|url| !url.is_empty()).map(str::to_owned),
        created_at: at,
    };
    refund_fields(&refund, answer);
    ledger.refunds.push(refund);
    Ok(())
}

fn refund_fields(refund: &Refund, answer: &mut Vec<(String, String)>) {
    answer.retain(|(k, _)| !matches!(k.as_str(), "out_trade_no" | "transaction_id" | "out_refund_no"));
    for (k, v) in [
        ("transaction_id", refund.transaction_id.clone()),
        ("out_trade_no", refund.out_trade_no.clone()),
        ("out_refund_no", refund.out_refund_no.clone()),
        ("refund_id", refund.refund_id.clone()),
        ("refund_fee", refund.refund_fee.to_string()),
        ("settlement_refund_fee", refund.refund_fee.to_string()),
        ("total_fee", refund.total_fee.to_string()),
        ("cash_fee", refund.total_fee.to_string()),
    ] {
        answer.push((k.to_owned(), v));
    }
}

fn refundquery(
    lookup: &dyn Fn(&str) -> Option<String>,
    now: i64,
    ledger: &mut Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    let by = |refund: &Refund| {
        if let Some(no) = lookup("out_refund_no") {
            return refund.out_refund_no == no;
        }
        if let Some(id) = lookup("refund_id") {
            return refund.refund_id == id;
        }
        if let Some(id) = lookup("transaction_id") {
            return refund.transaction_id == id;
        }
        lookup("out_trade_no").is_some_and(|no| refund.out_trade_no == no)
    };
    if ["out_refund_no", "refund_id", "transaction_id", "out_trade_no"].iter().all(|k| lookup(k).is_none()) {
        return Err(fail("缺少参数out_refund_no (give out_refund_no, refund_id, transaction_id or out_trade_no)"));
    }
    let matching: Vec<&mut Refund> = ledger.refunds.iter_mut().filter(|r| by(r)).collect();
    if matching.is_empty() {
        return business_fail(answer, Business { code: "REFUNDNOTEXIST", description: "退款订单查询失败" });
    }
    answer.retain(|(k, _)| !matches!(k.as_str(), "out_trade_no" | "transaction_id" | "out_refund_no"));
    let first = &matching[0];
    answer.push(("transaction_id".into(), first.transaction_id.clone()));
    answer.push(("out_trade_no".into(), first.out_trade_no.clone()));
    answer.push(("total_fee".into(), first.total_fee.to_string()));
    answer.push(("cash_fee".into(), first.total_fee.to_string()));
    answer.push(("refund_count".into(), matching.len().to_string()));
    for (i, refund) in matching.into_iter().enumerate() {
        if refund.success.is_none() && refund.queried {
            refund.success = Some(now);
        }
        refund.queried = true;
        for (k, v) in [
            ("out_refund_no", refund.out_refund_no.clone()),
            ("refund_id", refund.refund_id.clone()),
            ("refund_fee", refund.refund_fee.to_string()),
            ("refund_status", refund.status().to_owned()),
            ("refund_recv_accout", "支付用户的零钱".to_owned()),
        ] {
            answer.push((format!("{k}_{i}"), v));
        }
        if let Some(at) = refund.success {
            answer.push((format!("refund_success_time_{i}"), v2_time(at)));
        }
    }
    Ok(())
}

fn send_red_packet<'f>(
    get: &dyn Fn(&str) -> Option<&'f str>,
    (now, at): (i64, Duration),
    ledger: &mut Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    let amount = fee(get, "total_amount")?;
    if get("total_num") != Some("1") {
        return business_fail(answer, Business { code: "PARAM_ERROR", description: "total_num必须为1" });
    }
    if !(100..=20_000).contains(&amount) {
        return business_fail(
            answer,
            Business { code: "MONEY_LIMIT", description: "每个红包的金额必须在1元到200元之间" },
        );
    }
    let billno = get("mch_billno").unwrap_or_default().to_owned();
    // A retry with the same mch_billno answers the same red packet.
    let packet = ledger.red_packets.entry(billno).or_insert_with(|| RedPacket {
        send_listid: random_digits(28),
        openid: get("re_openid").unwrap_or_default().to_owned(),
        total_amount: amount,
        send_time: now,
        received: None,
        created_at: at,
    });
    answer.push(("err_code".into(), "SUCCESS".into()));
    answer.push(("err_code_des".into(), "发放成功".into()));
    answer.push(("send_listid".into(), packet.send_listid.clone()));
    Ok(())
}

/// `NOT_FOUND`: the red-packet and transfer queries' answer for a number they never saw.
fn no_such_number(answer: &mut Vec<(String, String)>) -> Outcome {
    business_fail(answer, Business { code: "NOT_FOUND", description: "指定单号数据不存在" })
}

fn red_packet_info<'f>(
    get: &dyn Fn(&str) -> Option<&'f str>,
    ledger: &Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    let Some(packet) = ledger.red_packets.get(get("mch_billno").unwrap_or_default()) else {
        return no_such_number(answer);
    };
    let status = if packet.received.is_some() { "RECEIVED" } else { "SENT" };
    for (k, v) in [
        ("detail_id", packet.send_listid.clone()),
        ("status", status.to_owned()),
        ("send_type", "API".to_owned()),
        ("hb_type", "NORMAL".to_owned()),
        ("total_num", "1".to_owned()),
        ("total_amount", packet.total_amount.to_string()),
        ("send_time", v2_time(packet.send_time)),
        ("openid", packet.openid.clone()),
    ] {
        answer.push((k.to_owned(), v));
    }
    if let Some(at) = packet.received {
        answer.push(("rcv_time".into(), v2_time(at)));
    }
    Ok(())
}

fn transfer_to_balance<'f>(
    get: &dyn Fn(&str) -> Option<&'f str>,
    now: i64,
    ledger: &mut Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    let amount = fee(get, "amount")?;
    let partner_trade_no = get("partner_trade_no").unwrap_or_default().to_owned();
    // A retry with the same partner_trade_no answers the same payment.
    let payment = ledger.payments.entry(partner_trade_no.clone()).or_insert_with(|| Payment {
        partner_trade_no,
        payment_no: random_digits(32),
        payment_time: now,
        openid: get("openid").unwrap_or_default().to_owned(),
        amount,
        desc: get("desc").unwrap_or_default().to_owned(),
    });
    answer.push(("payment_no".into(), payment.payment_no.clone()));
    answer.push(("payment_time".into(), v2_time(payment.payment_time)));
    Ok(())
}

fn transfer_info<'f>(
    get: &dyn Fn(&str) -> Option<&'f str>,
    ledger: &Ledger,
    answer: &mut Vec<(String, String)>,
) -> Outcome {
    let Some(payment) = ledger.payments.get(get("partner_trade_no").unwrap_or_default()) else {
        return no_such_number(answer);
    };
    answer.retain(|(k, _)| k != "partner_trade_no");
    for (k, v) in [
        ("partner_trade_no", payment.partner_trade_no.clone()),
        ("detail_id", payment.payment_no.clone()),
        ("status", "SUCCESS".to_owned()),
        ("openid", payment.openid.clone()),
        ("payment_amount", payment.amount.to_string()),
        ("transfer_time", v2_time(payment.payment_time)),
        ("payment_time", v2_time(payment.payment_time)),
        ("desc", payment.desc.clone()),
    ] {
        answer.push((k.to_owned(), v));
    }
    Ok(())
}

/// The trade bill: WeChat's CSV with a backtick before every value, the paid orders, then the totals.
fn download_bill(date: &str, gzip: bool, ledger: &Ledger) -> Reply {
    let mut bill = String::from("交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额\r\n");
    let mut total = 0u64;
    let mut count = 0usize;
    let mut paid: Vec<&Order> = ledger.orders.values().filter(|o| o.state.paid()).collect();
    paid.sort_by_key(|o| (o.time_end, o.out_trade_no.clone()));
    for order in paid {
        count += 1;
        total += order.total_fee;
        let time = v2_time(order.time_end.unwrap_or_default());
        bill.push_str(&format!(
            "`{time},`{},`-,`{},`{},`{},`{}.{:02}\r\n",
            order.appid,
            order.transaction_id,
            order.out_trade_no,
            order.state.wire(),
            order.total_fee / 100,
            order.total_fee % 100
        ));
    }
    bill.push_str(&format!(
        "总交易单数,应结订单总金额\r\n`{count},`{}.{:02}\r\n# {date}\r\n",
        total / 100,
        total % 100
    ));
    let (body, content_type) = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        match encoder.write_all(bill.as_bytes()).and_then(|()| encoder.finish()) {
            Ok(gz) => (gz, "application/x-gzip"),
            Err(_) => return fail("SYSTEMERROR (gzip failed)"),
        }
    } else {
        (bill.into_bytes(), "text/plain; charset=utf-8")
    };
    Reply {
        status: 200,
        body,
        content_type: Some(content_type),
        signing: Signing::Unsigned,
        extra_headers: Vec::new(),
        stream: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector() -> Vec<(String, String)> {
        [
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    #[test]
    fn official_vectors() {
        let key = "192006250b4c09247ec02edce69f6a2d";
        assert_eq!(sign(&vector(), key, SignType::Md5), "9A0A8659F005D6984697E2CA0A9CF3B7");
        assert_eq!(
            sign(&vector(), key, SignType::HmacSha256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn xml_round_trip_and_refusals() {
        let fields = vec![("a".to_owned(), "x<y & ]]> z".to_owned()), ("b".to_owned(), "中文".to_owned())];
        assert_eq!(parse_xml(render_xml(&fields).as_bytes()).ok(), Some(fields));
        assert_eq!(
            parse_xml(b"<?xml version=\"1.0\"?>\n<xml>\n <a>1 &amp; 2</a>\n <b><![CDATA[<c>]]></b>\n<e/></xml>").ok(),
            Some(vec![("a".into(), "1 & 2".into()), ("b".into(), "<c>".into()), ("e".into(), String::new())])
        );
        assert!(parse_xml(b"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><a>&e;</a></xml>").is_err());
        assert!(parse_xml(b"<xml><a>&e;</a></xml>").is_err());
        assert!(parse_xml(b"<xml><a>1</xml>").is_err());
        assert!(parse_xml(b"<root></root>").is_err());
        assert!(parse_xml(b"<xml><a><b>1</b></a></xml>").is_err());
        assert!(parse_xml(b"<xml><a><![CDATA[x</a></xml>").is_err());
        assert_eq!(parse_xml(b"<xml><a>&#x4E2D;&#25991;</a></xml>").ok(), Some(vec![("a".into(), "中文".into())]));
        assert!(parse_xml(b"<xml><a>1</a><b/><a>2</a></xml>").is_err(), "a field given twice");
        assert!(parse_xml(b"<xml><a/><a/></xml>").is_err());
    }

    #[test]
    fn req_info_is_aes_ecb_under_the_md5_of_the_key() {
        // AES-256-ECB of the empty string under md5("k") as 32 ASCII bytes is one padding block.
        assert_eq!(B64.decode(encrypt_req_info(b"", "k")).map(|raw| raw.len()).ok(), Some(16));
        assert_ne!(encrypt_req_info(b"x", "k"), encrypt_req_info(b"x", "l"));
    }
}
