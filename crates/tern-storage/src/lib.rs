//! Object storage for Tern: where a repository lives, how to authenticate there, and the store
//! wrappers that make any backend safe to build a backup system on.
//!
//! Everything here produces or wraps an [`object_store::ObjectStore`], so the rest of Tern (and
//! your own code) talks to one trait whether the bytes go to a local directory, memory, S3 (or a
//! compatible server), Google Cloud Storage or Azure Blob Storage.
//!
//! - [`Location`] parses `file:///…`, plain paths, `memory://name`, `s3://bucket/prefix`,
//!   `gs://bucket/prefix` and `az://container/prefix`, with [`StoreOptions`] and
//!   [`Credentials`], and opens a store rooted at the prefix.
//! - [`Credentials`] come from the environment, from explicit values, or from the base64 forms
//!   users paste into an API (an AWS credentials INI, a GCP service-account JSON key). Secrets are
//!   [`Secret`]s: never printed, never serialized, never in an error.
//! - [`Regions`] maps region names to locations, so other crates ask for "the store of eu-west".
//! - [`RetryStore`] retries transient failures with backoff where `object_store` does not, and
//!   makes deletes idempotent on every backend; [`LocalStore`] makes a local directory durable
//!   (fsync) and gives it etag-conditional updates.
//! - With the `testing` feature, [`testing::FaultStore`] injects failures, truncations, flipped
//!   bytes and latency, and [`testing::conformance`] is the suite every backend passes.
//!
//! # Example
//!
//! ```
//! use object_store::{ObjectStoreExt, PutMode, path::Path};
//! use tern_storage::Location;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir()?;
//! let store = Location::parse(dir.path().to_str().unwrap())?.open()?;
//! let path = Path::from("catalog/db1/backups/0001.json");
//! store.put_opts(&path, r#"{"status":"running"}"#.into(), PutMode::Create.into()).await?;
//! let again = store.put_opts(&path, "{}".into(), PutMode::Create.into()).await;
//! assert!(matches!(again, Err(object_store::Error::AlreadyExists { .. })));
//! store.delete(&path).await?;
//! store.delete(&path).await?; // deleting what is gone succeeds, on every backend
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs)]

mod credentials;
mod error;
mod local;
mod location;
mod regions;
mod retry;
mod secret;
#[cfg(feature = "testing")]
pub mod testing;

pub use credentials::{AwsCredentials, AzureCredentials, Credentials, GcpServiceAccount};
pub use error::{CredentialError, CredentialProblem, Error, Result};
pub use local::LocalStore;
pub use location::{Backend, Location, StoreOptions};
pub use regions::Regions;
pub use retry::{RetryPolicy, RetryStore, is_transient};
pub use secret::{REDACTED, Secret};

/// Re-exported so users need not depend on a matching `object_store` themselves.
pub use object_store;
