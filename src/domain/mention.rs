//! Mentions: public posts about the brand, normalized across networks.
//!
//! A `Mention` is what every source produces and what the pipeline consumes. Only
//! `sources/<net>.rs` knows a network's JSON; everything past the source sees this type.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The public network a post lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Bluesky (AT Protocol).
    Bluesky,
    /// Any Mastodon instance.
    Mastodon,
    /// X (formerly Twitter), API v2.
    X,
}

impl Network {
    /// The name used in config, payloads and store keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Bluesky => "bluesky",
            Network::Mastodon => "mastodon",
            Network::X => "x",
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Network::Bluesky => "Bluesky",
            Network::Mastodon => "Mastodon",
            Network::X => "X",
        }
    }

    /// The default public reply length limit, counted the way the network counts it
    /// (see `domain::text::reply_length`). Mastodon instances may configure another limit.
    pub fn default_reply_limit(self) -> usize {
        match self {
            Network::Bluesky => 300,
            Network::Mastodon => 500,
            Network::X => 280,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bluesky" => Ok(Network::Bluesky),
            "mastodon" => Ok(Network::Mastodon),
            "x" => Ok(Network::X),
            other => Err(format!("unknown network {other:?}")),
        }
    }
}

/// A post's identity: the network and the network's own id for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PostRef {
    /// The network the post is on.
    pub network: Network,
    /// The network's id (Bluesky: the at-uri; Mastodon: the status id; X: the tweet id).
    pub id: String,
}

impl PostRef {
    /// Builds a reference from its parts.
    pub fn new(network: Network, id: impl Into<String>) -> PostRef {
        PostRef {
            network,
            id: id.into(),
        }
    }
}

impl fmt::Display for PostRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.network.as_str(), self.id)
    }
}

/// Who wrote a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Author {
    /// The network's stable id (DID, account id, user id).
    pub id: String,
    /// The handle people see, without a leading `@`.
    pub handle: String,
    /// The display name, if the author set one.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Follower count when the network tells us; never used to order work (fairness).
    #[serde(default)]
    pub followers: Option<u64>,
}

/// The follower-count buckets, smallest first; "unknown" when the network does not say.
pub const REACH_BUCKETS: [&str; 6] = ["<100", "100-1k", "1k-10k", "10k-100k", "100k+", "unknown"];

/// A coarse bucket for a follower count (fairness: exact reach is never shown, and work is
/// never ordered by it).
pub fn reach_bucket(followers: Option<u64>) -> &'static str {
    match followers {
        None => REACH_BUCKETS[5],
        Some(0..=99) => REACH_BUCKETS[0],
        Some(100..=999) => REACH_BUCKETS[1],
        Some(1_000..=9_999) => REACH_BUCKETS[2],
        Some(10_000..=99_999) => REACH_BUCKETS[3],
        Some(_) => REACH_BUCKETS[4],
    }
}

/// Why the post reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MentionKind {
    /// The brand's account was mentioned.
    #[default]
    Mention,
    /// A configured keyword matched.
    Keyword,
    /// A reply in a conversation the brand is part of.
    Reply,
    /// A quote of one of the brand's posts.
    Quote,
}

/// A public post that mentions the brand, normalized across networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    /// The network the post is on.
    pub network: Network,
    /// The configured source that delivered it; replies go back through the same source.
    #[serde(default)]
    pub source: String,
    /// The network's id of the post.
    pub id: String,
    /// A link to the post that a person can open.
    pub url: String,
    /// Who wrote it.
    pub author: Author,
    /// The post's plain text.
    pub text: String,
    /// When the author posted it.
    pub created_at: DateTime<Utc>,
    /// The id of the post this one answers, if any.
    #[serde(default)]
    pub in_reply_to: Option<String>,
    /// The id of the conversation's first post, if any.
    #[serde(default)]
    pub root: Option<String>,
    /// Why the post reached us.
    #[serde(default)]
    pub kind: MentionKind,
    /// The language the network reported, as a BCP-47 tag.
    #[serde(default)]
    pub lang: Option<String>,
    /// Posted by the brand's own account (the source knows its account); such posts never
    /// open cases, and in a case's conversation they show as answered outside mentiondesk.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_brand: bool,
    /// The network's JSON for this post, kept for audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
}

impl Mention {
    /// This post's reference.
    pub fn post_ref(&self) -> PostRef {
        PostRef::new(self.network, self.id.clone())
    }

    /// The posts this one is attached to, nearest first: the parent, then the root.
    pub fn conversation_refs(&self) -> Vec<PostRef> {
        let mut refs = Vec::new();
        for id in [&self.in_reply_to, &self.root].into_iter().flatten() {
            let post_ref = PostRef::new(self.network, id.clone());
            if !refs.contains(&post_ref) && post_ref.id != self.id {
                refs.push(post_ref);
            }
        }
        refs
    }
}

/// Normalizes a handle for comparisons: no leading `@`, lowercase.
pub fn normalize_handle(handle: &str) -> String {
    handle.trim().trim_start_matches('@').to_lowercase()
}
