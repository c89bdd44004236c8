//! The catalog conformance suite against every implementation: `MemoryCatalog`, and
//! `StoreCatalog` over an in-memory store, a local folder, moto (S3) and azurite (Azure).
//!
//! Within each backend the checks share one catalog (they use unique service names), as
//! services share one repository in use.

use std::sync::{Arc, OnceLock};

use tern_catalog::{Catalog, MemoryCatalog, StoreCatalog};
use tern_storage::Location;
use tern_storage::testing::real_server;

mod memory_catalog {
    tern_catalog::catalog_conformance_tests!(Some(super::memory()));
}

mod store_memory {
    tern_catalog::catalog_conformance_tests!(Some(super::store(&tern_storage::Location::memory(
        "catalog-conformance"
    ))));
}

mod store_local_folder {
    tern_catalog::catalog_conformance_tests!(Some(super::local()));
}

mod store_s3_moto {
    tern_catalog::catalog_conformance_tests!(super::real("TEST_S3_URL"));
}

mod store_azure_azurite {
    tern_catalog::catalog_conformance_tests!(super::real("TEST_AZURE_URL"));
}

/// One `MemoryCatalog` for every check of the process.
fn memory() -> Arc<dyn Catalog> {
    static CATALOG: OnceLock<Arc<MemoryCatalog>> = OnceLock::new();
    CATALOG.get_or_init(|| Arc::new(MemoryCatalog::new())).clone()
}

fn store(location: &Location) -> Arc<dyn Catalog> {
    Arc::new(StoreCatalog::new(location.open().unwrap()))
}

fn local() -> Arc<dyn Catalog> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalog-conformance-local");
    store(&Location::local(dir))
}

/// A real server's bucket, under a prefix of its own; `None` (skip) when the variable is unset.
fn real(var: &str) -> Option<Arc<dyn Catalog>> {
    let location = real_server(var)?;
    Some(store(&Location::parse(&format!("{location}/catalog-conformance")).unwrap()))
}
