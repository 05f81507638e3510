//! Skipped posts: customers' posts triage stored without a card (a question, other, praise),
//! listed newest first in the "Skipped" review so the team can rescue a misread complaint with
//! "Mark as complaint" (`skipped:<entry id>:0`; the payload codec's case field carries the
//! entry's id for this one verb, as it carries a kudos id for `complaint`).
//!
//! The store keeps a bounded index of them (`meta` `skipped/<id>`); this module only shapes
//! what a person sees. Pure: no IO.

use chrono::{DateTime, Utc};

use super::action::ActionKind;
use super::card::Button;
use super::case::{CaseId, Triage};
use super::kudos::mark_button;
use super::mention::{Mention, Network};
use super::text::{mask_pii, truncate_chars};

/// How many characters of the post a skipped line keeps (chats cut further).
pub const SKIPPED_TEXT_MAX: usize = 500;

/// A skipped post as the review shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedPost {
    /// The index entry's id (the button's payload carries it).
    pub id: u64,
    /// The network.
    pub network: Network,
    /// The author's handle.
    pub handle: String,
    /// The author's display name, if any.
    pub display_name: Option<String>,
    /// The post, personal data masked, cut to [`SKIPPED_TEXT_MAX`] characters.
    pub text: String,
    /// The post on its network.
    pub url: String,
    /// Triage's verdict (label, score, reason).
    pub triage: Triage,
    /// When it was stored.
    pub at: DateTime<Utc>,
    /// The case it became, once someone marked it (or it joined one).
    pub case: Option<CaseId>,
}

impl SkippedPost {
    /// The view of entry `id`: the post, triage's verdict, when it was stored and the case it
    /// is part of by now, if any.
    pub fn new(
        id: u64,
        mention: &Mention,
        triage: Triage,
        at: DateTime<Utc>,
        case: Option<CaseId>,
    ) -> SkippedPost {
        SkippedPost {
            id,
            network: mention.network,
            handle: mention.author.handle.clone(),
            display_name: mention.author.display_name.clone(),
            text: truncate_chars(&mask_pii(&mention.text), SKIPPED_TEXT_MAX),
            url: mention.url.clone(),
            triage,
            at,
            case,
        }
    }

    /// "Mark as complaint", while the post is not part of a case.
    pub fn button(&self) -> Option<Button> {
        if self.case.is_some() {
            return None;
        }
        Some(mark_button(ActionKind::MarkSkipped, self.id, 0))
    }

    /// What became of it, for people: "case 12", or `None` while it waits.
    pub fn status(&self) -> Option<String> {
        self.case.map(|case| format!("case {case}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kudos::tests::mention;
    use crate::domain::Label;

    fn triage() -> Triage {
        Triage {
            label: Label::Question,
            score: 0.4,
            reason: "question: \"how\"".into(),
        }
    }

    #[test]
    fn a_waiting_post_offers_mark_as_complaint_and_masks_pii() {
        let post = SkippedPost::new(
            9,
            &mention("how do I get my refund? mail ana@example.com"),
            triage(),
            Utc::now(),
            None,
        );
        assert!(!post.text.contains("ana@example.com"), "{}", post.text);
        let button = post.button().expect("a button");
        assert_eq!(button.payload, "skipped:9:0");
        assert_eq!(button.label, "Mark as complaint");
        assert_eq!(post.status(), None);
    }

    #[test]
    fn a_post_that_became_a_case_says_so_and_has_no_button() {
        let post = SkippedPost::new(9, &mention("hi"), triage(), Utc::now(), Some(CaseId(4)));
        assert!(post.button().is_none());
        assert_eq!(post.status().as_deref(), Some("case #4"));
    }

    #[test]
    fn long_posts_are_cut() {
        let post = SkippedPost::new(1, &mention(&"a".repeat(2000)), triage(), Utc::now(), None);
        assert!(post.text.chars().count() <= SKIPPED_TEXT_MAX);
    }
}
