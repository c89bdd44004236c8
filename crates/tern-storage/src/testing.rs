//! Test support for this crate and for later crates' tests: the fault-injecting store, the
//! shared conformance suite, and access to the real servers the test command starts.

#[path = "conformance.rs"]
pub mod conformance;
#[path = "fault.rs"]
mod fault;

pub use fault::{Fault, FaultStore, Op};

use crate::Location;

/// Set (to `1`) by the project's test command: real-server tests must then run, and a missing
/// server is a failure instead of a skip.
pub const REQUIRE_REAL_SERVERS: &str = "TERN_REQUIRE_REAL_SERVERS";

/// The location of a real test server whose URL is in the environment variable `var`
/// (`TEST_S3_URL`, `TEST_AZURE_URL`, as exported by `scripts/object-stores.sh`).
///
/// Returns `None`, with a note on stderr, when the variable is unset — unless
/// [`REQUIRE_REAL_SERVERS`] is set, in which case it panics, so the project's test command can
/// never pass by skipping.
///
/// # Panics
///
/// When the variable is unset while [`REQUIRE_REAL_SERVERS`] is set, or holds no valid location.
pub fn real_server(var: &str) -> Option<Location> {
    match std::env::var(var) {
        Ok(url) => Some(Location::parse(&url).unwrap_or_else(|e| panic!("{var}: {e}"))),
        Err(std::env::VarError::NotUnicode(_)) => panic!("{var} is not valid UTF-8"),
        Err(std::env::VarError::NotPresent) if std::env::var_os(REQUIRE_REAL_SERVERS).is_some() => {
            panic!("{var} is not set but {REQUIRE_REAL_SERVERS} is: start the servers with scripts/object-stores.sh")
        }
        Err(std::env::VarError::NotPresent) => {
            eprintln!("skipping: {var} is not set (run scripts/test.sh to start the real servers)");
            None
        }
    }
}
