//! Locations come from configuration and the API: parsing never panics, and what parses
//! displays as a location that parses again to the same place.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_storage::Location;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(location) = Location::parse(text) {
        let shown = location.to_string();
        let again = Location::parse(&shown).expect("a displayed location parses");
        assert_eq!(again.to_string(), shown);
    }
});
