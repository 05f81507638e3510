//! Entry points for the fuzz targets (`fuzz/`) and their regression tests: the bytes of one X
//! answer, through the same structs and mapping the source uses. Never panics.

use super::{comparable_text, describe_error, Page, Tweet};
use crate::domain::Mention;

/// A mentions page (`GET /2/users/:id/mentions`) as the fetch maps it.
pub fn parse_mentions(bytes: &[u8]) -> Vec<Mention> {
    match serde_json::from_slice::<Page>(bytes) {
        Ok(page) => {
            for problem in &page.errors {
                let _ = problem.to_string();
            }
            let _ = (&page.meta.newest_id, &page.meta.next_token);
            page.mentions("fuzz", "2244994945")
        }
        // An error answer's body is described for the log.
        Err(_) => {
            let _ = describe_error(&String::from_utf8_lossy(bytes));
            Vec::new()
        }
    }
}

/// Our own tweets page (`GET /2/users/:id/tweets`) as the exactly-once check reads it:
/// the ids of tweets that answer a tweet, with their comparable text.
pub fn parse_tweets(bytes: &[u8]) -> Vec<(String, String)> {
    let Ok(page) = serde_json::from_slice::<Page>(bytes) else {
        return Vec::new();
    };
    page.data
        .iter()
        .filter_map(|value| serde_json::from_value::<Tweet>(value.clone()).ok())
        .filter_map(|tweet| {
            let replied_to = tweet.replied_to()?.to_string();
            Some((replied_to, comparable_text(&tweet.text)))
        })
        .collect()
}
