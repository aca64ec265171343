//! The corpus of bad inputs under tests/bad/: every scenario file there (its `# expect:` lines
//! give fragments of the message) and every region change (a file, a text to replace, the
//! fragments) must exit 2 with those fragments, without a panic and without output.

mod common;

use common::*;
use std::path::Path;

#[test]
fn every_bad_scenario_file_is_refused_with_its_message() {
    let dir = root().join("tests/bad/scenarios");
    let mut n = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let tmp = tempfile::tempdir().unwrap();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let expect: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(|e| e.replace("bad.toml", name))
            .collect();
        assert!(!expect.is_empty(), "{name} has no `# expect:` line");
        let o = minxinan(tmp.path(), &["run", path.to_str().unwrap(), "--draws", "5", "--quiet"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        for e in &expect {
            assert!(err.contains(e.as_str()), "{name}: expected `{e}` in:\n{err}");
        }
        assert!(!err.contains("panicked"), "{name}");
        assert!(!tmp.path().join("out").exists(), "{name} left output");
        n += 1;
    }
    assert!(n >= 40, "{n} bad scenario files");
}

/// Each folder of tests/bad/regions/ holds one bad region file (it replaces the file of that name
/// in the exported default region) and `expect.txt`, the fragments of the message, one a line.
#[test]
fn every_bad_region_file_is_refused_with_its_message() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let scen = root().join("scenarios/baseline.toml");
    let dir = root().join("tests/bad/regions");
    let mut cases: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    let mut n = 0;
    for case in cases {
        let name = case.file_name().unwrap().to_str().unwrap().to_string();
        let reg = d.join(&name);
        let o = minxinan(d, &["info", "--export-region", &name]);
        assert!(o.status.success());
        let expect = std::fs::read_to_string(case.join("expect.txt")).unwrap();
        let mut replaced = 0;
        for f in std::fs::read_dir(&case).unwrap() {
            let f = f.unwrap().path();
            if f.file_name().unwrap() != "expect.txt" {
                std::fs::copy(&f, reg.join(f.file_name().unwrap())).unwrap();
                replaced += 1;
            }
        }
        assert_eq!(replaced, 1, "{name}: one bad file");
        let manifest = format!("{name}/region.toml");
        let o =
            minxinan(d, &["run", scen.to_str().unwrap(), "--draws", "5", "--quiet", "--region", &manifest]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        for e in expect.lines().filter(|l| !l.is_empty()) {
            assert!(err.contains(e), "{name}: expected `{e}` in:\n{err}");
        }
        assert!(!err.contains("panicked") && !Path::new(&d.join("out")).exists(), "{name}");
        n += 1;
    }
    assert!(n >= 10, "{n} bad region files");
}

/// Each `tests/bad/observed/NAME.csv` is an observation file with one kind of mistake, and
/// `NAME.expect` the fragments of the message (one a line; the file is named `bad.csv`): a run of
/// a scenario whose `[history]` names it must exit 2 with them, without a panic or output.
#[test]
fn every_bad_observation_file_is_refused_with_its_message() {
    let dir = root().join("tests/bad/observed");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    cases.sort();
    let mut n = 0;
    for case in cases {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::copy(&case, d.join("bad.csv")).unwrap();
        let scenario = format!(
            "[scenario]\nname = \"history\"\nextends = \"{}\"\n[history]\nobserved = \"bad.csv\"\n",
            root().join("scenarios/baseline.toml").display()
        );
        std::fs::write(d.join("s.toml"), scenario).unwrap();
        let expect = std::fs::read_to_string(case.with_extension("expect")).unwrap();
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        for cmd in [&["run", "s.toml", "--draws", "5", "--quiet"][..], &["validate", "s.toml"][..]] {
            let o = minxinan(d, cmd);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{name}: {err}");
            for e in expect.lines().filter(|l| !l.is_empty()) {
                assert!(err.contains(e), "{name}: expected `{e}` in:\n{err}");
            }
            assert!(!err.contains("panicked") && !d.join("out").exists(), "{name}");
        }
        n += 1;
    }
    assert!(n >= 15, "{n} bad observation files");
}
