//! The commands: run, validate, info.

use super::BadInput;
use super::args::{
    BacktestArgs, Cli, Command, Common, CompareArgs, InfoArgs, MergeArgs, ReportArgs, RunArgs,
    SensitivityArgs, ValidateArgs,
};
use super::fsout::{Staging, write_atomic};
use anyhow::{Context, Result, bail};
use minxinan::indicators::Indicator;
use minxinan::output::report::{self, Files as OutFiles};
use minxinan::region::{Files, Region, embedded};
use minxinan::runner::Summaries;
use minxinan::{Model, RunConfig, Scenario, output, runner};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

/// Run a parsed command line.
pub fn dispatch(cli: Cli, world: Option<&super::World>) -> Result<ExitCode> {
    if let Command::Merge(a) = cli.command {
        // The parts say which region and scenario they ran.
        return merge(a);
    }
    let region = load_region(cli.region.as_deref())?;
    match cli.command {
        Command::Run(a) => run(&region, cli.region.as_deref(), a, None, world),
        Command::Merge(_) => unreachable!("handled above"),
        Command::Compare(a) => compare(&region, a),
        Command::Backtest(a) => backtest(&region, a),
        Command::Sensitivity(a) => sensitivity(&region, a),
        Command::Validate(a) => validate(&region, a),
        Command::Report(a) => report(a),
        Command::Info(a) => info(&region, a),
    }
}

/// Files of a region folder on disk.
struct Dir(PathBuf);

impl Files for Dir {
    fn read(&self, rel: &str) -> Result<String, String> {
        std::fs::read_to_string(self.0.join(rel)).map_err(|e| e.to_string())
    }
    fn display(&self, rel: &str) -> String {
        self.0.join(rel).display().to_string()
    }
}

fn load_region(path: Option<&Path>) -> Result<Region> {
    match path {
        None => Ok(Region::load(embedded::MANIFEST, &embedded::Embedded)?),
        Some(p) => {
            let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Ok(Region::load(&name, &Dir(dir))?)
        }
    }
}

/// The compiled version of the kernels: the widest the processor runs, unless `MINXINAN_ISA`
/// asks for `generic` or `avx2` (every version gives the same bits; for comparing them).
fn isa() -> minxinan::isa::Isa {
    minxinan::isa::Isa::chosen(std::env::var("MINXINAN_ISA").ok().as_deref())
}

/// A file of a scenario chain (the scenario, a parent it extends, its observation file); a
/// missing one is named with the full path looked for and the nearest name in its folder.
fn read_file(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| {
        if e.kind() != std::io::ErrorKind::NotFound {
            return e.to_string();
        }
        let full = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
        let names: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        let name = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let near = minxinan::locate::suggest(&name, &names.iter().map(String::as_str).collect::<Vec<_>>());
        match near {
            Some(s) => format!("no such file (looked for {}; {s})", full.display()),
            None => format!("no such file (looked for {})", full.display()),
        }
    })
}

/// Load a scenario; its warnings (a lever moved out of the history, an implausible value) go
/// to stderr unless `quiet`; with `strict` an implausible value is refused (exit 2).
fn read_scenario(region: &Region, path: &Path, quiet: bool, strict: bool) -> Result<Scenario> {
    let scenario = Scenario::load(path, &read_file, region)?;
    warn(&scenario, quiet, strict)?;
    Ok(scenario)
}

/// A scenario's warnings to stderr (unless `quiet`); with `strict`, its implausible values are
/// input errors.
fn warn(scenario: &Scenario, quiet: bool, strict: bool) -> Result<()> {
    if strict && !scenario.plausibility.is_empty() {
        let errors = minxinan::InputErrors(scenario.plausibility.clone());
        bail!(BadInput(format!("{errors}\n(--strict refuses implausible values)")));
    }
    if !quiet {
        for w in scenario.warnings.iter().chain(&scenario.plausibility) {
            eprintln!("warning: {w}");
        }
    }
    Ok(())
}

/// Bytes of a row of draws.csv, about (`draw,entity,year,indicator,value`: 50.5 measured on
/// 20 000 baseline draws).
const DRAW_ROW_BYTES: u64 = 51;
/// The size of draws.csv above which `--save-draws` needs `--force`.
const SAVE_DRAWS_LIMIT: u64 = 2_000_000_000;

fn parse_range(s: &str) -> Result<std::ops::Range<u64>, BadInput> {
    let bad = || {
        BadInput(format!(
            "--draw-range: found `{s}`; expected A..B with whole numbers A < B (for example 100..200)"
        ))
    };
    let (a, b) = s.split_once("..").ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
    if a >= b || b - a > minxinan::scenario::MAX_DRAWS {
        return Err(bad());
    }
    Ok(a..b)
}

/// `merge`: the parts checked ([`runner::partial::Parts::open`]), their scenario and region read
/// again and checked against the parts' checksums, then `run` with the parts' rows replayed.
fn merge(a: MergeArgs) -> Result<ExitCode> {
    if a.output.threads == Some(0) {
        bail!(BadInput("--threads: found 0; expected at least 1".into()));
    }
    let parts = runner::partial::Parts::open(&a.parts)?;
    let h = parts.header.clone();
    let region_path = h.region.manifest.as_ref().map(PathBuf::from);
    let region = load_region(region_path.as_deref())?;
    let first = a.parts[0].join(runner::partial::HEADER).display().to_string();
    if region.sha256 != h.region.sha256 {
        bail!(BadInput(format!(
            "{first}: `region.sha256`: the region ({}) has changed since the parts ran; merge with the region they ran on",
            h.region.manifest.as_deref().unwrap_or("embedded")
        )));
    }
    let args = RunArgs {
        scenario: PathBuf::from(&h.scenario.path),
        deterministic: false,
        save_draws: None,
        draw_range: None,
        save_inputs: false,
        force: false,
        partial: None,
        common: Common { draws: Some(h.draws), seed: Some(h.seed), output: a.output, strict: false },
    };
    run(&region, region_path.as_deref(), args, Some(&parts), None)
}

/// The ranks' sieve: [`runner::distributed::rank_sieve`], or as `MINXINAN_RANK_SIEVE=FIRST,Z`
/// says (a test's knob, docs/CLUSTER.md: narrow brackets make the ranks gather series again).
fn rank_sieve() -> Result<runner::SieveConfig> {
    let Ok(v) = std::env::var("MINXINAN_RANK_SIEVE") else { return Ok(runner::distributed::rank_sieve()) };
    let parsed = v.split_once(',').and_then(|(f, z)| Some((f.trim().parse().ok()?, z.trim().parse().ok()?)));
    match parsed {
        Some((first_stage, z)) if first_stage > 0 && z > 0.0 => Ok(runner::SieveConfig { first_stage, z }),
        _ => bail!(BadInput(format!(
            "MINXINAN_RANK_SIEVE: found `{v}`; expected FIRST,Z (draws of the first stage > 0, brackets' standard deviations > 0), e.g. 256,1"
        ))),
    }
}

/// `run`; with `parts`, the merge of partial runs: the draws' rows are read from the parts
/// instead of simulated, and the manifest says which parts. Under MPI (`world`), each rank runs
/// its share of the draws and rank 0 writes the outputs from the distributed summary
/// ([`runner::distributed`]).
fn run(
    region: &Region,
    region_path: Option<&Path>,
    mut a: RunArgs,
    parts: Option<&runner::partial::Parts>,
    world: Option<&super::World>,
) -> Result<ExitCode> {
    use minxinan::runner::distributed::Collective;
    // Progress and notes come from rank 0 (errors from any rank).
    if world.is_some_and(|w| w.rank() != 0) {
        a.common.output.quiet = true;
    }
    let started = SystemTime::now();
    let clock = Instant::now();
    let scenario = read_scenario(region, &a.scenario, a.common.output.quiet, a.common.strict)?;
    if let Some(p) = parts
        && scenario.sha256(region) != p.header.scenario.sha256
    {
        bail!(BadInput(format!(
            "{}: the scenario (or a file it extends) has changed since the parts ran (SHA-256 {} there, {} now)",
            a.scenario.display(),
            p.header.scenario.sha256,
            scenario.sha256(region)
        )));
    }
    let draws = a.common.draws.unwrap_or(scenario.draws);
    if draws == 0 || draws > minxinan::scenario::MAX_DRAWS {
        bail!(BadInput(format!("--draws: found {draws}; expected 1..={}", minxinan::scenario::MAX_DRAWS)));
    }
    let range = match &a.draw_range {
        Some(s) => {
            let r = parse_range(s)?;
            if r.end > draws {
                bail!(BadInput(format!(
                    "--draw-range {s}: the run has {draws} draws (0..{draws}); expected a range inside it (or --draws to run more)"
                )));
            }
            r
        }
        None => 0..draws,
    };
    if a.common.output.threads == Some(0) {
        bail!(BadInput("--threads: found 0; expected at least 1".into()));
    }
    let only: Option<Vec<Indicator>> = match a.save_draws.as_deref() {
        None | Some("") => None,
        Some(list) => Some(
            list.split(',')
                .map(|name| {
                    Indicator::from_name(name.trim()).ok_or_else(|| {
                        let hint =
                            minxinan::locate::suggest(name.trim(), &Indicator::names()).unwrap_or_default();
                        BadInput(format!("--save-draws: unknown indicator `{name}` {hint}"))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    if a.save_inputs && a.save_draws.is_none() {
        bail!(BadInput("--save-inputs: goes with --save-draws (the inputs of the draws it writes)".into()));
    }
    if world.is_some()
        && (a.partial.is_some() || a.draw_range.is_some() || a.save_draws.is_some() || a.deterministic)
    {
        bail!(BadInput(
            "under MPI a run spreads all its draws over the ranks: --partial, --draw-range, --save-draws and --deterministic are single-process options".into()
        ));
    }
    if a.partial.is_some() && (a.deterministic || a.save_draws.is_some()) {
        bail!(BadInput(
            "--partial: writes every outcome of its draws for `merge`; it goes with neither --deterministic nor --save-draws".into()
        ));
    }
    let seed = a.common.seed.unwrap_or(scenario.seed);
    let mut model = Model::new(region, &scenario)?;
    if !a.deterministic {
        condition_models(
            std::slice::from_mut(&mut model),
            seed,
            draws,
            a.common.output.threads,
            a.common.output.quiet,
        )?;
    }
    if a.save_draws.is_some() {
        let rows = (range.end - range.start)
            * model
                .layout
                .reported()
                .filter(|(_, _, i, _)| only.as_ref().is_none_or(|l| l.contains(i)))
                .count() as u64;
        let bytes = rows * DRAW_ROW_BYTES;
        if bytes > SAVE_DRAWS_LIMIT && !a.force {
            bail!(BadInput(format!(
                "--save-draws: draws.csv would hold {rows} rows, about {:.1} GB; name the indicators you need (--save-draws=gdp_real,population) or fewer draws, or add --force",
                bytes as f64 / 1e9
            )));
        }
    }
    let cfg = RunConfig {
        draws: range,
        seed,
        deterministic: a.deterministic,
        isa: isa(),
        memory_budget: memory_available(),
    };
    let n = cfg.run_draws().end - cfg.run_draws().start;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.common.output.threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let threads = pool.current_num_threads();
    let bar = progress_bar(a.common.output.quiet, n, scenario.name.clone());
    // draws.csv needs every draw kept; so does nothing else, and the runner summarises large
    // runs as the draws finish (exactly the same numbers, a fraction of the memory).
    let mut sink = Summaries::new(vec![&scenario.targets]);
    if a.save_draws.is_some() {
        sink = sink.keeping_draws();
    }
    let hooks = runner::Hooks { progress: &|k| bar.inc(k), cancelled: &super::interrupted };
    if let Some(dir) = &a.partial {
        let r = write_partial(&scenario, region, region_path, &a, &model, &cfg, &pool, hooks, dir);
        bar.finish_and_clear();
        r?;
        if !a.common.output.quiet {
            eprintln!(
                "{}: draws {}..{} of {draws} in {:.2} s → partial run {}",
                scenario.name,
                cfg.draws.start,
                cfg.draws.end,
                clock.elapsed().as_secs_f64(),
                dir.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The summary: over the ranks of an MPI job, or of this process's draws (or the parts' rows).
    let (summary, ens, freeing, ranks) = if let Some(w) = world {
        // This rank's share of the draws through the sieve; then the summary over the ranks,
        // which may ask for some series' keys in full (the draws run again, almost never).
        use runner::distributed::{KeysOf, RankSink, summarise};
        let cfg =
            RunConfig { draws: runner::distributed::rank_range(draws, w.size(), w.rank()), ..cfg.clone() };
        let sink = RankSink::new(&scenario.targets, rank_sieve()?);
        let local = pool.install(|| runner::run(&[&model], &cfg, sink, hooks))?;
        bar.finish_and_clear();
        let mut regather = |series: &[usize]| {
            let keys = runner::partial::InOrder::new(KeysOf::new(series, model.layout.len()));
            let hooks = runner::Hooks { progress: &|_| {}, cancelled: &super::interrupted };
            let again = pool.install(|| runner::run(&[&model], &cfg, keys, hooks))?;
            Ok(again.expect("keys kept in memory"))
        };
        let summary = summarise(local, model.layout, &scenario.targets, draws, w, &mut regather)?;
        let Some(summary) = summary else {
            return Ok(ExitCode::SUCCESS);
        };
        if summary.regathered > 0 && !a.common.output.quiet {
            eprintln!(
                "note: {} series were gathered again in full (the ranks' sieves did not hold their quantiles); the numbers are exact either way",
                summary.regathered
            );
        }
        (summary, None, Freeing::none(), Some(w.size()))
    } else {
        let mut outcomes = match parts {
            Some(p) => pool.install(|| runner::replay(&[&model], &cfg, sink, hooks, p))?,
            None => pool.install(|| runner::run(&[&model], &cfg, sink, hooks))?,
        };
        bar.finish_and_clear();
        let mut summary = outcomes.summaries.remove(0);
        if let Some(p) = parts {
            // The rows' diagnostics were counted when the parts ran.
            summary.diagnostics = p.diagnostics;
        }
        // Only draws.csv needs the draws after the summary; giving them back overlaps the writing.
        if a.save_draws.is_some() {
            (summary, outcomes.kept.pop(), Freeing::none(), None)
        } else {
            (summary, None, Freeing::start(outcomes.kept), None)
        }
    };
    let written = write_run(Finished {
        region,
        a: &a,
        scenario: &scenario,
        model: &model,
        summary: &summary,
        cfg: &cfg,
        threads,
        started,
        clock,
        ens: ens.as_ref(),
        only: only.as_deref(),
        merged: parts.map(|p| p.ranges()),
        ranks,
    });
    freeing.join();
    written
}

/// What a run's output files are made from.
struct Finished<'a> {
    region: &'a Region,
    a: &'a RunArgs,
    scenario: &'a Scenario,
    model: &'a Model,
    summary: &'a minxinan::stats::Summary,
    cfg: &'a RunConfig,
    threads: usize,
    started: SystemTime,
    clock: Instant,
    /// Every draw, for draws.csv.
    ens: Option<&'a minxinan::stats::Ensemble>,
    /// draws.csv's indicators.
    only: Option<&'a [Indicator]>,
    /// The parts of a merge.
    merged: Option<Vec<(PathBuf, std::ops::Range<u64>)>>,
    /// The ranks of an MPI run.
    ranks: Option<usize>,
}

/// Write a run's output files (through a staging folder) and say where.
fn write_run(f: Finished<'_>) -> Result<ExitCode> {
    let Finished {
        region,
        a,
        scenario,
        model,
        summary,
        cfg,
        threads,
        started,
        clock,
        ens,
        only,
        merged,
        ranks,
    } = f;
    let seed = cfg.seed;
    let out_dir = a.common.output.out.clone().unwrap_or_else(|| PathBuf::from("out").join(&scenario.name));
    let staging = Staging::new(&out_dir)?;
    let mut files = OutFiles::new();
    let mut put = |name: &str, text: String, bom: bool| keep(&staging, &mut files, name, text, bom);
    put("summary.csv", output::summary_csv(&scenario.name, region, summary), a.common.output.excel)?;
    put("entities.csv", output::entities_csv(region), a.common.output.excel)?;
    put("pyramids.csv", output::pyramids_csv(&scenario.name, region, summary), a.common.output.excel)?;
    let record = model.history.as_ref().map(|h| h.restatement.as_slice());
    put("targets.csv", output::targets_csv(scenario, region, summary, record), a.common.output.excel)?;
    if let (Some(h), Some(m)) = (&scenario.history, &model.history) {
        let uses = minxinan::model::history::uses(region, h, m);
        put("observed.csv", output::observed_csv(scenario, region, summary, &uses), a.common.output.excel)?;
    }
    if !scenario.parks.is_empty() {
        put("parks.csv", output::parks_csv(scenario, region, summary), a.common.output.excel)?;
    }
    if let (Some(ens), true) = (ens, a.save_draws.is_some()) {
        let path = staging.path("draws.csv");
        let f = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = std::io::BufWriter::new(f);
        if a.common.output.excel {
            w.write_all(output::BOM.as_bytes())?;
        }
        output::write_draws_csv(&mut w, region, ens, only)?;
        w.flush()?;
    }
    if a.save_inputs {
        let rows = cfg.run_draws().map(|k| -> Result<_> {
            let inputs = match (&model.conditioned, cfg.deterministic) {
                (Some(c), false) => runner::history::planned_inputs(model, c, seed, k)?,
                _ => minxinan::model::inputs::sampled(model, seed, k, cfg.deterministic)?,
            };
            Ok((k, inputs))
        });
        let rows: Vec<_> = rows.collect::<Result<_>>()?;
        put("inputs.csv", output::inputs_csv(model, &rows), a.common.output.excel)?;
    }
    let commit = env!("MINXINAN_GIT_COMMIT");
    let info = output::RunInfo {
        scenario_path: &a.scenario.display().to_string(),
        threads,
        started_at: &rfc3339(started),
        elapsed_seconds: clock.elapsed().as_secs_f64(),
        deterministic: cfg.deterministic,
        git_commit: (!commit.is_empty()).then_some(commit),
        seed,
        history: model.history.as_ref(),
        conditioned: model.conditioned.as_deref(),
        merged,
        ranks,
    };
    put("manifest.json", output::manifest_json(scenario, region, summary, &info), false)?;
    finish(staging, &files, &a.common)?;
    if !a.common.output.quiet {
        eprintln!(
            "{}: {} draws in {:.2} s → {}",
            scenario.name,
            summary.n_draws(),
            clock.elapsed().as_secs_f64(),
            out_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `run --partial DIR`: the draws' rows into DIR/rows.bin and its header DIR/partial.json,
/// through a staging folder (nothing partial is left if the run fails or is interrupted).
#[allow(clippy::too_many_arguments)]
fn write_partial(
    scenario: &Scenario,
    region: &Region,
    region_path: Option<&Path>,
    a: &RunArgs,
    model: &Model,
    cfg: &RunConfig,
    pool: &rayon::ThreadPool,
    hooks: runner::Hooks<'_>,
    dir: &Path,
) -> Result<()> {
    use runner::partial::{
        FORMAT, HEADER, Hashed, Header, InOrder, ROWS, RegionRef, ScenarioRef, VERSION, engine_id,
    };
    let absolute =
        |p: &Path| std::fs::canonicalize(p).with_context(|| format!("cannot resolve {}", p.display()));
    let staging = Staging::new(dir)?;
    let path = staging.path(ROWS);
    let f = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let sink = InOrder::new(Hashed::new(std::io::BufWriter::with_capacity(1 << 20, f)));
    let (written, _) = pool
        .install(|| runner::run(&[model], cfg, sink, hooks))?
        .with_context(|| format!("cannot write {}", path.display()))?;
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        engine: engine_id(env!("MINXINAN_GIT_COMMIT")),
        scenario: ScenarioRef {
            name: scenario.name.clone(),
            path: absolute(&a.scenario)?.display().to_string(),
            sha256: scenario.sha256(region),
        },
        region: RegionRef {
            manifest: region_path.map(absolute).transpose()?.map(|p| p.display().to_string()),
            sha256: region.sha256.clone(),
        },
        seed: cfg.seed,
        draws: a.common.draws.unwrap_or(scenario.draws),
        range: [cfg.draws.start, cfg.draws.end],
        row_len: model.layout.len(),
        rows_bytes: written.bytes,
        rows_sha256: written.sha256,
        diagnostics: written.diagnostics.0.to_vec(),
    };
    let text = serde_json::to_string_pretty(&header).context("cannot write the header")? + "\n";
    staging.write(HEADER, &text, false)?;
    if super::interrupted() {
        bail!("interrupted");
    }
    staging.commit()
}

/// A large value being freed on a thread of its own: returning hundreds of MB of outcomes to the
/// system takes 10–20 ms, which then overlaps the writing of the output files.
struct Freeing(Option<std::thread::JoinHandle<()>>);

impl Freeing {
    /// Nothing being freed.
    fn none() -> Self {
        Freeing(None)
    }

    /// Free `value` on a new thread (or here, should no thread start).
    fn start<T: Send + 'static>(value: T) -> Self {
        Freeing(std::thread::Builder::new().name("free".into()).spawn(move || drop(value)).ok())
    }

    /// Wait until the value is freed.
    fn join(self) {
        if let Some(h) = self.0 {
            // Dropping outcomes cannot panic; should it, there is nothing left to clean up.
            let _ = h.join();
        }
    }
}

/// The memory available now (MemAvailable of /proc/meminfo, where the system gives it): the
/// runner's budget, so that a run too large is refused before it starts instead of being killed
/// half-way.
fn memory_available() -> u64 {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    });
    available.map_or(u64::MAX, |kb| kb.saturating_mul(1024))
}

/// Write an output file into the staging folder and keep its text for the report.
fn keep(staging: &Staging, files: &mut OutFiles, name: &str, text: String, bom: bool) -> Result<()> {
    staging.write(name, &text, bom)?;
    files.insert(name.to_string(), text);
    Ok(())
}

/// The end of a run or comparison: the report (unless skipped) and the workbook (when asked
/// for), then — if no signal asked to stop — the staging folder replaces the output folder.
fn finish(staging: Staging, files: &OutFiles, common: &super::args::Common) -> Result<()> {
    if !common.output.no_report {
        write_report(&staging, files)?;
    }
    if common.output.xlsx {
        let bytes =
            output::xlsx::build(files).map_err(|e| anyhow::anyhow!("cannot build the workbook: {e}"))?;
        let path = staging.path("results.xlsx");
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if super::interrupted() {
        bail!("interrupted");
    }
    staging.commit()
}

/// The report of an output folder's files: a sensitivity study's, or a run's, comparison's or
/// backtest's.
fn build_report(files: &OutFiles) -> Result<report::Report, String> {
    if files.contains_key("sensitivity.csv") {
        output::sensitivity::build_report(files)
    } else {
        report::build(files)
    }
}

/// Build the report from the output texts and write `report.html` and `charts/` into the staging
/// folder.
fn write_report(staging: &Staging, files: &OutFiles) -> Result<()> {
    let rep = build_report(files).map_err(|e| anyhow::anyhow!("cannot build the report: {e}"))?;
    std::fs::create_dir_all(staging.path("charts"))?;
    for (name, svg) in &rep.charts {
        staging.write(&format!("charts/{name}.svg"), svg, false)?;
    }
    staging.write("report.html", &rep.html, false)
}

fn progress_bar(quiet: bool, n: u64, msg: String) -> indicatif::ProgressBar {
    if !quiet && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(n);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:40}] {pos}/{len} draws, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b.set_message(msg);
        b
    } else {
        indicatif::ProgressBar::hidden()
    }
}

fn compare(region: &Region, a: CompareArgs) -> Result<ExitCode> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let scenarios: Vec<Scenario> = a
        .scenarios
        .iter()
        .map(|p| read_scenario(region, p, a.common.output.quiet, a.common.strict))
        .collect::<Result<_>>()?;
    let base = &scenarios[0];
    for (s, path) in scenarios.iter().zip(&a.scenarios).skip(1) {
        for (what, b, v) in [
            ("horizon", base.horizon as u64, s.horizon as u64),
            ("draws", base.draws, s.draws),
            ("seed", base.seed, s.seed),
        ] {
            if b != v {
                bail!(BadInput(format!(
                    "{}: {what} = {v} differs from the base scenario's {what} = {b}; every scenario of a comparison runs with the base's horizon, draws and seed",
                    path.display()
                )));
            }
        }
    }
    let seed = a.common.seed.unwrap_or(base.seed);
    let mut models: Vec<Model> = scenarios.iter().map(|s| Model::new(region, s)).collect::<Result<_, _>>()?;
    let draws = a.common.draws.unwrap_or(base.draws);
    condition_models(&mut models, seed, draws, a.common.output.threads, a.common.output.quiet)?;
    // Every target of every scenario on every scenario.
    let (targets, target_warnings) = minxinan::scenario::union_targets(&scenarios.iter().collect::<Vec<_>>());
    if !a.common.output.quiet {
        for w in &target_warnings {
            eprintln!("warning: {w}");
        }
    }
    // Every scenario on the same draws; large comparisons are summarised as the draws finish
    // (the same numbers, a fraction of the memory).
    let sink = Summaries::new(vec![targets.as_slice(); scenarios.len()]);
    let models: Vec<&Model> = models.iter().collect();
    let (outcomes, draws, threads) = run_together(&a.common, base.draws, seed, &models, sink, "compare")?;
    let (stats, diffs, pairs) = (outcomes.summaries, outcomes.diffs, outcomes.target_pairs);
    let freeing = Freeing::start(outcomes.kept);
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    let out_dir = a
        .common
        .output
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("compare-{}", names.join("-vs-"))));
    let staging = Staging::new(&out_dir)?;
    let mut files = OutFiles::new();
    let mut put = |name: &str, text: String, bom: bool| keep(&staging, &mut files, name, text, bom);
    let each =
        |f: &dyn Fn(usize) -> String| output::concat_csv(&(0..scenarios.len()).map(f).collect::<Vec<_>>());
    put(
        "summary.csv",
        each(&|k| output::summary_csv(&scenarios[k].name, region, &stats[k])),
        a.common.output.excel,
    )?;
    let runs: Vec<output::CompareRun<'_>> = (0..scenarios.len())
        .map(|k| output::CompareRun {
            scenario: &scenarios[k],
            summary: &stats[k],
            record: models[k].history.as_ref().map(|h| h.restatement.as_slice()),
            pairs: k.checked_sub(1).map(|a| pairs[a].as_slice()),
        })
        .collect();
    put("targets.csv", output::compare_targets_csv(&runs, &targets, region), a.common.output.excel)?;
    let with_history: Vec<usize> = (0..scenarios.len()).filter(|&k| models[k].history.is_some()).collect();
    if !with_history.is_empty() {
        let parts: Vec<String> = with_history
            .iter()
            .map(|&k| {
                let (h, m) = (scenarios[k].history.as_ref(), models[k].history.as_ref());
                let uses = h.zip(m).map(|(h, m)| minxinan::model::history::uses(region, h, m));
                output::observed_csv(&scenarios[k], region, &stats[k], &uses.unwrap_or_default())
            })
            .collect();
        put("observed.csv", output::concat_csv(&parts), a.common.output.excel)?;
    }
    put(
        "pyramids.csv",
        each(&|k| output::pyramids_csv(&scenarios[k].name, region, &stats[k])),
        a.common.output.excel,
    )?;
    put("entities.csv", output::entities_csv(region), a.common.output.excel)?;
    let with_parks: Vec<usize> = (0..scenarios.len()).filter(|k| !scenarios[*k].parks.is_empty()).collect();
    if !with_parks.is_empty() {
        let parts: Vec<String> =
            with_parks.iter().map(|&k| output::parks_csv(&scenarios[k], region, &stats[k])).collect();
        put("parks.csv", output::concat_csv(&parts), a.common.output.excel)?;
    }
    let mut cmp = String::from(output::COMPARE_HEADER);
    for k in 1..scenarios.len() {
        cmp.push_str(&output::compare_csv(names[0], names[k], region, &stats[0], &stats[k], &diffs[k - 1]));
    }
    put("compare.csv", cmp, a.common.output.excel)?;
    let commit = env!("MINXINAN_GIT_COMMIT");
    let started_at = rfc3339(started);
    let paths: Vec<String> = a.scenarios.iter().map(|p| p.display().to_string()).collect();
    let elapsed = clock.elapsed().as_secs_f64();
    let runs: Vec<_> = (0..scenarios.len())
        .map(|k| {
            let info = output::RunInfo {
                scenario_path: &paths[k],
                threads,
                started_at: &started_at,
                elapsed_seconds: elapsed,
                deterministic: false,
                git_commit: (!commit.is_empty()).then_some(commit),
                seed,
                history: models[k].history.as_ref(),
                conditioned: models[k].conditioned.as_deref(),
                merged: None,
                ranks: None,
            };
            (&scenarios[k], &stats[k], info)
        })
        .collect();
    put("manifest.json", output::compare_manifest_json(&runs, region, &target_warnings), false)?;
    finish(staging, &files, &a.common)?;
    freeing.join();
    if !a.common.output.quiet {
        eprintln!(
            "compared {} on {draws} paired draws in {:.2} s → {}",
            names.join(", "),
            clock.elapsed().as_secs_f64(),
            out_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The history pass (docs/MODEL.md §12) of every history-mode model, for a run of `draws`
/// draws, on `threads` worker threads: each model then takes its draws' inputs and observed
/// years from its pool. Its warnings go to stderr (unless quiet) and are returned.
fn condition_models(
    models: &mut [Model],
    seed: u64,
    draws: u64,
    threads: Option<usize>,
    quiet: bool,
) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    if models.iter().all(|m| m.conditioning().is_none()) {
        return Ok(warnings);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    // Scenarios that differ only in their levers (which act after `until`) share one history
    // pass: the same particles, each output draw with its own lever quantities.
    let mut done: Vec<(String, std::sync::Arc<minxinan::model::condition::Conditioned>)> = Vec::new();
    for m in models.iter_mut().filter(|m| m.conditioning().is_some()) {
        let key = m.history_key();
        if let Some((_, c)) = done.iter().find(|(k, _)| *k == key) {
            m.conditioned = Some(c.clone());
            continue;
        }
        let settings =
            runner::history::HistorySettings::for_run(draws, m.history.as_ref().and_then(|h| h.pool));
        let c = pool.install(|| runner::history::condition(m, seed, &settings, &super::interrupted))?;
        if !quiet {
            let ess: Vec<String> = c.years.iter().map(|y| format!("{} {:.0}", y.year, y.ess)).collect();
            let distinct = c.years.last().map_or(c.particles.len(), |y| y.distinct);
            eprintln!(
                "history: conditioned on {} observed years, pool {}; effective sample size by year: {}; {} distinct after the moves",
                c.years.len(),
                c.particles.len(),
                ess.join(", "),
                distinct
            );
        }
        for w in &c.warnings {
            if !quiet {
                eprintln!("warning: {w}");
            }
            warnings.push(w.clone());
        }
        let c = std::sync::Arc::new(c);
        done.push((key, c.clone()));
        m.conditioned = Some(c);
    }
    Ok(warnings)
}

/// Run `models` on the same draws (the command line's `--draws`, else `default_draws`) into
/// `sink`, on the worker threads `--threads` asks for, with a progress bar: the runner's output,
/// the draws and the threads.
fn run_together<S: runner::Sink + Send>(
    common: &super::args::Common,
    default_draws: u64,
    seed: u64,
    models: &[&Model],
    sink: S,
    label: &str,
) -> Result<(S::Output, u64, usize)>
where
    S::Output: Send,
{
    let draws = common.draws.unwrap_or(default_draws);
    if draws == 0 || draws > minxinan::scenario::MAX_DRAWS {
        bail!(BadInput(format!("--draws: found {draws}; expected 1..={}", minxinan::scenario::MAX_DRAWS)));
    }
    if common.output.threads == Some(0) {
        bail!(BadInput("--threads: found 0; expected at least 1".into()));
    }
    let cfg = RunConfig {
        draws: 0..draws,
        seed,
        deterministic: false,
        isa: isa(),
        memory_budget: memory_available(),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(common.output.threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let bar = progress_bar(common.output.quiet, draws * models.len() as u64, label.into());
    let hooks = runner::Hooks { progress: &|k| bar.inc(k), cancelled: &super::interrupted };
    let outcomes = pool.install(|| runner::run(models, &cfg, sink, hooks))?;
    bar.finish_and_clear();
    Ok((outcomes, draws, pool.current_num_threads()))
}

/// `backtest`: the scenario conditioned on the observations up to `until` (`history`) and
/// without history (`plan-era`) on the same draws, every later observation scored against
/// both and the naive forecast (docs/MODEL.md §11.5).
fn backtest(region: &Region, a: BacktestArgs) -> Result<ExitCode> {
    use minxinan::scenario::HistoryMode;
    use minxinan::stats::backtest;
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut cond = Scenario::load_as(&a.scenario, &read_file, region, HistoryMode::Until(a.until))?;
    let mut plan = Scenario::load_as(&a.scenario, &read_file, region, HistoryMode::Off)?;
    warn(&cond, a.common.output.quiet, a.common.strict)?;
    let name = cond.name.clone();
    cond.name = "history".into();
    plan.name = "plan-era".into();
    let h = cond.history.clone().context("history mode is on")?;
    let last = h.observations.rows.iter().map(|o| o.year).max().unwrap_or(a.until).min(cond.horizon);
    let targets = backtest::targets(&h, a.until, last);
    if targets.is_empty() {
        bail!(BadInput(format!(
            "--until {}: no observation after it to score (the observations end in {last})",
            a.until
        )));
    }
    let seed = a.common.seed.unwrap_or(cond.seed);
    let mut models = [Model::new(region, &cond)?, Model::new(region, &plan)?];
    let draws = a.common.draws.unwrap_or(cond.draws);
    condition_models(&mut models, seed, draws, a.common.output.threads, a.common.output.quiet)?;
    let sink = Summaries::new(vec![&cond.targets, &plan.targets]).keeping_draws();
    let refs: Vec<&Model> = models.iter().collect();
    let (outcomes, _, threads) = run_together(&a.common, cond.draws, seed, &refs, sink, "backtest")?;
    let (stats, kept) = (outcomes.summaries, outcomes.kept);
    let mut scored = backtest::score_ensemble("history", &kept[0], &targets);
    scored.extend(backtest::score_ensemble("plan-era", &kept[1], &targets));
    scored.extend(backtest::score_naive(&h, a.until, &targets));
    let freeing = Freeing::start(kept);

    let out_dir = a
        .common
        .output
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("backtest-{name}-{}", a.until)));
    let staging = Staging::new(&out_dir)?;
    let mut files = OutFiles::new();
    let mut put = |name: &str, text: String, bom: bool| keep(&staging, &mut files, name, text, bom);
    let both = |f: &dyn Fn(&Scenario, &minxinan::stats::Summary) -> String| {
        output::concat_csv(&[f(&cond, &stats[0]), f(&plan, &stats[1])])
    };
    put("summary.csv", both(&|s, st| output::summary_csv(&s.name, region, st)), a.common.output.excel)?;
    put("entities.csv", output::entities_csv(region), a.common.output.excel)?;
    put("pyramids.csv", both(&|s, st| output::pyramids_csv(&s.name, region, st)), a.common.output.excel)?;
    let record = models[0].history.as_ref().map(|m| m.restatement.as_slice());
    let targets_csv = output::concat_csv(&[
        output::targets_csv(&cond, region, &stats[0], record),
        output::targets_csv(&plan, region, &stats[1], None),
    ]);
    put("targets.csv", targets_csv, a.common.output.excel)?;
    if let Some(m) = &models[0].history {
        let uses = minxinan::model::history::uses(region, &h, m);
        put("observed.csv", output::observed_csv(&cond, region, &stats[0], &uses), a.common.output.excel)?;
    }
    put("backtest.csv", output::backtest_csv(region, a.until, &scored), a.common.output.excel)?;
    put("backtest_summary.csv", output::backtest_summary_csv(&scored), a.common.output.excel)?;
    put("backtest_horizons.csv", output::backtest_horizons_csv(&scored, a.until), a.common.output.excel)?;
    let commit = env!("MINXINAN_GIT_COMMIT");
    let path = a.scenario.display().to_string();
    let started_at = rfc3339(started);
    let runs: Vec<_> = [(&cond, 0), (&plan, 1)]
        .into_iter()
        .map(|(s, k)| {
            let info = output::RunInfo {
                scenario_path: &path,
                threads,
                started_at: &started_at,
                elapsed_seconds: clock.elapsed().as_secs_f64(),
                deterministic: false,
                git_commit: (!commit.is_empty()).then_some(commit),
                seed,
                history: models[k].history.as_ref(),
                conditioned: models[k].conditioned.as_deref(),
                merged: None,
                ranks: None,
            };
            (s, &stats[k], info)
        })
        .collect();
    put("manifest.json", output::backtest_manifest_json(&runs, region, a.until, targets.len()), false)?;
    finish(staging, &files, &a.common)?;
    freeing.join();
    if !a.common.output.quiet {
        eprintln!(
            "backtest of {name} until {}: {} observations scored in {:.2} s → {}",
            a.until,
            targets.len(),
            clock.elapsed().as_secs_f64(),
            out_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `sensitivity`: the Saltelli design over the scenario without its history (docs/SENSITIVITY.md),
/// written as sensitivity.csv, convergence.csv, manifest.json and the report.
fn sensitivity(region: &Region, a: SensitivityArgs) -> Result<ExitCode> {
    use minxinan::scenario::HistoryMode;
    use minxinan::sensitivity::{self as sa, Design};
    let started = SystemTime::now();
    let clock = Instant::now();
    let scenario = Scenario::load_as(&a.scenario, &read_file, region, HistoryMode::Off)?;
    warn(&scenario, a.quiet, a.strict)?;
    if a.samples < sa::MIN_SAMPLES || a.samples > 1 << 24 {
        bail!(BadInput(format!(
            "--samples {}: expected {} to {} base samples (the convergence table needs N/8 ≥ 8)",
            a.samples,
            sa::MIN_SAMPLES,
            1u64 << 24
        )));
    }
    let indicators = match &a.indicators {
        None => minxinan::indicators::INDICATORS.to_vec(),
        Some(list) => list
            .split(',')
            .map(|n| {
                Indicator::from_name(n.trim()).ok_or_else(|| {
                    let names = Indicator::names();
                    let hint = minxinan::locate::suggest(n.trim(), &names)
                        .map_or(String::new(), |s| format!("; {s}"));
                    BadInput(format!(
                        "--indicators: no indicator `{}` (expected one of {}){hint}",
                        n.trim(),
                        names.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let model = Model::new(region, &scenario)?;
    let inputs = match &a.groups {
        None => minxinan::model::inputs::sensitivity_inputs(&model),
        Some(p) => {
            let text = read_file(p).map_err(|e| BadInput(format!("{}: {e}", p.display())))?;
            sa::groups::regroup(&model, &p.display().to_string(), &text)?
        }
    };
    if inputs.is_empty() {
        bail!(BadInput(format!(
            "{}: no uncertain input (every parameter is fixed): nothing to analyse",
            a.scenario.display()
        )));
    }
    let design = Design {
        samples: a.samples,
        seed: a.seed.unwrap_or(scenario.seed),
        inputs,
        replicates: sa::REPLICATES,
    };
    let outputs = sa::outputs(&model, &indicators);
    let out_dir =
        a.out.clone().unwrap_or_else(|| PathBuf::from("out").join(format!("sensitivity-{}", scenario.name)));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let bar = progress_bar(a.quiet, design.draws(), "sensitivity".into());
    let hooks = runner::Hooks { progress: &|k| bar.inc(k), cancelled: &super::interrupted };
    let analysis =
        pool.install(|| sa::analyse(&model, &design, &outputs, isa(), memory_available(), hooks))?;
    bar.finish_and_clear();
    let warnings = output::sensitivity::warnings(region, &analysis);
    let staging = Staging::new(&out_dir)?;
    let mut files = OutFiles::new();
    let mut put = |name: &str, text: String, bom: bool| keep(&staging, &mut files, name, text, bom);
    put("sensitivity.csv", output::sensitivity::sensitivity_csv(region, &analysis), a.excel)?;
    put("convergence.csv", output::sensitivity::convergence_csv(region, &analysis), a.excel)?;
    put("entities.csv", output::entities_csv(region), a.excel)?;
    let elapsed = clock.elapsed().as_secs_f64();
    let manifest = output::sensitivity::manifest_json(
        &scenario,
        region,
        &analysis,
        &a.scenario.display().to_string(),
        a.groups.as_ref().map(|p| p.display().to_string()).as_deref(),
        pool.current_num_threads(),
        &rfc3339(started),
        elapsed,
        &warnings,
    );
    put("manifest.json", manifest, false)?;
    if !a.no_report {
        write_report(&staging, &files)?;
    }
    if super::interrupted() {
        bail!("interrupted");
    }
    staging.commit()?;
    if !a.quiet {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        eprintln!(
            "sensitivity of {}: N = {}, {} inputs, {} draws in {:.2} s ({:.0} draws/s), history off → {}",
            scenario.name,
            design.samples,
            design.inputs.len(),
            design.draws(),
            clock.elapsed().as_secs_f64(),
            design.draws() as f64 / elapsed.max(1e-9),
            out_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn report(a: ReportArgs) -> Result<ExitCode> {
    let dir = &a.dir;
    if !dir.join("summary.csv").exists() && !dir.join("sensitivity.csv").exists() {
        bail!(BadInput(format!(
            "{}: no summary.csv or sensitivity.csv; expected a folder written by `run`, `compare`, `backtest` or `sensitivity`",
            dir.display()
        )));
    }
    let mut files = OutFiles::new();
    for name in report::INPUTS.iter().chain(&["sensitivity.csv"]) {
        let p = dir.join(name);
        if p.exists() {
            files.insert(
                name.to_string(),
                std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?,
            );
        }
    }
    let rep = build_report(&files).map_err(|e| BadInput(format!("{}: {e}", dir.display())))?;
    // Charts: a new folder that replaces the old one; then the page.
    let staging = Staging::new(&dir.join("charts"))?;
    for (name, svg) in &rep.charts {
        staging.write(&format!("{name}.svg"), svg, false)?;
    }
    if super::interrupted() {
        bail!("interrupted");
    }
    staging.commit()?;
    write_atomic(&dir.join("report.html"), rep.html.as_bytes())?;
    eprintln!("wrote {} and {} charts", dir.join("report.html").display(), rep.charts.len());
    Ok(ExitCode::SUCCESS)
}

fn validate(region: &Region, a: ValidateArgs) -> Result<ExitCode> {
    let mut failed = 0;
    let mut stdout = std::io::stdout().lock();
    for path in &a.scenarios {
        match read_scenario(region, path, false, a.strict)
            .and_then(|s| Model::new(region, &s).map(|_| s).map_err(Into::into))
        {
            Ok(s) => {
                if a.resolved {
                    writeln!(stdout, "# {}\n{}", path.display(), s.to_toml(region))?;
                } else {
                    writeln!(
                        stdout,
                        "{}: ok ({}, horizon {}, {} draws, seed {})",
                        path.display(),
                        s.name,
                        s.horizon,
                        s.draws,
                        s.seed
                    )?;
                }
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!(BadInput(format!("{failed} of {} scenario files are invalid", a.scenarios.len())));
    }
    Ok(ExitCode::SUCCESS)
}

fn info(region: &Region, a: InfoArgs) -> Result<ExitCode> {
    if let Some(dir) = &a.export_region {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, text) in embedded::FILES {
            write_atomic(&dir.join(name), text.as_bytes())?;
        }
        eprintln!("wrote the embedded region ({} files) to {}", embedded::FILES.len(), dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut o = std::io::stdout().lock();
    if a.parameters {
        writeln!(
            o,
            "{:<32} {:<8} {:<44} {:<30} {:<14} {:<14} basis",
            "name", "symbol", "default", "unit", "domain", "plausible"
        )?;
        for p in minxinan::params::PARAMS {
            let def = p.default.to_uncertain().to_toml();
            writeln!(
                o,
                "{:<32} {:<8} {:<44} {:<30} {:<14} {:<14} {}",
                p.name,
                p.symbol,
                def,
                p.unit,
                p.domain.to_string(),
                format!("{}–{}", p.plausible.0, p.plausible.1),
                p.basis
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(o, "region {} (base year {}), sha256 {}", region.name, region.base_year, region.sha256)?;
    writeln!(o, "\ncities:")?;
    for c in &region.cities {
        writeln!(
            o,
            "  {:<10} {} {:<10} population {:>6} (10k), GDP {:>9} (100M CNY), urbanization {:>5.1} %, {}",
            c.id,
            c.name_zh,
            c.name_en,
            c.population,
            c.gdp,
            c.urbanization * 100.0,
            if c.coastal { "coastal" } else { "mountain" }
        )?;
    }
    writeln!(o, "\nexternal nodes (market access only):")?;
    for nd in &region.nodes {
        writeln!(o, "  {:<10} {} {} (mass {})", nd.id, nd.name_zh, nd.name_en, nd.mass)?;
    }
    writeln!(o, "\nprojects (on unless a scenario disables them):")?;
    for p in &region.projects {
        let delay = p.delay.as_ref().unwrap_or(&region.delay_by_stage[p.stage as usize]);
        writeln!(
            o,
            "  {:<24} {:<10} {:<12} planned {} delay {}  {}",
            p.id,
            p.kind,
            p.stage.name(),
            p.open_year,
            delay,
            p.name
        )?;
    }
    writeln!(o, "\nparks (off unless a scenario enables them):")?;
    for p in &region.parks {
        writeln!(
            o,
            "  {:<20} host {:<10} partner {:<10} from {} value added {}  {}",
            p.id, region.cities[p.host].id, region.cities[p.partner].id, p.start, p.value_added, p.name
        )?;
    }
    writeln!(o, "\nplan targets:")?;
    for t in &region.targets {
        writeln!(
            o,
            "  {:<26} {} {} {} {} {}",
            t.name,
            region.entity_id(t.entity),
            t.year,
            t.indicator.name(),
            t.comparison.name(),
            t.threshold
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// RFC 3339 UTC time of a system time (seconds precision).
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}
