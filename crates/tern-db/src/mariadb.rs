//! MariaDB: physical backups with `mariadb-backup`, dumps with `mariadb-dump`, closed binlogs,
//! and restores that prepare, move back, start a private server and replay binlogs with one
//! `mariadb-binlog` run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, DurationRound, NaiveDateTime, Utc};
use futures::FutureExt;
use tern_catalog::{BackupKind, BackupRecord, ConsistentPoint, NativePosition, Position};
use tern_pitr::{RestorePlan, Stop};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{
    check_empty_target, check_engine, feed, fetch_to_file, log_record, parse_utc, restore_or_clean, socket_dir,
    tail_of, timed, work_dir_near,
};
use crate::error::{Error, Result};
use crate::process::{OsUser, Running, Tool};
use crate::source::{
    ArtifactSource, BackupMeta, BackupSource, BackupStream, ClosedLogs, ENGINE_LABEL, Engine, LogFile, RestoreReport,
    RestoreTarget,
};
use crate::tap::LineTap;

/// Entry name of a physical (full or incremental) backup stream.
pub const XBSTREAM_ENTRY: &str = "backup.xbstream";
/// Entry name of a dump.
pub const DUMP_ENTRY: &str = "dump.sql";
/// The stderr line of `mariadb-backup` at which commits are blocked: the backup's binlog
/// position is read under this lock, so its time is the consistent time.
const BLOCK_COMMIT: &str = "Acquired locks for BACKUP STAGE BLOCK_COMMIT";
const DUMP_POSITION: &str = "-- CHANGE MASTER TO MASTER_LOG_FILE";
const DUMP_GTID: &str = "-- SET GLOBAL gtid_slave_pos";

/// Where MariaDB's tools are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MariadbTools {
    /// Directory of `mariadb`, `mariadb-admin`, `mariadb-backup`, `mbstream`, `mariadb-dump`,
    /// `mariadb-binlog`, `mariadb-install-db`.
    pub bin_dir: PathBuf,
    /// The server binary (Debian: `/usr/sbin/mariadbd`).
    pub mariadbd: PathBuf,
}

impl Default for MariadbTools {
    fn default() -> Self {
        Self { bin_dir: PathBuf::from("/usr/bin"), mariadbd: PathBuf::from("/usr/sbin/mariadbd") }
    }
}

impl MariadbTools {
    /// From `TERN_MARIADB_BIN` and `TERN_MARIADBD` (as `scripts/databases.sh` prints them), else
    /// Debian's `/usr/bin` and `/usr/sbin/mariadbd`.
    pub fn from_env() -> Self {
        let default = Self::default();
        Self {
            bin_dir: std::env::var_os("TERN_MARIADB_BIN").map_or(default.bin_dir, PathBuf::from),
            mariadbd: std::env::var_os("TERN_MARIADBD").map_or(default.mariadbd, PathBuf::from),
        }
    }

    /// A tool of the client directory.
    pub fn tool(&self, name: &str) -> Tool {
        Tool::new(self.bin_dir.join(name))
    }
}

/// A MariaDB server to back up, reached through an option file (`--defaults-file`) that holds the
/// connection (socket or host/port, user, password): credentials never appear on a command line.
#[derive(Clone, Debug)]
pub struct MariadbSource {
    tools: MariadbTools,
    defaults_file: PathBuf,
    databases: Vec<String>,
}

impl MariadbSource {
    /// The server `defaults_file` connects to.
    pub fn new(defaults_file: impl Into<PathBuf>) -> Self {
        Self { tools: MariadbTools::from_env(), defaults_file: defaults_file.into(), databases: Vec::new() }
    }

    /// Uses these tools.
    #[must_use]
    pub fn tools(mut self, tools: MariadbTools) -> Self {
        self.tools = tools;
        self
    }

    /// Dumps only these databases (all of them when empty, the default).
    #[must_use]
    pub fn databases(mut self, databases: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.databases = databases.into_iter().map(Into::into).collect();
        self
    }

    fn defaults_arg(&self) -> String {
        format!("--defaults-file={}", self.defaults_file.display())
    }

    /// A tool with the option file as its first argument (so nothing else is read).
    fn tool(&self, name: &str) -> Tool {
        self.tools.tool(name).arg(self.defaults_arg())
    }

    /// Runs SQL and returns its rows (tab-separated columns).
    pub async fn query(&self, sql: &str) -> Result<Vec<Vec<String>>> {
        let out = self.tool("mariadb").args(["-N", "-B", "-e", sql]).output().await?;
        Ok(out.lines().map(|l| l.split('\t').map(str::to_owned).collect()).collect())
    }

    fn physical(&self, base: Option<&BackupRecord>) -> Result<BackupStream> {
        let meta = tempfile::Builder::new()
            .prefix("tern-xb-")
            .tempdir()
            .map_err(|e| Error::io("creating a directory for mariadb-backup's metadata", e))?;
        let mut tool = self.tool("mariadb-backup").args(["--backup", "--stream=xbstream"]);
        if let Some(base) = base {
            let lsn = base.labels.get("to_lsn").ok_or_else(|| {
                Error::Unsupported(format!(
                    "backup {} has no `to_lsn` label: an incremental needs a MariaDB full or incremental as its base",
                    base.id
                ))
            })?;
            tool = tool.arg(format!("--incremental-lsn={lsn}"));
        }
        let dir = meta.path().display().to_string();
        let mut running = tool
            .arg(format!("--extra-lsndir={dir}"))
            .arg(format!("--target-dir={dir}"))
            .watch_stderr(BLOCK_COMMIT)
            .spawn()?;
        let stdout = running.take_stdout();
        let finish = async move {
            running.wait().await?;
            let consistent_time = running.seen(BLOCK_COMMIT);
            physical_meta(meta.path(), consistent_time)
        };
        Ok(BackupStream::new(XBSTREAM_ENTRY, stdout, finish.boxed()))
    }

    /// The binlog files and the active one (`SHOW BINARY LOGS`, `SHOW MASTER STATUS`).
    async fn binlogs(&self) -> Result<(Vec<(String, u64)>, String, PathBuf)> {
        let rows = self.query("SELECT @@log_bin, @@log_bin_basename").await?;
        let row = rows.first().ok_or_else(|| Error::unexpected("mariadb", "SELECT @@log_bin returned nothing"))?;
        if row.first().map(String::as_str) != Some("1") {
            return Err(Error::Unsupported(
                "the server's binary log is off (log_bin): enable it to archive logs and restore to a point in time"
                    .into(),
            ));
        }
        let basename = PathBuf::from(row.get(1).cloned().unwrap_or_default());
        let dir = basename.parent().map(Path::to_path_buf).unwrap_or_default();
        let files = self
            .query("SHOW BINARY LOGS")
            .await?
            .into_iter()
            .filter_map(|r| Some((r.first()?.clone(), r.get(1)?.parse().ok()?)))
            .collect();
        let active = self
            .query("SHOW MASTER STATUS")
            .await?
            .first()
            .and_then(|r| r.first().cloned())
            .ok_or_else(|| Error::unexpected("mariadb", "SHOW MASTER STATUS returned nothing"))?;
        Ok((files, active, dir))
    }
}

/// Reads what `mariadb-backup --extra-lsndir` left: LSNs, binlog position, times.
fn physical_meta(dir: &Path, consistent_time: Option<DateTime<Utc>>) -> Result<BackupMeta> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| Error::unexpected("mariadb-backup", format!("it left no {name}: {e}")))
    };
    let mut labels = BTreeMap::new();
    labels.insert(ENGINE_LABEL.to_owned(), Engine::Mariadb.name().to_owned());
    let fields = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|l| l.split_once(" = "))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    };
    let checkpoints = fields(&read("xtrabackup_checkpoints")?);
    for key in ["backup_type", "from_lsn", "to_lsn", "last_lsn"] {
        let value = checkpoints
            .get(key)
            .ok_or_else(|| Error::unexpected("mariadb-backup", format!("xtrabackup_checkpoints has no {key}")))?;
        labels.insert(key.to_owned(), value.clone());
    }
    let info = fields(&read("xtrabackup_info")?);
    if let Some(v) = info.get("server_version") {
        labels.insert("server_version".into(), v.clone());
    }
    let end_time = info.get("end_time").and_then(|t| parse_utc(t));
    let position = match info.get("binlog_pos") {
        Some(pos) => {
            let position = parse_binlog_pos(pos)
                .ok_or_else(|| Error::unexpected("mariadb-backup", format!("cannot read binlog_pos `{pos}`")))?;
            labels.insert("binlog_position".into(), position.to_string());
            Some(position)
        }
        None => None,
    };
    let time = consistent_time
        .or(end_time)
        .ok_or_else(|| Error::unexpected("mariadb-backup", "it reported neither its lock time nor its end time"))?;
    Ok(BackupMeta { consistent: ConsistentPoint { time, position }, labels })
}

/// Parses `filename 'mysql-bin.000001', position '870', GTID of the last change '0-1-3'`.
fn parse_binlog_pos(text: &str) -> Option<Position> {
    let quoted: Vec<&str> = text.split('\'').skip(1).step_by(2).collect();
    let file = quoted.first()?;
    let offset = quoted.get(1)?.parse().ok()?;
    let gtid = quoted.get(2).filter(|g| !g.is_empty()).map(|g| (*g).to_owned());
    Position::mariadb(file, offset, gtid).ok()
}

/// Parses a dump's `-- CHANGE MASTER TO MASTER_LOG_FILE='f', MASTER_LOG_POS=n;` line.
fn parse_dump_position(line: &str, gtid: Option<String>) -> Option<Position> {
    let file = line.split('\'').nth(1)?;
    let pos = line.split("MASTER_LOG_POS=").nth(1)?.trim_end_matches(';').trim().parse().ok()?;
    Position::mariadb(file, pos, gtid).ok()
}

#[async_trait]
impl BackupSource for MariadbSource {
    fn engine(&self) -> Engine {
        Engine::Mariadb
    }

    async fn full(&self) -> Result<BackupStream> {
        self.physical(None)
    }

    async fn incremental(&self, base: &BackupRecord) -> Result<BackupStream> {
        check_engine(Engine::Mariadb, base).map_err(|e| Error::Unsupported(e.to_string()))?;
        if !matches!(base.kind, BackupKind::Full | BackupKind::Incremental) {
            return Err(Error::Unsupported(format!(
                "backup {} is a {}: an incremental's base is a full or an incremental",
                base.id, base.kind
            )));
        }
        self.physical(Some(base))
    }

    async fn dump(&self) -> Result<BackupStream> {
        let mut tool = self.tool("mariadb-dump").args([
            "--single-transaction",
            "--master-data=2",
            "--gtid",
            "--routines",
            "--triggers",
            "--events",
        ]);
        tool = if self.databases.is_empty() {
            tool.arg("--all-databases")
        } else {
            tool.arg("--databases").args(&self.databases)
        };
        let databases = self.databases.join(",");
        let mut running = tool.spawn()?;
        let (tap, seen) = LineTap::new(running.take_stdout(), &[DUMP_POSITION, DUMP_GTID]);
        let finish = async move {
            let tail = running.wait().await?;
            let seen = seen.lock().expect("not poisoned").clone();
            let gtid = seen
                .iter()
                .find(|(l, _)| l.starts_with(DUMP_GTID))
                .and_then(|(l, _)| l.split('\'').nth(1).map(str::to_owned))
                .filter(|g| !g.is_empty());
            let (line, time) = seen.iter().find(|(l, _)| l.starts_with(DUMP_POSITION)).ok_or_else(|| {
                Error::unexpected(
                    "mariadb-dump",
                    format!("the dump has no binlog position (is log_bin on?); it said: {}", tail.join(" | ")),
                )
            })?;
            let position = parse_dump_position(line, gtid)
                .ok_or_else(|| Error::unexpected("mariadb-dump", format!("cannot read the position in `{line}`")))?;
            let mut labels = BTreeMap::new();
            labels.insert(ENGINE_LABEL.to_owned(), Engine::Mariadb.name().to_owned());
            labels.insert("binlog_position".into(), position.to_string());
            labels.insert("databases".into(), if databases.is_empty() { "*".into() } else { databases });
            Ok(BackupMeta { consistent: ConsistentPoint { time: *time, position: Some(position) }, labels })
        };
        Ok(BackupStream::new(DUMP_ENTRY, tap, finish.boxed()))
    }

    async fn closed_logs(&self, since: Option<&Position>, rotate: bool) -> Result<ClosedLogs> {
        if rotate {
            self.query("FLUSH BINARY LOGS").await?;
        }
        let (files, active, dir) = self.binlogs().await?;
        let mut wanted = Vec::new();
        for (name, _) in files {
            if name == active {
                continue;
            }
            let start = Position::mariadb(&name, 4, None).map_err(|e| Error::unexpected("mariadb", e))?;
            // A file is wanted when it ends after `since` (the end of the last archived file is
            // the next file's first position, so that file is the first wanted).
            if since.is_none_or(|s| start.major >= s.major) {
                wanted.push(name);
            }
        }
        let mut logs = ClosedLogs::default();
        let local = wanted.iter().all(|n| std::fs::File::open(dir.join(n)).is_ok());
        let dir = if local || wanted.is_empty() {
            dir
        } else {
            // Not on this machine (or not readable): fetch the closed files over the protocol.
            let spool = tempfile::Builder::new()
                .prefix("tern-binlogs-")
                .tempdir()
                .map_err(|e| Error::io("creating a directory for fetched binlogs", e))?;
            self.tool("mariadb-binlog")
                .args(["--read-from-remote-server", "--raw"])
                .arg(format!("--result-file={}/", spool.path().display()))
                .args(&wanted)
                .run()
                .await?;
            let path = spool.path().to_path_buf();
            logs._spool = Some(spool);
            path
        };
        for name in wanted {
            let path = dir.join(&name);
            logs.files.push(describe_binlog(&self.tools, &path, &name).await?);
        }
        Ok(logs)
    }
}

/// Reads a closed binlog file with `mariadb-binlog`: its first and last event times, the GTID
/// state at its start and its last GTID.
pub async fn describe_binlog(tools: &MariadbTools, path: &Path, name: &str) -> Result<LogFile> {
    let size = std::fs::metadata(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?.len();
    let mut running = tools.tool("mariadb-binlog").arg("--no-defaults").arg(path).spawn()?;
    let mut lines = BufReader::new(running.take_stdout()).lines();
    let (mut first, mut last, mut start_gtid, mut last_gtid) = (None, None, None, None);
    while let Some(line) = lines.next_line().await.map_err(|e| Error::io("reading mariadb-binlog's output", e))? {
        let Some((time, rest)) = parse_event_header(&line) else { continue };
        first.get_or_insert(time);
        last = Some(time);
        if let Some(list) = rest.split("Gtid list [").nth(1) {
            if start_gtid.is_none() {
                start_gtid = Some(list.trim_end().trim_end_matches(']').to_owned());
            }
        } else if let Some(gtid) = rest.split("\tGTID ").nth(1).and_then(|g| g.split_whitespace().next()) {
            last_gtid = Some(gtid.to_owned());
        }
    }
    running.wait().await?;
    let (Some(start_time), Some(end_time)) = (first, last) else {
        return Err(Error::unexpected("mariadb-binlog", format!("{} has no events", path.display())));
    };
    let next = next_binlog_name(name).ok_or_else(|| {
        Error::unexpected("mariadb-binlog", format!("`{name}` is not a binlog name (no numeric extension)"))
    })?;
    let start_gtid = start_gtid.filter(|g| !g.is_empty());
    let end_gtid = last_gtid.or_else(|| start_gtid.clone());
    Ok(LogFile {
        name: name.to_owned(),
        path: path.to_path_buf(),
        start_position: Position::mariadb(name, 4, start_gtid).map_err(|e| Error::unexpected("mariadb-binlog", e))?,
        end_position: Position::mariadb(&next, 4, end_gtid).map_err(|e| Error::unexpected("mariadb-binlog", e))?,
        start_time,
        end_time,
        size,
    })
}

/// Parses an event header line `#261121 14:47:51 server id 1  end_log_pos 256 ...`.
fn parse_event_header(line: &str) -> Option<(DateTime<Utc>, &str)> {
    let rest = line.strip_prefix('#')?;
    let (date, rest) = rest.split_once(' ')?;
    if date.len() != 6 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let time = rest.get(..8)?;
    let rest = rest.get(8..)?;
    if !rest.trim_start().starts_with("server id") {
        return None;
    }
    let stamp = NaiveDateTime::parse_from_str(&format!("20{date} {time}"), "%Y%m%d %H:%M:%S").ok()?;
    Some((stamp.and_utc(), rest))
}

/// `mysql-bin.000041` → `mysql-bin.000042`, keeping the width.
fn next_binlog_name(name: &str) -> Option<String> {
    let (base, ext) = name.rsplit_once('.')?;
    let n: u64 = ext.parse().ok()?;
    Some(format!("{base}.{:0width$}", n + 1, width = ext.len()))
}

/// A new MariaDB data directory restored from a plan: physical backups are extracted, prepared
/// and moved into place, a dump is loaded into a freshly initialised server, and the plan's
/// binlogs are replayed by a private server (no network, no binlog of its own) that is shut down
/// cleanly at the end. The directory is then ready for `mariadbd --datadir=…`.
#[derive(Clone, Debug)]
pub struct MariadbTarget {
    tools: MariadbTools,
    data_dir: PathBuf,
    buffer_pool: String,
}

impl MariadbTarget {
    /// Restores into `data_dir`, which must be empty or absent.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { tools: MariadbTools::from_env(), data_dir: data_dir.into(), buffer_pool: "128M".into() }
    }

    /// Uses these tools.
    #[must_use]
    pub fn tools(mut self, tools: MariadbTools) -> Self {
        self.tools = tools;
        self
    }

    /// The InnoDB buffer pool of the private server that replays logs (default `128M`).
    #[must_use]
    pub fn buffer_pool(mut self, size: impl Into<String>) -> Self {
        self.buffer_pool = size.into();
        self
    }

    async fn apply(
        &self,
        plan: &RestorePlan,
        artifacts: &dyn ArtifactSource,
        report: &mut RestoreReport,
    ) -> Result<()> {
        let work = work_dir_near(&self.data_dir)?;
        let sockets = socket_dir()?;
        let data_dir = absolute(&self.data_dir)?;
        let cnf = work.path().join("restore.cnf");
        write_restore_cnf(&cnf, &data_dir, sockets.path(), work.path(), &self.buffer_pool)?;
        let defaults = format!("--defaults-file={}", cnf.display());
        let tool = |name: &str| self.tools.tool(name).arg(&defaults);

        if plan.base.kind == BackupKind::Dump {
            std::fs::create_dir_all(&data_dir).map_err(|e| Error::io(format!("creating {}", data_dir.display()), e))?;
            timed(report, "initialise a new server", async {
                let mut init = tool("mariadb-install-db").arg("--skip-test-db");
                if OsUser::running_as_root() {
                    init = init.arg("--auth-root-authentication-method=socket");
                }
                init.run().await.map(drop)
            })
            .await?;
            let mut server =
                timed(report, "start the server", start_server(&self.tools, &cnf, &work.path().join("m.err"))).await?;
            let load = timed(report, "load the dump", feed(tool("mariadb"), artifacts, &plan.base, DUMP_ENTRY)).await;
            let result = match load {
                Ok(n) => {
                    report.bytes_read += n;
                    self.replay(plan, artifacts, &tool, work.path(), report).await
                }
                Err(e) => Err(e),
            };
            let stopped = stop_server(&self.tools, &cnf, &mut server).await;
            result?;
            return stopped;
        }

        // Physical: extract every backup, prepare the full, apply each incremental in order.
        let mut dirs = Vec::new();
        for (n, backup) in plan.backups().enumerate() {
            let dir = work.path().join(format!("b{n}"));
            std::fs::create_dir(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            let what = if n == 0 { "extract the full backup".to_owned() } else { format!("extract incremental {n}") };
            let mbstream = self.tools.tool("mbstream").arg("-x").arg("-C").arg(&dir);
            let bytes = timed(report, &what, feed(mbstream, artifacts, backup, XBSTREAM_ENTRY)).await?;
            report.bytes_read += bytes;
            dirs.push(dir);
        }
        let base = dirs[0].clone();
        let prepare = |extra: Option<&Path>| {
            let mut t = tool("mariadb-backup").arg("--prepare").arg(format!("--target-dir={}", base.display()));
            if let Some(inc) = extra {
                t = t.arg(format!("--incremental-dir={}", inc.display()));
            }
            t.run()
        };
        timed(report, "prepare the full backup", async { prepare(None).await.map(drop) }).await?;
        for (n, inc) in dirs.iter().enumerate().skip(1) {
            timed(report, &format!("apply incremental {n}"), async { prepare(Some(inc)).await.map(drop) }).await?;
            std::fs::remove_dir_all(inc).map_err(|e| Error::io(format!("removing {}", inc.display()), e))?;
        }
        std::fs::create_dir_all(&data_dir).map_err(|e| Error::io(format!("creating {}", data_dir.display()), e))?;
        timed(report, "move the files into the data directory", async {
            tool("mariadb-backup")
                .arg("--move-back")
                .arg(format!("--target-dir={}", base.display()))
                .run()
                .await
                .map(drop)
        })
        .await?;
        if plan.segments.is_empty() {
            return Ok(());
        }
        let mut server =
            timed(report, "start the server", start_server(&self.tools, &cnf, &work.path().join("m.err"))).await?;
        let result = self.replay(plan, artifacts, &tool, work.path(), report).await;
        let stopped = stop_server(&self.tools, &cnf, &mut server).await;
        result?;
        stopped
    }

    /// Replays the plan's binlogs into the running server in one `mariadb-binlog` run.
    async fn replay(
        &self,
        plan: &RestorePlan,
        artifacts: &dyn ArtifactSource,
        tool: &impl Fn(&str) -> Tool,
        work: &Path,
        report: &mut RestoreReport,
    ) -> Result<()> {
        let Some(from) = &plan.replay_from else { return Ok(()) };
        let NativePosition::Mariadb { file: first_file, offset: start, .. } = &from.native else {
            return Err(Error::Restore(format!("replay position {from} is not a binlog position")));
        };
        if plan.segments.first().is_none_or(|s| &s.name != first_file) {
            return Err(Error::Restore(format!("the plan's first binlog is not {first_file}, where replay starts")));
        }
        let spool = work.join("binlogs");
        std::fs::create_dir_all(&spool).map_err(|e| Error::io(format!("creating {}", spool.display()), e))?;
        let mut files = Vec::new();
        let started = Instant::now();
        for segment in &plan.segments {
            let record = log_record(segment);
            let path = spool.join(&segment.name);
            report.bytes_read += fetch_to_file(artifacts, &record, &segment.name, &path).await?;
            files.push(path);
        }
        report.step(format!("fetch {} binlogs", files.len()), started);
        let mut binlog =
            self.tools.tool("mariadb-binlog").arg("--no-defaults").arg(format!("--start-position={start}"));
        match &plan.stop {
            Stop::Time { at, inclusive } => {
                // Event times have whole seconds and `--stop-datetime` stops at the first event at
                // or after it: inclusive means every event of the target's second.
                let second = at.duration_trunc(ChronoDuration::seconds(1)).unwrap_or(*at);
                let stop = if *inclusive { second + ChronoDuration::seconds(1) } else { second };
                binlog = binlog.arg(format!("--stop-datetime={}", stop.format("%Y-%m-%d %H:%M:%S")));
            }
            Stop::Position { at, .. } => {
                // Replay stops before the event at `at`; the end of the last file needs no stop.
                if let NativePosition::Mariadb { file, offset, .. } = &at.native
                    && plan.segments.last().is_some_and(|s| &s.name == file)
                {
                    binlog = binlog.arg(format!("--stop-position={offset}"));
                }
            }
            Stop::EndOfBackup => return Ok(()),
        }
        let started = Instant::now();
        let mut producer = binlog.args(&files).spawn()?;
        let mut consumer = tool("mariadb").stdin_piped().stdout_null().spawn()?;
        let mut stdout = producer.take_stdout();
        let mut stdin = consumer.take_stdin();
        let copied = tokio::io::copy(&mut stdout, &mut stdin).await;
        drop(stdin);
        let (binlog_exit, client_exit) = tokio::join!(producer.wait(), consumer.wait());
        client_exit?;
        binlog_exit?;
        copied.map_err(|e| Error::io("piping mariadb-binlog into mariadb", e))?;
        report.step("replay binlogs", started);
        report.stopped = Some(format!("replayed {} binlogs from {from}, stopping {}", files.len(), plan.stop));
        Ok(())
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io(format!("resolving {}", path.display()), e))
}

fn write_restore_cnf(cnf: &Path, data_dir: &Path, sockets: &Path, work: &Path, buffer_pool: &str) -> Result<()> {
    let socket = sockets.join("m.sock");
    let mut text = String::new();
    let root = OsUser::running_as_root();
    let _ = writeln!(text, "[client]\nsocket={}", socket.display());
    if root {
        text.push_str("user=root\n");
    }
    let _ = writeln!(text, "[mysqld]\ndatadir={}\nsocket={}", data_dir.display(), socket.display());
    if root {
        text.push_str("user=root\n");
    }
    let _ = writeln!(
        text,
        "pid-file={}\nlog-error={}\nskip-networking\nskip-log-bin\nserver-id=2\ninnodb-buffer-pool-size={buffer_pool}",
        work.join("m.pid").display(),
        work.join("m.err").display()
    );
    std::fs::write(cnf, text).map_err(|e| Error::io(format!("writing {}", cnf.display()), e))
}

/// Starts `mariadbd` with `cnf` as a child and waits until it answers (or exits: then its error
/// log, `error_log`, says why).
pub(crate) async fn start_server(tools: &MariadbTools, cnf: &Path, error_log: &Path) -> Result<Running> {
    let mut server =
        Tool::new(&tools.mariadbd).arg(format!("--defaults-file={}", cnf.display())).stdout_null().spawn()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ping = tools.tool("mariadb-admin").arg(format!("--defaults-file={}", cnf.display())).arg("ping").run();
        if ping.await.is_ok() {
            return Ok(server);
        }
        if Instant::now() > deadline {
            server.kill().await;
            return Err(Error::Restore(format!(
                "the MariaDB server did not answer within 120 s: {}",
                tail_of(error_log, 6)
            )));
        }
        // Waiting on the server doubles as the pause between pings.
        if tokio::time::timeout(Duration::from_millis(100), server.wait()).await.is_ok() {
            return Err(Error::Restore(format!(
                "the MariaDB server stopped while starting: {}",
                tail_of(error_log, 6)
            )));
        }
    }
}

/// Shuts the server down cleanly and waits for it.
pub(crate) async fn stop_server(tools: &MariadbTools, cnf: &Path, server: &mut Running) -> Result<()> {
    let shutdown = tools.tool("mariadb-admin").arg(format!("--defaults-file={}", cnf.display())).arg("shutdown").run();
    if let Err(e) = shutdown.await {
        server.kill().await;
        return Err(e);
    }
    server.wait().await.map(drop)
}

#[async_trait]
impl RestoreTarget for MariadbTarget {
    fn engine(&self) -> Engine {
        Engine::Mariadb
    }

    fn check(&self, plan: &RestorePlan) -> Result<()> {
        for backup in plan.backups() {
            check_engine(Engine::Mariadb, backup)?;
        }
        match plan.base.kind {
            BackupKind::Full => {}
            BackupKind::Dump if plan.incrementals.is_empty() => {}
            kind => return Err(Error::Restore(format!("cannot restore from a {kind} base"))),
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

    #[test]
    fn reads_binlog_pos() {
        let p =
            parse_binlog_pos("filename 'mysql-bin.000001', position '870', GTID of the last change '0-1-3'").unwrap();
        assert_eq!(p, Position::mariadb("mysql-bin.000001", 870, None).unwrap());
        assert_eq!(
            p.native,
            NativePosition::Mariadb { file: "mysql-bin.000001".into(), offset: 870, gtid: Some("0-1-3".into()) }
        );
        let p = parse_binlog_pos("filename 'b.000002', position '4', GTID of the last change ''").unwrap();
        assert_eq!(p.native, NativePosition::Mariadb { file: "b.000002".into(), offset: 4, gtid: None });
        assert!(parse_binlog_pos("filename 'b', position 'x'").is_none());
    }

    #[test]
    fn reads_dump_position() {
        let line = "-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=6705561;";
        let p = parse_dump_position(line, Some("0-1-14".into())).unwrap();
        assert_eq!((p.major, p.minor), (1, 6_705_561));
        assert!(parse_dump_position("-- CHANGE MASTER TO MASTER_LOG_FILE='x', MASTER_LOG_POS=;", None).is_none());
    }

    #[test]
    fn reads_event_headers() {
        let (t, rest) =
            parse_event_header("#261121 14:47:53 server id 1  end_log_pos 912 CRC32 0xe9b55f5d \tGTID 0-1-4 trans")
                .unwrap();
        assert_eq!(t, parse_utc("2026-11-21 14:47:53").unwrap());
        assert!(rest.contains("\tGTID 0-1-4"));
        assert!(parse_event_header("# at 4").is_none());
        assert!(parse_event_header("#Q> insert").is_none());
        assert_eq!(next_binlog_name("mysql-bin.000009").as_deref(), Some("mysql-bin.000010"));
        assert_eq!(next_binlog_name("b.999").as_deref(), Some("b.1000"));
        assert!(next_binlog_name("nobinlog").is_none());
    }
}
