//! Credentials: password hashing and the common-password list (`password`), access
//! tokens and refresh tokens (`tokens`), and the signing key on disk (`keys`).

pub mod keys;
pub mod password;
pub mod tokens;
