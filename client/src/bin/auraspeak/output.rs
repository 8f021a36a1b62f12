//! How results are shown: a line per item for people, JSON for scripts.

use std::collections::HashMap;
use std::io::Write as _;

use anyhow::Result;
use auraspeak_shared::UserId;
use auraspeak_shared::v1::channels::{Channel, ChannelKind};
use auraspeak_shared::v1::messages::Message;
use auraspeak_shared::v1::servers::Server;
use serde::Serialize;

pub(crate) struct Output {
    pub(crate) json: bool,
}

impl Output {
    /// One JSON value on a line, flushed at once so a reading script sees it live.
    pub(crate) fn json_line(&self, value: &impl Serialize) -> Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, value)?;
        writeln!(out)?;
        out.flush()?;
        Ok(())
    }

    pub(crate) fn line(&self, text: &str) -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()?;
        Ok(())
    }

    /// Progress and status for people; never mixed into the JSON on stdout.
    pub(crate) fn status(&self, text: &str) {
        if !self.json {
            eprintln!("{text}");
        }
    }

    pub(crate) fn servers(&self, servers: &[Server]) -> Result<()> {
        if self.json {
            return self.json_line(&servers);
        }
        if servers.is_empty() {
            self.status("No servers yet.");
        }
        for s in servers {
            let members = if s.member_count == 1 { "member" } else { "members" };
            self.line(&format!("{}  {}  ({} {members})", s.id, s.name, s.member_count))?;
        }
        Ok(())
    }

    pub(crate) fn channels(&self, channels: &[Channel]) -> Result<()> {
        if self.json {
            return self.json_line(&channels);
        }
        let mut sorted: Vec<&Channel> = channels.iter().collect();
        sorted.sort_by_key(|c| (c.position, c.id));
        for c in sorted {
            let shown = match c.kind {
                ChannelKind::Text => format!("#{}", c.name),
                ChannelKind::Voice | ChannelKind::Category => c.name.clone(),
            };
            self.line(&format!("{}  {:<8} {shown}", c.id, c.kind.as_str()))?;
        }
        Ok(())
    }

    pub(crate) fn message(&self, m: &Message, names: &Names) -> Result<()> {
        if self.json {
            return self.json_line(m);
        }
        let author =
            names.users.get(&m.author_id).cloned().unwrap_or_else(|| m.author_id.to_string());
        let content = readable(&m.content, names);
        self.line(&format!("[{}] {author}: {content}", utc_time(m.created_at)))
    }
}

/// Who the IDs in messages are: members' shown names and role names.
#[derive(Default)]
pub(crate) struct Names {
    pub(crate) users: HashMap<UserId, String>,
    pub(crate) roles: HashMap<u64, String>,
}

/// Message text as people read it: `<@id>` as `@name`, `<@&id>` as `@role`. An ID no
/// longer known (someone who left) shows as `@unknown-user` / `@deleted-role`, as the app
/// shows it; anything that is not well-formed mention syntax stays as typed.
fn readable(content: &str, names: &Names) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let (role, digits) = after.strip_prefix('&').map_or((false, after), |d| (true, d));
        let len = digits.bytes().take_while(u8::is_ascii_digit).count();
        let id = (len > 0 && digits[len..].starts_with('>'))
            .then(|| digits[..len].parse::<u64>().ok())
            .flatten();
        let Some(id) = id else {
            out.push_str("<@");
            rest = after;
            continue;
        };
        let name = if role {
            names.roles.get(&id).map_or("deleted-role", String::as_str)
        } else {
            auraspeak_shared::Snowflake::from_i64(i64::try_from(id).unwrap_or(-1))
                .and_then(|sf| names.users.get(&UserId::from(sf)))
                .map_or("unknown-user", String::as_str)
        };
        out.push('@');
        out.push_str(name);
        rest = &digits[len + 1..];
    }
    out.push_str(rest);
    out
}

/// `YYYY-MM-DD HH:MM:SS` in UTC for Unix milliseconds.
pub(crate) fn utc_time(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), so the CLI needs
    // no date library for one timestamp format.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_read_as_names() {
        let mut names = Names::default();
        let ann = UserId::from(auraspeak_shared::Snowflake::from_i64(123).expect("id"));
        names.users.insert(ann, "Ann".into());
        names.roles.insert(77, "Raiders".into());
        assert_eq!(readable("<@123> and <@&77>: go", &names), "@Ann and @Raiders: go");
        assert_eq!(readable("<@999> <@&5>", &names), "@unknown-user @deleted-role");
        assert_eq!(
            readable("a <@ b <@12 <@> <<@123>> @everyone", &names),
            "a <@ b <@12 <@> <@Ann> @everyone"
        );
    }

    #[test]
    fn utc_times() {
        assert_eq!(super::utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc_time(1_767_225_600_000), "2026-01-01 00:00:00");
        assert_eq!(super::utc_time(951_782_400_000 + 3_723_000), "2000-02-29 01:02:03");
        assert_eq!(super::utc_time(-1000), "1969-12-31 23:59:59");
    }
}
