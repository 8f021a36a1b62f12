//! Structured logging: pretty for people, JSON for collectors, filtered per module, to
//! stderr and optionally to a file in the data directory.

use std::io::IsTerminal as _;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt as _};

use crate::config::{Config, LogFormat};
use crate::error::Error;

/// Installs the global subscriber. Call once, early in `main`.
pub fn init(config: &Config) -> Result<(), Error> {
    let filter = EnvFilter::try_new(&config.log.level)
        .map_err(|e| Error::Config(format!("log.level {:?}: {e}", config.log.level)))?;
    let writer = if config.log.to_file {
        let dir = config.data_dir.join("logs");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join("auraspeak-server.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        BoxMakeWriter::new(std::io::stderr.and(Mutex::new(file)))
    } else {
        BoxMakeWriter::new(std::io::stderr)
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let result = match config.log.format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        // Colours only on a terminal: journald and files would store the escape codes.
        LogFormat::Pretty => {
            builder.with_ansi(!config.log.to_file && std::io::stderr().is_terminal()).try_init()
        }
    };
    result.map_err(|e| Error::Config(format!("logging already initialised: {e}")))
}
