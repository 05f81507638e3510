//! Tests of the console adapter (durable, idempotent messages) and its web server (the JSON
//! API, click handling, live updates and auth), over a real listener on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::chat::{ActionOutcome, ChatEvent};
use crate::domain::{
    case_card, Author, Case, CaseId, ChatAction, CustomerContext, Draft, Label, Mention,
    MentionKind, Network, Triage,
};

fn sample_case(id: u64) -> Case {
    let now = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
    let mention = Mention {
        network: Network::Bluesky,
        source: "demo".to_string(),
        id: format!("post-{id}"),
        url: format!("https://bsky.app/profile/carol.example/post/{id}"),
        author: Author {
            id: "did:plc:carol".to_string(),
            handle: "carol.example".to_string(),
            display_name: Some("Carol".to_string()),
            followers: None,
        },
        text: "My Acme order never arrived <b>again</b>".to_string(),
        created_at: now,
        in_reply_to: None,
        root: None,
        kind: MentionKind::Mention,
        lang: Some("en".to_string()),
        from_brand: false,
        raw: None,
    };
    let triage = Triage {
        label: Label::Complaint,
        score: 0.9,
        reason: "cues: never arrived".to_string(),
    };
    Case::open(CaseId(id), mention, triage, now).case
}

fn sample_card(id: u64) -> Card {
    case_card(&sample_case(id), &CustomerContext::default())
}

fn billing() -> (String, String) {
    ("billing".to_string(), "Billing team".to_string())
}

fn console(store: &Store) -> ConsoleChat {
    ConsoleChat::new(store.clone(), vec![billing()])
}

#[tokio::test]
async fn post_card_is_idempotent_on_its_key_and_durable() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let chat = console(&store);
    let mut changes = chat.subscribe();

    let first = chat
        .post_card("case:1", "mentions", &sample_card(1))
        .await
        .unwrap();
    let again = chat
        .post_card("case:1", "mentions", &sample_card(1))
        .await
        .unwrap();
    let other = chat
        .post_card("case:2", "mentions", &sample_card(2))
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_ne!(first.message, other.message);
    assert_eq!(chat.message_count("mentions").unwrap(), 2);
    assert_eq!(chat.message_count("billing").unwrap(), 0);
    let change = changes.recv().await.unwrap();
    assert_eq!(change.kind, ChangeKind::Posted);
    assert_eq!(change.message_id, first.message);

    // Cards survive a restart: a new console over the reopened store sees the same messages,
    // and posting the same key still finds the old card.
    drop(chat);
    drop(store);
    let store = Store::open(directory.path()).unwrap();
    let chat = console(&store);
    let messages = chat.messages("mentions").unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].message_id, first.message, "oldest first");
    let after_restart = chat
        .post_card("case:1", "mentions", &sample_card(1))
        .await
        .unwrap();
    assert_eq!(after_restart, first);
    let third = chat
        .post_card("case:3", "mentions", &sample_card(3))
        .await
        .unwrap();
    assert!(third.message > other.message, "message ids keep increasing");
}

#[tokio::test]
async fn updates_and_thread_notes_are_stored_once() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let chat = console(&store);
    let message = chat
        .post_card("case:1", "mentions", &sample_card(1))
        .await
        .unwrap();

    let mut claimed = sample_card(1);
    claimed.owner = Some("Ana".to_string());
    claimed.version = 2;
    chat.update_card(&message, &claimed).await.unwrap();
    let note = ThreadNote {
        text: "Claimed by Ana".to_string(),
        by: Some("Ana".to_string()),
        at: Utc::now(),
        link: None,
        mention: None,
    };
    chat.post_thread("note:1:1", &message, &note).await.unwrap();
    chat.post_thread("note:1:1", &message, &note).await.unwrap();

    let stored = chat.message("mentions", &message.message).unwrap().unwrap();
    assert_eq!(stored.card, claimed);
    assert_eq!(stored.thread, vec![note.clone()]);

    let missing = MessageRef {
        channel: "mentions".to_string(),
        message: "nope".to_string(),
        thread: None,
    };
    assert!(matches!(
        chat.update_card(&missing, &claimed).await,
        Err(ChatError::Rejected(_))
    ));
    assert!(matches!(
        chat.post_thread("note:x", &missing, &note).await,
        Err(ChatError::Rejected(_))
    ));
    assert!(matches!(
        chat.post_card("case:9", "nowhere", &claimed).await,
        Err(ChatError::Rejected(_))
    ));
    assert_eq!(
        chat.escalation_channel("billing"),
        Some("billing".to_string())
    );
    assert_eq!(chat.escalation_channel("legal"), None);
    assert_eq!(chat.main_channel(), "mentions");
    assert_eq!(chat.name(), "console");
}

/// A running console server for tests, with the actions engine's inbox.
struct TestConsole {
    address: SocketAddr,
    chat: Arc<ConsoleChat>,
    store: Store,
    actions: Option<mpsc::Receiver<ChatEvent>>,
    shutdown: CancellationToken,
    _directory: tempfile::TempDir,
}

impl TestConsole {
    async fn start(auth_token: Option<&str>) -> TestConsole {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::open(directory.path()).unwrap();
        let chat = Arc::new(console(&store));
        let (sender, receiver) = mpsc::channel(8);
        let shutdown = CancellationToken::new();
        let state = ConsoleState {
            chat: chat.clone(),
            store: store.clone(),
            actions: sender,
            targets: vec![billing()],
            auth_token: auth_token.map(str::to_string),
            shutdown: shutdown.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, state));
        TestConsole {
            address,
            chat,
            store,
            actions: Some(receiver),
            shutdown,
            _directory: directory,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Answers every click like a small actions engine would, by action kind.
    fn spawn_fake_engine(&mut self) -> mpsc::Receiver<(String, String)> {
        let mut inbox = self.actions.take().unwrap();
        let (seen_sender, seen) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(event) = inbox.recv().await {
                let _ = seen_sender
                    .send((event.chat.clone(), event.agent.id.clone()))
                    .await;
                let outcome = match event.request.action {
                    ChatAction::Claim => ActionOutcome::Done {
                        notice: Some("You own it".to_string()),
                    },
                    ChatAction::Unclaim => ActionOutcome::Refused {
                        message: "Already claimed by Bo".to_string(),
                    },
                    ChatAction::Reply { text, confirm_pii } => {
                        if text.trim().is_empty() {
                            ActionOutcome::Invalid {
                                field: "text".to_string(),
                                message: "Write a reply first".to_string(),
                            }
                        } else if text.contains('@') && text.contains(".com") && !confirm_pii {
                            ActionOutcome::ConfirmPii {
                                warning: "The reply contains an e-mail address".to_string(),
                            }
                        } else {
                            ActionOutcome::Done { notice: None }
                        }
                    }
                    ChatAction::Escalate { target, .. } if target == "billing" => {
                        ActionOutcome::Done {
                            notice: Some("Sent to Billing team".to_string()),
                        }
                    }
                    ChatAction::Escalate { .. } => ActionOutcome::Invalid {
                        field: "target".to_string(),
                        message: "Unknown target".to_string(),
                    },
                    // Dropping the responder stands for an engine that died mid-request.
                    ChatAction::Resolve
                    | ChatAction::Dismiss
                    | ChatAction::Reopen
                    | ChatAction::MarkComplaint
                    | ChatAction::MarkSkipped
                    | ChatAction::Approve
                    | ChatAction::Edit { .. }
                    | ChatAction::Reject { .. } => continue,
                };
                let _ = event.respond.send(outcome);
            }
        });
        seen
    }
}

impl Drop for TestConsole {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn post_action(console: &TestConsole, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(console.url("/api/actions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn get_json(console: &TestConsole, path: &str) -> Value {
    let response = reqwest::get(console.url(path)).await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn api_shapes() {
    let console = TestConsole::start(None).await;
    let message = console
        .chat
        .post_card("case:1", "mentions", &sample_card(1))
        .await
        .unwrap();
    let note = ThreadNote {
        text: "Case #1 opened".to_string(),
        by: None,
        at: Utc::now(),
        link: Some("https://bsky.app/profile/carol.example/post/1".to_string()),
        mention: None,
    };
    console
        .chat
        .post_thread("note:1:0", &message, &note)
        .await
        .unwrap();

    let channels = get_json(&console, "/api/channels").await;
    assert_eq!(
        channels,
        json!([
            {"id": "mentions", "label": "Mentions", "count": 1},
            {"id": "billing", "label": "Billing team", "count": 0},
        ])
    );

    let messages = get_json(&console, "/api/channels/mentions/messages").await;
    let messages = messages.as_array().unwrap();
    assert_eq!(messages.len(), 1);
    let first = &messages[0];
    assert_eq!(first["key"], "case:1");
    assert_eq!(first["message_id"], message.message.as_str());
    assert_eq!(first["card"], serde_json::to_value(sample_card(1)).unwrap());
    assert_eq!(
        first["thread"],
        json!([serde_json::to_value(&note).unwrap()])
    );
    assert!(first["posted_at"].is_string() && first["updated_at"].is_string());
    let unknown = reqwest::get(console.url("/api/channels/legal/messages"))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let targets = get_json(&console, "/api/escalation-targets").await;
    assert_eq!(targets, json!([{"id": "billing", "label": "Billing team"}]));

    // The reply form is built from the case in the store, with the failed draft if any.
    let mut case = sample_case(1);
    case.chat_refs
        .insert("console".to_string(), message.clone());
    console.store.transact(|tx| tx.put_case(&case)).unwrap();
    let form = get_json(&console, "/api/cases/1/reply-form").await;
    assert_eq!(
        form,
        json!({"prefill": "@carol.example ", "limit": 300, "network": "bluesky", "draft": null, "saved": [], "awaiting_approval": null})
    );
    case.draft = Some(Draft {
        by: crate::domain::Agent::new("console:ana", "Ana"),
        text: "@carol.example sorry!".to_string(),
        error: "rate limited".to_string(),
    });
    console.store.transact(|tx| tx.put_case(&case)).unwrap();
    let form = get_json(&console, "/api/cases/1/reply-form").await;
    assert_eq!(form["draft"], "@carol.example sorry!");
    let missing = reqwest::get(console.url("/api/cases/99/reply-form"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn page_and_fragments_render_the_cards() {
    let console = TestConsole::start(None).await;
    let message = console
        .chat
        .post_card("case:1", "mentions", &sample_card(1))
        .await
        .unwrap();

    let page = reqwest::get(console.url("/")).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!(r#"id="msg-{}""#, message.message)));
    assert!(
        html.contains("never arrived &lt;b&gt;again&lt;/b&gt;"),
        "post text is escaped"
    );
    assert!(html.contains(r#"data-payload="claim:1:1""#));
    assert!(
        html.contains(r#"data-channel="billing""#),
        "tabs for every channel"
    );

    let billing_page = reqwest::get(console.url("/?channel=billing"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !billing_page.contains("msg-"),
        "the billing channel is empty"
    );
    let unknown = reqwest::get(console.url("/?channel=legal")).await.unwrap();
    assert_eq!(unknown.status(), 404);

    let fragment = reqwest::get(console.url(&format!("/fragments/mentions/{}", message.message)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fragment.starts_with("<article class=\"card state-new\""));
    let missing = reqwest::get(console.url("/fragments/mentions/nope"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    for (path, content_type) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/style.css", "text/css; charset=utf-8"),
    ] {
        let response = reqwest::get(console.url(path)).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], content_type);
    }
}

#[tokio::test]
async fn actions_map_every_outcome() {
    let mut console = TestConsole::start(None).await;
    let mut seen = console.spawn_fake_engine();

    for (body, status, expected) in [
        (
            json!({"payload": "claim:1:1", "agent": "Ana"}),
            200,
            json!({"outcome": "done", "notice": "You own it"}),
        ),
        (
            json!({"payload": "unclaim:1:2", "agent": "Ana"}),
            409,
            json!({"outcome": "refused", "message": "Already claimed by Bo"}),
        ),
        (
            json!({"payload": "reply:1:2", "agent": "Ana", "text": "  "}),
            422,
            json!({"outcome": "invalid", "field": "text", "message": "Write a reply first"}),
        ),
        (
            json!({"payload": "reply:1:2", "agent": "Ana", "text": "mail me at a@b.com"}),
            200,
            json!({"outcome": "confirm_pii", "warning": "The reply contains an e-mail address"}),
        ),
        (
            json!({"payload": "reply:1:2", "agent": "Ana", "text": "mail me at a@b.com", "confirm_pii": true}),
            200,
            json!({"outcome": "done", "notice": null}),
        ),
        (
            json!({"payload": "escalate:1:2", "agent": "Ana", "target": "billing", "note": "refund"}),
            200,
            json!({"outcome": "done", "notice": "Sent to Billing team"}),
        ),
        (
            json!({"payload": "escalate:1:2", "agent": "Ana"}),
            422,
            json!({"outcome": "invalid", "field": "target", "message": "Unknown target"}),
        ),
    ] {
        assert_eq!(
            post_action(&console, body.clone()).await,
            (status, expected),
            "{body}"
        );
    }
    let (chat, agent) = seen.recv().await.unwrap();
    assert_eq!((chat.as_str(), agent.as_str()), ("console", "console:ana"));

    // The engine dropping its answer is a server-side failure, not the person's.
    let (status, body) =
        post_action(&console, json!({"payload": "resolve:1:2", "agent": "Ana"})).await;
    assert_eq!(status, 503, "{body}");

    // Bad requests never reach the engine.
    for body in [
        json!({"payload": "fly:1:1", "agent": "Ana"}),
        json!({"payload": "claim:1:1"}),
        json!({"payload": "claim:1:1", "agent": "   "}),
        json!({"agent": "Ana"}),
        json!({"payload": "claim:1:1", "agent": "x".repeat(65)}),
    ] {
        let (status, answer) = post_action(&console, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|error| !error.is_empty()),
            "{answer}"
        );
    }
    let not_json = reqwest::Client::new()
        .post(console.url("/api/actions"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
}

#[tokio::test]
async fn actions_without_an_engine_are_unavailable() {
    let mut console = TestConsole::start(None).await;
    drop(console.actions.take());
    let (status, body) =
        post_action(&console, json!({"payload": "claim:1:1", "agent": "Ana"})).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "the actions engine is not running");
}

#[tokio::test]
async fn live_updates_announce_changed_messages() {
    let console = TestConsole::start(None).await;
    let mut events = reqwest::get(console.url("/events")).await.unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    // The subscription exists once the response has started, so this post is announced.
    let message = console
        .chat
        .post_card("case:1", "mentions", &sample_card(1))
        .await
        .unwrap();
    let mut received = String::new();
    while !received.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), events.chunk())
            .await
            .expect("an event arrives")
            .unwrap()
            .expect("the stream stays open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(received.contains("event: message-changed"), "{received}");
    assert!(
        received.contains(&format!(
            r#"{{"channel":"mentions","message_id":"{}","kind":"posted"}}"#,
            message.message
        )),
        "{received}"
    );
}

#[tokio::test]
async fn a_configured_token_is_required_everywhere() {
    let console = TestConsole::start(Some("s3cret-token")).await;
    let client = reqwest::Client::new();
    for path in ["/", "/api/channels", "/events", "/assets/app.js"] {
        let response = client.get(console.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let wrong = client
        .get(console.url("/api/channels"))
        .bearer_auth("s3cret-tokem")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let bearer = client
        .get(console.url("/api/channels"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);

    let first_visit = client
        .get(console.url("/?token=s3cret-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(first_visit.status(), 200);
    let cookie = first_visit.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.starts_with("mentiondesk_console=s3cret-token;"),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let with_cookie = client
        .get(console.url("/api/channels"))
        .header("cookie", "other=1; mentiondesk_console=s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
}

#[tokio::test]
async fn without_a_token_only_loopback_host_names_are_served() {
    let console = TestConsole::start(None).await;
    let client = reqwest::Client::new();
    for (host, status) in [
        ("evil.example", 403),
        ("evil.example:8687", 403),
        ("localhost:8687", 200),
        ("127.0.0.1", 200),
        ("[::1]:8687", 200),
    ] {
        let response = client
            .get(console.url("/api/channels"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{host}");
    }
}
