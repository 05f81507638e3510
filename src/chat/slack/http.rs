//! Slack's HTTP mode: the Events API, Interactivity and slash-command request URLs, served on
//! `[http].listen` next to `/healthz`, for teams that can't use Socket Mode.
//!
//! Every request is verified before its body is read as anything: `X-Slack-Signature` must be
//! `v0=` + hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}` under
//! `[slack].signing_secret` (compared in constant time), and the timestamp within
//! [`MAX_SKEW_SECS`] of now; otherwise the answer is 401 and nothing happens. Verified requests
//! go through the same handlers as Socket Mode envelopes (`on_interaction`, `on_command`), so a
//! click, a modal submit or a command behaves the same over both; the handler's answer becomes
//! the HTTP response body (`response_action: errors` for a wrong form, the ephemeral text for
//! a command), where Socket Mode puts it in the envelope's ack.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;
use slack_morphism::prelude::*;

use super::{SlackChat, CHAT_NAME};

/// Where Slack sends Events API requests (only `url_verification` matters to us).
pub const EVENTS_PATH: &str = "/slack/events";
/// Where Slack sends clicks and modal submits (the Interactivity request URL).
pub const INTERACTIVITY_PATH: &str = "/slack/interactivity";
/// Where Slack sends `/mentiondesk` (the slash command's request URL).
pub const COMMANDS_PATH: &str = "/slack/commands";

/// How far a request's timestamp may be from now, as Slack recommends (replay protection).
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// Why a request was not accepted as coming from Slack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// A header is missing or unreadable.
    #[error("missing or unreadable {0}")]
    Header(&'static str),
    /// The timestamp is too far from now.
    #[error("timestamp {0}s away from now")]
    Stale(i64),
    /// The signature does not match.
    #[error("signature does not match")]
    Signature,
}

/// The routes, for `[http].listen`'s router.
pub fn router(chat: Arc<SlackChat>, signing_secret: String) -> Router {
    Router::new()
        .route(EVENTS_PATH, post(events))
        .route(INTERACTIVITY_PATH, post(interactivity))
        .route(COMMANDS_PATH, post(commands))
        .with_state(Arc::new(Endpoint {
            chat,
            signing_secret,
        }))
}

struct Endpoint {
    chat: Arc<SlackChat>,
    signing_secret: String,
}

/// Checks a request's signature and timestamp against `secret` at `now` (Unix seconds).
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), Unverified> {
    let timestamp = header(headers, "x-slack-request-timestamp")?;
    let signature = header(headers, "x-slack-signature")?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| Unverified::Header("x-slack-request-timestamp"))?;
    let skew = now.saturating_sub(seconds);
    if skew.abs() > MAX_SKEW_SECS {
        return Err(Unverified::Stale(skew));
    }
    let expected = signature
        .strip_prefix("v0=")
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .ok_or(Unverified::Signature)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| Unverified::Signature)?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| Unverified::Signature)
}

/// `v0=<hex>`: the signature Slack would send for `body` at `timestamp` (for tests and fakes).
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| Hmac::<Sha256>::new_from_slice(b"").expect("hmac takes any key"));
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Unverified> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .ok_or(Unverified::Header(name))
}

/// The 401 for a request that is not verifiably from Slack, or `None` for one that is.
fn refused(endpoint: &Endpoint, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    let now = chrono::Utc::now().timestamp();
    let reason = verify(&endpoint.signing_secret, headers, body, now).err()?;
    tracing::warn!(chat = CHAT_NAME, reason = %reason, "Slack request refused");
    Some((StatusCode::UNAUTHORIZED, "invalid slack signature").into_response())
}

async fn events(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refused(&endpoint, &headers, &body) {
        return refused;
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        tracing::warn!(chat = CHAT_NAME, "Unreadable Slack event; skipped");
        return StatusCode::BAD_REQUEST.into_response();
    };
    match event["type"].as_str() {
        Some("url_verification") => {
            Json(json!({ "challenge": event["challenge"].as_str().unwrap_or_default() }))
                .into_response()
        }
        other => {
            // Cards need no events; acknowledge whatever the app is subscribed to.
            tracing::debug!(chat = CHAT_NAME, kind = ?other, "Slack event ignored");
            StatusCode::OK.into_response()
        }
    }
}

async fn interactivity(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refused(&endpoint, &headers, &body) {
        return refused;
    }
    let payload = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "payload")
        .map(|(_, value)| value.into_owned());
    let event = payload
        .as_deref()
        .map(serde_json::from_str::<SlackInteractionEvent>);
    let event = match event {
        Some(Ok(event)) => event,
        Some(Err(error)) => {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Unreadable Slack interaction; skipped");
            return StatusCode::BAD_REQUEST.into_response();
        }
        None => {
            tracing::warn!(
                chat = CHAT_NAME,
                "Slack interaction without a payload; skipped"
            );
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    match endpoint.chat.clone().on_interaction(event).await {
        SlackInteractionResponse::Empty => StatusCode::OK.into_response(),
        answer => Json(answer).into_response(),
    }
}

async fn commands(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refused(&endpoint, &headers, &body) {
        return refused;
    }
    let field = |name: &str| {
        url::form_urlencoded::parse(&body)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    // Slack checks the certificate of a command URL now and then with `ssl_check=1`.
    if field("ssl_check").as_deref() == Some("1") {
        return StatusCode::OK.into_response();
    }
    let (Some(team), Some(channel), Some(user), Some(command), Some(response_url), Some(trigger)) = (
        field("team_id"),
        field("channel_id"),
        field("user_id"),
        field("command"),
        field("response_url").and_then(|url| url::Url::parse(&url).ok()),
        field("trigger_id"),
    ) else {
        tracing::warn!(
            chat = CHAT_NAME,
            "Slash command without its fields; skipped"
        );
        return StatusCode::BAD_REQUEST.into_response();
    };
    let event = SlackCommandEvent::new(
        team.into(),
        channel.into(),
        user.into(),
        command.into(),
        response_url.into(),
        trigger.into(),
    )
    .opt_text(field("text"));
    Json(endpoint.chat.clone().on_command(event).await).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-slack-request-timestamp", timestamp.parse().unwrap());
        headers.insert("x-slack-signature", signature.parse().unwrap());
        headers
    }

    /// Slack's worked example from "Verifying requests from Slack".
    #[test]
    fn slacks_documented_example_verifies() {
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let timestamp = "1531420618";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(SECRET, timestamp, body), signature);
        let now = 1531420618 + 10;
        assert_eq!(
            verify(SECRET, &headers(timestamp, signature), body, now),
            Ok(())
        );
    }

    #[test]
    fn wrong_signatures_and_stale_timestamps_are_refused() {
        let body = b"payload=%7B%7D";
        let now = 1_800_000_000;
        let fresh = now.to_string();
        let good = sign(SECRET, &fresh, body);
        let check = |headers: HeaderMap, expected: Result<(), Unverified>| {
            assert_eq!(verify(SECRET, &headers, body, now), expected);
        };
        check(headers(&fresh, &good), Ok(()));
        check(
            headers(&fresh, &sign("another-secret", &fresh, body)),
            Err(Unverified::Signature),
        );
        check(headers(&fresh, "v0=zz"), Err(Unverified::Signature));
        check(headers(&fresh, &good[3..]), Err(Unverified::Signature));
        let stale = (now - 6 * 60).to_string();
        check(
            headers(&stale, &sign(SECRET, &stale, body)),
            Err(Unverified::Stale(360)),
        );
        let future = (now + 6 * 60).to_string();
        check(
            headers(&future, &sign(SECRET, &future, body)),
            Err(Unverified::Stale(-360)),
        );
        let edge = (now - MAX_SKEW_SECS).to_string();
        check(headers(&edge, &sign(SECRET, &edge, body)), Ok(()));
        check(
            HeaderMap::new(),
            Err(Unverified::Header("x-slack-request-timestamp")),
        );
        check(
            headers("yesterday", &good),
            Err(Unverified::Header("x-slack-request-timestamp")),
        );
    }
}
