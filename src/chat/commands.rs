//! Chat commands (`/mentiondesk queue | mine | stats`), adapter-neutral: parse the text a
//! person typed, and build the answer from the cases in the store. Each adapter renders the
//! [`CommandAnswer`] in its own format and shows it only to the person who asked.
//!
//! - `queue`: open, unclaimed cases, the longest waiting first, each with where its card is in
//!   the asking chat;
//! - `mine`: the open cases the asking agent owns, oldest first;
//! - `stats`: today's cases (opened since midnight UTC) by state, how many are open and
//!   unclaimed now, and the median time to the first public reply of the cases first answered
//!   today;
//! - `skipped`: the newest posts triage stored without a card (label, score, reason), each
//!   with "Mark as complaint" while it is not part of a case ([`skipped_posts`], which the
//!   console's "Skipped" tab also uses).
//!
//! [`answer`] is pure (it is given the cases and the time); [`answer_from_store`] reads the
//! open cases through the store's index for `queue` and `mine`, every case once (one at a
//! time) for `stats`, and the skipped-post index for `skipped`. Commands never change
//! anything; the buttons of `skipped` go to the actions engine like any card's.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{Case, CaseId, CaseState, MessageRef, Network, SkippedPost};
use crate::store::{Store, StoreError};

/// How many cases a list shows; the rest are counted.
pub const MAX_LISTED: usize = 15;

/// How many skipped posts `skipped` lists in a chat (each with its own button).
pub const SKIPPED_LISTED: usize = 10;

/// How many characters of the customer's post a list line shows.
pub const EXCERPT_CHARS: usize = 80;

/// The one-line usage, for help and unknown commands.
pub const USAGE: &str =
    "queue (open unclaimed cases, oldest first) · mine (your open cases) · stats (today's numbers) · skipped (posts triage did not card)";

/// Every state, in the order stats list them.
pub const STATES: [CaseState; 6] = [
    CaseState::New,
    CaseState::Claimed,
    CaseState::Replied,
    CaseState::CustomerReplied,
    CaseState::Resolved,
    CaseState::Dismissed,
];

/// A command a person typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatCommand {
    /// Open cases nobody owns.
    Queue,
    /// The asker's open cases.
    Mine,
    /// Today's numbers.
    Stats,
    /// The newest posts triage stored without a card.
    Skipped,
    /// What the commands are; `unknown` is the word that was not understood, if any.
    Help {
        /// The word typed, when it was not a command.
        unknown: Option<String>,
    },
}

/// Parses the text after the command name (`queue`, `mine`, `stats`, `help`), ignoring case
/// and surrounding spaces. Empty text is help; anything else is help naming the unknown word.
pub fn parse(text: &str) -> ChatCommand {
    let word = text.split_whitespace().next().unwrap_or_default();
    match word.to_lowercase().as_str() {
        "queue" | "q" => ChatCommand::Queue,
        "mine" | "me" => ChatCommand::Mine,
        "stats" | "stat" => ChatCommand::Stats,
        "skipped" | "skip" => ChatCommand::Skipped,
        "" | "help" | "?" => ChatCommand::Help { unknown: None },
        _ => ChatCommand::Help {
            unknown: Some(word.chars().take(40).collect()),
        },
    }
}

/// Who asks, where, and when.
#[derive(Debug, Clone, Copy)]
pub struct CommandContext<'a> {
    /// The asking chat's name (`slack`, `discord`): card links point into it.
    pub chat: &'a str,
    /// The asker's chat-qualified agent id (`slack:U0123`), for `mine`.
    pub agent_id: &'a str,
    /// Now.
    pub now: DateTime<Utc>,
}

/// One case in a list.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseLine {
    /// The case.
    pub case: CaseId,
    /// Its network.
    pub network: Network,
    /// The customer's handle.
    pub handle: String,
    /// The start of the opening post (at most [`EXCERPT_CHARS`], with `…` when cut).
    pub excerpt: String,
    /// Where it stands.
    pub state: CaseState,
    /// The owner's name.
    pub owner: Option<String>,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// How long it has been open, at the time of asking.
    pub waiting: chrono::Duration,
    /// Its card in the asking chat, if posted there.
    pub card: Option<MessageRef>,
}

/// Today's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// The UTC day they are for.
    pub day: NaiveDate,
    /// Cases opened that day.
    pub opened: usize,
    /// Of those, how many are in each state now (every state, in [`STATES`] order).
    pub by_state: Vec<(CaseState, usize)>,
    /// Cases open now (not resolved or dismissed), whenever opened.
    pub open: usize,
    /// Of those, how many nobody owns.
    pub unclaimed: usize,
    /// Cases whose first public reply was that day.
    pub first_responses: usize,
    /// The median time from opening to that first reply, if there was any.
    pub median_first_response: Option<chrono::Duration>,
}

/// The answer to a command, for the adapter to render privately.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandAnswer {
    /// Open unclaimed cases, the longest waiting first.
    Queue {
        /// At most [`MAX_LISTED`] cases.
        cases: Vec<CaseLine>,
        /// How many more there are.
        more: usize,
    },
    /// The asker's open cases, oldest first.
    Mine {
        /// At most [`MAX_LISTED`] cases.
        cases: Vec<CaseLine>,
        /// How many more there are.
        more: usize,
    },
    /// Today's numbers.
    Stats(Stats),
    /// The newest skipped posts, newest first (at most [`SKIPPED_LISTED`]).
    Skipped {
        /// The posts.
        posts: Vec<SkippedPost>,
    },
    /// Usage.
    Help {
        /// The word that was not understood, if any.
        unknown: Option<String>,
    },
}

/// Answers `command` from every case in the store.
pub fn answer_from_store(
    store: &Store,
    command: &ChatCommand,
    context: CommandContext<'_>,
) -> Result<CommandAnswer, StoreError> {
    if let ChatCommand::Help { unknown } = command {
        return Ok(CommandAnswer::Help {
            unknown: unknown.clone(),
        });
    }
    if let ChatCommand::Skipped = command {
        return Ok(CommandAnswer::Skipped {
            posts: skipped_posts(store, SKIPPED_LISTED)?,
        });
    }
    // The queue and "mine" list open cases only; the stats look at every case, one at a
    // time (a store of a million cases is not held in memory).
    let mut failed = None;
    let cases: Box<dyn Iterator<Item = Result<Case, StoreError>>> = match command {
        ChatCommand::Queue | ChatCommand::Mine => Box::new(store.open_cases()),
        _ => Box::new(store.cases()),
    };
    let cases = cases.map_while(|case| case.map_err(|error| failed = Some(error)).ok());
    let answered = answer(command, cases, context);
    match failed {
        Some(error) => Err(error),
        None => Ok(answered),
    }
}

/// Answers `command` from `cases` (pure).
pub fn answer(
    command: &ChatCommand,
    cases: impl IntoIterator<Item = Case>,
    context: CommandContext<'_>,
) -> CommandAnswer {
    match command {
        ChatCommand::Queue => {
            let (cases, more) = listed(
                cases
                    .into_iter()
                    .filter(|case| !case.state.is_closed() && case.owner.is_none()),
                context,
            );
            CommandAnswer::Queue { cases, more }
        }
        ChatCommand::Mine => {
            let (cases, more) = listed(
                cases.into_iter().filter(|case| {
                    !case.state.is_closed()
                        && case
                            .owner
                            .as_ref()
                            .is_some_and(|owner| owner.id == context.agent_id)
                }),
                context,
            );
            CommandAnswer::Mine { cases, more }
        }
        ChatCommand::Stats => CommandAnswer::Stats(stats(cases, context.now)),
        // Skipped posts are not cases: `answer_from_store` reads them.
        ChatCommand::Skipped => CommandAnswer::Skipped { posts: Vec::new() },
        ChatCommand::Help { unknown } => CommandAnswer::Help {
            unknown: unknown.clone(),
        },
    }
}

/// The newest `limit` posts triage stored without a card, newest first, each with the case
/// it became, if any (entries whose post is gone are left out).
pub fn skipped_posts(store: &Store, limit: usize) -> Result<Vec<SkippedPost>, StoreError> {
    Ok(store
        .recent_skipped(limit)?
        .into_iter()
        .filter_map(|(id, _, post)| {
            let post = post?;
            let mention = post.mention.as_ref()?;
            let triage = post.triage.clone()?;
            Some(SkippedPost::new(
                id,
                mention,
                triage,
                post.stored_at,
                post.case,
            ))
        })
        .collect())
}

/// A duration for a list line or stats: `45s`, `12m`, `3h 05m`, `2d 4h`.
pub fn short_duration(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds().max(0);
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m")
    } else {
        format!("{seconds}s")
    }
}

fn listed(
    cases: impl Iterator<Item = Case>,
    context: CommandContext<'_>,
) -> (Vec<CaseLine>, usize) {
    let mut matching: Vec<Case> = cases.collect();
    matching.sort_by_key(|case| (case.opened_at, case.id));
    let more = matching.len().saturating_sub(MAX_LISTED);
    let lines = matching
        .into_iter()
        .take(MAX_LISTED)
        .map(|case| line(case, context))
        .collect();
    (lines, more)
}

fn line(case: Case, context: CommandContext<'_>) -> CaseLine {
    let text = case
        .opening
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let excerpt = if text.chars().count() > EXCERPT_CHARS {
        let cut: String = text.chars().take(EXCERPT_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        text
    };
    CaseLine {
        case: case.id,
        network: case.network,
        handle: case.customer.handle.clone(),
        excerpt: crate::domain::text::mask_pii(&excerpt),
        state: case.state,
        owner: case.owner.as_ref().map(|owner| owner.name.clone()),
        opened_at: case.opened_at,
        waiting: context.now - case.opened_at,
        card: case.chat_refs.get(context.chat).cloned(),
    }
}

fn stats(cases: impl IntoIterator<Item = Case>, now: DateTime<Utc>) -> Stats {
    let day = now.date_naive();
    let mut by_state: Vec<(CaseState, usize)> = STATES.iter().map(|state| (*state, 0)).collect();
    let (mut opened, mut open, mut unclaimed) = (0, 0, 0);
    let mut first_responses: Vec<chrono::Duration> = Vec::new();
    for case in cases {
        if case.opened_at.date_naive() == day {
            opened += 1;
            if let Some(entry) = by_state.iter_mut().find(|(state, _)| *state == case.state) {
                entry.1 += 1;
            }
        }
        if !case.state.is_closed() {
            open += 1;
            if case.owner.is_none() {
                unclaimed += 1;
            }
        }
        if let Some(first) = case.first_response_at {
            if first.date_naive() == day {
                first_responses.push((first - case.opened_at).max(chrono::Duration::zero()));
            }
        }
    }
    first_responses.sort();
    let median_first_response = match first_responses.len() {
        0 => None,
        count if count % 2 == 1 => Some(first_responses[count / 2]),
        count => Some((first_responses[count / 2 - 1] + first_responses[count / 2]) / 2),
    };
    Stats {
        day,
        opened,
        by_state,
        open,
        unclaimed,
        first_responses: first_responses.len(),
        median_first_response,
    }
}

#[cfg(test)]
mod tests;
