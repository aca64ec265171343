//! The same run over MPI (`--features mpi`; docs/CLUSTER.md): `mpirun -np 2` and `-np 3` of
//! the baseline write the single process's files byte for byte (the manifest adds `ranks`); a
//! failing rank ends the job with its message and no output. Needs Debian's OpenMPI
//! (`.ci/run` installs it); without the feature this file is empty.
#![cfg(feature = "mpi")]

mod common;

use common::*;
use std::process::Command;

fn mpirun(dir: &std::path::Path, np: usize, args: &[&str]) -> std::process::Output {
    Command::new("mpirun")
        .current_dir(dir)
        .args([
            "--allow-run-as-root",
            "--oversubscribe",
            "-np",
            &np.to_string(),
            env!("CARGO_BIN_EXE_minxinan"),
        ])
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("mpirun runs (apt-get install openmpi-bin)")
}

#[test]
fn two_and_three_ranks_write_the_single_process_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(d, &["run", &scen("baseline.toml"), "--out", "single", "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for np in [2, 3] {
        let out = format!("np{np}");
        let o = mpirun(d, np, &["run", &scen("baseline.toml"), "--out", &out, "--quiet"]);
        assert!(o.status.success(), "np {np}: {}", String::from_utf8_lossy(&o.stderr));
        for f in ["summary.csv", "targets.csv", "pyramids.csv", "observed.csv", "entities.csv"] {
            let (a, b) = (
                std::fs::read(d.join("single").join(f)).unwrap(),
                std::fs::read(d.join(&out).join(f)).unwrap(),
            );
            assert!(a == b, "np {np}: {f} differs");
        }
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(&out).join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(m["ranks"], np);
    }
}

#[test]
fn ranks_that_gather_series_again_still_write_the_single_process_files() {
    // Sieves narrowed until most series' windows miss the other ranks' order statistics: every
    // rank runs its draws again for those series, and the files are still the single run's.
    // Only rank 0 speaks (one history line).
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let args = ["run", &scen("baseline.toml"), "--draws", "3000"];
    let o = minxinan(d, &[&args[..], &["--out", "single", "--quiet"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new("mpirun")
        .current_dir(d)
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "3", env!("CARGO_BIN_EXE_minxinan")])
        .args(args)
        .args(["--out", "narrow"])
        .env("MINXINAN_RANK_SIEVE", "256,1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("series were gathered again in full"), "{err}");
    assert_eq!(err.matches("history: conditioned").count(), 1, "{err}");
    for f in ["summary.csv", "targets.csv", "pyramids.csv", "observed.csv", "entities.csv"] {
        let (a, b) = (
            std::fs::read(d.join("single").join(f)).unwrap(),
            std::fs::read(d.join("narrow").join(f)).unwrap(),
        );
        assert!(a == b, "{f} differs");
    }
    // A malformed knob is refused (exit 2) with its expected form, and nothing is written.
    let o = Command::new("mpirun")
        .current_dir(d)
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "2", env!("CARGO_BIN_EXE_minxinan")])
        .args(args)
        .args(["--out", "bad", "--quiet"])
        .env("MINXINAN_RANK_SIEVE", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code() == Some(2) && err.contains("expected FIRST,Z"), "{err}");
    assert!(!d.join("bad").exists());
}

#[test]
fn a_failing_rank_ends_the_job_with_its_message_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("bad.toml"), "[scenario]\nname = \"bad\"\nhorizon = 2099\n").unwrap();
    let o = mpirun(d, 2, &["run", "bad.toml", "--out", "out", "--quiet"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("horizon") && !err.contains("panicked"), "{err}");
    assert!(!d.join("out").exists());
    // A single-process option is refused under MPI.
    let o =
        mpirun(d, 2, &["run", &scen("baseline.toml"), "--draw-range", "0..10", "--out", "out2", "--quiet"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("single-process options"));
    assert!(!d.join("out2").exists());
}
