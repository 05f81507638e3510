#![no_main]
//! A Discord gateway frame (INTERACTION_CREATE: component clicks, modal submits).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = mentiondesk::chat::discord::fuzz::decode_gateway(data);
});
