//! `tern serve`, `tern config check` and `tern config hash-token` as a user runs them: a real
//! process listening on 127.0.0.1, answering over HTTP, stopping cleanly on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "serve-test-token-5d1c8e";

fn tern(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tern"));
    cmd.args(args).env("TERN_INSECURE_FAST_KDF", "1").env_remove("TERN_PASSWORD").env_remove("TERN_KEY_FILE");
    cmd
}

fn output(mut cmd: Command, stdin: &str) -> (i32, String, String) {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One HTTP/1.1 request; the status and the body.
fn http(port: u16, method: &str, path: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn config(dir: &Path, port: u16, hash: &str) -> String {
    format!(
        "listen = \"127.0.0.1:{port}\"\nprimary_region = \"eu\"\nrestore_dir = \"{d}/restores\"\n\
         [regions]\neu = \"{d}/eu\"\n\
         [[tokens]]\nname = \"test\"\nrole = \"viewer\"\nblake3 = \"{hash}\"\n\
         [[services]]\nname = \"shop\"\nengine = \"mariadb\"\nconnect = \"{d}/none.cnf\"\n\
         schedules = [{{ kind = \"full\", cron = \"0 3 * * *\" }}]\n",
        d = dir.display()
    )
}

#[test]
fn config_commands_check_and_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (code, hash, _) = output(tern(&["config", "hash-token"]), &format!("{TOKEN}\n"));
    assert_eq!(code, 0);
    let hash = hash.trim().to_owned();
    assert_eq!(hash.len(), 64);
    assert!(!hash.contains(TOKEN));
    let (code, _, err) = output(tern(&["config", "hash-token"]), "short");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at least 16"), "{err}");

    let file = dir.path().join("tern.toml");
    std::fs::write(&file, config(dir.path(), 1, &hash)).unwrap();
    let (code, out, err) = output(tern(&["config", "check", "--config", file.to_str().unwrap()]), "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok") && out.contains("1 services, 1 schedules, 1 tokens"), "{out}");
    // --open needs the repository.
    let (code, _, err) = output(tern(&["config", "check", "--open", "--config", file.to_str().unwrap()]), "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot open the primary repository"), "{err}");

    std::fs::write(&file, config(dir.path(), 1, &hash).replace("0 3 * * *", "0 3 * * * *")).unwrap();
    let (code, _, err) = output(tern(&["config", "check", "--config", file.to_str().unwrap()]), "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("services.shop.schedules[0].cron") && err.contains("6 fields"), "{err}");
}

#[test]
fn serve_answers_over_http_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("eu");
    let (code, _, err) = output(tern(&["init", repo.to_str().unwrap(), "--no-encryption"]), "");
    assert_eq!(code, 0, "{err}");
    let hash = tern_service::config::hash_token(TOKEN);
    let port = free_port();
    let file = dir.path().join("tern.toml");
    std::fs::write(&file, config(dir.path(), port, &hash)).unwrap();
    let mut child = tern(&["serve", "--config", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        match http(port, "GET", "/health", None) {
            Ok(answer) => break answer,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                let _ = child.kill();
                panic!("tern serve did not answer: {e}");
            }
        }
    };
    assert_eq!(health, (200, r#"{"status":"ok"}"#.to_owned()));
    let (status, body) = http(port, "GET", "/v1/backups/schedules?service_id=shop", Some(TOKEN)).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"schedules_count\":1") && body.contains("0 3 * * *"), "the configured schedule: {body}");
    assert_eq!(http(port, "GET", "/v1/backups", None).unwrap().0, 401);
    assert_eq!(http(port, "GET", "/v1/backups", Some("not-the-token")).unwrap().0, 401);
    let (status, body) = http(port, "DELETE", "/v1/backups/schedules/cfg-0000", Some(TOKEN)).unwrap();
    assert_eq!(status, 403, "a viewer cannot delete: {body}");
    assert_eq!(http(port, "GET", "/ready", None).unwrap().0, 200);

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("listening on http://127.0.0.1:{port}")));
    assert!(!stderr.contains(TOKEN) && !String::from_utf8_lossy(&out.stdout).contains(TOKEN));
}
