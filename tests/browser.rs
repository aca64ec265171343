//! The HTML report in a real browser: headless Chromium opens `report.html` of a run and of a
//! comparison with no network, and the test fails on any console message or failed load, on a
//! missing chart, or on a blank screenshot. `.ci/run` installs Debian's chromium; on a machine
//! without it the tests are reported as ignored (libtest-mimic's harness says so, with the
//! reason), except under CI (`CI` set), where they fail.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser: `MINXINAN_CHROMIUM` when set (a path that does not exist means none), else
/// Debian's.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MINXINAN_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().map(PathBuf::from).find(|p| p.exists())
}

/// Open a page headless: (DOM after load, browser log, screenshot PNG path).
fn open(browser: &Path, page: &Path, work: &Path, tag: &str) -> (String, String, PathBuf) {
    let shot = work.join(format!("{tag}.png"));
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let url = format!("file://{}", page.display());
    let profile = work.join(format!("profile-{tag}"));
    let dom = Command::new(browser)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let snap = Command::new(browser)
        .args(common)
        .arg(format!("--user-data-dir={}-shot", profile.display()))
        .arg("--window-size=1400,1800")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("chromium runs");
    let log = format!("{}{}", String::from_utf8_lossy(&dom.stderr), String::from_utf8_lossy(&snap.stderr));
    (String::from_utf8_lossy(&dom.stdout).into_owned(), log, shot)
}

/// Console messages and failed loads in Chromium's log.
fn page_problems(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Failed to load resource")
                || l.contains("net::ERR_")
        })
        .collect()
}

/// Share of pixels that differ from the top-left pixel (a blank page gives 0).
fn ink(png_path: &Path) -> f64 {
    let decoder =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).expect("screenshot exists")));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let bpp = info.color_type.samples();
    let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks(bpp).collect();
    let first = px[0];
    px.iter().filter(|p| p[..3] != first[..3]).count() as f64 / px.len() as f64
}

fn check_report(browser: &Path, dir: &Path, work: &Path, tag: &str, min_charts: usize, needles: &[&str]) {
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: no script, no stylesheet or image or font fetched from anywhere.
    for bad in ["<script", "<link", "<img", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(bad), "{tag}: report contains {bad}");
    }
    let (dom, log, shot) = open(browser, &page, work, tag);
    let problems = page_problems(&log);
    assert!(problems.is_empty(), "{tag}: browser reported {problems:?}");
    let figures = dom.matches("<figure class=\"chart\"").count();
    assert!(figures >= min_charts, "{tag}: {figures} charts in the page, expected {min_charts}");
    // Every chart has its SVG; the conditioning table's small interval charts are SVGs too.
    let small = dom.matches("aria-label=\"prior and posterior\"").count();
    assert_eq!(dom.matches("<svg").count() - small, figures, "{tag}: every chart has its SVG");
    for needle in needles {
        assert!(dom.contains(needle), "{tag}: `{needle}` not in the rendered page");
    }
    let share = ink(&shot);
    assert!(share > 0.02, "{tag}: the screenshot is blank ({share})");
    eprintln!("{tag}: {figures} charts, {:.1}% of the screenshot inked, {}", 100.0 * share, shot.display());
}

fn reports_render_in_a_real_browser(browser: &Path) {
    let browser = browser.to_path_buf();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(d, &["run", &scen("baseline.toml"), "--draws", "200", "--out", "run", "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = minxinan(
        d,
        &[
            "compare",
            &scen("baseline.toml"),
            &scen("industry-transfer.toml"),
            "--draws",
            "200",
            "--out",
            "cmp",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // 6 entities × 5 indicators + 6 pyramids; a comparison adds 6 × 3 difference charts.
    let levels = ["<title", "year 年", "median", "10k persons"];
    check_report(&browser, &d.join("run"), d, "run", 36, &levels);
    check_report(&browser, &d.join("cmp"), d, "compare", 54, &levels);
    // A sensitivity study: 6 entities × 5 headline indicators of stacked shares.
    let o =
        minxinan(d, &["sensitivity", &scen("baseline.toml"), "--samples", "64", "--out", "sens", "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shares = ["<title", "year 年", "share of the variance", "interactions", "Without history"];
    check_report(&browser, &d.join("sens"), d, "sensitivity", 30, &shares);
    // Keep the screenshots for a person to look at.
    let keep = root().join("target/browser-test");
    std::fs::create_dir_all(&keep).unwrap();
    for tag in ["run", "compare", "sensitivity"] {
        std::fs::copy(d.join(format!("{tag}.png")), keep.join(format!("{tag}.png"))).unwrap();
    }
}

fn the_browser_check_catches_console_errors_and_missing_resources(browser: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("bad.html");
    std::fs::write(&page, "<!DOCTYPE html><html><body><p>x</p><script>console.error('boom')</script><img src=\"missing.png\"></body></html>").unwrap();
    let (_, log, _) = open(browser, &page, tmp.path(), "bad");
    assert!(!page_problems(&log).is_empty(), "a console error must be caught:\n{log}");
}

type Test = fn(&Path);

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let browser = chromium();
    let ci = std::env::var_os("CI").is_some();
    let tests: [(&str, Test); 2] = [
        ("reports_render_in_a_real_browser", reports_render_in_a_real_browser),
        (
            "the_browser_check_catches_console_errors_and_missing_resources",
            the_browser_check_catches_console_errors_and_missing_resources,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            let found = browser.clone();
            let trial = libtest_mimic::Trial::test(name, move || match &found {
                Some(b) => std::panic::catch_unwind(|| test(b)).map_err(|e| {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
                    msg.unwrap_or_else(|| "panicked".into()).into()
                }),
                None => Err("CI must have Chromium (.ci/run installs Debian's chromium)".into()),
            });
            // Without Chromium: ignored, with the reason, unless under CI, where it fails.
            match (&browser, ci) {
                (None, false) => {
                    trial.with_ignored_flag(true).with_kind("no Chromium: apt-get install chromium")
                }
                _ => trial,
            }
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
