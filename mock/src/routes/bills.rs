//! Bills: apply (`/v3/bill/tradebill`, `/v3/bill/fundflowbill`) and download (`/v3/billdownload/file`,
//! answered unsigned, gzip when the apply asked `tar_type=GZIP`).

use std::collections::HashMap;
use std::io::Write as _;

use serde_json::json;
use sha1::{Digest as _, Sha1};

use super::pay::{Orders, TradeState};
use super::{Ctx, Reply};
use crate::util::{hex_lower, random_alnum, rfc3339_cst};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BillKind {
    Trade,
    Fundflow,
}

#[derive(Debug, Clone)]
struct Bill {
    content: Vec<u8>,
    gzip: bool,
}

/// Bills applied for, by download token.
#[derive(Debug, Default)]
pub(crate) struct Bills {
    by_token: HashMap<String, Bill>,
}

fn valid_date(date: &str) -> bool {
    let b = date.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// The bill text, in WeChat Pay's layout: a header row, one backtick-prefixed row per record, a summary.
fn render(kind: BillKind, date: &str, orders: &Orders) -> String {
    let mut paid: Vec<_> = orders
        .all()
        .filter(|o| matches!(o.state, TradeState::Success | TradeState::Refund))
        .filter(|o| o.success_time.is_some_and(|t| rfc3339_cst(t).starts_with(date)))
        .collect();
    paid.sort_by_key(|o| o.success_time);
    let total: i64 = paid.iter().map(|o| o.total).sum();
    let mut out = String::new();
    match kind {
        BillKind::Trade => {
            out.push_str("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n");
            for o in &paid {
                let time = o.success_time.map(rfc3339_cst).unwrap_or_default().replace('T', " ");
                let time = time.trim_end_matches("+08:00");
                let fee = o.total * 6 / 1000;
                out.push_str(&format!(
                    "`{time},`{},`{},`0,`,`{},`{},`{},`{},`SUCCESS,`OTHERS,`CNY,`{},`0.00,`0,`0,`0.00,`0.00,`,`,`{},`,`{},`0.60%,`{},`0.00,`\r\n",
                    o.appid,
                    o.mchid,
                    o.transaction_id.as_deref().unwrap_or_default(),
                    o.out_trade_no,
                    o.payer_openid.as_deref().unwrap_or_default(),
                    o.trade_type.wire(),
                    yuan(o.total),
                    o.description,
                    yuan(fee),
                    yuan(o.total),
                ));
            }
            out.push_str(
                "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n",
            );
            out.push_str(&format!(
                "`{},`{},`0.00,`0.00,`{},`{},`0.00\r\n",
                paid.len(),
                yuan(total),
                yuan(total * 6 / 1000),
                yuan(total)
            ));
        }
        BillKind::Fundflow => {
            out.push_str("记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号\r\n");
            let mut balance = 0;
            for o in &paid {
                balance += o.total;
                let time = o.success_time.map(rfc3339_cst).unwrap_or_default().replace('T', " ");
                out.push_str(&format!(
                    "`{},`{},`{}0001,`交易,`交易,`收入,`{},`{},`system,`,`{}\r\n",
                    time.trim_end_matches("+08:00"),
                    o.transaction_id.as_deref().unwrap_or_default(),
                    o.transaction_id.as_deref().unwrap_or_default(),
                    yuan(o.total),
                    yuan(balance),
                    o.out_trade_no,
                ));
            }
            out.push_str("资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n");
            out.push_str(&format!("`{},`{},`{},`0,`0.00\r\n", paid.len(), paid.len(), yuan(total)));
        }
    }
    out
}

impl Bills {
    pub(crate) fn apply(&mut self, ctx: &Ctx<'_>, kind: BillKind, orders: &Orders) -> Result<Reply, Reply> {
        let date = ctx.required_query("bill_date")?;
        if !valid_date(date) {
            return Err(Reply::param_error("bill_date", "query", "bill_date must be YYYY-MM-DD"));
        }
        let gzip = match ctx.query("tar_type") {
            None | Some("") => false,
            Some("GZIP") => true,
            Some(_) => return Err(Reply::param_error("tar_type", "query", "tar_type must be GZIP")),
        };
        let content = render(kind, date, orders).into_bytes();
        let hash = hex_lower(&Sha1::digest(&content));
        let token = random_alnum(40);
        let download_url = format!("{}v3/billdownload/file?token={token}", ctx.base_uri);
        self.by_token.insert(token, Bill { content, gzip });
        Ok(Reply::ok(&json!({
            "hash_type": "SHA1",
            "hash_value": hash,
            "download_url": download_url,
        })))
    }

    pub(crate) fn download(&self, ctx: &Ctx<'_>) -> Result<Reply, Reply> {
        let token = ctx.required_query("token")?;
        let bill = self
            .by_token
            .get(token)
            .ok_or_else(|| Reply::invalid_request("the download token is unknown or has expired"))?;
        let (body, content_type) = if bill.gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&bill.content)
                .and_then(|()| enc.finish())
                .map(|gz| (gz, "application/x-gzip"))
                .map_err(|_| Reply::error(500, "SYSTEM_ERROR", "gzip failed"))?
        } else {
            (bill.content.clone(), "text/plain; charset=utf-8")
        };
        Ok(Reply {
            status: 200,
            body,
            content_type: Some(content_type),
            signing: super::Signing::Unsigned,
            extra_headers: Vec::new(),
        })
    }
}
