//! Where a repository lives: a URL or path, its options, and its credentials.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::local::LocalStore;
use crate::retry::{RetryPolicy, RetryStore};

/// The backend a [`Location`] points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Backend {
    /// A directory of the local file system.
    Local,
    /// A named in-memory store, shared by every `open` of the same name in this process.
    Memory,
    /// Amazon S3 or an S3-compatible server.
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage.
    Azure,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Local => "file",
            Self::Memory => "memory",
            Self::S3 => "s3",
            Self::Gcs => "gs",
            Self::Azure => "az",
        }
    }
}

/// Options of a location. Each applies to some backends only; giving one to a backend that does
/// not use it is an error rather than silently ignored.
///
/// In a URL they are query parameters (`s3://bucket/prefix?region=eu-west-1&allow_http=true`);
/// in a configuration file they are the `options` table of the location.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreOptions {
    /// Region of the bucket (S3). Defaults to the credentials' region, then `us-east-1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Endpoint URL of an S3-compatible server or an Azure emulator (S3, Azure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Allow plain-HTTP endpoints (S3, GCS, Azure). Off unless set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_http: Option<bool>,
    /// How conditional puts are made (S3): `etag` (the default, `If-Match`/`If-None-Match`) or
    /// `disabled` for servers that support neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditional_put: Option<String>,
    /// How `copy_if_not_exists` is made (S3): `multipart` (the default, works on AWS), or
    /// `header:NAME:VALUE` / `header-with-status:NAME:VALUE:STATUS` for R2-style servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_if_not_exists: Option<String>,
    /// Use virtual-hosted-style requests (S3). Path style unless set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_hosted_style: Option<bool>,
    /// Talk to the Azurite emulator with its well-known account (Azure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_emulator: Option<bool>,
    /// fsync files and directories before a write returns (local). On unless set to `false`;
    /// turning it off gives up durability and exists for benchmarks and throw-away data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fsync: Option<bool>,
    /// Timeout of one HTTP request, in seconds (S3, GCS, Azure). 30 unless set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Retries of one HTTP request inside the client (S3, GCS, Azure). 10 unless set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_retries: Option<usize>,
    /// Attempts of one whole operation by [`RetryStore`] (every backend). 3 unless set; 1
    /// turns operation-level retries off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

/// Which options each backend understands, by their serialized names.
fn options_for(backend: Backend) -> &'static [&'static str] {
    const COMMON_HTTP: &[&str] = &["allow_http", "timeout_secs", "http_retries", "attempts"];
    match backend {
        Backend::Local => &["fsync", "attempts"],
        Backend::Memory => &["attempts"],
        Backend::S3 => &[
            "region",
            "endpoint",
            "conditional_put",
            "copy_if_not_exists",
            "virtual_hosted_style",
            "allow_http",
            "timeout_secs",
            "http_retries",
            "attempts",
        ],
        Backend::Gcs => COMMON_HTTP,
        Backend::Azure => &["endpoint", "use_emulator", "allow_http", "timeout_secs", "http_retries", "attempts"],
    }
}

impl StoreOptions {
    /// The names of the options that are set.
    fn set_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        let mut note = |set: bool, name| {
            if set {
                names.push(name);
            }
        };
        note(self.region.is_some(), "region");
        note(self.endpoint.is_some(), "endpoint");
        note(self.allow_http.is_some(), "allow_http");
        note(self.conditional_put.is_some(), "conditional_put");
        note(self.copy_if_not_exists.is_some(), "copy_if_not_exists");
        note(self.virtual_hosted_style.is_some(), "virtual_hosted_style");
        note(self.use_emulator.is_some(), "use_emulator");
        note(self.fsync.is_some(), "fsync");
        note(self.timeout_secs.is_some(), "timeout_secs");
        note(self.http_retries.is_some(), "http_retries");
        note(self.attempts.is_some(), "attempts");
        names
    }

    /// Sets one option from its text form (a URL query parameter).
    fn set(&mut self, location: &str, name: &str, value: &str) -> Result<()> {
        let invalid = |reason: &str| Error::InvalidOption {
            location: location.to_owned(),
            option: name.to_owned(),
            reason: reason.to_owned(),
        };
        let boolean = || match value {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(invalid("expected true or false")),
        };
        let text = || {
            if value.is_empty() { Err(invalid("expected a value")) } else { Ok(value.to_owned()) }
        };
        match name {
            "region" => self.region = Some(text()?),
            "endpoint" => self.endpoint = Some(text()?),
            "allow_http" => self.allow_http = Some(boolean()?),
            "conditional_put" => self.conditional_put = Some(text()?),
            "copy_if_not_exists" => self.copy_if_not_exists = Some(text()?),
            "virtual_hosted_style" => self.virtual_hosted_style = Some(boolean()?),
            "use_emulator" => self.use_emulator = Some(boolean()?),
            "fsync" => self.fsync = Some(boolean()?),
            "timeout_secs" => {
                self.timeout_secs = Some(value.parse().map_err(|_| invalid("expected a whole number of seconds"))?);
            }
            "http_retries" => {
                self.http_retries = Some(value.parse().map_err(|_| invalid("expected a whole number"))?);
            }
            "attempts" => {
                self.attempts = Some(value.parse().map_err(|_| invalid("expected a whole number of at least 1"))?);
            }
            _ => return Err(invalid("unknown option")),
        }
        Ok(())
    }

    /// Checks values, whichever way they were given (URL, table, or code).
    fn validate(&self, location: &str) -> Result<()> {
        let invalid = |option: &str, reason: &str| {
            Err(Error::InvalidOption {
                location: location.to_owned(),
                option: option.to_owned(),
                reason: reason.to_owned(),
            })
        };
        for (name, value) in [
            ("region", &self.region),
            ("endpoint", &self.endpoint),
            ("conditional_put", &self.conditional_put),
            ("copy_if_not_exists", &self.copy_if_not_exists),
        ] {
            if value.as_deref().is_some_and(str::is_empty) {
                return invalid(name, "expected a value");
            }
        }
        if let Some(endpoint) = &self.endpoint {
            match Url::parse(endpoint) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {}
                _ => return invalid("endpoint", "expected an http:// or https:// URL"),
            }
        }
        if let Some(mode) = &self.conditional_put
            && !matches!(mode.as_str(), "etag" | "disabled")
        {
            return invalid("conditional_put", "expected `etag` or `disabled`");
        }
        if let Some(mode) = &self.copy_if_not_exists {
            let known = mode == "multipart"
                || mode.strip_prefix("header:").is_some_and(|r| r.split(':').count() == 2)
                || mode.strip_prefix("header-with-status:").is_some_and(|r| r.split(':').count() == 3);
            if !known {
                return invalid(
                    "copy_if_not_exists",
                    "expected `multipart`, `header:NAME:VALUE` or `header-with-status:NAME:VALUE:STATUS`",
                );
            }
        }
        if self.attempts == Some(0) {
            return invalid("attempts", "expected a whole number of at least 1");
        }
        Ok(())
    }

    /// Adds `other`'s options to these; an option set in both is an error.
    fn merge(&mut self, other: StoreOptions, location: &str) -> Result<()> {
        let mut other_names = other.set_names();
        other_names.retain(|n| self.set_names().contains(n));
        if let Some(dup) = other_names.first() {
            return Err(Error::InvalidOption {
                location: location.to_owned(),
                option: (*dup).to_owned(),
                reason: "given twice".to_owned(),
            });
        }
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            region,
            endpoint,
            allow_http,
            conditional_put,
            copy_if_not_exists,
            virtual_hosted_style,
            use_emulator,
            fsync,
            timeout_secs,
            http_retries,
            attempts
        );
        Ok(())
    }
}

/// Where a repository lives, with everything needed to open it.
///
/// Accepted forms:
///
/// | form | backend |
/// |---|---|
/// | `file:///abs/path`, `/abs/path`, `relative/path` | local directory (created when opened) |
/// | `memory://name` | in-memory store, one per name per process |
/// | `s3://bucket/prefix` | Amazon S3 and compatibles |
/// | `gs://bucket/prefix` | Google Cloud Storage |
/// | `az://container/prefix` | Azure Blob Storage |
///
/// Options go in the query string or [`Location::with_options`]; credentials never go in the
/// URL (a `user:password@` part is refused) but in [`Location::with_credentials`].
///
/// ```
/// use tern_storage::{Backend, Location};
/// let loc: Location = "s3://backups/eu/prod?region=eu-west-1".parse()?;
/// assert_eq!(loc.backend(), Backend::S3);
/// assert_eq!(loc.to_string(), "s3://backups/eu/prod");
/// assert_eq!(loc.options().region.as_deref(), Some("eu-west-1"));
/// # Ok::<(), tern_storage::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Location {
    target: Target,
    options: StoreOptions,
    credentials: Credentials,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Local(PathBuf),
    Memory(String),
    Bucket { backend: Backend, bucket: String, prefix: Path },
}

impl Location {
    /// Parses a URL or path; see the type's documentation for the forms.
    pub fn parse(input: &str) -> Result<Self> {
        let shown = sanitize(input);
        let bad = |reason: &str| Error::InvalidLocation { location: shown.clone(), reason: reason.to_owned() };
        if input.trim().is_empty() {
            return Err(bad("empty location"));
        }
        if !input.contains("://") {
            if let Some(scheme) = ["file", "memory", "s3", "gs", "az"]
                .into_iter()
                .find(|s| input.strip_prefix(s).is_some_and(|rest| rest.starts_with(':')))
            {
                return Err(bad(&format!("did you mean `{scheme}://…`? (a location URL has `://` after the scheme)")));
            }
            let path = std::path::absolute(input).map_err(|e| bad(&format!("cannot make the path absolute: {e}")))?;
            return Ok(Self::local(normalize(&path)));
        }
        let url = Url::parse(input).map_err(|e| bad(&e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials in the URL are not accepted; give them as the location's credentials"));
        }
        if url.fragment().is_some() {
            return Err(bad("a `#fragment` is not part of a location"));
        }
        let mut options = StoreOptions::default();
        for (key, value) in url.query_pairs() {
            options.set(&shown, &key, &value)?;
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        let prefix = || Path::from_url_path(url.path()).map_err(|e| bad(&format!("invalid prefix: {e}")));
        let bucket_target = |backend: Backend, what: &str| -> Result<Target> {
            if host.is_empty() {
                return Err(bad(&format!("missing {what} name (expected {}://{what}/prefix)", backend.name())));
            }
            if url.port().is_some() {
                return Err(bad(&format!("a {what} name has no port; use the `endpoint` option for a server address")));
            }
            Ok(Target::Bucket { backend, bucket: host.clone(), prefix: prefix()? })
        };
        let target = match url.scheme() {
            "file" => {
                if !(host.is_empty() || host == "localhost") {
                    return Err(bad("a file URL cannot name a remote host (use file:///absolute/path)"));
                }
                Target::Local(normalize(&url.to_file_path().map_err(|()| bad("not an absolute file path"))?))
            }
            "memory" => {
                if host.is_empty() {
                    return Err(bad("missing store name (expected memory://name)"));
                }
                if !matches!(url.path(), "" | "/") {
                    return Err(bad("a memory location is just a name (memory://name)"));
                }
                Target::Memory(host.clone())
            }
            "s3" => bucket_target(Backend::S3, "bucket")?,
            "gs" => bucket_target(Backend::Gcs, "bucket")?,
            "az" => bucket_target(Backend::Azure, "container")?,
            other => {
                return Err(bad(&format!(
                    "unsupported scheme `{other}` (supported: file, memory, s3, gs, az, or a plain path)"
                )));
            }
        };
        let location = Self { target, options, credentials: Credentials::Environment };
        location.check_options()?;
        Ok(location)
    }

    /// A local-directory location; a relative path is taken from the current directory.
    pub fn local(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let path = normalize(&std::path::absolute(&path).unwrap_or(path));
        Self { target: Target::Local(path), options: StoreOptions::default(), credentials: Credentials::Environment }
    }

    /// A named in-memory location: every open of the same name in one process sees one store.
    pub fn memory(name: impl Into<String>) -> Self {
        Self {
            target: Target::Memory(name.into()),
            options: StoreOptions::default(),
            credentials: Credentials::Environment,
        }
    }

    /// Adds options. An option already given in the URL is an error, and so is one the backend
    /// does not use.
    pub fn with_options(mut self, options: StoreOptions) -> Result<Self> {
        self.options.merge(options, &self.to_string())?;
        self.check_options()?;
        Ok(self)
    }

    /// Sets the credentials; they must suit the backend.
    pub fn with_credentials(mut self, credentials: Credentials) -> Result<Self> {
        let fits = matches!(
            (&credentials, self.backend()),
            (Credentials::Environment, _)
                | (Credentials::Aws(_), Backend::S3)
                | (Credentials::Gcp(_), Backend::Gcs)
                | (Credentials::Azure(_), Backend::Azure)
        );
        if !fits {
            let kind = match credentials {
                Credentials::Environment => "environment",
                Credentials::Aws(_) => "AWS",
                Credentials::Gcp(_) => "GCP",
                Credentials::Azure(_) => "Azure",
            };
            return Err(Error::InvalidLocation {
                location: self.to_string(),
                reason: format!("{kind} credentials cannot be used with `{}://` locations", self.backend().name()),
            });
        }
        self.credentials = credentials;
        Ok(self)
    }

    /// The backend this location points at.
    pub fn backend(&self) -> Backend {
        match &self.target {
            Target::Local(_) => Backend::Local,
            Target::Memory(_) => Backend::Memory,
            Target::Bucket { backend, .. } => *backend,
        }
    }

    /// When `self` and `other` are two prefixes of one bucket reached the same way (same
    /// backend, bucket, options and credentials): the bucket's root location and each one's
    /// prefix. Objects can then be copied between them server-side, without moving the bytes
    /// through this process.
    ///
    /// ```
    /// use tern_storage::Location;
    ///
    /// let eu = Location::parse("s3://backups/eu?region=eu-west-1")?;
    /// let us = Location::parse("s3://backups/us?region=eu-west-1")?;
    /// let (root, a, b) = eu.shared_bucket(&us).expect("one bucket");
    /// assert_eq!((root.to_string().as_str(), a.as_ref(), b.as_ref()), ("s3://backups", "eu", "us"));
    /// assert!(eu.shared_bucket(&Location::parse("s3://other/us?region=eu-west-1")?).is_none());
    /// # Ok::<(), tern_storage::Error>(())
    /// ```
    pub fn shared_bucket(&self, other: &Location) -> Option<(Location, Path, Path)> {
        match (&self.target, &other.target) {
            (
                Target::Bucket { backend: b1, bucket: n1, prefix: p1 },
                Target::Bucket { backend: b2, bucket: n2, prefix: p2 },
            ) if b1 == b2 && n1 == n2 && self.options == other.options && self.credentials == other.credentials => {
                let root = Location {
                    target: Target::Bucket { backend: *b1, bucket: n1.clone(), prefix: Path::default() },
                    ..self.clone()
                };
                Some((root, p1.clone(), p2.clone()))
            }
            _ => None,
        }
    }

    /// The options.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    fn check_options(&self) -> Result<()> {
        self.options.validate(&self.to_string())?;
        let allowed = options_for(self.backend());
        if let Some(name) = self.options.set_names().into_iter().find(|n| !allowed.contains(n)) {
            return Err(Error::InvalidOption {
                location: self.to_string(),
                option: name.to_owned(),
                reason: format!(
                    "not used by `{}://` locations (they use: {})",
                    self.backend().name(),
                    allowed.join(", ")
                ),
            });
        }
        Ok(())
    }

    /// Opens the store, rooted at the location's prefix and wrapped in a [`RetryStore`].
    ///
    /// A local directory is created if missing and written with fsync. Building a client does
    /// not contact the server; the first request does.
    pub fn open(&self) -> Result<Arc<dyn ObjectStore>> {
        let policy = RetryPolicy::default().with_attempts(self.options.attempts.unwrap_or(3));
        // The label is the location's display form: backends' own Debug output can include
        // client configuration (Azure's shows the decoded account key), so it is never exposed.
        Ok(Arc::new(RetryStore::new(self.open_backend()?, policy).with_label(self.to_string())))
    }

    /// Like [`open`](Self::open), but a local directory must already exist (for commands that
    /// only read: a mistyped path is an error rather than a new, empty directory).
    pub fn open_existing(&self) -> Result<Arc<dyn ObjectStore>> {
        if let Target::Local(path) = &self.target
            && !path.is_dir()
        {
            return Err(Error::LocalDirectory {
                path: path.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
            });
        }
        self.open()
    }

    fn open_backend(&self) -> Result<Arc<dyn ObjectStore>> {
        match &self.target {
            Target::Local(path) => Ok(Arc::new(LocalStore::open(path, self.options.fsync.unwrap_or(true))?)),
            Target::Memory(name) => Ok(memory_store(name)),
            Target::Bucket { backend, bucket, prefix } => {
                let store = self.build_bucket(*backend, bucket).map_err(|e| self.build_error(&e))?;
                Ok(if prefix.as_ref().is_empty() { store } else { Arc::new(PrefixStore::new(store, prefix.clone())) })
            }
        }
    }

    fn build_error(&self, e: &object_store::Error) -> Error {
        let mut message = scrub_byte_lists(&e.to_string());
        for secret in self.credentials.secrets() {
            secret.redact_in(&mut message);
        }
        Error::Build { location: self.to_string(), message }
    }

    fn retry_config(&self) -> RetryConfig {
        let mut retry = RetryConfig::default();
        if let Some(n) = self.options.http_retries {
            retry.max_retries = n;
        }
        retry
    }

    fn timeout(&self) -> String {
        let secs = self.options.timeout_secs.unwrap_or(30);
        humantime_secs(Duration::from_secs(secs))
    }

    fn build_bucket(&self, backend: Backend, bucket: &str) -> object_store::Result<Arc<dyn ObjectStore>> {
        let o = &self.options;
        let store: Arc<dyn ObjectStore> = match backend {
            Backend::S3 => {
                let mut b = match &self.credentials {
                    Credentials::Environment => AmazonS3Builder::from_env(),
                    _ => AmazonS3Builder::new(),
                };
                b = b
                    .with_bucket_name(bucket)
                    .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), self.timeout())
                    .with_retry(self.retry_config());
                let mut region = o.region.clone();
                if let Credentials::Aws(aws) = &self.credentials {
                    b = b.with_access_key_id(&aws.access_key_id).with_secret_access_key(aws.secret_access_key.expose());
                    if let Some(token) = &aws.session_token {
                        b = b.with_token(token.expose());
                    }
                    region = region.or_else(|| aws.region.clone());
                }
                if let Some(region) = region {
                    b = b.with_region(region);
                } else if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
                    b = b.with_region("us-east-1");
                }
                if let Some(endpoint) = &o.endpoint {
                    b = b.with_endpoint(endpoint);
                }
                if let Some(allow) = o.allow_http {
                    b = b.with_allow_http(allow);
                }
                if let Some(v) = o.virtual_hosted_style {
                    b = b.with_virtual_hosted_style_request(v);
                }
                let conditional = o.conditional_put.as_deref().unwrap_or("etag");
                b = b.with_config(AmazonS3ConfigKey::ConditionalPut, conditional);
                let copy = o.copy_if_not_exists.clone().or_else(|| std::env::var("AWS_COPY_IF_NOT_EXISTS").ok());
                b = b.with_config(AmazonS3ConfigKey::CopyIfNotExists, copy.as_deref().unwrap_or("multipart"));
                Arc::new(b.build()?)
            }
            Backend::Gcs => {
                let mut b = match &self.credentials {
                    Credentials::Gcp(gcp) => {
                        GoogleCloudStorageBuilder::new().with_service_account_key(gcp.key_json().expose())
                    }
                    _ => GoogleCloudStorageBuilder::from_env(),
                };
                b = b
                    .with_bucket_name(bucket)
                    .with_config(GoogleConfigKey::Client(ClientConfigKey::Timeout), self.timeout())
                    .with_retry(self.retry_config());
                if let Some(allow) = o.allow_http {
                    b = b.with_config(GoogleConfigKey::Client(ClientConfigKey::AllowHttp), allow.to_string());
                }
                Arc::new(b.build()?)
            }
            Backend::Azure => {
                let mut b = match &self.credentials {
                    Credentials::Azure(az) => {
                        MicrosoftAzureBuilder::new().with_account(&az.account).with_access_key(az.access_key.expose())
                    }
                    _ => MicrosoftAzureBuilder::from_env(),
                };
                b = b
                    .with_container_name(bucket)
                    .with_config(AzureConfigKey::Client(ClientConfigKey::Timeout), self.timeout())
                    .with_retry(self.retry_config());
                if let Some(v) = o.use_emulator {
                    b = b.with_use_emulator(v);
                }
                if let Some(endpoint) = &o.endpoint {
                    b = b.with_endpoint(endpoint.clone());
                }
                if let Some(allow) = o.allow_http {
                    b = b.with_allow_http(allow);
                }
                Arc::new(b.build()?)
            }
            Backend::Local | Backend::Memory => unreachable!("not a bucket backend"),
        };
        Ok(store)
    }
}

fn humantime_secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

/// Replaces lists of numbers such as `[80, 82, 73, 86]` (how decoders show the bytes of a key
/// they could not read) with `[bytes not shown]`.
fn scrub_byte_lists(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close)
                if after[..close].matches(',').count() >= 3
                    && after[..close].bytes().all(|b| b.is_ascii_digit() || b == b',' || b == b' ') =>
            {
                out.push_str("[bytes not shown]");
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Resolves `.` and `..` lexically, so one directory has one spelling (`/a/b/..` is `/a`), as
/// in the `file://` URL it displays as.
fn normalize(path: &FsPath) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

static MEMORY_STORES: LazyLock<Mutex<HashMap<String, Arc<InMemory>>>> = LazyLock::new(Mutex::default);

fn memory_store(name: &str) -> Arc<dyn ObjectStore> {
    let mut stores = MEMORY_STORES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let store: Arc<InMemory> = Arc::clone(stores.entry(name.to_owned()).or_insert_with(|| Arc::new(InMemory::new())));
    store
}

/// The input as it may be shown in an error: without user-info, query or fragment (which could
/// hold secrets pasted by mistake).
fn sanitize(input: &str) -> String {
    match Url::parse(input) {
        Ok(mut url) if input.contains("://") => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        _ => {
            // Not a parseable URL. First drop everything between `://` and the last `@` (user-info,
            // whose password may itself hold `?`, `#` or `/`), then cut at a query or fragment.
            let without_userinfo = match (input.find("://"), input.rfind('@')) {
                (Some(s), Some(at)) if at > s => format!("{}{}", &input[..s + 3], &input[at + 1..]),
                _ => input.to_owned(),
            };
            let cut = without_userinfo.find(['?', '#']).unwrap_or(without_userinfo.len());
            without_userinfo[..cut].to_owned()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Local(path) => match Url::from_file_path(path) {
                Ok(url) => write!(f, "{url}"),
                Err(()) => write!(f, "{}", path.display()),
            },
            Target::Memory(name) => write!(f, "memory://{name}"),
            Target::Bucket { backend, bucket, prefix } => {
                // Through `Url`, so that `?`, `#` and the like in the prefix are percent-encoded
                // and the displayed form parses back to the same location.
                match Url::parse(&format!("{}://{bucket}", backend.name())) {
                    Ok(mut url) => {
                        if let Ok(mut segments) = url.path_segments_mut() {
                            segments.clear().extend(prefix.parts().map(|p| p.as_ref().to_owned()));
                        }
                        f.write_str(url.as_str().trim_end_matches('/'))
                    }
                    Err(_) => write!(f, "{}://{bucket}/{prefix}", backend.name()),
                }
            }
        }
    }
}

#[allow(clippy::missing_fields_in_debug)] // the target is shown as its URL
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location")
            .field("url", &self.to_string())
            .field("options", &self.options)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl FromStr for Location {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Location {
    /// The local directory, for a local location.
    pub fn local_path(&self) -> Option<&FsPath> {
        match &self.target {
            Target::Local(p) => Some(p),
            _ => None,
        }
    }
}

/// The table form of a location in configuration files.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationTable {
    url: String,
    #[serde(default)]
    options: StoreOptions,
    #[serde(default)]
    credentials: Credentials,
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        LocationTable { url: self.to_string(), options: self.options.clone(), credentials: self.credentials.clone() }
            .serialize(serializer)
    }
}

/// A location deserializes from a string (`"s3://bucket/prefix?region=eu-west-1"`) or from a
/// table `{ url = "...", options = { ... }, credentials = { ... } }`.
impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Location;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a location URL or a table with `url`, `options` and `credentials`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Location, E> {
                Location::parse(v).map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<Location, A::Error> {
                use serde::de::Error as _;
                let table = LocationTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Location::parse(&table.url)
                    .and_then(|l| l.with_options(table.options))
                    .and_then(|l| l.with_credentials(table.credentials))
                    .map_err(A::Error::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
