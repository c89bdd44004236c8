//! A reader that passes bytes through and notes the lines that start with a given prefix (a
//! dump's position comments), with the time each was read.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncRead, ReadBuf};

/// Longest line kept.
const LINE_MAX: usize = 1024;

/// Lines seen so far, with the time each was read.
pub(crate) type Seen = Arc<Mutex<Vec<(String, DateTime<Utc>)>>>;

pub(crate) struct LineTap<R> {
    inner: R,
    scanner: Scanner,
}

/// The line state, apart from the reader so that a read's bytes can be scanned in place.
struct Scanner {
    prefixes: &'static [&'static str],
    at_line_start: bool,
    capturing: bool,
    line: Vec<u8>,
    seen: Seen,
}

impl<R> LineTap<R> {
    pub(crate) fn new(inner: R, prefixes: &'static [&'static str]) -> (Self, Seen) {
        let seen = Seen::default();
        let scanner =
            Scanner { prefixes, at_line_start: true, capturing: false, line: Vec::new(), seen: Arc::clone(&seen) };
        (Self { inner, scanner }, seen)
    }
}

impl Scanner {
    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.at_line_start {
                self.capturing = b == b'-';
                self.line.clear();
            }
            self.at_line_start = b == b'\n';
            if !self.capturing {
                continue;
            }
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.line).into_owned();
                if self.prefixes.iter().any(|p| line.starts_with(p)) {
                    self.seen.lock().expect("not poisoned").push((line, Utc::now()));
                }
                self.capturing = false;
            } else if self.line.len() < LINE_MAX {
                self.line.push(b);
            }
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for LineTap<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            this.scanner.scan(&buf.filled()[before..]);
        }
        poll
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn notes_prefixed_lines_across_reads() {
        let text = b"/*M!999999\\- enable the sandbox mode */\n-- CHANGE MASTER TO MASTER_LOG_FILE='b.000002', MASTER_LOG_POS=42;\nINSERT -- CHANGE MASTER not at start\n-- other\n-- SET GLOBAL gtid_slave_pos='0-1-9';\n";
        // One byte at a time: lines cross every read boundary.
        let reader = tokio_test_reader(text);
        let (mut tap, seen) =
            LineTap::new(reader, &["-- CHANGE MASTER TO MASTER_LOG_FILE", "-- SET GLOBAL gtid_slave_pos"]);
        let mut out = Vec::new();
        tap.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, text);
        let lines: Vec<String> = seen.lock().unwrap().iter().map(|(l, _)| l.clone()).collect();
        assert_eq!(
            lines,
            [
                "-- CHANGE MASTER TO MASTER_LOG_FILE='b.000002', MASTER_LOG_POS=42;",
                "-- SET GLOBAL gtid_slave_pos='0-1-9';"
            ]
        );
    }

    /// A reader returning one byte per read.
    fn tokio_test_reader(bytes: &'static [u8]) -> impl AsyncRead + Unpin {
        struct OneByte(&'static [u8]);
        impl AsyncRead for OneByte {
            fn poll_read(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<std::io::Result<()>> {
                if let Some((&b, rest)) = self.0.split_first() {
                    buf.put_slice(&[b]);
                    self.0 = rest;
                }
                Poll::Ready(Ok(()))
            }
        }
        OneByte(bytes)
    }
}
