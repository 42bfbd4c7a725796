//! The command line: every command, flag and environment variable, with the help text `--help` shows.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// What `wechatpay --help` ends with: where credentials come from, and what the exit status means.
const AFTER_HELP: &str = "\
Credentials come from flags or the environment (the names examples/quickstart.rs reads):
  WECHATPAY_MCHID, WECHATPAY_SERIAL, WECHATPAY_PRIVATE_KEY (a file),
  WECHATPAY_PUBLIC_KEY (a file) with WECHATPAY_PUBLIC_KEY_ID, and/or
  WECHATPAY_CERTIFICATE (files, comma-separated), WECHATPAY_APIV3_KEY, WECHATPAY_APIV2_KEY,
  WECHATPAY_BASE_URI, WECHATPAY_MERCHANT_CERTIFICATE (a file, for APIv2 --security),
  WECHATPAY_CA (a file: a CA to trust for TLS).
Keys are never printed, not even in errors.

Exit status:
  0  success
  1  the operation failed: WeChat Pay answered an error; an answer, callback or signature
     failed verification; a download failed its check; the network failed; port-diff found
     differences
  2  usage or configuration: a missing or unreadable credential, a bad flag or argument";

/// WeChat Pay (微信支付) from the command line: download platform certificates, call any endpoint signed and
/// verified, check and decrypt callbacks, sign and verify messages.
#[derive(Debug, Parser)]
#[command(name = "wechatpay", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Platform certificates (平台证书).
    #[command(subcommand)]
    Certificates(CertificatesCommand),
    /// Call any WeChat Pay endpoint, signed and verified, in the spirit of `gh api`.
    #[command(after_help = API_EXAMPLES)]
    Api(ApiArgs),
    /// Callbacks (回调通知) WeChat Pay sent to your server.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Sign a message with the merchant private key (RSA-SHA256), to compare with what an application sent.
    Sign(SignArgs),
    /// Verify a signature: an answer's or callback's Wechatpay-Signature, or any message.
    Verify(VerifyArgs),
    /// Bills (账单).
    #[command(subcommand)]
    Bill(BillCommand),
    /// Compare two recordings of `wechatpay-mock --record FILE`: does the port (B) send what the original (A) sent?
    #[command(after_help = PORT_DIFF_HELP)]
    PortDiff(PortDiffArgs),
    /// Print a shell completion script: `wechatpay completions bash > /etc/bash_completion.d/wechatpay`.
    Completions(CompletionsArgs),
}

const API_EXAMPLES: &str = "\
Examples:
  wechatpay api GET v3/certificates
  wechatpay api GET 'v3/pay/transactions/out-trade-no/{out_trade_no}' \\
      -F out_trade_no=1217752501201407033233368018 --query mchid=1230000109
  wechatpay api POST v3/fundApp/mchTransfer/transferToQqWalletBills/_out_bill_no_/cancel \\
      -F out_bill_no=plfk2020042013
  wechatpay api POST v3/pay/transactions/native --json @order.json
  wechatpay api POST v2/pay/orderquery --xml @query.json --apiv2-key @apiv2.key";

/// `wechatpay certificates ...`
#[derive(Debug, Subcommand)]
pub enum CertificatesCommand {
    /// Download the platform certificates (GET v3/certificates), decrypt them with the APIv3 key, verify the
    /// answer with them, and save each as wechatpay_<serial>.pem: the PHP SDK's CertificateDownloader.
    Download(CertificatesDownloadArgs),
}

/// `wechatpay certificates download`
#[derive(Debug, Args)]
pub struct CertificatesDownloadArgs {
    /// The directory to save the certificates in (created if missing); default: a new private directory under
    /// the system's temporary directory, printed when used.
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub merchant: MerchantArgs,
    #[command(flatten)]
    pub apiv3: Apiv3Args,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub ca: CaArgs,
}

/// `wechatpay api METHOD URI`
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The HTTP method: GET, POST, PUT, PATCH or DELETE.
    pub method: String,
    /// The endpoint in any chain form: `v3/pay/transactions/id/{transaction_id}`,
    /// `v3/fundApp/mchTransfer/...`, `v3/.../_out_bill_no_/cancel`, `/v3/certificates?algorithm_type=RSA`;
    /// `v2/...` for APIv2.
    pub uri: String,
    /// Fill the placeholder {NAME} of URI with VALUE (repeatable).
    #[arg(short = 'F', long = "field", value_name = "NAME=VALUE")]
    pub fields: Vec<String>,
    /// The JSON body: the text itself, @FILE, or @- for stdin.
    #[arg(long, value_name = "JSON|@FILE|@-")]
    pub json: Option<String>,
    /// Add a query parameter (repeatable, sent in the order given).
    #[arg(long = "query", value_name = "NAME=VALUE")]
    pub query: Vec<String>,
    /// Add a request header (repeatable), e.g. -H 'Wechatpay-Serial: PUB_KEY_ID_...'.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Encrypt this string field of the --json body as sensitive (RSA-OAEP with WeChat Pay's key, whose serial is
    /// sent in Wechatpay-Serial); a dotted path, repeatable.
    #[arg(long = "encrypt", value_name = "FIELD")]
    pub encrypt: Vec<String>,
    /// Print the status line and the answer's headers (Request-ID first) before the body.
    #[arg(short = 'i', long)]
    pub include: bool,
    /// Print the body exactly as received (default: JSON, pretty on a terminal and compact when piped).
    #[arg(long, conflicts_with = "pretty")]
    pub raw: bool,
    /// Print JSON pretty even when piped.
    #[arg(long)]
    pub pretty: bool,
    /// Use URI exactly as written, without the PHP SDK's camelCase to kebab-case normalisation.
    #[arg(long)]
    pub verbatim: bool,
    /// APIv2 (`v2/...` URIs): the XML payload as a flat JSON object: the text itself, @FILE, or @- for stdin.
    #[arg(long, value_name = "JSON|@FILE|@-", conflicts_with_all = ["json", "encrypt"])]
    pub xml: Option<String>,
    /// APIv2: present the merchant certificate (mutual TLS), as the endpoints marked `security` require.
    #[arg(long)]
    pub security: bool,
    /// APIv2: do not add a nonce_str.
    #[arg(long)]
    pub nonceless: bool,
    #[command(flatten)]
    pub merchant: MerchantArgs,
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(flatten)]
    pub apiv3: Apiv3Args,
    #[command(flatten)]
    pub apiv2: Apiv2Args,
    #[command(flatten)]
    pub tls: MerchantTlsArgs,
    #[command(flatten)]
    pub ca: CaArgs,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

/// `wechatpay notify ...`
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Verify a callback and print its decrypted resource as JSON; exits 1 naming the reason when it is
    /// refused (tampered, stale, unknown serial, probe, ...).
    Decrypt(NotifyDecryptArgs),
}

/// `wechatpay notify decrypt`
#[derive(Debug, Args)]
pub struct NotifyDecryptArgs {
    /// The callback's headers as `Name: value` lines, as a server log shows them (a request line is skipped);
    /// - reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub headers: String,
    /// The callback's body, the exact bytes received; - reads stdin.
    #[arg(long, value_name = "FILE|-")]
    pub body: String,
    /// Accept a Wechatpay-Timestamp this far from now, e.g. to check a callback from yesterday's log.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub max_clock_skew: u64,
    /// Print the whole notification (id, event_type, summary, ..., resource), not only the resource.
    #[arg(long)]
    pub envelope: bool,
    /// Print JSON pretty even when piped.
    #[arg(long)]
    pub pretty: bool,
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(flatten)]
    pub apiv3: Apiv3Args,
}

/// `wechatpay sign`
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  wechatpay sign $'GET\\n/v3/certificates\\n1554208460\\n593BEC0C930BF1AFEB40B4A08C8FB242\\n\\n'
  wechatpay sign --method GET --uri /v3/certificates --timestamp 1554208460 \\
      --nonce 593BEC0C930BF1AFEB40B4A08C8FB242
  wechatpay sign --method POST --uri /v3/pay/transactions/native --body @order.json --authorization")]
pub struct SignArgs {
    /// The message, exactly: the text itself, @FILE, or @- for stdin. Or build an APIv3 request's message
    /// with --method and --uri.
    #[arg(value_name = "MESSAGE", required_unless_present = "method", conflicts_with = "method")]
    pub message: Option<String>,
    /// Build the request message `METHOD\nURI\nTIMESTAMP\nNONCE\nBODY\n`: its method.
    #[arg(long, requires = "uri")]
    pub method: Option<String>,
    /// The request's path and query exactly as sent, e.g. /v3/certificates?algorithm_type=RSA.
    #[arg(long, requires = "method")]
    pub uri: Option<String>,
    /// The request's Unix timestamp (default: now).
    #[arg(long, requires = "method")]
    pub timestamp: Option<i64>,
    /// The request's nonce (default: 32 random characters).
    #[arg(long, requires = "method")]
    pub nonce: Option<String>,
    /// The request's body: the text itself, @FILE, or @- for stdin (default: empty, as a GET's).
    #[arg(long, value_name = "TEXT|@FILE|@-", requires = "method")]
    pub body: Option<String>,
    /// Print the whole Authorization header value rather than the signature (needs --mchid and --serial).
    #[arg(long, requires = "method")]
    pub authorization: bool,
    /// Also print the signed message on stderr, line breaks shown as \n.
    #[arg(long)]
    pub show_message: bool,
    #[command(flatten)]
    pub merchant: MerchantArgs,
}

/// `wechatpay verify`
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  wechatpay verify --headers headers.txt --body body.json
  wechatpay verify --signature \"$SIG\" --wechatpay-serial PUB_KEY_ID_0114... @message.txt
  wechatpay verify --merchant --signature \"$SIG\" @request-message.txt")]
pub struct VerifyArgs {
    /// The signed message, exactly: the text itself, @FILE, or @- for stdin (with --signature).
    #[arg(value_name = "MESSAGE", conflicts_with = "headers", requires = "signature")]
    pub message: Option<String>,
    /// The signature (base64).
    #[arg(long, conflicts_with = "headers")]
    pub signature: Option<String>,
    /// The serial of the key that signed MESSAGE (PUB_KEY_ID_... or a platform certificate serial); may be left
    /// out when only one key is given.
    #[arg(long, value_name = "SERIAL", conflicts_with = "headers")]
    pub wechatpay_serial: Option<String>,
    /// An answer's or callback's headers as `Name: value` lines: verify its Wechatpay-Signature over
    /// `TIMESTAMP\nNONCE\nBODY\n` with the key Wechatpay-Serial names; - reads stdin.
    #[arg(long, value_name = "FILE|-", requires = "body", required_unless_present = "message")]
    pub headers: Option<String>,
    /// The answer's or callback's body, exactly as received; - reads stdin.
    #[arg(long, value_name = "FILE|-", requires = "headers")]
    pub body: Option<String>,
    /// Verify with the merchant's own key (the public half of --private-key): did this key sign a request?
    #[arg(long, conflicts_with = "headers")]
    pub merchant: bool,
    /// Also print the verified message on stderr, line breaks shown as \n.
    #[arg(long)]
    pub show_message: bool,
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(flatten)]
    pub private_key: PrivateKeyArgs,
}

/// `wechatpay bill ...`
#[derive(Debug, Subcommand)]
pub enum BillCommand {
    /// Apply for a bill, download it and check it against the SHA-1 the apply answered, into a file (written
    /// under a temporary name and renamed once checked). A progress bar shows on stderr when it is a terminal.
    Download(BillDownloadArgs),
}

/// `wechatpay bill download`
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  wechatpay bill download tradebill --date 2024-01-02 --gzip -o trade-2024-01-02.csv
  wechatpay bill download fundflowbill --date 2024-01-02 --query account_type=OPERATION \\
      -o fundflow.csv
  wechatpay bill download v3/bill/sub-merchant-fundflowbill --date 2024-01-02 \\
      --query sub_mchid=1900000109 --query algorithm=AEAD_AES_256_GCM -o sub.csv")]
pub struct BillDownloadArgs {
    /// `tradebill`, `fundflowbill`, or the apply endpoint (`v3/bill/sub-merchant-fundflowbill`, ...).
    #[arg(default_value = "tradebill")]
    pub kind: String,
    /// The bill's date (bill_date), YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Ask for the gzip file (tar_type=GZIP); it is written decompressed.
    #[arg(long)]
    pub gzip: bool,
    /// Add a query parameter to the apply (repeatable).
    #[arg(long = "query", value_name = "NAME=VALUE")]
    pub query: Vec<String>,
    /// Where to write the bill; - writes it to stdout.
    #[arg(short = 'o', long, value_name = "FILE|-")]
    pub output: String,
    #[command(flatten)]
    pub merchant: MerchantArgs,
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(flatten)]
    pub apiv3: Apiv3Args,
    #[command(flatten)]
    pub ca: CaArgs,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

const PORT_DIFF_HELP: &str = "\
Compared: the calls made (missing or extra), the endpoint, path placeholders and query values, mutual TLS,
Wechatpay-Serial (which key it names), the body's media type, whether the request was signed and verified,
and the body field by field (missing, extra, another type or value; upload parts by name, type and SHA-256).
Never compared: User-Agent, Accept, header order, JSON key order and whitespace, nonces, timestamps and
signature bytes. The simulator's answers are shown as notes when they differ, and do not count.

Examples:
  wechatpay-mock --record php.jsonl  --state-dir ./mock-state   # run the PHP tests against it
  wechatpay-mock --record rust.jsonl --state-dir ./mock-state   # run the Rust tests against it
  wechatpay port-diff php.jsonl rust.jsonl
  wechatpay port-diff php.jsonl rust.jsonl --unordered --ignore out_trade_no --ignore scene_info.payer_client_ip
  wechatpay port-diff php.jsonl rust.jsonl --json | jq '.differences[] | .message'

Exit status: 0 equivalent, 1 different (the report on stdout), 2 a file is unreadable or not a recording.";

/// `wechatpay port-diff A.jsonl B.jsonl`
#[derive(Debug, Args)]
pub struct PortDiffArgs {
    /// The original's recording (e.g. php.jsonl).
    pub a: PathBuf,
    /// The port's recording (e.g. rust.jsonl).
    pub b: PathBuf,
    /// Pair the n-th call of each endpoint (method + path template) in A with its n-th call in B, whatever the
    /// order of calls in between (for test suites that run in another order); default: in order.
    #[arg(long)]
    pub unordered: bool,
    /// Compare this value by presence only (repeatable): a name (out_trade_no: a path placeholder, query parameter,
    /// APIv2 field, upload part, header or JSON field of that name anywhere) or a JSON path from the body's top
    /// (amount.total, goods_detail[].quantity).
    #[arg(long, value_name = "NAME|PATH")]
    pub ignore: Vec<String>,
    /// Print the report as JSON: {equivalent, differences: [{kind, call, a_line, b_line, at, a, b, message}], notes}.
    #[arg(long)]
    pub json: bool,
}

/// `wechatpay completions SHELL`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// The merchant: who signs the requests.
#[derive(Debug, Args)]
#[command(next_help_heading = "Merchant")]
pub struct MerchantArgs {
    /// The merchant id (商户号).
    #[arg(short = 'm', long, env = "WECHATPAY_MCHID", hide_env_values = true, value_name = "MCHID")]
    pub mchid: Option<String>,
    /// The merchant API certificate's serial (商户证书序列号): `openssl x509 -noout -serial -in apiclient_cert.pem`.
    #[arg(
        short = 's',
        long,
        visible_alias = "serialno",
        env = "WECHATPAY_SERIAL",
        hide_env_values = true,
        value_name = "SERIAL"
    )]
    pub serial: Option<String>,
    #[command(flatten)]
    pub key: PrivateKeyArgs,
}

/// The merchant API private key.
#[derive(Debug, Args)]
#[command(next_help_heading = "Merchant")]
pub struct PrivateKeyArgs {
    /// The merchant API private key (商户私钥): a file (apiclient_key.pem), or the PEM text itself.
    #[arg(
        short = 'f',
        long = "private-key",
        visible_alias = "privatekey",
        env = "WECHATPAY_PRIVATE_KEY",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub private_key: Option<String>,
}

/// WeChat Pay's keys: what answers and callbacks are verified with.
#[derive(Debug, Args)]
#[command(next_help_heading = "WeChat Pay keys")]
pub struct PlatformArgs {
    /// The WeChat Pay public key (微信支付公钥, pub_key.pem): a file, or the PEM text itself; with --public-key-id.
    #[arg(long = "public-key", env = "WECHATPAY_PUBLIC_KEY", hide_env_values = true, value_name = "FILE")]
    pub public_key: Option<String>,
    /// The WeChat Pay public key's id.
    #[arg(
        long = "public-key-id",
        env = "WECHATPAY_PUBLIC_KEY_ID",
        hide_env_values = true,
        value_name = "PUB_KEY_ID_..."
    )]
    pub public_key_id: Option<String>,
    /// A platform certificate (平台证书) file, e.g. wechatpay_<serial>.pem from `certificates download`
    /// (repeatable; comma-separated in the variable).
    #[arg(
        long = "certificate",
        env = "WECHATPAY_CERTIFICATE",
        hide_env_values = true,
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub certificates: Vec<String>,
}

/// The APIv3 key.
#[derive(Debug, Args)]
#[command(next_help_heading = "Secrets")]
pub struct Apiv3Args {
    /// The APIv3 key (APIv3密钥), 32 characters, or @FILE holding it. It decrypts callbacks and platform
    /// certificates; `api` and `bill` then download the certificates when an answer names an unknown one.
    #[arg(
        short = 'k',
        long = "apiv3-key",
        visible_alias = "key",
        env = "WECHATPAY_APIV3_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub apiv3_key: Option<String>,
}

/// The APIv2 key.
#[derive(Debug, Args)]
#[command(next_help_heading = "Secrets")]
pub struct Apiv2Args {
    /// The APIv2 key (API密钥) for `v2/...` URIs, or @FILE holding it.
    #[arg(long = "apiv2-key", env = "WECHATPAY_APIV2_KEY", hide_env_values = true, value_name = "KEY")]
    pub apiv2_key: Option<String>,
}

/// The merchant certificate, for APIv2 mutual TLS.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct MerchantTlsArgs {
    /// The merchant API certificate (apiclient_cert.pem) that `--security` presents with --private-key.
    #[arg(
        long = "merchant-certificate",
        env = "WECHATPAY_MERCHANT_CERTIFICATE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub merchant_certificate: Option<String>,
}

/// Extra TLS trust.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct CaArgs {
    /// A CA certificate (PEM, may be a bundle) to trust for TLS besides the system's, e.g. a test server's.
    #[arg(long, env = "WECHATPAY_CA", hide_env_values = true, value_name = "FILE")]
    pub ca: Option<String>,
}

/// Where requests go, and how long they may take.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct EndpointArgs {
    /// The base URI (接入点), default https://api.mch.weixin.qq.com/; https://api2.mch.weixin.qq.com/ is the
    /// backup host, https://apihk.mch.weixin.qq.com/ the overseas one.
    #[arg(
        short = 'u',
        long = "base-uri",
        visible_alias = "baseuri",
        env = "WECHATPAY_BASE_URI",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub base_uri: Option<String>,
    /// Give up on a request (or a whole download) after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
}
