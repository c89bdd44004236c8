//! `tern`: the command line over Tern's libraries. It parses arguments, opens the repository
//! with [`tern_storage`], calls [`tern_engine`], and formats what comes back; every decision
//! about data is the engine's.
//!
//! # Usage
//!
//! ```text
//! export TERN_PASSWORD='a long passphrase'          # or --key-file FILE on every command
//! tern init s3://backups/prod                        # encrypted; prints the repository id
//! mariadb-dump --all-databases | tern backup s3://backups/prod --service db1 --stdin --name dump.sql
//! tern backup /srv/repo --service db1 /var/backups/db1/     # every file under the directory
//! tern backup /srv/repo --service db1 --parent <ID> --label kind=full dump.sql
//! tern ls s3://backups/prod [--service db1]
//! tern restore s3://backups/prod <ID> --stdout | mariadb
//! tern restore s3://backups/prod <ID> --target /restore [--entry NAME]
//! tern verify s3://backups/prod [<ID>…]             # quick: no key needed
//! tern verify s3://backups/prod --deep               # decrypt and check everything
//! tern verify s3://backups/prod --sample 10          # decrypt and check 10% of the chunks
//! tern gc s3://backups/prod [--grace 24h] [--apply]  # a dry run unless --apply
//! tern key add s3://backups/prod --new-key-file new.key   # or TERN_NEW_PASSWORD=…
//! tern key list s3://backups/prod
//! tern key remove s3://backups/prod <SLOT>
//! tern replicate s3://backups/prod az://backups-us/prod --service db1 [--watch --interval 5m]
//! tern replication pause s3://backups/prod --service db1 --reason "bucket migration"
//! tern lag az://backups-us/prod --service db1 --period day
//! tern copy s3://backups/prod s3://users-bucket/prod <ID> --with-logs   # TERN_TO_PASSWORD
//! tern db backup s3://backups/prod --service shop --engine mariadb --kind full --connect backup.cnf
//! tern db archive-logs s3://backups/prod --service shop --connect backup.cnf --rotate
//! tern db restore s3://backups/prod --service shop --time 2026-11-21T10:00:00Z --target-dir /srv/restored
//! tern wal-push s3://backups/prod --service app %p       # PostgreSQL archive_command
//! tern wal-fetch s3://backups/prod --service app %f %p   # PostgreSQL restore_command
//! tern config hash-token < ops.token                     # the hash for [[tokens]] in tern.toml
//! tern config check --config tern.toml [--open]
//! tern serve --config tern.toml                          # scheduler + HTTP API (README: `tern serve`)
//! ```
//!
//! Repositories are locations as `tern-storage` parses them: a path, `file:///…`,
//! `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`, with options as query
//! parameters (`?region=eu-west-1&endpoint=…`); cloud credentials come from the environment.
//!
//! # Keys
//!
//! `--key-file FILE` (or `TERN_KEY_FILE`) wins over the passphrase in `TERN_PASSWORD`. `init`
//! and `key add --new-key-file` write 32 random bytes to a key file that does not exist yet.
//! Listing, quick verification and garbage collection need no key; given one anyway, it is
//! checked. `TERN_INSECURE_FAST_KDF=1` makes new passphrase slots use a cheap key derivation:
//! **for tests only**, never for real data.
//!
//! # Output and exit codes
//!
//! Human output goes to stdout, a progress bar to stderr (only on a terminal, and not with
//! `--json` or `-q`). `--json` prints one JSON document per command on stdout, and failures as
//! `{"error": "…"}`; `restore --stdout` sends its messages and JSON document to stderr instead.
//! Exit codes: 0 success, 1 failure (including problems found by `verify`), 2 bad usage.
//! Secrets are never printed.

mod args;
mod commands;
mod db;
mod output;
mod progress;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::args::{Cli, Command};
use crate::commands::Ctx;
use crate::output::{Failure, Output};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let out = Output {
        json: cli.global.json,
        quiet: cli.global.quiet,
        stdout_is_data: matches!(&cli.command, Command::Restore(r) if r.to.stdout),
    };
    let ctx = Ctx { out, key_file: cli.global.key_file };
    let result = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run(&ctx, cli.command)),
        Err(e) => Err(Failure::new(format!("cannot start the async runtime: {e}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            out.error(&failure);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(ctx: &Ctx, command: Command) -> Result<(), Failure> {
    match command {
        Command::Init(args) => commands::init(ctx, args).await,
        Command::Backup(args) => commands::backup(ctx, args).await,
        Command::Restore(args) => commands::restore(ctx, args).await,
        Command::Ls(args) => commands::ls(ctx, args).await,
        Command::Verify(args) => commands::verify(ctx, args).await,
        Command::Gc(args) => commands::gc(ctx, args).await,
        Command::Key(command) => commands::key(ctx, command).await,
        Command::Rm(args) => commands::rm(ctx, args).await,
        Command::Replicate(args) => commands::replicate(ctx, args).await,
        Command::Lag(args) => commands::lag(ctx, args).await,
        Command::Copy(args) => commands::copy(ctx, args).await,
        Command::Replication(command) => commands::replication(ctx, command).await,
        Command::Log(args::LogCommand::Push(args)) => commands::log_push(ctx, args).await,
        Command::Db(args::DbCommand::Backup(args)) => db::backup(ctx, args).await,
        Command::Db(args::DbCommand::ArchiveLogs(args)) => db::archive_logs(ctx, args).await,
        Command::Db(args::DbCommand::Restore(args)) => db::restore(ctx, args).await,
        Command::WalPush(args) => db::wal_push(ctx, args).await,
        Command::WalFetch(args) => db::wal_fetch(ctx, args).await,
        Command::Serve(args) => serve::serve(ctx, args).await,
        Command::Config(args::ConfigCommand::Check(args)) => serve::config_check(ctx, args).await,
        Command::Config(args::ConfigCommand::HashToken) => serve::hash_token(ctx),
        Command::Pitr(args::PitrCommand::Plan(args)) => commands::pitr_plan(ctx, args).await,
        Command::Pitr(args::PitrCommand::Windows(args)) => commands::pitr_windows(ctx, args).await,
    }
}

/// Clap's errors: help and version as clap prints them; other errors as clap prints them, or
/// as `{"error": …}` when `--json` was among the arguments. Exit code 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || !std::env::args_os().skip(1).any(|a| a == "--json")
    {
        e.exit();
    }
    // The message without clap's usage and hints: "the following required arguments were not
    // provided: <REPO>".
    let rendered = e.render().to_string();
    let message = rendered
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let out = Output { json: true, quiet: false, stdout_is_data: false };
    out.error(&Failure::usage(message));
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
