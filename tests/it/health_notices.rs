//! Connector-health notices: a source that fails without a break for longer than
//! `[runtime].health_notice_after` gets one notice in the ops channels (the console's, Slack's
//! `ops_channel`), and one more when it works again. The threshold is tiny here; the
//! decision itself is table-tested with a fixed clock in `health.rs`.

use crate::fakes::mastodon::MastodonFake;
use crate::fakes::slack::{wait_until, FakeSlack};
use crate::fakes::Fault;
use crate::helpers::TestApp;

const MAIN: &str = "C0MENTIONS1";
const OPS: &str = "C0OPS000001";

#[tokio::test]
async fn a_failing_source_is_announced_once_and_its_recovery_too() {
    let mastodon = MastodonFake::start().await;
    let slack = FakeSlack::start(&[MAIN, OPS], &[]).await;
    // Two failed polls in a row (the loop backs off 1 s, then 2 s), then it works again.
    for _ in 0..2 {
        mastodon
            .server
            .inject("/api/v1/notifications", Fault::Status(503, "maintenance"));
    }
    let extra = format!(
        "health_notice_after = \"300ms\"\n{}{}ops_channel = \"{OPS}\"\n",
        mastodon.source_toml("masto"),
        slack.config(MAIN)
    );
    let app = TestApp::spawn_with(&extra).await;

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut seen = Vec::new();
    while tokio::time::Instant::now() < deadline {
        seen = app.notices().await;
        if seen.iter().any(|n| n.contains("works again")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let about_masto: Vec<&String> = seen.iter().filter(|n| n.contains("source:masto")).collect();
    assert_eq!(
        about_masto.len(),
        2,
        "one failure and one recovery notice: {seen:?}"
    );
    assert!(
        about_masto[0].starts_with("⚠️ source:masto has been failing for")
            && about_masto[0].contains("503"),
        "{seen:?}"
    );
    assert!(
        about_masto[1].starts_with("✅ source:masto works again"),
        "{seen:?}"
    );

    // Slack's ops channel got the same two, and the cards channel none.
    wait_until("two notices in Slack's ops channel", || {
        slack
            .messages()
            .iter()
            .filter(|m| m.channel == OPS && m.all_text().contains("source:masto"))
            .count()
            == 2
    })
    .await;
    assert!(slack
        .messages()
        .iter()
        .all(|m| m.channel == OPS || !m.all_text().contains("source:masto")));
}

/// A restart in the middle of an outage does not announce it again; the recovery after the
/// restart is announced once, with the outage counted from before the restart. Paused time.
#[tokio::test(start_paused = true)]
async fn a_restart_mid_outage_is_not_announced_again_and_the_recovery_once() {
    let mastodon = MastodonFake::start().await;
    let source = mastodon
        .source_toml("masto")
        .replace("poll_interval = \"50ms\"", "poll_interval = \"30s\"");
    let extra = format!("health_notice_after = \"5m\"\n{source}");
    let config = |dir: &std::path::Path| {
        crate::helpers::test_config(dir, &extra).replacen(
            "poll_interval = \"50ms\"",
            "poll_interval = \"1h\"",
            1,
        )
    };
    // Down before the bot starts: with a one-hour poll interval, a first read that got in
    // before the outage would otherwise not fail again within the test's ten minutes.
    mastodon
        .server
        .set_outage("/api/", Some(Fault::Status(503, "maintenance")));
    let app = TestApp::spawn_with_config(config).await;
    tokio::time::sleep(std::time::Duration::from_secs(5 * 60)).await;
    let about_masto = |notices: Vec<String>| -> Vec<String> {
        notices
            .into_iter()
            .filter(|n| n.contains("source:masto"))
            .collect()
    };
    // The notice is due at the threshold and goes out on the notice loop's next tick (30 s);
    // give it two minutes, then expect exactly one. (It once needed ten: sled's own flush
    // thread let paused time jump while the store flushed; `Store::flush` now runs on tokio's
    // blocking pool, during which paused time stands still.)
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen = about_masto(app.notices().await);
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    }
    assert_eq!(seen.len(), 1, "{seen:?}");

    // Restarted while still down: nothing new, however long it stays down.
    let app = app.restart().await;
    tokio::time::sleep(std::time::Duration::from_secs(30 * 60)).await;
    let seen = about_masto(app.notices().await);
    assert_eq!(seen.len(), 1, "not announced again: {seen:?}");

    mastodon.server.set_outage("/api/", None);
    let mut seen = Vec::new();
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        seen = about_masto(app.notices().await);
        if seen.len() >= 2 {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    // Counted from before the restart: more than the 30 minutes since it.
    let minutes: u64 = seen[1]
        .strip_prefix("✅ source:masto works again, after failing for ")
        .and_then(|rest| rest.split('m').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("a recovery notice with the outage's length: {seen:?}"));
    assert!(minutes > 35, "counted from before the restart: {seen:?}");
}
