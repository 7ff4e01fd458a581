//! Model files are untrusted input: `model.bin` (trees, forests, boosted models) and
//! `model.json` (every other kind), the first byte choosing which. A file either is
//! refused with an error or gives a model that predicts, explains and lists its trees on
//! any row without panicking.
#![no_main]

use ferry_core::model::{MODEL_BIN, MODEL_JSON};
use ferry_core::{FeatureMatrix, Model, TrainedModel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let file = if selector % 2 == 0 { MODEL_BIN } else { MODEL_JSON };
    let Ok(model) = TrainedModel::decode(file, bytes) else {
        return;
    };
    let width = model.n_features();
    if width == 0 || width > 4096 {
        return;
    }
    for fill in [0.0, -1.5, 1e300, f64::NAN] {
        let x = FeatureMatrix::from_row_major(vec![fill; width], 1, width).unwrap();
        let _ = model.predict(&x);
        let _ = model.explain(&x);
    }
    let _ = model.tree_table();
});
