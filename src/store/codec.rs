//! Key layout. Numbers are big-endian so sled's byte order is numeric order; text parts are
//! separated by a NUL byte, which no network id, source name or lane contains.

use crate::domain::{AuditAction, CaseId, CaseState, Network, PostRef};

/// The schema version this build writes. Bump it (and add a migration here) when a stored
/// layout changes incompatibly.
/// Version 2 added the `cases_by_opened` index and the `stat/` counters in `meta`; version 3
/// put each case's `CaseSummary` in the index's values (and `Case::activity` on the cases).
/// An older store is brought up to date on open (`Store::migrate`).
pub const SCHEMA_VERSION: u32 = 3;

/// `meta` key of the schema version.
pub const SCHEMA_KEY: &[u8] = b"schema_version";
/// `meta` key of the next case number.
pub const NEXT_CASE_KEY: &[u8] = b"next_case_id";

/// `meta` key of the next kudos id.
pub const NEXT_KUDOS_KEY: &[u8] = b"next_kudos_id";

/// Prefix of the `meta` keys holding kudos (praise shown in a kudos channel).
pub const KUDOS_PREFIX: &[u8] = b"kudos/";

/// `meta` key of a kudos: the prefix then its id.
pub fn kudos_key(id: u64) -> Vec<u8> {
    let mut key = KUDOS_PREFIX.to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// `meta` key of the next skipped-post entry id.
pub const NEXT_SKIPPED_KEY: &[u8] = b"next_skipped_id";

/// Prefix of the `meta` keys of the skipped-post index (posts triage stored without a card).
pub const SKIPPED_PREFIX: &[u8] = b"skipped/";

/// `meta` key of a skipped-post entry: the prefix then its id, so the index reads in the
/// order the posts were stored.
pub fn skipped_key(id: u64) -> Vec<u8> {
    let mut key = SKIPPED_PREFIX.to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// Prefix of the `meta` keys holding the storm window (one cluster per case).
pub const STORM_PREFIX: &[u8] = b"storm/";

/// `meta` key of a storm cluster: the prefix then the case number.
pub fn storm_key(id: CaseId) -> Vec<u8> {
    let mut key = STORM_PREFIX.to_vec();
    key.extend_from_slice(&id.0.to_be_bytes());
    key
}

/// `meta` key of the spike detector's state (usual volumes, spikes under way; see
/// `pipeline::spike`).
pub const SPIKE_KEY: &[u8] = b"spike";

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

/// Key of the old `authors` tree (before the customer index got its own Db): network NUL
/// author id → the author's case ids as a JSON list, rewritten for every case. Read once by
/// the move to the customer index.
pub fn author_key(network: Network, author_id: &str) -> Vec<u8> {
    joined(network.as_str(), author_id)
}

/// The customer index (`customers.rs`: a sled Db of its own, `customers/` in the store's
/// directory; its default tree) holds one empty-valued entry per case, keyed network NUL
/// customer id NUL case id (8 bytes): insert-only, and a customer's cases are one prefix scan,
/// in id order. This is the prefix of a customer's entries.
pub fn customer_prefix(network: Network, customer_id: &str) -> Vec<u8> {
    let mut key = author_key(network, customer_id);
    key.push(0);
    key
}

/// A customer index entry's key: the customer's prefix then the case id.
pub fn customer_case_key(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The case id of a customer index entry under `prefix` (`None` for a key of another shape).
pub fn customer_case_id(prefix: &[u8], key: &[u8]) -> Option<u64> {
    let id = key.strip_prefix(prefix)?;
    (id.len() == 8).then(|| decode_u64(id))
}

/// Customer index key of its watermark (a u64: every case up to it is indexed), written in
/// the batch of the entries it covers. It starts with NUL, which no network name does.
pub const CUSTOMERS_WATERMARK_KEY: &[u8] = b"\0watermark";

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

/// The sequence number of an `outbox` key (0 for a key too short to hold one).
pub fn outbox_seq(key: &[u8]) -> u64 {
    key.len()
        .checked_sub(8)
        .map_or(0, |start| decode_u64(&key[start..]))
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

/// `cases_by_opened` key: the case's opening time in milliseconds since the epoch (times before
/// 1970 count as 1970), then the case id, so the tree reads in opening order.
pub fn opened_key(opened_at_millis: i64, id: CaseId) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&opened_prefix(opened_at_millis));
    key[8..].copy_from_slice(&id.0.to_be_bytes());
    key
}

/// The first `cases_by_opened` key at or after `at_millis`.
pub fn opened_prefix(at_millis: i64) -> [u8; 8] {
    (at_millis.max(0) as u64).to_be_bytes()
}

/// `cases_by_opened` value: the case's state and flags as the index last saw them (two
/// bytes, so a write can tell what changed without decoding anything), then the case's
/// summary as JSON (what a report reads; compressed since `store::compress`, plain JSON in
/// values written before).
pub fn opened_value(state: CaseState, sla_breached: bool, summary_json: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(2 + summary_json.len());
    value.push(state_code(state));
    value.push(u8::from(sla_breached));
    value.extend_from_slice(summary_json);
    value
}

/// The summary of an `opened_value`, compressed or plain JSON (empty in a version 2 value).
pub fn opened_summary(bytes: &[u8]) -> &[u8] {
    bytes.get(2..).unwrap_or_default()
}

/// Reads an `opened_value` (a short or unknown value reads as `None`).
pub fn decode_opened_value(bytes: &[u8]) -> Option<(CaseState, bool)> {
    match bytes {
        [state, flags, ..] => Some((state_from_code(*state)?, flags & 1 == 1)),
        _ => None,
    }
}

/// `meta` key of the number of mentions stored from customers on a network.
pub fn stat_ingested_key(network: Network) -> Vec<u8> {
    format!("stat/ingested/{}", network.as_str()).into_bytes()
}

/// `meta` key of the number of cases in a state.
pub fn stat_state_key(state: CaseState) -> Vec<u8> {
    format!("stat/cases/{}", state_name(state)).into_bytes()
}

/// `meta` key of the number of first-response deadlines that passed unanswered.
pub const STAT_SLA_BREACHES_KEY: &[u8] = b"stat/sla_breaches";

/// `meta` key of the number of audit records of an action.
pub fn stat_audit_key(action: AuditAction) -> Vec<u8> {
    format!("stat/audit/{}", action.as_str()).into_bytes()
}

/// Every case state, in the order the codes give them.
pub const STATES: [CaseState; 6] = [
    CaseState::New,
    CaseState::Claimed,
    CaseState::Replied,
    CaseState::CustomerReplied,
    CaseState::Resolved,
    CaseState::Dismissed,
];

/// The snake_case name of a state (as serde writes it).
pub fn state_name(state: CaseState) -> &'static str {
    match state {
        CaseState::New => "new",
        CaseState::Claimed => "claimed",
        CaseState::Replied => "replied",
        CaseState::CustomerReplied => "customer_replied",
        CaseState::Resolved => "resolved",
        CaseState::Dismissed => "dismissed",
    }
}

fn state_code(state: CaseState) -> u8 {
    STATES.iter().position(|s| *s == state).unwrap_or(0) as u8 + 1
}

fn state_from_code(code: u8) -> Option<CaseState> {
    STATES.get(usize::from(code).checked_sub(1)?).copied()
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
