//! `wechatpay port-diff A.jsonl B.jsonl`: does the port send what the original sent? Two recordings of
//! `wechatpay-mock --record FILE` (the PHP application's tests, the Rust port's tests) are paired call by call and
//! every difference is reported in words a porter understands.
//!
//! Pairing: in order, lined up by method + path template (Myers' diff) so that a call missing in the middle is
//! reported as missing instead of shifting every pair after it; or, with `--unordered`, the n-th call of an
//! endpoint in A with the n-th call of that endpoint in B.

mod compare;
mod recording;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::args::PortDiffArgs;
use crate::failure::{Failure, Result};
use crate::io::{self, Style};
use compare::{Comparison, Difference, Ignore, Labels, answer_note};
use recording::{Call, Recording};

pub fn run(args: &PortDiffArgs) -> Result {
    let ignore = Ignore::parse(&args.ignore)?;
    let a = Recording::read(&args.a)?;
    let b = Recording::read(&args.b)?;
    let labels = labels(&args.a, &args.b);
    let pairs = if args.unordered { pair_by_endpoint(&a.calls, &b.calls) } else { pair_in_order(&a.calls, &b.calls) };
    let entries: Vec<Entry> = pairs.into_iter().map(|pair| Entry::of(pair, &a, &b, &labels, &ignore)).collect();
    let count = entries.iter().map(|e| e.differences.len()).sum::<usize>();
    if args.json {
        io::print_json(&as_json(args, &a, &b, &labels, &entries), Style::choose(false, false))?;
    } else {
        io::out(as_text(args, &a, &b, &labels, &entries).as_bytes())?;
    }
    match count {
        0 => Ok(()),
        n => Err(Failure::failed(format!(
            "{} and {} differ: {n} difference{}",
            a.file,
            b.file,
            if n == 1 { "" } else { "s" }
        ))),
    }
}

/// `php` and `rust` for php.jsonl and rust.jsonl; `A` and `B` when the names say nothing apart.
fn labels(a: &Path, b: &Path) -> Labels {
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    match (stem(a), stem(b)) {
        (x, y) if !x.is_empty() && !y.is_empty() && x != y => Labels { a: x, b: y },
        _ => Labels { a: "A".to_owned(), b: "B".to_owned() },
    }
}

/// Indexes into A's and B's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pair {
    Both(usize, usize),
    OnlyA(usize),
    OnlyB(usize),
}

fn key(call: &Call) -> (&str, &str) {
    (&call.method, &call.template)
}

/// In order: the longest run of calls to the same endpoints is paired, the calls between them are paired
/// position by position (another endpoint at the same place) and the rest are missing or extra.
fn pair_in_order(a: &[Call], b: &[Call]) -> Vec<Pair> {
    let (ka, kb): (Vec<_>, Vec<_>) = (a.iter().map(key).collect(), b.iter().map(key).collect());
    let mut pairs = Vec::with_capacity(a.len().max(b.len()));
    // Two long recordings with little in common make Myers' diff quadratic: past the deadline it settles for a
    // pairing that is still valid, if not the longest.
    let deadline = Instant::now().checked_add(Duration::from_secs(2));
    for op in similar::capture_diff_slices_deadline(similar::Algorithm::Myers, &ka, &kb, deadline) {
        let (old, new) = (op.old_range(), op.new_range());
        let common = old.len().min(new.len());
        pairs.extend(old.clone().zip(new.clone()).map(|(i, j)| Pair::Both(i, j)));
        pairs.extend(old.skip(common).map(Pair::OnlyA));
        pairs.extend(new.skip(common).map(Pair::OnlyB));
    }
    pairs
}

/// By endpoint: the n-th call of an endpoint in A with its n-th call in B, in A's order, B's extra calls last.
fn pair_by_endpoint(a: &[Call], b: &[Call]) -> Vec<Pair> {
    let mut waiting: HashMap<(&str, &str), std::collections::VecDeque<usize>> = HashMap::new();
    for (j, call) in b.iter().enumerate() {
        waiting.entry(key(call)).or_default().push_back(j);
    }
    let mut pairs: Vec<Pair> = a
        .iter()
        .enumerate()
        .map(|(i, call)| match waiting.get_mut(&key(call)).and_then(|queue| queue.pop_front()) {
            Some(j) => Pair::Both(i, j),
            None => Pair::OnlyA(i),
        })
        .collect();
    let mut extra: Vec<usize> = waiting.into_values().flatten().collect();
    extra.sort_unstable();
    pairs.extend(extra.into_iter().map(Pair::OnlyB));
    pairs
}

/// One line of the report: a pair of calls (or a call alone) and what differs.
struct Entry {
    pair: Pair,
    /// The endpoint, as A called it (B for a call only B made).
    endpoint: String,
    differences: Vec<Difference>,
    note: Option<String>,
}

impl Entry {
    fn of(pair: Pair, a: &Recording, b: &Recording, labels: &Labels, ignore: &Ignore) -> Entry {
        let Labels { a: la, b: lb } = labels;
        match pair {
            Pair::Both(i, j) => {
                let (x, y) = (&a.calls[i], &b.calls[j]);
                let mut comparison = Comparison { labels, ignore, out: Vec::new() };
                comparison.calls(x, y);
                Entry { pair, endpoint: x.endpoint(), differences: comparison.out, note: answer_note(x, y, labels) }
            }
            Pair::OnlyA(i) => {
                let call = &a.calls[i];
                let message = format!("called by {la} (line {}), not by {lb}", call.line);
                let difference = Difference {
                    kind: "missing_call",
                    at: String::new(),
                    a: Some(json!(call.endpoint())),
                    b: None,
                    message,
                };
                Entry { pair, endpoint: call.endpoint(), differences: vec![difference], note: None }
            }
            Pair::OnlyB(j) => {
                let call = &b.calls[j];
                let message = format!("called by {lb} (line {}), not by {la}", call.line);
                let difference = Difference {
                    kind: "extra_call",
                    at: String::new(),
                    a: None,
                    b: Some(json!(call.endpoint())),
                    message,
                };
                Entry { pair, endpoint: call.endpoint(), differences: vec![difference], note: None }
            }
        }
    }

    fn lines(&self, a: &Recording, b: &Recording) -> (Option<usize>, Option<usize>) {
        match self.pair {
            Pair::Both(i, j) => (Some(a.calls[i].line), Some(b.calls[j].line)),
            Pair::OnlyA(i) => (Some(a.calls[i].line), None),
            Pair::OnlyB(j) => (None, Some(b.calls[j].line)),
        }
    }
}

fn as_text(args: &PortDiffArgs, a: &Recording, b: &Recording, labels: &Labels, entries: &[Entry]) -> String {
    let Labels { a: la, b: lb } = labels;
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let how = if args.unordered { "paired by endpoint" } else { "paired in order" };
    let mut out = format!(
        "{la} = {} ({}), {lb} = {} ({}), {how}\n",
        a.file,
        plural(a.calls.len(), "call"),
        b.file,
        plural(b.calls.len(), "call")
    );
    for entry in entries.iter().filter(|e| !e.differences.is_empty() || e.note.is_some()) {
        let (line_a, line_b) = entry.lines(a, b);
        let at = match (line_a, line_b) {
            (Some(x), Some(y)) => format!(" ({la} line {x}, {lb} line {y})"),
            _ => String::new(),
        };
        out.push_str(&format!("\n{}{at}\n", entry.endpoint));
        for difference in &entry.differences {
            out.push_str(&format!("  - {}\n", difference.message));
        }
        if let Some(note) = &entry.note {
            out.push_str(&format!("  note: {note}\n"));
        }
    }
    let count = entries.iter().map(|e| e.differences.len()).sum::<usize>();
    let paired = entries.iter().filter(|e| matches!(e.pair, Pair::Both(..))).count();
    let differing = entries.iter().filter(|e| matches!(e.pair, Pair::Both(..)) && !e.differences.is_empty()).count();
    let missing = entries.iter().filter(|e| matches!(e.pair, Pair::OnlyA(_))).count();
    let extra = entries.iter().filter(|e| matches!(e.pair, Pair::OnlyB(_))).count();
    if count == 0 {
        out.push_str(&format!(
            "\nequivalent: {lb} sends what {la} sent ({}; User-Agent, Accept, header order, JSON key order, nonces, \
             timestamps and signature bytes are not compared)\n",
            plural(paired, "call")
        ));
    } else {
        out.push_str(&format!(
            "\n{} in {} of {} paired; {} only by {la}, {} only by {lb}\n",
            plural(count, "difference"),
            differing,
            plural(paired, "call"),
            plural(missing, "call"),
            plural(extra, "call"),
        ));
    }
    if !args.ignore.is_empty() {
        out.push_str(&format!("compared by presence only: {}\n", args.ignore.join(", ")));
    }
    out
}

fn as_json(args: &PortDiffArgs, a: &Recording, b: &Recording, labels: &Labels, entries: &[Entry]) -> Value {
    let mut differences = Vec::new();
    let mut notes = Vec::new();
    for entry in entries {
        let (line_a, line_b) = entry.lines(a, b);
        for d in &entry.differences {
            differences.push(json!({
                "kind": d.kind,
                "call": entry.endpoint,
                "a_line": line_a,
                "b_line": line_b,
                "at": d.at,
                "a": d.a,
                "b": d.b,
                "message": d.message,
            }));
        }
        if let Some(note) = &entry.note {
            notes.push(
                json!({"kind": "answer", "call": entry.endpoint, "a_line": line_a, "b_line": line_b, "message": note}),
            );
        }
    }
    json!({
        "equivalent": differences.is_empty(),
        "pairing": if args.unordered { "unordered" } else { "ordered" },
        "ignored": args.ignore,
        "a": {"file": a.file, "label": labels.a, "calls": a.calls.len()},
        "b": {"file": b.file, "label": labels.b, "calls": b.calls.len()},
        "differences": differences,
        "notes": notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(endpoints: &[&str]) -> Vec<Call> {
        let lines: String = endpoints
            .iter()
            .map(|e| format!("{}\n", json!({"format": 1, "method": "POST", "path": e, "template": e})))
            .collect();
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, lines).expect("written");
        Recording::read(&path).expect("a recording").calls
    }

    #[test]
    fn in_order_a_missing_call_does_not_shift_the_others() {
        let (a, b) = (calls(&["/a", "/b", "/c", "/d"]), calls(&["/a", "/c", "/x", "/d", "/e"]));
        let pairs = pair_in_order(&a, &b);
        assert_eq!(
            pairs,
            [Pair::Both(0, 0), Pair::OnlyA(1), Pair::Both(2, 1), Pair::OnlyB(2), Pair::Both(3, 3), Pair::OnlyB(4)]
        );
        // Another endpoint at the same place is paired with it (and reported as another path).
        let (a, b) = (calls(&["/a", "/b", "/c"]), calls(&["/a", "/x", "/c"]));
        assert_eq!(pair_in_order(&a, &b), [Pair::Both(0, 0), Pair::Both(1, 1), Pair::Both(2, 2)]);
    }

    #[test]
    fn by_endpoint_the_nth_call_pairs_with_the_nth() {
        let (a, b) = (calls(&["/a", "/b", "/a", "/c"]), calls(&["/b", "/a", "/d", "/a", "/a"]));
        assert_eq!(
            pair_by_endpoint(&a, &b),
            [Pair::Both(0, 1), Pair::Both(1, 0), Pair::Both(2, 3), Pair::OnlyA(3), Pair::OnlyB(2), Pair::OnlyB(4)]
        );
    }

    #[test]
    fn labels_come_from_the_file_names() {
        let l = labels(Path::new("/x/php.jsonl"), Path::new("rust.jsonl"));
        assert_eq!((l.a.as_str(), l.b.as_str()), ("php", "rust"));
        let l = labels(Path::new("/x/run.jsonl"), Path::new("/y/run.jsonl"));
        assert_eq!((l.a.as_str(), l.b.as_str()), ("A", "B"));
    }
}
