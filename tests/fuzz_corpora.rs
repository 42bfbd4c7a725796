//! The fuzz targets' committed corpora (`fuzz/corpus/<target>/`), run as ordinary tests: every file goes through the
//! same function its cargo-fuzz target calls (`fuzz/src/lib.rs`, included here), on stable Rust, so that every
//! input the fuzzer kept (and every crash it found, each also a regression test) stays covered by CI, which has no
//! nightly toolchain for cargo-fuzz itself.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

use std::path::Path;

/// Runs every file of `fuzz/corpus/<target>/` through `check`, naming the file that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&directory)
        .unwrap_or_else(|err| panic!("{}: {err}", directory.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the {target} corpus is empty");
    for file in &files {
        let data = std::fs::read(file).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| check(&data));
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        assert!(outcome.is_ok(), "fuzz/corpus/{target}/{name} fails its target");
    }
}

#[test]
fn template_corpus() {
    replay("template", checks::template);
}

#[test]
fn chain_keys_corpus() {
    replay("chain_keys", checks::chain_keys);
}

#[test]
fn answers_corpus() {
    replay("answers", checks::answers);
}

#[test]
fn notification_corpus() {
    replay("notification", checks::notification);
}

#[test]
fn apiv2_xml_corpus() {
    replay("apiv2_xml", checks::apiv2_xml);
}

#[test]
fn keys_corpus() {
    replay("keys", checks::keys);
}
