//! The `Catalog` trait: five required methods over JSON documents; typed access is derived.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, UpdateVersion};
use serde::{Deserialize, Serialize};

/// An opaque version of a stored document, for conditional updates.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Version(pub String);

/// Catalog errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A create found the document already there.
    #[error("`{0}` already exists")]
    Exists(String),
    /// An update lost a race: the document changed since it was read.
    #[error("conflict: `{0}` was changed by another writer since it was read; read it again and retry")]
    Conflict(String),
    /// The document does not exist.
    #[error("`{0}` not found")]
    NotFound(String),
    /// A stored document does not parse.
    #[error("corrupt catalog document `{key}`: {detail}")]
    Corrupt {
        /// Its key.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// A backup cannot be deleted while kept backups depend on it.
    #[error("backup {backup} has dependent incrementals ({dependents}); delete those first or force")]
    HasDependents {
        /// The backup.
        backup: String,
        /// Its dependents.
        dependents: String,
    },
    /// An argument is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// The store failed.
    #[error("catalog storage: {op} `{key}`: {source}")]
    Storage {
        /// The operation.
        op: &'static str,
        /// The document.
        key: String,
        /// The store's error.
        source: object_store::Error,
    },
}

/// `Result` with the catalog's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where catalog documents are kept. Implementations need only these five methods; typed access
/// ([`crate::CatalogExt`]) is derived from them.
#[async_trait]
pub trait Catalog: Send + Sync + fmt::Debug {
    /// Creates `key`; [`Error::Exists`] if it is there with other content. Creating it again
    /// with the *same* content succeeds (a retried create whose first attempt landed).
    async fn create(&self, key: &str, body: Bytes) -> Result<Version>;
    /// Reads `key`, with its version.
    async fn read(&self, key: &str) -> Result<Option<(Bytes, Version)>>;
    /// Replaces `key` if its version is still `expected`; [`Error::Conflict`] if it changed,
    /// [`Error::NotFound`] if it is gone.
    async fn update(&self, key: &str, body: Bytes, expected: &Version) -> Result<Version>;
    /// Deletes `key` (a missing key is not an error).
    async fn delete(&self, key: &str) -> Result<()>;
    /// Every key under `prefix` (a `/`-separated path prefix), sorted.
    async fn keys(&self, prefix: &str) -> Result<Vec<String>>;
}

/// Checks at compile time that the trait is object safe.
fn _object_safe(_: Box<dyn Catalog>) {}

/// A catalog in memory, for tests and embedded single-process use.
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    docs: Mutex<BTreeMap<String, (Bytes, u64)>>,
    next: std::sync::atomic::AtomicU64,
}

impl MemoryCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    fn version(&self) -> u64 {
        self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    }
}

#[async_trait]
impl Catalog for MemoryCatalog {
    async fn create(&self, key: &str, body: Bytes) -> Result<Version> {
        let mut docs = self.docs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((existing, v)) = docs.get(key) {
            return if *existing == body { Ok(Version(v.to_string())) } else { Err(Error::Exists(key.to_owned())) };
        }
        let v = self.version();
        docs.insert(key.to_owned(), (body, v));
        Ok(Version(v.to_string()))
    }

    async fn read(&self, key: &str) -> Result<Option<(Bytes, Version)>> {
        let docs = self.docs.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(docs.get(key).map(|(b, v)| (b.clone(), Version(v.to_string()))))
    }

    async fn update(&self, key: &str, body: Bytes, expected: &Version) -> Result<Version> {
        let mut docs = self.docs.lock().unwrap_or_else(PoisonError::into_inner);
        let v = self.version();
        match docs.get_mut(key) {
            None => Err(Error::NotFound(key.to_owned())),
            Some((_, current)) if current.to_string() != expected.0 => Err(Error::Conflict(key.to_owned())),
            Some(doc) => {
                *doc = (body, v);
                Ok(Version(v.to_string()))
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.docs.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
        Ok(())
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let docs = self.docs.lock().unwrap_or_else(PoisonError::into_inner);
        // The root ("") holds every key, as in a store.
        let prefix = match prefix.trim_matches('/') {
            "" => String::new(),
            p => format!("{p}/"),
        };
        Ok(docs.keys().filter(|k| k.starts_with(&prefix)).cloned().collect())
    }
}

/// The catalog kept in the repository itself (`catalog/…` JSON objects), so a region's bucket
/// describes itself. Creates are `PutMode::Create`; updates are `PutMode::Update` on the etag
/// (or generation) read, so two writers never silently overwrite each other.
#[derive(Clone)]
pub struct StoreCatalog {
    store: Arc<dyn ObjectStore>,
}

impl StoreCatalog {
    /// A catalog in `store` (a repository's store).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }
}

impl fmt::Debug for StoreCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreCatalog({})", self.store)
    }
}

#[derive(Serialize, Deserialize)]
struct StoreVersion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
}

fn encode_version(e_tag: Option<String>, version: Option<String>) -> Version {
    Version(serde_json::to_string(&StoreVersion { e_tag, version }).expect("serializable"))
}

fn storage<'a>(op: &'static str, key: &'a str) -> impl FnOnce(object_store::Error) -> Error + 'a {
    move |source| Error::Storage { op, key: key.to_owned(), source }
}

#[async_trait]
impl Catalog for StoreCatalog {
    async fn create(&self, key: &str, body: Bytes) -> Result<Version> {
        match self.store.put_opts(&Path::from(key), body.clone().into(), PutMode::Create.into()).await {
            Ok(put) => Ok(encode_version(put.e_tag, put.version)),
            Err(object_store::Error::AlreadyExists { .. }) => match self.read(key).await? {
                Some((existing, version)) if existing == body => Ok(version),
                _ => Err(Error::Exists(key.to_owned())),
            },
            Err(e) => Err(storage("create", key)(e)),
        }
    }

    async fn read(&self, key: &str) -> Result<Option<(Bytes, Version)>> {
        let got = match self.store.get(&Path::from(key)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(storage("read", key)(e)),
        };
        let version = encode_version(got.meta.e_tag.clone(), got.meta.version.clone());
        let bytes = got.bytes().await.map_err(storage("read", key))?;
        Ok(Some((bytes, version)))
    }

    async fn update(&self, key: &str, body: Bytes, expected: &Version) -> Result<Version> {
        let v: StoreVersion = serde_json::from_str(&expected.0)
            .map_err(|_| Error::InvalidArgument(format!("`{}` is not a version of this catalog", expected.0)))?;
        let mode = PutMode::Update(UpdateVersion { e_tag: v.e_tag, version: v.version });
        match self.store.put_opts(&Path::from(key), body.into(), mode.into()).await {
            Ok(put) => Ok(encode_version(put.e_tag, put.version)),
            Err(object_store::Error::Precondition { .. }) => {
                // S3 reports an update of a missing object as a precondition failure too.
                match self.store.head(&Path::from(key)).await {
                    Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound(key.to_owned())),
                    _ => Err(Error::Conflict(key.to_owned())),
                }
            }
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound(key.to_owned())),
            Err(e) => Err(storage("update", key)(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage("delete", key)(e)),
        }
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys: Vec<String> = self
            .store
            .list(Some(&Path::from(prefix)))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .map_err(storage("list", prefix))?;
        keys.sort();
        Ok(keys)
    }
}
