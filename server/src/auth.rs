//! Credentials: password hashing and the common-password list (`password`), argon2's
//! pooled working memory (`hash_memory`), access tokens and refresh tokens (`tokens`),
//! and the signing key on disk (`keys`).

pub mod hash_memory;
pub mod keys;
pub mod password;
pub mod tokens;
