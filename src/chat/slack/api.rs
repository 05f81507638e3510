//! The Slack Web API calls the adapter makes, with Slack's errors mapped to `ChatError`.
//!
//! One `SlackClient` (slack-morphism over hyper) serves every call. Its connector accepts
//! `http://` as well as `https://`, so `[slack].base_url` can point at a local fake; the same
//! base URL serves `apps.connections.open` for Socket Mode. Every call has a timeout: a hung
//! request is a `Transient` error the outbox retries, never a stuck lane.

use std::sync::Arc;
use std::time::Duration;

use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::chat::ChatError;

/// How long one Web API call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `views.open` may take: a click's trigger id is valid for 3 s from the click, and
/// the click's ack (sent once the modal is open, or not) is due within 3 s too.
pub const VIEWS_OPEN_TIMEOUT: Duration = Duration::from_millis(2500);

/// How long to wait when Slack says `ratelimited` without a `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How many pages of history (200 messages each) to search for our own message after a crash.
const HISTORY_PAGES: usize = 3;

/// The message metadata `event_type` of our cards and notes.
pub const METADATA_EVENT: &str = "mentiondesk_message";

/// The hyper connector type slack-morphism runs on.
pub type Connector = SlackClientHyperHttpsConnector;

/// The Web API client and the bot token.
#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi").finish_non_exhaustive()
    }
}

/// Who the bot token belongs to (`auth.test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The workspace name.
    pub team: String,
    /// The bot user's id.
    pub user_id: String,
    /// The workspace's URL (`https://acme.slack.com/`), the root of message permalinks.
    pub url: String,
}

/// A message we posted, found again by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its `ts`.
    pub ts: String,
}

impl SlackApi {
    /// A client for the Web API at `base_url` (e.g. `https://slack.com/api`) with `bot_token`.
    pub fn new(base_url: &str, bot_token: &str) -> Result<SlackApi, ChatError> {
        let client = SlackClient::new(connector(base_url)?);
        Ok(SlackApi {
            client: Arc::new(client),
            token: SlackApiToken::new(bot_token.to_string().into()),
        })
    }

    /// The shared client (the Socket Mode listener needs it).
    pub fn client(&self) -> Arc<SlackClient<Connector>> {
        self.client.clone()
    }

    /// `auth.test`: checks the token and says whose it is.
    pub async fn auth_test(&self) -> Result<Identity, ChatError> {
        let session = self.client.open_session(&self.token);
        let response = call(session.auth_test()).await?;
        Ok(Identity {
            team: response.team,
            user_id: response.user_id.to_string(),
            url: response.url.0.to_string(),
        })
    }

    /// `chat.postMessage`; returns the message's `ts`.
    pub async fn post_message(
        &self,
        request: &SlackApiChatPostMessageRequest,
    ) -> Result<String, ChatError> {
        let session = self.client.open_session(&self.token);
        let response = call(session.chat_post_message(request)).await?;
        Ok(response.ts.to_string())
    }

    /// Uploads `bytes` as a file shared in `channel` with `comment`: `files.getUploadURLExternal`,
    /// the bytes POSTed to the `upload_url` it returns, then `files.completeUploadExternal`.
    /// Returns the file id.
    pub async fn upload_file(
        &self,
        channel: &str,
        filename: &str,
        title: &str,
        comment: &str,
        bytes: &[u8],
    ) -> Result<String, ChatError> {
        let session = self.client.open_session(&self.token);
        let ticket = call(session.get_upload_url_external(
            &SlackApiFilesGetUploadUrlExternalRequest::new(filename.to_string(), bytes.len()),
        ))
        .await?;
        call(
            session.files_upload_via_url(&SlackApiFilesUploadViaUrlRequest::new(
                ticket.upload_url.clone(),
                bytes.to_vec(),
                "image/png".to_string(),
            )),
        )
        .await?;
        let complete =
            SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
                ticket.file_id.clone(),
            )
            .with_title(title.to_string())])
            .with_channel_id(channel.into())
            .with_initial_comment(comment.to_string());
        call(session.files_complete_upload_external(&complete)).await?;
        Ok(ticket.file_id.to_string())
    }

    /// `chat.update`.
    pub async fn update(&self, request: &SlackApiChatUpdateRequest) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        call(session.chat_update(request)).await.map(|_| ())
    }

    /// `chat.postEphemeral`: a message only `user` sees.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<(), ChatError> {
        self.post_ephemeral_content(
            channel,
            user,
            SlackMessageContent::new().with_text(text.to_string()),
        )
        .await
    }

    /// `chat.postEphemeral` of a whole message (text and blocks).
    pub async fn post_ephemeral_content(
        &self,
        channel: &str,
        user: &str,
        content: SlackMessageContent,
    ) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), content);
        call(session.chat_post_ephemeral(&request))
            .await
            .map(|_| ())
    }

    /// Answers a click through its `response_url` (Slack's URL from the interaction, valid
    /// for a few uses within 30 minutes); `replace_original` replaces the message clicked on,
    /// which is how an ephemeral message (a slash command's answer) is brought up to date.
    pub async fn respond(
        &self,
        response_url: &SlackResponseUrl,
        content: SlackMessageContent,
        replace_original: bool,
    ) -> Result<(), ChatError> {
        let request =
            SlackApiPostWebhookMessageRequest::new(content).with_replace_original(replace_original);
        call(self.client.respond_to_event(response_url, &request))
            .await
            .map(|_| ())
    }

    /// `views.open` with a trigger id from a click, given up after [`VIEWS_OPEN_TIMEOUT`]:
    /// the trigger has expired by then, so waiting longer only delays the "click again".
    pub async fn views_open(&self, trigger_id: &str, view: SlackView) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiViewsOpenRequest::new(trigger_id.into(), view);
        call_within(VIEWS_OPEN_TIMEOUT, session.views_open(&request))
            .await
            .map(|_| ())
    }

    /// `views.update` of an open view, guarded by the view's `hash` (Slack refuses the update
    /// with `hash_conflict` if the view changed meanwhile).
    pub async fn views_update(
        &self,
        view_id: &str,
        hash: Option<String>,
        view: SlackView,
    ) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let mut request = SlackApiViewsUpdateRequest::new(view).with_view_id(view_id.into());
        if let Some(hash) = hash {
            request = request.with_hash(hash);
        }
        call(session.views_update(&request)).await.map(|_| ())
    }

    /// `users.info`: the name to show for a user (display name, else real name, else handle).
    pub async fn user_name(&self, user: &str) -> Result<Option<String>, ChatError> {
        let session = self.client.open_session(&self.token);
        let response =
            call(session.users_info(&SlackApiUsersInfoRequest::new(user.into()))).await?;
        let user = response.user;
        let profile = user.profile.as_ref();
        let candidates = [
            profile.and_then(|p| p.display_name.clone()),
            profile.and_then(|p| p.real_name.clone()),
            user.real_name.clone(),
            user.name.clone(),
        ];
        Ok(candidates
            .into_iter()
            .flatten()
            .map(|name| name.trim().to_string())
            .find(|name| !name.is_empty()))
    }

    /// `usergroups.users.list`: the user ids in a user group (needs `usergroups:read`).
    pub async fn usergroup_members(&self, group: &str) -> Result<Vec<String>, ChatError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiUserGroupsUsersListRequest::new(group.into());
        let response = call(session.usergroups_users_list(&request)).await?;
        Ok(response.users.iter().map(|user| user.to_string()).collect())
    }

    /// Looks for a top-level message of ours carrying `key` in its metadata
    /// (`conversations.history` with `include_all_metadata`).
    pub async fn find_in_history(
        &self,
        channel: &str,
        key: &str,
    ) -> Result<Option<Found>, ChatError> {
        let session = self.client.open_session(&self.token);
        let mut cursor: Option<SlackCursorId> = None;
        for _ in 0..HISTORY_PAGES {
            let request = SlackApiConversationsHistoryRequest::new()
                .with_channel(channel.into())
                .with_limit(200)
                .with_include_all_metadata(true)
                .opt_cursor(cursor.clone());
            let response = call(session.conversations_history(&request)).await?;
            if let Some(found) = find_keyed(&response.messages, key) {
                return Ok(Some(found));
            }
            cursor = response
                .response_metadata
                .and_then(|metadata| metadata.next_cursor)
                .filter(|next| !next.to_string().is_empty());
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }

    /// Looks for a message by `user` sharing a file named `filename` in `channel` since
    /// `oldest` (`conversations.history` with `oldest`, newest first, [`HISTORY_PAGES`] pages
    /// of 200 at most). Files shared with `files.completeUploadExternal` carry no metadata, so
    /// the file name is the key.
    pub async fn find_file_share(
        &self,
        channel: &str,
        filename: &str,
        user: &str,
        oldest: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Found>, ChatError> {
        let session = self.client.open_session(&self.token);
        let (channel, oldest, limit) = (channel.to_string(), slack_ts(oldest), "200".to_string());
        let mut cursor: Option<String> = None;
        for _ in 0..HISTORY_PAGES {
            let params = vec![
                ("channel", Some(&channel)),
                ("oldest", Some(&oldest)),
                ("limit", Some(&limit)),
                ("cursor", cursor.as_ref()),
            ];
            let page: HistoryPage = call(session.http_session_api.http_get(
                "conversations.history",
                &params,
                None,
            ))
            .await?;
            let found = page.messages.iter().find(|message| {
                message.user.as_deref() == Some(user)
                    && message
                        .files
                        .iter()
                        .any(|file| file.name.as_deref() == Some(filename))
            });
            if let Some(found) = found {
                return Ok(Some(Found {
                    ts: found.ts.clone(),
                }));
            }
            cursor = page
                .response_metadata
                .and_then(|metadata| metadata.next_cursor)
                .filter(|next| !next.is_empty());
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }

    /// Looks for a reply of ours in a thread carrying `key` in its metadata
    /// (`conversations.replies` with `include_all_metadata`, which slack-morphism's request
    /// type lacks, so the call is made with its generic GET).
    pub async fn find_in_thread(
        &self,
        channel: &str,
        thread_ts: &str,
        key: &str,
    ) -> Result<Option<Found>, ChatError> {
        let session = self.client.open_session(&self.token);
        let (channel, thread_ts) = (channel.to_string(), thread_ts.to_string());
        let (limit, include_metadata) = ("200".to_string(), "true".to_string());
        let mut cursor: Option<String> = None;
        for _ in 0..HISTORY_PAGES {
            let params = vec![
                ("channel", Some(&channel)),
                ("ts", Some(&thread_ts)),
                ("limit", Some(&limit)),
                ("include_all_metadata", Some(&include_metadata)),
                ("cursor", cursor.as_ref()),
            ];
            let response: SlackApiConversationsRepliesResponse = call(
                session
                    .http_session_api
                    .http_get("conversations.replies", &params, None),
            )
            .await?;
            if let Some(found) = find_keyed(&response.messages, key) {
                return Ok(Some(found));
            }
            cursor = response
                .response_metadata
                .and_then(|metadata| metadata.next_cursor)
                .map(|next| next.to_string())
                .filter(|next| !next.is_empty());
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }
}

/// One page of `conversations.history` as the file-share lookup reads it: only the fields
/// it needs, so a message of a kind slack-morphism does not know cannot spoil the page.
#[derive(Debug, serde::Deserialize)]
struct HistoryPage {
    #[serde(default)]
    messages: Vec<HistoryEntry>,
    #[serde(default)]
    response_metadata: Option<PageCursor>,
}

#[derive(Debug, serde::Deserialize)]
struct HistoryEntry {
    ts: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    files: Vec<HistoryFile>,
}

#[derive(Debug, serde::Deserialize)]
struct HistoryFile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct PageCursor {
    #[serde(default)]
    next_cursor: Option<String>,
}

/// A Slack timestamp (`seconds.micros`) for `oldest` / `latest`.
fn slack_ts(at: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{}.{:06}",
        at.timestamp(),
        at.timestamp_subsec_micros().min(999_999)
    )
}

/// What one of our messages is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageAbout {
    /// A case's card, thread note or escalation card (`case_id`).
    Case(u64),
    /// A kudos card (`kind: "kudos"`, `kudos_id`): not a case.
    Kudos(u64),
}

/// Message metadata carrying an idempotency key and what the message is about: `case_id` for
/// a case's messages; `kind = "kudos"` and `kudos_id` for a kudos card, with no `case_id`, so
/// no reader takes a kudos id for a case.
pub fn metadata(key: &str, about: MessageAbout) -> SlackMessageMetadata {
    let fields = match about {
        MessageAbout::Case(case) => vec![("case_id", case.to_string())],
        MessageAbout::Kudos(kudos) => vec![
            ("kind", "kudos".to_string()),
            ("kudos_id", kudos.to_string()),
        ],
    };
    let payload = std::iter::once(("key".to_string(), key.to_string()))
        .chain(
            fields
                .into_iter()
                .map(|(name, value)| (name.to_string(), value)),
        )
        .collect();
    SlackMessageMetadata::new(METADATA_EVENT.to_string()).with_event_payload(payload)
}

/// What our metadata says a message is about (`None` for anyone else's message). Kudos cards
/// posted before `kind` existed carry their kudos id in `case_id` under a `kudos-N` key: they
/// still read as kudos.
pub fn about(metadata: &SlackMessageMetadata) -> Option<MessageAbout> {
    if metadata.event_type != METADATA_EVENT {
        return None;
    }
    let payload = metadata.event_payload.as_ref()?;
    let number = |field: &str| payload.get(field).and_then(|value| value.parse().ok());
    let legacy_kudos = payload
        .get("key")
        .is_some_and(|key| key.starts_with("kudos-"));
    if payload.get("kind").is_some_and(|kind| kind == "kudos") {
        number("kudos_id").map(MessageAbout::Kudos)
    } else if legacy_kudos {
        number("case_id").map(MessageAbout::Kudos)
    } else {
        number("case_id").map(MessageAbout::Case)
    }
}

/// The message carrying `key` in our metadata. Cards and thread notes have always been posted
/// with it, so no text matching is needed (and text could match another note that says the
/// same, such as a second "Claimed by Ana").
fn find_keyed(messages: &[SlackHistoryMessage], key: &str) -> Option<Found> {
    messages
        .iter()
        .find(|message| {
            message
                .content
                .metadata
                .as_ref()
                .filter(|metadata| about(metadata).is_some())
                .and_then(|metadata| metadata.event_payload.as_ref())
                .and_then(|payload| payload.get("key"))
                .is_some_and(|found| found == key)
        })
        .map(|message| Found {
            ts: message.origin.ts.to_string(),
        })
}

fn connector(base_url: &str) -> Result<Connector, ChatError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Ok(SlackClientHyperConnector::from(https).with_slack_api_url(base_url.trim_end_matches('/')))
}

/// Runs a call with the timeout and maps its error.
async fn call<T>(
    future: impl std::future::Future<Output = Result<T, SlackClientError>>,
) -> Result<T, ChatError> {
    call_within(CALL_TIMEOUT, future).await
}

/// Runs a call with the timeout `limit` and maps its error.
async fn call_within<T>(
    limit: Duration,
    future: impl std::future::Future<Output = Result<T, SlackClientError>>,
) -> Result<T, ChatError> {
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result.map_err(chat_error),
        Err(_) => Err(ChatError::Transient(format!(
            "slack did not answer within {:?}",
            limit
        ))),
    }
}

/// Slack's errors in the terms the outbox branches on.
pub fn chat_error(error: SlackClientError) -> ChatError {
    match error {
        SlackClientError::RateLimitError(error) => ChatError::RateLimited {
            retry_after: error.retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        },
        SlackClientError::ApiError(error) => api_error(&error.code),
        SlackClientError::HttpError(error) => {
            let status = error.status_code;
            if status.is_server_error() || status.as_u16() == 408 {
                ChatError::Transient(format!("slack answered HTTP {status}"))
            } else {
                ChatError::Rejected(format!("slack answered HTTP {status}"))
            }
        }
        SlackClientError::ProtocolError(error) => ChatError::Transient(format!(
            "slack sent an unreadable answer: {}",
            error.json_error
        )),
        other => ChatError::Transient(format!("cannot reach slack: {other}")),
    }
}

/// An `ok: false` error code.
pub fn api_error(code: &str) -> ChatError {
    match code {
        "ratelimited" | "rate_limited" => ChatError::RateLimited {
            retry_after: DEFAULT_RETRY_AFTER,
        },
        "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout"
        | "team_added_to_org" => ChatError::Transient(format!("slack error {code}")),
        other => ChatError::Rejected(format!("slack error {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_to_what_the_outbox_does() {
        for (code, expected) in [
            ("ratelimited", "rate"),
            ("invalid_auth", "rejected"),
            ("channel_not_found", "rejected"),
            ("invalid_blocks", "rejected"),
            ("internal_error", "transient"),
        ] {
            let kind = match api_error(code) {
                ChatError::RateLimited { .. } => "rate",
                ChatError::Transient(_) => "transient",
                ChatError::Rejected(_) => "rejected",
            };
            assert_eq!(kind, expected, "{code}");
        }
    }

    #[test]
    fn metadata_carries_key_and_case() {
        let metadata = metadata("case-7", MessageAbout::Case(7));
        let json = serde_json::to_value(&metadata).unwrap();
        assert_eq!(json["event_type"], METADATA_EVENT);
        assert_eq!(json["event_payload"]["key"], "case-7");
        assert_eq!(json["event_payload"]["case_id"], "7");
        assert_eq!(about(&metadata), Some(MessageAbout::Case(7)));
    }

    #[test]
    fn a_kudos_card_is_not_mistaken_for_a_case_old_or_new() {
        let metadata = metadata("kudos-3", MessageAbout::Kudos(3));
        let json = serde_json::to_value(&metadata).unwrap();
        assert_eq!(json["event_payload"]["kind"], "kudos");
        assert_eq!(json["event_payload"]["kudos_id"], "3");
        assert!(json["event_payload"].get("case_id").is_none(), "{json}");
        assert_eq!(about(&metadata), Some(MessageAbout::Kudos(3)));
        let read = |payload: serde_json::Value| {
            about(
                &serde_json::from_value(
                    serde_json::json!({"event_type": METADATA_EVENT, "event_payload": payload}),
                )
                .unwrap(),
            )
        };
        // Posted before `kind`: the kudos id in `case_id`, under a kudos key.
        assert_eq!(
            read(serde_json::json!({"key": "kudos-3", "case_id": "3"})),
            Some(MessageAbout::Kudos(3))
        );
        assert_eq!(
            read(serde_json::json!({"key": "case-3-event-2", "case_id": "3"})),
            Some(MessageAbout::Case(3))
        );
        assert_eq!(
            read(serde_json::json!({"key": "kudos-x", "kind": "kudos"})),
            None
        );
        let foreign: SlackMessageMetadata = serde_json::from_value(
            serde_json::json!({"event_type": "other_app", "event_payload": {"case_id": "3"}}),
        )
        .unwrap();
        assert_eq!(about(&foreign), None);
    }
}
