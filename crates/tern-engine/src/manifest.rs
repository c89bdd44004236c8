//! Manifests: what a backup is made of.
//!
//! ```text
//! "TERNMNF" ‖ version (u8 = 1)
//! index length (u32) ‖ index ‖ crc32 of index (u32)     index = zstd(JSON ManifestIndex), never encrypted
//! body length (u32)  ‖ body  ‖ crc32 of body (u32)      body  = zstd(JSON ManifestBody), then for an
//!                                                       encrypted repository nonce ‖ AES-256-GCM ‖ tag
//!                                                       (key: the backup's manifest key,
//!                                                        aad: "tern manifest v1" ‖ backup id)
//! ```
//!
//! The **index** lists the packs and chunks the backup needs (ids are keyed hashes and reveal
//! nothing), so quick verify, garbage collection and replication work without the key. The
//! **body** holds everything about the content: entry names, sizes, hashes, chunk order.

use std::collections::BTreeMap;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Nonce, Tag};
use serde::{Deserialize, Serialize};

use crate::id::{BackupId, ChunkId, PackId};
use crate::keys::KeyRing;

const MAGIC: &[u8; 8] = b"TERNMNF\x01";
const ZSTD_LEVEL: i32 = 9;
/// Manifests larger than this are refused rather than decompressed (a defence against
/// decompression bombs in damaged or hostile repositories).
const MAX_DECODED: usize = 1 << 30;

/// The key-free part of a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestIndex {
    /// The backup.
    pub backup: BackupId,
    /// Its service.
    pub service: String,
    /// Every pack the backup reads from, with its size.
    pub packs: Vec<PackRef>,
    /// Every distinct chunk of the backup and where it is stored.
    pub chunks: Vec<ChunkRef>,
}

/// A pack and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackRef {
    /// The pack.
    pub id: PackId,
    /// Its size in bytes.
    pub size: u64,
}

/// Where a chunk's blob is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkRef {
    /// The chunk.
    pub id: ChunkId,
    /// Index into [`ManifestIndex::packs`].
    pub pack: u32,
    /// Offset of the blob in the pack.
    pub offset: u64,
    /// Length of the blob.
    pub length: u32,
    /// CRC32 of the blob.
    pub crc32: u32,
    /// Length of the plaintext.
    pub raw_len: u32,
}

/// The encrypted part of a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestBody {
    /// When the backup started.
    pub started: chrono::DateTime<chrono::Utc>,
    /// When its data was complete.
    pub finished: chrono::DateTime<chrono::Utc>,
    /// The backup it was based on, if any.
    pub parent: Option<BackupId>,
    /// The backups it deduplicated against.
    pub dedup_against: Vec<BackupId>,
    /// The zstd level used.
    pub level: i32,
    /// The entries, in backup order.
    pub entries: Vec<Entry>,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
}

/// One named stream of a backup (a dump, an xbstream, a tar, or one file of a directory).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The name (a relative path with `/` separators for files of a directory).
    pub name: String,
    /// Length in bytes.
    pub size: u64,
    /// BLAKE3 of the whole content (plain, unkeyed: compare with `b3sum`).
    pub blake3: String,
    /// Unix permission bits, for files of a directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// The content, as indexes into [`ManifestIndex::chunks`], in order.
    pub chunks: Vec<u32>,
}

/// Encodes a manifest.
pub fn encode(keys: &KeyRing, index: &ManifestIndex, body: &ManifestBody) -> Vec<u8> {
    let index_bytes = zstd::bulk::compress(&serde_json::to_vec(index).expect("serializable"), ZSTD_LEVEL)
        .expect("zstd compresses in memory");
    let mut body_bytes = zstd::bulk::compress(&serde_json::to_vec(body).expect("serializable"), ZSTD_LEVEL)
        .expect("zstd compresses in memory");
    if let Some(cipher) = keys.manifest_cipher(&index.backup) {
        let nonce: [u8; 12] = rand::random();
        let tag = cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad(&index.backup), &mut body_bytes)
            .expect("AES-GCM encrypts any buffer under 64 GiB");
        body_bytes = [nonce.as_slice(), &body_bytes, tag.as_slice()].concat();
    }
    let mut out = Vec::with_capacity(8 + 16 + index_bytes.len() + body_bytes.len());
    out.extend_from_slice(MAGIC);
    for part in [&index_bytes, &body_bytes] {
        out.extend_from_slice(&u32::try_from(part.len()).expect("manifest parts under 4 GiB").to_le_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(&crc32fast::hash(part).to_le_bytes());
    }
    out
}

fn aad(backup: &BackupId) -> Vec<u8> {
    [b"tern manifest v1".as_slice(), backup.as_str().as_bytes()].concat()
}

/// Splits a manifest into its two framed parts, checking magic, lengths and CRCs.
fn split(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    if bytes.len() < 8 {
        return Err(format!("{} bytes is too short for a manifest", bytes.len()));
    }
    if &bytes[..7] != b"TERNMNF" {
        return Err("not a manifest (bad magic)".into());
    }
    if bytes[7] != MAGIC[7] {
        return Err(format!("manifest format version {} is not supported", bytes[7]));
    }
    let mut rest = &bytes[8..];
    let mut part = |name: &str| -> Result<&[u8], String> {
        let truncated = || format!("truncated manifest ({name} cut short)");
        let len_bytes: [u8; 4] = rest.get(..4).ok_or_else(truncated)?.try_into().expect("4 bytes");
        let len = u32::from_le_bytes(len_bytes) as usize;
        let data = rest.get(4..4 + len).ok_or_else(truncated)?;
        let crc_bytes: [u8; 4] = rest.get(4 + len..8 + len).ok_or_else(truncated)?.try_into().expect("4 bytes");
        if crc32fast::hash(data) != u32::from_le_bytes(crc_bytes) {
            return Err(format!("manifest {name} CRC32 mismatch"));
        }
        rest = &rest[8 + len..];
        Ok(data)
    };
    let index = part("index")?;
    let body = part("body")?;
    if !rest.is_empty() {
        return Err(format!("{} unexpected bytes after the manifest", rest.len()));
    }
    Ok((index, body))
}

fn decompress_json<T: serde::de::DeserializeOwned>(data: &[u8], what: &str) -> Result<T, String> {
    let json = zstd::bulk::decompress(data, MAX_DECODED).map_err(|e| format!("{what}: cannot decompress: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("{what}: {e}"))
}

/// Reads only the index (no key needed).
pub fn decode_index(bytes: &[u8]) -> Result<ManifestIndex, String> {
    let (index, _) = split(bytes)?;
    let index: ManifestIndex = decompress_json(index, "index")?;
    check_index(&index)?;
    Ok(index)
}

/// Reads the whole manifest. A body that fails authentication is reported as such: damage,
/// or a manifest written under another key.
pub fn decode(keys: &KeyRing, bytes: &[u8]) -> Result<(ManifestIndex, ManifestBody), String> {
    let (index_bytes, body_bytes) = split(bytes)?;
    let index: ManifestIndex = decompress_json(index_bytes, "index")?;
    check_index(&index)?;
    let plain;
    let body_bytes = match keys.manifest_cipher(&index.backup) {
        Some(cipher) => {
            if body_bytes.len() < 28 {
                return Err("manifest body too short".into());
            }
            let (nonce, rest) = body_bytes.split_at(12);
            let (ct, tag) = rest.split_at(rest.len() - 16);
            let mut buf = ct.to_vec();
            cipher
                .decrypt_in_place_detached(
                    Nonce::from_slice(nonce),
                    &aad(&index.backup),
                    &mut buf,
                    Tag::from_slice(tag),
                )
                .map_err(|_| "manifest body failed authentication (damaged, or another key)".to_owned())?;
            plain = buf;
            &plain[..]
        }
        None => body_bytes,
    };
    let body: ManifestBody = decompress_json(body_bytes, "body")?;
    for entry in &body.entries {
        if let Some(bad) = entry.chunks.iter().find(|&&c| c as usize >= index.chunks.len()) {
            return Err(format!("entry `{}` refers to chunk #{bad}, the index has {}", entry.name, index.chunks.len()));
        }
    }
    Ok((index, body))
}

fn check_index(index: &ManifestIndex) -> Result<(), String> {
    for c in &index.chunks {
        let pack =
            index.packs.get(c.pack as usize).ok_or_else(|| format!("chunk {} refers to pack #{}", c.id, c.pack))?;
        if c.offset.checked_add(u64::from(c.length)).is_none_or(|end| end > pack.size) {
            return Err(format!("chunk {} lies beyond the end of pack {}", c.id, pack.id));
        }
    }
    Ok(())
}

/// The object path of a backup's manifest.
pub fn manifest_path(backup: &BackupId) -> object_store::path::Path {
    object_store::path::Path::from(format!("manifests/{backup}"))
}
