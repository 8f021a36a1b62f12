//! Validation rules shared by server and clients, so a form can reject input before it is
//! sent and the server enforces exactly the same thing.

pub const USERNAME_MIN_CHARS: usize = 2;
pub const USERNAME_MAX_CHARS: usize = 32;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;
/// RFC 5321 caps a forward path at 256 octets including the angle brackets.
pub const EMAIL_MAX_CHARS: usize = 254;
pub const DISPLAY_NAME_MAX_CHARS: usize = 32;
pub const DEVICE_NAME_MAX_CHARS: usize = 64;
/// Opaque refresh tokens are 43 base64url characters; anything far longer is garbage.
pub const REFRESH_TOKEN_MAX_CHARS: usize = 128;
/// Login accepts a username or an email address.
pub const LOGIN_MAX_CHARS: usize = EMAIL_MAX_CHARS;

/// Usernames: 2–32 of `A–Z a–z 0–9 _ . -`. ASCII only, so lookalike Unicode cannot
/// impersonate someone; uniqueness ignores case (see [`username_key`]).
pub fn validate_username(name: &str) -> Result<(), &'static str> {
    let len = name.chars().count();
    if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&len) {
        return Err("must be 2 to 32 characters long");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return Err("may contain only letters, digits, '_', '.' and '-'");
    }
    Ok(())
}

/// The case-folded form under which a username must be unique.
pub fn username_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Length limits count characters, not bytes, as a user sees them.
pub fn validate_password(password: &str) -> Result<(), &'static str> {
    let len = password.chars().count();
    if len < PASSWORD_MIN_CHARS {
        return Err("must be at least 8 characters long");
    }
    if len > PASSWORD_MAX_CHARS {
        return Err("must be at most 128 characters long");
    }
    Ok(())
}

/// A deliberately loose syntax check: one `@`, something before it, a dotted domain after
/// it, no spaces or control characters. Deliverability is for a confirmation mail to prove.
pub fn validate_email(email: &str) -> Result<(), &'static str> {
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err("must be at most 254 characters long");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("must be an email address");
    };
    let domain_ok = !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok {
        return Err("must be an email address");
    }
    Ok(())
}

/// Email addresses are unique regardless of case (nearly every provider ignores it).
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// Display names: trimmed, 1–32 characters, no control characters.
pub fn validate_display_name(name: &str) -> Result<(), &'static str> {
    let len = name.chars().count();
    if len == 0 || len > DISPLAY_NAME_MAX_CHARS {
        return Err("must be 1 to 32 characters long");
    }
    if name.trim() != name {
        return Err("must not start or end with spaces");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

pub fn validate_device_name(name: &str) -> Result<(), &'static str> {
    if name.chars().count() > DEVICE_NAME_MAX_CHARS {
        return Err("must be at most 64 characters long");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

/// Longest reaction, in characters: family and flag sequences join up to ~10 code points.
pub const EMOJI_MAX_CHARS: usize = 16;

/// Distinct emoji one message may carry (Discord's rule): a new emoji beyond this is
/// refused, reacting with one already there still works.
pub const MAX_DISTINCT_REACTIONS: usize = 20;

fn is_pictograph(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF
        | 0x2190..=0x21FF | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0x00A9 | 0x00AE
        | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2 | 0x25AA..=0x25FE)
}

fn is_regional_indicator(c: char) -> bool {
    matches!(u32::from(c), 0x1F1E6..=0x1F1FF)
}

fn is_skin_tone(c: char) -> bool {
    matches!(u32::from(c), 0x1F3FB..=0x1F3FF)
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE0F}' | '\u{FE0E}')
}

/// Tag characters spell subdivision flags (England, Scotland) after a black flag.
fn is_tag(c: char) -> bool {
    matches!(u32::from(c), 0xE0020..=0xE007E)
}

/// Reads one emoji element at the start of `rest` (a pictograph with its optional
/// presentation selector, skin tone and tag spelling) and returns what follows it.
fn emoji_element(rest: &[char]) -> Option<&[char]> {
    let (&base, mut rest) = rest.split_first()?;
    if !is_pictograph(base) || is_regional_indicator(base) || is_skin_tone(base) {
        return None;
    }
    if let Some((&c, tail)) = rest.split_first()
        && is_variation_selector(c)
    {
        rest = tail;
    }
    if let Some((&c, tail)) = rest.split_first()
        && is_skin_tone(c)
    {
        rest = tail;
    }
    if rest.first().is_some_and(|&c| is_tag(c)) {
        let tags = rest.iter().take_while(|&&c| is_tag(c)).count();
        match rest.get(tags) {
            Some('\u{E007F}') => rest = &rest[tags + 1..],
            _ => return None,
        }
    }
    Some(rest)
}

/// A reaction must be exactly one Unicode emoji: a pictograph (with its presentation
/// selector and skin tone), a ZWJ sequence of such, a keycap or a flag. Text, markup,
/// custom names and several emoji in a row are refused: each distinct string is a new
/// reaction, so anything looser would make the number of "emoji" unbounded.
pub fn validate_emoji(emoji: &str) -> Result<(), &'static str> {
    const ONE: &str = "must be exactly one emoji";
    let chars: Vec<char> = emoji.chars().collect();
    if chars.is_empty() || chars.len() > EMOJI_MAX_CHARS {
        return Err(ONE);
    }
    // A flag: exactly two regional indicators.
    if chars.iter().all(|&c| is_regional_indicator(c)) {
        return if chars.len() == 2 { Ok(()) } else { Err(ONE) };
    }
    // A keycap: digit, # or *, an optional presentation selector, the keycap mark.
    if let [base, rest @ ..] = chars.as_slice()
        && (base.is_ascii_digit() || *base == '#' || *base == '*')
    {
        return match rest {
            ['\u{20E3}'] | ['\u{FE0F}', '\u{20E3}'] => Ok(()),
            _ => Err(ONE),
        };
    }
    // Otherwise elements joined by zero-width joiners, and nothing else.
    let mut rest = emoji_element(&chars).ok_or(ONE)?;
    while let Some((&c, tail)) = rest.split_first() {
        if c != '\u{200D}' {
            return Err(ONE);
        }
        rest = emoji_element(tail).ok_or(ONE)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["ab", "Player_One", "a.b-c", &"x".repeat(32)] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["a", "", &"x".repeat(33), "with space", "émile", "a@b", "tab\t", "💀💀"] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
        assert_eq!(username_key("Player_One"), "player_one");
    }

    #[test]
    fn passwords_count_characters() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password(&"é".repeat(128)).is_ok());
        assert!(validate_password(&"é".repeat(129)).is_err());
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org"] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in ["", "plain", "@b.co", "a@b", "a@.b", "a@b.", "a@b..c", "a b@c.de", "a@b@c.de"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(validate_email(&long).is_err());
    }

    #[test]
    fn emoji() {
        for ok in [
            "👍",
            "❤\u{FE0F}",
            "👨\u{200D}👩\u{200D}👧",
            "🇩🇪",
            "1\u{FE0F}\u{20E3}",
            "👋🏽",
            "🏳\u{FE0F}\u{200D}🌈",
            "#\u{20E3}",
            "👩🏻\u{200D}❤\u{FE0F}\u{200D}💋\u{200D}👨🏼",
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
        ] {
            assert!(validate_emoji(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "a",
            ":smile:",
            "👍 ",
            "<script>",
            "1",
            "👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍",
            "\u{200D}x",
            // Several emoji are several reactions, not one: each new string would be a
            // new distinct reaction.
            "👍👍",
            "🇩🇪🇫🇷",
            "🇩",
            "👍\u{200D}",
            "🏽",
            "1\u{20E3}1\u{20E3}",
            // Tag characters only after a flag, ending with the cancel tag.
            "👍\u{E0041}",
            "\u{FE0F}",
        ] {
            assert!(validate_emoji(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_names() {
        assert!(validate_display_name("Ann").is_ok());
        assert!(validate_display_name("Zoë the Tank 🛡").is_ok());
        assert!(validate_display_name("").is_err());
        assert!(validate_display_name(" padded").is_err());
        assert!(validate_display_name("bell\u{7}").is_err());
        assert!(validate_display_name(&"x".repeat(33)).is_err());
    }
}
