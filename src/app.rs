//! The application: build (fallible, fast, binds ports) and run (until the token fires).
//!
//! `Application::build` checks that every configured adapter is available, opens the store,
//! binds the listeners and constructs sources and chats. `run_until_stopped` spawns the tasks
//! (N sources, one pipeline, one actions engine, one outbox worker per lane, the HTTP servers)
//! wired by bounded channels, and drains them in order on shutdown (see `shutdown.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::actions::{ActionSettings, Actions, Target};
use crate::chat::console::{ConsoleChat, ConsoleState};
use crate::chat::discord::DiscordChat;
use crate::chat::limits::ReplyLimits;
use crate::chat::slack::SlackChat;
use crate::chat::{ChatAdapter, ChatEvent};
use crate::config::{Settings, SourceSettings};
use crate::domain::Permissions;
use crate::health::Health;
use crate::outbox::{
    run_lane, webhook, ChatExecutor, Executor, Outbox, ReplyExecutor, WebhookExecutor,
};
use crate::pipeline::Pipeline;
use crate::scheduler::{Scheduler, SlaPolicy};
use crate::sources::bluesky::{BlueskySettings, BlueskySource};
use crate::sources::mastodon::MastodonSource;
use crate::sources::replay::{ReplaySettings, ReplaySource};
use crate::sources::x::{XSettings, XSource};
use crate::sources::{run_poll_loop, SourceBatch, SourceClient};
use crate::store::Store;

/// How many batches may wait for the pipeline: sources block (and stop fetching) beyond it.
const PIPELINE_QUEUE: usize = 64;
/// How many clicks may wait for the actions engine.
const ACTIONS_QUEUE: usize = 256;

/// Knobs the config file does not expose, for tests: they make slow paths fast.
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The network sources' request timeout, instead of `sources::http::REQUEST_TIMEOUT`.
    pub request_timeout: Option<Duration>,
}

/// A built application, ready to run.
pub struct Application {
    settings: Settings,
    store: Store,
    health: Health,
    http: TcpListener,
    console: Option<(TcpListener, Arc<ConsoleChat>)>,
    slack: Option<Arc<SlackChat>>,
    discord: Option<Arc<DiscordChat>>,
    sources: Vec<Arc<dyn SourceClient>>,
    chats: Vec<Arc<dyn ChatAdapter>>,
    outbox: Outbox,
}

impl Application {
    /// Checks adapters, opens the store, binds listeners. Nothing runs yet.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with(settings, Overrides::default()).await
    }

    /// [`Application::build`] with test overrides.
    #[doc(hidden)]
    pub async fn build_with(
        settings: Settings,
        overrides: Overrides,
    ) -> anyhow::Result<Application> {
        let unavailable = unavailable_adapters(&settings);
        if !unavailable.is_empty() {
            anyhow::bail!(
                "this build of mentiondesk can't run part of the config yet:\n{}",
                unavailable.join("\n")
            );
        }
        if let Some(warning) = permissions_warning(&settings) {
            tracing::warn!("{warning}");
        }
        std::fs::create_dir_all(&settings.store.path).with_context(|| {
            format!(
                "cannot create the store directory {}",
                settings.store.path.display()
            )
        })?;
        // Off the async threads: opening may wait for a previous handle in this process to let
        // go of the lock (tasks that hold it must be able to run meanwhile) and may migrate.
        let sled_path = settings.store.path.join("sled");
        let store = tokio::task::spawn_blocking(move || Store::open(&sled_path))
            .await
            .context("the store opener stopped")?
            .with_context(|| {
                format!("cannot open the store at {}", settings.store.path.display())
            })?;
        let health = Health::default();
        let http = TcpListener::bind(settings.http.listen)
            .await
            .with_context(|| format!("http.listen: cannot listen on {}", settings.http.listen))?;

        let ops = crate::health::OpsNotices::default();
        let sources = build_sources(&settings, &store, &overrides, &ops)?;
        let mut chats: Vec<Arc<dyn ChatAdapter>> = Vec::new();
        let console = match &settings.console {
            Some(console_settings) => {
                let listener = TcpListener::bind(console_settings.listen)
                    .await
                    .with_context(|| {
                        format!(
                            "console.listen: cannot listen on {}",
                            console_settings.listen
                        )
                    })?;
                let channels = settings
                    .escalations
                    .iter()
                    .map(|target| (target.id.clone(), target.label.clone()))
                    .collect();
                let mut console = ConsoleChat::new(store.clone(), channels)
                    .with_saved_replies(settings.replies.saved.clone());
                if settings.triage.kudos {
                    console = console.with_kudos();
                }
                let console = Arc::new(console);
                chats.push(console.clone());
                Some((listener, console))
            }
            None => None,
        };
        let slack = match &settings.slack {
            Some(slack_settings) => {
                let slack = Arc::new(
                    SlackChat::new(slack_settings, &settings.escalations, store.clone())
                        .map_err(|error| anyhow::anyhow!("slack: {error}"))?
                        .with_permission_groups(
                            settings
                                .permissions
                                .as_ref()
                                .map(|p| p.permissions().groups("slack-group:"))
                                .unwrap_or_default(),
                        )
                        .with_reply_limits(ReplyLimits::new(&sources))
                        .with_saved_replies(settings.replies.saved.clone())
                        .with_permissions(
                            settings
                                .permissions
                                .as_ref()
                                .map(|p| p.permissions())
                                .unwrap_or_else(Permissions::everyone),
                            &settings.brand.name,
                        ),
                );
                chats.push(slack.clone());
                Some(slack)
            }
            None => None,
        };
        let discord = match &settings.discord {
            Some(discord_settings) => {
                let discord = Arc::new(
                    DiscordChat::new(discord_settings, &settings.escalations, store.clone())
                        .with_permissions(
                            settings
                                .permissions
                                .as_ref()
                                .map(|p| p.permissions())
                                .unwrap_or_else(Permissions::everyone),
                            &settings.brand.name,
                        )
                        .with_reply_limits(ReplyLimits::new(&sources))
                        .with_zone(office_zone(&settings))
                        .with_saved_replies(settings.replies.saved.clone()),
                );
                chats.push(discord.clone());
                Some(discord)
            }
            None => None,
        };
        ops.connect(&chats);
        let chat_names: Vec<String> = chats.iter().map(|c| c.name().to_string()).collect();
        let source_names: Vec<String> = sources.iter().map(|s| s.name().to_string()).collect();
        let webhook_targets: Vec<String> = settings
            .escalations
            .iter()
            .filter(|target| target.webhook.is_some())
            .map(|target| target.id.clone())
            .collect();
        let outbox = Outbox::new(&chat_names, &source_names).with_webhooks(&webhook_targets);
        Ok(Application {
            settings,
            store,
            health,
            http,
            console,
            slack,
            discord,
            sources,
            chats,
            outbox,
        })
    }

    /// Where `/healthz` is served.
    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr().unwrap_or(self.settings.http.listen)
    }

    /// Where the console is served, if enabled.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// The store (for tests and commands that read it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs until `shutdown` fires, then drains and returns.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let intake = TaskTracker::new();
        let workers = TaskTracker::new();
        let drain = CancellationToken::new();
        let stop = CancellationToken::new();
        let (batch_tx, batch_rx) = mpsc::channel::<SourceBatch>(PIPELINE_QUEUE);
        let (event_tx, event_rx) = mpsc::channel::<ChatEvent>(ACTIONS_QUEUE);

        for source in &self.sources {
            self.health.register(&format!("source:{}", source.name()));
            intake.spawn(run_poll_loop(
                source.clone(),
                self.store.clone(),
                batch_tx.clone(),
                self.health.clone(),
                shutdown.clone(),
            ));
        }
        drop(batch_tx);

        let retrainer = crate::training::Retrainer::new(
            &self.settings,
            &self.store,
            self.health.metrics().clone(),
        );
        let mut pipeline = Pipeline::live(
            self.store.clone(),
            retrainer.subscribe(),
            &self.settings.brand.handles,
            self.outbox.clone(),
        )
        .with_storm((&self.settings.triage.storm).into())
        .context("cannot read the storm window from the store")?
        .with_kudos(self.settings.triage.kudos);
        let mut actions_sla = None;
        if self.settings.triage.spike.enabled {
            let spikes = crate::pipeline::spike::SpikeHandle::load(
                (&self.settings.triage.spike).into(),
                &self.store,
            )
            .context("cannot read the spike detector's state from the store")?;
            pipeline = pipeline.with_spikes(spikes.clone());
            intake.spawn(crate::pipeline::spike::run(
                spikes,
                self.chats.clone(),
                shutdown.clone(),
            ));
        }
        if self.settings.sla.enabled {
            let policy = SlaPolicy::from_settings(&self.settings)?;
            let mut scheduler =
                Scheduler::new(self.store.clone(), self.outbox.clone(), policy.clone());
            pipeline = pipeline.with_sla(policy.clone(), scheduler.handle());
            actions_sla = Some((policy, scheduler.handle()));
            let stopping = shutdown.clone();
            // Rebuilding the clocks reads every case (seconds for a million): do it off the
            // start path, so sources, chats and actions are up at once. New cases announced
            // meanwhile wait in the handle and are picked up when `run` starts.
            intake.spawn(async move {
                let loaded = tokio::task::spawn_blocking(move || {
                    let watched = scheduler.load();
                    (scheduler, watched)
                })
                .await;
                match loaded {
                    Ok((scheduler, Ok(watched))) => {
                        tracing::info!(deadlines = watched, "First-response clocks loaded");
                        scheduler.run(stopping).await;
                    }
                    Ok((_, Err(error))) => {
                        tracing::error!(error = %error, "Cannot read cases for the first-response clocks; they are off until restart");
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "The first-response clock loader failed");
                    }
                }
            });
        }
        if let Some(digest) = crate::digest::DigestTask::from_settings(
            &self.settings,
            self.store.clone(),
            &self.chats,
        )? {
            intake.spawn(digest.run(shutdown.clone()));
        }
        intake.spawn(pipeline.run(batch_rx));
        intake.spawn(retrainer.run(shutdown.clone()));

        let mut actions = Actions::new(
            self.store.clone(),
            self.outbox.clone(),
            &self.sources,
            action_settings(&self.settings),
        );
        if let Some((policy, handle)) = actions_sla {
            actions = actions.with_sla(policy, handle);
        }
        intake.spawn(actions.run(event_rx));

        let chat_executors = self.chats.iter().map(|chat| -> Arc<dyn Executor> {
            Arc::new(
                ChatExecutor::new(chat.clone(), self.store.clone())
                    .with_repeat_within(self.settings.customers.repeat_within)
                    .with_reach(self.settings.fairness.show_reach)
                    .with_zone(office_zone(&self.settings)),
            )
        });
        let reply_executors = self.sources.iter().map(|source| -> Arc<dyn Executor> {
            Arc::new(ReplyExecutor::new(
                source.clone(),
                self.store.clone(),
                self.outbox.clone(),
            ))
        });
        let webhooks = webhook::targets_from(&self.settings);
        let webhook_executor: Option<Arc<dyn Executor>> = if webhooks.is_empty() {
            None
        } else {
            Some(Arc::new(WebhookExecutor::new(
                webhooks,
                self.store.clone(),
                self.outbox.clone(),
            )?))
        };
        for executor in chat_executors
            .chain(reply_executors)
            .chain(webhook_executor)
        {
            workers.spawn(run_lane(
                executor,
                self.store.clone(),
                self.outbox.clone(),
                self.health.clone(),
                drain.clone(),
                stop.clone(),
            ));
        }

        if let Some((listener, console)) = self.console {
            let addr = listener.local_addr()?;
            let state = ConsoleState {
                chat: console,
                store: self.store.clone(),
                actions: event_tx.clone(),
                targets: self
                    .settings
                    .escalations
                    .iter()
                    .map(|t| (t.id.clone(), t.label.clone()))
                    .collect(),
                auth_token: self
                    .settings
                    .console
                    .as_ref()
                    .and_then(|c| c.auth_token.as_ref())
                    .map(|token| token.expose().to_string()),
                shutdown: shutdown.clone(),
            };
            let router = crate::chat::console::router(state);
            let stopping = shutdown.clone();
            tracing::info!(url = %format!("http://{addr}/"), "Console ready");
            intake.spawn(async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(stopping.cancelled_owned())
                    .await;
                if let Err(error) = served {
                    tracing::error!(error = %error, "Console server failed");
                }
            });
        }
        // Slack's HTTP mode request URLs share `[http].listen` with `/healthz`.
        let slack_routes = self.slack.as_ref().and_then(|slack| slack.http_router());
        if let Some(slack) = self.slack {
            intake.spawn(slack.run(event_tx.clone(), shutdown.clone()));
        }
        if let Some(discord) = self.discord {
            intake.spawn(discord.run(event_tx.clone(), shutdown.clone()));
        }
        drop(event_tx);

        intake.spawn(crate::health::notify_loop(
            self.health.clone(),
            self.chats.clone(),
            self.settings.runtime.health_notice_after,
            self.store.clone(),
            shutdown.clone(),
        ));
        let mut health_router = crate::health::router(
            self.health.clone(),
            self.store.clone(),
            chrono::Duration::from_std(self.settings.sla.first_response)
                .unwrap_or(chrono::Duration::MAX),
        );
        if let Some(slack_routes) = slack_routes {
            health_router = health_router.merge(slack_routes);
        }
        let stopping = shutdown.clone();
        tracing::info!(addr = %self.http.local_addr()?, "Health endpoint ready at /healthz");
        intake.spawn(async move {
            let served = axum::serve(
                self.http,
                health_router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(stopping.cancelled_owned())
            .await;
            if let Err(error) = served {
                tracing::error!(error = %error, "Health server failed");
            }
        });
        intake.close();
        workers.close();

        shutdown.cancelled().await;
        let deadline = tokio::time::Instant::now() + self.settings.runtime.shutdown_timeout;
        if tokio::time::timeout_at(deadline, intake.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = intake.len(),
                "Sources, pipeline or actions did not stop in time"
            );
        }
        drain.cancel();
        if tokio::time::timeout_at(deadline, workers.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = workers.len(),
                outbox_depth = self.store.outbox_depth(),
                "Outbox workers did not finish in time; the rest runs after the next start"
            );
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(1), workers.wait()).await;
        }
        self.store.flush().await.context("cannot flush the store")?;
        tracing::info!("Stopped");
        Ok(())
    }
}

/// The parts of a valid config this build can't run yet, one line each, named by key.
pub fn unavailable_adapters(_settings: &Settings) -> Vec<String> {
    // Everything a valid config can name is built in (Slack's HTTP mode included).
    Vec::new()
}

/// The startup warning for a shared chat without `[permissions]`: everyone in the Slack
/// workspace or Discord server may then speak for the brand. The console alone is local
/// (loopback, or behind its auth token), so it gets no warning.
pub fn permissions_warning(settings: &Settings) -> Option<String> {
    if settings.permissions.is_some() {
        return None;
    }
    let shared: Vec<&str> = [
        settings.slack.as_ref().map(|_| "Slack"),
        settings.discord.as_ref().map(|_| "Discord"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if shared.is_empty() {
        return None;
    }
    Some(format!(
        "No [permissions] section: everyone in {} may reply publicly, escalate and resolve. Add [permissions] with reply, escalate and resolve lists (see config.example.toml)",
        shared.join(" and ")
    ))
}

/// Signs in to every configured source and says how it went, one line per source (for
/// `mentiondesk check`). Uses a throwaway store, so it works while the bot runs.
pub async fn verify_sources(
    settings: &Settings,
) -> anyhow::Result<Vec<(String, Result<String, String>)>> {
    let store = Store::temporary().context("cannot create a temporary store")?;
    let sources = build_sources(
        settings,
        &store,
        &Overrides::default(),
        &crate::health::OpsNotices::default(),
    )?;
    let mut results = Vec::with_capacity(sources.len());
    for source in sources {
        let outcome = source.verify().await.map_err(|error| error.to_string());
        results.push((source.name().to_string(), outcome));
    }
    Ok(results)
}

fn build_sources(
    settings: &Settings,
    store: &Store,
    overrides: &Overrides,
    ops: &crate::health::OpsNotices,
) -> anyhow::Result<Vec<Arc<dyn SourceClient>>> {
    let mut sources: Vec<Arc<dyn SourceClient>> = Vec::new();
    for source in &settings.sources {
        match source {
            SourceSettings::Replay(replay) => {
                let sent_path = replay
                    .sent_path
                    .clone()
                    .unwrap_or_else(|| default_sent_path(&settings.store.path, &replay.name));
                sources.push(Arc::new(ReplaySource::new(ReplaySettings {
                    name: replay.name.clone(),
                    path: replay.path.clone(),
                    sent_path,
                    pace: replay.pace,
                    poll_interval: replay.poll_interval,
                })));
            }
            SourceSettings::Bluesky(bluesky) => {
                let client = BlueskySource::new(BlueskySettings {
                    name: bluesky.name.clone(),
                    base_url: bluesky.base_url.clone(),
                    web_url: bluesky.web_url.clone(),
                    identifier: bluesky.identifier.clone(),
                    app_password: bluesky.app_password.clone(),
                    poll_interval: bluesky.poll_interval,
                    backfill: bluesky.backfill,
                    request_timeout: overrides
                        .request_timeout
                        .unwrap_or(crate::sources::http::REQUEST_TIMEOUT),
                    keywords: bluesky.keywords.clone(),
                    appview_url: bluesky.appview_url.clone(),
                })
                .with_context(|| format!("sources: cannot set up {}", bluesky.name))?;
                sources.push(Arc::new(client));
            }
            SourceSettings::X(x) => {
                let mut x_settings = XSettings::from_config(x);
                if let Some(timeout) = overrides.request_timeout {
                    x_settings.request_timeout = timeout;
                }
                let client = XSource::new(x_settings, store.clone())
                    .with_context(|| format!("cannot set up the X source {}", x.name))?
                    .with_ops(ops.clone());
                sources.push(Arc::new(client));
            }
            SourceSettings::Mastodon(mastodon) => {
                let client = MastodonSource::new(mastodon).with_context(|| {
                    format!(
                        "sources: cannot set up the Mastodon source {}",
                        mastodon.name
                    )
                })?;
                sources.push(Arc::new(client));
            }
        }
    }
    Ok(sources)
}

/// Where a replay source appends its replies when `sent_path` is not set: inside the store
/// directory, so a fresh store never meets replies of an old one.
pub fn default_sent_path(store_path: &std::path::Path, source: &str) -> PathBuf {
    store_path.join(format!("replay-{source}-sent.jsonl"))
}

/// The office's time zone, `[sla.business_hours].timezone`, for due times on cards.
fn office_zone(settings: &Settings) -> Option<jiff::tz::TimeZone> {
    let hours = settings.sla.business_hours.as_ref()?;
    jiff::tz::TimeZone::get(hours.timezone.trim()).ok()
}

fn action_settings(settings: &Settings) -> ActionSettings {
    ActionSettings {
        targets: settings
            .escalations
            .iter()
            .map(|target| Target {
                id: target.id.clone(),
                label: target.label.clone(),
            })
            .collect(),
        signatures: settings.replies.signatures.clone(),
        require_pii_confirmation: settings.replies.require_pii_confirmation,
        permissions: settings
            .permissions
            .as_ref()
            .map(|permissions| permissions.permissions())
            .unwrap_or_else(Permissions::everyone),
        brand: settings.brand.name.clone(),
        repeat_warning_after: settings.replies.repeat_warning_after,
        require_approval: settings.replies.require_approval,
        office_zone: office_zone(settings),
    }
}
