//! A fake ticketing system behind an escalation webhook: verifies the signature the way a
//! receiver would (HMAC-SHA256 over `v1:<timestamp>:<body>`), rejects stale or bad signatures
//! with 401, and answers with a ticket link.

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::FakeServer;

/// The secret the fake shares with the test config.
pub const SECRET: &str = "tickets-s3cret";

/// Starts the fake; the hook is at `/hook`.
pub async fn start() -> FakeServer {
    FakeServer::start(Router::new().route("/hook", post(hook))).await
}

async fn hook(headers: HeaderMap, body: String) -> (StatusCode, Json<Value>) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let timestamp: i64 = header("x-mentiondesk-timestamp").parse().unwrap_or(0);
    let fresh = (chrono::Utc::now().timestamp() - timestamp).abs() <= 300;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v1:{timestamp}:{body}").as_bytes());
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    if !fresh || header("x-mentiondesk-signature") != expected {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "bad signature" })),
        );
    }
    let case = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["case"].as_u64())
        .unwrap_or(0);
    (
        StatusCode::CREATED,
        Json(json!({ "ticket_url": format!("https://tickets.example/T-{case}") })),
    )
}
