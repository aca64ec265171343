//! A validated scenario written back as TOML with every default and inherited value filled in
//! (`validate --resolved`); its SHA-256 identifies the scenario in `manifest.json`.

use super::*;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

impl Scenario {
    /// The scenario with every default filled in, as TOML. Parsing it gives the same scenario.
    pub fn to_toml(&self, region: &Region) -> String {
        let city = |i: usize| region.cities[i].id.as_str();
        let node = |i: usize| {
            region
                .cities
                .get(i)
                .map_or_else(|| region.nodes[i - region.cities.len()].id.as_str(), |c| c.id.as_str())
        };
        let mut s = String::new();
        let _ = writeln!(s, "[scenario]");
        let _ = writeln!(s, "name = {}", toml_str(&self.name));
        let _ = writeln!(s, "description = {}", toml_str(&self.description));
        let _ = writeln!(s, "horizon = {}", self.horizon);
        let _ = writeln!(s, "draws = {}", self.draws);
        let _ = writeln!(s, "seed = {}", self.seed);
        let _ = writeln!(s, "market_access = {}", toml_str(self.market_access.name()));
        let _ = writeln!(s, "\n[parameters]");
        for (p, u) in PARAMS.iter().zip(&self.parameters) {
            let _ = writeln!(s, "{} = {}", p.name, u.to_toml());
        }
        if let Some(t) = &self.transfer {
            let map = |v: &[(usize, f64)]| {
                v.iter().map(|(i, x)| format!("{} = {x:?}", city(*i))).collect::<Vec<_>>().join(", ")
            };
            let _ = writeln!(s, "\n[transfer]\nenabled = true");
            let _ = writeln!(s, "origins = {{ {} }}", map(&t.origins));
            let _ = writeln!(s, "destinations = {{ {} }}", map(&t.destinations));
            let _ = writeln!(s, "start = {}\nend = {}", t.start, t.end);
            let _ = writeln!(
                s,
                "rate = {}\nefficiency = {}\ncomposition_gain = {}",
                t.rate, t.efficiency, t.composition_gain
            );
        }
        let _ = writeln!(s, "\n[infrastructure]\ndelay_shift = {}", self.delay_shift);
        for p in &self.projects {
            let _ = writeln!(s, "\n[[infrastructure.projects]]");
            let _ = writeln!(
                s,
                "id = {}\nname = {}\nkind = {}",
                toml_str(&p.id),
                toml_str(&p.name),
                toml_str(&p.kind)
            );
            let _ = writeln!(
                s,
                "stage = {}\nopen_year = {}\nenabled = {}",
                toml_str(p.stage.name()),
                p.open_year,
                p.enabled
            );
            if let Some(d) = &p.delay {
                let _ = writeln!(s, "delay = {d}");
            }
            let pairs: Vec<String> = p
                .pairs
                .iter()
                .map(|(a, b, m)| {
                    format!(
                        "{{ from = {}, to = {}, minutes = {m:?} }}",
                        toml_str(node(*a)),
                        toml_str(node(*b))
                    )
                })
                .collect();
            let _ = writeln!(s, "pairs = [{}]", pairs.join(", "));
            let tfp: Vec<String> = p
                .tfp
                .iter()
                .map(|t| {
                    format!(
                        "{{ city = {}, sector = {}, size = {}, ramp_years = {} }}",
                        toml_str(city(t.city)),
                        toml_str(crate::region::SECTORS[t.sector]),
                        t.size,
                        t.ramp_years
                    )
                })
                .collect();
            let _ = writeln!(s, "tfp = [{}]", tfp.join(", "));
        }
        for p in &self.parks {
            let _ = writeln!(s, "\n[[parks]]");
            let _ = writeln!(s, "id = {}\nname = {}\nenabled = true", toml_str(&p.id), toml_str(&p.name));
            let _ = writeln!(s, "host = {}\npartner = {}", toml_str(city(p.host)), toml_str(city(p.partner)));
            let _ = writeln!(
                s,
                "sector = {}\nstart = {}\nramp_years = {}",
                toml_str(crate::region::SECTORS[p.sector]),
                p.start,
                p.ramp_years
            );
            for (name, u) in Park::NUMBER_FIELDS.iter().zip(p.numbers()) {
                let _ = writeln!(s, "{name} = {u}");
            }
            let stats = match p.statistics {
                crate::region::Statistics::Dual => "dual",
                crate::region::Statistics::Split => "split",
                crate::region::Statistics::Host => "host",
            };
            let _ = writeln!(s, "statistics = {}", toml_str(stats));
        }
        for sh in &self.shifts {
            let _ = writeln!(s, "\n[[shifts]]");
            let _ = writeln!(s, "city = {}\nlever = {}", toml_str(city(sh.city)), toml_str(sh.lever.name()));
            if sh.lever == Lever::Tfp {
                let _ = writeln!(s, "sector = {}", toml_str(crate::region::SECTORS[sh.sector]));
            }
            // The years as written (a history moves them again, with the same streams).
            let (start, end) = sh.written;
            let _ = writeln!(s, "start = {start}\nend = {end}\ndelta = {}", sh.delta);
        }
        for t in &self.targets {
            let _ = writeln!(s, "\n[[targets]]");
            let _ = writeln!(s, "name = {}", toml_str(&t.name));
            let _ = writeln!(s, "entity = {}", toml_str(region.entity_id(t.entity)));
            let _ = writeln!(s, "year = {}", t.year);
            let _ = writeln!(s, "indicator = {}", toml_str(t.indicator.name()));
            let _ = writeln!(s, "{} = {:?}", t.comparison.name(), t.threshold);
            if let Some(b) = t.basis {
                let _ = writeln!(s, "basis = {}", toml_str(b.name()));
            }
            for (key, label) in [("label_zh", &t.label.0), ("label_en", &t.label.1)] {
                if !label.is_empty() {
                    let _ = writeln!(s, "{key} = {}", toml_str(label));
                }
            }
        }
        if let Some(h) = &self.history {
            let _ = writeln!(s, "\n[history]");
            let _ = writeln!(s, "observed = {}", toml_str(&h.source));
            let _ = writeln!(s, "until = {}", h.until);
            let _ = writeln!(s, "min_confidence = {}", toml_str(h.min_confidence.name()));
            if h.condition {
                let _ = writeln!(s, "condition = true");
            }
            let _ = writeln!(s, "vital_rates = {}", toml_str(h.vital_rates.name()));
            if h.score_crude_rates {
                let _ = writeln!(s, "score_crude_rates = true");
            }
            if let Some(n) = h.pool {
                let _ = writeln!(s, "pool = {n}");
            }
        }
        s
    }

    /// SHA-256 of the resolved scenario (its [`Scenario::to_toml`] text).
    pub fn sha256(&self, region: &Region) -> String {
        Sha256::digest(self.to_toml(region).as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}
