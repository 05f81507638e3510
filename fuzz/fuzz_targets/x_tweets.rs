#![no_main]
//! An X page of our own tweets (`GET /2/users/:id/tweets`), read by the exactly-once check.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mentiondesk::sources::x::fuzz::parse_tweets(data);
});
