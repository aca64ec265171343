//! `--xlsx`: results.xlsx opens (calamine reads it back) with the targets, a sheet per headline
//! indicator and a comparison's differences, each value the one the CSV files hold.

mod common;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::*;
use std::collections::HashMap;

fn cell(range: &calamine::Range<Data>, r: usize, c: usize) -> Data {
    range.get((r, c)).cloned().unwrap_or(Data::Empty)
}

fn number(d: &Data) -> f64 {
    match d {
        Data::Float(x) => *x,
        Data::Int(i) => *i as f64,
        other => panic!("a number, found {other:?}"),
    }
}

#[test]
fn the_workbook_round_trips_to_the_csv_values() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = minxinan(
        d,
        &[
            "compare",
            &scen("baseline.toml"),
            &scen("industry-transfer.toml"),
            "--draws",
            "300",
            "--xlsx",
            "--out",
            "c",
            "--no-report",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(d.join("c/results.xlsx")).unwrap();
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "Targets 目标",
            "Population 常住人口",
            "Urbanization 城镇化率",
            "Real GDP 实际GDP",
            "Nominal GDP 名义GDP",
            "GDP per capita 人均GDP",
            "Differences 配对差"
        ]
    );
    // Nominal GDP: the region's 2035 median of each scenario is summary.csv's p50.
    let summary: Vec<HashMap<String, String>> =
        csv::Reader::from_path(d.join("c/summary.csv")).unwrap().deserialize().map(|r| r.unwrap()).collect();
    let range = wb.worksheet_range("Nominal GDP 名义GDP").unwrap();
    assert_eq!(cell(&range, 0, 2), Data::String("statistic (100M CNY (current prices))".into()));
    let col = (3..range.width()).find(|&c| number(&cell(&range, 0, c)) == 2035.0).unwrap();
    let mut checked = 0;
    for r in 1..range.height() {
        if cell(&range, r, 2) != Data::String("median 中位数".into()) {
            continue;
        }
        let (s, name) = (cell(&range, r, 0).to_string(), cell(&range, r, 1).to_string());
        let id = if name.starts_with("闽西南") {
            "region".to_string()
        } else {
            name.split(' ').nth(1).unwrap().to_lowercase()
        };
        let want: f64 = summary
            .iter()
            .find(|x| {
                x["scenario"] == s
                    && x["entity"] == id
                    && x["year"] == "2035"
                    && x["indicator"] == "gdp_nominal"
            })
            .unwrap()["p50"]
            .parse()
            .unwrap();
        assert_eq!(number(&cell(&range, r, col)), want, "{s} {name}");
        checked += 1;
    }
    assert_eq!(checked, 12, "two scenarios × six entities");
    // Targets: probabilities as in targets.csv, with the paired change for the alternative.
    let targets: Vec<HashMap<String, String>> =
        csv::Reader::from_path(d.join("c/targets.csv")).unwrap().deserialize().map(|r| r.unwrap()).collect();
    let t = wb.worksheet_range("Targets 目标").unwrap();
    assert_eq!(t.height(), targets.len() + 1);
    for (k, row) in targets.iter().enumerate() {
        assert_eq!(cell(&t, k + 1, 1).to_string(), row["target"]);
        assert_eq!(cell(&t, k + 1, 2).to_string(), row["label_zh"]);
        assert_eq!(cell(&t, k + 1, 9).to_string(), row["unit"]);
        assert_eq!(number(&cell(&t, k + 1, 10)), row["probability"].parse::<f64>().unwrap());
    }
    let diffs = wb.worksheet_range("Differences 配对差").unwrap();
    assert_eq!(cell(&diffs, 1, 0), Data::String("industry-transfer − baseline".into()));
}
