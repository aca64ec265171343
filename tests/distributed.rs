//! The distributed summary (runner::distributed) over ranks that are threads: for 1, 2, 3 and 5
//! ranks, each running its chunk-aligned share of the draws through its sieve, rank 0's summary
//! writes the single run's summary.csv and targets.csv byte for byte — also when the sieves are
//! narrowed until the ranks' windows cannot answer for many series and those are gathered again.

mod common;

use common::*;
use minxinan::model::Model;
use minxinan::region::Target;
use minxinan::runner::distributed::{KeysOf, RankSink, ThreadGroup, rank_range, summarise};
use minxinan::runner::partial::InOrder;
use minxinan::runner::{self, Hooks, SieveConfig, Summaries};
use minxinan::stats::Summary;
use minxinan::{RunConfig, output};

/// Rank 0's summary of `n` draws over `size` ranks of threads, each sieving its draws with `sieve`
/// and gathering series again by running its draws again, as `mpirun … run` does.
fn over_ranks(
    model: &Model,
    targets: &[Target],
    n: u64,
    seed: u64,
    size: usize,
    sieve: SieveConfig,
) -> Summary {
    let group = ThreadGroup::new(size);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..size)
            .map(|r| {
                let group = &group;
                // A rank that panics would leave the others waiting at the next collective:
                // end the process instead (its message is printed first).
                s.spawn(move || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let cfg = RunConfig::new(rank_range(n, size, r), seed);
                        let local = runner::run(&[model], &cfg, RankSink::new(targets, sieve), Hooks::none())
                            .unwrap();
                        assert_eq!(local.range, cfg.draws);
                        let mut regather = |series: &[usize]| {
                            let keys = InOrder::new(KeysOf::new(series, model.layout.len()));
                            Ok(runner::run(&[model], &cfg, keys, Hooks::none())?.unwrap())
                        };
                        summarise(local, model.layout, targets, n, &group.rank(r), &mut regather).unwrap()
                    }))
                    .unwrap_or_else(|_| std::process::abort())
                })
            })
            .collect();
        let mut out: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(out[1..].iter().all(Option::is_none), "only rank 0 has the summary");
        out.remove(0).unwrap()
    })
}

/// The summary of draws 0..n in one process.
fn single_run(model: &Model, targets: &[Target], n: u64, seed: u64) -> Summary {
    let sink = Summaries::new(vec![targets]);
    runner::run(&[model], &RunConfig::new(0..n, seed), sink, Hooks::none()).unwrap().summaries.remove(0)
}

#[test]
fn ranks_of_threads_give_the_single_runs_summary_byte_for_byte() {
    let (region, scenario, model) = model_of(&plan_era_text());
    let (n, seed) = (3000u64, 11u64);
    let single = single_run(&model, &scenario.targets, n, seed);
    let want =
        (output::summary_csv("s", &region, &single), output::targets_csv(&scenario, &region, &single, None));
    // The ranks tile 0..n in order, each a whole number of chunks.
    for size in [1usize, 2, 3, 5] {
        let ranges: Vec<_> = (0..size).map(|r| rank_range(n, size, r)).collect();
        assert_eq!((ranges[0].start, ranges[size - 1].end), (0, n));
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start && w[0].end % 256 == 0));
    }
    // The default sieve (its first stage keeps every draw here: the windows hold every key), and
    // sieves narrowed until the ranks' windows miss the order statistics of many series.
    let narrow = SieveConfig { first_stage: 256, z: 1.0 };
    // Stages as a large run's, at this size: brackets after 512 draws, 1,024, 2,048.
    let staged = SieveConfig { first_stage: 512, ..SieveConfig::default() };
    for (size, sieve) in [
        (1, SieveConfig::default()),
        (2, SieveConfig::default()),
        (2, staged),
        (3, staged),
        (3, narrow),
        (5, narrow),
        (2, narrow),
    ] {
        let got = over_ranks(&model, &scenario.targets, n, seed, size, sieve);
        let what = format!("{size} ranks, {sieve:?}");
        if sieve == narrow {
            assert!(
                got.regathered > 100,
                "{what}: the narrowed sieves gathered only {} series again",
                got.regathered
            );
        } else if sieve == SieveConfig::default() {
            assert_eq!(got.regathered, 0, "{what}");
        }
        eprintln!("{what}: {} series gathered again", got.regathered);
        assert_eq!(got.diagnostics, single.diagnostics, "{what}");
        assert_eq!(got.target_hits, single.target_hits, "{what}");
        assert!(output::summary_csv("s", &region, &got) == want.0, "{what}: summary.csv differs");
        assert!(output::targets_csv(&scenario, &region, &got, None) == want.1, "{what}: targets.csv differs");
    }
}

#[test]
fn ranks_without_draws_take_part_and_change_nothing() {
    // 300 draws are two chunks: of 3 ranks, rank 0 runs none; of 5, three run none.
    let (region, scenario, model) = model_of(&plan_era_text());
    let (n, seed) = (300u64, 5u64);
    assert!(rank_range(n, 3, 0).is_empty());
    let single = single_run(&model, &scenario.targets, n, seed);
    for size in [3, 5] {
        let got = over_ranks(&model, &scenario.targets, n, seed, size, SieveConfig::default());
        assert_eq!(got.target_hits, single.target_hits, "{size} ranks");
        assert!(
            output::summary_csv("s", &region, &got) == output::summary_csv("s", &region, &single),
            "{size} ranks"
        );
    }
}
