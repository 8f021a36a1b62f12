//! Files and directories that hold the server's data (the database, its backups, keys),
//! created readable by their owner only, whatever the umask of whoever runs the command.
//!
//! The systemd unit sets `UMask=0077`, but an administrator's `sudo auraspeak-server admin
//! backup`, the Docker image and `scripts/run.sh` run with the usual 022: the database and
//! its backups (password hashes, emails, every message) would then be world-readable.
//! A mode passed to `open`/`mkdir` can only be narrowed by the umask, never widened, so
//! asking for 0600/0700 at creation is enough; nothing is created wider and chmodded later.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::Error;

/// Directory mode: owner only.
pub const DIR_MODE: u32 = 0o700;
/// File mode: owner read/write only.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and any missing parents with mode 0700. Directories that exist already
/// keep their mode: an administrator (or systemd's `StateDirectoryMode`) chose it.
pub fn create_dir(dir: &Path) -> Result<(), Error> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir).map_err(|e| Error::io(dir, e))
}

/// Options that create a file with mode 0600 (the mode applies only when it is created).
pub fn file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// Creates `path`, which must not exist yet, empty and with mode 0600.
pub fn create_new(path: &Path) -> Result<File, Error> {
    file_options().write(true).create_new(true).open(path).map_err(|e| Error::io(path, e))
}

/// Narrows an existing file to mode 0600 if group or others may read it. Returns whether
/// it had to.
pub fn restrict(path: &Path) -> Result<bool, Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
                .map_err(|e| Error::io(path, e))?;
            return Ok(true);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(false)
}
