#![no_main]
//! A Slack Socket Mode frame (block actions, view submissions).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mentiondesk::chat::slack::fuzz::decode_socket_mode(data);
});
