//! Card → Block Kit, and the Reply and Escalate modals.
//!
//! Pure functions of their inputs, table-tested below. Every text that comes from a post, a
//! person or config is escaped for `mrkdwn` (`&`, `<`, `>`), so a hostile post cannot ping
//! `<!channel>` or forge a link, and every field is cut to Slack's limits
//! (`specs/platform-limits.json`): a long post is truncated with a link, never rejected.

use chrono::{DateTime, Utc};
use slack_morphism::prelude::*;

use crate::chat::commands::{short_duration, CaseLine, CommandAnswer, EXCERPT_CHARS, USAGE};
use crate::domain::{
    ActionKind, ButtonStyle, Card, CardKind, Network, NoteMention, SkippedPost, ThreadNote,
};

/// Header block text, in characters.
pub const HEADER_MAX: usize = 150;
/// Section text, in characters.
pub const SECTION_MAX: usize = 3000;
/// Blocks in a message.
pub const BLOCKS_MAX: usize = 50;
/// Button text, in characters.
pub const BUTTON_TEXT_MAX: usize = 75;
/// Button and option values, in characters.
pub const VALUE_MAX: usize = 2000;
/// Context element text, in characters (a text object's limit).
pub const CONTEXT_TEXT_MAX: usize = 3000;
/// Modal title and submit/close labels, in characters.
pub const MODAL_TITLE_MAX: usize = 24;
/// Plain text input's `max_length` ceiling.
pub const INPUT_MAX: u64 = 3000;
/// Options in a static select.
pub const SELECT_OPTIONS_MAX: usize = 100;
/// Option text in a static select, in characters.
pub const OPTION_TEXT_MAX: usize = 75;
/// The plain-text fallback (`text`), kept short: it is what notifications show.
pub const FALLBACK_MAX: usize = 300;
/// An option's value (overflow, select), in characters.
pub const OPTION_VALUE_MAX: usize = 150;
/// A modal's `private_metadata`, in characters.
pub const PRIVATE_METADATA_MAX: usize = 3000;

/// The Reply modal's `callback_id`.
pub const REPLY_CALLBACK: &str = "mentiondesk_reply";
/// The Escalate modal's `callback_id`.
pub const ESCALATE_CALLBACK: &str = "mentiondesk_escalate";
/// The Reject draft modal's `callback_id` (approval mode).
pub const REJECT_CALLBACK: &str = "mentiondesk_reject";
/// The rejection reason's block id.
pub const REASON_BLOCK: &str = "reason";
/// The reply text input's block id (errors are keyed by it).
pub const REPLY_BLOCK: &str = "reply_text";
/// The saved-reply select's block id; the select dispatches its choice at once
/// (`dispatch_action`), and the adapter fills the text in with `views.update`.
pub const SAVED_BLOCK: &str = "saved_reply";
/// The saved-reply select's action id.
pub const SAVED_ACTION: &str = "saved_reply";
/// The "post anyway" checkbox block id.
pub const CONFIRM_BLOCK: &str = "confirm_pii";
/// The escalation target select's block id.
pub const TARGET_BLOCK: &str = "target";
/// The escalation note's block id.
pub const NOTE_BLOCK: &str = "note";
/// The action id of every input element (one per block).
pub const INPUT_ACTION: &str = "value";
/// The overflow menu's action id.
pub const OVERFLOW_ACTION: &str = "more";
/// The value of the "post anyway" checkbox option.
pub const CONFIRM_VALUE: &str = "confirm";

/// A card as a Slack message: blocks plus the plain-text fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct CardMessage {
    /// The Block Kit blocks.
    pub blocks: Vec<SlackBlock>,
    /// The notification fallback.
    pub text: String,
}

/// Renders a card. `mention` is the target's user group (or user) on an escalation card.
pub fn card_message(card: &Card, mention: Option<&str>) -> CardMessage {
    card_message_linked(card, mention, None)
}

/// `card_message`, with the workspace's URL (from `auth.test`) so the repeat line can link to
/// the customer's last case.
pub fn card_message_linked(
    card: &Card,
    mention: Option<&str>,
    workspace_url: Option<&str>,
) -> CardMessage {
    let mut blocks: Vec<SlackBlock> = Vec::new();
    blocks.push(SlackHeaderBlock::new(plain(&card.title, HEADER_MAX)).into());
    if let CardKind::Escalation { target, by, note } = &card.kind {
        let mut line = String::new();
        if let Some(mention) = mention.and_then(mention_token) {
            line.push_str(&mention);
            line.push(' ');
        }
        line.push_str(&format!(
            "Escalated to *{}* by {}",
            escape(target),
            escape(by)
        ));
        if !note.trim().is_empty() {
            line.push_str(&format!(": {}", escape(note)));
        }
        blocks.push(section(fit(&line, SECTION_MAX)));
    }
    blocks.push(section(post_text(card)));
    blocks.push(section(fit(&source_line(card), SECTION_MAX)));
    blocks.push(section(fit(
        &format!(
            "*{}* · score {:.2} · {}",
            escape(card.triage.label.as_str()),
            card.triage.score,
            escape(&card.triage.reason)
        ),
        SECTION_MAX,
    )));
    if let Some(incident) = card.incident_line() {
        blocks.push(section(fit(
            &format!("*{}*", escape(&incident)),
            SECTION_MAX,
        )));
    }
    if let Some(context) = &card.context {
        blocks.push(context_block(&escape(context)));
    }
    if let Some(repeat) = &card.repeat {
        let number = repeat.last_case.to_string();
        let last = match (repeat.last_cards.get("slack"), workspace_url) {
            (Some(card), Some(url)) => format!(
                "<{}archives/{}/p{}|{number}>",
                link_target(&format!("{}/", url.trim_end_matches('/'))),
                link_target(&card.channel),
                card.message.replace('.', "")
            ),
            _ => number,
        };
        blocks.push(context_block(&format!(
            ":repeat: {} · last case {last}",
            escape(&repeat.text)
        )));
    }
    if let Some(reach) = &card.reach {
        blocks.push(context_block(&escape(reach)));
    }
    blocks.push(context_block(&state_line(card)));
    if let Some(actions) = actions_block(card) {
        blocks.push(actions);
    }
    blocks.truncate(BLOCKS_MAX);
    CardMessage {
        blocks,
        text: fallback_text(card),
    }
}

/// A thread note as mrkdwn text: who (when the note doesn't already say), what, and the link.
pub fn note_text(note: &ThreadNote) -> String {
    let mut text = String::new();
    match &note.mention {
        Some(NoteMention::Channel) => text.push_str("<!here> "),
        Some(mention @ NoteMention::Agent { name, .. }) => match mention.id_in("slack") {
            Some(id) if id.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                text.push_str(&format!("<@{id}> "))
            }
            _ => text.push_str(&format!("@{} ", escape(name))),
        },
        None => {}
    }
    if let Some(by) = note.by.as_deref().filter(|by| !note.text.contains(*by)) {
        text.push_str(&format!("*{}*: ", escape(by)));
    }
    text.push_str(&escape(&note.text));
    if let Some(url) = note.link.as_deref().and_then(safe_url) {
        text.push_str(&format!(" <{}|link>", link_target(url)));
    }
    fit(&text, SECTION_MAX)
}

/// Where a reply modal starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyForm {
    /// The payload the Reply button carried (`reply:case:version`).
    pub payload: String,
    /// The channel of the card, for private notices afterwards.
    pub channel: String,
    /// The customer's handle (without `@`).
    pub handle: String,
    /// The network.
    pub network: Network,
    /// Its reply length limit.
    pub limit: usize,
    /// The starting text: the draft of a failed reply, or `@handle `.
    pub initial: String,
    /// Whether `initial` is a failed reply's draft.
    pub from_draft: bool,
    /// The saved replies' names, for the select (none: no select).
    pub saved: Vec<String>,
    /// The saved reply `initial` was filled from, shown as chosen.
    pub chosen: Option<String>,
    /// The text input's block id: `REPLY_BLOCK`, then `reply_text.N` after the N-th saved
    /// reply was picked, because Slack keeps what was typed in an input whose block id stays.
    pub text_block: String,
}

/// The block id of the reply text input after one more saved reply is picked in a modal
/// whose text input has block id `current`.
pub fn next_text_block(current: &str) -> String {
    let picked = current
        .strip_prefix(REPLY_BLOCK)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|number| number.parse::<u32>().ok())
        .unwrap_or(0);
    format!("{REPLY_BLOCK}.{}", picked + 1)
}

/// Whether `block` is the reply text input's block (`REPLY_BLOCK` or `reply_text.N`).
pub fn is_text_block(block: &str) -> bool {
    block == REPLY_BLOCK
        || block
            .strip_prefix(REPLY_BLOCK)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|number| number.parse::<u32>().is_ok())
}

/// The Reply modal.
pub fn reply_modal(form: &ReplyForm) -> SlackView {
    let mut about = format!(
        "Replying publicly to *@{}* on {}. {} counts up to *{}* characters; your signature is added if you have one.",
        escape(&form.handle),
        form.network.label(),
        form.network.label(),
        form.limit
    );
    if form.from_draft {
        about.push_str(" The last reply was not sent: its draft is below.");
    }
    if form.payload.starts_with("edit:") {
        about.push_str(" You are editing a draft: submitting approves your version.");
    }
    let input = SlackBlockPlainTextInputElement::new()
        .with_action_id(INPUT_ACTION.into())
        .with_multiline(true)
        .with_max_length(INPUT_MAX)
        .with_initial_value(truncate(&form.initial, INPUT_MAX as usize));
    let confirm = SlackBlockCheckboxesElement::new(vec![SlackBlockChoiceItem::new(
        SlackBlockText::from(SlackBlockPlainText::new(
            "Post anyway, even with personal data or a text sent many times today".to_string(),
        )),
        CONFIRM_VALUE.to_string(),
    )])
    .with_action_id(INPUT_ACTION.into());
    let mut blocks: Vec<SlackBlock> = vec![section(fit(&about, SECTION_MAX))];
    if !form.saved.is_empty() {
        let option = |name: &String| {
            SlackBlockChoiceItem::new(
                plain(name, OPTION_TEXT_MAX),
                truncate(name, OPTION_VALUE_MAX),
            )
        };
        let options: Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>> = form
            .saved
            .iter()
            .take(SELECT_OPTIONS_MAX)
            .map(option)
            .collect();
        let mut select = SlackBlockStaticSelectElement::new()
            .with_action_id(SAVED_ACTION.into())
            .with_placeholder(plain("Start from a saved reply", 150))
            .with_options(options);
        if let Some(chosen) = form.chosen.as_ref().filter(|c| form.saved.contains(c)) {
            select = select.with_initial_option(option(chosen));
        }
        blocks.push(
            SlackInputBlock::new(plain("Saved reply", 2000), select.into())
                .with_block_id(SAVED_BLOCK.into())
                .with_optional(true)
                .with_dispatch_action(true)
                .into(),
        );
    }
    blocks.push(
        SlackInputBlock::new(plain("Public reply", 2000), input.into())
            .with_block_id(form.text_block.clone().into())
            .into(),
    );
    blocks.push(
        SlackInputBlock::new(plain("Post anyway", 2000), confirm.into())
            .with_block_id(CONFIRM_BLOCK.into())
            .with_optional(true)
            .into(),
    );
    modal(
        "Reply publicly",
        "Post reply",
        REPLY_CALLBACK,
        &form_metadata(&form.payload, &form.channel),
        blocks,
    )
}

/// The Escalate modal: a static select of the targets (id, label) and a note.
pub fn escalate_modal(payload: &str, channel: &str, targets: &[(String, String)]) -> SlackView {
    let options: Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>> = targets
        .iter()
        .take(SELECT_OPTIONS_MAX)
        .map(|(id, label)| {
            SlackBlockChoiceItem::new(
                plain(label, OPTION_TEXT_MAX),
                truncate(id, OPTION_VALUE_MAX),
            )
        })
        .collect();
    let select = SlackBlockStaticSelectElement::new()
        .with_action_id(INPUT_ACTION.into())
        .with_placeholder(plain("Choose a team", 150))
        .with_options(options);
    let note = SlackBlockPlainTextInputElement::new()
        .with_action_id(INPUT_ACTION.into())
        .with_multiline(true)
        .with_max_length(INPUT_MAX);
    let blocks: Vec<SlackBlock> = vec![
        SlackInputBlock::new(plain("Escalate to", 2000), select.into())
            .with_block_id(TARGET_BLOCK.into())
            .into(),
        SlackInputBlock::new(plain("Internal note (not public)", 2000), note.into())
            .with_block_id(NOTE_BLOCK.into())
            .with_optional(true)
            .into(),
    ];
    modal(
        "Escalate",
        "Escalate",
        ESCALATE_CALLBACK,
        &form_metadata(payload, channel),
        blocks,
    )
}

/// The Reject draft modal (approval mode): an optional reason for the draft's author.
pub fn reject_modal(payload: &str, channel: &str) -> SlackView {
    let reason = SlackBlockPlainTextInputElement::new()
        .with_action_id(INPUT_ACTION.into())
        .with_multiline(true)
        .with_max_length(INPUT_MAX);
    let blocks: Vec<SlackBlock> = vec![
        section("The draft goes back to its author, who can revise it.".to_string()),
        SlackInputBlock::new(
            plain("Reason for the author (optional)", 2000),
            reason.into(),
        )
        .with_block_id(REASON_BLOCK.into())
        .with_optional(true)
        .into(),
    ];
    modal(
        "Reject draft",
        "Reject",
        REJECT_CALLBACK,
        &form_metadata(payload, channel),
        blocks,
    )
}

/// What a modal carries through Slack: the button's payload and the card's channel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FormMetadata {
    /// `verb:case:version`.
    pub payload: String,
    /// The card's channel.
    pub channel: String,
}

/// A slash command's private answer in `mrkdwn`. `command` is the command as typed
/// (`/mentiondesk`); `workspace_url` (from `auth.test`) makes each listed case a link to its
/// card, when the case has one in Slack.
pub fn command_text(answer: &CommandAnswer, command: &str, workspace_url: Option<&str>) -> String {
    let list = |title: String, empty: &str, cases: &[CaseLine], more: usize| {
        if cases.is_empty() {
            return empty.to_string();
        }
        let mut text = title;
        for line in cases {
            text.push_str("\n• ");
            text.push_str(&case_line(line, workspace_url));
        }
        if more > 0 {
            text.push_str(&format!("\n…and {more} more"));
        }
        text
    };
    let text = match answer {
        CommandAnswer::Queue { cases, more } => list(
            format!(
                "*Queue: {} open unclaimed case{}*, longest waiting first",
                cases.len() + more,
                plural(cases.len() + more)
            ),
            "The queue is empty: every open case has an owner.",
            cases,
            *more,
        ),
        CommandAnswer::Mine { cases, more } => list(
            format!("*Your open cases: {}*, oldest first", cases.len() + more),
            "You have no open cases.",
            cases,
            *more,
        ),
        CommandAnswer::Stats(stats) => {
            let states: Vec<String> = stats
                .by_state
                .iter()
                .filter(|(_, count)| *count > 0)
                .map(|(state, count)| format!("{} {count}", state.label()))
                .collect();
            let mut text = format!(
                "*Today ({} UTC)*: {} case{} opened",
                stats.day,
                stats.opened,
                plural(stats.opened)
            );
            if !states.is_empty() {
                text.push_str(&format!(" — {}", states.join(" · ")));
            }
            text.push_str(&format!(
                "\nOpen now: {} ({} unclaimed)",
                stats.open, stats.unclaimed
            ));
            match stats.median_first_response {
                Some(median) => text.push_str(&format!(
                    "\nFirst public reply: median {} over {} case{}",
                    short_duration(median),
                    stats.first_responses,
                    plural(stats.first_responses)
                )),
                None => text.push_str("\nFirst public reply: none yet today"),
            }
            text
        }
        CommandAnswer::Skipped { posts } => {
            if posts.is_empty() {
                "No skipped posts: every post triage stored became a card.".to_string()
            } else {
                let mut text = format!(
                    "*Skipped: the {} newest post{} triage did not card*, newest first",
                    posts.len(),
                    plural(posts.len())
                );
                for post in posts {
                    text.push_str("\n• ");
                    text.push_str(&skipped_line(post));
                }
                text
            }
        }
        CommandAnswer::Help { unknown } => {
            let command = escape(command);
            match unknown {
                Some(word) => format!(
                    "Unknown command “{}”. Try `{command} queue`, `{command} mine`, `{command} stats` or `{command} skipped`: {USAGE}",
                    escape(word)
                ),
                None => format!("`{command} queue | mine | stats | skipped`: {USAGE}"),
            }
        }
    };
    fit(&text, SECTION_MAX)
}

/// The blocks of a command's answer that carries buttons (`skipped`: a section per post
/// with "Mark as complaint" beside it, or the case it became); `None` for the text-only ones.
pub fn command_blocks(answer: &CommandAnswer) -> Option<Vec<SlackBlock>> {
    let CommandAnswer::Skipped { posts } = answer else {
        return None;
    };
    let text = command_text(answer, "", None);
    let mut blocks = vec![section(text.lines().next().unwrap_or_default().to_string())];
    for post in posts.iter().take(BLOCKS_MAX - 1) {
        let mut block = SlackSectionBlock::new()
            .with_block_id(format!("skipped-{}", post.id).into())
            .with_text(SlackBlockText::MarkDown(SlackBlockMarkDownText::new(fit(
                &skipped_line(post),
                SECTION_MAX,
            ))));
        if let Some(button) = post.button() {
            block = block.with_accessory(SlackSectionBlockElement::Button(
                SlackBlockButtonElement::new(plain(&button.label, BUTTON_TEXT_MAX))
                    .with_action_id(button.kind.verb().into())
                    .with_value(truncate(&button.payload, VALUE_MAX)),
            ));
        }
        blocks.push(block.into());
    }
    Some(blocks)
}

/// One skipped post: where, who, triage's verdict, a link to the post and its start.
fn skipped_line(post: &SkippedPost) -> String {
    let status = post
        .status()
        .map(|status| format!(" · *now {status}*"))
        .unwrap_or_default();
    let excerpt: String = post.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let link = if post.url.starts_with("http://") || post.url.starts_with("https://") {
        format!(" · <{}|View post>", link_target(&post.url))
    } else {
        String::new()
    };
    format!(
        "{} · @{} · *{}* {:.2} · {}{link}{status} — _{}_",
        post.network.label(),
        escape(&post.handle),
        post.triage.label.as_str(),
        post.triage.score,
        escape(&post.triage.reason),
        escape(&fit(&excerpt, EXCERPT_CHARS))
    )
}

fn case_line(line: &CaseLine, workspace_url: Option<&str>) -> String {
    let number = format!("#{}", line.case.0);
    let case = match (&line.card, workspace_url) {
        (Some(card), Some(url)) => format!(
            "<{}archives/{}/p{}|{number}>",
            link_target(&format!("{}/", url.trim_end_matches('/'))),
            link_target(&card.channel),
            card.message.replace('.', "")
        ),
        _ => number,
    };
    let owner = line
        .owner
        .as_ref()
        .map(|owner| format!(" · {}", escape(owner)))
        .unwrap_or_default();
    format!(
        "{case} {} · @{} · {}{owner} · {} — _{}_",
        line.network.label(),
        escape(&line.handle),
        line.state.label(),
        short_duration(line.waiting),
        escape(&line.excerpt)
    )
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn form_metadata(payload: &str, channel: &str) -> String {
    let metadata = FormMetadata {
        payload: payload.to_string(),
        channel: channel.to_string(),
    };
    let text = serde_json::to_string(&metadata).unwrap_or_default();
    truncate(&text, PRIVATE_METADATA_MAX)
}

/// The block an engine error about `field` is shown under.
pub fn error_block(field: &str, callback: &str) -> &'static str {
    match (callback, field) {
        (ESCALATE_CALLBACK, "note") => NOTE_BLOCK,
        (ESCALATE_CALLBACK, _) => TARGET_BLOCK,
        (REJECT_CALLBACK, _) => REASON_BLOCK,
        _ => REPLY_BLOCK,
    }
}

fn modal(
    title: &str,
    submit: &str,
    callback: &str,
    metadata: &str,
    blocks: Vec<SlackBlock>,
) -> SlackView {
    SlackView::Modal(
        SlackModalView::new(plain(title, MODAL_TITLE_MAX), blocks)
            .with_submit(plain(submit, MODAL_TITLE_MAX))
            .with_close(plain("Cancel", MODAL_TITLE_MAX))
            .with_callback_id(callback.into())
            .with_private_metadata(metadata.to_string()),
    )
}

fn post_text(card: &Card) -> String {
    let link =
        safe_url(&card.post_url).map(|url| format!("\n<{}|Read the full post>", link_target(url)));
    let quoted = quote(&escape(&card.text));
    let suffix = link.as_deref().unwrap_or("");
    if !card.text_truncated && quoted.chars().count() <= SECTION_MAX {
        return if quoted.is_empty() {
            "_(no text)_".to_string()
        } else {
            quoted
        };
    }
    // Cut the post (not the link) so the whole section stays within the limit.
    let room = SECTION_MAX.saturating_sub(suffix.chars().count() + 1);
    let mut cut = truncate(&quoted, room);
    if !cut.ends_with('…') {
        cut.push('…');
    }
    format!("{cut}{suffix}")
}

fn source_line(card: &Card) -> String {
    let author = match card.author_name.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(name) => format!("*{}* @{}", escape(name), escape(&card.author_handle)),
        None => format!("*@{}*", escape(&card.author_handle)),
    };
    match safe_url(&card.post_url) {
        Some(url) => format!(
            "{author} · {} · <{}|View post>",
            card.network.label(),
            link_target(url)
        ),
        None => format!("{author} · {}", card.network.label()),
    }
}

fn state_line(card: &Card) -> String {
    let mut line = String::new();
    if card.overdue {
        line.push_str(":rotating_light: ");
    }
    line.push_str(&escape(&card.state_line));
    let opened = card.opened_at.timestamp();
    line.push_str(&format!(
        " · opened <!date^{opened}^{{ago}}|{}>",
        fallback_time(card.opened_at)
    ));
    line
}

fn fallback_time(at: DateTime<Utc>) -> String {
    at.format("%b %d, %H:%M UTC").to_string()
}

fn actions_block(card: &Card) -> Option<SlackBlock> {
    let mut elements: Vec<SlackActionBlockElement> = Vec::new();
    let mut overflow: Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>> = Vec::new();
    let closed_only = card
        .buttons
        .iter()
        .all(|button| button.kind == ActionKind::Reopen);
    for button in &card.buttons {
        let in_menu = matches!(button.kind, ActionKind::Resolve | ActionKind::Dismiss)
            || (button.kind == ActionKind::Reopen && !closed_only);
        if in_menu {
            overflow.push(SlackBlockChoiceItem::new(
                plain(&button.label, OPTION_TEXT_MAX),
                truncate(&button.payload, OPTION_VALUE_MAX),
            ));
            continue;
        }
        let mut element = SlackBlockButtonElement::new(plain(&button.label, BUTTON_TEXT_MAX))
            .with_action_id(button.kind.verb().into())
            .with_value(truncate(&button.payload, VALUE_MAX));
        match button.style {
            ButtonStyle::Primary => element = element.with_style(SlackBlockButtonStyle::Primary),
            ButtonStyle::Danger => element = element.with_style(SlackBlockButtonStyle::Danger),
            ButtonStyle::Default => {}
        }
        elements.push(element.into());
    }
    if !overflow.is_empty() {
        // An overflow menu holds at most five options.
        overflow.truncate(5);
        elements.push(
            SlackBlockOverflowElement::new(overflow)
                .with_action_id(OVERFLOW_ACTION.into())
                .into(),
        );
    }
    if elements.is_empty() {
        return None;
    }
    Some(
        SlackActionsBlock::new(elements)
            .with_block_id(format!("case-{}-actions", card.case_id.0).into())
            .into(),
    )
}

fn fallback_text(card: &Card) -> String {
    let mut text = format!("{}: @{}", card.title, card.author_handle);
    if !card.text.is_empty() {
        text.push_str(" — ");
        text.push_str(&card.text);
    }
    fit(&escape(&text), FALLBACK_MAX)
}

fn section(text: String) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text)))
        .into()
}

fn context_block(text: &str) -> SlackBlock {
    SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
        SlackBlockMarkDownText::new(fit(text, CONTEXT_TEXT_MAX)),
    )])
    .into()
}

fn plain(text: &str, max: usize) -> SlackBlockPlainTextOnly {
    let text = if text.trim().is_empty() { "-" } else { text };
    SlackBlockPlainTextOnly::from(truncate(text, max))
}

/// The Slack token for a configured mention: a user group id (`S…`) becomes `<!subteam^S…>`,
/// a user id (`U…`/`W…`) becomes `<@U…>`, an already formatted token is kept. Anything else
/// (e.g. a Discord role id) has no meaning in Slack and is skipped.
pub fn mention_token(mention: &str) -> Option<String> {
    let mention = mention.trim();
    let is_id = |rest: &str| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric());
    if (mention.starts_with("<!subteam^") || mention.starts_with("<@")) && mention.ends_with('>') {
        return Some(mention.to_string());
    }
    match mention.chars().next() {
        Some('S') if is_id(mention) => Some(format!("<!subteam^{mention}>")),
        Some('U' | 'W') if is_id(mention) => Some(format!("<@{mention}>")),
        _ => None,
    }
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn quote(text: &str) -> String {
    text.lines()
        .map(|line| format!("> {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Cuts `text` to `max` characters, with an ellipsis when cut.
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    // Never leave half an entity (`&am`) or half a link (`<http…`) behind.
    if let Some(amp) = cut.rfind('&') {
        if !cut[amp..].contains(';') {
            cut.truncate(amp);
        }
    }
    if let Some(open) = cut.rfind('<') {
        if !cut[open..].contains('>') {
            cut.truncate(open);
        }
    }
    cut.push('…');
    cut
}

fn truncate(text: &str, max: usize) -> String {
    fit(text, max)
}

fn safe_url(url: &str) -> Option<&str> {
    let trimmed = url.trim();
    let lower = trimmed.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(trimmed)
}

/// A URL as the target of `<url|label>`: `|` and `>` would end it early.
fn link_target(url: &str) -> String {
    url.replace('|', "%7C")
        .replace('>', "%3E")
        .replace('<', "%3C")
        .replace(' ', "%20")
}

#[cfg(test)]
mod tests;
