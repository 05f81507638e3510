//! The fuzz targets' inputs in plain `cargo test`: every file under `fuzz/seeds/<target>/`
//! (the starting corpus) and `fuzz/regressions/<target>/` (inputs that once crashed a target,
//! kept after the fix) goes through the same entry point the target calls. CI covers them
//! without cargo-fuzz or nightly. `fuzz/README.md` says how to add one.

use std::path::{Path, PathBuf};

use mentiondesk::chat::{discord, slack};
use mentiondesk::domain::{ActionRequest, Payload};
use mentiondesk::sources::{bluesky, mastodon, x};

/// Runs one input through `target`'s entry point, as its fuzz target does.
fn run(target: &str, data: &[u8]) {
    match target {
        "mastodon_notifications" => drop(mastodon::fuzz::parse_notifications(data)),
        "mastodon_statuses" => drop(mastodon::fuzz::parse_statuses(data)),
        "bluesky_notifications" => drop(bluesky::fuzz::parse_notifications(data)),
        "bluesky_get_posts" => drop(bluesky::fuzz::parse_posts(data)),
        "x_mentions" => drop(x::fuzz::parse_mentions(data)),
        "x_tweets" => drop(x::fuzz::parse_tweets(data)),
        "slack_events" => drop(slack::fuzz::decode_socket_mode(data)),
        "slack_http" => drop(slack::fuzz::decode_http_body(data)),
        "discord_events" => drop(discord::fuzz::decode_gateway(data)),
        "config" => {
            if let Ok(text) = std::str::from_utf8(data) {
                let env = |name: &str| (name.len() % 2 == 0).then(|| format!("value-of-{name}"));
                let _ = mentiondesk::config::parse(text, &env, Path::new("/nonexistent/base"));
            }
        }
        "payload" => {
            if let Ok(Ok(payload)) = std::str::from_utf8(data).map(str::parse::<Payload>) {
                let encoded = payload.to_string();
                assert_eq!(encoded.parse::<Payload>().as_ref(), Ok(&payload));
                assert!(encoded.len() <= 100, "fits a Discord custom_id");
                let _ = ActionRequest::from_button(payload);
            }
        }
        other => panic!("fuzz input for an unknown target {other:?}: add it to `run`"),
    }
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// `(target, file)` for every input under `fuzz/<kind>/<target>/`.
fn inputs(kind: &str) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let Ok(targets) = std::fs::read_dir(fuzz_dir().join(kind)) else {
        return found;
    };
    for target in targets.flatten().filter(|entry| entry.path().is_dir()) {
        let name = target.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(target.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            found.push((name.clone(), file.path()));
        }
    }
    found.sort();
    found
}

#[test]
fn every_target_has_seeds_and_a_cargo_fuzz_entry() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let seeded: std::collections::BTreeSet<String> = inputs("seeds")
        .into_iter()
        .map(|(target, _)| target)
        .collect();
    for target in [
        "mastodon_notifications",
        "mastodon_statuses",
        "bluesky_notifications",
        "bluesky_get_posts",
        "x_mentions",
        "x_tweets",
        "config",
        "payload",
        "slack_events",
        "slack_http",
        "discord_events",
    ] {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "{target} in fuzz/Cargo.toml"
        );
        assert!(seeded.contains(target), "seeds for {target}");
    }
}

#[test]
fn seeds_decode_to_what_they_describe() {
    let read = |target: &str, name: &str| {
        std::fs::read(fuzz_dir().join("seeds").join(target).join(name)).unwrap()
    };
    assert_eq!(
        mastodon::fuzz::parse_notifications(&read("mastodon_notifications", "page")).len(),
        1
    );
    assert_eq!(
        bluesky::fuzz::parse_notifications(&read("bluesky_notifications", "page")).len(),
        2
    );
    assert_eq!(
        x::fuzz::parse_mentions(&read("x_mentions", "page")).len(),
        1
    );
    assert_eq!(
        slack::fuzz::decode_socket_mode(&read("slack_events", "block_actions")).len(),
        1
    );
    assert_eq!(
        slack::fuzz::decode_socket_mode(&read("slack_events", "view_submission")).len(),
        1
    );
    assert_eq!(
        slack::fuzz::decode_http_body(&read("slack_http", "interactivity")).len(),
        1
    );
    assert_eq!(
        discord::fuzz::decode_gateway(&read("discord_events", "component")).len(),
        1
    );
    assert_eq!(
        discord::fuzz::decode_gateway(&read("discord_events", "modal")).len(),
        1
    );
}

#[test]
fn seeds_and_crash_inputs_run_without_panicking() {
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        for (target, file) in inputs(kind) {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&target, &data));
            assert!(outcome.is_ok(), "{} panicked", file.display());
            count += 1;
        }
    }
    assert!(count >= 10, "found only {count} inputs");
}
