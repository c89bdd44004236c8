//! Users' buckets through the API, on a real S3 server (moto): a backup copied to a bucket given
//! by base64 credentials and an encryption key lands in a repository only that key opens (not a
//! clone of this one's key slots), the secrets come back only as "[secret]", a second copy finds
//! it there; a bucket with its own endpoint is refused unless the configuration allows it.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};
use tern_engine::{Repository, UserKey};
use tern_service::{ManualClock, Node, NodeOptions};
use tern_storage::Location;

const SECRET_KEY: &str = "test";
const PASSPHRASE: &str = "users-bucket-passphrase-42";

fn aws_ini() -> String {
    base64::engine::general_purpose::STANDARD
        .encode(format!("[default]\naws_access_key_id = test\naws_secret_access_key = {SECRET_KEY}\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_copied_to_a_users_bucket_opens_only_with_their_key() {
    let Some(s3) = tern_storage::testing::real_server("TEST_S3_URL") else { return };
    let endpoint = std::env::var("AWS_ENDPOINT").expect("AWS_ENDPOINT comes with TEST_S3_URL");
    let bucket = format!("{s3}/api-copy-{:016x}?endpoint={endpoint}&allow_http=true&region=us-east-1", rand_u64());
    let dir = tempfile::tempdir().unwrap();
    let api = common::served_shop(dir.path()).await;
    let primary = api.node.primary().clone();
    let data = b"INSERT INTO orders VALUES (1);\n".repeat(20_000);
    let mut writer = primary.backup("shop").label("engine", "mariadb").start().await.unwrap();
    writer.add_entry("dump.sql", &data[..], None).await.unwrap();
    let backup = writer.commit().await.unwrap();

    let copy = |body: Value| {
        api.client
            .post(api.url(&format!("/v1/backups/{}/copy", backup.id)))
            .bearer_auth(common::OPERATOR)
            .json(&body)
            .send()
    };
    let without_key =
        copy(json!({"external_destination": {"bucket": bucket, "method": "s3", "credentials": aws_ini()}}))
            .await
            .unwrap();
    assert_eq!(without_key.status(), 400);
    let refused: Value = without_key.json().await.unwrap();
    assert_eq!(refused["error"]["field"], "external_destination.encryption_key", "{refused}");

    let destination = json!({"external_destination": {
        "bucket": bucket, "method": "s3", "credentials": aws_ini(), "encryption_key": PASSPHRASE}});
    let answer = copy(destination.clone()).await.unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains(&aws_ini()) && !text.contains(PASSPHRASE), "a secret came back: {text}");
    let copied: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(copied["request"]["external_destination"]["credentials"], "[secret]");
    assert_eq!(copied["request"]["external_destination"]["encryption_key"], "[secret]");
    assert_eq!(copied["copy"]["mode"], "reencrypted");
    assert_eq!(copied["copy"]["copied"], json!([backup.id.to_string()]));

    // The bucket holds a repository of its own: the user's key opens it, this one's does not.
    let store = Location::parse(&bucket).unwrap().open().unwrap();
    let theirs = Repository::open(store.clone(), Some(&UserKey::passphrase(PASSPHRASE))).await.unwrap();
    assert_ne!(theirs.config().repo_id, primary.config().repo_id);
    let mut out = Vec::new();
    theirs.restore(&backup.id).to_writer(&mut out).await.unwrap();
    assert!(out == data, "the copy restores byte for byte");
    assert!(Repository::open(store, Some(&UserKey::passphrase("not their key"))).await.is_err());

    let again: Value = copy(destination).await.unwrap().json().await.unwrap();
    assert_eq!(again["copy"]["already_present"], json!([backup.id.to_string()]), "{again}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_bucket_cannot_name_its_endpoint_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let eu = common::local_repo(&dir.path().join("eu")).await;
    let mut options =
        NodeOptions::new("eu", std::collections::BTreeMap::from([("eu".to_owned(), eu)]), dir.path().join("restores"));
    options.clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    options.services = vec![common::shop()];
    assert!(!options.allow_external_endpoints, "off by default");
    let api = common::serve(Node::new(options).unwrap()).await;
    for bucket in ["s3://b/x?endpoint=http://10.0.0.5:8080", "s3://b/x?allow_http=true"] {
        let answer: Value = api
            .client
            .post(api.url("/v1/restores"))
            .bearer_auth(common::OPERATOR)
            .json(&json!({"service_id": "shop", "latest": true,
                "external_source": {"bucket": bucket, "method": "s3", "credentials": aws_ini()}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["error"]["field"], "external_source.bucket", "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("allow_external_endpoints"));
    }
    api.stop().await;
}

fn rand_u64() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    u64::try_from(nanos % u128::from(u64::MAX)).unwrap() ^ u64::from(std::process::id())
}
