//! Kudos: praise posted to a separate kudos channel as a light card, which a person can move
//! to the complaint queue with "Mark as complaint" (triage got it wrong).
//!
//! A kudos is not a case: no owner, no state machine, no response clock. It has its own id
//! sequence (`kudos/` in the store's `meta` tree); its card's button payload is
//! `complaint:<kudos id>:<version>` (the payload codec's case field carries the kudos id for
//! this one verb). Pure: no IO.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::action::{ActionKind, Payload};
use super::card::{Button, ButtonStyle, Card, CardKind, RepeatFlag, CARD_TEXT_MAX};
use super::case::{CaseId, CaseState, MessageRef, Triage};
use super::mention::Mention;
use super::text::{mask_pii, truncate_chars};

/// A praise post shown in the kudos channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kudos {
    /// Its id (its own sequence, not a case id).
    pub id: u64,
    /// Bumped when it changes (moved), like a case's version.
    pub version: u64,
    /// The post.
    pub mention: Mention,
    /// Triage's verdict.
    pub triage: Triage,
    /// Where its card is, per chat.
    #[serde(default)]
    pub chat_refs: BTreeMap<String, MessageRef>,
    /// Set once someone marked it as a complaint.
    #[serde(default)]
    pub moved: Option<Moved>,
    /// When it was stored.
    pub at: DateTime<Utc>,
}

/// Who moved a kudos to the complaint queue, and the case it became.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moved {
    /// The complaint case opened for the post.
    pub case: CaseId,
    /// Who clicked (display name).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The light card of a kudos: text, author, link, label and reason, and "Mark as complaint"
/// until someone used it; then a line saying who moved it, linking the complaint's card
/// (`case_cards`: that case's card per chat, when already posted).
pub fn kudos_card(kudos: &Kudos, case_cards: &BTreeMap<String, MessageRef>) -> Card {
    let masked = mask_pii(&kudos.mention.text);
    let text = truncate_chars(&masked, CARD_TEXT_MAX);
    let network = kudos.mention.network;
    let (state_line, buttons, repeat) = match &kudos.moved {
        None => {
            let button = mark_button(ActionKind::MarkComplaint, kudos.id, kudos.version);
            ("Kudos · no action needed".to_string(), vec![button], None)
        }
        Some(moved) => {
            let line = format!(
                "Moved to the complaint queue by {} as case {}",
                moved.by, moved.case
            );
            let repeat = RepeatFlag {
                text: line.clone(),
                last_case: moved.case,
                last_cards: case_cards.clone(),
            };
            (line, Vec::new(), Some(repeat))
        }
    };
    Card {
        case_id: CaseId(kudos.id),
        version: kudos.version,
        kind: CardKind::Kudos,
        title: format!("Praise on {}", network.label()),
        network,
        author_handle: kudos.mention.author.handle.clone(),
        author_name: kudos.mention.author.display_name.clone(),
        post_url: kudos.mention.url.clone(),
        text_truncated: text != masked,
        text,
        triage: kudos.triage.clone(),
        context: None,
        state: if kudos.moved.is_some() {
            CaseState::Dismissed
        } else {
            CaseState::New
        },
        state_line,
        owner: None,
        opened_at: kudos.at,
        buttons,
        reply_limit: network.default_reply_limit(),
        first_response_due: None,
        overdue: false,
        next_response_due: None,
        repeat,
        similar_posts: None,
        reach: None,
    }
}

/// A "Mark as complaint" button (`kind` is `MarkComplaint` for a kudos, `MarkSkipped` for a
/// skipped post): its payload's case field carries `id`, the kudos or skipped entry id.
pub fn mark_button(kind: ActionKind, id: u64, version: u64) -> Button {
    Button {
        kind,
        label: kind.label().to_string(),
        payload: Payload {
            kind,
            case: CaseId(id),
            version,
        }
        .to_string(),
        style: ButtonStyle::Default,
    }
}

/// The idempotency key of a kudos card in any chat.
pub fn kudos_key(id: u64) -> String {
    format!("kudos-{id}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::{Author, Label, MentionKind, Network};

    /// A Mastodon mention by `ana` saying `text` (for the tests of posts shown outside cases).
    pub(crate) fn mention(text: &str) -> Mention {
        Mention {
            network: Network::Mastodon,
            source: "m".into(),
            id: "1".into(),
            url: "https://example.social/@ana/1".into(),
            author: Author {
                id: "a".into(),
                handle: "ana".into(),
                display_name: None,
                followers: None,
            },
            text: text.into(),
            created_at: Utc::now(),
            in_reply_to: None,
            root: None,
            kind: MentionKind::Mention,
            lang: None,
            from_brand: false,
            raw: None,
        }
    }

    fn kudos() -> Kudos {
        Kudos {
            id: 7,
            version: 0,
            mention: mention("love the new app, mail me at ana@example.com"),
            triage: Triage {
                label: Label::Praise,
                score: 0.9,
                reason: "praise: \"love\"".into(),
            },
            chat_refs: BTreeMap::new(),
            moved: None,
            at: Utc::now(),
        }
    }

    #[test]
    fn a_new_kudos_card_offers_mark_as_complaint_and_masks_pii() {
        let card = kudos_card(&kudos(), &BTreeMap::new());
        assert_eq!(card.kind, CardKind::Kudos);
        assert_eq!(card.subject(), "kudos #7", "logs never call it a case");
        assert_eq!(card.buttons.len(), 1);
        assert_eq!(card.buttons[0].payload, "complaint:7:0");
        assert_eq!(card.buttons[0].label, "Mark as complaint");
        assert!(!card.text.contains("ana@example.com"));
        assert!(card.first_response_due.is_none());
    }

    #[test]
    fn a_moved_kudos_card_says_who_and_links_the_case() {
        let mut moved = kudos();
        moved.version = 1;
        moved.moved = Some(Moved {
            case: CaseId(12),
            by: "Bo".into(),
            at: Utc::now(),
        });
        let card = kudos_card(&moved, &BTreeMap::new());
        assert!(card.buttons.is_empty());
        assert!(card.state_line.contains("by Bo"), "{}", card.state_line);
        assert_eq!(card.repeat.map(|flag| flag.last_case), Some(CaseId(12)));
    }
}
