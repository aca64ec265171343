//! The plausibility corpus (tests/plausible/): each file is a plausible-looking mistake — a
//! value allowed by its domain but outside what the parameter or target plausibly means. It
//! validates and runs with the warning its `# warn:` lines give (stderr and manifest.json), and
//! `--strict` refuses it (exit 2, no output).

mod common;

use common::*;

#[test]
fn every_implausible_value_warns_and_strict_refuses_it() {
    let dir = root().join("tests/plausible");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let expect: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# warn: ")).collect();
        assert!(!expect.is_empty(), "{name} has no `# warn:` line");
        let tmp = tempfile::tempdir().unwrap();
        let p = path.to_str().unwrap();
        let o = minxinan(tmp.path(), &["run", p, "--draws", "5", "--no-report", "--out", "o"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{name} runs: {err}");
        for e in &expect {
            assert!(err.contains(&format!("warning: {}", path.display())), "{name}: {err}");
            assert!(err.contains(e), "{name}: expected `{e}` in:\n{err}");
        }
        let manifest = std::fs::read_to_string(tmp.path().join("o/manifest.json")).unwrap();
        let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        let recorded = m["warnings"]["plausibility"].as_array().unwrap();
        assert!(
            !recorded.is_empty() && recorded[0].as_str().unwrap().contains(expect[0]),
            "{name}: {recorded:?}"
        );
        for cmd in
            [&["run", p, "--draws", "5", "--strict", "--out", "s"][..], &["validate", "--strict", p][..]]
        {
            let o = minxinan(tmp.path(), cmd);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{name} {cmd:?}: {err}");
            assert!(err.contains(expect[0]) && err.contains("--strict refuses"), "{name}: {err}");
            assert!(!tmp.path().join("s").exists(), "{name}: nothing written");
        }
    }
    assert!(files.len() >= 15, "{} files", files.len());
}

#[test]
fn the_library_s_scenarios_are_plausible() {
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        let o = minxinan(&root(), &["validate", "--strict", path.to_str().unwrap()]);
        assert!(o.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&o.stderr));
    }
}
