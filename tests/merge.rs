//! Partial runs and `minxinan merge` (docs/CLUSTER.md): the merge of any split of a run's
//! draws, given in any order, writes the single run's files byte for byte; parts that do not
//! belong together, leave a gap, overlap, or are truncated or corrupted are refused with exit 2,
//! a message naming the file, and nothing written.

mod common;

use common::*;
use std::path::Path;

const N: u64 = 10_000;

/// `run` of the baseline's draws `a..b` of N as a part in `dir/name`.
fn part(dir: &Path, name: &str, a: u64, b: u64) {
    let range = format!("{a}..{b}");
    let o = minxinan(
        dir,
        &[
            "run",
            &scen("baseline.toml"),
            "--draws",
            &N.to_string(),
            "--draw-range",
            &range,
            "--partial",
            name,
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
}

/// The manifest without the fields that say how the run ran (time, threads, parts).
fn manifest_what(dir: &Path) -> serde_json::Value {
    let mut m: serde_json::Value = serde_json::from_str(&read(dir, "manifest.json")).unwrap();
    let o = m.as_object_mut().unwrap();
    for k in ["started_at", "elapsed_seconds", "threads", "merged_from"] {
        o.remove(k);
    }
    m
}

/// The report's page without its manifest section.
fn page(dir: &Path) -> String {
    read(dir, "report.html").split("<details class=\"manifest\">").next().unwrap().to_string()
}

#[test]
fn any_split_in_any_order_merges_to_the_single_run_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(
        d,
        &["run", &scen("baseline.toml"), "--draws", &N.to_string(), "--out", "single", "--quiet"],
    );
    assert!(o.status.success());
    // Splits of 1, 2, 3, 4 and 8 parts, cut on and off the 256-draw chunks, given shuffled.
    let splits: [&[u64]; 5] = [
        &[0, N],
        &[0, 5000, N],
        &[0, 1, 7777, N],
        &[0, 256, 2500, 2501, N],
        &[0, 1250, 2500, 3750, 5000, 6250, 7500, 8750, N],
    ];
    let orders: [&[usize]; 5] = [&[0], &[1, 0], &[2, 0, 1], &[3, 1, 0, 2], &[5, 2, 7, 0, 4, 1, 6, 3]];
    for (s, (cuts, order)) in splits.iter().zip(orders).enumerate() {
        let names: Vec<String> = (0..cuts.len() - 1).map(|k| format!("s{s}p{k}")).collect();
        for (k, w) in cuts.windows(2).enumerate() {
            part(d, &names[k], w[0], w[1]);
        }
        let out = format!("merged{s}");
        let mut args = vec!["merge".to_string()];
        args.extend(order.iter().map(|&k| names[k].clone()));
        args.extend(["--out".into(), out.clone(), "--quiet".into()]);
        let o = minxinan(d, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{} parts: {}", names.len(), String::from_utf8_lossy(&o.stderr));
        let (a, b) = (d.join("single"), d.join(&out));
        for f in ["summary.csv", "targets.csv", "pyramids.csv", "observed.csv", "entities.csv"] {
            assert!(read(&a, f) == read(&b, f), "{} parts: {f} differs", names.len());
        }
        assert_eq!(manifest_what(&a), manifest_what(&b), "{} parts: manifest", names.len());
        assert!(page(&a) == page(&b), "{} parts: report.html differs", names.len());
        // The manifest says how the run was put together, parts in draw order.
        let m: serde_json::Value = serde_json::from_str(&read(&b, "manifest.json")).unwrap();
        let from: Vec<u64> =
            m["merged_from"].as_array().unwrap().iter().map(|p| p["draws"][0].as_u64().unwrap()).collect();
        assert_eq!(from, cuts[..cuts.len() - 1].to_vec());
        for n in &names {
            std::fs::remove_dir_all(d.join(n)).unwrap();
        }
    }
}

/// Three good parts of a 1,000-draw run, then each case breaks something.
#[test]
fn broken_or_mismatched_parts_are_refused_with_exit_2_and_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let base = scen("baseline.toml");
    let mk = |name: &str, range: &str, extra: &[&str]| {
        let mut args =
            vec!["run", &base[..], "--draws", "1000", "--draw-range", range, "--partial", name, "--quiet"];
        args.extend(extra);
        let o = minxinan(d, &args.iter().map(|s| &s[..]).collect::<Vec<_>>());
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
    };
    mk("a", "0..400", &[]);
    mk("b", "400..700", &[]);
    mk("c", "700..1000", &[]);
    mk("overlap", "600..800", &[]);
    mk("seed", "700..1000", &["--seed", "7"]);
    let all_good = minxinan(d, &["merge", "a", "b", "c", "--out", "ok", "--quiet", "--no-report"]);
    assert!(all_good.status.success(), "{}", String::from_utf8_lossy(&all_good.stderr));
    let copy = |from: &str, to: &str| {
        std::fs::create_dir_all(d.join(to)).unwrap();
        for f in ["partial.json", "rows.bin"] {
            std::fs::copy(d.join(from).join(f), d.join(to).join(f)).unwrap();
        }
    };
    let edit_header = |dir: &str, from: &str, to: &str| {
        let p = d.join(dir).join("partial.json");
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.contains(from), "{dir}: {from}");
        std::fs::write(&p, t.replacen(from, to, 1)).unwrap();
    };
    // Truncated: the last row cut short.
    copy("c", "truncated");
    let f = std::fs::OpenOptions::new().write(true).open(d.join("truncated/rows.bin")).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 100).unwrap();
    // Corrupted: one byte flipped in the middle.
    copy("c", "corrupted");
    let p = d.join("corrupted/rows.bin");
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&p, bytes).unwrap();
    // Headers edited by hand.
    copy("c", "version");
    edit_header("version", "\"version\": 1", "\"version\": 2");
    copy("c", "json");
    edit_header("json", "\"seed\":", "\"seed\" ");
    copy("c", "field");
    edit_header("field", "\"seed\":", "\"sed\":");
    copy("c", "beyond");
    edit_header("beyond", "1000\n  ]", "1200\n  ]");
    std::fs::create_dir_all(d.join("empty")).unwrap();

    let cases: [(&[&str], &[&str]); 11] = [
        (&["a", "c"], &["c/partial.json", "draws 400..700 are in no part"]),
        (&["b", "c"], &["draws 0..400 are in no part"]),
        (&["a", "b"], &["draws 700..1000 are in no part (the run has 1000 draws)"]),
        (&["a", "b", "overlap", "c"], &["draws 600..700 are in two parts", "overlap"]),
        (&["a", "b", "seed"], &["seed/partial.json", "`seed`: `7`, but", "the parts are not of one run"]),
        (&["a", "b", "truncated"], &["truncated/rows.bin", "truncated", "rerun draws 700..1000"]),
        (
            &["a", "b", "corrupted"],
            &["corrupted/rows.bin", "`rows_sha256`: the checksum does not match", "rerun draws 700..1000"],
        ),
        (&["a", "b", "version"], &["version/partial.json", "format version 2 (this engine reads version 1)"]),
        (&["a", "b", "json"], &["json/partial.json:", "not a partial run's header"]),
        (&["a", "b", "field"], &["field/partial.json", "unknown field `sed`"]),
        (&["a", "b", "c", "empty"], &["empty/partial.json", "not a partial run's folder"]),
    ];
    for (parts, expect) in cases {
        let mut args = vec!["merge"];
        args.extend(parts);
        args.extend(["--out", "merged", "--quiet"]);
        let o = minxinan(d, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{parts:?}: {err}");
        for e in expect {
            assert!(err.contains(e), "{parts:?}: expected `{e}` in:\n{err}");
        }
        assert!(!err.contains("panicked") && !d.join("merged").exists(), "{parts:?}");
    }
    // A range beyond the run's draws is refused when the header is read.
    let o = minxinan(d, &["merge", "a", "b", "beyond", "--out", "merged", "--quiet"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("`range`") && !d.join("merged").exists(), "{err}");
    // A scenario changed since the parts ran: a copy of the baseline, edited after its parts.
    std::fs::write(d.join("s.toml"), baseline_text()).unwrap();
    let s = d.join("s.toml");
    let run = |name: &str, range: &str| {
        minxinan(
            d,
            &[
                "run",
                s.to_str().unwrap(),
                "--draws",
                "1000",
                "--draw-range",
                range,
                "--partial",
                name,
                "--quiet",
            ],
        )
    };
    assert!(run("s1", "0..500").status.success() && run("s2", "500..1000").status.success());
    std::fs::write(&s, baseline_text().replace("tfp_drift_sd = 0.01", "tfp_drift_sd = 0.011")).unwrap();
    let o = minxinan(d, &["merge", "s1", "s2", "--out", "merged", "--quiet"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("has changed since the parts ran") && !d.join("merged").exists(), "{err}");
    // --partial goes with neither --deterministic nor --save-draws.
    let o = minxinan(d, &["run", &scen("baseline.toml"), "--deterministic", "--partial", "x", "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!d.join("x").exists());
}
