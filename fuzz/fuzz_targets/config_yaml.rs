//! Config sections as YAML, through the one reader every config goes through
//! (`ferry_core::config::from_yaml_str`): the model section validated for its kind, the
//! feature schema, and preprocessing validated against a schema for both kinds of model
//! inputs. Refused with errors, never a panic.
#![no_main]

use ferry_core::config::from_yaml_str;
use ferry_core::preprocess::ModelInputs;
use ferry_core::schema::FeatureSpec;
use ferry_core::{FeatureSchema, ModelSpec, PreprocessSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = from_yaml_str::<ModelSpec>(text) {
        let _ = spec.validate();
    }
    if let Ok(features) = from_yaml_str::<Vec<FeatureSpec>>(text)
        && let Ok(schema) = FeatureSchema::new(features)
    {
        let _ = PreprocessSpec::default().validate(&schema);
    }
    if let Ok(steps) = from_yaml_str::<PreprocessSpec>(text) {
        let features: Vec<FeatureSpec> = from_yaml_str(
            "[{name: age, dtype: numeric, nullable: true}, {name: sex, dtype: categorical}, {name: n, dtype: integer}]",
        )
        .unwrap();
        let schema = FeatureSchema::new(features).unwrap();
        for inputs in [
            ModelInputs::ENCODED,
            ModelInputs {
                missing: true,
                category_codes: true,
            },
        ] {
            let _ = steps.validate_for(&schema, inputs);
        }
    }
});
