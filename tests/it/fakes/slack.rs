//! A fake Slack: the Web API methods mentiondesk uses and a Socket Mode WebSocket server.
//!
//! Web API (`/api/<method>`, served through [`FakeServer`] so every request is recorded and
//! faults can be injected): `auth.test`, `apps.connections.open`, `chat.postMessage`,
//! `chat.update`, `chat.postEphemeral`, `views.open`, `views.update`, `users.info`, `conversations.history`
//! (`oldest`/`latest`/`inclusive`, `limit` and `cursor` pages), `conversations.replies`, and the
//! external file upload (`files.getUploadURLExternal`, the upload URL,
//! `files.completeUploadExternal`, which shares the file in `channel_id` as a message with the
//! initial comment and `files`, as Slack shows it in the history). `ts` values follow the wall
//! clock. Answers have Slack's shapes: `{"ok": true, ...}` or
//! `{"ok": false, "error": "invalid_auth" | "channel_not_found" | "invalid_blocks" | ...}`.
//! Every posted payload is checked against Block Kit's limits (`platform-limits.json`), and
//! `chat.postMessage` is rate limited per channel (about 1 message/s with a burst of
//! [`BURST`]) with `429` + `Retry-After` and `{"ok": false, "error": "ratelimited"}`.
//!
//! Socket Mode: `apps.connections.open` (app token) returns `ws://127.0.0.1:<port>/link/...`;
//! each connection gets `hello`, then the test pushes `interactive` envelopes and reads the
//! acks (`{"envelope_id": ..., "payload": ...}`); `disconnect` asks the client to reconnect.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// The rate buckets follow tokio's clock, so a paused-time test sees Slack's pace in its time.
use tokio::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

pub use super::wait_until;
use super::FakeServer;

/// The bot token the fake accepts.
pub const BOT_TOKEN: &str = "xoxb-test-bot-token";
/// The app-level token the fake accepts for Socket Mode.
pub const APP_TOKEN: &str = "xapp-1-test-app-token";
/// The bot's user id.
pub const BOT_USER: &str = "U0BOT00001";
/// The bot id on its messages.
pub const BOT_ID: &str = "B0BOT00001";
/// The team id.
pub const TEAM: &str = "T0TEAM0001";
/// The app id.
pub const APP: &str = "A0APP00001";
/// The signing secret HTTP mode requests are signed with.
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99fakesecret";
/// The slash command's name.
pub const COMMAND: &str = "/mentiondesk";

/// Messages a channel may take at once before the 1/s pace applies.
pub const BURST: f64 = 4.0;

/// A message the fake holds (posted by the bot).
#[derive(Debug, Clone)]
pub struct Posted {
    /// The channel.
    pub channel: String,
    /// Its ts.
    pub ts: String,
    /// The thread it replies to, if any.
    pub thread_ts: Option<String>,
    /// The request body as posted (text, blocks, metadata).
    pub body: Value,
    /// The body of the last `chat.update`, if any.
    pub updated: Option<Value>,
}

impl Posted {
    /// The current content (the last update, or as posted).
    pub fn current(&self) -> &Value {
        self.updated.as_ref().unwrap_or(&self.body)
    }

    /// The metadata key it was posted with.
    pub fn key(&self) -> Option<&str> {
        self.body["metadata"]["event_payload"]["key"].as_str()
    }

    /// All text of the current content (fallback and every block), for assertions.
    pub fn all_text(&self) -> String {
        let mut text = String::new();
        collect_text(self.current(), &mut text);
        text
    }
}

fn collect_text(value: &Value, into: &mut String) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "text" {
                    if let Some(text) = value.as_str() {
                        into.push_str(text);
                        into.push('\n');
                        continue;
                    }
                }
                collect_text(value, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_text(item, into)),
        _ => {}
    }
}

#[derive(Default)]
struct Shared {
    ws_addr: Mutex<String>,
    channels: Mutex<HashSet<String>>,
    users: Mutex<HashMap<String, String>>,
    usergroups: Mutex<HashMap<String, Vec<String>>>,
    messages: Mutex<Vec<Posted>>,
    ephemerals: Mutex<Vec<Value>>,
    /// Bodies POSTed to an interaction's `response_url`.
    responses: Mutex<Vec<Value>>,
    views: Mutex<Vec<Value>>,
    view_updates: Mutex<Vec<Value>>,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    rate_limited: AtomicU64,
    ts: AtomicU64,
    sockets: Mutex<Vec<mpsc::UnboundedSender<Message>>>,
    connections: AtomicU64,
    acks: Mutex<Vec<Value>>,
    /// Trigger ids handed out, and when (`views.open` refuses them once expired).
    triggers: Mutex<HashMap<String, Instant>>,
    /// Whether `views.open` checks that the trigger has not expired (see `expire_triggers`).
    expire_triggers: std::sync::atomic::AtomicBool,
    /// Metadata keys whose `chat.postMessage` is refused, with the error code.
    refused_keys: Mutex<HashMap<String, &'static str>>,
    envelope: AtomicU64,
    uploads: Mutex<Vec<Upload>>,
    file_seq: AtomicU64,
}

/// A file started with `files.getUploadURLExternal`.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    /// The file id handed out.
    pub file_id: String,
    /// The `filename` asked for.
    pub filename: String,
    /// The `length` announced.
    pub length: usize,
    /// The bytes POSTed to the upload URL, once they were.
    pub bytes: Option<Vec<u8>>,
    /// The `files.completeUploadExternal` arguments that shared it, once they did.
    pub completed: Option<Value>,
}

/// A running fake Slack.
#[derive(Clone)]
pub struct FakeSlack {
    /// The recording HTTP server (Web API under `/api`).
    pub server: FakeServer,
    shared: Arc<Shared>,
}

impl FakeSlack {
    /// Starts the fake with these channels (any other is `channel_not_found`) and users
    /// (id, display name).
    pub async fn start(channels: &[&str], users: &[(&str, &str)]) -> FakeSlack {
        let shared = Arc::new(Shared::default());
        shared
            .channels
            .lock()
            .unwrap()
            .extend(channels.iter().map(|c| c.to_string()));
        shared.users.lock().unwrap().extend(
            users
                .iter()
                .map(|(id, name)| (id.to_string(), name.to_string())),
        );
        shared.ts.store(1_763_000_000_000_100, Ordering::SeqCst);
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        *shared.ws_addr.lock().unwrap() = ws.local_addr().unwrap().to_string();
        tokio::spawn(serve_sockets(ws, shared.clone()));
        let router = Router::new()
            .route("/api/{method}", any(web_api))
            .route("/upload/v1/{file}", axum::routing::post(upload_bytes))
            .route("/actions/{team}", axum::routing::post(response_url))
            .with_state(shared.clone());
        let server = FakeServer::start(router).await;
        FakeSlack { server, shared }
    }

    /// Every file upload started, in order.
    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.uploads.lock().unwrap().clone()
    }

    /// The `[slack]` base URL.
    pub fn base_url(&self) -> String {
        format!("{}/api", self.server.base_url)
    }

    /// The `[slack]` table pointing at this fake.
    pub fn config(&self, channel: &str) -> String {
        format!(
            "[slack]\nbot_token = \"{BOT_TOKEN}\"\napp_token = \"{APP_TOKEN}\"\nbase_url = \"{}\"\nchannel = \"{channel}\"\n",
            self.base_url()
        )
    }

    /// The `[slack]` table for HTTP mode: a signing secret, no app token (no Socket Mode).
    pub fn http_config(&self, channel: &str) -> String {
        format!(
            "[slack]\nbot_token = \"{BOT_TOKEN}\"\nsigning_secret = \"{SIGNING_SECRET}\"\nbase_url = \"{}\"\nchannel = \"{channel}\"\n",
            self.base_url()
        )
    }

    /// Sends a request to the app's HTTP mode endpoint `path` (on `[http].listen`, `http`),
    /// as Slack does: `X-Slack-Request-Timestamp` (now minus `age_secs`) and
    /// `X-Slack-Signature` = `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` under
    /// `secret`. Returns the status and the body.
    pub async fn deliver_signed(
        &self,
        http: &str,
        path: &str,
        content_type: &str,
        body: &str,
        age_secs: i64,
        secret: &str,
    ) -> (u16, String) {
        use hmac::{KeyInit, Mac};
        let timestamp = (chrono::Utc::now().timestamp() - age_secs).to_string();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("v0:{timestamp}:{body}").as_bytes());
        let signature = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
        let response = reqwest::Client::new()
            .post(format!("{http}{path}"))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Sends an interaction payload to the app's Interactivity URL (form-encoded
    /// `payload=<json>`), correctly signed and fresh.
    pub async fn deliver_interaction(&self, http: &str, payload: &Value) -> (u16, String) {
        self.deliver_signed(
            http,
            "/slack/interactivity",
            "application/x-www-form-urlencoded",
            &interaction_body(payload),
            0,
            SIGNING_SECRET,
        )
        .await
    }

    /// A `slash_commands` envelope on the newest socket: `user` typed `/mentiondesk text` in
    /// `channel`; its envelope id.
    pub fn push_command(&self, user: &str, channel: &str, text: &str) -> String {
        let id = format!(
            "env-{}",
            self.shared.envelope.fetch_add(1, Ordering::SeqCst) + 1
        );
        let envelope = json!({
            "envelope_id": id,
            "payload": self.command_fields(user, channel, text),
            "type": "slash_commands",
            "accepts_response_payload": true
        });
        let mut sockets = self.shared.sockets.lock().unwrap();
        sockets.retain(|socket| !socket.is_closed());
        let socket = sockets.last().expect("a socket mode connection");
        socket
            .send(Message::Text(envelope.to_string().into()))
            .expect("socket open");
        id
    }

    /// The fields Slack sends for a slash command (form fields over HTTP, JSON in Socket Mode).
    pub fn command_fields(&self, user: &str, channel: &str, text: &str) -> Value {
        json!({
            "token": "verification-token",
            "team_id": TEAM,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "mentions",
            "user_id": user,
            "user_name": user.to_lowercase(),
            "command": COMMAND,
            "text": text,
            "api_app_id": APP,
            "is_enterprise_install": "false",
            "response_url": format!("{}/commands/{TEAM}/1/abc", self.server.base_url),
            "trigger_id": self.new_trigger()
        })
    }

    /// Forgets a message, as if Slack never took it.
    pub fn forget(&self, ts: &str) {
        self.shared.messages.lock().unwrap().retain(|m| m.ts != ts);
    }

    /// Sets a user group's members (`usergroups.users.list`).
    pub fn set_usergroup(&self, group: &str, users: &[&str]) {
        self.shared.usergroups.lock().unwrap().insert(
            group.to_string(),
            users.iter().map(|user| user.to_string()).collect(),
        );
    }

    /// Every message the bot posted, oldest first.
    pub fn messages(&self) -> Vec<Posted> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// Top-level messages (cards) in a channel.
    pub fn cards(&self, channel: &str) -> Vec<Posted> {
        self.messages()
            .into_iter()
            .filter(|m| {
                m.channel == channel && m.thread_ts.is_none() && m.body.get("files").is_none()
            })
            .collect()
    }

    /// Messages sharing files (from `files.completeUploadExternal`) in a channel.
    pub fn file_shares(&self, channel: &str) -> Vec<Posted> {
        self.messages()
            .into_iter()
            .filter(|m| m.channel == channel && m.body.get("files").is_some())
            .collect()
    }

    /// The card posted with key `case-N` (in any channel).
    pub fn card(&self, case: u64) -> Option<Posted> {
        let key = format!("case-{case}");
        self.messages()
            .into_iter()
            .find(|m| m.thread_ts.is_none() && m.key() == Some(key.as_str()))
    }

    /// Replies in the thread of `ts`.
    pub fn thread(&self, ts: &str) -> Vec<Posted> {
        self.messages()
            .into_iter()
            .filter(|m| m.thread_ts.as_deref() == Some(ts))
            .collect()
    }

    /// Every `chat.postEphemeral` body.
    pub fn ephemerals(&self) -> Vec<Value> {
        self.shared.ephemerals.lock().unwrap().clone()
    }

    /// Every body POSTed to a `response_url` (as `block_action` gives them), in order.
    pub fn responses(&self) -> Vec<Value> {
        self.shared.responses.lock().unwrap().clone()
    }

    /// Every `views.update` call's arguments, in order.
    pub fn view_updates(&self) -> Vec<Value> {
        self.shared.view_updates.lock().unwrap().clone()
    }

    /// Every opened view, as answered by `views.open` (with its `id`), or as last updated.
    pub fn views(&self) -> Vec<Value> {
        self.shared.views.lock().unwrap().clone()
    }

    /// How many `chat.postMessage` calls the channel pace refused.
    pub fn rate_limited(&self) -> u64 {
        self.shared.rate_limited.load(Ordering::SeqCst)
    }

    /// How many Socket Mode connections were accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// How many sockets are open now.
    pub fn open_sockets(&self) -> usize {
        let mut sockets = self.shared.sockets.lock().unwrap();
        sockets.retain(|socket| !socket.is_closed());
        sockets.len()
    }

    /// Waits until a socket is connected (and got `hello`).
    pub async fn wait_connected(&self, connections: u64) {
        wait_until("a socket mode connection", || {
            self.connections() >= connections && self.open_sockets() > 0
        })
        .await;
    }

    /// Sends an `interactive` envelope with `payload` on the newest socket; its envelope id.
    pub fn push_interactive(&self, payload: Value) -> String {
        let id = format!(
            "env-{}",
            self.shared.envelope.fetch_add(1, Ordering::SeqCst) + 1
        );
        let accepts = payload["type"] == "view_submission";
        let envelope = json!({
            "envelope_id": id,
            "payload": payload,
            "type": "interactive",
            "accepts_response_payload": accepts,
            "retry_attempt": 0,
            "retry_reason": ""
        });
        let mut sockets = self.shared.sockets.lock().unwrap();
        sockets.retain(|socket| !socket.is_closed());
        let socket = sockets.last().expect("a socket mode connection");
        socket
            .send(Message::Text(envelope.to_string().into()))
            .expect("socket open");
        id
    }

    /// Waits for the ack of an envelope and returns it.
    pub async fn ack(&self, envelope_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(ack) = self
                .shared
                .acks
                .lock()
                .unwrap()
                .iter()
                .find(|ack| ack["envelope_id"] == envelope_id)
            {
                return ack.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no ack for {envelope_id}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Cuts every socket without a word (no `disconnect`, no close frame): a network drop.
    pub fn drop_sockets(&self) {
        self.shared.sockets.lock().unwrap().clear();
    }

    /// Sends Slack's `disconnect` (refresh) on every socket, then drops them.
    pub fn disconnect(&self) {
        let frame = json!({
            "type": "disconnect",
            "reason": "refresh_requested",
            "debug_info": {"host": "applink-fake"}
        });
        let sockets: Vec<_> = self.shared.sockets.lock().unwrap().drain(..).collect();
        for socket in sockets {
            let _ = socket.send(Message::Text(frame.to_string().into()));
            let _ = socket.send(Message::Close(None));
        }
    }

    /// A `block_actions` payload: `user` clicked the button (or overflow option) with `value`
    /// on `message`.
    pub fn block_action(&self, user: &str, message: &Posted, value: &str) -> Value {
        let verb = value.split(':').next().unwrap_or_default();
        let in_overflow = matches!(verb, "resolve" | "dismiss")
            || (verb == "reopen" && message.all_text().contains("\"more\""));
        let action = if in_overflow {
            json!({
                "type": "overflow",
                "action_id": "more",
                "block_id": format!("case-actions"),
                "selected_option": {"text": {"type": "plain_text", "text": verb, "emoji": true}, "value": value},
                "action_ts": self.next_ts()
            })
        } else {
            json!({
                "type": "button",
                "action_id": verb,
                "block_id": "case-actions",
                "text": {"type": "plain_text", "text": verb, "emoji": true},
                "value": value,
                "action_ts": self.next_ts()
            })
        };
        json!({
            "type": "block_actions",
            "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": TEAM},
            "api_app_id": APP,
            "token": "verification-token",
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": false},
            "trigger_id": self.new_trigger(),
            "team": {"id": TEAM, "domain": "acme"},
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": {"id": message.channel, "name": "mentions"},
            "message": {
                "type": "message",
                "user": BOT_USER,
                "bot_id": BOT_ID,
                "ts": message.ts,
                "text": message.current()["text"],
                "blocks": message.current()["blocks"],
                "team": TEAM
            },
            "state": {"values": {}},
            "response_url": format!("{}/actions/{}", self.server.base_url, TEAM),
            "actions": [action]
        })
    }

    /// A `block_actions` payload: `user` clicked the button with `value` on an ephemeral
    /// message (a slash command's answer) in `channel`. Slack sends no `message` for those,
    /// only the container saying it was ephemeral.
    pub fn ephemeral_block_action(&self, user: &str, channel: &str, value: &str) -> Value {
        let verb = value.split(':').next().unwrap_or_default();
        json!({
            "type": "block_actions",
            "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": TEAM},
            "api_app_id": APP,
            "token": "verification-token",
            "container": {"type": "message", "message_ts": self.next_ts(), "channel_id": channel, "is_ephemeral": true},
            "trigger_id": format!("{}.{}.trigger", TEAM, self.next_ts()),
            "team": {"id": TEAM, "domain": "acme"},
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": {"id": channel, "name": "mentions"},
            "state": {"values": {}},
            "response_url": format!("{}/actions/{}", self.server.base_url, TEAM),
            "actions": [{
                "type": "button",
                "action_id": verb,
                "block_id": format!("{verb}-block"),
                "text": {"type": "plain_text", "text": "Mark as complaint", "emoji": true},
                "value": value,
                "action_ts": self.next_ts()
            }]
        })
    }

    /// A `block_actions` payload from inside the open modal `view`: `user` chose the option
    /// `value` in the static select `action_id` of input block `block` (`dispatch_action`).
    pub fn view_select(
        &self,
        user: &str,
        view: &Value,
        block: &str,
        action_id: &str,
        value: &str,
    ) -> Value {
        json!({
            "type": "block_actions",
            "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": TEAM},
            "api_app_id": APP,
            "token": "verification-token",
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": self.new_trigger(),
            "team": {"id": TEAM, "domain": "acme"},
            "enterprise": null,
            "is_enterprise_install": false,
            "view": view,
            "actions": [{
                "type": "static_select",
                "action_id": action_id,
                "block_id": block,
                "selected_option": {"text": {"type": "plain_text", "text": value, "emoji": true}, "value": value},
                "placeholder": {"type": "plain_text", "text": "Start from a saved reply", "emoji": true},
                "action_ts": self.next_ts()
            }],
            "state": view["state"]
        })
    }

    /// A `view_submission` payload for the opened `view` with these input values:
    /// `(block_id, state value)` where the state value is e.g.
    /// `{"type": "plain_text_input", "value": "..."}`.
    pub fn view_submission(&self, user: &str, view: &Value, values: &[(&str, Value)]) -> Value {
        let mut state = serde_json::Map::new();
        for (block, value) in values {
            state.insert(block.to_string(), json!({ "value": value }));
        }
        let mut submitted = view.clone();
        submitted["state"] = json!({ "values": state });
        json!({
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": TEAM},
            "api_app_id": APP,
            "token": "verification-token",
            "trigger_id": self.new_trigger(),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": false,
            "enterprise": null
        })
    }

    fn next_ts(&self) -> String {
        next_ts(&self.shared)
    }

    /// A trigger id for an interaction, valid for [`TRIGGER_LIFE`] from now (tokio's clock).
    fn new_trigger(&self) -> String {
        let trigger = format!("{}.{}.trigger", TEAM, self.next_ts());
        self.shared
            .triggers
            .lock()
            .unwrap()
            .insert(trigger.clone(), Instant::now());
        trigger
    }

    /// Makes `views.open` refuse a trigger id older than [`TRIGGER_LIFE`] (tokio's clock) with
    /// `expired_trigger_id`, as Slack does. Off by default: in paused time the clock can jump
    /// while a Socket Mode frame is in flight on a loaded machine (loopback delivery is not
    /// instantaneous), so a check that is always on would make paused-time tests flaky.
    pub fn expire_triggers(&self, on: bool) {
        self.shared.expire_triggers.store(on, Ordering::SeqCst);
    }

    /// Refuses every `chat.postMessage` posted with metadata key `key` with the error `code`
    /// (`ok: false`), as Slack refuses one message it won't take (`msg_too_long`, ...).
    pub fn refuse_key(&self, key: &str, code: &'static str) {
        self.shared
            .refused_keys
            .lock()
            .unwrap()
            .insert(key.to_string(), code);
    }
}

/// An Interactivity request body: `payload=<url-encoded JSON>`.
pub fn interaction_body(payload: &Value) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

/// A slash command request body: the fields, form-encoded.
pub fn form_body(fields: &Value) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in fields.as_object().into_iter().flatten() {
        form.append_pair(key, value.as_str().unwrap_or_default());
    }
    form.finish()
}

/// The next `ts`: the wall clock in microseconds (as Slack stamps messages), at least 100 µs
/// after the last one, so they stay unique and ordered.
fn next_ts(shared: &Shared) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let last = shared
        .ts
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some((last + 100).max(now))
        })
        .unwrap();
    let micros = (last + 100).max(now);
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// A `ts` (or `oldest` / `latest`) as microseconds, for comparisons.
fn ts_micros(ts: &str) -> Option<u64> {
    let (seconds, fraction) = ts.split_once('.').unwrap_or((ts, "0"));
    let fraction = format!("{fraction:0<6}");
    Some(seconds.parse::<u64>().ok()? * 1_000_000 + fraction.get(..6)?.parse::<u64>().ok()?)
}

fn ok(mut body: Value) -> Response {
    body["ok"] = json!(true);
    Json(body).into_response()
}

fn fail(error: &str) -> Response {
    Json(json!({"ok": false, "error": error})).into_response()
}

fn invalid_blocks(problems: Vec<String>) -> Response {
    Json(json!({
        "ok": false,
        "error": "invalid_blocks",
        "errors": problems,
        "response_metadata": {"messages": ["[ERROR] invalid blocks"]}
    }))
    .into_response()
}

async fn web_api(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let mut args: serde_json::Map<String, Value> = serde_json::from_slice(&body)
        .ok()
        .and_then(|value: Value| value.as_object().cloned())
        .unwrap_or_default();
    for pair in query.unwrap_or_default().split('&') {
        if let Some((key, value)) = pair.split_once('=') {
            let value = url_decode(value);
            args.insert(key.to_string(), json!(value));
        }
    }
    let args = Value::Object(args);
    if method == "apps.connections.open" {
        if token != APP_TOKEN {
            return fail(if token.starts_with("xapp-") {
                "invalid_auth"
            } else {
                "not_allowed_token_type"
            });
        }
        let addr = shared.ws_addr.lock().unwrap().clone();
        return ok(json!({
            "url": format!("ws://{addr}/link/?ticket=fake-ticket-{}&app_id={APP}", next_ts(&shared))
        }));
    }
    if token != BOT_TOKEN {
        return fail(if token.is_empty() {
            "not_authed"
        } else {
            "invalid_auth"
        });
    }
    match method.as_str() {
        "auth.test" => ok(json!({
            "url": "https://acme.slack.com/",
            "team": "Acme",
            "user": "mentiondesk",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": false
        })),
        "chat.postMessage" => post_message(&shared, args),
        "files.getUploadURLExternal" => get_upload_url(&shared, &headers, &args),
        "files.completeUploadExternal" => complete_upload(&shared, args),
        "chat.update" => update(&shared, args),
        "chat.postEphemeral" => {
            if !known_channel(&shared, &args) {
                return fail("channel_not_found");
            }
            shared.ephemerals.lock().unwrap().push(args);
            ok(json!({"message_ts": next_ts(&shared)}))
        }
        "views.open" => views_open(&shared, args),
        "views.update" => views_update(&shared, args),
        "usergroups.users.list" => {
            let group = args["usergroup"].as_str().unwrap_or_default();
            match shared.usergroups.lock().unwrap().get(group) {
                Some(users) => ok(json!({ "users": users })),
                // Slack's answer for an unknown group id.
                None => fail("no_such_subteam"),
            }
        }
        "users.info" => {
            let id = args["user"].as_str().unwrap_or_default().to_string();
            match shared.users.lock().unwrap().get(&id) {
                Some(name) => ok(json!({"user": {
                    "id": id,
                    "team_id": TEAM,
                    "name": name.to_lowercase(),
                    "deleted": false,
                    "real_name": format!("{name} Example"),
                    "tz": "Europe/Paris",
                    "profile": {"display_name": name, "real_name": format!("{name} Example"), "display_name_normalized": name},
                    "is_admin": false, "is_owner": false, "is_bot": false, "is_app_user": false
                }})),
                None => fail("user_not_found"),
            }
        }
        "conversations.history" => history(&shared, &args),
        "conversations.replies" => {
            if !known_channel(&shared, &args) {
                return fail("channel_not_found");
            }
            let channel = args["channel"].as_str().unwrap_or_default();
            let ts = args["ts"].as_str().unwrap_or_default();
            let with_metadata = args["include_all_metadata"] == "true";
            let messages: Vec<Value> = shared
                .messages
                .lock()
                .unwrap()
                .iter()
                .filter(|m| {
                    m.channel == channel && (m.ts == ts || m.thread_ts.as_deref() == Some(ts))
                })
                .map(|m| history_message(m, with_metadata))
                .collect();
            if messages.is_empty() {
                return fail("thread_not_found");
            }
            ok(
                json!({"messages": messages, "has_more": false, "response_metadata": {"next_cursor": ""}}),
            )
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "error": "unknown_method"})),
        )
            .into_response(),
    }
}

/// `conversations.history`: the channel's top-level messages, newest first, within `oldest` /
/// `latest` (exclusive unless `inclusive`), `limit` a page (default 100, at most 999) with
/// `response_metadata.next_cursor` (here the offset of the next page) and `has_more`.
fn history(shared: &Shared, args: &Value) -> Response {
    if !known_channel(shared, args) {
        return fail("channel_not_found");
    }
    let channel = args["channel"].as_str().unwrap_or_default();
    let with_metadata =
        args["include_all_metadata"] == "true" || args["include_all_metadata"] == true;
    let inclusive = args["inclusive"] == "true" || args["inclusive"] == true;
    let bound = |name: &str| match &args[name] {
        Value::String(text) => ts_micros(text),
        Value::Number(number) => number.as_f64().map(|seconds| (seconds * 1e6) as u64),
        _ => None,
    };
    let (oldest, latest) = (bound("oldest"), bound("latest"));
    let limit = args["limit"]
        .as_str()
        .and_then(|limit| limit.parse::<usize>().ok())
        .or_else(|| args["limit"].as_u64().map(|limit| limit as usize))
        .unwrap_or(100)
        .clamp(1, 999);
    let offset = args["cursor"]
        .as_str()
        .and_then(|cursor| cursor.parse::<usize>().ok())
        .unwrap_or(0);
    let mut messages: Vec<Value> = shared
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.channel == channel && m.thread_ts.is_none())
        .filter(|m| {
            let ts = ts_micros(&m.ts).unwrap_or(0);
            let after = oldest.map_or(true, |oldest| ts > oldest || (inclusive && ts == oldest));
            let before = latest.map_or(true, |latest| ts < latest || (inclusive && ts == latest));
            after && before
        })
        .map(|m| history_message(m, with_metadata))
        .collect();
    messages.reverse();
    let total = messages.len();
    let page: Vec<Value> = messages.into_iter().skip(offset).take(limit).collect();
    let has_more = offset + page.len() < total;
    let next_cursor = if has_more {
        (offset + page.len()).to_string()
    } else {
        String::new()
    };
    ok(json!({
        "messages": page,
        "has_more": has_more,
        "pin_count": 0,
        "channel_actions_ts": null,
        "channel_actions_count": 0,
        "response_metadata": {"next_cursor": next_cursor}
    }))
}

/// `files.getUploadURLExternal`: `filename` and a positive `length` are required
/// (`invalid_arguments` otherwise); the upload URL is on this server.
fn get_upload_url(shared: &Shared, headers: &HeaderMap, args: &Value) -> Response {
    let filename = args["filename"].as_str().unwrap_or_default();
    let length = args["length"]
        .as_str()
        .and_then(|length| length.parse::<usize>().ok())
        .or_else(|| args["length"].as_u64().map(|length| length as usize));
    let (false, Some(length @ 1..)) = (filename.is_empty(), length) else {
        return fail("invalid_arguments");
    };
    let file_id = format!(
        "F0FILE{:05}",
        shared.file_seq.fetch_add(1, Ordering::SeqCst) + 1
    );
    let host = headers
        .get("host")
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1");
    shared.uploads.lock().unwrap().push(Upload {
        file_id: file_id.clone(),
        filename: filename.to_string(),
        length,
        ..Upload::default()
    });
    ok(json!({
        "upload_url": format!("http://{host}/upload/v1/{file_id}"),
        "file_id": file_id,
    }))
}

/// The upload URL: takes the bytes of a file handed out, answers `OK - <length>` as Slack does.
/// An interaction's `response_url`: a message body (`text`/`blocks`, `replace_original`,
/// `response_type`), answered `{"ok": true}` as Slack does; a body with neither text nor
/// blocks is refused with `no_text`.
async fn response_url(
    State(shared): State<Arc<Shared>>,
    Path(team): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if team != TEAM {
        return (StatusCode::NOT_FOUND, "no_team").into_response();
    }
    if body["text"].as_str().unwrap_or_default().is_empty() && body["blocks"].is_null() {
        return Json(json!({"ok": false, "error": "no_text"})).into_response();
    }
    shared.responses.lock().unwrap().push(body);
    Json(json!({"ok": true})).into_response()
}

async fn upload_bytes(
    State(shared): State<Arc<Shared>>,
    Path(file): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let mut uploads = shared.uploads.lock().unwrap();
    let Some(upload) = uploads.iter_mut().find(|upload| upload.file_id == file) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    upload.bytes = Some(body.to_vec());
    (StatusCode::OK, format!("OK - {}", body.len())).into_response()
}

/// `files.completeUploadExternal`: `files` (ids of uploaded files) is required; `channel_id`
/// must be known.
fn complete_upload(shared: &Shared, args: Value) -> Response {
    let files: Vec<Value> = match &args["files"] {
        Value::Array(files) => files.clone(),
        Value::String(text) => serde_json::from_str(text).unwrap_or_default(),
        _ => Vec::new(),
    };
    if files.is_empty() {
        return fail("invalid_arguments");
    }
    if let Some(channel) = args["channel_id"].as_str() {
        if !shared.channels.lock().unwrap().contains(channel) {
            return fail("channel_not_found");
        }
    }
    let mut uploads = shared.uploads.lock().unwrap();
    let mut shown = Vec::new();
    for file in &files {
        let id = file["id"].as_str().unwrap_or_default();
        let Some(upload) = uploads
            .iter_mut()
            .find(|upload| upload.file_id == id && upload.bytes.is_some())
        else {
            return fail("file_not_found");
        };
        if upload.bytes.as_ref().map(Vec::len) != Some(upload.length) {
            return fail("invalid_arguments");
        }
        upload.completed = Some(args.clone());
        shown.push(json!({
            "id": id,
            "name": upload.filename,
            "title": file["title"].as_str().unwrap_or(&upload.filename),
            "mimetype": "image/png",
            "filetype": "png",
            "size": upload.length,
            "user": BOT_USER,
        }));
    }
    drop(uploads);
    // Shared in a channel, the files come with a message: the initial comment as its text.
    if let Some(channel) = args["channel_id"].as_str() {
        let ts = next_ts(shared);
        shared.messages.lock().unwrap().push(Posted {
            channel: channel.to_string(),
            ts,
            thread_ts: None,
            body: json!({
                "text": args["initial_comment"].as_str().unwrap_or_default(),
                "files": shown,
                "upload": true,
            }),
            updated: None,
        });
    }
    ok(json!({ "files": shown }))
}

fn history_message(message: &Posted, with_metadata: bool) -> Value {
    let content = message.current();
    if let Some(files) = content.get("files") {
        // A file share by the bot user: no subtype, the files, `upload`.
        return json!({
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "display_as_bot": false,
            "upload": content["upload"],
            "ts": message.ts,
            "text": content["text"],
            "files": files,
            "team": TEAM
        });
    }
    let mut value = json!({
        "type": "message",
        "subtype": "bot_message",
        "user": BOT_USER,
        "bot_id": BOT_ID,
        "app_id": APP,
        "ts": message.ts,
        "text": content["text"],
        "team": TEAM
    });
    if let Some(blocks) = content.get("blocks") {
        value["blocks"] = blocks.clone();
    }
    if let Some(thread_ts) = &message.thread_ts {
        value["thread_ts"] = json!(thread_ts);
    }
    if with_metadata {
        if let Some(metadata) = message.body.get("metadata") {
            value["metadata"] = metadata.clone();
        }
    }
    value
}

fn known_channel(shared: &Shared, args: &Value) -> bool {
    args["channel"]
        .as_str()
        .is_some_and(|channel| shared.channels.lock().unwrap().contains(channel))
}

fn post_message(shared: &Shared, args: Value) -> Response {
    if !known_channel(shared, &args) {
        return fail("channel_not_found");
    }
    let channel = args["channel"].as_str().unwrap_or_default().to_string();
    if args
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty()
        && args.get("blocks").is_none()
    {
        return fail("no_text");
    }
    let problems = message_problems(&args);
    if !problems.is_empty() {
        return invalid_blocks(problems);
    }
    let key = args["metadata"]["event_payload"]["key"].as_str();
    if let Some(code) = key.and_then(|key| shared.refused_keys.lock().unwrap().get(key).copied()) {
        return fail(code);
    }
    // About one message per second per channel, with a short burst (Slack's special tier).
    {
        let mut buckets = shared.buckets.lock().unwrap();
        let now = Instant::now();
        let (tokens, at) = buckets.entry(channel.clone()).or_insert((BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64()).min(BURST);
        *at = now;
        if *tokens < 1.0 {
            shared.rate_limited.fetch_add(1, Ordering::SeqCst);
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response();
            response
                .headers_mut()
                .insert("retry-after", "1".parse().unwrap());
            return response;
        }
        *tokens -= 1.0;
    }
    let ts = next_ts(shared);
    let thread_ts = args
        .get("thread_ts")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(parent) = &thread_ts {
        let exists = shared
            .messages
            .lock()
            .unwrap()
            .iter()
            .any(|m| &m.ts == parent && m.channel == channel);
        if !exists {
            return fail("thread_not_found");
        }
    }
    shared.messages.lock().unwrap().push(Posted {
        channel: channel.clone(),
        ts: ts.clone(),
        thread_ts: thread_ts.clone(),
        body: args.clone(),
        updated: None,
    });
    let mut message = json!({
        "type": "message",
        "user": BOT_USER,
        "bot_id": BOT_ID,
        "app_id": APP,
        "ts": ts,
        "text": args["text"],
        "team": TEAM
    });
    if let Some(blocks) = args.get("blocks") {
        message["blocks"] = blocks.clone();
    }
    if let Some(thread_ts) = &thread_ts {
        message["thread_ts"] = json!(thread_ts);
    }
    ok(json!({"channel": channel, "ts": ts, "message": message}))
}

fn update(shared: &Shared, args: Value) -> Response {
    if !known_channel(shared, &args) {
        return fail("channel_not_found");
    }
    let problems = message_problems(&args);
    if !problems.is_empty() {
        return invalid_blocks(problems);
    }
    let channel = args["channel"].as_str().unwrap_or_default().to_string();
    let ts = args["ts"].as_str().unwrap_or_default().to_string();
    let mut messages = shared.messages.lock().unwrap();
    let Some(message) = messages
        .iter_mut()
        .find(|m| m.channel == channel && m.ts == ts)
    else {
        return fail("message_not_found");
    };
    message.updated = Some(args.clone());
    let mut updated = json!({"user": BOT_USER, "bot_id": BOT_ID, "text": args["text"], "edited": {"user": BOT_USER, "ts": next_ts(shared)}});
    if let Some(blocks) = args.get("blocks") {
        updated["blocks"] = blocks.clone();
    }
    ok(json!({"channel": channel, "ts": ts, "text": args["text"], "message": updated}))
}

/// How long a trigger id can be exchanged for a view (Slack: 3 seconds).
pub const TRIGGER_LIFE: Duration = Duration::from_secs(3);

fn views_open(shared: &Shared, args: Value) -> Response {
    let trigger = args["trigger_id"].as_str().unwrap_or_default();
    if trigger.is_empty() {
        return fail("invalid_trigger_id");
    }
    let issued = shared.triggers.lock().unwrap().get(trigger).copied();
    let checked = shared.expire_triggers.load(Ordering::SeqCst);
    if checked && issued.is_some_and(|issued| issued.elapsed() > TRIGGER_LIFE) {
        return fail("expired_trigger_id");
    }
    let view = args["view"].clone();
    let problems = view_problems(&view);
    if !problems.is_empty() {
        return invalid_blocks(problems);
    }
    let id = format!("V{}", next_ts(shared).replace('.', ""));
    let mut opened = view.clone();
    opened["id"] = json!(id);
    opened["team_id"] = json!(TEAM);
    opened["state"] = json!({"values": {}});
    opened["hash"] = json!(format!("{}.hash", next_ts(shared)));
    opened["previous_view_id"] = Value::Null;
    opened["root_view_id"] = json!(id);
    opened["app_id"] = json!(APP);
    opened["bot_id"] = json!(BOT_ID);
    opened["clear_on_close"] = json!(false);
    opened["notify_on_close"] = json!(false);
    shared.views.lock().unwrap().push(opened.clone());
    ok(json!({"view": opened}))
}

/// `views.update`: the view is replaced if `view_id` names an open view and `hash` (when
/// given) is its current hash; the stored view gets a new hash, and its state is kept for the
/// blocks whose `block_id` did not change, as Slack does.
fn views_update(shared: &Shared, args: Value) -> Response {
    let mut view = args["view"].clone();
    if let Some(text) = view.as_str() {
        view = serde_json::from_str(text).unwrap_or(Value::Null);
    }
    let problems = view_problems(&view);
    if !problems.is_empty() {
        return invalid_blocks(problems);
    }
    let id = args["view_id"].as_str().unwrap_or_default().to_string();
    let mut views = shared.views.lock().unwrap();
    let Some(current) = views.iter_mut().rev().find(|open| open["id"] == id) else {
        return fail("not_found");
    };
    if let Some(hash) = args["hash"].as_str() {
        if current["hash"] != hash {
            return fail("hash_conflict");
        }
    }
    let mut updated = view.clone();
    for key in [
        "id",
        "team_id",
        "previous_view_id",
        "root_view_id",
        "app_id",
        "bot_id",
    ] {
        updated[key] = current[key].clone();
    }
    let kept: serde_json::Map<String, Value> = current["state"]["values"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|(block, _)| {
            view["blocks"]
                .as_array()
                .is_some_and(|blocks| blocks.iter().any(|b| b["block_id"] == block.as_str()))
        })
        .collect();
    updated["state"] = json!({ "values": kept });
    updated["hash"] = json!(format!("{}.hash", next_ts(shared)));
    *current = updated.clone();
    drop(views);
    shared.view_updates.lock().unwrap().push(args);
    ok(json!({ "view": updated }))
}

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |text| text.chars().count())
}

/// Block Kit's limits on a message's blocks (`platform-limits.json`, slack).
fn message_problems(args: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if chars(&args["text"]) > 40_000 {
        problems.push("text longer than 40000".to_string());
    }
    if let Some(blocks) = args.get("blocks") {
        let Some(blocks) = blocks.as_array() else {
            return vec!["blocks is not an array".to_string()];
        };
        if blocks.len() > 50 {
            problems.push(format!("{} blocks, max 50", blocks.len()));
        }
        for (index, block) in blocks.iter().enumerate() {
            block_problems(index, block, &mut problems);
        }
    }
    problems
}

fn view_problems(view: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if view["type"] != "modal" {
        problems.push("view type must be modal".to_string());
    }
    for (field, max) in [("title", 24), ("submit", 24), ("close", 24)] {
        if chars(&view[field]["text"]) > max {
            problems.push(format!("{field} longer than {max}"));
        }
    }
    if chars(&view["title"]["text"]) == 0 {
        problems.push("title missing".to_string());
    }
    if chars(&view["private_metadata"]) > 3000 {
        problems.push("private_metadata longer than 3000".to_string());
    }
    if chars(&view["callback_id"]) > 255 {
        problems.push("callback_id longer than 255".to_string());
    }
    let blocks = view["blocks"].as_array().cloned().unwrap_or_default();
    if blocks.len() > 100 {
        problems.push("more than 100 blocks".to_string());
    }
    let has_input = blocks.iter().any(|b| b["type"] == "input");
    if has_input && view.get("submit").is_none() {
        problems.push("submit required with input blocks".to_string());
    }
    for (index, block) in blocks.iter().enumerate() {
        block_problems(index, block, &mut problems);
    }
    problems
}

fn block_problems(index: usize, block: &Value, problems: &mut Vec<String>) {
    let mut problem = |text: String| problems.push(format!("block {index}: {text}"));
    if chars(&block["block_id"]) > 255 {
        problem("block_id longer than 255".to_string());
    }
    match block["type"].as_str().unwrap_or_default() {
        "header" => {
            let length = chars(&block["text"]["text"]);
            if block["text"]["type"] != "plain_text" || length == 0 || length > 150 {
                problem(format!(
                    "header text must be plain_text of 1-150, got {length}"
                ));
            }
        }
        "section" => {
            let length = chars(&block["text"]["text"]);
            if block.get("text").is_some() && !(1..=3000).contains(&length) {
                problem(format!("section text must be 1-3000, got {length}"));
            }
            if let Some(fields) = block["fields"].as_array() {
                if fields.len() > 10 || fields.iter().any(|f| chars(&f["text"]) > 2000) {
                    problem("section fields over limits".to_string());
                }
            }
        }
        "context" => {
            let elements = block["elements"].as_array().cloned().unwrap_or_default();
            if elements.is_empty() || elements.len() > 10 {
                problem("context needs 1-10 elements".to_string());
            }
            if elements.iter().any(|e| chars(&e["text"]) > 3000) {
                problem("context text longer than 3000".to_string());
            }
        }
        "actions" => {
            let elements = block["elements"].as_array().cloned().unwrap_or_default();
            if elements.is_empty() || elements.len() > 25 {
                problem("actions needs 1-25 elements".to_string());
            }
            let mut ids = HashSet::new();
            for element in &elements {
                let action_id = element["action_id"].as_str().unwrap_or_default();
                if action_id.chars().count() > 255 {
                    problem("action_id longer than 255".to_string());
                }
                if !action_id.is_empty() && !ids.insert(action_id.to_string()) {
                    problem(format!("duplicate action_id {action_id}"));
                }
                match element["type"].as_str().unwrap_or_default() {
                    "button" => {
                        let text = chars(&element["text"]["text"]);
                        if element["text"]["type"] != "plain_text" || text == 0 || text > 75 {
                            problem(format!(
                                "button text must be plain_text of 1-75, got {text}"
                            ));
                        }
                        if chars(&element["value"]) > 2000 {
                            problem("button value longer than 2000".to_string());
                        }
                        if let Some(style) = element.get("style") {
                            if style != "primary" && style != "danger" {
                                problem(format!("bad button style {style}"));
                            }
                        }
                    }
                    "overflow" => {
                        let options = element["options"].as_array().cloned().unwrap_or_default();
                        if options.is_empty() || options.len() > 5 {
                            problem("overflow needs 1-5 options".to_string());
                        }
                        if options
                            .iter()
                            .any(|o| chars(&o["text"]["text"]) > 75 || chars(&o["value"]) > 150)
                        {
                            problem("overflow option over limits".to_string());
                        }
                    }
                    other => problem(format!("unexpected action element {other}")),
                }
            }
        }
        "input" => {
            if chars(&block["label"]["text"]) == 0 || chars(&block["label"]["text"]) > 2000 {
                problem("input label must be 1-2000".to_string());
            }
            let element = &block["element"];
            if element["type"] == "plain_text_input" {
                if let Some(max) = element["max_length"].as_u64() {
                    if max > 3000 {
                        problem("max_length over 3000".to_string());
                    }
                }
                if chars(&element["initial_value"]) > 3000 {
                    problem("initial_value over 3000".to_string());
                }
            }
            if element["type"] == "static_select" {
                let options = element["options"].as_array().cloned().unwrap_or_default();
                if options.is_empty() || options.len() > 100 {
                    problem("static_select needs 1-100 options".to_string());
                }
            }
        }
        "divider" => {}
        other => problem(format!("unexpected block type {other}")),
    }
}

fn url_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn serve_sockets(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let (mut writer, mut reader) = socket.split();
            let (sender, mut outgoing) = mpsc::unbounded_channel::<Message>();
            let number = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
            let hello = json!({
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP}
            });
            if writer
                .send(Message::Text(hello.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
            shared.sockets.lock().unwrap().push(sender);
            loop {
                tokio::select! {
                    out = outgoing.recv() => match out {
                        Some(Message::Close(frame)) => {
                            let _ = writer.send(Message::Close(frame)).await;
                            break;
                        }
                        Some(message) => {
                            if writer.send(message).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                    incoming = reader.next() => match incoming {
                        Some(Ok(Message::Text(text))) => {
                            if let Ok(ack) = serde_json::from_str::<Value>(&text) {
                                shared.acks.lock().unwrap().push(ack);
                            }
                        }
                        Some(Ok(Message::Ping(body))) => {
                            let _ = writer.send(Message::Pong(body)).await;
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
            tracing::debug!(connection = number, "fake slack socket closed");
        });
    }
}
