//! The data directory, the embedded database, its backups and a restored database are
//! owner-only (0700/0600) even when the command runs with a umask of 000, as an
//! administrator's shell, a container or a script may.
#![cfg(unix)]

#[path = "support/harness.rs"]
mod harness;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use harness::{Backend, TestDb};

backend_tests!(data_dir_database_and_backups_are_owner_only);

/// `auraspeak-server --data-dir DIR admin ARGS` under `umask 000`.
fn admin(db: &TestDb, data_dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    // `$0` is the binary, the rest its arguments: no quoting of paths needed.
    cmd.args(["-c", "umask 000 && exec \"$0\" \"$@\""]).arg(env!("CARGO_BIN_EXE_auraspeak-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AURASPEAK_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("--data-dir").arg(data_dir);
    if !db.url.is_empty() {
        cmd.args(["--database-url", &db.url]);
    }
    cmd.arg("admin").args(args);
    cmd.stdin(Stdio::null()).output().expect("binary runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[track_caller]
fn assert_mode(path: &Path, mode: u32) {
    let got = std::fs::metadata(path).expect("exists").permissions().mode() & 0o777;
    assert_eq!(got, mode, "{} is {got:o}", path.display());
}

async fn data_dir_database_and_backups_are_owner_only(backend: Backend) {
    let db = TestDb::create(&backend).await;
    // A data directory that does not exist yet, two levels deep.
    let data_dir = db.dir.join("fresh").join("data");
    let made = admin(&db, &data_dir, &["list-users"]);
    assert!(made.status.success(), "{}", text(&made));
    assert_mode(&data_dir, 0o700);
    assert_mode(data_dir.parent().expect("parent"), 0o700);
    for entry in std::fs::read_dir(&data_dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            assert_mode(&path, 0o600);
        }
    }
    if matches!(backend, Backend::Sqlite) {
        assert_mode(&data_dir.join("auraspeak.db"), 0o600);

        let backup = db.dir.join("backup.db");
        let out = admin(&db, &data_dir, &["backup", "--out", backup.to_str().expect("utf-8")]);
        assert!(out.status.success(), "{}", text(&out));
        assert_mode(&backup, 0o600);
        let again = admin(&db, &data_dir, &["backup", "--out", backup.to_str().expect("utf-8")]);
        assert!(!again.status.success(), "an existing file is never overwritten");

        // A copy of the backup that anyone may read, restored: the database is still private.
        let loose = db.dir.join("loose.db");
        std::fs::copy(&backup, &loose).expect("copy");
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = admin(&db, &data_dir, &["restore", "--from", loose.to_str().expect("utf-8")]);
        assert!(out.status.success(), "{}", text(&out));
        assert_mode(&data_dir.join("auraspeak.db"), 0o600);

        // A database left world-readable by an older version is narrowed on the next open.
        let db_file = data_dir.join("auraspeak.db");
        std::fs::set_permissions(&db_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = admin(&db, &data_dir, &["list-users"]);
        assert!(out.status.success(), "{}", text(&out));
        assert_mode(&db_file, 0o600);
    }
    db.drop_now().await;
}
