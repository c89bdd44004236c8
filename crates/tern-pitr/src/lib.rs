//! Tern's point-in-time recovery planner: pure functions from catalog records to restore plans
//! and recovery windows.
//!
//! [`plan`] takes one service's [`BackupRecord`](tern_catalog::BackupRecord)s and
//! [`LogSegment`](tern_catalog::LogSegment)s and a [`RestoreTarget`](tern_catalog::RestoreTarget)
//! (the latest point, a time, a log position, or one backup) and returns a [`RestorePlan`]: the
//! base backup, the incrementals to apply in order, the log segments to replay in order, where
//! replay starts and where it [`Stop`]s. When the target cannot be reached it returns a
//! [`PlanError`] that says exactly what is missing: no base before the target, a gap between two
//! log positions (naming the segments on each side), a target past the archived end, a broken
//! chain of incrementals. [`recovery_windows`] returns the intervals of time a restore can reach.
//!
//! # Why it is shaped so
//!
//! - **No I/O.** The planner sees only the records it is given, so the same plan comes out in a
//!   test, in the CLI's dry run and in the service, and a secondary region plans from exactly
//!   what it holds. Reading the catalog is the caller's job.
//! - **Segments must meet exactly.** A segment follows another only when it starts at the very
//!   position the other ends (its end is the position just past its last event). Anything looser
//!   would let a plan skip events silently; a missing binlog or WAL file shows up as a
//!   [`PlanError::LogGap`] naming both positions instead.
//! - **Windows and plans agree.** A window is the union of the times each usable backup can reach,
//!   computed with the same log runs the planner walks, so "inside a window" means "plans", and
//!   the property tests check it on random histories.
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use tern_catalog::*;
//! use tern_pitr::{Stop, plan, recovery_windows};
//!
//! let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap();
//! let pos = |file: u32, offset: u64| Position::mariadb(&format!("mysql-bin.{file:06}"), offset, None).unwrap();
//!
//! let full = BackupRecord {
//!     id: "20260302T000000.000Z-00000001".parse().unwrap(),
//!     service: "orders".into(),
//!     kind: BackupKind::Full,
//!     status: BackupStatus::Succeeded,
//!     parent: None,
//!     started: at(0, 0),
//!     finished: Some(at(0, 10)),
//!     consistent: Some(ConsistentPoint { time: at(0, 10), position: Some(pos(1, 5_000)) }),
//!     sizes: Sizes::default(),
//!     manifest: None,
//!     region: None,
//!     labels: Default::default(),
//! };
//! // Two hourly binlogs; a closed binlog ends where the next one begins.
//! let binlog = |file: u32, from: u32| LogSegment {
//!     id: BackupId::at(at(from + 1, 0)),
//!     service: "orders".into(),
//!     name: format!("mysql-bin.{file:06}"),
//!     start_position: pos(file, 4),
//!     end_position: pos(file + 1, 4),
//!     start_time: at(from, 0),
//!     end_time: at(from, 59),
//!     size: 0,
//!     region: None,
//! };
//! let segments = [binlog(1, 0), binlog(2, 1)];
//! let records = [full];
//!
//! let restore = plan(&records, &segments, &RestoreTarget::Time(at(1, 30)))?;
//! assert_eq!(restore.base.kind, BackupKind::Full);
//! assert_eq!(restore.segments.len(), 2);
//! assert_eq!(restore.replay_from, Some(pos(1, 5_000)));
//! assert_eq!(restore.stop, Stop::Time { at: at(1, 30), inclusive: true });
//! println!("{restore}");
//!
//! let windows = recovery_windows(&records, &segments);
//! assert_eq!((windows[0].start, windows[0].end), (at(0, 10), at(1, 59)));
//!
//! let err = plan(&records, &segments, &RestoreTarget::Time(at(3, 0))).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "target 2026-03-02T03:00:00Z is after the archived end 2026-03-02T01:59:00Z (mysql-bin.000003:4); the logs stop there"
//! );
//! # Ok::<(), tern_pitr::PlanError>(())
//! ```
#![warn(missing_docs)]
// A plan error carries the target and positions it names; plans are made once per restore, so
// its size costs nothing worth a box (as in tern-catalog).
#![allow(clippy::result_large_err)]

mod error;
mod history;
mod plan;
mod text;
mod windows;

pub use error::{BackupPoint, ChainBreak, PlanError};
pub use plan::{RestorePlan, Stop, plan};
pub use windows::{RecoveryWindow, recovery_windows};
