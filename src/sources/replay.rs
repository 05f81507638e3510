//! The replay source: mentions from a JSONL file, public replies appended to another.
//!
//! For demos, tests and trying mentiondesk without accounts. Each line of the input is a
//! `Mention` (DESIGN §3 fields) with an optional `after_ms`: wait that long after the previous
//! line before delivering this one. Lines appended to the file later are picked up (like
//! `tail -f`), so a test or a demo can feed mentions live. The cursor is a byte offset.
//!
//! Replies go to the "sent" file, one JSON object per line, keyed by reply id: a reply id that
//! is already in the file is not written again, so a retry after a crash posts nothing twice.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::{Fetched, ReplyReceipt, ReplyRequest, SourceClient, SourceError};
use crate::domain::{Mention, Network};

/// One line of the input file.
#[derive(Debug, Deserialize)]
struct ReplayLine {
    #[serde(flatten)]
    mention: Mention,
    #[serde(default)]
    after_ms: u64,
}

/// One line of the sent file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentLine {
    /// The reply action's id.
    pub reply_id: String,
    /// The source that posted it.
    pub source: String,
    /// The network it would be posted on.
    pub network: Network,
    /// The customer's post it answers.
    pub in_reply_to: String,
    /// The conversation's first post.
    pub root: String,
    /// The text.
    pub text: String,
    /// The id our post got.
    pub post_id: String,
    /// When it was written.
    pub at: DateTime<Utc>,
}

/// Settings of one replay source.
#[derive(Debug, Clone)]
pub struct ReplaySettings {
    /// The source's name.
    pub name: String,
    /// The JSONL file of mentions.
    pub path: PathBuf,
    /// Where replies are appended.
    pub sent_path: PathBuf,
    /// Honour `after_ms`.
    pub pace: bool,
    /// How often to look for appended lines at the end of the file.
    pub poll_interval: Duration,
}

/// The replay source.
#[derive(Debug)]
pub struct ReplaySource {
    settings: ReplaySettings,
    /// Replies already in the sent file, by reply id; loaded on the first reply.
    sent: Mutex<Option<HashMap<String, ReplyReceipt>>>,
}

impl ReplaySource {
    /// A replay source with these settings.
    pub fn new(settings: ReplaySettings) -> ReplaySource {
        ReplaySource {
            settings,
            sent: Mutex::new(None),
        }
    }

    async fn load_sent(&self) -> Result<HashMap<String, ReplyReceipt>, SourceError> {
        let text = match tokio::fs::read_to_string(&self.settings.sent_path).await {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(self.sent_error(&error)),
        };
        let mut sent = HashMap::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            match serde_json::from_str::<SentLine>(line) {
                Ok(line) => {
                    sent.insert(
                        line.reply_id,
                        ReplyReceipt {
                            post_id: line.post_id,
                            url: None,
                        },
                    );
                }
                Err(error) => {
                    tracing::warn!(path = %self.settings.sent_path.display(), error = %error, "Skipping a malformed line of the sent file");
                }
            }
        }
        Ok(sent)
    }

    fn sent_error(&self, error: &std::io::Error) -> SourceError {
        SourceError::Rejected(format!(
            "cannot write the replay sent file {}: {error}",
            self.settings.sent_path.display()
        ))
    }
}

#[async_trait]
impl SourceClient for ReplaySource {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn poll_interval(&self) -> Duration {
        self.settings.poll_interval
    }

    async fn verify(&self) -> Result<String, SourceError> {
        // A feed that does not exist yet is fine: lines are picked up once it appears.
        let path = self.settings.path.display();
        Ok(match tokio::fs::metadata(&self.settings.path).await {
            Ok(_) => format!("reads {path}"),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                format!("will read {path} once it exists")
            }
            Err(error) => format!("cannot read {path} yet ({error}); it is retried while running"),
        })
    }

    async fn fetch(&self, cursor: Option<&str>) -> Result<Fetched, SourceError> {
        let start: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let bytes = tokio::fs::read(&self.settings.path)
            .await
            .map_err(|error| {
                SourceError::Transient(format!(
                    "cannot read {}: {error}",
                    self.settings.path.display()
                ))
            })?;
        let start = start.min(bytes.len());
        let mut offset = start;
        let mut mentions = Vec::new();
        let mut wait = None;
        // Only whole lines: a line still being written has no newline yet.
        while let Some(newline) = bytes[offset..].iter().position(|&b| b == b'\n') {
            let line = &bytes[offset..offset + newline];
            let line_start = offset;
            let text = String::from_utf8_lossy(line);
            if text.trim().is_empty() {
                offset += newline + 1;
                continue;
            }
            match serde_json::from_str::<ReplayLine>(&text) {
                Ok(parsed) => {
                    let paced = self.settings.pace && parsed.after_ms > 0;
                    if paced && line_start != start {
                        // Deliver what we have; this line comes after its pause.
                        wait = Some(Duration::from_millis(parsed.after_ms));
                        break;
                    }
                    let mut mention = parsed.mention;
                    mention.source = self.settings.name.clone();
                    mentions.push(mention);
                }
                Err(error) => {
                    tracing::warn!(
                        source = %self.settings.name,
                        offset = line_start,
                        error = %error,
                        "Skipping a malformed replay line"
                    );
                }
            }
            offset += newline + 1;
        }
        Ok(Fetched {
            mentions,
            cursor: Some(offset.to_string()),
            wait,
        })
    }

    async fn reply(&self, request: &ReplyRequest) -> Result<ReplyReceipt, SourceError> {
        let mut sent = self.sent.lock().await;
        if sent.is_none() {
            *sent = Some(self.load_sent().await?);
        }
        let known = sent.as_mut().expect("loaded just above");
        if let Some(receipt) = known.get(&request.reply_id) {
            return Ok(receipt.clone());
        }
        let line = SentLine {
            reply_id: request.reply_id.clone(),
            source: self.settings.name.clone(),
            network: request.in_reply_to.network,
            in_reply_to: request.in_reply_to.id.clone(),
            root: request.root.id.clone(),
            text: request.text.clone(),
            post_id: format!("replay-{}", request.reply_id),
            at: Utc::now(),
        };
        let mut json = serde_json::to_vec(&line)
            .map_err(|error| SourceError::Rejected(format!("cannot encode the reply: {error}")))?;
        json.push(b'\n');
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.settings.sent_path)
            .await
            .map_err(|error| self.sent_error(&error))?;
        file.write_all(&json)
            .await
            .map_err(|error| self.sent_error(&error))?;
        file.sync_all()
            .await
            .map_err(|error| self.sent_error(&error))?;
        let receipt = ReplyReceipt {
            post_id: line.post_id,
            url: None,
        };
        known.insert(request.reply_id.clone(), receipt.clone());
        Ok(receipt)
    }
}
