//! Keys: a random master key, wrapped by user keys; everything else is derived from it.
//!
//! ```text
//! master (32 random bytes, never stored in clear)
//!  ├─ id key        = BLAKE3-derive("tern 2026 chunk id", master)     → ChunkId = keyed BLAKE3(plaintext)
//!  └─ encryption key = BLAKE3-derive("tern 2026 encryption", master)
//!       ├─ chunk key    = keyed BLAKE3(encryption key, "chunk" ‖ chunk id)   → AES-256-GCM per chunk
//!       └─ manifest key = keyed BLAKE3(encryption key, "manifest" ‖ backup id)
//! user key slot: KEK = Argon2id(passphrase, salt) or BLAKE3-derive("tern 2026 key file", salt ‖ file);
//!                wrapped = AES-256-GCM(KEK, random nonce, aad = "tern key slot v1" ‖ repo id ‖ slot id)(master)
//! ```
//!
//! Adding or removing a user key rewrites only its slot in `tern.json`; no data is re-encrypted.
//! A wrong passphrase fails the slot's authentication tag: [`Error::WrongKey`], never garbage.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use serde::{Deserialize, Serialize};
use tern_storage::Secret;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::id::{BackupId, ChunkId};

/// A key that unlocks a repository.
#[derive(Clone)]
pub enum UserKey {
    /// A passphrase, stretched with Argon2id.
    Passphrase(Secret),
    /// The contents of a key file (at least 32 bytes; `tern` writes 32 random bytes).
    KeyFile(Zeroizing<Vec<u8>>),
}

impl UserKey {
    /// A passphrase key.
    pub fn passphrase(p: impl Into<String>) -> Self {
        Self::Passphrase(Secret::new(p))
    }

    /// A key from a key file's bytes.
    pub fn key_file(bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() < 32 {
            return Err(Error::Key(format!(
                "a key file must hold at least 32 bytes of random data (this one has {})",
                bytes.len()
            )));
        }
        Ok(Self::KeyFile(Zeroizing::new(bytes)))
    }

    fn kind(&self) -> SlotKind {
        match self {
            Self::Passphrase(_) => SlotKind::Passphrase,
            Self::KeyFile(_) => SlotKind::KeyFile,
        }
    }
}

impl std::fmt::Debug for UserKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Passphrase(_) => f.write_str("UserKey::Passphrase([secret])"),
            Self::KeyFile(_) => f.write_str("UserKey::KeyFile([secret])"),
        }
    }
}

/// Argon2id cost for passphrase slots. The default (64 MiB, 3 passes) takes a few hundred
/// milliseconds; it is recorded in each slot, so it can be raised for new slots at any time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self { memory_kib: 64 * 1024, iterations: 3, parallelism: 1 }
    }
}

impl KdfParams {
    /// Cheap parameters for tests and examples (never for real data).
    pub fn insecure_fast() -> Self {
        Self { memory_kib: 1024, iterations: 1, parallelism: 1 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SlotKind {
    Passphrase,
    KeyFile,
}

/// One wrapped copy of the master key, as stored in `tern.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySlot {
    /// The slot's id (8 hex digits), used to remove it.
    pub id: String,
    kind: SlotKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kdf: Option<KdfParams>,
    salt: String,
    nonce: String,
    wrapped: String,
    /// When the slot was added.
    pub created: chrono::DateTime<chrono::Utc>,
}

impl KeySlot {
    /// Whether the slot is for a passphrase (else a key file).
    pub fn is_passphrase(&self) -> bool {
        self.kind == SlotKind::Passphrase
    }
}

/// The master key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct MasterKey([u8; 32]);

impl MasterKey {
    pub(crate) fn random() -> Self {
        Self(rand::random())
    }

    /// Wraps this master key under `user`, for the repository `repo_id`.
    pub(crate) fn wrap(&self, user: &UserKey, kdf: KdfParams, repo_id: &str) -> Result<KeySlot> {
        let id = format!("{:08x}", rand::random::<u32>());
        let salt: [u8; 16] = rand::random();
        let nonce: [u8; 12] = rand::random();
        let kdf = matches!(user, UserKey::Passphrase(_)).then_some(kdf);
        let kek = derive_kek(user, kdf, &salt)?;
        let mut wrapped = self.0.to_vec();
        let tag = Aes256Gcm::new((&*kek).into())
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &slot_aad(repo_id, &id), &mut wrapped)
            .map_err(|_| Error::Key("cannot wrap the master key".into()))?;
        wrapped.extend_from_slice(&tag);
        Ok(KeySlot {
            id,
            kind: user.kind(),
            kdf,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
            wrapped: hex::encode(wrapped),
            created: chrono::Utc::now(),
        })
    }

    /// Opens the first slot `user` can open.
    pub(crate) fn unwrap(slots: &[KeySlot], user: &UserKey, repo_id: &str) -> Result<(Self, String)> {
        for slot in slots.iter().filter(|s| s.kind == user.kind()) {
            let corrupt = |what: &str| {
                Error::corrupt(crate::ObjectKind::Config, "tern.json", format!("key slot {}: {what}", slot.id))
            };
            let salt = hex::decode(&slot.salt).map_err(|_| corrupt("bad salt"))?;
            let nonce: [u8; 12] =
                hex::decode(&slot.nonce).ok().and_then(|n| n.try_into().ok()).ok_or_else(|| corrupt("bad nonce"))?;
            let mut wrapped = hex::decode(&slot.wrapped).map_err(|_| corrupt("bad wrapped key"))?;
            if wrapped.len() != 48 {
                return Err(corrupt("wrapped key has the wrong length"));
            }
            let kek = derive_kek(user, slot.kdf, &salt)?;
            let tag = Tag::clone_from_slice(&wrapped[32..]);
            wrapped.truncate(32);
            let opened = Aes256Gcm::new((&*kek).into()).decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &slot_aad(repo_id, &slot.id),
                &mut wrapped,
                &tag,
            );
            if opened.is_ok() {
                let mut key = [0u8; 32];
                key.copy_from_slice(&wrapped);
                wrapped.zeroize();
                return Ok((Self(key), slot.id.clone()));
            }
        }
        Err(Error::WrongKey)
    }
}

fn slot_aad(repo_id: &str, slot_id: &str) -> Vec<u8> {
    [b"tern key slot v1".as_slice(), repo_id.as_bytes(), slot_id.as_bytes()].concat()
}

fn derive_kek(user: &UserKey, kdf: Option<KdfParams>, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let mut kek = Zeroizing::new([0u8; 32]);
    match user {
        UserKey::Passphrase(p) => {
            let k = kdf.ok_or_else(|| Error::Key("passphrase slot without KDF parameters".into()))?;
            let params = argon2::Params::new(k.memory_kib, k.iterations, k.parallelism, Some(32))
                .map_err(|e| Error::Key(format!("invalid Argon2 parameters: {e}")))?;
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(p.expose().as_bytes(), salt, &mut *kek)
                .map_err(|e| Error::Key(format!("key derivation failed: {e}")))?;
        }
        UserKey::KeyFile(bytes) => {
            let mut material = Zeroizing::new(Vec::with_capacity(salt.len() + bytes.len()));
            material.extend_from_slice(salt);
            material.extend_from_slice(bytes);
            *kek = blake3::derive_key("tern 2026 key file", &material);
        }
    }
    Ok(kek)
}

/// The keys of an open repository: chunk ids, and (when encrypted) chunk and manifest ciphers.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct KeyRing {
    id_key: [u8; 32],
    encryption_key: Option<[u8; 32]>,
}

impl KeyRing {
    pub(crate) fn encrypted(master: &MasterKey) -> Self {
        Self {
            id_key: blake3::derive_key("tern 2026 chunk id", &master.0),
            encryption_key: Some(blake3::derive_key("tern 2026 encryption", &master.0)),
        }
    }

    pub(crate) fn unencrypted(id_key: [u8; 32]) -> Self {
        Self { id_key, encryption_key: None }
    }

    /// Whether blobs are encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encryption_key.is_some()
    }

    /// Whether `other` holds the same keys: chunks get the same ids and ciphers, so packs and
    /// manifests of one repository are valid, byte for byte, in the other.
    pub fn same_keys(&self, other: &KeyRing) -> bool {
        // Compared as hashes, so the comparison's timing says nothing about the keys.
        let digest = |k: &KeyRing| {
            let mut h = blake3::Hasher::new();
            h.update(&k.id_key);
            if let Some(e) = &k.encryption_key {
                h.update(e);
            }
            (h.finalize(), k.encryption_key.is_some())
        };
        digest(self) == digest(other)
    }

    /// The id of a chunk: keyed BLAKE3 of its plaintext.
    pub fn chunk_id(&self, plaintext: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&self.id_key, plaintext).as_bytes())
    }

    pub(crate) fn chunk_cipher(&self, id: &ChunkId) -> Option<Aes256Gcm> {
        self.cipher_for(b"chunk", &id.0)
    }

    pub(crate) fn manifest_cipher(&self, backup: &BackupId) -> Option<Aes256Gcm> {
        self.cipher_for(b"manifest", backup.as_str().as_bytes())
    }

    fn cipher_for(&self, purpose: &[u8], subject: &[u8]) -> Option<Aes256Gcm> {
        let base = self.encryption_key.as_ref()?;
        let mut key =
            Zeroizing::new(*blake3::Hasher::new_keyed(base).update(purpose).update(subject).finalize().as_bytes());
        let cipher = Aes256Gcm::new((&*key).into());
        key.zeroize();
        Some(cipher)
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("encrypted", &self.is_encrypted()).finish_non_exhaustive()
    }
}
