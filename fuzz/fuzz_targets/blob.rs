//! Blobs and pack trailers come from storage: no input may panic their decoders, and a blob
//! that decodes must hash to the id it was decoded for (so a forged blob cannot pass).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_engine::{ChunkId, pack};

fuzz_target!(|data: &[u8]| {
    let _ = pack::parse_trailer(data);
    if data.len() < 40 {
        return;
    }
    let (head, blob) = data.split_at(40);
    let id = ChunkId(head[..32].try_into().unwrap());
    let crc = u32::from_le_bytes(head[32..36].try_into().unwrap());
    let raw_len = u32::from_le_bytes(head[36..40].try_into().unwrap()) as usize % (1 << 22);
    let (encrypted, plain) = tern_fuzz_support::key_rings();
    for ring in [&encrypted, &plain] {
        // Either with the blob's real CRC (to get past the first check) or the given one.
        for crc in [crc, crc32fast::hash(blob)] {
            if let Ok(plain) = tern_engine::blob::decode(ring, &id, blob, crc, raw_len) {
                assert_eq!(ring.chunk_id(&plain), id, "a decoded blob must match its id");
            }
        }
    }
});
