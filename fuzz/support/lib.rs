//! Shared set-up for the fuzz targets: key rings of an encrypted and an unencrypted repository.

use std::sync::{Arc, OnceLock};

use tern_engine::{InitOptions, KdfParams, KeyRing, Repository, UserKey};

/// (encrypted, unencrypted) key rings of two in-memory repositories, made once per process.
pub fn key_rings() -> (Arc<KeyRing>, Arc<KeyRing>) {
    static RINGS: OnceLock<(Arc<KeyRing>, Arc<KeyRing>)> = OnceLock::new();
    RINGS.get_or_init(make).clone()
}

fn make() -> (Arc<KeyRing>, Arc<KeyRing>) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let make = |name: &str, options: InitOptions| {
            let store = tern_storage::Location::memory(name).open().unwrap();
            async move { Repository::init(store, options).await.unwrap().key_ring().unwrap() }
        };
        let key = UserKey::passphrase("fuzz");
        let encrypted = make("fuzz-enc", InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(key) }).await;
        let plain = make("fuzz-plain", InitOptions::unencrypted()).await;
        (encrypted, plain)
    })
}
