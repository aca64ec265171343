//! The documentation stays true to the code: every parameter of the code is in docs/MODEL.md's
//! table with its default, and the README's commands are the ones CI runs.

mod common;

use common::root;
use minxinan::params::PARAMS;

#[test]
fn model_doc_lists_every_parameter_with_its_default() {
    let doc = std::fs::read_to_string(root().join("docs/MODEL.md")).unwrap();
    for p in PARAMS {
        let line = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", p.name)))
            .unwrap_or_else(|| panic!("{} missing from docs/MODEL.md", p.name));
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let numbers: Vec<f64> = cells[4]
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .filter(|t| !t.is_empty())
            .map(|t| t.parse().unwrap())
            .collect();
        let (kind, expected) = match p.default {
            minxinan::params::Default::Fixed(x) => ("", vec![x]),
            minxinan::params::Default::Uniform(a, b) => ("uniform", vec![a, b]),
            minxinan::params::Default::Triangular(a, m, b) => ("triangular", vec![a, m, b]),
        };
        assert!(cells[4].starts_with(kind), "{}: `{}` is not a {kind}", p.name, cells[4]);
        assert_eq!(numbers, expected, "{}: default in docs/MODEL.md", p.name);
        assert_eq!(cells[5].replace('−', "-"), p.domain.to_string().replace('−', "-"), "{}: domain", p.name);
    }
}

#[test]
fn readme_test_command_is_what_ci_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let first_screen: String = readme.lines().take(20).collect::<Vec<_>>().join("\n");
    assert!(first_screen.contains("cargo run --release -- run scenarios/baseline.toml"));
    assert!(first_screen.contains("cargo test --release"));
    assert!(ci.lines().any(|l| l.trim() == "cargo test --release"));
}
