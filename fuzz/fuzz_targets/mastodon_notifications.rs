#![no_main]
//! A Mastodon notifications page (`GET /api/v1/notifications`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mentiondesk::sources::mastodon::fuzz::parse_notifications(data);
});
