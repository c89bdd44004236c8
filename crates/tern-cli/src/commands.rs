//! One function per command: open the repository, call the engine, format what it returns.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tern_engine::{
    BackupOptions, BackupRecord, BackupSummary, BackupWriter, Cipher, GcOptions, InitOptions, KdfParams, Repository,
    UserKey, VerifyMode,
};
use tern_storage::Location;
use tern_storage::object_store::ObjectStore;

use crate::args::{
    BackupArgs, CopyArgs, GcArgs, InitArgs, KeyAddArgs, KeyCommand, KeyListArgs, KeyRemoveArgs, LagArgs, LogPushArgs,
    LsArgs, PitrPlanArgs, PitrWindowsArgs, ReplicateArgs, ReplicationCommand, RestoreArgs, RmArgs, VerifyArgs,
};
use crate::output::{Failure, Output, bytes, count, duration, mb_per_s, table};
use crate::progress::{Bar, sink};

/// The passphrase that unlocks (or, for `init`, will unlock) the repository.
pub const PASSWORD_VAR: &str = "TERN_PASSWORD";
/// The passphrase `key add` adds.
pub const NEW_PASSWORD_VAR: &str = "TERN_NEW_PASSWORD";
/// The passphrase that unlocks the destination of `copy` (when it has other keys).
pub const TO_PASSWORD_VAR: &str = "TERN_TO_PASSWORD";
/// `1` makes new passphrase slots use `KdfParams::insecure_fast()`: for tests only.
pub const INSECURE_FAST_KDF_VAR: &str = "TERN_INSECURE_FAST_KDF";

pub(crate) const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// What every command needs: where output goes, and how to find the key.
pub struct Ctx {
    pub out: Output,
    pub key_file: Option<PathBuf>,
}

type Result<T = ()> = std::result::Result<T, Failure>;

impl Ctx {
    /// A progress bar on stderr: only on a terminal, and not with --json or --quiet.
    fn wants_progress(&self) -> bool {
        !self.out.json && !self.out.quiet && Bar::wanted()
    }

    fn progress_bar(&self, title: &str, total: Option<u64>, storage_verb: &'static str) -> Option<Arc<Bar>> {
        self.wants_progress().then(|| Bar::new(title, total, storage_verb))
    }

    /// The key given: --key-file, else TERN_PASSWORD, else none.
    fn key(&self) -> Result<Option<UserKey>> {
        match &self.key_file {
            Some(path) => read_key_file(path).map(Some),
            None => passphrase_from_env(PASSWORD_VAR),
        }
    }

    /// Opens the repository, unlocked when a key is given. Without one, an encrypted
    /// repository still lists, quick-verifies and collects garbage; the engine says when an
    /// operation needs the key.
    pub(crate) async fn open(&self, repo: &str) -> Result<Repository> {
        let store = open_store(repo, false)?.1;
        let key = self.key()?;
        Ok(Repository::open(store, key.as_ref()).await?)
    }

    /// The current key, for key changes.
    fn current_key(&self, what: &str) -> Result<UserKey> {
        self.key()?
            .ok_or_else(|| Failure::usage(format!("{what} needs a current key: set {PASSWORD_VAR} or give --key-file")))
    }
}

/// Opens a repository's store; only `init` (`create`) may create a local directory.
fn open_store(repo: &str, create: bool) -> Result<(Location, Arc<dyn ObjectStore>)> {
    // Parsed here rather than by clap, whose message would echo the raw argument; ours is
    // sanitized by tern-storage.
    let location = Location::parse(repo).map_err(|e| Failure::usage(e.to_string()))?;
    let store = if create { location.open()? } else { location.open_existing()? };
    Ok((location, store))
}

fn passphrase_from_env(var: &str) -> Result<Option<UserKey>> {
    match std::env::var(var) {
        Ok(p) if p.is_empty() => Err(Failure::usage(format!("{var} is set but empty"))),
        Ok(p) => Ok(Some(UserKey::passphrase(p))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::usage(format!("{var} is not valid UTF-8"))),
    }
}

fn read_key_file(path: &Path) -> Result<UserKey> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::new(format!("cannot read key file {}: {e}", path.display())))?;
    Ok(UserKey::key_file(bytes)?)
}

/// The key file at `path`; if there is none, a new one of 32 random bytes (mode 0600).
/// Returns whether it was created.
fn key_file_or_new(path: &Path) -> Result<(UserKey, bool)> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            let mut key = vec![0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
            let written = file.write_all(&key).and_then(|()| file.sync_all());
            if let Err(e) = written {
                let _ = std::fs::remove_file(path);
                return Err(Failure::new(format!("cannot write key file {}: {e}", path.display())));
            }
            Ok((UserKey::key_file(key)?, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((read_key_file(path)?, false)),
        Err(e) => Err(Failure::new(format!("cannot create key file {}: {e}", path.display()))),
    }
}

/// Argon2id cost for new passphrase slots.
fn kdf() -> KdfParams {
    if std::env::var(INSECURE_FAST_KDF_VAR).is_ok_and(|v| v == "1") {
        KdfParams::insecure_fast()
    } else {
        KdfParams::default()
    }
}

fn key_file_note(created: Option<&Path>) -> String {
    created.map_or_else(String::new, |p| {
        format!(
            "wrote a new key file {}: keep a copy somewhere safe; without it (or another key) the backups cannot \
             be read\n",
            p.display()
        )
    })
}

pub async fn init(ctx: &Ctx, args: InitArgs) -> Result {
    let (location, store) = open_store(&args.repo, true)?;
    let mut created = None;
    let key = if args.no_encryption {
        if ctx.key_file.is_some() {
            return Err(Failure::usage("--no-encryption and --key-file (or TERN_KEY_FILE) contradict each other"));
        }
        None
    } else if let Some(path) = &ctx.key_file {
        let (key, new) = key_file_or_new(path)?;
        created = new.then(|| path.clone());
        Some(key)
    } else {
        Some(passphrase_from_env(PASSWORD_VAR)?.ok_or_else(|| {
            Failure::usage(format!(
                "an encrypted repository needs a key: set {PASSWORD_VAR} to a passphrase, give --key-file FILE \
                 (created if missing), or pass --no-encryption"
            ))
        })?)
    };
    let options = match key {
        Some(key) => InitOptions { kdf: kdf(), ..InitOptions::encrypted(key) },
        None => InitOptions::unencrypted(),
    };
    let repo = match Repository::init(store, options).await {
        Ok(repo) => repo,
        Err(e) => {
            if let Some(path) = &created {
                let _ = std::fs::remove_file(path);
            }
            return Err(e.into());
        }
    };
    let config = repo.config();
    let encrypted = config.cipher != Cipher::None;
    let slot = config.keys.first().map(|s| s.id.clone());
    let human = if ctx.out.quiet {
        format!("{}\n", config.repo_id)
    } else {
        let kind = if encrypted { "an encrypted" } else { "an UNENCRYPTED" };
        format!(
            "created {kind} repository at {location}\nrepository id: {}\n{}",
            config.repo_id,
            key_file_note(created.as_deref())
        )
    };
    let doc = json!({
        "repo_id": config.repo_id,
        "location": location.to_string(),
        "encrypted": encrypted,
        "key_slot": slot,
        "key_file_created": created.as_ref().map(|p| p.display().to_string()),
    });
    ctx.out.result(&doc, &human);
    Ok(())
}

pub async fn backup(ctx: &Ctx, args: BackupArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    let bar = ctx.progress_bar("backup", None, "stored");
    let mut builder = repo.backup(&args.service).progress(sink(bar.as_ref()));
    if let Some(parent) = args.parent {
        builder = builder.parent(parent);
    }
    if let Some(level) = args.level {
        builder = builder.options(BackupOptions { level, ..BackupOptions::default() });
    }
    for (key, value) in args.labels {
        builder = builder.label(key, value);
    }
    builder = builder.kind(args.kind);
    if let Some(time) = args.consistent_time {
        builder = builder.consistent(tern_catalog::ConsistentPoint { time, position: args.position });
    }
    let result = async {
        let mut writer = builder.start().await?;
        let added = async {
            match &args.name {
                Some(name) if args.stdin => writer.add_entry(name, tokio::io::stdin(), None).await?,
                _ => {
                    for path in &args.paths {
                        add_path(&mut writer, path).await?;
                    }
                }
            }
            Ok::<_, Failure>(())
        }
        .await;
        if let Err(e) = added {
            // The record says why the backup stopped.
            writer.abandon(&e.message).await;
            return Err(e);
        }
        Ok::<_, Failure>(writer.commit().await?)
    }
    .await;
    if let Some(bar) = &bar {
        bar.finish();
    }
    let record = result?;
    print_backup(ctx.out, &record);
    Ok(())
}

async fn add_path(writer: &mut BackupWriter, path: &Path) -> Result {
    let meta = tokio::fs::metadata(path).await.map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    if meta.is_dir() {
        writer.add_directory(path).await?;
    } else if meta.is_file() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Failure::usage(format!("{}: the file name is not UTF-8", path.display())))?;
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Failure::new(format!("cannot open {}: {e}", path.display())))?;
        writer.add_entry(name, file, file_mode(&meta)).await?;
    } else {
        return Err(Failure::usage(format!("{}: not a regular file or a directory", path.display())));
    }
    Ok(())
}

#[cfg(unix)]
#[allow(clippy::unnecessary_wraps)] // `None` elsewhere
fn file_mode(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn file_mode(_: &std::fs::Metadata) -> Option<u32> {
    None
}

fn elapsed(record: &BackupRecord) -> Duration {
    record.finished.map(|f| (f - record.started).to_std().unwrap_or_default()).unwrap_or_default()
}

fn print_backup(out: Output, summary: &BackupSummary) {
    let record = &summary.record;
    let took = elapsed(record);
    let s = &summary.stats;
    let rate = mb_per_s(s.logical_bytes, took);
    let human = if out.quiet {
        format!("{}\n", record.id)
    } else {
        format!(
            "backup {} of service {}: {}\n  logical  {}\n  stored   {} (new {})\n  chunks   {} ({} new, in {})\n  \
             took     {} ({rate:.1} MB/s)\n",
            record.id,
            record.service,
            count(s.entries, "entry").replace("entrys", "entries"),
            bytes(s.logical_bytes),
            bytes(s.stored_bytes),
            bytes(s.new_bytes),
            s.chunks,
            s.new_chunks,
            count(s.new_packs, "new pack"),
            duration(took),
        )
    };
    let doc = json!({ "backup": record, "stats": s, "duration_secs": took.as_secs_f64(), "mb_per_s": rate });
    out.result(&doc, &human);
}

pub async fn restore(ctx: &Ctx, args: RestoreArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    // The bar's total: the whole backup's size, when every entry is restored.
    let total = if ctx.wants_progress() && args.entry.is_none() {
        repo.record(&args.backup).await.ok().map(|r| r.sizes.logical_bytes)
    } else {
        None
    };
    let bar = ctx.progress_bar("restore", total, "fetched");
    let mut restore = repo.restore(&args.backup).progress(sink(bar.as_ref()));
    if let Some(entry) = &args.entry {
        restore = restore.entry(entry.clone());
    }
    let started = Instant::now();
    let result = match &args.to.target {
        Some(dir) => restore.to_directory(dir).await,
        None => restore.to_writer(tokio::io::stdout()).await,
    };
    if let Some(bar) = &bar {
        bar.finish();
    }
    let written = result?;
    let took = started.elapsed();
    let rate = mb_per_s(written, took);
    let into = args.to.target.as_ref().map_or_else(|| "standard output".to_owned(), |d| d.display().to_string());
    let human = if ctx.out.quiet {
        String::new()
    } else {
        format!(
            "restored {} from backup {} to {into} in {} ({rate:.1} MB/s)\n",
            bytes(written),
            args.backup,
            duration(took)
        )
    };
    let doc = json!({
        "backup": args.backup.to_string(),
        "entry": args.entry,
        "target": args.to.target.as_ref().map(|d| d.display().to_string()),
        "stdout": args.to.stdout,
        "bytes": written,
        "duration_secs": took.as_secs_f64(),
        "mb_per_s": rate,
    });
    ctx.out.result(&doc, &human);
    Ok(())
}

pub async fn ls(ctx: &Ctx, args: LsArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    let filter = tern_catalog::BackupFilter {
        service: args.service.clone(),
        kind: args.kind,
        status: args.status.clone(),
        from: args.from,
        to: args.to,
        region: None,
    };
    let paging = tern_catalog::Paging { page: args.page, page_size: args.page_size };
    let page = tern_catalog::CatalogExt::list_backups(&repo.catalog(), &filter, paging).await.map_err(|e| match e {
        tern_catalog::Error::InvalidArgument(m) => Failure::usage(m),
        e => Failure::from(tern_engine::Error::from(e)),
    })?;
    let human = if page.items.is_empty() {
        if ctx.out.quiet { String::new() } else { "no backups\n".to_owned() }
    } else {
        let rows: Vec<Vec<String>> = page
            .items
            .iter()
            .map(|r| {
                vec![
                    r.id.to_string(),
                    r.service.clone(),
                    r.kind.to_string(),
                    r.status.name().to_owned(),
                    r.started.format(TIME_FORMAT).to_string(),
                    bytes(r.sizes.logical_bytes),
                    bytes(r.sizes.stored_bytes),
                    bytes(r.sizes.new_bytes),
                ]
            })
            .collect();
        let mut out = table(&["ID", "SERVICE", "KIND", "STATUS", "STARTED (UTC)", "LOGICAL", "STORED", "NEW"], &rows);
        if page.pages > 1 {
            let _ = writeln!(out, "page {} of {} ({} backups)", page.page, page.pages, page.total);
        }
        out
    };
    ctx.out.result(
        &json!({ "backups": page.items, "backups_count": page.total, "page": page.page, "pages_count": page.pages }),
        &human,
    );
    Ok(())
}

pub async fn verify(ctx: &Ctx, args: VerifyArgs) -> Result {
    let mode = match (args.deep, args.sample) {
        (true, _) => VerifyMode::Deep,
        (false, Some(pct)) => VerifyMode::Sample(pct),
        (false, None) => VerifyMode::Quick,
    };
    let repo = ctx.open(&args.repo).await?;
    let report = repo.verify(&args.backups, mode).await?;
    let mode_name = match mode {
        VerifyMode::Quick => "quick".to_owned(),
        VerifyMode::Deep => "deep".to_owned(),
        VerifyMode::Sample(pct) => format!("sample {pct}%"),
    };
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    let mut human = String::new();
    if !ctx.out.quiet {
        let _ = writeln!(
            human,
            "checked {} ({mode_name}): {}, {}, {} read",
            count(report.backups, "backup"),
            count(report.packs, "pack"),
            count(report.chunks, "chunk"),
            bytes(report.bytes_read),
        );
        if report.is_ok() {
            human.push_str("no problems found\n");
        } else {
            let _ = writeln!(human, "{} found:", count(problems.len() as u64, "problem"));
        }
    }
    for p in &problems {
        let _ = writeln!(human, "  {p}");
    }
    let doc = json!({
        "ok": report.is_ok(),
        "mode": mode_name,
        "backups": report.backups,
        "packs": report.packs,
        "chunks": report.chunks,
        "bytes_read": report.bytes_read,
        "problems": report.problems.iter().zip(&problems).map(|(p, text)| json!({
            "backup": p.backup.as_ref().map(ToString::to_string),
            "entry": p.entry,
            "chunk": p.chunk.map(|c| c.to_string()),
            "pack": p.pack.map(|c| c.to_string()),
            "detail": p.detail,
            "message": text,
        })).collect::<Vec<_>>(),
    });
    ctx.out.result(&doc, &human);
    if report.is_ok() {
        Ok(())
    } else {
        Err(Failure {
            message: format!("verification found {}", count(problems.len() as u64, "problem")),
            code: 1,
            reported: true,
        })
    }
}

pub async fn gc(ctx: &Ctx, args: GcArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    let mut options = GcOptions { dry_run: !args.apply, ..GcOptions::default() };
    if let Some(grace) = args.grace {
        options.grace = grace;
    }
    let report = repo.gc(options).await?;
    let garbage: Vec<_> = report.packs.iter().chain(&report.manifests).collect();
    let grace = humantime::format_duration(options.grace).to_string();
    let mut human = String::new();
    if ctx.out.quiet {
        for g in &garbage {
            let _ = writeln!(human, "{}", g.path);
        }
    } else {
        let _ = writeln!(
            human,
            "{} in use, referencing {}",
            count(report.live_backups, "backup"),
            count(report.live_packs, "pack")
        );
        if garbage.is_empty() {
            human.push_str("nothing to collect\n");
        } else {
            let verb = if report.deleted { "deleted" } else { "would delete" };
            let _ = writeln!(
                human,
                "{verb} {} and {} ({}):",
                count(report.packs.len() as u64, "pack"),
                count(report.manifests.len() as u64, "manifest"),
                bytes(report.bytes())
            );
            let rows: Vec<Vec<String>> = garbage
                .iter()
                .map(|g| vec![g.path.clone(), bytes(g.size), g.last_modified.format(TIME_FORMAT).to_string()])
                .collect();
            human.push_str(&table(&["PATH", "SIZE", "WRITTEN (UTC)"], &rows));
            if !report.deleted {
                human.push_str("dry run: nothing was deleted; run again with --apply to delete\n");
            }
        }
        if report.young > 0 {
            let _ = writeln!(
                human,
                "kept {} younger than the grace period ({grace})",
                count(report.young, "unreferenced object")
            );
        }
    }
    let items: Vec<serde_json::Value> =
        garbage.iter().map(|g| json!({ "path": g.path, "size": g.size, "last_modified": g.last_modified })).collect();
    let (packs, manifests) = items.split_at(report.packs.len());
    let doc = json!({
        "dry_run": options.dry_run,
        "deleted": report.deleted,
        "grace_secs": options.grace.as_secs(),
        "live_backups": report.live_backups,
        "live_packs": report.live_packs,
        "packs": packs,
        "manifests": manifests,
        "bytes": report.bytes(),
        "young": report.young,
    });
    ctx.out.result(&doc, &human);
    Ok(())
}

pub async fn key(ctx: &Ctx, command: KeyCommand) -> Result {
    match command {
        KeyCommand::Add(args) => key_add(ctx, args).await,
        KeyCommand::List(args) => key_list(ctx, args).await,
        KeyCommand::Remove(args) => key_remove(ctx, args).await,
    }
}

async fn open_for_keys(repo: &str) -> Result<Repository> {
    // Key changes unlock the repository themselves, with the key that authorises them.
    let repo = Repository::open(open_store(repo, false)?.1, None).await?;
    if repo.config().cipher == Cipher::None {
        return Err(Failure::new("this repository is not encrypted: it has no keys"));
    }
    Ok(repo)
}

async fn key_add(ctx: &Ctx, args: KeyAddArgs) -> Result {
    let current = ctx.current_key("adding a key")?;
    let mut repo = open_for_keys(&args.repo).await?;
    let mut created = None;
    let new = match &args.new_key_file {
        Some(path) => {
            let (key, new) = key_file_or_new(path)?;
            created = new.then(|| path.clone());
            key
        }
        None => passphrase_from_env(NEW_PASSWORD_VAR)?.ok_or_else(|| {
            Failure::usage(format!("give the new key: --new-key-file FILE (created if missing) or {NEW_PASSWORD_VAR}"))
        })?,
    };
    let slot = match repo.add_key(&current, &new, kdf()).await {
        Ok(slot) => slot,
        Err(e) => {
            if let Some(path) = &created {
                let _ = std::fs::remove_file(path);
            }
            return Err(e.into());
        }
    };
    let human = if ctx.out.quiet {
        format!("{slot}\n")
    } else {
        format!("added key slot {slot}\n{}", key_file_note(created.as_deref()))
    };
    let doc = json!({ "slot": slot, "key_file_created": created.as_ref().map(|p| p.display().to_string()) });
    ctx.out.result(&doc, &human);
    Ok(())
}

async fn key_list(ctx: &Ctx, args: KeyListArgs) -> Result {
    let repo = open_for_keys(&args.repo).await?;
    let slots = &repo.config().keys;
    let kind = |s: &tern_engine::KeySlot| if s.is_passphrase() { "passphrase" } else { "key file" };
    let rows: Vec<Vec<String>> = slots
        .iter()
        .map(|s| vec![s.id.clone(), kind(s).to_owned(), s.created.format(TIME_FORMAT).to_string()])
        .collect();
    let doc = json!({
        "keys": slots.iter().map(|s| json!({ "id": s.id, "kind": kind(s), "created": s.created })).collect::<Vec<_>>(),
    });
    ctx.out.result(&doc, &table(&["ID", "KIND", "CREATED (UTC)"], &rows));
    Ok(())
}

async fn key_remove(ctx: &Ctx, args: KeyRemoveArgs) -> Result {
    let current = ctx.current_key("removing a key")?;
    let mut repo = open_for_keys(&args.repo).await?;
    repo.remove_key(&current, &args.slot).await?;
    let human = if ctx.out.quiet { String::new() } else { format!("removed key slot {}\n", args.slot) };
    ctx.out.result(&json!({ "removed": args.slot }), &human);
    Ok(())
}

pub async fn rm(ctx: &Ctx, args: RmArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    repo.delete_backup(&args.service, &args.backup, args.force).await?;
    let human = if ctx.out.quiet {
        String::new()
    } else {
        format!("deleted backup {} (its data goes with the next `tern gc --apply`)\n", args.backup)
    };
    ctx.out.result(&json!({ "deleted": args.backup }), &human);
    Ok(())
}

pub async fn log_push(ctx: &Ctx, args: LogPushArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    let file = tokio::fs::File::open(&args.file)
        .await
        .map_err(|e| Failure::new(format!("cannot open {}: {e}", args.file.display())))?;
    let span = tern_engine::SegmentSpan {
        start_position: args.start_pos,
        end_position: args.end_pos,
        start_time: args.start_time,
        end_time: args.end_time,
    };
    let (summary, segment) = repo.push_log_segment(&args.service, &args.name, file, span).await?;
    let human = if ctx.out.quiet {
        format!("{}\n", summary.id)
    } else {
        format!(
            "archived {} ({}) as {}: {} → {}, {} → {}\n",
            segment.name,
            bytes(segment.size),
            summary.id,
            segment.start_position,
            segment.end_position,
            segment.start_time.format(TIME_FORMAT),
            segment.end_time.format(TIME_FORMAT)
        )
    };
    ctx.out.result(&json!({ "segment": segment, "backup": summary.record }), &human);
    Ok(())
}

/// Everything the planner needs about a service, read from the repository's catalog.
async fn history(repo: &Repository, service: &str) -> Result<(Vec<BackupRecord>, Vec<tern_catalog::LogSegment>)> {
    let catalog = repo.catalog();
    let filter = tern_catalog::BackupFilter { service: Some(service.to_owned()), ..Default::default() };
    let records = tern_catalog::CatalogExt::list_backups(&catalog, &filter, tern_catalog::Paging::all())
        .await
        .map_err(tern_engine::Error::from)?
        .items;
    let segments =
        tern_catalog::CatalogExt::list_segments(&catalog, service).await.map_err(tern_engine::Error::from)?;
    Ok((records, segments))
}

pub async fn pitr_plan(ctx: &Ctx, args: PitrPlanArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    let target = match (args.time, args.position, args.backup) {
        (Some(t), _, _) => tern_catalog::RestoreTarget::Time(t),
        (_, Some(p), _) => tern_catalog::RestoreTarget::Position(p),
        (_, _, Some(b)) => tern_catalog::RestoreTarget::Backup(b),
        _ => tern_catalog::RestoreTarget::Latest,
    };
    // In a replica, a target not replicated yet is refused with the lag named.
    let plan = tern_replicator::secondary::plan(&repo, &args.service, &target).await.map_err(|e| match e {
        tern_replicator::secondary::SecondaryPlanError::Engine(e) => Failure::from(e),
        e => Failure::new(format!("cannot plan: {e}")),
    })?;
    let human = format!("{}\n", plan.to_string().trim_end());
    ctx.out.result(&json!({ "plan": plan }), &human);
    Ok(())
}

pub async fn pitr_windows(ctx: &Ctx, args: PitrWindowsArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    let (records, segments) = history(&repo, &args.service).await?;
    let windows = tern_pitr::recovery_windows(&records, &segments);
    let human = if windows.is_empty() {
        format!("service {} has no recovery window (no restorable backup with a consistent point)\n", args.service)
    } else {
        windows.iter().fold(String::new(), |mut out, w| {
            let _ = writeln!(out, "{w}");
            out
        })
    };
    ctx.out.result(&json!({ "windows": windows }), &human);
    Ok(())
}

pub async fn replicate(ctx: &Ctx, args: ReplicateArgs) -> Result {
    // No key is needed: packs, manifests and records copy as bytes.
    let (primary_location, primary_store) = open_store(&args.primary, false)?;
    let primary = Repository::open(primary_store, None).await?;
    let (secondary_location, secondary) = open_store(&args.secondary, true)?;
    let mut replicator =
        tern_replicator::Replicator::new(primary, secondary).await?.with_concurrency(usize::from(args.concurrency));
    if let Some(rate) = args.bandwidth_limit {
        replicator = replicator.with_bandwidth_limit(rate);
    }
    // Two prefixes of one bucket: packs copy server-side.
    if let Some((root, from, to)) = primary_location.shared_bucket(&secondary_location) {
        let root = root.open()?;
        replicator = replicator.with_server_side_copy(tern_replicator::ServerSideCopy { root, from, to });
    }
    if args.watch {
        return watch(ctx, &replicator, args).await;
    }
    let (report, sample) = match &args.service {
        Some(service) => {
            let (report, sample) = replicator.pass_and_measure(service).await?;
            (report, Some(sample))
        }
        None => (replicator.pass(None).await?, None),
    };
    let human = pass_text(ctx.out.quiet, &report, sample.as_ref());
    ctx.out.result(&json!({ "report": report, "lag": sample }), &human);
    if report.damaged.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            reported: true,
            ..Failure::new(format!("{} backups were not copied: damaged in the primary", report.damaged.len()))
        })
    }
}

fn pass_text(
    quiet: bool,
    report: &tern_replicator::PassReport,
    sample: Option<&tern_replicator::lag::LagSample>,
) -> String {
    let mut human = String::new();
    for s in &report.skipped {
        let _ = writeln!(human, "skipped {}: {}", s.service, s.reason);
    }
    if !quiet {
        let _ = writeln!(
            human,
            "copied {} ({}, {}); {} already there",
            count(report.records_copied, "backup"),
            count(report.packs_copied, "pack"),
            count(report.segments_copied, "segment"),
            count(report.packs_present, "pack")
        );
        let server_side = if report.server_side_copies > 0 {
            format!(" ({} packs copied server-side)", report.server_side_copies)
        } else {
            String::new()
        };
        let _ = writeln!(human, "{} written to the secondary{server_side}", bytes(report.bytes_copied));
        if let Some(s) = sample {
            let _ = writeln!(
                human,
                "lag {:.0} s, {} pending ({})",
                s.lag_secs,
                bytes(s.pending_bytes),
                count(s.pending_objects, "backup")
            );
        }
    }
    for d in &report.damaged {
        let _ = writeln!(human, "NOT copied: backup {} (pack {}: {})", d.backup, d.pack, d.detail);
    }
    human
}

/// `replicate --watch`: passes until Ctrl-C (or SIGTERM); one line (or JSON document) per pass.
async fn watch(ctx: &Ctx, replicator: &tern_replicator::Replicator, args: ReplicateArgs) -> Result {
    let options = tern_replicator::WatchOptions { interval: args.interval, max_backoff: args.max_backoff };
    let out = ctx.out;
    let on_event = move |event: tern_replicator::WatchEvent| {
        let human = match &event {
            tern_replicator::WatchEvent::Pass { report, lag, next_pass_in_secs } => {
                let mut text = format!(
                    "[{}] copied {} ({})",
                    chrono::Utc::now().format(TIME_FORMAT),
                    count(report.records_copied, "backup"),
                    bytes(report.bytes_copied)
                );
                for s in &report.skipped {
                    let _ = write!(text, "; skipped {}: {}", s.service, s.reason);
                }
                for d in &report.damaged {
                    let _ = write!(text, "; NOT copied: backup {} (pack {}: {})", d.backup, d.pack, d.detail);
                }
                if let Some(l) = lag {
                    let _ = write!(text, "; lag {:.0} s, {} pending", l.lag_secs, count(l.pending_objects, "backup"));
                }
                let _ = writeln!(text, "; next pass in {}", duration(Duration::from_secs_f64(*next_pass_in_secs)));
                text
            }
            tern_replicator::WatchEvent::Failed { error, failures, retry_in_secs } => format!(
                "[{}] pass failed ({failures} in a row): {error}; retrying in {}\n",
                chrono::Utc::now().format(TIME_FORMAT),
                duration(Duration::from_secs_f64(*retry_in_secs))
            ),
        };
        out.result(&json!(event), &human);
    };
    replicator.watch(args.service.as_deref(), &options, on_event, crate::serve::stop_signal()).await;
    Ok(())
}

pub async fn copy(ctx: &Ctx, args: CopyArgs) -> Result {
    let from = ctx.open(&args.from).await?;
    let to_key = match &args.to_key_file {
        Some(path) => Some(read_key_file(path)?),
        None => passphrase_from_env(TO_PASSWORD_VAR)?,
    };
    // Checked before the destination is touched: a copy that cannot start creates nothing.
    tern_replicator::copy::closure(&from, &args.backup, args.with_logs).await?;
    let to = tern_replicator::copy::destination(&from, open_store(&args.to, true)?.1, to_key.as_ref())
        .await
        .map_err(|e| Failure::new(format!("cannot open the destination: {e}")))?;
    let options = tern_replicator::copy::CopyOptions {
        with_logs: args.with_logs,
        bandwidth_limit: args.bandwidth_limit,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let report = tern_replicator::copy::copy_backup(&from, &to, &args.backup, &options).await?;
    let mut human = String::new();
    if !ctx.out.quiet {
        let how = match report.mode {
            tern_replicator::copy::CopyMode::Bytes => "as bytes (same keys)",
            tern_replicator::copy::CopyMode::Reencrypted => "re-encrypted for the destination's keys",
        };
        let _ = writeln!(
            human,
            "copied {} {how}: {} in {} packs, {} segments, in {}",
            count(report.copied.len() as u64, "backup"),
            bytes(report.bytes_copied),
            report.packs_copied,
            report.segments_copied,
            duration(started.elapsed())
        );
        if !report.already_present.is_empty() {
            let _ =
                writeln!(human, "{} already in the destination", count(report.already_present.len() as u64, "backup"));
        }
    }
    for id in &report.copied {
        let _ = writeln!(human, "{id}");
    }
    ctx.out.result(&json!({ "copy": report }), &human);
    Ok(())
}

pub async fn replication(ctx: &Ctx, command: ReplicationCommand) -> Result {
    use tern_replicator::config;
    let (repo, service, config) = match command {
        ReplicationCommand::Show(a) => {
            let repo = Repository::open(open_store(&a.repo, false)?.1, None).await?;
            let config = config::get(&repo, &a.service).await?;
            (repo, a.service, config)
        }
        ReplicationCommand::Enable(a) => {
            let repo = Repository::open(open_store(&a.target.repo, false)?.1, None).await?;
            // Stored in display form: a location's credentials never reach the catalog.
            let secondaries = a
                .secondaries
                .iter()
                .map(|s| if s.contains(':') { Location::parse(s).map(|l| l.to_string()) } else { Ok(s.clone()) })
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Failure::usage(e.to_string()))?;
            let config = config::enable(&repo, &a.target.service, &secondaries).await?;
            (repo, a.target.service, Some(config))
        }
        ReplicationCommand::Pause(a) => {
            let repo = Repository::open(open_store(&a.target.repo, false)?.1, None).await?;
            let config = config::pause(&repo, &a.target.service, &a.reason).await?;
            (repo, a.target.service, Some(config))
        }
        ReplicationCommand::Resume(a) => {
            let repo = Repository::open(open_store(&a.repo, false)?.1, None).await?;
            let config = config::resume(&repo, &a.service).await?;
            (repo, a.service, Some(config))
        }
        ReplicationCommand::Disable(a) => {
            let repo = Repository::open(open_store(&a.repo, false)?.1, None).await?;
            let config = config::disable(&repo, &a.service).await?;
            (repo, a.service, Some(config))
        }
    };
    drop(repo);
    let human = match &config {
        None => format!("{service}: no replication settings (passes copy it whenever they run)\n"),
        Some(c) => {
            let state = match (c.enabled, &c.paused) {
                (false, _) => "disabled".to_owned(),
                (true, Some(reason)) => format!("paused: {reason}"),
                (true, None) => "enabled".to_owned(),
            };
            let to =
                if c.secondaries.is_empty() { String::new() } else { format!(" → {}", c.secondaries.join(", ")) };
            format!("{service}: {state}{to}\n")
        }
    };
    ctx.out.result(&json!({ "service": service, "replication": config }), &human);
    Ok(())
}

pub async fn lag(ctx: &Ctx, args: LagArgs) -> Result {
    let repo = Repository::open(open_store(&args.repo, false)?.1, None).await?;
    let report = tern_replicator::lag::report(&repo, &args.service, args.period, chrono::Utc::now()).await?;
    let mut human = String::new();
    match &report.current {
        None => {
            let _ = writeln!(
                human,
                "no lag samples for {} (run `tern replicate … --service {}`)",
                args.service, args.service
            );
        }
        Some(c) => {
            let _ = writeln!(
                human,
                "{}: lag {:.0} s, {} pending ({}), measured {}",
                args.service,
                c.lag_secs,
                bytes(c.pending_bytes),
                count(c.pending_objects, "backup"),
                c.time.format(TIME_FORMAT)
            );
            for s in &report.series {
                let _ = writeln!(human, "  {}  {:>10.0} s", s.time.format(TIME_FORMAT), s.lag_secs);
            }
        }
    }
    ctx.out.result(&json!(report), &human);
    Ok(())
}
