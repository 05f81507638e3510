//! Slack: cards in Block Kit, clicks and modals over Socket Mode, notes in the card's thread.
//!
//! `SlackChat` implements [`ChatAdapter`] on the Web API (`api.rs`, slack-morphism over hyper)
//! and renders cards with `render.rs`. [`SlackChat::run`] keeps a Socket Mode connection
//! (slack-morphism's listener, started and shut down from our shutdown token, never `serve()`)
//! and turns `interactive` envelopes into `ChatEvent`s:
//!
//! - a button (Claim, Unclaim, or the overflow's Resolve / Not a complaint / Reopen) is acked at
//!   once and handed to the actions engine afterwards; a refusal goes back to that person only
//!   (`chat.postEphemeral`);
//! - Reply publicly and Escalate open their modal inline (`views.open` needs the click's trigger
//!   id, valid for 3 s) before the ack;
//! - a modal submit waits briefly for the engine so that a validation error can keep the modal
//!   open (`response_action: errors`).
//!
//! `/mentiondesk queue | mine | stats | skipped` (`slash_commands` envelopes; `skipped` with a
//! "Mark as complaint" button per waiting post) is answered privately in the
//! ack, from `chat::commands`. In HTTP mode (`signing_secret`, see `http.rs`) the same handlers
//! serve signed requests on `[http].listen` instead of envelopes.
//!
//! Posting is idempotent on the key the outbox gives: each post carries the key in Slack message
//! `metadata`, and the adapter records the key before and after posting in the store's chat
//! area. A key that was being posted when the process died is looked up in the channel's history
//! (or the thread) before anything is posted again. Posts are paced per channel (about one
//! message per second, with a short burst) and Slack's 429s become `RateLimited` for the outbox.

mod api;
pub mod http;
pub mod render;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use slack_morphism::prelude::*;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use api::{Identity, SlackApi};

use crate::chat::commands::{self, CommandContext};
use crate::chat::delivery::{Pacer, PostRecords};
use crate::chat::limits::ReplyLimits;
use crate::chat::{ActionOutcome, ChatAdapter, ChatError, ChatEvent, MessageRef};
use crate::config::{EscalationTarget, SlackSettings};
use crate::digest::Digest;
use crate::domain::{
    reply_prefill, saved_reply_text, ActionKind, ActionRequest, Agent, Card, ChatAction, Payload,
    Permissions, SavedReply, ThreadNote,
};
use crate::store::Store;
use render::{FormMetadata, ReplyForm};

/// The adapter's name in config and in the cases' chat refs.
pub const CHAT_NAME: &str = "slack";

/// How long a click waits for the actions engine before giving up on telling the person.
const ACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a modal submit waits for the engine before acking anyway (Slack allows 3 s).
const FORM_ANSWER_TIMEOUT: Duration = Duration::from_millis(2300);

/// How long a slash command may take to answer in its ack; slower answers come as a private
/// message afterwards.
const COMMAND_ANSWER_TIMEOUT: Duration = Duration::from_millis(2000);

/// How long a `users.info` lookup may delay a modal submit.
const NAME_LOOKUP_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a user group's member list is trusted before it is read again.
const GROUP_CACHE_TTL: Duration = Duration::from_secs(300);

/// One message per second per channel, as Slack's `chat.postMessage` allows...
const PACE_INTERVAL: Duration = Duration::from_secs(1);
/// ...with a short burst, which Slack tolerates.
const PACE_BURST: u32 = 3;

/// An escalation target as Slack sees it.
pub type SlackTarget = crate::chat::targets::ChatTarget;

/// The Slack chat adapter.
pub struct SlackChat {
    api: SlackApi,
    channel: String,
    /// `[slack].ops_channel`: where connector-health notices go, if set.
    ops_channel: Option<String>,
    /// `[slack].kudos_channel`: where kudos cards go, if set.
    kudos_channel: Option<String>,
    app_token: Option<String>,
    /// `[slack].signing_secret`: HTTP mode's request URLs are served when it is set.
    signing_secret: Option<String>,
    targets: Vec<SlackTarget>,
    store: Store,
    pacer: Pacer,
    records: PostRecords,
    names: Mutex<HashMap<String, String>>,
    /// The user groups `[permissions]` names (ids without the `slack-group:` prefix).
    permission_groups: Vec<String>,
    /// Members of those groups as last read, with when.
    group_members: Mutex<HashMap<String, (Instant, std::collections::HashSet<String>)>>,
    events: Mutex<Option<mpsc::Sender<ChatEvent>>>,
    /// The workspace's URL (`auth.test`), for links to cards; read once.
    workspace_url: tokio::sync::OnceCell<String>,
    /// Each network's public reply limit as its source counts it, for the Reply modal.
    limits: ReplyLimits,
    /// `[[replies.saved]]`, offered in the Reply modal.
    saved: Vec<SavedReply>,
    /// `[permissions]`, so Edit and Reject (approvers only) refuse at the click rather than
    /// after the form was filled in; the engine still checks the submit.
    permissions: Permissions,
    /// The brand's name, for those refusals.
    brand: String,
}

impl std::fmt::Debug for SlackChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens stay out of Debug output.
        f.debug_struct("SlackChat")
            .field("channel", &self.channel)
            .field("socket_mode", &self.app_token.is_some())
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

impl SlackChat {
    /// An adapter for `[slack]` with the configured escalation targets.
    pub fn new(
        settings: &SlackSettings,
        escalations: &[EscalationTarget],
        store: Store,
    ) -> Result<SlackChat, ChatError> {
        let api = SlackApi::new(&settings.base_url, settings.bot_token.expose())?;
        Ok(SlackChat {
            api,
            channel: settings.channel.clone(),
            ops_channel: settings.ops_channel.clone(),
            kudos_channel: settings.kudos_channel.clone(),
            app_token: settings
                .app_token
                .as_ref()
                .map(|token| token.expose().to_string()),
            signing_secret: settings
                .signing_secret
                .as_ref()
                .map(|secret| secret.expose().to_string()),
            targets: SlackTarget::from_config(escalations, |target| target.slack_channel.clone()),
            records: PostRecords::new(store.clone(), CHAT_NAME),
            store,
            pacer: Pacer::new(PACE_INTERVAL, PACE_BURST),
            names: Mutex::new(HashMap::new()),
            permission_groups: Vec::new(),
            group_members: Mutex::new(HashMap::new()),
            events: Mutex::new(None),
            workspace_url: tokio::sync::OnceCell::new(),
            limits: ReplyLimits::default(),
            saved: Vec::new(),
            permissions: Permissions::everyone(),
            brand: String::new(),
        })
    }

    /// `[permissions]` and the brand's name, so an approver's form (Edit, Reject) is not
    /// opened for someone the engine would refuse.
    pub fn with_permissions(mut self, permissions: Permissions, brand: &str) -> SlackChat {
        self.permissions = permissions;
        self.brand = brand.to_string();
        self
    }

    /// Offers these saved replies in the Reply modal.
    pub fn with_saved_replies(mut self, saved: Vec<SavedReply>) -> SlackChat {
        self.saved = saved;
        self
    }

    /// Shows each case's reply limit as its source counts it in the Reply modal (instead of
    /// the network's default).
    pub fn with_reply_limits(mut self, limits: ReplyLimits) -> SlackChat {
        self.limits = limits;
        self
    }

    /// HTTP mode's request URLs (`/slack/events`, `/slack/interactivity`, `/slack/commands`)
    /// for `[http].listen`, when a signing secret is configured.
    pub fn http_router(self: &Arc<Self>) -> Option<axum::Router> {
        let secret = self.signing_secret.clone()?;
        Some(http::router(self.clone(), secret))
    }

    /// Looks up membership of these user groups (ids, `S…`) for every click, so that
    /// `slack-group:` principals in `[permissions]` can match. Only these groups are read.
    pub fn with_permission_groups(mut self, groups: Vec<String>) -> SlackChat {
        self.permission_groups = groups;
        self
    }

    /// The `slack-group:` principals `user` belongs to, among the configured groups. Member
    /// lists are cached for [`GROUP_CACHE_TTL`]; when Slack can't be asked, a stale list is
    /// used if there is one, and otherwise the user counts as not a member (the engine then
    /// refuses, which is the safe side).
    ///
    /// With a `timeout` (a modal submit, which Slack wants answered within 3 s), all lookups
    /// together get that long; groups not read by then count from the cache, stale or not.
    async fn groups_of(&self, user: &str, timeout: Option<Duration>) -> Vec<String> {
        match timeout {
            None => self.read_groups_of(user).await,
            Some(limit) => match tokio::time::timeout(limit, self.read_groups_of(user)).await {
                Ok(groups) => groups,
                Err(_) => {
                    tracing::warn!(
                        chat = CHAT_NAME,
                        "Reading user groups timed out; using what is cached"
                    );
                    let cache = lock(&self.group_members);
                    self.permission_groups
                        .iter()
                        .filter(|group| {
                            cache
                                .get(*group)
                                .is_some_and(|(_, members)| members.contains(user))
                        })
                        .map(|group| format!("slack-group:{group}"))
                        .collect()
                }
            },
        }
    }

    async fn read_groups_of(&self, user: &str) -> Vec<String> {
        let mut groups = Vec::new();
        for group in &self.permission_groups {
            let cached = lock(&self.group_members).get(group).cloned();
            let members = match cached {
                Some((read_at, members)) if read_at.elapsed() < GROUP_CACHE_TTL => Some(members),
                stale => match self.api.usergroup_members(group).await {
                    Ok(users) => {
                        let members: std::collections::HashSet<String> =
                            users.into_iter().collect();
                        lock(&self.group_members)
                            .insert(group.clone(), (Instant::now(), members.clone()));
                        Some(members)
                    }
                    Err(error) => {
                        tracing::warn!(chat = CHAT_NAME, group = %group, error = %error, "Cannot read a user group's members");
                        stale.map(|(_, members)| members)
                    }
                },
            };
            if members.is_some_and(|members| members.contains(user)) {
                groups.push(format!("slack-group:{group}"));
            }
        }
        groups
    }

    /// `auth.test`: whether the bot token works, and for which workspace.
    pub async fn check(&self) -> Result<Identity, ChatError> {
        self.api.auth_test().await
    }

    /// Keeps the Socket Mode connection until `shutdown` fires, sending clicks to `events`.
    /// Without an app token (HTTP mode) there is nothing to connect; it just waits.
    pub async fn run(
        self: Arc<Self>,
        events: mpsc::Sender<ChatEvent>,
        shutdown: CancellationToken,
    ) {
        *lock(&self.events) = Some(events);
        let Some(app_token) = self.app_token.clone() else {
            shutdown.cancelled().await;
            lock(&self.events).take();
            return;
        };
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(self.api.client())
                .with_error_handler(log_listener_error),
        );
        let mut callbacks = SlackSocketModeListenerCallbacks::new();
        // Weak: slack-morphism's connection tasks may outlive the listener by a moment, and
        // they must not keep the adapter (and with it the store) alive after shutdown.
        let handler = Arc::downgrade(&self);
        callbacks.interaction_callback =
            Box::new(move |event: SlackInteractionEvent, _client, _state| {
                let handler = handler.upgrade();
                async move {
                    Ok(match handler {
                        Some(handler) => handler.on_interaction(event).await,
                        None => SlackInteractionResponse::Empty,
                    })
                }
            });
        let handler = Arc::downgrade(&self);
        callbacks.command_callback = Box::new(move |event: SlackCommandEvent, _client, _state| {
            let handler = handler.upgrade();
            async move {
                Ok(match handler {
                    Some(handler) => handler.on_command(event).await,
                    None => {
                        command_response("mentiondesk is shutting down; try again in a moment.")
                    }
                })
            }
        });
        let config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(1)
            .with_reconnect_timeout_in_seconds(1)
            .with_initial_backoff_in_seconds(1);
        let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
        let token = SlackApiToken::new(app_token.into());
        match listener.listen_for(&token).await {
            Ok(()) => {
                listener.start().await;
                tracing::info!(chat = CHAT_NAME, "Slack Socket Mode started");
                shutdown.cancelled().await;
                listener.shutdown().await;
            }
            Err(error) => {
                tracing::error!(chat = CHAT_NAME, error = %error, "Cannot start Slack Socket Mode");
                shutdown.cancelled().await;
            }
        }
        // Clicks arriving after this are not handed to the (draining) engine.
        lock(&self.events).take();
        tracing::info!(chat = CHAT_NAME, "Slack Socket Mode stopped");
    }

    /// Handles one `interactive` envelope; the answer is the envelope's ack payload.
    async fn on_interaction(
        self: Arc<Self>,
        event: SlackInteractionEvent,
    ) -> SlackInteractionResponse {
        match event {
            SlackInteractionEvent::BlockActions(event) => {
                self.on_block_actions(event).await;
                SlackInteractionResponse::Empty
            }
            SlackInteractionEvent::ViewSubmission(event) => self.on_view_submission(event).await,
            other => {
                tracing::debug!(chat = CHAT_NAME, kind = ?std::mem::discriminant(&other), "Interaction ignored");
                SlackInteractionResponse::Empty
            }
        }
    }

    /// Answers `/mentiondesk queue | mine | stats` privately; the answer is the envelope's ack
    /// payload (Socket Mode) or the HTTP response (HTTP mode). An answer that takes longer
    /// than [`COMMAND_ANSWER_TIMEOUT`] (a very large store) follows as a private message.
    async fn on_command(self: Arc<Self>, event: SlackCommandEvent) -> SlackCommandEventResponse {
        let command = commands::parse(event.text.as_deref().unwrap_or_default());
        let user = event.user_id.to_string();
        let channel = event.channel_id.to_string();
        tracing::debug!(chat = CHAT_NAME, command = ?command, "Slash command received");
        let store = self.store.clone();
        let agent_id = format!("{CHAT_NAME}:{user}");
        let asked = command.clone();
        let answering = tokio::task::spawn_blocking(move || {
            let context = CommandContext {
                chat: CHAT_NAME,
                agent_id: &agent_id,
                now: chrono::Utc::now(),
            };
            commands::answer_from_store(&store, &asked, context)
        });
        let workspace = self.workspace_url(Some(NAME_LOOKUP_TIMEOUT)).await;
        let name = event.command.to_string();
        let mut answering = answering;
        match tokio::time::timeout(COMMAND_ANSWER_TIMEOUT, &mut answering).await {
            Ok(answered) => {
                SlackCommandEventResponse::new(command_reply(answered, &name, workspace))
                    .with_response_type(SlackMessageResponseType::Ephemeral)
            }
            Err(_) => {
                let chat = self.clone();
                tokio::spawn(async move {
                    let workspace = chat.workspace_url(None).await;
                    let content = command_reply(answering.await, &name, workspace);
                    if let Err(error) = chat
                        .api
                        .post_ephemeral_content(&channel, &user, content)
                        .await
                    {
                        tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot send a command's answer");
                    }
                });
                command_response("Counting… the answer follows in a moment.")
            }
        }
    }

    /// The workspace's URL when the card links to the customer's last card in Slack (a repeat).
    async fn repeat_link_root(&self, card: &Card) -> Option<String> {
        let repeat = card.repeat.as_ref()?;
        repeat.last_cards.get(CHAT_NAME)?;
        self.workspace_url(Some(NAME_LOOKUP_TIMEOUT)).await
    }

    /// The workspace's URL from `auth.test` (read once, then cached); `None` if Slack can't
    /// say within `timeout`, and links to cards are left out.
    async fn workspace_url(&self, timeout: Option<Duration>) -> Option<String> {
        let read = self
            .workspace_url
            .get_or_try_init(|| async { self.api.auth_test().await.map(|identity| identity.url) });
        let found = match timeout {
            Some(limit) => tokio::time::timeout(limit, read).await.ok()?,
            None => read.await,
        };
        match found {
            Ok(url) => Some(url.clone()),
            Err(error) => {
                tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot read the workspace URL");
                None
            }
        }
    }

    async fn on_block_actions(self: &Arc<Self>, event: SlackInteractionBlockActionsEvent) {
        let Some(user) = event.user.clone() else {
            tracing::warn!(chat = CHAT_NAME, "Click without a user; skipped");
            return;
        };
        let channel = event
            .channel
            .as_ref()
            .map(|channel| channel.id.to_string())
            .or_else(|| match &event.container {
                SlackInteractionActionContainer::Message(message) => {
                    message.channel_id.as_ref().map(|id| id.to_string())
                }
                _ => None,
            })
            .unwrap_or_else(|| self.channel.clone());
        for action in event.actions.clone().unwrap_or_default() {
            if action.action_id.to_string() == render::SAVED_ACTION {
                // A saved reply picked inside an open Reply modal, not a card button.
                if let Some(option) = &action.selected_option {
                    self.fill_saved_reply(&event, &user, &option.value).await;
                }
                continue;
            }
            let value = action
                .value
                .clone()
                .or_else(|| action.selected_option.as_ref().map(|o| o.value.clone()));
            let Some(value) = value else { continue };
            let payload: Payload = match value.parse() {
                Ok(payload) => payload,
                Err(error) => {
                    tracing::warn!(chat = CHAT_NAME, error = %error, "Click with a bad payload; skipped");
                    continue;
                }
            };
            tracing::debug!(chat = CHAT_NAME, case_id = %payload.case, action = payload.kind.verb(), "Click received");
            if matches!(payload.kind, ActionKind::Edit | ActionKind::Reject) {
                let agent = self.agent(&user, Some(NAME_LOOKUP_TIMEOUT)).await;
                let action = ChatAction::Reject {
                    reason: String::new(),
                };
                if let Some((permission, message)) =
                    self.permissions.refusal(&action, &agent, &self.brand)
                {
                    tracing::warn!(chat = CHAT_NAME, case_id = %payload.case, agent = %agent.id, permission = permission.key(), "Form not opened: not permitted");
                    self.ephemeral(&channel, user.id.as_ref(), &message).await;
                    continue;
                }
            }
            match payload.kind {
                ActionKind::Reply | ActionKind::Edit => {
                    self.open_reply(
                        event.trigger_id.as_ref(),
                        user.id.as_ref(),
                        &channel,
                        payload,
                    )
                    .await;
                }
                ActionKind::Reject => {
                    let view = render::reject_modal(&payload.to_string(), &channel);
                    self.open_modal(event.trigger_id.as_ref(), user.id.as_ref(), &channel, view)
                        .await;
                }
                ActionKind::Escalate => {
                    let targets: Vec<(String, String)> = self
                        .targets
                        .iter()
                        .map(|target| (target.id.clone(), target.label.clone()))
                        .collect();
                    let view = render::escalate_modal(&payload.to_string(), &channel, &targets);
                    self.open_modal(event.trigger_id.as_ref(), user.id.as_ref(), &channel, view)
                        .await;
                }
                _ => {
                    let Some(request) = ActionRequest::from_button(payload) else {
                        continue;
                    };
                    // Acked now; the engine's answer is shown privately when it comes.
                    let chat = self.clone();
                    let user = user.clone();
                    let channel = channel.clone();
                    // A skipped post marked from `/mentiondesk skipped`: that private list is
                    // replaced by its current state afterwards.
                    let skipped_list = event
                        .response_url
                        .clone()
                        .filter(|_| payload.kind == ActionKind::MarkSkipped);
                    tokio::spawn(async move {
                        let agent = chat.agent(&user, None).await;
                        let Some(answer) = chat.send(agent, request).await else {
                            return;
                        };
                        if let Ok(Ok(outcome)) = tokio::time::timeout(ACTION_TIMEOUT, answer).await
                        {
                            if let Some(response_url) = &skipped_list {
                                chat.refresh_skipped(response_url).await;
                            }
                            chat.tell(&channel, user.id.as_ref(), &outcome).await;
                        }
                    });
                }
            }
        }
    }

    async fn open_reply(
        self: &Arc<Self>,
        trigger_id: &str,
        user: &str,
        channel: &str,
        payload: Payload,
    ) {
        let case = match self.store.case(payload.case) {
            Ok(Some(case)) => case,
            Ok(None) => {
                self.ephemeral(
                    channel,
                    user,
                    &format!("Case {} does not exist.", payload.case),
                )
                .await;
                return;
            }
            Err(error) => {
                tracing::error!(chat = CHAT_NAME, case_id = %payload.case, error = %error, "Cannot read case");
                self.ephemeral(
                    channel,
                    user,
                    "mentiondesk cannot read this case right now. Try again.",
                )
                .await;
                return;
            }
        };
        // Edit (approval mode) starts from the waiting draft; Reply from a failed or
        // rejected draft, else `@handle `.
        let draft = if payload.kind == ActionKind::Edit {
            case.awaiting_approval
                .as_ref()
                .map(|draft| draft.text.clone())
        } else {
            case.draft.as_ref().map(|draft| draft.text.clone())
        };
        let form = ReplyForm {
            payload: payload.to_string(),
            channel: channel.to_string(),
            handle: case.customer.handle.clone(),
            network: case.network,
            limit: self.limits.limit(&case),
            from_draft: draft.is_some() && payload.kind == ActionKind::Reply,
            initial: draft.unwrap_or_else(|| reply_prefill(&case)),
            saved: self.saved.iter().map(|saved| saved.name.clone()).collect(),
            chosen: None,
            text_block: render::REPLY_BLOCK.to_string(),
        };
        self.open_modal(trigger_id, user, channel, render::reply_modal(&form))
            .await;
    }

    /// A saved reply was picked in an open Reply modal: the modal is rendered again with the
    /// text filled in (by the domain, for this agent and case) under a new text block id, and
    /// replaces the open one through `views.update`.
    async fn fill_saved_reply(
        &self,
        event: &SlackInteractionBlockActionsEvent,
        user: &SlackBasicUserInfo,
        name: &str,
    ) {
        let SlackInteractionActionContainer::View(container) = &event.container else {
            return;
        };
        let Some(SlackView::Modal(modal)) = &event.view else {
            return;
        };
        let metadata: Option<FormMetadata> = modal
            .private_metadata
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok());
        let Some(payload) = metadata
            .as_ref()
            .and_then(|metadata| metadata.payload.parse::<Payload>().ok())
        else {
            tracing::warn!(
                chat = CHAT_NAME,
                "Saved reply picked in a modal that is not ours; skipped"
            );
            return;
        };
        let case = match self.store.case(payload.case) {
            Ok(Some(case)) => case,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(chat = CHAT_NAME, case_id = %payload.case, error = %error, "Cannot read case");
                return;
            }
        };
        let agent = self.agent(user, Some(NAME_LOOKUP_TIMEOUT)).await;
        let Some(text) = saved_reply_text(&self.saved, name, &case, &agent) else {
            tracing::warn!(chat = CHAT_NAME, "Unknown saved reply picked; skipped");
            return;
        };
        let current = modal
            .blocks
            .iter()
            .find_map(|block| match block {
                SlackBlock::Input(input) => input
                    .block_id
                    .as_ref()
                    .map(|id| id.to_string())
                    .filter(|id| render::is_text_block(id)),
                _ => None,
            })
            .unwrap_or_else(|| render::REPLY_BLOCK.to_string());
        let form = ReplyForm {
            payload: payload.to_string(),
            channel: metadata.map(|m| m.channel).unwrap_or_default(),
            handle: case.customer.handle.clone(),
            network: case.network,
            limit: self.limits.limit(&case),
            from_draft: false,
            initial: text,
            saved: self.saved.iter().map(|saved| saved.name.clone()).collect(),
            chosen: Some(name.to_string()),
            text_block: render::next_text_block(&current),
        };
        let view_id = container.view_id.to_string();
        if let Err(error) = self
            .api
            .views_update(&view_id, modal.hash.clone(), render::reply_modal(&form))
            .await
        {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot fill a saved reply in");
        }
    }

    /// Opens a modal; when Slack can't (the call gives up as the trigger expires), the person
    /// is told privately to click again. That word is sent in the background: the click's ack
    /// waits for this, and Slack wants it within 3 s.
    async fn open_modal(
        self: &Arc<Self>,
        trigger_id: &str,
        user: &str,
        channel: &str,
        view: SlackView,
    ) {
        if let Err(error) = self.api.views_open(trigger_id, view).await {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot open a modal");
            let chat = self.clone();
            let (channel, user) = (channel.to_string(), user.to_string());
            tokio::spawn(async move {
                chat.ephemeral(
                    &channel,
                    &user,
                    "Slack could not open the form. Click the button again.",
                )
                .await;
            });
        }
    }

    async fn on_view_submission(
        self: &Arc<Self>,
        event: SlackInteractionViewSubmissionEvent,
    ) -> SlackInteractionResponse {
        let SlackView::Modal(modal) = &event.view.view else {
            return SlackInteractionResponse::Empty;
        };
        let callback = modal
            .callback_id
            .as_ref()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let metadata: Option<FormMetadata> = modal
            .private_metadata
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok());
        let Some(metadata) = metadata else {
            tracing::warn!(
                chat = CHAT_NAME,
                callback,
                "Modal submit without our metadata; skipped"
            );
            return SlackInteractionResponse::Empty;
        };
        let payload: Payload = match metadata.payload.parse() {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(chat = CHAT_NAME, error = %error, "Modal submit with a bad payload; skipped");
                return SlackInteractionResponse::Empty;
            }
        };
        let Some(action) = form_action(payload.kind, &event.view) else {
            return SlackInteractionResponse::Empty;
        };
        // Errors about the reply text go under its block, renamed by each saved reply picked.
        let live_text_block = event
            .view
            .state_params
            .state
            .as_ref()
            .and_then(|state| {
                state
                    .values
                    .keys()
                    .map(|id| id.to_string())
                    .find(|id| render::is_text_block(id))
            })
            .unwrap_or_else(|| render::REPLY_BLOCK.to_string());
        let text_block = |block: &'static str| -> String {
            if block == render::REPLY_BLOCK {
                live_text_block.clone()
            } else {
                block.to_string()
            }
        };
        let request = ActionRequest {
            case: payload.case,
            version: payload.version,
            action,
        };
        let user = event.user.clone();
        let agent = self.agent(&user, Some(NAME_LOOKUP_TIMEOUT)).await;
        let Some(mut answer) = self.send(agent, request).await else {
            return errors(
                render::error_block("", &callback),
                "mentiondesk is shutting down; try again in a moment.",
            );
        };
        let outcome = match tokio::time::timeout(FORM_ANSWER_TIMEOUT, &mut answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => {
                return errors(
                    render::error_block("", &callback),
                    "mentiondesk stopped before answering; try again.",
                )
            }
            Err(_) => {
                // Too slow for the modal: close it and say how it went privately.
                let chat = self.clone();
                let channel = metadata.channel.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(outcome)) = tokio::time::timeout(ACTION_TIMEOUT, answer).await {
                        chat.tell(&channel, user.id.as_ref(), &outcome).await;
                    }
                });
                return SlackInteractionResponse::Empty;
            }
        };
        match outcome {
            ActionOutcome::Done { notice } => {
                if let Some(notice) = notice {
                    let chat = self.clone();
                    let channel = metadata.channel.clone();
                    let user = user.id.to_string();
                    tokio::spawn(async move { chat.ephemeral(&channel, &user, &notice).await });
                }
                SlackInteractionResponse::Empty
            }
            ActionOutcome::Invalid { field, message } => {
                errors(text_block(render::error_block(&field, &callback)), &message)
            }
            ActionOutcome::ConfirmPii { warning } => errors(
                text_block(render::REPLY_BLOCK),
                &format!("{warning} Tick “Post anyway” below and submit again to send it."),
            ),
            ActionOutcome::Refused { message } => {
                errors(text_block(render::error_block("", &callback)), &message)
            }
        }
    }

    /// Replaces the `/mentiondesk skipped` answer behind `response_url` with the list as it
    /// is now (a marked post shows its case instead of the button).
    async fn refresh_skipped(&self, response_url: &SlackResponseUrl) {
        let store = self.store.clone();
        let read = tokio::task::spawn_blocking(move || {
            commands::skipped_posts(&store, commands::SKIPPED_LISTED)
                .map(|posts| commands::CommandAnswer::Skipped { posts })
        })
        .await;
        let content = command_reply(read, "/mentiondesk", None);
        if let Err(error) = self.api.respond(response_url, content, true).await {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot update the skipped list");
        }
    }

    /// Sends a request to the engine; `None` when the engine is gone (shutting down).
    async fn send(
        &self,
        agent: Agent,
        request: ActionRequest,
    ) -> Option<oneshot::Receiver<ActionOutcome>> {
        let engine = lock(&self.events).clone();
        ChatEvent::send(engine, CHAT_NAME, agent, request).await
    }

    /// Shows an outcome to the person who acted, if there is something to say.
    async fn tell(&self, channel: &str, user: &str, outcome: &ActionOutcome) {
        let text = match outcome {
            ActionOutcome::Done {
                notice: Some(notice),
            } => notice.clone(),
            ActionOutcome::Done { notice: None } => return,
            ActionOutcome::Refused { message } => message.clone(),
            ActionOutcome::Invalid { message, .. } => message.clone(),
            ActionOutcome::ConfirmPii { warning } => warning.clone(),
        };
        self.ephemeral(channel, user, &text).await;
    }

    async fn ephemeral(&self, channel: &str, user: &str, text: &str) {
        if let Err(error) = self
            .api
            .post_ephemeral(channel, user, &render::escape(text))
            .await
        {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot send a private notice");
        }
    }

    /// The agent for a Slack user: `slack:<id>`, named by their display name (cached).
    async fn agent(&self, user: &SlackBasicUserInfo, timeout: Option<Duration>) -> Agent {
        let id = user.id.to_string();
        let cached = lock(&self.names).get(&id).cloned();
        let name = match cached {
            Some(name) => name,
            None => {
                let lookup = self.api.user_name(&id);
                let found = match timeout {
                    Some(limit) => tokio::time::timeout(limit, lookup).await.ok(),
                    None => Some(lookup.await),
                };
                match found {
                    Some(Ok(Some(name))) => {
                        lock(&self.names).insert(id.clone(), name.clone());
                        name
                    }
                    Some(Err(error)) => {
                        tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot look up a user's name");
                        fallback_name(user)
                    }
                    _ => fallback_name(user),
                }
            }
        };
        let groups = self.groups_of(&id, timeout).await;
        Agent {
            id: format!("{CHAT_NAME}:{id}"),
            name,
            groups,
        }
    }

    fn mention_for(&self, key: &str, channel: &str) -> Option<String> {
        crate::chat::targets::mention_for(&self.targets, key, channel)
    }

    /// Posts with the key's bookkeeping: found again if a previous attempt may have posted it,
    /// recorded once posted, the marker cleared when Slack certainly did not take it.
    async fn post_once(
        &self,
        key: &str,
        channel: &str,
        thread: Option<&str>,
        request: SlackApiChatPostMessageRequest,
    ) -> Result<MessageRef, ChatError> {
        if let Some(message) = self.records.recorded(key)? {
            tracing::debug!(chat = CHAT_NAME, key, "Already posted");
            return Ok(message);
        }
        if self.records.pending(key)? {
            let found = match thread {
                Some(parent) => self.api.find_in_thread(channel, parent, key).await?,
                None => self.api.find_in_history(channel, key).await?,
            };
            if let Some(found) = found {
                tracing::info!(chat = CHAT_NAME, key, ts = %found.ts, "Found a message posted before a restart");
                let message = MessageRef {
                    channel: channel.to_string(),
                    message: found.ts,
                    thread: None,
                };
                self.records.record(key, &message).await?;
                return Ok(message);
            }
        } else {
            self.records.set_pending(key)?;
        }
        self.pacer.wait(channel).await;
        match self.api.post_message(&request).await {
            Ok(ts) => {
                let message = MessageRef {
                    channel: channel.to_string(),
                    message: ts,
                    thread: None,
                };
                self.records.record(key, &message).await?;
                Ok(message)
            }
            Err(error) => {
                // Slack answered, so nothing was posted: no need to search next time.
                if matches!(
                    error,
                    ChatError::RateLimited { .. } | ChatError::Rejected(_)
                ) {
                    self.records.clear_pending(key);
                }
                Err(error)
            }
        }
    }
}

#[async_trait]
impl ChatAdapter for SlackChat {
    fn name(&self) -> &str {
        CHAT_NAME
    }

    fn may_have_posted(&self, key: &str) {
        self.records.may_have_posted(key);
    }

    fn main_channel(&self) -> String {
        self.channel.clone()
    }

    fn kudos_channel(&self) -> Option<String> {
        self.kudos_channel.clone()
    }

    fn escalation_channel(&self, target: &str) -> Option<String> {
        crate::chat::targets::channel_of(&self.targets, target)
    }

    async fn post_card(
        &self,
        key: &str,
        channel: &str,
        card: &Card,
    ) -> Result<MessageRef, ChatError> {
        let mention = self.mention_for(key, channel);
        let workspace = self.repeat_link_root(card).await;
        let message = render::card_message_linked(card, mention.as_deref(), workspace.as_deref());
        let content = SlackMessageContent::new()
            .with_text(message.text)
            .with_blocks(message.blocks)
            .with_metadata(api::metadata(key, message_about(card)));
        let request = SlackApiChatPostMessageRequest::new(channel.into(), content)
            .with_unfurl_links(false)
            .with_unfurl_media(false);
        let posted = self.post_once(key, channel, None, request).await?;
        tracing::info!(chat = CHAT_NAME, channel, card = %card.subject(), ts = %posted.message, "Card posted");
        Ok(posted)
    }

    async fn update_card(&self, message: &MessageRef, card: &Card) -> Result<(), ChatError> {
        let workspace = self.repeat_link_root(card).await;
        let rendered = render::card_message_linked(card, None, workspace.as_deref());
        let content = SlackMessageContent::new()
            .with_text(rendered.text)
            .with_blocks(rendered.blocks);
        let request = SlackApiChatUpdateRequest::new(
            message.channel.clone().into(),
            content,
            message.message.clone().into(),
        );
        self.api.update(&request).await?;
        tracing::debug!(chat = CHAT_NAME, channel = %message.channel, card = %card.subject(), "Card updated");
        Ok(())
    }

    async fn post_thread(
        &self,
        key: &str,
        parent: &MessageRef,
        note: &ThreadNote,
    ) -> Result<(), ChatError> {
        let text = render::note_text(note);
        let case = case_of_key(key);
        let content = SlackMessageContent::new()
            .with_text(text)
            .with_metadata(api::metadata(key, api::MessageAbout::Case(case)));
        let request = SlackApiChatPostMessageRequest::new(parent.channel.clone().into(), content)
            .with_thread_ts(parent.message.clone().into())
            .with_unfurl_links(false)
            .with_unfurl_media(false);
        self.post_once(key, &parent.channel, Some(&parent.message), request)
            .await
            .map(|_| ())
    }

    async fn post_notice(&self, text: &str) -> Result<(), ChatError> {
        let Some(channel) = &self.ops_channel else {
            return Ok(());
        };
        self.pacer.wait(channel).await;
        let content = SlackMessageContent::new().with_text(render::escape(text));
        let request = SlackApiChatPostMessageRequest::new(channel.clone().into(), content)
            .with_unfurl_links(false)
            .with_unfurl_media(false);
        self.api.post_message(&request).await.map(|_| ())
    }

    /// The digest task records what was posted (and looks for an unrecorded post with
    /// `find_digest`), so no record is kept here: Slack has no idempotency key for file shares.
    async fn post_digest(&self, channel: &str, digest: &Digest) -> Result<(), ChatError> {
        self.pacer.wait(channel).await;
        let comment = format!(
            "*{}*\n{}",
            render::escape(&digest.title),
            render::escape(&digest.text)
        );
        let file = self
            .api
            .upload_file(
                channel,
                &digest.filename,
                &digest.title,
                &comment,
                &digest.png,
            )
            .await?;
        tracing::debug!(chat = CHAT_NAME, channel, file = %file, week = %digest.week, "Weekly digest shared");
        Ok(())
    }

    /// The file share of the digest's chart (its file name carries the week) by this bot, in
    /// `conversations.history` from `since` (`channels:history` / `groups:history`).
    async fn find_digest(
        &self,
        channel: &str,
        digest: &Digest,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, ChatError> {
        let bot = self.api.auth_test().await?.user_id;
        let found = self
            .api
            .find_file_share(channel, &digest.filename, &bot, since)
            .await?;
        Ok(found.map(|found| found.ts))
    }
}

/// The case number in a key like `case-7-event-3`.
/// What a card's message is about: a kudos card's `case_id` carries its kudos id.
fn message_about(card: &Card) -> api::MessageAbout {
    match card.kind {
        crate::domain::CardKind::Kudos => api::MessageAbout::Kudos(card.case_id.0),
        _ => api::MessageAbout::Case(card.case_id.0),
    }
}

fn case_of_key(key: &str) -> u64 {
    key.strip_prefix("case-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or(0)
}

fn fallback_name(user: &SlackBasicUserInfo) -> String {
    user.name
        .clone()
        .or_else(|| user.username.clone())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| user.id.to_string())
}

/// The message answering a command (text, and blocks when it has buttons), or what went
/// wrong in words for the person.
fn command_reply(
    answered: Result<
        Result<commands::CommandAnswer, crate::store::StoreError>,
        tokio::task::JoinError,
    >,
    command: &str,
    workspace: Option<String>,
) -> SlackMessageContent {
    let text = match answered {
        Ok(Ok(answer)) => {
            let content = SlackMessageContent::new().with_text(render::command_text(
                &answer,
                command,
                workspace.as_deref(),
            ));
            return match render::command_blocks(&answer) {
                Some(blocks) => content.with_blocks(blocks),
                None => content,
            };
        }
        Ok(Err(error)) => {
            tracing::error!(chat = CHAT_NAME, error = %error, "Cannot read cases for a command");
            "mentiondesk cannot read its cases right now. Try again."
        }
        Err(error) => {
            tracing::error!(chat = CHAT_NAME, error = %error, "A command failed");
            "mentiondesk could not answer that. Try again."
        }
    };
    SlackMessageContent::new().with_text(text.to_string())
}

/// A slash command's private answer.
fn command_response(text: &str) -> SlackCommandEventResponse {
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text.to_string()))
        .with_response_type(SlackMessageResponseType::Ephemeral)
}

fn errors(block: impl Into<String>, message: &str) -> SlackInteractionResponse {
    let errors = [(block.into(), render::fit(message, 2000))]
        .into_iter()
        .collect();
    SlackInteractionResponse::ViewSubmission(SlackViewSubmissionResponse::Errors(
        SlackViewSubmissionErrorsResponse::new(errors),
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn log_listener_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackClient<api::Connector>>,
    _state: SlackClientEventsUserState,
) -> HttpStatusCode {
    tracing::warn!(chat = CHAT_NAME, error = %error, "Slack Socket Mode error");
    HttpStatusCode::OK
}

/// Entry points for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub mod fuzz;

/// The action a submitted Reply or Escalate modal asks for, read from the view's state (one
/// input per block); `None` for any other kind of form.
pub(crate) fn form_action(kind: ActionKind, view: &SlackStatefulView) -> Option<ChatAction> {
    let values = view
        .state_params
        .state
        .as_ref()
        .map(|state| state.values.clone())
        .unwrap_or_default();
    let input = |block: &str| {
        values
            .iter()
            .find(|(id, _)| id.to_string() == block)
            .and_then(|(_, actions)| actions.values().next().cloned())
    };
    let action = match kind {
        ActionKind::Reply | ActionKind::Edit => ChatAction::Reply {
            text: values
                .iter()
                .find(|(id, _)| render::is_text_block(id.as_ref()))
                .and_then(|(_, actions)| actions.values().next().cloned())
                .and_then(|value| value.value)
                .unwrap_or_default(),
            confirm_pii: input(render::CONFIRM_BLOCK)
                .and_then(|value| value.selected_options)
                .is_some_and(|options| {
                    options
                        .iter()
                        .any(|option| option.value == render::CONFIRM_VALUE)
                }),
        },
        ActionKind::Reject => ChatAction::Reject {
            reason: input(render::REASON_BLOCK)
                .and_then(|value| value.value)
                .unwrap_or_default(),
        },
        ActionKind::Escalate => ChatAction::Escalate {
            target: input(render::TARGET_BLOCK)
                .and_then(|value| value.selected_option)
                .map(|option| option.value)
                .unwrap_or_default(),
            note: input(render::NOTE_BLOCK)
                .and_then(|value| value.value)
                .unwrap_or_default(),
        },
        _ => return None,
    };
    // Edit's form is the Reply form; its submit approves the edited text.
    Some(match (kind, action) {
        (ActionKind::Edit, ChatAction::Reply { text, confirm_pii }) => {
            ChatAction::Edit { text, confirm_pii }
        }
        (_, action) => action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_case() {
        assert_eq!(case_of_key("case-7"), 7);
        assert_eq!(case_of_key("case-12-event-3"), 12);
        assert_eq!(case_of_key("other"), 0);
    }
}
