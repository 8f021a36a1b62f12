//! The `Store` contract, run against SQLite and PostgreSQL alike: every backend must give
//! the same answers, including under concurrency.

#[path = "support/harness.rs"]
mod harness;

use std::sync::Arc;

use auraspeak_server::error::{Error, UniqueField};
use auraspeak_server::store::{
    self, NewRefreshToken, NewSession, NewUser, RevokeReason, RotateOutcome, Store,
};
use auraspeak_shared::{SessionId, Snowflake, SnowflakeGenerator, UserId};
use harness::{Backend, TestDb};

backend_tests!(
    users_unique_ignoring_case,
    sessions_rotate_and_detect_reuse,
    expiry_and_revocation,
    change_password_is_atomic,
    concurrent_rotation_has_one_winner,
    reopening_keeps_data,
);

const T0: i64 = 1_800_000_000_000;

struct Ids(std::sync::Mutex<SnowflakeGenerator>);

impl Ids {
    fn new() -> Self {
        Self(std::sync::Mutex::new(SnowflakeGenerator::new(1)))
    }
    fn next(&self) -> Snowflake {
        self.0.lock().expect("lock").next_id(T0 as u64)
    }
}

async fn open(db: &TestDb) -> Arc<dyn Store> {
    store::open(&db.config()).await.expect("store opens")
}

fn new_user(ids: &Ids, name: &str, email: &str) -> NewUser {
    NewUser {
        id: UserId(ids.next()),
        username: name.into(),
        email: email.into(),
        display_name: None,
        password_hash: "$argon2id$fake".into(),
        now: T0,
    }
}

fn new_session(ids: &Ids, user: UserId) -> NewSession {
    NewSession {
        id: SessionId(ids.next()),
        user_id: user,
        device_name: "rig".into(),
        ip: Some("127.0.0.1".into()),
        now: T0,
    }
}

fn token(n: u8, expires_at: i64) -> NewRefreshToken {
    NewRefreshToken { hash: vec![n; 32], expires_at }
}

async fn users_unique_ignoring_case(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let store = open(&db).await;
    let ids = Ids::new();
    let ann = store.create_user(&new_user(&ids, "Ann", "Ann@Example.com")).await.expect("created");
    assert_eq!(ann.username, "Ann");
    let clash = store.create_user(&new_user(&ids, "ANN", "other@example.com")).await;
    assert!(matches!(clash, Err(Error::Conflict(UniqueField::Username))), "{clash:?}");
    let clash = store.create_user(&new_user(&ids, "other", "ann@EXAMPLE.com")).await;
    assert!(matches!(clash, Err(Error::Conflict(UniqueField::Email))), "{clash:?}");

    assert_eq!(store.user_by_login("ann").await.expect("query"), Some(ann.clone()));
    assert_eq!(store.user_by_login("ann@example.com").await.expect("query"), Some(ann.clone()));
    assert_eq!(store.user_by_login("nobody").await.expect("query"), None);
    assert_eq!(store.user_by_id(ann.id).await.expect("query"), Some(ann.clone()));

    let renamed = store
        .set_display_name(ann.id, Some("Annie ✨"), T0 + 5)
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(renamed.display_name.as_deref(), Some("Annie ✨"));
    assert_eq!(renamed.updated_at, T0 + 5);
    let missing = store.set_display_name(UserId(ids.next()), Some("x"), T0).await.expect("update");
    assert_eq!(missing, None);
    store.ping().await.expect("ping");
    db.drop_now().await;
}

async fn sessions_rotate_and_detect_reuse(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let store = open(&db).await;
    let ids = Ids::new();
    let user = store.create_user(&new_user(&ids, "bob", "bob@example.com")).await.expect("user");
    let session = store
        .create_session(&new_session(&ids, user.id), &token(1, T0 + 1000))
        .await
        .expect("session");
    assert!(session.is_active(T0));

    let rotated = store
        .rotate_refresh_token(&[1; 32], &token(2, T0 + 2000), Some("10.0.0.1"), T0 + 10)
        .await
        .expect("rotate");
    let RotateOutcome::Rotated(s) = rotated else { panic!("{rotated:?}") };
    assert_eq!(s.id, session.id);
    assert_eq!((s.last_used_at, s.expires_at), (T0 + 10, T0 + 2000));
    assert_eq!(s.ip.as_deref(), Some("10.0.0.1"));

    // The spent token again: reuse, and the family is revoked.
    let replay = store
        .rotate_refresh_token(&[1; 32], &token(3, T0 + 3000), None, T0 + 20)
        .await
        .expect("rotate");
    assert_eq!(replay, RotateOutcome::Reused(session.id));
    let after = store.session(session.id).await.expect("query").expect("exists");
    assert_eq!(after.revoked_at, Some(T0 + 20));
    let current = store
        .rotate_refresh_token(&[2; 32], &token(4, T0 + 3000), None, T0 + 30)
        .await
        .expect("rotate");
    assert_eq!(current, RotateOutcome::Invalid, "the family is dead");
    let unknown =
        store.rotate_refresh_token(&[9; 32], &token(5, T0 + 3000), None, T0).await.expect("rotate");
    assert_eq!(unknown, RotateOutcome::Invalid);
    assert!(store.active_sessions(user.id, T0 + 40).await.expect("list").is_empty());
    db.drop_now().await;
}

async fn expiry_and_revocation(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let store = open(&db).await;
    let ids = Ids::new();
    let user = store.create_user(&new_user(&ids, "cy", "cy@example.com")).await.expect("user");
    let other = store.create_user(&new_user(&ids, "dee", "dee@example.com")).await.expect("user");
    let a =
        store.create_session(&new_session(&ids, user.id), &token(1, T0 + 100)).await.expect("a");
    let b =
        store.create_session(&new_session(&ids, user.id), &token(2, T0 + 10_000)).await.expect("b");

    let active = store.active_sessions(user.id, T0 + 50).await.expect("list");
    assert_eq!(active.iter().map(|s| s.id).collect::<Vec<_>>(), vec![b.id, a.id], "newest first");
    let active = store.active_sessions(user.id, T0 + 200).await.expect("list");
    assert_eq!(
        active.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![b.id],
        "expired ones drop out"
    );
    let expired = store
        .rotate_refresh_token(&[1; 32], &token(3, T0 + 9000), None, T0 + 200)
        .await
        .expect("rotate");
    assert_eq!(expired, RotateOutcome::Invalid);
    // Refusing an expired token must not mark it used (a later replay is not "reuse").
    let again = store
        .rotate_refresh_token(&[1; 32], &token(4, T0 + 9000), None, T0 + 300)
        .await
        .expect("rotate");
    assert_eq!(again, RotateOutcome::Invalid);

    assert!(
        !store
            .revoke_session(other.id, b.id, RevokeReason::RevokedByUser, T0)
            .await
            .expect("revoke"),
        "not theirs"
    );
    assert!(
        store.revoke_session(user.id, b.id, RevokeReason::Logout, T0 + 1).await.expect("revoke")
    );
    assert!(
        !store.revoke_session(user.id, b.id, RevokeReason::Logout, T0 + 2).await.expect("revoke"),
        "only once"
    );
    let revoked = store
        .rotate_refresh_token(&[2; 32], &token(5, T0 + 9000), None, T0 + 3)
        .await
        .expect("rotate");
    assert_eq!(revoked, RotateOutcome::Invalid);
    db.drop_now().await;
}

async fn change_password_is_atomic(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let store = open(&db).await;
    let ids = Ids::new();
    let user = store.create_user(&new_user(&ids, "eve", "eve@example.com")).await.expect("user");
    let keep =
        store.create_session(&new_session(&ids, user.id), &token(1, T0 + 1000)).await.expect("s");
    for n in 2..5 {
        store.create_session(&new_session(&ids, user.id), &token(n, T0 + 1000)).await.expect("s");
    }
    let revoked =
        store.change_password(user.id, "$argon2id$new", keep.id, T0 + 1).await.expect("change");
    assert_eq!(revoked, 3);
    let active = store.active_sessions(user.id, T0 + 2).await.expect("list");
    assert_eq!(active.iter().map(|s| s.id).collect::<Vec<_>>(), vec![keep.id]);
    let stored = store.user_by_id(user.id).await.expect("query").expect("exists");
    assert_eq!(stored.password_hash, "$argon2id$new");
    db.drop_now().await;
}

async fn concurrent_rotation_has_one_winner(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let store = open(&db).await;
    let ids = Ids::new();
    let user = store.create_user(&new_user(&ids, "fay", "fay@example.com")).await.expect("user");
    store.create_session(&new_session(&ids, user.id), &token(1, T0 + 10_000)).await.expect("s");
    let mut tasks = Vec::new();
    for n in 0..8u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.rotate_refresh_token(&[1; 32], &token(100 + n, T0 + 20_000), None, T0 + 1).await
        }));
    }
    let mut rotated = 0;
    for t in tasks {
        match t.await.expect("task").expect("rotate") {
            RotateOutcome::Rotated(_) => rotated += 1,
            RotateOutcome::Reused(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(rotated, 1, "one token, one successful rotation");
    db.drop_now().await;
}

async fn reopening_keeps_data(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let ids = Ids::new();
    let id = {
        let store = open(&db).await;
        store.create_user(&new_user(&ids, "gil", "gil@example.com")).await.expect("user").id
    };
    // Opening again re-runs migrations (a no-op) and finds the data.
    let store = open(&db).await;
    assert!(store.user_by_id(id).await.expect("query").is_some());
    db.drop_now().await;
}
