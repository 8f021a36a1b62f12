//! SRTP protection of the relay's forwarded audio, written from RFC 3711 (key derivation,
//! AES-CM with HMAC-SHA1-80) and RFC 7714 (AEAD AES-GCM), so the relay can encrypt each
//! listener's copy itself instead of going through str0m's send queue (see
//! `shared/reviews/relay-egress.md`: that queue costs a timeout and two walks of the
//! session per copy; the encryption is a small part of it).
//!
//! Only the sending half exists: str0m still receives and decrypts everything, and only
//! the relay's own copies are protected here. The block ciphers come from str0m's crypto
//! provider (aws-lc), so there is one AES implementation in the process; HMAC-SHA1 is the
//! `hmac` crate, whose keyed state is computed once per context and cloned per packet.
//!
//! [`SrtpTx::protect`] writes straight into the caller's send buffer: the RTP header is
//! already there, the payload is encrypted from the frame into the space after it and the
//! tag is appended. Nothing is allocated per packet, and the payload is copied once, which
//! an in-place API would need anyway to get it next to the header.

use hmac::{KeyInit as _, Mac as _};
use str0m::crypto::dtls::SrtpProfile;
use str0m::crypto::{
    AeadAes128GcmCipher, AeadAes256GcmCipher, Aes128CmSha1_80Cipher, CryptoProvider,
};

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// RFC 3711 4.3.1 key derivation labels (the RTP ones; RTCP stays with str0m).
const LABEL_RTP_ENCRYPTION: u8 = 0x00;
const LABEL_RTP_AUTH: u8 = 0x01;
const LABEL_RTP_SALT: u8 = 0x02;
/// RFC 3711 4.2: HMAC-SHA1 session authentication key.
const AUTH_KEY_LEN: usize = 20;
/// The 48-bit SRTP packet index: rollover counter (32 bits) and sequence number (16).
const INDEX_MASK: u64 = (1 << 48) - 1;

/// The SRTP protection profiles DTLS-SRTP may negotiate (RFC 5764, RFC 7714).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Profile {
    AesCm128HmacSha1_80,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

impl Profile {
    pub(super) fn from_dtls(profile: SrtpProfile) -> Option<Self> {
        match profile {
            SrtpProfile::AES128_CM_SHA1_80 => Some(Self::AesCm128HmacSha1_80),
            SrtpProfile::AEAD_AES_128_GCM => Some(Self::AeadAes128Gcm),
            SrtpProfile::AEAD_AES_256_GCM => Some(Self::AeadAes256Gcm),
            _ => None,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 | Self::AeadAes128Gcm => 16,
            Self::AeadAes256Gcm => 32,
        }
    }

    fn salt_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => 14,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 12,
        }
    }

    /// Bytes protection adds after the payload: the HMAC tag (80 bits) or the GCM tag.
    pub(super) fn overhead(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => 10,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }
}

/// Why a context could not be made or a packet not protected. Both are relay bugs or
/// a DTLS stack handing over something malformed, never input from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(super) enum SrtpError {
    #[error("keying material of {0} bytes does not fit the profile")]
    KeyingMaterial(usize),
    #[error("send buffer too small for the protected packet")]
    BufferTooSmall,
    #[error("the cipher refused the packet")]
    Cipher,
}

enum Cipher {
    Cm { aes: Box<dyn Aes128CmSha1_80Cipher>, auth: HmacSha1 },
    Gcm128(Box<dyn AeadAes128GcmCipher>),
    Gcm256(Box<dyn AeadAes256GcmCipher>),
}

/// One direction's SRTP crypto context for RTP: session keys derived once, used for every
/// SSRC the relay sends on in this session (RFC 3711 3.2.3: one master key per session,
/// the SSRC keeps the keystreams apart).
pub(super) struct SrtpTx {
    profile: Profile,
    cipher: Cipher,
    /// Session salt: 14 bytes for AES-CM, the first 12 of them for GCM.
    salt: [u8; 14],
}

impl std::fmt::Debug for SrtpTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpTx").field("profile", &self.profile).finish_non_exhaustive()
    }
}

impl SrtpTx {
    /// The context for the half of DTLS-SRTP keying material we send with (RFC 5764 4.2:
    /// client key, server key, client salt, server salt; the DTLS client is the one that
    /// is "active").
    pub(super) fn from_dtls(
        provider: &CryptoProvider,
        profile: Profile,
        material: &[u8],
        active: bool,
    ) -> Result<Self, SrtpError> {
        let (k, s) = (profile.key_len(), profile.salt_len());
        if material.len() != 2 * (k + s) {
            return Err(SrtpError::KeyingMaterial(material.len()));
        }
        let (key, salt) = if active {
            (&material[..k], &material[2 * k..2 * k + s])
        } else {
            (&material[k..2 * k], &material[2 * k + s..])
        };
        Self::new(provider, profile, key, salt)
    }

    /// The context for a master key and salt.
    pub(super) fn new(
        provider: &CryptoProvider,
        profile: Profile,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, SrtpError> {
        if master_key.len() != profile.key_len() || master_salt.len() != profile.salt_len() {
            return Err(SrtpError::KeyingMaterial(master_key.len() + master_salt.len()));
        }
        let mut salt = [0u8; 14];
        derive(provider, master_key, master_salt, LABEL_RTP_SALT, &mut salt[..profile.salt_len()]);
        let srtp = provider.srtp_provider;
        let cipher = match profile {
            Profile::AesCm128HmacSha1_80 => {
                let mut key = [0u8; 16];
                derive(provider, master_key, master_salt, LABEL_RTP_ENCRYPTION, &mut key);
                let mut auth_key = [0u8; AUTH_KEY_LEN];
                derive(provider, master_key, master_salt, LABEL_RTP_AUTH, &mut auth_key);
                let auth =
                    HmacSha1::new_from_slice(&auth_key).expect("HMAC accepts any key length");
                Cipher::Cm { aes: srtp.aes_128_cm_sha1_80().create_cipher(key, true), auth }
            }
            Profile::AeadAes128Gcm => {
                let mut key = [0u8; 16];
                derive(provider, master_key, master_salt, LABEL_RTP_ENCRYPTION, &mut key);
                Cipher::Gcm128(srtp.aead_aes_128_gcm().create_cipher(key, true))
            }
            Profile::AeadAes256Gcm => {
                let mut key = [0u8; 32];
                derive(provider, master_key, master_salt, LABEL_RTP_ENCRYPTION, &mut key);
                Cipher::Gcm256(srtp.aead_aes_256_gcm().create_cipher(key, true))
            }
        };
        Ok(Self { profile, cipher, salt })
    }

    /// Protects one RTP packet. `out[..header_len]` holds its RTP header (with `ssrc` and
    /// the low 16 bits of `index`); `payload` is encrypted into `out` after it and the
    /// authentication tag appended. `index` is the packet's extended sequence number: its
    /// bits above the 16 of the header are the rollover counter (RFC 3711 3.3.1), which
    /// the sender knows exactly because it numbers the packets. Returns the packet's
    /// length.
    pub(super) fn protect(
        &mut self,
        out: &mut [u8],
        header_len: usize,
        payload: &[u8],
        ssrc: u32,
        index: u64,
    ) -> Result<usize, SrtpError> {
        let index = index & INDEX_MASK;
        let body_end = header_len + payload.len();
        let end = body_end + self.profile.overhead();
        if out.len() < end || header_len < 12 {
            return Err(SrtpError::BufferTooSmall);
        }
        let roc = (index >> 16) as u32;
        let seq = index as u16;
        debug_assert_eq!(out[2..4], seq.to_be_bytes(), "header carries the index's sequence");
        match &mut self.cipher {
            Cipher::Cm { aes, auth } => {
                // RFC 3711 4.1.1: IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16).
                let mut iv = [0u8; 16];
                iv[..14].copy_from_slice(&self.salt);
                for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
                    *b ^= s;
                }
                for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
                    *b ^= s;
                }
                aes.encrypt(&iv, payload, &mut out[header_len..body_end])
                    .map_err(|_| SrtpError::Cipher)?;
                // RFC 3711 4.2: the tag covers the authenticated portion and the ROC.
                let mut mac = auth.clone();
                mac.update(&out[..body_end]);
                mac.update(&roc.to_be_bytes());
                let tag = mac.finalize().into_bytes();
                out[body_end..end].copy_from_slice(&tag[..10]);
            }
            Cipher::Gcm128(gcm) => {
                let iv = gcm_iv(&self.salt, ssrc, roc, seq);
                let (header, rest) = out.split_at_mut(header_len);
                gcm.encrypt(&iv, header, payload, &mut rest[..payload.len() + 16])
                    .map_err(|_| SrtpError::Cipher)?;
            }
            Cipher::Gcm256(gcm) => {
                let iv = gcm_iv(&self.salt, ssrc, roc, seq);
                let (header, rest) = out.split_at_mut(header_len);
                gcm.encrypt(&iv, header, payload, &mut rest[..payload.len() + 16])
                    .map_err(|_| SrtpError::Cipher)?;
            }
        }
        Ok(end)
    }
}

/// RFC 7714 8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt, 96 bits.
fn gcm_iv(salt: &[u8; 14], ssrc: u32, roc: u32, seq: u16) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[6..10].copy_from_slice(&roc.to_be_bytes());
    iv[10..12].copy_from_slice(&seq.to_be_bytes());
    for (b, s) in iv.iter_mut().zip(salt) {
        *b ^= s;
    }
    iv
}

/// RFC 3711 4.3.1 and 4.3.3 (with RFC 6188 for 256-bit keys): the AES-CM PRF keyed with
/// the master key, run from x = (label || r) XOR master_salt, where r = 0 because the
/// key derivation rate is 0 (DTLS-SRTP never rekeys by index). x is 112 bits with the
/// label at byte 7; GCM's 96-bit master salt sits in its first 12 bytes (RFC 7714 11).
fn derive(
    provider: &CryptoProvider,
    master_key: &[u8],
    master_salt: &[u8],
    label: u8,
    out: &mut [u8],
) {
    let mut x = [0u8; 16];
    x[..master_salt.len()].copy_from_slice(master_salt);
    x[7] ^= label;
    let srtp = provider.srtp_provider;
    for (i, chunk) in out.chunks_mut(16).enumerate() {
        // The counter is the low 16 bits of the block (x * 2^16 + i).
        let mut block = x;
        block[14..].copy_from_slice(&(i as u16).to_be_bytes());
        let mut keystream = [0u8; 16];
        if master_key.len() == 32 {
            srtp.srtp_aes_256_ecb_round(master_key, &block, &mut keystream);
        } else {
            srtp.srtp_aes_128_ecb_round(master_key, &block, &mut keystream);
        }
        chunk.copy_from_slice(&keystream[..chunk.len()]);
    }
}

#[cfg(test)]
#[path = "srtp_tests.rs"]
mod tests;
