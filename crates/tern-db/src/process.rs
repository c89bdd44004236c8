//! Database tools as child processes: streamed stdout, stderr captured into errors, killed when
//! dropped (a cancelled backup does not leave a tool running).

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// Watched stderr texts: the text, when it was first seen, and the whole line.
type Seen = Arc<Mutex<Vec<(String, DateTime<Utc>, String)>>>;

/// Lines of a tool's stderr kept for its error message.
const TAIL_LINES: usize = 12;
/// Longest line kept (longer ones are cut).
const LINE_MAX: usize = 600;

/// A database tool to run: a [`Command`] that pipes stdout and stderr and kills the child when
/// the handle is dropped.
#[derive(Debug)]
pub struct Tool {
    name: String,
    cmd: Command,
    watch: Vec<String>,
}

impl Tool {
    /// The program at `path`; its file name names it in errors.
    pub fn new(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let mut cmd = Command::new(path);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        // Tools print local times (binlog events, backup logs): make local time UTC.
        cmd.env("TZ", "UTC");
        Self { name, cmd, watch: Vec::new() }
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable.
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Runs the tool in `dir`.
    #[must_use]
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Runs the tool as another OS user (PostgreSQL's server tools refuse to run as root).
    #[must_use]
    pub fn as_user(mut self, user: Option<OsUser>) -> Self {
        if let Some(user) = user {
            self.cmd.uid(user.uid).gid(user.gid);
        }
        self
    }

    /// Gives the tool a pipe on stdin (see [`Running::take_stdin`]).
    #[must_use]
    pub fn stdin_piped(mut self) -> Self {
        self.cmd.stdin(Stdio::piped());
        self
    }

    /// Sends stdout nowhere (for tools whose stdout is not read).
    #[must_use]
    pub fn stdout_null(mut self) -> Self {
        self.cmd.stdout(Stdio::null());
        self
    }

    /// Notes the time the first stderr line containing `text` is read (see [`Running::seen`]):
    /// how a backup learns when its tool took its consistent snapshot.
    #[must_use]
    pub fn watch_stderr(mut self, text: &str) -> Self {
        self.watch.push(text.to_owned());
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts the tool.
    ///
    /// # Panics
    /// Never: stderr is always piped.
    pub fn spawn(mut self) -> Result<Running> {
        let mut child = self.cmd.spawn().map_err(|source| Error::ToolMissing {
            tool: self.name.clone(),
            path: Path::new(self.cmd.as_std().get_program()).display().to_string(),
            source,
        })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let seen = Seen::default();
        let task = {
            let (seen, watch, name) = (Arc::clone(&seen), self.watch, self.name.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                let mut tail = VecDeque::with_capacity(TAIL_LINES);
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(w) = watch.iter().find(|w| line.contains(w.as_str())) {
                        let mut seen = seen.lock().expect("not poisoned");
                        if !seen.iter().any(|(s, _, _)| s == w) {
                            seen.push((w.clone(), Utc::now(), line.clone()));
                        }
                    }
                    tracing::trace!(tool = %name, "{line}");
                    if line.trim().is_empty() {
                        continue;
                    }
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    let mut line = line;
                    if line.len() > LINE_MAX {
                        let mut cut = LINE_MAX;
                        while !line.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        line.truncate(cut);
                        line.push('…');
                    }
                    tail.push_back(line);
                }
                tail.into_iter().collect::<Vec<_>>()
            })
        };
        Ok(Running { name: self.name, child, stderr: Some(task), seen })
    }

    /// Runs the tool to its end and returns its stdout (for short outputs: queries, listings).
    pub async fn output(self) -> Result<String> {
        let mut running = self.spawn()?;
        let mut stdout = running.take_stdout();
        let mut out = Vec::new();
        let read = tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut out);
        let read = read.await;
        running.wait().await?;
        read.map_err(|e| Error::io(format!("reading the output of {}", running.name), e))?;
        String::from_utf8(out).map_err(|_| Error::unexpected(&running.name, "its output is not UTF-8"))
    }

    /// Runs the tool to its end; stdout is discarded.
    pub async fn run(self) -> Result<Vec<String>> {
        self.stdout_null().spawn()?.wait().await
    }
}

/// A running tool.
#[derive(Debug)]
pub struct Running {
    name: String,
    child: Child,
    stderr: Option<JoinHandle<Vec<String>>>,
    seen: Seen,
}

impl Running {
    /// The tool's stdout (once).
    ///
    /// # Panics
    /// If taken twice or not piped.
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout is piped and taken once")
    }

    /// The tool's stdin (once), when started with [`Tool::stdin_piped`].
    ///
    /// # Panics
    /// If taken twice or not piped.
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin is piped and taken once")
    }

    /// The process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When a stderr line containing a watched text was first read.
    ///
    /// # Panics
    /// If the stderr reader panicked while holding the lock (it does not).
    pub fn seen(&self, text: &str) -> Option<DateTime<Utc>> {
        self.seen.lock().expect("not poisoned").iter().find(|(s, _, _)| s == text).map(|(_, t, _)| *t)
    }

    /// The first stderr line that contained a watched text.
    ///
    /// # Panics
    /// If the stderr reader panicked while holding the lock (it does not).
    pub fn seen_line(&self, text: &str) -> Option<String> {
        self.seen.lock().expect("not poisoned").iter().find(|(s, _, _)| s == text).map(|(_, _, l)| l.clone())
    }

    /// Kills the tool (a cancelled operation).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Waits for the tool to end: the last lines of its stderr, or an error carrying them unless
    /// it exited 0.
    pub async fn wait(&mut self) -> Result<Vec<String>> {
        let status = self.child.wait().await.map_err(|e| Error::io(format!("waiting for {}", self.name), e))?;
        let tail = match self.stderr.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => Vec::new(),
        };
        if status.success() {
            return Ok(tail);
        }
        let message = if tail.is_empty() { "(it wrote nothing to stderr)".to_owned() } else { tail.join(" | ") };
        Err(Error::ToolFailed { tool: self.name.clone(), status: status.to_string(), message })
    }
}

/// An OS user to run a tool as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OsUser {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl OsUser {
    /// Looks a user up by name in `/etc/passwd`.
    pub fn lookup(name: &str) -> Result<Self> {
        let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| Error::io("reading /etc/passwd", e))?;
        passwd
            .lines()
            .find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.len() >= 4 && fields[0] == name)
                    .then(|| Some(Self { uid: fields[2].parse().ok()?, gid: fields[3].parse().ok()? }))?
            })
            .ok_or_else(|| Error::Unsupported(format!("there is no OS user `{name}`")))
    }

    /// Whether this process runs as root.
    pub fn running_as_root() -> bool {
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
    }

    /// Gives `path` (not recursively) to this user.
    pub fn chown(self, path: &Path) -> Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .map_err(|e| Error::io(format!("giving {} to uid {}", path.display(), self.uid), e))
    }

    /// Gives `path` and everything below it to this user.
    pub fn chown_tree(self, path: &Path) -> Result<()> {
        self.chown(path)?;
        if path.is_dir() && !path.is_symlink() {
            for entry in std::fs::read_dir(path).map_err(|e| Error::io(format!("listing {}", path.display()), e))? {
                let entry = entry.map_err(|e| Error::io(format!("listing {}", path.display()), e))?;
                self.chown_tree(&entry.path())?;
            }
        }
        Ok(())
    }
}
