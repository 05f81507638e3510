//! Entry point for the fuzz target `slack_events` (`fuzz/`) and its regression tests: one
//! Socket Mode frame, decoded by slack-morphism as the listener does, then read the way
//! `on_block_actions` and `on_view_submission` read it (payloads, form metadata, inputs).
//! Never panics.

use slack_morphism::prelude::*;

use super::render::FormMetadata;
use crate::domain::{ActionRequest, Payload};

/// What the adapter would ask of the engine (or the forms it would open) for this frame.
pub fn decode_socket_mode(bytes: &[u8]) -> Vec<ActionRequest> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    // slack-morphism does not export its envelope enum; it is tagged by `type` and an
    // `interactive` envelope carries a `SlackInteractionEvent` in `payload`.
    let Ok(envelope) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    if envelope.get("type").and_then(serde_json::Value::as_str) != Some("interactive") {
        return Vec::new();
    }
    let Some(Ok(event)) = envelope
        .get("payload")
        .map(|payload| serde_json::from_value::<SlackInteractionEvent>(payload.clone()))
    else {
        return Vec::new();
    };
    requests(event)
}

/// One HTTP-mode request body, read as each endpoint of `http.rs` reads it: the signature check
/// (with a fixed secret and the body's own first line as signature), the Events API JSON, the
/// Interactivity form's `payload` (then as [`decode_socket_mode`]), and a slash command's text.
pub fn decode_http_body(bytes: &[u8]) -> Vec<ActionRequest> {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("x-slack-request-timestamp", "1700000000".parse().unwrap());
    if let Some(value) = bytes
        .split(|byte| *byte == b'\n')
        .next()
        .and_then(|line| axum::http::HeaderValue::from_bytes(line).ok())
    {
        headers.insert("x-slack-signature", value);
    }
    let _ = super::http::verify("fuzz-secret", &headers, bytes, 1_700_000_100);
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let _ = event["type"].as_str();
        let _ = event["challenge"].as_str();
    }
    let field = |name: &str| {
        url::form_urlencoded::parse(bytes)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    if let Some(text) = field("text") {
        let _ = crate::chat::commands::parse(&text);
    }
    let _ = field("response_url").map(|url| url::Url::parse(&url));
    match field("payload").map(|payload| serde_json::from_str::<SlackInteractionEvent>(&payload)) {
        Some(Ok(event)) => requests(event),
        _ => Vec::new(),
    }
}

/// What `on_block_actions` and `on_view_submission` would ask of the engine for `event`.
fn requests(event: SlackInteractionEvent) -> Vec<ActionRequest> {
    match event {
        SlackInteractionEvent::BlockActions(event) => {
            let mut requests = Vec::new();
            for action in event.actions.unwrap_or_default() {
                let value = action
                    .value
                    .or_else(|| action.selected_option.map(|option| option.value));
                let Some(Ok(payload)) = value.map(|value| value.parse::<Payload>()) else {
                    continue;
                };
                requests.extend(ActionRequest::from_button(payload));
            }
            requests
        }
        SlackInteractionEvent::ViewSubmission(event) => {
            let SlackView::Modal(modal) = &event.view.view else {
                return Vec::new();
            };
            let Some(metadata) = modal
                .private_metadata
                .as_deref()
                .and_then(|text| serde_json::from_str::<FormMetadata>(text).ok())
            else {
                return Vec::new();
            };
            let Ok(payload) = metadata.payload.parse::<Payload>() else {
                return Vec::new();
            };
            let Some(action) = super::form_action(payload.kind, &event.view) else {
                return Vec::new();
            };
            vec![ActionRequest {
                case: payload.case,
                version: payload.version,
                action,
            }]
        }
        _ => Vec::new(),
    }
}
