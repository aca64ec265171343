//! The `minxinan` command line: parse → `cli::run` → exit code (0 ok, 1 failure, 2 bad input).
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
