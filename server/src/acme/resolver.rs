//! The certificate the TLS listener serves, swappable while it runs, and the TLS-ALPN-01
//! challenge certificates (RFC 8737) it presents to the CA during validation.
//!
//! rustls asks [`CertResolver::resolve`] on every handshake, so replacing the current
//! certificate takes effect for the next connection without restarting the listener;
//! connections already open keep the certificate they were made with.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::error::Error;

/// The ALPN protocol a CA offers, alone, when it validates a TLS-ALPN-01 challenge.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Debug, Default)]
pub struct CertResolver {
    current: RwLock<Option<Arc<CertifiedKey>>>,
    /// Challenge certificates by domain, present only while an order is being validated.
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl CertResolver {
    /// Serves `cert` from the next handshake on.
    pub fn set_current(&self, cert: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(cert);
    }

    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Answers TLS-ALPN-01 validation for `domain` with a self-signed certificate that
    /// carries the SHA-256 of the key authorization in the critical acmeIdentifier
    /// extension.
    pub fn add_challenge(
        &self,
        domain: &str,
        key_authorization_sha256: &[u8],
    ) -> Result<(), Error> {
        if key_authorization_sha256.len() != 32 {
            return Err(Error::Acme("key authorization digest is not SHA-256".into()));
        }
        let rcgen_err = |e: rcgen::Error| Error::Acme(format!("challenge certificate: {e}"));
        let mut params =
            rcgen::CertificateParams::new(vec![domain.to_owned()]).map_err(rcgen_err)?;
        params.custom_extensions =
            vec![rcgen::CustomExtension::new_acme_identifier(key_authorization_sha256)];
        let key = rcgen::KeyPair::generate().map_err(rcgen_err)?;
        let cert = params.self_signed(&key).map_err(rcgen_err)?;
        let key_der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
        // Not `certified_key`: its consistency check parses the certificate with webpki,
        // which rejects the critical acmeIdentifier extension that this one must carry.
        let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key_der)
            .map_err(|e| Error::Acme(format!("challenge key: {e}")))?;
        let certified = CertifiedKey::new(vec![cert.der().clone()], signing);
        self.challenges
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(domain.to_ascii_lowercase(), Arc::new(certified));
        Ok(())
    }

    pub fn remove_challenge(&self, domain: &str) {
        self.challenges
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&domain.to_ascii_lowercase());
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validating = hello.alpn().is_some_and(|mut offered| {
            offered.next() == Some(ACME_TLS_ALPN) && offered.next().is_none()
        });
        if validating {
            // RFC 8737: answer only with the challenge certificate, never the real one.
            let domain = hello.server_name()?.to_ascii_lowercase();
            return self
                .challenges
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&domain)
                .cloned();
        }
        self.current()
    }
}

/// A certificate chain and its key in the form rustls serves, refusing a key that does
/// not belong to the leaf certificate.
pub fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'_>,
) -> Result<CertifiedKey, Error> {
    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(key)
        .map_err(|e| Error::Acme(format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| Error::Acme(format!("certificate and key do not fit: {e}")))?;
    Ok(certified)
}
