//! The command line, as clap parses it. Nothing here does any work.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tern_engine::BackupId;

/// Back up database dumps (or any byte stream) into a deduplicated, encrypted repository.
///
/// The key comes from the environment variable TERN_PASSWORD (a passphrase) or from
/// --key-file. A repository is a local path, file:///…, s3://bucket/prefix, gs://bucket/prefix
/// or az://container/prefix, with options as query parameters (?region=…&endpoint=…); cloud
/// credentials come from the environment (AWS_*, GOOGLE_*, AZURE_*).
#[derive(Debug, Parser)]
#[command(name = "tern", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Machine output: one JSON document on stdout (errors as {"error": "..."}).
    #[arg(long, global = true)]
    pub json: bool,

    /// Unlock the repository with this key file instead of the passphrase in TERN_PASSWORD.
    #[arg(long, global = true, value_name = "FILE", env = "TERN_KEY_FILE")]
    pub key_file: Option<PathBuf>,

    /// No progress bar, and only the essential output.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a repository (encrypted with TERN_PASSWORD or --key-file unless --no-encryption).
    Init(InitArgs),
    /// Back up standard input or files and directories.
    Backup(BackupArgs),
    /// Restore a backup to standard output or into a directory.
    Restore(RestoreArgs),
    /// List backups.
    Ls(LsArgs),
    /// Check that backups are intact (exit code 1 when a problem is found).
    Verify(VerifyArgs),
    /// Delete objects no backup references (a dry run unless --apply).
    Gc(GcArgs),
    /// Manage the keys that unlock a repository.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Delete a backup (refused while a kept incremental depends on it, unless --force).
    Rm(RmArgs),
    /// Archive log segments (binlog files, WAL segments) for point-in-time recovery.
    #[command(subcommand)]
    Log(LogCommand),
    /// Point-in-time recovery: plans and recovery windows.
    #[command(subcommand)]
    Pitr(PitrCommand),
    /// Copy to a repository in another region what it lacks (one pass, or --watch to keep
    /// copying; data before records).
    Replicate(ReplicateArgs),
    /// Replication lag of a service, from the samples stored in a secondary repository.
    Lag(LagArgs),
    /// Copy one backup, with the parents and (--with-logs) log segments it needs, to another
    /// repository: a new location, another region, or a bucket with its own key.
    Copy(CopyArgs),
    /// A service's replication settings: show, enable, pause, resume, disable.
    #[command(subcommand)]
    Replication(ReplicationCommand),
    /// MariaDB and PostgreSQL: backups, binlog archiving and point-in-time restores, done by the
    /// databases' own tools.
    #[command(subcommand)]
    Db(DbCommand),
    /// PostgreSQL's archive_command: archive one WAL file (the same file again is fine; other
    /// bytes under an archived name are refused).
    WalPush(WalPushArgs),
    /// PostgreSQL's restore_command: fetch one archived WAL file (exit 1 when it is not archived).
    WalFetch(WalFetchArgs),
    /// Run the scheduler and the HTTP API from a configuration file (tern.toml).
    Serve(ServeArgs),
    /// Check a configuration file, or hash an API token for it.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE", default_value = "tern.toml")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file (syntax, regions, services, schedules, tokens); with --open,
    /// also open every region's repository.
    Check(ConfigCheckArgs),
    /// Read an API token on standard input and print the hash to put in `[[tokens]] blake3`.
    HashToken,
}

#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE", default_value = "tern.toml")]
    pub config: PathBuf,
    /// Also open the repositories (needs the key and network access).
    #[arg(long)]
    pub open: bool,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Back up a database: a full or incremental physical backup, or a logical dump.
    Backup(DbBackupArgs),
    /// MariaDB: archive the closed binlogs the repository does not have yet.
    ArchiveLogs(DbArchiveArgs),
    /// Restore a service to a point in time (or its latest point, or one backup) into a new data
    /// directory.
    Restore(DbRestoreArgs),
}

/// The database engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    /// MariaDB (mariadb-backup, mariadb-dump, binlogs).
    Mariadb,
    /// PostgreSQL (pg_basebackup, pg_dump, WAL through wal-push).
    Postgres,
}

/// What a database backup is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DbKind {
    /// A full physical backup.
    Full,
    /// A physical backup of what changed since the last full or incremental (MariaDB).
    Incremental,
    /// A logical dump.
    Dump,
}

#[derive(Debug, Args)]
pub struct DbBackupArgs {
    /// The repository.
    pub repo: String,
    /// The service (database) the backup belongs to.
    #[arg(long, value_name = "NAME")]
    pub service: String,
    /// The database engine.
    #[arg(long, value_enum)]
    pub engine: EngineArg,
    /// What to take.
    #[arg(long, value_enum, default_value = "full")]
    pub kind: DbKind,
    /// How to connect: MariaDB, an option file (passed as --defaults-file, so the password stays
    /// in the file); PostgreSQL, a connection string (`host=/run/postgresql user=backup
    /// dbname=app`; passwords in ~/.pgpass or PGPASSWORD).
    #[arg(long, value_name = "CONN")]
    pub connect: String,
    /// MariaDB dumps: only these databases (repeat the option; all when absent).
    #[arg(long = "database", value_name = "DB")]
    pub databases: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DbArchiveArgs {
    /// The repository.
    pub repo: String,
    /// The service.
    #[arg(long, value_name = "NAME")]
    pub service: String,
    /// The MariaDB option file to connect with (see `tern db backup --help`).
    #[arg(long, value_name = "FILE")]
    pub connect: PathBuf,
    /// Close the current binlog first (FLUSH BINARY LOGS), so that recent changes are archived.
    #[arg(long)]
    pub rotate: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["time", "position", "latest", "backup"])))]
pub struct DbRestoreArgs {
    /// The repository (a secondary region's restores only what has been replicated there).
    pub repo: String,
    /// The service.
    #[arg(long, value_name = "NAME")]
    pub service: String,
    /// Restore to this time (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub time: Option<chrono::DateTime<chrono::Utc>>,
    /// Restore to just before this log position.
    #[arg(long, value_name = "POS", value_parser = parse_position)]
    pub position: Option<tern_catalog::Position>,
    /// Restore to the latest recoverable point.
    #[arg(long)]
    pub latest: bool,
    /// Restore exactly this backup (no log replay).
    #[arg(long, value_name = "ID")]
    pub backup: Option<BackupId>,
    /// The new data directory (empty or absent; its parent must be on the same file system as
    /// the work files, and reachable by the server's OS user).
    #[arg(long, value_name = "DIR")]
    pub target_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct WalPushArgs {
    /// The repository.
    pub repo: String,
    /// The service.
    #[arg(long, value_name = "NAME")]
    pub service: String,
    /// The WAL file (`%p` in archive_command).
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct WalFetchArgs {
    /// The repository.
    pub repo: String,
    /// The service.
    #[arg(long, value_name = "NAME")]
    pub service: String,
    /// The WAL file's name (`%f` in restore_command).
    pub name: String,
    /// Where to write it (`%p` in restore_command).
    pub dest: PathBuf,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The repository to copy from.
    pub from: String,
    /// The repository to copy to: empty (it becomes a clone sharing the source's keys) or an
    /// existing repository (with other keys, give them with --to-key-file or TERN_TO_PASSWORD).
    pub to: String,
    /// The backup.
    pub backup: BackupId,
    /// Also copy the log segments from the backup up to the service's next backup.
    #[arg(long)]
    pub with_logs: bool,
    /// Unlock the destination with this key file (else TERN_TO_PASSWORD).
    #[arg(long, value_name = "FILE", env = "TERN_TO_KEY_FILE")]
    pub to_key_file: Option<PathBuf>,
    /// Average upload rate limit, bytes per second (suffixes k, M, G, Ki, Mi, Gi: `20Mi`).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub bandwidth_limit: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum ReplicationCommand {
    /// Show a service's replication settings.
    Show(ReplicationServiceArgs),
    /// Enable replication of a service (no downtime: the next pass copies what is missing).
    Enable(ReplicationEnableArgs),
    /// Pause replication of a service, with a reason every pass reports.
    Pause(ReplicationPauseArgs),
    /// Resume a paused service.
    Resume(ReplicationServiceArgs),
    /// Disable replication of a service; what was copied stays.
    Disable(ReplicationServiceArgs),
}

#[derive(Debug, Args)]
pub struct ReplicationServiceArgs {
    /// The primary repository.
    pub repo: String,
    /// The service.
    #[arg(long, value_name = "NAME")]
    pub service: String,
}

#[derive(Debug, Args)]
pub struct ReplicationEnableArgs {
    #[command(flatten)]
    pub target: ReplicationServiceArgs,
    /// A secondary region or location, for the record (repeatable; credentials are never stored).
    #[arg(long = "secondary", value_name = "LOCATION")]
    pub secondaries: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReplicationPauseArgs {
    #[command(flatten)]
    pub target: ReplicationServiceArgs,
    /// Why (shown by every pass while paused).
    #[arg(long)]
    pub reason: String,
}

/// A rate in bytes per second: `1000000`, `500k`, `20M`, `1G`, `64Ki`, `20Mi`, `1Gi`.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim().trim_end_matches("/s").trim_end_matches(['B', 'b']);
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: f64 = match unit {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("`{s}` is not a rate (examples: 500k, 20M, 20Mi)")),
    };
    match number.parse::<f64>() {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked positive, rounded
        Ok(n) if n > 0.0 && (n * factor).is_finite() && n * factor >= 1.0 => Ok((n * factor).round() as u64),
        _ => Err(format!("`{s}` is not a rate (examples: 500k, 20M, 20Mi)")),
    }
}

#[derive(Debug, Args)]
pub struct LagArgs {
    /// The secondary repository.
    pub repo: String,
    /// The service.
    #[arg(long, value_name = "NAME")]
    pub service: String,
    /// hour, day, week, month or year.
    #[arg(long, default_value = "day")]
    pub period: tern_replicator::lag::Period,
}

#[derive(Debug, Args)]
pub struct ReplicateArgs {
    /// The primary repository.
    pub primary: String,
    /// The secondary repository (empty, or an earlier replica of the primary).
    pub secondary: String,
    /// Only this service (and record a lag sample for it in the secondary).
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Keep running: a pass every --interval, backing off while passes fail (stop with Ctrl-C).
    #[arg(long)]
    pub watch: bool,
    /// Time between passes with --watch.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration, requires = "watch")]
    pub interval: Duration,
    /// The longest back-off after failed passes with --watch.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = humantime::parse_duration, requires = "watch")]
    pub max_backoff: Duration,
    /// Average upload rate limit, bytes per second (suffixes k, M, G, Ki, Mi, Gi: `20Mi`).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub bandwidth_limit: Option<u64>,
    /// Packs copied at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The repository.
    pub repo: String,
    /// The backup.
    pub backup: BackupId,
    /// Its service.
    #[arg(long, value_name = "NAME")]
    pub service: String,
    /// Delete even if kept incrementals depend on it (they become unrestorable).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Archive one closed log segment.
    Push(LogPushArgs),
}

#[derive(Debug, Args)]
pub struct LogPushArgs {
    /// The repository.
    pub repo: String,
    /// The service.
    #[arg(long, value_name = "NAME")]
    pub service: String,
    /// The segment's native name (e.g. mysql-bin.000042).
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Position of its first event (`mariadb:FILE:OFFSET[:GTID]`, `postgres:TL:X/Y`, or `MAJOR:MINOR`).
    #[arg(long, value_name = "POS", value_parser = parse_position)]
    pub start_pos: tern_catalog::Position,
    /// Position just past its last event.
    #[arg(long, value_name = "POS", value_parser = parse_position)]
    pub end_pos: tern_catalog::Position,
    /// Time of its first event (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub start_time: chrono::DateTime<chrono::Utc>,
    /// Time of its last event (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub end_time: chrono::DateTime<chrono::Utc>,
    /// The segment file.
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum PitrCommand {
    /// Plan a restore to a point: base backup, incrementals, log segments, where replay stops.
    Plan(PitrPlanArgs),
    /// The intervals a service can be restored to.
    Windows(PitrWindowsArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["time", "position", "latest", "backup"])))]
pub struct PitrPlanArgs {
    /// The repository.
    pub repo: String,
    /// The service.
    #[arg(long, value_name = "NAME")]
    pub service: String,
    /// Restore to this time (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub time: Option<chrono::DateTime<chrono::Utc>>,
    /// Restore to this log position.
    #[arg(long, value_name = "POS", value_parser = parse_position)]
    pub position: Option<tern_catalog::Position>,
    /// Restore to the latest recoverable point.
    #[arg(long)]
    pub latest: bool,
    /// Restore exactly this backup.
    #[arg(long, value_name = "ID")]
    pub backup: Option<BackupId>,
}

#[derive(Debug, Args)]
pub struct PitrWindowsArgs {
    /// The repository.
    pub repo: String,
    /// The service.
    #[arg(long, value_name = "NAME")]
    pub service: String,
}

/// Parses a position.
pub fn parse_position(s: &str) -> Result<tern_catalog::Position, String> {
    tern_catalog::Position::parse(s)
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the repository.
    pub repo: String,

    /// Store data compressed but NOT encrypted: readable by anyone who can read the storage.
    #[arg(long)]
    pub no_encryption: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The repository.
    pub repo: String,

    /// The service (database) the backup belongs to.
    #[arg(long, value_name = "NAME")]
    pub service: String,

    /// Back up standard input as one entry named by --name.
    #[arg(long, requires = "name", conflicts_with = "paths")]
    pub stdin: bool,

    /// The entry name for --stdin, e.g. dump.sql.
    #[arg(long, requires = "stdin")]
    pub name: Option<String>,

    /// Files (each one entry, named by its file name) and directories (every file under them,
    /// named by its path relative to the directory).
    #[arg(value_name = "PATH", required_unless_present = "stdin")]
    pub paths: Vec<PathBuf>,

    /// The backup this one is based on: chunks it already stored are not stored again.
    #[arg(long, value_name = "BACKUP")]
    pub parent: Option<BackupId>,

    /// zstd compression level.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=22))]
    pub level: Option<i32>,

    /// A label stored with the backup (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,

    /// What the backup is: full, incremental (needs --parent) or dump.
    #[arg(long, default_value = "full", value_parser = parse_kind)]
    pub kind: tern_catalog::BackupKind,

    /// The time the backed-up data is consistent at (RFC 3339, UTC), for point-in-time recovery.
    #[arg(long, value_name = "TIME")]
    pub consistent_time: Option<chrono::DateTime<chrono::Utc>>,

    /// The log position the data is consistent at (needs --consistent-time).
    #[arg(long, value_name = "POS", value_parser = parse_position, requires = "consistent_time")]
    pub position: Option<tern_catalog::Position>,
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("expected KEY=VALUE".to_owned()),
    }
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The repository.
    pub repo: String,

    /// The backup to restore.
    pub backup: BackupId,

    /// Restore only this entry.
    #[arg(long, value_name = "NAME")]
    pub entry: Option<String>,

    #[command(flatten)]
    pub to: RestoreTo,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RestoreTo {
    /// Write the entry to standard output (the backup's only entry, or the one chosen with
    /// --entry). Messages, and the --json document, then go to standard error.
    #[arg(long)]
    pub stdout: bool,

    /// Write every entry (or the one chosen with --entry) as a file under this directory.
    #[arg(long, value_name = "DIR")]
    pub target: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The repository.
    pub repo: String,

    /// Only this service's backups.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,

    /// Only this kind (full, incremental, dump, log).
    #[arg(long, value_parser = parse_kind)]
    pub kind: Option<tern_catalog::BackupKind>,

    /// Only this state (scheduled, running, succeeded, failed).
    #[arg(long, value_parser = ["scheduled", "running", "succeeded", "failed"])]
    pub status: Option<String>,

    /// Only backups started at or after this time (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub from: Option<chrono::DateTime<chrono::Utc>>,

    /// Only backups started before this time (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub to: Option<chrono::DateTime<chrono::Utc>>,

    /// Page number (from 1).
    #[arg(long, default_value_t = 1)]
    pub page: u32,

    /// Backups per page (1-1000).
    #[arg(long, default_value_t = 50)]
    pub page_size: u32,
}

/// Parses a backup kind.
pub fn parse_kind(s: &str) -> Result<tern_catalog::BackupKind, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("`{s}` is not a kind (full, incremental, dump, log)"))
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The repository.
    pub repo: String,

    /// The backups to check (default: all).
    #[arg(value_name = "BACKUP")]
    pub backups: Vec<BackupId>,

    /// Decrypt and check every chunk and every entry's hash (needs the key). The default,
    /// quick check needs no key: packs exist, have the right size and content hash, and every
    /// blob's CRC32 matches.
    #[arg(long, conflicts_with = "sample")]
    pub deep: bool,

    /// Decrypt and check this percentage (0-100) of each backup's chunks (needs the key).
    #[arg(long, value_name = "PCT")]
    pub sample: Option<f64>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// The repository.
    pub repo: String,

    /// Delete the garbage (without it, only report what would be deleted).
    #[arg(long)]
    pub apply: bool,

    /// Keep unreferenced objects younger than this (e.g. 24h, 7d, 30m; default 24h), so backups
    /// still being written are never touched.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub grace: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Add a key: a new key file (--new-key-file, created if missing) or the passphrase in
    /// TERN_NEW_PASSWORD. The current key (TERN_PASSWORD or --key-file) authorises it.
    Add(KeyAddArgs),
    /// List the key slots.
    List(KeyListArgs),
    /// Remove a key slot (never the last one). The current key authorises it.
    Remove(KeyRemoveArgs),
}

#[derive(Debug, Args)]
pub struct KeyAddArgs {
    /// The repository.
    pub repo: String,

    /// The new key file (32 random bytes are written to it if it does not exist).
    #[arg(long, value_name = "FILE")]
    pub new_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeyListArgs {
    /// The repository.
    pub repo: String,
}

#[derive(Debug, Args)]
pub struct KeyRemoveArgs {
    /// The repository.
    pub repo: String,

    /// The slot to remove (see `tern key list`).
    pub slot: String,
}
