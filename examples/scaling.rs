//! Time per draw against the number of cities: generated regions of N = 5, 20, 50, 100 cities
//! (the five cities of the default region repeated, every pair of cities linked, one project per
//! ten cities), one thread, release build. `cargo run --release --example scaling [N …]` (default
//! 5 20 50 100).

use minxinan::model::Mode;
use minxinan::model::engine::{self, Workspace};
use minxinan::region::{Files, embedded};
use minxinan::rng::Streams;
use minxinan::{Model, Region, Scenario};
use std::collections::BTreeMap;
use std::time::Instant;

/// The embedded region's files with cities.csv, travel times, projects and parks generated for N.
struct Generated(BTreeMap<String, String>);

impl Files for Generated {
    fn read(&self, rel: &str) -> Result<String, String> {
        match self.0.get(rel) {
            Some(t) => Ok(t.clone()),
            None => embedded::Embedded.read(rel),
        }
    }
    fn display(&self, rel: &str) -> String {
        format!("<generated>/{rel}")
    }
}

fn region(n: usize) -> Region {
    let base = embedded::Embedded.read("cities.csv").unwrap();
    let mut lines = base.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let mut cities = format!("{header}\n");
    let mut ids = Vec::new();
    for k in 0..n {
        let row = rows[k % rows.len()];
        let (_, rest) = row.split_once(',').unwrap();
        let id = format!("c{k:03}");
        cities.push_str(&format!("{id},{rest}\n"));
        ids.push(id);
    }
    let nodes = ["fuzhou", "chaoshan", "prd", "jiangxi"];
    let mut travel = String::from("from,to,minutes\n");
    for i in 0..n {
        for j in i + 1..n {
            travel.push_str(&format!("{},{},{}\n", ids[i], ids[j], 30 + 10 * (j - i)));
        }
        for (m, node) in nodes.iter().enumerate() {
            travel.push_str(&format!("{},{node},{}\n", ids[i], 60 + 20 * ((i + m) % 7)));
        }
    }
    travel.push_str("fuzhou,chaoshan,200\nfuzhou,prd,310\nfuzhou,jiangxi,260\nchaoshan,prd,110\nchaoshan,jiangxi,300\nprd,jiangxi,300\n");
    let mut projects = String::from(
        "[delay_by_stage]\nconstruction = { dist = \"discrete\", values = [0, 1, 2, 3], weights = [0.25, 0.4, 0.25, 0.1] }\napproved = { dist = \"discrete\", values = [0, 1, 2], weights = [0.3, 0.4, 0.3] }\nstudy = { dist = \"discrete\", values = [0, 4, 8], weights = [0.2, 0.4, 0.4] }\n",
    );
    for p in 0..n.div_ceil(10) {
        let (a, b) = (ids[p * 10 % n].clone(), ids[(p * 10 + 1) % n].clone());
        projects.push_str(&format!(
            "[[projects]]\nid = \"p{p}\"\nname = \"line {p}\"\nkind = \"rail\"\nstage = \"construction\"\nopen_year = {}\npairs = [{{ from = \"{a}\", to = \"{b}\", minutes = 20 }}, {{ from = \"{a}\", to = \"prd\", minutes = 50 }}]\ntfp = [{{ city = \"{b}\", sector = \"secondary\", size = {{ dist = \"triangular\", min = 0.0, mode = 0.01, max = 0.03 }}, ramp_years = 2 }}]\n",
            2020 + p % 10
        ));
    }
    let parks = "[park_defaults]\nsector = \"secondary\"\nstart = 2020\nramp_years = 8\ncapital_per_value_added = 2.5\ncapital_per_worker = 75.0\npartner_funded_share = 0.5\ntax_rate = 0.12\ntax_share_to_partner = 0.4\nstatistics = \"dual\"\n";
    let files = Generated(BTreeMap::from([
        ("cities.csv".to_string(), cities),
        ("travel_times_2018.csv".to_string(), travel),
        ("projects.toml".to_string(), projects),
        ("parks.toml".to_string(), parks.to_string()),
    ]));
    Region::load("region.toml", &files).expect("generated region")
}

fn main() {
    let mut sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![5, 20, 50, 100];
    }
    println!("cities  µs per draw  µs per draw per city  (fastest of 5)");
    for n in sizes {
        let region = region(n);
        let scenario = Scenario::parse("s.toml", "[scenario]\nname = \"scaling\"\n", &region).unwrap();
        let model = Model::new(&region, &scenario).unwrap();
        let mut ws = Workspace::new(&model);
        let mut out = vec![0.0; model.layout.len()];
        let draws = (20_000 / n) as u64;
        for d in 0..10 {
            engine::simulate(&model, &Streams::of(1, d), Mode::Stochastic, &mut ws, &mut out).unwrap();
        }
        let mut times = Vec::new();
        for rep in 0..5 {
            let t = Instant::now();
            for d in 0..draws {
                engine::simulate(
                    &model,
                    &Streams::of(1, rep * draws + d),
                    Mode::Stochastic,
                    &mut ws,
                    &mut out,
                )
                .unwrap();
            }
            times.push(t.elapsed().as_secs_f64() * 1e6 / draws as f64);
        }
        times.sort_by(f64::total_cmp);
        let med = times[2];
        println!("{n:>6}  {med:>11.1}  {:>20.2}  ({:.1})", med / n as f64, times[0]);
    }
}
