//! Output: human text or one JSON document, errors, and the small formatting helpers.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use indicatif::{HumanBytes, HumanDuration};

/// A command that failed: the message (already free of secrets: the libraries guarantee it)
/// and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
    /// The command already printed its JSON document (verify's report), so `--json` adds no
    /// error document.
    pub reported: bool,
}

impl Failure {
    /// A failure: exit code 1.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), code: 1, reported: false }
    }

    /// A usage error: exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self { message: message.into(), code: 2, reported: false }
    }
}

impl From<tern_engine::Error> for Failure {
    fn from(e: tern_engine::Error) -> Self {
        Self::new(e.to_string())
    }
}

impl From<tern_storage::Error> for Failure {
    fn from(e: tern_storage::Error) -> Self {
        Self::new(e.to_string())
    }
}

/// Where a command's output goes.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    /// Standard output carries data (restore --stdout): everything else goes to stderr.
    pub stdout_is_data: bool,
}

impl Output {
    /// Prints the command's result: `json` with --json, else `human` (unless it is empty).
    pub fn result(self, json: &serde_json::Value, human: &str) {
        if self.json {
            self.write(&format!("{json}\n"));
        } else if !human.is_empty() {
            self.write(human);
        }
    }

    /// Prints an error the way the mode asks.
    pub fn error(self, failure: &Failure) {
        if self.json {
            if !failure.reported {
                self.write(&format!("{}\n", serde_json::json!({ "error": failure.message })));
            }
        } else {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {}", failure.message);
        }
    }

    fn write(self, text: &str) {
        // A closed pipe (`tern ls | head`) is not worth a panic.
        if self.stdout_is_data {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
    }
}

/// Bytes for people: `3.00 MiB`.
pub fn bytes(n: u64) -> String {
    HumanBytes(n).to_string()
}

/// A duration for people: `1.23s`, or `3 minutes` when long.
pub fn duration(d: Duration) -> String {
    if d < Duration::from_secs(60) { format!("{:.2}s", d.as_secs_f64()) } else { HumanDuration(d).to_string() }
}

/// Decimal megabytes per second, as storage throughput is usually quoted.
#[allow(clippy::cast_precision_loss)] // a rate for display
pub fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs > 0.0 { bytes as f64 / secs / 1e6 } else { 0.0 }
}

/// `n thing` or `n things`.
pub fn count(n: u64, thing: &str) -> String {
    if n == 1 { format!("1 {thing}") } else { format!("{n} {thing}s") }
}

/// A left-aligned table with a header row; columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let _ = write!(text, "{cell:<w$}");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(&["ID", "SIZE"], &[vec!["a".into(), "1 B".into()], vec!["longer".into(), "2 B".into()]]);
        assert_eq!(t, "ID      SIZE\na       1 B\nlonger  2 B\n");
    }

    #[test]
    fn helpers() {
        assert_eq!(bytes(3 << 20), "3.00 MiB");
        assert_eq!(count(1, "pack"), "1 pack");
        assert_eq!(count(2, "pack"), "2 packs");
        assert_eq!(duration(Duration::from_millis(1500)), "1.50s");
        assert!((mb_per_s(2_000_000, Duration::from_secs(2)) - 1.0).abs() < 1e-9);
        assert!(mb_per_s(1, Duration::ZERO).abs() < f64::EPSILON);
    }
}
