//! The console's web server: the page, its assets, live updates (SSE) and the JSON API.
//!
//! Clicks arrive at `POST /api/actions`, are decoded with the domain's payload codec and sent
//! to the actions engine as `ChatEvent`s; the engine's private answer goes back to the one
//! browser that asked. The server keeps no state of its own beyond [`ConsoleState`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;

use super::render::{self, Tab};
use super::{ConsoleChat, CHAT_NAME, MAIN_CHANNEL};
use crate::chat::{ActionOutcome, ChatError, ChatEvent};
use crate::domain::{
    expand, reply_prefill, ActionKind, ActionRequest, Agent, CaseId, ChatAction, Fill, Payload,
};
use crate::store::Store;

/// How long a click waits for the actions engine before the page is told to try again.
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// The cookie that carries the console token after a `?token=` visit.
pub const AUTH_COOKIE: &str = "mentiondesk_console";

/// The longest agent name the console accepts, in characters.
const AGENT_NAME_MAX: usize = 64;

/// What the console's handlers share.
#[derive(Clone)]
pub struct ConsoleState {
    /// The adapter: channels, messages and change announcements.
    pub chat: Arc<ConsoleChat>,
    /// The store, to read cases for the reply form.
    pub store: Store,
    /// Where decoded clicks go: the actions engine's inbox.
    pub actions: mpsc::Sender<ChatEvent>,
    /// The escalation targets from config, (id, label), offered by the escalate form.
    pub targets: Vec<(String, String)>,
    /// `[console].auth_token`: when set, every request must carry it.
    pub auth_token: Option<String>,
    /// Ends live-update streams so the server can shut down gracefully.
    pub shutdown: CancellationToken,
}

impl std::fmt::Debug for ConsoleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: say only whether one is set.
        f.debug_struct("ConsoleState")
            .field("chat", &self.chat)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// The console's routes, with token checking when `state.auth_token` is set.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/assets/style.css", get(stylesheet))
        .route("/assets/app.js", get(script))
        .route("/events", get(events))
        .route("/fragments/{channel}/{message_id}", get(fragment))
        .route("/api/channels", get(list_channels))
        .route("/api/channels/{channel}/messages", get(list_messages))
        .route("/api/cases/{case}/reply-form", get(reply_form))
        .route("/api/escalation-targets", get(escalation_targets))
        .route("/api/notices", get(list_notices))
        .route("/api/digests", get(list_digests))
        .route("/api/digests/{id}/chart.png", get(digest_chart))
        .route("/api/actions", post(submit_action))
        .route(render::SKIPPED_PATH, get(skipped_page))
        .route("/fragments/skipped", get(skipped_fragment))
        .route("/api/skipped", get(list_skipped))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

/// Serves the console on `listener` until `state.shutdown` is cancelled.
pub async fn serve(listener: TcpListener, state: ConsoleState) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let address = listener.local_addr()?;
    tracing::info!(chat = CHAT_NAME, %address, "Console listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// Checks the token (header, cookie or `?token=`) when one is configured; without one, only
/// loopback host names are accepted so a web page elsewhere cannot reach the console through
/// DNS rebinding.
async fn authorize(State(state): State<ConsoleState>, request: Request, next: Next) -> Response {
    let Some(expected) = state.auth_token.as_deref() else {
        if !host_is_loopback(request.headers()) {
            return error_response(
                StatusCode::FORBIDDEN,
                "the console answers loopback host names only; set [console].auth_token to serve it elsewhere",
            );
        }
        return next.run(request).await;
    };
    let headers = request.headers();
    let from_header = bearer_token(headers).is_some_and(|token| same_secret(token, expected));
    let from_cookie =
        cookie_value(headers, AUTH_COOKIE).is_some_and(|token| same_secret(token, expected));
    if from_header || from_cookie {
        return next.run(request).await;
    }
    let from_query = request
        .uri()
        .query()
        .and_then(query_token)
        .is_some_and(|token| same_secret(&token, expected));
    if !from_query {
        return error_response(
            StatusCode::UNAUTHORIZED,
            "this console needs its token: open it once with ?token=... or send Authorization: Bearer",
        );
    }
    // A valid `?token=` sets the cookie, so the page's own requests need nothing more.
    let mut response = next.run(request).await;
    let cookie = format!("{AUTH_COOKIE}={expected}; HttpOnly; SameSite=Strict; Path=/");
    match HeaderValue::from_str(&cookie) {
        Ok(value) => {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        Err(_) => {
            tracing::warn!(chat = CHAT_NAME, "Console token cannot be sent as a cookie");
        }
    }
    response
}

fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
    else {
        // No Host header (in-process requests): nothing to check against.
        return true;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    matches!(name, "127.0.0.1" | "localhost" | "::1") || name.starts_with("127.")
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn query_token(query: &str) -> Option<String> {
    serde_urlencoded_pairs(query)
        .into_iter()
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value)
}

/// Decodes `application/x-www-form-urlencoded` pairs (the query string) through axum's own
/// `Query` parser, so `%xx` and `+` are handled the standard way.
fn serde_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    let uri = format!("/?{query}");
    uri.parse::<axum::http::Uri>()
        .ok()
        .and_then(|uri| Query::<Vec<(String, String)>>::try_from_uri(&uri).ok())
        .map(|Query(pairs)| pairs)
        .unwrap_or_default()
}

/// Compares secrets in time independent of where they first differ.
fn same_secret(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    let mut difference = given.len() ^ expected.len();
    for (index, byte) in expected.iter().enumerate() {
        difference |= usize::from(byte ^ given.get(index).copied().unwrap_or(0));
    }
    difference == 0
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    channel: Option<String>,
}

async fn page(State(state): State<ConsoleState>, Query(query): Query<PageQuery>) -> Response {
    let chat = &state.chat;
    let wanted = query.channel.as_deref().unwrap_or(MAIN_CHANNEL);
    let Some(selected) = chat.channel(wanted) else {
        return error_response(
            StatusCode::NOT_FOUND,
            &format!("unknown channel {wanted:?}"),
        );
    };
    let tabs = match tabs(chat) {
        Ok(tabs) => tabs,
        Err(error) => return chat_error_response(&error),
    };
    match chat.messages(&selected.id) {
        Ok(messages) => no_store(Html(render::page(&tabs, selected, &messages, Utc::now()))),
        Err(error) => chat_error_response(&error),
    }
}

/// Every channel's tab with its card count.
fn tabs(chat: &ConsoleChat) -> Result<Vec<Tab<'_>>, ChatError> {
    chat.channels()
        .iter()
        .map(|channel| {
            chat.message_count(&channel.id)
                .map(|count| Tab { channel, count })
        })
        .collect()
}

/// How many skipped posts the console's "Skipped" tab lists.
pub const SKIPPED_SHOWN: usize = 50;

/// The "Skipped" review: the newest posts triage stored without a card.
async fn skipped_page(State(state): State<ConsoleState>) -> Response {
    let tabs = match tabs(&state.chat) {
        Ok(tabs) => tabs,
        Err(error) => return chat_error_response(&error),
    };
    match skipped_posts(&state.store) {
        Ok(posts) => no_store(Html(render::skipped_page(&tabs, &posts, Utc::now()))),
        Err(response) => *response,
    }
}

/// The skipped posts as the page's HTML fragment.
async fn skipped_fragment(State(state): State<ConsoleState>) -> Response {
    match skipped_posts(&state.store) {
        Ok(posts) => no_store(Html(render::skipped_list(&posts, Utc::now()))),
        Err(response) => *response,
    }
}

/// The skipped posts as JSON, newest first.
async fn list_skipped(State(state): State<ConsoleState>) -> Response {
    match skipped_posts(&state.store) {
        Ok(posts) => Json(
            posts
                .iter()
                .map(|post| {
                    json!({
                        "id": post.id,
                        "network": post.network.as_str(),
                        "handle": post.handle,
                        "display_name": post.display_name,
                        "text": post.text,
                        "url": post.url,
                        "label": post.triage.label.as_str(),
                        "score": post.triage.score,
                        "reason": post.triage.reason,
                        "at": post.at,
                        "case": post.case.map(|case| case.0),
                        "payload": post.button().map(|button| button.payload),
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(response) => *response,
    }
}

fn skipped_posts(store: &Store) -> Result<Vec<crate::domain::SkippedPost>, Box<Response>> {
    crate::chat::commands::skipped_posts(store, SKIPPED_SHOWN).map_err(|error| {
        tracing::error!(chat = CHAT_NAME, error = %error, "Console cannot read skipped posts");
        Box::new(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the console cannot read the store; try again",
        ))
    })
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/style.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/app.js"),
    )
        .into_response()
}

async fn events(
    State(state): State<ConsoleState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (sender, receiver) = mpsc::channel(16);
    let mut changes = state.chat.subscribe();
    let shutdown = state.shutdown.clone();
    // One small task per open page forwards announcements; it ends when the page goes away
    // or the console shuts down, so graceful shutdown is not held up by open pages.
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                () = shutdown.cancelled() => break,
                () = sender.closed() => break,
                change = changes.recv() => match change {
                    Ok(change) => Event::default()
                        .event("message-changed")
                        .data(serde_json::to_string(&change).unwrap_or_default()),
                    // A page that fell behind cannot know what it missed: it reloads.
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        Event::default().event("resync").data(missed.to_string())
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            };
            if sender.send(Ok(event)).await.is_err() {
                break;
            }
        }
    });
    Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default())
}

async fn fragment(
    State(state): State<ConsoleState>,
    Path((channel, message_id)): Path<(String, String)>,
) -> Response {
    match state.chat.message(&channel, &message_id) {
        Ok(Some(message)) => no_store(Html(render::card(&message, Utc::now()))),
        Ok(None) => error_response(StatusCode::NOT_FOUND, "no such message"),
        Err(error) => chat_error_response(&error),
    }
}

async fn list_channels(State(state): State<ConsoleState>) -> Response {
    let mut channels = Vec::new();
    for channel in state.chat.channels() {
        match state.chat.message_count(&channel.id) {
            Ok(count) => channels.push(json!({
                "id": channel.id,
                "label": channel.label,
                "count": count,
            })),
            Err(error) => return chat_error_response(&error),
        }
    }
    Json(channels).into_response()
}

/// The ops channel: connector-health notices, oldest first.
async fn list_notices(State(state): State<ConsoleState>) -> Response {
    match state.chat.notices() {
        Ok(notices) => Json(notices).into_response(),
        Err(error) => chat_error_response(&error),
    }
}

/// The weekly digests, oldest first, each with the URL of its chart.
async fn list_digests(State(state): State<ConsoleState>) -> Response {
    match state.chat.digests() {
        Ok(digests) => Json(
            digests
                .into_iter()
                .map(|digest| {
                    let chart = format!("/api/digests/{}/chart.png", digest.id);
                    json!({
                        "id": digest.id,
                        "channel": digest.channel,
                        "at": digest.at,
                        "title": digest.title,
                        "text": digest.text,
                        "chart": chart,
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(error) => chat_error_response(&error),
    }
}

/// A digest's chart, as posted.
async fn digest_chart(State(state): State<ConsoleState>, Path(id): Path<String>) -> Response {
    match state.chat.digest_chart(&id) {
        Ok(Some(png)) => (
            [
                (axum::http::header::CONTENT_TYPE, "image/png"),
                (axum::http::header::CACHE_CONTROL, "private, max-age=86400"),
            ],
            png,
        )
            .into_response(),
        Ok(None) => error_response(StatusCode::NOT_FOUND, "no such digest"),
        Err(error) => chat_error_response(&error),
    }
}

async fn list_messages(State(state): State<ConsoleState>, Path(channel): Path<String>) -> Response {
    if state.chat.channel(&channel).is_none() {
        return error_response(
            StatusCode::NOT_FOUND,
            &format!("unknown channel {channel:?}"),
        );
    }
    match state.chat.messages(&channel) {
        Ok(messages) => Json(
            messages
                .iter()
                .map(|message| {
                    json!({
                        "key": message.key,
                        "message_id": message.message_id,
                        "card": message.card,
                        "thread": message.thread,
                        "posted_at": message.posted_at,
                        "updated_at": message.updated_at,
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(error) => chat_error_response(&error),
    }
}

/// `?agent=` of the reply form: who will reply, for `{agent}` in saved replies.
#[derive(Debug, Deserialize)]
struct ReplyFormQuery {
    agent: Option<String>,
}

async fn reply_form(
    State(state): State<ConsoleState>,
    Path(case): Path<String>,
    Query(query): Query<ReplyFormQuery>,
) -> Response {
    let Ok(case_id) = case.parse::<CaseId>() else {
        return error_response(
            StatusCode::BAD_REQUEST,
            &format!("invalid case id {case:?}"),
        );
    };
    let case = match state.store.case(case_id) {
        Ok(Some(case)) => case,
        Ok(None) => return error_response(StatusCode::NOT_FOUND, &format!("no case {case_id}")),
        Err(error) => {
            tracing::error!(chat = CHAT_NAME, case_id = %case_id, error = %error, "Cannot read case");
            return error_response(StatusCode::SERVICE_UNAVAILABLE, "the store cannot be read");
        }
    };
    // The card the console shows carries the limit the engine chose (a Mastodon instance may
    // allow more than the network's default); fall back to the default if it is not posted.
    let limit = case
        .chat_refs
        .get(CHAT_NAME)
        .and_then(|message| {
            state
                .chat
                .message(&message.channel, &message.message)
                .ok()
                .flatten()
        })
        .map(|message| message.card.reply_limit)
        .unwrap_or_else(|| case.network.default_reply_limit());
    // Saved replies come filled in by the domain, as in Slack and Discord.
    let name = query.agent.as_deref().map(str::trim).unwrap_or_default();
    let agent = Agent::new(format!("{CHAT_NAME}:{}", name.to_lowercase()), name);
    let saved: Vec<_> = state
        .chat
        .saved_replies()
        .iter()
        .map(|saved| {
            json!({
                "name": saved.name,
                "text": expand(&saved.text, &Fill::new(&case, &agent)),
            })
        })
        .collect();
    Json(json!({
        "prefill": reply_prefill(&case),
        "limit": limit,
        "network": case.network.as_str(),
        "draft": case.draft.as_ref().map(|draft| draft.text.clone()),
        "saved": saved,
        "awaiting_approval": case.awaiting_approval.as_ref().map(|draft| draft.text.clone()),
    }))
    .into_response()
}

async fn escalation_targets(State(state): State<ConsoleState>) -> Response {
    Json(
        state
            .targets
            .iter()
            .map(|(id, label)| json!({"id": id, "label": label}))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

/// The body of `POST /api/actions`: a button's payload, who clicked, and the form's fields.
#[derive(Debug, Deserialize)]
struct ActionBody {
    payload: Option<String>,
    agent: Option<String>,
    text: Option<String>,
    confirm_pii: Option<bool>,
    target: Option<String>,
    note: Option<String>,
}

async fn submit_action(
    State(state): State<ConsoleState>,
    body: Result<Json<ActionBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("invalid request body: {}", rejection.body_text()),
            )
        }
    };
    let Some(payload) = body.payload.as_deref() else {
        return error_response(StatusCode::BAD_REQUEST, "missing payload");
    };
    let payload: Payload = match payload.parse() {
        Ok(payload) => payload,
        Err(error) => return error_response(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let name = body.agent.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, "missing agent name");
    }
    if name.chars().count() > AGENT_NAME_MAX {
        return error_response(
            StatusCode::BAD_REQUEST,
            &format!("agent name longer than {AGENT_NAME_MAX} characters"),
        );
    }
    // Console agents belong to no group: the console has none.
    let agent = Agent::new(format!("{CHAT_NAME}:{}", name.to_lowercase()), name);
    let request = match payload.kind {
        ActionKind::Reply => ActionRequest {
            case: payload.case,
            version: payload.version,
            action: ChatAction::Reply {
                text: body.text.unwrap_or_default(),
                confirm_pii: body.confirm_pii.unwrap_or(false),
            },
        },
        ActionKind::Edit => ActionRequest {
            case: payload.case,
            version: payload.version,
            action: ChatAction::Edit {
                text: body.text.unwrap_or_default(),
                confirm_pii: body.confirm_pii.unwrap_or(false),
            },
        },
        ActionKind::Reject => ActionRequest {
            case: payload.case,
            version: payload.version,
            action: ChatAction::Reject {
                reason: body.note.unwrap_or_default(),
            },
        },
        ActionKind::Escalate => ActionRequest {
            case: payload.case,
            version: payload.version,
            action: ChatAction::Escalate {
                target: body.target.unwrap_or_default(),
                note: body.note.unwrap_or_default(),
            },
        },
        _ => match ActionRequest::from_button(payload) {
            Some(request) => request,
            None => return error_response(StatusCode::BAD_REQUEST, "this button needs its form"),
        },
    };
    let (respond, answer) = oneshot::channel();
    let event = ChatEvent {
        chat: CHAT_NAME.to_string(),
        agent,
        request,
        respond,
    };
    tracing::debug!(chat = CHAT_NAME, case_id = %payload.case, action = payload.kind.verb(), "Click received");
    if state.actions.send(event).await.is_err() {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the actions engine is not running",
        );
    }
    let outcome = match tokio::time::timeout(ACTION_TIMEOUT, answer).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the actions engine stopped before answering",
            )
        }
        Err(_) => {
            return error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "the actions engine did not answer in time; reload the page and try again",
            )
        }
    };
    outcome_response(outcome)
}

/// Maps the engine's answer to the API's status codes and JSON.
fn outcome_response(outcome: ActionOutcome) -> Response {
    match outcome {
        ActionOutcome::Done { notice } => (
            StatusCode::OK,
            Json(json!({"outcome": "done", "notice": notice})),
        )
            .into_response(),
        ActionOutcome::Refused { message } => (
            StatusCode::CONFLICT,
            Json(json!({"outcome": "refused", "message": message})),
        )
            .into_response(),
        ActionOutcome::Invalid { field, message } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"outcome": "invalid", "field": field, "message": message})),
        )
            .into_response(),
        ActionOutcome::ConfirmPii { warning } => (
            StatusCode::OK,
            Json(json!({"outcome": "confirm_pii", "warning": warning})),
        )
            .into_response(),
    }
}

fn error_response(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

fn chat_error_response(error: &ChatError) -> Response {
    tracing::error!(chat = CHAT_NAME, error = %error, "Console cannot read its messages");
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "the console cannot read its messages",
    )
}

/// Pages and fragments always reflect the store: browsers must not cache them.
fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
