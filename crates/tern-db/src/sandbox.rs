//! Private database servers for examples and tests: each in its own directory under `/tmp`, on a
//! unix socket only (no TCP port, so no conflicts), started as a child of this process and
//! stopped cleanly by [`stop`](MariadbServer::stop) (or killed when dropped).
//!
//! These are conveniences for trying Tern out and testing it, not a way to run production
//! databases.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::mariadb::{self, MariadbSource, MariadbTools};
use crate::postgres::{self, PostgresSource, PostgresTools};
use crate::process::{OsUser, Running};

/// A private MariaDB server with its binary log on.
#[derive(Debug)]
pub struct MariadbServer {
    tools: MariadbTools,
    dir: tempfile::TempDir,
    cnf: PathBuf,
    data_dir: PathBuf,
    process: Option<Running>,
}

impl MariadbServer {
    /// Initialises a new data directory and starts a server on it (binlog on, ROW format).
    pub async fn start(tools: MariadbTools) -> Result<Self> {
        let dir =
            tempfile::Builder::new().prefix("tern-mdb-").tempdir_in("/tmp").map_err(|e| Error::io("sandbox", e))?;
        let data_dir = dir.path().join("data");
        let mut server = Self::configure(tools, dir, data_dir, true)?;
        let mut install =
            server.tools.tool("mariadb-install-db").arg(format!("--defaults-file={}", server.cnf.display()));
        install = install.arg("--skip-test-db");
        if OsUser::running_as_root() {
            install = install.arg("--auth-root-authentication-method=socket");
        }
        install.run().await?;
        server.run().await?;
        Ok(server)
    }

    /// Starts a server on an existing (restored) data directory, without a binary log.
    pub async fn open(tools: MariadbTools, data_dir: &Path) -> Result<Self> {
        let dir =
            tempfile::Builder::new().prefix("tern-mdb-").tempdir_in("/tmp").map_err(|e| Error::io("sandbox", e))?;
        let mut server = Self::configure(tools, dir, data_dir.to_path_buf(), false)?;
        server.run().await?;
        Ok(server)
    }

    fn configure(tools: MariadbTools, dir: tempfile::TempDir, data_dir: PathBuf, binlog: bool) -> Result<Self> {
        let d = dir.path();
        for sub in ["binlog", "run"] {
            std::fs::create_dir_all(d.join(sub)).map_err(|e| Error::io("sandbox", e))?;
        }
        let user = if OsUser::running_as_root() { "user=root\n" } else { "" };
        let log = if binlog {
            format!("log-bin={}/binlog/mysql-bin\nbinlog-format=ROW\n", d.display())
        } else {
            "skip-log-bin\n".to_owned()
        };
        let cnf = d.join("my.cnf");
        let text = format!(
            "[client]\nsocket={d}/run/m.sock\n{user}[mysqld]\n{user}datadir={data}\nsocket={d}/run/m.sock\n\
             pid-file={d}/run/m.pid\nlog-error={d}/run/m.err\nskip-networking\nserver-id=1\n{log}\
             innodb-buffer-pool-size=64M\n",
            d = d.display(),
            data = data_dir.display(),
        );
        std::fs::write(&cnf, text).map_err(|e| Error::io("writing the sandbox's my.cnf", e))?;
        Ok(Self { tools, dir, cnf, data_dir, process: None })
    }

    async fn run(&mut self) -> Result<()> {
        let error_log = self.dir.path().join("run/m.err");
        self.process = Some(mariadb::start_server(&self.tools, &self.cnf, &error_log).await?);
        Ok(())
    }

    /// The option file that connects to this server (pass it as `--defaults-file`).
    pub fn defaults_file(&self) -> &Path {
        &self.cnf
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory of the binary logs.
    pub fn binlog_dir(&self) -> PathBuf {
        self.dir.path().join("binlog")
    }

    /// A backup source for this server.
    pub fn source(&self) -> MariadbSource {
        MariadbSource::new(&self.cnf).tools(self.tools.clone())
    }

    /// Runs SQL; returns the rows, columns split at tabs.
    pub async fn sql(&self, sql: &str) -> Result<Vec<Vec<String>>> {
        self.source().query(sql).await
    }

    /// Runs SQL and returns the first column of the first row.
    pub async fn value(&self, sql: &str) -> Result<String> {
        let rows = self.sql(sql).await?;
        rows.into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| Error::unexpected("mariadb", format!("`{sql}` returned no rows")))
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Running::id)
    }

    /// Shuts the server down cleanly.
    pub async fn stop(mut self) -> Result<()> {
        let Some(mut process) = self.process.take() else { return Ok(()) };
        mariadb::stop_server(&self.tools, &self.cnf, &mut process).await
    }
}

/// A private PostgreSQL cluster (run as the tools' OS user).
#[derive(Debug)]
pub struct PostgresServer {
    tools: PostgresTools,
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    process: Option<Running>,
}

/// How a sandbox PostgreSQL cluster is set up.
#[derive(Clone, Debug, Default)]
pub struct PostgresOptions {
    /// `archive_command` (archiving is on when set), e.g. `tern wal-push … %p`.
    pub archive_command: Option<String>,
    /// Environment for the server (and so for its `archive_command`).
    pub env: Vec<(String, String)>,
}

impl PostgresServer {
    /// Initialises a new cluster and starts it.
    pub async fn start(tools: PostgresTools, options: PostgresOptions) -> Result<Self> {
        let (dir, data_dir) = Self::dirs(&tools, None)?;
        tools
            .server_tool("initdb")
            .current_dir(dir.path())
            .args(["-N", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "-D"])
            .arg(&data_dir)
            .run()
            .await?;
        let mut conf = format!(
            "\n# tern sandbox\nlisten_addresses = ''\nunix_socket_directories = '{}'\nwal_level = replica\nfsync = off\n",
            dir.path().join("sock").display()
        );
        if let Some(command) = &options.archive_command {
            let _ = write!(conf, "archive_mode = on\narchive_command = '{}'\n", command.replace('\'', "''"));
        }
        let path = data_dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading postgresql.conf", e))?;
        text.push_str(&conf);
        std::fs::write(&path, text).map_err(|e| Error::io("writing postgresql.conf", e))?;
        let mut server = Self { tools, dir, data_dir, process: None };
        server.run(&[], &options.env).await?;
        Ok(server)
    }

    /// Starts a cluster on an existing (restored) data directory, with archiving off.
    pub async fn open(tools: PostgresTools, data_dir: &Path) -> Result<Self> {
        let (dir, _) = Self::dirs(&tools, Some(data_dir))?;
        let sock = dir.path().join("sock");
        let settings = [
            "listen_addresses=".to_owned(),
            format!("unix_socket_directories={}", sock.display()),
            "archive_mode=off".to_owned(),
            format!("hba_file={}", dir.path().join("pg_hba.conf").display()),
        ];
        std::fs::write(dir.path().join("pg_hba.conf"), "local all all trust\n").map_err(|e| Error::io("sandbox", e))?;
        tools.give(&dir.path().join("pg_hba.conf"))?;
        let mut server = Self { tools, dir, data_dir: data_dir.to_path_buf(), process: None };
        server.run(&settings, &[]).await?;
        Ok(server)
    }

    fn dirs(tools: &PostgresTools, data_dir: Option<&Path>) -> Result<(tempfile::TempDir, PathBuf)> {
        let dir =
            tempfile::Builder::new().prefix("tern-pg-").tempdir_in("/tmp").map_err(|e| Error::io("sandbox", e))?;
        tools.give(dir.path())?;
        tools.create_owned_dir(&dir.path().join("sock"))?;
        let data = data_dir.map_or_else(|| dir.path().join("data"), Path::to_path_buf);
        Ok((dir, data))
    }

    async fn run(&mut self, settings: &[String], env: &[(String, String)]) -> Result<()> {
        let mut tool = self.tools.server_tool("postgres").current_dir(self.dir.path()).arg("-D").arg(&self.data_dir);
        for s in settings {
            tool = tool.arg("-c").arg(s);
        }
        for (k, v) in env {
            tool = tool.env(k, v);
        }
        let mut process = tool.stdout_null().spawn()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = self.tools.tool("pg_isready").arg("-q").arg("-h").arg(self.socket_dir()).args(["-p", "5432"]);
            if ready.run().await.is_ok() {
                self.process = Some(process);
                return Ok(());
            }
            if let Ok(waited) = tokio::time::timeout(Duration::from_millis(50), process.wait()).await {
                let why = waited.err().map_or_else(|| "it exited".to_owned(), |e| e.to_string());
                return Err(Error::Restore(format!("the sandbox PostgreSQL server did not start: {why}")));
            }
            if Instant::now() > deadline {
                process.kill().await;
                return Err(Error::Restore("the sandbox PostgreSQL server did not start within 60 s".into()));
            }
        }
    }

    /// The directory of the server's unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A connection string to database `db` as `postgres`.
    pub fn conninfo(&self, db: &str) -> String {
        format!("host={} port=5432 user=postgres dbname={db}", self.socket_dir().display())
    }

    /// A backup source for database `db` of this server.
    pub fn source(&self, db: &str) -> PostgresSource {
        PostgresSource::new(self.conninfo(db), self.tools.clone())
    }

    /// Runs SQL in database `db`; returns the rows (`|`-separated columns).
    pub async fn sql(&self, db: &str, sql: &str) -> Result<Vec<String>> {
        self.source(db).query(sql).await
    }

    /// Runs SQL in `db` and returns the first row.
    pub async fn value(&self, db: &str, sql: &str) -> Result<String> {
        self.sql(db, sql)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::unexpected("psql", format!("`{sql}` returned no rows")))
    }

    /// Closes the current WAL segment and waits until the archiver has handed it to
    /// `archive_command` (and it succeeded).
    pub async fn switch_wal_and_wait(&self) -> Result<String> {
        let segment = self.value("postgres", "SELECT pg_walfile_name(pg_current_wal_lsn())").await?;
        self.sql("postgres", "SELECT pg_switch_wal()").await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let check = format!("SELECT coalesce(last_archived_wal >= '{segment}', false) FROM pg_stat_archiver");
        while self.value("postgres", &check).await? != "t" {
            if Instant::now() > deadline {
                let failed =
                    self.value("postgres", "SELECT coalesce(last_failed_wal, '-') FROM pg_stat_archiver").await?;
                return Err(Error::Restore(format!(
                    "WAL segment {segment} was not archived within 60 s (last failed: {failed})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(segment)
    }

    /// Stops the server (fast shutdown).
    pub async fn stop(mut self) -> Result<()> {
        let Some(mut process) = self.process.take() else { return Ok(()) };
        postgres::stop_server(&self.tools, &self.data_dir, &mut process).await
    }
}
