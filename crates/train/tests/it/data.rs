use polars::prelude::{CsvReadOptions, ParquetWriter, SerReader};

use crate::{report, train, workspace, write_config};

const PIPELINE: &str = r"
data:
  path: PATH
  null_values: ['?']
  max_invalid_fraction: MAXBAD
schema:
  target: {name: species, dtype: categorical}
  features:
    - {name: sepal_length, dtype: numeric, range: {min: 0, max: 100}}
    - {name: sepal_width, dtype: numeric}
    - {name: petal_length, dtype: numeric}
    - {name: petal_width, dtype: numeric, nullable: true}
preprocessing:
  steps:
    - {op: impute, columns: [petal_width], strategy: median}
model: {type: decision_tree_classifier, max_depth: 4}
output: {model_name: flowers}
";

fn pipeline(path: &str, max_bad: &str) -> String {
    PIPELINE.replace("PATH", path).replace("MAXBAD", max_bad)
}

#[test]
fn bad_rows_go_to_the_dead_letter_file_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = fs_err::read_to_string(workspace().join("data/iris.csv")).unwrap();
    csv.push_str("5.0,abc,1.4,0.2,setosa\n");
    csv.push_str("-1,3.0,1.4,?,setosa\n");
    csv.push_str("5.0,3.0,1.4,0.2,?\n");
    let data = dir.path().join("iris_dirty.csv");
    fs_err::write(&data, csv).unwrap();
    let dead = dir.path().join("rejected.csv");
    let text = pipeline(data.to_str().unwrap(), "0.05");
    let text = text.replace(
        "  max_invalid_fraction: 0.05",
        &format!(
            "  max_invalid_fraction: 0.05\n  dead_letter: {}",
            dead.display()
        ),
    );
    let config = write_config(dir.path(), "dirty.yaml", &text);
    let r = report(&train(
        &["--config", config.to_str().unwrap(), "--json"],
        &dir.path().join("reg"),
    ));
    assert_eq!(r["rows"]["read"], 153);
    assert_eq!(r["rows"]["valid"], 150);
    assert_eq!(r["rows"]["invalid"], 3);
    let rejected = fs_err::read_to_string(&dead).unwrap();
    insta::assert_snapshot!(rejected, @r#"
    _row,_reason,sepal_length,sepal_width,petal_length,petal_width,species
    151,"feature 'sepal_width': expected a number, found ""abc""",5.0,abc,1.4,0.2,setosa
    152,"feature 'sepal_length': expected a value between 0 and 100, found -1",-1,3.0,1.4,?,setosa
    153,target 'species' is missing,5.0,3.0,1.4,0.2,?
    "#);
}

#[test]
fn too_many_bad_rows_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = fs_err::read_to_string(workspace().join("data/iris.csv")).unwrap();
    for _ in 0..20 {
        csv.push_str("x,x,x,x,setosa\n");
    }
    let data = dir.path().join("bad.csv");
    fs_err::write(&data, csv).unwrap();
    let config = write_config(
        dir.path(),
        "bad.yaml",
        &pipeline(data.to_str().unwrap(), "0.1"),
    );
    let out = train(
        &["--config", config.to_str().unwrap()],
        &dir.path().join("reg"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("20 of 170 rows are invalid (11.8%, the limit is 10.0%)"),
        "{stderr}"
    );
    assert!(stderr.contains("dead-letter"), "{stderr}");
}

#[test]
fn a_missing_column_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "c.yaml",
        &pipeline("DATA/iris.csv", "0.1")
            .replace(
                "name: petal_width, dtype: numeric, nullable: true",
                "name: petal_wide, dtype: numeric, nullable: true",
            )
            .replace("columns: [petal_width]", "columns: [petal_wide]"),
    );
    let out = train(
        &["--config", config.to_str().unwrap()],
        &dir.path().join("reg"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has no column 'petal_wide' (columns: sepal_length, sepal_width, petal_length, petal_width, species)"), "{stderr}");
}

/// iris rewritten with `;` between fields and, when `decimal_comma`, `,` in numbers.
fn semicolon_iris(dir: &std::path::Path, decimal_comma: bool) -> std::path::PathBuf {
    let text = fs_err::read_to_string(workspace().join("data/iris.csv")).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let line = line.replace(',', ";");
        let line = if decimal_comma {
            line.replace('.', ",")
        } else {
            line
        };
        out.push_str(&line);
        out.push('\n');
    }
    let path = dir.join("iris_semicolon.csv");
    fs_err::write(&path, out).unwrap();
    path
}

#[test]
fn a_semicolon_file_read_with_commas_suggests_the_separator() {
    let hint = "the header has no ',' but ';': set `data.csv.separator: \";\"` in the config";
    for decimal_comma in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let data = semicolon_iris(dir.path(), decimal_comma);
        let config = write_config(
            dir.path(),
            "c.yaml",
            &pipeline(data.to_str().unwrap(), "0.1"),
        );
        let out = train(
            &["--config", config.to_str().unwrap()],
            &dir.path().join("reg"),
        );
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(hint), "{stderr}");
        // Not polars' advice about an option Ferry does not have.
        assert!(!stderr.contains("truncate_ragged_lines"), "{stderr}");
        // With the separator set, the same file trains (decimal commas are bad numbers,
        // so only the plain one).
        if !decimal_comma {
            let fixed = write_config(
                dir.path(),
                "fixed.yaml",
                &pipeline(data.to_str().unwrap(), "0.1").replace(
                    "  null_values: ['?']",
                    "  null_values: ['?']\n  csv: {separator: ';'}",
                ),
            );
            let out = train(
                &["--config", fixed.to_str().unwrap()],
                &dir.path().join("reg"),
            );
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn parquet_and_csv_give_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = workspace().join("data/iris.csv");
    let mut df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(csv_path))
        .unwrap()
        .finish()
        .unwrap();
    let parquet = dir.path().join("iris.parquet");
    ParquetWriter::new(fs_err::File::create(&parquet).unwrap().into_file())
        .finish(&mut df)
        .unwrap();
    let from_csv = report(&train(
        &[
            "--config",
            write_config(dir.path(), "a.yaml", &pipeline("DATA/iris.csv", "0.1"))
                .to_str()
                .unwrap(),
            "--json",
        ],
        &dir.path().join("reg"),
    ));
    let from_parquet = report(&train(
        &[
            "--config",
            write_config(
                dir.path(),
                "b.yaml",
                &pipeline(parquet.to_str().unwrap(), "0.1"),
            )
            .to_str()
            .unwrap(),
            "--json",
        ],
        &dir.path().join("reg"),
    ));
    assert_eq!(from_parquet["version"], 2);
    assert_eq!(from_csv["model_sha256"], from_parquet["model_sha256"]);
    assert_eq!(from_csv["metrics"], from_parquet["metrics"]);
}
