//! Bill files: what an apply (`/v3/bill/tradebill`, `/v3/bill/fundflowbill`, the sub-merchant and e-commerce
//! fund flows, the overseas download URLs) issues and a download (`/v3/billdownload/file`,
//! `/v3/bill/downloadurl`) then streams: gzip when the apply asked `tar_type=GZIP`, encrypted with
//! AEAD_AES_256_GCM for the sub-merchant and e-commerce fund flows.
//!
//! A bill is the simulator's paid orders of that day, or (when a size is asked for, see
//! [`Server::set_bill_size`](crate::Server::set_bill_size) and the `Wechatpay-Mock-Bill-Size` request
//! header) a generated bill of exactly that many bytes, the same for the same date, kind and size. Generated
//! bills are produced while they are sent and hashed by a first pass at apply time (cached), so a bill of
//! gigabytes never sits in memory.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead, KeyInit};
use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};

use super::orders::{Orders, TradeState};
use crate::keys::Keys;
use crate::reply::{Reply, Streamed};
use crate::util::{fill_random, hex_lower, random_alnum, rfc3339_cst};

/// The request header that asks for a generated bill of that many bytes (decimal).
pub(crate) const SIZE_HEADER: &str = "Wechatpay-Mock-Bill-Size";
/// The request header that splits an encrypted fund-flow bill into that many files (1 to 16).
pub(crate) const PARTS_HEADER: &str = "Wechatpay-Mock-Bill-Parts";
/// Encrypted bills are sealed whole, so they are held in memory: at most this large.
pub(crate) const MAX_ENCRYPTED: u64 = 64 * 1024 * 1024;
/// Bills kept for download (the oldest are forgotten first); WeChat Pay's links live 5 minutes.
const KEPT: usize = 64;
/// How much of a bill is produced at a time when it is sent.
const CHUNK: usize = 256 * 1024;

/// Which bill an apply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BillKind {
    Trade,
    Fundflow,
    /// `/v3/bill/sub-merchant-fundflowbill`: encrypted, listed in `download_bill_list`.
    SubMerchantFundflow,
    /// `/v3/ecommerce/bill/fundflowbill`: encrypted, listed in `download_bill_list`.
    EcommerceFundflow,
    /// `/v3/funds-to-oversea/bill-download-url`.
    FundsToOversea,
    /// `/v3/global/profit-sharing/bill-download-url` (no hash in the answer).
    GlobalProfitSharing,
}

impl BillKind {
    fn layout(self) -> Layout {
        match self {
            BillKind::Trade | BillKind::FundsToOversea => Layout::Trade,
            _ => Layout::Fundflow,
        }
    }

    pub(crate) fn encrypted(self) -> bool {
        matches!(self, BillKind::SubMerchantFundflow | BillKind::EcommerceFundflow)
    }

    /// Where its files are downloaded from.
    fn download_path(self) -> &'static str {
        match self {
            BillKind::Trade | BillKind::Fundflow => "v3/billdownload/file",
            _ => "v3/bill/downloadurl",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Layout {
    Trade,
    Fundflow,
}

/// The plain text of a bill.
#[derive(Debug, Clone)]
enum Plain {
    /// Rendered from the simulator's orders.
    Rendered(Arc<Vec<u8>>),
    /// Generated while it is sent.
    Generated(Spec),
}

/// What a generated bill is made from: the same spec always gives the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Spec {
    kind: BillKind,
    date: String,
    size: u64,
}

impl Plain {
    fn len(&self) -> u64 {
        match self {
            Plain::Rendered(bytes) => bytes.len() as u64,
            Plain::Generated(spec) => spec.size,
        }
    }

    /// The bytes `start..end`, a piece at a time.
    fn chunks(&self, start: u64, end: u64) -> Box<dyn Iterator<Item = Vec<u8>> + Send> {
        match self {
            Plain::Rendered(bytes) => {
                let bytes = Arc::clone(bytes);
                let (start, end) = (start as usize, (end as usize).min(bytes.len()));
                Box::new((start..end).step_by(CHUNK).map(move |at| bytes[at..(at + CHUNK).min(end)].to_vec()))
            }
            Plain::Generated(spec) => Box::new(Window::new(Generator::new(spec.clone()), start, end)),
        }
    }

    fn bytes(&self, start: u64, end: u64) -> Vec<u8> {
        self.chunks(start, end).flatten().collect()
    }

    fn sha1(&self, start: u64, end: u64) -> String {
        let mut digest = Sha1::new();
        self.chunks(start, end).for_each(|chunk| digest.update(&chunk));
        hex_lower(&digest.finalize())
    }
}

/// One downloadable file.
#[derive(Debug, Clone)]
struct File {
    plain: Plain,
    start: u64,
    end: u64,
    gzip: bool,
    /// The sealed file (ciphertext ‖ tag) of an encrypted bill.
    sealed: Option<Arc<Vec<u8>>>,
}

impl File {
    /// The body as sent: a stream of known length unless it is compressed as it goes.
    fn body(&self) -> Streamed {
        if let Some(sealed) = &self.sealed {
            let sealed = Arc::clone(sealed);
            let len = sealed.len() as u64;
            return Streamed::new(Some(len), move || {
                let sealed = Arc::clone(&sealed);
                Box::new(
                    (0..sealed.len()).step_by(CHUNK).map(move |at| sealed[at..(at + CHUNK).min(sealed.len())].to_vec()),
                )
            });
        }
        let (plain, start, end) = (self.plain.clone(), self.start, self.end);
        if self.gzip {
            Streamed::new(None, move || Box::new(Gzipped::new(plain.chunks(start, end))))
        } else {
            Streamed::new(Some(end - start), move || plain.chunks(start, end))
        }
    }

    /// The plain bytes (decrypted, decompressed), for tests.
    fn plain(&self) -> Vec<u8> {
        self.plain.bytes(self.start, self.end)
    }
}

/// Bills applied for, by download token, and the digests of generated bills.
#[derive(Debug, Default)]
pub(crate) struct Bills {
    by_token: HashMap<String, File>,
    order: VecDeque<String>,
    digests: HashMap<(Spec, u64, u64), String>,
    /// The size of generated bills when the request does not ask; `None` renders the orders.
    pub(crate) default_size: Option<u64>,
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

const TRADE_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n";
const TRADE_SUMMARY: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n";
const FUNDFLOW_HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号\r\n";
const FUNDFLOW_SUMMARY: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n";

/// The bill text, in WeChat Pay's layout: a header row, one backtick-prefixed row per record, a summary.
fn render(layout: Layout, date: &str, orders: &Orders) -> String {
    let mut paid: Vec<_> = orders
        .all()
        .filter(|o| matches!(o.state, TradeState::Success | TradeState::Refund))
        .filter(|o| o.success_time.is_some_and(|t| rfc3339_cst(t).starts_with(date)))
        .collect();
    paid.sort_by_key(|o| o.success_time);
    let total: i64 = paid.iter().map(|o| o.total).sum();
    let mut out = String::new();
    match layout {
        Layout::Trade => {
            out.push_str(TRADE_HEADER);
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
            out.push_str(TRADE_SUMMARY);
            out.push_str(&format!(
                "`{},`{},`0.00,`0.00,`{},`{},`0.00\r\n",
                paid.len(),
                yuan(total),
                yuan(total * 6 / 1000),
                yuan(total)
            ));
        }
        Layout::Fundflow => {
            out.push_str(FUNDFLOW_HEADER);
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
            out.push_str(FUNDFLOW_SUMMARY);
            out.push_str(&format!("`{},`{},`{},`0,`0.00\r\n", paid.len(), paid.len(), yuan(total)));
        }
    }
    out
}

/// Room left for the summary line of a generated bill (counts and totals of any size fit).
const SUMMARY_ROOM: u64 = 160;

/// Produces a generated bill, a piece at a time: the header row, deterministic rows while they fit, the
/// summary, padded with spaces before its final line break to exactly the asked size (a size too small for
/// that is the first bytes of the header).
struct Generator {
    spec: Spec,
    seed: u64,
    row: u64,
    written: u64,
    totals: (u64, i64, i64),
    state: GenState,
    line: String,
}

#[derive(PartialEq, Eq)]
enum GenState {
    Header,
    Rows,
    Done,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64: a different, well-spread number for every row.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Generator {
    fn new(spec: Spec) -> Generator {
        let seed = spec.date.bytes().chain(format!("{:?}", spec.kind).bytes()).fold(0u64, |h, b| mix(h ^ u64::from(b)));
        Generator { spec, seed, row: 0, written: 0, totals: (0, 0, 0), state: GenState::Header, line: String::new() }
    }

    fn header(&self) -> &'static str {
        match self.spec.kind.layout() {
            Layout::Trade => TRADE_HEADER,
            Layout::Fundflow => FUNDFLOW_HEADER,
        }
    }

    fn summary(&self) -> String {
        let (count, total, fees) = self.totals;
        match self.spec.kind.layout() {
            Layout::Trade => {
                format!("{TRADE_SUMMARY}`{count},`{},`0.00,`0.00,`{},`{},`0.00", yuan(total), yuan(fees), yuan(total))
            }
            Layout::Fundflow => format!("{FUNDFLOW_SUMMARY}`{count},`{count},`{},`0,`0.00", yuan(total)),
        }
    }

    /// Writes row `self.row` into `self.line`; returns its amount in fen.
    fn render_row(&mut self) -> i64 {
        let i = self.row;
        let r = mix(self.seed ^ i);
        let fen = 1 + (r % 500_000) as i64;
        let second = (i * 7 + r % 7) % 86_400;
        let (h, m, s) = (second / 3600, (second / 60) % 60, second % 60);
        let date = &self.spec.date;
        let digits: String = date.chars().filter(char::is_ascii_digit).collect();
        self.line.clear();
        let _ = match self.spec.kind.layout() {
            Layout::Trade => write!(
                self.line,
                "`{date} {h:02}:{m:02}:{s:02},`wx2421b1c4370ec43b,`1900000109,`0,`,`4200{digits}{i:012},`T{digits}{i:010},`oUpF8uMuAJO_M2pxb1Q9zNjW{:04x},`NATIVE,`SUCCESS,`OTHERS,`CNY,`{},`0.00,`0,`0,`0.00,`0.00,`,`,`商品{},`,`{},`0.60%,`{},`0.00,`\r\n",
                r >> 48,
                yuan(fen),
                r % 97,
                yuan(fen * 6 / 1000),
                yuan(fen),
            ),
            Layout::Fundflow => write!(
                self.line,
                "`{date} {h:02}:{m:02}:{s:02},`4200{digits}{i:012},`4200{digits}{i:012}0001,`交易,`交易,`收入,`{},`{},`system,`,`T{digits}{i:010}\r\n",
                yuan(fen),
                yuan(self.totals.1 + fen),
            ),
        };
        fen
    }

    /// The next piece: whole rows up to about [`CHUNK`] bytes, then the summary.
    fn next_chunk(&mut self) -> Option<Vec<u8>> {
        let size = self.spec.size;
        let mut out = Vec::with_capacity(CHUNK + 1024);
        if self.state == GenState::Header {
            let header = self.header().as_bytes();
            let take = header.len().min(usize::try_from(size).unwrap_or(usize::MAX));
            out.extend_from_slice(&header[..take]);
            self.written = take as u64;
            self.state = if (take as u64) < size { GenState::Rows } else { GenState::Done };
        }
        let summary_header = self.summary_header_len();
        while self.state == GenState::Rows && out.len() < CHUNK {
            let fen = self.render_row();
            if self.written + self.line.len() as u64 + summary_header + SUMMARY_ROOM <= size {
                out.extend_from_slice(self.line.as_bytes());
                self.written += self.line.len() as u64;
                self.totals = (self.totals.0 + 1, self.totals.1 + fen, self.totals.2 + fen * 6 / 1000);
                self.row += 1;
                continue;
            }
            // The row does not fit: close the bill with the summary of the rows sent, padded to the size.
            let mut tail = self.summary().into_bytes();
            let remaining = usize::try_from(size - self.written).unwrap_or(usize::MAX);
            if tail.len() + 2 <= remaining {
                tail.resize(remaining - 2, b' ');
                tail.extend_from_slice(b"\r\n");
            } else {
                tail.extend_from_slice(b"\r\n");
                tail.truncate(remaining);
            }
            out.extend_from_slice(&tail);
            self.written = size;
            self.state = GenState::Done;
        }
        (!out.is_empty()).then_some(out)
    }

    fn summary_header_len(&self) -> u64 {
        (match self.spec.kind.layout() {
            Layout::Trade => TRADE_SUMMARY.len(),
            Layout::Fundflow => FUNDFLOW_SUMMARY.len(),
        }) as u64
    }
}

impl Iterator for Generator {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        self.next_chunk()
    }
}

/// The bytes `start..end` of what `inner` yields.
struct Window<I> {
    inner: I,
    at: u64,
    start: u64,
    end: u64,
}

impl<I> Window<I> {
    fn new(inner: I, start: u64, end: u64) -> Self {
        Window { inner, at: 0, start, end }
    }
}

impl<I: Iterator<Item = Vec<u8>>> Iterator for Window<I> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        while self.at < self.end {
            let chunk = self.inner.next()?;
            let (from, to) = (self.at, self.at + chunk.len() as u64);
            self.at = to;
            if to <= self.start {
                continue;
            }
            let lo = self.start.saturating_sub(from) as usize;
            let hi = (self.end.min(to) - from) as usize;
            return Some(chunk[lo..hi].to_vec());
        }
        None
    }
}

/// Compresses what `inner` yields into one gzip member, a piece at a time.
struct Gzipped {
    inner: Box<dyn Iterator<Item = Vec<u8>> + Send>,
    encoder: Option<flate2::write::GzEncoder<Vec<u8>>>,
}

impl Gzipped {
    fn new(inner: Box<dyn Iterator<Item = Vec<u8>> + Send>) -> Self {
        // Fast compression: the simulator must not be what limits a download benchmark.
        Gzipped { inner, encoder: Some(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast())) }
    }
}

impl Iterator for Gzipped {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            let encoder = self.encoder.as_mut()?;
            match self.inner.next() {
                Some(chunk) => {
                    encoder.write_all(&chunk).ok()?;
                    if !encoder.get_ref().is_empty() {
                        return Some(std::mem::take(encoder.get_mut()));
                    }
                }
                None => return self.encoder.take()?.finish().ok().filter(|rest| !rest.is_empty()),
            }
        }
    }
}

/// Gzip of `plain` in one piece.
fn gzip_all(plain: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(plain).ok()?;
    encoder.finish().ok()
}

/// A random lower-case hex string, as WeChat Pay's bill nonces look.
fn random_hex(len: usize) -> String {
    let mut raw = vec![0u8; len.div_ceil(2)];
    fill_random(&mut raw);
    let mut hex = hex_lower(&raw);
    hex.truncate(len);
    hex
}

/// What a bill apply asks for, read from its query and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BillOrder {
    pub(crate) kind: BillKind,
    /// `YYYY-MM-DD`.
    pub(crate) date: String,
    pub(crate) gzip: bool,
    /// A generated bill of this many bytes; `None` for the server's default ([`Bills::default_size`]).
    pub(crate) size: Option<u64>,
    /// How many files an encrypted fund-flow bill is split into.
    pub(crate) parts: u64,
}

impl Bills {
    /// Issues the files of a bill apply and answers the apply's JSON (`download_url`, `hash_value`, and for
    /// encrypted bills their `encrypt_key` and `nonce`).
    pub(crate) fn issue(
        &mut self,
        order: BillOrder,
        orders: &Orders,
        keys: &Keys,
        base_uri: &str,
    ) -> Result<Value, Reply> {
        let BillOrder { kind, date, gzip, size, parts } = order;
        let size = size.or(self.default_size);
        let plain = match size {
            Some(size) => Plain::Generated(Spec { kind, date: date.clone(), size }),
            None => Plain::Rendered(Arc::new(render(kind.layout(), &date, orders).into_bytes())),
        };
        if kind.encrypted() && plain.len() > MAX_ENCRYPTED {
            return Err(Reply::param_error(
                SIZE_HEADER,
                "header",
                format!("the simulator encrypts bills of up to {MAX_ENCRYPTED} bytes (they are sealed in memory)"),
            ));
        }

        let len = plain.len();
        let mut list = Vec::new();
        for part in 0..parts {
            let (start, end) = (len * part / parts, len * (part + 1) / parts);
            let hash = match &plain {
                Plain::Generated(spec) => {
                    self.digests.entry((spec.clone(), start, end)).or_insert_with(|| plain.sha1(start, end)).clone()
                }
                Plain::Rendered(_) => plain.sha1(start, end),
            };
            let mut file = File { plain: plain.clone(), start, end, gzip, sealed: None };
            let mut entry = json!({ "hash_type": "SHA1", "hash_value": hash });
            if kind.encrypted() {
                let mut key = [0u8; 32];
                fill_random(&mut key);
                let nonce = random_hex(16);
                let content = file.plain();
                let content = if gzip {
                    gzip_all(&content).ok_or_else(|| Reply::error(500, "SYSTEM_ERROR", "gzip failed"))?
                } else {
                    content
                };
                let cipher = aes_gcm::AesGcm::<aes_gcm::aes::Aes256, U16>::new(&key.into());
                let nonce_bytes: [u8; 16] = nonce.as_bytes().try_into().unwrap_or([b'0'; 16]);
                let sealed = cipher
                    .encrypt(&nonce_bytes.into(), content.as_slice())
                    .map_err(|_| Reply::error(500, "SYSTEM_ERROR", "sealing the bill failed"))?;
                let encrypt_key = keys
                    .encrypt_bytes_for_merchant(&key)
                    .map_err(|_| Reply::error(500, "SYSTEM_ERROR", "encrypting the bill key failed"))?;
                file.sealed = Some(Arc::new(sealed));
                entry["bill_sequence"] = json!(part + 1);
                entry["encrypt_key"] = json!(encrypt_key);
                entry["nonce"] = json!(nonce);
            }
            let token = random_alnum(40);
            entry["download_url"] = json!(format!("{base_uri}{}?token={token}", kind.download_path()));
            self.keep(token, file);
            list.push(entry);
        }
        let answer = match kind {
            BillKind::SubMerchantFundflow | BillKind::EcommerceFundflow => {
                json!({ "download_bill_count": list.len(), "download_bill_list": list })
            }
            BillKind::GlobalProfitSharing => json!({ "download_url": list[0]["download_url"] }),
            _ => list.swap_remove(0),
        };
        Ok(answer)
    }

    fn keep(&mut self, token: String, file: File) {
        if self.order.len() == KEPT {
            if let Some(oldest) = self.order.pop_front() {
                self.by_token.remove(&oldest);
            }
        }
        self.order.push_back(token.clone());
        self.by_token.insert(token, file);
    }

    /// The file a download token names: its body and content type.
    pub(crate) fn file(&self, token: &str) -> Option<(Streamed, &'static str)> {
        let file = self.by_token.get(token)?;
        let content_type = if file.sealed.is_some() {
            "application/octet-stream"
        } else if file.gzip {
            "application/x-gzip"
        } else {
            "text/plain; charset=utf-8"
        };
        Some((file.body(), content_type))
    }

    /// The plain bytes of the bill a download URL serves (decrypted and decompressed).
    pub(crate) fn plain(&self, download_url: &str) -> Option<Vec<u8>> {
        let token = download_url.split_once("token=")?.1.split('&').next()?;
        self.by_token.get(token).map(File::plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(kind: BillKind, size: u64) -> Vec<u8> {
        Plain::Generated(Spec { kind, date: "2024-01-02".into(), size }).bytes(0, size)
    }

    #[test]
    fn generated_bills_have_the_exact_size_and_are_deterministic() {
        for size in [0, 1, 100, 700, 5_000, 1_000_000, 3 * CHUNK as u64 + 17] {
            for kind in [BillKind::Trade, BillKind::Fundflow] {
                let bill = generated(kind, size);
                assert_eq!(bill.len() as u64, size, "{kind:?} {size}");
                assert_eq!(bill, generated(kind, size), "{kind:?} {size}");
                if size > 1_000 {
                    let text = String::from_utf8(bill).unwrap_or_default();
                    assert!(text.ends_with("\r\n"), "{kind:?} {size}");
                    assert!(text.lines().nth(1).is_some_and(|row| row.starts_with("`2024-01-02 ")), "{kind:?} {size}");
                }
            }
        }
        assert_ne!(generated(BillKind::Trade, 5_000), generated(BillKind::FundsToOversea, 5_000));
        let plain = Plain::Generated(Spec { kind: BillKind::Trade, date: "2024-01-02".into(), size: 1_000_000 });
        let whole = plain.bytes(0, 1_000_000);
        assert_eq!(plain.bytes(333_333, 700_001), whole[333_333..700_001]);
    }

    #[test]
    fn gzip_streams_decompress_to_the_plain_text() {
        let plain = Plain::Generated(Spec { kind: BillKind::Trade, date: "2024-01-02".into(), size: 600_000 });
        let compressed: Vec<u8> = Gzipped::new(plain.chunks(0, 600_000)).flatten().collect();
        let mut decoder = flate2::read::GzDecoder::new(compressed.as_slice());
        let mut out = Vec::new();
        assert!(std::io::Read::read_to_end(&mut decoder, &mut out).is_ok());
        assert_eq!(out, plain.bytes(0, 600_000));
    }
}
