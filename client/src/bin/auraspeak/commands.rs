//! One function per subcommand.

use std::collections::HashMap;
use std::io::BufRead as _;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use auraspeak_client::api::ApiClient;
use auraspeak_client::follow::ChannelFollower;
use auraspeak_client::gateway::{self, GatewayEvent, SessionConfig};
use auraspeak_client::profile::Profile;
use auraspeak_client::tls::{Fingerprint, ServerTrust};
use auraspeak_client::{Error, resolve};
use auraspeak_shared::v1::auth::{AuthResponse, RegisterRequest};
use auraspeak_shared::v1::channels::ChannelKind;
use auraspeak_shared::v1::messages::SendMessageRequest;
use auraspeak_shared::{ServerId, UserId};
use serde_json::json;

use crate::output::{Names, Output};
use crate::{Cli, Command, VoiceCommand};

const PASSWORD_ENV: &str = "AURASPEAK_PASSWORD";
/// Largest page the members route serves.
const MEMBER_PAGE: u32 = 1000;

pub(crate) async fn run(cli: Cli) -> Result<()> {
    let profile = match cli.profile_dir {
        Some(dir) => Profile::new(dir),
        None => Profile::new(
            Profile::default_dir()
                .context("neither XDG_CONFIG_HOME nor HOME is set; pass --profile-dir")?,
        ),
    };
    let out = Output { json: cli.json };
    match cli.command {
        Command::Register {
            server,
            username,
            email,
            display_name,
            password_stdin,
            certificate_fingerprint,
        } => {
            let api = ApiClient::with_trust(&server, trust(certificate_fingerprint))?;
            let request = RegisterRequest {
                username,
                email,
                password: read_password(password_stdin)?,
                display_name,
                device_name: Some("auraspeak cli".into()),
                invite: None,
            };
            let auth = api.register(&request).await?;
            logged_in(&profile, &api, &auth, &out)
        }
        Command::Login { server, user, password_stdin, device, certificate_fingerprint } => {
            let api = ApiClient::with_trust(&server, trust(certificate_fingerprint))?;
            let password = read_password(password_stdin)?;
            let auth = api.login(&user, &password, Some(&device)).await?;
            logged_in(&profile, &api, &auth, &out)
        }
        Command::Logout => {
            let api = restore(&profile)?;
            api.logout().await?;
            profile.remove()?;
            if out.json {
                out.json_line(&json!({"logged_out": true}))
            } else {
                out.line("Logged out.")
            }
        }
        Command::Servers => out.servers(&restore(&profile)?.servers().await?),
        Command::Join { invite } => {
            let server = restore(&profile)?.join_invite(&invite).await?;
            if out.json {
                out.json_line(&server)
            } else {
                out.line(&format!("Joined {} ({} members).", server.name, server.member_count))
            }
        }
        Command::Channels { server } => {
            let api = restore(&profile)?;
            let server = resolve::find_server(&api, &server).await?;
            out.channels(&api.server(server.id).await?.channels)
        }
        Command::Send { channel, text } => {
            let api = restore(&profile)?;
            let (_, channel) = resolve::find_channel(&api, &channel, ChannelKind::Text).await?;
            let request = SendMessageRequest { content: text, reply_to: None, nonce: None };
            let message = api.send_message(channel.id, &request).await?;
            if out.json {
                out.json_line(&message)
            } else {
                out.line(&format!("sent {}", message.id))
            }
        }
        Command::Voice {
            action:
                VoiceCommand::Join {
                    channel,
                    input,
                    output,
                    ptt,
                    duration,
                    mute,
                    deaf,
                    frame_ms,
                    bitrate,
                    suppression,
                    echo_cancellation,
                    gate,
                    redundancy,
                },
        } => {
            let api = restore(&profile)?;
            let sound = crate::voice::SoundArgs {
                frame_ms,
                bitrate,
                suppression,
                echo_cancellation: echo_cancellation == "on",
                gate,
                redundancy,
            };
            let args =
                crate::voice::JoinArgs { channel, input, output, ptt, duration, mute, deaf, sound };
            crate::voice::join(&api, args, &out).await
        }
        Command::Voice { action: VoiceCommand::Devices { all } } => {
            crate::voice::devices(&out, all)
        }
        Command::Tail { channel, history, count, duration } => {
            let api = restore(&profile)?;
            let limits = TailLimits { count, duration: duration.map(Duration::from_secs) };
            tail(&api, &channel, history, limits, &out).await
        }
    }
}

fn trust(fingerprint: Option<Fingerprint>) -> ServerTrust {
    fingerprint.map_or(ServerTrust::System, ServerTrust::Pinned)
}

/// The password from the first line of stdin, or from the environment for scripts.
fn read_password(from_stdin: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
        let password = line.trim_end_matches(['\n', '\r']).to_owned();
        if password.is_empty() {
            bail!("no password on standard input");
        }
        return Ok(password);
    }
    match std::env::var(PASSWORD_ENV) {
        Ok(password) if !password.is_empty() => Ok(password),
        _ => bail!("no password given: use --password-stdin or set {PASSWORD_ENV}"),
    }
}

fn logged_in(profile: &Profile, api: &ApiClient, auth: &AuthResponse, out: &Output) -> Result<()> {
    profile.save_login(api, auth.user.id, &auth.user.username)?;
    if out.json {
        out.json_line(&json!({"server": api.base_url(), "user": auth.user}))
    } else {
        out.line(&format!("Logged in to {} as {}.", api.base_url(), auth.user.username))
    }
}

/// A client for the saved session whose token rotations are written back at once: the
/// old refresh token is spent the moment the server answers.
fn restore(profile: &Profile) -> Result<ApiClient> {
    let api = profile.restore_client(|e| {
        eprintln!("auraspeak: warning: could not update the saved session: {e}");
    })?;
    api.ok_or(Error::NotLoggedIn).context("run `auraspeak login` first")
}

struct TailLimits {
    count: Option<u64>,
    duration: Option<Duration>,
}

async fn tail(
    api: &ApiClient,
    spec: &str,
    history: u32,
    limits: TailLimits,
    out: &Output,
) -> Result<()> {
    let (detail, channel) = resolve::find_channel(api, spec, ChannelKind::Text).await?;
    let roles = detail.roles.iter().map(|r| (r.id.0.get(), r.name.clone())).collect();
    let mut names = Names { users: member_names(api, detail.server.id).await?, roles };
    let mut follower = ChannelFollower::new(api.clone(), channel.id);
    let (handle, mut events) = gateway::connect_api(api, SessionConfig::default());
    // History after the gateway is ready: a message posted in between then arrives both
    // ways, and the follower drops the repeat, instead of falling into a gap.
    match events.next().await {
        Some(GatewayEvent::Ready { .. }) => {}
        Some(GatewayEvent::Closed { code, reason }) => {
            return Err(Error::GatewayClosed { code, reason }.into());
        }
        other => bail!("the gateway did not become ready: {other:?}"),
    }
    for message in follower.recent(history).await? {
        out.message(&message, &names)?;
    }
    out.status(&format!("Following #{} on {} (Ctrl-C to stop)", channel.name, detail.server.name));
    let deadline = limits.duration.map(|d| tokio::time::Instant::now() + d);
    let mut live = 0u64;
    // One future for the whole loop: a fresh `ctrl_c()` per iteration could miss a
    // signal that arrives in between, and the default handler is already replaced.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let result = loop {
        if limits.count.is_some_and(|n| live >= n) {
            break Ok(());
        }
        let event = tokio::select! {
            event = events.next() => event,
            _ = &mut interrupted => break Ok(()),
            () = sleep_until(deadline) => break Ok(()),
        };
        let Some(event) = event else { break Err(Error::GatewayEnded.into()) };
        match &event {
            GatewayEvent::Closed { code, reason } => {
                break Err(Error::GatewayClosed { code: *code, reason: reason.clone() }.into());
            }
            GatewayEvent::Disconnected { reconnect_in, .. } => {
                out.status(&format!(
                    "Connection lost; reconnecting in {:.1} s",
                    reconnect_in.as_secs_f32()
                ));
            }
            GatewayEvent::Resumed { .. } => out.status("Reconnected."),
            GatewayEvent::Ready { resync: true, .. } => out.status("Reconnected; catching up."),
            _ => {}
        }
        for message in follower.handle_event(&event).await? {
            if !names.users.contains_key(&message.author_id) {
                // Most likely someone who just joined. Asked once per author: one who has
                // left again is shown by ID from then on.
                names.users = member_names(api, detail.server.id).await?;
                names
                    .users
                    .entry(message.author_id)
                    .or_insert_with(|| message.author_id.to_string());
            }
            out.message(&message, &names)?;
            live += 1;
            if limits.count.is_some_and(|n| live >= n) {
                break;
            }
        }
    };
    handle.close().await;
    result
}

/// Display names of a server's members, for showing message authors.
async fn member_names(api: &ApiClient, server: ServerId) -> Result<HashMap<UserId, String>> {
    let mut names = HashMap::new();
    let mut after = None;
    loop {
        let page = api.members(server, after, MEMBER_PAGE).await?;
        for m in page.members {
            let shown = m.nickname.or(m.display_name).unwrap_or(m.username);
            names.insert(m.user_id, shown);
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => return Ok(names),
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
