//! A fault-injecting store, for tests that prove nothing is lost when storage misbehaves.
//!
//! ```
//! # tokio_test_block_on(async {
//! use std::sync::Arc;
//! use object_store::{ObjectStore, ObjectStoreExt, memory::InMemory, path::Path};
//! use tern_storage::testing::{Fault, FaultStore, Op};
//!
//! let store = FaultStore::new(Arc::new(InMemory::new()));
//! store.inject(Fault::fail(Op::Put).nth(2));           // only the second put fails
//! store.put(&Path::from("a"), "1".into()).await.unwrap();
//! assert!(store.put(&Path::from("b"), "2".into()).await.is_err());
//! store.put(&Path::from("c"), "3".into()).await.unwrap();
//!
//! store.inject(Fault::flip_byte(0).under("a"));        // reads of `a` come back corrupt
//! let data = store.get(&Path::from("a")).await.unwrap().bytes().await.unwrap();
//! assert_ne!(&data[..], b"1");
//! assert_eq!(store.calls(Op::Put), 3);
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream};
use futures::{FutureExt, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, UploadPart,
};

/// A kind of store operation, as faults and call counts see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `put_opts`: a single-request write.
    Put,
    /// `put_multipart_opts`: starting a multipart upload.
    MultipartStart,
    /// One `put_part` of a multipart upload.
    MultipartPart,
    /// `complete` of a multipart upload.
    MultipartComplete,
    /// A read (`get_opts` without `head`, and each range of `get_ranges`).
    Get,
    /// A metadata read (`head`).
    Head,
    /// `list`, `list_with_offset`, `list_with_delimiter`.
    List,
    /// One path of a delete.
    Delete,
    /// `copy_opts`.
    Copy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    Always,
    Nth(u64),
    FromNth(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Fail,
    Latency(Duration),
    Truncate(u64),
    FlipByte(u64),
}

/// One fault: which operation, on which paths, at which call, does what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    op: Op,
    prefix: Option<String>,
    when: When,
    action: Action,
}

impl Fault {
    /// Calls of `op` fail with a transient (`Generic`) error.
    pub fn fail(op: Op) -> Self {
        Self { op, prefix: None, when: When::Always, action: Action::Fail }
    }

    /// Calls of `op` are delayed by `delay`.
    pub fn latency(op: Op, delay: Duration) -> Self {
        Self { op, prefix: None, when: When::Always, action: Action::Latency(delay) }
    }

    /// Reads (and heads) see objects cut to their first `keep` bytes, as after a lost tail.
    pub fn truncate_reads(keep: u64) -> Self {
        Self { op: Op::Get, prefix: None, when: When::Always, action: Action::Truncate(keep) }
    }

    /// Reads see the byte at `offset` of the object inverted (every bit flipped).
    pub fn flip_byte(offset: u64) -> Self {
        Self { op: Op::Get, prefix: None, when: When::Always, action: Action::FlipByte(offset) }
    }

    /// Only the `n`-th matching call (counting from 1) is affected.
    #[must_use]
    pub fn nth(mut self, n: u64) -> Self {
        self.when = When::Nth(n.max(1));
        self
    }

    /// The `n`-th matching call and every later one are affected (an outage that starts).
    #[must_use]
    pub fn from_nth(mut self, n: u64) -> Self {
        self.when = When::FromNth(n.max(1));
        self
    }

    /// Only calls on paths under `prefix` (plain string prefix of the path) match.
    #[must_use]
    pub fn under(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    fn matches(&self, op: Op, path: &str) -> bool {
        let op_matches = self.op == op || (op == Op::Head && matches!(self.action, Action::Truncate(_)));
        op_matches && self.prefix.as_deref().is_none_or(|p| path.starts_with(p))
    }
}

#[derive(Default)]
struct State {
    faults: Vec<(Fault, u64)>,
    calls: HashMap<Op, u64>,
}

/// Effects decided for one call.
#[derive(Default)]
struct Effects {
    fail: Option<String>,
    delay: Duration,
    truncate: Option<u64>,
    flips: Vec<u64>,
}

/// A store wrapper that injects [`Fault`]s and counts calls. Faults can be added and cleared
/// while the store is in use.
#[derive(Clone)]
pub struct FaultStore {
    inner: Arc<dyn ObjectStore>,
    state: Arc<Mutex<State>>,
}

impl FaultStore {
    /// Wraps `inner` with no faults.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self { inner, state: Arc::default() }
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push((fault, 0));
    }

    /// Removes every fault (call counts are kept).
    pub fn clear(&self) {
        self.lock().faults.clear();
    }

    /// How many calls of `op` were made so far (failed ones included).
    pub fn calls(&self, op: Op) -> u64 {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn effects(&self, op: Op, path: &str) -> Effects {
        effects(&self.state, op, path)
    }

    async fn enter(&self, op: Op, path: &Path) -> Result<Effects> {
        enter(&self.state, op, path.as_ref()).await
    }
}

fn effects(state: &Mutex<State>, op: Op, path: &str) -> Effects {
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    let call = {
        let c = state.calls.entry(op).or_insert(0);
        *c += 1;
        *c
    };
    let mut effects = Effects::default();
    for (fault, seen) in &mut state.faults {
        if !fault.matches(op, path) {
            continue;
        }
        *seen += 1;
        let fires = match fault.when {
            When::Always => true,
            When::Nth(n) => *seen == n,
            When::FromNth(n) => *seen >= n,
        };
        if !fires {
            continue;
        }
        match fault.action {
            Action::Fail => effects.fail = Some(format!("injected fault: {op:?} call #{call} on `{path}`")),
            Action::Latency(d) => effects.delay += d,
            Action::Truncate(k) => effects.truncate = Some(effects.truncate.map_or(k, |t| t.min(k))),
            Action::FlipByte(o) => effects.flips.push(o),
        }
    }
    effects
}

async fn enter(state: &Mutex<State>, op: Op, path: &str) -> Result<Effects> {
    let effects = effects(state, op, path);
    if !effects.delay.is_zero() {
        tokio::time::sleep(effects.delay).await;
    }
    match &effects.fail {
        Some(message) => Err(object_store::Error::Generic { store: "FaultStore", source: message.clone().into() }),
        None => Ok(effects),
    }
}

/// Applies truncation and byte flips to a read result.
async fn corrupt(result: GetResult, effects: &Effects, head: bool) -> Result<GetResult> {
    if effects.truncate.is_none() && effects.flips.is_empty() {
        return Ok(result);
    }
    let mut meta = result.meta.clone();
    let (attributes, extensions) = (result.attributes.clone(), result.extensions.clone());
    let mut range = result.range.clone();
    let mut data = if head { BytesMut::new() } else { BytesMut::from(result.bytes().await?) };
    if let Some(keep) = effects.truncate {
        meta.size = meta.size.min(keep);
        let end = range.end.min(keep).max(range.start);
        if !head {
            data.truncate(usize::try_from(end - range.start).unwrap_or(usize::MAX));
        }
        range.end = end;
    }
    if !head {
        for &offset in &effects.flips {
            if range.contains(&offset) {
                let i = usize::try_from(offset - range.start).expect("in range");
                data[i] = !data[i];
            }
        }
    }
    let payload = GetResultPayload::Stream(stream::once(async move { Ok(data.freeze()) }).boxed());
    Ok(GetResult { payload, meta, range, attributes, extensions })
}

impl fmt::Display for FaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultStore({})", self.inner)
    }
}

impl fmt::Debug for FaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let faults: Vec<Fault> = self.lock().faults.iter().map(|(f, _)| f.clone()).collect();
        f.debug_struct("FaultStore")
            .field("inner", &format_args!("{}", self.inner))
            .field("faults", &faults)
            .finish_non_exhaustive()
    }
}

fn failed_stream<T: Send + 'static>(e: object_store::Error) -> BoxStream<'static, Result<T>> {
    stream::once(async move { Err(e) }).boxed()
}

#[async_trait]
impl ObjectStore for FaultStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.enter(Op::Put, location).await?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.enter(Op::MultipartStart, location).await?;
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FaultUpload { upload, path: location.to_string(), state: Arc::clone(&self.state) }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let head = options.head;
        let effects = self.enter(if head { Op::Head } else { Op::Get }, location).await?;
        let result = self.inner.get_opts(location, options).await?;
        corrupt(result, &effects, head).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        // Each range goes through `get_opts`, so that read faults apply to it.
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            out.push(self.get_range(location, range.clone()).await?);
        }
        Ok(out)
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let state = Arc::clone(&self.state);
        let inner = Arc::clone(&self.inner);
        locations
            .then(move |location| {
                let (state, inner) = (Arc::clone(&state), Arc::clone(&inner));
                async move {
                    let location = location?;
                    enter(&state, Op::Delete, location.as_ref()).await?;
                    inner.delete(&location).await?;
                    Ok(location)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let path = prefix.map(ToString::to_string).unwrap_or_default();
        let effects = self.effects(Op::List, &path);
        if let Some(message) = effects.fail {
            return failed_stream(object_store::Error::Generic { store: "FaultStore", source: message.into() });
        }
        let inner = self.inner.list(prefix);
        if effects.delay.is_zero() {
            inner
        } else {
            tokio::time::sleep(effects.delay).map(|()| inner).flatten_stream().boxed()
        }
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        let path = prefix.map(ToString::to_string).unwrap_or_default();
        if let Some(message) = self.effects(Op::List, &path).fail {
            return failed_stream(object_store::Error::Generic { store: "FaultStore", source: message.into() });
        }
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.enter(Op::List, &prefix.cloned().unwrap_or_default()).await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.enter(Op::Copy, to).await?;
        self.inner.copy_opts(from, to, options).await
    }
}

/// A multipart upload whose parts and completion can be made to fail.
struct FaultUpload {
    upload: Box<dyn MultipartUpload>,
    path: String,
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for FaultUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultUpload").field("path", &self.path).finish_non_exhaustive()
    }
}

#[async_trait]
impl MultipartUpload for FaultUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let effects = effects(&self.state, Op::MultipartPart, &self.path);
        if let Some(message) = effects.fail {
            return Box::pin(async move {
                Err(object_store::Error::Generic { store: "FaultStore", source: message.into() })
            });
        }
        let part = self.upload.put_part(data);
        if effects.delay.is_zero() {
            part
        } else {
            Box::pin(async move {
                tokio::time::sleep(effects.delay).await;
                part.await
            })
        }
    }

    async fn complete(&mut self) -> Result<PutResult> {
        enter(&self.state, Op::MultipartComplete, &self.path).await?;
        self.upload.complete().await
    }

    async fn abort(&mut self) -> Result<()> {
        self.upload.abort().await
    }
}
