//! `wechatpay`: WeChat Pay from the command line, on the `wechatpay` library's pipeline.
//!
//! - `certificates download`: the PHP SDK's `CertificateDownloader` (same short and long options).
//! - `api METHOD URI`: any endpoint, signed and verified, in the spirit of `gh api`; APIv2 with `v2/...` URIs.
//! - `notify decrypt`: a callback from a server log, verified and decrypted.
//! - `sign`, `verify`: signatures, for debugging mismatches.
//! - `bill download`: apply, download, check, with a progress bar.
//! - `port-diff A.jsonl B.jsonl`: two recordings of `wechatpay-mock --record`, compared call by call.
//! - `completions SHELL`.
//!
//! Exit status: 0 success, 1 the operation failed, 2 usage or configuration (see [`failure`]).
#![forbid(unsafe_code)]

mod api;
mod args;
mod bill;
mod certificates;
mod credentials;
mod failure;
mod io;
mod notify;
mod port_diff;
mod signature;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use crate::args::{BillCommand, CertificatesCommand, Cli, Command, NotifyCommand};
use crate::failure::Result;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("wechatpay: {}", failure.message);
            failure.exit_code()
        }
    }
}

fn run(command: &Command) -> Result {
    match command {
        Command::Certificates(CertificatesCommand::Download(args)) => certificates::run(args),
        Command::Api(args) => api::run(args),
        Command::Notify(NotifyCommand::Decrypt(args)) => notify::run(args),
        Command::Sign(args) => signature::sign(args),
        Command::Verify(args) => signature::verify(args),
        Command::Bill(BillCommand::Download(args)) => bill::run(args),
        Command::PortDiff(args) => port_diff::run(args),
        Command::Completions(args) => {
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "wechatpay", &mut script);
            io::out(&script)
        }
    }
}
