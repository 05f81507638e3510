//! Card → Discord embed and buttons, thread notes, and the Reply and Escalate modals.
//!
//! Pure functions of their inputs, table-tested below. Text from a post, a person or config is
//! escaped for Discord markdown (so a hostile post cannot format the card, fake a link or ping
//! anyone: embeds never ping, and notes are sent with no allowed mentions), and every field is
//! cut to Discord's limits (`specs/platform-limits.json`): a long post is truncated with a link,
//! and the embed's total stays within 6000 characters.

use serenity::all::{
    ButtonStyle as DiscordButtonStyle, CommandOptionType, CreateActionRow, CreateButton,
    CreateCommand, CreateCommandOption, CreateEmbed, CreateEmbedFooter, CreateInputText,
    CreateInteractionResponseMessage, CreateModal, CreateSelectMenu, CreateSelectMenuKind,
    CreateSelectMenuOption, InputTextStyle,
};

use crate::chat::commands::{short_duration, CaseLine, CommandAnswer, EXCERPT_CHARS, USAGE};
use crate::domain::{
    ActionKind, ButtonStyle, Card, CardKind, CaseState, MessageRef, Network, NoteMention,
    SkippedPost, ThreadNote,
};

/// Embed title, in characters.
pub const TITLE_MAX: usize = 256;
/// Embed description, in characters.
pub const DESCRIPTION_MAX: usize = 4096;
/// Embed field name, in characters.
pub const FIELD_NAME_MAX: usize = 256;
/// Embed field value, in characters.
pub const FIELD_VALUE_MAX: usize = 1024;
/// Embed footer text, in characters.
pub const FOOTER_MAX: usize = 2048;
/// Title + description + field names and values + footer of all embeds of a message.
pub const EMBED_TOTAL_MAX: usize = 6000;
/// A message's `content`, in characters.
pub const CONTENT_MAX: usize = 2000;
/// Button label, in characters.
pub const BUTTON_LABEL_MAX: usize = 80;
/// Buttons in one action row.
pub const ROW_BUTTONS_MAX: usize = 5;
/// Component and modal `custom_id`, in characters.
pub const CUSTOM_ID_MAX: usize = 100;
/// Modal title, in characters.
pub const MODAL_TITLE_MAX: usize = 45;
/// Text input label, in characters.
pub const INPUT_LABEL_MAX: usize = 45;
/// Text input placeholder, in characters.
pub const PLACEHOLDER_MAX: usize = 100;
/// Text input value and `max_length` ceiling.
pub const INPUT_VALUE_MAX: usize = 4000;
/// An embed URL, in characters.
pub const URL_MAX: usize = 2048;

/// The Reply modal's `custom_id` prefix (followed by the button payload).
pub const REPLY_MODAL: &str = "mdreply:";
/// The Escalate modal's `custom_id` prefix (followed by the button payload).
pub const ESCALATE_MODAL: &str = "mdesc:";
/// The Reject draft modal's `custom_id` prefix (followed by the button payload).
pub const REJECT_MODAL: &str = "mdreject:";

/// Which of our forms a modal submit's `custom_id` names, and the rest of it (the payload);
/// `None` for a form that is not ours.
pub fn split_modal_id(custom_id: &str) -> Option<(&'static str, &str)> {
    [REPLY_MODAL, ESCALATE_MODAL, REJECT_MODAL]
        .into_iter()
        .find_map(|form| custom_id.strip_prefix(form).map(|rest| (form, rest)))
}
/// The rejection reason input.
pub const REASON_INPUT: &str = "reason";
/// The reply text input.
pub const TEXT_INPUT: &str = "text";
/// The "post anyway" input of the Reply modal.
pub const CONFIRM_INPUT: &str = "confirm";
/// The escalation target input.
pub const TARGET_INPUT: &str = "target";
/// The escalation note input.
pub const NOTE_INPUT: &str = "note";
/// What to type in the confirm input to post a reply with personal data.
pub const CONFIRM_WORD: &str = "yes";
/// The saved-reply picker's `custom_id` prefix (followed by the Reply button's payload).
pub const SAVED_PICKER: &str = "mdsaved:";
/// The picker option that opens the Reply modal as without saved replies.
pub const OWN_TEXT: &str = "own";
/// The prefix of a saved reply's option value (followed by its name).
pub const SAVED_VALUE: &str = "saved:";
/// Options in a string select.
pub const SELECT_OPTIONS_MAX: usize = 25;
/// A select option's label and value, in characters.
pub const OPTION_MAX: usize = 100;

/// Colours by state: red for new, amber for claimed, blue for replied, orange when the customer
/// answered, green when resolved, grey when dismissed.
pub fn state_colour(state: CaseState) -> u32 {
    match state {
        CaseState::New => 0xE7_4C_3C,
        CaseState::Claimed => 0xF1_C4_0F,
        CaseState::Replied => 0x34_98_DB,
        CaseState::CustomerReplied => 0xE6_7E_22,
        CaseState::Resolved => 0x2E_CC_71,
        CaseState::Dismissed => 0x95_A5_A6,
    }
}

/// A card as a Discord message.
#[derive(Debug, Clone)]
pub struct CardMessage {
    /// The message text: the role mention on an escalation card, else empty.
    pub content: String,
    /// The role to allow pinging (the mention's id), if any.
    pub ping_role: Option<u64>,
    /// The embed.
    pub embed: CreateEmbed,
    /// The action rows.
    pub components: Vec<CreateActionRow>,
}

/// Renders a card. `footer` names the card for recovery after a crash (its idempotency key);
/// `mention` is the target's role on an escalation card.
pub fn card_message(card: &Card, footer: &str, mention: Option<&str>) -> CardMessage {
    let mut title = fit(&card.title, TITLE_MAX);
    let footer = fit(&format!("mentiondesk · {footer}"), FOOTER_MAX);
    let mut fields: Vec<(String, String, bool)> = Vec::new();
    if let CardKind::Escalation { target, by, note } = &card.kind {
        let mut value = format!("to **{}** by {}", escape(target), escape(by));
        if !note.trim().is_empty() {
            value.push_str(&format!("\n{}", escape(note)));
        }
        fields.push(("Escalated".into(), value, false));
    }
    if let Some(count) = card.similar_posts {
        fields.push((
            "Incident".into(),
            format!("**{count}** similar posts · members in the thread"),
            false,
        ));
    }
    fields.push(("Network".into(), card.network.label().to_string(), true));
    fields.push(("Author".into(), author(card), true));
    fields.push((
        "Triage".into(),
        format!(
            "**{}** · score {:.2} · {}",
            escape(card.triage.label.as_str()),
            card.triage.score,
            escape(&card.triage.reason)
        ),
        false,
    ));
    let mut state = String::new();
    if card.overdue {
        state.push_str("🚨 ");
    }
    state.push_str(&escape(&card.state_line));
    state.push_str(&format!(" · opened <t:{}:R>", card.opened_at.timestamp()));
    fields.push(("Owner and state".into(), state, false));
    if card.overdue {
        let which = if card.first_response_due.is_none() && card.next_response_due.is_some() {
            "next response"
        } else {
            "first response"
        };
        fields.push(("SLA".into(), format!("{which} overdue"), true));
    } else if let Some(due) = card.first_response_due {
        fields.push((
            "SLA".into(),
            format!("first response due <t:{}:R>", due.timestamp()),
            true,
        ));
    } else if let Some(due) = card.next_response_due {
        fields.push((
            "SLA".into(),
            format!("next response due <t:{}:R>", due.timestamp()),
            true,
        ));
    }
    if let Some(context) = &card.context {
        fields.push(("Customer".into(), escape(context), false));
    }
    if let Some(repeat) = &card.repeat {
        // A message link needs the server id, which the bot does not keep: the last case is
        // named, not linked.
        fields.push((
            "Repeat".into(),
            format!(
                "🔁 {} · last case {}",
                escape(&repeat.text),
                repeat.last_case
            ),
            false,
        ));
    }
    if let Some(reach) = &card.reach {
        fields.push(("Reach".into(), escape(reach), true));
    }
    let mut fields: Vec<(String, String, bool)> = fields
        .into_iter()
        .map(|(name, value, inline)| {
            (
                fit(&name, FIELD_NAME_MAX),
                fit(&value, FIELD_VALUE_MAX),
                inline,
            )
        })
        .collect();
    let size = |title: &str, fields: &[(String, String, bool)]| {
        title.chars().count()
            + footer.chars().count()
            + fields
                .iter()
                .map(|(name, value, _)| name.chars().count() + value.chars().count())
                .sum::<usize>()
    };
    // Keep room for the post: halve the longest field until everything else fits in 5000.
    while size(&title, &fields) > EMBED_TOTAL_MAX - 1000 {
        let Some(longest) = fields
            .iter_mut()
            .max_by_key(|(_, value, _)| value.chars().count())
        else {
            break;
        };
        let half = longest.1.chars().count() / 2;
        if half < 20 {
            title = fit(&title, 40);
            break;
        }
        longest.1 = fit(&longest.1, half);
    }
    let room = EMBED_TOTAL_MAX
        .saturating_sub(size(&title, &fields))
        .min(DESCRIPTION_MAX);
    let description = post_text(card, room);

    let mut embed = CreateEmbed::new()
        .title(title)
        .description(description)
        .colour(state_colour(card.state))
        .footer(CreateEmbedFooter::new(footer));
    if let Some(url) = safe_url(&card.post_url).filter(|url| url.len() <= URL_MAX) {
        embed = embed.url(url);
    }
    for (name, value, inline) in fields {
        embed = embed.field(name, value, inline);
    }
    let ping_role = mention.and_then(role_id);
    CardMessage {
        content: ping_role.map(|id| format!("<@&{id}>")).unwrap_or_default(),
        ping_role,
        embed,
        components: action_rows(card),
    }
}

/// The card's buttons: Claim/Unclaim, Reply publicly, Escalate on the first row; Resolve,
/// Not a complaint, Reopen on the second. `custom_id` is the button's payload.
pub fn action_rows(card: &Card) -> Vec<CreateActionRow> {
    let mut first = Vec::new();
    let mut second = Vec::new();
    for button in &card.buttons {
        if button.payload.is_empty() || button.payload.chars().count() > CUSTOM_ID_MAX {
            // A payload is `verb:case:version`, far below 100; never send a broken one.
            continue;
        }
        let style = match button.style {
            ButtonStyle::Primary => DiscordButtonStyle::Primary,
            ButtonStyle::Default => DiscordButtonStyle::Secondary,
            ButtonStyle::Danger => DiscordButtonStyle::Danger,
        };
        let element = CreateButton::new(button.payload.clone())
            .label(fit(&button.label, BUTTON_LABEL_MAX))
            .style(style);
        match button.kind {
            ActionKind::Resolve | ActionKind::Dismiss | ActionKind::Reopen => second.push(element),
            _ => first.push(element),
        }
    }
    [first, second]
        .into_iter()
        .filter(|row| !row.is_empty())
        .map(|mut row| {
            row.truncate(ROW_BUTTONS_MAX);
            CreateActionRow::Buttons(row)
        })
        .collect()
}

/// The weekly digest as message content: the title in bold, then the figures, within
/// Discord's content limit (the chart goes as an attachment). Not escaped: the digest is
/// made of our own words, numbers and config names, never of a customer's text.
pub fn digest_text(title: &str, text: &str) -> String {
    fit(&format!("**{title}**\n{text}"), CONTENT_MAX)
}

/// A thread note as message content: who (when the note doesn't already say), what, the link.
pub fn note_text(note: &ThreadNote) -> String {
    let mut text = String::new();
    match &note.mention {
        Some(NoteMention::Channel) => text.push_str("@here "),
        Some(mention @ NoteMention::Agent { name, .. }) => match note_user(mention) {
            Some(id) => text.push_str(&format!("<@{id}> ")),
            None => text.push_str(&format!("@{} ", escape(name))),
        },
        None => {}
    }
    if let Some(by) = note.by.as_deref().filter(|by| !note.text.contains(*by)) {
        text.push_str(&format!("**{}**: ", escape(by)));
    }
    text.push_str(&escape(&note.text));
    let link = note
        .link
        .as_deref()
        .and_then(safe_url)
        .map(|url| format!(" <{}>", url.replace('>', "%3E").replace(' ', "%20")));
    let room = CONTENT_MAX.saturating_sub(link.as_deref().map_or(0, |l| l.chars().count()));
    let mut text = fit(&text, room);
    if let Some(link) = link {
        text.push_str(&link);
    }
    text
}

/// The Discord user a note mentions, if it mentions one of this chat's users.
pub fn note_user(mention: &NoteMention) -> Option<u64> {
    mention
        .id_in("discord")
        .and_then(|id| id.parse::<u64>().ok())
        .filter(|id| *id > 0)
}

/// The name of a card's thread.
pub fn thread_name(case: u64) -> String {
    format!("Case {case}")
}

/// Where a reply modal starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyForm {
    /// The payload the Reply button carried (`reply:case:version`).
    pub payload: String,
    /// The customer's handle (without `@`).
    pub handle: String,
    /// The network.
    pub network: Network,
    /// Its reply length limit.
    pub limit: usize,
    /// The starting text: a kept draft, or `@handle `.
    pub initial: String,
}

/// The Reply modal: one paragraph input as long as the network allows, and a short
/// "post anyway" input for replies with personal data.
pub fn reply_modal(form: &ReplyForm) -> CreateModal {
    let max = form.limit.clamp(1, INPUT_VALUE_MAX);
    let text = CreateInputText::new(
        InputTextStyle::Paragraph,
        fit(
            &format!("Reply on {} (up to {max})", form.network.label()),
            INPUT_LABEL_MAX,
        ),
        TEXT_INPUT,
    )
    .max_length(max as u16)
    .value(cut(&form.initial, max))
    .required(true);
    let confirm = CreateInputText::new(
        InputTextStyle::Short,
        fit("Personal data: type yes to post anyway", INPUT_LABEL_MAX),
        CONFIRM_INPUT,
    )
    .placeholder("leave empty unless warned")
    .max_length(10)
    .required(false);
    CreateModal::new(
        cut(&format!("{REPLY_MODAL}{}", form.payload), CUSTOM_ID_MAX),
        fit(
            &format!("Reply publicly to @{}", form.handle),
            MODAL_TITLE_MAX,
        ),
    )
    .components(vec![
        CreateActionRow::InputText(text),
        CreateActionRow::InputText(confirm),
    ])
}

/// The private message a Reply click answers with when there are saved replies: a string
/// select of them (Discord modals hold only text inputs) plus "Write my own". Choosing one
/// opens the Reply modal with the text filled in.
pub fn saved_reply_picker(payload: &str, names: &[String]) -> CreateInteractionResponseMessage {
    let mut options = vec![CreateSelectMenuOption::new("Write my own", OWN_TEXT)];
    options.extend(names.iter().take(SELECT_OPTIONS_MAX - 1).map(|name| {
        CreateSelectMenuOption::new(
            fit(name, OPTION_MAX),
            cut(&format!("{SAVED_VALUE}{name}"), OPTION_MAX),
        )
    }));
    let menu = CreateSelectMenu::new(
        cut(&format!("{SAVED_PICKER}{payload}"), CUSTOM_ID_MAX),
        CreateSelectMenuKind::String { options },
    )
    .placeholder("Start from a saved reply")
    .min_values(1)
    .max_values(1);
    CreateInteractionResponseMessage::new()
        .content("Start from a saved reply, or write your own:")
        .components(vec![CreateActionRow::SelectMenu(menu)])
        .ephemeral(true)
}

/// The Reject draft modal (approval mode): an optional reason for the draft's author.
pub fn reject_modal(payload: &str) -> CreateModal {
    let reason = CreateInputText::new(
        InputTextStyle::Paragraph,
        "Reason for the author (optional)",
        REASON_INPUT,
    )
    .max_length(1000)
    .required(false);
    CreateModal::new(
        cut(&format!("{REJECT_MODAL}{payload}"), CUSTOM_ID_MAX),
        "Reject draft",
    )
    .components(vec![CreateActionRow::InputText(reason)])
}

/// The Escalate modal. Serenity 0.12.5 only puts text inputs in modals, so the target is a
/// short input whose placeholder lists the ids; the engine refuses an unknown id.
pub fn escalate_modal(payload: &str, targets: &[(String, String)]) -> CreateModal {
    let ids: Vec<String> = targets
        .iter()
        .map(|(id, label)| format!("{id} = {label}"))
        .collect();
    let mut target = CreateInputText::new(
        InputTextStyle::Short,
        "Escalate to (type a team id)",
        TARGET_INPUT,
    )
    .placeholder(fit(&ids.join(", "), PLACEHOLDER_MAX))
    .max_length(100)
    .required(true);
    if let [(only, _)] = targets {
        target = target.value(only.clone());
    }
    let note = CreateInputText::new(
        InputTextStyle::Paragraph,
        "Internal note (not public)",
        NOTE_INPUT,
    )
    .max_length(INPUT_VALUE_MAX as u16)
    .required(false);
    CreateModal::new(
        cut(&format!("{ESCALATE_MODAL}{payload}"), CUSTOM_ID_MAX),
        "Escalate",
    )
    .components(vec![
        CreateActionRow::InputText(target),
        CreateActionRow::InputText(note),
    ])
}

/// The role id in a configured mention (`123…` or `<@&123…>`); anything else (a Slack group
/// id) has no meaning in Discord and is skipped.
pub fn role_id(mention: &str) -> Option<u64> {
    let mention = mention.trim();
    let id = mention
        .strip_prefix("<@&")
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or(mention);
    id.parse().ok().filter(|id| *id > 0)
}

/// The application command's name: `/mentiondesk queue | mine | stats`.
pub const COMMAND_NAME: &str = "mentiondesk";

/// The guild command registered at start (one command, a subcommand per answer).
pub fn command() -> CreateCommand {
    let sub = |name: &str, description: &str| {
        CreateCommandOption::new(CommandOptionType::SubCommand, name, description)
    };
    CreateCommand::new(COMMAND_NAME)
        .description("mentiondesk: the queue, your cases, today's numbers, skipped posts (only you see them)")
        .add_option(sub(
            "queue",
            "Open cases nobody owns, the longest waiting first",
        ))
        .add_option(sub("mine", "Your open cases, oldest first"))
        .add_option(sub(
            "stats",
            "Today's cases by state and the median first response",
        ))
        .add_option(sub(
            "skipped",
            "Recent posts triage did not card, to mark as complaints",
        ))
}

/// A command's answer as an embed's title and description (within the embed limits).
/// `link` gives a case card's URL in this chat, when it has one.
pub fn command_answer(
    answer: &CommandAnswer,
    link: &dyn Fn(&MessageRef) -> Option<String>,
) -> (String, String) {
    let (title, body) = match answer {
        CommandAnswer::Queue { cases, more } => (
            format!("Queue: {} open, unclaimed", cases.len() + more),
            case_lines(
                cases,
                *more,
                link,
                "Nothing waiting: every open case has an owner.",
            ),
        ),
        CommandAnswer::Mine { cases, more } => (
            format!("Your open cases: {}", cases.len() + more),
            case_lines(cases, *more, link, "You own no open cases."),
        ),
        CommandAnswer::Stats(stats) => {
            let states: Vec<String> = stats
                .by_state
                .iter()
                .map(|(state, count)| format!("{} {count}", state.label()))
                .collect();
            let median = stats
                .median_first_response
                .map(|median| format!(", median {}", short_duration(median)))
                .unwrap_or_default();
            (
                format!("Today ({} UTC)", stats.day),
                format!(
                    "Opened today: **{}** ({})\nOpen now: **{}**, {} unclaimed\nFirst public replies today: **{}**{median}",
                    stats.opened,
                    states.join(" · "),
                    stats.open,
                    stats.unclaimed,
                    stats.first_responses,
                ),
            )
        }
        CommandAnswer::Skipped { posts } => (
            format!("Skipped: {} recent posts without a card", posts.len()),
            skipped_lines(posts),
        ),
        CommandAnswer::Help { unknown } => {
            let start = unknown
                .as_ref()
                .map(|word| format!("Unknown command \"{}\". ", escape(word)))
                .unwrap_or_default();
            (
                "mentiondesk commands".to_string(),
                format!("{start}/{COMMAND_NAME} {}", escape(USAGE)),
            )
        }
    };
    (fit(&title, TITLE_MAX), fit(&body, DESCRIPTION_MAX))
}

/// The buttons of a command's answer: "Mark N as complaint" for each skipped post still
/// waiting (N its place in the list), five to a row; none for the other commands.
pub fn command_components(answer: &CommandAnswer) -> Vec<CreateActionRow> {
    let CommandAnswer::Skipped { posts } = answer else {
        return Vec::new();
    };
    let buttons: Vec<CreateButton> = posts
        .iter()
        .enumerate()
        .filter_map(|(index, post)| {
            let button = post.button()?;
            (button.payload.chars().count() <= CUSTOM_ID_MAX).then(|| {
                CreateButton::new(button.payload)
                    .label(fit(
                        &format!("Mark {} as complaint", index + 1),
                        BUTTON_LABEL_MAX,
                    ))
                    .style(DiscordButtonStyle::Secondary)
            })
        })
        .collect();
    buttons
        .chunks(ROW_BUTTONS_MAX)
        .take(5)
        .map(|row| CreateActionRow::Buttons(row.to_vec()))
        .collect()
}

fn skipped_lines(posts: &[SkippedPost]) -> String {
    if posts.is_empty() {
        return "No skipped posts: every post triage stored became a card.".to_string();
    }
    posts
        .iter()
        .enumerate()
        .map(|(index, post)| {
            let mut text = format!(
                "**{}.** {} · @{} · **{}** {:.2} · {}",
                index + 1,
                post.network.label(),
                escape(&post.handle),
                post.triage.label.as_str(),
                post.triage.score,
                escape(&post.triage.reason),
            );
            if post.url.starts_with("https://") || post.url.starts_with("http://") {
                text.push_str(&format!(" · [post]({})", post.url.replace(')', "%29")));
            }
            if let Some(status) = post.status() {
                text.push_str(&format!(" · now {status}"));
            }
            let excerpt: String = post.text.split_whitespace().collect::<Vec<_>>().join(" ");
            text.push_str(&format!("\n> {}", escape(&fit(&excerpt, EXCERPT_CHARS))));
            text
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn case_lines(
    cases: &[CaseLine],
    more: usize,
    link: &dyn Fn(&MessageRef) -> Option<String>,
    empty: &str,
) -> String {
    if cases.is_empty() {
        return empty.to_string();
    }
    let mut lines: Vec<String> = cases
        .iter()
        .map(|line| {
            let mut text = format!(
                "**Case {}** · {} · @{} · {} · waiting {}",
                line.case.0,
                line.network.label(),
                escape(&line.handle),
                line.owner
                    .as_ref()
                    .map(|owner| format!("{} by {}", line.state.label(), escape(owner)))
                    .unwrap_or_else(|| line.state.label().to_string()),
                short_duration(line.waiting),
            );
            if let Some(url) = line.card.as_ref().and_then(link) {
                text.push_str(&format!(" · [card]({url})"));
            }
            text.push_str(&format!("\n> {}", escape(&line.excerpt)));
            text
        })
        .collect();
    if more > 0 {
        lines.push(format!("… and {more} more"));
    }
    lines.join("\n")
}

/// Escapes Discord markdown and mention syntax with backslashes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '[' | ']' | '#' | '@' | ':'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn author(card: &Card) -> String {
    match card.author_name.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(name) => format!("{} @{}", escape(name), escape(&card.author_handle)),
        None => format!("@{}", escape(&card.author_handle)),
    }
}

fn post_text(card: &Card, room: usize) -> String {
    let text = escape(&card.text);
    let link = safe_url(&card.post_url).map(|url| format!("\n[Read the full post]({url})"));
    if text.is_empty() {
        return "*(no text)*".to_string();
    }
    if !card.text_truncated && text.chars().count() <= room {
        return text;
    }
    let suffix = link.unwrap_or_default();
    let mut cut_text = cut(&text, room.saturating_sub(suffix.chars().count() + 1));
    // Never end on a lone escaping backslash.
    if cut_text.ends_with('\\') && !cut_text.ends_with("\\\\") {
        cut_text.pop();
    }
    format!("{cut_text}…{suffix}")
}

/// Cuts `text` to `max` characters, with an ellipsis when cut.
pub fn fit(text: &str, max: usize) -> String {
    let text = if text.trim().is_empty() { "-" } else { text };
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    if cut.ends_with('\\') && !cut.ends_with("\\\\") {
        cut.pop();
    }
    cut.push('…');
    cut
}

/// Cuts `text` to `max` characters, no ellipsis.
fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn safe_url(url: &str) -> Option<&str> {
    let trimmed = url.trim();
    let lower = trimmed.to_ascii_lowercase();
    ((lower.starts_with("https://") || lower.starts_with("http://")) && !trimmed.contains(' '))
        .then_some(trimmed)
}

#[cfg(test)]
mod tests;
