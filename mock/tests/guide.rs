//! The README's guide stays true: its Node and Python snippets are the ones the cross-SDK tests run, and it
//! documents every option of the binary.

use std::path::Path;
use std::process::Command;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines between the `guide:NAME:start` and `guide:NAME:end` markers, without their common indentation.
fn guide_region(source: &str, name: &str) -> String {
    let (start, end) = (format!("guide:{name}:start"), format!("guide:{name}:end"));
    let lines: Vec<&str> = source
        .lines()
        .skip_while(|line| !line.contains(&start))
        .skip(1)
        .take_while(|line| !line.contains(&end))
        .collect();
    assert!(!lines.is_empty(), "no guide:{name} region");
    let indent = lines.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min();
    let indent = indent.unwrap_or(0);
    lines.iter().map(|line| line.get(indent..).unwrap_or("")).collect::<Vec<_>>().join("\n") + "\n"
}

#[test]
fn the_node_and_python_snippets_are_the_ones_ci_runs() {
    let readme = read("README.md");
    for (story, name) in [("sdk-tests/node/story.js", "node"), ("sdk-tests/python/story.py", "python")] {
        let snippet = guide_region(&read(story), name);
        assert!(snippet.contains("ready") && snippet.lines().count() > 10, "{story}: {snippet}");
        assert!(readme.contains(&snippet), "README.md must show the {name} snippet of {story} as it is:\n{snippet}");
    }
}

#[test]
fn every_option_of_the_binary_is_documented() {
    let help = Command::new(env!("CARGO_BIN_EXE_wechatpay-mock")).arg("--help").output().expect("runs");
    let help = String::from_utf8(help.stdout).expect("utf8");
    let readme = read("README.md");
    let options: Vec<&str> = help
        .split_whitespace()
        .filter(|word| word.starts_with("--") && word.len() > 3)
        .filter(|word| !["--help", "--version"].contains(word))
        .collect();
    assert!(options.len() >= 10, "{help}");
    for option in options {
        assert!(readme.contains(&format!("`{option}")), "README.md documents {option}");
    }
}
