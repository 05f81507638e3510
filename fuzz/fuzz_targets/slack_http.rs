#![no_main]
//! A Slack HTTP-mode request body (signature check, Events API, Interactivity form, command).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mentiondesk::chat::slack::fuzz::decode_http_body(data);
});
