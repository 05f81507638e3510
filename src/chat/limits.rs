//! The public reply limit of each case's network, as its source counts it, for the adapters'
//! Reply forms. A source may know better than the network's default (a Mastodon instance
//! that allows 1000 characters), and the actions engine validates against the source's limit,
//! so the form must show the same number.

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::Case;
use crate::sources::SourceClient;

/// Asks each case's source for its reply limit; the network's default when the source is not
/// configured (any more) or no sources were given.
#[derive(Clone, Default)]
pub struct ReplyLimits {
    sources: HashMap<String, Arc<dyn SourceClient>>,
}

impl std::fmt::Debug for ReplyLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyLimits")
            .field("sources", &self.sources.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ReplyLimits {
    /// Limits from the configured sources, by name.
    pub fn new(sources: &[Arc<dyn SourceClient>]) -> ReplyLimits {
        ReplyLimits {
            sources: sources
                .iter()
                .map(|source| (source.name().to_string(), source.clone()))
                .collect(),
        }
    }

    /// The limit a reply to `case` is checked against.
    pub fn limit(&self, case: &Case) -> usize {
        self.sources
            .get(&case.source)
            .map(|source| source.reply_limit(case.network))
            .unwrap_or_else(|| case.network.default_reply_limit())
    }
}
