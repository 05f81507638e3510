#![no_main]
//! The button/modal payload codec (`verb:case:version`): whatever parses encodes back to
//! the same payload.
use mentiondesk::domain::{ActionRequest, Payload};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(payload) = text.parse::<Payload>() {
        let encoded = payload.to_string();
        assert_eq!(encoded.parse::<Payload>().as_ref(), Ok(&payload));
        assert!(encoded.len() <= 100, "fits a Discord custom_id");
        let _ = ActionRequest::from_button(payload);
    }
});
