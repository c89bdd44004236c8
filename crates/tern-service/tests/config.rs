//! `tern.toml`: the sample parses; every mistake is refused naming the key; a node built from a
//! configuration seeds its schedules and replication settings once, however often it starts.

use std::sync::Arc;

use tern_catalog::{CatalogExt, Paging, ScheduleSpec};
use tern_engine::{InitOptions, Repository};
use tern_service::config::{Config, Role, hash_token};
use tern_service::{Error, ManualClock};

fn sample(dir: &std::path::Path) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
node_id = "node-a"
primary_region = "eu"
restore_dir = "{d}/restores"
lease_ttl = "1m"

[regions]
eu = "{d}/eu"
us = "{d}/us"

[[tokens]]
name = "ops"
role = "admin"
blake3 = "{h}"

[[services]]
name = "shop"
engine = "mariadb"
connect = "{d}/shop.cnf"
log_interval = "5m"
replication_interval = "1m"
replicate_to = ["us"]
retention = {{ keep_last = 7, max_age = "30d" }}
schedules = [
  {{ kind = "full", cron = "0 3 * * *" }},
  {{ kind = "incremental", cron = "0 */4 * * *" }},
]
"#,
        d = dir.display(),
        h = hash_token("a-long-enough-token-123")
    )
}

fn invalid(text: &str) -> String {
    match Config::parse(text) {
        Err(Error::Invalid(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_sample_parses() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(&sample(dir.path())).unwrap();
    assert_eq!(config.tokens[0].role, Role::Admin);
    assert_eq!(config.services[0].schedules.len(), 2);
    assert_eq!(config.services[0].retention.keep_last, Some(7));
    assert_eq!(config.lease_ttl, std::time::Duration::from_secs(60));
    assert_eq!(config.poll_interval, std::time::Duration::from_secs(1), "default");
}

#[test]
fn mistakes_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = sample(dir.path());
    let cases: Vec<(String, &str)> = vec![
        (good.replace("lease_ttl = \"1m\"", "lease_ttl = \"1m\"\nlease_tl = \"1m\""), "unknown field `lease_tl`"),
        (good.replace("0 3 * * *", "0 3 * *"), "services.shop.schedules[0].cron"),
        (good.replace("0 */4 * * *", "0 25 * * *"), "services.shop.schedules[1].cron"),
        (good.replace("engine = \"mariadb\"", "engine = \"oracle\""), "services.shop.engine"),
        (good.replace("primary_region = \"eu\"", "primary_region = \"mars\""), "primary_region"),
        (good.replace("replicate_to = [\"us\"]", "replicate_to = [\"eu\"]"), "services.shop.replicate_to"),
        (good.replace("keep_last = 7", "keep_last = 0"), "services.shop.retention"),
        (good.replace("max_age = \"30d\"", "max_age = \"a month\""), "not a duration"),
        (good.replace("log_interval = \"5m\"", "log_interval = \"10ms\""), "services.shop.log_interval"),
        (good.replace("role = \"admin\"", "role = \"root\""), "unknown variant `root`"),
        (good.replace(&hash_token("a-long-enough-token-123"), "plain-text-token"), "tokens.ops: blake3"),
        (good.replace("listen = \"127.0.0.1:0\"", "listen = \"localhost\""), "listen"),
        (good.replace("kind = \"full\"", "kind = \"weekly\""), "unknown variant `weekly`"),
        (good.replace("lease_ttl = \"1m\"", "lease_ttl = \"1s\""), "lease_ttl: between"),
        (good.replace("lease_ttl = \"1m\"", "lease_ttl = \"1m\"\npoll_interval = \"0s\""), "poll_interval: between"),
        (good.replace("lease_ttl = \"1m\"", "lease_ttl = \"1m\"\ngc_grace = \"400days\""), "gc_grace: at most"),
        (good.replace("max_age = \"30d\"", "max_age = \"200years\""), "at most 100 years"),
        (
            good.replace("engine = \"mariadb\"", "engine = \"postgres\"").replace("log_interval = \"5m\"\n", ""),
            "services.shop.schedules[1].kind: not for PostgreSQL",
        ),
        (good.replace("engine = \"mariadb\"", "engine = \"postgres\""), "services.shop.log_interval: PostgreSQL"),
        (
            format!(
                "{good}\n[[tokens]]\nname = \"twin\"\nrole = \"viewer\"\nblake3 = \"{}\"\n",
                hash_token("a-long-enough-token-123")
            ),
            "tokens.twin: the same token as another entry",
        ),
    ];
    for (text, expected) in cases {
        let message = invalid(&text);
        assert!(message.contains(expected), "expected `{expected}` in: {message}");
    }
}

#[tokio::test]
async fn a_node_from_the_configuration_seeds_schedules_and_replication_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = tern_storage::Location::parse(dir.path().join("eu").to_str().unwrap()).unwrap().open().unwrap();
    Repository::init(store, InitOptions::unencrypted()).await.unwrap();
    let config = Config::parse(&sample(dir.path())).unwrap();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let node = config.node(clock.clone()).await.unwrap();
    let again = config.node(clock).await.unwrap(); // a second node, or a restart
    assert_eq!(node.id(), "node-a");
    let schedules = again.list_schedules(Some("shop"), Paging::all()).await.unwrap();
    assert_eq!(schedules.total, 2, "seeded once: {:?}", schedules.items);
    assert!(schedules.items.iter().any(|s| s.spec == ScheduleSpec::Cron("0 3 * * *".into())));
    let replication = node.replication("shop").await.unwrap();
    assert_eq!((replication.enabled, replication.secondaries), (true, vec!["us".to_owned()]));
    // The secondary became a repository sharing the primary's keys.
    let (_, us) = node.region(Some("us")).unwrap();
    assert_eq!(us.config().repo_id, node.primary().config().repo_id);
    assert!(us.catalog().list_schedules(None, Paging::all()).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn a_missing_primary_repository_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(&sample(dir.path())).unwrap();
    let err = config.node(Arc::new(ManualClock::new(chrono::Utc::now()))).await.unwrap_err();
    assert!(err.to_string().contains("regions.eu: cannot open the primary repository"), "{err}");
}

#[test]
fn the_readme_sample_parses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme.split("## `tern serve`").nth(1).expect("README has a `tern serve` section");
    let sample = section.split("```toml\n").nth(1).and_then(|s| s.split("```").next()).expect("a toml block");
    let sample =
        sample.replace("…64 hex digits from `tern config hash-token`…", &hash_token("a-long-enough-token-123"));
    let config = Config::parse(&sample).unwrap_or_else(|e| panic!("{e}\n{sample}"));
    assert_eq!(config.services[0].schedules.len(), 2);
    assert_eq!(config.regions.len(), 2);
}
