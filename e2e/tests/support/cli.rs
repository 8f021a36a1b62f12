//! The `auraspeak` binary as a test drives it: a logged-in profile per user, `voice join`
//! in the test community's voice channel, and the JSON report a call prints when it ends.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::harness::{self, PASSWORD};

fn binary() -> PathBuf {
    harness::sibling_binary("auraspeak", "AURASPEAK_BIN")
}

pub struct Cli {
    profile: PathBuf,
}

impl Cli {
    pub async fn login(base: &str, user: &str) -> Self {
        let profile = std::env::temp_dir().join(format!(
            "auraspeak-e2e-cli-{user}-{}-{}",
            std::process::id(),
            harness::unique()
        ));
        let cli = Self { profile };
        let out = cli
            .command(&["login", "--server", base, "--user", user])
            .env("AURASPEAK_PASSWORD", PASSWORD)
            .output()
            .await
            .expect("auraspeak runs");
        assert!(out.status.success(), "login: {}", String::from_utf8_lossy(&out.stderr));
        cli
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command.arg("--profile-dir").arg(&self.profile).args(args).kill_on_drop(true);
        command
    }

    pub fn join(&self, args: &[&str]) -> Child {
        let mut full = vec!["--json", "voice", "join", "Raid Night/General"];
        full.extend_from_slice(args);
        self.command(&full)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn auraspeak")
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.profile).ok();
    }
}

pub async fn finish(child: Child, who: &str) -> serde_json::Value {
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the call ends in time")
        .expect("auraspeak runs");
    assert!(out.status.success(), "{who}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{who} printed no JSON report ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}
