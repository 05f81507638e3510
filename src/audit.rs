//! Reading the audit log: `mentiondesk audit --since 7d` and `GET /audit?since=7d`.
//!
//! The log itself is written by the store (tree `audit`) in the transaction of each event it
//! records (see `domain::audit`). sled locks the store while the bot runs, so the command reads
//! the store directly when it can and otherwise asks the running bot over `[http].listen`,
//! whose `/audit` answers only requests from the machine itself (loopback).

use std::net::SocketAddr;

use chrono::{DateTime, Utc};

use crate::domain::text::truncate_chars;
use crate::domain::AuditRecord;

/// Reads `--since`: a duration back from `now` (`7d`, `12h`, `30m`), an RFC 3339 time, or a
/// date (`2026-11-01`, midnight UTC).
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let duration = humantime::parse_duration(text).map_err(|_| {
        format!("invalid --since \"{text}\": write a duration like 7d or 12h, or a date like 2026-11-01")
    })?;
    let back =
        chrono::Duration::from_std(duration).map_err(|_| "--since is too long".to_string())?;
    Ok(now
        .checked_sub_signed(back)
        .unwrap_or(DateTime::<Utc>::MIN_UTC))
}

/// The records as an aligned table, one line each, newest last.
pub fn table(records: &[AuditRecord]) -> String {
    let header = [
        "time (UTC)",
        "action",
        "case",
        "by",
        "where",
        "customer post",
        "our post / link",
        "target",
        "text",
    ];
    let rows: Vec<[String; 9]> = records
        .iter()
        .map(|record| {
            let text = match (&record.text, &record.error) {
                (Some(text), Some(error)) => format!("{text} (error: {error})"),
                (Some(text), None) => text.clone(),
                (None, Some(error)) => format!("error: {error}"),
                (None, None) => String::new(),
            };
            [
                record.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                record.action.as_str().to_string(),
                record.case.to_string(),
                match (&record.by, &record.approved_by) {
                    (Some(by), Some(approver)) => format!(
                        "{} ({}), approved by {} ({})",
                        by.name, by.id, approver.name, approver.id
                    ),
                    (Some(by), None) => format!("{} ({})", by.name, by.id),
                    (None, _) => "-".to_string(),
                },
                format!(
                    "{} via {} to @{}",
                    record.network.label(),
                    record.source,
                    record.customer
                ),
                record.customer_post.clone(),
                match (&record.post_id, &record.url) {
                    (Some(id), Some(url)) => format!("{id} {url}"),
                    (Some(id), None) => id.clone(),
                    (None, Some(url)) => url.clone(),
                    (None, None) => "-".to_string(),
                },
                record.target.clone().unwrap_or_else(|| "-".to_string()),
                truncate_chars(&text.replace('\n', " "), 80),
            ]
        })
        .collect();
    let mut widths = header.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(&header.map(str::to_string));
    out.push('\n');
    for row in &rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no public replies or escalations in this period)\n");
    }
    out
}

/// `http://host:port` of a running mentiondesk's `[http].listen`. A bot listening on every
/// interface is still reached on loopback, which `/audit` and `/report` want.
pub fn loopback_base(listen: SocketAddr) -> String {
    let host = match listen.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", listen.port())
}

/// Asks a running mentiondesk on `listen` (`[http].listen`) for its audit records.
pub async fn fetch_remote(listen: SocketAddr, since: &str) -> anyhow::Result<Vec<AuditRecord>> {
    let url = format!("{}/audit", loopback_base(listen));
    let response = reqwest::Client::new()
        .get(&url)
        .query(&[("since", since)])
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!("cannot reach the running mentiondesk at {url}: {error}")
        })?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        anyhow::bail!("the running mentiondesk answered {status} at {url}: {body}");
    }
    Ok(response.json().await?)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::{Agent, AuditAction, CaseId, Network};

    #[test]
    fn since_takes_durations_times_and_dates() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let table = [
            ("7d", Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).unwrap()),
            ("12h", Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()),
            (
                "2026-11-01",
                Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            ),
            (
                "2026-11-20T08:30:00+01:00",
                Utc.with_ymd_and_hms(2026, 11, 20, 7, 30, 0).unwrap(),
            ),
        ];
        for (text, expected) in table {
            assert_eq!(parse_since(text, now), Ok(expected), "{text}");
        }
        assert!(parse_since("last week", now).unwrap_err().contains("7d"));
    }

    #[test]
    fn the_table_says_who_posted_what_where() {
        let record = AuditRecord {
            at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 5, 0).unwrap(),
            action: AuditAction::ReplySent,
            case: CaseId(3),
            by: Some(Agent::new("slack:U0ANA", "Ana")),
            network: Network::Bluesky,
            source: "bsky".to_string(),
            customer: "jo.bsky.social".to_string(),
            customer_post: "at://did:plc:jo/app.bsky.feed.post/p1".to_string(),
            post_id: Some("at://did:plc:acme/app.bsky.feed.post/r1".to_string()),
            url: Some("https://bsky.app/profile/acme/post/r1".to_string()),
            text: Some("@jo sorry!".to_string()),
            target: None,
            error: None,
            approved_by: None,
        };
        let out = table(&[record]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("time (UTC)") && lines[0].contains("  action  "),
            "{out}"
        );
        for expected in [
            "2026-11-22 09:05:00",
            "reply_sent",
            "#3",
            "Ana (slack:U0ANA)",
            "Bluesky via bsky to @jo.bsky.social",
            "at://did:plc:jo/app.bsky.feed.post/p1",
            "https://bsky.app/profile/acme/post/r1",
            "@jo sorry!",
        ] {
            assert!(lines[1].contains(expected), "{expected:?} in {out}");
        }
        assert!(table(&[]).contains("no public replies or escalations"));
    }
}
