//! `[permissions]` end to end: the console API (Bo is refused, Ana is not) and Slack user
//! groups read with `usergroups.users.list`.

use serde_json::json;

use crate::fakes::slack::{wait_until, FakeSlack};
use crate::helpers::{bsky, thread_texts, TestApp};

const PERMISSIONS: &str = r#"
[permissions]
reply = ["console:ana"]
escalate = ["console:ana"]
resolve = ["console:*"]
"#;

async fn app_with_one_case(extra: &str) -> TestApp {
    let app = TestApp::spawn_with(extra).await;
    app.post(&[bsky(
        "p1",
        "jo",
        "@acme.bsky.social my order never arrived and support ignores me",
        None,
    )]);
    app.wait_for("mentions", |m| m.len() == 1).await;
    app
}

#[tokio::test]
async fn only_the_listed_console_user_may_reply_publicly() {
    let app = app_with_one_case(PERMISSIONS).await;
    let reply = app.button(1, "reply").await;
    let text = "@jo so sorry! We've reshipped it today.";

    let (status, body) = app.act("Bo", &reply, json!({ "text": text })).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["message"],
        "You are not allowed to reply publicly for Acme. Ask an admin to add you to [permissions].reply."
    );
    let escalate = app.button(1, "escalate").await;
    let (status, body) = app
        .act(
            "Bo",
            &escalate,
            json!({ "target": "billing", "note": "refund" }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("[permissions].escalate"));
    assert!(app.sent_replies().is_empty());

    // Ana is listed (names match case-insensitively).
    let (status, body) = app.act("ANA", &reply, json!({ "text": text })).await;
    assert_eq!(status, 200, "{body}");
    let card = app.wait_for_card(1, "replied", 2).await;
    assert_eq!(app.sent_replies().len(), 1);
    // The refusals left no trace in the thread: they are private.
    assert!(
        thread_texts(&card).iter().all(|t| !t.contains("Bo")),
        "{card}"
    );

    // Everyone in the console may resolve.
    let resolve = app.button(1, "resolve").await;
    let (status, body) = app.act("Bo", &resolve, json!({})).await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(1, "resolved", 3).await;
}

#[tokio::test]
async fn a_broken_principal_is_reported_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = crate::helpers::test_config(
        dir.path(),
        "[permissions]\nreply = [\"slack:ana\"]\nescalate = [\"*\"]\nresolve = [\"team:*\"]\n",
    );
    let errors = mentiondesk::config::parse(&text, &|_| None, dir.path()).unwrap_err();
    let keys: Vec<&str> = errors.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["permissions.reply[0]", "permissions.resolve[0]"],
        "{errors}"
    );
    // A section without all three lists is refused too: nothing is allowed by omission.
    let text = crate::helpers::test_config(dir.path(), "[permissions]\nreply = [\"*\"]\n");
    let errors = mentiondesk::config::parse(&text, &|_| None, dir.path()).unwrap_err();
    assert!(errors.to_string().contains("escalate"), "{errors}");
}

#[tokio::test]
async fn slack_user_groups_named_in_permissions_are_looked_up() {
    const MAIN: &str = "C0MENTIONS1";
    const ANA: &str = "U0ANA00001";
    const BO: &str = "U0BO000001";
    let slack = FakeSlack::start(&[MAIN], &[(ANA, "Ana"), (BO, "Bo")]).await;
    slack.set_usergroup("S0LEADS001", &[ANA]);
    let extra = format!(
        "{}\n[permissions]\nreply = [\"slack-group:S0LEADS001\"]\nescalate = [\"slack:*\"]\nresolve = [\"slack-group:S0LEADS001\"]\n",
        slack.config(MAIN)
    );
    let app = TestApp::spawn_with(&extra).await;
    slack.wait_connected(1).await;
    app.post(&[bsky(
        "p1",
        "jo",
        "@acme.bsky.social my order never arrived and support ignores me",
        None,
    )]);
    wait_until("the card", || slack.card(1).is_some()).await;
    let card = slack.card(1).unwrap();
    let resolve = "resolve:1:1".to_string();

    // Bo is not in the group: a private refusal, and the card stays as it is.
    let envelope = slack.push_interactive(slack.block_action(BO, &card, &resolve));
    slack.ack(&envelope).await;
    wait_until("Bo's refusal", || {
        slack.ephemerals().iter().any(|e| {
            e["user"] == BO
                && e.to_string()
                    .contains("not allowed to resolve cases for Acme")
        })
    })
    .await;
    // Ana is in it.
    let envelope = slack.push_interactive(slack.block_action(ANA, &card, &resolve));
    slack.ack(&envelope).await;
    app.wait_for_card(1, "resolved", 1).await;
    // Only the configured group was read.
    let lookups: Vec<String> = slack
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("usergroups.users.list"))
        .map(|r| r.query.clone())
        .collect();
    assert!(!lookups.is_empty());
    assert!(
        lookups.iter().all(|q| q.contains("S0LEADS001")),
        "{lookups:?}"
    );
}
