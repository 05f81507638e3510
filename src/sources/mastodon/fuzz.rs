//! Entry points for the fuzz targets (`fuzz/`) and their regression tests: the bytes of one
//! Mastodon answer, through the same structs and mapping the source uses. Never panics.

use std::sync::OnceLock;
use std::time::Duration;

use super::{created_at, item_id, readable, MastodonSource, Notification, Setup, Status};
use crate::config::{MastodonSource as MastodonConfig, Secret};
use crate::domain::Mention;

fn source() -> &'static MastodonSource {
    static SOURCE: OnceLock<MastodonSource> = OnceLock::new();
    SOURCE.get_or_init(|| {
        MastodonSource::new(&MastodonConfig {
            name: "fuzz".to_string(),
            base_url: "http://127.0.0.1:9".to_string(),
            access_token: Secret::new("fuzz"),
            poll_interval: Duration::from_secs(60),
            backfill: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(1),
            streaming: false,
        })
        .expect("a client with a valid base URL builds")
    })
}

fn setup() -> Setup {
    Setup {
        account_id: "109".to_string(),
        domain: "brand.example".to_string(),
        streaming_url: None,
    }
}

/// The page as an array of items (anything else is a malformed page, as in the fetch).
fn items(bytes: &[u8]) -> Vec<serde_json::Value> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(_) => Vec::new(),
        // An error answer's `{"error": ...}` is quoted for the log.
        Err(_) => {
            let _ = readable(&format!(
                "HTTP 422 Unprocessable Entity: {}",
                String::from_utf8_lossy(bytes)
            ));
            Vec::new()
        }
    }
}

/// A `GET /api/v1/notifications` page as the fetch maps it.
pub fn parse_notifications(bytes: &[u8]) -> Vec<Mention> {
    let setup = setup();
    let mut mentions = Vec::new();
    for item in items(bytes) {
        let _ = (item_id(&item), created_at(&item));
        if let Ok(notification) = serde_json::from_value::<Notification>(item.clone()) {
            mentions.extend(source().notification_mention(&setup, notification, &item));
        }
    }
    mentions
}

/// A `GET /api/v1/accounts/:id/statuses` page as the fetch maps it.
pub fn parse_statuses(bytes: &[u8]) -> Vec<Mention> {
    let setup = setup();
    let mut mentions = Vec::new();
    for item in items(bytes) {
        let _ = (item_id(&item), created_at(&item));
        if let Ok(status) = serde_json::from_value::<Status>(item.clone()) {
            mentions.extend(source().status_mention(&setup, status, Some(item)));
        }
    }
    mentions
}
