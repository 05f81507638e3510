//! Discord: cards as embeds with buttons, clicks and modals over the gateway, notes in a thread
//! started from the card.
//!
//! `DiscordChat` implements [`ChatAdapter`] on serenity's `Http` and renders cards with
//! `render.rs`. [`DiscordChat::run`] keeps a gateway connection (a serenity `Client` with only
//! the `GUILDS` intent, started from and shut down with our token via
//! `ShardManager::shutdown_all`) and turns `INTERACTION_CREATE` into `ChatEvent`s:
//!
//! - a button (Claim, Unclaim, Resolve, Not a complaint, Reopen) is handed to the actions
//!   engine and answered with its outcome when that comes within 2 s (Discord allows 3 s for
//!   the first response): UPDATE_MESSAGE (type 7) with the card re-rendered from the store, or
//!   for a refusal ("Already claimed by Ana.") a message only that person sees (type 4, flag
//!   64). When the engine is late the click gets a deferred update (type 6) and any message
//!   comes as an ephemeral follow-up; the outbox edits the card in every case;
//! - Reply publicly and Escalate answer with their modal, which must be the first response, or
//!   with a private refusal when `[permissions]` would refuse the submit (the engine checks
//!   the submit again);
//! - `/mentiondesk queue | mine | stats | skipped` (a guild command registered at the first
//!   READY with a bulk overwrite) is answered privately from `chat::commands`; `skipped` comes
//!   with a "Mark N as complaint" button per waiting post;
//! - a modal submit is acknowledged, then handed to the engine. Discord cannot keep a modal open
//!   with errors, so a wrong reply (too long, personal data) comes back as an ephemeral message
//!   and the typed text is kept in the store's chat area: the next Reply modal starts from it.
//!
//! Posting is idempotent on the key the outbox gives: every create carries a `nonce` derived
//! from the key with `enforce_nonce` (Discord returns the earlier message for a repeated nonce
//! within a few minutes), and the adapter records the key before and after posting in the
//! store's chat area. A key that was being posted when the process died is looked up in the
//! channel's recent messages (cards by the key in their footer, notes by their text) before
//! anything is posted again. Posts are paced per channel (one every 1.1 s, under five per five
//! seconds); in
//! production serenity's rate limiter waits out Discord's buckets, and a 429 that still comes
//! back is `RateLimited` for the outbox. With the rate limiter off (a proxy, the test fake) the
//! server's `retry_after` cannot be read: serenity 0.12.5's `ErrorResponse` keeps only the
//! status and the body's `code`, `message` and `errors`, so a default wait is used.

pub mod render;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use serenity::all::{
    ActionRowComponent, ApplicationId, Builder, Channel, ChannelId, ClientBuilder,
    CommandInteraction, ComponentInteraction, ComponentInteractionDataKind, Context,
    CreateAllowedMentions, CreateAttachment, CreateEmbed, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    CreateThread, EditInteractionResponse, EditMessage, EventHandler, GatewayIntents, GetMessages,
    GuildId, Http, HttpBuilder, Interaction, Member, Message, MessageId, ModalInteraction, Nonce,
    Ready, ResumedEvent, User,
};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::chat::commands::{self, CommandAnswer, CommandContext};
use crate::chat::delivery::{Pacer, PostRecords};
use crate::chat::limits::ReplyLimits;
use crate::chat::{ActionOutcome, ChatAdapter, ChatError, ChatEvent, MessageRef};
use crate::config::{DiscordSettings, EscalationTarget, DEFAULT_DISCORD_BASE_URL};
use crate::digest::Digest as WeeklyDigest;
use crate::domain::{
    case_card, reply_prefill, saved_reply_text, ActionKind, ActionRequest, Agent, Card, CardKind,
    CaseId, ChatAction, NoteMention, Payload, Permissions, SavedReply, ThreadNote,
};
use crate::store::{Store, StoreError};
use render::ReplyForm;

/// The adapter's name in config and in the cases' chat refs.
pub const CHAT_NAME: &str = "discord";

/// The permissions the bot needs, as Discord's bit values: View Channel (1 << 10), Send
/// Messages (1 << 11), Embed Links (1 << 14), Read Message History (1 << 16), Create Public
/// Threads (1 << 35), Send Messages in Threads (1 << 38).
pub const PERMISSIONS: u64 = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16) | (1 << 35) | (1 << 38);

/// How long a click waits for the actions engine before giving up on telling the person.
const ACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a button click waits for the engine before deferring: well under the 3 s Discord
/// gives the first response, leaving room for the callback request itself.
const CLICK_ANSWER_BOUND: Duration = Duration::from_secs(2);

/// One message every 1.1 s per channel: within Discord's five per five seconds per channel,
/// with a margin for requests that arrive a little apart from when they were sent...
const PACE_INTERVAL: Duration = Duration::from_millis(1100);
/// ...and no burst, so no five-second window ever holds a sixth message.
const PACE_BURST: u32 = 1;

/// How many recent messages are searched for our own after a crash.
const RECOVERY_MESSAGES: u8 = 100;
/// Pages of [`RECOVERY_MESSAGES`] searched for a weekly digest posted before a restart.
const DIGEST_SEARCH_PAGES: usize = 5;

/// Discord's JSON error code for "a thread has already been created for this message".
const THREAD_EXISTS: isize = 160_004;

/// How long to wait on a 429 that came back without the rate limiter (behind a proxy): the
/// server's `retry_after` (body) and `Retry-After` (header) are dropped by serenity 0.12.5's
/// `ErrorResponse`, so the outbox waits this and tries again (another 429 waits again).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long one REST call may take. Serenity's own client has none, so a request Discord never
/// answers would hold the card lane forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Store key prefixes in the adapter's chat area.
const THREAD_PREFIX: &str = "t/";
const DRAFT_PREFIX: &str = "d/";

/// An escalation target as Discord sees it.
pub type DiscordTarget = crate::chat::targets::ChatTarget;

/// Who the bot token belongs to (`GET /users/@me`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The bot user's (and application's) id.
    pub user_id: u64,
    /// The bot's user name.
    pub name: String,
}

/// The Discord chat adapter.
pub struct DiscordChat {
    http: Arc<Http>,
    settings: DiscordSettings,
    targets: Vec<DiscordTarget>,
    store: Store,
    pacer: Pacer,
    records: PostRecords,
    events: Mutex<Option<mpsc::Sender<ChatEvent>>>,
    permissions: Permissions,
    brand: String,
    registered: std::sync::atomic::AtomicBool,
    click_bound: Duration,
    limits: ReplyLimits,
    /// The office's time zone: due times on cards re-rendered for a click are shown in it.
    zone: Option<jiff::tz::TimeZone>,
    /// `[[replies.saved]]`, offered before the Reply modal opens.
    saved: Vec<SavedReply>,
}

impl std::fmt::Debug for DiscordChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays out of Debug output.
        f.debug_struct("DiscordChat")
            .field("channel", &self.settings.channel)
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

/// Serenity's HTTP client for `[discord]`: its rate limiter in production; pointed at
/// `base_url` with the rate limiter off when the config asks for that (a proxy, a test fake).
pub fn http_client(settings: &DiscordSettings) -> Http {
    let mut builder = HttpBuilder::new(settings.bot_token.expose());
    match reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(REQUEST_TIMEOUT)
        .build()
    {
        Ok(client) => builder = builder.client(client),
        Err(error) => {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot build an HTTP client with a timeout; using serenity's")
        }
    }
    let base = settings.base_url.trim_end_matches('/');
    if !settings.ratelimiter {
        builder = builder.ratelimiter_disabled(true);
        if base != DEFAULT_DISCORD_BASE_URL {
            builder = builder.proxy(base);
        }
    }
    builder.build()
}

/// The invite URL that adds the bot with exactly [`PERMISSIONS`].
pub fn invite_url(settings: &DiscordSettings, application_id: u64) -> String {
    format!(
        "{}/oauth2/authorize?client_id={application_id}&scope=bot&permissions={PERMISSIONS}",
        settings.base_url.trim_end_matches('/')
    )
}

/// `GET /users/@me`: whether the token works, and whose it is.
pub async fn check(settings: &DiscordSettings) -> Result<Identity, ChatError> {
    let http = http_client(settings);
    let user = http.get_current_user().await.map_err(chat_error)?;
    Ok(Identity {
        user_id: user.id.get(),
        name: user.name.clone(),
    })
}

impl DiscordChat {
    /// An adapter for `[discord]` with the configured escalation targets.
    pub fn new(
        settings: &DiscordSettings,
        escalations: &[EscalationTarget],
        store: Store,
    ) -> DiscordChat {
        DiscordChat {
            http: Arc::new(http_client(settings)),
            settings: settings.clone(),
            targets: DiscordTarget::from_config(escalations, |target| {
                target.discord_channel.clone()
            }),
            records: PostRecords::new(store.clone(), CHAT_NAME),
            store,
            pacer: Pacer::new(PACE_INTERVAL, PACE_BURST),
            events: Mutex::new(None),
            permissions: Permissions::everyone(),
            brand: String::new(),
            registered: std::sync::atomic::AtomicBool::new(false),
            click_bound: CLICK_ANSWER_BOUND,
            limits: ReplyLimits::default(),
            zone: None,
            saved: Vec::new(),
        }
    }

    /// Offers these saved replies when Reply publicly is clicked.
    pub fn with_saved_replies(mut self, saved: Vec<SavedReply>) -> DiscordChat {
        self.saved = saved;
        self
    }

    /// The sources' reply limits, so the Reply form allows what the engine accepts (a
    /// Mastodon instance may allow more than the network's default).
    pub fn with_reply_limits(mut self, limits: ReplyLimits) -> DiscordChat {
        self.limits = limits;
        self
    }

    /// Shows due times on re-rendered cards in `zone` (as the outbox does), not UTC.
    pub fn with_zone(mut self, zone: Option<jiff::tz::TimeZone>) -> DiscordChat {
        self.zone = zone;
        self
    }

    /// The case's card as the outbox renders it for this chat (due times in the office zone).
    fn case_card(
        &self,
        case: &crate::domain::Case,
        context: &crate::domain::CustomerContext,
    ) -> Card {
        let mut card = case_card(case, context);
        if let Some(zone) = &self.zone {
            card.state_line = crate::domain::state_line_in(case, zone);
        }
        card
    }

    /// How long a click or command waits for its answer before deferring (default
    /// [`CLICK_ANSWER_BOUND`]; tests shorten it to see the deferred path).
    pub fn with_click_bound(mut self, bound: Duration) -> DiscordChat {
        self.click_bound = bound;
        self
    }

    /// `[permissions]` and the brand's name, so Reply and Escalate refuse at the click (before
    /// a form is opened) those the engine would refuse at the submit.
    pub fn with_permissions(mut self, permissions: Permissions, brand: &str) -> DiscordChat {
        self.permissions = permissions;
        self.brand = brand.to_string();
        self
    }

    /// Keeps the gateway connection until `shutdown` fires, sending clicks to `events`.
    pub async fn run(
        self: Arc<Self>,
        events: mpsc::Sender<ChatEvent>,
        shutdown: CancellationToken,
    ) {
        *lock(&self.events) = Some(events);
        let handler = Handler {
            // Weak: serenity's shard tasks may outlive the client by a moment, and they must
            // not keep the adapter (and with it the store) alive after shutdown.
            chat: Arc::downgrade(&self),
        };
        // The client needs its own Http (it takes it by value); same settings as ours.
        let built =
            ClientBuilder::new_with_http(http_client(&self.settings), GatewayIntents::GUILDS)
                .event_handler(handler)
                .await;
        match built {
            Ok(mut client) => {
                let shards = client.shard_manager.clone();
                tokio::select! {
                    result = client.start() => {
                        if let Err(error) = result {
                            tracing::error!(chat = CHAT_NAME, error = %error, "Discord gateway stopped");
                        }
                        shutdown.cancelled().await;
                    }
                    () = shutdown.cancelled() => {
                        shards.shutdown_all().await;
                    }
                }
            }
            Err(error) => {
                tracing::error!(chat = CHAT_NAME, error = %error, "Cannot start the Discord gateway client");
                shutdown.cancelled().await;
            }
        }
        // Clicks arriving after this are not handed to the (draining) engine.
        lock(&self.events).take();
        tracing::info!(chat = CHAT_NAME, "Discord gateway stopped");
    }

    async fn on_interaction(self: Arc<Self>, http: Arc<Http>, interaction: Interaction) {
        match interaction {
            Interaction::Component(click) => self.on_click(&http, click).await,
            Interaction::Modal(submit) => self.on_submit(&http, submit).await,
            Interaction::Command(command) => self.on_command(&http, command).await,
            other => {
                tracing::debug!(chat = CHAT_NAME, kind = ?other.kind(), "Interaction ignored");
            }
        }
    }

    async fn on_click(self: &Arc<Self>, http: &Arc<Http>, click: ComponentInteraction) {
        if let Some(payload) = click.data.custom_id.strip_prefix(render::SAVED_PICKER) {
            let payload = payload.to_string();
            self.on_saved_reply_pick(http, &click, &payload).await;
            return;
        }
        let payload: Payload = match click.data.custom_id.parse() {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(chat = CHAT_NAME, error = %error, "Click with a bad custom_id; skipped");
                return;
            }
        };
        let agent = agent(&click.user, click.member.as_ref());
        tracing::debug!(chat = CHAT_NAME, case_id = %payload.case, action = payload.kind.verb(), agent = %agent.id, roles = ?roles(click.member.as_ref()), "Click received");
        let response = match payload.kind {
            ActionKind::Reject => match self.refusal(&payload, &agent) {
                Some(message) => ephemeral_response(&message),
                None => {
                    CreateInteractionResponse::Modal(render::reject_modal(&payload.to_string()))
                }
            },
            ActionKind::Reply | ActionKind::Escalate | ActionKind::Edit => {
                // A form nobody may submit is not opened: the engine would refuse the submit
                // anyway (it checks again), and the typed text would be lost.
                if let Some(message) = self.refusal(&payload, &agent) {
                    ephemeral_response(&message)
                } else if payload.kind == ActionKind::Reply && !self.saved.is_empty() {
                    let names: Vec<String> =
                        self.saved.iter().map(|saved| saved.name.clone()).collect();
                    CreateInteractionResponse::Message(render::saved_reply_picker(
                        &payload.to_string(),
                        &names,
                    ))
                } else if matches!(payload.kind, ActionKind::Reply | ActionKind::Edit) {
                    match self.reply_form(&payload, &agent, None) {
                        Ok(form) => CreateInteractionResponse::Modal(render::reply_modal(&form)),
                        Err(message) => ephemeral_response(&message),
                    }
                } else {
                    let targets: Vec<(String, String)> = self
                        .targets
                        .iter()
                        .map(|target| (target.id.clone(), target.label.clone()))
                        .collect();
                    CreateInteractionResponse::Modal(render::escalate_modal(
                        &payload.to_string(),
                        &targets,
                    ))
                }
            }
            _ => {
                if let Some(request) = ActionRequest::from_button(payload) {
                    self.on_button(http, &click, agent, request).await;
                }
                return;
            }
        };
        if let Err(error) = click.create_response(http, response).await {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot answer a click with a modal");
        }
    }

    /// A choice in the saved-reply picker: answered with the Reply modal (type 9), its text
    /// the saved reply filled in by the domain for this agent and case, or the usual start
    /// for "Write my own".
    async fn on_saved_reply_pick(
        &self,
        http: &Arc<Http>,
        click: &ComponentInteraction,
        payload: &str,
    ) {
        let payload: Payload = match payload.parse::<Payload>() {
            Ok(payload) if payload.kind == ActionKind::Reply => payload,
            _ => {
                tracing::warn!(
                    chat = CHAT_NAME,
                    "Saved-reply pick with a bad custom_id; skipped"
                );
                return;
            }
        };
        let chosen = match &click.data.kind {
            ComponentInteractionDataKind::StringSelect { values } => values.first().cloned(),
            _ => None,
        };
        let saved = chosen
            .as_deref()
            .and_then(|value| value.strip_prefix(render::SAVED_VALUE));
        let agent = agent(&click.user, click.member.as_ref());
        let response = if let Some(message) = self.refusal(&payload, &agent) {
            ephemeral_response(&message)
        } else {
            match self.reply_form(&payload, &agent, saved) {
                Ok(form) => CreateInteractionResponse::Modal(render::reply_modal(&form)),
                Err(message) => ephemeral_response(&message),
            }
        };
        if let Err(error) = click.create_response(http, response).await {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot answer a saved-reply pick");
        }
    }

    /// The refusal for opening the Reply or Escalate form, when `[permissions]` says no.
    fn refusal(&self, payload: &Payload, agent: &Agent) -> Option<String> {
        let action = match payload.kind {
            ActionKind::Reply => ChatAction::Reply {
                text: String::new(),
                confirm_pii: false,
            },
            ActionKind::Escalate => ChatAction::Escalate {
                target: String::new(),
                note: String::new(),
            },
            ActionKind::Edit => ChatAction::Edit {
                text: String::new(),
                confirm_pii: false,
            },
            ActionKind::Reject => ChatAction::Reject {
                reason: String::new(),
            },
            _ => return None,
        };
        let (permission, message) = self.permissions.refusal(&action, agent, &self.brand)?;
        tracing::warn!(chat = CHAT_NAME, case_id = %payload.case, agent = %agent.id, permission = permission.key(), "Form not opened: not permitted");
        Some(message)
    }

    /// Claim, Unclaim, Resolve, Not a complaint, Reopen. When the engine answers within
    /// [`CLICK_ANSWER_BOUND`] the click is answered with its result: the re-rendered card
    /// (UPDATE_MESSAGE) or, for a refusal, a message only that person sees. When it is late the
    /// click is deferred (Discord allows 3 s), the outbox edits the card, and any message comes
    /// as an ephemeral follow-up.
    async fn on_button(
        &self,
        http: &Arc<Http>,
        click: &ComponentInteraction,
        agent: Agent,
        request: ActionRequest,
    ) {
        let case = request.case;
        let skipped = request.action == ChatAction::MarkSkipped;
        let Some(mut answer) = self.send(agent, request).await else {
            // Shutting down: ack so the person's client does not show a failure.
            if let Err(error) = click
                .create_response(http, CreateInteractionResponse::Acknowledge)
                .await
            {
                tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot acknowledge a click");
            }
            return;
        };
        let outcome = match tokio::time::timeout(self.click_bound, &mut answer).await {
            Ok(outcome) => outcome.ok(),
            Err(_) => {
                tracing::debug!(chat = CHAT_NAME, case_id = %case, "Engine late; deferring the click");
                if let Err(error) = click
                    .create_response(http, CreateInteractionResponse::Acknowledge)
                    .await
                {
                    tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot acknowledge a click");
                }
                let late = tokio::time::timeout(ACTION_TIMEOUT, answer).await;
                if let Some(text) = late
                    .ok()
                    .and_then(Result::ok)
                    .as_ref()
                    .and_then(outcome_text)
                {
                    followup(http, &click.token, &text).await;
                }
                return;
            }
        };
        let (response, shown, notice) = match &outcome {
            // A skipped post marked from `/mentiondesk skipped`: the list, brought up to date.
            Some(ActionOutcome::Done { notice }) if skipped => match self.skipped_answer() {
                Some(message) => (
                    CreateInteractionResponse::UpdateMessage(message),
                    None,
                    notice.clone(),
                ),
                None => (CreateInteractionResponse::Acknowledge, None, notice.clone()),
            },
            Some(ActionOutcome::Done { notice }) => match self.current_card(case, &click.message) {
                Some((message, version)) => (
                    CreateInteractionResponse::UpdateMessage(message),
                    Some(version),
                    notice.clone(),
                ),
                None => (CreateInteractionResponse::Acknowledge, None, notice.clone()),
            },
            Some(other) => match outcome_text(other) {
                Some(text) => (ephemeral_response(&text), None, None),
                None => (CreateInteractionResponse::Acknowledge, None, None),
            },
            None => (CreateInteractionResponse::Acknowledge, None, None),
        };
        if let Err(error) = click.create_response(http, response).await {
            tracing::warn!(chat = CHAT_NAME, case_id = %case, error = %error, "Cannot answer a click");
            return;
        }
        if let Some(version) = shown {
            self.catch_up(case, version).await;
        }
        if let Some(text) = notice {
            followup(http, &click.token, &text).await;
        }
    }

    /// The answer to `/mentiondesk skipped` as it is now, for an UPDATE_MESSAGE answer to a
    /// click on one of its buttons; `None` if the store cannot be read (the click is then
    /// only acknowledged).
    fn skipped_answer(&self) -> Option<CreateInteractionResponseMessage> {
        let posts = commands::skipped_posts(&self.store, commands::SKIPPED_LISTED)
            .map_err(|error| {
                tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot read skipped posts for the click answer");
            })
            .ok()?;
        let answer = CommandAnswer::Skipped { posts };
        let (title, description) = render::command_answer(&answer, &|_| None);
        Some(
            CreateInteractionResponseMessage::new()
                .embed(CreateEmbed::new().title(title).description(description))
                .components(render::command_components(&answer)),
        )
    }

    /// The case's card as it is now, for an UPDATE_MESSAGE answer, and the case version it
    /// shows; `None` when the clicked message is not the case's card here (the outbox edits it).
    fn current_card(
        &self,
        case: CaseId,
        clicked: &Message,
    ) -> Option<(CreateInteractionResponseMessage, u64)> {
        let case = match self.store.case(case) {
            Ok(Some(case)) => case,
            Ok(None) => return None,
            Err(error) => {
                tracing::warn!(chat = CHAT_NAME, case_id = %case, error = %error, "Cannot read case for the click answer");
                return None;
            }
        };
        // The case card: its footer names the key (the store's ref may not be recorded yet
        // when a click comes right after the post).
        let key = format!("case-{}", case.id.0);
        let by_footer = clicked.embeds.iter().any(|embed| {
            embed
                .footer
                .as_ref()
                .is_some_and(|footer| footer.text.ends_with(&format!(" {key}")))
        });
        let by_ref = case
            .chat_refs
            .get(CHAT_NAME)
            .is_some_and(|posted| posted.message == clicked.id.to_string());
        if !by_footer && !by_ref {
            return None;
        }
        let context = self
            .store
            .customer_context(&case)
            .map_err(|error| {
                tracing::warn!(chat = CHAT_NAME, case_id = %case.id, error = %error, "Cannot read the customer's context");
            })
            .ok()?;
        let card = self.case_card(&case, &context);
        let rendered = render::card_message(&card, &key, None);
        let message = CreateInteractionResponseMessage::new()
            .embed(rendered.embed)
            .components(rendered.components);
        Some((message, case.version))
    }

    /// After answering with a card of `shown` version: if the case moved on meanwhile (another
    /// click whose edit may have landed before ours), edit the card to the newest version so
    /// an older answer never stays on screen. The outbox's own sync of each version still runs.
    async fn catch_up(&self, case: CaseId, shown: u64) {
        let Ok(Some(current)) = self.store.case(case) else {
            return;
        };
        if current.version == shown {
            return;
        }
        let (Some(message), Ok(context)) = (
            current.chat_refs.get(CHAT_NAME),
            self.store.customer_context(&current),
        ) else {
            return;
        };
        if let Err(error) = self
            .update_card(message, &self.case_card(&current, &context))
            .await
        {
            tracing::warn!(chat = CHAT_NAME, case_id = %case, error = %error, "Cannot bring a card up to date after a click");
        }
    }

    /// `/mentiondesk queue | mine | stats`: answered with a message only the asker sees. The
    /// answer is read from the store within [`CLICK_ANSWER_BOUND`]; when that is not enough
    /// (a very large store) the command is deferred and the answer edited in.
    async fn on_command(&self, http: &Arc<Http>, command: CommandInteraction) {
        if command.data.name != render::COMMAND_NAME {
            tracing::debug!(chat = CHAT_NAME, name = %command.data.name, "Command that is not ours; skipped");
            return;
        }
        let word = command
            .data
            .options
            .first()
            .map(|option| option.name.clone())
            .unwrap_or_default();
        let parsed = commands::parse(&word);
        let agent = agent(&command.user, command.member.as_deref());
        tracing::debug!(chat = CHAT_NAME, command = ?parsed, agent = %agent.id, "Command received");
        let store = self.store.clone();
        let mut work = tokio::task::spawn_blocking(move || {
            let context = CommandContext {
                chat: CHAT_NAME,
                agent_id: &agent.id,
                now: chrono::Utc::now(),
            };
            commands::answer_from_store(&store, &parsed, context)
        });
        let base = self.settings.base_url.trim_end_matches('/').to_string();
        let guild = command.guild_id;
        let link = move |message: &MessageRef| {
            let guild = guild?;
            Some(format!(
                "{base}/channels/{guild}/{}/{}",
                message.channel, message.message
            ))
        };
        let embed = |answer: Result<Result<CommandAnswer, StoreError>, tokio::task::JoinError>| {
            let mut components = Vec::new();
            let (title, description) = match answer {
                Ok(Ok(answer)) => {
                    components = render::command_components(&answer);
                    render::command_answer(&answer, &link)
                }
                Ok(Err(error)) => {
                    tracing::error!(chat = CHAT_NAME, error = %error, "Cannot read cases for a command");
                    (
                        "mentiondesk".to_string(),
                        "mentiondesk cannot read its cases right now. Try again.".to_string(),
                    )
                }
                Err(error) => {
                    tracing::error!(chat = CHAT_NAME, error = %error, "Command answer failed");
                    (
                        "mentiondesk".to_string(),
                        "mentiondesk could not answer. Try again.".to_string(),
                    )
                }
            };
            (
                CreateEmbed::new().title(title).description(description),
                components,
            )
        };
        match tokio::time::timeout(self.click_bound, &mut work).await {
            Ok(answer) => {
                let (embed, components) = embed(answer);
                let message = CreateInteractionResponseMessage::new()
                    .embed(embed)
                    .components(components)
                    .ephemeral(true)
                    .allowed_mentions(CreateAllowedMentions::new().empty_users().empty_roles());
                if let Err(error) = command
                    .create_response(http, CreateInteractionResponse::Message(message))
                    .await
                {
                    tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot answer a command");
                }
            }
            Err(_) => {
                let deferred = CreateInteractionResponse::Defer(
                    CreateInteractionResponseMessage::new().ephemeral(true),
                );
                if let Err(error) = command.create_response(http, deferred).await {
                    tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot defer a command");
                    return;
                }
                let (embed, components) = embed(work.await);
                let edit = EditInteractionResponse::new()
                    .embed(embed)
                    .components(components);
                if let Err(error) = command.edit_response(http, edit).await {
                    tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot send a late command answer");
                }
            }
        }
    }

    /// Registers `/mentiondesk` in the guild of the cards' channel (a bulk overwrite, so a
    /// restart replaces rather than adds), once per process: at the first READY.
    async fn register_commands(&self, application: ApplicationId) {
        if self
            .registered
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        self.http.set_application_id(application);
        let registered = async {
            let channel = ChannelId::new(parse_id(&self.settings.channel)?);
            let guild = match channel.to_channel(&self.http).await.map_err(chat_error)? {
                Channel::Guild(channel) => channel.guild_id,
                _ => {
                    return Err(ChatError::Rejected(
                        "discord.channel is not a server channel".into(),
                    ))
                }
            };
            guild
                .set_commands(&self.http, vec![render::command()])
                .await
                .map_err(chat_error)?;
            Ok::<GuildId, ChatError>(guild)
        };
        match registered.await {
            Ok(guild) => {
                tracing::info!(chat = CHAT_NAME, guild = %guild, "Registered /mentiondesk");
            }
            Err(error) => {
                // Tried again at the next READY.
                self.registered
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot register /mentiondesk; cards and buttons work without it");
            }
        }
    }

    /// The Reply form for `agent`: filled from the saved reply `saved` when one was picked,
    /// else from the text they left, a failed reply's draft, or `@handle `.
    fn reply_form(
        &self,
        payload: &Payload,
        agent: &Agent,
        saved: Option<&str>,
    ) -> Result<ReplyForm, String> {
        let case = match self.store.case(payload.case) {
            Ok(Some(case)) => case,
            Ok(None) => return Err(format!("Case {} does not exist.", payload.case)),
            Err(error) => {
                tracing::error!(chat = CHAT_NAME, case_id = %payload.case, error = %error, "Cannot read case");
                return Err("mentiondesk cannot read this case right now. Try again.".into());
            }
        };
        if payload.kind == ActionKind::Edit {
            // Edit (approval mode) starts from the waiting draft, nothing else.
            let Some(waiting) = &case.awaiting_approval else {
                return Err("No draft is awaiting approval on this case.".into());
            };
            return Ok(ReplyForm {
                payload: payload.to_string(),
                handle: case.customer.handle.clone(),
                network: case.network,
                limit: self.limits.limit(&case),
                initial: waiting.text.clone(),
            });
        }
        let picked = saved.and_then(|name| saved_reply_text(&self.saved, name, &case, agent));
        let kept = self.draft(payload.case.0, &agent.id);
        let failed = case.draft.as_ref().map(|draft| draft.text.clone());
        Ok(ReplyForm {
            payload: payload.to_string(),
            handle: case.customer.handle.clone(),
            network: case.network,
            limit: self.limits.limit(&case),
            initial: picked
                .or(kept)
                .or(failed)
                .unwrap_or_else(|| reply_prefill(&case)),
        })
    }

    async fn on_submit(self: &Arc<Self>, http: &Arc<Http>, submit: ModalInteraction) {
        let custom_id = submit.data.custom_id.as_str();
        let Some((form, payload)) = render::split_modal_id(custom_id) else {
            tracing::warn!(chat = CHAT_NAME, "Modal submit that is not ours; skipped");
            return;
        };
        let payload: Payload = match payload.parse() {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(chat = CHAT_NAME, error = %error, "Modal submit with a bad payload; skipped");
                return;
            }
        };
        let action = match form_action(form, &submit.data) {
            // Edit's form is the Reply form; its submit approves the edited text.
            ChatAction::Reply { text, confirm_pii } if payload.kind == ActionKind::Edit => {
                ChatAction::Edit { text, confirm_pii }
            }
            action => action,
        };
        let typed = match &action {
            ChatAction::Reply { text, .. } => Some(text.clone()),
            _ => None,
        };
        let agent = agent(&submit.user, submit.member.as_ref());
        tracing::debug!(chat = CHAT_NAME, case_id = %payload.case, action = payload.kind.verb(), agent = %agent.id, roles = ?roles(submit.member.as_ref()), "Modal submitted");
        if let Err(error) = submit
            .create_response(http, CreateInteractionResponse::Acknowledge)
            .await
        {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot acknowledge a modal submit");
        }
        let request = ActionRequest {
            case: payload.case,
            version: payload.version,
            action,
        };
        let case = payload.case.0;
        let Some(outcome) = self.ask(agent.clone(), request).await else {
            if let Some(text) = typed {
                self.keep_draft(case, &agent.id, &text).await;
            }
            followup(http, &submit.token, "mentiondesk did not answer (it may be restarting); your text is kept: click Reply publicly again.").await;
            return;
        };
        let text = match (&outcome, typed) {
            (ActionOutcome::Invalid { .. } | ActionOutcome::ConfirmPii { .. }, Some(typed)) => {
                self.keep_draft(case, &agent.id, &typed).await;
                let reason = outcome_text(&outcome).unwrap_or_default();
                let how = if matches!(outcome, ActionOutcome::ConfirmPii { .. }) {
                    "type yes in the personal data box"
                } else {
                    "fix it"
                };
                Some(format!(
                    "{reason} Discord cannot keep the form open with an error: click Reply publicly again — your text is kept there — then {how} and submit."
                ))
            }
            (ActionOutcome::Done { .. }, Some(_)) => {
                self.forget_draft(case, &agent.id).await;
                outcome_text(&outcome)
            }
            _ => outcome_text(&outcome),
        };
        if let Some(text) = text {
            followup(http, &submit.token, &text).await;
        }
    }

    /// Sends a request to the engine and waits for the answer; `None` when the engine is gone
    /// or too slow.
    async fn ask(&self, agent: Agent, request: ActionRequest) -> Option<ActionOutcome> {
        let answer = self.send(agent, request).await?;
        tokio::time::timeout(ACTION_TIMEOUT, answer)
            .await
            .ok()?
            .ok()
    }

    /// Hands a request to the engine; the receiver gets its answer. `None` after shutdown.
    async fn send(
        &self,
        agent: Agent,
        request: ActionRequest,
    ) -> Option<oneshot::Receiver<ActionOutcome>> {
        let engine = lock(&self.events).clone();
        ChatEvent::send(engine, CHAT_NAME, agent, request).await
    }

    fn draft(&self, case: u64, agent: &str) -> Option<String> {
        let key = format!("{DRAFT_PREFIX}{case}/{agent}");
        match self.store.chat_get(CHAT_NAME, &key) {
            Ok(bytes) => bytes.and_then(|bytes| String::from_utf8(bytes).ok()),
            Err(error) => {
                tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot read a kept draft");
                None
            }
        }
    }

    async fn keep_draft(&self, case: u64, agent: &str, text: &str) {
        let key = format!("{DRAFT_PREFIX}{case}/{agent}");
        if let Err(error) = self.store.chat_put(CHAT_NAME, &key, text.as_bytes()).await {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot keep a draft");
        }
    }

    async fn forget_draft(&self, case: u64, agent: &str) {
        let key = format!("{DRAFT_PREFIX}{case}/{agent}");
        if let Err(error) = self.store.chat_remove(CHAT_NAME, &key).await {
            tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot drop a kept draft");
        }
    }

    fn mention_for(&self, key: &str, channel: &str) -> Option<String> {
        crate::chat::targets::mention_for(&self.targets, key, channel)
    }

    /// Posts with the key's bookkeeping: found again if a previous attempt may have posted it,
    /// recorded once posted, the marker cleared when Discord certainly did not take it.
    async fn post_once(
        &self,
        key: &str,
        channel: ChannelId,
        mine: Mine<'_>,
        message: CreateMessage,
    ) -> Result<MessageRef, ChatError> {
        if let Some(message) = self.records.recorded(key)? {
            tracing::debug!(chat = CHAT_NAME, key, "Already posted");
            return Ok(message);
        }
        if self.records.pending(key)? {
            if let Some(found) = self.find_recent(channel, &mine).await? {
                tracing::info!(chat = CHAT_NAME, key, message = %found, "Found a message posted before a restart");
                let message = MessageRef {
                    channel: channel.to_string(),
                    message: found.to_string(),
                    thread: None,
                };
                self.records.record(key, &message).await?;
                return Ok(message);
            }
        } else {
            self.records.set_pending(key)?;
        }
        self.pacer.wait(&channel.to_string()).await;
        let message = message.nonce(Nonce::String(nonce(key))).enforce_nonce(true);
        match channel.send_message(&self.http, message).await {
            Ok(posted) => {
                let message = MessageRef {
                    channel: channel.to_string(),
                    message: posted.id.to_string(),
                    thread: None,
                };
                self.records.record(key, &message).await?;
                Ok(message)
            }
            Err(error) => {
                let error = chat_error(error);
                // Discord answered, so nothing was posted: no need to search next time.
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

    /// Our message among the channel's recent ones, if a crash left it unrecorded.
    async fn find_recent(
        &self,
        channel: ChannelId,
        mine: &Mine<'_>,
    ) -> Result<Option<MessageId>, ChatError> {
        let recent = channel
            .messages(&self.http, GetMessages::new().limit(RECOVERY_MESSAGES))
            .await
            .map_err(chat_error)?;
        Ok(recent
            .iter()
            .find(|message| match mine {
                Mine::Card(footer) => message.embeds.iter().any(|embed| {
                    embed
                        .footer
                        .as_ref()
                        .is_some_and(|f| f.text.ends_with(&format!(" {footer}")))
                }),
                Mine::Note(text, after) => {
                    message.content == *text && after.map_or(true, |after| message.id.get() > after)
                }
            })
            .map(|message| message.id))
    }

    /// The card message's thread, started at the first note (a thread started from a message
    /// has the message's id). Recorded so it is created once.
    async fn thread_of(&self, parent: &MessageRef) -> Result<ChannelId, ChatError> {
        if let Some(thread) = parent.thread.as_deref() {
            return parse_id(thread).map(ChannelId::new);
        }
        let key = format!("{THREAD_PREFIX}{}", parent.message);
        if let Some(bytes) = self.store.chat_get(CHAT_NAME, &key).map_err(store_error)? {
            let id = String::from_utf8_lossy(&bytes).to_string();
            return parse_id(&id).map(ChannelId::new);
        }
        let channel = ChannelId::new(parse_id(&parent.channel)?);
        let message = MessageId::new(parse_id(&parent.message)?);
        let case = parent.message.clone();
        let name = self
            .case_number(parent)
            .map(render::thread_name)
            .unwrap_or_else(|| format!("Case {case}"));
        self.pacer.wait(&parent.channel).await;
        let thread = match channel
            .create_thread_from_message(&self.http, message, CreateThread::new(name))
            .await
        {
            Ok(thread) => thread.id,
            Err(error) if discord_code(&error) == Some(THREAD_EXISTS) => {
                ChannelId::new(message.get())
            }
            Err(error) => return Err(chat_error(error)),
        };
        self.store
            .chat_put(CHAT_NAME, &key, thread.to_string().as_bytes())
            .await
            .map_err(store_error)?;
        tracing::info!(chat = CHAT_NAME, thread = %thread, "Thread started on a card");
        Ok(thread)
    }

    fn case_number(&self, parent: &MessageRef) -> Option<u64> {
        // Our card keys are `case-N`; find which one names this message.
        self.records
            .recorded_with_prefix("case-")
            .into_iter()
            .find_map(|(key, stored)| {
                (stored.message == parent.message)
                    .then(|| key.strip_prefix("case-")?.parse().ok())
                    .flatten()
            })
    }
}

/// How to recognise our own message in a channel after a crash.
enum Mine<'a> {
    /// A card: its embed footer ends with this key.
    Card(&'a str),
    /// A note: its content is this text, and it is newer than this message (the case's last
    /// recorded note): an earlier note saying the same (a second "Claimed by Ana") is not it.
    Note(&'a str, Option<u64>),
}

#[async_trait]
impl ChatAdapter for DiscordChat {
    fn name(&self) -> &str {
        CHAT_NAME
    }

    fn may_have_posted(&self, key: &str) {
        self.records.may_have_posted(key);
    }

    fn main_channel(&self) -> String {
        self.settings.channel.clone()
    }

    fn kudos_channel(&self) -> Option<String> {
        self.settings.kudos_channel.clone()
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
        let channel_id = ChannelId::new(parse_id(channel)?);
        let mention = self.mention_for(key, channel);
        let rendered = render::card_message(card, key, mention.as_deref());
        let mut allowed = CreateAllowedMentions::new().empty_users().empty_roles();
        if let Some(role) = rendered.ping_role {
            allowed = allowed.roles([role]);
        }
        let mut message = CreateMessage::new()
            .embed(rendered.embed)
            .components(rendered.components)
            .allowed_mentions(allowed);
        if !rendered.content.is_empty() {
            message = message.content(rendered.content);
        }
        let posted = self
            .post_once(key, channel_id, Mine::Card(key), message)
            .await?;
        tracing::info!(chat = CHAT_NAME, channel, card = %card.subject(), message = %posted.message, "Card posted");
        Ok(posted)
    }

    async fn update_card(&self, message: &MessageRef, card: &Card) -> Result<(), ChatError> {
        let channel = ChannelId::new(parse_id(&message.channel)?);
        let id = MessageId::new(parse_id(&message.message)?);
        let key = match card.kind {
            CardKind::Case => format!("case-{}", card.case_id.0),
            CardKind::Escalation { .. } => format!("case-{}-escalation", card.case_id.0),
            CardKind::Kudos => crate::domain::kudos_key(card.case_id.0),
        };
        let rendered = render::card_message(card, &key, None);
        let edit = EditMessage::new()
            .embed(rendered.embed)
            .components(rendered.components);
        channel
            .edit_message(&self.http, id, edit)
            .await
            .map_err(chat_error)?;
        tracing::debug!(chat = CHAT_NAME, channel = %message.channel, card = %card.subject(), "Card updated");
        Ok(())
    }

    async fn post_thread(
        &self,
        key: &str,
        parent: &MessageRef,
        note: &ThreadNote,
    ) -> Result<(), ChatError> {
        if self.records.recorded(key)?.is_some() {
            return Ok(());
        }
        let thread = self.thread_of(parent).await?;
        let text = render::note_text(note);
        // Only an SLA warning pings: its owner, or whoever is here when nobody owns the case.
        let mut allowed = CreateAllowedMentions::new().empty_users().empty_roles();
        match &note.mention {
            Some(NoteMention::Channel) => allowed = allowed.everyone(true),
            Some(mention) => {
                if let Some(user) = render::note_user(mention) {
                    allowed = allowed.users([serenity::all::UserId::new(user)]);
                }
            }
            None => {}
        }
        let message = CreateMessage::new()
            .content(text.clone())
            .allowed_mentions(allowed);
        let after = key.rsplit_once("-event-").and_then(|(case, _)| {
            self.records
                .recorded_with_prefix(&format!("{case}-event-"))
                .into_iter()
                .filter_map(|(_, posted)| posted.message.parse::<u64>().ok())
                .max()
        });
        self.post_once(key, thread, Mine::Note(&text, after), message)
            .await
            .map(|_| ())
    }

    async fn post_notice(&self, text: &str) -> Result<(), ChatError> {
        // Like Slack: a notice goes nowhere without an ops channel.
        let Some(channel) = &self.settings.ops_channel else {
            return Ok(());
        };
        let channel_id = ChannelId::new(parse_id(channel)?);
        self.pacer.wait(channel).await;
        let message = CreateMessage::new()
            .content(render::fit(text, render::CONTENT_MAX))
            .allowed_mentions(CreateAllowedMentions::new().empty_users().empty_roles());
        channel_id
            .send_message(&self.http, message)
            .await
            .map(|_| ())
            .map_err(chat_error)
    }

    async fn post_digest(&self, channel: &str, digest: &WeeklyDigest) -> Result<(), ChatError> {
        let channel_id = ChannelId::new(parse_id(channel)?);
        let text = render::digest_text(&digest.title, &digest.text);
        let message = CreateMessage::new()
            .content(text.clone())
            .allowed_mentions(CreateAllowedMentions::new().empty_users().empty_roles())
            .add_file(CreateAttachment::bytes(
                digest.png.clone(),
                digest.filename.clone(),
            ));
        // The digest task records what was posted (and looks for an unrecorded post with
        // `find_digest`); the nonce only stops a quick retry from posting twice.
        let key = format!("{}/{channel}", digest.key);
        self.pacer.wait(channel).await;
        let message = message
            .nonce(Nonce::String(nonce(&key)))
            .enforce_nonce(true);
        let posted = channel_id
            .send_message(&self.http, message)
            .await
            .map_err(chat_error)?;
        tracing::debug!(chat = CHAT_NAME, channel, message = %posted.id, week = %digest.week, "Weekly digest posted");
        Ok(())
    }

    /// The bot's message with the digest's chart attached (its file name carries the week),
    /// among the channel's messages after `since` (`GET /channels/{id}/messages?after=`, the
    /// snowflake of that time, 100 a page, [`DIGEST_SEARCH_PAGES`] pages at most).
    async fn find_digest(
        &self,
        channel: &str,
        digest: &WeeklyDigest,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, ChatError> {
        let channel_id = ChannelId::new(parse_id(channel)?);
        let me = self.http.get_current_user().await.map_err(chat_error)?.id;
        let mut after = MessageId::new(snowflake_at(since));
        for _ in 0..DIGEST_SEARCH_PAGES {
            let page = channel_id
                .messages(
                    &self.http,
                    GetMessages::new().after(after).limit(RECOVERY_MESSAGES),
                )
                .await
                .map_err(chat_error)?;
            let found = page.iter().find(|message| {
                message.author.id == me
                    && message
                        .attachments
                        .iter()
                        .any(|attachment| attachment.filename == digest.filename)
            });
            if let Some(found) = found {
                return Ok(Some(found.id.to_string()));
            }
            match page.iter().map(|message| message.id).max() {
                Some(newest) if page.len() >= usize::from(RECOVERY_MESSAGES) => after = newest,
                _ => break,
            }
        }
        Ok(None)
    }
}

/// The serenity event handler: only interactions matter (and connection logs).
struct Handler {
    chat: Weak<DiscordChat>,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(chat = CHAT_NAME, bot = %ready.user.name, guilds = ready.guilds.len(), "Discord gateway ready");
        if let Some(chat) = self.chat.upgrade() {
            chat.register_commands(ready.application.id).await;
        }
    }

    async fn resume(&self, _ctx: Context, _event: ResumedEvent) {
        tracing::info!(chat = CHAT_NAME, "Discord gateway session resumed");
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        if let Some(chat) = self.chat.upgrade() {
            chat.on_interaction(ctx.http.clone(), interaction).await;
        }
    }
}

/// The agent for a Discord user: `discord:<id>`, named by their server nickname, global name or
/// user name, with their roles as `discord-role:<id>` groups for `[permissions]`.
fn agent(user: &User, member: Option<&Member>) -> Agent {
    let name = member
        .and_then(|member| member.nick.clone())
        .or_else(|| user.global_name.clone())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| user.name.clone());
    let mut agent = Agent::new(format!("{CHAT_NAME}:{}", user.id), name);
    agent.groups = roles(member)
        .into_iter()
        .map(|role| format!("discord-role:{role}"))
        .collect();
    agent
}

/// The member's role ids (for permission checks by role).
fn roles(member: Option<&Member>) -> Vec<u64> {
    member
        .map(|member| member.roles.iter().map(|role| role.get()).collect())
        .unwrap_or_default()
}

fn outcome_text(outcome: &ActionOutcome) -> Option<String> {
    match outcome {
        ActionOutcome::Done { notice } => notice.clone(),
        ActionOutcome::Refused { message } => Some(message.clone()),
        ActionOutcome::Invalid { message, .. } => Some(message.clone()),
        ActionOutcome::ConfirmPii { warning } => Some(warning.clone()),
    }
}

fn ephemeral_response(text: &str) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(render::fit(text, render::CONTENT_MAX))
            .ephemeral(true),
    )
}

/// An ephemeral follow-up to an acknowledged interaction (`POST /webhooks/{app}/{token}`).
async fn followup(http: &Arc<Http>, token: &str, text: &str) {
    let message = CreateInteractionResponseFollowup::new()
        .content(render::fit(text, render::CONTENT_MAX))
        .ephemeral(true)
        .allowed_mentions(CreateAllowedMentions::new().empty_users().empty_roles());
    if let Err(error) = message.execute(http, (None, token)).await {
        tracing::warn!(chat = CHAT_NAME, error = %error, "Cannot send a private notice");
    }
}

/// The first snowflake of `at` (milliseconds since Discord's epoch, 2015-01-01, shifted by
/// 22 bits): `after` it lists the messages posted from then on.
pub fn snowflake_at(at: chrono::DateTime<chrono::Utc>) -> u64 {
    const DISCORD_EPOCH_MILLIS: i64 = 1_420_070_400_000;
    let millis = (at.timestamp_millis() - DISCORD_EPOCH_MILLIS).max(1);
    (millis as u64) << 22
}

/// A message nonce for a key: Discord allows 25 characters, so a hash of it.
pub fn nonce(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut text = String::from("md");
    text.push_str(&hex::encode(&digest[..12])[..23]);
    text
}

fn parse_id(id: &str) -> Result<u64, ChatError> {
    id.trim()
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ChatError::Rejected(format!("not a Discord id: {id:?}")))
}

fn discord_code(error: &serenity::Error) -> Option<isize> {
    match error {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(response)) => {
            Some(response.error.code)
        }
        _ => None,
    }
}

/// Serenity's errors in the terms the outbox branches on.
fn chat_error(error: serenity::Error) -> ChatError {
    use serenity::http::HttpError;
    match &error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            let status = response.status_code.as_u16();
            let what = format!(
                "discord {status} (code {}): {}",
                response.error.code, response.error.message
            );
            match status {
                429 => ChatError::RateLimited {
                    retry_after: DEFAULT_RETRY_AFTER,
                },
                500..=599 => ChatError::Transient(what),
                _ => ChatError::Rejected(what),
            }
        }
        serenity::Error::Http(HttpError::Request(_)) | serenity::Error::Io(_) => {
            ChatError::Transient(format!("discord unreachable: {error}"))
        }
        // A reply we could not read: it may have been taken, so the key stays pending.
        serenity::Error::Json(_) => ChatError::Transient(format!("discord answer: {error}")),
        serenity::Error::Model(_) => ChatError::Rejected(format!("discord limits: {error}")),
        _ => ChatError::Transient(format!("discord: {error}")),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn store_error(error: StoreError) -> ChatError {
    ChatError::Transient(format!("discord records in the store: {error}"))
}

/// Entry points for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub mod fuzz;

/// The action a submitted Reply (`form` = `render::REPLY_MODAL`) or Escalate modal asks for,
/// read from its text inputs.
pub(crate) fn form_action(form: &str, data: &serenity::all::ModalInteractionData) -> ChatAction {
    let input = |id: &str| -> String {
        data.components
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
    if form == render::REJECT_MODAL {
        return ChatAction::Reject {
            reason: input(render::REASON_INPUT),
        };
    }
    if form == render::REPLY_MODAL {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[test]
    fn the_invite_asks_for_exactly_six_permissions() {
        assert_eq!(PERMISSIONS, 309_237_730_304);
        assert_eq!(PERMISSIONS.count_ones(), 6);
    }

    #[test]
    fn nonces_are_short_stable_and_distinct() {
        let a = nonce("case-1");
        assert_eq!(a.len(), 25);
        assert_eq!(a, nonce("case-1"));
        assert_ne!(a, nonce("case-1-event-1"));
    }

    #[test]
    fn ids_must_be_snowflakes() {
        assert_eq!(
            parse_id("123456789012345678").unwrap(),
            123_456_789_012_345_678
        );
        assert!(parse_id("C0SLACK").is_err());
        assert!(parse_id("0").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_keeps_any_five_second_window_under_six_messages() {
        let pacer = Pacer::new(PACE_INTERVAL, PACE_BURST);
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..7 {
            pacer.wait("1").await;
            sent.push((Instant::now() - start).as_millis());
        }
        assert_eq!(sent, vec![0, 1100, 2200, 3300, 4400, 5500, 6600]);
        for window in sent.windows(6) {
            assert!(window[5] - window[0] > 5000, "{window:?}");
        }
        // Another channel has its own pace.
        let before = Instant::now();
        pacer.wait("2").await;
        assert_eq!(Instant::now(), before);
    }
}
