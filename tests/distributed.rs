//! The distributed summary (runner::distributed) over ranks that are threads: for 1, 2, 3 and 5
//! ranks, each running its chunk-aligned share of the draws, rank 0's summary writes the single
//! run's summary.csv and targets.csv byte for byte.

mod common;

use common::*;
use minxinan::runner::distributed::{Local, ThreadGroup, rank_range, summarise};
use minxinan::runner::partial::InOrder;
use minxinan::runner::{self, Hooks, Summaries};
use minxinan::{RunConfig, output};

#[test]
fn ranks_of_threads_give_the_single_runs_summary_byte_for_byte() {
    let (region, scenario, model) = model_of(&plan_era_text());
    let (n, seed) = (3000u64, 11u64);
    let single = runner::run(
        &[&model],
        &RunConfig::new(0..n, seed),
        Summaries::new(vec![&scenario.targets]),
        Hooks::none(),
    )
    .unwrap()
    .summaries
    .remove(0);
    let want =
        (output::summary_csv("s", &region, &single), output::targets_csv(&scenario, &region, &single, None));
    for size in [1usize, 2, 3, 5] {
        let locals: Vec<Local> = (0..size)
            .map(|r| {
                let range = rank_range(n, size, r);
                // What `mpirun … run` does on each rank: the draws handed chunk by chunk to a taker.
                let sink = InOrder::new(Local::taker(range.clone(), model.layout, &scenario.targets));
                runner::run(&[&model], &RunConfig::new(range, seed), sink, Hooks::none()).unwrap().unwrap()
            })
            .collect();
        // The ranks tile 0..n in order, each a whole number of chunks.
        assert_eq!(locals.first().unwrap().range.start, 0);
        assert_eq!(locals.last().unwrap().range.end, n);
        for w in locals.windows(2) {
            assert_eq!(w[0].range.end, w[1].range.start);
            assert_eq!(w[0].range.end % 256, 0);
        }
        let group = ThreadGroup::new(size);
        let got = std::thread::scope(|s| {
            let handles: Vec<_> = locals
                .into_iter()
                .enumerate()
                .map(|(r, local)| {
                    let (group, model, targets) = (&group, &model, &scenario.targets);
                    s.spawn(move || summarise(local, model.layout, targets, n, &group.rank(r)))
                })
                .collect();
            let mut out: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            assert!(out[1..].iter().all(Option::is_none), "only rank 0 has the summary");
            out.remove(0).unwrap()
        });
        assert_eq!(got.diagnostics, single.diagnostics, "{size} ranks");
        assert_eq!(got.target_hits, single.target_hits, "{size} ranks");
        assert!(output::summary_csv("s", &region, &got) == want.0, "{size} ranks: summary.csv differs");
        assert!(
            output::targets_csv(&scenario, &region, &got, None) == want.1,
            "{size} ranks: targets.csv differs"
        );
    }
}
