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

#[derive(serde::Deserialize)]
struct RegionCase {
    file: String,
    from: String,
    to: String,
    expect: Vec<String>,
}

#[test]
fn every_bad_region_change_is_refused_with_its_message() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(d, &["info", "--export-region", "reg"]);
    assert!(o.status.success());
    let scen = root().join("scenarios/baseline.toml");
    let dir = root().join("tests/bad/regions");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut n = 0;
    for path in files {
        let case: RegionCase = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let target = d.join("reg").join(&case.file);
        let original = std::fs::read_to_string(&target).unwrap();
        assert!(original.contains(&case.from), "{name}: `{}` not in {}", case.from, case.file);
        std::fs::write(&target, original.replacen(&case.from, &case.to, 1)).unwrap();
        let o = minxinan(
            d,
            &["run", scen.to_str().unwrap(), "--draws", "5", "--quiet", "--region", "reg/region.toml"],
        );
        std::fs::write(&target, &original).unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        for e in &case.expect {
            assert!(err.contains(e.as_str()), "{name}: expected `{e}` in:\n{err}");
        }
        assert!(!err.contains("panicked") && !Path::new(&d.join("out")).exists(), "{name}");
        n += 1;
    }
    assert!(n >= 10, "{n} bad region cases");
}
