//! The command line: the only place with files, environment, clock, terminal and `anyhow`.
//!
//! Exit codes: 0 success; 2 invalid input (scenario, region, arguments); 1 anything else.

mod args;
mod commands;
mod fsout;
#[cfg(feature = "mpi")]
mod mpi;

/// The MPI job this process is a rank of (the `mpi` feature).
#[cfg(feature = "mpi")]
pub use mpi::World;

/// Without the `mpi` feature there is no MPI job: a type with no value, so that every run is a
/// single process and the code that would use MPI compiles to nothing.
#[cfg(not(feature = "mpi"))]
pub enum World {}

#[cfg(not(feature = "mpi"))]
impl World {
    fn start() -> Option<World> {
        None
    }
    fn abort(&self, _code: i32) -> ! {
        match *self {}
    }
}

#[cfg(not(feature = "mpi"))]
impl minxinan::runner::distributed::Collective for World {
    fn rank(&self) -> usize {
        match *self {}
    }
    fn size(&self) -> usize {
        match *self {}
    }
    fn all_reduce_sum(&self, _v: &mut [u64]) {
        match *self {}
    }
    fn fold_f64(&self, _v: &[f64], _f: &mut dyn FnMut(&[f64])) {
        match *self {}
    }
    fn gather_i64(&self, _v: &[i64]) -> Option<Vec<Vec<i64>>> {
        match *self {}
    }
    fn all_gather_i64(&self, _v: &[i64]) -> Vec<i64> {
        match *self {}
    }
}

use std::process::ExitCode;

/// An error in the command-line arguments or input files (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The signal that interrupted the run (0 while none did): SIGINT and SIGTERM are caught so that
/// the run stops, removes its staging folder and exits 130 or 143, leaving no partial output.
pub static SIGNAL: std::sync::LazyLock<std::sync::Arc<std::sync::atomic::AtomicUsize>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)));

/// Whether a signal asked the run to stop.
pub fn interrupted() -> bool {
    SIGNAL.load(std::sync::atomic::Ordering::SeqCst) != 0
}

/// Grow the heap 16 MB at a time (glibc's `M_TOP_PAD`, 128 KB by default). A run that keeps its
/// draws gives their memory back on a thread of its own while the output files are formatted
/// (`commands::Freeing`), and every time the formatting grows the heap it waits for that, as
/// both need the address space's lock: 10 000 draws, formatting the files 16.6 → 6.9 ms, the
/// run's end after the summary (now as long as the giving back) 19.4 → 16.0 ms (medians of
/// 14). The padding is address space, not memory, until it is used.
fn grow_heap_in_large_steps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` sets one of glibc's tuning parameters; no other thread runs yet.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
}

/// Parse the arguments, run the command, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    grow_heap_in_large_steps();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // If registration fails the default action (terminate) stays; nothing else to do.
        let _ = signal_hook::flag::register_usize(sig, SIGNAL.clone(), sig as usize);
    }
    let cli = match <args::Cli as clap::Parser>::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let world = World::start();
    let result = commands::dispatch(cli, world.as_ref());
    let sig = SIGNAL.load(std::sync::atomic::Ordering::SeqCst);
    if sig != 0 {
        eprintln!("interrupted: no output written");
        return ExitCode::from(128 + sig as u8);
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            let input = e.downcast_ref::<minxinan::InputErrors>().is_some()
                || e.downcast_ref::<BadInput>().is_some()
                || matches!(
                    e.downcast_ref::<minxinan::Error>(),
                    Some(minxinan::Error::Input(_) | minxinan::Error::TooLarge { .. })
                );
            let code = if input { 2 } else { 1 };
            if let Some(w) = &world {
                // A failing rank ends the whole job (its message first), leaving no output: rank
                // 0 writes only after every rank's draws are in.
                use minxinan::runner::distributed::Collective;
                eprintln!("error (rank {}): {e:#}", w.rank());
                w.abort(i32::from(code));
            }
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}
