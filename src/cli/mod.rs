//! The command line: the only place with files, environment, clock, terminal and `anyhow`.
//!
//! Exit codes: 0 success; 2 invalid input (scenario, region, arguments); 1 anything else.

mod args;
mod commands;
mod fsout;

use std::process::ExitCode;

/// An error in the command-line arguments or input files (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Parse the arguments, run the command, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match <args::Cli as clap::Parser>::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let input = e.downcast_ref::<minxinan::InputErrors>().is_some()
                || e.downcast_ref::<BadInput>().is_some()
                || matches!(e.downcast_ref::<minxinan::Error>(), Some(minxinan::Error::Input(_)));
            eprintln!("error: {e:#}");
            ExitCode::from(if input { 2 } else { 1 })
        }
    }
}
