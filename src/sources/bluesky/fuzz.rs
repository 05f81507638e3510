//! Entry points for the fuzz targets (`fuzz/`) and their regression tests: the bytes of one
//! XRPC answer, through the same structs and mapping the source uses. Never panics.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    mention_facets, parse_datetime, reply_rkey, BlueskySettings, BlueskySource, GetPostsOutput,
    NotificationPage, ParentRecord, Watermark, REASONS,
};
use crate::config::Secret;
use crate::domain::Mention;

const OWN_DID: &str = "did:plc:brandbrandbrandbrandbran";

fn source() -> &'static BlueskySource {
    static SOURCE: OnceLock<BlueskySource> = OnceLock::new();
    SOURCE.get_or_init(|| {
        BlueskySource::new(BlueskySettings {
            name: "fuzz".to_string(),
            base_url: "http://127.0.0.1:9".to_string(),
            web_url: "https://bsky.app".to_string(),
            identifier: "brand.example".to_string(),
            app_password: Secret::new("fuzz"),
            poll_interval: Duration::from_secs(60),
            backfill: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(1),
            keywords: Vec::new(),
            appview_url: None,
        })
        .expect("a client with no network settings builds")
    })
}

/// A `listNotifications` answer as the fetch reads it: the page, each notification's
/// `indexedAt`, reason and record mapped to a mention, and the next cursor (watermark),
/// encoded and read back.
pub fn parse_notifications(bytes: &[u8]) -> Vec<Mention> {
    let Ok(page) = serde_json::from_slice::<NotificationPage>(bytes) else {
        return Vec::new();
    };
    let _ = page.cursor;
    let mut listed: Vec<(DateTime<Utc>, Value)> = Vec::new();
    for raw in page.notifications {
        let Some(indexed_at) = raw
            .get("indexedAt")
            .and_then(Value::as_str)
            .and_then(parse_datetime)
        else {
            continue;
        };
        listed.push((indexed_at, raw));
    }
    let mut mentions = Vec::new();
    for (indexed_at, raw) in &listed {
        let reason = raw
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !REASONS.contains(&reason) {
            continue;
        }
        if let Ok(mention) = source().mention(raw, *indexed_at, OWN_DID) {
            mentions.push(mention);
        }
    }
    if let Some(watermark) = Watermark::after(None, &listed) {
        let encoded = watermark.encode();
        let again = Watermark::parse(&encoded);
        assert_eq!(again.as_ref(), Some(&watermark), "the cursor reads back");
        let _ = Watermark::after(again.as_ref(), &listed);
    }
    mentions
}

/// A `getPosts` answer as a reply reads it: each post's record as the parent of a reply
/// (root, langs), the record key of a reply to it and the mention facets of a reply text
/// naming its author. Returns the reply keys.
pub fn parse_posts(bytes: &[u8]) -> Vec<String> {
    let Ok(output) = serde_json::from_slice::<GetPostsOutput>(bytes) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for post in output.posts {
        let parent: ParentRecord = serde_json::from_value(post.record.clone()).unwrap_or_default();
        let _root = parent
            .reply
            .as_ref()
            .map(|reply| reply.root.uri.clone())
            .unwrap_or_else(|| post.uri.clone());
        let _langs = parent.langs.unwrap_or_default();
        let text = format!("@{} thanks, we are on it", post.author.handle);
        for facet in mention_facets(&text, &post.author.handle, &post.author.did) {
            let (start, end) = facet.byte_range();
            assert!(start <= end && end <= text.len(), "facet inside the text");
        }
        keys.push(reply_rkey("c1-v1", &post.uri));
        let _ = post.cid;
    }
    keys
}
