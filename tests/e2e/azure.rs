//! The object-store registry on Azure Blob Storage's protocol: core's registry contract
//! against Azurite, Microsoft's storage emulator (npm, in tests/node, installed by
//! .ci/run), started on an ephemeral loopback port and killed on drop. Azurite checks
//! the conditional writes the registry relies on (If-None-Match: *, If-Match).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use ferry_core::RegistryLocation;
use ferry_core::registry::contract;

use crate::harness::workspace;

/// Azurite's development account and its key, public constants of the emulator.
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

struct Azurite {
    child: Child,
    port: u16,
}

impl Azurite {
    fn start(container: &str) -> Azurite {
        let node = workspace().join("tests/node");
        let azurite = node.join("node_modules/.bin/azurite-blob");
        assert!(
            azurite.exists(),
            "{} is missing: run .ci/run, or npm ci --prefix tests/node",
            azurite.display()
        );
        let mut child = Command::new(azurite)
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0"])
            .args([
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--disableTelemetry",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Azurite starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let line = lines
            .find(|l| l.contains("successfully listens on http://127.0.0.1:"))
            .expect("Azurite prints its address");
        // Azurite logs every request: read it all, or its writes fail once the pipe is full
        // or closed.
        std::thread::spawn(move || lines.for_each(drop));
        let port: u16 = line.rsplit(':').next().unwrap().trim().parse().unwrap();
        let made = Command::new("node")
            .arg(node.join("create_container.js"))
            .args([port.to_string().as_str(), container])
            .current_dir(&node)
            .output()
            .expect("node runs");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        Azurite { child, port }
    }

    fn options(&self, cache: &std::path::Path) -> ferry_store::StoreOptions {
        let setting = |k: &str, v: String| (k.to_owned(), v);
        ferry_store::StoreOptions {
            cache_dir: cache.to_owned(),
            settings: vec![
                setting("azure_storage_account_name", ACCOUNT.to_owned()),
                setting("azure_storage_account_key", KEY.to_owned()),
                setting(
                    "azure_endpoint",
                    format!("http://127.0.0.1:{}/{ACCOUNT}", self.port),
                ),
                setting("azure_allow_http", "true".to_owned()),
            ],
            ..ferry_store::StoreOptions::default()
        }
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_registry_contract_holds_on_azurite() {
    let azurite = Azurite::start("ferry");
    for (i, (name, check)) in contract::CHECKS.iter().enumerate() {
        let cache = tempfile::tempdir().unwrap();
        let location: RegistryLocation = format!("az://ferry/contract/{i}").parse().unwrap();
        let registry = ferry_store::open(&location, &azurite.options(cache.path())).unwrap();
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(registry.as_ref())));
        assert!(outcome.is_ok(), "contract check '{name}' failed on Azurite");
    }
}
