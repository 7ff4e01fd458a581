//! Request bodies: the first byte picks the decoder (native, KServe V2 with or without a
//! binary part, MLflow JSON or CSV), the rest is the body. Every body decodes, and then
//! infers, or is refused with a 4xx; nothing panics.
#![no_main]

use std::sync::{Arc, OnceLock};

use actix_web::ResponseError;
use ferry_core::LocalRegistry;
use libfuzzer_sys::fuzz_target;
use serve::infer::infer;
use serve::model_set::{LoadedModel, Pick};
use serve::protocol::{mlflow, native, v2};
use serve::state::load_models;
use serve::{AppState, Limits};

fn tiny() -> &'static (AppState, Arc<LoadedModel>) {
    static TINY: OnceLock<(AppState, Arc<LoadedModel>)> = OnceLock::new();
    TINY.get_or_init(|| {
        let registry = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/registry");
        let registry = LocalRegistry::new(std::path::PathBuf::from(registry));
        let (models, _, _) = load_models(&registry, &[]).unwrap();
        let model = Arc::clone(models.get("tiny", &Pick::Default).unwrap());
        (AppState::new(models, Vec::new(), Limits::default()), model)
    })
}

fn client_error(status: actix_web::http::StatusCode) {
    assert!(status.is_client_error(), "{status}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (state, model) = tiny();
    let model = Arc::clone(model);
    match selector % 5 {
        0 => match native::decode(body, 16) {
            Ok(records) => {
                if let Err(e) = infer(state, model, &records.rows(), "fuzz") {
                    client_error(e.status_code());
                }
            }
            Err(e) => client_error(e.status_code()),
        },
        s @ (1 | 2) => {
            // With a binary part: the second byte says where the JSON header ends.
            let header = (s == 2).then(|| usize::from(body.first().copied().unwrap_or(0)));
            match v2::decode(body, header, &model, 16) {
                Ok(decoded) => {
                    if let Err(e) = infer(state, Arc::clone(&model), &decoded.rows(), "fuzz") {
                        client_error(e.status_code());
                    }
                }
                Err(e) => client_error(e.status_code()),
            }
        }
        s => {
            let content_type = if s == 3 { "application/json" } else { "text/csv" };
            match mlflow::decode(body, Some(content_type), model.bundle.schema(), 16) {
                Ok(rows) => {
                    if let Err(e) = infer(state, Arc::clone(&model), &rows.rows(), "fuzz") {
                        client_error(e.status_code());
                    }
                }
                Err(e) => client_error(e.status_code()),
            }
        }
    }
});
