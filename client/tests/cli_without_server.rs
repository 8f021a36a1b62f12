//! The `auraspeak` binary where no server is needed to judge it: missing session,
//! missing password, unreachable server, bad URL. Each must fail with its own exit code
//! and a message that says what to do.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn profile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("auraspeak-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(profile: &PathBuf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auraspeak"))
        .arg("--profile-dir")
        .arg(profile)
        .args(args)
        .env_remove("AURASPEAK_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("run auraspeak")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn not_logged_in_is_exit_code_3() {
    let profile = profile_dir("nologin");
    for args in [&["servers"][..], &["send", "general", "hi"], &["tail", "general"], &["logout"]] {
        let out = run(&profile, args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("auraspeak login"), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn unreachable_server_is_exit_code_6() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port();
    let profile = profile_dir("unreachable");
    let url = format!("http://127.0.0.1:{port}");
    let out = Command::new(env!("CARGO_BIN_EXE_auraspeak"))
        .arg("--profile-dir")
        .arg(&profile)
        .args(["login", "--server", &url, "--user", "ann"])
        .env("AURASPEAK_PASSWORD", "whatever-it-is")
        .output()
        .expect("run auraspeak");
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot reach the server"), "{}", stderr(&out));
    assert!(!profile.join("session.json").exists());
}

#[test]
fn missing_password_and_bad_urls_are_refused_before_any_request() {
    let profile = profile_dir("nopassword");
    let out = run(&profile, &["login", "--server", "http://127.0.0.1:1", "--user", "ann"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--password-stdin"), "{}", stderr(&out));

    let out = Command::new(env!("CARGO_BIN_EXE_auraspeak"))
        .arg("--profile-dir")
        .arg(&profile)
        .args(["login", "--server", "ftp://chat.example.org", "--user", "ann"])
        .env("AURASPEAK_PASSWORD", "pw")
        .output()
        .expect("run auraspeak");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid server URL"), "{}", stderr(&out));

    let out = run(&profile, &["login"]);
    assert_eq!(out.status.code(), Some(2), "usage errors are clap's exit code 2");
}
