//! A synthetic region of N cities with consistent data files, to measure how the engine scales
//! beyond five cities (docs/CLUSTER.md, "Scale").
//!
//! `cargo run --release --example synthetic_region -- N DIR [SEED]` writes DIR/region.toml and its
//! files: N cities on a unit square (the western ones coastal), each with a population (log-normal,
//! median 3 million), an urbanization rate, GDP per person, growth and sector shares drawn from
//! ranges like the embedded region's; travel times by road to each city's four nearest neighbours
//! (60 km/h over the square's 600 km side); N/10 railway projects between neighbours, opening
//! 2024–2030 with the "approved" stage's delays; no parks, no observations; one target (the
//! region's 2035 real GDP at 1.5 times 2018's). The age and migrant profiles and the constants
//! are the embedded region's. Run it with `minxinan --region DIR/region.toml run SCENARIO`.

use minxinan::region::{Files, embedded};
use minxinan::rng::{purpose, stream};
use rand::RngExt;
use std::fmt::Write as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).ok_or("usage: synthetic_region N DIR [SEED]")?.parse()?;
    let dir = std::path::PathBuf::from(args.get(2).ok_or("usage: synthetic_region N DIR [SEED]")?);
    let seed: u64 = args.get(3).map_or(Ok(1), |s| s.parse())?;
    if n == 0 || n > 999 {
        return Err("N: 1 to 999 cities".into());
    }
    std::fs::create_dir_all(&dir)?;
    let mut r = stream(seed, purpose("synthetic.region"), n as u64);
    let normal = |r: &mut minxinan::rng::Stream| -> f64 {
        // Box–Muller: enough for data that only needs to look like a region.
        let (u, v): (f64, f64) = (r.random::<f64>().max(1e-12), r.random());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    };

    // Cities.
    let pos: Vec<(f64, f64)> = (0..n).map(|_| (r.random::<f64>(), r.random::<f64>())).collect();
    let mut cities = String::from(
        "id,name_zh,name_en,coastal,population_2018,urbanization_2018,gdp_2018,real_growth_2018,share_primary_2018,share_secondary_2018,share_tertiary_2018,pop_growth_2016_2018,urbanization_change_2016_2018\n",
    );
    let mut total_gdp = 0.0;
    for (i, &(x, _)) in pos.iter().enumerate() {
        let pop = (300.0 * (0.6 * normal(&mut r)).exp()).clamp(30.0, 3000.0).round();
        let urban = 45.0 + 40.0 * r.random::<f64>();
        let per_person = 5.0 + 10.0 * r.random::<f64>() * urban / 85.0; // 万元 a person
        let gdp = pop * per_person;
        total_gdp += gdp;
        let primary = (2.0 + 13.0 * r.random::<f64>() * (1.0 - urban / 100.0) * 2.0).min(20.0);
        let secondary = 35.0 + 20.0 * r.random::<f64>();
        let (p1, p2) = ((primary * 10.0).round() / 10.0, (secondary * 10.0).round() / 10.0);
        let p3 = ((1000.0 - 10.0 * p1 - 10.0 * p2).round()) / 10.0;
        writeln!(
            cities,
            "c{i:03},城{i:03},City {i:03},{},{pop},{urban:.1},{gdp:.2},{:.1},{p1:.1},{p2:.1},{p3:.1},{:.2},{:.2}",
            x < 0.3,
            6.0 + 3.0 * r.random::<f64>(),
            2.0 * r.random::<f64>(),
            0.5 + r.random::<f64>(),
        )?;
    }
    std::fs::write(dir.join("cities.csv"), cities)?;

    // Travel times: each city to its four nearest neighbours, by road.
    let minutes = |a: usize, b: usize| {
        let (dx, dy) = (pos[a].0 - pos[b].0, pos[a].1 - pos[b].1);
        (600.0 * (dx * dx + dy * dy).sqrt() / 60.0 * 60.0).max(10.0).round()
    };
    let mut near: Vec<Vec<usize>> = Vec::with_capacity(n);
    let mut links = std::collections::BTreeSet::new();
    for a in 0..n {
        let mut others: Vec<usize> = (0..n).filter(|&b| b != a).collect();
        others.sort_by(|&x, &y| minutes(a, x).total_cmp(&minutes(a, y)).then(x.cmp(&y)));
        others.truncate(4);
        for &b in &others {
            links.insert((a.min(b), a.max(b)));
        }
        near.push(others);
    }
    let mut tt = String::from("from,to,minutes\n");
    for &(a, b) in &links {
        writeln!(tt, "c{a:03},c{b:03},{}", minutes(a, b))?;
    }
    if n == 1 {
        // One city still needs a link: to the embedded region's first outside node.
        writeln!(tt, "c000,fuzhou,120")?;
    }
    std::fs::write(dir.join("travel_times_2018.csv"), tt)?;

    // Projects: N/10 railways between neighbours, three times faster than the road.
    let mut projects = String::from(
        "[delay_by_stage]\nconstruction = { dist = \"discrete\", values = [0, 1, 2, 3], weights = [0.25, 0.4, 0.25, 0.1] }\napproved = { dist = \"discrete\", values = [0, 1, 2, 3, 5, 7], weights = [0.1, 0.15, 0.2, 0.25, 0.15, 0.15] }\nstudy = { dist = \"discrete\", values = [0, 2, 4, 6, 8, 12], weights = [0.05, 0.1, 0.2, 0.25, 0.2, 0.2] }\n",
    );
    for k in 0..n / 10 {
        let a = r.random_range(0..n);
        let b = near[a][0];
        writeln!(
            projects,
            "\n[[projects]]\nid = \"rail-{k:03}\"\nname = \"Railway {k:03}\"\nkind = \"rail\"\nstage = \"approved\"\nopen_year = {}\npairs = [{{ from = \"c{a:03}\", to = \"c{b:03}\", minutes = {} }}]",
            2024 + r.random_range(0..7),
            (minutes(a, b) / 3.0).max(5.0).round()
        )?;
    }
    std::fs::write(dir.join("projects.toml"), projects)?;
    std::fs::write(dir.join("parks.toml"), "# No co-built parks.\n")?;
    std::fs::write(
        dir.join("plan_targets.csv"),
        format!(
            "name,entity,year,indicator,comparison,threshold,source,basis,label_zh,label_en\ngdp-2035,region,2035,gdp_real,at_least,{:.0},synthetic,first_release,2035年实际GDP达2018年的1.5倍,Real GDP in 2035 at least 1.5 times 2018's\n",
            1.5 * total_gdp
        ),
    )?;

    // From the embedded region: the profiles, the outside nodes, the constants.
    for f in ["age_profile_2018.csv", "migrant_profile.csv", "external_nodes.csv"] {
        std::fs::write(dir.join(f), embedded::Embedded.read(f)?)?;
    }
    let manifest = embedded::Embedded.read(embedded::MANIFEST)?;
    let constants = manifest
        .split("[constants]")
        .nth(1)
        .and_then(|s| s.split("\n[").next())
        .ok_or("the embedded manifest has [constants]")?;
    std::fs::write(
        dir.join("region.toml"),
        format!(
            "# A synthetic region of {n} cities (examples/synthetic_region.rs, seed {seed}).\n[region]\nname = \"synthetic-{n}\"\nbase_year = 2018\n\n[constants]{constants}\n[files]\ncities = \"cities.csv\"\nage_profile = \"age_profile_2018.csv\"\nmigrant_profile = \"migrant_profile.csv\"\nexternal_nodes = \"external_nodes.csv\"\ntravel_times = \"travel_times_2018.csv\"\nprojects = \"projects.toml\"\nparks = \"parks.toml\"\ntargets = \"plan_targets.csv\"\n"
        ),
    )?;
    eprintln!("wrote a region of {n} cities to {}", dir.display());
    Ok(())
}
