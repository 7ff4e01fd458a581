//! Whole pipeline configs (what `train --config` reads) as YAML: parsed and validated
//! (against a base directory without data files), or refused with errors that name the
//! field. Never a panic.
#![no_main]

use ferry_core::config::from_yaml_str;
use libfuzzer_sys::fuzz_target;
use train::config::PipelineConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = from_yaml_str::<PipelineConfig>(text) {
        let _ = config.validate(std::path::Path::new("/nonexistent"));
    }
});
