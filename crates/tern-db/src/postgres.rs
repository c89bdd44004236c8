//! PostgreSQL: base backups as a tar stream (`pg_basebackup -Ft -X fetch -D -`), `pg_dump -Fc`
//! dumps, WAL segments described with `pg_waldump`, and restores that extract, recover to the
//! target with a private server and wait until it has promoted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use tern_catalog::{BackupKind, BackupRecord, ConsistentPoint, NativePosition, Position};
use tern_pitr::{RestorePlan, Stop};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{
    check_empty_target, check_engine, feed, fetch_to_file, log_record, parse_utc, restore_or_clean, socket_dir, timed,
};
use crate::error::{Error, Result};
use crate::process::{OsUser, Running, Tool};
use crate::source::{
    ArtifactSource, BackupMeta, BackupSource, BackupStream, ClosedLogs, ENGINE_LABEL, Engine, LogFile, RestoreReport,
    RestoreTarget,
};

/// Entry name of a base backup (a tar of the data directory, with the WAL it needs).
pub const BASE_ENTRY: &str = "base.tar";
/// Entry name of a `pg_dump -Fc` dump.
pub const DUMP_ENTRY: &str = "dump.pgdump";
const END_POINT: &str = "write-ahead log end point:";
const START_POINT: &str = "write-ahead log start point:";
const PROMOTED: &str = "database system is ready to accept connections";
const STOPPING: &str = "recovery stopping";
const LAST_COMPLETED: &str = "last completed transaction was at log time";

/// Where PostgreSQL's tools are, and which OS user runs the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresTools {
    /// Directory of `postgres`, `initdb`, `pg_ctl`, `pg_basebackup`, `pg_dump`, `pg_restore`,
    /// `pg_waldump`, `pg_verifybackup`, `psql` (Debian: `/usr/lib/postgresql/<major>/bin`).
    pub bin_dir: PathBuf,
    /// The OS user that owns data directories and runs the server (PostgreSQL refuses to run as
    /// root); `None` runs everything as this process's user.
    pub os_user: Option<OsUser>,
}

impl PostgresTools {
    /// From `TERN_PG_BIN` (else the newest `/usr/lib/postgresql/*/bin`) and `TERN_PG_OS_USER`
    /// (else `postgres` when this process is root).
    pub fn from_env() -> Result<Self> {
        let bin_dir = match std::env::var_os("TERN_PG_BIN") {
            Some(dir) => PathBuf::from(dir),
            None => newest_debian_bin().unwrap_or_default(),
        };
        let os_user = match std::env::var("TERN_PG_OS_USER") {
            Ok(name) if !name.is_empty() => Some(OsUser::lookup(&name)?),
            _ if OsUser::running_as_root() => Some(OsUser::lookup("postgres")?),
            _ => None,
        };
        Ok(Self { bin_dir, os_user })
    }

    /// A tool of the binary directory, run as this process's user.
    pub fn tool(&self, name: &str) -> Tool {
        Tool::new(self.bin_dir.join(name))
    }

    /// A tool run as the server's OS user.
    pub fn server_tool(&self, name: &str) -> Tool {
        self.tool(name).as_user(self.os_user)
    }

    /// Gives `path` (not recursively) to the server's OS user, when there is one.
    pub fn give(&self, path: &Path) -> Result<()> {
        match self.os_user {
            Some(user) => user.chown(path),
            None => Ok(()),
        }
    }

    /// Creates `dir` (mode 0700) owned by the server's OS user.
    pub fn create_owned_dir(&self, dir: &Path) -> Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        self.give(dir)
    }
}

fn newest_debian_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A PostgreSQL server to back up, reached by a connection string (`host=/run/sock user=backup
/// dbname=app`, or a `postgresql://` URL). Keep passwords in `~/.pgpass` or `PGPASSWORD`, not in
/// the string: it is passed on the tools' command lines.
#[derive(Clone, Debug)]
pub struct PostgresSource {
    tools: PostgresTools,
    conninfo: String,
}

impl PostgresSource {
    /// The server `conninfo` reaches; `dbname` in it is the database dumps take.
    pub fn new(conninfo: impl Into<String>, tools: PostgresTools) -> Self {
        Self { tools, conninfo: conninfo.into() }
    }

    /// Runs SQL (as this process's user) and returns its rows (`|`-separated columns).
    pub async fn query(&self, sql: &str) -> Result<Vec<String>> {
        let out = self.tools.tool("psql").args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d"]).arg(&self.conninfo);
        Ok(out.args(["-c", sql]).output().await?.lines().map(str::to_owned).collect())
    }
}

/// Parses `0/2000028` and the timeline after `on timeline`.
fn parse_point(line: &str) -> Option<(String, Option<u32>)> {
    let rest = line.split(':').nth(2)?.trim();
    let mut words = rest.split_whitespace();
    let lsn = words.next()?.to_owned();
    let timeline = rest.split("on timeline").nth(1).and_then(|t| t.trim().parse().ok());
    Some((lsn, timeline))
}

#[async_trait]
impl BackupSource for PostgresSource {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn full(&self) -> Result<BackupStream> {
        let mut running = self
            .tools
            .tool("pg_basebackup")
            .arg("-d")
            .arg(&self.conninfo)
            .args(["-Ft", "-X", "fetch", "-c", "fast", "-l", "tern base backup", "-v", "-D", "-"])
            .watch_stderr(START_POINT)
            .watch_stderr(END_POINT)
            .spawn()?;
        let stdout = running.take_stdout();
        let finish = async move {
            let tail = running.wait().await?;
            let missing =
                || Error::unexpected("pg_basebackup", format!("it did not report its WAL range: {}", tail.join(" | ")));
            let (start_lsn, timeline) =
                running.seen_line(START_POINT).and_then(|l| parse_point(&l)).ok_or_else(missing)?;
            let (end_lsn, _) = running.seen_line(END_POINT).and_then(|l| parse_point(&l)).ok_or_else(missing)?;
            let timeline = timeline.ok_or_else(missing)?;
            let time = running.seen(END_POINT).ok_or_else(missing)?;
            let position = Position::postgres(timeline, &end_lsn).map_err(|e| Error::unexpected("pg_basebackup", e))?;
            let mut labels = BTreeMap::new();
            labels.insert(ENGINE_LABEL.to_owned(), Engine::Postgres.name().to_owned());
            labels.insert("timeline".into(), timeline.to_string());
            labels.insert("start_lsn".into(), start_lsn);
            labels.insert("end_lsn".into(), end_lsn);
            Ok(BackupMeta { consistent: ConsistentPoint { time, position: Some(position) }, labels })
        };
        Ok(BackupStream::new(BASE_ENTRY, stdout, finish.boxed()))
    }

    async fn incremental(&self, _base: &BackupRecord) -> Result<BackupStream> {
        Err(Error::Unsupported(
            "PostgreSQL 15 has no incremental base backups: take full backups and archive WAL with \
             `tern wal-push` for point-in-time recovery"
                .into(),
        ))
    }

    async fn dump(&self) -> Result<BackupStream> {
        let info = self.query("SELECT current_database(), current_setting('server_version')").await?;
        let (database, version) = info
            .first()
            .and_then(|row| row.split_once('|'))
            .map(|(d, v)| (d.to_owned(), v.to_owned()))
            .ok_or_else(|| Error::unexpected("psql", "it did not name the current database"))?;
        // pg_dump's snapshot is taken as it starts.
        let time = Utc::now();
        let mut running = self.tools.tool("pg_dump").arg("-d").arg(&self.conninfo).arg("-Fc").spawn()?;
        let stdout = running.take_stdout();
        let finish = async move {
            running.wait().await?;
            let mut labels = BTreeMap::new();
            labels.insert(ENGINE_LABEL.to_owned(), Engine::Postgres.name().to_owned());
            labels.insert("database".into(), database);
            labels.insert("server_version".into(), version);
            // No position: WAL cannot be replayed on top of a logical dump, so the planner uses a
            // dump only when it is asked for by id.
            Ok(BackupMeta { consistent: ConsistentPoint { time, position: None }, labels })
        };
        Ok(BackupStream::new(DUMP_ENTRY, stdout, finish.boxed()))
    }

    async fn closed_logs(&self, _since: Option<&Position>, _rotate: bool) -> Result<ClosedLogs> {
        Err(Error::Unsupported(
            "PostgreSQL hands each WAL segment to its archive_command: set \
             archive_command = 'tern wal-push <repository> --service <service> %p'"
                .into(),
        ))
    }
}

/// What a WAL file name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalName {
    /// A segment: `TTTTTTTTXXXXXXXXYYYYYYYY` (timeline, log, segment).
    Segment {
        /// The timeline.
        timeline: u32,
        /// The log number (high 32 bits of the LSN).
        log: u32,
        /// The segment within the log.
        seg: u32,
    },
    /// A timeline history file `TTTTTTTT.history`, a backup history file
    /// `<segment>.<offset>.backup`, or a `.partial` segment: archived and fetched by name, not
    /// replayed by position.
    Other,
}

impl WalName {
    /// Parses an archived WAL file's name; `None` for anything PostgreSQL does not archive.
    pub fn parse(name: &str) -> Option<Self> {
        let hex = |s: &str| s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if name.len() == 24 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            let part = |i: usize| u32::from_str_radix(&name[i..i + 8], 16).ok();
            return Some(Self::Segment { timeline: part(0)?, log: part(8)?, seg: part(16)? });
        }
        let other = name.strip_suffix(".history").is_some_and(hex)
            || name.strip_suffix(".partial").is_some_and(|s| s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            || name
                .strip_suffix(".backup")
                .is_some_and(|s| s.split_once('.').is_some_and(|(seg, off)| seg.len() == 24 && hex(off)));
        other.then_some(Self::Other)
    }
}

/// Describes a WAL segment file: its LSN range (from its name and size) and the first and last
/// commit times in it (from `pg_waldump`). A segment without any commit or abort takes the file's
/// modification time for both.
pub async fn describe_wal(tools: &PostgresTools, path: &Path, name: &str) -> Result<LogFile> {
    let Some(WalName::Segment { timeline, log, seg }) = WalName::parse(name) else {
        return Err(Error::Unsupported(format!("`{name}` is not a WAL segment name")));
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let size = meta.len();
    if !size.is_power_of_two() || !(1 << 20..=1 << 30).contains(&size) {
        return Err(Error::unexpected("wal", format!("{name} has {size} bytes, not a WAL segment size")));
    }
    let per_log = (1u64 << 32) / size;
    let start = (u64::from(log) * per_log + u64::from(seg)) * size;
    let lsn = |v: u64| format!("{:X}/{:X}", v >> 32, v & 0xFFFF_FFFF);
    let position = |v: u64| Position::postgres(timeline, &lsn(v)).map_err(|e| Error::unexpected("wal", e));
    let mut running = tools.tool("pg_waldump").arg(path).spawn()?;
    let mut lines = BufReader::new(running.take_stdout()).lines();
    let (mut first, mut last) = (None, None);
    while let Some(line) = lines.next_line().await.map_err(|e| Error::io("reading pg_waldump's output", e))? {
        if let Some(time) = record_time(&line) {
            first.get_or_insert(time);
            last = Some(time);
        }
    }
    running.wait().await?;
    let modified: DateTime<Utc> = meta.modified().map_err(|e| Error::io("reading a WAL file's time", e))?.into();
    Ok(LogFile {
        name: name.to_owned(),
        path: path.to_path_buf(),
        start_position: position(start)?,
        end_position: position(start + size)?,
        start_time: first.unwrap_or(modified),
        end_time: last.unwrap_or(modified),
        size,
    })
}

/// The time of a commit or abort record in `pg_waldump` output.
fn record_time(line: &str) -> Option<DateTime<Utc>> {
    let desc = line.split("desc: ").nth(1)?;
    let rest =
        ["COMMIT ", "ABORT ", "COMMIT_PREPARED ", "ABORT_PREPARED "].iter().find_map(|p| desc.strip_prefix(p))?;
    // `2026-11-21 14:47:55.986340 UTC; ...`: pg_waldump prints in its TZ, which Tool sets to UTC.
    let mut words = rest.split_whitespace();
    let (date, time, zone) = (words.next()?, words.next()?, words.next()?);
    if zone.trim_end_matches(';') != "UTC" {
        return None;
    }
    parse_utc(&format!("{date} {}", time.trim_end_matches(';')))
}

/// A new PostgreSQL data directory restored from a plan.
///
/// A base backup is extracted and checked with `pg_verifybackup`, the plan's WAL segments are
/// fetched into a spool that `restore_command` copies from, and a private server (no TCP, its own
/// socket directory, archiving off) recovers to the target and promotes; then it is stopped
/// cleanly. Recovery settings are given on that server's command line, so the restored
/// `postgresql.conf` is the source's: review `archive_command` before starting the copy as a
/// primary. A dump is restored into a new cluster (`initdb`, then `pg_restore --create
/// --no-owner`).
#[derive(Clone, Debug)]
pub struct PostgresTarget {
    tools: PostgresTools,
    data_dir: PathBuf,
    timeout: Duration,
}

impl PostgresTarget {
    /// Restores into `data_dir`, which must be empty or absent.
    pub fn new(data_dir: impl Into<PathBuf>, tools: PostgresTools) -> Self {
        Self { tools, data_dir: data_dir.into(), timeout: Duration::from_secs(3600) }
    }

    /// How long recovery may take before the restore gives up (default one hour).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The recovery settings for the plan's stop (`recovery_target_*`), as `-c` arguments.
    fn recovery_settings(plan: &RestorePlan) -> Vec<String> {
        let mut settings = vec!["recovery_target_action=promote".to_owned()];
        let last = plan.segments.last();
        match &plan.stop {
            _ if plan.segments.is_empty() => settings.push("recovery_target=immediate".into()),
            Stop::EndOfBackup => settings.push("recovery_target=immediate".into()),
            // A target at or past the last archived commit is all of the archive: PostgreSQL
            // refuses a target it never passes ("recovery ended before configured recovery
            // target was reached"), so recover to the end instead.
            Stop::Time { at, .. } if last.is_some_and(|s| *at >= s.end_time) => {}
            Stop::Time { at, inclusive } => {
                settings.push(format!("recovery_target_time={}", at.format("%Y-%m-%d %H:%M:%S%.6f+00")));
                settings.push(format!("recovery_target_inclusive={}", if *inclusive { "on" } else { "off" }));
            }
            Stop::Position { at, .. } if last.is_some_and(|s| *at >= s.end_position) => {}
            Stop::Position { at, inclusive } => {
                if let NativePosition::Postgres { lsn, .. } = &at.native {
                    settings.push(format!("recovery_target_lsn={lsn}"));
                    settings.push(format!("recovery_target_inclusive={}", if *inclusive { "on" } else { "off" }));
                }
            }
        }
        settings
    }

    async fn apply(
        &self,
        plan: &RestorePlan,
        artifacts: &dyn ArtifactSource,
        report: &mut RestoreReport,
    ) -> Result<()> {
        let data_dir = std::path::absolute(&self.data_dir)
            .map_err(|e| Error::io(format!("resolving {}", self.data_dir.display()), e))?;
        let sockets = socket_dir()?;
        self.tools.give(sockets.path())?;
        let work = crate::common::work_dir_near(&data_dir)?;
        self.tools.give(work.path())?;
        self.tools.create_owned_dir(&data_dir)?;
        // Only this process connects to the private server, through its own socket.
        let hba = work.path().join("pg_hba.conf");
        std::fs::write(&hba, "local all all trust\n").map_err(|e| Error::io("writing a pg_hba.conf", e))?;
        self.tools.give(&hba)?;
        let mut settings = vec![
            "listen_addresses=".to_owned(),
            format!("unix_socket_directories={}", sockets.path().display()),
            "port=5432".to_owned(),
            format!("hba_file={}", hba.display()),
            "archive_mode=off".to_owned(),
            "logging_collector=off".to_owned(),
            "log_destination=stderr".to_owned(),
        ];

        if plan.base.kind == BackupKind::Dump {
            timed(report, "initialise a new cluster", async {
                self.tools
                    .server_tool("initdb")
                    .current_dir(work.path())
                    .args(["-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "-D"])
                    .arg(&data_dir)
                    .run()
                    .await
                    .map(drop)
            })
            .await?;
            let mut server = self.start(&data_dir, &settings, work.path())?;
            let result = async {
                self.wait_ready(&mut server, sockets.path(), None).await?;
                let restore = self.tools.tool("pg_restore").arg("-h").arg(sockets.path()).args([
                    "-p",
                    "5432",
                    "-U",
                    "postgres",
                    "--create",
                    "--no-owner",
                    "--exit-on-error",
                    "-d",
                    "postgres",
                ]);
                let bytes = timed(report, "load the dump", feed(restore, artifacts, &plan.base, DUMP_ENTRY)).await?;
                report.bytes_read += bytes;
                Ok(())
            }
            .await;
            let stopped = self.stop(&data_dir, &mut server).await;
            result?;
            return stopped;
        }

        let tar = Tool::new("tar").as_user(self.tools.os_user).arg("-xf").arg("-").arg("-C").arg(&data_dir);
        report.bytes_read +=
            timed(report, "extract the base backup", feed(tar, artifacts, &plan.base, BASE_ENTRY)).await?;
        timed(report, "verify the base backup", async {
            self.tools.server_tool("pg_verifybackup").current_dir(work.path()).arg(&data_dir).run().await.map(drop)
        })
        .await?;

        let spool = work.path().join("wal");
        self.tools.create_owned_dir(&spool)?;
        let started = Instant::now();
        for segment in &plan.segments {
            let path = spool.join(&segment.name);
            report.bytes_read += fetch_to_file(artifacts, &log_record(segment), &segment.name, &path).await?;
            self.tools.give(&path)?;
        }
        report.step(format!("fetch {} WAL segments", plan.segments.len()), started);
        settings.push(format!("restore_command=cp {}/%f %p", spool.display()));
        settings.push("recovery_target_timeline=current".into());
        settings.extend(Self::recovery_settings(plan));
        let signal = data_dir.join("recovery.signal");
        std::fs::write(&signal, b"").map_err(|e| Error::io("writing recovery.signal", e))?;
        self.tools.give(&signal)?;
        let started = Instant::now();
        let mut server = self.start(&data_dir, &settings, work.path())?;
        let result = self.wait_ready(&mut server, sockets.path(), Some(report)).await;
        let stopped = self.stop(&data_dir, &mut server).await;
        result?;
        stopped?;
        report.step("recover and promote", started);
        Ok(())
    }

    fn start(&self, data_dir: &Path, settings: &[String], cwd: &Path) -> Result<Running> {
        let mut tool = self.tools.server_tool("postgres").current_dir(cwd).arg("-D").arg(data_dir);
        for setting in settings {
            tool = tool.arg("-c").arg(setting);
        }
        tool.stdout_null().watch_stderr(PROMOTED).watch_stderr(STOPPING).watch_stderr(LAST_COMPLETED).spawn()
    }

    /// Waits until the server accepts (read-write) connections: after recovery reached its
    /// target and promoted, when recovering.
    async fn wait_ready(&self, server: &mut Running, sockets: &Path, report: Option<&mut RestoreReport>) -> Result<()> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if server.seen(PROMOTED).is_some() {
                break;
            }
            if Instant::now() > deadline {
                server.kill().await;
                return Err(Error::Restore(format!(
                    "the server did not finish recovery within {} s",
                    self.timeout.as_secs()
                )));
            }
            if tokio::time::timeout(Duration::from_millis(50), server.wait()).await.is_ok() {
                // It exited: its last log lines (a FATAL) say why; `wait` already returned them
                // as an error when it failed.
                let why = match server.wait().await {
                    Err(e) => e.to_string(),
                    Ok(_) => "it exited".into(),
                };
                return Err(Error::Restore(format!("the server stopped during recovery: {why}")));
            }
        }
        let ready = self.tools.tool("pg_isready").arg("-h").arg(sockets).args(["-p", "5432"]).run();
        ready.await?;
        if let Some(report) = report {
            let said: Vec<String> = [STOPPING, LAST_COMPLETED]
                .iter()
                .filter_map(|w| server.seen_line(w))
                .map(|l| l.split_once("LOG:  ").map_or(l.as_str(), |(_, m)| m).trim().to_owned())
                .collect();
            if !said.is_empty() {
                report.stopped = Some(said.join("; "));
            }
        }
        Ok(())
    }

    /// Stops the server with a fast shutdown and waits for it.
    async fn stop(&self, data_dir: &Path, server: &mut Running) -> Result<()> {
        stop_server(&self.tools, data_dir, server).await
    }
}

/// Stops a server started as a child with a fast shutdown (`pg_ctl stop -m fast`), and waits
/// for it; kills it if `pg_ctl` fails.
pub(crate) async fn stop_server(tools: &PostgresTools, data_dir: &Path, server: &mut Running) -> Result<()> {
    if server.id().is_none() {
        return Ok(());
    }
    let stopped = tools
        .server_tool("pg_ctl")
        .current_dir(data_dir)
        .args(["stop", "-m", "fast", "-w", "-t", "120", "-D"])
        .arg(data_dir)
        .run()
        .await;
    if stopped.is_err() {
        server.kill().await;
    }
    let _ = server.wait().await;
    stopped.map(drop)
}

#[async_trait]
impl RestoreTarget for PostgresTarget {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn check(&self, plan: &RestorePlan) -> Result<()> {
        for backup in plan.backups() {
            check_engine(Engine::Postgres, backup)?;
        }
        match plan.base.kind {
            BackupKind::Full if plan.incrementals.is_empty() => {}
            BackupKind::Dump if plan.segments.is_empty() => {}
            BackupKind::Dump => {
                return Err(Error::Restore("WAL cannot be replayed on top of a PostgreSQL dump".into()));
            }
            kind => return Err(Error::Restore(format!("cannot restore PostgreSQL from a {kind} base"))),
        }
        check_empty_target(&self.data_dir)
    }

    async fn restore(&self, plan: &RestorePlan, artifacts: &dyn ArtifactSource) -> Result<RestoreReport> {
        self.check(plan)?;
        restore_or_clean(&self.data_dir, async {
            let mut report = RestoreReport { data_dir: self.data_dir.clone(), ..RestoreReport::default() };
            self.apply(plan, artifacts, &mut report).await?;
            Ok(report)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment() -> tern_catalog::LogSegment {
        tern_catalog::LogSegment {
            id: tern_catalog::BackupId::new(),
            service: "app".into(),
            name: "000000010000000000000001".into(),
            start_position: Position::postgres(1, "0/1000000").unwrap(),
            end_position: Position::postgres(1, "0/2000000").unwrap(),
            start_time: Utc::now(),
            end_time: Utc::now(),
            size: 16 << 20,
            region: None,
        }
    }

    fn record(kind: BackupKind, engine: Option<&str>) -> BackupRecord {
        let mut labels = std::collections::BTreeMap::new();
        if let Some(engine) = engine {
            labels.insert(ENGINE_LABEL.to_owned(), engine.to_owned());
        }
        BackupRecord { kind, labels, ..log_record(&segment()) }
    }

    fn plan(base: BackupRecord, segments: usize) -> RestorePlan {
        RestorePlan {
            target: tern_catalog::RestoreTarget::Latest,
            base,
            incrementals: Vec::new(),
            segments: vec![segment(); segments],
            replay_from: None,
            stop: Stop::EndOfBackup,
            target_time: None,
        }
    }

    #[test]
    fn check_refuses_other_engines_and_replay_on_a_dump() {
        let tools = PostgresTools { bin_dir: PathBuf::new(), os_user: None };
        let dir = tempfile::tempdir().unwrap();
        let target = PostgresTarget::new(dir.path().join("new"), tools);
        assert!(target.check(&plan(record(BackupKind::Full, Some("postgres")), 1)).is_ok());
        assert!(target.check(&plan(record(BackupKind::Dump, Some("postgres")), 0)).is_ok());
        let err = target.check(&plan(record(BackupKind::Full, Some("mariadb")), 0)).unwrap_err().to_string();
        assert!(err.contains("was taken from mariadb, not postgres"), "{err}");
        let err = target.check(&plan(record(BackupKind::Full, None), 0)).unwrap_err().to_string();
        assert!(err.contains("no `engine` label"), "{err}");
        let err = target.check(&plan(record(BackupKind::Dump, Some("postgres")), 1)).unwrap_err().to_string();
        assert!(err.contains("cannot be replayed on top of a PostgreSQL dump"), "{err}");
        std::fs::create_dir(dir.path().join("full")).unwrap();
        std::fs::write(dir.path().join("full/PG_VERSION"), "15").unwrap();
        let busy =
            PostgresTarget::new(dir.path().join("full"), PostgresTools { bin_dir: PathBuf::new(), os_user: None });
        let err = busy.check(&plan(record(BackupKind::Full, Some("postgres")), 0)).unwrap_err().to_string();
        assert!(err.contains("is not empty"), "{err}");
    }

    #[test]
    fn parses_wal_names() {
        assert_eq!(
            WalName::parse("000000020000000A000000FF"),
            Some(WalName::Segment { timeline: 2, log: 10, seg: 255 })
        );
        assert_eq!(WalName::parse("00000002.history"), Some(WalName::Other));
        assert_eq!(WalName::parse("000000010000000000000002.00000028.backup"), Some(WalName::Other));
        assert_eq!(WalName::parse("000000010000000000000002.partial"), Some(WalName::Other));
        for bad in ["", "../etc/passwd", "00000001000000000000000", "0000000100000000000000GG", "x.history"] {
            assert_eq!(WalName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_commit_times_and_points() {
        let line = "rmgr: Transaction len (rec/tot):     34/    34, tx:        725, lsn: 0/01516770, prev 0/01516730, desc: COMMIT 2026-11-21 14:47:56.437576 UTC";
        assert_eq!(record_time(line), parse_utc("2026-11-21 14:47:56.437576"));
        let line = "rmgr: Transaction len (rec/tot):     98/    98, tx:          3, lsn: 0/010B8178, prev 0/010B7028, desc: COMMIT 2026-11-21 14:47:55.986340 UTC; relcache init file inval";
        assert_eq!(record_time(line), parse_utc("2026-11-21 14:47:55.986340"));
        assert_eq!(record_time("rmgr: XLOG len 24, desc: SWITCH "), None);
        assert_eq!(
            parse_point("pg_basebackup: write-ahead log start point: 0/2000028 on timeline 1"),
            Some(("0/2000028".into(), Some(1)))
        );
        assert_eq!(
            parse_point("pg_basebackup: write-ahead log end point: 0/2000100"),
            Some(("0/2000100".into(), None))
        );
    }
}
