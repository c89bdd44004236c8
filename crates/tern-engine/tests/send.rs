//! Services run backups and restores on spawned tasks: the engine's futures must be `Send`
//! whatever they borrow. This spawns a whole backup, commit, restore and verify.

use tern_engine::{InitOptions, Repository, VerifyMode};
use tern_storage::Location;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_commit_restore_and_verify_run_on_spawned_tasks() {
    let repo =
        Repository::init(Location::memory("send-test").open().unwrap(), InitOptions::unencrypted()).await.unwrap();
    let data = b"spawned ".repeat(100_000);
    let backup = tokio::spawn({
        let (repo, data) = (repo.clone(), data.clone());
        async move {
            let mut writer = repo.backup("db1").start().await?;
            writer.add_entry("data", &data[..], None).await?;
            writer.commit().await
        }
    });
    let id = backup.await.unwrap().unwrap().id;
    let restored = tokio::spawn({
        let (repo, id) = (repo.clone(), id.clone());
        async move {
            let mut out = Vec::new();
            repo.restore(&id).to_writer(&mut out).await.map(|_| out)
        }
    });
    assert!(restored.await.unwrap().unwrap() == data);
    let verify = tokio::spawn(async move { repo.verify(&[], VerifyMode::Deep).await });
    assert!(verify.await.unwrap().unwrap().is_ok());
}
