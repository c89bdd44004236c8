//! Location parsing, options, serde forms, opening local and memory stores, and every error a
//! location can produce, asserted by its exact message.

use std::path::{Path as FsPath, PathBuf};

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tern_storage::{
    AwsCredentials, AzureCredentials, Backend, Credentials, Error, GcpServiceAccount, Location, Secret, StoreOptions,
};

/// The error message of parsing `input`, which must fail.
fn parse_err(input: &str) -> String {
    match Location::parse(input) {
        Ok(loc) => panic!("{input:?} parsed, as {loc:?}, but should have failed"),
        Err(e) => e.to_string(),
    }
}

fn aws() -> Credentials {
    Credentials::Aws(
        AwsCredentials::new("AKIDLOCATIONTEST".into(), Secret::new("location-test-secret"), None, None).unwrap(),
    )
}

fn azure() -> Credentials {
    // "location-test-key" in base64.
    Credentials::Azure(AzureCredentials::new("ternaccount", Secret::new("bG9jYXRpb24tdGVzdC1rZXk=")).unwrap())
}

fn gcp() -> Credentials {
    let json = serde_json::json!({
        "type": "service_account",
        "client_email": "backup@project.iam.gserviceaccount.com",
        "private_key_id": "0123abcd",
        "private_key": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    });
    Credentials::Gcp(GcpServiceAccount::from_json(&json.to_string()).unwrap())
}

async fn read(store: &dyn ObjectStore, path: &Path) -> Vec<u8> {
    store.get(path).await.unwrap().bytes().await.unwrap().to_vec()
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Local locations
// ---------------------------------------------------------------------------------------------

#[test]
fn file_url_with_absolute_path() {
    let loc = Location::parse("file:///srv/tern/repo").unwrap();
    assert_eq!(loc.backend(), Backend::Local);
    assert_eq!(loc.local_path(), Some(FsPath::new("/srv/tern/repo")));
    assert_eq!(loc.to_string(), "file:///srv/tern/repo");
    assert_eq!(loc.options(), &StoreOptions::default());
    assert_eq!(loc.credentials(), &Credentials::Environment);
}

#[test]
fn file_url_naming_localhost_is_local() {
    let loc = Location::parse("file://localhost/srv/tern/repo").unwrap();
    assert_eq!(loc.local_path(), Some(FsPath::new("/srv/tern/repo")));
    assert_eq!(loc.to_string(), "file:///srv/tern/repo");
}

#[test]
fn file_url_percent_encoding_is_decoded() {
    let loc = Location::parse("file:///srv/tern%20backups/repo").unwrap();
    assert_eq!(loc.local_path(), Some(FsPath::new("/srv/tern backups/repo")));
    assert_eq!(loc.to_string(), "file:///srv/tern%20backups/repo");
}

#[test]
fn absolute_plain_path() {
    let loc = Location::parse("/srv/tern backups/repo").unwrap();
    assert_eq!(loc.backend(), Backend::Local);
    assert_eq!(loc.local_path(), Some(FsPath::new("/srv/tern backups/repo")));
    assert_eq!(loc.to_string(), "file:///srv/tern%20backups/repo");
    assert_eq!(loc, Location::parse("file:///srv/tern%20backups/repo").unwrap());
}

#[test]
fn relative_path_is_resolved_against_the_working_directory() {
    let loc = Location::parse("backups/relative-repo").unwrap();
    let expected = cwd().join("backups/relative-repo");
    assert!(expected.is_absolute());
    assert_eq!(loc.backend(), Backend::Local);
    assert_eq!(loc.local_path(), Some(expected.as_path()));
    assert_eq!(loc.to_string(), url::Url::from_file_path(&expected).unwrap().to_string());
}

#[test]
fn dot_relative_path_is_resolved_against_the_working_directory() {
    let loc = Location::parse("./backups/dotted").unwrap();
    assert_eq!(loc.local_path(), Some(cwd().join("backups/dotted").as_path()));
}

#[test]
fn file_url_takes_the_fsync_option() {
    let loc = Location::parse("file:///srv/tern/repo?fsync=false&attempts=5").unwrap();
    assert_eq!(loc.options(), &StoreOptions { fsync: Some(false), attempts: Some(5), ..StoreOptions::default() });
    // Options are not part of the displayed location.
    assert_eq!(loc.to_string(), "file:///srv/tern/repo");
}

#[test]
fn opening_a_local_location_creates_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/c");
    assert!(!dir.exists());
    let loc = Location::parse(dir.to_str().unwrap()).unwrap();
    loc.open().unwrap();
    assert!(dir.is_dir());
}

#[test]
fn opening_a_local_file_url_creates_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("from url/nested");
    let url = url::Url::from_directory_path(&dir).unwrap();
    let loc = Location::parse(url.as_str()).unwrap();
    assert_eq!(loc.local_path(), Some(dir.as_path()));
    loc.open().unwrap();
    assert!(dir.is_dir());
}

#[tokio::test]
async fn local_location_put_then_get() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let store = Location::local(&root).open().unwrap();
    let path = Path::from("catalog/db1/0001.json");
    store.put(&path, "hello, tern".into()).await.unwrap();
    assert_eq!(read(store.as_ref(), &path).await, b"hello, tern");
    // The object really is a file under the root.
    assert_eq!(std::fs::read(root.join("catalog/db1/0001.json")).unwrap(), b"hello, tern");
    // A second open of the same directory sees it.
    let again = Location::local(&root).open().unwrap();
    assert_eq!(read(again.as_ref(), &path).await, b"hello, tern");
}

#[tokio::test]
async fn local_location_without_fsync_still_stores() {
    let tmp = tempfile::tempdir().unwrap();
    let loc = Location::local(tmp.path())
        .with_options(StoreOptions { fsync: Some(false), ..StoreOptions::default() })
        .unwrap();
    let store = loc.open().unwrap();
    let path = Path::from("x");
    store.put(&path, "fast".into()).await.unwrap();
    assert_eq!(read(store.as_ref(), &path).await, b"fast");
}

#[test]
fn opening_a_local_directory_under_a_file_fails_with_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let dir = file.join("sub");
    let err = Location::local(&dir).open().unwrap_err();
    assert!(matches!(err, Error::LocalDirectory { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("cannot open local directory {}: Not a directory (os error 20)", dir.display())
    );
}

// ---------------------------------------------------------------------------------------------
// Memory locations
// ---------------------------------------------------------------------------------------------

#[test]
fn memory_location_parses() {
    let loc = Location::parse("memory://unit-test-store").unwrap();
    assert_eq!(loc.backend(), Backend::Memory);
    assert_eq!(loc.local_path(), None);
    assert_eq!(loc.to_string(), "memory://unit-test-store");
    assert_eq!(loc, Location::memory("unit-test-store"));
    // A trailing slash is still just the name.
    assert_eq!(Location::parse("memory://unit-test-store/").unwrap(), loc);
}

#[tokio::test]
async fn two_opens_of_one_memory_name_share_data() {
    let first = Location::parse("memory://location-test-shared").unwrap().open().unwrap();
    let second = Location::parse("memory://location-test-shared").unwrap().open().unwrap();
    let path = Path::from("shared/object");
    first.put(&path, "seen by both".into()).await.unwrap();
    assert_eq!(read(second.as_ref(), &path).await, b"seen by both");
    // Also through the constructor.
    let third = Location::memory("location-test-shared").open().unwrap();
    assert_eq!(read(third.as_ref(), &path).await, b"seen by both");
}

#[tokio::test]
async fn different_memory_names_do_not_share_data() {
    let one = Location::parse("memory://location-test-one").unwrap().open().unwrap();
    let other = Location::parse("memory://location-test-other").unwrap().open().unwrap();
    let path = Path::from("private/object");
    one.put(&path, "only in one".into()).await.unwrap();
    assert_eq!(read(one.as_ref(), &path).await, b"only in one");
    let missing = other.get(&path).await;
    assert!(matches!(missing, Err(object_store::Error::NotFound { .. })), "{missing:?}");
}

// ---------------------------------------------------------------------------------------------
// Bucket locations
// ---------------------------------------------------------------------------------------------

#[test]
fn s3_location() {
    let loc = Location::parse("s3://tern-backups/eu/prod").unwrap();
    assert_eq!(loc.backend(), Backend::S3);
    assert_eq!(loc.local_path(), None);
    assert_eq!(loc.to_string(), "s3://tern-backups/eu/prod");
    assert_eq!(loc.options(), &StoreOptions::default());
    assert_eq!(loc.credentials(), &Credentials::Environment);
}

#[test]
fn gs_location() {
    let loc = Location::parse("gs://tern-backups/eu/prod").unwrap();
    assert_eq!(loc.backend(), Backend::Gcs);
    assert_eq!(loc.to_string(), "gs://tern-backups/eu/prod");
}

#[test]
fn az_location() {
    let loc = Location::parse("az://tern-container/eu/prod").unwrap();
    assert_eq!(loc.backend(), Backend::Azure);
    assert_eq!(loc.to_string(), "az://tern-container/eu/prod");
}

#[test]
fn bucket_without_prefix_and_trailing_slashes() {
    assert_eq!(Location::parse("s3://tern-backups").unwrap().to_string(), "s3://tern-backups");
    assert_eq!(Location::parse("s3://tern-backups/").unwrap().to_string(), "s3://tern-backups");
    assert_eq!(Location::parse("gs://tern-backups/a/b/").unwrap().to_string(), "gs://tern-backups/a/b");
    assert_eq!(Location::parse("s3://tern-backups/").unwrap(), Location::parse("s3://tern-backups").unwrap());
}

#[test]
fn scheme_is_case_insensitive() {
    assert_eq!(Location::parse("S3://tern-backups/p").unwrap(), Location::parse("s3://tern-backups/p").unwrap());
}

#[test]
fn different_buckets_and_prefixes_are_different_locations() {
    let a = Location::parse("s3://bucket-a/p").unwrap();
    assert_ne!(a, Location::parse("s3://bucket-b/p").unwrap());
    assert_ne!(a, Location::parse("s3://bucket-a/q").unwrap());
    assert_ne!(a, Location::parse("gs://bucket-a/p").unwrap());
}

#[test]
fn s3_query_options() {
    let loc = Location::parse(
        "s3://tern-backups/eu?region=eu-west-1&allow_http=true&endpoint=http://127.0.0.1:9000\
         &virtual_hosted_style=false&conditional_put=disabled&copy_if_not_exists=multipart\
         &timeout_secs=5&http_retries=2&attempts=4",
    )
    .unwrap();
    assert_eq!(
        loc.options(),
        &StoreOptions {
            region: Some("eu-west-1".into()),
            endpoint: Some("http://127.0.0.1:9000".into()),
            allow_http: Some(true),
            conditional_put: Some("disabled".into()),
            copy_if_not_exists: Some("multipart".into()),
            virtual_hosted_style: Some(false),
            timeout_secs: Some(5),
            http_retries: Some(2),
            attempts: Some(4),
            ..StoreOptions::default()
        }
    );
    assert_eq!(loc.to_string(), "s3://tern-backups/eu");
}

#[test]
fn query_values_are_percent_decoded() {
    let loc = Location::parse("s3://b/p?endpoint=http%3A%2F%2Fminio.local%3A9000").unwrap();
    assert_eq!(loc.options().endpoint.as_deref(), Some("http://minio.local:9000"));
}

#[test]
fn boolean_option_spellings() {
    for (text, value) in [("true", true), ("1", true), ("yes", true), ("false", false), ("0", false), ("no", false)] {
        let loc = Location::parse(&format!("s3://b/p?allow_http={text}")).unwrap();
        assert_eq!(loc.options().allow_http, Some(value), "allow_http={text}");
    }
}

#[test]
fn azure_and_gcs_query_options() {
    let az =
        Location::parse("az://container/p?use_emulator=true&endpoint=http://127.0.0.1:10000&allow_http=yes").unwrap();
    assert_eq!(
        az.options(),
        &StoreOptions {
            use_emulator: Some(true),
            endpoint: Some("http://127.0.0.1:10000".into()),
            allow_http: Some(true),
            ..StoreOptions::default()
        }
    );
    let gs = Location::parse("gs://bucket/p?timeout_secs=60&http_retries=0&allow_http=false").unwrap();
    assert_eq!(
        gs.options(),
        &StoreOptions {
            allow_http: Some(false),
            timeout_secs: Some(60),
            http_retries: Some(0),
            ..StoreOptions::default()
        }
    );
}

#[test]
fn with_options_adds_to_the_url_options() {
    let loc = Location::parse("s3://b/p?region=eu-west-1")
        .unwrap()
        .with_options(StoreOptions { allow_http: Some(true), attempts: Some(2), ..StoreOptions::default() })
        .unwrap();
    assert_eq!(
        loc.options(),
        &StoreOptions {
            region: Some("eu-west-1".into()),
            allow_http: Some(true),
            attempts: Some(2),
            ..StoreOptions::default()
        }
    );
}

#[test]
fn with_credentials_of_the_right_kind() {
    let s3 = Location::parse("s3://b/p").unwrap().with_credentials(aws()).unwrap();
    assert_eq!(s3.credentials(), &aws());
    let gs = Location::parse("gs://b/p").unwrap().with_credentials(gcp()).unwrap();
    assert_eq!(gs.credentials(), &gcp());
    let az = Location::parse("az://c/p").unwrap().with_credentials(azure()).unwrap();
    assert_eq!(az.credentials(), &azure());
    // Environment credentials suit every backend, and replace explicit ones.
    let back = s3.with_credentials(Credentials::Environment).unwrap();
    assert_eq!(back.credentials(), &Credentials::Environment);
    for url in ["memory://m", "file:///tmp/x", "gs://b", "az://c"] {
        let loc = Location::parse(url).unwrap().with_credentials(Credentials::Environment).unwrap();
        assert_eq!(loc.credentials(), &Credentials::Environment, "{url}");
    }
}

#[test]
fn s3_location_with_credentials_and_local_endpoint_opens_without_a_server() {
    let loc = Location::parse("s3://b/p?endpoint=http://127.0.0.1:9&allow_http=true")
        .unwrap()
        .with_credentials(aws())
        .unwrap();
    let store = loc.open().unwrap();
    assert_eq!(store.to_string(), "s3://b/p", "an opened store is named by its location");
    let bare =
        Location::parse("s3://b?endpoint=http://127.0.0.1:9&allow_http=true").unwrap().with_credentials(aws()).unwrap();
    assert_eq!(bare.open().unwrap().to_string(), "s3://b");
}

// ---------------------------------------------------------------------------------------------
// Display round-trip
// ---------------------------------------------------------------------------------------------

#[test]
fn display_round_trips() {
    for input in [
        "file:///srv/tern/repo",
        "file:///srv/tern%20backups/r%C3%A9po",
        "memory://round-trip",
        "s3://tern-backups",
        "s3://tern-backups/eu/prod",
        "s3://tern-backups/with%20space/x",
        "gs://tern-backups/a/b/c",
        "az://container/a",
    ] {
        let loc = Location::parse(input).unwrap();
        let shown = loc.to_string();
        let again = Location::parse(&shown).unwrap_or_else(|e| panic!("{input} -> {shown}: {e}"));
        assert_eq!(again, loc, "{input} -> {shown}");
        assert_eq!(again.to_string(), shown, "{input}");
        // FromStr is the same as parse.
        assert_eq!(shown.parse::<Location>().unwrap(), loc);
    }
}

#[test]
fn display_of_an_option_only_location_drops_options_but_serde_keeps_them() {
    let loc = Location::parse("s3://b/p?region=eu-west-1&attempts=2").unwrap();
    assert_eq!(loc.to_string(), "s3://b/p");
    let json = serde_json::to_string(&loc).unwrap();
    assert_eq!(json, r#"{"url":"s3://b/p","options":{"region":"eu-west-1","attempts":2},"credentials":"environment"}"#);
    let back: Location = serde_json::from_str(&json).unwrap();
    assert_eq!(back, loc);
}

/// A prefix with a character that is special in URLs (`?`, `#`) must survive Display → parse.
#[test]
fn display_round_trips_prefix_with_url_special_characters() {
    for input in ["s3://b/what%3Fnow", "s3://b/issue%23123"] {
        let loc = Location::parse(input).unwrap();
        let again = Location::parse(&loc.to_string());
        assert_eq!(again.ok(), Some(loc), "{input}");
    }
}

// ---------------------------------------------------------------------------------------------
// Serde
// ---------------------------------------------------------------------------------------------

#[test]
fn deserialize_from_a_string() {
    let loc: Location = serde_json::from_str(r#""s3://tern-backups/eu?region=eu-west-1""#).unwrap();
    assert_eq!(loc, Location::parse("s3://tern-backups/eu?region=eu-west-1").unwrap());
    assert_eq!(loc.options().region.as_deref(), Some("eu-west-1"));
    let mem: Location = serde_json::from_str(r#""memory://serde""#).unwrap();
    assert_eq!(mem, Location::memory("serde"));
}

#[test]
fn deserialize_from_a_table() {
    let loc: Location = serde_json::from_str(
        r#"{
            "url": "s3://tern-backups/eu?endpoint=http://127.0.0.1:9000",
            "options": { "region": "eu-west-1", "allow_http": true, "attempts": 5 },
            "credentials": { "aws": { "access_key_id": "AKIDLOCATIONTEST", "secret_access_key": "location-test-secret" } }
        }"#,
    )
    .unwrap();
    assert_eq!(loc.backend(), Backend::S3);
    assert_eq!(loc.to_string(), "s3://tern-backups/eu");
    assert_eq!(
        loc.options(),
        &StoreOptions {
            region: Some("eu-west-1".into()),
            endpoint: Some("http://127.0.0.1:9000".into()),
            allow_http: Some(true),
            attempts: Some(5),
            ..StoreOptions::default()
        }
    );
    assert_eq!(loc.credentials(), &aws());
}

#[test]
fn deserialize_from_a_minimal_table() {
    let loc: Location = serde_json::from_str(r#"{"url": "memory://minimal"}"#).unwrap();
    assert_eq!(loc, Location::memory("minimal"));
    assert_eq!(loc.credentials(), &Credentials::Environment);
    assert_eq!(loc.options(), &StoreOptions::default());
}

#[test]
fn deserialize_table_with_environment_credentials() {
    let loc: Location = serde_json::from_str(r#"{"url": "gs://b/p", "credentials": "environment"}"#).unwrap();
    assert_eq!(loc.credentials(), &Credentials::Environment);
    assert_eq!(loc.backend(), Backend::Gcs);
}

#[test]
fn serialize_then_deserialize_a_local_location() {
    let loc = Location::parse("file:///srv/tern/repo?fsync=false").unwrap();
    let json = serde_json::to_value(&loc).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "url": "file:///srv/tern/repo",
            "options": { "fsync": false },
            "credentials": "environment",
        })
    );
    let back: Location = serde_json::from_value(json).unwrap();
    assert_eq!(back, loc);
}

#[test]
fn table_with_an_unknown_field_is_refused() {
    let err = serde_json::from_str::<Location>(r#"{"url": "s3://b/p", "colour": "blue"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown field `colour`, expected one of `url`, `options`, `credentials` at line 1 column 28"
    );
}

#[test]
fn table_with_an_unknown_option_is_refused() {
    let err = serde_json::from_str::<Location>(r#"{"url": "s3://b/p", "options": {"colour": 1}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown field `colour`, expected one of `region`, `endpoint`, `allow_http`, \
         `conditional_put`, `copy_if_not_exists`, `virtual_hosted_style`, `use_emulator`, `fsync`, \
         `timeout_secs`, `http_retries`, `attempts` at line 1 column 40"
    );
}

#[test]
fn table_without_url_is_refused() {
    let err = serde_json::from_str::<Location>(r#"{"options": {}}"#).unwrap_err();
    assert_eq!(err.to_string(), "missing field `url` at line 1 column 15");
}

#[test]
fn location_of_the_wrong_json_type_is_refused() {
    let err = serde_json::from_str::<Location>("42").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid type: integer `42`, expected a location URL or a table with `url`, `options` and \
         `credentials` at line 1 column 2"
    );
}

#[test]
fn string_form_reports_the_parse_error() {
    let err = serde_json::from_str::<Location>(r#""ftp://x/y""#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid location `ftp://x/y`: unsupported scheme `ftp` (supported: file, memory, s3, gs, az, \
         or a plain path) at line 1 column 11"
    );
}

#[test]
fn table_with_an_option_in_url_and_options_is_refused() {
    let err =
        serde_json::from_str::<Location>(r#"{"url": "s3://b/p?region=eu-west-1", "options": {"region": "us-east-1"}}"#)
            .unwrap_err();
    assert_eq!(err.to_string(), "invalid option `region` for `s3://b/p`: given twice at line 1 column 72");
}

#[test]
fn table_with_an_option_the_backend_does_not_use_is_refused() {
    let err =
        serde_json::from_str::<Location>(r#"{"url": "memory://m", "options": {"region": "eu-west-1"}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid option `region` for `memory://m`: not used by `memory://` locations (they use: attempts) \
         at line 1 column 57"
    );
}

#[test]
fn table_with_credentials_of_the_wrong_kind_is_refused() {
    let err = serde_json::from_str::<Location>(
        r#"{"url": "gs://b/p", "credentials": {"aws": {"access_key_id": "AKID", "secret_access_key": "x"}}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid location `gs://b/p`: AWS credentials cannot be used with `gs://` locations at line 1 column 96"
    );
}

/// The table form validates options as strictly as the URL form.
#[test]
fn table_options_are_validated_like_url_options() {
    let zero = serde_json::from_str::<Location>(r#"{"url": "memory://m", "options": {"attempts": 0}}"#);
    assert!(zero.is_err(), "attempts = 0 accepted in a table: {zero:?}");
    let empty = Location::parse("s3://b/p")
        .unwrap()
        .with_options(StoreOptions { region: Some(String::new()), ..StoreOptions::default() });
    assert!(empty.is_err(), "empty region accepted by with_options: {empty:?}");
}

// ---------------------------------------------------------------------------------------------
// Bad locations: exact messages
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_location() {
    assert_eq!(parse_err(""), "invalid location ``: empty location");
    assert_eq!(parse_err("   "), "invalid location `   `: empty location");
}

#[test]
fn unsupported_scheme() {
    assert_eq!(
        parse_err("ftp://x/y"),
        "invalid location `ftp://x/y`: unsupported scheme `ftp` (supported: file, memory, s3, gs, az, or a plain path)"
    );
    assert_eq!(
        parse_err("https://example.com/bucket"),
        "invalid location `https://example.com/bucket`: unsupported scheme `https` (supported: file, memory, s3, \
         gs, az, or a plain path)"
    );
}

#[test]
fn bucket_missing() {
    assert_eq!(parse_err("s3://"), "invalid location `s3://`: missing bucket name (expected s3://bucket/prefix)");
    assert_eq!(
        parse_err("s3:///prefix"),
        "invalid location `s3:///prefix`: missing bucket name (expected s3://bucket/prefix)"
    );
    assert_eq!(parse_err("gs://"), "invalid location `gs://`: missing bucket name (expected gs://bucket/prefix)");
    assert_eq!(parse_err("az://"), "invalid location `az://`: missing container name (expected az://container/prefix)");
}

#[test]
fn bucket_with_a_port() {
    assert_eq!(
        parse_err("s3://bucket:9000/prefix"),
        "invalid location `s3://bucket:9000/prefix`: a bucket name has no port; use the `endpoint` option for a \
         server address"
    );
    assert_eq!(
        parse_err("az://container:10000/prefix"),
        "invalid location `az://container:10000/prefix`: a container name has no port; use the `endpoint` option \
         for a server address"
    );
}

#[test]
fn memory_without_a_name() {
    assert_eq!(parse_err("memory://"), "invalid location `memory://`: missing store name (expected memory://name)");
}

#[test]
fn memory_with_a_path() {
    assert_eq!(
        parse_err("memory://a/b"),
        "invalid location `memory://a/b`: a memory location is just a name (memory://name)"
    );
}

#[test]
fn file_url_with_a_remote_host() {
    assert_eq!(
        parse_err("file://remotehost/x"),
        "invalid location `file://remotehost/x`: a file URL cannot name a remote host (use file:///absolute/path)"
    );
}

#[test]
fn fragment_is_refused() {
    assert_eq!(
        parse_err("s3://bucket/prefix#section"),
        "invalid location `s3://bucket/prefix`: a `#fragment` is not part of a location"
    );
}

#[test]
fn empty_path_segment_in_a_prefix() {
    assert_eq!(
        parse_err("s3://bucket/a//b"),
        "invalid location `s3://bucket/a//b`: invalid prefix: Path \"/a//b\" contained empty path segment"
    );
}

#[test]
fn unknown_query_option() {
    // The option's value is never shown, and the query is cut from the location.
    assert_eq!(
        parse_err("s3://bucket/p?colour=blue-value"),
        "invalid option `colour` for `s3://bucket/p`: unknown option"
    );
}

#[test]
fn bad_boolean_value() {
    assert_eq!(
        parse_err("s3://bucket/p?allow_http=maybe"),
        "invalid option `allow_http` for `s3://bucket/p`: expected true or false"
    );
    assert_eq!(
        parse_err("file:///srv/x?fsync=TRUE"),
        "invalid option `fsync` for `file:///srv/x`: expected true or false"
    );
}

#[test]
fn bad_numbers() {
    assert_eq!(
        parse_err("s3://bucket/p?attempts=0"),
        "invalid option `attempts` for `s3://bucket/p`: expected a whole number of at least 1"
    );
    assert_eq!(
        parse_err("memory://m?attempts=-1"),
        "invalid option `attempts` for `memory://m`: expected a whole number of at least 1"
    );
    assert_eq!(
        parse_err("s3://bucket/p?timeout_secs=1.5"),
        "invalid option `timeout_secs` for `s3://bucket/p`: expected a whole number of seconds"
    );
    assert_eq!(
        parse_err("s3://bucket/p?http_retries=many"),
        "invalid option `http_retries` for `s3://bucket/p`: expected a whole number"
    );
}

#[test]
fn empty_text_option() {
    assert_eq!(parse_err("s3://bucket/p?region="), "invalid option `region` for `s3://bucket/p`: expected a value");
}

#[test]
fn option_not_used_by_the_backend() {
    assert_eq!(
        parse_err("s3://bucket/p?fsync=false"),
        "invalid option `fsync` for `s3://bucket/p`: not used by `s3://` locations (they use: region, endpoint, \
         conditional_put, copy_if_not_exists, virtual_hosted_style, allow_http, timeout_secs, http_retries, attempts)"
    );
    assert_eq!(
        parse_err("memory://m?region=eu-west-1"),
        "invalid option `region` for `memory://m`: not used by `memory://` locations (they use: attempts)"
    );
    assert_eq!(
        parse_err("gs://bucket/p?endpoint=http://127.0.0.1:4443"),
        "invalid option `endpoint` for `gs://bucket/p`: not used by `gs://` locations (they use: allow_http, \
         timeout_secs, http_retries, attempts)"
    );
    assert_eq!(
        parse_err("az://container/p?region=westeurope"),
        "invalid option `region` for `az://container/p`: not used by `az://` locations (they use: endpoint, \
         use_emulator, allow_http, timeout_secs, http_retries, attempts)"
    );
    assert_eq!(
        parse_err("file:///srv/x?allow_http=true"),
        "invalid option `allow_http` for `file:///srv/x`: not used by `file://` locations (they use: fsync, attempts)"
    );
}

#[test]
fn option_not_used_by_the_backend_via_with_options() {
    let err =
        Location::memory("m").with_options(StoreOptions { fsync: Some(true), ..StoreOptions::default() }).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid option `fsync` for `memory://m`: not used by `memory://` locations (they use: attempts)"
    );
}

#[test]
fn option_both_in_url_and_in_with_options() {
    let err = Location::parse("s3://bucket/p?region=eu-west-1")
        .unwrap()
        .with_options(StoreOptions { region: Some("us-east-1".into()), ..StoreOptions::default() })
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidOption { option, .. } if option == "region"), "{err:?}");
    assert_eq!(err.to_string(), "invalid option `region` for `s3://bucket/p`: given twice");
}

#[test]
fn credentials_in_the_url_are_refused_and_not_shown() {
    let err = parse_err("s3://AKIA:supersecret@bucket/p");
    assert_eq!(
        err,
        "invalid location `s3://bucket/p`: credentials in the URL are not accepted; give them as the location's \
         credentials"
    );
    assert!(!err.contains("supersecret"));
    assert!(!err.contains("AKIA:"));
    // A user name alone is refused too.
    assert_eq!(
        parse_err("az://someone@container/p"),
        "invalid location `az://container/p`: credentials in the URL are not accepted; give them as the \
         location's credentials"
    );
}

#[test]
fn credentials_in_an_unparsable_url_are_not_shown() {
    // The port is not a number, so the URL does not parse: the fallback must still cut user-info.
    let err = parse_err("s3://AKIA:supersecret@bucket:port/p");
    assert!(!err.contains("supersecret"), "{err}");
    assert!(!err.contains("AKIA:"), "{err}");
    assert_eq!(err, "invalid location `s3://bucket:port/p`: invalid port number");
}

#[test]
fn password_with_url_delimiters_is_not_shown() {
    for input in ["s3://AKIA:super?secret@bucket/p", "s3://AKIA:super#secret@bucket/p"] {
        let err = parse_err(input);
        assert!(!err.contains("AKIA"), "{input}: {err}");
        assert!(!err.contains("super"), "{input}: {err}");
    }
}

#[test]
fn credentials_of_the_wrong_kind() {
    let cases: [(&str, Credentials, &str); 6] = [
        ("s3://b/p", azure(), "invalid location `s3://b/p`: Azure credentials cannot be used with `s3://` locations"),
        ("s3://b/p", gcp(), "invalid location `s3://b/p`: GCP credentials cannot be used with `s3://` locations"),
        ("gs://b/p", aws(), "invalid location `gs://b/p`: AWS credentials cannot be used with `gs://` locations"),
        ("az://c/p", aws(), "invalid location `az://c/p`: AWS credentials cannot be used with `az://` locations"),
        (
            "memory://m",
            aws(),
            "invalid location `memory://m`: AWS credentials cannot be used with `memory://` locations",
        ),
        (
            "file:///srv/x",
            azure(),
            "invalid location `file:///srv/x`: Azure credentials cannot be used with `file://` locations",
        ),
    ];
    for (url, creds, expected) in cases {
        let err = Location::parse(url).unwrap().with_credentials(creds).unwrap_err();
        assert!(matches!(err, Error::InvalidLocation { .. }), "{err:?}");
        assert_eq!(err.to_string(), expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Build errors
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_conditional_put_is_refused_when_parsed() {
    let err = Location::parse("s3://bucket/p?conditional_put=sometimes").unwrap_err();
    assert_eq!(err.to_string(), "invalid option `conditional_put` for `s3://bucket/p`: expected `etag` or `disabled`");
    let err = Location::parse("s3://bucket/p?copy_if_not_exists=header:x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid option `copy_if_not_exists` for `s3://bucket/p`: expected `multipart`, `header:NAME:VALUE` or \
         `header-with-status:NAME:VALUE:STATUS`"
    );
    let err = Location::parse("s3://bucket/p?endpoint=localhost:9000").unwrap_err();
    assert_eq!(err.to_string(), "invalid option `endpoint` for `s3://bucket/p`: expected an http:// or https:// URL");
}

/// Found by fuzzing: `..` in a local path gave one directory two spellings.
#[test]
fn dot_dot_in_local_paths_is_resolved() {
    let cwd = std::env::current_dir().unwrap();
    let parent = cwd.parent().unwrap();
    for input in ["..", "./..", "../x/..", &format!("{}/..", cwd.display()), &format!("file://{}/./..", cwd.display())]
    {
        let location = Location::parse(input).unwrap();
        assert_eq!(location.local_path(), Some(parent), "{input}");
        assert_eq!(Location::parse(&location.to_string()).unwrap(), location, "{input}");
    }
    assert_eq!(Location::local(cwd.join("a/../b")).local_path(), Some(cwd.join("b").as_path()));
}

#[test]
fn a_scheme_without_slashes_is_refused_not_taken_for_a_path() {
    for (input, scheme) in [("s3:/bucket/x", "s3"), ("az:container", "az"), ("file:relative", "file")] {
        let err = Location::parse(input).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "invalid location `{input}`: did you mean `{scheme}://…`? (a location URL has `://` after the scheme)"
            )
        );
    }
}
