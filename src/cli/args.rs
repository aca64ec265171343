//! Command-line arguments (INTERFACE.md "Commands").

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Projections of GDP, population and urbanization for the Southwest Fujian Coordinated
/// Development Zone (闽西南协同发展区), with Monte Carlo uncertainty bands.
#[derive(Parser, Debug)]
#[command(name = "minxinan", version, about, long_about = None)]
pub struct Cli {
    /// A region manifest (region.toml) replacing the embedded default region.
    #[arg(long, global = true, value_name = "FILE")]
    pub region: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario: simulate the draws and write summary.csv, targets.csv, manifest.json.
    Run(RunArgs),
    /// Put partial runs (`run --draw-range A..B --partial DIR`) together: the outputs of the
    /// single run of all their draws, byte for byte.
    Merge(MergeArgs),
    /// Run a base scenario and alternatives on the same (paired) draws and compare them.
    Compare(CompareArgs),
    /// Condition a scenario on the observations up to a year, project, and score every later
    /// observation against the plan-era run and a naive forecast.
    Backtest(BacktestArgs),
    /// Which uncertain input drives each band: Sobol' first-order and total indices of every
    /// entity × year × indicator, with the history off (the scenario's prior).
    Sensitivity(SensitivityArgs),
    /// Check scenario files without running them.
    Validate(ValidateArgs),
    /// Rebuild report.html and charts/ of a run or comparison folder.
    Report(ReportArgs),
    /// Show the region, its projects, parks and targets, or the parameter table.
    Info(InfoArgs),
}

/// `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// One draw with every parameter at its central value and no shocks.
    #[arg(long)]
    pub deterministic: bool,
    /// Write every draw to draws.csv (optionally only the listed indicators).
    #[arg(long, value_name = "IND,IND...", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub save_draws: Option<String>,
    /// Run only draws A..B (half-open), each identical to the same draw of a full run.
    #[arg(long, value_name = "A..B")]
    pub draw_range: Option<String>,
    /// With --save-draws: write inputs.csv as well, each draw's sampled parameters, migration
    /// offsets and project opening years (one row per draw).
    #[arg(long)]
    pub save_inputs: bool,
    /// Write draws.csv even when it would exceed 2 GB.
    #[arg(long)]
    pub force: bool,
    /// Write a partial run to DIR instead of the outputs: every outcome of the draws (of
    /// --draw-range, else all), for `minxinan merge` (docs/CLUSTER.md).
    #[arg(long, value_name = "DIR")]
    pub partial: Option<PathBuf>,
    /// Draws, seed, output and report options.
    #[command(flatten)]
    pub common: Common,
}

/// `merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The part folders written by `run --draw-range A..B --partial DIR` (any order).
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Output and report options.
    #[command(flatten)]
    pub output: Output,
}

/// Options shared by `run` and `compare`.
#[derive(Args, Debug)]
pub struct Common {
    /// Number of draws (default: the scenario's, else 10000).
    #[arg(long)]
    pub draws: Option<u64>,
    /// Seed (default: the scenario's, else 20181231).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output and report options.
    #[command(flatten)]
    pub output: Output,
    /// Refuse implausible values (a parameter or target threshold outside its plausible range),
    /// which are otherwise warnings.
    #[arg(long)]
    pub strict: bool,
}

/// Where and how a run's files are written: shared by `run`, `compare` and `merge`.
#[derive(Args, Debug)]
pub struct Output {
    /// Output folder (default: out/<scenario name>/, or out/compare-<base>-vs-<alt>…/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Skip the HTML report and charts.
    #[arg(long)]
    pub no_report: bool,
    /// Write CSV files with a UTF-8 byte-order mark (for Excel).
    #[arg(long)]
    pub excel: bool,
    /// Also write results.xlsx: the targets, a sheet per headline indicator, and a comparison's
    /// differences.
    #[arg(long)]
    pub xlsx: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The base scenario, then one or more alternatives.
    #[arg(required = true, num_args = 2..)]
    pub scenarios: Vec<PathBuf>,
    /// Draws, seed, output and report options.
    #[command(flatten)]
    pub common: Common,
}

/// `backtest`.
#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// The scenario file (its `[history]`, or the region's observations).
    pub scenario: PathBuf,
    /// The last observed year the forecast may use.
    #[arg(long)]
    pub until: i32,
    /// Draws, seed, output and report options.
    #[command(flatten)]
    pub common: Common,
}

/// `sensitivity`.
#[derive(Args, Debug)]
pub struct SensitivityArgs {
    /// The scenario file (run without its `[history]`).
    pub scenario: PathBuf,
    /// N, the base sample size: the design runs N·(k + 2) draws for k inputs (at least 64).
    #[arg(long, default_value_t = minxinan::sensitivity::DEFAULT_SAMPLES)]
    pub samples: u64,
    /// Seed (default: the scenario's, else 20181231).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder (default: out/sensitivity-<scenario name>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A TOML file grouping the inputs differently (docs/SENSITIVITY.md).
    #[arg(long, value_name = "FILE")]
    pub groups: Option<PathBuf>,
    /// Only these indicators (default: every indicator).
    #[arg(long, value_name = "IND,IND...")]
    pub indicators: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Skip the HTML report and charts.
    #[arg(long)]
    pub no_report: bool,
    /// Write CSV files with a UTF-8 byte-order mark (for Excel).
    #[arg(long)]
    pub excel: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Refuse implausible values, which are otherwise warnings.
    #[arg(long)]
    pub strict: bool,
}

/// `report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A folder written by `run`, `compare`, `backtest` or `sensitivity`.
    pub dir: PathBuf,
}

/// `validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Print each scenario with every default filled in.
    #[arg(long)]
    pub resolved: bool,
    /// Refuse implausible values, which are otherwise warnings.
    #[arg(long)]
    pub strict: bool,
}

/// `info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Print the parameter table (name, symbol, unit, default, domain, basis).
    #[arg(long)]
    pub parameters: bool,
    /// Write the embedded default region's files to DIR (a template for another region).
    #[arg(long, value_name = "DIR")]
    pub export_region: Option<PathBuf>,
}
