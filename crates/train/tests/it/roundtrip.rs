//! Every example config's model, fitted in process, written in its artifact encoding and
//! read back, predicts exactly what it predicted before (labels, probabilities and values
//! bit for bit), directly and through `Predictor`, the call serve makes.

use ferry_core::model::{self, TrainedModel};
use ferry_core::{Model, Predictor};
use train::Pipeline;
use train::stages::split::prepare;

use crate::workspace;

#[test]
fn every_example_model_round_trips_through_its_artifact_encoding() {
    let mut checked = Vec::new();
    for entry in fs_err::read_dir(workspace().join("configs")).unwrap() {
        let path = entry.unwrap().path();
        // configs/mlflow/ holds the tracked example (it needs an MLflow server).
        if path.is_dir() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // serve.yaml is the server's config; the 100-tree diamonds forest is the training
        // benchmark (its trees round-trip in the codec and parity tests).
        if name == "serve.yaml" || name == "diamonds_forest.yaml" {
            continue;
        }
        let pipeline = Pipeline::from_file(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dataset = train::data::load(&pipeline, &dir.path().join("dead.csv")).unwrap();
        let prepared = prepare(&pipeline, &dataset).unwrap();
        let fitted = model::fit(pipeline.model(), &prepared.training).unwrap();
        let x_test = prepared
            .preprocessor
            .transform(&prepared.test_frame)
            .unwrap();
        let before = fitted.predict(&x_test).unwrap();
        let bytes = fitted.encode().unwrap();
        let back = TrainedModel::decode(fitted.kind().model_file(), &bytes).unwrap();
        assert_eq!(back, fitted, "{name}");
        assert_eq!(back.predict(&x_test).unwrap(), before, "{name}");
        let predictor = Predictor::new(prepared.preprocessor.clone(), back).unwrap();
        assert_eq!(
            predictor.predict(&prepared.test_frame).unwrap(),
            before,
            "{name}"
        );
        checked.push(pipeline.model().kind());
    }
    checked.sort_by_key(|k| k.as_str());
    checked.dedup();
    // Every algorithm has an example config.
    assert_eq!(
        checked.len(),
        ferry_core::ModelKind::ALL.len(),
        "{checked:?}"
    );
}
