//! Reading arguments (`TEXT`, `@FILE`, `@-`, `FILE|-`, header files) and writing answers (JSON pretty on a
//! terminal, compact when piped; a closed pipe ends the output quietly).

use std::cell::Cell;
use std::io::{IsTerminal as _, Read as _, Write as _};

use serde_json::Value;

use crate::failure::{Failure, Result};

/// Hands out stdin once: two arguments cannot both read it.
#[derive(Debug, Default)]
pub struct Stdin {
    taken: Cell<Option<&'static str>>,
}

impl Stdin {
    /// Reads all of stdin for `who` (a flag name), unless another flag took it.
    pub fn read(&self, who: &'static str) -> Result<Vec<u8>> {
        if let Some(first) = self.taken.replace(Some(who)) {
            return Err(Failure::usage(format!("{first} and {who} cannot both read stdin: give one of them a file")));
        }
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|err| Failure::usage(format!("{who}: cannot read stdin: {err}")))?;
        Ok(bytes)
    }

    /// `TEXT` as its bytes, `@FILE` as the file's, `@-` as stdin's.
    pub fn text_or_file(&self, value: &str, who: &'static str) -> Result<Vec<u8>> {
        match value.strip_prefix('@') {
            Some("-") => self.read(who),
            Some(path) => read_file(path, who),
            None => Ok(value.as_bytes().to_vec()),
        }
    }

    /// `FILE` as its bytes, `-` as stdin's.
    pub fn file(&self, value: &str, who: &'static str) -> Result<Vec<u8>> {
        if value == "-" { self.read(who) } else { read_file(value, who) }
    }
}

fn read_file(path: &str, who: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|err| Failure::usage(format!("{who}: cannot read `{path}`: {err}")))
}

/// Splits `NAME=VALUE`.
pub fn name_value<'a>(pair: &'a str, flag: &str) -> Result<(&'a str, &'a str)> {
    match pair.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim(), value)),
        _ => Err(Failure::usage(format!("{flag} `{pair}`: write it as NAME=VALUE"))),
    }
}

/// HTTP headers as a server log shows them: `Name: value` lines; blank lines and a request or status line
/// (`POST /notify HTTP/1.1`) are skipped.
pub fn header_lines(bytes: &[u8], who: &str) -> Result<Vec<(String, String)>> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| Failure::usage(format!("{who}: the headers are not UTF-8 text")))?;
    let mut headers = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (number == 0 && (line.contains(" HTTP/") || line.starts_with("HTTP/"))) {
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() && !name.contains(' ') => {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            _ => {
                return Err(Failure::usage(format!("{who}: line {} is not a `Name: value` header line", number + 1)));
            }
        }
    }
    Ok(headers)
}

/// How to print JSON answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Indented, for people.
    Pretty,
    /// One line, for pipes.
    Compact,
    /// The bytes as received.
    Raw,
}

impl Style {
    /// Pretty on a terminal, compact when piped, unless asked otherwise.
    pub fn choose(pretty: bool, raw: bool) -> Style {
        match (pretty, raw) {
            (_, true) => Style::Raw,
            (true, _) => Style::Pretty,
            _ if std::io::stdout().is_terminal() => Style::Pretty,
            _ => Style::Compact,
        }
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
pub fn out(bytes: &[u8]) -> Result {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::failed(format!("cannot write to stdout: {err}")))
        }
        _ => Ok(()),
    }
}

/// Prints a JSON value in `style` (raw is compact here), with a final line break.
pub fn print_json(value: &Value, style: Style) -> Result {
    let text = match style {
        Style::Pretty => serde_json::to_string_pretty(value),
        Style::Compact | Style::Raw => serde_json::to_string(value),
    }
    .map_err(|err| Failure::failed(format!("cannot print the answer as JSON: {err}")))?;
    out(format!("{text}\n").as_bytes())
}

/// Prints an answer's body: JSON in `style`, anything else (and everything with [`Style::Raw`]) as received.
pub fn print_body(body: &[u8], style: Style) -> Result {
    if body.is_empty() {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if style != Style::Raw => print_json(&value, style),
        _ => out(body),
    }
}

/// A message with its line breaks and other control characters visible, for `--show-message`.
pub fn visible(message: &[u8]) -> String {
    String::from_utf8_lossy(message).escape_debug().to_string()
}

/// `wechatpay-serial` as `Wechatpay-Serial`, `request-id` as `Request-ID`.
pub fn header_name(name: &str) -> String {
    if name.eq_ignore_ascii_case("request-id") {
        return "Request-ID".to_owned();
    }
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}
