#![no_main]
//! A Bluesky `app.bsky.notification.listNotifications` answer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mentiondesk::sources::bluesky::fuzz::parse_notifications(data);
});
