//! History mode, part 2 (docs/MODEL.md §12): draws conditioned on the observed years by the
//! history pass. Its invariants: the same bytes on any number of threads, `--draw-range` gives
//! the same draws as the full run, every draw still passes through each observed city-year.

mod common;

use common::*;

/// The baseline (`[history] condition = true`).
fn conditioned(_: &std::path::Path) -> String {
    root().join("scenarios/baseline.toml").to_str().unwrap().to_string()
}

/// The baseline forced through the observed years but not conditioned (part 1).
fn forced_only(d: &std::path::Path) -> String {
    let base = root().join("scenarios/baseline.toml");
    let text = format!(
        "[scenario]\nname = \"forced\"\nextends = \"{}\"\n[history]\ncondition = false\n",
        base.display()
    );
    write_scenario(d, "forced.toml", &text).to_str().unwrap().to_string()
}

#[test]
fn a_conditioned_run_is_the_same_on_one_thread_and_two_and_in_parts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let s = conditioned(d);
    let save = "--save-draws=gdp_real,population";
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec!["run", &s, "--draws", "400", "--out", out, "--quiet", save, "--save-inputs"];
        args.extend_from_slice(extra);
        let o = minxinan(d, &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run("two", &["--threads", "2"]);
    run("one", &["--threads", "1"]);
    run("part", &["--draw-range", "150..230"]);
    for f in ["summary.csv", "targets.csv", "draws.csv", "inputs.csv"] {
        assert_eq!(
            std::fs::read(d.join("one").join(f)).unwrap(),
            std::fs::read(d.join("two").join(f)).unwrap(),
            "{f}"
        );
    }
    let full = std::fs::read_to_string(d.join("two/draws.csv")).unwrap();
    let part = std::fs::read_to_string(d.join("part/draws.csv")).unwrap();
    let pick: Vec<&str> = full
        .lines()
        .skip(1)
        .filter(|l| (150..230).contains(&l.split(',').next().unwrap().parse::<u64>().unwrap()))
        .collect();
    let got: Vec<&str> = part.lines().skip(1).collect();
    assert!(!got.is_empty());
    assert_eq!(pick, got, "draws 150..230 of the full run");
    // Their inputs too (the particles' parameters, each draw's own lever quantities).
    let full_inputs = std::fs::read_to_string(d.join("two/inputs.csv")).unwrap();
    let part_inputs = std::fs::read_to_string(d.join("part/inputs.csv")).unwrap();
    let pick: Vec<&str> = full_inputs.lines().skip(151).take(80).collect();
    assert_eq!(pick, part_inputs.lines().skip(1).collect::<Vec<_>>());
    // Conditioning moved the numbers: the unconditioned baseline's draws differ.
    let f = forced_only(d);
    let o = minxinan(d, &["run", &f, "--draws", "400", "--out", "forced", "--quiet", save]);
    assert!(o.status.success());
    assert_ne!(std::fs::read(d.join("forced/draws.csv")).unwrap(), full.as_bytes());
}

#[test]
fn conditioned_draws_pass_through_every_observed_city_year() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let s = conditioned(d);
    let o = minxinan(d, &["run", &s, "--draws", "300", "--out", "c", "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let obs = std::fs::read_to_string(d.join("c/observed.csv")).unwrap();
    let mut checked = 0;
    let mut rdr = csv::Reader::from_reader(obs.as_bytes());
    for r in rdr.deserialize::<std::collections::HashMap<String, String>>() {
        let r = r.unwrap();
        if r["use"] != "forced" {
            continue;
        }
        let (p05, p95): (f64, f64) = (r["p05"].parse().unwrap(), r["p95"].parse().unwrap());
        let v: f64 = r["value"].parse().unwrap();
        assert!(
            (p05 - v).abs() <= 1e-6 * v.abs().max(1.0) && (p95 - v).abs() <= 1e-6 * v.abs().max(1.0),
            "{r:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 52, "24 population, 13 urbanization and 15 growth city-years");
}

#[test]
fn implausible_observations_give_a_warning_not_a_crash() {
    // 厦门's 2021 population written as 800万 instead of 528万: no draw comes near it, the year's
    // effective sample size collapses, the run says so and still finishes.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let data = std::fs::read_to_string(root().join("data/observed.csv")).unwrap();
    let bad = data.replace("xiamen,2021,population,528,", "xiamen,2021,population,800,");
    assert_ne!(bad, data);
    std::fs::write(d.join("bad.csv"), bad).unwrap();
    let text = format!(
        "[scenario]\nname = \"implausible\"\nextends = \"{}\"\n[history]\nobserved = \"bad.csv\"\n",
        root().join("scenarios/baseline.toml").display()
    );
    let s = write_scenario(d, "implausible.toml", &text);
    let o = minxinan(d, &["run", s.to_str().unwrap(), "--draws", "300", "--out", "o"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning: history: in 2021 the year's observations at once would leave an effective sample size of"), "{err}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("o/manifest.json")).unwrap()).unwrap();
    let c = &m["history"]["conditioning"];
    assert_eq!(c["pool"], 300);
    let y2021 = &c["years"][2];
    assert!(y2021["ess_at_once"].as_f64().unwrap() < 3.0, "{y2021}");
    // Tempering brings the year in by stages, at most ten, then the rest at once.
    assert!(y2021["tempering_stages"].as_u64().unwrap() >= 1, "{y2021}");
    assert!(!c["warnings"].as_array().unwrap().is_empty());
    // The run is still forced through the (implausible) value.
    let obs = std::fs::read_to_string(d.join("o/observed.csv")).unwrap();
    let row = obs.lines().find(|l| l.contains(",xiamen,2021,population,800,")).unwrap();
    assert!(row.contains(",forced,"), "{row}");
}

#[test]
fn a_scenario_sets_the_pool_and_output_draws_beyond_it_share_its_particles() {
    // `history.pool = 200` with 400 draws: draw k and draw k + 200 take the same particle
    // (order[k mod M]), so their conditioned parameters are the same and their lever-free
    // inputs' rows agree; without the key the pool is the draws (400) and they do not.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let text = format!(
        "[scenario]\nname = \"pooled\"\nextends = \"{}\"\n[history]\npool = 200\n",
        root().join("scenarios/baseline.toml").display()
    );
    let s = write_scenario(d, "pooled.toml", &text);
    let run = |scenario: &str, out: &str| {
        let o = minxinan(
            d,
            &[
                "run",
                scenario,
                "--draws",
                "400",
                "--out",
                out,
                "--quiet",
                "--save-draws=population",
                "--save-inputs",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(out).join("manifest.json")).unwrap())
                .unwrap();
        let inputs = std::fs::read_to_string(d.join(out).join("inputs.csv")).unwrap();
        let column = inputs.lines().next().unwrap().split(',').position(|c| c == "tfr_long_run").unwrap();
        let tfr: Vec<String> =
            inputs.lines().skip(1).map(|l| l.split(',').nth(column).unwrap().to_string()).collect();
        (m["history"]["conditioning"]["pool"].as_u64().unwrap(), tfr)
    };
    let (pool, tfr) = run(s.to_str().unwrap(), "set");
    assert_eq!(pool, 200);
    assert_eq!(tfr.len(), 400);
    assert!((0..200).all(|k| tfr[k] == tfr[k + 200]), "draw k and k + 200 share a particle");
    let (pool, tfr) = run(&conditioned(d), "default");
    assert_eq!(pool, 400);
    assert!((0..200).filter(|&k| tfr[k] == tfr[k + 200]).count() < 200);
    // `validate --resolved` writes the key back.
    let o = minxinan(d, &["validate", s.to_str().unwrap(), "--resolved"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\npool = 200\n"));
}

#[test]
fn scenarios_that_differ_only_in_levers_share_a_history_pass() {
    // Levers act after `until`, so the history pass of the baseline and of a lever scenario is
    // one and the same (compare runs it once); a parameter or a project's timing changes it.
    let region = minxinan::Region::embedded();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let model = |name: &str| {
        let s = minxinan::Scenario::load(&root().join("scenarios").join(name), &read, &region).unwrap();
        minxinan::Model::new(&region, &s).unwrap()
    };
    let base = model("baseline.toml").history_key();
    assert_eq!(model("industry-transfer.toml").history_key(), base);
    assert_ne!(model("infrastructure-late.toml").history_key(), base);
    // The baseline with one more table's key.
    let tmp = tempfile::tempdir().unwrap();
    let extended = |name: &str, table: &str| {
        let text = format!(
            "[scenario]\nname = \"{name}\"\nextends = \"{}\"\n{table}\n",
            root().join("scenarios/baseline.toml").display()
        );
        let p = write_scenario(tmp.path(), &format!("{name}.toml"), &text);
        let s = minxinan::Scenario::load(&p, &read, &region).unwrap();
        minxinan::Model::new(&region, &s).unwrap().history_key()
    };
    assert_ne!(extended("p", "[parameters]\ntfr_long_run = 1.3"), base);
    // So does the pool (`history.pool`): another approximation of the posterior.
    assert_ne!(extended("q", "[history]\npool = 300"), base);
}

#[test]
fn scoring_the_published_crude_rates_moves_the_births_toward_them() {
    // `score_crude_rates = true` (the baseline; docs/MODEL.md §12.1): 泉州's rates of 2019–2024
    // and Fujian's, read as the zone's plus 2018's gap, enter the weights. Fujian's birth rate
    // fell from 13.2 ‰ (2018) to 9.2 ‰ (2020) and 7.1 ‰ (2022). With the births' persistent
    // part f (§12.4: the baseline's σ_f = 0.1) the fall is shocks the draws take, each year's
    // drawn from its proposal; without it (σ_f = 0) only the long-run TFR and its convergence
    // can make it, and 2020 is a year the pool hardly makes (tempered).
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let base = root().join("scenarios/baseline.toml");
    let run = |name: &str, extra: &str| {
        let text =
            format!("[scenario]\nname = \"{name}\"\nextends = \"{}\"\n[history]\n{extra}\n", base.display());
        let s = write_scenario(d, &format!("{name}.toml"), &text);
        let o = minxinan(d, &["run", s.to_str().unwrap(), "--draws", "1000", "--out", name, "--no-report"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(name).join("manifest.json")).unwrap())
                .unwrap();
        m
    };
    let (on, off) = (run("on", ""), run("off", "score_crude_rates = false"));
    let rigid = run("rigid", "[parameters]\nfertility_shock_sd = 0");
    let scored = on["history"]["crude_rates_scored"].as_array().unwrap();
    assert!(off["history"]["crude_rates_scored"].as_array().unwrap().is_empty());
    // Independently from data/observed.csv: the gap of 2018 is Fujian's rate less the cities'
    // rates weighted by their revised 2018 populations.
    let pops = [496.0, 507.0, 873.0, 251.0, 270.0];
    let births = [14.5, 14.6, 12.1, 13.8, 13.4];
    let zone: f64 = pops.iter().zip(births).map(|(p, r)| p * r).sum::<f64>() / pops.iter().sum::<f64>();
    let fujian_2022 = scored
        .iter()
        .find(|c| {
            c["year"] == 2022
                && c["indicator"] == "crude_birth_rate"
                && c["entity"].as_str().unwrap().starts_with("region")
        })
        .expect("Fujian's 2022 birth rate is scored");
    assert!((fujian_2022["value"].as_f64().unwrap() - (7.07 - (13.2 - zone))).abs() < 1e-6, "{fujian_2022}");
    assert!(
        scored
            .iter()
            .any(|c| c["entity"] == "quanzhou" && c["year"] == 2021 && c["indicator"] == "crude_death_rate")
    );
    // In every year a stage's weights keep at least a twentieth of the pool effective, and a
    // year is tempered (docs/MODEL.md §12.3) exactly when its weights at once would not.
    for m in [&on, &off, &rigid] {
        let pool = m["history"]["conditioning"]["pool"].as_f64().unwrap();
        for y in m["history"]["conditioning"]["years"].as_array().unwrap() {
            let (ess, at_once, stages) = (
                y["ess"].as_f64().unwrap(),
                y["ess_at_once"].as_f64().unwrap(),
                y["tempering_stages"].as_u64().unwrap(),
            );
            assert_eq!(stages > 0, at_once < 0.05 * pool, "{y}");
            assert!(ess >= 0.05 * pool - 1e-6 || stages == 10, "{y}");
        }
    }
    // Fujian's 2020 births (9.2 ‰ after 12.9 ‰) are far from every draw of a smooth TFR path:
    // without f the year is tempered; with it, ω is drawn given the rates and the year comes in
    // at once, its weights worth several times as many draws.
    let year_2020 = |m: &serde_json::Value| m["history"]["conditioning"]["years"][1].clone();
    assert!(year_2020(&rigid)["tempering_stages"].as_u64().unwrap() >= 1, "{}", year_2020(&rigid));
    assert_eq!(year_2020(&on)["tempering_stages"], 0, "{}", year_2020(&on));
    let at_once = |m: &serde_json::Value| year_2020(m)["ess_at_once"].as_f64().unwrap();
    assert!(at_once(&on) > 3.0 * at_once(&rigid), "{} {}", at_once(&on), at_once(&rigid));
    // Each year's scored values count them: 2019 has 漳州's, 泉州's and Fujian's two rates.
    let count =
        |m: &serde_json::Value| m["history"]["conditioning"]["years"][0]["values_scored"].as_u64().unwrap();
    assert_eq!(count(&on), count(&off) + 6);
    assert_eq!(count(&rigid), count(&on));
    let post = |m: &serde_json::Value, name: &str| {
        let p = m["history"]["conditioning"]["posterior"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone();
        p["posterior_p05_p50_p95"][1].as_f64().unwrap()
    };
    // Without f the fall moves the long-run TFR down and its convergence faster; with it, less
    // (the shocks take part of it).
    assert!(
        post(&rigid, "tfr_long_run") < post(&off, "tfr_long_run") - 0.05,
        "{} {}",
        post(&rigid, "tfr_long_run"),
        post(&off, "tfr_long_run")
    );
    assert!(post(&rigid, "tfr_convergence_years") < post(&off, "tfr_convergence_years") - 0.5);
    assert!(post(&on, "tfr_long_run") > post(&rigid, "tfr_long_run"));
    // The model's 2022 zone birth rate moves toward the published one.
    let zone_rate = |name: &str| {
        let s = std::fs::read_to_string(d.join(name).join("summary.csv")).unwrap();
        let get = |year: &str, ind: &str| -> f64 {
            let row = s.lines().find(|l| l.contains(&format!(",region,{year},{ind},"))).unwrap();
            row.split(',').nth(11).unwrap().parse().unwrap()
        };
        1000.0 * get("2022", "births") / (0.5 * (get("2021", "population") + get("2022", "population")))
    };
    let published = 7.07 - (13.2 - zone);
    // With f the draws' median rate is within the parent's discrepancy (0.5 ‰) of the published
    // one; without f a smooth TFR path stays about 1 ‰ above it, and unscored (f free) 3 ‰.
    let (on_rate, rigid_rate, off_rate) = (zone_rate("on"), zone_rate("rigid"), zone_rate("off"));
    assert!((on_rate - published).abs() < 0.5, "{on_rate} {published}");
    assert!((rigid_rate - published).abs() > (on_rate - published).abs(), "{rigid_rate} {on_rate}");
    assert!((off_rate - published).abs() > (rigid_rate - published).abs(), "{off_rate} {rigid_rate}");
}

#[test]
fn observed_deflators_move_the_price_level_by_their_precision_weight() {
    // docs/MODEL.md §12.1b: the deflators implied by nominal GDP of two successive years and the
    // later year's real growth are scored against the draws' price growth, in a block of their
    // own (π̄ and the years' ε_π). Raise 2022's nominal
    // GDP of 厦门, 泉州 and Fujian by 4 % (each 2022 deflator + ln 1.04): the draws' 2022 price
    // growth rises by the share b²H/(1 + b²H) of it, H = Σ 1/v_j the observations' precision and
    // b = σ_π/(1 + π̄) the price shock's scale (one factor, closed form).
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let data = std::fs::read_to_string(root().join("data/observed.csv")).unwrap();
    let mut raised = data.clone();
    for (e, v) in [("xiamen", 7802.66), ("quanzhou", 12102.97), ("fujian", 53109.85)] {
        let from = format!("{e},2022,gdp_nominal,{v},");
        assert!(raised.contains(&from), "{from}");
        raised = raised.replace(&from, &format!("{e},2022,gdp_nominal,{},", v * 1.04));
    }
    std::fs::write(d.join("raised.csv"), raised).unwrap();
    // And without the nominal GDP of 2020 on of 厦门, 泉州 and Fujian: no deflator to score.
    let none: String = data
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(',').collect();
            !(["xiamen", "quanzhou", "fujian"].contains(&f[0]) && f[1] >= "2020" && f[2] == "gdp_nominal")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.join("none.csv"), none).unwrap();
    // And with 厦门's 2021 nominal GDP written in 元 per 万 by mistake (×100): a warning, the
    // run goes on, nothing real moves.
    let wrong = data.replace("xiamen,2021,gdp_nominal,7033.89,", "xiamen,2021,gdp_nominal,703389,");
    assert_ne!(wrong, data);
    std::fs::write(d.join("wrong.csv"), wrong).unwrap();
    std::fs::write(d.join("same.csv"), data).unwrap();
    let run = |name: &str| {
        let text = format!(
            "[scenario]\nname = \"{name}\"\nextends = \"{}\"\n[history]\nobserved = \"{name}.csv\"\n",
            root().join("scenarios/baseline.toml").display()
        );
        let s = write_scenario(d, &format!("{name}.toml"), &text);
        let args = ["run", s.to_str().unwrap(), "--draws", "1000", "--out", name, "--quiet", "--no-report"];
        let o = minxinan(d, &[&args[..], &["--save-draws=gdp_real,gdp_nominal,population"]].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(name).join("manifest.json")).unwrap())
                .unwrap();
        // Each draw's price growth of 2022: ln of the ratio of 2022's price to 2021's, the
        // price read as 厦门's nominal over real GDP.
        let draws = std::fs::read_to_string(d.join(name).join("draws.csv")).unwrap();
        let mut price = std::collections::HashMap::new();
        for l in draws.lines().skip(1) {
            let f: Vec<&str> = l.split(',').collect();
            if f[1] == "xiamen" && (f[2] == "2021" || f[2] == "2022") {
                let e = price.entry((f[0].to_string(), f[2].to_string())).or_insert([0.0; 2]);
                e[usize::from(f[3] == "gdp_nominal")] = f[4].parse::<f64>().unwrap();
            }
        }
        let mut growth: Vec<f64> = price
            .iter()
            .filter(|((_, y), _)| y == "2022")
            .map(|((k, _), p22)| {
                let p21 = price[&(k.clone(), "2021".to_string())];
                (p22[1] / p22[0] / (p21[1] / p21[0])).ln()
            })
            .collect();
        growth.sort_by(f64::total_cmp);
        (m, growth[growth.len() / 2])
    };
    let ((same, g_same), (raised, g_raised), (none, _)) = (run("same"), run("raised"), run("none"));
    assert!(same["history"]["conditioning"]["warnings"].as_array().unwrap().is_empty());
    let (wrong, _) = run("wrong");
    let warnings = wrong["history"]["conditioning"]["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("the GDP deflators observed for 2021 put the year's price shock at")),
        "{warnings:?}"
    );
    // The price block is apart from the pool's weights: nothing real moves, to the bit.
    let real = |name: &str| -> Vec<String> {
        let draws = std::fs::read_to_string(d.join(name).join("draws.csv")).unwrap();
        draws.lines().filter(|l| !l.contains(",gdp_nominal,")).map(str::to_string).collect()
    };
    assert_eq!(real("same"), real("none"));
    assert_eq!(real("same"), real("raised"));
    assert_eq!(real("same"), real("wrong"));
    assert!(none["history"]["deflators_scored"].as_array().unwrap().is_empty());
    assert!(none["history"]["conditioning"]["prices"].is_null());
    let scored = |m: &serde_json::Value| m["history"]["deflators_scored"].as_array().unwrap().clone();
    // 厦门 2020–2023, 泉州 2020–2022 and Fujian 2020–2023: the years with nominal GDP of the
    // year and the one before (revised basis, 2019 on) and real growth.
    assert_eq!(scored(&same).len(), 11);
    let xiamen_2020 =
        scored(&same).into_iter().find(|s| s["entity"] == "xiamen" && s["year"] == 2020).unwrap();
    let expected = (6384.02f64 / 5995.04).ln() - 1.057f64.ln();
    assert!((xiamen_2020["log_growth"].as_f64().unwrap() - expected).abs() < 1e-6, "{xiamen_2020}");
    let h: f64 = scored(&raised)
        .iter()
        .filter(|s| s["year"] == 2022)
        .map(|s| s["sd"].as_f64().unwrap().powi(-2))
        .sum();
    let b: f64 = 0.01 / (1.0 + 0.017);
    let predicted = 1.04f64.ln() * b * b * h / (1.0 + b * b * h);
    let moved = g_raised - g_same;
    assert!((moved - predicted).abs() < 0.25 * predicted, "moved {moved} predicted {predicted}");
    // And the rows say they are scored.
    let obs = std::fs::read_to_string(d.join("same/observed.csv")).unwrap();
    let row = obs.lines().find(|l| l.contains(",fujian,2021,gdp_nominal,")).unwrap();
    assert!(row.contains(",scored,"), "{row}");
}
