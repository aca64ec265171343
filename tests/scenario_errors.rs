//! Bad scenario files: every domain rule of INTERFACE.md refused with the file, line, key and
//! what was expected (`check(files, expected fragments)`, the first file being the scenario run).

mod common;

use minxinan::{Region, Scenario};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const HEAD: &str = "[scenario]\nname = \"bad\"\n";
const TRANSFER: &str = "[transfer]\norigins = { xiamen = 0.35 }\ndestinations = { sanming = 0.5, longyan = 0.5 }\nstart = 2020\nend = 2030\nrate = 0.03\n";

/// Load `files[0]` (with the others available to `extends`) and expect every fragment in the error.
fn check(files: &[(&str, &str)], expect: &[&str]) {
    let region = Region::embedded();
    let map: HashMap<PathBuf, String> =
        files.iter().map(|(n, t)| (PathBuf::from(n), t.to_string())).collect();
    let read = |p: &Path| map.get(p).cloned().ok_or_else(|| "no such file".to_string());
    let err = match Scenario::load(Path::new(files[0].0), &read, &region) {
        Ok(_) => panic!("accepted:\n{}", files[0].1),
        Err(e) => e.to_string(),
    };
    for e in expect {
        assert!(err.contains(e), "expected `{e}` in:\n{err}\nfor:\n{}", files[0].1);
    }
}

fn one(text: &str, expect: &[&str]) {
    check(&[("s.toml", text)], expect);
}

#[test]
fn transfer_rules() {
    let t = |body: &str| format!("{HEAD}{body}");
    one(
        &t(
            "[transfer]\norigins = { xiamen = 0.35 }\ndestinations = { sanming = 0.6, longyan = 0.5 }\nstart = 2020\nend = 2030\nrate = 0.03\n",
        ),
        &["s.toml:5:1", "transfer.destinations", "sum to 1.1"],
    );
    one(&t(&TRANSFER.replace("rate = 0.03", "rate = 0.3")), &["s.toml:8:1", "transfer.rate", "[0, 0.2]"]);
    one(
        &t(&TRANSFER.replace("rate = 0.03", "rate = { dist = \"normal\", mean = 0.03, sd = 0.01 }")),
        &["transfer.rate", "truncate"],
    );
    one(
        &t(&TRANSFER.replace("xiamen = 0.35", "longyan = 0.35")),
        &["transfer.destinations.longyan", "both an origin and a destination"],
    );
    one(
        &t(&TRANSFER.replace("xiamen = 0.35", "xiamn = 0.35")),
        &["s.toml:4:", "transfer.origins.xiamn", "did you mean `xiamen`?"],
    );
    one(&t(&TRANSFER.replace("xiamen = 0.35", "xiamen = 1.5")), &["transfer.origins.xiamen", "(0, 1]"]);
    one(
        &t(&TRANSFER.replace("start = 2020", "start = 2018")),
        &["s.toml:6:1", "transfer.start", "2019..=2035"],
    );
    one(&t(&TRANSFER.replace("end = 2030", "end = 2040")), &["s.toml:7:1", "transfer.end"]);
    one(&t(&TRANSFER.replace("end = 2030", "end = 2019")), &["transfer.end", "before start"]);
    one(&t(&TRANSFER.replace("rate = 0.03\n", "")), &["needs `rate`"]);
    one(&t(&format!("{TRANSFER}efficiency = 1.2\n")), &["transfer.efficiency", "[0, 1]"]);
    one(&t(&format!("{TRANSFER}composition_gain = 0.5\n")), &["transfer.composition_gain", "[0, 0.3]"]);
    one(&t(&format!("{TRANSFER}speed = 1\n")), &["s.toml:9:1", "unknown field `speed`"]);
    one(&t(&TRANSFER.replace("rate = 0.03", "rate = nan")), &["transfer.rate", "finite"]);
}

#[test]
fn park_rules() {
    let p = |body: &str| format!("{HEAD}[[parks]]\n{body}");
    one(
        &p("id = \"xiamen-longyan\"\npartner = \"longyan\"\n"),
        &["s.toml:5:1", "parks[id=xiamen-longyan].partner", "must differ"],
    );
    one(
        &p("id = \"new-park\"\nhost = \"sanming\"\npartner = \"xiamen\"\n"),
        &["parks[id=new-park]", "needs `value_added`"],
    );
    one(&p("id = \"new-park\"\nhost = \"sanming\"\nvalue_added = 10\n"), &["needs `partner`"]);
    one(
        &p("id = \"xiamen-longyan\"\nhost = \"longyn\"\n"),
        &["s.toml:5:1", "unknown city `longyn`", "did you mean `longyan`?"],
    );
    one(
        &p("id = \"xiamen-longyan\"\nstart = 2040\n"),
        &["s.toml:5:1", "parks[id=xiamen-longyan].start", "2019..=2035"],
    );
    one(&p("id = \"xiamen-longyan\"\nramp_years = 0\n"), &["ramp_years", "1..=50"]);
    one(&p("id = \"xiamen-longyan\"\nvalue_added = -5\n"), &["parks[id=xiamen-longyan].value_added", "≥ 0"]);
    one(
        &p("id = \"xiamen-longyan\"\nstatistics = \"double\"\n"),
        &["unknown statistics rule `double`", "dual"],
    );
    one(&p("id = \"xiamen-longyan\"\ntax_rate = 1.5\n"), &["parks[id=xiamen-longyan].tax_rate", "[0, 1]"]);
    one(&p("id = \"xiamen-longyan\"\nsector = \"industry\"\n"), &["unknown sector `industry`"]);
    one(&p("host = \"longyan\"\n"), &["needs an `id`"]);
    one(
        &p("id = \"Xiamen Park\"\nhost = \"longyan\"\npartner = \"xiamen\"\nvalue_added = 1\n"),
        &["expected a lower-case id"],
    );
    one(&p("id = \"xiamen-longyan\"\ncapital_per_worker = 0\n"), &["capital_per_worker", "> 0"]);
    one(
        &p("id = \"xiamen-longyan\"\n[[parks]]\nid = \"xiamen-longyan\"\n"),
        &["s.toml:6:1", "parks[1].id", "appears twice"],
    );
}

#[test]
fn infrastructure_rules() {
    let i = |body: &str| format!("{HEAD}{body}");
    one(
        &i("[infrastructure]\ndelay_shift = 99\n"),
        &["s.toml:4:1", "infrastructure.delay_shift", "-20..=50"],
    );
    one(
        &i("[[infrastructure.projects]]\nid = \"new-line\"\nname = \"x\"\n"),
        &["a new project (`new-line`) needs `kind`", "needs `stage`", "needs `open_year`"],
    );
    one(
        &i(
            "[[infrastructure.projects]]\nid = \"new-line\"\nname = \"x\"\nkind = \"rail\"\nstage = \"study\"\nopen_year = 2028\n",
        ),
        &["project `new-line` needs `pairs` or `tfp`"],
    );
    one(
        &i(
            "[[infrastructure.projects]]\nid = \"fuxia-hsr\"\npairs = [{ from = \"fuzhou\", to = \"xiamn\", minutes = 50 }]\n",
        ),
        &["unknown node `xiamn`", "did you mean `xiamen`?"],
    );
    one(
        &i(
            "[[infrastructure.projects]]\nid = \"fuxia-hsr\"\npairs = [{ from = \"fuzhou\", to = \"xiamen\", minutes = 0 }]\n",
        ),
        &["minutes > 0"],
    );
    one(
        &i("[[infrastructure.projects]]\nid = \"fuxia-hsr\"\nkind = \"maglev\"\n"),
        &["unknown project kind `maglev`"],
    );
    one(
        &i(
            "[[infrastructure.projects]]\nid = \"fuxia-hsr\"\ndelay = { dist = \"uniform\", min = 0, max = 2 }\n",
        ),
        &["s.toml:5:1", "whole years"],
    );
    one(
        &i("[[infrastructure.projects]]\nid = \"fuxia-hsr\"\nstage = \"planning\"\n"),
        &["unknown stage `planning`"],
    );
    one(
        &i(
            "[[infrastructure.projects]]\nid = \"gulei-port\"\ntfp = [{ city = \"zhangzhou\", sector = \"secondary\", size = 2.0, ramp_years = 2 }]\n",
        ),
        &["within [-1, 1]"],
    );
}

#[test]
fn shift_rules() {
    let s = |body: &str| format!("{HEAD}[[shifts]]\n{body}");
    one(
        &s("city = \"longyan\"\nlever = \"tfpp\"\nstart = 2021\nend = 2025\ndelta = 0.01\n"),
        &["s.toml:5:1", "unknown lever `tfpp`", "did you mean `tfp`?"],
    );
    one(
        &s("city = \"longyan\"\nlever = \"tfp\"\nstart = 2021\nend = 2025\ndelta = 0.01\n"),
        &["needs `sector`"],
    );
    one(
        &s(
            "city = \"longyan\"\nlever = \"tfr\"\nsector = \"primary\"\nstart = 2021\nend = 2025\ndelta = 0.1\n",
        ),
        &["shifts[0].sector", "only a tfp shift"],
    );
    one(
        &s("city = \"longyan\"\nlever = \"migration_rate\"\nstart = 2021\nend = 2025\ndelta = 0.2\n"),
        &["s.toml:8:1", "|delta| ≤ 0.1"],
    );
    one(
        &s("city = \"longyan\"\nlever = \"participation\"\nstart = 2021\nend = 2025\ndelta = 0.3\n"),
        &["participation of longyan in 2021", "(0, 1]"],
    );
    one(
        &s("city = \"longyan\"\nlever = \"investment_rate\"\nstart = 2021\nend = 2025\ndelta = -0.5\n"),
        &["investment rate of longyan", "[0, 1)"],
    );
    one(
        &s("city = \"longyan\"\nlever = \"tfr\"\nstart = 2017\nend = 2025\ndelta = 0.1\n"),
        &["s.toml:6:1", "shifts[0].start"],
    );
    one(
        &s("city = \"lonyan\"\nlever = \"tfr\"\nstart = 2021\nend = 2025\ndelta = 0.1\n"),
        &["unknown city `lonyan`"],
    );
    one(&s("city = \"longyan\"\nlever = \"tfr\"\nstart = 2021\nend = 2025\n"), &["needs `delta`"]);
}

#[test]
fn inheritance_rules() {
    let child = "[scenario]\nname = \"child\"\nextends = \"parent.toml\"\n";
    // A cycle is refused, at the `extends` that closes it.
    check(
        &[
            ("a.toml", "[scenario]\nname = \"a\"\nextends = \"b.toml\"\n"),
            ("b.toml", "[scenario]\nname = \"b\"\nextends = \"a.toml\"\n"),
        ],
        &["b.toml:3:1", "scenario.extends", "cycle"],
    );
    check(&[("a.toml", "[scenario]\nname = \"a\"\nextends = \"a.toml\"\n")], &["cycle"]);
    // A missing parent is named at the child's `extends`.
    check(&[("c.toml", child)], &["c.toml:3:1", "cannot read `parent.toml`"]);
    // An error in a parent is reported in the parent file.
    check(
        &[("c.toml", child), ("parent.toml", "[scenario]\nname = \"p\"\nhorizon = 2060\n")],
        &["parent.toml:3:1", "scenario.horizon"],
    );
    check(
        &[("c.toml", child), ("parent.toml", "[scenario]\nname = \"p\"\n[transfer]\nrat = 0.1\n")],
        &["parent.toml:4:1", "unknown field `rat`", "did you mean `rate`?"],
    );
    // A child needs its own name (it names the output folder).
    check(
        &[
            ("c.toml", "[scenario]\nextends = \"parent.toml\"\n"),
            ("parent.toml", "[scenario]\nname = \"p\"\n"),
        ],
        &["c.toml", "scenario.name"],
    );
    // A child's park override of a parent's new park keeps the parent's fields; an error in the
    // child's part is located in the child.
    check(
        &[
            (
                "c.toml",
                "[scenario]\nname = \"c\"\nextends = \"parent.toml\"\n[[parks]]\nid = \"new\"\ntax_rate = 2\n",
            ),
            (
                "parent.toml",
                "[scenario]\nname = \"p\"\n[[parks]]\nid = \"new\"\nhost = \"sanming\"\npartner = \"xiamen\"\nvalue_added = 10\n",
            ),
        ],
        &["c.toml:6:1", "parks[id=new].tax_rate"],
    );
}

#[test]
fn a_valid_chain_merges_as_documented() {
    let region = Region::embedded();
    let files: HashMap<PathBuf, String> = [
        ("dir/c.toml", "[scenario]\nname = \"c\"\nextends = \"../p.toml\"\n[transfer]\norigins = { quanzhou = 0.2 }\n[[parks]]\nid = \"xiamen-longyan\"\nvalue_added = 99\n[[shifts]]\ncity = \"sanming\"\nlever = \"tfr\"\nstart = 2021\nend = 2022\ndelta = 0.1\n"),
        ("p.toml", &format!("[scenario]\nname = \"p\"\nhorizon = 2030\n{TRANSFER}[[parks]]\nid = \"xiamen-longyan\"\nstart = 2022\n[[shifts]]\ncity = \"longyan\"\nlever = \"tfr\"\nstart = 2021\nend = 2022\ndelta = 0.1\n")),
    ]
    .into_iter()
    .map(|(n, t)| (PathBuf::from(n), t.to_string()))
    .collect();
    let read = |p: &Path| {
        files
            .get(&PathBuf::from(p.to_str().unwrap().replace("dir/../", "")))
            .cloned()
            .ok_or_else(|| "missing".to_string())
    };
    let sc = Scenario::load(Path::new("dir/c.toml"), &read, &region).unwrap();
    assert_eq!(sc.horizon, 2030);
    let t = sc.transfer.unwrap();
    assert_eq!(t.origins, vec![(2, 0.2)], "origins replaced whole");
    assert_eq!(t.start, 2020);
    assert_eq!(sc.parks.len(), 1);
    assert_eq!(sc.parks[0].start, 2022);
    assert_eq!(sc.parks[0].value_added.central(), 99.0);
    assert_eq!(sc.shifts.len(), 2, "shifts appended");
    assert_eq!(sc.chain, ["dir/c.toml", "dir/../p.toml"]);
}
