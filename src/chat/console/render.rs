//! Card → HTML for the console page: the whole page, one card fragment, the channel tabs.
//!
//! Pure functions of their inputs (the time is a parameter), so they are table-tested. Every
//! piece of text that comes from a post, a person or config goes through [`escape`]; links are
//! only made from `http`/`https` URLs, so a hostile post cannot inject markup or script.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Channel, ConsoleMessage};
use crate::domain::{ButtonStyle, Card, CardKind, Network, NoteMention, SkippedPost, ThreadNote};

/// The page shell, with `{{...}}` placeholders filled by [`page`].
const PAGE_TEMPLATE: &str = include_str!("assets/page.html");

/// A channel tab: the channel and how many cards it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab<'a> {
    /// The channel.
    pub channel: &'a Channel,
    /// How many cards it holds.
    pub count: usize,
}

/// The "Skipped" view's path (a review of the store, not a channel).
pub const SKIPPED_PATH: &str = "/skipped";

/// What the empty channel says.
const EMPTY_CHANNEL: &str =
    "No cards in this channel yet. New complaints appear here as soon as they arrive.";

/// The whole page for one channel: tabs, then the channel's cards newest first.
pub fn page(
    tabs: &[Tab<'_>],
    selected: &Channel,
    messages: &[ConsoleMessage],
    now: DateTime<Utc>,
) -> String {
    let mut cards_html = String::new();
    for message in messages.iter().rev() {
        cards_html.push_str(&card(message, now));
        cards_html.push('\n');
    }
    PAGE_TEMPLATE
        .replace(
            "{{title}}",
            &escape(&format!("{} · mentiondesk console", selected.label)),
        )
        .replace("{{channel}}", &escape(&selected.id))
        .replace("{{view}}", "channel")
        .replace("{{tabs}}", &tabs_html(tabs, Some(&selected.id)))
        .replace(
            "{{empty_hidden}}",
            if messages.is_empty() { "" } else { " hidden" },
        )
        .replace("{{empty_text}}", EMPTY_CHANNEL)
        .replace("{{cards}}", &cards_html)
}

/// The "Skipped" review: the tabs (Skipped selected), then the newest posts triage stored
/// without a card, each with "Mark as complaint" or the case it became.
pub fn skipped_page(tabs: &[Tab<'_>], posts: &[SkippedPost], now: DateTime<Utc>) -> String {
    PAGE_TEMPLATE
        .replace("{{title}}", "Skipped · mentiondesk console")
        .replace("{{channel}}", "")
        .replace("{{view}}", "skipped")
        .replace("{{tabs}}", &tabs_html(tabs, None))
        .replace(
            "{{empty_hidden}}",
            if posts.is_empty() { "" } else { " hidden" },
        )
        .replace(
            "{{empty_text}}",
            "No skipped posts: every post triage stored became a card.",
        )
        .replace("{{cards}}", &skipped_list(posts, now))
}

/// The skipped posts, newest first (the fragment the page swaps in after a change).
pub fn skipped_list(posts: &[SkippedPost], now: DateTime<Utc>) -> String {
    let mut html = String::new();
    for post in posts {
        html.push_str(&skipped_post(post, now));
        html.push('\n');
    }
    html
}

/// One skipped post: who, where, triage's verdict, the (masked) text, and "Mark as complaint"
/// or the case it became.
fn skipped_post(post: &SkippedPost, now: DateTime<Utc>) -> String {
    let mut html = String::with_capacity(1024);
    let _ = write!(
        html,
        r#"<article class="card skipped{moved}" id="skipped-{id}" data-skipped="{id}" data-network="{network}">"#,
        moved = if post.case.is_some() { " moved" } else { "" },
        id = post.id,
        network = post.network.as_str(),
    );
    let _ = write!(
        html,
        r#"<div class="card-head"><h2 class="card-title">Skipped {label} on {network}</h2><span class="state-pill">{state}</span></div>"#,
        label = escape(post.triage.label.as_str()),
        network = escape(post.network.label()),
        state = match post.status() {
            Some(status) => escape(&format!("Now {status}")),
            None => "Not carded".to_string(),
        },
    );
    html.push_str(&post_source(
        post.network,
        post.display_name.as_deref(),
        &post.handle,
        &post.url,
    ));
    let _ = write!(
        html,
        r#"<blockquote class="post-text">{}</blockquote>"#,
        escape(&post.text)
    );
    let _ = write!(
        html,
        r#"<ul class="card-facts"><li class="triage-line"><span class="label">Triage</span><span class="triage-label {label}">{label}</span> · score {score:.2} · {reason}</li><li class="state-line"><span class="label">Stored</span><time datetime="{at}" title="{title}">{age}</time></li></ul>"#,
        label = escape(post.triage.label.as_str()),
        score = post.triage.score,
        reason = escape(&post.triage.reason),
        at = post.at.to_rfc3339(),
        title = post.at.format("%Y-%m-%d %H:%M UTC"),
        age = age(post.at, now),
    );
    if let Some(button) = post.button() {
        let _ = write!(
            html,
            r#"<div class="buttons"><button type="button" class="btn" data-action="{action}" data-payload="{payload}">{label}</button></div>"#,
            action = escape(button.kind.verb()),
            payload = escape(&button.payload),
            label = escape(&button.label),
        );
    }
    html.push_str("</article>");
    html
}

/// The channel tabs, then the "Skipped" review's tab; `selected` is the channel shown, or
/// `None` on the Skipped view.
fn tabs_html(tabs: &[Tab<'_>], selected: Option<&str>) -> String {
    let mut tabs_html = String::new();
    for tab in tabs {
        let active = Some(tab.channel.id.as_str()) == selected;
        let _ = writeln!(
            tabs_html,
            r#"<a class="tab{active_class}" data-channel="{id}" href="/?channel={query}"{current}>{label} <span class="badge" data-count="{count}">{count}</span></a>"#,
            active_class = if active { " active" } else { "" },
            id = escape(&tab.channel.id),
            query = escape(&encode_query_value(&tab.channel.id)),
            current = if active {
                r#" aria-current="page""#
            } else {
                ""
            },
            label = escape(&tab.channel.label),
            count = tab.count,
        );
    }
    let _ = writeln!(
        tabs_html,
        r#"<a class="tab{active}" data-view="skipped" href="{SKIPPED_PATH}"{current}>Skipped</a>"#,
        active = if selected.is_none() { " active" } else { "" },
        current = if selected.is_none() {
            r#" aria-current="page""#
        } else {
            ""
        },
    );
    tabs_html
}

/// One card with its buttons and thread: the fragment a live page swaps in.
pub fn card(message: &ConsoleMessage, now: DateTime<Utc>) -> String {
    let card = &message.card;
    let mut html = String::with_capacity(2048);
    let _ = write!(
        html,
        r#"<article class="card state-{state}{overdue}" id="msg-{id}" data-message-id="{id}" data-channel="{channel}" data-case="{case}" data-version="{version}" data-network="{network}">"#,
        state = escape(state_class(card)),
        overdue = if card.overdue { " overdue" } else { "" },
        id = escape(&message.message_id),
        channel = escape(&message.channel),
        case = card.case_id.0,
        version = card.version,
        network = card.network.as_str(),
    );
    let _ = write!(
        html,
        r#"<div class="card-head"><h2 class="card-title">{title}</h2><span class="state-pill">{state}</span></div>"#,
        title = escape(&card.title),
        state = escape(card.state.label()),
    );
    if let CardKind::Escalation { target, by, note } = &card.kind {
        let _ = write!(
            html,
            r#"<p class="form-warning escalation-note">Escalated to <strong>{target}</strong> by {by}{note}</p>"#,
            target = escape(target),
            by = escape(by),
            note = if note.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", escape(note))
            },
        );
    }
    html.push_str(&source_line(card));
    let _ = write!(
        html,
        r#"<blockquote class="post-text">{text}{cut}</blockquote>"#,
        text = escape(&card.text),
        cut = if card.text_truncated {
            r#" <span class="muted">(cut: the post has the rest)</span>"#
        } else {
            ""
        },
    );
    html.push_str(r#"<ul class="card-facts">"#);
    let _ = write!(
        html,
        r#"<li class="triage-line"><span class="label">Triage</span><span class="triage-label {label}">{label}</span> · score {score:.2} · {reason}</li>"#,
        label = escape(card.triage.label.as_str()),
        score = card.triage.score,
        reason = escape(&card.triage.reason),
    );
    if let Some(count) = card.similar_posts {
        let _ = write!(
            html,
            r#"<li class="incident-line"><span class="label">Incident</span><strong class="similar-count">{count}</strong> similar posts · members in the thread</li>"#,
        );
    }
    if let Some(context) = &card.context {
        let _ = write!(
            html,
            r#"<li class="context-line"><span class="label">Customer</span>{}</li>"#,
            escape(context)
        );
    }
    if let Some(repeat) = &card.repeat {
        let last = match repeat.last_cards.get("console") {
            Some(last) => format!(
                r##"<a href="#msg-{}">{}</a>"##,
                escape(&last.message),
                escape(&repeat.last_case.to_string())
            ),
            None => escape(&repeat.last_case.to_string()),
        };
        let _ = write!(
            html,
            r#"<li class="repeat-line"><span class="label">Repeat</span>{} · last case {last}</li>"#,
            escape(&repeat.text)
        );
    }
    if let Some(reach) = &card.reach {
        let _ = write!(
            html,
            r#"<li class="reach-line"><span class="label">Reach</span>{}</li>"#,
            escape(reach)
        );
    }
    let _ = write!(
        html,
        r#"<li class="state-line"><span class="label">State</span>{line} · opened <time datetime="{opened}" title="{opened_title}">{age}</time></li>"#,
        line = escape(&card.state_line),
        opened = card.opened_at.to_rfc3339(),
        opened_title = card.opened_at.format("%Y-%m-%d %H:%M UTC"),
        age = age(card.opened_at, now),
    );
    html.push_str("</ul>");
    if !card.buttons.is_empty() {
        html.push_str(r#"<div class="buttons">"#);
        for button in &card.buttons {
            let _ = write!(
                html,
                r#"<button type="button" class="btn{style}" data-action="{action}" data-payload="{payload}">{label}</button>"#,
                style = match button.style {
                    ButtonStyle::Primary => " primary",
                    ButtonStyle::Default => "",
                    ButtonStyle::Danger => " danger",
                },
                action = escape(button.kind.verb()),
                payload = escape(&button.payload),
                label = escape(&button.label),
            );
        }
        html.push_str("</div>");
    }
    html.push_str(r#"<div class="form-slot"></div>"#);
    html.push_str(&thread(&message.thread));
    html.push_str("</article>");
    html
}

fn source_line(card: &Card) -> String {
    post_source(
        card.network,
        card.author_name.as_deref(),
        &card.author_handle,
        &card.post_url,
    )
}

/// The network, the author and a link to the post.
fn post_source(network: Network, name: Option<&str>, handle: &str, url: &str) -> String {
    let author = match name {
        Some(name) if !name.trim().is_empty() => {
            format!(
                "{} <span class=\"handle\">@{}</span>",
                escape(name),
                escape(handle)
            )
        }
        _ => format!("<span class=\"handle\">@{}</span>", escape(handle)),
    };
    let link = match safe_url(url) {
        Some(url) => format!(
            r#" · <a href="{}" target="_blank" rel="noopener noreferrer">View post</a>"#,
            escape(url)
        ),
        None => String::new(),
    };
    format!(
        r#"<p class="card-source"><span class="network">{network}</span> · {author}{link}</p>"#,
        network = escape(network.label()),
    )
}

fn thread(notes: &[ThreadNote]) -> String {
    if notes.is_empty() {
        return r#"<ol class="thread" hidden></ol>"#.to_string();
    }
    let mut html = String::from(r#"<ol class="thread">"#);
    for note in notes {
        html.push_str(r#"<li class="note">"#);
        match &note.mention {
            Some(NoteMention::Agent { name, .. }) => {
                let _ = write!(html, r#"<span class="mention">@{}</span> "#, escape(name));
            }
            Some(NoteMention::Channel) => html.push_str(r#"<span class="mention">@here</span> "#),
            None => {}
        }
        // Most notes already name the person ("Claimed by Ana"); say who only when not.
        if let Some(by) = note.by.as_deref().filter(|by| !note.text.contains(*by)) {
            let _ = write!(html, r#"<span class="who">{}</span> "#, escape(by));
        }
        let _ = write!(
            html,
            r#"<span class="note-text">{}</span>"#,
            escape(&note.text)
        );
        if let Some(url) = note.link.as_deref().and_then(safe_url) {
            let _ = write!(
                html,
                r#" <a href="{}" target="_blank" rel="noopener noreferrer">link</a>"#,
                escape(url)
            );
        }
        let _ = write!(
            html,
            r#"<time class="when" datetime="{}">{}</time></li>"#,
            note.at.to_rfc3339(),
            note.at.format("%b %d, %H:%M UTC"),
        );
    }
    html.push_str("</ol>");
    html
}

/// The CSS class naming the card's state (`escalated` wins over the state when the card is
/// an escalation target's linked card).
fn state_class(card: &Card) -> &'static str {
    match card.kind {
        CardKind::Escalation { .. } => "escalated",
        CardKind::Kudos => "kudos",
        CardKind::Case => match card.state {
            crate::domain::CaseState::New => "new",
            crate::domain::CaseState::Claimed => "claimed",
            crate::domain::CaseState::Replied => "replied",
            crate::domain::CaseState::CustomerReplied => "customer_replied",
            crate::domain::CaseState::Resolved => "resolved",
            crate::domain::CaseState::Dismissed => "dismissed",
        },
    }
}

/// How long ago, in the short words a card has room for.
pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - since).num_seconds().max(0);
    match seconds {
        0..=59 => "just now".to_string(),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The URL if it is safe to link to: `http` or `https` only, so `javascript:` and `data:`
/// links from a hostile post are shown nowhere.
fn safe_url(url: &str) -> Option<&str> {
    let lower = url.trim_start().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url.trim_start())
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode_query_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::{ActionKind, Button, CaseId, CaseState, Label, Network, Payload, Triage};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
    }

    fn sample_card() -> Card {
        Card {
            case_id: CaseId(7),
            version: 3,
            kind: CardKind::Case,
            title: "Complaint on Bluesky".to_string(),
            network: Network::Bluesky,
            author_handle: "carol.example".to_string(),
            author_name: Some("Carol".to_string()),
            post_url: "https://bsky.app/profile/carol.example/post/1".to_string(),
            text: "My order never arrived".to_string(),
            text_truncated: false,
            triage: Triage {
                label: Label::Complaint,
                score: 0.91,
                reason: "cues: never arrived".to_string(),
            },
            context: Some("1 earlier case from this customer; last #2 (resolved)".to_string()),
            state: CaseState::New,
            state_line: "New · unclaimed · first response due 11:00 CET".to_string(),
            owner: None,
            opened_at: now() - chrono::Duration::minutes(5),
            first_response_due: None,
            overdue: false,
            next_response_due: None,
            repeat: None,
            similar_posts: None,
            reach: None,
            buttons: [ActionKind::Claim, ActionKind::Reply, ActionKind::Dismiss]
                .into_iter()
                .map(|kind| Button {
                    kind,
                    label: kind.label().to_string(),
                    payload: Payload {
                        kind,
                        case: CaseId(7),
                        version: 3,
                    }
                    .to_string(),
                    style: if kind == ActionKind::Dismiss {
                        ButtonStyle::Danger
                    } else {
                        ButtonStyle::Default
                    },
                })
                .collect(),
            reply_limit: 300,
        }
    }

    fn message(card: Card, thread: Vec<ThreadNote>) -> ConsoleMessage {
        ConsoleMessage {
            key: "case:7".to_string(),
            channel: "mentions".to_string(),
            message_id: "000000000001".to_string(),
            card,
            thread,
            note_keys: Vec::new(),
            posted_at: now(),
            updated_at: now(),
        }
    }

    fn check_contains(html: &str, expected: &[&str]) {
        for needle in expected {
            assert!(html.contains(needle), "missing {needle:?} in\n{html}");
        }
    }

    #[test]
    fn escape_handles_every_special_character() {
        for (input, expected) in [
            ("plain", "plain"),
            ("<b>", "&lt;b&gt;"),
            ("a & b", "a &amp; b"),
            (r#""quoted""#, "&quot;quoted&quot;"),
            ("it's", "it&#39;s"),
            (
                "<script>alert('x')</script>",
                "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;",
            ),
        ] {
            assert_eq!(escape(input), expected, "{input:?}");
        }
    }

    #[test]
    fn card_shows_the_facts_and_the_buttons() {
        let html = card(&message(sample_card(), Vec::new()), now());
        check_contains(
            &html,
            &[
                r#"id="msg-000000000001""#,
                r#"data-case="7""#,
                "Complaint on Bluesky",
                "Carol <span class=\"handle\">@carol.example</span>",
                r#"href="https://bsky.app/profile/carol.example/post/1""#,
                "My order never arrived",
                "score 0.91 · cues: never arrived",
                "1 earlier case from this customer",
                "New · unclaimed · first response due 11:00 CET · opened <time",
                "5 min ago",
                r#"data-action="claim" data-payload="claim:7:3">Claim</button>"#,
                r#"data-action="reply" data-payload="reply:7:3">Reply publicly</button>"#,
                r#"class="btn danger" data-action="dismiss""#,
                r#"<ol class="thread" hidden></ol>"#,
            ],
        );
    }

    #[test]
    fn a_repeat_links_to_the_last_card_and_warnings_name_the_owner() {
        let mut repeat = sample_card();
        repeat.repeat = Some(crate::domain::RepeatFlag {
            text: "repeat customer: 2nd case in 7 days".to_string(),
            last_case: crate::domain::CaseId(5),
            last_cards: [(
                "console".to_string(),
                crate::domain::MessageRef {
                    channel: "mentions".to_string(),
                    message: "000000000004".to_string(),
                    thread: None,
                },
            )]
            .into_iter()
            .collect(),
        });
        let notes = vec![
            ThreadNote {
                text: "First response due at 2026-03-02 10:05 UTC".to_string(),
                by: None,
                at: now(),
                link: None,
                mention: Some(NoteMention::Agent {
                    id: "slack:U0ANA".to_string(),
                    name: "Ana".to_string(),
                }),
            },
            ThreadNote {
                text: "Next response due at 2026-03-02 11:05 UTC".to_string(),
                by: None,
                at: now(),
                link: None,
                mention: Some(NoteMention::Channel),
            },
        ];
        let html = card(&message(repeat, notes), now());
        check_contains(
            &html,
            &[
                r##"repeat customer: 2nd case in 7 days · last case <a href="#msg-000000000004">#5</a>"##,
                r#"<span class="mention">@Ana</span> <span class="note-text">First response"#,
                r#"<span class="mention">@here</span> <span class="note-text">Next response"#,
            ],
        );
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let mut hostile = sample_card();
        hostile.title = "<img src=x onerror=alert(1)>".to_string();
        hostile.author_handle = "\"><script>".to_string();
        hostile.author_name = Some("<b>Eve</b>".to_string());
        hostile.text = "</blockquote><script>alert(1)</script>".to_string();
        hostile.triage.reason = "<i>".to_string();
        hostile.context = Some("<u>".to_string());
        hostile.state_line = "<s>".to_string();
        hostile.post_url = "javascript:alert(1)".to_string();
        hostile.buttons[0].label = "<em>Claim</em>".to_string();
        hostile.buttons[0].payload = "\" onclick=\"alert(1)".to_string();
        let note = ThreadNote {
            text: "<script>steal()</script>".to_string(),
            by: Some("<Mallory>".to_string()),
            at: now(),
            link: Some("data:text/html,<script>".to_string()),
            mention: None,
        };
        let html = card(&message(hostile, vec![note]), now());
        for forbidden in [
            "<script",
            "<img",
            "<b>",
            "<i>",
            "<u>",
            "<s>",
            "<em>",
            "javascript:",
            "data:text",
            "\" onclick",
            "<Mallory>",
        ] {
            assert!(
                !html.contains(forbidden),
                "{forbidden:?} leaked into\n{html}"
            );
        }
        check_contains(
            &html,
            &[
                "&lt;img src=x onerror=alert(1)&gt;",
                "&lt;/blockquote&gt;&lt;script&gt;",
                "&quot; onclick=&quot;alert(1)",
                "&lt;Mallory&gt;",
            ],
        );
    }

    #[test]
    fn thread_notes_show_who_when_and_links() {
        let notes = vec![
            ThreadNote {
                text: "Claimed by Ana".to_string(),
                by: Some("Ana".to_string()),
                at: now(),
                link: None,
                mention: None,
            },
            ThreadNote {
                text: "Escalated to Billing team".to_string(),
                by: Some("Bo".to_string()),
                at: now(),
                link: None,
                mention: None,
            },
            ThreadNote {
                text: "Ana replied publicly: “Sorry!”".to_string(),
                by: Some("Ana".to_string()),
                at: now(),
                link: Some("https://bsky.app/profile/acme/post/9".to_string()),
                mention: None,
            },
        ];
        let html = card(&message(sample_card(), notes), now());
        check_contains(
            &html,
            &[
                r#"<ol class="thread"><li class="note"><span class="note-text">Claimed by Ana</span><time class="when""#,
                r#"<li class="note"><span class="who">Bo</span> <span class="note-text">Escalated to Billing team</span>"#,
                "Mar 01, 12:00 UTC",
                r#"Ana replied publicly: “Sorry!”</span> <a href="https://bsky.app/profile/acme/post/9""#,
            ],
        );
    }

    #[test]
    fn escalation_cards_name_the_target() {
        let mut escalated = sample_card();
        escalated.kind = CardKind::Escalation {
            target: "Billing team".to_string(),
            by: "Ana".to_string(),
            note: "refund <now>".to_string(),
        };
        let html = card(&message(escalated, Vec::new()), now());
        check_contains(
            &html,
            &[
                "state-escalated",
                "Escalated to <strong>Billing team</strong> by Ana: refund &lt;now&gt;",
            ],
        );
    }

    #[test]
    fn page_lists_tabs_and_cards_newest_first() {
        let mentions = Channel {
            id: "mentions".to_string(),
            label: "Mentions".to_string(),
        };
        let billing = Channel {
            id: "billing & co".to_string(),
            label: "Billing <team>".to_string(),
        };
        let tabs = [
            Tab {
                channel: &mentions,
                count: 2,
            },
            Tab {
                channel: &billing,
                count: 0,
            },
        ];
        let older = message(sample_card(), Vec::new());
        let mut newer = message(sample_card(), Vec::new());
        newer.message_id = "000000000002".to_string();
        let html = page(&tabs, &mentions, &[older, newer], now());
        check_contains(
            &html,
            &[
                r#"<a class="tab active" data-channel="mentions" href="/?channel=mentions" aria-current="page">Mentions <span class="badge" data-count="2">2</span></a>"#,
                r#"href="/?channel=billing%20%26%20co">Billing &lt;team&gt;"#,
                r#"<body data-channel="mentions" data-view="channel">"#,
                r#"<p id="empty" class="empty" hidden>"#,
            ],
        );
        let newer_at = html.find("msg-000000000002").unwrap();
        let older_at = html.find("msg-000000000001").unwrap();
        assert!(newer_at < older_at, "newest card first");
        let empty = page(&tabs, &billing, &[], now());
        check_contains(&empty, &[r#"<p id="empty" class="empty">"#]);
        assert!(!empty.contains("{{"), "every placeholder is filled");
    }

    #[test]
    fn the_skipped_view_lists_posts_escaped_with_their_button_or_case() {
        let mut mention =
            crate::domain::kudos::tests::mention("<script>x</script> is this normal?");
        mention.url = "javascript:alert(1)".into();
        mention.author.handle = "<b>eve</b>".into();
        let triage = Triage {
            label: Label::Question,
            score: 0.41,
            reason: "question <i>".into(),
        };
        let waiting = SkippedPost::new(3, &mention, triage.clone(), now(), None);
        let moved = SkippedPost::new(2, &mention, triage, now(), Some(CaseId(7)));
        let mentions = Channel {
            id: "mentions".to_string(),
            label: "Mentions".to_string(),
        };
        let tabs = [Tab {
            channel: &mentions,
            count: 1,
        }];
        let html = skipped_page(&tabs, &[waiting, moved], now());
        check_contains(
            &html,
            &[
                r#"<body data-channel="" data-view="skipped">"#,
                r#"<a class="tab active" data-view="skipped" href="/skipped" aria-current="page">Skipped</a>"#,
                r#"data-payload="skipped:3:0">Mark as complaint</button>"#,
                "Now case #7",
                "&lt;script&gt;x&lt;/script&gt; is this normal?",
                "@&lt;b&gt;eve&lt;/b&gt;",
                "question &lt;i&gt;",
                "score 0.41",
            ],
        );
        assert!(!html.contains("<script>x"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert_eq!(html.matches("data-payload=").count(), 1, "{html}");
        assert!(html.find("skipped-3").unwrap() < html.find("skipped-2").unwrap());
    }

    #[test]
    fn ages_are_short() {
        for (seconds, expected) in [
            (5, "just now"),
            (120, "2 min ago"),
            (7200, "2 h ago"),
            (3 * 86_400, "3 d ago"),
            (-30, "just now"),
        ] {
            assert_eq!(
                age(now() - chrono::Duration::seconds(seconds), now()),
                expected
            );
        }
    }
}
