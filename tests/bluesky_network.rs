//! The Bluesky source against a real local Bluesky network: the reference PLC directory, PDS
//! and AppView of `@atproto/dev-env`, started by `tests/bluesky-network/setup.sh`, which also
//! creates the brand's and a customer's accounts and writes them to an env file.
//!
//! Built only with `--features bluesky-network` (see `.ci/run`):
//! `bash tests/bluesky-network/setup.sh && cargo test --features bluesky-network --test
//! bluesky_network; bash tests/bluesky-network/teardown.sh`.
//!
//! The real mentiondesk app runs in-process with the console and a `bluesky` source signed in
//! as the brand; the customer acts through plain XRPC calls, and every claim about the network
//! is checked on the network itself (`getPostThread` through the AppView, `listRecords` on the
//! PDS).
#![cfg(feature = "bluesky-network")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mentiondesk::app::Application;
use mentiondesk::config::{self, Secret};
use mentiondesk::domain::{Network, PostRef};
use mentiondesk::sources::bluesky::{reply_rkey, BlueskySettings, BlueskySource};
use mentiondesk::sources::{ReplyRequest, SourceClient};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long the network may take to show something (indexing is near-immediate in practice).
const PATIENCE: Duration = Duration::from_secs(60);
const COMPLAINT: &str = "my order never arrived and support ignores me";
const OUR_REPLY: &str = "so sorry! We reshipped your order today, tracking is on its way.";
const ANSWER: &str = "still nothing in the mail, this is frustrating";

/// The accounts `setup.sh` created, read from its env file.
struct Accounts {
    pds: String,
    brand_handle: String,
    brand_did: String,
    brand_app_password: String,
    customer_handle: String,
    customer_did: String,
    customer_password: String,
}

impl Accounts {
    /// `$MENTIONDESK_BSKY_ENV`, else `$MENTIONDESK_BSKY_DIR/network.env`, else the default dir.
    fn load() -> Accounts {
        let path = std::env::var_os("MENTIONDESK_BSKY_ENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let dir = std::env::var_os("MENTIONDESK_BSKY_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/tmp/mentiondesk-bsky"));
                dir.join("network.env")
            });
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "cannot read {}: {error}; start the network with `bash tests/bluesky-network/setup.sh`",
                path.display()
            )
        });
        let vars: HashMap<&str, &str> = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .collect();
        let var = |key: &str| {
            vars.get(key)
                .unwrap_or_else(|| panic!("{} has no {key}", path.display()))
                .to_string()
        };
        Accounts {
            pds: var("BSKY_PDS_URL"),
            brand_handle: var("BSKY_BRAND_HANDLE"),
            brand_did: var("BSKY_BRAND_DID"),
            brand_app_password: var("BSKY_BRAND_APP_PASSWORD"),
            customer_handle: var("BSKY_CUSTOMER_HANDLE"),
            customer_did: var("BSKY_CUSTOMER_DID"),
            customer_password: var("BSKY_CUSTOMER_PASSWORD"),
        }
    }
}

/// A signed-in account talking XRPC to the PDS (which proxies `app.bsky.*` to the AppView).
struct Xrpc {
    base: String,
    did: String,
    access_jwt: String,
    http: reqwest::Client,
}

impl Xrpc {
    async fn sign_in(base: &str, identifier: &str, password: &str) -> Xrpc {
        let http = reqwest::Client::new();
        let session: Value = http
            .post(format!("{base}/xrpc/com.atproto.server.createSession"))
            .json(&json!({ "identifier": identifier, "password": password }))
            .send()
            .await
            .expect("the PDS answers")
            .error_for_status()
            .expect("createSession succeeds")
            .json()
            .await
            .expect("session json");
        Xrpc {
            base: base.to_string(),
            did: session["did"].as_str().expect("did").to_string(),
            access_jwt: session["accessJwt"]
                .as_str()
                .expect("accessJwt")
                .to_string(),
            http,
        }
    }

    async fn get(&self, nsid: &str, query: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .get(format!("{}/xrpc/{nsid}", self.base))
            .query(query)
            .bearer_auth(&self.access_jwt)
            .send()
            .await
            .expect("the PDS answers");
        let status = response.status();
        let body: Value = response.json().await.expect("json body");
        assert!(status.is_success(), "{nsid}: {status} {body}");
        body
    }

    /// Posts `text` (optionally as a reply: `(root, parent)` strong refs) with `facets`;
    /// returns the new post's strong ref.
    async fn post(&self, text: &str, facets: Value, reply: Option<(&Value, &Value)>) -> Value {
        let mut record = json!({
            "$type": "app.bsky.feed.post",
            "text": text,
            "facets": facets,
            "langs": ["en"],
            "createdAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        if let Some((root, parent)) = reply {
            record["reply"] = json!({ "root": root, "parent": parent });
        }
        let response = self
            .http
            .post(format!("{}/xrpc/com.atproto.repo.createRecord", self.base))
            .bearer_auth(&self.access_jwt)
            .json(
                &json!({ "repo": self.did, "collection": "app.bsky.feed.post", "record": record }),
            )
            .send()
            .await
            .expect("the PDS answers");
        let status = response.status();
        let body: Value = response.json().await.expect("json body");
        assert!(status.is_success(), "createRecord: {status} {body}");
        json!({ "uri": body["uri"], "cid": body["cid"] })
    }

    /// The thread under `uri`, as the AppView serves it.
    async fn thread(&self, uri: &str) -> Value {
        let body = self
            .get(
                "app.bsky.feed.getPostThread",
                &[("uri", uri), ("depth", "10")],
            )
            .await;
        body["thread"].clone()
    }

    /// Every post in `did`'s repo, straight from the PDS.
    async fn posts_of(&self, did: &str) -> Vec<Value> {
        let body = self
            .get(
                "com.atproto.repo.listRecords",
                &[
                    ("repo", did),
                    ("collection", "app.bsky.feed.post"),
                    ("limit", "100"),
                ],
            )
            .await;
        body["records"].as_array().cloned().unwrap_or_default()
    }
}

/// A mention facet for `@handle` at the start of `text` (byte offsets, as the lexicon says).
fn mention_at_start(text: &str, handle: &str, did: &str) -> Value {
    let tag = format!("@{handle}");
    assert!(text.starts_with(&tag));
    json!([{
        "index": { "byteStart": 0, "byteEnd": tag.len() },
        "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": did }],
    }])
}

/// The real app: a temp store, the console, and the brand's account as a `bluesky` source.
struct App {
    console: String,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    client: reqwest::Client,
    _dir: TempDir,
}

impl App {
    async fn spawn(accounts: &Accounts) -> App {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = app_config(dir.path(), accounts);
        let settings = config::parse(&text, &|_| None, dir.path()).expect("valid config");
        let app = Application::build(settings).await.expect("app builds");
        let console = format!("http://{}", app.console_addr().expect("console enabled"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        App {
            console,
            shutdown,
            task: Some(task),
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("app task").expect("app stops cleanly");
        }
    }

    async fn messages(&self) -> Vec<Value> {
        let url = format!("{}/api/channels/mentions/messages", self.console);
        let response = self.client.get(url).send().await.expect("console answers");
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.expect("messages json")
    }

    async fn cards(&self) -> Vec<Value> {
        self.messages()
            .await
            .into_iter()
            .filter(|message| message["card"]["kind"]["type"] == "case")
            .collect()
    }

    /// The cards opened by the post at `uri` (the network may hold an earlier run's posts,
    /// and those make cards of their own).
    async fn cards_of(&self, uri: &str) -> Vec<Value> {
        let suffix = format!("/post/{}", rkey_of(uri));
        self.cards()
            .await
            .into_iter()
            .filter(|card| {
                card["card"]["post_url"]
                    .as_str()
                    .is_some_and(|url| url.ends_with(&suffix))
            })
            .collect()
    }

    /// Waits until the one card of the post at `uri` satisfies `ready`, and returns it.
    async fn wait_for_card(&self, uri: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let cards = self.cards_of(uri).await;
            if let [card] = cards.as_slice() {
                if ready(card) {
                    return card.clone();
                }
            }
            assert!(
                cards.len() <= 1,
                "expected one card, got {}",
                Value::from(cards)
            );
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; cards: {}",
                    Value::from(cards)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks `verb` on `card` as `agent` with form `fields`; returns the payload used.
    async fn act(&self, card: &Value, agent: &str, verb: &str, fields: Value) -> String {
        let payload = card["card"]["buttons"]
            .as_array()
            .and_then(|buttons| buttons.iter().find(|button| button["kind"] == verb))
            .and_then(|button| button["payload"].as_str())
            .unwrap_or_else(|| panic!("no {verb} button on {card}"))
            .to_string();
        let mut body = json!({ "payload": payload, "agent": agent });
        body.as_object_mut()
            .expect("object")
            .extend(fields.as_object().cloned().unwrap_or_default());
        let response = self
            .client
            .post(format!("{}/api/actions", self.console))
            .json(&body)
            .send()
            .await
            .expect("console answers");
        let status = response.status();
        let outcome: Value = response.json().await.expect("json outcome");
        assert!(status.is_success(), "{verb}: {status} {outcome}");
        payload
    }
}

/// The record key at the end of an at-uri.
fn rkey_of(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or_default()
}

impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn app_config(dir: &Path, accounts: &Accounts) -> String {
    format!(
        r#"
[store]
path = "{dir}/store"

[http]
listen = "127.0.0.1:0"

[brand]
name = "Acme"
keywords = ["acme"]
handles = ["{brand}"]

[[sources]]
type = "bluesky"
name = "bsky"
base_url = "{pds}"
identifier = "{brand}"
app_password = "{password}"
poll_interval = "200ms"

[console]
listen = "127.0.0.1:0"

[runtime]
shutdown_timeout = "5s"
"#,
        dir = dir.display(),
        brand = accounts.brand_handle,
        pds = accounts.pds,
        password = accounts.brand_app_password,
    )
}

fn thread_texts(card: &Value) -> Vec<String> {
    card["thread"]
        .as_array()
        .map(|notes| {
            notes
                .iter()
                .filter_map(|note| note["text"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The replies under a thread view, waiting until the AppView shows at least `at_least`.
async fn replies_under(customer: &Xrpc, uri: &str, at_least: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let thread = customer.thread(uri).await;
        let replies = thread["replies"].as_array().cloned().unwrap_or_default();
        if replies.len() >= at_least {
            return replies;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {at_least} replies under {uri}: {thread}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_complaint_on_a_real_network_is_answered_once_in_its_thread() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let accounts = Accounts::load();
    let customer = Xrpc::sign_in(
        &accounts.pds,
        &accounts.customer_handle,
        &accounts.customer_password,
    )
    .await;
    assert_eq!(customer.did, accounts.customer_did);
    let mut app = App::spawn(&accounts).await;

    // The customer complains, mentioning the brand with a facet (plain text notifies no one).
    let complaint_text = format!("@{} {COMPLAINT}", accounts.brand_handle);
    let complaint = customer
        .post(
            &complaint_text,
            mention_at_start(&complaint_text, &accounts.brand_handle, &accounts.brand_did),
            None,
        )
        .await;
    let complaint_uri = complaint["uri"].as_str().expect("uri").to_string();
    let card = app
        .wait_for_card(&complaint_uri, "the complaint's card", |card| {
            card["card"]["state"] == "new"
        })
        .await;
    assert_eq!(card["card"]["network"], "bluesky");
    assert_eq!(
        card["card"]["author_handle"],
        accounts.customer_handle.as_str()
    );
    assert_eq!(card["card"]["text"], complaint_text.as_str());
    let rkey = rkey_of(&complaint_uri);
    let case = card["card"]["case_id"].as_u64().expect("case id");
    assert_eq!(
        card["card"]["post_url"],
        format!(
            "https://bsky.app/profile/{}/post/{rkey}",
            accounts.customer_handle
        )
    );

    // Ana replies through the console; the reply is a post under the complaint.
    let reply_text = format!("@{} {OUR_REPLY}", accounts.customer_handle);
    let payload = app
        .act(&card, "Ana", "reply", json!({ "text": reply_text }))
        .await;
    app.wait_for_card(&complaint_uri, "the replied card", |card| {
        card["card"]["state"] == "replied"
    })
    .await;
    let replies = replies_under(&customer, &complaint_uri, 1).await;
    assert_eq!(replies.len(), 1, "{}", Value::from(replies.clone()));
    let ours = &replies[0]["post"];
    assert_eq!(ours["author"]["did"], accounts.brand_did.as_str());
    assert_eq!(ours["record"]["text"], reply_text.as_str());
    assert_eq!(ours["record"]["reply"]["parent"], complaint);
    assert_eq!(ours["record"]["reply"]["root"], complaint);
    let customer_tag = format!("@{}", accounts.customer_handle);
    // A mention facet links the customer (UTF-8 byte offsets).
    let facets = ours["record"]["facets"].as_array().expect("facets");
    assert_eq!(facets.len(), 1, "{}", ours["record"]);
    assert_eq!(
        facets[0]["index"],
        json!({ "byteStart": 0, "byteEnd": customer_tag.len() })
    );
    assert_eq!(
        facets[0]["features"],
        json!([{ "$type": "app.bsky.richtext.facet#mention", "did": accounts.customer_did }])
    );
    let our_uri = ours["uri"].as_str().expect("uri").to_string();
    let our_ref = json!({ "uri": ours["uri"], "cid": ours["cid"] });
    // The record key is the one derived from the reply id (`c<case>-v<version>`), which is
    // what makes a retry name the same record.
    let version = payload.rsplit(':').next().expect("payload version");
    let reply_id = format!("c{case}-v{version}");
    assert!(
        our_uri.ends_with(&format!("/{}", reply_rkey(&reply_id, &complaint_uri))),
        "{our_uri} is not keyed by {reply_id}"
    );

    // The customer answers our reply: it joins the card's thread.
    let answer = customer
        .post(ANSWER, json!([]), Some((&complaint, &our_ref)))
        .await;
    let card = app
        .wait_for_card(
            &complaint_uri,
            "the customer's answer on the card",
            |card| {
                card["card"]["state"] == "customer_replied"
                    && thread_texts(card).iter().any(|text| text.contains(ANSWER))
            },
        )
        .await;
    assert_eq!(card["card"]["case_id"], case);
    // Neither our reply nor the answer opened a card of its own.
    assert!(app.cards_of(&our_uri).await.is_empty());
    assert!(app
        .cards_of(answer["uri"].as_str().unwrap())
        .await
        .is_empty());
    let nested = replies_under(&customer, &our_uri, 1).await;
    assert_eq!(nested[0]["post"]["uri"], answer["uri"]);
    app.stop().await;

    // The outbox retries the reply (say it crashed after posting, before recording it): the
    // same reply id names the same record, and no second post appears.
    let source = BlueskySource::new(BlueskySettings {
        name: "bsky".into(),
        base_url: accounts.pds.clone(),
        web_url: "https://bsky.app".into(),
        identifier: accounts.brand_handle.clone(),
        app_password: Secret::new(accounts.brand_app_password.clone()),
        poll_interval: Duration::from_millis(200),
        backfill: Duration::from_secs(3600),
        request_timeout: Duration::from_secs(10),
        keywords: Vec::new(),
        appview_url: None,
    })
    .expect("source builds");
    let request = ReplyRequest {
        reply_id,
        in_reply_to: PostRef::new(Network::Bluesky, complaint_uri.clone()),
        root: PostRef::new(Network::Bluesky, complaint_uri.clone()),
        customer_handle: accounts.customer_handle.clone(),
        text: reply_text.clone(),
    };
    for _ in 0..2 {
        let receipt = source.reply(&request).await.expect("the retry succeeds");
        assert_eq!(receipt.post_id, our_uri);
    }
    let answers: Vec<Value> = customer
        .posts_of(&accounts.brand_did)
        .await
        .into_iter()
        .filter(|record| record["value"]["reply"]["parent"]["uri"] == complaint_uri.as_str())
        .collect();
    assert_eq!(
        answers.len(),
        1,
        "the brand's answers to the complaint: {}",
        Value::from(answers.clone())
    );
    assert_eq!(answers[0]["uri"], our_uri.as_str());
    let replies = customer.thread(&complaint_uri).await["replies"].clone();
    assert_eq!(
        replies.as_array().map(Vec::len),
        Some(1),
        "replies under the complaint: {replies}"
    );
}
