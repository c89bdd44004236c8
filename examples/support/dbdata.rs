//! Database-like test data: a stream of 16 KiB pages shaped like InnoDB/PostgreSQL heap pages.
//!
//! Each page has a header (page number, LSN, type), rows of typed fields (sequential ids,
//! timestamps, small enums, amounts, names and e-mail addresses from vocabularies, a short
//! free-text note), then free space (zeros) — a fill factor of 60–95 %, as in real tables after
//! inserts, updates and page splits — and a trailer checksum. zstd level 3 compresses it about
//! 3:1, in line with real InnoDB and PostgreSQL data files and dumps.
//!
//! Pages are generated on the fly from `(seed, page number)`, so a 4 GiB stream costs no memory,
//! and a "changed" version of the data can be produced by regenerating a range of pages with
//! another seed (an update storm on a contiguous range) and appending pages (inserts).
// Numbers here are byte counts and rates for reports, and deliberate truncations in synthetic
// data: the cast lints do not apply.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, clippy::cast_sign_loss)]

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// The page size.
pub const PAGE: usize = 16 << 10;

/// The benchmarks' base data: `size` bytes of pages from seed 1.
pub fn base_spec(size: u64) -> Spec {
    Spec { size, seed: 1, changed: None }
}

/// The benchmarks' second version of [`base_spec`]: 1 % of the pages changed in one contiguous
/// region, and 1 % appended.
pub fn changed_spec(size: u64) -> Spec {
    let pages = size / PAGE as u64;
    Spec { size: size + size / 100, seed: 1, changed: Some((pages * 2 / 5, (pages / 100).max(1), 2)) }
}

/// A size argument: `1GiB`, `256MiB`, `64KiB` (or `G`, `M`, `K`), or bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) =
        [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
            .iter()
            .find_map(|(suffix, m)| s.strip_suffix(suffix).map(|n| (n, *m)))
            .unwrap_or((s, 1));
    num.trim().parse::<f64>().map(|n| (n * mult as f64) as u64).map_err(|_| format!("bad size `{s}`"))
}

const WORDS: &[&str] = &[
    "alpha", "berlin", "copper", "delta", "ember", "falcon", "garnet", "harbor", "indigo", "juniper", "kestrel",
    "lumen", "marble", "nectar", "onyx", "pepper", "quartz", "raven", "saffron", "tundra", "umber", "velvet", "willow",
    "xenon", "yarrow", "zephyr", "anders", "bianca", "carlos", "dmitri", "elena", "farid", "greta", "hiro", "ingrid",
    "jamal", "keiko", "liam", "maya", "nikolai", "olga", "pablo", "quinn", "rosa", "sven", "tariq", "uma", "viktor",
    "wen", "yusuf",
];
const DOMAINS: &[&str] = &["example.com", "mail.test", "corp.internal", "shop.example", "db.local"];
const NOTES: &[&str] = &[
    "order shipped",
    "awaiting payment",
    "refund issued",
    "customer called",
    "address updated",
    "gift wrap requested",
    "priority handling",
    "backordered item",
    "delivered",
    "cancelled by user",
];

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Bytes in all (rounded down to whole pages).
    pub size: u64,
    /// Seed of the base data.
    pub seed: u64,
    /// Pages `[start, start + len)` are regenerated with `changed_seed`.
    pub changed: Option<(u64, u64, u64)>,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Writes page `n` into `out` (exactly [`PAGE`] bytes).
pub fn page(spec: &Spec, n: u64, out: &mut [u8]) {
    let seed = match spec.changed {
        Some((start, len, s)) if (start..start + len).contains(&n) => s,
        _ => spec.seed,
    };
    let mut rng = mix(seed ^ mix(n));
    let mut next = || {
        rng = mix(rng);
        rng
    };
    out.fill(0);
    // Header: page number, LSN, page type, row count placeholder.
    out[..4].copy_from_slice(&(n as u32).to_be_bytes());
    out[4..12].copy_from_slice(&(n * 7919 + (seed & 0xffff)).to_be_bytes());
    out[12..14].copy_from_slice(&0x45bfu16.to_be_bytes());
    let fill = PAGE * (60 + (next() % 36) as usize) / 100;
    let mut pos = 38;
    let mut rows = 0u16;
    let mut id = n * 120;
    while pos + 160 < fill {
        let r = next();
        let start = pos;
        out[pos..pos + 5].copy_from_slice(&[0, 0, 0x10, (rows >> 8) as u8, rows as u8]);
        pos += 5;
        out[pos..pos + 8].copy_from_slice(&id.to_be_bytes());
        pos += 8;
        out[pos..pos + 4]
            .copy_from_slice(&(1_700_000_000u32 + (id as u32).wrapping_mul(37) + (r as u32 & 0xff)).to_be_bytes());
        pos += 4;
        out[pos] = (r >> 8) as u8 % 5;
        pos += 1;
        out[pos..pos + 4].copy_from_slice(&(((r >> 16) as u32) % 100_000).to_be_bytes());
        pos += 4;
        for part in [
            WORDS[(r >> 24) as usize % WORDS.len()],
            " ",
            WORDS[(r >> 32) as usize % WORDS.len()],
            ",",
            WORDS[(r >> 40) as usize % WORDS.len()],
            "@",
            DOMAINS[(r >> 48) as usize % DOMAINS.len()],
            ",",
            NOTES[(r >> 52) as usize % NOTES.len()],
        ] {
            out[pos..pos + part.len()].copy_from_slice(part.as_bytes());
            pos += part.len();
        }
        out[pos] = (pos - start) as u8;
        pos += 1;
        id += 1;
        rows += 1;
    }
    out[14..16].copy_from_slice(&rows.to_be_bytes());
    let check = next();
    out[PAGE - 8..].copy_from_slice(&check.to_be_bytes());
}

/// The pages of a [`Spec`] as an `AsyncRead`.
pub struct Reader {
    spec: Spec,
    pages: u64,
    next: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl Reader {
    /// A reader of `spec`'s stream.
    pub fn new(spec: Spec) -> Self {
        Self { spec, pages: spec.size / PAGE as u64, next: 0, buf: vec![0; 64 * PAGE], pos: 64 * PAGE }
    }
}

impl AsyncRead for Reader {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.pos == this.buf.len() {
            if this.next == this.pages {
                return Poll::Ready(Ok(()));
            }
            let count = (this.pages - this.next).min(64) as usize;
            this.buf.truncate(count * PAGE);
            for (i, chunk) in this.buf.chunks_exact_mut(PAGE).enumerate() {
                page(&this.spec, this.next + i as u64, chunk);
            }
            this.next += count as u64;
            this.pos = 0;
        }
        let n = out.remaining().min(this.buf.len() - this.pos);
        out.put_slice(&this.buf[this.pos..this.pos + n]);
        this.pos += n;
        if this.pos == this.buf.len() {
            this.buf.resize(64 * PAGE, 0);
            this.pos = this.buf.len();
        }
        Poll::Ready(Ok(()))
    }
}
