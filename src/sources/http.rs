//! What every HTTP network client shares: one reqwest client per source, and the mapping of
//! responses to `SourceError` (429 and 5xx are retried, honouring the network's rate-limit
//! headers; other 4xx are refusals with the network's own message).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Response, StatusCode};

use super::SourceError;

/// How long one request may take before it counts as a transient failure.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The wait used when a network says 429 without saying how long.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The longest body excerpt quoted in an error.
const ERROR_BODY_MAX: usize = 300;

/// A reqwest client with our user agent and timeout.
pub fn client() -> Result<reqwest::Client, SourceError> {
    client_with_timeout(REQUEST_TIMEOUT)
}

/// A reqwest client with our user agent and another timeout (tests use a short one).
pub fn client_with_timeout(timeout: Duration) -> Result<reqwest::Client, SourceError> {
    reqwest::Client::builder()
        .user_agent(concat!("mentiondesk/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .build()
        .map_err(|error| SourceError::Rejected(format!("cannot build the HTTP client: {error}")))
}

/// A failed request (no response): always worth retrying.
pub fn transport_error(error: reqwest::Error) -> SourceError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    SourceError::Transient(format!("{what}: {error}"))
}

/// Passes a successful response through; turns the others into the right `SourceError`.
pub async fn check(response: Response) -> Result<Response, SourceError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    let excerpt: String = body.chars().take(ERROR_BODY_MAX).collect();
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(SourceError::RateLimited {
            retry_after: rate_limit_wait(&headers, Utc::now()).unwrap_or(DEFAULT_RATE_LIMIT_WAIT),
        });
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return Err(SourceError::Transient(format!("HTTP {status}: {excerpt}")));
    }
    Err(SourceError::Rejected(format!("HTTP {status}: {excerpt}")))
}

/// How long the headers ask us to wait: `Retry-After` (seconds or an HTTP date), X's
/// `x-rate-limit-reset` (Unix seconds), Mastodon's `X-RateLimit-Reset` (ISO 8601), or
/// Bluesky's `ratelimit-reset` (Unix seconds). `None` when none is present.
pub fn rate_limit_wait(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(value) = header(RETRY_AFTER.as_str()) {
        if let Ok(seconds) = value.trim().parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(date) = DateTime::parse_from_rfc2822(value.trim()) {
            return Some(until(date.with_timezone(&Utc), now));
        }
    }
    for name in ["x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset"] {
        let Some(value) = header(name) else {
            continue;
        };
        if let Ok(epoch) = value.trim().parse::<i64>() {
            if let Some(reset) = DateTime::from_timestamp(epoch, 0) {
                return Some(until(reset, now));
            }
        }
        if let Ok(reset) = DateTime::parse_from_rfc3339(value.trim()) {
            return Some(until(reset.with_timezone(&Utc), now));
        }
    }
    None
}

/// When a successful response says the budget is spent (`remaining` is 0), how long to wait
/// before the next request; `None` otherwise.
pub fn exhausted_wait(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let remaining = remaining(headers)?;
    if remaining > 0 {
        return None;
    }
    rate_limit_wait(headers, now)
}

/// The requests left in the rate window, as the answer's `X-RateLimit-Remaining` (or X's
/// `x-rate-limit-remaining`, or the draft standard's `RateLimit-Remaining`) says.
pub fn remaining(headers: &HeaderMap) -> Option<i64> {
    [
        "x-rate-limit-remaining",
        "x-ratelimit-remaining",
        "ratelimit-remaining",
    ]
    .iter()
    .find_map(|name| {
        headers
            .get(*name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<i64>()
            .ok()
    })
}

fn until(reset: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (reset - now).to_std().unwrap_or(Duration::ZERO) + Duration::from_secs(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn waits_are_read_from_every_networks_headers() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let check = |pairs: &[(&'static str, &str)], expected: Option<u64>| {
            assert_eq!(
                rate_limit_wait(&headers(pairs), now),
                expected.map(Duration::from_secs),
                "{pairs:?}"
            );
        };
        check(&[("retry-after", "30")], Some(30));
        check(
            &[("retry-after", "Sun, 22 Nov 2026 10:01:00 GMT")],
            Some(61),
        );
        check(
            &[("x-rate-limit-reset", &(now.timestamp() + 120).to_string())],
            Some(121),
        );
        check(
            &[("x-ratelimit-reset", "2026-11-22T10:05:00.000Z")],
            Some(301),
        );
        check(
            &[("ratelimit-reset", &(now.timestamp() - 5).to_string())],
            Some(1),
        );
        check(&[], None);
        assert_eq!(
            exhausted_wait(
                &headers(&[
                    ("x-rate-limit-remaining", "0"),
                    ("x-rate-limit-reset", &(now.timestamp() + 9).to_string())
                ]),
                now
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            exhausted_wait(&headers(&[("x-rate-limit-remaining", "3")]), now),
            None
        );
    }
}
