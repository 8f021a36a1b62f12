//! The SRTP keys of a session, seen on their way from DTLS to str0m, so the relay can
//! protect its forwarded copies itself ([`super::srtp`]).
//!
//! str0m has no getter for its SRTP keys, but it takes a crypto provider
//! (`RtcConfig::set_crypto_provider`) whose DTLS half creates the handshake instances. The
//! provider here wraps str0m's default one: each instance it makes forwards every call
//! unchanged and, when the handshake hands out the DTLS-SRTP keying material (RFC 5764
//! 4.2), copies it, the profile and the instance's role into the session's [`KeyTap`].
//! The default provider stays in charge of everything: certificates, the handshake and
//! its randomness (none of str0m's test-only features are involved).
//!
//! A tap is tied to its session by a thread-local handed over for the duration of
//! `RtcConfig::build`, which is where str0m creates the session's one DTLS instance
//! (str0m `lib.rs` `Rtc::new_from_config` → `Dtls::new` → `new_dtls`).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use str0m::crypto::CryptoError;
use str0m::crypto::CryptoProvider;
use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
    SrtpProfile,
};
use str0m::{Rtc, RtcConfig};

/// The keying material of one session, as the DTLS handshake exported it.
#[derive(Clone)]
pub(super) struct Keys {
    pub(super) material: Vec<u8>,
    pub(super) profile: SrtpProfile,
    /// Whether we were the DTLS client: that side sends with the first key and salt.
    pub(super) active: bool,
}

/// Where one session's keys land. Shared between the DTLS instance inside str0m and the
/// relay's peer; written once per handshake, read when the generation moves.
#[derive(Default)]
pub(super) struct KeyTap {
    keys: Mutex<Option<Keys>>,
    /// Bumped with every set of keys, so the reader knows when to derive again without
    /// taking the lock per packet.
    generation: AtomicU64,
}

impl KeyTap {
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The latest keys and their generation, if the handshake produced any.
    pub(super) fn keys(&self) -> Option<(u64, Keys)> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.clone().map(|k| (self.generation(), k))
    }

    fn store(&self, material: &[u8], profile: SrtpProfile, active: bool) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        *keys = Some(Keys { material: material.to_vec(), profile, active });
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

thread_local! {
    /// The tap of the session being built on this thread, taken by the first DTLS
    /// instance the provider creates.
    static BUILDING: RefCell<Option<Arc<KeyTap>>> = const { RefCell::new(None) };
}

/// Builds a session whose DTLS keys go to `tap` as well as to str0m.
pub(super) fn build_tapped(config: RtcConfig, now: Instant, tap: &Arc<KeyTap>) -> Rtc {
    BUILDING.with(|b| *b.borrow_mut() = Some(tap.clone()));
    let rtc = config.set_crypto_provider(provider()).build(now);
    // Taken by the instance normally; cleared anyway so no later session gets it.
    BUILDING.with(|b| b.borrow_mut().take());
    rtc
}

/// str0m's default provider with the DTLS half wrapped.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            static TAP: TapProvider = TapProvider;
            Arc::new(CryptoProvider { dtls_provider: &TAP, ..default_provider().clone() })
        })
        .clone()
}

/// str0m's own provider, which the tap wraps and [`super::srtp`] takes its ciphers from.
pub(super) fn default_provider() -> &'static CryptoProvider {
    static DEFAULT: OnceLock<CryptoProvider> = OnceLock::new();
    DEFAULT.get_or_init(str0m::crypto::from_feature_flags)
}

#[derive(Debug)]
struct TapProvider;

impl DtlsProvider for TapProvider {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        default_provider().dtls_provider.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let inner = default_provider().dtls_provider.new_dtls(cert, now, dtls_version, mtu)?;
        Ok(match BUILDING.with(|b| b.borrow_mut().take()) {
            Some(tap) => Box::new(TappedDtls { inner, tap }),
            None => inner,
        })
    }

    fn is_test(&self) -> bool {
        default_provider().dtls_provider.is_test()
    }
}

/// A DTLS instance that copies the SRTP keys it exports to its session's tap.
struct TappedDtls {
    inner: Box<dyn DtlsInstance>,
    tap: Arc<KeyTap>,
}

impl std::fmt::Debug for TappedDtls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TappedDtls").finish_non_exhaustive()
    }
}

impl DtlsInstance for TappedDtls {
    fn set_active(&mut self, active: bool) {
        self.inner.set_active(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.inner.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        let output = self.inner.poll_output(buf);
        if let DtlsOutput::KeyingMaterial(material, profile) = &output {
            self.tap.store(material, *profile, self.inner.is_active());
        }
        output
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.inner.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.inner.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.inner.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.inner.close()
    }
}
