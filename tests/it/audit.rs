//! The audit log and the store dump, through the real binary: `mentiondesk audit` while the
//! bot runs (over `/audit`) and after it stopped (from the store), `export` and `import`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::fakes::tickets;
use crate::helpers::{bsky, TestApp};

fn mentiondesk(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mentiondesk"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mentiondesk");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("mentiondesk output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An app with a ticket desk; Ana replies to case 1 and escalates it.
async fn app_with_a_reply_and_an_escalation() -> (TestApp, crate::fakes::FakeServer) {
    let desk = tickets::start().await;
    let app = TestApp::spawn_with(&format!(
        "[[escalations]]\nid = \"tickets\"\nlabel = \"Ticket desk\"\nwebhook = {{ url = \"{}/hook\", secret = \"{}\" }}\n",
        desk.base_url,
        tickets::SECRET
    ))
    .await;
    app.post(&[bsky(
        "p1",
        "jo",
        "@acme.bsky.social my order never arrived and support ignores me",
        None,
    )]);
    app.wait_for("mentions", |m| m.len() == 1).await;
    let reply = app.button(1, "reply").await;
    let (status, body) = app
        .act(
            "Ana",
            &reply,
            json!({ "text": "@jo so sorry, reshipped today" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(1, "replied", 2).await;
    let escalate = app.button(1, "escalate").await;
    let (status, body) = app
        .act(
            "Bo",
            &escalate,
            json!({ "target": "tickets", "note": "refund to jo@example.com" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(1, "replied", 4).await;
    (app, desk)
}

/// The app's config with `[http].listen` set to the port it really listens on, so the CLI
/// finds the running bot.
fn cli_config(app: &TestApp) -> std::path::PathBuf {
    let port = app.http.rsplit(':').next().unwrap();
    let config = app.config.replacen(
        "[http]\nlisten = \"127.0.0.1:0\"",
        &format!("[http]\nlisten = \"127.0.0.1:{port}\""),
        1,
    );
    assert_ne!(config, app.config, "the test config has an [http] table");
    let path = app.dir.path().join("cli.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn check_records(records: &[Value]) {
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["reply_sent", "escalated", "escalation_delivered"],
        "{records:#?}"
    );
    let reply = &records[0];
    assert_eq!(reply["by"]["name"], "Ana");
    assert_eq!(reply["by"]["id"], "console:ana");
    assert_eq!(reply["network"], "bluesky");
    assert_eq!(reply["source"], "demo");
    assert_eq!(reply["customer"], "jo");
    assert_eq!(
        reply["customer_post"],
        "at://did:plc:jo/app.bsky.feed.post/p1"
    );
    assert_eq!(reply["text"], "@jo so sorry, reshipped today");
    assert!(
        reply["post_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{reply}"
    );
    let escalated = &records[1];
    assert_eq!(escalated["by"]["name"], "Bo");
    assert_eq!(escalated["target"], "Ticket desk");
    // The internal note is masked like in the thread.
    assert!(
        !escalated["text"]
            .as_str()
            .unwrap()
            .contains("jo@example.com"),
        "{escalated}"
    );
    let delivered = &records[2];
    assert_eq!(delivered["url"], "https://tickets.example/T-1");
    assert_eq!(delivered["by"]["name"], "Bo");
}

// Multi-threaded: the CLI child is awaited synchronously while the app must answer it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_lists_replies_and_escalations_while_running_and_after() {
    let (mut app, _desk) = app_with_a_reply_and_an_escalation().await;
    let config = cli_config(&app);
    let config = config.to_str().unwrap();

    // The bot holds the store: the CLI asks it over http.listen.
    let output = mentiondesk(
        &[
            "audit", "--config", config, "--since", "1h", "--format", "json",
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let running: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    check_records(&running);

    app.stop().await;
    let output = mentiondesk(
        &[
            "audit", "--config", config, "--since", "1h", "--format", "json",
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stopped: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stopped, running);

    let output = mentiondesk(&["audit", "--config", config], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[1].contains("reply_sent") && lines[1].contains("Ana (console:ana)"),
        "{table}"
    );
    assert!(lines[1].contains("Bluesky via demo to @jo"), "{table}");
    assert!(lines[3].contains("https://tickets.example/T-1"), "{table}");

    // Nothing is older than a time in the future.
    let output = mentiondesk(
        &[
            "audit",
            "--config",
            config,
            "--since",
            "2999-01-01",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(text(&output.stdout).trim(), "[]");
}

#[tokio::test]
async fn export_then_import_restores_the_store_exactly() {
    let (mut app, _desk) = app_with_a_reply_and_an_escalation().await;
    let config = cli_config(&app);
    let config = config.to_str().unwrap();

    // The running bot holds the store: export says so.
    let output = mentiondesk(&["export", "--config", config], None);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("is in use by a running mentiondesk; stop it"),
        "{}",
        text(&output.stderr)
    );
    app.stop().await;

    let first = mentiondesk(&["export", "--config", config], None);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let dump = first.stdout;
    let lines: Vec<Value> = text(&dump)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let trees: std::collections::BTreeSet<&str> =
        lines.iter().map(|l| l["tree"].as_str().unwrap()).collect();
    for tree in ["audit", "cases", "events", "meta", "posts", "cursors"] {
        assert!(trees.contains(tree), "{tree} missing from {trees:?}");
    }
    let case = lines
        .iter()
        .find(|l| l["tree"] == "cases")
        .expect("a case record");
    assert_eq!(
        case["value"]["state"], "replied",
        "values are readable JSON"
    );

    // Into a new store, then out again: the same bytes.
    let copy = tempfile::tempdir().unwrap();
    let copy_config = copy.path().join("copy.toml");
    std::fs::write(&copy_config, crate::helpers::test_config(copy.path(), "")).unwrap();
    let copy_config = copy_config.to_str().unwrap();
    let imported = mentiondesk(&["import", "--config", copy_config], Some(&dump));
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(text(&imported.stderr).contains(&format!("imported {} records", lines.len())));
    let second = mentiondesk(&["export", "--config", copy_config], None);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&dump) == text(&second.stdout),
        "the round trip changed the dump"
    );

    // A store that holds data is not overwritten.
    let again = mentiondesk(&["import", "--config", copy_config], Some(&dump));
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("is not empty"),
        "{}",
        text(&again.stderr)
    );

    // The restored store runs: the case is there with its thread.
    let settings = mentiondesk::config::load(std::path::Path::new(copy_config)).unwrap();
    let store = mentiondesk::store::Store::open(&settings.store.path.join("sled")).unwrap();
    let case = store.case(mentiondesk::domain::CaseId(1)).unwrap().unwrap();
    assert_eq!(case.replies.len(), 1);
    assert_eq!(
        store.events(case.id).unwrap().len(),
        case.next_event_seq as usize
    );
}

#[tokio::test]
async fn a_broken_dump_leaves_the_store_empty() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, crate::helpers::test_config(dir.path(), "")).unwrap();
    let config = config.to_str().unwrap();
    let dump = b"{\"tree\":\"cases\",\"key_hex\":\"0000000000000001\",\"value\":{\"id\":1}}\n{\"tree\":\"cases\",\"key_hex\":\"zz\",\"value\":1}\n";
    let output = mentiondesk(&["import", "--config", config], Some(dump));
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("line 2 of the dump: key_hex"),
        "{}",
        text(&output.stderr)
    );
    let output = mentiondesk(&["export", "--config", config], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    // Only what opening the store writes (its schema version): nothing of the dump.
    assert!(
        text(&output.stdout)
            .lines()
            .all(|line| line.contains("\"tree\":\"meta\"")),
        "{}",
        text(&output.stdout)
    );
}
