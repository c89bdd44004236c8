//! The repository: `tern.json`, keys, and access to the engine's operations.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, UpdateVersion};
use serde::{Deserialize, Serialize};

use crate::backup::FinishedBackup;
use crate::chunker::ChunkerParams;
use crate::error::{Error, ObjectKind, Result};
use crate::id::BackupId;
use crate::keys::{KdfParams, KeyRing, KeySlot, MasterKey, UserKey};
use crate::manifest::{self, ManifestBody, ManifestIndex};
use tern_catalog::{BackupFilter, BackupRecord, CatalogExt, Paging, StoreCatalog};

/// The repository format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const CONFIG: &str = "tern.json";

/// How blobs and manifests are protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cipher {
    /// AES-256-GCM (the default).
    Aes256Gcm,
    /// None: content is stored compressed but readable by anyone with the bucket. Recorded, so
    /// it is never mistaken for an encrypted repository.
    None,
}

/// `tern.json`: everything needed to read the repository, except the user's key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Always `tern-repository`.
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this build.
    pub version: u32,
    /// Random id of this repository (32 hex digits).
    pub repo_id: String,
    /// When it was created.
    pub created: chrono::DateTime<chrono::Utc>,
    /// Chunk sizes.
    pub chunker: ChunkerParams,
    /// Encryption.
    pub cipher: Cipher,
    /// The chunk-id key of an unencrypted repository (64 hex digits); absent when encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_key: Option<String>,
    /// Wrapped copies of the master key, one per user key.
    #[serde(default)]
    pub keys: Vec<KeySlot>,
}

/// How to create a repository.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// The first user key; `None` creates an unencrypted repository.
    pub key: Option<UserKey>,
    /// Chunk sizes.
    pub chunker: ChunkerParams,
    /// Argon2id cost for passphrase keys.
    pub kdf: KdfParams,
}

impl InitOptions {
    /// An encrypted repository unlocked by `key`, with default sizes and KDF cost.
    pub fn encrypted(key: UserKey) -> Self {
        Self { key: Some(key), chunker: ChunkerParams::default(), kdf: KdfParams::default() }
    }

    /// An unencrypted repository.
    pub fn unencrypted() -> Self {
        Self { key: None, chunker: ChunkerParams::default(), kdf: KdfParams::default() }
    }
}

/// An open repository. Cheap to clone; all clones share the store and keys.
///
/// Opened without a key (see [`Repository::open`]), an encrypted repository still lists,
/// quick-verifies and garbage-collects: everything those need is outside the encryption.
#[derive(Clone)]
pub struct Repository {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) config: Arc<RepoConfig>,
    pub(crate) keys: Option<Arc<KeyRing>>,
    config_version: Option<UpdateVersion>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("store", &format_args!("{}", self.store))
            .field("repo_id", &self.config.repo_id)
            .field("cipher", &self.config.cipher)
            .field("unlocked", &self.keys.is_some())
            .finish_non_exhaustive()
    }
}

impl Repository {
    /// Creates a repository in an empty location. Refuses one that already has `tern.json`.
    pub async fn init(store: Arc<dyn ObjectStore>, options: InitOptions) -> Result<Self> {
        options.chunker.validate().map_err(Error::InvalidArgument)?;
        let repo_id = hex::encode(rand::random::<[u8; 16]>());
        let (cipher, id_key, keys, ring) = if let Some(user) = &options.key {
            let master = MasterKey::random();
            let slot = master.wrap(user, options.kdf, &repo_id)?;
            (Cipher::Aes256Gcm, None, vec![slot], KeyRing::encrypted(&master))
        } else {
            let id_key: [u8; 32] = rand::random();
            (Cipher::None, Some(hex::encode(id_key)), Vec::new(), KeyRing::unencrypted(id_key))
        };
        let config = RepoConfig {
            format: "tern-repository".into(),
            version: FORMAT_VERSION,
            repo_id,
            created: chrono::Utc::now(),
            chunker: options.chunker,
            cipher,
            id_key,
            keys,
        };
        let path = Path::from(CONFIG);
        let bytes = serde_json::to_vec_pretty(&config).expect("serializable");
        let put = match store.put_opts(&path, bytes.into(), PutMode::Create.into()).await {
            Ok(put) => put,
            Err(object_store::Error::AlreadyExists { .. }) => {
                return Err(Error::AlreadyInitialized { location: store.to_string() });
            }
            Err(e) => return Err(Error::storage("write", &path, e)),
        };
        Ok(Self {
            store,
            config: Arc::new(config),
            keys: Some(Arc::new(ring)),
            config_version: Some(UpdateVersion { e_tag: put.e_tag, version: put.version }),
        })
    }

    /// Opens a repository. With `key`, unlocks it (a wrong key is [`Error::WrongKey`]);
    /// without, an encrypted repository opens for key-less operations only.
    pub async fn open(store: Arc<dyn ObjectStore>, key: Option<&UserKey>) -> Result<Self> {
        let path = Path::from(CONFIG);
        let got = match store.get(&path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Error::NotARepository { location: store.to_string() });
            }
            Err(e) => return Err(Error::storage("read", &path, e)),
        };
        let version = UpdateVersion { e_tag: got.meta.e_tag.clone(), version: got.meta.version.clone() };
        let bytes = got.bytes().await.map_err(|e| Error::storage("read", &path, e))?;
        let config = parse_config(&bytes)?;
        config.chunker.validate().map_err(|e| Error::corrupt(ObjectKind::Config, CONFIG, e))?;
        let keys = match (config.cipher, key) {
            (Cipher::None, _) => {
                let id_key = config
                    .id_key
                    .as_deref()
                    .and_then(|k| hex::decode(k).ok())
                    .and_then(|k| <[u8; 32]>::try_from(k).ok())
                    .ok_or_else(|| Error::corrupt(ObjectKind::Config, CONFIG, "missing or bad `id_key`"))?;
                Some(Arc::new(KeyRing::unencrypted(id_key)))
            }
            (Cipher::Aes256Gcm, Some(user)) => {
                let (master, _) = MasterKey::unwrap(&config.keys, user, &config.repo_id)?;
                Some(Arc::new(KeyRing::encrypted(&master)))
            }
            (Cipher::Aes256Gcm, None) => None,
        };
        Ok(Self { store, config: Arc::new(config), keys, config_version: Some(version) })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// `tern.json`.
    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    /// Whether the repository is unlocked (or needs no key).
    pub fn is_unlocked(&self) -> bool {
        self.keys.is_some()
    }

    pub(crate) fn keys(&self) -> Result<&Arc<KeyRing>> {
        self.keys.as_ref().ok_or(Error::KeyRequired)
    }

    /// The unlocked keys (for callers that encode or decode blobs themselves, such as
    /// benchmarks and the replicator's re-encrypting copy).
    pub fn key_ring(&self) -> Result<Arc<KeyRing>> {
        self.keys().cloned()
    }

    /// Adds a user key (needs the repository unlocked with an existing key). Re-wraps the master
    /// key only; returns the new slot's id.
    pub async fn add_key(&mut self, current: &UserKey, new: &UserKey, kdf: KdfParams) -> Result<String> {
        self.require_encrypted()?;
        let (master, _) = MasterKey::unwrap(&self.config.keys, current, &self.config.repo_id)?;
        let slot = master.wrap(new, kdf, &self.config.repo_id)?;
        let id = slot.id.clone();
        let mut config = (*self.config).clone();
        config.keys.push(slot);
        self.write_config(config).await?;
        Ok(id)
    }

    /// Removes a user key slot. The last key cannot be removed (the data would be lost), and
    /// the key used to authorise the removal must open the repository.
    pub async fn remove_key(&mut self, current: &UserKey, slot_id: &str) -> Result<()> {
        self.require_encrypted()?;
        MasterKey::unwrap(&self.config.keys, current, &self.config.repo_id)?;
        if !self.config.keys.iter().any(|s| s.id == slot_id) {
            return Err(Error::Key(format!("no key slot `{slot_id}`")));
        }
        if self.config.keys.len() == 1 {
            return Err(Error::Key(
                "refusing to remove the last key: the repository could never be opened again".into(),
            ));
        }
        let mut config = (*self.config).clone();
        config.keys.retain(|s| s.id != slot_id);
        self.write_config(config).await
    }

    fn require_encrypted(&self) -> Result<()> {
        match self.config.cipher {
            Cipher::Aes256Gcm => Ok(()),
            Cipher::None => Err(Error::Key("this repository is not encrypted: it has no keys to add or remove".into())),
        }
    }

    async fn write_config(&mut self, config: RepoConfig) -> Result<()> {
        let path = Path::from(CONFIG);
        let mode = match &self.config_version {
            Some(v) if v.e_tag.is_some() || v.version.is_some() => PutMode::Update(v.clone()),
            _ => PutMode::Overwrite,
        };
        let bytes = serde_json::to_vec_pretty(&config).expect("serializable");
        let put = self.store.put_opts(&path, bytes.into(), PutOptions::from(mode)).await.map_err(|e| match e {
            object_store::Error::Precondition { .. } => Error::Key(
                "tern.json changed since it was read (another key change?); open the repository again".into(),
            ),
            e => Error::storage("write", &path, e),
        })?;
        self.config_version = Some(UpdateVersion { e_tag: put.e_tag, version: put.version });
        self.config = Arc::new(config);
        Ok(())
    }

    /// The repository's own catalog (`catalog/…` objects in the same store).
    pub fn catalog(&self) -> StoreCatalog {
        StoreCatalog::new(Arc::clone(&self.store))
    }

    /// Makes a finished backup visible: its record goes from `running` to `succeeded`, on the
    /// condition that nobody changed it since the backup started (else [`Error::Catalog`] with a
    /// conflict). Committing again after a commit that landed is success.
    pub async fn commit(&self, finished: &FinishedBackup) -> Result<()> {
        let catalog = self.catalog();
        match catalog.update_backup(&finished.record, &finished.version).await {
            Ok(_) => Ok(()),
            Err(tern_catalog::Error::Conflict(key)) => {
                // A retried commit whose first attempt landed finds its own record.
                let current = catalog.get_backup(&finished.record.service, &finished.record.id).await?;
                if current.is_some_and(|c| c.value == finished.record) {
                    Ok(())
                } else {
                    Err(tern_catalog::Error::Conflict(key).into())
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A create-only write that is idempotent: if the object already exists *with these bytes*
    /// (a retried write whose first attempt landed), that is success; other bytes are an error.
    pub(crate) async fn put_once(&self, path: &Path, bytes: bytes::Bytes) -> Result<()> {
        match self.store.put_opts(path, bytes.clone().into(), PutMode::Create.into()).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { path: p, source }) => {
                let existing = self.read(path).await?;
                if existing == bytes {
                    Ok(())
                } else {
                    Err(Error::storage("write", path, object_store::Error::AlreadyExists { path: p, source }))
                }
            }
            Err(e) => Err(Error::storage("write", path, e)),
        }
    }

    /// Committed (`succeeded`) backups, oldest first; of one service, or of all.
    pub async fn list_backups(&self, service: Option<&str>) -> Result<Vec<BackupRecord>> {
        let filter = BackupFilter {
            service: service.map(str::to_owned),
            status: Some("succeeded".into()),
            ..BackupFilter::default()
        };
        Ok(self.catalog().list_backups(&filter, Paging::all()).await?.items)
    }

    /// The record of one committed backup (searching every service).
    pub async fn record(&self, id: &BackupId) -> Result<BackupRecord> {
        match self.catalog().find_backup(id).await? {
            Some(r) if r.status == tern_catalog::BackupStatus::Succeeded => Ok(r),
            _ => Err(Error::BackupNotFound(id.clone())),
        }
    }

    /// The key-free index of a backup's manifest.
    pub async fn manifest_index(&self, id: &BackupId) -> Result<ManifestIndex> {
        let path = manifest::manifest_path(id);
        let bytes = self.read_manifest_bytes(id).await?;
        manifest::decode_index(&bytes).map_err(|e| Error::corrupt(ObjectKind::Manifest, path, e))
    }

    /// A backup's whole manifest (needs the key).
    pub async fn manifest(&self, id: &BackupId) -> Result<(ManifestIndex, ManifestBody)> {
        let keys = self.keys()?;
        let path = manifest::manifest_path(id);
        let bytes = self.read_manifest_bytes(id).await?;
        manifest::decode(keys, &bytes).map_err(|e| Error::corrupt(ObjectKind::Manifest, path, e))
    }

    /// A manifest's bytes as stored (for copying it elsewhere unchanged).
    pub async fn manifest_bytes(&self, id: &BackupId) -> Result<bytes::Bytes> {
        self.read_manifest_bytes(id).await
    }

    async fn read_manifest_bytes(&self, id: &BackupId) -> Result<bytes::Bytes> {
        let path = manifest::manifest_path(id);
        match self.store.get(&path).await {
            Ok(got) => got.bytes().await.map_err(|e| Error::storage("read", &path, e)),
            Err(object_store::Error::NotFound { .. }) => Err(Error::BackupNotFound(id.clone())),
            Err(e) => Err(Error::storage("read", &path, e)),
        }
    }

    pub(crate) async fn read(&self, path: &Path) -> Result<bytes::Bytes> {
        let got = self.store.get(path).await.map_err(|e| Error::storage("read", path, e))?;
        got.bytes().await.map_err(|e| Error::storage("read", path, e))
    }
}

fn parse_config(bytes: &[u8]) -> Result<RepoConfig> {
    // Check the version before the strict parse, so a newer format is reported as such rather
    // than as an unknown field.
    #[derive(Deserialize)]
    struct Probe {
        format: Option<String>,
        version: Option<u64>,
    }
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| Error::corrupt(ObjectKind::Config, CONFIG, e.to_string()))?;
    if probe.format.as_deref() != Some("tern-repository") {
        return Err(Error::corrupt(
            ObjectKind::Config,
            CONFIG,
            "not a Tern repository config (`format` is not `tern-repository`)",
        ));
    }
    match probe.version {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => return Err(Error::UnsupportedVersion { found: v, supported: FORMAT_VERSION }),
        None => return Err(Error::corrupt(ObjectKind::Config, CONFIG, "missing `version`")),
    }
    serde_json::from_slice(bytes).map_err(|e| Error::corrupt(ObjectKind::Config, CONFIG, e.to_string()))
}
