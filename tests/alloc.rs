//! The simulation core allocates nothing per draw (so nothing per year): a counting global
//! allocator counts the allocations made while a warmed-up workspace simulates draws.

use minxinan::model::Mode;
use minxinan::model::engine::{BATCH, Batch, Workspace, simulate, simulate_batch};
use minxinan::rng::Streams;
use minxinan::{Model, Region, Scenario};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn model(text: &str) -> Model {
    let region = Region::embedded();
    let read = |p: &std::path::Path| {
        if p.ends_with("t.toml") {
            Ok(text.to_string())
        } else {
            std::fs::read_to_string(p).map_err(|e| e.to_string())
        }
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/t.toml");
    let scenario = Scenario::load(&path, &read, &region).unwrap();
    Model::new(&region, &scenario).unwrap()
}

#[test]
fn simulating_draws_allocates_nothing() {
    // The baseline (history mode), the plan-era view and a scenario with every lever on.
    let plan =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/plan-full.toml")).unwrap();
    let levers = format!(
        "{}\n[[shifts]]\ncity = \"longyan\"\nlever = \"tfp\"\nsector = \"secondary\"\nstart = 2021\nend = 2025\ndelta = {{ dist = \"uniform\", min = 0, max = 0.01 }}\n",
        plan.replace(
            "extends = \"industry-transfer.toml\"",
            "extends = \"industry-transfer.toml\"\nhorizon = 2035"
        )
    );
    let plan_era = "[scenario]\nname = \"t\"\nextends = \"plan-era.toml\"\n";
    for text in ["[scenario]\nname = \"t\"\nextends = \"baseline.toml\"\n", plan_era, levers.as_str()] {
        let m = model(text);
        let mut ws = Workspace::new(&m);
        let mut out = vec![0.0; m.layout.len()];
        for mode in [Mode::Stochastic, Mode::Deterministic] {
            simulate(&m, &Streams::of(1, 0), mode, &mut ws, &mut out).unwrap();
            let before = ALLOCS.load(Ordering::SeqCst);
            for draw in 1..20 {
                simulate(&m, &Streams::of(1, draw), mode, &mut ws, &mut out).unwrap();
            }
            let n = ALLOCS.load(Ordering::SeqCst) - before;
            assert_eq!(n, 0, "{n} allocations in 19 draws ({mode:?})");
            // The same draws in batches, as the runner runs them.
            let mut batch = Batch::new(&m);
            let mut rows = vec![0.0; BATCH * m.layout.len()];
            let streams: Vec<Streams> = Streams::run(1, 0..40).collect();
            simulate_batch(&m, &streams[..BATCH], mode, &mut batch, &mut rows).unwrap();
            let before = ALLOCS.load(Ordering::SeqCst);
            for draws in streams[BATCH..].chunks(BATCH) {
                simulate_batch(&m, draws, mode, &mut batch, &mut rows).unwrap();
            }
            let n = ALLOCS.load(Ordering::SeqCst) - before;
            assert_eq!(n, 0, "{n} allocations in four batches ({mode:?})");
        }
    }
}
