//! Interrupting a run (SIGINT, SIGTERM) leaves no partial file and no half-replaced output folder,
//! and exits 130 or 143; a run that would not fit in memory is refused before it starts.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn interrupt_with(signal: &str, code: i32) {
    interrupt_command(signal, code, &["run"], &["--draws", "50"], &["--draws", "60000"], "summary.csv");
}

/// Interrupt `command` (long: `long` arguments) writing over the output of a finished short one
/// (`short` arguments) whose `file` must stay as it was.
fn interrupt_command(signal: &str, code: i32, command: &[&str], short: &[&str], long: &[&str], file: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let scen = root().join("scenarios/baseline.toml");
    let s = scen.to_str().unwrap();
    // A finished run first: the interrupted one must leave it untouched.
    let args = |extra: &[&str], more: &[&str]| -> Vec<String> {
        command
            .iter()
            .chain(&[s])
            .chain(extra)
            .chain(&["--out", "out/base", "--quiet"])
            .chain(more)
            .map(|x| x.to_string())
            .collect()
    };
    let o = minxinan(d, &args(short, &["--no-report"]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success());
    let before = std::fs::read(d.join("out/base").join(file)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_minxinan"))
        .current_dir(d)
        .args(args(long, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let kill = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let start = Instant::now();
    let status = child.wait().unwrap();
    assert!(start.elapsed() < Duration::from_secs(20), "the run stops promptly");
    assert_eq!(status.code(), Some(code), "{signal}");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(std::fs::read(d.join("out/base").join(file)).unwrap(), before, "the old output is intact");
    let left: Vec<String> = std::fs::read_dir(d.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["base"], "no staging folder is left behind");
}

#[test]
fn sigint_leaves_nothing_partial_and_exits_130() {
    interrupt_with("-INT", 130);
}

#[test]
fn sigterm_leaves_nothing_partial_and_exits_143() {
    interrupt_with("-TERM", 143);
}

#[test]
fn an_interrupted_sensitivity_study_leaves_nothing_partial() {
    interrupt_command(
        "-INT",
        130,
        &["sensitivity"],
        &["--samples", "64"],
        &["--samples", "65536"],
        "sensitivity.csv",
    );
}

#[test]
fn a_run_too_large_for_memory_is_refused_before_it_starts() {
    // Keeping every one of 10 million draws (for draws.csv) needs 199 GB. (Without
    // --save-draws the run streams its draws and needs a few GB: it would start; without
    // --force the size of draws.csv is refused first.)
    let tmp = tempfile::tempdir().unwrap();
    let scen = root().join("scenarios/baseline.toml");
    let o = minxinan(
        tmp.path(),
        &[
            "run",
            scen.to_str().unwrap(),
            "--draws",
            "10000000",
            "--quiet",
            "--save-draws=gdp_real",
            "--force",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("GB for its outcomes") && err.contains("--draw-range"), "{err}");
    assert!(!tmp.path().join("out").exists());
}
