//! `tern db …`, `tern wal-push`, `tern wal-fetch`: the database adapters over a repository.

use std::fmt::Write as _;

use serde_json::json;
use tern_catalog::{BackupKind, RestoreTarget as Target};
use tern_db::mariadb::{MariadbSource, MariadbTarget};
use tern_db::postgres::{PostgresSource, PostgresTarget, PostgresTools};
use tern_db::{BackupSource, ENGINE_LABEL, RestoreTarget};
use tern_service::{db, wal};

use crate::args::{DbArchiveArgs, DbBackupArgs, DbKind, DbRestoreArgs, EngineArg, WalFetchArgs, WalPushArgs};
use crate::commands::{Ctx, TIME_FORMAT};
use crate::output::{Failure, bytes};

type Result<T = ()> = std::result::Result<T, Failure>;

impl From<tern_service::Error> for Failure {
    fn from(e: tern_service::Error) -> Self {
        match e {
            tern_service::Error::Invalid(message) => Self::usage(message),
            e => Self::new(e.to_string()),
        }
    }
}

impl From<tern_db::Error> for Failure {
    fn from(e: tern_db::Error) -> Self {
        Self::new(e.to_string())
    }
}

fn postgres_tools() -> Result<PostgresTools> {
    Ok(PostgresTools::from_env()?)
}

pub async fn backup(ctx: &Ctx, args: DbBackupArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    let source: Box<dyn BackupSource> = match args.engine {
        EngineArg::Mariadb => Box::new(MariadbSource::new(&args.connect).databases(args.databases)),
        EngineArg::Postgres => {
            if !args.databases.is_empty() {
                return Err(Failure::usage("--database is for MariaDB; name a PostgreSQL database in --connect"));
            }
            Box::new(PostgresSource::new(&args.connect, postgres_tools()?))
        }
    };
    let kind = match args.kind {
        DbKind::Full => BackupKind::Full,
        DbKind::Incremental => BackupKind::Incremental,
        DbKind::Dump => BackupKind::Dump,
    };
    let summary = db::backup(&repo, &args.service, source.as_ref(), kind).await?;
    let record = &summary.record;
    let human = if ctx.out.quiet {
        format!("{}\n", summary.id)
    } else {
        let mut text = format!(
            "backed up a {} of {} as {}: {} read, {} new",
            kind,
            args.service,
            summary.id,
            bytes(summary.stats.logical_bytes),
            bytes(summary.stats.new_bytes)
        );
        if let Some(point) = &record.consistent {
            let _ = write!(text, "; consistent at {}", point.time.format(TIME_FORMAT));
            if let Some(position) = &point.position {
                let _ = write!(text, " ({position})");
            }
        }
        if let Some(parent) = &record.parent {
            let _ = write!(text, "; on top of {parent}");
        }
        text.push('\n');
        text
    };
    ctx.out.result(&json!({ "backup": record, "stats": summary.stats }), &human);
    Ok(())
}

pub async fn archive_logs(ctx: &Ctx, args: DbArchiveArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    let source = MariadbSource::new(&args.connect);
    let segments = db::archive_logs(&repo, &args.service, &source, args.rotate).await?;
    let mut human = String::new();
    if !ctx.out.quiet {
        for s in &segments {
            let _ = writeln!(
                human,
                "archived {} ({}): {} → {}, {} → {}",
                s.name,
                bytes(s.size),
                s.start_position,
                s.end_position,
                s.start_time.format(TIME_FORMAT),
                s.end_time.format(TIME_FORMAT)
            );
        }
        let noun = if segments.len() == 1 { "binlog" } else { "binlogs" };
        let _ = writeln!(human, "{} {noun} archived", segments.len());
    }
    ctx.out.result(&json!({ "segments": segments }), &human);
    Ok(())
}

pub async fn restore(ctx: &Ctx, args: DbRestoreArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    let target = match (args.time, args.position, args.backup) {
        (Some(t), _, _) => Target::Time(t),
        (_, Some(p), _) => Target::Position(p),
        (_, _, Some(b)) => Target::Backup(b),
        _ => Target::Latest,
    };
    // The plan names the engine: its base backup carries the adapter's label.
    let plan = db::plan(&repo, &args.service, &target).await?;
    let engine = plan.base.labels.get(ENGINE_LABEL).cloned().unwrap_or_default();
    let into: Box<dyn RestoreTarget> = match engine.as_str() {
        "mariadb" => Box::new(MariadbTarget::new(&args.target_dir)),
        "postgres" => Box::new(PostgresTarget::new(&args.target_dir, postgres_tools()?)),
        _ => {
            return Err(Failure::new(format!(
                "backup {} was not taken by `tern db backup` (no {ENGINE_LABEL} label): restore it with `tern restore`",
                plan.base.id
            )));
        }
    };
    let restored = db::restore(&repo, &args.service, &target, into.as_ref()).await?;
    let report = &restored.report;
    let mut human = format!("{}\n", restored.plan.to_string().trim_end());
    if !ctx.out.quiet {
        for (step, took) in &report.steps {
            let _ = writeln!(human, "  {step:<40} {:>8.2} s", took.as_secs_f64());
        }
        if let Some(stopped) = &report.stopped {
            let _ = writeln!(human, "{stopped}");
        }
        let _ = writeln!(
            human,
            "restored {} into {} ({} read)",
            args.service,
            report.data_dir.display(),
            bytes(report.bytes_read)
        );
    }
    let steps: Vec<_> =
        report.steps.iter().map(|(step, took)| json!({ "step": step, "seconds": took.as_secs_f64() })).collect();
    ctx.out.result(
        &json!({
            "plan": restored.plan,
            "data_dir": report.data_dir,
            "bytes_read": report.bytes_read,
            "steps": steps,
            "stopped": report.stopped,
        }),
        &human,
    );
    Ok(())
}

pub async fn wal_push(ctx: &Ctx, args: WalPushArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    let pushed = wal::push(&repo, &args.service, &args.path, &postgres_tools()?).await?;
    let (entry, what) = match &pushed {
        wal::Pushed::Archived(entry) => (entry, "archived"),
        wal::Pushed::AlreadyArchived(entry) => (entry, "already archived"),
    };
    let human = if ctx.out.quiet { String::new() } else { format!("{} {what} ({})\n", entry.name, entry.backup) };
    ctx.out.result(&json!({ "name": entry.name, "backup": entry.backup, "status": what }), &human);
    Ok(())
}

pub async fn wal_fetch(ctx: &Ctx, args: WalFetchArgs) -> Result {
    let repo = ctx.open(&args.repo).await?;
    if !wal::fetch(&repo, &args.service, &args.name, &args.dest).await? {
        // PostgreSQL asks for files past the end of the archive: this exit is expected there.
        return Err(Failure::new(format!("{} is not archived for service {}", args.name, args.service)));
    }
    let human = if ctx.out.quiet { String::new() } else { format!("fetched {}\n", args.name) };
    ctx.out.result(&json!({ "name": args.name, "fetched": true }), &human);
    Ok(())
}
