//! Named regions, each a [`Location`], so the rest of Tern asks for "the store of eu-west".

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use object_store::ObjectStore;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::location::Location;

/// A map from region name to [`Location`], deserializable from configuration:
///
/// ```
/// use tern_storage::Regions;
/// let regions: Regions = serde_json::from_str(r#"{
///     "eu-west": "memory://eu-west",
///     "us-east": { "url": "s3://tern-backups/us", "options": { "region": "us-east-1" } }
/// }"#)?;
/// assert_eq!(regions.names().collect::<Vec<_>>(), ["eu-west", "us-east"]);
/// let store = regions.store("eu-west")?;      // opened once, then shared
/// assert!(regions.store("ap-south").is_err()); // unknown region, named in the error
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Regions {
    locations: BTreeMap<String, Location>,
    #[serde(skip)]
    opened: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl Regions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a region (a replaced region's store is opened afresh on next use).
    pub fn insert(&mut self, name: impl Into<String>, location: Location) {
        let name = name.into();
        self.opened.get_mut().unwrap_or_else(PoisonError::into_inner).remove(&name);
        self.locations.insert(name, location);
    }

    /// The region names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.locations.keys().map(String::as_str)
    }

    /// The location of a region.
    pub fn location(&self, name: &str) -> Result<&Location> {
        self.locations.get(name).ok_or_else(|| Error::UnknownRegion {
            name: name.to_owned(),
            known: self.locations.keys().cloned().collect(),
        })
    }

    /// The store of a region, opened on first use and shared afterwards.
    pub fn store(&self, name: &str) -> Result<Arc<dyn ObjectStore>> {
        let location = self.location(name)?;
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = opened.get(name) {
            return Ok(Arc::clone(store));
        }
        let store = location.open()?;
        opened.insert(name.to_owned(), Arc::clone(&store));
        Ok(store)
    }
}

impl fmt::Debug for Regions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.locations.iter()).finish()
    }
}

impl Clone for Regions {
    fn clone(&self) -> Self {
        Self { locations: self.locations.clone(), opened: Mutex::default() }
    }
}

impl FromIterator<(String, Location)> for Regions {
    fn from_iter<I: IntoIterator<Item = (String, Location)>>(iter: I) -> Self {
        Self { locations: iter.into_iter().collect(), opened: Mutex::default() }
    }
}
