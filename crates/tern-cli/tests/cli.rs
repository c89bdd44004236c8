//! The `tern` binary, run as a user would: a real process, real pipes, a repository in a
//! temporary directory (and on the real S3 server when the test command provides one).

use std::borrow::BorrowMut;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

const PASSWORD: &str = "cli-test passphrase 7f3a9c";

/// `tern` with a clean environment for keys, and the fast KDF so tests stay quick.
fn tern(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tern"));
    cmd.args(args)
        .env("TERN_INSECURE_FAST_KDF", "1")
        .env_remove("TERN_PASSWORD")
        .env_remove("TERN_NEW_PASSWORD")
        .env_remove("TERN_KEY_FILE");
    cmd
}

/// `tern` with the passphrase in TERN_PASSWORD.
fn tern_pw(args: &[&str]) -> Command {
    let mut cmd = tern(args);
    cmd.env("TERN_PASSWORD", PASSWORD);
    cmd
}

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", self.text()))
    }

    /// Asserts success and returns self.
    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "tern failed\nstdout: {}\nstderr: {}", self.text(), self.stderr);
        self
    }

    fn fails(self, code: i32) -> Self {
        assert_eq!(self.code, code, "unexpected exit code\nstdout: {}\nstderr: {}", self.text(), self.stderr);
        self
    }
}

/// Runs `cmd` with `stdin` piped in. Checks that the passphrase never shows.
fn run_with(mut cmd: impl BorrowMut<Command>, stdin: &[u8]) -> Run {
    let cmd = cmd.borrow_mut();
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("tern starts");
    let mut pipe = child.stdin.take().expect("stdin piped");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The child may exit without reading (an argument error): a broken pipe is fine.
        let _ = std::io::Write::write_all(&mut pipe, &input);
    });
    let out = child.wait_with_output().expect("tern runs");
    writer.join().expect("stdin writer");
    let run = Run {
        code: out.status.code().expect("exited normally"),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.text().contains(PASSWORD) && !run.stderr.contains(PASSWORD),
        "the passphrase was printed\nstdout: {}\nstderr: {}",
        run.text(),
        run.stderr
    );
    run
}

fn run(cmd: impl BorrowMut<Command>) -> Run {
    run_with(cmd, b"")
}

/// Deterministic incompressible bytes, so chunk boundaries are the same every run.
fn data(len: usize, seed: u64) -> Vec<u8> {
    tern_storage::testing::conformance::pattern(len, seed).to_vec()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for item in std::fs::read_dir(&d).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The ids of the main flow's backups.
struct Flow {
    first: String,
    dir: String,
    second: String,
}

/// init → stdin backup → ls → restore --stdout → directory backup → restore --target →
/// incremental backup with --parent → verify (quick, without a key) → verify --deep → gc.
fn main_flow(repo: &str, work: &Path) -> Flow {
    // init (encrypted by TERN_PASSWORD), JSON output
    let init = run(tern_pw(&["--json", "init", repo])).ok().json();
    assert_eq!(init["repo_id"].as_str().unwrap().len(), 32, "{init}");
    assert_eq!(init["encrypted"], true);
    // a second init is refused
    let again = run(tern_pw(&["init", repo])).fails(1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    // backup of standard input
    let input = data(3 << 20, 1);
    let args = ["--json", "backup", repo, "--service", "db1", "--stdin", "--name", "dump.sql", "--label", "kind=full"];
    let first = run_with(tern_pw(&args), &input).ok().json();
    let first_id = first["backup"]["id"].as_str().unwrap().to_owned();
    assert_eq!(first["stats"]["logical_bytes"], input.len());
    assert_eq!(first["stats"]["entries"], 1);
    assert!(first["mb_per_s"].as_f64().unwrap() > 0.0, "{first}");
    let first_new = first["stats"]["new_bytes"].as_u64().unwrap();
    assert!(first_new >= input.len() as u64, "random data does not compress: {first}");

    // ls: the table, and JSON
    let table = run(tern_pw(&["ls", repo])).ok().text();
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains(&first_id) && table.contains("db1") && table.contains("3.00 MiB"), "{table}");
    let listed = run(tern_pw(&["ls", repo, "--json"])).ok().json();
    let backups = listed["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{listed}");
    assert_eq!(backups[0]["id"], first_id.as_str());
    assert_eq!(backups[0]["service"], "db1");
    assert_eq!(backups[0]["labels"]["kind"], "full");
    assert_eq!(backups[0]["sizes"]["logical_bytes"], input.len());
    // ls without a key works too, and filters by service
    let none = run(tern(&["--json", "ls", repo, "--service", "other"])).ok().json();
    assert_eq!(none["backups"].as_array().unwrap().len(), 0);

    // restore to standard output: the same bytes, and nothing else on stdout
    let restored = run(tern_pw(&["restore", repo, &first_id, "--stdout"])).ok();
    assert!(restored.stdout == input, "restored {} bytes, differ from the input", restored.stdout.len());
    assert!(restored.stderr.contains("restored 3.00 MiB"), "{}", restored.stderr);
    // With --json, the document goes to stderr: stdout carries only the data.
    let restored = run(tern_pw(&["--json", "restore", repo, &first_id, "--stdout"])).ok();
    assert!(restored.stdout == input, "restored {} bytes, differ from the input", restored.stdout.len());
    let doc: Value = serde_json::from_str(&restored.stderr).expect("one JSON document on stderr");
    assert_eq!(doc["bytes"], input.len());
    assert_eq!(doc["backup"], first_id.as_str());

    // backup of a directory (and a file beside it)
    let src = work.join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    let files: [(&str, Vec<u8>); 3] = [
        ("a.bin", data(300 << 10, 2)),
        ("sub/b.sql", b"INSERT INTO t VALUES (1);\n".repeat(5000)),
        ("sub/deeper/empty", Vec::new()),
    ];
    for (name, bytes) in &files {
        std::fs::write(src.join(name), bytes).unwrap();
    }
    let single = work.join("single.txt");
    std::fs::write(&single, b"one file\n").unwrap();
    let dir_backup =
        run(tern_pw(&["backup", repo, "--service", "files", src.to_str().unwrap(), single.to_str().unwrap()])).ok();
    let text = dir_backup.text();
    assert!(text.starts_with("backup ") && text.contains("of service files: 4 entries"), "{text}");
    assert!(text.contains("MB/s"), "{text}");
    let dir_id = text.split_whitespace().nth(1).unwrap().to_owned();

    // restore into a directory
    let out = work.join("restored");
    let target = run(tern_pw(&["restore", repo, &dir_id, "--target", out.to_str().unwrap()])).ok();
    assert!(target.text().contains("restored "), "{}", target.text());
    for (name, bytes) in &files {
        assert_eq!(&std::fs::read(out.join(name)).unwrap(), bytes, "{name}");
    }
    assert_eq!(std::fs::read(out.join("single.txt")).unwrap(), b"one file\n");
    assert_eq!(files_under(&out).len(), 4, "no extra files (e.g. partial ones)");
    // one entry of it, to standard output
    let one = run(tern_pw(&["restore", repo, &dir_id, "--entry", "sub/b.sql", "--stdout"])).ok();
    assert_eq!(one.stdout, files[1].1);
    // several entries cannot go to standard output
    let many = run(tern_pw(&["restore", repo, &dir_id, "--stdout"])).fails(1);
    assert!(many.stderr.contains("4 entries"), "{}", many.stderr);

    // an incremental backup: the same dump with a little appended stores little
    let mut input2 = input.clone();
    input2.extend_from_slice(&data(64 << 10, 3));
    let args = ["--json", "backup", repo, "--service", "db1", "--stdin", "--name", "dump.sql", "--parent", &first_id];
    let second = run_with(tern_pw(&args), &input2).ok().json();
    let second_id = second["backup"]["id"].as_str().unwrap().to_owned();
    let stats = &second["stats"];
    assert_eq!(stats["logical_bytes"], input2.len());
    let new = stats["new_bytes"].as_u64().unwrap();
    assert!(new > 0 && new < first_new / 2, "new bytes {new} should be small next to {first_new}: {second}");
    assert_eq!(second["backup"]["parent"], first_id.as_str());
    let restored = run(tern_pw(&["restore", repo, &second_id, "--stdout", "-q"])).ok();
    assert!(restored.stdout == input2, "incremental restore differs");
    assert!(restored.stderr.is_empty(), "quiet: {}", restored.stderr);

    // verify: quick without any key, then deep with it
    let quick = run(tern(&["verify", repo])).ok().text();
    assert!(quick.contains("checked 3 backups (quick)") && quick.contains("no problems found"), "{quick}");
    let deep = run(tern_pw(&["verify", repo, "--deep"])).ok().text();
    assert!(deep.contains("(deep)") && deep.contains("no problems found"), "{deep}");
    let sample = run(tern_pw(&["--json", "verify", repo, &first_id, "--sample", "50"])).ok().json();
    assert_eq!(sample["ok"], true);
    assert_eq!(sample["backups"], 1);
    // deep needs the key
    let keyless = run(tern(&["verify", repo, "--deep"])).fails(1);
    assert!(keyless.stderr.contains("TERN_PASSWORD"), "{}", keyless.stderr);

    // gc: a clean repository has nothing to collect
    let gc = run(tern(&["gc", repo])).ok().text();
    assert!(gc.contains("3 backups in use") && gc.contains("nothing to collect"), "{gc}");
    let gc = run(tern(&["--json", "gc", repo, "--grace", "0s"])).ok().json();
    assert_eq!(gc["dry_run"], true);
    assert_eq!(gc["packs"].as_array().unwrap().len(), 0, "{gc}");
    assert_eq!(gc["manifests"].as_array().unwrap().len(), 0, "{gc}");
    assert_eq!(gc["live_backups"], 3);

    Flow { first: first_id, dir: dir_id, second: second_id }
}

#[test]
fn main_flow_on_a_local_directory_then_damage_is_found() {
    let work = tempfile::tempdir().unwrap();
    let repo_dir = work.path().join("repo");
    let repo = repo_dir.to_str().unwrap();
    let flow = main_flow(repo, work.path());

    // Flip one byte in the middle of one pack.
    let packs = files_under(&repo_dir.join("packs"));
    assert!(packs.len() >= 2, "{packs:?}");
    let victim = &packs[0];
    let pack_id = victim.file_name().unwrap().to_str().unwrap().to_owned();
    let mut bytes = std::fs::read(victim).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(victim, &bytes).unwrap();

    // Quick verify (no key) finds it, names the pack, and exits 1.
    let quick = run(tern(&["verify", repo])).fails(1);
    let text = quick.text();
    assert!(text.contains(&pack_id), "the damaged pack is not named: {text}");
    assert!(text.contains("damaged"), "{text}");
    assert!(quick.stderr.contains("error: verification found"), "{}", quick.stderr);
    // As JSON: one document, the problems with their pack.
    let report = run(tern(&["--json", "verify", repo])).fails(1).json();
    assert_eq!(report["ok"], false);
    let problems = report["problems"].as_array().unwrap();
    assert!(!problems.is_empty());
    assert!(problems.iter().all(|p| p["pack"] == pack_id.as_str()), "{report}");
    // Deep verify names it too.
    let deep = run(tern_pw(&["verify", repo, "--deep"])).fails(1);
    assert!(deep.text().contains(&pack_id), "{}", deep.text());
    // Restoring every backup: the one(s) using the damaged chunk fail, naming the pack; none
    // writes a wrong byte to stdout silently.
    let mut failed = 0;
    for id in [&flow.first, &flow.second] {
        let r = run(tern_pw(&["restore", repo, id, "--stdout"]));
        if r.code != 0 {
            failed += 1;
            assert!(r.stderr.contains(&pack_id), "{}", r.stderr);
        }
    }
    let r = run(tern_pw(&["restore", repo, &flow.dir, "--target", work.path().join("again").to_str().unwrap()]));
    if r.code != 0 {
        failed += 1;
        assert!(r.stderr.contains(&pack_id), "{}", r.stderr);
    }
    assert!(failed > 0, "no restore noticed the damage");
}

#[test]
fn main_flow_on_real_s3() {
    let Some(base) = tern_storage::testing::real_server("TEST_S3_URL") else { return };
    let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let repo = format!("{base}/cli-{unique:x}-{}", std::process::id());
    let work = tempfile::tempdir().unwrap();
    main_flow(&repo, work.path());
}

#[test]
fn wrong_password_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let repo = repo.to_str().unwrap();
    run(tern_pw(&["init", repo])).ok();
    for args in [
        vec!["backup", repo, "--service", "db1", "--stdin", "--name", "x"],
        vec!["ls", repo],
        vec!["verify", repo, "--deep"],
    ] {
        let r = run_with(tern(&args).env("TERN_PASSWORD", "not the passphrase"), b"data").fails(1);
        assert!(r.stderr.starts_with("error: wrong key"), "{args:?}: {}", r.stderr);
    }
    let r = run(tern(&["--json", "ls", repo]).env("TERN_PASSWORD", "nope")).fails(1).json();
    assert!(r["error"].as_str().unwrap().starts_with("wrong key"), "{r}");
    // Without any key, a backup says what is needed.
    let r = run_with(tern(&["backup", repo, "--service", "db1", "--stdin", "--name", "x"]), b"data").fails(1);
    assert!(r.stderr.contains("encrypted") && r.stderr.contains("TERN_PASSWORD"), "{}", r.stderr);
}

#[test]
fn init_needs_a_key_or_no_encryption() {
    let work = tempfile::tempdir().unwrap();
    let repo_dir = work.path().join("repo");
    let repo = repo_dir.to_str().unwrap();
    let r = run(tern(&["init", repo])).fails(2);
    assert!(r.stderr.starts_with("error: an encrypted repository needs a key: set TERN_PASSWORD"), "{}", r.stderr);
    assert!(r.stderr.contains("--no-encryption"), "{}", r.stderr);
    assert!(!repo_dir.join("tern.json").exists());
    let r = run(tern(&["--json", "init", repo])).fails(2).json();
    assert!(r["error"].as_str().unwrap().contains("TERN_PASSWORD"), "{r}");
    let empty = run(tern(&["init", repo]).env("TERN_PASSWORD", "")).fails(2);
    assert!(empty.stderr.contains("TERN_PASSWORD is set but empty"), "{}", empty.stderr);

    // Unencrypted: no key anywhere.
    let init = run(tern(&["init", repo, "--no-encryption"])).ok().text();
    assert!(init.contains("UNENCRYPTED"), "{init}");
    let id =
        run_with(tern(&["-q", "backup", repo, "--service", "s", "--stdin", "--name", "n"]), b"plain data").ok().text();
    let id = id.trim();
    let out = run(tern(&["restore", repo, id, "--stdout"])).ok();
    assert_eq!(out.stdout, b"plain data");
    let keys = run(tern(&["key", "list", repo])).fails(1);
    assert!(keys.stderr.contains("not encrypted"), "{}", keys.stderr);
}

#[test]
fn json_errors_and_usage_errors() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("missing");
    let r = run(tern(&["ls", missing.to_str().unwrap()])).fails(1);
    assert!(r.stderr.contains("no such directory"), "{}", r.stderr);
    assert!(!missing.exists(), "a read-only command must not create the directory");
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let empty = empty.to_str().unwrap();
    // Not a repository: exit 1, one JSON document on stdout, nothing on stderr.
    let r = run(tern(&["--json", "ls", empty])).fails(1);
    let doc = r.json();
    assert!(doc["error"].as_str().unwrap().contains("no Tern repository"), "{doc}");
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    // Human form.
    let r = run(tern(&["ls", empty])).fails(1);
    assert!(r.stderr.starts_with("error: no Tern repository"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    // Usage errors: exit 2, also as JSON.
    let r = run(tern(&["--json", "backup", empty, "--service", "s"])).fails(2).json();
    assert!(r["error"].as_str().unwrap().contains("required"), "{r}");
    let r = run(tern(&["backup", empty, "--service", "s", "--stdin"])).fails(2);
    assert!(r.stderr.contains("--name"), "{}", r.stderr);
    let r = run(tern(&["restore", empty, "20261121T114500.123Z-3f9a2c1b"])).fails(2);
    assert!(r.stderr.contains("--stdout"), "{}", r.stderr);
    let r = run(tern(&["--json", "ls", "s3:bucket"])).fails(2).json();
    assert!(r["error"].as_str().unwrap().contains("s3://"), "{r}");
    let r = run(tern(&["backup", empty, "--service", "s", "--level", "40", "x"])).fails(2);
    assert!(r.stderr.contains("--level"), "{}", r.stderr);
    let r = run(tern(&["verify", empty, "--deep", "--sample", "5"])).fails(2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
    // Help and version succeed.
    let help = run(tern(&["--help"])).ok().text();
    for command in ["init", "backup", "restore", "ls", "verify", "gc", "key"] {
        assert!(help.contains(command), "{help}");
    }
    run(tern(&["--version"])).ok();
}

#[test]
fn gc_lists_then_deletes_unreferenced_packs() {
    let work = tempfile::tempdir().unwrap();
    let repo_dir = work.path().join("repo");
    let repo = repo_dir.to_str().unwrap();
    run(tern_pw(&["init", repo])).ok();
    run_with(tern_pw(&["backup", repo, "--service", "db", "--stdin", "--name", "d"]), &data(100_000, 9)).ok();
    // An orphan, as an interrupted backup leaves behind.
    let orphan = repo_dir.join("packs/00").join("00".repeat(32));
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"orphaned pack").unwrap();

    // Younger than the default grace period: kept, and said so.
    let r = run(tern(&["gc", repo])).ok().text();
    assert!(r.contains("nothing to collect") && r.contains("kept 1 unreferenced object"), "{r}");
    // With no grace: listed, not deleted.
    let r = run(tern(&["gc", repo, "--grace", "0s"])).ok().text();
    assert!(r.contains("would delete 1 pack and 0 manifests") && r.contains(&"00".repeat(32)), "{r}");
    assert!(r.contains("dry run"), "{r}");
    assert!(orphan.exists());
    // Applied.
    let r = run(tern(&["--json", "gc", repo, "--grace", "0s", "--apply"])).ok().json();
    assert_eq!(r["deleted"], true);
    assert_eq!(r["packs"][0]["size"], 13);
    assert!(!orphan.exists());
    run(tern_pw(&["verify", repo, "--deep"])).ok();
}

#[test]
fn key_files_and_key_management() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let repo = repo.to_str().unwrap();
    let key = work.path().join("repo.key");
    let key = key.to_str().unwrap();

    // init writes a new key file
    let init = run(tern(&["init", repo, "--key-file", key])).ok().text();
    assert!(init.contains("wrote a new key file"), "{init}");
    assert_eq!(std::fs::read(key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let id = run_with(
        &mut tern(&["--key-file", key, "backup", repo, "--service", "s", "--stdin", "--name", "n", "-q"]),
        b"x",
    )
    .ok()
    .text();
    let id = id.trim().to_owned();
    // TERN_KEY_FILE works as --key-file does
    run(tern(&["restore", repo, &id, "--stdout"]).env("TERN_KEY_FILE", key)).ok();
    // the passphrase does not open it (yet)
    run(tern_pw(&["restore", repo, &id, "--stdout"])).fails(1);

    // add a passphrase slot, authorised by the key file
    let r =
        run(tern(&["--key-file", key, "--json", "key", "add", repo]).env("TERN_NEW_PASSWORD", PASSWORD)).ok().json();
    let added = r["slot"].as_str().unwrap().to_owned();
    let restored = run(tern_pw(&["restore", repo, &id, "--stdout"])).ok();
    assert_eq!(restored.stdout, b"x");

    // list (no key needed)
    let list = run(tern(&["--json", "key", "list", repo])).ok().json();
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{list}");
    assert_eq!(keys[0]["kind"], "key file");
    assert_eq!(keys[1]["kind"], "passphrase");
    assert_eq!(keys[1]["id"], added.as_str());
    let file_slot = keys[0]["id"].as_str().unwrap().to_owned();
    let table = run(tern(&["key", "list", repo])).ok().text();
    assert!(table.contains(&file_slot) && table.contains(&added), "{table}");

    // adding needs both keys
    let r = run(tern(&["key", "add", repo])).fails(2);
    assert!(r.stderr.contains("needs a current key"), "{}", r.stderr);
    let r = run(tern_pw(&["key", "add", repo])).fails(2);
    assert!(r.stderr.contains("TERN_NEW_PASSWORD"), "{}", r.stderr);
    // a second key file, authorised by the passphrase
    let second_key = work.path().join("second.key");
    run(tern_pw(&["key", "add", repo, "--new-key-file", second_key.to_str().unwrap()])).ok();
    run(tern(&["--key-file", second_key.to_str().unwrap(), "restore", repo, &id, "--stdout"])).ok();

    // remove the first key file's slot: it no longer opens the repository
    let r = run(tern_pw(&["key", "remove", repo, &file_slot])).ok().text();
    assert!(r.contains(&file_slot), "{r}");
    let r = run(tern(&["--key-file", key, "restore", repo, &id, "--stdout"])).fails(1);
    assert!(r.stderr.contains("wrong key"), "{}", r.stderr);
    // an unknown slot
    let r = run(tern_pw(&["key", "remove", repo, "ffffffff"])).fails(1);
    assert!(r.stderr.contains("ffffffff"), "{}", r.stderr);
    // a key file that is too short is refused with a clear message
    let short = work.path().join("short.key");
    std::fs::write(&short, b"short").unwrap();
    let r = run(tern(&["--key-file", short.to_str().unwrap(), "ls", repo])).fails(1);
    assert!(r.stderr.contains("at least 32 bytes"), "{}", r.stderr);
}

/// Issue #4 from the command line: consistent points, log segments, windows, plans (including
/// the gap error), catalog listing with filters, and delete refused while an incremental
/// depends on a backup.
#[test]
fn pitr_from_the_command_line_on_a_local_folder() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    pitr_flow(repo.to_str().unwrap(), work.path());
}

#[test]
fn pitr_from_the_command_line_on_real_s3() {
    let Some(base) = tern_storage::testing::real_server("TEST_S3_URL") else { return };
    let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let repo = format!("{base}/cli-pitr-{unique:x}-{}", std::process::id());
    let work = tempfile::tempdir().unwrap();
    pitr_flow(&repo, work.path());
}

#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
fn pitr_flow(repo: &str, work: &Path) {
    run(tern_pw(&["init", repo])).ok();
    let full = run_with(
        tern_pw(&[
            "-q",
            "backup",
            repo,
            "--service",
            "orders",
            "--stdin",
            "--name",
            "base",
            "--kind",
            "full",
            "--consistent-time",
            "2026-11-20T00:00:00Z",
            "--position",
            "mariadb:mysql-bin.000001:4",
        ]),
        &data(200_000, 21),
    )
    .ok()
    .text()
    .trim()
    .to_owned();
    let incr = run_with(
        tern_pw(&[
            "-q",
            "backup",
            repo,
            "--service",
            "orders",
            "--stdin",
            "--name",
            "incr",
            "--kind",
            "incremental",
            "--parent",
            &full,
            "--consistent-time",
            "2026-11-20T03:00:00Z",
            "--position",
            "mariadb:mysql-bin.000001:5000",
        ]),
        &data(50_000, 22),
    )
    .ok()
    .text()
    .trim()
    .to_owned();
    let segments = [
        (
            "mysql-bin.000001",
            "mariadb:mysql-bin.000001:4",
            "mariadb:mysql-bin.000002:4",
            "2026-11-20T00:00:00Z",
            "2026-11-20T06:00:00Z",
        ),
        (
            "mysql-bin.000002",
            "mariadb:mysql-bin.000002:4",
            "mariadb:mysql-bin.000003:4",
            "2026-11-20T06:00:00Z",
            "2026-11-20T12:00:00Z",
        ),
        (
            "mysql-bin.000004",
            "mariadb:mysql-bin.000004:4",
            "mariadb:mysql-bin.000005:4",
            "2026-11-20T18:00:00Z",
            "2026-11-20T23:00:00Z",
        ),
    ];
    for (i, segment) in segments.into_iter().enumerate() {
        push_segment(repo, "orders", work, segment, &data(30_000, 30 + i as u64));
    }
    let windows = run(tern_pw(&["--json", "pitr", "windows", repo, "--service", "orders"])).ok().json();
    let windows = windows["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1, "{windows:?}");

    // 10:00 plans from the incremental, with the logs after it.
    let plan = run(tern_pw(&["--json", "pitr", "plan", repo, "--service", "orders", "--time", "2026-11-20T10:00:00Z"]))
        .ok()
        .json();
    let text = plan.to_string();
    assert!(text.contains(&full) && text.contains(&incr), "{plan}");
    assert!(text.contains("mysql-bin.000002"), "{plan}");
    let human =
        run(tern_pw(&["pitr", "plan", repo, "--service", "orders", "--time", "2026-11-20T10:00:00Z"])).ok().text();
    assert!(human.ends_with('\n') && human.contains("mysql-bin.000001"), "{human}");

    // 20:00 falls in the gap: refused, naming the missing range.
    let gap = run(tern_pw(&["pitr", "plan", repo, "--service", "orders", "--time", "2026-11-20T20:00:00Z"])).fails(1);
    assert!(gap.stderr.contains("mysql-bin.000003:4") && gap.stderr.contains("mysql-bin.000004:4"), "{}", gap.stderr);

    // ls reads the catalog, with filters and paging.
    let logs = run(tern_pw(&["--json", "ls", repo, "--kind", "log"])).ok().json();
    assert_eq!(logs["backups_count"], 3, "{logs}");
    let page = run(tern_pw(&["--json", "ls", repo, "--page-size", "2", "--page", "3"])).ok().json();
    assert_eq!((page["backups_count"].as_u64(), page["pages_count"].as_u64()), (Some(5), Some(3)), "{page}");
    assert_eq!(page["backups"].as_array().unwrap().len(), 1);
    let bad = run(tern_pw(&["ls", repo, "--page-size", "0"])).fails(2);
    assert!(bad.stderr.contains("page"), "{}", bad.stderr);

    // The full cannot go while the incremental depends on it...
    let refused = run(tern_pw(&["rm", repo, &full, "--service", "orders"])).fails(1);
    assert!(refused.stderr.contains(&incr), "{}", refused.stderr);
    // ...the incremental can, and then the full.
    run(tern_pw(&["rm", repo, &incr, "--service", "orders"])).ok();
    run(tern_pw(&["rm", repo, &full, "--service", "orders"])).ok();
    let left = run(tern_pw(&["--json", "ls", repo])).ok().json();
    assert_eq!(left["backups_count"], 3, "only the log segments are left: {left}");
}

#[test]
fn replicate_then_restore_from_the_secondary() {
    let work = tempfile::tempdir().unwrap();
    let (eu, us) = (work.path().join("eu"), work.path().join("us"));
    let (eu, us) = (eu.to_str().unwrap(), us.to_str().unwrap());
    run(tern_pw(&["init", eu])).ok();
    let input = data(1 << 20, 41);
    let id = run_with(tern_pw(&["-q", "backup", eu, "--service", "db1", "--stdin", "--name", "d"]), &input)
        .ok()
        .text()
        .trim()
        .to_owned();
    // No key needed to replicate.
    let report = run(tern(&["--json", "replicate", eu, us])).ok().json();
    assert_eq!(report["report"]["records_copied"], 1, "{report}");
    let again = run(tern(&["--json", "replicate", eu, us])).ok().json();
    assert_eq!(again["report"]["records_copied"], 0, "{again}");
    let listed = run(tern_pw(&["--json", "ls", us])).ok().json();
    assert_eq!(listed["backups"][0]["id"], id.as_str(), "{listed}");
    let out = run(tern_pw(&["restore", us, &id, "--stdout"])).ok();
    assert!(out.stdout == input, "restored from the secondary");
    // With --service, a lag sample is stored in the secondary and reported by `tern lag`.
    let measured = run(tern(&["--json", "replicate", eu, us, "--service", "db1"])).ok().json();
    assert_eq!(measured["lag"]["pending_objects"], 0, "{measured}");
    let lag = run(tern(&["--json", "lag", us, "--service", "db1", "--period", "hour"])).ok().json();
    assert_eq!(lag["series"].as_array().unwrap().len(), 1, "{lag}");
    assert_eq!(lag["current"]["lag_secs"], 0.0, "{lag}");
    let bad = run(tern(&["lag", us, "--service", "db1", "--period", "fortnight"])).fails(2);
    assert!(bad.stderr.contains("fortnight"), "{}", bad.stderr);
}

// ---------------------------------------------------------------------------------------------
// Copy on demand, replication settings, continuous replication, planning in a secondary.

/// `tern` with TERN_PASSWORD, and no destination key from the caller's environment: each test
/// gives `copy` its destination key explicitly.
fn tern_copy(args: &[&str]) -> Command {
    let mut cmd = tern_pw(args);
    cmd.env_remove("TERN_TO_PASSWORD").env_remove("TERN_TO_KEY_FILE");
    cmd
}

/// A stdin backup of `input` into `repo` for service db1 (plus `extra` arguments); its id.
fn backup_db1(repo: &str, extra: &[&str], input: &[u8]) -> String {
    let mut args = vec!["-q", "backup", repo, "--service", "db1", "--stdin", "--name", "dump.sql"];
    args.extend_from_slice(extra);
    let id = run_with(tern_pw(&args), input).ok().text().trim().to_owned();
    assert_eq!(id.len(), "20261121T114500.123Z-3f9a2c1b".len(), "not a backup id: {id}");
    id
}

/// A log segment of service db1: native name, start and end positions, start and end times.
type Segment<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// `tern log push` of `segment` (its bytes from `seed`) to service db1; the JSON document.
fn push_db1(repo: &str, work: &Path, segment: Segment<'_>, seed: u64) -> Value {
    push_segment(repo, "db1", work, segment, &data(20_000, seed))
}

/// `tern log push` of `segment` with `bytes` as its content; the JSON document (`segment`,
/// `backup`).
fn push_segment(repo: &str, service: &str, work: &Path, segment: Segment<'_>, bytes: &[u8]) -> Value {
    let (name, start, end, t0, t1) = segment;
    let file = work.join(name);
    std::fs::write(&file, bytes).unwrap();
    let file = file.to_str().unwrap();
    let args = [
        "--json",
        "log",
        "push",
        repo,
        "--service",
        service,
        "--name",
        name,
        "--start-pos",
        start,
        "--end-pos",
        end,
        "--start-time",
        t0,
        "--end-time",
        t1,
        file,
    ];
    let pushed = run(tern_pw(&args)).ok().json();
    assert_eq!(pushed["segment"]["id"], pushed["backup"]["id"], "{pushed}");
    pushed
}

const SEG1: Segment<'static> = (
    "mysql-bin.000001",
    "mariadb:mysql-bin.000001:4",
    "mariadb:mysql-bin.000002:4",
    "2026-11-20T00:00:00Z",
    "2026-11-20T06:00:00Z",
);
const SEG2: Segment<'static> = (
    "mysql-bin.000002",
    "mariadb:mysql-bin.000002:4",
    "mariadb:mysql-bin.000003:4",
    "2026-11-20T06:00:00Z",
    "2026-11-20T12:00:00Z",
);
const SEG3: Segment<'static> = (
    "mysql-bin.000003",
    "mariadb:mysql-bin.000003:4",
    "mariadb:mysql-bin.000004:4",
    "2026-11-20T12:00:00Z",
    "2026-11-20T18:00:00Z",
);

/// Total size of the files under `dir` (0 when it does not exist).
fn size_under(dir: &Path) -> u64 {
    if !dir.exists() {
        return 0;
    }
    files_under(dir).iter().map(|f| std::fs::metadata(f).unwrap().len()).sum()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The ids `tern ls --json` lists in `repo` (unlocked with `password`).
fn listed_ids(repo: &str, password: &str) -> Vec<String> {
    let listed = run(tern(&["--json", "ls", repo]).env("TERN_PASSWORD", password)).ok().json();
    let mut out: Vec<String> =
        listed["backups"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_owned()).collect();
    out.sort();
    out
}

#[test]
fn copy_into_an_empty_location_makes_a_clone_with_the_same_keys() {
    let work = tempfile::tempdir().unwrap();
    let (src, dst) = (work.path().join("src"), work.path().join("dst"));
    let (src, dst_path) = (src.to_str().unwrap(), dst.as_path());
    let dst = dst_path.to_str().unwrap();
    run(tern_pw(&["init", src])).ok();
    let input = data(300 << 10, 51);
    let id = backup_db1(src, &[], &input);
    let other = backup_db1(src, &[], &data(10_000, 52));

    // No key is needed: the destination becomes a clone of the source's tern.json.
    let copy = run(tern_copy(&["--json", "copy", src, dst, &id]).env_remove("TERN_PASSWORD")).ok().json();
    let report = &copy["copy"];
    assert_eq!(report["mode"], "bytes", "{copy}");
    assert_eq!(ids(&report["copied"]), [id.as_str()], "{copy}");
    assert_eq!(ids(&report["already_present"]), Vec::<String>::new(), "{copy}");
    assert_eq!((report["segments_copied"].as_u64(), report["packs_present"].as_u64()), (Some(0), Some(0)), "{copy}");
    assert_eq!(report["packs_copied"].as_u64(), Some(files_under(&dst_path.join("packs")).len() as u64), "{copy}");
    // Every byte sent is a pack or the manifest, and every pack and manifest was sent.
    let written = size_under(&dst_path.join("packs")) + size_under(&dst_path.join("manifests"));
    assert_eq!(report["bytes_copied"].as_u64(), Some(written), "{copy}");
    assert!(written > input.len() as u64, "random data does not compress: {copy}");
    assert_eq!(
        std::fs::read(dst_path.join("tern.json")).unwrap(),
        std::fs::read(Path::new(src).join("tern.json")).unwrap(),
        "the destination shares the source's configuration (and keys)"
    );

    // Only that backup is there, and it restores with the same passphrase.
    assert_eq!(listed_ids(dst, PASSWORD), [id.as_str()]);
    let restored = run(tern_pw(&["restore", dst, &id, "--stdout"])).ok();
    assert!(restored.stdout == input, "restored {} bytes from the copy, differ from the input", restored.stdout.len());
    let deep = run(tern_pw(&["verify", dst, "--deep"])).ok().text();
    assert!(deep.contains("checked 1 backup") && deep.contains("no problems found"), "{deep}");
    let missing = run(tern_pw(&["restore", dst, &other, "--stdout"]));
    assert_ne!(missing.code, 0, "a backup that was not copied restores from the copy");

    // Again: nothing to do.
    let again = run(tern_copy(&["--json", "copy", src, dst, &id])).ok().json();
    let report = &again["copy"];
    assert_eq!(report["mode"], "bytes", "{again}");
    assert_eq!(ids(&report["copied"]), Vec::<String>::new(), "{again}");
    assert_eq!(ids(&report["already_present"]), [id.as_str()], "{again}");
    assert_eq!((report["packs_copied"].as_u64(), report["bytes_copied"].as_u64()), (Some(0), Some(0)), "{again}");
    // The human form says so.
    let human = run(tern_copy(&["copy", src, dst, &id])).ok().text();
    assert!(human.starts_with("copied 0 backups as bytes (same keys): 0 B in 0 packs, 0 segments, in "), "{human}");
    assert!(human.ends_with("\n1 backup already in the destination\n"), "{human}");

    // The second backup joins the first; the human output ends with its id.
    let human = run(tern_copy(&["copy", src, dst, &other])).ok().text();
    assert!(human.starts_with("copied 1 backup as bytes (same keys): "), "{human}");
    assert!(human.ends_with(&format!("\n{other}\n")), "{human}");
    let mut both = vec![id.clone(), other.clone()];
    both.sort();
    assert_eq!(listed_ids(dst, PASSWORD), both);

    // An unknown backup is refused, naming it.
    let unknown = "20261121T114500.123Z-3f9a2c1b";
    let r = run(tern_copy(&["copy", src, dst, unknown])).fails(1);
    assert_eq!(r.stderr, format!("error: backup {unknown} is not in the source repository\n"));
    // A copy that cannot start creates no destination.
    let fresh = work.path().join("fresh");
    run(tern_copy(&["copy", src, fresh.to_str().unwrap(), unknown])).fails(1);
    assert!(!fresh.exists(), "nothing was created for a refused copy");

    // --bandwidth-limit is applied: at 200 kB/s the manifest waits for the ~300 kB pack sent
    // before it (a lower bound only; a slow machine just takes longer).
    let slow = work.path().join("slow");
    let started = std::time::Instant::now();
    let limited =
        run(tern_copy(&["--json", "copy", src, slow.to_str().unwrap(), &id, "--bandwidth-limit", "200k"])).ok().json();
    let elapsed = started.elapsed();
    assert_eq!(ids(&limited["copy"]["copied"]), [id.as_str()], "{limited}");
    assert!(elapsed >= std::time::Duration::from_millis(1400), "300 kB at 200 kB/s took only {elapsed:?}");
    let restored = run(tern_pw(&["restore", slow.to_str().unwrap(), &id, "--stdout"])).ok();
    assert!(restored.stdout == input, "restored from the rate-limited copy");
}

#[test]
fn copy_into_a_repository_with_other_keys_reencrypts() {
    const THEIRS: &str = "the destination's own passphrase 41c2";
    let work = tempfile::tempdir().unwrap();
    let (src, dst_dir) = (work.path().join("src"), work.path().join("theirs"));
    let (src, dst) = (src.to_str().unwrap(), dst_dir.to_str().unwrap());
    run(tern_pw(&["init", src])).ok();
    run(tern(&["init", dst]).env("TERN_PASSWORD", THEIRS)).ok();
    let input = data(300 << 10, 61);
    let id = backup_db1(src, &[], &input);
    let empty_destination = || {
        assert_eq!(files_under(&dst_dir), [dst_dir.join("tern.json")], "something was copied");
        assert_eq!(listed_ids(dst, THEIRS), Vec::<String>::new());
    };

    // Without the destination's key: refused, nothing copied.
    let refused = run(tern_copy(&["copy", src, dst, &id])).fails(1);
    assert_eq!(
        refused.stderr,
        "error: the destination has other keys, so the copy is re-encrypted: both repositories must be unlocked, and \
         the destination is not\n"
    );
    assert!(refused.stdout.is_empty(), "{}", refused.text());
    let refused = run(tern_copy(&["--json", "copy", src, dst, &id])).fails(1).json();
    assert_eq!(
        refused["error"],
        "the destination has other keys, so the copy is re-encrypted: both repositories must be unlocked, and the \
         destination is not"
    );
    empty_destination();
    // With the destination's key but not the source's: refused too.
    let locked =
        run(tern_copy(&["copy", src, dst, &id]).env_remove("TERN_PASSWORD").env("TERN_TO_PASSWORD", THEIRS)).fails(1);
    assert!(locked.stderr.contains("must be unlocked, and the source is not"), "{}", locked.stderr);
    // A wrong destination passphrase.
    let wrong = run(tern_copy(&["copy", src, dst, &id]).env("TERN_TO_PASSWORD", "not theirs")).fails(1);
    assert!(wrong.stderr.starts_with("error: cannot open the destination: wrong key"), "{}", wrong.stderr);
    empty_destination();

    // With it: re-encrypted.
    let copy = run(tern_copy(&["--json", "copy", src, dst, &id]).env("TERN_TO_PASSWORD", THEIRS)).ok();
    assert!(!copy.text().contains(THEIRS) && !copy.stderr.contains(THEIRS), "the destination passphrase was printed");
    let copy = copy.json();
    let report = &copy["copy"];
    assert_eq!(report["mode"], "reencrypted", "{copy}");
    assert_eq!(ids(&report["copied"]), [id.as_str()], "{copy}");
    assert_eq!(ids(&report["already_present"]), Vec::<String>::new(), "{copy}");
    assert_eq!(
        (report["packs_copied"].as_u64(), report["packs_present"].as_u64(), report["segments_copied"].as_u64()),
        (Some(1), Some(0), Some(0)),
        "{copy}"
    );
    assert!(report["bytes_copied"].as_u64().unwrap() >= input.len() as u64, "{copy}");
    assert_ne!(
        std::fs::read(dst_dir.join("tern.json")).unwrap(),
        std::fs::read(Path::new(src).join("tern.json")).unwrap(),
        "the destination keeps its own configuration"
    );

    // The destination restores it with its own passphrase, and not with the source's.
    assert_eq!(listed_ids(dst, THEIRS), [id.as_str()]);
    let restored = run(tern(&["restore", dst, &id, "--stdout"]).env("TERN_PASSWORD", THEIRS)).ok();
    assert!(restored.stdout == input, "restored {} bytes from the destination, differ", restored.stdout.len());
    let r = run(tern_pw(&["restore", dst, &id, "--stdout"])).fails(1);
    assert!(r.stderr.starts_with("error: wrong key"), "{}", r.stderr);
    run(tern(&["verify", dst, "--deep"]).env("TERN_PASSWORD", THEIRS)).ok();

    // Again: already there.
    let again = run(tern_copy(&["--json", "copy", src, dst, &id]).env("TERN_TO_PASSWORD", THEIRS)).ok().json();
    assert_eq!(ids(&again["copy"]["copied"]), Vec::<String>::new(), "{again}");
    assert_eq!(ids(&again["copy"]["already_present"]), [id.as_str()], "{again}");

    // A destination unlocked by a key file: --to-key-file.
    let (keyed, key) = (work.path().join("keyed"), work.path().join("keyed.key"));
    let (keyed, key) = (keyed.to_str().unwrap(), key.to_str().unwrap());
    run(tern(&["init", keyed, "--key-file", key])).ok();
    let r = run(tern_copy(&["--json", "copy", src, keyed, &id, "--to-key-file", key])).ok().json();
    assert_eq!(r["copy"]["mode"], "reencrypted", "{r}");
    assert_eq!(ids(&r["copy"]["copied"]), [id.as_str()], "{r}");
    let restored = run(tern(&["--key-file", key, "restore", keyed, &id, "--stdout"])).ok();
    assert!(restored.stdout == input, "restored from the key-file destination");
}

#[test]
fn copy_brings_the_parents_and_with_logs_the_segments_up_to_the_next_backup() {
    let work = tempfile::tempdir().unwrap();
    let (src, dst) = (work.path().join("src"), work.path().join("dst"));
    let (src, dst) = (src.to_str().unwrap(), dst.to_str().unwrap());
    run(tern_pw(&["init", src])).ok();
    let at = |kind: &'static str, time: &'static str, pos: &'static str| {
        ["--kind", kind, "--consistent-time", time, "--position", pos]
    };
    let full = backup_db1(src, &at("full", "2026-11-20T00:00:00Z", "mariadb:mysql-bin.000001:4"), &data(200_000, 71));
    let mut incr_args = at("incremental", "2026-11-20T03:00:00Z", "mariadb:mysql-bin.000001:5000").to_vec();
    incr_args.extend(["--parent", &full]);
    let incr_input = data(50_000, 72);
    let incr = backup_db1(src, &incr_args, &incr_input);
    // The next backup: segments from its point on are not needed by the incremental.
    let next = backup_db1(src, &at("full", "2026-11-20T12:00:00Z", "mariadb:mysql-bin.000003:4"), &data(50_000, 73));
    let seg1 = push_db1(src, work.path(), SEG1, 74)["segment"]["id"].as_str().unwrap().to_owned();
    let seg2 = push_db1(src, work.path(), SEG2, 75)["segment"]["id"].as_str().unwrap().to_owned();
    let seg3 = push_db1(src, work.path(), SEG3, 76)["segment"]["id"].as_str().unwrap().to_owned();

    // Without --with-logs: the incremental and the full it needs, parent first.
    let parents_only = work.path().join("parents-only");
    let parents_only = parents_only.to_str().unwrap();
    let r = run(tern_copy(&["--json", "copy", src, parents_only, &incr])).ok().json();
    assert_eq!(ids(&r["copy"]["copied"]), [full.clone(), incr.clone()], "{r}");
    assert_eq!(r["copy"]["segments_copied"], 0, "{r}");
    let restored = run(tern_pw(&["restore", parents_only, &incr, "--stdout"])).ok();
    assert!(restored.stdout == incr_input, "the incremental restores from the copy");

    // With --with-logs: also the segments from 03:00 up to the next backup at 12:00.
    let r = run(tern_copy(&["--json", "copy", src, dst, &incr, "--with-logs"])).ok().json();
    let report = &r["copy"];
    assert_eq!(report["mode"], "bytes", "{r}");
    assert_eq!(ids(&report["copied"]), [full.clone(), incr.clone(), seg1.clone(), seg2.clone()], "{r}");
    assert_eq!(report["segments_copied"], 2, "{r}");
    assert_eq!(report["packs_copied"], 4, "one pack per backup: {r}");
    let mut expected = vec![full.clone(), incr.clone(), seg1.clone(), seg2.clone()];
    expected.sort();
    assert_eq!(listed_ids(dst, PASSWORD), expected, "neither {next} nor {seg3} is copied");
    // The copy plans a recovery to 10:00 by itself: the full, the incremental, both segments.
    let plan = run(tern_pw(&["--json", "pitr", "plan", dst, "--service", "db1", "--time", "2026-11-20T10:00:00Z"]))
        .ok()
        .json();
    let plan = &plan["plan"];
    assert_eq!(plan["base"]["id"], full.as_str(), "{plan}");
    assert_eq!(plan["incrementals"].as_array().unwrap().len(), 1, "{plan}");
    assert_eq!(plan["incrementals"][0]["id"], incr.as_str(), "{plan}");
    let names: Vec<&str> = plan["segments"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["mysql-bin.000001", "mysql-bin.000002"], "{plan}");
    // ...but not past them: 13:00 needs the segment that was left behind.
    run(tern_pw(&["pitr", "plan", dst, "--service", "db1", "--time", "2026-11-20T13:00:00Z"])).fails(1);

    // Again: all of it is already there.
    let again = run(tern_copy(&["--json", "copy", src, dst, &incr, "--with-logs"])).ok().json();
    assert_eq!(ids(&again["copy"]["copied"]), Vec::<String>::new(), "{again}");
    assert_eq!(ids(&again["copy"]["already_present"]), [full, incr, seg1, seg2], "{again}");
    assert_eq!(again["copy"]["segments_copied"], 0, "{again}");
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
fn replication_settings_enable_pause_resume_disable() {
    let work = tempfile::tempdir().unwrap();
    let (primary, secondary) = (work.path().join("primary"), work.path().join("secondary"));
    let (primary, secondary) = (primary.to_str().unwrap(), secondary.to_str().unwrap());
    run(tern_pw(&["init", primary])).ok();
    let first = backup_db1(primary, &[], &data(100_000, 81));
    let show = || run(tern(&["--json", "replication", "show", primary, "--service", "db1"])).ok().json();

    // No settings yet.
    assert_eq!(show(), serde_json::json!({ "service": "db1", "replication": null }));
    let human = run(tern(&["replication", "show", primary, "--service", "db1"])).ok().text();
    assert_eq!(human, "db1: no replication settings (passes copy it whenever they run)\n");

    // Enable: locations are stored in display form (no query options); region names as given.
    let args = [
        "--json",
        "replication",
        "enable",
        primary,
        "--service",
        "db1",
        "--secondary",
        "s3://backups-us/db1?region=us-east-1&endpoint=https://s3.us-east-1.example.com",
        "--secondary",
        "eu-central-1",
    ];
    let enabled = run(tern(&args)).ok().json();
    let settings = serde_json::json!({
        "service": "db1",
        "replication": { "service": "db1", "secondaries": ["s3://backups-us/db1", "eu-central-1"], "enabled": true },
    });
    assert_eq!(enabled, settings);
    assert_eq!(show(), settings);
    // Credentials in a location are refused, and not echoed; the settings are unchanged.
    let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";
    let creds = format!("s3://AKIAEXAMPLE:{secret}@backups-us/db1");
    let r = run(tern(&["replication", "enable", primary, "--service", "db1", "--secondary", &creds])).fails(2);
    assert!(r.stderr.contains("credentials in the URL are not accepted"), "{}", r.stderr);
    assert!(!r.stderr.contains(secret) && !r.text().contains(secret), "the secret was printed: {}", r.stderr);
    assert_eq!(show(), settings);

    // Pause needs a reason (a usage error).
    let r = run(tern(&["replication", "pause", primary, "--service", "db1"])).fails(2);
    assert!(r.stderr.contains("--reason"), "{}", r.stderr);
    let r = run(tern(&["--json", "replication", "pause", primary, "--service", "db1"])).fails(2).json();
    assert!(r["error"].as_str().unwrap().contains("--reason"), "{r}");
    assert_eq!(show(), settings);
    let paused = run(tern(&["--json", "replication", "pause", primary, "--service", "db1", "--reason", "bucket move"]))
        .ok()
        .json();
    let paused_settings = serde_json::json!({
        "service": "db1",
        "replication": {
            "service": "db1",
            "secondaries": ["s3://backups-us/db1", "eu-central-1"],
            "enabled": true,
            "paused": "bucket move",
        },
    });
    assert_eq!(paused, paused_settings);
    assert_eq!(show(), paused_settings);
    let human = run(tern(&["replication", "show", primary, "--service", "db1"])).ok().text();
    assert_eq!(human, "db1: paused: bucket move → s3://backups-us/db1, eu-central-1\n");

    // A pass skips the paused service and copies nothing.
    let pass = run(tern(&["--json", "replicate", primary, secondary])).ok().json();
    let report = &pass["report"];
    assert_eq!(report["skipped"], serde_json::json!([{ "service": "db1", "reason": "paused: bucket move" }]), "{pass}");
    assert_eq!((report["records_copied"].as_u64(), report["packs_copied"].as_u64()), (Some(0), Some(0)), "{pass}");
    let human = run(tern(&["replicate", primary, secondary])).ok().text();
    assert_eq!(
        human,
        "skipped db1: paused: bucket move\ncopied 0 backups (0 packs, 0 segments); 0 packs already there\n\
         0 B written to the secondary\n"
    );
    // -q keeps the skip (the essential part).
    let quiet = run(tern(&["-q", "replicate", primary, secondary])).ok().text();
    assert_eq!(quiet, "skipped db1: paused: bucket move\n");
    assert_eq!(listed_ids(secondary, PASSWORD), Vec::<String>::new());
    assert!(!Path::new(secondary).join("packs").exists(), "no pack was copied");

    // Resume: the next pass copies.
    let resumed = run(tern(&["--json", "replication", "resume", primary, "--service", "db1"])).ok().json();
    assert_eq!(resumed, settings);
    let pass = run(tern(&["--json", "replicate", primary, secondary])).ok().json();
    assert_eq!(pass["report"]["skipped"], serde_json::json!([]), "{pass}");
    assert_eq!(pass["report"]["records_copied"], 1, "{pass}");
    assert_eq!(listed_ids(secondary, PASSWORD), [first.as_str()]);

    // Disable: what was copied stays, new backups are not copied.
    let disabled = run(tern(&["--json", "replication", "disable", primary, "--service", "db1"])).ok().json();
    let disabled_settings = serde_json::json!({
        "service": "db1",
        "replication": { "service": "db1", "secondaries": ["s3://backups-us/db1", "eu-central-1"], "enabled": false },
    });
    assert_eq!(disabled, disabled_settings);
    assert_eq!(show(), disabled_settings);
    let human = run(tern(&["replication", "show", primary, "--service", "db1"])).ok().text();
    assert_eq!(human, "db1: disabled → s3://backups-us/db1, eu-central-1\n");
    let second = backup_db1(primary, &[], &data(100_000, 82));
    let pass = run(tern(&["--json", "replicate", primary, secondary, "--service", "db1"])).ok().json();
    assert_eq!(pass["report"]["skipped"], serde_json::json!([{ "service": "db1", "reason": "disabled" }]), "{pass}");
    assert_eq!(pass["report"]["records_copied"], 0, "{pass}");
    assert_eq!(pass["lag"]["pending_objects"], 1, "the lag is still measured: {pass}");
    assert_eq!(listed_ids(secondary, PASSWORD), [first.as_str()]);
    // A disabled service cannot be paused or resumed, only enabled.
    let r = run(tern(&["replication", "pause", primary, "--service", "db1", "--reason", "x"])).fails(1);
    assert!(r.stderr.contains("enable it first"), "{}", r.stderr);
    let r = run(tern(&["replication", "resume", primary, "--service", "db1"])).fails(1);
    assert!(r.stderr.contains("enable it instead"), "{}", r.stderr);
    // Enabling again without --secondary keeps the recorded ones, and the next pass catches up.
    let enabled = run(tern(&["--json", "replication", "enable", primary, "--service", "db1"])).ok().json();
    assert_eq!(enabled, settings);
    let pass = run(tern(&["--json", "replicate", primary, secondary])).ok().json();
    assert_eq!(pass["report"]["records_copied"], 1, "{pass}");
    let mut both = vec![first, second];
    both.sort();
    assert_eq!(listed_ids(secondary, PASSWORD), both);
}

/// Lines of a child's stdout, read on a thread so that a stuck child cannot hang the test.
fn line_reader(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// Kills the child when the test fails before it stops it.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn replicate_watch_copies_new_backups_until_sigterm() {
    // Liveness bounds only: a broken watcher fails the test instead of hanging it.
    const BOUND: std::time::Duration = std::time::Duration::from_secs(60);
    let work = tempfile::tempdir().unwrap();
    let (primary, secondary) = (work.path().join("primary"), work.path().join("secondary"));
    let (primary, secondary) = (primary.to_str().unwrap(), secondary.to_str().unwrap());
    run(tern_pw(&["init", primary])).ok();
    let first = backup_db1(primary, &[], &data(100_000, 91));

    let stderr_path = work.path().join("watch.stderr");
    let args = ["--json", "replicate", primary, secondary, "--watch", "--interval", "200ms", "--service", "db1"];
    let child = tern(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("tern starts");
    let mut watcher = Reaper(child);
    let lines = line_reader(watcher.0.stdout.take().unwrap());
    let stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    // Reads pass events until one copied a backup; every event before it must be an idle pass.
    let next_copy = || -> Value {
        loop {
            let line = lines.recv_timeout(BOUND).unwrap_or_else(|e| panic!("no pass ({e}); stderr: {}", stderr()));
            let event: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON document per line ({e}): {line}"));
            assert_eq!(event["event"], "pass", "{event}");
            assert_eq!(event["next_pass_in_secs"], 0.2, "{event}");
            match event["report"]["records_copied"].as_u64() {
                Some(0) => {}
                Some(1) => return event,
                _ => panic!("unexpected pass: {event}"),
            }
        }
    };

    let copied = next_copy();
    assert_eq!(copied["report"]["packs_copied"], 1, "{copied}");
    assert_eq!(copied["lag"]["pending_objects"], 0, "measured after the pass: {copied}");
    assert_eq!(listed_ids(secondary, PASSWORD), [first.as_str()]);
    // A backup made while the watcher runs is copied by a later pass.
    let second = backup_db1(primary, &[], &data(100_000, 92));
    let copied = next_copy();
    assert_eq!(copied["lag"]["pending_objects"], 0, "{copied}");
    let mut both = vec![first, second];
    both.sort();
    assert_eq!(listed_ids(secondary, PASSWORD), both);

    // SIGTERM stops it, with success.
    let pid = watcher.0.id().to_string();
    run(Command::new("kill").args(["-TERM", &pid])).ok();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = watcher.0.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < BOUND, "still running {BOUND:?} after SIGTERM; stderr: {}", stderr());
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status}; stderr: {}", stderr());
    // Whatever it printed after the last copy is idle passes, then the end of its output.
    loop {
        match lines.recv_timeout(BOUND) {
            Ok(line) => {
                let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
                assert_eq!(
                    (event["event"].as_str(), event["report"]["records_copied"].as_u64()),
                    (Some("pass"), Some(0))
                );
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("stdout still open after exit: {e}"),
        }
    }
    assert!(stderr().is_empty(), "{}", stderr());
}

#[test]
fn pitr_plan_in_a_secondary_that_is_behind_names_the_lag() {
    let work = tempfile::tempdir().unwrap();
    let (primary, secondary) = (work.path().join("primary"), work.path().join("secondary"));
    let (primary, secondary) = (primary.to_str().unwrap(), secondary.to_str().unwrap());
    run(tern_pw(&["init", primary])).ok();
    let full =
        ["--kind", "full", "--consistent-time", "2026-11-20T00:00:00Z", "--position", "mariadb:mysql-bin.000001:4"];
    backup_db1(primary, &full, &data(200_000, 101));
    push_db1(primary, work.path(), SEG1, 102);
    let pass = run(tern(&["--json", "replicate", primary, secondary, "--service", "db1"])).ok().json();
    assert_eq!(
        (pass["report"]["records_copied"].as_u64(), pass["report"]["segments_copied"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!((pass["lag"]["lag_secs"].as_f64(), pass["lag"]["pending_objects"].as_u64()), (Some(0.0), Some(0)));

    // A new segment in the primary, while replication is paused: the pass skips, and the lag
    // sample it stores in the secondary shows six hours and one backup behind.
    let pushed = push_db1(primary, work.path(), SEG2, 103);
    let pending_bytes = pushed["backup"]["sizes"]["stored_bytes"].as_u64().unwrap();
    run(tern(&["replication", "enable", primary, "--service", "db1"])).ok();
    run(tern(&["replication", "pause", primary, "--service", "db1", "--reason", "maintenance"])).ok();
    let pass = run(tern(&["--json", "replicate", primary, secondary, "--service", "db1"])).ok().json();
    assert_eq!(pass["report"]["skipped"][0]["reason"], "paused: maintenance", "{pass}");
    assert_eq!(pass["report"]["records_copied"], 0, "{pass}");
    assert_eq!(
        (
            pass["lag"]["lag_secs"].as_f64(),
            pass["lag"]["pending_objects"].as_u64(),
            pass["lag"]["pending_bytes"].as_u64()
        ),
        (Some(21_600.0), Some(1), Some(pending_bytes)),
        "{pass}"
    );

    // 09:00 is in the segment the secondary lacks: refused, naming the lag.
    let plan = ["pitr", "plan", secondary, "--service", "db1", "--time", "2026-11-20T09:00:00Z"];
    let refused = run(tern_pw(&plan)).fails(1);
    let expected = format!(
        "error: cannot plan: target 2026-11-20T09:00:00Z has not been replicated to this region: this region restores \
         up to 2026-11-20T06:00:00Z; replication lag is 21600 s with 1 backup ({pending_bytes} bytes) pending, \
         measured "
    );
    assert!(refused.stderr.starts_with(&expected), "{}", refused.stderr);
    assert!(refused.stdout.is_empty(), "{}", refused.text());
    let mut json_plan = vec!["--json"];
    json_plan.extend(plan);
    let refused = run(tern_pw(&json_plan)).fails(1).json();
    let message = refused["error"].as_str().unwrap();
    assert!(message.contains("has not been replicated to this region"), "{refused}");
    assert!(message.contains("replication lag is 21600 s"), "{refused}");
    // What the secondary holds still plans there.
    run(tern_pw(&["pitr", "plan", secondary, "--service", "db1", "--time", "2026-11-20T05:00:00Z"])).ok();
    // The primary plans 09:00.
    let planned =
        run(tern_pw(&["--json", "pitr", "plan", primary, "--service", "db1", "--time", "2026-11-20T09:00:00Z"]))
            .ok()
            .json();
    let names: Vec<&str> =
        planned["plan"]["segments"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["mysql-bin.000001", "mysql-bin.000002"], "{planned}");

    // Resumed and caught up: the secondary plans 09:00, and a target past everything gets the
    // planner's own message, not the lag one.
    run(tern(&["replication", "resume", primary, "--service", "db1"])).ok();
    let pass = run(tern(&["--json", "replicate", primary, secondary, "--service", "db1"])).ok().json();
    assert_eq!((pass["report"]["records_copied"].as_u64(), pass["lag"]["lag_secs"].as_f64()), (Some(1), Some(0.0)));
    run(tern_pw(&plan)).ok();
    let late =
        run(tern_pw(&["pitr", "plan", secondary, "--service", "db1", "--time", "2026-11-20T13:00:00Z"])).fails(1);
    assert!(late.stderr.contains("after the archived end 2026-11-20T12:00:00Z"), "{}", late.stderr);
    assert!(!late.stderr.contains("replication lag"), "{}", late.stderr);
}

#[test]
fn bad_bandwidth_limits_and_watch_options_are_usage_errors() {
    let work = tempfile::tempdir().unwrap();
    let (primary, secondary) = (work.path().join("primary"), work.path().join("secondary"));
    let (primary, secondary) = (primary.to_str().unwrap(), secondary.to_str().unwrap());
    let id = "20261121T114500.123Z-3f9a2c1b";
    for bad in ["nope", "0", "20Xi", "-5M"] {
        let rate = format!("--bandwidth-limit={bad}");
        let r = run(tern(&["replicate", primary, secondary, &rate])).fails(2);
        assert!(r.stderr.contains(&format!("`{bad}` is not a rate")), "{bad}: {}", r.stderr);
        let r = run(tern(&["--json", "copy", primary, secondary, id, &rate])).fails(2).json();
        assert!(r["error"].as_str().unwrap().contains(&format!("`{bad}` is not a rate")), "{bad}: {r}");
    }
    let r = run(tern(&["replicate", primary, secondary, "--interval", "1s"])).fails(2);
    assert!(r.stderr.contains("--watch"), "{}", r.stderr);
    let r = run(tern(&["replicate", primary, secondary, "--watch", "--interval", "soon"])).fails(2);
    assert!(r.stderr.contains("soon"), "{}", r.stderr);
    let r = run(tern(&["replicate", primary, secondary, "--concurrency", "0"])).fails(2);
    assert!(r.stderr.contains("--concurrency"), "{}", r.stderr);
    // Nothing was created by the refused commands.
    assert!(!Path::new(primary).exists() && !Path::new(secondary).exists());

    // Good rates are accepted.
    run(tern_pw(&["init", primary])).ok();
    let input = data(50_000, 111);
    let backup = backup_db1(primary, &[], &input);
    let pass =
        run(tern(&["--json", "replicate", primary, secondary, "--bandwidth-limit", "20Mi", "--concurrency", "2"]))
            .ok()
            .json();
    assert_eq!(pass["report"]["records_copied"], 1, "{pass}");
    let copy = work.path().join("copy");
    let r = run(tern_copy(&["--json", "copy", primary, copy.to_str().unwrap(), &backup, "--bandwidth-limit", "500k"]))
        .ok()
        .json();
    assert_eq!(ids(&r["copy"]["copied"]), [backup.as_str()], "{r}");
    let restored = run(tern_pw(&["restore", secondary, &backup, "--stdout"])).ok();
    assert!(restored.stdout == input, "restored from the secondary");
}
