//! Bills over HTTP: apply (the query and the simulator's own headers read into a [`BillOrder`]) and download,
//! answered unsigned as WeChat Pay does. The files themselves are made in [`crate::state::bills`].

use super::Ctx;
use crate::reply::{Reply, Signing};
use crate::state::bills::{BillKind, BillOrder, Bills, PARTS_HEADER, SIZE_HEADER};
use crate::state::orders::Orders;
use crate::util::rfc3339_cst;

fn valid_date(date: &str) -> bool {
    let b = date.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

pub(crate) fn apply(bills: &mut Bills, orders: &Orders, ctx: &Ctx<'_>, kind: BillKind) -> Result<Reply, Reply> {
    let date = match (kind, ctx.query("bill_date")) {
        (_, Some(date)) if !date.is_empty() => date.to_owned(),
        // Optional for the overseas profit-sharing bill: today's.
        (BillKind::GlobalProfitSharing, _) => rfc3339_cst(ctx.now)[..10].to_owned(),
        _ => return Err(Reply::missing("bill_date", "query")),
    };
    if !valid_date(&date) {
        return Err(Reply::param_error("bill_date", "query", "bill_date must be YYYY-MM-DD"));
    }
    let gzip = match ctx.query("tar_type") {
        None | Some("") => false,
        Some("GZIP") => true,
        Some(_) => return Err(Reply::param_error("tar_type", "query", "tar_type must be GZIP")),
    };
    if kind.encrypted() && ctx.query("algorithm") != Some("AEAD_AES_256_GCM") {
        return Err(Reply::param_error(
            "algorithm",
            "query",
            "the simulator encrypts bills with algorithm=AEAD_AES_256_GCM only (SM4_GCM is not simulated)",
        ));
    }
    let size = match ctx.header(SIZE_HEADER) {
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            Reply::param_error(SIZE_HEADER, "header", format!("{SIZE_HEADER} must be a number of bytes"))
        })?),
        None => None,
    };
    let parts = match ctx.header(PARTS_HEADER) {
        None => 1,
        Some(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=16).contains(n))
            .ok_or_else(|| Reply::param_error(PARTS_HEADER, "header", format!("{PARTS_HEADER} must be 1 to 16")))?,
    };
    if parts > 1 && !kind.encrypted() {
        return Err(Reply::param_error(PARTS_HEADER, "header", "only the encrypted fund-flow bills come in parts"));
    }
    let answer = bills.issue(BillOrder { kind, date, gzip, size, parts }, orders, ctx.keys, ctx.base_uri)?;
    Ok(Reply::ok(&answer))
}

pub(crate) fn download(bills: &Bills, ctx: &Ctx<'_>) -> Result<Reply, Reply> {
    let token = ctx.required_query("token")?;
    let (body, content_type) =
        bills.file(token).ok_or_else(|| Reply::invalid_request("账单下载链接已失效或不存在，请重新申请账单"))?;
    Ok(Reply {
        status: 200,
        body: Vec::new(),
        content_type: Some(content_type),
        signing: Signing::Unsigned,
        extra_headers: Vec::new(),
        stream: Some(body),
    })
}
