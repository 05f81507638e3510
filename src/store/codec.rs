//! Key layout. Numbers are big-endian so sled's byte order is numeric order; text parts are
//! separated by a NUL byte, which no network id, source name or lane contains.

use crate::domain::{CaseId, Network, PostRef};

/// The schema version this build writes. Bump it (and add a migration here) when a stored
/// layout changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

/// `meta` key of the schema version.
pub const SCHEMA_KEY: &[u8] = b"schema_version";
/// `meta` key of the next case number.
pub const NEXT_CASE_KEY: &[u8] = b"next_case_id";

/// Prefix of the `meta` keys holding the storm window (one cluster per case).
pub const STORM_PREFIX: &[u8] = b"storm/";

/// `meta` key of a storm cluster: the prefix then the case number.
pub fn storm_key(id: CaseId) -> Vec<u8> {
    let mut key = STORM_PREFIX.to_vec();
    key.extend_from_slice(&id.0.to_be_bytes());
    key
}

/// `cases` key, and the prefix of the case's `events` keys.
pub fn case_key(id: CaseId) -> [u8; 8] {
    id.0.to_be_bytes()
}

/// `events` key: case then sequence number.
pub fn event_key(id: CaseId, seq: u32) -> Vec<u8> {
    let mut key = id.0.to_be_bytes().to_vec();
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// `posts` and `labels` key: network NUL id.
pub fn post_key(post: &PostRef) -> Vec<u8> {
    joined(post.network.as_str(), &post.id)
}

/// `authors` key: network NUL author id.
pub fn author_key(network: Network, author_id: &str) -> Vec<u8> {
    joined(network.as_str(), author_id)
}

/// `outbox` prefix of a lane.
pub fn lane_prefix(lane: &str) -> Vec<u8> {
    let mut key = lane.as_bytes().to_vec();
    key.push(0);
    key
}

/// `outbox` key: lane NUL sequence.
pub fn outbox_key(lane: &str, seq: u64) -> Vec<u8> {
    let mut key = lane_prefix(lane);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// `audit` key: milliseconds since the epoch then a sequence number, so the tree reads in
/// time order and two records in one millisecond keep theirs.
pub fn audit_key(at_millis: i64, seq: u64) -> Vec<u8> {
    let mut key = audit_prefix(at_millis);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The first `audit` key at or after `at_millis` (times before 1970 count as 1970).
pub fn audit_prefix(at_millis: i64) -> Vec<u8> {
    (at_millis.max(0) as u64).to_be_bytes().to_vec()
}

/// `chat` key: chat NUL adapter key.
pub fn chat_key(chat: &str, key: &str) -> Vec<u8> {
    joined(chat, key)
}

/// Reads a big-endian u32, treating a short value as 0.
pub fn decode_u32(bytes: &[u8]) -> u32 {
    bytes.try_into().map(u32::from_be_bytes).unwrap_or_default()
}

/// Reads a big-endian u64, treating a short value as 0.
pub fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or_default()
}

fn joined(first: &str, second: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(first.len() + second.len() + 1);
    key.extend_from_slice(first.as_bytes());
    key.push(0);
    key.extend_from_slice(second.as_bytes());
    key
}
