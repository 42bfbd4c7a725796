//! `wechatpay bill download`: the apply (verified), then the library's [`Bill`] download (gunzip, decrypt, SHA-1
//! against the apply's `hash_value`) into a file that appears only once checked, with a progress bar on stderr
//! when it is a terminal.

use std::io::{BufWriter, IsTerminal as _, Write};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use wechatpay::{Bill, Builder, Downloaded, Options};

use crate::args::BillDownloadArgs;
use crate::credentials::Client;
use crate::failure::Result;
use crate::io;

pub fn run(args: &BillDownloadArgs) -> Result {
    let instance = Client {
        merchant: Some(&args.merchant),
        platform: Some(&args.platform),
        apiv3: Some(&args.apiv3),
        ca: Some(&args.ca),
        endpoint: Some(&args.endpoint),
        ..Client::default()
    }
    .build()?;
    let apply_endpoint = if args.kind.contains('/') {
        instance.chain(args.kind.trim_start_matches('/'))
    } else {
        instance.chain("v3/bill").chain(&args.kind)
    };
    let mut options = Options::new();
    if let Some(date) = &args.date {
        options = options.query("bill_date", date);
    }
    if args.gzip {
        options = options.query("tar_type", "GZIP");
    }
    for pair in &args.query {
        let (name, value) = io::name_value(pair, "--query")?;
        options = options.query(name, value);
    }
    let apply = apply_endpoint.get(options)?;
    let bill = Bill::from_response(&apply)?;

    let progress = progress_bar();
    let downloaded = if args.output == "-" {
        let mut stdout = Counting { inner: std::io::stdout().lock(), progress: &progress };
        bill.download(&instance, &mut stdout)
    } else {
        download_to_file(&bill, &instance, Path::new(&args.output), &progress)
    };
    progress.finish_and_clear();
    let downloaded = downloaded?;
    let summary = summary(&downloaded, &args.output);
    // With the bill on stdout, the summary goes to stderr.
    if args.output == "-" {
        eprint!("{summary}");
        Ok(())
    } else {
        io::out(summary.as_bytes())
    }
}

/// Into a temporary file beside `path`, renamed to `path` only once the download passed every check.
fn download_to_file(
    bill: &Bill,
    instance: &Builder,
    path: &Path,
    progress: &ProgressBar,
) -> wechatpay::Result<Downloaded> {
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let io_error = |what: String| move |source| wechatpay::Error::Io { what, source };
    let temp = tempfile::Builder::new()
        .prefix(".wechatpay-bill.")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(io_error(format!("creating a temporary file in {}", dir.display())))?;
    let mut writer = BufWriter::with_capacity(256 * 1024, Counting { inner: temp.as_file(), progress });
    let downloaded = bill.download(instance, &mut writer)?;
    writer.flush().map_err(io_error(format!("writing {}", temp.path().display())))?;
    drop(writer);
    temp.as_file().sync_all().map_err(io_error(format!("writing {}", temp.path().display())))?;
    temp.persist(path).map_err(|err| wechatpay::Error::Io {
        what: format!("renaming the checked bill to {}", path.display()),
        source: err.error,
    })?;
    Ok(downloaded)
}

fn summary(downloaded: &Downloaded, output: &str) -> String {
    let target = if output == "-" { "stdout".to_owned() } else { format!("`{output}`") };
    let check = if downloaded.verified() {
        "checked against the hash_value WeChat Pay gave for it"
    } else {
        "NOT checked: the apply gave no hash_value for it"
    };
    let request_id = downloaded.request_id().map(|id| format!(", Request-ID {id}")).unwrap_or_default();
    format!(
        "wrote {} bytes ({} file{}) to {target}: SHA-1 {}, {check}{request_id}\n",
        downloaded.bytes(),
        downloaded.files(),
        if downloaded.files() == 1 { "" } else { "s" },
        downloaded.sha1_hex(),
    )
}

/// A byte counter and rate on stderr, only when stderr is a terminal.
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message("downloading the bill");
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}: {bytes} ({binary_bytes_per_sec}, {elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A writer that tells the progress bar how much went through.
struct Counting<'p, W> {
    inner: W,
    progress: &'p ProgressBar,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.progress.inc(written as u64);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
