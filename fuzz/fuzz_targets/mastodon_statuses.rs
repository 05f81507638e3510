#![no_main]
//! A Mastodon statuses page (`GET /api/v1/accounts/:id/statuses`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mentiondesk::sources::mastodon::fuzz::parse_statuses(data);
});
