//! `auraspeak-server`: run the server, or inspect its configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use auraspeak_server::config::{Config, DEFAULT_TOML, Overrides, redact_url_password};
use clap::{Parser, Subcommand};

/// Self-hosted voice and text chat server for gaming communities.
///
/// Settings come from the built-in defaults, then --config FILE, then AURASPEAK_*
/// environment variables (AURASPEAK_SECTION__KEY), then the flags below.
#[derive(Parser, Debug)]
#[command(name = "auraspeak-server", version, about, long_about)]
struct Cli {
    /// TOML configuration file (see `auraspeak-server default-config`).
    #[arg(long, short, env = "AURASPEAK_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Folder for the embedded database, signing key and logs.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Address to listen on, e.g. 0.0.0.0:8080.
    #[arg(long, global = true)]
    listen: Option<SocketAddr>,
    /// postgres://user:password@host/db, or empty for the embedded database.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Log filter, e.g. "info" or "info,auraspeak_server=debug".
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Print the effective configuration, secrets hidden.
    PrintConfig,
    /// Print the commented default configuration file.
    DefaultConfig,
    /// Administer this instance: accounts, invites, backups (exit code 2: refused).
    Admin {
        #[command(subcommand)]
        command: auraspeak_server::admin::AdminCommand,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::DefaultConfig)) {
        print!("{DEFAULT_TOML}");
        return Ok(());
    }
    let overrides = Overrides {
        data_dir: cli.data_dir,
        listen: cli.listen,
        database_url: cli.database_url,
        log_level: cli.log_level,
    };
    let (config, warnings) = Config::load(cli.config.as_deref(), std::env::vars(), &overrides)?;
    if matches!(cli.command, Some(Command::PrintConfig)) {
        print!("{}", config.to_redacted_toml());
        return Ok(());
    }
    if let Some(Command::Admin { command }) = cli.command {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let mut stdin = std::io::stdin().lock();
        match runtime.block_on(auraspeak_server::admin::run(config, command, &mut stdin)) {
            Ok(out) => {
                print!("{out}");
                return Ok(());
            }
            Err(e) => {
                eprintln!("error: {}", e.message);
                std::process::exit(e.exit_code);
            }
        }
    }
    // Before logging, so error events are reported; held until the process ends so
    // queued reports are flushed.
    let sentry_guard = auraspeak_server::telemetry::init(&config.sentry)?;
    auraspeak_server::logging::init(&config, sentry_guard.is_some())?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let database = match config.database_target()? {
        auraspeak_server::config::DatabaseTarget::Sqlite(path) => {
            format!("embedded SQLite at {}", path.display())
        }
        auraspeak_server::config::DatabaseTarget::Postgres(url) => redact_url_password(&url),
    };
    let server = auraspeak_server::start(config).await.context("starting the server")?;
    let addr = server.addr();
    let scheme = if server.tls_fingerprint().is_some() { "https" } else { "http" };
    tracing::info!(%addr, %database, scheme, "AuraSpeak server ready");
    // Printed plainly as well, for people and scripts regardless of the log format.
    println!("AuraSpeak server listening on {scheme}://{addr} (database: {database})");
    if let Some(fingerprint) = server.tls_fingerprint() {
        println!("TLS certificate SHA-256 fingerprint: {fingerprint}");
    }
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    if !server.shutdown().await? {
        tracing::warn!("grace period over; remaining requests were cut off");
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
