//! The local-directory store: `object_store`'s `LocalFileSystem` made durable and conditional.

use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::path::Path as FsPath;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

use crate::error::Error;

/// A repository in a local directory.
///
/// Two things are added to `LocalFileSystem`:
/// - **Durability**: writes fsync the file and its directory before they return (unless opened
///   with `fsync = false`), so "stored" means stored, as on a cloud store.
/// - **Conditional updates** (`PutMode::Update` by etag), which `LocalFileSystem` does not
///   implement. The target file is locked (`flock`) for the compare-and-swap; since a write
///   replaces the file by rename, its etag (inode, mtime, size) changes, and a writer that was
///   waiting for the lock sees a different etag and gets `Precondition`. This holds across
///   processes on one host; it is not meant for network file systems.
#[derive(Debug)]
pub struct LocalStore {
    inner: LocalFileSystem,
    root: std::path::PathBuf,
}

impl LocalStore {
    /// Opens (creating if needed) the directory `root`.
    pub fn open(root: &FsPath, fsync: bool) -> crate::Result<Self> {
        let shown = || root.display().to_string();
        std::fs::create_dir_all(root).map_err(|source| Error::LocalDirectory { path: shown(), source })?;
        let inner = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| Error::LocalDirectory { path: shown(), source: std::io::Error::other(e.to_string()) })?
            .with_fsync(fsync)
            .with_automatic_cleanup(true);
        Ok(Self { inner, root: root.to_path_buf() })
    }

    async fn conditional_update(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let PutMode::Update(version) = &opts.mode else { unreachable!("only called for updates") };
        let precondition =
            |why: &str| object_store::Error::Precondition { path: location.to_string(), source: why.to_owned().into() };
        let Some(expected) = version.e_tag.clone() else {
            return Err(precondition("an update of a local file needs the e_tag it expects"));
        };
        let file = self.inner.path_to_filesystem(location)?;
        let locked = tokio::task::spawn_blocking(move || -> std::io::Result<Option<File>> {
            match File::open(&file) {
                Ok(f) => {
                    f.lock()?;
                    Ok(Some(f))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(|e| object_store::Error::JoinError { source: e })?
        .map_err(|e| object_store::Error::Generic { store: "LocalStore", source: Box::new(e) })?;
        let Some(lock) = locked else {
            return Err(precondition("the object does not exist"));
        };
        // Compare with what is at the path now, not with the locked file: a writer that held the
        // lock before us may have replaced it.
        let current = match self.inner.head(location).await {
            Ok(meta) => meta.e_tag,
            Err(object_store::Error::NotFound { .. }) => return Err(precondition("the object does not exist")),
            Err(e) => return Err(e),
        };
        if current.as_deref() != Some(expected.as_str()) {
            return Err(precondition("the object has changed (etag mismatch)"));
        }
        let result = self.inner.put_opts(location, payload, PutOptions { mode: PutMode::Overwrite, ..opts }).await;
        drop(lock); // closing the file releases the lock, after the new file is in place
        result
    }
}

impl fmt::Display for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalStore({})", self.root.display())
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        if matches!(opts.mode, PutMode::Update(_)) {
            return self.conditional_update(location, payload, opts).await;
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
