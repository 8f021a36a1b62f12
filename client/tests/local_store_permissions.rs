//! The local store holds the user's messages: on Unix it is created 0600 in a 0700
//! directory whatever the umask, and one that an older version left readable to others is
//! tightened on open (issue #16 item 8, review L11). A test binary of its own, because the
//! umask belongs to the whole process.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use auraspeak_client::store::LocalStore;
use rustix::fs::Mode;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn sidecars(path: &Path) -> Vec<std::path::PathBuf> {
    ["-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            side.into()
        })
        .filter(|p: &std::path::PathBuf| p.exists())
        .collect()
}

#[test]
fn the_local_store_is_private_whatever_the_umask() {
    // umask 000: without explicit modes, new directories would be 0777 and files 0666.
    let previous = rustix::process::umask(Mode::empty());
    let base = std::env::temp_dir().join(format!("auraspeak-store-modes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let dir = base.join("com.auraspeak.desktop");
    let path = dir.join("local.sqlite");
    {
        let store = LocalStore::open(&path).expect("create");
        store.set_setting("theme", &"dark").expect("write");
        assert_eq!(mode(&path), 0o600, "database file");
        assert_eq!(mode(&dir), 0o700, "its directory");
        let sides = sidecars(&path);
        assert!(!sides.is_empty(), "WAL mode keeps a -wal and -shm file while open");
        for side in sides {
            assert_eq!(mode(&side), 0o600, "{}", side.display());
        }
    }

    // What an older version left: a readable file in a readable directory.
    chmod(&path, 0o644);
    chmod(&dir, 0o755);
    {
        let store = LocalStore::open(&path).expect("reopen");
        assert_eq!(store.setting::<String>("theme").expect("read").as_deref(), Some("dark"));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }

    // A shared sticky directory (like /tmp) is not ours to close; the file still is.
    let shared = base.join("shared");
    std::fs::create_dir_all(&shared).expect("mkdir");
    chmod(&shared, 0o1777);
    let in_shared = shared.join("local.sqlite");
    drop(LocalStore::open(&in_shared).expect("open in a shared directory"));
    assert_eq!(mode(&shared), 0o1777);
    assert_eq!(mode(&in_shared), 0o600);

    rustix::process::umask(previous);
    std::fs::remove_dir_all(&base).ok();
}
