//! Which server certificates the client accepts.
//!
//! By default, those the system trusts. A self-hosted server often runs on the
//! certificate it generated itself and prints that certificate's SHA-256 fingerprint at
//! start; pinning the fingerprint makes the client accept exactly that certificate (and
//! no other, whatever signed it), for REST and the gateway alike. The handshake
//! signatures are still checked, so only the holder of the key can present it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest as _, Sha256};

/// Which server certificates to accept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ServerTrust {
    /// Certificates that chain to the system's trusted roots and name the host.
    #[default]
    System,
    /// Exactly the certificate with this fingerprint.
    Pinned(Fingerprint),
}

/// The SHA-256 of a DER certificate, written like the server prints it:
/// `AB:CD:…` (32 bytes in hex; colons and case optional when parsing).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of(certificate_der: &[u8]) -> Self {
        Self(Sha256::digest(certificate_der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A string that is not 32 bytes of hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFingerprint;

impl fmt::Display for InvalidFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a certificate fingerprint is 64 hex digits (SHA-256), colons optional")
    }
}

impl std::error::Error for InvalidFingerprint {}

impl FromStr for Fingerprint {
    type Err = InvalidFingerprint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex: Vec<u8> = s.trim().bytes().filter(|b| *b != b':').collect();
        if hex.len() != 64 {
            return Err(InvalidFingerprint);
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            let digits = std::str::from_utf8(pair).map_err(|_| InvalidFingerprint)?;
            *byte = u8::from_str_radix(digits, 16).map_err(|_| InvalidFingerprint)?;
        }
        Ok(Self(bytes))
    }
}

/// A rustls client configuration that accepts only the pinned certificate.
pub(crate) fn pinned_config(fingerprint: Fingerprint) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedVerifier { fingerprint, provider: provider.clone() });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the default provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // HTTP/1.1 only, as the rest of the client speaks it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

#[derive(Debug)]
struct PinnedVerifier {
    fingerprint: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The pin replaces chain, name and validity checks: it names this one certificate,
        // which a self-signed server certificate could not satisfy otherwise.
        if Fingerprint::of(end_entity.as_ref()) == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_as_the_server_prints_them_and_print_back() {
        let fp = Fingerprint::of(b"not really a certificate");
        let printed = fp.to_string();
        assert_eq!(printed.len(), 32 * 3 - 1);
        assert_eq!(printed.parse::<Fingerprint>(), Ok(fp));
        assert_eq!(printed.replace(':', "").to_lowercase().parse::<Fingerprint>(), Ok(fp));
        assert_eq!(format!(" {printed}\n").parse::<Fingerprint>(), Ok(fp));
        for bad in ["", "AB:CD", &printed[3..], &printed.replace('A', "G"), &"é".repeat(32)] {
            assert_eq!(bad.parse::<Fingerprint>(), Err(InvalidFingerprint), "{bad:?}");
        }
    }

    #[test]
    fn the_verifier_accepts_the_pinned_certificate_only() {
        let cert = CertificateDer::from(b"pinned".to_vec());
        let other = CertificateDer::from(b"other".to_vec());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = PinnedVerifier { fingerprint: Fingerprint::of(b"pinned"), provider };
        let name = ServerName::try_from("chat.example.org").expect("name");
        let now = UnixTime::now();
        assert!(verifier.verify_server_cert(&cert, &[], &name, &[], now).is_ok());
        assert!(verifier.verify_server_cert(&other, &[cert], &name, &[], now).is_err());
        assert!(!verifier.supported_verify_schemes().is_empty());
    }
}
