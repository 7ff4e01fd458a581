//! The MLflow registry against a real MLflow tracking server (`mlflow server`, sqlite
//! store, artifact proxy on loopback): core's registry contract, MLflow's own view of
//! what Ferry wrote, and clear refusals of what Ferry cannot serve.

use ferry_core::registry::contract;

use crate::mlflow_server::MlflowServer;

#[test]
fn the_registry_contract_holds_on_a_real_mlflow_server() {
    let mlflow = MlflowServer::start();
    for (name, check) in contract::CHECKS {
        mlflow.wipe();
        let cache = tempfile::tempdir().unwrap();
        let registry = mlflow.registry(cache.path());
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(registry.as_ref())));
        assert!(
            outcome.is_ok(),
            "contract check '{name}' failed on MLflow; server log:\n{}",
            mlflow.log()
        );
    }
}
