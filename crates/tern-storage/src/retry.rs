//! Operation-level retries with backoff; see [`RetryStore`].

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, Result,
};

/// How often and how patiently [`RetryStore`] retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retries).
    pub attempts: u32,
    /// Pause before the first retry; it doubles for each later one.
    pub initial_backoff: Duration,
    /// Longest pause between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 3, initial_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// Sets the number of attempts (at least 1).
    #[must_use]
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Sets the first pause.
    #[must_use]
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The pause before attempt `attempt + 1` (`attempt` ≥ 1): exponential with full jitter, so
    /// that many clients retrying at once spread out.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1 << (attempt - 1).min(16));
        let cap = exp.min(self.max_backoff);
        cap.mul_f64(0.5 + rand::random::<f64>() / 2.0)
    }
}

/// Whether an error may go away if the operation is tried again.
pub fn is_transient(error: &object_store::Error) -> bool {
    matches!(error, object_store::Error::Generic { .. } | object_store::Error::JoinError { .. })
}

/// Operation-level retries with backoff, on top of what `object_store` already does.
///
/// `object_store`'s HTTP clients retry each *request* (and resume a broken GET body). What they do
/// not cover, and this layer does:
/// - the local file system and other backends without an HTTP client;
/// - an operation whose request-level retries ran out during a longer outage (one more attempt
///   after a longer pause often succeeds);
/// - non-idempotent requests (a conditional create) that time out;
/// - deletes of objects that are already gone, which some backends (Azure, the local file
///   system) report as `NotFound`: a delete is idempotent here on every backend, so that a
///   retried or repeated delete never fails;
/// - `list_with_offset` on servers that ignore the offset (Azurite, fake-gcs-server): the offset
///   is applied again on the client, so it is exclusive on every backend.
///
/// Only errors that can be transient are retried ([`is_transient`]); `NotFound`, `AlreadyExists`,
/// `Precondition` and the like are answers, not failures, and are returned at once.
///
/// A retried conditional create whose first attempt did land will report `AlreadyExists`, and a
/// retried conditional update `Precondition`: callers that write content-addressed objects treat
/// `AlreadyExists` as success, and callers of updates re-read, as they must for any conflict.
pub struct RetryStore<T: ObjectStore = Arc<dyn ObjectStore>> {
    inner: T,
    policy: RetryPolicy,
    label: Option<String>,
}

impl<T: ObjectStore> RetryStore<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, policy: RetryPolicy) -> Self {
        Self { inner, policy, label: None }
    }

    /// Names the store in `Display`, `Debug` and log lines (by default the inner store's
    /// `Display`, which for a prefixed store names only the prefix).
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The wrapped store.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    async fn retry<R, F, Fut>(&self, op: &'static str, path: &Path, mut f: F) -> Result<R>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        let mut attempt = 1;
        loop {
            match f().await {
                Err(e) if attempt < self.policy.attempts && is_transient(&e) => {
                    let pause = self.policy.backoff(attempt);
                    tracing::warn!(store = %self, op, %path, attempt, error = %e, ?pause,
                        "transient storage error; retrying");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl<T: ObjectStore> fmt::Display for RetryStore<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.label {
            Some(label) => f.write_str(label),
            None => write!(f, "Retry({})", self.inner),
        }
    }
}

impl<T: ObjectStore> fmt::Debug for RetryStore<T> {
    // Never the inner store's Debug: a backend's may show client configuration and keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryStore")
            .field("store", &format_args!("{self}"))
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<T: ObjectStore> ObjectStore for RetryStore<T> {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.retry("put", location, || self.inner.put_opts(location, payload.clone(), opts.clone())).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.retry("put_multipart", location, || self.inner.put_multipart_opts(location, opts.clone())).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.retry("get", location, || self.inner.get_opts(location, options.clone())).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.retry("get_ranges", location, || self.inner.get_ranges(location, ranges)).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        // The paths are shared with the inner stream so that a `NotFound` (whose error only
        // carries the path as text) can be answered with the path that was asked for.
        let (tx, mut rx) = futures::channel::mpsc::unbounded::<Path>();
        let requested = locations.inspect_ok(move |p| {
            let _ = tx.unbounded_send(p.clone());
        });
        self.inner
            .delete_stream(requested.boxed())
            .map(move |result| {
                let asked = rx.try_recv().ok();
                match (result, asked) {
                    (Err(object_store::Error::NotFound { .. }), Some(path)) => Ok(path),
                    (Err(object_store::Error::NotFound { path, .. }), None) => Ok(Path::from(path)),
                    (other, _) => other,
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        // Some servers (Azurite, fake-gcs-server) ignore the offset parameter; filtering again is
        // free where the server did it, and makes the offset exclusive on every backend.
        let offset = offset.clone();
        self.inner
            .list_with_offset(prefix, &offset)
            .try_filter(move |meta| futures::future::ready(meta.location > offset))
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let shown = prefix.cloned().unwrap_or_default();
        self.retry("list_with_delimiter", &shown, || self.inner.list_with_delimiter(prefix)).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.retry("copy", from, || self.inner.copy_opts(from, to, options.clone())).await
    }
}
