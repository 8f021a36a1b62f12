//! The access-token signing secret: from configuration, or generated once into the data
//! directory with owner-only permissions and reused on every later start.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;

use crate::error::Error;

const KEY_FILE: &str = "jwt-secret";
/// HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
const MIN_SECRET_BYTES: usize = 32;
const GENERATED_BYTES: usize = 64;

/// Returns the raw secret bytes.
pub fn load_or_create(configured: &str, data_dir: &Path) -> Result<Vec<u8>, Error> {
    if !configured.is_empty() {
        return decode(configured.trim(), "auth.jwt_secret");
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => decode(text.trim(), &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&path),
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn decode(text: &str, source: &str) -> Result<Vec<u8>, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
        .map_err(|_| Error::Config(format!("{source} is not base64")))?;
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(Error::Config(format!(
            "{source} must hold at least {MIN_SECRET_BYTES} random bytes (base64)"
        )));
    }
    Ok(bytes)
}

fn create(path: &Path) -> Result<Vec<u8>, Error> {
    if let Some(dir) = path.parent() {
        crate::private_files::create_dir(dir)?;
    }
    let mut secret = vec![0u8; GENERATED_BYTES];
    rand::fill(&mut secret[..]);
    let mut options = std::fs::OpenOptions::new();
    // create_new: two servers starting on one data dir must not overwrite each other's key.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            let text = base64::engine::general_purpose::STANDARD.encode(&secret);
            file.write_all(text.as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.sync_all())
                .map_err(|e| Error::io(path, e))?;
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            decode(text.trim(), &path.display().to_string())
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_with_private_permissions() {
        let dir = std::env::temp_dir().join(format!("auraspeak-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = load_or_create("", &dir).expect("creates");
        let second = load_or_create("", &dir).expect("reloads");
        assert_eq!(first, second);
        assert_eq!(first.len(), GENERATED_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(KEY_FILE)).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn configured_secret_must_be_long_base64() {
        let dir = std::env::temp_dir();
        assert!(load_or_create("c2hvcnQ=", &dir).is_err());
        assert!(load_or_create("not base64 at all!", &dir).is_err());
        let good = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(load_or_create(&good, &dir).expect("accepted"), vec![7u8; 32]);
    }
}
