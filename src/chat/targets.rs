//! Escalation targets as a networked chat adapter (Slack, Discord) sees them: the config's
//! id and label, the target's channel in that chat and whom its linked card mentions. Both
//! adapters find a target the same way, so they share it here.

use crate::config::EscalationTarget;

/// One escalation target in one chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTarget {
    /// The config id.
    pub id: String,
    /// The label.
    pub label: String,
    /// Its channel in this chat, if it has one.
    pub channel: Option<String>,
    /// Whom to mention on its linked card (a Slack user group or user, a Discord role).
    pub mention: Option<String>,
}

impl ChatTarget {
    /// The targets of `escalations` in one chat, `channel` picking the chat's channel field.
    pub fn from_config(
        escalations: &[EscalationTarget],
        channel: impl Fn(&EscalationTarget) -> Option<String>,
    ) -> Vec<ChatTarget> {
        escalations
            .iter()
            .map(|target| ChatTarget {
                id: target.id.clone(),
                label: target.label.clone(),
                channel: channel(target),
                mention: target.mention.clone(),
            })
            .collect()
    }
}

/// The channel of the target with config id `target`.
pub fn channel_of(targets: &[ChatTarget], target: &str) -> Option<String> {
    targets
        .iter()
        .find(|candidate| candidate.id == target)
        .and_then(|target| target.channel.clone())
}

/// Whom a message posted with `key` in `channel` mentions: the target named in an escalation
/// card's key (`case-N-escalation-<target>`), else the target whose channel it is.
pub fn mention_for(targets: &[ChatTarget], key: &str, channel: &str) -> Option<String> {
    let target = key
        .split_once("-escalation-")
        .map(|(_, target)| target)
        .and_then(|id| targets.iter().find(|target| target.id == id))
        .or_else(|| {
            targets
                .iter()
                .find(|target| target.channel.as_deref() == Some(channel))
        })?;
    target.mention.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Vec<ChatTarget> {
        vec![
            ChatTarget {
                id: "billing".into(),
                label: "Billing".into(),
                channel: Some("C1".into()),
                mention: Some("S1".into()),
            },
            ChatTarget {
                id: "tier2".into(),
                label: "Tier 2".into(),
                channel: Some("C2".into()),
                mention: None,
            },
        ]
    }

    #[test]
    fn the_key_names_the_target_else_the_channel_does() {
        let targets = targets();
        for (key, channel, expected) in [
            ("case-1-escalation-billing", "C9", Some("S1")),
            ("case-1-escalation-tier2", "C1", None),
            ("case-1-event-3", "C1", Some("S1")),
            ("case-1", "C9", None),
            ("case-1-escalation-unknown", "C1", Some("S1")),
        ] {
            assert_eq!(
                mention_for(&targets, key, channel).as_deref(),
                expected,
                "{key} in {channel}"
            );
        }
        assert_eq!(channel_of(&targets, "tier2").as_deref(), Some("C2"));
        assert_eq!(channel_of(&targets, "nobody"), None);
    }
}
