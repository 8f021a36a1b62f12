use auraspeak_shared::v1::messages::Message;
use auraspeak_shared::{ChannelId, MessageId, Snowflake, UserId};

use super::*;

fn id(n: u64) -> Snowflake {
    Snowflake::from_parts(n, 0, 0).expect("small ids fit")
}

fn message(channel: u64, n: u64, content: &str) -> Message {
    Message {
        id: MessageId(id(n)),
        channel_id: ChannelId(id(channel)),
        author_id: UserId(id(7)),
        content: content.to_owned(),
        reply_to: None,
        nonce: None,
        created_at: 0,
        edited_at: None,
        mentions: Vec::new(),
        mention_roles: Vec::new(),
        mention_everyone: false,
        reactions: Vec::new(),
    }
}

#[test]
fn known_servers_come_most_recent_first_and_keep_their_username() {
    let store = LocalStore::in_memory().expect("store");
    store.remember_server("https://a.example", Some("alice"), 10).expect("remember");
    store.remember_server("https://b.example", Some("bob"), 20).expect("remember");
    // A visit without a username (e.g. the login screen probing the server) keeps the name.
    store.remember_server("https://a.example", None, 30).expect("remember");
    let known = store.known_servers().expect("list");
    assert_eq!(
        known,
        vec![
            KnownServer {
                url: "https://a.example".into(),
                username: Some("alice".into()),
                last_used_ms: 30
            },
            KnownServer {
                url: "https://b.example".into(),
                username: Some("bob".into()),
                last_used_ms: 20
            },
        ]
    );
    store.forget_server("https://a.example").expect("forget");
    assert_eq!(store.known_servers().expect("list").len(), 1);
}

#[test]
fn settings_round_trip_and_an_unreadable_value_falls_back_to_none() {
    let store = LocalStore::in_memory().expect("store");
    assert_eq!(store.setting::<Vec<u32>>("numbers").expect("read"), None);
    store.set_setting("numbers", &vec![1u32, 2, 3]).expect("write");
    assert_eq!(store.setting::<Vec<u32>>("numbers").expect("read"), Some(vec![1, 2, 3]));
    store.set_setting("numbers", &"not numbers").expect("overwrite");
    assert_eq!(store.setting::<Vec<u32>>("numbers").expect("read"), None);
}

#[test]
fn the_cache_keeps_the_newest_messages_per_channel_in_order_and_applies_edits() {
    let mut store = LocalStore::in_memory().expect("store");
    let total = CACHED_MESSAGES_PER_CHANNEL as u64 + 20;
    let batch: Vec<Message> = (1..=total).map(|n| message(1, n, &format!("m{n}"))).collect();
    store.cache_messages(&batch).expect("cache");
    store.cache_messages(&[message(2, 5, "other channel")]).expect("cache");
    let cached = store.cached_messages(ChannelId(id(1))).expect("read");
    assert_eq!(cached.len(), CACHED_MESSAGES_PER_CHANNEL);
    assert_eq!(cached.first().map(|m| m.content.as_str()), Some("m21"));
    assert_eq!(cached.last().map(|m| m.content.as_str()), Some(format!("m{total}").as_str()));

    store.cache_messages(&[message(1, total, "edited")]).expect("edit");
    let cached = store.cached_messages(ChannelId(id(1))).expect("read");
    assert_eq!(cached.last().map(|m| m.content.as_str()), Some("edited"));
    assert_eq!(cached.len(), CACHED_MESSAGES_PER_CHANNEL);

    store.uncache_message(ChannelId(id(1)), MessageId(id(total)).as_i64()).expect("delete");
    assert_eq!(store.cached_messages(ChannelId(id(1))).expect("read").len(), 99);
    store.clear_cache().expect("clear");
    assert!(store.cached_messages(ChannelId(id(2))).expect("read").is_empty());
}

#[test]
fn a_store_reopens_with_its_data_and_refuses_a_newer_schema() {
    let dir = std::env::temp_dir().join(format!("auraspeak-store-{}", std::process::id()));
    let path = dir.join("nested").join("local.sqlite");
    {
        let store = LocalStore::open(&path).expect("create");
        store.set_setting("theme", &"light").expect("write");
    }
    {
        let store = LocalStore::open(&path).expect("reopen");
        assert_eq!(store.setting::<String>("theme").expect("read").as_deref(), Some("light"));
        store.conn.pragma_update(None, "user_version", 99).expect("pretend a newer app");
    }
    match LocalStore::open(&path) {
        Err(Error::Store(reason)) => assert!(reason.contains("newer"), "{reason}"),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_cache_row_is_skipped_not_fatal() {
    let mut store = LocalStore::in_memory().expect("store");
    store.cache_messages(&[message(3, 1, "fine")]).expect("cache");
    store
        .conn
        .execute(
            "INSERT INTO cached_messages (channel_id, message_id, body) VALUES (?1, 2, '{broken')",
            params![ChannelId(id(3)).as_i64()],
        )
        .expect("insert garbage");
    let cached = store.cached_messages(ChannelId(id(3))).expect("read");
    assert_eq!(cached.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), vec!["fine"]);
}

#[test]
fn user_preferences_are_kept_per_account() {
    let store = LocalStore::in_memory().expect("store");
    let (bob, carl) = (UserId(id(20)), UserId(id(21)));
    let quiet = UserPreference { volume_percent: 40, muted: false };
    store.set_user_preference("https://a.example|1", bob, quiet).expect("save");
    store
        .set_user_preference(
            "https://a.example|1",
            carl,
            UserPreference { volume_percent: 100, muted: true },
        )
        .expect("save");
    let louder = UserPreference { volume_percent: 180, muted: false };
    store.set_user_preference("https://a.example|1", bob, louder).expect("update");
    let mut mine = store.user_preferences("https://a.example|1").expect("load");
    mine.sort_by_key(|(user, _)| *user);
    assert_eq!(
        mine,
        vec![(bob, louder), (carl, UserPreference { volume_percent: 100, muted: true })]
    );
    assert!(
        store.user_preferences("https://b.example|1").expect("load").is_empty(),
        "another account"
    );
}
