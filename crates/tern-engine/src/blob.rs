//! The blob codec: one chunk as stored.
//!
//! ```text
//! payload = codec (1 byte: 0 raw, 1 zstd) ‖ data
//! blob    = payload                                   (repository without encryption)
//!         | nonce (12) ‖ AES-256-GCM(payload) ‖ tag (16)  (key: the chunk's key;
//!                                                        aad: "tern blob v1" ‖ chunk id)
//! ```
//!
//! Compression that saves less than 1/32 of the chunk is dropped and the chunk stored raw.
//! The CRC32 of the whole blob goes into the pack trailer and the manifest's index, so damage
//! is found without the key; the AEAD tag and the chunk id (keyed BLAKE3 of the plaintext) catch
//! everything else.

use std::cell::RefCell;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Nonce, Tag};

use crate::id::ChunkId;
use crate::keys::KeyRing;

const CODEC_RAW: u8 = 0;
const CODEC_ZSTD: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The largest chunk any repository can have (FastCDC 2020's maximum).
const MAX_CHUNK: usize = 16 << 20;

/// Why a blob could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The blob's CRC32 differs from the recorded one.
    #[error("CRC32 mismatch (stored {expected:08x}, read {actual:08x})")]
    Crc {
        /// Recorded.
        expected: u32,
        /// Computed over the bytes read.
        actual: u32,
    },
    /// The blob is shorter than its framing.
    #[error("blob too short ({0} bytes)")]
    TooShort(usize),
    /// The authentication tag does not match: damaged, or encrypted with another key.
    #[error("authentication failed (damaged, or encrypted with another key)")]
    Authentication,
    /// Unknown codec byte.
    #[error("unknown codec {0}")]
    UnknownCodec(u8),
    /// zstd refused the data.
    #[error("decompression failed: {0}")]
    Decompress(String),
    /// The recorded plaintext length is larger than any chunk can be.
    #[error("recorded plaintext length {0} exceeds the largest chunk (16 MiB)")]
    TooLarge(usize),
    /// The plaintext has another length than recorded.
    #[error("plaintext is {actual} bytes, expected {expected}")]
    Length {
        /// Recorded.
        expected: usize,
        /// Decoded.
        actual: usize,
    },
    /// The plaintext's keyed hash is not the chunk id.
    #[error("content does not match the chunk id")]
    IdMismatch,
}

thread_local! {
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

fn compress(plain: &[u8], level: i32) -> Option<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.as_ref().is_none_or(|(l, _)| *l != level) {
            *cell = Some((level, zstd::bulk::Compressor::new(level).ok()?));
        }
        let (_, c) = cell.as_mut()?;
        c.compress(plain).ok()
    })
}

/// An encoded blob and its CRC32.
pub struct EncodedBlob {
    /// The bytes to store.
    pub bytes: Vec<u8>,
    /// CRC32 of `bytes`.
    pub crc32: u32,
}

/// Encodes one chunk. `level` is the zstd level.
pub fn encode(keys: &KeyRing, id: &ChunkId, plain: &[u8], level: i32) -> EncodedBlob {
    let compressed = compress(plain, level).filter(|c| c.len() + plain.len() / 32 < plain.len());
    let (codec, data): (u8, &[u8]) = match &compressed {
        Some(c) => (CODEC_ZSTD, c),
        None => (CODEC_RAW, plain),
    };
    let mut bytes = Vec::with_capacity(NONCE_LEN + 1 + data.len() + TAG_LEN);
    if let Some(cipher) = keys.chunk_cipher(id) {
        let nonce: [u8; NONCE_LEN] = rand::random();
        bytes.extend_from_slice(&nonce);
        bytes.push(codec);
        bytes.extend_from_slice(data);
        let tag = cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad(id), &mut bytes[NONCE_LEN..])
            .expect("AES-GCM encrypts any buffer under 64 GiB");
        bytes.extend_from_slice(&tag);
    } else {
        bytes.push(codec);
        bytes.extend_from_slice(data);
    }
    let crc32 = crc32fast::hash(&bytes);
    EncodedBlob { bytes, crc32 }
}

fn aad(id: &ChunkId) -> [u8; 44] {
    let mut aad = [0u8; 44];
    aad[..12].copy_from_slice(b"tern blob v1");
    aad[12..].copy_from_slice(&id.0);
    aad
}

/// Checks the CRC32 only (no key needed).
pub fn check_crc(blob: &[u8], expected: u32) -> Result<(), BlobError> {
    let actual = crc32fast::hash(blob);
    if actual == expected { Ok(()) } else { Err(BlobError::Crc { expected, actual }) }
}

/// Decodes and fully verifies one blob: CRC32, authentication, decompression, length, and
/// that the plaintext hashes to `id`.
pub fn decode(keys: &KeyRing, id: &ChunkId, blob: &[u8], crc32: u32, raw_len: usize) -> Result<Vec<u8>, BlobError> {
    // The length comes from an index that is checksummed, not authenticated: never allocate
    // more than a chunk can be.
    if raw_len > MAX_CHUNK {
        return Err(BlobError::TooLarge(raw_len));
    }
    check_crc(blob, crc32)?;
    let mut owned;
    let payload: &[u8] = match keys.chunk_cipher(id) {
        Some(cipher) => {
            if blob.len() < NONCE_LEN + 1 + TAG_LEN {
                return Err(BlobError::TooShort(blob.len()));
            }
            let (nonce, rest) = blob.split_at(NONCE_LEN);
            let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
            owned = body.to_vec();
            cipher
                .decrypt_in_place_detached(Nonce::from_slice(nonce), &aad(id), &mut owned, Tag::from_slice(tag))
                .map_err(|_| BlobError::Authentication)?;
            &owned
        }
        None => blob,
    };
    let (&codec, data) = payload.split_first().ok_or(BlobError::TooShort(blob.len()))?;
    let plain = match codec {
        CODEC_RAW => data.to_vec(),
        CODEC_ZSTD => DECOMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.is_none() {
                *cell = Some(zstd::bulk::Decompressor::new().map_err(|e| BlobError::Decompress(e.to_string()))?);
            }
            let d = cell.as_mut().expect("set above");
            // One byte of room beyond the expected length, so that a longer result is detected.
            d.decompress(data, raw_len + 1).map_err(|e| BlobError::Decompress(e.to_string()))
        })?,
        other => return Err(BlobError::UnknownCodec(other)),
    };
    if plain.len() != raw_len {
        return Err(BlobError::Length { expected: raw_len, actual: plain.len() });
    }
    if keys.chunk_id(&plain) != *id {
        return Err(BlobError::IdMismatch);
    }
    Ok(plain)
}
