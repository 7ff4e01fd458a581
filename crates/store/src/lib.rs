//! Ferry's registry on object storage, and the one place a [`RegistryLocation`] is
//! opened.
//!
//! [`open`] turns a location into an `Arc<dyn Registry>`: a directory is core's
//! [`LocalRegistry`]; `s3://`, `gs://`, `az://` (each behind its cargo feature, `s3` on
//! by default) and `memory://` are an [`ObjectStoreRegistry`]. Both pass core's registry
//! contract suite; train and serve never name either.
//!
//! An object store has no rename and no lock, so the object-store registry keeps the
//! local registry's guarantees another way (see [`ObjectStoreRegistry`]): a version's
//! manifest is uploaded last and is what makes the version exist; version numbers are
//! claimed with a create-if-absent; an alias and its history are one object, moved with
//! a compare-and-swap on its ETag.

mod bridge;
mod cache;
mod layout;
#[cfg(feature = "mlflow")]
pub mod mlflow;
mod object;
mod open;
mod remote;

pub use ferry_core::registry::{LocalRegistry, RegistryLocation};
pub use object::ObjectStoreRegistry;
#[cfg(feature = "mlflow")]
pub use open::mlflow_registry;
pub use open::{OpenError, StoreOptions, open, open_object};
