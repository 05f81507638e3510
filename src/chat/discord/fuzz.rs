//! Entry point for the fuzz target `discord_events` (`fuzz/`) and its regression tests: one
//! gateway frame, decoded by serenity as the shard does, then read the way `on_click` and
//! `on_submit` read an interaction (custom ids, modal inputs). Never panics.

use serenity::all::{ActionRowComponent, Interaction};
use serenity::model::event::{Event, GatewayEvent};

use super::render;
use crate::domain::{ActionRequest, ChatAction, Payload};

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
            let (form, payload) = if let Some(rest) = custom_id.strip_prefix(render::REPLY_MODAL) {
                (render::REPLY_MODAL, rest)
            } else if let Some(rest) = custom_id.strip_prefix(render::ESCALATE_MODAL) {
                (render::ESCALATE_MODAL, rest)
            } else {
                return Vec::new();
            };
            let Ok(payload) = payload.parse::<Payload>() else {
                return Vec::new();
            };
            let input = |id: &str| -> String {
                submit
                    .data
                    .components
                    .iter()
                    .flat_map(|row| row.components.iter())
                    .find_map(|component| match component {
                        ActionRowComponent::InputText(input) if input.custom_id == id => {
                            input.value.clone()
                        }
                        _ => None,
                    })
                    .unwrap_or_default()
            };
            let action = if form == render::REPLY_MODAL {
                ChatAction::Reply {
                    text: input(render::TEXT_INPUT),
                    confirm_pii: input(render::CONFIRM_INPUT)
                        .trim()
                        .eq_ignore_ascii_case(render::CONFIRM_WORD),
                }
            } else {
                ChatAction::Escalate {
                    target: input(render::TARGET_INPUT).trim().to_string(),
                    note: input(render::NOTE_INPUT),
                }
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
