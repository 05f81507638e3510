//! The Mastodon source: one account on one instance (configure one source per instance).
//!
//! **Read.** `GET /api/v1/notifications?types[]=mention&min_id=…&limit=80` with the account's
//! bearer token: forward from the cursor ("results immediately newer than this ID"), page
//! after page from the newest id read, until a page comes back shorter than asked. One new
//! mention costs one request, and stopping early (an instance capping `limit`, a long burst)
//! skips nothing: the cursor moves only over what was read. On the first start (no cursor)
//! the `Link: <…>; rel="next"` pages are walked back from the newest, keeping only the last
//! `backfill`. The account's own statuses are read at the same time (below) while the rate
//! window has room for both requests. Each
//! mention notification's status becomes a `Mention` (boosts are ignored). The brand's own
//! replies that arrive as no notification (answered from the Mastodon app) are read from
//! `GET /api/v1/accounts/:id/statuses` and delivered as `from_brand` mentions; the pipeline keeps
//! them only when they answer into a case's conversation ("answered outside mentiondesk").
//! The cursor is `{"notifications": id, "statuses": id}`: the newest id read from each.
//!
//! **Conversation root.** A Mastodon status names only its parent (`in_reply_to_id`), so
//! `root` is left empty: a follow-up joins its case through its parent (the customer's post,
//! our reply, or an earlier follow-up, which are all stored). Walking up to the root would
//! cost one `/context` call per reply.
//!
//! **Reply.** `POST /api/v1/statuses` (form) with `in_reply_to_id`, the `visibility` of the
//! customer's post (a private mention is answered privately, never more publicly), and the
//! reply id as `Idempotency-Key`, so a retry after a timeout finds the first post. The
//! visibility is remembered from the fetch; after a restart it is read back with
//! `GET /api/v1/statuses/:id`. The reply limit is the instance's
//! `configuration.statuses.max_characters` from `GET /api/v2/instance` (500 until known).
//!
//! **Rate limits.** Every response's `X-RateLimit-Remaining`/`X-RateLimit-Reset` is honoured:
//! a spent budget stops the fetch before its next request and sets `Fetched::wait`; a 429 is
//! `SourceError::RateLimited` (see `http.rs`).

mod html;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{http, Fetched, PostedIds, ReplyReceipt, ReplyRequest, SourceClient, SourceError};
use crate::config::MastodonSource as MastodonConfig;
use crate::domain::{Author, Mention, MentionKind, Network};

pub use html::to_text as html_to_text;

/// The page size asked for notifications (Mastodon's maximum).
const NOTIFICATIONS_PAGE: u32 = 80;
/// The page size asked for the account's own statuses (Mastodon's maximum).
const STATUSES_PAGE: u32 = 40;
/// The most pages read in one fetch, so a storm does not spend the whole rate budget of 300
/// requests per 5 minutes at once: reading forward from a cursor, the rest waits for the next
/// fetch; in the backfill (no cursor yet), older mentions are skipped and logged.
const MAX_PAGES: usize = 40;
/// The requests that must be left in the rate window for a fetch's two reads to go at once.
const PARALLEL_READS_MARGIN: u64 = 5;
/// How many statuses' visibilities are remembered for replies.
const VISIBILITY_CACHE: usize = 20_000;
/// While the notification stream is up, polls (for the brand's own statuses, and as a safety
/// net) come this many times less often.
const STREAM_POLL_FACTOR: u32 = 4;
/// The first wait before reconnecting a dropped or refused stream; it doubles up to the max.
const STREAM_RETRY_FIRST: Duration = Duration::from_millis(200);
const STREAM_RETRY_MAX: Duration = Duration::from_secs(60);
/// How long the stream may stay silent (Mastodon sends a `:thump` heartbeat) before it counts
/// as dropped.
const STREAM_IDLE: Duration = Duration::from_secs(90);

/// A Mastodon source.
pub struct MastodonSource {
    name: String,
    base_url: Url,
    access_token: crate::config::Secret,
    poll_interval: Duration,
    backfill: Duration,
    client: reqwest::Client,
    /// The account and instance facts, read once.
    setup: tokio::sync::Mutex<Option<Arc<Setup>>>,
    /// The instance's status length limit (500 until the instance says otherwise).
    reply_limit: AtomicUsize,
    /// The visibility of statuses read, by status id, for answering with the same one.
    visibilities: Mutex<HashMap<String, Visibility>>,
    /// Statuses this process posted: not "answered outside" when the own-statuses read sees them.
    posted: PostedIds,
    /// Replies being posted right now: the own-statuses read waits for them (it could see the
    /// new status before the reply is recorded as ours).
    replies_in_flight: AtomicUsize,
    /// The requests left in the rate window as the last answer said (`u64::MAX`: not known
    /// yet): the two reads of a fetch go at the same time only while there is room for both.
    rate_remaining: AtomicU64,
    /// Whether to listen to the notification stream.
    streaming: bool,
    /// A client without an overall timeout, for the long-lived stream.
    stream_client: reqwest::Client,
    /// The stream is connected now (polls are spaced out meanwhile).
    stream_connected: AtomicBool,
}

/// What is read once per process: who we are, and the instance's domain.
#[derive(Debug)]
struct Setup {
    account_id: String,
    /// The instance's own domain, appended to local accounts' handles.
    domain: String,
    /// Where the streaming API is served (`configuration.urls.streaming`, as http(s)); `None`:
    /// on `base_url`.
    streaming_url: Option<Url>,
}

impl MastodonSource {
    /// A source for one configured Mastodon account.
    pub fn new(config: &MastodonConfig) -> Result<MastodonSource, SourceError> {
        let base_url = Url::parse(config.base_url.trim_end_matches('/'))
            .map_err(|error| SourceError::Rejected(format!("invalid base_url: {error}")))?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("mentiondesk/", env!("CARGO_PKG_VERSION")))
            .timeout(config.request_timeout)
            .build()
            .map_err(|error| {
                SourceError::Rejected(format!("cannot build the HTTP client: {error}"))
            })?;
        let stream_client = reqwest::Client::builder()
            .user_agent(concat!("mentiondesk/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.request_timeout)
            .build()
            .map_err(|error| {
                SourceError::Rejected(format!("cannot build the HTTP client: {error}"))
            })?;
        Ok(MastodonSource {
            name: config.name.clone(),
            base_url,
            access_token: config.access_token.clone(),
            poll_interval: config.poll_interval,
            backfill: config.backfill,
            client,
            setup: tokio::sync::Mutex::new(None),
            reply_limit: AtomicUsize::new(Network::Mastodon.default_reply_limit()),
            visibilities: Mutex::new(HashMap::new()),
            posted: PostedIds::default(),
            replies_in_flight: AtomicUsize::new(0),
            rate_remaining: AtomicU64::new(u64::MAX),
            streaming: config.streaming,
            stream_client,
            stream_connected: AtomicBool::new(false),
        })
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{prefix}{path}"));
        url
    }

    /// One authorized GET; `budget` stops it when the rate budget is already spent.
    async fn get(
        &self,
        url: Url,
        budget: &mut Budget,
    ) -> Result<(serde_json::Value, HeaderMap), SourceError> {
        if let Some(retry_after) = budget.exhausted {
            return Err(SourceError::RateLimited { retry_after });
        }
        let response = self
            .client
            .get(url)
            .bearer_auth(self.access_token.expose())
            .send()
            .await
            .map_err(http::transport_error)?;
        let response = checked(response).await?;
        let headers = response.headers().clone();
        budget.exhausted = http::exhausted_wait(&headers, Utc::now());
        if let Some(remaining) = http::remaining(&headers) {
            self.rate_remaining
                .store(remaining.max(0) as u64, Ordering::SeqCst);
        }
        let body = response.bytes().await.map_err(http::transport_error)?;
        let value = serde_json::from_slice(&body).map_err(|error| {
            SourceError::Transient(format!("malformed JSON from the instance: {error}"))
        })?;
        Ok((value, headers))
    }

    async fn setup(&self, budget: &mut Budget) -> Result<Arc<Setup>, SourceError> {
        let mut cached = self.setup.lock().await;
        if let Some(setup) = cached.as_ref() {
            return Ok(setup.clone());
        }
        let (me, _) = self
            .get(self.url("/api/v1/accounts/verify_credentials"), budget)
            .await?;
        let account: Account = serde_json::from_value(me).map_err(|error| {
            SourceError::Transient(format!("malformed verify_credentials answer: {error}"))
        })?;
        let fallback_domain = self.base_url.host_str().unwrap_or_default().to_string();
        let mut streaming_url = None;
        let domain = match self.get(self.url("/api/v2/instance"), budget).await {
            Ok((value, _)) => match serde_json::from_value::<Instance>(value) {
                Ok(instance) => {
                    if let Some(limit) = instance
                        .configuration
                        .as_ref()
                        .and_then(|c| c.statuses.as_ref())
                        .and_then(|s| s.max_characters)
                        .filter(|&limit| limit > 0)
                    {
                        self.reply_limit.store(limit, Ordering::Relaxed);
                    }
                    streaming_url = instance
                        .configuration
                        .as_ref()
                        .and_then(|c| c.urls.as_ref())
                        .and_then(|urls| urls.streaming.as_deref())
                        .and_then(streaming_base);
                    instance.domain.unwrap_or(fallback_domain)
                }
                Err(error) => {
                    tracing::warn!(source = %self.name, error = %error, "Malformed /api/v2/instance answer; using the default limit");
                    fallback_domain
                }
            },
            // An instance older than 4.0 has no v2 instance: defaults are right for it.
            Err(SourceError::Rejected(message)) => {
                tracing::warn!(source = %self.name, error = %message, "No /api/v2/instance; using the default limit");
                fallback_domain
            }
            Err(error) => return Err(error),
        };
        tracing::info!(
            source = %self.name,
            account = %account.acct,
            domain = %domain,
            reply_limit = self.reply_limit.load(Ordering::Relaxed),
            "Mastodon account verified"
        );
        let setup = Arc::new(Setup {
            account_id: account.id,
            domain,
            streaming_url,
        });
        *cached = Some(setup.clone());
        Ok(setup)
    }

    /// Without a cursor (the first start, or after an unreadable one): every page newer than
    /// `not_before`, walking back with the `next` links, newest first. `filters` are kept on
    /// every page.
    async fn read_backfill(
        &self,
        first: Url,
        not_before: DateTime<Utc>,
        filters: &[(&str, String)],
        budget: &mut Budget,
    ) -> Result<Vec<serde_json::Value>, SourceError> {
        let mut items = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        let mut visited = HashSet::new();
        while let Some(url) = next.take() {
            if !visited.insert(url.to_string()) {
                break;
            }
            pages += 1;
            let page = self.get_page(url, budget).await?;
            if page.items.is_empty() {
                break;
            }
            let mut reached_old = false;
            for item in page.items {
                if created_at(&item).is_some_and(|at| at < not_before) {
                    reached_old = true;
                    continue;
                }
                items.push(item);
            }
            if reached_old {
                break;
            }
            if pages >= MAX_PAGES {
                tracing::warn!(source = %self.name, pages, "Too many pages in the backfill; older mentions are skipped");
                break;
            }
            next = next_link(&page.headers).and_then(|link| self.follow(&link, filters));
        }
        Ok(items)
    }

    /// With a cursor: the items newer than it, read forward with `min_id` ("results
    /// immediately newer than this ID"), newest first. Each page starts right after the newest
    /// item read so far; a page shorter than `limit` means the instance has nothing newer, so
    /// a fetch that finds one new mention costs one request, not a second one to find an empty
    /// page. Stopping early loses nothing: the cursor only moves over items actually read, so
    /// an instance that caps `limit` lower, or a burst longer than `MAX_PAGES` pages, leaves
    /// the rest for the next fetch instead of skipping it.
    async fn read_forward(
        &self,
        base: Url,
        cursor: &str,
        limit: u32,
        budget: &mut Budget,
    ) -> Result<Vec<serde_json::Value>, SourceError> {
        let mut items: Vec<serde_json::Value> = Vec::new();
        let mut after = cursor.to_string();
        for _ in 0..MAX_PAGES {
            let mut url = base.clone();
            url.query_pairs_mut().append_pair("min_id", &after);
            let mut page = self.get_page(url, budget).await?.items;
            let full = page.len() >= limit as usize;
            // Only what is newer than the cursor (an instance that ignored `min_id` would
            // answer its newest page again), newest first whatever order it answered in.
            page.retain(|item| item_id(item).is_some_and(|id| id_is_newer(&id, &after)));
            page.sort_by_cached_key(|item| {
                let id = item_id(item).unwrap_or_default();
                std::cmp::Reverse((id.len(), id))
            });
            let Some(newest) = page.first().and_then(item_id) else {
                break;
            };
            after = newest;
            page.append(&mut items);
            items = page;
            if !full {
                break;
            }
        }
        Ok(items)
    }

    /// One page: the JSON array and the response's headers.
    async fn get_page(&self, url: Url, budget: &mut Budget) -> Result<Page, SourceError> {
        let (page, headers) = self.get(url, budget).await?;
        let serde_json::Value::Array(items) = page else {
            return Err(SourceError::Transient(
                "malformed page from the instance: expected an array".to_string(),
            ));
        };
        Ok(Page { items, headers })
    }

    /// Reads the items of `path` newer than `cursor` (or, without one, the backfill window),
    /// newest first, with `filters` on every request.
    async fn read_new(
        &self,
        path: &str,
        filters: &[(&str, String)],
        limit: u32,
        cursor: Option<&str>,
        budget: &mut Budget,
    ) -> Result<Vec<serde_json::Value>, SourceError> {
        let mut url = self.url(path);
        url.query_pairs_mut()
            .extend_pairs(filters.iter().map(|(k, v)| (*k, v.as_str())));
        match cursor {
            Some(cursor) => self.read_forward(url, cursor, limit, budget).await,
            None => {
                self.read_backfill(url, self.not_before(), filters, budget)
                    .await
            }
        }
    }

    /// The `next` link, moved onto our base URL (the token never goes to another host), with
    /// the filters put back when the server left them out.
    fn follow(&self, link: &str, filters: &[(&str, String)]) -> Option<Url> {
        let parsed = Url::parse(link)
            .or_else(|_| self.base_url.join(link))
            .ok()?;
        let mut url = self.base_url.clone();
        url.set_path(parsed.path());
        let mut pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        let has = |pairs: &[(String, String)], key: &str| pairs.iter().any(|(k, _)| k == key);
        for (key, value) in filters {
            if !has(&pairs, key) {
                pairs.push((key.to_string(), value.clone()));
            }
        }
        url.query_pairs_mut().clear().extend_pairs(pairs);
        Some(url)
    }

    async fn read_notifications(
        &self,
        setup: &Setup,
        cursor: Option<&str>,
        budget: &mut Budget,
    ) -> Result<(Vec<Mention>, Option<String>), SourceError> {
        let filters = [
            ("types[]", "mention".to_string()),
            ("limit", NOTIFICATIONS_PAGE.to_string()),
        ];
        let items = self
            .read_new(
                "/api/v1/notifications",
                &filters,
                NOTIFICATIONS_PAGE,
                cursor,
                budget,
            )
            .await?;
        let newest = items.first().and_then(item_id);
        let mut mentions = Vec::new();
        for item in items {
            let id = item_id(&item).unwrap_or_default();
            match serde_json::from_value::<Notification>(item.clone()) {
                Ok(notification) => {
                    if let Some(mention) = self.notification_mention(setup, notification, &item) {
                        mentions.push(mention);
                    }
                }
                Err(error) => {
                    tracing::warn!(source = %self.name, notification = %id, error = %error, "Skipping a malformed notification");
                }
            }
        }
        mentions.reverse();
        Ok((mentions, newest))
    }

    fn notification_mention(
        &self,
        setup: &Setup,
        notification: Notification,
        raw: &serde_json::Value,
    ) -> Option<Mention> {
        if notification.kind != "mention" {
            return None;
        }
        let status = notification.status?;
        let raw_status = raw.get("status").cloned();
        self.status_mention(setup, status, raw_status)
    }

    /// A status as a `Mention`; `None` for boosts.
    fn status_mention(
        &self,
        setup: &Setup,
        status: Status,
        raw: Option<serde_json::Value>,
    ) -> Option<Mention> {
        if status
            .reblog
            .as_ref()
            .is_some_and(|reblog| !reblog.is_null())
        {
            return None;
        }
        self.remember_visibility(&status.id, Visibility::parse(&status.visibility));
        let mut mention = map_status(status, raw, setup);
        mention.source = self.name.clone();
        Some(mention)
    }

    /// The account's own statuses when `reads`, else nothing.
    async fn read_own_if(
        &self,
        reads: bool,
        setup: &Setup,
        cursor: Option<&str>,
        budget: &mut Budget,
    ) -> Option<Result<(Vec<Mention>, Option<String>), SourceError>> {
        if reads {
            Some(self.read_own_statuses(setup, cursor, budget).await)
        } else {
            None
        }
    }

    async fn read_own_statuses(
        &self,
        setup: &Setup,
        cursor: Option<&str>,
        budget: &mut Budget,
    ) -> Result<(Vec<Mention>, Option<String>), SourceError> {
        let filters = [
            ("limit", STATUSES_PAGE.to_string()),
            ("exclude_reblogs", "true".to_string()),
        ];
        let path = format!(
            "/api/v1/accounts/{}/statuses",
            urlencode_segment(&setup.account_id)
        );
        let items = self
            .read_new(&path, &filters, STATUSES_PAGE, cursor, budget)
            .await?;
        let newest = items.first().and_then(item_id);
        let mut mentions = Vec::new();
        for item in items {
            match serde_json::from_value::<Status>(item.clone()) {
                Ok(status) => {
                    // Only answers can be answers to a case; our own replies are known already.
                    if status.in_reply_to_id.is_none() || self.posted.contains(&status.id) {
                        continue;
                    }
                    if let Some(mention) = self.status_mention(setup, status, Some(item)) {
                        mentions.push(mention);
                    }
                }
                Err(error) => {
                    tracing::warn!(source = %self.name, status = %item_id(&item).unwrap_or_default(), error = %error, "Skipping a malformed status");
                }
            }
        }
        mentions.reverse();
        Ok((mentions, newest))
    }

    /// One connection to `GET /api/v1/streaming/user/notification` (server-sent events):
    /// rings `doorbell` once connected (a catch-up poll for what came while it was down) and
    /// for every mention notification. Returns when the stream ends or fails.
    async fn stream_once(&self, doorbell: &tokio::sync::Notify) -> Result<(), SourceError> {
        let setup = self.setup(&mut Budget::default()).await?;
        let url = match &setup.streaming_url {
            Some(base) => {
                let mut url = base.clone();
                let prefix = url.path().trim_end_matches('/').to_string();
                url.set_path(&format!("{prefix}/api/v1/streaming/user/notification"));
                url
            }
            None => self.url("/api/v1/streaming/user/notification"),
        };
        let response = self
            .stream_client
            .get(url)
            .bearer_auth(self.access_token.expose())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(http::transport_error)?;
        let mut response = checked(response).await?;
        self.stream_connected.store(true, Ordering::SeqCst);
        tracing::info!(source = %self.name, "Notification stream connected");
        doorbell.notify_one();
        let mut events = SseParser::default();
        loop {
            let chunk = tokio::time::timeout(STREAM_IDLE, response.chunk())
                .await
                .map_err(|_| {
                    SourceError::Transient(format!(
                        "the notification stream was silent for {STREAM_IDLE:?}"
                    ))
                })?
                .map_err(http::transport_error)?;
            let Some(chunk) = chunk else {
                return Ok(());
            };
            for event in events.push(&chunk) {
                if event.name != "notification" {
                    continue;
                }
                match serde_json::from_str::<NotificationKind>(&event.data) {
                    Ok(notification) if notification.kind == "mention" => {
                        tracing::debug!(source = %self.name, "Mention pushed");
                        doorbell.notify_one();
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(source = %self.name, error = %error, "Skipping a malformed streamed notification");
                    }
                }
            }
        }
    }

    fn not_before(&self) -> DateTime<Utc> {
        Utc::now() - chrono::Duration::from_std(self.backfill).unwrap_or(chrono::Duration::zero())
    }

    fn remember_visibility(&self, status_id: &str, visibility: Visibility) {
        if let Ok(mut known) = self.visibilities.lock() {
            if known.len() >= VISIBILITY_CACHE {
                known.clear();
            }
            known.insert(status_id.to_string(), visibility);
        }
    }

    /// The visibility of the customer's post: remembered from the fetch, or read back.
    async fn visibility_of(&self, status_id: &str) -> Result<Visibility, SourceError> {
        if let Some(known) = self
            .visibilities
            .lock()
            .ok()
            .and_then(|known| known.get(status_id).copied())
        {
            return Ok(known);
        }
        let url = self.url(&format!(
            "/api/v1/statuses/{}",
            urlencode_segment(status_id)
        ));
        let (value, _) = match self.get(url, &mut Budget::default()).await {
            Err(SourceError::Rejected(message)) => {
                return Err(SourceError::Rejected(format!(
                    "cannot read the customer's post (deleted or no longer visible?): {message}"
                )))
            }
            other => other?,
        };
        let status: VisibilityOnly = serde_json::from_value(value).map_err(|error| {
            SourceError::Transient(format!("malformed status from the instance: {error}"))
        })?;
        let visibility = Visibility::parse(&status.visibility);
        self.remember_visibility(status_id, visibility);
        Ok(visibility)
    }
}

#[async_trait]
impl SourceClient for MastodonSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    fn reply_limit(&self, network: Network) -> usize {
        match network {
            Network::Mastodon => self.reply_limit.load(Ordering::Relaxed),
            other => other.default_reply_limit(),
        }
    }

    async fn verify(&self) -> Result<String, SourceError> {
        let setup = self.setup(&mut Budget::default()).await?;
        Ok(format!(
            "signed in as account {} on {}",
            setup.account_id, setup.domain
        ))
    }

    async fn fetch(&self, cursor: Option<&str>) -> Result<Fetched, SourceError> {
        let mut position = Cursor::parse(cursor);
        let mut budget = Budget::default();
        let setup = self.setup(&mut budget).await?;
        // While a reply is being posted, its new status could be read here before the reply
        // is recorded as ours; the next fetch reads it instead.
        let reads_own = self.replies_in_flight.load(Ordering::SeqCst) == 0;
        // The notifications and the account's own statuses are read at the same time (one
        // round trip instead of two) while the rate window has room to spare; near its end,
        // one after the other, so the last requests left are not raced into a 429.
        let mut own_budget = Budget {
            exhausted: budget.exhausted,
        };
        let (notifications, own) =
            if self.rate_remaining.load(Ordering::SeqCst) >= PARALLEL_READS_MARGIN {
                tokio::join!(
                    self.read_notifications(&setup, position.notifications.as_deref(), &mut budget),
                    self.read_own_if(
                        reads_own,
                        &setup,
                        position.statuses.as_deref(),
                        &mut own_budget
                    )
                )
            } else {
                let notifications = self
                    .read_notifications(&setup, position.notifications.as_deref(), &mut budget)
                    .await;
                own_budget.exhausted = budget.exhausted;
                let reads_own = reads_own && notifications.is_ok();
                let own = self
                    .read_own_if(
                        reads_own,
                        &setup,
                        position.statuses.as_deref(),
                        &mut own_budget,
                    )
                    .await;
                (notifications, own)
            };
        let (mut mentions, newest) = notifications?;
        if newest.is_some() {
            position.notifications = newest;
        }
        match own {
            Some(Ok((own, newest))) => {
                mentions.extend(own);
                if newest.is_some() {
                    position.statuses = newest;
                }
            }
            Some(Err(SourceError::RateLimited { retry_after })) => {
                own_budget.exhausted = Some(retry_after);
            }
            Some(Err(error)) => {
                tracing::warn!(source = %self.name, error = %error, "Cannot read the account's own statuses");
            }
            None => {}
        }
        budget.exhausted = budget.exhausted.max(own_budget.exhausted);
        // Oldest first, so a brand answer comes after the post it answers.
        mentions.sort_by_key(|mention| mention.created_at);
        let interval = if self.stream_connected.load(Ordering::SeqCst) {
            self.poll_interval * STREAM_POLL_FACTOR
        } else {
            self.poll_interval
        };
        let wait = budget.exhausted.map_or(interval, |wait| wait.max(interval));
        Ok(Fetched {
            mentions,
            cursor: position.encode(),
            wait: Some(wait),
        })
    }

    async fn listen(
        &self,
        doorbell: std::sync::Arc<tokio::sync::Notify>,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        if !self.streaming {
            return;
        }
        let mut retry = STREAM_RETRY_FIRST;
        loop {
            let opened = tokio::select! {
                opened = self.stream_once(&doorbell) => opened,
                _ = shutdown.cancelled() => break,
            };
            let was_connected = self.stream_connected.swap(false, Ordering::SeqCst);
            if was_connected {
                // Poll now, and at the normal interval until the stream is back.
                doorbell.notify_one();
            }
            match opened {
                Ok(()) => {
                    tracing::info!(source = %self.name, "The notification stream ended; polling until it is back");
                    retry = STREAM_RETRY_FIRST;
                }
                Err(error) => {
                    tracing::warn!(source = %self.name, error = %error, ?retry, "The notification stream failed; polling until it is back");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(retry) => {}
                _ = shutdown.cancelled() => break,
            }
            retry = (retry * 2).min(STREAM_RETRY_MAX);
        }
        self.stream_connected.store(false, Ordering::SeqCst);
    }

    async fn reply(&self, request: &ReplyRequest) -> Result<ReplyReceipt, SourceError> {
        let _in_flight = InFlight::enter(&self.replies_in_flight);
        let in_reply_to = &request.in_reply_to.id;
        let visibility = self.visibility_of(in_reply_to).await?;
        let form = [
            ("status", request.text.as_str()),
            ("in_reply_to_id", in_reply_to.as_str()),
            ("visibility", visibility.as_str()),
        ];
        let response = self
            .client
            .post(self.url("/api/v1/statuses"))
            .bearer_auth(self.access_token.expose())
            .header("Idempotency-Key", &request.reply_id)
            .form(&form)
            .send()
            .await
            .map_err(http::transport_error)?;
        let response = checked(response).await?;
        let body = response.bytes().await.map_err(http::transport_error)?;
        let created: Created = serde_json::from_slice(&body).map_err(|error| {
            // Posted, but we can't tell its id: retrying with the same key finds it.
            SourceError::Transient(format!("malformed answer to the new status: {error}"))
        })?;
        self.posted.remember(&created.id);
        Ok(ReplyReceipt {
            post_id: created.id,
            url: created.url.or(created.uri),
        })
    }
}

/// Counts a reply in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> InFlight<'a> {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The rate budget as the last response told it: `Some(wait)` once it is spent.
#[derive(Debug, Default)]
struct Budget {
    exhausted: Option<Duration>,
}

/// Where the source resumes: the newest notification and own status read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notifications: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    statuses: Option<String>,
}

impl Cursor {
    fn parse(text: Option<&str>) -> Cursor {
        let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
            return Cursor::default();
        };
        if text.starts_with('{') {
            serde_json::from_str(text).unwrap_or_else(|error| {
                tracing::warn!(cursor = %text, error = %error, "Unreadable Mastodon cursor; starting over with the backfill window");
                Cursor::default()
            })
        } else {
            // A bare id: a notifications cursor.
            Cursor {
                notifications: Some(text.to_string()),
                statuses: None,
            }
        }
    }

    fn encode(&self) -> Option<String> {
        if self.notifications.is_none() && self.statuses.is_none() {
            return None;
        }
        serde_json::to_string(self).ok()
    }
}

/// A status's visibility, in Mastodon's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone, public timelines.
    Public,
    /// Everyone, not in public timelines.
    Unlisted,
    /// Followers and mentioned accounts.
    Private,
    /// Mentioned accounts only.
    Direct,
}

impl Visibility {
    /// Reads Mastodon's value; an unknown one is treated as the most private (`direct`), so a
    /// reply is never more public than the post it answers.
    pub fn parse(text: &str) -> Visibility {
        match text {
            "public" => Visibility::Public,
            "unlisted" => Visibility::Unlisted,
            "private" => Visibility::Private,
            _ => Visibility::Direct,
        }
    }

    /// Mastodon's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }
}

/// Maps a status to a `Mention`. `raw` is kept for audit; the brand's account id marks its
/// own posts; local accounts get `@domain` so handles are unique across instances.
fn map_status(status: Status, raw: Option<serde_json::Value>, setup: &Setup) -> Mention {
    let full_acct = |acct: &str| {
        if acct.contains('@') || setup.domain.is_empty() {
            acct.to_string()
        } else {
            format!("{acct}@{}", setup.domain)
        }
    };
    let mentions: HashMap<String, String> = status
        .mentions
        .iter()
        .map(|mention| (mention.url.clone(), full_acct(&mention.acct)))
        .collect();
    let body = html::to_text(&status.content, &mentions);
    let text = match status.spoiler_text.trim() {
        "" => body,
        warning => format!("CW: {warning}\n\n{body}"),
    };
    let display_name =
        Some(status.account.display_name.trim().to_string()).filter(|name| !name.is_empty());
    Mention {
        network: Network::Mastodon,
        // Set by the source, which knows its name.
        source: String::new(),
        url: status.url.clone().unwrap_or_else(|| status.uri.clone()),
        author: Author {
            id: status.account.id.clone(),
            handle: full_acct(&status.account.acct),
            display_name,
            followers: status.account.followers_count,
        },
        text,
        created_at: status.created_at,
        kind: if status.in_reply_to_id.is_some() {
            MentionKind::Reply
        } else {
            MentionKind::Mention
        },
        in_reply_to: status.in_reply_to_id.clone(),
        root: None,
        lang: status.language.clone().filter(|lang| !lang.is_empty()),
        from_brand: status.account.id == setup.account_id,
        raw,
        id: status.id,
    }
}

/// Whether `id` is newer than `than`, the way the instance orders ids: Mastodon's are decimal
/// numbers (longer is newer), other servers' fixed-length sortable strings; both order by
/// length, then bytes (the same key `read_forward` sorts a page by).
fn id_is_newer(id: &str, than: &str) -> bool {
    (id.len(), id) > (than.len(), than)
}

/// A page of a paginated answer.
struct Page {
    items: Vec<serde_json::Value>,
    headers: HeaderMap,
}

fn item_id(item: &serde_json::Value) -> Option<String> {
    item.get("id")
        .and_then(|id| id.as_str())
        .map(str::to_string)
}

fn created_at(item: &serde_json::Value) -> Option<DateTime<Utc>> {
    item.get("created_at")?
        .as_str()?
        .parse::<DateTime<Utc>>()
        .ok()
}

/// The `rel="next"` target of a `Link` header (RFC 8288).
fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|link| {
            let mut parts = link.split(';');
            let target = parts.next()?.trim();
            let target = target.strip_prefix('<')?.strip_suffix('>')?;
            let is_next = parts.any(|param| {
                let param = param.trim();
                param
                    .strip_prefix("rel=")
                    .map(|rel| rel.trim_matches('"'))
                    .is_some_and(|rel| rel.split_whitespace().any(|r| r == "next"))
            });
            is_next.then(|| target.to_string())
        })
}

/// Opaque ids go into paths encoded.
fn urlencode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// `http::check`, with Mastodon's `{"error": "..."}` body quoted as its message.
async fn checked(response: reqwest::Response) -> Result<reqwest::Response, SourceError> {
    match http::check(response).await {
        Err(SourceError::Rejected(message)) => Err(SourceError::Rejected(readable(&message))),
        Err(SourceError::Transient(message)) => Err(SourceError::Transient(readable(&message))),
        other => other,
    }
}

/// `HTTP 422 Unprocessable Entity: {"error":"Validation failed: …"}` →
/// `HTTP 422 Unprocessable Entity: Validation failed: …`.
fn readable(message: &str) -> String {
    let Some((status, body)) = message.split_once(": ") else {
        return message.to_string();
    };
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(error) => format!("{status}: {}", error.error),
        Err(_) => message.to_string(),
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: String,
}

/// One server-sent event.
#[derive(Debug, Default, PartialEq)]
struct SseEvent {
    name: String,
    data: String,
}

/// Splits a server-sent event stream into events as its bytes arrive: `event:` and `data:`
/// lines up to a blank line; comments (`:thump`) and other fields are ignored.
#[derive(Debug, Default)]
struct SseParser {
    line: Vec<u8>,
    current: SseEvent,
}

impl SseParser {
    fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in bytes {
            if byte != b'\n' {
                self.line.push(byte);
                continue;
            }
            let line = String::from_utf8_lossy(&self.line)
                .trim_end_matches('\r')
                .to_string();
            self.line.clear();
            if line.is_empty() {
                let event = std::mem::take(&mut self.current);
                if !event.data.is_empty() || !event.name.is_empty() {
                    events.push(event);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.current.name = value.to_string(),
                "data" => {
                    if !self.current.data.is_empty() {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                }
                _ => {}
            }
        }
        events
    }
}

/// Only a notification's type (what the stream's doorbell needs).
#[derive(Debug, Deserialize)]
struct NotificationKind {
    #[serde(rename = "type")]
    kind: String,
}

/// A notification (only the fields we read).
#[derive(Debug, Deserialize)]
struct Notification {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    status: Option<Status>,
}

/// A status (only the fields we read).
#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    uri: String,
    #[serde(default)]
    url: Option<String>,
    created_at: DateTime<Utc>,
    account: Account,
    content: String,
    visibility: String,
    #[serde(default)]
    spoiler_text: String,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    reblog: Option<serde_json::Value>,
    #[serde(default)]
    mentions: Vec<StatusMention>,
}

#[derive(Debug, Deserialize)]
struct VisibilityOnly {
    visibility: String,
}

/// An account (only the fields we read).
#[derive(Debug, Deserialize)]
struct Account {
    id: String,
    acct: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    followers_count: Option<u64>,
}

/// `Status::Mention`: an account named in the status.
#[derive(Debug, Deserialize)]
struct StatusMention {
    url: String,
    acct: String,
}

/// The created status: its id and link.
#[derive(Debug, Deserialize)]
struct Created {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
}

/// `GET /api/v2/instance` (only the fields we read).
#[derive(Debug, Deserialize)]
struct Instance {
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    configuration: Option<InstanceConfiguration>,
}

#[derive(Debug, Deserialize)]
struct InstanceConfiguration {
    #[serde(default)]
    statuses: Option<StatusLimits>,
    #[serde(default)]
    urls: Option<InstanceUrls>,
}

#[derive(Debug, Deserialize)]
struct InstanceUrls {
    #[serde(default)]
    streaming: Option<String>,
}

/// The instance's streaming URL (`wss://streaming.example`) as the http(s) base the
/// server-sent events are asked of; `None` for anything else.
fn streaming_base(url: &str) -> Option<Url> {
    let url = Url::parse(url).ok()?;
    let scheme = match url.scheme() {
        "wss" | "https" => "https",
        "ws" | "http" => "http",
        _ => return None,
    };
    let mut base = url.clone();
    base.set_scheme(scheme).ok()?;
    Some(base)
}

#[derive(Debug, Deserialize)]
struct StatusLimits {
    #[serde(default)]
    max_characters: Option<usize>,
}

/// Entry points for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests;
