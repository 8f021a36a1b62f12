//! Mention syntax in message content: `<@USER_ID>`, `<@&ROLE_ID>` and `@everyone`. Parsed
//! by the server when a message is stored, and by clients to render it.

/// At most this many distinct user and role mentions count per message, so one message
/// cannot notify a whole server by listing everyone.
pub const MAX_MENTIONS: usize = 50;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    pub users: Vec<u64>,
    pub roles: Vec<u64>,
    /// The text contains `@everyone` (whether it pings depends on the author's permission).
    pub everyone: bool,
}

pub fn parse_mentions(content: &str) -> Mentions {
    let mut found = Mentions { everyone: content.contains("@everyone"), ..Mentions::default() };
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let (is_role, digits_from) = match rest.strip_prefix('&') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let len = digits_from.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 || len > 19 || !digits_from[len..].starts_with('>') {
            continue;
        }
        let Ok(id) = digits_from[..len].parse::<u64>() else { continue };
        let list = if is_role { &mut found.roles } else { &mut found.users };
        if !list.contains(&id) && found.users.len() + found.roles.len() < MAX_MENTIONS {
            if is_role { found.roles.push(id) } else { found.users.push(id) }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users_roles_and_everyone() {
        let m = parse_mentions("hey <@123> and <@&456>, <@123> again @everyone");
        assert_eq!(m, Mentions { users: vec![123], roles: vec![456], everyone: true });
    }

    #[test]
    fn ignores_malformed_and_caps_count() {
        let m = parse_mentions("<@> <@abc> <@12 <@&> <@99999999999999999999> <<@7>>");
        assert_eq!(m.users, vec![7]);
        assert!(m.roles.is_empty() && !m.everyone);
        let many: String = (0..200).map(|i| format!("<@{i}>")).collect();
        assert_eq!(parse_mentions(&many).users.len(), MAX_MENTIONS);
    }
}
