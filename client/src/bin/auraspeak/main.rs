//! `auraspeak`: the headless AuraSpeak client, for scripts, bots and tests.
//!
//! Thin on purpose: argument parsing, output and exit codes live here; talking to the
//! server is the client library's ([`auraspeak_client::api`], `gateway`, `follow`).

mod commands;
mod output;
mod voice;

use std::path::PathBuf;
use std::process::ExitCode;

use auraspeak_client::Error;
use auraspeak_client::tls::Fingerprint;
use auraspeak_shared::ErrorCode;
use clap::{Parser, Subcommand};

/// Exit codes, stable for scripts.
mod exit {
    /// Anything not listed below.
    pub(crate) const FAILURE: u8 = 1;
    /// Not logged in, wrong password, or the session has ended.
    pub(crate) const AUTH: u8 = 3;
    /// No such server, channel or invite.
    pub(crate) const NOT_FOUND: u8 = 4;
    /// The account lacks the permission (or is banned).
    pub(crate) const FORBIDDEN: u8 = 5;
    /// The server cannot be reached.
    pub(crate) const UNREACHABLE: u8 = 6;
}

#[derive(Parser)]
#[command(
    name = "auraspeak",
    version,
    about = "Headless AuraSpeak client",
    after_help = "Exit codes: 0 success, 1 failure, 2 usage, 3 not logged in or wrong \
                  credentials, 4 unknown server or channel, 5 missing permission, \
                  6 server unreachable.\n\
                  Passwords come from --password-stdin or the AURASPEAK_PASSWORD variable."
)]
struct Cli {
    /// Where the session is saved [default: $XDG_CONFIG_HOME/auraspeak]
    #[arg(long, global = true, value_name = "DIR")]
    profile_dir: Option<PathBuf>,

    /// Machine-readable output: one JSON value (`tail`: one JSON object per line)
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an account and log in with it
    Register {
        /// Server URL, e.g. https://chat.example.org
        #[arg(long)]
        server: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
        /// Trust exactly the server certificate with this SHA-256 fingerprint (AB:CD:…),
        /// as the server prints it for its self-signed certificate
        #[arg(long, value_name = "SHA256")]
        certificate_fingerprint: Option<Fingerprint>,
    },
    /// Log in and save the session
    Login {
        /// Server URL, e.g. https://chat.example.org
        #[arg(long)]
        server: String,
        /// Username or email address
        #[arg(long)]
        user: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
        /// Name of this device in the account's session list
        #[arg(long, default_value = "auraspeak cli")]
        device: String,
        /// Trust exactly the server certificate with this SHA-256 fingerprint (AB:CD:…),
        /// as the server prints it for its self-signed certificate
        #[arg(long, value_name = "SHA256")]
        certificate_fingerprint: Option<Fingerprint>,
    },
    /// End the saved session on the server and forget it
    Logout,
    /// List your servers
    Servers,
    /// Join a server with an invite: the link (https://host/invite/CODE) or its code
    Join { invite: String },
    /// List the channels of a server (ID or name)
    Channels { server: String },
    /// Post a message to a channel (ID, name, #name or server/name)
    Send { channel: String, text: String },
    /// Print recent messages of a channel, then follow new ones live
    Tail {
        channel: String,
        /// Recent messages to print first (0-100)
        #[arg(long, default_value_t = 20)]
        history: u32,
        /// Stop after this many new messages
        #[arg(long)]
        count: Option<u64>,
        /// Stop after this many seconds
        #[arg(long, value_name = "SECONDS")]
        duration: Option<u64>,
    },
    /// Voice channels
    Voice {
        #[command(subcommand)]
        action: VoiceCommand,
    },
}

#[derive(Subcommand)]
enum VoiceCommand {
    /// Join a voice channel (ID, name or server/name) and talk and listen until the
    /// duration is over, the input file ends, or `leave` is read from standard input
    Join {
        channel: String,
        /// Microphone: a device id or name, `default`, a .wav file (played in real time),
        /// or `none`
        #[arg(long, default_value = "default")]
        input: String,
        /// Speakers: a device id or name, `default`, a .wav file to record to, or `none`
        #[arg(long, default_value = "default")]
        output: String,
        /// Push-to-talk: transmit only between `press` and `release` lines on standard
        /// input (other lines: mute, unmute, deafen, undeafen, leave)
        #[arg(long)]
        ptt: bool,
        /// Leave after this many seconds
        #[arg(long, value_name = "SECONDS")]
        duration: Option<u64>,
        /// Join muted
        #[arg(long)]
        mute: bool,
        /// Join deafened
        #[arg(long)]
        deaf: bool,
        /// Audio per packet in milliseconds: 20 (the default) or 10 (lower latency, ~10 %
        /// more bitrate)
        #[arg(long, value_name = "MS", default_value_t = 20)]
        frame_ms: u8,
        /// Opus bitrate in kb/s, 8 to 510 [default: 40]
        #[arg(long, value_name = "KBPS", value_parser = clap::value_parser!(u32).range(8..=510))]
        bitrate: Option<u32>,
        /// Noise suppression: off, standard (RNNoise) or strong (RNNoise and a second stage
        /// for other voices and residual noise; 20 ms packets only)
        #[arg(long, value_name = "LEVEL", default_value = "strong", value_parser = ["off", "standard", "strong"])]
        suppression: String,
        /// Echo cancellation (WebRTC AEC3): on removes the others' voices that the speakers
        /// play back into the microphone; it only runs with a device for input and output
        /// (a file or none has no echo). Off for a headset
        #[arg(long, value_name = "ON_OFF", default_value = "on", value_parser = ["on", "off"])]
        echo_cancellation: String,
        /// When to transmit without push-to-talk: on voice activity, or continuously
        #[arg(long, value_name = "MODE", default_value = "voice", value_parser = ["voice", "continuous"])]
        gate: String,
        /// Copies of earlier packets against loss: auto (from the loss reported), off, 1 or 2
        #[arg(long, value_name = "MODE", default_value = "auto", value_parser = ["auto", "off", "1", "2"])]
        redundancy: String,
    },
    /// List the audio devices
    Devices {
        /// Also ALSA's plugin pseudo-devices (rate converters, JACK, OSS…), hidden by default
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Worker threads, not one thread: on one thread the call shared it with the gateway and
    // the link, and received speech scored about 0.3 PESQ lower at 10 % loss (median of 9
    // runs 3.53 against 3.80 of 3 runs on worker threads).
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("auraspeak: cannot start the async runtime: {e}");
                return ExitCode::from(exit::FAILURE);
            }
        };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("auraspeak: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

fn exit_code(err: &anyhow::Error) -> u8 {
    let Some(err) = err.chain().find_map(|e| e.downcast_ref::<Error>()) else {
        return exit::FAILURE;
    };
    match err {
        Error::Unreachable { .. } => exit::UNREACHABLE,
        Error::NotLoggedIn => exit::AUTH,
        Error::NotFound { .. } => exit::NOT_FOUND,
        Error::GatewayClosed { .. } => exit::AUTH,
        Error::Api { code, .. } => match code {
            ErrorCode::InvalidCredentials
            | ErrorCode::MissingToken
            | ErrorCode::InvalidToken
            | ErrorCode::TokenExpired
            | ErrorCode::SessionRevoked
            | ErrorCode::InvalidRefreshToken
            | ErrorCode::RefreshTokenReused
            | ErrorCode::AccountDisabled => exit::AUTH,
            ErrorCode::NotFound => exit::NOT_FOUND,
            ErrorCode::Forbidden | ErrorCode::Banned => exit::FORBIDDEN,
            _ => exit::FAILURE,
        },
        _ => exit::FAILURE,
    }
}
