//! Manifests come from storage: no input may panic the decoders, and whatever decodes is
//! internally consistent (every entry's chunks exist in the index).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_engine::manifest;

fuzz_target!(|data: &[u8]| {
    let _ = manifest::decode_index(data);
    let (encrypted, plain) = tern_fuzz_support::key_rings();
    for ring in [&encrypted, &plain] {
        if let Ok((index, body)) = manifest::decode(ring, data) {
            for entry in &body.entries {
                assert!(entry.chunks.iter().all(|&c| (c as usize) < index.chunks.len()));
            }
        }
    }
});
