//! A fake Discord: the REST endpoints the adapter uses (under `/api/v10`, reached through
//! serenity's `HttpBuilder::proxy`) and a gateway WebSocket, speaking Discord's wire format.
//!
//! REST: `GET /gateway` and `/gateway/bot` (returning this fake's `ws://` URL), `GET /users/@me`,
//! `GET /channels/{id}` (its guild), message create (with embed, component and content limits,
//! `nonce` + `enforce_nonce`: the same nonce returns the earlier message), edit and list
//! (`after` / `before` / `limit`; ids are snowflakes of the wall clock, as Discord's are),
//! threads from a message, interaction callbacks (recorded with their type and body; a type 7
//! UPDATE_MESSAGE edits the message the clicked component is on; message bodies checked like a
//! create), webhook follow-ups and `@original` edits, and the guild commands' bulk overwrite
//! (`PUT /applications/{app}/guilds/{guild}/commands`). Errors are Discord's JSON bodies
//! (`{code, message, errors}`), rate limits are Discord's 429 (`retry_after`, `global`,
//! `X-RateLimit-*`) with a per-channel bucket of 5 messages per 5 s.
//!
//! Gateway: HELLO with `heartbeat_interval`, IDENTIFY → READY (whose `resume_gateway_url` is
//! this server's `/resume` path, a URL distinct from the one `GET /gateway` gives, as the real
//! gateway names another host), heartbeat → ACK, dispatches pushed by tests
//! (`INTERACTION_CREATE`), op 7 RECONNECT, RESUME → RESUMED on either URL (the path each RESUME
//! came on is recorded).
//!
//! Shapes and limits come from `specs/discord/specs/openapi.json` and
//! `specs/platform-limits.json`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub use super::wait_until;
use super::FakeServer;

/// The bot token the fake accepts.
pub const BOT_TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake.discord-bot-token";
/// The bot user's id (also the application id).
pub const BOT_ID: &str = "111111111111111111";
/// The guild everything lives in.
pub const GUILD: &str = "222222222222222222";
/// The path of READY's `resume_gateway_url`.
pub const RESUME_PATH: &str = "/resume";

/// A message the bot posted (or a thread message).
#[derive(Debug, Clone)]
pub struct Posted {
    /// The message id.
    pub id: String,
    /// The channel (or thread) id.
    pub channel: String,
    /// The create request's body.
    pub body: Value,
    /// The message as it is now (after edits).
    pub current: Value,
    /// How many times it was edited (`PATCH`).
    pub edits: u32,
    /// How many times a click on it was answered with UPDATE_MESSAGE (callback type 7).
    pub updates: u32,
}

impl Posted {
    /// The embed footer text, where cards carry their key.
    pub fn footer(&self) -> String {
        self.current["embeds"][0]["footer"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Every text of the current message, for `contains` checks.
    pub fn all_text(&self) -> String {
        self.current.to_string()
    }

    /// The custom_id of the button whose id starts with `verb:`.
    pub fn button(&self, verb: &str) -> String {
        for row in self.current["components"].as_array().into_iter().flatten() {
            for button in row["components"].as_array().into_iter().flatten() {
                let id = button["custom_id"].as_str().unwrap_or_default();
                if id.starts_with(&format!("{verb}:")) {
                    return id.to_string();
                }
            }
        }
        panic!("no {verb} button on {}", self.current)
    }
}

#[derive(Default)]
struct Shared {
    ws_url: Mutex<String>,
    channels: Mutex<HashSet<String>>,
    messages: Mutex<Vec<Posted>>,
    /// The files of multipart creates (`files[N]` parts) by message id: (file name, bytes).
    files: Mutex<HashMap<String, Vec<File>>>,
    nonces: Mutex<HashMap<String, String>>,
    threads: Mutex<HashMap<String, String>>,
    callbacks: Mutex<Vec<(String, Value)>>,
    /// Interaction id → (channel, message) of the message its component is on.
    interaction_messages: Mutex<HashMap<String, (String, String)>>,
    /// Interactions whose component is on an ephemeral message (flags 64): only the asker's
    /// client holds those, so UPDATE_MESSAGE on them edits nothing the fake keeps.
    ephemeral_interactions: Mutex<HashSet<String>>,
    followups: Mutex<Vec<Value>>,
    /// The guild's application commands, as the last bulk overwrite set them.
    commands: Mutex<Vec<Value>>,
    buckets: Mutex<HashMap<String, Vec<Instant>>>,
    forced_429: AtomicU64,
    rate_limited: AtomicU64,
    ids: AtomicU64,
    sockets: Mutex<Vec<mpsc::UnboundedSender<WsMessage>>>,
    connections: AtomicU64,
    identifies: AtomicU64,
    resumes: AtomicU64,
    /// The URL path of each connection that sent a RESUME (`/` is the `GET /gateway` URL,
    /// `/resume` the `resume_gateway_url` READY named).
    resume_paths: Mutex<Vec<String>>,
    interaction: AtomicU64,
}

/// A running fake Discord.
#[derive(Clone)]
pub struct FakeDiscord {
    /// The recording HTTP server (REST under `/api/v10`).
    pub server: FakeServer,
    shared: Arc<Shared>,
}

impl FakeDiscord {
    /// Starts the fake with these text channels (any other is `Unknown Channel`).
    pub async fn start(channels: &[&str]) -> FakeDiscord {
        let shared = Arc::new(Shared::default());
        shared
            .channels
            .lock()
            .unwrap()
            .extend(channels.iter().map(|c| c.to_string()));
        shared
            .ids
            .store(1_300_000_000_000_000_000, Ordering::SeqCst);
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        *shared.ws_url.lock().unwrap() = format!("ws://{}", ws.local_addr().unwrap());
        tokio::spawn(serve_gateway(ws, shared.clone()));
        let router = Router::new()
            .route("/api/v10/gateway", get(gateway))
            .route("/api/v10/gateway/bot", get(gateway_bot))
            .route("/api/v10/users/@me", get(users_me))
            .route("/api/v10/channels/{channel}", get(get_channel))
            .route(
                "/api/v10/applications/{app}/guilds/{guild}/commands",
                axum::routing::put(bulk_set_guild_commands),
            )
            .route(
                "/api/v10/webhooks/{app}/{token}/messages/@original",
                patch(followup),
            )
            .route(
                "/api/v10/channels/{channel}/messages",
                post(create_message).get(list_messages),
            )
            .route(
                "/api/v10/channels/{channel}/messages/{message}",
                patch(edit_message),
            )
            .route(
                "/api/v10/channels/{channel}/messages/{message}/threads",
                post(create_thread),
            )
            .route(
                "/api/v10/interactions/{id}/{token}/callback",
                post(interaction_callback),
            )
            .route("/api/v10/webhooks/{app}/{token}", post(followup))
            .with_state(shared.clone());
        let server = FakeServer::start(router).await;
        FakeDiscord { server, shared }
    }

    /// The `[discord]` table pointing at this fake (serenity's rate limiter off, as the proxy
    /// needs).
    pub fn config(&self, channel: &str) -> String {
        format!(
            "[discord]\nbot_token = \"{BOT_TOKEN}\"\nbase_url = \"{}\"\nratelimiter = false\nchannel = \"{channel}\"\n",
            self.server.base_url
        )
    }

    /// The files a message was created with (multipart `files[N]`): (file name, bytes).
    pub fn files(&self, message: &str) -> Vec<File> {
        self.shared
            .files
            .lock()
            .unwrap()
            .get(message)
            .cloned()
            .unwrap_or_default()
    }

    /// Every message, oldest first.
    pub fn messages(&self) -> Vec<Posted> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// Cards (messages with an embed) in a channel.
    pub fn cards(&self, channel: &str) -> Vec<Posted> {
        self.messages()
            .into_iter()
            .filter(|m| m.channel == channel && !m.body["embeds"].is_null())
            .collect()
    }

    /// The card posted with key `case-N`.
    pub fn card(&self, case: u64) -> Option<Posted> {
        let footer = format!("mentiondesk · case-{case}");
        self.messages().into_iter().find(|m| m.footer() == footer)
    }

    /// The messages in the thread started from `message`.
    pub fn thread(&self, message: &str) -> Vec<Posted> {
        let thread = self.shared.threads.lock().unwrap().get(message).cloned();
        let Some(thread) = thread else {
            return Vec::new();
        };
        self.messages()
            .into_iter()
            .filter(|m| m.channel == thread)
            .collect()
    }

    /// The thread contents as text, one note per line.
    pub fn thread_text(&self, message: &str) -> Vec<String> {
        self.thread(message)
            .iter()
            .map(|m| m.body["content"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Every interaction callback: (interaction id, body).
    pub fn callbacks(&self) -> Vec<(String, Value)> {
        self.shared.callbacks.lock().unwrap().clone()
    }

    /// The callback answering interaction `id`.
    pub async fn callback(&self, id: &str) -> Value {
        wait_until(&format!("the callback of interaction {id}"), || {
            self.callbacks().iter().any(|(i, _)| i == id)
        })
        .await;
        self.callbacks()
            .into_iter()
            .find(|(i, _)| i == id)
            .map(|(_, body)| body)
            .unwrap()
    }

    /// The guild commands registered (the last `PUT .../commands`).
    pub fn commands(&self) -> Vec<Value> {
        self.shared.commands.lock().unwrap().clone()
    }

    /// Every webhook follow-up body.
    pub fn followups(&self) -> Vec<Value> {
        self.shared.followups.lock().unwrap().clone()
    }

    /// How many message creates the per-channel bucket refused.
    pub fn rate_limited(&self) -> u64 {
        self.shared.rate_limited.load(Ordering::SeqCst)
    }

    /// Answers the next `n` message creates with a 429.
    pub fn rate_limit_next(&self, n: u64) {
        self.shared.forced_429.store(n, Ordering::SeqCst);
    }

    /// Gateway connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// IDENTIFYs and RESUMEs received.
    pub fn sessions(&self) -> (u64, u64) {
        (
            self.shared.identifies.load(Ordering::SeqCst),
            self.shared.resumes.load(Ordering::SeqCst),
        )
    }

    /// The URL path each RESUME arrived on, in order.
    pub fn resume_paths(&self) -> Vec<String> {
        self.shared.resume_paths.lock().unwrap().clone()
    }

    /// The `resume_gateway_url` READY hands out: a distinct path on the same server, as
    /// Discord's real gateway names another host to resume on.
    pub fn resume_url(&self) -> String {
        format!("{}{RESUME_PATH}", self.shared.ws_url.lock().unwrap())
    }

    /// Waits until the bot identified (READY sent) `identifies` times in total.
    pub async fn wait_ready(&self) {
        wait_until("a gateway session", || {
            self.sessions().0 >= 1 && self.open_sockets() > 0
        })
        .await;
    }

    fn open_sockets(&self) -> usize {
        let mut sockets = self.shared.sockets.lock().unwrap();
        sockets.retain(|socket| !socket.is_closed());
        sockets.len()
    }

    /// Cuts every gateway socket without a close frame: a network drop.
    pub fn drop_sockets(&self) {
        self.shared.sockets.lock().unwrap().clear();
    }

    /// Sends op 7 RECONNECT on every socket.
    pub fn reconnect(&self) {
        for socket in self.shared.sockets.lock().unwrap().iter() {
            let _ = socket.send(WsMessage::Text(
                json!({"op": 7, "d": null}).to_string().into(),
            ));
        }
    }

    /// Closes every socket with a close frame of `code` (4000 is Discord's "unknown error,
    /// reconnect"), as the gateway does when it drops a session it lets you resume.
    pub fn close_all(&self, code: u16) {
        use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
        for socket in self.shared.sockets.lock().unwrap().iter() {
            let _ = socket.send(WsMessage::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: "Unknown error.".into(),
            })));
        }
    }

    /// Dispatches INTERACTION_CREATE on the newest socket; returns the interaction id.
    pub fn push_interaction(&self, mut interaction: Value) -> String {
        let number = self.shared.interaction.fetch_add(1, Ordering::SeqCst) + 1;
        let id = format!("{}", 1_400_000_000_000_000_000u64 + number);
        interaction["id"] = json!(id);
        interaction["token"] = json!(format!("interaction-token-{number}"));
        if interaction["message"]["flags"]
            .as_u64()
            .is_some_and(|flags| flags & 64 != 0)
        {
            self.shared
                .ephemeral_interactions
                .lock()
                .unwrap()
                .insert(id.clone());
        }
        if let (Some(channel), Some(message)) = (
            interaction["channel_id"].as_str(),
            interaction["message"]["id"].as_str(),
        ) {
            self.shared
                .interaction_messages
                .lock()
                .unwrap()
                .insert(id.clone(), (channel.to_string(), message.to_string()));
        }
        let frame = json!({"op": 0, "t": "INTERACTION_CREATE", "d": interaction});
        let mut sockets = self.shared.sockets.lock().unwrap();
        sockets.retain(|socket| !socket.is_closed());
        let socket = sockets.last().expect("a gateway connection");
        socket
            .send(WsMessage::Text(frame.to_string().into()))
            .expect("socket open");
        id
    }

    /// A button click (type 3) by `user` (id, name, roles) on `message`.
    pub fn click(&self, user: (&str, &str), message: &Posted, custom_id: &str) -> Value {
        json!({
            "application_id": BOT_ID,
            "type": 3,
            "data": {"custom_id": custom_id, "component_type": 2},
            "guild_id": GUILD,
            "channel_id": message.channel,
            "channel": {"id": message.channel, "type": 0},
            "member": member(user),
            "version": 1,
            "message": message.current,
            "app_permissions": "309237730304",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD},
            "context": 0,
            "attachment_size_limit": 10485760
        })
    }

    /// A string-select choice (type 3, component type 3) by `user`: `values` chosen in the
    /// select `custom_id` of `message` (for an ephemeral picker, the message it answered).
    pub fn select(
        &self,
        user: (&str, &str),
        message: &Posted,
        custom_id: &str,
        values: &[&str],
    ) -> Value {
        let mut interaction = self.click(user, message, custom_id);
        interaction["data"] =
            json!({"custom_id": custom_id, "component_type": 3, "values": values});
        interaction
    }

    /// `/mentiondesk <sub>` (an APPLICATION_COMMAND interaction, type 2) by `user` in `channel`.
    pub fn command(&self, user: (&str, &str), channel: &str, sub: &str) -> Value {
        let command = self
            .commands()
            .into_iter()
            .find(|c| c["name"] == "mentiondesk");
        let id = command
            .as_ref()
            .map(|c| c["id"].clone())
            .unwrap_or(json!("1500000000000000001"));
        json!({
            "application_id": BOT_ID,
            "type": 2,
            "data": {"id": id, "name": "mentiondesk", "type": 1, "guild_id": GUILD,
                "options": [{"name": sub, "type": 1, "options": []}]},
            "guild_id": GUILD,
            "channel_id": channel,
            "channel": {"id": channel, "type": 0},
            "member": member(user),
            "version": 1,
            "app_permissions": "309237730304",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD},
            "context": 0,
            "attachment_size_limit": 10485760
        })
    }

    /// A modal submit (type 5) of `modal` (as the callback sent it) with these input values.
    pub fn submit(
        &self,
        user: (&str, &str),
        message: &Posted,
        modal: &Value,
        values: &[(&str, &str)],
    ) -> Value {
        let rows: Vec<Value> = modal["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                let input = &row["components"][0];
                let id = input["custom_id"].as_str().unwrap();
                let value = values
                    .iter()
                    .find(|(key, _)| *key == id)
                    .map(|(_, value)| value.to_string())
                    .unwrap_or_default();
                json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": value}]})
            })
            .collect();
        json!({
            "application_id": BOT_ID,
            "type": 5,
            "data": {"custom_id": modal["custom_id"], "components": rows},
            "guild_id": GUILD,
            "channel_id": message.channel,
            "channel": {"id": message.channel, "type": 0},
            "member": member(user),
            "version": 1,
            "message": message.current,
            "app_permissions": "309237730304",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD},
            "context": 0,
            "attachment_size_limit": 10485760
        })
    }
}

fn member((id, name): (&str, &str)) -> Value {
    json!({
        "user": user(id, name, false),
        "nick": name,
        "roles": ["333333333333333333"],
        "joined_at": "2025-01-01T00:00:00.000000+00:00",
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "permissions": "2248473465835073"
    })
}

fn user(id: &str, name: &str, bot: bool) -> Value {
    json!({
        "id": id,
        "username": name.to_lowercase(),
        "global_name": name,
        "discriminator": "0",
        "avatar": null,
        "bot": bot,
        "public_flags": 0
    })
}

/// The next snowflake: the wall clock's milliseconds since Discord's epoch shifted by 22 bits
/// (as Discord makes them, so `after=<snowflake of a time>` works), at least one more than the
/// last, so they stay unique and ordered.
fn next_id(shared: &Shared) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - 1_420_070_400_000;
    let now = millis << 22;
    let last = shared
        .ids
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some((last + 1).max(now))
        })
        .unwrap();
    (last + 1).max(now).to_string()
}

/// Discord's error body with a status.
fn error(status: u16, code: u64, message: &str, errors: Option<Value>) -> Response {
    let mut body = json!({"code": code, "message": message});
    if let Some(errors) = errors {
        body["errors"] = errors;
    }
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

/// Discord's 400 "Invalid Form Body" for one field, with its error code and message.
fn invalid_field(field: &str, code: &str, message: &str) -> Response {
    error(
        400,
        50035,
        "Invalid Form Body",
        Some(json!({ field: {"_errors": [{"code": code, "message": message}]}})),
    )
}

/// Discord's 401 unless the request carries the bot token.
fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Bot {BOT_TOKEN}");
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(value) if value == expected => None,
        _ => Some(error(401, 0, "401: Unauthorized", None)),
    }
}

fn rate_limited(retry_after: f64, bucket: &str) -> Response {
    let body = json!({
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": false,
        "code": 0
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        "retry-after",
        format!("{}", retry_after.ceil() as u64).parse().unwrap(),
    );
    headers.insert("x-ratelimit-limit", "5".parse().unwrap());
    headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
    headers.insert(
        "x-ratelimit-reset-after",
        format!("{retry_after:.3}").parse().unwrap(),
    );
    headers.insert("x-ratelimit-bucket", bucket.parse().unwrap());
    headers.insert("x-ratelimit-scope", "user".parse().unwrap());
    response
}

async fn gateway(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({"url": shared.ws_url.lock().unwrap().clone()})).into_response()
}

async fn gateway_bot(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    Json(json!({
        "url": shared.ws_url.lock().unwrap().clone(),
        "shards": 1,
        "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
    }))
    .into_response()
}

async fn users_me(headers: HeaderMap) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    let mut me = user(BOT_ID, "MentiondeskBot", true);
    me["verified"] = json!(true);
    me["mfa_enabled"] = json!(false);
    me["flags"] = json!(0);
    Json(me).into_response()
}

async fn get_channel(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    if !shared.channels.lock().unwrap().contains(&channel) {
        return error(404, 10003, "Unknown Channel", None);
    }
    Json(json!({
        "id": channel,
        "type": 0,
        "guild_id": GUILD,
        "name": "mentions",
        "position": 0,
        "permission_overwrites": [],
        "parent_id": null,
        "topic": null,
        "nsfw": false,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "flags": 0
    }))
    .into_response()
}

/// `PUT /applications/{app}/guilds/{guild}/commands`: replaces the guild's commands with the
/// body (`ApplicationCommandUpdateRequest[]`, at most 130; names 1–32 lowercase, descriptions
/// 1–100, at most 25 options) and answers with them as `ApplicationCommandResponse`s.
async fn bulk_set_guild_commands(
    State(shared): State<Arc<Shared>>,
    Path((app, guild)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    if app != BOT_ID {
        return error(404, 10002, "Unknown Application", None);
    }
    if guild != GUILD {
        return error(404, 10004, "Unknown Guild", None);
    }
    let Some(list) = body.as_array() else {
        return error(
            400,
            50035,
            "Invalid Form Body",
            Some(json!({"_errors": [{"code": "BASE_TYPE_ARRAY", "message": "Must be an array."}]})),
        );
    };
    let mut problems = serde_json::Map::new();
    if list.len() > 130 {
        problems.insert(
            "_errors".into(),
            json!([{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 130 or fewer in length."}]),
        );
    }
    let name_ok = |name: &Value| {
        let name = name.as_str().unwrap_or_default();
        (1..=32).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    };
    for (i, command) in list.iter().enumerate() {
        if !name_ok(&command["name"]) {
            problems.insert(format!("{i}.name"), json!({"_errors": [{"code": "APPLICATION_COMMAND_INVALID_NAME", "message": "Command name is invalid"}]}));
        }
        if !(1..=100).contains(&chars(&command["description"])) {
            problems.insert(format!("{i}.description"), json!({"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}]}));
        }
        let options = command["options"].as_array().cloned().unwrap_or_default();
        if options.len() > 25 {
            problems.insert(format!("{i}.options"), json!({"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}]}));
        }
        for (j, option) in options.iter().enumerate() {
            if !name_ok(&option["name"]) || !(1..=100).contains(&chars(&option["description"])) {
                problems.insert(format!("{i}.options.{j}"), json!({"_errors": [{"code": "APPLICATION_COMMAND_OPTION_INVALID", "message": "Option is invalid"}]}));
            }
        }
    }
    if !problems.is_empty() {
        return error(
            400,
            50035,
            "Invalid Form Body",
            Some(Value::Object(problems)),
        );
    }
    let saved: Vec<Value> = list
        .iter()
        .map(|command| {
            json!({
                "id": next_id(&shared),
                "application_id": BOT_ID,
                "version": next_id(&shared),
                "default_member_permissions": null,
                "type": command.get("type").cloned().unwrap_or(json!(1)),
                "name": command["name"],
                "description": command["description"],
                "guild_id": GUILD,
                "options": command.get("options").cloned().unwrap_or(json!([])),
                "nsfw": false
            })
        })
        .collect();
    *shared.commands.lock().unwrap() = saved.clone();
    Json(Value::Array(saved)).into_response()
}

fn message_json(id: &str, channel: &str, body: &Value) -> Value {
    json!({
        "id": id,
        "channel_id": channel,
        "guild_id": GUILD,
        "author": user(BOT_ID, "MentiondeskBot", true),
        "content": body["content"].as_str().unwrap_or_default(),
        "timestamp": "2026-03-02T09:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
        "components": body.get("components").cloned().unwrap_or(json!([])),
        "pinned": false,
        "type": 0,
        "flags": 0,
        "nonce": body.get("nonce").cloned().unwrap_or(Value::Null)
    })
}

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |s| s.chars().count())
}

/// Discord's checks on a message body: content, embeds (each field and the 6000 total),
/// components (rows, buttons, custom_id), nonce.
/// Discord's `50035 Invalid Form Body` for a message body beyond its limits, if it is.
fn invalid_form_body(body: &Value) -> Option<Response> {
    let problems = message_problems(body);
    (!problems.is_empty()).then(|| {
        error(
            400,
            50035,
            "Invalid Form Body",
            Some(Value::Object(problems)),
        )
    })
}

fn message_problems(body: &Value) -> serde_json::Map<String, Value> {
    let mut errors = serde_json::Map::new();
    let mut problem = |path: String, code: &str, message: String| {
        errors.insert(
            path,
            json!({"_errors": [{"code": code, "message": message}]}),
        );
    };
    if chars(&body["content"]) > 2000 {
        problem(
            "content".into(),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.".into(),
        );
    }
    if let Some(nonce) = body.get("nonce").and_then(Value::as_str) {
        if nonce.chars().count() > 25 {
            problem(
                "nonce".into(),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.".into(),
            );
        }
    }
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        problem(
            "embeds".into(),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.".into(),
        );
    }
    let mut total = 0;
    for (i, embed) in embeds.iter().enumerate() {
        let trimmed = |v: &Value| v.as_str().map_or(0, |s| s.trim().chars().count());
        for (key, max) in [("title", 256), ("description", 4096)] {
            if chars(&embed[key]) > max {
                problem(
                    format!("embeds.{i}.{key}"),
                    "BASE_TYPE_MAX_LENGTH",
                    format!("Must be {max} or fewer in length."),
                );
            }
            total += trimmed(&embed[key]);
        }
        if chars(&embed["footer"]["text"]) > 2048 {
            problem(
                format!("embeds.{i}.footer.text"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 2048 or fewer in length.".into(),
            );
        }
        total += trimmed(&embed["footer"]["text"]) + trimmed(&embed["author"]["name"]);
        let fields = embed["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            problem(
                format!("embeds.{i}.fields"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.".into(),
            );
        }
        for (j, field) in fields.iter().enumerate() {
            if chars(&field["name"]) > 256 || chars(&field["name"]) == 0 {
                problem(
                    format!("embeds.{i}.fields.{j}.name"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 256 in length.".into(),
                );
            }
            if chars(&field["value"]) > 1024 || chars(&field["value"]) == 0 {
                problem(
                    format!("embeds.{i}.fields.{j}.value"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 1024 in length.".into(),
                );
            }
            total += trimmed(&field["name"]) + trimmed(&field["value"]);
        }
    }
    if total > 6000 {
        problem(
            "embeds".into(),
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000".into(),
        );
    }
    let rows = body["components"].as_array().cloned().unwrap_or_default();
    if rows.len() > 5 {
        problem(
            "components".into(),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.".into(),
        );
    }
    for (i, row) in rows.iter().enumerate() {
        if row["type"] != 1 {
            problem(
                format!("components.{i}.type"),
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (1,).".into(),
            );
        }
        let buttons = row["components"].as_array().cloned().unwrap_or_default();
        if buttons.first().is_some_and(|c| c["type"] == 3) {
            // A row holds exactly one select (STRING_SELECT, 1..=25 options).
            let select = &buttons[0];
            let options = select["options"].as_array().cloned().unwrap_or_default();
            let bad_option = options.iter().any(|option| {
                !(1..=100).contains(&chars(&option["label"]))
                    || !(1..=100).contains(&chars(&option["value"]))
            });
            if buttons.len() != 1
                || !(1..=100).contains(&chars(&select["custom_id"]))
                || !(1..=25).contains(&options.len())
                || bad_option
                || chars(&select["placeholder"]) > 150
            {
                problem(
                    format!("components.{i}.components.0"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Invalid select menu.".into(),
                );
            }
            continue;
        }
        if buttons.is_empty() || buttons.len() > 5 {
            problem(
                format!("components.{i}.components"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.".into(),
            );
        }
        for (j, button) in buttons.iter().enumerate() {
            let id = chars(&button["custom_id"]);
            if button["type"] != 2 || !(1..=100).contains(&id) {
                problem(
                    format!("components.{i}.components.{j}.custom_id"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.".into(),
                );
            }
            if chars(&button["label"]) > 80 {
                problem(
                    format!("components.{i}.components.{j}.label"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 80 or fewer in length.".into(),
                );
            }
            if !(1..=5).contains(&button["style"].as_u64().unwrap_or(0)) {
                problem(
                    format!("components.{i}.components.{j}.style"),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of (1, 2, 3, 4, 5).".into(),
                );
            }
        }
    }
    errors
}

fn known(shared: &Shared, channel: &str) -> bool {
    shared.channels.lock().unwrap().contains(channel)
        || shared
            .threads
            .lock()
            .unwrap()
            .values()
            .any(|t| t == channel)
}

/// A file sent with a message: (file name, bytes).
pub type File = (String, Vec<u8>);

/// One part of a `multipart/form-data` body: (name, file name, bytes).
type Part = (String, Option<String>, Vec<u8>);

/// The parts of a `multipart/form-data` body.
fn multipart_parts(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .find_map(|part| part.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let find = |haystack: &[u8], needle: &[u8], from: usize| {
        haystack
            .get(from..)?
            .windows(needle.len())
            .position(|window| window == needle)
            .map(|at| at + from)
    };
    let mut parts = Vec::new();
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Some(parts);
        }
        let head_start = at + 2; // CRLF after the delimiter
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let head = String::from_utf8_lossy(&body[head_start..head_end]).to_string();
        let next = find(body, &delimiter, head_end + 4)?;
        let content = body[head_end + 4..next - 2].to_vec(); // CRLF before the delimiter
        let disposition = head
            .lines()
            .find(|line| line.to_ascii_lowercase().starts_with("content-disposition"))?
            .to_string();
        let field = |key: &str| {
            disposition.split(';').find_map(|item| {
                item.trim()
                    .strip_prefix(&format!("{key}="))
                    .map(|value| value.trim_matches('"').to_string())
            })
        };
        parts.push((field("name")?, field("filename"), content));
        at = next + delimiter.len();
    }
}

async fn create_message(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    let content_type = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut files = Vec::new();
    let body: Value = if content_type.starts_with("multipart/form-data") {
        let Some(parts) = multipart_parts(&content_type, &raw) else {
            return error(400, 50035, "Invalid Form Body", None);
        };
        let mut payload = json!({});
        for (name, filename, content) in parts {
            if name == "payload_json" {
                payload = serde_json::from_slice(&content).unwrap_or(Value::Null);
            } else if name.starts_with("files[") {
                // 10 MiB per file without boosts.
                if content.len() > 10 * 1024 * 1024 {
                    return error(413, 40005, "Request entity too large", None);
                }
                files.push((filename.unwrap_or_default(), content));
            }
        }
        payload
    } else {
        match serde_json::from_slice(&raw) {
            Ok(body) => body,
            Err(_) => return error(400, 50109, "The request body contains invalid JSON.", None),
        }
    };
    if !known(&shared, &channel) {
        return error(404, 10003, "Unknown Channel", None);
    }
    if shared
        .forced_429
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return rate_limited(0.5, "forced");
    }
    // 5 messages per 5 s per channel.
    {
        let mut buckets = shared.buckets.lock().unwrap();
        let sent = buckets.entry(channel.clone()).or_default();
        let now = Instant::now();
        sent.retain(|at| now.duration_since(*at) < Duration::from_secs(5));
        if sent.len() >= 5 {
            shared.rate_limited.fetch_add(1, Ordering::SeqCst);
            let wait = Duration::from_secs(5) - now.duration_since(sent[0]);
            return rate_limited(wait.as_secs_f64(), &format!("channel-{channel}"));
        }
        sent.push(now);
    }
    if let Some(invalid) = invalid_form_body(&body) {
        return invalid;
    }
    if body["content"].as_str().unwrap_or_default().is_empty()
        && body["embeds"].as_array().map_or(true, |e| e.is_empty())
        && files.is_empty()
    {
        return error(400, 50006, "Cannot send an empty message", None);
    }
    let nonce = body
        .get("nonce")
        .and_then(Value::as_str)
        .map(|nonce| format!("{channel}/{nonce}"));
    if body["enforce_nonce"] == true {
        if let Some(nonce) = &nonce {
            let earlier = shared.nonces.lock().unwrap().get(nonce).cloned();
            if let Some(earlier) = earlier {
                let posted = shared
                    .messages
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|m| m.id == earlier)
                    .cloned()
                    .unwrap();
                return Json(posted.current).into_response();
            }
        }
    }
    let id = next_id(&shared);
    let mut current = message_json(&id, &channel, &body);
    current["attachments"] = Value::Array(
        files
            .iter()
            .map(|(filename, bytes)| {
                let attachment = next_id(&shared);
                json!({
                    "id": attachment,
                    "filename": filename,
                    "size": bytes.len(),
                    "url": format!("https://cdn.discordapp.com/attachments/{channel}/{attachment}/{filename}"),
                    "proxy_url": format!("https://media.discordapp.net/attachments/{channel}/{attachment}/{filename}"),
                    "content_type": "image/png"
                })
            })
            .collect(),
    );
    shared.messages.lock().unwrap().push(Posted {
        id: id.clone(),
        channel: channel.clone(),
        body,
        current: current.clone(),
        edits: 0,
        updates: 0,
    });
    if !files.is_empty() {
        shared.files.lock().unwrap().insert(id.clone(), files);
    }
    if let Some(nonce) = nonce {
        shared.nonces.lock().unwrap().insert(nonce, id);
    }
    Json(current).into_response()
}

async fn edit_message(
    State(shared): State<Arc<Shared>>,
    Path((channel, message)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    if let Some(invalid) = invalid_form_body(&body) {
        return invalid;
    }
    let mut messages = shared.messages.lock().unwrap();
    let Some(posted) = messages
        .iter_mut()
        .find(|m| m.id == message && m.channel == channel)
    else {
        return error(404, 10008, "Unknown Message", None);
    };
    for key in ["content", "embeds", "components"] {
        if let Some(value) = body.get(key) {
            posted.current[key] = value.clone();
        }
    }
    posted.current["edited_timestamp"] = json!("2026-03-02T09:05:00.000000+00:00");
    posted.edits += 1;
    Json(posted.current.clone()).into_response()
}

/// `GET /channels/{id}/messages`: newest first, `limit` 1–100 (default 50); with `after`, the
/// `limit` oldest messages after that id; with `before`, the newest before it.
async fn list_messages(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    if !known(&shared, &channel) {
        return error(404, 10003, "Unknown Channel", None);
    }
    let id = |name: &str| query.get(name).map(|value| value.parse::<u64>());
    let (after, before) = match (id("after").transpose(), id("before").transpose()) {
        (Ok(after), Ok(before)) => (after, before),
        _ => return invalid_field("after", "NUMBER_TYPE_COERCE", "Value is not snowflake."),
    };
    let limit = match query.get("limit").map(|limit| limit.parse::<usize>()) {
        None => 50,
        Some(Ok(limit @ 1..=100)) => limit,
        Some(_) => {
            return invalid_field(
                "limit",
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 100.",
            )
        }
    };
    let numeric = |m: &Posted| m.id.parse::<u64>().unwrap_or(0);
    let mut chosen: Vec<Posted> = shared
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.channel == channel)
        .filter(|m| after.map_or(true, |after| numeric(m) > after))
        .filter(|m| before.map_or(true, |before| numeric(m) < before))
        .cloned()
        .collect();
    chosen.sort_by_key(numeric);
    if after.is_some() && before.is_none() {
        chosen.truncate(limit);
    } else {
        let skip = chosen.len().saturating_sub(limit);
        chosen.drain(..skip);
    }
    let list: Vec<Value> = chosen
        .iter()
        .rev()
        .map(|m| {
            let mut current = m.current.clone();
            // Listed messages carry no nonce.
            current.as_object_mut().unwrap().remove("nonce");
            current
        })
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn create_thread(
    State(shared): State<Arc<Shared>>,
    Path((channel, message)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    if !shared
        .messages
        .lock()
        .unwrap()
        .iter()
        .any(|m| m.id == message && m.channel == channel)
    {
        return error(404, 10008, "Unknown Message", None);
    }
    let name = body["name"].as_str().unwrap_or_default();
    if name.is_empty() || name.chars().count() > 100 {
        return invalid_field(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        );
    }
    let mut threads = shared.threads.lock().unwrap();
    if threads.contains_key(&message) {
        return error(
            400,
            160004,
            "A thread has already been created for this message",
            None,
        );
    }
    // A thread started from a message has the message's id.
    threads.insert(message.clone(), message.clone());
    Json(json!({
        "id": message,
        "type": 11,
        "guild_id": GUILD,
        "parent_id": channel,
        "name": name,
        "owner_id": BOT_ID,
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "flags": 0,
        "thread_metadata": {"archived": false, "auto_archive_duration": 4320, "archive_timestamp": "2026-03-02T09:00:00.000000+00:00", "locked": false}
    }))
    .into_response()
}

/// Checks on an interaction response: one per interaction, and a modal's limits.
async fn interaction_callback(
    State(shared): State<Arc<Shared>>,
    Path((id, _token)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut callbacks = shared.callbacks.lock().unwrap();
    if callbacks.iter().any(|(earlier, _)| *earlier == id) {
        return error(
            400,
            40060,
            "Interaction has already been acknowledged.",
            None,
        );
    }
    if body["type"] == 9 {
        let data = &body["data"];
        let mut bad = Vec::new();
        if !(1..=100).contains(&chars(&data["custom_id"])) {
            bad.push("data.custom_id");
        }
        if !(1..=45).contains(&chars(&data["title"])) {
            bad.push("data.title");
        }
        let rows = data["components"].as_array().cloned().unwrap_or_default();
        if rows.is_empty() || rows.len() > 5 {
            bad.push("data.components");
        }
        for row in &rows {
            let input = &row["components"][0];
            let max = input["max_length"].as_u64().unwrap_or(4000);
            if input["type"] != 4
                || !(1..=45).contains(&chars(&input["label"]))
                || chars(&input["placeholder"]) > 100
                || max > 4000
                || chars(&input["value"]) as u64 > max
            {
                bad.push("data.components.text_input");
            }
        }
        if !bad.is_empty() {
            let errors: serde_json::Map<String, Value> = bad
                .into_iter()
                .map(|path| (path.to_string(), json!({"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Invalid length."}]})))
                .collect();
            return error(400, 50035, "Invalid Form Body", Some(Value::Object(errors)));
        }
    }
    match body["type"].as_u64() {
        // CHANNEL_MESSAGE_WITH_SOURCE and UPDATE_MESSAGE carry a message body.
        Some(4) | Some(7) => {
            let problems = message_problems(&body["data"]);
            if !problems.is_empty() {
                let errors = problems
                    .into_iter()
                    .map(|(path, error)| (format!("data.{path}"), error))
                    .collect();
                return error(400, 50035, "Invalid Form Body", Some(Value::Object(errors)));
            }
        }
        Some(5) | Some(6) | Some(9) => {}
        _ => {
            return invalid_field(
                "type",
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 4, 5, 6, 7, 8, 9, 12, 13}.",
            )
        }
    }
    if body["type"] == 4 && chars(&body["data"]["content"]) == 0 && body["data"]["embeds"].is_null()
    {
        return error(400, 50006, "Cannot send an empty message", None);
    }
    let ephemeral = shared.ephemeral_interactions.lock().unwrap().contains(&id);
    if body["type"] == 7 && !ephemeral {
        // The message the clicked component is on is edited, as by PATCH.
        let target = shared
            .interaction_messages
            .lock()
            .unwrap()
            .get(&id)
            .cloned();
        let Some((channel, message)) = target else {
            // (The fake's wording: UPDATE_MESSAGE only answers a component on a message.)
            return error(
                400,
                50035,
                "Invalid Form Body",
                Some(
                    json!({"type": {"_errors": [{"code": "INTERACTION_NO_MESSAGE", "message": "This interaction has no message to update."}]}}),
                ),
            );
        };
        let mut messages = shared.messages.lock().unwrap();
        let Some(posted) = messages
            .iter_mut()
            .find(|m| m.id == message && m.channel == channel)
        else {
            return error(404, 10008, "Unknown Message", None);
        };
        for key in ["content", "embeds", "components"] {
            if let Some(value) = body["data"].get(key) {
                posted.current[key] = value.clone();
            }
        }
        posted.current["edited_timestamp"] = json!("2026-03-02T09:05:00.000000+00:00");
        posted.updates += 1;
    }
    callbacks.push((id, body));
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /webhooks/{app}/{token}` (a follow-up) and `PATCH .../messages/@original` (a deferred
/// answer's content): recorded with the follow-ups.
async fn followup(
    State(shared): State<Arc<Shared>>,
    Path((app, _token)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if app != BOT_ID {
        return error(404, 10015, "Unknown Webhook", None);
    }
    if let Some(invalid) = invalid_form_body(&body) {
        return invalid;
    }
    shared.followups.lock().unwrap().push(body.clone());
    let id = next_id(&shared);
    Json(message_json(&id, "0", &body)).into_response()
}

async fn serve_gateway(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let path = Arc::new(Mutex::new(String::from("/")));
            let seen = path.clone();
            // The Result type is tungstenite's handshake callback signature, not ours.
            #[allow(clippy::result_large_err)]
            let callback =
                move |request: &tokio_tungstenite::tungstenite::handshake::server::Request,
                      response| {
                    *seen.lock().unwrap() = request.uri().path().to_string();
                    Ok(response)
                };
            let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
                return;
            };
            let path = path.lock().unwrap().clone();
            let (mut writer, mut reader) = socket.split();
            let (sender, mut outgoing) = mpsc::unbounded_channel::<WsMessage>();
            shared.connections.fetch_add(1, Ordering::SeqCst);
            let hello = json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null});
            if writer
                .send(WsMessage::Text(hello.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
            shared.sockets.lock().unwrap().push(sender);
            let mut seq: u64 = 0;
            loop {
                tokio::select! {
                    out = outgoing.recv() => match out {
                        Some(WsMessage::Text(text)) => {
                            let mut frame: Value = serde_json::from_str(&text).unwrap();
                            if frame["op"] == 0 {
                                seq += 1;
                                frame["s"] = json!(seq);
                            }
                            if writer.send(WsMessage::Text(frame.to_string().into())).await.is_err() {
                                break;
                            }
                        }
                        Some(other) => {
                            let closing = matches!(other, WsMessage::Close(_));
                            if writer.send(other).await.is_err() || closing {
                                break;
                            }
                        }
                        None => break,
                    },
                    incoming = reader.next() => match incoming {
                        Some(Ok(WsMessage::Text(text))) => {
                            let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                            let reply = match frame["op"].as_u64() {
                                Some(1) => Some(json!({"op": 11, "d": null, "s": null, "t": null})),
                                Some(2) => {
                                    shared.identifies.fetch_add(1, Ordering::SeqCst);
                                    seq += 1;
                                    Some(json!({"op": 0, "s": seq, "t": "READY", "d": {
                                        "v": 10,
                                        "user": user(BOT_ID, "MentiondeskBot", true),
                                        "guilds": [{"id": GUILD, "unavailable": true}],
                                        "session_id": format!("session-{}", shared.identifies.load(Ordering::SeqCst)),
                                        "resume_gateway_url": format!("{}{RESUME_PATH}", shared.ws_url.lock().unwrap()),
                                        "shard": [0, 1],
                                        "application": {"id": BOT_ID, "flags": 0}
                                    }}))
                                }
                                Some(6) => {
                                    shared.resumes.fetch_add(1, Ordering::SeqCst);
                                    shared.resume_paths.lock().unwrap().push(path.clone());
                                    seq = frame["d"]["seq"].as_u64().unwrap_or(seq) + 1;
                                    Some(json!({"op": 0, "s": seq, "t": "RESUMED", "d": {}}))
                                }
                                _ => None,
                            };
                            if let Some(reply) = reply {
                                if writer.send(WsMessage::Text(reply.to_string().into())).await.is_err() {
                                    break;
                                }
                            }
                        }
                        Some(Ok(WsMessage::Ping(body))) => {
                            let _ = writer.send(WsMessage::Pong(body)).await;
                        }
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
        });
    }
}

/// A card message as the fake stores it, for payload tests.
pub fn sample_message(channel: &str) -> Value {
    message_json(
        "1300000000000000000",
        channel,
        &json!({
            "embeds": [{"title": "Complaint on Bluesky", "description": "x", "color": 15158332,
                "footer": {"text": "mentiondesk · case-1"},
                "fields": [{"name": "Network", "value": "Bluesky", "inline": true}]}],
            "components": [{"type": 1, "components": [
                {"type": 2, "style": 1, "label": "Claim", "custom_id": "claim:1:1"}]}],
            "nonce": "md0123456789abcdef0123456"
        }),
    )
}
