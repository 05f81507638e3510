//! The JSON mapping, the cursor, the `Link` header and the error bodies, table by table.
//! Payload shapes follow the Notification and Status entities of the Mastodon docs.

use serde_json::{json, Value};

use super::*;

fn setup() -> Setup {
    Setup {
        account_id: "14715".to_string(),
        domain: "mastodon.example".to_string(),
        streaming_url: None,
    }
}

fn account(id: &str, acct: &str) -> Value {
    json!({
        "id": id,
        "username": acct.split('@').next().unwrap(),
        "acct": acct,
        "display_name": "",
        "locked": false,
        "bot": false,
        "created_at": "2019-11-01T00:00:00.000Z",
        "note": "",
        "url": format!("https://mastodon.example/@{acct}"),
        "followers_count": 12,
        "following_count": 3,
        "statuses_count": 40,
        "emojis": [],
        "fields": []
    })
}

/// The docs' sample mention notification, with the `// ...` parts filled from the Status entity.
fn notification(overrides: Value) -> Value {
    let mut status = json!({
        "id": "103186126728896492",
        "uri": "https://mastodon.example/users/zsc/statuses/103186126728896492",
        "url": "https://mastodon.example/@zsc/103186126728896492",
        "created_at": "2019-11-23T07:49:01.940Z",
        "in_reply_to_id": null,
        "in_reply_to_account_id": null,
        "sensitive": false,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "content": "<p><span class=\"h-card\"><a href=\"https://mastodon.example/@trwnh\" class=\"u-url mention\">@<span>trwnh</span></a></span> my order &amp; refund are lost</p>",
        "reblog": null,
        "account": account("971724", "zsc"),
        "media_attachments": [],
        "mentions": [{ "id": "14715", "username": "trwnh", "url": "https://mastodon.example/@trwnh", "acct": "trwnh" }],
        "tags": [],
        "emojis": []
    });
    if let (Some(status), Some(overrides)) = (status.as_object_mut(), overrides.as_object()) {
        for (key, value) in overrides {
            status.insert(key.clone(), value.clone());
        }
    }
    json!({
        "id": "34975861",
        "type": "mention",
        "created_at": "2019-11-23T07:49:02.064Z",
        "group_key": "ungrouped-34975861",
        "account": account("971724", "zsc"),
        "status": status
    })
}

fn map(value: &Value) -> Option<Mention> {
    let notification: Notification = serde_json::from_value(value.clone()).ok()?;
    if notification.kind != "mention" {
        return None;
    }
    let status = notification.status?;
    if status.reblog.as_ref().is_some_and(|r| !r.is_null()) {
        return None;
    }
    Some(map_status(status, value.get("status").cloned(), &setup()))
}

#[test]
fn a_mention_notification_becomes_a_mention() {
    let mention = map(&notification(json!({}))).expect("a mention");
    assert_eq!(mention.network, Network::Mastodon);
    assert_eq!(mention.id, "103186126728896492");
    assert_eq!(
        mention.url,
        "https://mastodon.example/@zsc/103186126728896492"
    );
    assert_eq!(mention.author.id, "971724");
    assert_eq!(mention.author.handle, "zsc@mastodon.example");
    assert_eq!(mention.author.display_name, None);
    assert_eq!(mention.author.followers, Some(12));
    assert_eq!(
        mention.text,
        "@trwnh@mastodon.example my order & refund are lost"
    );
    assert_eq!(mention.kind, MentionKind::Mention);
    assert_eq!(mention.in_reply_to, None);
    assert_eq!(mention.root, None);
    assert_eq!(mention.lang.as_deref(), Some("en"));
    assert!(!mention.from_brand);
    assert_eq!(
        mention
            .raw
            .as_ref()
            .and_then(|raw| raw["visibility"].as_str()),
        Some("public")
    );
    assert_eq!(
        mention.created_at.to_rfc3339(),
        "2019-11-23T07:49:01.940+00:00"
    );
}

#[test]
fn each_field_of_the_status_maps_as_documented() {
    struct Case {
        overrides: Value,
        check: fn(Option<Mention>),
    }
    let cases = [
        // A remote account keeps its full acct; a display name is kept.
        Case {
            overrides: json!({ "account": { "id": "9", "acct": "kim@other.example", "display_name": " Kim ", "followers_count": 5 } }),
            check: |m| {
                let m = m.unwrap();
                assert_eq!(m.author.handle, "kim@other.example");
                assert_eq!(m.author.display_name.as_deref(), Some("Kim"));
            },
        },
        // A reply names its parent and is a reply; the root stays unknown.
        Case {
            overrides: json!({ "in_reply_to_id": "1001", "in_reply_to_account_id": "14715" }),
            check: |m| {
                let m = m.unwrap();
                assert_eq!(m.in_reply_to.as_deref(), Some("1001"));
                assert_eq!(m.kind, MentionKind::Reply);
                assert_eq!(m.root, None);
            },
        },
        // The brand's own account.
        Case {
            overrides: json!({ "account": account("14715", "trwnh") }),
            check: |m| assert!(m.unwrap().from_brand),
        },
        // A content warning is kept in front of the text.
        Case {
            overrides: json!({ "spoiler_text": "billing rant" }),
            check: |m| {
                assert_eq!(
                    m.unwrap().text,
                    "CW: billing rant\n\n@trwnh@mastodon.example my order & refund are lost"
                )
            },
        },
        // No url (some remote statuses): the federation uri.
        Case {
            overrides: json!({ "url": null }),
            check: |m| {
                assert_eq!(
                    m.unwrap().url,
                    "https://mastodon.example/users/zsc/statuses/103186126728896492"
                )
            },
        },
        // No language.
        Case {
            overrides: json!({ "language": null }),
            check: |m| assert_eq!(m.unwrap().lang, None),
        },
        // A boost is ignored.
        Case {
            overrides: json!({ "reblog": notification(json!({}))["status"].clone() }),
            check: |m| assert!(m.is_none()),
        },
        // A private mention maps, its visibility kept in the raw JSON.
        Case {
            overrides: json!({ "visibility": "direct" }),
            check: |m| {
                assert_eq!(m.unwrap().raw.unwrap()["visibility"], "direct");
            },
        },
    ];
    for case in cases {
        (case.check)(map(&notification(case.overrides)));
    }
}

#[test]
fn malformed_or_other_notifications_map_to_nothing() {
    let mut follow = notification(json!({}));
    follow["type"] = json!("favourite");
    assert!(map(&follow).is_none());
    let mut no_status = notification(json!({}));
    no_status["status"] = Value::Null;
    assert!(map(&no_status).is_none());
    let mut no_account = notification(json!({}));
    no_account["status"]
        .as_object_mut()
        .unwrap()
        .remove("account");
    assert!(map(&no_account).is_none());
    let mut numeric_id = notification(json!({}));
    numeric_id["status"]["id"] = json!(42);
    assert!(map(&numeric_id).is_none());
}

#[test]
fn visibilities_are_never_made_more_public() {
    for (text, expected) in [
        ("public", "public"),
        ("unlisted", "unlisted"),
        ("private", "private"),
        ("direct", "direct"),
        ("limited", "direct"),
        ("", "direct"),
    ] {
        assert_eq!(Visibility::parse(text).as_str(), expected, "{text}");
    }
}

#[test]
fn the_cursor_round_trips_and_reads_a_bare_id() {
    let both = Cursor {
        notifications: Some("35".to_string()),
        statuses: Some("1031".to_string()),
    };
    let encoded = both.encode().unwrap();
    assert_eq!(encoded, r#"{"notifications":"35","statuses":"1031"}"#);
    assert_eq!(Cursor::parse(Some(&encoded)), both);
    assert_eq!(
        Cursor::parse(Some("35")).notifications.as_deref(),
        Some("35")
    );
    assert_eq!(Cursor::parse(None), Cursor::default());
    assert_eq!(Cursor::parse(Some("{broken")), Cursor::default());
    assert_eq!(Cursor::default().encode(), None);
}

#[test]
fn the_next_link_is_found_and_kept_on_our_host_with_the_filters() {
    let mut headers = HeaderMap::new();
    headers.insert(
        reqwest::header::LINK,
        r#"<https://mastodon.example/api/v1/notifications?max_id=34975535&types%5B%5D=mention>; rel="next", <https://mastodon.example/api/v1/notifications?min_id=34975861>; rel="prev""#
            .parse()
            .unwrap(),
    );
    let next = next_link(&headers).unwrap();
    assert_eq!(
        next,
        "https://mastodon.example/api/v1/notifications?max_id=34975535&types%5B%5D=mention"
    );
    let mut only_prev = HeaderMap::new();
    only_prev.insert(
        reqwest::header::LINK,
        r#"<https://mastodon.example/x?min_id=1>; rel="prev""#
            .parse()
            .unwrap(),
    );
    assert_eq!(next_link(&only_prev), None);

    let source = MastodonSource::new(&MastodonConfig {
        name: "m".to_string(),
        base_url: "http://127.0.0.1:9/".to_string(),
        access_token: crate::config::Secret::new("t"),
        poll_interval: Duration::from_secs(30),
        backfill: Duration::from_secs(3600),
        request_timeout: Duration::from_secs(20),
        streaming: false,
    })
    .unwrap();
    let followed = source
        .follow(
            &next,
            &[
                ("types[]", "mention".to_string()),
                ("limit", "80".to_string()),
            ],
        )
        .unwrap();
    // The host is ours (the token never leaves it); the limit is put back.
    assert_eq!(
        followed.as_str(),
        "http://127.0.0.1:9/api/v1/notifications?max_id=34975535&types%5B%5D=mention&limit=80"
    );
}

#[test]
fn ids_order_as_the_instance_orders_them() {
    // Mastodon's decimal ids: a longer one is newer, whatever its first digits.
    assert!(id_is_newer("110000000000000010", "99999999999999999"));
    assert!(id_is_newer("110000000000000010", "110000000000000009"));
    assert!(!id_is_newer("110000000000000009", "110000000000000010"));
    assert!(!id_is_newer("34975535", "34975535"));
    // Fixed-length sortable ids (GoToSocial's ULIDs) order by their bytes.
    assert!(id_is_newer(
        "01HQ0000000000000000000001",
        "01HP0000000000000000000009"
    ));
}

#[test]
fn mastodon_error_bodies_are_quoted_by_their_message() {
    assert_eq!(
        readable(
            r#"HTTP 422 Unprocessable Entity: {"error":"Validation failed: Text can't be blank"}"#
        ),
        "HTTP 422 Unprocessable Entity: Validation failed: Text can't be blank"
    );
    assert_eq!(
        readable("HTTP 502 Bad Gateway: <html>"),
        "HTTP 502 Bad Gateway: <html>"
    );
}

#[test]
fn server_sent_events_split_across_chunks_are_parsed_whole() {
    let mut parser = SseParser::default();
    let check = |parser: &mut SseParser, chunk: &str, expected: &[(&str, &str)]| {
        let got: Vec<(String, String)> = parser
            .push(chunk.as_bytes())
            .into_iter()
            .map(|event| (event.name, event.data))
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(name, data)| (name.to_string(), data.to_string()))
            .collect();
        assert_eq!(got, expected, "{chunk:?}");
    };
    check(&mut parser, ":thump\n", &[]);
    check(&mut parser, "event: notif", &[]);
    check(
        &mut parser,
        "ication\r\ndata: {\"type\":\"mention\"}\r\n\r\n",
        &[("notification", "{\"type\":\"mention\"}")],
    );
    check(
        &mut parser,
        "event: delete\ndata: 1\n\nevent: update\ndata:a\ndata:b\n\n",
        &[("delete", "1"), ("update", "a\nb")],
    );
    check(&mut parser, "\n\n", &[]);
}

#[test]
fn the_streaming_url_is_the_instances_own_as_http() {
    let check = |given: &str, expected: Option<&str>| {
        assert_eq!(
            streaming_base(given).map(|url| url.to_string()),
            expected.map(str::to_string),
            "{given}"
        );
    };
    check(
        "wss://streaming.mastodon.example",
        Some("https://streaming.mastodon.example/"),
    );
    check("ws://127.0.0.1:4000", Some("http://127.0.0.1:4000/"));
    check(
        "https://mastodon.example/",
        Some("https://mastodon.example/"),
    );
    check("ftp://mastodon.example", None);
    check("not a url", None);
}
