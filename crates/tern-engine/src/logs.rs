//! Archived log segments (binlog files, WAL segments) and deleting backups.

use tokio::io::AsyncRead;

use tern_catalog::{BackupKind, CatalogExt, ConsistentPoint, LogSegment, Position};

use crate::backup::BackupSummary;
use crate::error::{Error, Result};
use crate::id::BackupId;
use crate::repo::Repository;

/// What a log segment covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentSpan {
    /// Position of its first event.
    pub start_position: Position,
    /// Position just past its last event.
    pub end_position: Position,
    /// Time of its first event.
    pub start_time: chrono::DateTime<chrono::Utc>,
    /// Time of its last event.
    pub end_time: chrono::DateTime<chrono::Utc>,
}

impl Repository {
    /// Archives one closed log segment: its bytes as a backup of kind `log` (one entry named
    /// `name`), then its [`LogSegment`] record, which the PITR planner reads. The segment record
    /// is written last, so a segment listed is always restorable.
    pub async fn push_log_segment<R: AsyncRead + Unpin + Send>(
        &self,
        service: &str,
        name: &str,
        reader: R,
        span: SegmentSpan,
    ) -> Result<(BackupSummary, LogSegment)> {
        if span.end_position < span.start_position || span.end_time < span.start_time {
            return Err(Error::InvalidArgument(format!(
                "log segment `{name}` ends before it starts ({} → {}, {} → {})",
                span.start_position, span.end_position, span.start_time, span.end_time
            )));
        }
        let mut writer = self
            .backup(service)
            .kind(BackupKind::Log)
            .consistent(ConsistentPoint { time: span.start_time, position: Some(span.start_position.clone()) })
            .label("segment", name)
            .start()
            .await?;
        if let Err(e) = writer.add_entry(name, reader, None).await {
            writer.abandon(&e.to_string()).await;
            return Err(e);
        }
        let summary = writer.commit().await?;
        let segment = LogSegment {
            id: summary.id.clone(),
            service: service.to_owned(),
            name: name.to_owned(),
            start_position: span.start_position,
            end_position: span.end_position,
            start_time: span.start_time,
            end_time: span.end_time,
            size: summary.stats.logical_bytes,
            region: None,
        };
        self.catalog().create_segment(&segment).await?;
        Ok((summary, segment))
    }

    /// Deletes a backup's record: it is no longer listed or restorable, and its data goes with
    /// the next garbage collection. Refused while a kept incremental depends on it, unless
    /// `force`.
    pub async fn delete_backup(&self, service: &str, id: &BackupId, force: bool) -> Result<()> {
        Ok(self.catalog().delete_backup(service, id, force).await?)
    }
}
