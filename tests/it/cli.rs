//! The command line as an admin uses it: `check`, `--version`, `--help`, and `run` refusing
//! what this build can't do.

use std::process::{Command, Output};

fn mentiondesk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mentiondesk"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run mentiondesk")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_accepts_the_shipped_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml");
    let output = mentiondesk(&["check", "--config", example]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout)
        .contains("ok (sources: demo (replay); chats: console on http://127.0.0.1:8687/)"));
}

#[test]
fn check_lists_every_problem_with_its_key_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        r#"
[brand]
name = "Acme"
colour = "red"

[[sources]]
type = "replay"
name = "demo"

[[sources]]
type = "replay"
name = "demo"
path = "mentions.jsonl"
poll_interval = "soon"

[console]
listen = "0.0.0.0:8687"

[[escalations]]
id = "billing"
label = "Billing"
slack_channel = "C0BILLING00"
"#,
    )
    .unwrap();
    let output = mentiondesk(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let problems: Vec<&str> = stderr.lines().skip(1).map(str::trim).collect();
    let keys: Vec<&str> = problems
        .iter()
        .map(|line| line.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(
        keys,
        [
            "brand.colour",
            "sources[0].path",
            "sources[1].poll_interval",
            "sources[1].name",
            "console.auth_token",
            "escalations[0].slack_channel",
        ],
        "{stderr}"
    );
    assert!(
        stderr.starts_with(&format!("{}: 6 problems", path.display())),
        "{stderr}"
    );
}

#[test]
fn version_and_help_read_well() {
    let output = mentiondesk(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        text(&output.stdout).trim(),
        format!("mentiondesk {}", env!("CARGO_PKG_VERSION"))
    );
    let output = mentiondesk(&["--help"]);
    let help = text(&output.stdout);
    for expected in [
        "run",
        "check",
        "--log-format",
        "Slack, Discord or the local console",
    ] {
        assert!(help.contains(expected), "{help}");
    }
}

#[tokio::test]
async fn check_signs_in_to_every_source_and_names_the_one_that_fails() {
    use crate::fakes::{bluesky::FakePds, mastodon::MastodonFake, x::FakeX};

    let mastodon = MastodonFake::start().await;
    let bluesky = FakePds::start().await;
    let x = FakeX::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mentions.jsonl"), "").unwrap();
    let good = format!(
        "{}{}{}{}",
        crate::helpers::test_config(dir.path(), ""),
        mastodon.source_toml("mastodon-social"),
        bluesky.source_toml("bsky"),
        x.source_toml("x", "")
    );
    let path = dir.path().join("good.toml");
    std::fs::write(&path, &good).unwrap();
    let run = |path: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            mentiondesk(&["check", "--config", path.to_str().unwrap()])
        })
    };
    let output = run(path).await.unwrap();
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        text(&output.stderr)
    );
    assert!(stdout.contains("sources[0] (demo): ok: reads "), "{stdout}");
    assert!(
        stdout.contains("sources[1] (mastodon-social): ok: signed in as account"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sources[2] (bsky): ok: signed in as @acme.bsky.social"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sources[3] (x): ok: bearer token reads @AcmeSupport"),
        "{stdout}"
    );

    let bad = good.replace("token-acme", "token-wrong");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let output = run(path).await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("sources[1] (mastodon-social): cannot sign in: HTTP 401"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("token-wrong"),
        "the token is never printed"
    );
}
