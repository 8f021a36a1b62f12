//! Structured logging: pretty for people, JSON for collectors, filtered per module, to
//! stderr and optionally to a file in the data directory; errors also go to Sentry when a
//! DSN is configured (see [`crate::telemetry`]).

use std::io::IsTerminal as _;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt as _};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{Config, LogFormat};
use crate::error::Error;

/// Installs the global subscriber. Call once, early in `main`, after
/// [`crate::telemetry::init`] so error events reach Sentry.
pub fn init(config: &Config, sentry: bool) -> Result<(), Error> {
    let filter = EnvFilter::try_new(&config.log.level)
        .map_err(|e| Error::Config(format!("log.level {:?}: {e}", config.log.level)))?;
    let writer = if config.log.to_file {
        let dir = config.data_dir.join("logs");
        // Logs name accounts and client addresses: owner-only, like the database.
        crate::private_files::create_dir(&dir)?;
        let path = dir.join("auraspeak-server.log");
        let file = crate::private_files::file_options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        BoxMakeWriter::new(std::io::stderr.and(Mutex::new(file)))
    } else {
        BoxMakeWriter::new(std::io::stderr)
    };
    let fmt = match config.log.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(writer)
            .boxed(),
        // Colours only on a terminal: journald and files would store the escape codes.
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(!config.log.to_file && std::io::stderr().is_terminal())
            .with_writer(writer)
            .boxed(),
    };
    // ERROR events become Sentry events; warnings and below ride along as breadcrumbs.
    let sentry_layers = sentry.then(|| {
        use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
        ErrorLayer::new().with_filter(tracing_subscriber::filter::LevelFilter::ERROR).and_then(
            BreadcrumbLayer::new().with_filter(tracing_subscriber::filter::LevelFilter::INFO),
        )
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(sentry_layers)
        .try_init()
        .map_err(|e| Error::Config(format!("logging already initialised: {e}")))
}
