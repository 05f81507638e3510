//! Scale: a store with 1,000,000 synthetic cases (issue 9's targets: open < 2 s, a 30-day
//! report < 1 s, store < 1 GB).
//!
//! Run with `cargo bench --bench scale` (release profile). Not a criterion bench: each step
//! runs once and prints its time. `MENTIONDESK_SCALE_CASES` changes the count (default
//! 1,000,000); `MENTIONDESK_SCALE_DIR` keeps the store in that directory (default: a temp dir,
//! removed at the end); `MENTIONDESK_SCALE_PLAIN_JSON=1` writes plain JSON values (no
//! `store::compress`), for the size before it. `MENTIONDESK_SCALE_TRANSACTION` changes the
//! cases per transaction (default 10,000) and `MENTIONDESK_SCALE_FLUSH=1` flushes after each,
//! as the pipeline does (its rounds are 1 to 500 mentions): sled's files grow more that way.
//!
//! The store is written through the store API, as the pipeline writes an opened case: the
//! case (with its `cases_by_opened` entry, which the in-memory customer index is built from),
//! its events and the post record, in transactions of 10,000 cases.
//! Cases are spread evenly over the last 365 days; 10 % are still open (with a first-response
//! clock), the rest resolved. Outbox entries are not written: in steady state they are done.
//! The posts, authors and ids are varied (`benches/synthetic/`: 80-280 characters of words
//! from a 3,392-word list, 50,000 distinct customers shaped per network), so a compressed
//! store is not measured on a few repeated templates.
//!
//! Then: the store's open time, `report --since 30d` as the command computes it
//! (`report::from_store`: one range scan of the `cases_by_opened` index, whose values are the
//! ~82,000 window cases' summaries; no case or event reads),
//! the same figures by a full scan of every case (what a
//! report cost before the index), the store counters `/metrics` reads, the scheduler's
//! `load` (which scans every case on start), the resident memory after each step, and the
//! size on disk.

use std::path::Path;
use std::time::Instant;

use chrono::{Duration, Utc};

use mentiondesk::domain::CaseState;
use mentiondesk::outbox::Outbox;
use mentiondesk::scheduler::{Scheduler, SlaPolicy};
use mentiondesk::store::Store;

mod synthetic;

const TRANSACTION: u64 = 10_000;

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .map(|line| line[name.len()..].trim().to_string())
            .unwrap_or_default()
    };
    format!("RSS {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

fn disk_size(path: &Path) -> (u64, u64) {
    let mut apparent = 0;
    let mut allocated = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.is_dir() {
                let (a, b) = disk_size(&entry.path());
                apparent += a;
                allocated += b;
            } else {
                use std::os::unix::fs::MetadataExt;
                apparent += metadata.len();
                allocated += metadata.blocks() * 512;
            }
        }
    }
    (apparent, allocated)
}

fn write(path: &Path, count: u64) {
    let store = Store::open(path).expect("the store opens");
    let words = synthetic::words();
    let now = Utc::now();
    let spread = 365 * 24 * 3600;
    let start = Instant::now();
    let mut written = 0;
    let transaction: u64 = std::env::var("MENTIONDESK_SCALE_TRANSACTION")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|&value| value > 0)
        .unwrap_or(TRANSACTION);
    let flush_each = std::env::var("MENTIONDESK_SCALE_FLUSH").is_ok_and(|value| value == "1");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!("  {transaction} cases per transaction, flushed after each: {flush_each}");
    while written < count {
        let chunk = transaction.min(count - written);
        store
            .transact(|tx| {
                for k in 0..chunk {
                    let n = written + k;
                    let opened_at = now - Duration::seconds((spread * (count - n) / count) as i64);
                    let id = tx.next_case_id()?;
                    let (case, events, mention, post) =
                        synthetic::opened_case(id, n, 0, opened_at, &words);
                    tx.put_case(&case)?;
                    tx.append_events(&events)?;
                    tx.put_post(&mention.post_ref(), &post)?;
                }
                Ok(())
            })
            .expect("the transaction commits");
        if flush_each {
            runtime.block_on(store.flush()).expect("the store flushes");
        }
        written += chunk;
        if written % 100_000 == 0 {
            println!(
                "  written {written} cases, {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
    runtime.block_on(store.flush()).expect("the store flushes");
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "write: {count} cases in {elapsed:.1} s ({:.0} cases/s); {}",
        count as f64 / elapsed,
        rss()
    );
}

fn main() {
    // `cargo bench -- FILTER` passes FILTER to every bench: run only if it names this one.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    if !filters.is_empty()
        && !filters
            .iter()
            .any(|filter| "scale".contains(filter.as_str()))
    {
        return;
    }
    // `MENTIONDESK_SCALE_PLAIN_JSON=1` writes the values as plain JSON, as before the store's
    // compression (`store::compress`): the "before" of the sizes.
    if std::env::var("MENTIONDESK_SCALE_PLAIN_JSON").is_ok_and(|value| value == "1") {
        mentiondesk::store::compress::set_enabled(false);
        println!("values written as plain JSON (no compression)");
    }
    let count: u64 = std::env::var("MENTIONDESK_SCALE_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let temp = tempfile::tempdir().expect("a temp dir");
    let directory = std::env::var("MENTIONDESK_SCALE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| temp.path().to_path_buf());
    let path = directory.join("store");
    println!("scale: {count} cases in {}", path.display());

    // The first open in this process: cold for sled (its cache is empty), though the files
    // may be in the OS page cache.
    let start = Instant::now();
    let store = Store::open(&path).expect("the store opens");
    let opened = start.elapsed().as_secs_f64();
    let store = if store
        .case(mentiondesk::domain::CaseId(count))
        .ok()
        .flatten()
        .is_some()
    {
        println!("write: skipped, the store already holds {count} cases");
        println!("open: {opened:.3} s; {}", rss());
        store
    } else {
        drop(store);
        write(&path, count);
        let start = Instant::now();
        let store = Store::open(&path).expect("the store opens");
        println!(
            "open (same process as the write): {:.3} s; {}",
            start.elapsed().as_secs_f64(),
            rss()
        );
        store
    };
    // The open starts the customer index's build on a thread; the first card waits for it.
    let start = Instant::now();
    let entries = store.customer_index_entries();
    println!(
        "customer index: {entries} entries in memory (~{:.1} MB), ready {:.3} s after the open returned",
        (entries * 16) as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    let (apparent, allocated) = disk_size(&path);
    println!(
        "disk: {:.0} MB apparent, {:.0} MB allocated",
        apparent as f64 / 1e6,
        allocated as f64 / 1e6
    );
    if let Ok(Some(case)) = store.case(mentiondesk::domain::CaseId(count)) {
        let events = store.events(case.id).unwrap_or_default();
        let post = store.post(&case.opening.post_ref()).ok().flatten();
        println!(
            "record sizes (JSON, one case): case {} B, events {} B, post {} B",
            serde_json::to_vec(&case).map(|v| v.len()).unwrap_or(0),
            serde_json::to_vec(&events).map(|v| v.len()).unwrap_or(0),
            serde_json::to_vec(&post).map(|v| v.len()).unwrap_or(0),
        );
    }

    let start = Instant::now();
    let now = Utc::now();
    let report =
        mentiondesk::report::from_store(&store, now - Duration::days(30), now, Duration::hours(1))
            .expect("the report reads");
    println!(
        "report --since 30d (summaries in the index): {:.3} s; {} cases, {} resolved, median first response {}, SLA met {:?}; {}",
        start.elapsed().as_secs_f64(),
        report.cases,
        report.resolved,
        mentiondesk::report::human(report.time_to_first_response.median_secs),
        report.sla.rate,
        rss()
    );
    // The same report as before the summaries: each case of the window read through the
    // index and decoded, with its events (a fair comparison under the same load).
    let start = Instant::now();
    let mut builder = mentiondesk::report::ReportBuilder::new(mentiondesk::report::ReportPeriod {
        from: now - Duration::days(30),
        to: now,
        now,
        first_response: Duration::hours(1),
    });
    for case in store.cases_opened(now - Duration::days(30), now) {
        let case = case.expect("a case decodes");
        let events = store.events(case.id).expect("the events read");
        builder.add(&case, &events);
    }
    let by_cases = builder.finish();
    println!(
        "report --since 30d (index keys, then each case and its events: the previous way): {:.3} s; same figures: {}; {}",
        start.elapsed().as_secs_f64(),
        by_cases == report,
        rss()
    );

    let start = Instant::now();
    let text = mentiondesk::report::table(&report);
    println!(
        "report table: {:.3} ms, {} lines",
        start.elapsed().as_secs_f64() * 1000.0,
        text.lines().count()
    );

    let start = Instant::now();
    let stats = store.stats().expect("the counters read");
    let lanes = store.outbox_depth_by_lane().expect("the outbox reads");
    println!(
        "/metrics store reads (stats + outbox by lane): {:.3} ms; cases by state {:?}, {} lanes",
        start.elapsed().as_secs_f64() * 1000.0,
        stats.cases_by_state,
        lanes.len()
    );

    let start = Instant::now();
    let since = Utc::now() - Duration::days(30);
    let mut total = 0_u64;
    let mut in_range = 0_u64;
    let mut resolved = 0_u64;
    let mut first_response_minutes = 0_i64;
    for case in store.cases() {
        let case = case.expect("a case decodes");
        total += 1;
        if case.opened_at < since {
            continue;
        }
        in_range += 1;
        if case.state == CaseState::Resolved {
            resolved += 1;
        }
        if let Some(at) = case.first_response_at {
            first_response_minutes += (at - case.opened_at).num_minutes();
        }
    }
    println!(
        "report figures by a full scan (no index): {:.3} s; {total} cases scanned, {in_range} in range, {resolved} resolved, mean first response {} min; {}",
        start.elapsed().as_secs_f64(),
        first_response_minutes / in_range.max(1) as i64,
        rss()
    );

    let start = Instant::now();
    let mut scheduler = Scheduler::new(
        store.clone(),
        Outbox::new(&["console".to_string()], &["demo".to_string()]),
        SlaPolicy::new(Duration::hours(1), 0.75),
    );
    let pending = scheduler.load().expect("the scheduler loads");
    println!(
        "scheduler.load: {:.3} s; {pending} deadlines; {}",
        start.elapsed().as_secs_f64(),
        rss()
    );

    // What a card for a returning customer reads (`Store::customer_context`: the customer
    // index, then each earlier case), and a single case read, for 1,000 cases spread evenly.
    let sample: Vec<u64> = (1..=1_000u64).map(|k| k * count / 1_000).collect();
    let mut context_times = Vec::new();
    let mut case_times = Vec::new();
    let mut earlier = 0;
    for &id in &sample {
        let start = Instant::now();
        let case = store
            .case(mentiondesk::domain::CaseId(id))
            .expect("the case reads")
            .expect("the case exists");
        case_times.push(start.elapsed().as_secs_f64() * 1000.0);
        let start = Instant::now();
        let context = store
            .customer_context(&case)
            .expect("the customer context reads");
        context_times.push(start.elapsed().as_secs_f64() * 1000.0);
        earlier += context.earlier.len();
    }
    let percentile = |times: &mut Vec<f64>, p: f64| {
        times.sort_by(f64::total_cmp);
        times[((times.len() - 1) as f64 * p) as usize]
    };
    println!(
        "case by id: p50 {:.3} ms, p99 {:.3} ms; customer context: p50 {:.3} ms, p99 {:.3} ms ({:.1} earlier cases on average); {}",
        percentile(&mut case_times, 0.5),
        percentile(&mut case_times, 0.99),
        percentile(&mut context_times, 0.5),
        percentile(&mut context_times, 0.99),
        earlier as f64 / sample.len() as f64,
        rss()
    );

    // Last: a full scan of every tree (it would warm sled's cache for the timings above).
    let start = Instant::now();
    if let Ok(sizes) = store.tree_sizes() {
        let (mut keys_total, mut values_total) = (0, 0);
        for (name, records, keys, values) in sizes.iter().filter(|size| size.1 > 0) {
            println!(
                "  tree {name}: {records} records, keys {:.1} MB, values {:.1} MB",
                *keys as f64 / 1e6,
                *values as f64 / 1e6
            );
            keys_total += keys;
            values_total += values;
        }
        println!(
            "  all trees: keys {:.1} MB + values {:.1} MB = {:.1} MB of records (counted in {:.1} s)",
            keys_total as f64 / 1e6,
            values_total as f64 / 1e6,
            (keys_total + values_total) as f64 / 1e6,
            start.elapsed().as_secs_f64()
        );
    }
}
