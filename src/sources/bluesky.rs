//! The Bluesky source: mentions from the account's notifications, public replies as posts.
//!
//! Everything goes through the account's PDS over XRPC (`<base_url>/xrpc/<nsid>`), with our own
//! serde structs for the few shapes we use (lexicons: `com.atproto.server.createSession` and
//! `refreshSession`, `app.bsky.notification.listNotifications`, `app.bsky.feed.getPosts`,
//! `com.atproto.repo.createRecord` and `getRecord`, `app.bsky.feed.post`,
//! `app.bsky.richtext.facet`, `com.atproto.repo.strongRef`).
//!
//! **Session.** An app password buys an access JWT and a refresh JWT (`createSession`). When the
//! PDS says the access token expired, the refresh token buys a new pair (`refreshSession`); when
//! that fails too, we sign in again. Tokens live only in memory and are never logged.
//!
//! **Reading.** `listNotifications` (reasons mention, reply, quote) lists newest first and its
//! cursor only pages towards *older* notifications: there is no "since" parameter, so the
//! network's cursor cannot resume a poll. Our cursor is therefore a watermark we compute: the
//! newest `indexedAt` seen, plus the at-uris seen within [`OVERLAP`] before it. Each poll pages
//! down to `newest - OVERLAP` and delivers what is not in that set, so a notification that shows
//! up late with an older `indexedAt` (the AppView sorts by `min(createdAt, indexedAt)`) within the
//! overlap is still delivered, and nothing seen is delivered twice (the pipeline's dedupe is the
//! second line of defence). On the first start the watermark is `now - backfill`.
//!
//! **Replying.** `createRecord` of an `app.bsky.feed.post` with `reply.root`/`reply.parent`
//! strong refs (read from the parent post with `getPosts`: the parent's own `reply.root` is the
//! thread's root), a mention facet for the customer (UTF-8 byte offsets) and a **record key
//! derived from the reply id and the parent**: a valid TID (the post lexicon's key type), so a
//! retry after a timeout names the same record. The PDS refuses to create a record that exists
//! (today with a bare 500, see bluesky-social/atproto#3718), so when a create fails we look the
//! record up (`getRecord`, authoritative on the PDS) and treat an existing one as our success.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use unicode_segmentation::UnicodeSegmentation;

use super::{http, Fetched, PostedIds, ReplyReceipt, ReplyRequest, SourceClient, SourceError};
use crate::config::Secret;
use crate::domain::{normalize_handle, Author, Mention, MentionKind, Network};

/// The collection of posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";
/// The notification reasons that are about us: someone mentioned, answered or quoted the brand.
pub const REASONS: [&str; 3] = ["mention", "reply", "quote"];
/// How far below the newest `indexedAt` each poll looks again for late notifications.
pub const OVERLAP: Duration = Duration::from_secs(15 * 60);
/// The page size asked of `listNotifications` (the lexicon's maximum).
const PAGE_SIZE: u32 = 100;
/// The most pages one poll reads; past it the older rest of a storm is skipped (and logged).
const MAX_PAGES: usize = 100;
/// The most at-uris the cursor remembers; beyond it, re-deliveries are left to dedupe.
const MAX_SEEN: usize = 500;
/// The post lexicon's limits on `text`.
const MAX_TEXT_GRAPHEMES: usize = 300;
const MAX_TEXT_BYTES: usize = 3000;
/// The post lexicon's limit on `langs`.
const MAX_LANGS: usize = 3;
/// The most pages of the brand's own feed, or of one keyword's search, one poll reads.
const MAX_SIDE_PAGES: usize = 10;

/// Settings of one Bluesky source.
#[derive(Debug, Clone)]
pub struct BlueskySettings {
    /// The source's name.
    pub name: String,
    /// The account's PDS, e.g. `https://bsky.social`.
    pub base_url: String,
    /// The web app links point at, e.g. `https://bsky.app`.
    pub web_url: String,
    /// The account's handle or DID.
    pub identifier: String,
    /// An app password of the account.
    pub app_password: Secret,
    /// The time between two polls.
    pub poll_interval: Duration,
    /// How far back to look on the first start.
    pub backfill: Duration,
    /// How long one request may take (`http::REQUEST_TIMEOUT` in production; tests shorten it).
    pub request_timeout: Duration,
    /// Words or phrases watched with `app.bsky.feed.searchPosts`.
    pub keywords: Vec<String>,
    /// The AppView searches go to (unauthenticated); `None`: through the PDS, with the session.
    pub appview_url: Option<String>,
}

/// A Bluesky account over XRPC.
pub struct BlueskySource {
    settings: BlueskySettings,
    http: reqwest::Client,
    session: Mutex<Option<Session>>,
    /// Posts this process made: not "answered outside" when the brand's feed lists them.
    posted: PostedIds,
    /// Replies being posted right now: the brand's feed is not read meanwhile (it could list
    /// the new post before the reply is recorded as ours).
    replies_in_flight: AtomicUsize,
}

impl BlueskySource {
    /// A source with these settings; nothing connects until the first fetch or reply.
    pub fn new(settings: BlueskySettings) -> Result<BlueskySource, SourceError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("mentiondesk/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.request_timeout)
            .build()
            .map_err(|error| {
                SourceError::Rejected(format!("cannot build the HTTP client: {error}"))
            })?;
        Ok(BlueskySource {
            settings,
            http,
            session: Mutex::new(None),
            posted: PostedIds::default(),
            replies_in_flight: AtomicUsize::new(0),
        })
    }

    fn xrpc_url(&self, nsid: &str) -> String {
        format!(
            "{}/xrpc/{nsid}",
            self.settings.base_url.trim_end_matches('/')
        )
    }

    /// A link people can open: `<web_url>/profile/<handle or did>/post/<rkey>`.
    fn post_link(&self, actor: &str, uri: &str) -> String {
        let rkey = uri.rsplit('/').next().unwrap_or_default();
        format!(
            "{}/profile/{actor}/post/{rkey}",
            self.settings.web_url.trim_end_matches('/')
        )
    }

    /// The current session, signing in first when there is none.
    async fn session(&self) -> Result<Session, SourceError> {
        let mut current = self.session.lock().await;
        if let Some(session) = current.as_ref() {
            return Ok(session.clone());
        }
        let session = self.create_session().await?;
        *current = Some(session.clone());
        Ok(session)
    }

    async fn create_session(&self) -> Result<Session, SourceError> {
        let body = CreateSessionInput {
            identifier: &self.settings.identifier,
            password: self.settings.app_password.expose(),
        };
        let request = self
            .http
            .post(self.xrpc_url("com.atproto.server.createSession"))
            .json(&body);
        let response = send(request).await?.success()?;
        let session: SessionOutput = response.json("com.atproto.server.createSession")?;
        tracing::info!(source = %self.settings.name, did = %session.did, handle = %session.handle, "Signed in to Bluesky");
        Ok(session.into())
    }

    async fn refresh_session(&self, stale: &Session) -> Result<Session, SourceError> {
        let request = self
            .http
            .post(self.xrpc_url("com.atproto.server.refreshSession"))
            .bearer_auth(stale.refresh_jwt.expose());
        let response = send(request).await?.success()?;
        let session: SessionOutput = response.json("com.atproto.server.refreshSession")?;
        tracing::debug!(source = %self.settings.name, "Refreshed the Bluesky session");
        Ok(session.into())
    }

    /// Replaces a session the PDS no longer accepts: refresh it, or sign in again.
    async fn renew(&self, stale: &Session) -> Result<(), SourceError> {
        let mut current = self.session.lock().await;
        if let Some(session) = current.as_ref() {
            if session.access_jwt != stale.access_jwt {
                // Another request renewed it while we waited for the lock.
                return Ok(());
            }
        }
        let renewed = match self.refresh_session(stale).await {
            Ok(session) => session,
            Err(error @ SourceError::RateLimited { .. }) => return Err(error),
            Err(error) => {
                tracing::info!(source = %self.settings.name, error = %error, "Cannot refresh the Bluesky session; signing in again");
                *current = None;
                self.create_session().await?
            }
        };
        *current = Some(renewed);
        Ok(())
    }

    /// Sends an authenticated XRPC request built by `build`; renews the session once when the
    /// PDS refuses the access token. Returns any other answer as it came.
    async fn call(
        &self,
        build: impl Fn(&reqwest::Client, &Session) -> RequestBuilder,
    ) -> Result<XrpcResponse, SourceError> {
        let session = self.session().await?;
        let response =
            send(build(&self.http, &session).bearer_auth(session.access_jwt.expose())).await?;
        if !response.is_token_refusal() {
            return Ok(response);
        }
        tracing::debug!(source = %self.settings.name, error = %response.error(), "The PDS refused the access token");
        self.renew(&session).await?;
        let session = self.session().await?;
        send(build(&self.http, &session).bearer_auth(session.access_jwt.expose())).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        nsid: &str,
        query: &[(&str, String)],
    ) -> Result<(T, HeaderMap), SourceError> {
        let url = self.xrpc_url(nsid);
        let response = self
            .call(|http, _| http.get(&url).query(query))
            .await?
            .success()?;
        Ok((response.json(nsid)?, response.headers))
    }

    /// Reads one page of notifications.
    async fn list_notifications(
        &self,
        cursor: Option<&str>,
    ) -> Result<(NotificationPage, HeaderMap), SourceError> {
        let mut query = vec![("limit", PAGE_SIZE.to_string())];
        query.extend(REASONS.iter().map(|reason| ("reasons", reason.to_string())));
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_string()));
        }
        self.get("app.bsky.notification.listNotifications", &query)
            .await
    }

    /// Turns one notification into a mention; `Err` says why it is malformed.
    fn mention(
        &self,
        raw: &Value,
        indexed_at: DateTime<Utc>,
        own_did: &str,
    ) -> Result<Mention, String> {
        let notification: Notification =
            serde_json::from_value(raw.clone()).map_err(|error| error.to_string())?;
        let kind = match notification.reason.as_str() {
            "mention" => MentionKind::Mention,
            "reply" => MentionKind::Reply,
            "quote" => MentionKind::Quote,
            other => return Err(format!("unexpected reason {other:?}")),
        };
        self.post_mention(
            notification.uri,
            notification.author,
            notification.record,
            Some(kind),
            indexed_at,
            own_did,
            raw,
        )
    }

    /// Turns a post (from a notification, a feed or a search) into a mention; `kind: None`
    /// makes it a reply when it answers a post and a keyword hit otherwise.
    #[allow(clippy::too_many_arguments)]
    fn post_mention(
        &self,
        uri: String,
        author: ProfileView,
        record: Value,
        kind: Option<MentionKind>,
        indexed_at: DateTime<Utc>,
        own_did: &str,
        raw: &Value,
    ) -> Result<Mention, String> {
        let record: PostRecord =
            serde_json::from_value(record).map_err(|error| format!("record: {error}"))?;
        let kind = kind.unwrap_or(if record.reply.is_some() {
            MentionKind::Reply
        } else {
            MentionKind::Keyword
        });
        if record
            .record_type
            .as_deref()
            .is_some_and(|t| t != POST_COLLECTION)
        {
            return Err(format!(
                "record type {:?} is not a post",
                record.record_type
            ));
        }
        let created_at = record
            .created_at
            .as_deref()
            .and_then(parse_datetime)
            .unwrap_or(indexed_at);
        let actor = if author.handle.is_empty() || author.handle == "handle.invalid" {
            author.did.clone()
        } else {
            author.handle.clone()
        };
        Ok(Mention {
            network: Network::Bluesky,
            source: self.settings.name.clone(),
            url: self.post_link(&actor, &uri),
            id: uri,
            from_brand: author.did == own_did,
            author: Author {
                id: author.did,
                handle: author.handle,
                display_name: author.display_name.filter(|name| !name.trim().is_empty()),
                followers: None,
            },
            text: record.text,
            created_at,
            in_reply_to: record.reply.as_ref().map(|reply| reply.parent.uri.clone()),
            root: record.reply.as_ref().map(|reply| reply.root.uri.clone()),
            kind,
            lang: record.langs.and_then(|langs| langs.into_iter().next()),
            raw: Some(raw.clone()),
        })
    }

    /// Pages a newest-first listing (`items` names its array) down to `threshold`, returning
    /// each item with its time (`time` reads it); stops at `MAX_SIDE_PAGES`.
    async fn list_down_to(
        &self,
        read: &SideRead<'_>,
        threshold: DateTime<Utc>,
    ) -> Result<(Vec<(DateTime<Utc>, Value)>, Option<Duration>), SourceError> {
        let mut listed = Vec::new();
        let mut page_cursor: Option<String> = None;
        let mut wait = None;
        for _ in 0..MAX_SIDE_PAGES {
            let mut query = read.query.clone();
            if let Some(cursor) = &page_cursor {
                query.push(("cursor", cursor.clone()));
            }
            let (body, headers): (Value, HeaderMap) = match &read.appview {
                Some(appview) => {
                    let url = format!("{}/xrpc/{}", appview.trim_end_matches('/'), read.nsid);
                    let response = send(self.http.get(&url).query(&query)).await?.success()?;
                    (response.json(read.nsid)?, response.headers)
                }
                None => self.get(read.nsid, &query).await?,
            };
            wait = http::exhausted_wait(&headers, Utc::now());
            let Some(items) = body.get(read.items).and_then(Value::as_array) else {
                return Err(SourceError::Transient(format!(
                    "malformed answer from {}: no {} array",
                    read.nsid, read.items
                )));
            };
            let mut below_threshold = items.is_empty();
            for item in items {
                let Some(at) = (read.time)(item) else {
                    tracing::warn!(source = %self.settings.name, nsid = read.nsid, "Skipping an item without a valid time");
                    continue;
                };
                if at < threshold {
                    below_threshold = true;
                    continue;
                }
                listed.push((at, item.clone()));
            }
            match body.get("cursor").and_then(Value::as_str) {
                Some(next) if !below_threshold && page_cursor.as_deref() != Some(next) => {
                    page_cursor = Some(next.to_string());
                }
                _ => break,
            }
            if wait.is_some() {
                break;
            }
        }
        Ok((listed, wait))
    }

    /// The brand's own replies since its watermark, made outside mentiondesk (posts this
    /// process made are left out), and the watermark after them.
    async fn read_own_replies(
        &self,
        session: &Session,
        previous: Option<&Watermark>,
        first_threshold: DateTime<Utc>,
    ) -> Result<
        (
            Vec<(DateTime<Utc>, Mention)>,
            Option<Watermark>,
            Option<Duration>,
        ),
        SourceError,
    > {
        let threshold = previous.map_or(first_threshold, Watermark::threshold);
        let read = SideRead {
            nsid: "app.bsky.feed.getAuthorFeed",
            query: vec![
                ("actor", session.did.clone()),
                ("filter", "posts_with_replies".to_string()),
                ("limit", PAGE_SIZE.to_string()),
            ],
            items: "feed",
            time: feed_item_time,
            appview: None,
        };
        let (listed, wait) = self.list_down_to(&read, threshold).await?;
        let seen: HashSet<&str> = previous
            .map(|mark| mark.seen.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut mentions = Vec::new();
        let mut posts = Vec::new();
        for (at, item) in &listed {
            // Reposts (and pins) carry a reason; only the brand's own replies matter.
            if item.get("reason").is_some() {
                continue;
            }
            let Some(post) = item.get("post") else {
                continue;
            };
            posts.push((*at, post.clone()));
            let uri = post.get("uri").and_then(Value::as_str).unwrap_or_default();
            if seen.contains(uri) || self.posted.contains(uri) {
                continue;
            }
            match self.view_mention(post, *at, &session.did, Some(MentionKind::Reply)) {
                Ok(mention) if mention.from_brand && mention.in_reply_to.is_some() => {
                    mentions.push((*at, mention));
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(source = %self.settings.name, uri = %uri, error = %error, "Skipping a malformed post of the brand's feed");
                }
            }
        }
        let mark = Watermark::after(previous, &posts).map(|m| m.floored(previous, first_threshold));
        Ok((mentions, mark, wait))
    }

    /// Posts matching the keywords since the search watermark, and the watermark after them.
    async fn search_keywords(
        &self,
        session: &Session,
        previous: Option<&Watermark>,
        first_threshold: DateTime<Utc>,
    ) -> Result<
        (
            Vec<(DateTime<Utc>, Mention)>,
            Option<Watermark>,
            Option<Duration>,
        ),
        SourceError,
    > {
        let threshold = previous.map_or(first_threshold, Watermark::threshold);
        let since = threshold.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut listed: Vec<(DateTime<Utc>, Value)> = Vec::new();
        let mut wait = None;
        for keyword in &self.settings.keywords {
            let read = SideRead {
                nsid: "app.bsky.feed.searchPosts",
                query: vec![
                    ("q", search_term(keyword)),
                    ("sort", "latest".to_string()),
                    ("since", since.clone()),
                    ("limit", PAGE_SIZE.to_string()),
                ],
                items: "posts",
                time: post_view_time,
                appview: self.settings.appview_url.clone(),
            };
            let (found, exhausted) = self.list_down_to(&read, threshold).await?;
            wait = wait.max(exhausted);
            for (at, post) in found {
                let uri = post.get("uri").and_then(Value::as_str);
                if !listed
                    .iter()
                    .any(|(_, other)| other.get("uri").and_then(Value::as_str) == uri)
                {
                    listed.push((at, post));
                }
            }
        }
        let seen: HashSet<&str> = previous
            .map(|mark| mark.seen.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut mentions = Vec::new();
        for (at, post) in &listed {
            let uri = post.get("uri").and_then(Value::as_str).unwrap_or_default();
            if seen.contains(uri) {
                continue;
            }
            match self.view_mention(post, *at, &session.did, None) {
                Ok(mention) => mentions.push((*at, mention)),
                Err(error) => {
                    tracing::warn!(source = %self.settings.name, uri = %uri, error = %error, "Skipping a malformed search result");
                }
            }
        }
        let mark =
            Watermark::after(previous, &listed).map(|m| m.floored(previous, first_threshold));
        Ok((mentions, mark, wait))
    }

    /// A post view (`app.bsky.feed.defs#postView`) as a mention.
    fn view_mention(
        &self,
        post: &Value,
        indexed_at: DateTime<Utc>,
        own_did: &str,
        kind: Option<MentionKind>,
    ) -> Result<Mention, String> {
        let view: PostViewIn = serde_json::from_value(post.clone()).map_err(|e| e.to_string())?;
        self.post_mention(
            view.uri,
            view.author,
            view.record,
            kind,
            indexed_at,
            own_did,
            post,
        )
    }

    /// A failed read of the brand's feed or of the search: logged, a rate limit waited out;
    /// the notifications read before it are still delivered.
    fn side_read_failed(&self, what: &str, error: SourceError, wait: &mut Option<Duration>) {
        tracing::warn!(source = %self.settings.name, read = what, error = %error, "Cannot read from Bluesky");
        if let SourceError::RateLimited { retry_after } = error {
            *wait = (*wait).max(Some(retry_after));
        }
    }

    /// The post our reply answers, with its author and the thread's root as strong refs.
    async fn parent_post(&self, uri: &str) -> Result<PostView, SourceError> {
        let (posts, _): (GetPostsOutput, _) = self
            .get("app.bsky.feed.getPosts", &[("uris", uri.to_string())])
            .await?;
        posts
            .posts
            .into_iter()
            .find(|post| post.uri == uri)
            .ok_or_else(|| {
                SourceError::Rejected(format!(
                    "the post to answer ({uri}) is deleted or not visible to the brand's account"
                ))
            })
    }

    /// The DID of the customer we mention: the parent's author when the handle is theirs,
    /// otherwise resolved through the PDS. `None` when it can't be found (no facet then).
    async fn customer_did(&self, handle: &str, parent: &PostView) -> Option<String> {
        let handle = normalize_handle(handle);
        if handle.is_empty() {
            return None;
        }
        if normalize_handle(&parent.author.handle) == handle {
            return Some(parent.author.did.clone());
        }
        let resolved: Result<(ResolveHandleOutput, _), _> = self
            .get(
                "com.atproto.identity.resolveHandle",
                &[("handle", handle.clone())],
            )
            .await;
        match resolved {
            Ok((output, _)) => Some(output.did),
            Err(error) => {
                tracing::warn!(source = %self.settings.name, handle = %handle, error = %error, "Cannot resolve the customer's handle; replying without a mention link");
                None
            }
        }
    }

    /// The post at `rkey` in our repo, if there is one.
    async fn existing_post(
        &self,
        session: &Session,
        rkey: &str,
    ) -> Result<Option<GetRecordOutput>, SourceError> {
        let url = self.xrpc_url("com.atproto.repo.getRecord");
        let query = [
            ("repo", session.did.clone()),
            ("collection", POST_COLLECTION.to_string()),
            ("rkey", rkey.to_string()),
        ];
        let response = self.call(|http, _| http.get(&url).query(&query)).await?;
        if response.status == StatusCode::BAD_REQUEST && response.error().error == "RecordNotFound"
        {
            return Ok(None);
        }
        let response = response.success()?;
        Ok(Some(response.json("com.atproto.repo.getRecord")?))
    }
}

#[async_trait]
impl SourceClient for BlueskySource {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn poll_interval(&self) -> Duration {
        self.settings.poll_interval
    }

    fn reply_limit(&self, network: Network) -> usize {
        match network {
            Network::Bluesky => MAX_TEXT_GRAPHEMES,
            other => other.default_reply_limit(),
        }
    }

    async fn verify(&self) -> Result<String, SourceError> {
        let session = self.session().await?;
        Ok(format!(
            "signed in as @{} ({})",
            session.handle, session.did
        ))
    }

    async fn fetch(&self, cursor: Option<&str>) -> Result<Fetched, SourceError> {
        let session = self.session().await?;
        let now = Utc::now();
        let watermark = cursor.and_then(|text| match Watermark::parse(text) {
            Some(watermark) => Some(watermark),
            None => {
                tracing::warn!(source = %self.settings.name, "Unreadable Bluesky cursor; starting over from the backfill window");
                None
            }
        });
        let first_threshold =
            now - chrono::Duration::from_std(self.settings.backfill).unwrap_or_default();
        let threshold = watermark
            .as_ref()
            .map_or(first_threshold, Watermark::threshold);

        // Newest first, down to the threshold.
        let mut listed: Vec<(DateTime<Utc>, Value)> = Vec::new();
        let mut page_cursor: Option<String> = None;
        let mut wait = None;
        for page in 1..=MAX_PAGES {
            let (body, headers) = self.list_notifications(page_cursor.as_deref()).await?;
            wait = http::exhausted_wait(&headers, Utc::now());
            let mut below_threshold = body.notifications.is_empty();
            for raw in body.notifications {
                let indexed_at = raw
                    .get("indexedAt")
                    .and_then(Value::as_str)
                    .and_then(parse_datetime);
                let Some(indexed_at) = indexed_at else {
                    tracing::warn!(source = %self.settings.name, uri = ?raw.get("uri"), "Skipping a notification without a valid indexedAt");
                    continue;
                };
                if indexed_at < threshold {
                    below_threshold = true;
                    continue;
                }
                listed.push((indexed_at, raw));
            }
            match body.cursor {
                Some(next) if !below_threshold && page_cursor.as_ref() != Some(&next) => {
                    page_cursor = Some(next);
                }
                _ => break,
            }
            if page == MAX_PAGES {
                tracing::warn!(source = %self.settings.name, pages = MAX_PAGES, "Too many new notifications in one poll; older ones are skipped");
            }
        }

        let seen: HashSet<&str> = watermark
            .as_ref()
            .map(|watermark| watermark.seen.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut delivered: HashSet<String> = HashSet::new();
        let mut mentions: Vec<(DateTime<Utc>, Mention)> = Vec::new();
        for (indexed_at, raw) in &listed {
            let uri = raw.get("uri").and_then(Value::as_str).unwrap_or_default();
            if seen.contains(uri) || delivered.contains(uri) {
                continue;
            }
            let reason = raw
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !REASONS.contains(&reason) {
                continue;
            }
            match self.mention(raw, *indexed_at, &session.did) {
                Ok(mention) => {
                    delivered.insert(mention.id.clone());
                    mentions.push((*indexed_at, mention));
                }
                Err(error) => {
                    tracing::warn!(source = %self.settings.name, uri = %uri, error = %error, "Skipping a malformed notification");
                }
            }
        }
        let mut own_mark = watermark.as_ref().and_then(|w| w.own.as_deref()).cloned();
        // While a reply is being posted, its new post could be listed before the reply is
        // recorded as ours; the next poll reads the feed instead.
        if self.replies_in_flight.load(Ordering::SeqCst) == 0 {
            match self
                .read_own_replies(&session, own_mark.as_ref(), first_threshold)
                .await
            {
                Ok((own, mark, exhausted)) => {
                    mentions.extend(
                        own.into_iter()
                            .filter(|(_, m)| delivered.insert(m.id.clone())),
                    );
                    own_mark = mark.or(own_mark);
                    wait = wait.max(exhausted);
                }
                Err(error) => self.side_read_failed("the brand's feed", error, &mut wait),
            }
        }
        let mut search_mark = watermark
            .as_ref()
            .and_then(|w| w.search.as_deref())
            .cloned();
        if !self.settings.keywords.is_empty() {
            match self
                .search_keywords(&session, search_mark.as_ref(), first_threshold)
                .await
            {
                Ok((found, mark, exhausted)) => {
                    // A post that is a notification too stays a mention.
                    mentions.extend(
                        found
                            .into_iter()
                            .filter(|(_, m)| delivered.insert(m.id.clone())),
                    );
                    search_mark = mark.or(search_mark);
                    wait = wait.max(exhausted);
                }
                Err(error) => self.side_read_failed("the keyword search", error, &mut wait),
            }
        }
        mentions.sort_by_key(|(indexed_at, _)| *indexed_at);

        let next = Watermark::after(watermark.as_ref(), &listed).or_else(|| {
            // Nothing was ever notified, but the feed or the search moved: keep their marks
            // under a notifications mark at the first start's threshold.
            (own_mark.is_some() || search_mark.is_some()).then(|| Watermark {
                newest: threshold,
                seen: Vec::new(),
                floor: None,
                own: None,
                search: None,
            })
        });
        let cursor = match next {
            Some(next) => {
                let mut next = next.floored(watermark.as_ref(), first_threshold);
                next.own = own_mark.map(Box::new);
                next.search = search_mark.map(Box::new);
                Some(next.encode())
            }
            None => cursor.map(str::to_string),
        };
        Ok(Fetched {
            mentions: mentions.into_iter().map(|(_, mention)| mention).collect(),
            cursor,
            wait,
        })
    }

    async fn reply(&self, request: &ReplyRequest) -> Result<ReplyReceipt, SourceError> {
        let _in_flight = InFlight::enter(&self.replies_in_flight);
        let graphemes = request.text.graphemes(true).count();
        if graphemes > MAX_TEXT_GRAPHEMES || request.text.len() > MAX_TEXT_BYTES {
            return Err(SourceError::Rejected(format!(
                "Bluesky posts are limited to {MAX_TEXT_GRAPHEMES} characters and {MAX_TEXT_BYTES} bytes; this one has {graphemes} and {}",
                request.text.len()
            )));
        }
        let session = self.session().await?;
        let parent = self.parent_post(&request.in_reply_to.id).await?;
        let parent_ref = StrongRef {
            uri: parent.uri.clone(),
            cid: parent.cid.clone(),
        };
        let parent_record: ParentRecord =
            serde_json::from_value(parent.record.clone()).unwrap_or_default();
        // The thread's root is what the parent says it is; a top-level post is its own root.
        let root_ref = parent_record
            .reply
            .as_ref()
            .map(|reply| reply.root.clone())
            .unwrap_or_else(|| parent_ref.clone());
        if root_ref.uri != request.root.id {
            tracing::debug!(source = %self.settings.name, case_root = %request.root.id, thread_root = %root_ref.uri, "Replying under the thread's root as the network records it");
        }
        let facets = match self.customer_did(&request.customer_handle, &parent).await {
            Some(did) => mention_facets(&request.text, &request.customer_handle, &did),
            None => Vec::new(),
        };
        let langs: Vec<String> = parent_record
            .langs
            .unwrap_or_default()
            .into_iter()
            .take(MAX_LANGS)
            .collect();
        let rkey = reply_rkey(&request.reply_id, &parent.uri);
        let record = PostOut {
            record_type: POST_COLLECTION,
            text: &request.text,
            created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            reply: ReplyRef {
                root: root_ref,
                parent: parent_ref,
            },
            facets,
            langs,
        };
        let input = CreateRecordInput {
            repo: &session.did,
            collection: POST_COLLECTION,
            rkey: &rkey,
            record: &record,
        };
        let url = self.xrpc_url("com.atproto.repo.createRecord");
        let created = self
            .call(|http, session| {
                // The repo is always the signed-in account's.
                let input = CreateRecordInput {
                    repo: &session.did,
                    ..input
                };
                http.post(&url).json(&input)
            })
            .await
            .and_then(XrpcResponse::success);
        let uri = match created {
            Ok(response) => {
                let output: CreateRecordOutput = response.json("com.atproto.repo.createRecord")?;
                output.uri
            }
            Err(error @ SourceError::RateLimited { .. }) => return Err(error),
            Err(error) => {
                // A timeout may have created it; a retry meets the record it created.
                match self.existing_post(&session, &rkey).await {
                    Ok(Some(existing)) => {
                        let answers = existing
                            .value
                            .pointer("/reply/parent/uri")
                            .and_then(Value::as_str);
                        if answers != Some(parent.uri.as_str()) {
                            return Err(SourceError::Rejected(format!(
                                "the record key {rkey} for reply {} is taken by another post",
                                request.reply_id
                            )));
                        }
                        tracing::info!(source = %self.settings.name, uri = %existing.uri, reply_id = %request.reply_id, "The reply was already posted");
                        existing.uri
                    }
                    Ok(None) => return Err(error),
                    Err(lookup) => {
                        tracing::warn!(source = %self.settings.name, error = %lookup, "Cannot check whether the reply exists");
                        return Err(error);
                    }
                }
            }
        };
        self.posted.remember(&uri);
        Ok(ReplyReceipt {
            url: Some(self.post_link(&session.handle, &uri)),
            post_id: uri,
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

/// One newest-first listing read by [`BlueskySource::list_down_to`].
struct SideRead<'a> {
    nsid: &'a str,
    query: Vec<(&'a str, String)>,
    /// The name of the answer's array.
    items: &'a str,
    /// Reads an item's time.
    time: fn(&Value) -> Option<DateTime<Utc>>,
    /// Sent to this AppView without the session instead of through the PDS.
    appview: Option<String>,
}

/// A feed item's time: the repost's when it is one, the post's `indexedAt` otherwise.
fn feed_item_time(item: &Value) -> Option<DateTime<Utc>> {
    item.pointer("/reason/indexedAt")
        .or_else(|| item.pointer("/post/indexedAt"))
        .and_then(Value::as_str)
        .and_then(parse_datetime)
}

fn post_view_time(post: &Value) -> Option<DateTime<Utc>> {
    post.get("indexedAt")
        .and_then(Value::as_str)
        .and_then(parse_datetime)
}

/// A keyword as a search term: a phrase is quoted (Lucene syntax, which the lexicon recommends).
fn search_term(keyword: &str) -> String {
    let keyword = keyword.trim();
    if keyword.contains(char::is_whitespace) {
        format!("\"{keyword}\"")
    } else {
        keyword.to_string()
    }
}

/// The signed-in account and its tokens.
#[derive(Clone)]
struct Session {
    access_jwt: Secret,
    refresh_jwt: Secret,
    did: String,
    handle: String,
}

impl From<SessionOutput> for Session {
    fn from(output: SessionOutput) -> Session {
        Session {
            access_jwt: Secret::new(output.access_jwt),
            refresh_jwt: Secret::new(output.refresh_jwt),
            did: output.did,
            handle: output.handle,
        }
    }
}

/// Our cursor: the newest `indexedAt` seen, and the at-uris seen within [`OVERLAP`] of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Watermark {
    newest: DateTime<Utc>,
    #[serde(default)]
    seen: Vec<String>,
    /// The first start's `now - backfill`, kept while the overlap still reaches below it, so
    /// a backfill shorter than the overlap does not let the second poll deliver what the
    /// first one left out as too old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    floor: Option<DateTime<Utc>>,
    /// The brand's own feed's mark (answers made outside mentiondesk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    own: Option<Box<Watermark>>,
    /// The keyword search's mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    search: Option<Box<Watermark>>,
}

impl Watermark {
    fn parse(text: &str) -> Option<Watermark> {
        serde_json::from_str(text).ok()
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The watermark after a poll that listed `listed` (all at or above the old threshold).
    /// `None` when nothing was ever listed.
    fn after(previous: Option<&Watermark>, listed: &[(DateTime<Utc>, Value)]) -> Option<Watermark> {
        let newest_listed = listed.iter().map(|(indexed_at, _)| *indexed_at).max();
        let newest = match (previous.map(|w| w.newest), newest_listed) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a.or(b)?,
        };
        let floor = newest - overlap();
        let mut recent: Vec<(DateTime<Utc>, &str)> = listed
            .iter()
            .filter(|(indexed_at, _)| *indexed_at >= floor)
            .filter_map(|(indexed_at, raw)| Some((*indexed_at, raw.get("uri")?.as_str()?)))
            .collect();
        recent.sort_by(|a, b| b.cmp(a));
        let mut seen: Vec<String> = recent
            .into_iter()
            .take(MAX_SEEN)
            .map(|(_, uri)| uri.to_string())
            .collect();
        seen.sort();
        seen.dedup();
        Some(Watermark {
            newest,
            seen,
            floor: None,
            own: None,
            search: None,
        })
    }

    /// Where the next poll stops reading: the overlap below the newest time seen, never
    /// below the first start's floor.
    fn threshold(&self) -> DateTime<Utc> {
        let threshold = self.newest - overlap();
        self.floor.map_or(threshold, |floor| threshold.max(floor))
    }

    /// This mark with the floor carried over from `previous` (or set to `first_threshold` on
    /// the first start), dropped once the overlap no longer reaches below it.
    fn floored(
        mut self,
        previous: Option<&Watermark>,
        first_threshold: DateTime<Utc>,
    ) -> Watermark {
        let floor = match previous {
            Some(previous) => previous.floor,
            None => Some(first_threshold),
        };
        self.floor = floor.filter(|floor| self.newest - overlap() < *floor);
        self
    }
}

fn overlap() -> chrono::Duration {
    chrono::Duration::from_std(OVERLAP).unwrap_or_default()
}

fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|date| date.with_timezone(&Utc))
}

/// An XRPC answer, read whole (bodies are small), so auth failures can be told apart.
struct XrpcResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

async fn send(request: RequestBuilder) -> Result<XrpcResponse, SourceError> {
    let response = request.send().await.map_err(http::transport_error)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(http::transport_error)?
        .to_vec();
    Ok(XrpcResponse {
        status,
        headers,
        body,
    })
}

impl XrpcResponse {
    /// The XRPC error body (`{"error": ..., "message": ...}`), empty when there is none.
    fn error(&self) -> XrpcError {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    /// The PDS does not accept the access token: expired, revoked or unknown.
    fn is_token_refusal(&self) -> bool {
        let error = self.error().error;
        self.status == StatusCode::UNAUTHORIZED
            || (self.status == StatusCode::BAD_REQUEST
                && (error == "ExpiredToken" || error == "InvalidToken"))
    }

    /// Passes a success through; maps the rest like `http::check` does, with the XRPC error.
    fn success(self) -> Result<XrpcResponse, SourceError> {
        let status = self.status;
        if status.is_success() {
            return Ok(self);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SourceError::RateLimited {
                retry_after: http::rate_limit_wait(&self.headers, Utc::now())
                    .unwrap_or(http::DEFAULT_RATE_LIMIT_WAIT),
            });
        }
        let error = self.error();
        let detail = if error.error.is_empty() {
            String::from_utf8_lossy(&self.body)
                .chars()
                .take(300)
                .collect()
        } else if error.message.is_empty() {
            error.error
        } else {
            format!("{}: {}", error.error, error.message)
        };
        let message = format!("HTTP {status}: {detail}");
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            Err(SourceError::Transient(message))
        } else {
            Err(SourceError::Rejected(message))
        }
    }

    /// The body as `T`; a malformed body is a transient failure (nothing was consumed).
    fn json<T: DeserializeOwned>(&self, nsid: &str) -> Result<T, SourceError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            SourceError::Transient(format!("malformed answer from {nsid}: {error}"))
        })
    }
}

/// A record key for our reply: a TID (the post lexicon's key type) computed from the reply id
/// and the post it answers, so every attempt of one reply names the same record, and a reply
/// id reused by another store (or after a reset) for another post names another record. Its
/// clock sits a second or two after the parent's TID (a fixed 2023 date when the parent's key
/// is not a TID), so it sorts after the post it answers and is never in the future of it.
pub fn reply_rkey(reply_id: &str, parent_uri: &str) -> String {
    const FALLBACK_MICROS: u64 = 1_672_531_200_000_000; // 2023-01-01T00:00:00Z
    let hash = fnv1a64(format!("{reply_id}\n{parent_uri}").as_bytes());
    let parent_micros = parent_uri
        .rsplit('/')
        .next()
        .and_then(tid_decode)
        .map(|tid| tid >> 10)
        .unwrap_or(FALLBACK_MICROS);
    let micros = parent_micros + 1_000_000 + ((hash >> 10) & 0xF_FFFF);
    let clock_id = hash & 0x3FF;
    tid_encode(((micros & ((1 << 53) - 1)) << 10) | clock_id)
}

const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A TID's 13 characters for its value: microseconds since the epoch (53 bits) shifted left
/// 10 bits, or'ed with a 10-bit clock id.
pub fn tid_encode(value: u64) -> String {
    (0..13)
        .rev()
        .map(|index| TID_ALPHABET[((value >> (index * 5)) & 31) as usize] as char)
        .collect()
}

fn tid_decode(text: &str) -> Option<u64> {
    if text.len() != 13 {
        return None;
    }
    let mut value: u64 = 0;
    for (index, byte) in text.bytes().enumerate() {
        let digit = TID_ALPHABET.iter().position(|&c| c == byte)? as u64;
        if index == 0 && digit >= 16 {
            return None;
        }
        value = (value << 5) | digit;
    }
    (value >> 63 == 0).then_some(value)
}

/// FNV-1a: a hash that stays the same across Rust versions and restarts.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Mention facets for every `@handle` in `text` (ASCII case-insensitive), with UTF-8 byte
/// offsets as `app.bsky.richtext.facet#byteSlice` wants them.
pub fn mention_facets(text: &str, handle: &str, did: &str) -> Vec<Facet> {
    let handle = normalize_handle(handle);
    let bytes = text.as_bytes();
    let is_handle_byte = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-';
    let mut facets = Vec::new();
    if handle.is_empty() {
        return facets;
    }
    for (start, _) in text.match_indices('@') {
        let name_start = start + 1;
        let name_end = name_start + handle.len();
        let Some(candidate) = bytes.get(name_start..name_end) else {
            continue;
        };
        if !candidate.eq_ignore_ascii_case(handle.as_bytes()) {
            continue;
        }
        let before_ok = start == 0 || !is_handle_byte(bytes[start - 1]);
        // The handle ends here unless a handle character (or a dot and one) follows.
        let after_ok = match bytes.get(name_end) {
            None => true,
            Some(b'.') => !bytes.get(name_end + 1).copied().is_some_and(is_handle_byte),
            Some(&byte) => !is_handle_byte(byte),
        };
        if before_ok && after_ok {
            facets.push(Facet {
                index: ByteSlice {
                    byte_start: start,
                    byte_end: name_end,
                },
                features: vec![FacetFeature {
                    feature_type: "app.bsky.richtext.facet#mention",
                    did: did.to_string(),
                }],
            });
        }
    }
    facets
}

// Wire shapes, from the lexicons named in the module docs. Only the fields we use.

#[derive(Serialize)]
struct CreateSessionInput<'a> {
    identifier: &'a str,
    password: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionOutput {
    access_jwt: String,
    refresh_jwt: String,
    handle: String,
    did: String,
}

#[derive(Debug, Default, Deserialize)]
struct XrpcError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

impl std::fmt::Display for XrpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

#[derive(Deserialize)]
struct NotificationPage {
    #[serde(default)]
    cursor: Option<String>,
    notifications: Vec<Value>,
}

#[derive(Deserialize)]
struct Notification {
    uri: String,
    author: ProfileView,
    reason: String,
    record: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileView {
    did: String,
    handle: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostRecord {
    #[serde(rename = "$type", default)]
    record_type: Option<String>,
    text: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    reply: Option<ReplyRef>,
    #[serde(default)]
    langs: Option<Vec<String>>,
}

/// The parts of the parent's record a reply needs; tolerant of anything else.
#[derive(Default, Deserialize)]
struct ParentRecord {
    #[serde(default)]
    reply: Option<ReplyRef>,
    #[serde(default)]
    langs: Option<Vec<String>>,
}

#[derive(Clone, Serialize, Deserialize)]
struct ReplyRef {
    root: StrongRef,
    parent: StrongRef,
}

/// `com.atproto.repo.strongRef`.
#[derive(Clone, Serialize, Deserialize)]
struct StrongRef {
    uri: String,
    cid: String,
}

#[derive(Deserialize)]
struct GetPostsOutput {
    posts: Vec<PostView>,
}

/// `app.bsky.feed.defs#postView` as read from feeds and searches.
#[derive(Deserialize)]
struct PostViewIn {
    uri: String,
    author: ProfileView,
    record: Value,
}

#[derive(Deserialize)]
struct PostView {
    uri: String,
    cid: String,
    author: ProfileView,
    #[serde(default)]
    record: Value,
}

#[derive(Deserialize)]
struct ResolveHandleOutput {
    did: String,
}

#[derive(Deserialize)]
struct GetRecordOutput {
    uri: String,
    #[serde(default)]
    value: Value,
}

#[derive(Clone, Copy, Serialize)]
struct CreateRecordInput<'a> {
    repo: &'a str,
    collection: &'a str,
    rkey: &'a str,
    record: &'a PostOut<'a>,
}

#[derive(Deserialize)]
struct CreateRecordOutput {
    uri: String,
}

/// An `app.bsky.feed.post` record as we write it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostOut<'a> {
    #[serde(rename = "$type")]
    record_type: &'a str,
    text: &'a str,
    created_at: String,
    reply: ReplyRef,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    facets: Vec<Facet>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    langs: Vec<String>,
}

/// `app.bsky.richtext.facet` with one mention feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facet {
    index: ByteSlice,
    features: Vec<FacetFeature>,
}

impl Facet {
    /// The UTF-8 byte range `[start, end)` the facet covers.
    pub fn byte_range(&self) -> (usize, usize) {
        (self.index.byte_start, self.index.byte_end)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ByteSlice {
    byte_start: usize,
    byte_end: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct FacetFeature {
    #[serde(rename = "$type")]
    feature_type: &'static str,
    did: String,
}

/// Entry points for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_keys_are_valid_tids_stable_per_reply_and_parent() {
        let parent = "at://did:plc:jo/app.bsky.feed.post/3lbqxw4ezwk2c";
        let key = reply_rkey("c1-v3", parent);
        assert_eq!(key, reply_rkey("c1-v3", parent));
        assert_ne!(key, reply_rkey("c1-v4", parent));
        assert_ne!(
            key,
            reply_rkey("c1-v3", "at://did:plc:jo/app.bsky.feed.post/3lbqxw4ezwk2d")
        );
        for key in [
            key,
            reply_rkey("c9-v1", "at://did:plc:x/app.bsky.feed.post/p1"),
        ] {
            assert_eq!(key.len(), 13, "{key}");
            assert!(b"234567abcdefghij".contains(&key.as_bytes()[0]), "{key}");
            assert!(key.bytes().all(|b| TID_ALPHABET.contains(&b)), "{key}");
            assert!(tid_decode(&key).is_some());
        }
        // A second or two after the parent, never before it.
        let parent_micros = tid_decode("3lbqxw4ezwk2c").unwrap() >> 10;
        let reply_micros = tid_decode(&reply_rkey("c1-v3", parent)).unwrap() >> 10;
        assert!((1_000_000..2_100_000).contains(&(reply_micros - parent_micros)));
    }

    #[test]
    fn tids_round_trip() {
        for value in [0u64, 1, 1 << 40, (1 << 63) - 1] {
            assert_eq!(tid_decode(&tid_encode(value)), Some(value));
        }
        assert_eq!(tid_decode("p1"), None);
        assert_eq!(tid_decode("zzzzzzzzzzzzz"), None);
    }

    #[test]
    fn mention_facets_count_utf8_bytes_and_respect_word_edges() {
        let check = |text: &str, handle: &str, expected: &[(usize, usize)]| {
            let ranges: Vec<(usize, usize)> = mention_facets(text, handle, "did:plc:jo")
                .iter()
                .map(Facet::byte_range)
                .collect();
            assert_eq!(ranges, expected, "{text:?}");
        };
        check("@jo.bsky.social hi", "jo.bsky.social", &[(0, 15)]);
        // "🙏" is 4 bytes and "é" 2: the facet starts at byte 8, not at char 4 or UTF-16 unit 5.
        check("🙏 é @jo.bsky.social merci", "@Jo.Bsky.Social", &[(8, 23)]);
        check("thanks @jo.bsky.social.", "jo.bsky.social", &[(7, 22)]);
        check("@jo.bsky.socials", "jo.bsky.social", &[]);
        check("mail@jo.bsky.social", "jo.bsky.social", &[]);
        check("@jo.bsky.social.example", "jo.bsky.social", &[]);
        check("no handle here", "jo.bsky.social", &[]);
        check(
            "@jo.bsky.social and @jo.bsky.social",
            "jo.bsky.social",
            &[(0, 15), (20, 35)],
        );
    }

    #[test]
    fn the_watermark_keeps_recent_uris_and_moves_forward_only() {
        let at = |s: &str| parse_datetime(s).unwrap();
        let listed = vec![
            (
                at("2026-11-20T10:00:00Z"),
                serde_json::json!({"uri": "at://a"}),
            ),
            (
                at("2026-11-20T09:50:00Z"),
                serde_json::json!({"uri": "at://b"}),
            ),
            (
                at("2026-11-20T09:40:00Z"),
                serde_json::json!({"uri": "at://c"}),
            ),
        ];
        let next = Watermark::after(None, &listed).unwrap();
        assert_eq!(next.newest, at("2026-11-20T10:00:00Z"));
        assert_eq!(next.seen, ["at://a", "at://b"]);
        assert_eq!(Watermark::parse(&next.encode()), Some(next.clone()));
        // Nothing new listed: the same watermark, so the cursor does not move.
        let again = Watermark::after(Some(&next), &listed[..2]).unwrap();
        assert_eq!(again, next);
        assert_eq!(Watermark::after(None, &[]), None);
    }

    #[test]
    fn the_first_starts_floor_holds_until_the_overlap_passes_it() {
        let at = |s: &str| parse_datetime(s).unwrap();
        let listed = vec![(
            at("2026-11-20T10:00:00Z"),
            serde_json::json!({"uri": "at://a"}),
        )];
        // Backfill of 5 minutes: the first start read from 09:55.
        let first = Watermark::after(None, &listed)
            .unwrap()
            .floored(None, at("2026-11-20T09:55:00Z"));
        assert_eq!(first.threshold(), at("2026-11-20T09:55:00Z"), "not 09:45");
        assert_eq!(
            Watermark::parse(&first.encode()).unwrap().threshold(),
            first.threshold()
        );
        // Twenty minutes later the overlap is above the floor, which is dropped.
        let later = vec![(
            at("2026-11-20T10:20:00Z"),
            serde_json::json!({"uri": "at://b"}),
        )];
        let next = Watermark::after(Some(&first), &later)
            .unwrap()
            .floored(Some(&first), at("2026-11-20T10:15:00Z"));
        assert_eq!(next.floor, None);
        assert_eq!(next.threshold(), at("2026-11-20T10:05:00Z"));
    }
}
