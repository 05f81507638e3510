//! Who may speak and act for the brand: the principals of `[permissions]` and the check the
//! actions engine runs on every reply, escalation, resolve, dismiss and reopen.
//!
//! A principal names a person or a group the way the chats know them:
//!
//! | principal | who |
//! |---|---|
//! | `*` | everyone, in every chat |
//! | `console:*`, `slack:*`, `discord:*` | everyone in that chat |
//! | `console:ana` | the console user who types the name Ana (case-insensitive) |
//! | `slack:U0123ABCD` | one Slack user |
//! | `slack-group:S0123ABCD` | the members of a Slack user group |
//! | `discord:123456789012345678` | one Discord user |
//! | `discord-role:123456789012345678` | the members of a Discord role |
//!
//! Claim and unclaim are not restricted: taking a case says nothing in public.

use std::fmt;

use super::action::ChatAction;
use super::case::Agent;

/// What `[permissions]` controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Post a public reply (`[permissions].reply`).
    Reply,
    /// Escalate to a target (`[permissions].escalate`).
    Escalate,
    /// Resolve, dismiss or reopen (`[permissions].resolve`).
    Resolve,
    /// Approve, edit or reject reply drafts in approval mode (`[permissions].approve`).
    Approve,
}

impl Permission {
    /// Every permission, in config order.
    pub const ALL: [Permission; 3] = [Permission::Reply, Permission::Escalate, Permission::Resolve];

    /// Its key in `[permissions]`.
    pub fn key(self) -> &'static str {
        match self {
            Permission::Reply => "reply",
            Permission::Escalate => "escalate",
            Permission::Resolve => "resolve",
            Permission::Approve => "approve",
        }
    }

    /// The permission an action needs, if any.
    pub fn required_for(action: &ChatAction) -> Option<Permission> {
        match action {
            ChatAction::Reply { .. } => Some(Permission::Reply),
            ChatAction::Escalate { .. } => Some(Permission::Escalate),
            ChatAction::Resolve
            | ChatAction::Dismiss
            | ChatAction::Reopen
            | ChatAction::MarkComplaint
            | ChatAction::MarkSkipped => Some(Permission::Resolve),
            ChatAction::Approve | ChatAction::Edit { .. } | ChatAction::Reject { .. } => {
                Some(Permission::Approve)
            }
            ChatAction::Claim | ChatAction::Unclaim => None,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The chats a principal can name.
const CHATS: &[&str] = &["console", "slack", "discord"];

/// One entry of a `[permissions]` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `*`: everyone.
    Everyone,
    /// `<chat>:*`: everyone acting through that chat.
    AnyIn(String),
    /// One person, by chat-qualified id (`slack:U0123ABCD`, `console:ana`).
    Person(String),
    /// A group or role, as the adapter puts it in `Agent::groups` (`slack-group:S0123ABCD`).
    Group(String),
}

impl Principal {
    /// Reads a principal as written in config; the error says what is expected.
    pub fn parse(text: &str) -> Result<Principal, String> {
        let expected = "expected \"*\", \"<chat>:*\", \"console:NAME\", \"slack:U…\", \"slack-group:S…\", \"discord:ID\" or \"discord-role:ID\"";
        if text == "*" {
            return Ok(Principal::Everyone);
        }
        let Some((kind, rest)) = text.split_once(':') else {
            return Err(format!("invalid principal \"{text}\": {expected}"));
        };
        if rest == "*" && CHATS.contains(&kind) {
            return Ok(Principal::AnyIn(kind.to_string()));
        }
        let slack_id = |first: &[u8]| {
            rest.len() >= 3
                && first.contains(&rest.as_bytes()[0])
                && rest
                    .bytes()
                    .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit())
        };
        let snowflake = rest.len() <= 20
            && !rest.is_empty()
            && rest.bytes().all(|byte| byte.is_ascii_digit())
            && rest.parse::<u64>().is_ok_and(|id| id > 0);
        match kind {
            "console" if !rest.trim().is_empty() && rest.trim() == rest => {
                Ok(Principal::Person(format!("console:{}", rest.to_lowercase())))
            }
            "console" => Err(format!(
                "invalid principal \"{text}\": expected a console name like \"console:ana\""
            )),
            "slack" if slack_id(b"UW") => Ok(Principal::Person(text.to_string())),
            "slack" => Err(format!(
                "invalid principal \"{text}\": expected a Slack user id like \"slack:U0123ABCD\""
            )),
            "slack-group" if slack_id(b"S") => Ok(Principal::Group(text.to_string())),
            "slack-group" => Err(format!(
                "invalid principal \"{text}\": expected a Slack user group id like \"slack-group:S0123ABCD\""
            )),
            "discord" if snowflake => Ok(Principal::Person(text.to_string())),
            "discord" => Err(format!(
                "invalid principal \"{text}\": expected a numeric Discord user id like \"discord:123456789012345678\""
            )),
            "discord-role" if snowflake => Ok(Principal::Group(text.to_string())),
            "discord-role" => Err(format!(
                "invalid principal \"{text}\": expected a numeric Discord role id like \"discord-role:123456789012345678\""
            )),
            _ => Err(format!("invalid principal \"{text}\": {expected}")),
        }
    }

    /// Whether `agent` is, or belongs to, this principal.
    pub fn matches(&self, agent: &Agent) -> bool {
        match self {
            Principal::Everyone => true,
            Principal::AnyIn(chat) => agent
                .id
                .split_once(':')
                .is_some_and(|(agent_chat, _)| agent_chat == chat),
            Principal::Person(id) => {
                if id.starts_with("console:") {
                    agent.id.to_lowercase() == *id
                } else {
                    agent.id == *id
                }
            }
            Principal::Group(group) => agent.groups.iter().any(|g| g == group),
        }
    }
}

/// The parsed `[permissions]`: who may do what. Without the section everyone may do
/// everything (see README, "Permissions").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    lists: Option<[Vec<Principal>; 3]>,
    /// `[permissions].approve`: who may approve reply drafts (approval mode).
    approvers: Vec<Principal>,
}

impl Permissions {
    /// No `[permissions]` section: everyone may act.
    pub fn everyone() -> Permissions {
        Permissions {
            lists: None,
            approvers: Vec::new(),
        }
    }

    /// The lists of a `[permissions]` section.
    pub fn restricted(
        reply: Vec<Principal>,
        escalate: Vec<Principal>,
        resolve: Vec<Principal>,
    ) -> Permissions {
        Permissions {
            lists: Some([reply, escalate, resolve]),
            approvers: Vec::new(),
        }
    }

    /// With `[permissions].approve`: who may approve, edit and reject reply drafts.
    pub fn with_approvers(mut self, approvers: Vec<Principal>) -> Permissions {
        self.approvers = approvers;
        self
    }

    /// Whether the section was configured at all.
    pub fn is_restricted(&self) -> bool {
        self.lists.is_some()
    }

    /// Whether `agent` may do what `permission` covers.
    pub fn allows(&self, permission: Permission, agent: &Agent) -> bool {
        match &self.lists {
            None => true,
            Some(_) if permission == Permission::Approve => self
                .approvers
                .iter()
                .any(|principal| principal.matches(agent)),
            Some(lists) => lists[permission as usize]
                .iter()
                .any(|principal| principal.matches(agent)),
        }
    }

    /// The private refusal when `agent` may not do `action` (the permission it needs and the
    /// sentence for the person), `None` when they may. The actions engine answers with it; an
    /// adapter may also use it to refuse a form before opening it (Discord's Reply and
    /// Escalate), the engine still checking the submit.
    pub fn refusal(
        &self,
        action: &ChatAction,
        agent: &Agent,
        brand: &str,
    ) -> Option<(Permission, String)> {
        let permission = Permission::required_for(action)?;
        if self.allows(permission, agent) {
            return None;
        }
        let what = match action {
            ChatAction::Reply { .. } => "reply publicly",
            ChatAction::Escalate { .. } => "escalate cases",
            ChatAction::Dismiss => "dismiss cases",
            ChatAction::Reopen => "reopen cases",
            ChatAction::MarkComplaint | ChatAction::MarkSkipped => {
                "move posts to the complaint queue"
            }
            ChatAction::Approve | ChatAction::Edit { .. } | ChatAction::Reject { .. } => {
                "approve or reject reply drafts"
            }
            _ => "resolve cases",
        };
        Some((
            permission,
            format!(
                "You are not allowed to {what} for {brand}. Ask an admin to add you to [permissions].{}.",
                permission.key()
            ),
        ))
    }

    /// The groups named anywhere in the lists whose principal starts with `prefix`
    /// (`"slack-group:"`), without the prefix: the only groups an adapter needs to look up.
    pub fn groups(&self, prefix: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .lists
            .iter()
            .flatten()
            .flatten()
            .chain(self.approvers.iter())
            .filter_map(|principal| match principal {
                Principal::Group(group) => group.strip_prefix(prefix).map(str::to_string),
                _ => None,
            })
            .collect();
        found.sort();
        found.dedup();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, groups: &[&str]) -> Agent {
        Agent {
            id: id.to_string(),
            name: "Someone".to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn principals_parse_or_say_what_is_expected() {
        let ok = [
            ("*", Principal::Everyone),
            ("console:*", Principal::AnyIn("console".into())),
            ("slack:*", Principal::AnyIn("slack".into())),
            ("discord:*", Principal::AnyIn("discord".into())),
            ("console:Ana", Principal::Person("console:ana".into())),
            (
                "console:Ana Lopez",
                Principal::Person("console:ana lopez".into()),
            ),
            (
                "slack:U0123ABCD",
                Principal::Person("slack:U0123ABCD".into()),
            ),
            (
                "slack:W0123ABCD",
                Principal::Person("slack:W0123ABCD".into()),
            ),
            (
                "slack-group:S0123ABCD",
                Principal::Group("slack-group:S0123ABCD".into()),
            ),
            (
                "discord:123456789012345678",
                Principal::Person("discord:123456789012345678".into()),
            ),
            (
                "discord-role:123456789012345678",
                Principal::Group("discord-role:123456789012345678".into()),
            ),
        ];
        for (text, expected) in ok {
            assert_eq!(Principal::parse(text), Ok(expected), "{text}");
        }
        let bad = [
            ("", "invalid principal"),
            ("ana", "invalid principal"),
            ("console:", "console name"),
            ("console: ana", "console name"),
            ("slack:ana", "Slack user id"),
            ("slack:C0123ABCD", "Slack user id"),
            ("slack:u0123abcd", "Slack user id"),
            ("slack-group:U0123ABCD", "user group id"),
            ("slack-group:*", "user group id"),
            ("discord:abc", "Discord user id"),
            ("discord-role:0", "Discord role id"),
            ("discord-role:99999999999999999999999", "Discord role id"),
            ("teams:*", "invalid principal"),
        ];
        for (text, message) in bad {
            let error = Principal::parse(text).expect_err(text);
            assert!(error.contains(message), "{text}: {error}");
        }
    }

    #[test]
    fn principals_match_people_chats_and_groups() {
        let ana = agent("console:ana", &[]);
        let slack_ana = agent("slack:U0ANA", &["slack-group:S0CARE"]);
        let discord_bo = agent("discord:42", &["discord-role:7"]);
        let table = [
            ("*", &ana, true),
            ("console:*", &ana, true),
            ("console:*", &slack_ana, false),
            ("slack:*", &slack_ana, true),
            ("console:ANA", &ana, true),
            ("console:bo", &ana, false),
            ("slack:U0ANA", &slack_ana, true),
            ("slack:U0BO", &slack_ana, false),
            ("slack-group:S0CARE", &slack_ana, true),
            ("slack-group:S0OTHER", &slack_ana, false),
            ("discord-role:7", &discord_bo, true),
            ("discord-role:8", &discord_bo, false),
            ("discord:42", &discord_bo, true),
            // A Slack user can't pretend to be in a group by id.
            ("slack-group:S0CARE", &agent("slack:S0CARE", &[]), false),
        ];
        for (text, who, expected) in table {
            let principal = Principal::parse(text).expect(text);
            assert_eq!(principal.matches(who), expected, "{text} vs {}", who.id);
        }
    }

    #[test]
    fn without_the_section_everyone_may_act_and_with_it_only_the_listed() {
        let bo = agent("console:bo", &[]);
        assert!(Permissions::everyone().allows(Permission::Reply, &bo));
        let permissions = Permissions::restricted(
            vec![Principal::parse("console:ana").unwrap()],
            vec![Principal::parse("*").unwrap()],
            vec![],
        );
        assert!(!permissions.allows(Permission::Reply, &bo));
        assert!(permissions.allows(Permission::Reply, &agent("console:ana", &[])));
        assert!(permissions.allows(Permission::Escalate, &bo));
        assert!(!permissions.allows(Permission::Resolve, &bo));
    }

    #[test]
    fn actions_need_the_matching_permission() {
        let table = [
            (ChatAction::Claim, None),
            (ChatAction::Unclaim, None),
            (
                ChatAction::Reply {
                    text: String::new(),
                    confirm_pii: false,
                },
                Some(Permission::Reply),
            ),
            (
                ChatAction::Escalate {
                    target: String::new(),
                    note: String::new(),
                },
                Some(Permission::Escalate),
            ),
            (ChatAction::Resolve, Some(Permission::Resolve)),
            (ChatAction::Dismiss, Some(Permission::Resolve)),
            (ChatAction::Reopen, Some(Permission::Resolve)),
            (ChatAction::MarkComplaint, Some(Permission::Resolve)),
            (ChatAction::MarkSkipped, Some(Permission::Resolve)),
        ];
        for (action, expected) in table {
            assert_eq!(Permission::required_for(&action), expected, "{action:?}");
        }
    }

    #[test]
    fn adapters_learn_only_the_groups_named_in_config() {
        let permissions = Permissions::restricted(
            vec![
                Principal::parse("slack-group:S0B").unwrap(),
                Principal::parse("discord-role:9").unwrap(),
            ],
            vec![Principal::parse("slack-group:S0A").unwrap()],
            vec![Principal::parse("slack-group:S0B").unwrap()],
        );
        assert_eq!(permissions.groups("slack-group:"), vec!["S0A", "S0B"]);
        assert_eq!(permissions.groups("discord-role:"), vec!["9"]);
    }
}
