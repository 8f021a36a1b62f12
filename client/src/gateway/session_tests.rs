//! The session state machine in simulated time: every test runs minutes of gateway life
//! in microseconds.

use std::time::{Duration, Instant};

use auraspeak_shared::v1::gateway::{
    ClientFrame, Event, PresenceStatus, Ready, ServerFrame, close,
};
use auraspeak_shared::v1::users::CurrentUser;
use auraspeak_shared::{ErrorCode, Snowflake, UserId};

use super::{Authenticate, GatewaySession, Output, SessionConfig};
use crate::gateway::GatewayEvent;

const INTERVAL: Duration = Duration::from_secs(10);

fn config() -> SessionConfig {
    SessionConfig {
        backoff_base: Duration::from_secs(1),
        backoff_max: Duration::from_secs(8),
        handshake_timeout: Duration::from_secs(5),
        jitter_seed: 3,
        presence: PresenceStatus::Online,
    }
}

fn user() -> UserId {
    UserId(Snowflake::from_parts(1, 0, 0).expect("fits"))
}

fn ready(session_id: &str, seq: u64) -> ServerFrame {
    // Built from JSON rather than a struct literal: `Ready` gains fields over time (all
    // with serde defaults), and these tests should not have to follow each one.
    let user = CurrentUser {
        id: user(),
        username: "ann".into(),
        display_name: None,
        email: "ann@example.com".into(),
        created_at: 0,
    };
    let ready: Ready = serde_json::from_value(serde_json::json!({
        "session_id": session_id,
        "seq": seq,
        "user": user,
        "servers": [],
        "heartbeat_interval_ms": INTERVAL.as_millis() as u64,
    }))
    .expect("a minimal ready parses");
    ServerFrame::Ready(Box::new(ready))
}

fn dispatch(seq: u64) -> ServerFrame {
    ServerFrame::Dispatch {
        seq,
        event: Event::PresenceUpdate { user_id: user(), status: PresenceStatus::Online },
    }
}

fn drain(s: &mut GatewaySession) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn hello() -> ServerFrame {
    ServerFrame::Hello {
        heartbeat_interval_ms: INTERVAL.as_millis() as u64,
        identify_presence: true,
    }
}

/// Runs a new session through connect, hello and ready; returns it live.
fn live_session(t0: Instant) -> GatewaySession {
    let mut s = GatewaySession::new(config(), t0);
    assert_eq!(s.poll_timeout(), Some(t0), "connects right away");
    s.handle_timeout(t0);
    assert_eq!(drain(&mut s), vec![Output::Connect]);
    s.handle_connected(t0);
    s.handle_frame(hello(), t0);
    assert_eq!(drain(&mut s), vec![Output::Authenticate(Authenticate::Identify)]);
    s.handle_frame(ready("s1", 5), t0);
    let out = drain(&mut s);
    assert!(
        matches!(&out[..], [Output::Event(GatewayEvent::Ready { resync: false, .. })]),
        "{out:?}"
    );
    assert!(s.is_live());
    s
}

/// Delivers `Disconnected`, waits out the backoff and reconnects up to the hello.
fn reconnect_after_drop(s: &mut GatewaySession, code: Option<u16>, now: Instant) -> Instant {
    s.handle_closed(code, now);
    let out = drain(s);
    let [Output::Event(GatewayEvent::Disconnected { reconnect_in, .. })] = &out[..] else {
        panic!("expected a disconnect event, got {out:?}");
    };
    let at = now + *reconnect_in;
    assert_eq!(s.poll_timeout(), Some(at));
    s.handle_timeout(at - Duration::from_millis(1));
    assert_eq!(drain(s), vec![], "not before the backoff has passed");
    s.handle_timeout(at);
    assert_eq!(drain(s), vec![Output::Connect]);
    s.handle_connected(at);
    s.handle_frame(hello(), at);
    at
}

#[test]
fn heartbeats_carry_the_last_seq_and_a_missing_ack_reconnects() {
    let t0 = Instant::now();
    let mut s = live_session(t0);
    s.handle_frame(dispatch(6), t0);
    s.handle_frame(dispatch(7), t0);
    assert_eq!(drain(&mut s).len(), 2);
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL));
    s.handle_timeout(t0 + INTERVAL);
    assert_eq!(drain(&mut s), vec![Output::Send(ClientFrame::Heartbeat { seq: 7 })]);
    s.handle_frame(ServerFrame::HeartbeatAck { seq: 7 }, t0 + INTERVAL);
    // An hour of acknowledged heartbeats keeps the connection.
    let mut now = t0 + INTERVAL;
    for _ in 0..360 {
        now += INTERVAL;
        s.handle_timeout(now);
        assert_eq!(drain(&mut s), vec![Output::Send(ClientFrame::Heartbeat { seq: 7 })]);
        s.handle_frame(ServerFrame::HeartbeatAck { seq: 7 }, now);
    }
    // Then the acks stop: one more heartbeat goes out, and at the next one the
    // connection is given up.
    now += INTERVAL;
    s.handle_timeout(now);
    assert_eq!(drain(&mut s), vec![Output::Send(ClientFrame::Heartbeat { seq: 7 })]);
    now += INTERVAL;
    s.handle_timeout(now);
    assert_eq!(drain(&mut s), vec![Output::Disconnect]);
    assert!(!s.is_live());
    assert_eq!(s.poll_timeout(), None, "waits for the driver to report the close");
    let at = reconnect_after_drop(&mut s, None, now);
    assert_eq!(
        drain(&mut s),
        vec![Output::Authenticate(Authenticate::Resume { session_id: "s1".into(), seq: 7 })]
    );
    assert!(at > now);
}

#[test]
fn resume_replays_without_repeats_and_resets_the_backoff() {
    let t0 = Instant::now();
    let mut s = live_session(t0);
    s.handle_frame(dispatch(6), t0);
    drain(&mut s);
    // Three failed attempts in a row: the delays grow.
    let mut now = t0;
    let mut delays = Vec::new();
    for _ in 0..3 {
        s.handle_closed(Some(close::GOING_AWAY), now);
        let out = drain(&mut s);
        let [Output::Event(GatewayEvent::Disconnected { code, reconnect_in })] = &out[..] else {
            panic!("{out:?}");
        };
        assert_eq!(*code, Some(close::GOING_AWAY));
        delays.push(*reconnect_in);
        now += *reconnect_in;
        s.handle_timeout(now);
        assert_eq!(drain(&mut s), vec![Output::Connect]);
    }
    assert!(
        delays[0] <= Duration::from_secs(1) && delays[2] >= Duration::from_secs(2),
        "{delays:?}"
    );
    s.handle_connected(now);
    s.handle_frame(hello(), now);
    assert_eq!(
        drain(&mut s),
        vec![Output::Authenticate(Authenticate::Resume { session_id: "s1".into(), seq: 6 })]
    );
    // The replay, with one event the caller already had, then RESUMED.
    for seq in [6, 7, 8] {
        s.handle_frame(dispatch(seq), now);
    }
    s.handle_frame(ServerFrame::Resumed { session_id: "s1".into(), replayed: 2 }, now);
    let seqs: Vec<u64> = drain(&mut s)
        .into_iter()
        .map(|o| match o {
            Output::Event(GatewayEvent::Dispatch { seq, .. }) => seq,
            Output::Event(GatewayEvent::Resumed { replayed: 2 }) => 0,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seqs, vec![7, 8, 0], "6 is not handed out twice; resumed comes last");
    assert!(s.is_live());
    assert_eq!(s.last_seq(), 8);
    // Success resets the schedule: the next drop waits no longer than the first did.
    s.handle_closed(None, now);
    let out = drain(&mut s);
    let [Output::Event(GatewayEvent::Disconnected { reconnect_in, .. })] = &out[..] else {
        panic!("{out:?}");
    };
    assert!(*reconnect_in <= Duration::from_secs(1), "{reconnect_in:?}");
}

#[test]
fn invalid_session_identifies_anew_and_asks_for_a_resync() {
    let t0 = Instant::now();
    let mut s = live_session(t0);
    s.handle_closed(None, t0);
    drain(&mut s);
    let now = t0 + Duration::from_secs(1);
    s.handle_timeout(now);
    s.handle_connected(now);
    s.handle_frame(hello(), now);
    assert_eq!(
        drain(&mut s),
        vec![
            Output::Connect,
            Output::Authenticate(Authenticate::Resume { session_id: "s1".into(), seq: 5 })
        ]
    );
    s.handle_frame(ServerFrame::InvalidSession { resumable: false }, now);
    assert_eq!(
        drain(&mut s),
        vec![Output::Event(GatewayEvent::InvalidSession), Output::Disconnect]
    );
    // The server's own close after invalid_session is expected, not fatal.
    let at = reconnect_after_drop(&mut s, Some(close::NOT_AUTHENTICATED), now);
    assert_eq!(drain(&mut s), vec![Output::Authenticate(Authenticate::Identify)]);
    s.handle_frame(ready("s2", 40), at);
    let out = drain(&mut s);
    assert!(
        matches!(&out[..], [Output::Event(GatewayEvent::Ready { resync: true, ready })] if ready.session_id == "s2"),
        "{out:?}"
    );
    assert_eq!(s.session_id(), Some("s2"));
    assert_eq!(s.last_seq(), 40);
    // Only once: a later plain reconnect resumes the new session without a re-sync.
    reconnect_after_drop(&mut s, None, at);
    assert_eq!(
        drain(&mut s),
        vec![Output::Authenticate(Authenticate::Resume { session_id: "s2".into(), seq: 40 })]
    );
}

#[test]
fn not_authenticated_without_invalid_session_also_starts_over() {
    let t0 = Instant::now();
    let mut s = live_session(t0);
    reconnect_after_drop(&mut s, Some(close::NOT_AUTHENTICATED), t0);
    assert_eq!(drain(&mut s), vec![Output::Authenticate(Authenticate::Identify)]);
    s.handle_frame(ready("s9", 0), t0 + Duration::from_secs(2));
    let out = drain(&mut s);
    assert!(matches!(&out[..], [Output::Event(GatewayEvent::Ready { resync: true, .. })]));
}

#[test]
fn fatal_closes_end_the_session() {
    for code in [close::AUTHENTICATION_FAILED, close::SESSION_REVOKED, close::DECODE_ERROR] {
        let t0 = Instant::now();
        let mut s = live_session(t0);
        s.handle_closed(Some(code), t0);
        let out = drain(&mut s);
        assert!(
            matches!(&out[..], [Output::Event(GatewayEvent::Closed { code: c, .. })] if *c == code),
            "{code}: {out:?}"
        );
        assert!(s.is_ended());
        assert_eq!(s.poll_timeout(), None);
        s.handle_timeout(t0 + Duration::from_secs(3600));
        s.handle_closed(None, t0);
        assert_eq!(drain(&mut s), vec![], "{code}: nothing after the end");
    }
}

#[test]
fn a_stalled_handshake_is_abandoned() {
    let t0 = Instant::now();
    let mut s = GatewaySession::new(config(), t0);
    s.handle_timeout(t0);
    drain(&mut s);
    s.handle_connected(t0 + Duration::from_secs(1));
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(6)), "budget restarts on connect");
    s.handle_timeout(t0 + Duration::from_secs(6));
    assert_eq!(drain(&mut s), vec![Output::Disconnect]);
}

#[test]
fn frames_out_of_place_are_ignored_and_server_errors_reported() {
    let t0 = Instant::now();
    let mut s = live_session(t0);
    // A second hello on a live connection does not trigger a second identify.
    s.handle_frame(hello(), t0);
    assert_eq!(drain(&mut s), vec![]);
    s.handle_frame(
        ServerFrame::Error { code: ErrorCode::RateLimited, message: "slow down".into() },
        t0,
    );
    assert_eq!(
        drain(&mut s),
        vec![Output::Event(GatewayEvent::ServerError {
            code: ErrorCode::RateLimited,
            message: "slow down".into()
        })]
    );
    assert!(s.is_live());
}

#[test]
fn the_chosen_presence_goes_into_identify_only_where_the_server_reads_it() {
    let t0 = Instant::now();
    let mut s = GatewaySession::new(config(), t0);
    s.handle_timeout(t0);
    drain(&mut s);
    s.handle_connected(t0);
    s.handle_frame(
        ServerFrame::Hello { heartbeat_interval_ms: 1000, identify_presence: false },
        t0,
    );
    assert_eq!(drain(&mut s), vec![Output::Authenticate(Authenticate::Identify)]);
    assert!(!s.identify_presence(), "a server from before the field would refuse it");
    assert!(live_session(t0).identify_presence());
    // What an older server sends: no such key at all.
    let old: ServerFrame =
        serde_json::from_str(r#"{"op":"hello","d":{"heartbeat_interval_ms":1000}}"#).unwrap();
    assert_eq!(old, ServerFrame::Hello { heartbeat_interval_ms: 1000, identify_presence: false });
}
