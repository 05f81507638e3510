//! Crash-test failpoints: named places where the process can be made to stop dead.
//!
//! When the environment variable `MENTIONDESK_FAILPOINT` names a point, the task reaching it
//! logs `Failpoint reached` (with the name) to stderr and then never continues, so a test can
//! SIGKILL the process at exactly that moment. Unset (always, in production) it costs one
//! string comparison.

use std::sync::LazyLock;

static ARMED: LazyLock<Option<String>> =
    LazyLock::new(|| std::env::var("MENTIONDESK_FAILPOINT").ok());

/// Stops the calling task forever if `name` is the armed failpoint.
pub async fn hit(name: &str) {
    if ARMED.as_deref() == Some(name) {
        eprintln!("Failpoint reached: {name}");
        tracing::warn!(failpoint = name, "Failpoint reached");
        std::future::pending::<()>().await;
    }
}
