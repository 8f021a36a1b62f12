use super::*;

const SERVER: u64 = 100;
const MODS: u64 = 200;
const MUTED: u64 = 300;
const ME: u64 = 7;

fn member(roles: &[(u64, Permissions)]) -> MemberContext<'_> {
    MemberContext {
        user_id: ME,
        is_owner: false,
        everyone_role_id: SERVER,
        everyone: Permissions::DEFAULT_EVERYONE,
        roles,
    }
}

fn ow(target: OverwriteTarget, allow: Permissions, deny: Permissions) -> Overwrite {
    Overwrite { target, allow, deny }
}

#[test]
fn bits_are_distinct_and_stable() {
    let mut seen = 0u64;
    for (name, p) in Permissions::NAMED {
        assert_eq!(p.0.count_ones(), 1, "{name}");
        assert_eq!(seen & p.0, 0, "{name} reuses a bit");
        seen |= p.0;
    }
    assert_eq!(seen, Permissions::ALL.0);
    // Stored in databases and sent to clients: these must never move.
    assert_eq!(Permissions::VIEW_CHANNEL.0, 1);
    assert_eq!(Permissions::ADMINISTRATOR.0, 1 << 19);
}

#[test]
fn serializes_as_decimal_string() {
    let p = Permissions::VIEW_CHANNEL | Permissions::SPEAK;
    assert_eq!(serde_json::to_string(&p).expect("json"), "\"8193\"");
    assert_eq!(serde_json::from_str::<Permissions>("\"8193\"").expect("parse"), p);
    for bad in ["8193", "\"-1\"", "\"\"", "\"1e3\"", "\"18446744073709551616\""] {
        assert!(serde_json::from_str::<Permissions>(bad).is_err(), "{bad}");
    }
}

#[test]
fn owner_and_administrator_bypass_everything() {
    let deny_all = [ow(OverwriteTarget::Member(ME), Permissions::NONE, Permissions::ALL)];
    let mut owner = member(&[]);
    owner.is_owner = true;
    owner.everyone = Permissions::NONE;
    assert_eq!(channel_permissions(&owner, ChannelKind::Text, &deny_all), Permissions::ALL);
    let roles = [(MODS, Permissions::ADMINISTRATOR)];
    let admin = member(&roles);
    assert_eq!(channel_permissions(&admin, ChannelKind::Voice, &deny_all), Permissions::ALL);
    assert_eq!(server_permissions(&admin), Permissions::ALL);
}

#[test]
fn overwrites_cannot_grant_administrator() {
    let grant = [ow(OverwriteTarget::Member(ME), Permissions::ADMINISTRATOR, Permissions::NONE)];
    let p = channel_permissions(&member(&[]), ChannelKind::Text, &grant);
    assert!(!p.contains(Permissions::ADMINISTRATOR));
    assert!(!p.contains(Permissions::MANAGE_CHANNELS));
}

#[test]
fn roles_add_to_everyone() {
    let roles = [(MODS, Permissions::KICK_MEMBERS | Permissions::MANAGE_MESSAGES)];
    let p = server_permissions(&member(&roles));
    assert!(p.contains(Permissions::KICK_MEMBERS | Permissions::SEND_MESSAGES));
    assert!(!p.contains(Permissions::BAN_MEMBERS));
}

#[test]
fn role_allow_beats_role_deny_and_member_beats_roles() {
    let roles = [(MODS, Permissions::NONE), (MUTED, Permissions::NONE)];
    let m = member(&roles);
    let overwrites = [
        ow(OverwriteTarget::Role(MUTED), Permissions::NONE, Permissions::SEND_MESSAGES),
        ow(OverwriteTarget::Role(MODS), Permissions::SEND_MESSAGES, Permissions::NONE),
    ];
    assert!(
        channel_permissions(&m, ChannelKind::Text, &overwrites)
            .contains(Permissions::SEND_MESSAGES)
    );
    let mut with_member = overwrites.to_vec();
    with_member.push(ow(
        OverwriteTarget::Member(ME),
        Permissions::NONE,
        Permissions::SEND_MESSAGES,
    ));
    assert!(
        !channel_permissions(&m, ChannelKind::Text, &with_member)
            .contains(Permissions::SEND_MESSAGES)
    );
}

#[test]
fn overwrites_for_roles_one_lacks_do_not_apply() {
    let overwrites =
        [ow(OverwriteTarget::Role(MODS), Permissions::MANAGE_MESSAGES, Permissions::NONE)];
    let p = channel_permissions(&member(&[]), ChannelKind::Text, &overwrites);
    assert!(!p.contains(Permissions::MANAGE_MESSAGES));
    let other_member =
        [ow(OverwriteTarget::Member(ME + 1), Permissions::NONE, Permissions::VIEW_CHANNEL)];
    assert!(
        channel_permissions(&member(&[]), ChannelKind::Text, &other_member)
            .contains(Permissions::VIEW_CHANNEL)
    );
}

#[test]
fn no_view_means_nothing_and_no_send_drops_sending_bits() {
    let hidden = [ow(OverwriteTarget::Role(SERVER), Permissions::NONE, Permissions::VIEW_CHANNEL)];
    assert_eq!(channel_permissions(&member(&[]), ChannelKind::Text, &hidden), Permissions::NONE);
    let read_only = [ow(
        OverwriteTarget::Role(SERVER),
        Permissions::MENTION_EVERYONE,
        Permissions::SEND_MESSAGES,
    )];
    let p = channel_permissions(&member(&[]), ChannelKind::Text, &read_only);
    assert!(p.contains(Permissions::VIEW_CHANNEL | Permissions::READ_HISTORY));
    assert!(!p.intersects(
        Permissions::SEND_MESSAGES | Permissions::ADD_REACTIONS | Permissions::MENTION_EVERYONE
    ));
}

#[test]
fn voice_bits_need_connect() {
    let no_connect = [ow(OverwriteTarget::Role(SERVER), Permissions::NONE, Permissions::CONNECT)];
    let p = channel_permissions(&member(&[]), ChannelKind::Voice, &no_connect);
    assert!(p.contains(Permissions::VIEW_CHANNEL));
    assert!(!p.intersects(Permissions::CONNECT | Permissions::SPEAK));
    let text = channel_permissions(&member(&[]), ChannelKind::Text, &[]);
    assert!(!text.intersects(Permissions::CONNECT | Permissions::SPEAK));
    let voice = channel_permissions(&member(&[]), ChannelKind::Voice, &[]);
    assert!(voice.contains(Permissions::CONNECT | Permissions::SPEAK));
}

/// Reference model, written per bit and independently of the implementation: the most
/// specific layer that mentions the bit decides (member, then roles where any allow
/// beats any deny, then @everyone), else the base value.
fn model(base: bool, everyone: Option<bool>, roles: &[Option<bool>], member: Option<bool>) -> bool {
    if let Some(v) = member {
        return v;
    }
    if roles.contains(&Some(true)) {
        return true;
    }
    if roles.contains(&Some(false)) {
        return false;
    }
    everyone.unwrap_or(base)
}

#[test]
fn exhaustive_against_the_reference_model() {
    // Every combination of: base granted or not (via @everyone or a role), and for each of
    // @everyone, role A, role B and the member an overwrite that allows, denies or is
    // absent; checked for a bit that survives the post-filters in a category.
    let states = [None, Some(true), Some(false)];
    let bit = Permissions::KICK_MEMBERS;
    let mut cases = 0;
    for base_from_role in [false, true] {
        for base in [false, true] {
            for e in states {
                for a in states {
                    for b in states {
                        for m in states {
                            let role_perm =
                                if base && base_from_role { bit } else { Permissions::NONE };
                            let roles = [(MODS, role_perm), (MUTED, Permissions::NONE)];
                            let mut ctx = member(&roles);
                            ctx.everyone = Permissions::VIEW_CHANNEL
                                | if base && !base_from_role { bit } else { Permissions::NONE };
                            let mut overwrites = Vec::new();
                            let mut push = |target, state: Option<bool>| match state {
                                Some(true) => overwrites.push(ow(target, bit, Permissions::NONE)),
                                Some(false) => overwrites.push(ow(target, Permissions::NONE, bit)),
                                None => {}
                            };
                            push(OverwriteTarget::Role(SERVER), e);
                            push(OverwriteTarget::Role(MODS), a);
                            push(OverwriteTarget::Role(MUTED), b);
                            push(OverwriteTarget::Member(ME), m);
                            let got = channel_permissions(&ctx, ChannelKind::Category, &overwrites)
                                .contains(bit);
                            assert_eq!(
                                got,
                                model(base, e, &[a, b], m),
                                "base={base} e={e:?} a={a:?} b={b:?} m={m:?}"
                            );
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 2 * 2 * 81);
}

#[test]
fn unknown_bits_are_dropped() {
    let mut ctx = member(&[]);
    ctx.everyone = Permissions(Permissions::VIEW_CHANNEL.0 | (1 << 60));
    assert_eq!(server_permissions(&ctx), Permissions::VIEW_CHANNEL);
}

/// The category layer of the reference model: a channel with any overwrite of its own is
/// decided by those alone; one without, inside a category, by the category's.
fn model_in_category(
    base: bool,
    own: [Option<bool>; 4],
    category: Option<[Option<bool>; 4]>,
) -> bool {
    let layers = match category {
        Some(cat) if own.iter().all(Option::is_none) => cat,
        _ => own,
    };
    model(base, layers[0], &layers[1..3], layers[3])
}

#[test]
fn exhaustive_with_categories_against_the_reference_model() {
    // Every combination of base grant, four channel layers and four category layers
    // (allow, deny or absent each), for a channel in a category and one outside any.
    let states = [None, Some(true), Some(false)];
    let bit = Permissions::KICK_MEMBERS;
    let mut layers: Vec<[Option<bool>; 4]> = Vec::new();
    for e in states {
        for a in states {
            for b in states {
                for m in states {
                    layers.push([e, a, b, m]);
                }
            }
        }
    }
    let overwrites_for = |state: [Option<bool>; 4]| -> Vec<Overwrite> {
        let targets = [
            OverwriteTarget::Role(SERVER),
            OverwriteTarget::Role(MODS),
            OverwriteTarget::Role(MUTED),
            OverwriteTarget::Member(ME),
        ];
        targets
            .iter()
            .zip(state)
            .filter_map(|(target, s)| match s {
                Some(true) => Some(ow(*target, bit, Permissions::NONE)),
                Some(false) => Some(ow(*target, Permissions::NONE, bit)),
                None => None,
            })
            .collect()
    };
    let mut cases = 0;
    for base in [false, true] {
        let roles = [(MODS, Permissions::NONE), (MUTED, Permissions::NONE)];
        let mut ctx = member(&roles);
        ctx.everyone = Permissions::VIEW_CHANNEL | if base { bit } else { Permissions::NONE };
        for own in &layers {
            let own_list = overwrites_for(*own);
            for category in std::iter::once(None).chain(layers.iter().map(Some)) {
                let cat_list = category.map(|c| overwrites_for(*c));
                let set = ChannelOverwrites { own: &own_list, category: cat_list.as_deref() };
                let got = permissions_in(&ctx, ChannelKind::Category, set).contains(bit);
                let want = model_in_category(base, *own, category.copied());
                assert_eq!(got, want, "base={base} own={own:?} category={category:?}");
                assert_eq!(set.synced(), category.is_some() && own_list.is_empty());
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 2 * 81 * 82);
}

#[test]
fn a_private_category_hides_the_channels_that_follow_it() {
    let private = [ow(OverwriteTarget::Role(SERVER), Permissions::NONE, Permissions::VIEW_CHANNEL)];
    let staff = [(MODS, Permissions::NONE)];
    let staff_allowed = [
        private[0],
        ow(
            OverwriteTarget::Role(MODS),
            Permissions::VIEW_CHANNEL | Permissions::CONNECT,
            Permissions::NONE,
        ),
    ];
    let synced = ChannelOverwrites { own: &[], category: Some(&staff_allowed) };
    for kind in [ChannelKind::Text, ChannelKind::Voice] {
        assert_eq!(permissions_in(&member(&[]), kind, synced), Permissions::NONE, "{kind:?}");
        assert!(permissions_in(&member(&staff), kind, synced).contains(Permissions::VIEW_CHANNEL));
    }
    // A channel with overwrites of its own is decided by them alone.
    let public_inside =
        [ow(OverwriteTarget::Role(SERVER), Permissions::VIEW_CHANNEL, Permissions::NONE)];
    let own = ChannelOverwrites { own: &public_inside, category: Some(&private) };
    assert!(!own.synced());
    assert!(
        permissions_in(&member(&[]), ChannelKind::Text, own).contains(Permissions::VIEW_CHANNEL)
    );
}
