#![no_main]
//! An X mentions page (`GET /2/users/:id/mentions`), or an error body.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mentiondesk::sources::x::fuzz::parse_mentions(data);
});
