//! Packs: many blobs in one object, readable without the manifest.
//!
//! ```text
//! header   "TERNPACK" ‖ version (u8 = 1) ‖ 3 zero bytes                       12 bytes
//! blobs    blob 0 ‖ blob 1 ‖ …                                  (blob i at offset 12 + Σ len<i)
//! trailer  per blob: chunk id (32) ‖ length (u32) ‖ crc32 (u32) ‖ plaintext length (u32)   44 bytes each
//! footer   blob count (u32) ‖ crc32 of trailer (u32) ‖ "TERNPEND"                       16 bytes
//! ```
//!
//! Integers are little-endian. The pack's id is the BLAKE3 of all its bytes.

use bytes::Bytes;

use crate::id::{ChunkId, PackId};

pub(crate) const HEADER: &[u8; 12] = b"TERNPACK\x01\x00\x00\x00";
const FOOTER_MAGIC: &[u8; 8] = b"TERNPEND";
const ENTRY_LEN: usize = 44;
const FOOTER_LEN: usize = 16;

/// One blob of a pack, as the trailer lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackEntry {
    /// The chunk.
    pub id: ChunkId,
    /// Offset of the blob in the pack.
    pub offset: u64,
    /// Length of the blob.
    pub length: u32,
    /// CRC32 of the blob.
    pub crc32: u32,
    /// Length of the chunk's plaintext.
    pub raw_len: u32,
}

/// Assembles a pack.
pub(crate) struct PackBuilder {
    bytes: Vec<u8>,
    entries: Vec<PackEntry>,
}

/// A finished pack.
pub(crate) struct SealedPack {
    pub id: PackId,
    pub bytes: Bytes,
    pub entries: Vec<PackEntry>,
}

impl PackBuilder {
    pub fn new(capacity: usize) -> Self {
        let mut bytes = Vec::with_capacity(capacity);
        bytes.extend_from_slice(HEADER);
        Self { bytes, entries: Vec::new() }
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn add(&mut self, id: ChunkId, blob: &[u8], crc32: u32, raw_len: u32) {
        let offset = self.bytes.len() as u64;
        self.bytes.extend_from_slice(blob);
        let length = u32::try_from(blob.len()).expect("blobs are smaller than 4 GiB");
        self.entries.push(PackEntry { id, offset, length, crc32, raw_len });
    }

    pub fn seal(mut self) -> SealedPack {
        let trailer_start = self.bytes.len();
        for e in &self.entries {
            self.bytes.extend_from_slice(&e.id.0);
            self.bytes.extend_from_slice(&e.length.to_le_bytes());
            self.bytes.extend_from_slice(&e.crc32.to_le_bytes());
            self.bytes.extend_from_slice(&e.raw_len.to_le_bytes());
        }
        let trailer_crc = crc32fast::hash(&self.bytes[trailer_start..]);
        let count = u32::try_from(self.entries.len()).expect("fewer than 4 billion blobs");
        self.bytes.extend_from_slice(&count.to_le_bytes());
        self.bytes.extend_from_slice(&trailer_crc.to_le_bytes());
        self.bytes.extend_from_slice(FOOTER_MAGIC);
        let id = PackId(*blake3::hash(&self.bytes).as_bytes());
        SealedPack { id, bytes: Bytes::from(self.bytes), entries: self.entries }
    }
}

/// Reads a pack's trailer: the list of its blobs. Checks framing and the trailer's CRC32.
pub fn parse_trailer(pack: &[u8]) -> Result<Vec<PackEntry>, String> {
    if pack.len() < HEADER.len() + FOOTER_LEN {
        return Err(format!("{} bytes is too short for a pack", pack.len()));
    }
    if &pack[..8] != b"TERNPACK" {
        return Err("not a pack (bad header magic)".into());
    }
    if pack[8] != HEADER[8] {
        return Err(format!("pack format version {} is not supported", pack[8]));
    }
    let footer = &pack[pack.len() - FOOTER_LEN..];
    if &footer[8..] != FOOTER_MAGIC {
        return Err("truncated or damaged pack (bad footer magic)".into());
    }
    let count = u32::from_le_bytes(footer[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(footer[4..8].try_into().expect("4 bytes"));
    let trailer_len = count.checked_mul(ENTRY_LEN).ok_or("blob count overflows")?;
    let body_end = pack.len() - FOOTER_LEN;
    let trailer_start =
        body_end.checked_sub(trailer_len).filter(|s| *s >= HEADER.len()).ok_or("blob count larger than the pack")?;
    let trailer = &pack[trailer_start..body_end];
    if crc32fast::hash(trailer) != crc {
        return Err("pack trailer CRC32 mismatch".into());
    }
    let mut offset = HEADER.len() as u64;
    let mut entries = Vec::with_capacity(count);
    for raw in trailer.chunks_exact(ENTRY_LEN) {
        let id = ChunkId(raw[..32].try_into().expect("32 bytes"));
        let length = u32::from_le_bytes(raw[32..36].try_into().expect("4 bytes"));
        let crc32 = u32::from_le_bytes(raw[36..40].try_into().expect("4 bytes"));
        let raw_len = u32::from_le_bytes(raw[40..44].try_into().expect("4 bytes"));
        entries.push(PackEntry { id, offset, length, crc32, raw_len });
        offset += u64::from(length);
    }
    if offset != trailer_start as u64 {
        return Err("blob lengths do not add up to the pack's size".into());
    }
    Ok(entries)
}

/// The object path of a pack.
pub fn pack_path(id: &PackId) -> object_store::path::Path {
    let hex = id.to_hex();
    object_store::path::Path::from(format!("packs/{}/{hex}", &hex[..2]))
}
