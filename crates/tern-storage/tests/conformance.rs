//! The conformance suite against every backend: memory, local folder, moto (S3) and azurite
//! (Azure), the last two both with environment credentials and with explicit ones.

use std::sync::Arc;

use object_store::ObjectStore;
use tern_storage::testing::{FaultStore, real_server};
use tern_storage::{AzureCredentials, Credentials, Location, Secret, StoreOptions};

mod memory {
    tern_storage::conformance_tests!(Some(tern_storage::Location::memory("conformance").open().unwrap()));
}

mod local_folder {
    tern_storage::conformance_tests!(Some(super::local()));
}

/// Every wrapper stacked (fault store with no faults inside the retry store) still conforms.
mod wrapped_local_folder {
    tern_storage::conformance_tests!(Some(super::wrapped()));
}

mod s3_moto {
    tern_storage::conformance_tests!(super::s3_from_env());
}

mod s3_moto_explicit_credentials {
    tern_storage::conformance_tests!(super::s3_explicit());
}

mod azure_azurite {
    tern_storage::conformance_tests!(super::azure_from_env());
}

mod azure_azurite_explicit_credentials {
    tern_storage::conformance_tests!(super::azure_explicit());
}

fn local() -> Arc<dyn ObjectStore> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-local");
    Location::local(dir).open().unwrap()
}

fn wrapped() -> Arc<dyn ObjectStore> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-wrapped");
    let fault = FaultStore::new(Arc::new(tern_storage::LocalStore::open(&dir, true).unwrap()));
    Arc::new(tern_storage::RetryStore::new(fault, tern_storage::RetryPolicy::default()))
}

fn s3_from_env() -> Option<Arc<dyn ObjectStore>> {
    let location = real_server("TEST_S3_URL")?;
    Some(location.open().unwrap())
}

/// The same server, reached with base64 AWS INI credentials and explicit options only.
fn s3_explicit() -> Option<Arc<dyn ObjectStore>> {
    use base64::Engine as _;
    let base = real_server("TEST_S3_URL")?;
    let endpoint = std::env::var("AWS_ENDPOINT").expect("AWS_ENDPOINT");
    let ini = format!(
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\nregion = us-east-1\n",
        std::env::var("AWS_ACCESS_KEY_ID").unwrap(),
        std::env::var("AWS_SECRET_ACCESS_KEY").unwrap()
    );
    let creds = Credentials::from_aws_ini_base64(&base64::engine::general_purpose::STANDARD.encode(ini)).unwrap();
    let url = format!("{base}/explicit?endpoint={endpoint}&allow_http=true");
    Some(Location::parse(&url).unwrap().with_credentials(creds).unwrap().open().unwrap())
}

fn azure_from_env() -> Option<Arc<dyn ObjectStore>> {
    let location = real_server("TEST_AZURE_URL")?;
    Some(location.open().unwrap())
}

/// The same server, reached with an explicit account, key and endpoint (no emulator flag).
fn azure_explicit() -> Option<Arc<dyn ObjectStore>> {
    let base = real_server("TEST_AZURE_URL")?;
    let account = std::env::var("AZURE_STORAGE_ACCOUNT_NAME").unwrap();
    let key = Secret::new(std::env::var("AZURE_STORAGE_ACCOUNT_KEY").unwrap());
    let blob_url = std::env::var("AZURITE_BLOB_STORAGE_URL").unwrap();
    let options = StoreOptions {
        endpoint: Some(format!("{blob_url}/{account}")),
        allow_http: Some(true),
        use_emulator: Some(false),
        ..StoreOptions::default()
    };
    let location = Location::parse(&format!("{base}/explicit"))
        .unwrap()
        .with_options(options)
        .unwrap()
        .with_credentials(Credentials::Azure(AzureCredentials::new(account, key).unwrap()))
        .unwrap();
    Some(location.open().unwrap())
}
