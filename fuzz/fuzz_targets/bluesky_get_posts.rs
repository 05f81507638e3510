#![no_main]
//! A Bluesky `app.bsky.feed.getPosts` answer, read as a reply's parent.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mentiondesk::sources::bluesky::fuzz::parse_posts(data);
});
