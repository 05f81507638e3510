//! Entry point for the fuzz target `discord_events` (`fuzz/`) and its regression tests: one
//! gateway frame, decoded by serenity as the shard does, then read the way `on_click` and
//! `on_submit` read an interaction (custom ids, modal inputs). Never panics.

use serenity::all::Interaction;
use serenity::model::event::{Event, GatewayEvent};

use super::render;
use crate::domain::{ActionRequest, Payload};

/// What the adapter would ask of the engine (or the forms it would open) for this frame.
pub fn decode_gateway(bytes: &[u8]) -> Vec<ActionRequest> {
    let Ok(GatewayEvent::Dispatch(_, Event::InteractionCreate(event))) =
        serde_json::from_slice::<GatewayEvent>(bytes)
    else {
        return Vec::new();
    };
    match event.interaction {
        Interaction::Component(click) => click
            .data
            .custom_id
            .parse::<Payload>()
            .ok()
            .and_then(ActionRequest::from_button)
            .into_iter()
            .collect(),
        Interaction::Modal(submit) => {
            let custom_id = submit.data.custom_id.as_str();
            let Some((form, payload)) = render::split_modal_id(custom_id) else {
                return Vec::new();
            };
            let Ok(payload) = payload.parse::<Payload>() else {
                return Vec::new();
            };
            let action = super::form_action(form, &submit.data);
            vec![ActionRequest {
                case: payload.case,
                version: payload.version,
                action,
            }]
        }
        _ => Vec::new(),
    }
}
