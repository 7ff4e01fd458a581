//! XGBoost JSON models and LightGBM text models, as `train import` reads them: refused by
//! name, or a model that predicts any row without panicking.
#![no_main]

use ferry_core::label::ClassLabel;
use ferry_core::model::{import_lightgbm, import_xgboost};
use ferry_core::{FeatureMatrix, Model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let classes = match selector % 3 {
        0 => None,
        1 => Some(vec![ClassLabel::Int(0), ClassLabel::Int(1)]),
        _ => Some((0..3).map(ClassLabel::Int).collect()),
    };
    let imported = if selector % 2 == 0 {
        import_xgboost(bytes, classes)
    } else {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        import_lightgbm(text, classes)
    };
    let Ok(imported) = imported else {
        return;
    };
    let model = imported.model;
    let width = model.n_features();
    if width == 0 || width > 4096 {
        return;
    }
    for fill in [0.0, -3.0, 1e-300, f64::NAN] {
        let x = FeatureMatrix::from_row_major(vec![fill; width], 1, width).unwrap();
        let _ = model.predict(&x);
    }
});
