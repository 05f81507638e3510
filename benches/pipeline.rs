//! Ingest throughput: replay JSONL lines parsed by the replay source, then `Pipeline::ingest`
//! (dedupe, follow-ups, triage, cases opened with their events and outbox entries, one
//! transaction and one flush) on a temp store, for rounds of 1, 10, 100 and 500 mentions.
//!
//! Run with `cargo bench --bench pipeline`. Criterion reports mentions/s ("elem/s").
//!
//! Every measured round holds new posts (unique ids), so nothing is dropped as a duplicate,
//! except in `pipeline/duplicates`, which re-ingests a round already stored (dedupe only).
//! Writing the JSONL file for a round is not timed; reading and parsing it is.
//!
//! `pipeline/run` is the path a running bot takes: `SOURCES` poll loops, each sending a batch
//! of `size` mentions to `Pipeline::run` over its channel and waiting for the batch to be
//! durably stored before sending the next (one batch in flight per source, as in
//! `sources::poll`). It shows what the round batching across sources buys when the poll
//! batches are small (every round still ends in one flush).

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::sync::{mpsc, oneshot};

use mentiondesk::domain::{Author, Mention, MentionKind, Network};
use mentiondesk::outbox::Outbox;
use mentiondesk::pipeline::{Pipeline, TriageRules, Triager};
use mentiondesk::sources::replay::{ReplaySettings, ReplaySource};
use mentiondesk::sources::{SourceBatch, SourceClient};
use mentiondesk::store::Store;

/// Four demo-feed-like posts: a complaint, a question, praise and news.
const POSTS: &[&str] = &[
    "@AcmeSupport my hub's been offline since yesterday, light just blinks orange. been on hold 40 min. pls call me back, I can't sit on the phone all day",
    "how do I export my energy history from the Acme app? want a CSV to put in my spreadsheet but I can't find an export option anywhere",
    "shoutout to @acme, the new motion sensor took literally 2 minutes to set up and the hallway light now just works",
    "Smart-home maker Acme to expand hardware line into EU markets next year, CEO says in interview",
];

const SIZES: &[usize] = &[1, 10, 100, 500];

/// Mention number `n`: one in ten is a follow-up replying to the mention ten before it.
fn mention(n: u64) -> Mention {
    let in_reply_to = (n % 10 == 9).then(|| format!("{}", n - 9));
    Mention {
        network: Network::X,
        source: "bench".into(),
        id: n.to_string(),
        url: format!("https://x.com/user{}/status/{n}", n % 997),
        author: Author {
            id: format!("{}", n % 997),
            handle: format!("user{}", n % 997),
            display_name: Some(format!("User {}", n % 997)),
            followers: Some(n % 5000),
        },
        text: format!("{} #{n}", POSTS[(n % 4) as usize]),
        created_at: chrono::Utc::now(),
        root: in_reply_to.clone(),
        in_reply_to,
        kind: MentionKind::Mention,
        lang: Some("en".into()),
        from_brand: false,
        raw: None,
    }
}

/// The replay file's text for mentions `first..first + count`.
fn jsonl(first: u64, count: usize) -> String {
    let mut text = String::new();
    for n in first..first + count as u64 {
        text.push_str(&serde_json::to_string(&mention(n)).expect("a mention serializes"));
        text.push('\n');
    }
    text
}

fn replay(path: &Path) -> ReplaySource {
    ReplaySource::new(ReplaySettings {
        name: "bench".into(),
        path: path.to_path_buf(),
        sent_path: path.with_extension("sent"),
        pace: false,
        poll_interval: Duration::from_secs(1),
    })
}

fn pipeline(store: &Store) -> Pipeline {
    let outbox = Outbox::new(&["console".to_string()], &["bench".to_string()]);
    Pipeline::new(
        store.clone(),
        Triager::new(TriageRules::default()),
        &["AcmeSupport".to_string()],
        outbox,
    )
}

/// Parses the replay file and ingests what it holds, as the poll loop and pipeline do.
async fn round(source: &ReplaySource, pipeline: &Pipeline) -> usize {
    let fetched = source.fetch(None).await.expect("the replay file reads");
    let count = fetched.mentions.len();
    let (stored, _answer) = oneshot::channel();
    let batch = SourceBatch {
        source: "bench".into(),
        mentions: fetched.mentions,
        cursor: fetched.cursor,
        stored,
    };
    pipeline
        .ingest(std::slice::from_ref(&batch))
        .await
        .expect("the round is stored");
    count
}

/// Rounds of `sizes` new mentions each, on a fresh store per size, as the group `name`.
fn ingest_group(c: &mut Criterion, runtime: &tokio::runtime::Runtime, name: &str, sizes: &[usize]) {
    let mut group = c.benchmark_group(name);
    for &size in sizes {
        let directory = tempfile::tempdir().expect("a temp dir");
        let store = Store::open(&directory.path().join("store")).expect("the store opens");
        let pipeline = pipeline(&store);
        let feed = directory.path().join("feed.jsonl");
        let source = replay(&feed);
        let mut next = 1_u64;
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    std::fs::write(&feed, jsonl(next, size)).expect("the feed is written");
                    next += size as u64;
                    let start = Instant::now();
                    let count = runtime.block_on(round(&source, &pipeline));
                    total += start.elapsed();
                    assert_eq!(count, size);
                }
                total
            });
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    ingest_group(c, &runtime, "pipeline/ingest", SIZES);
    // The same rounds with the store's values written as plain JSON (no compression), in the
    // same process and minute: the cost of `store::compress` under the same load.
    mentiondesk::store::compress::set_enabled(false);
    ingest_group(c, &runtime, "pipeline/ingest-plain-json", &[100, 500]);
    mentiondesk::store::compress::set_enabled(true);

    let mut group = c.benchmark_group("pipeline/duplicates");
    let size = 100;
    let directory = tempfile::tempdir().expect("a temp dir");
    let store = Store::open(&directory.path().join("store")).expect("the store opens");
    let pipeline = pipeline(&store);
    let feed = directory.path().join("feed.jsonl");
    std::fs::write(&feed, jsonl(1, size)).expect("the feed is written");
    let source = replay(&feed);
    runtime.block_on(round(&source, &pipeline));
    group.throughput(Throughput::Elements(size as u64));
    group.bench_function(BenchmarkId::from_parameter(size), |b| {
        b.iter(|| runtime.block_on(round(&source, &pipeline)));
    });
    group.finish();
}

/// Sources polling at once in `pipeline/run`.
const SOURCES: u64 = 3;

/// Pushes `batches` batches of `size` mentions from each of `SOURCES` sources through
/// `Pipeline::run`; returns how many mentions went through.
async fn run_sources(pipeline: Pipeline, first: u64, size: usize, batches: usize) -> usize {
    let (sender, receiver) = mpsc::channel(64);
    let running = tokio::spawn(pipeline.run(receiver));
    let mut sources = Vec::new();
    for source in 0..SOURCES {
        let sender = sender.clone();
        sources.push(tokio::spawn(async move {
            for batch in 0..batches {
                let start = first + (source * batches as u64 + batch as u64) * size as u64;
                let (stored, answer) = oneshot::channel();
                let batch = SourceBatch {
                    source: format!("bench{source}"),
                    mentions: (start..start + size as u64).map(mention).collect(),
                    cursor: Some(start.to_string()),
                    stored,
                };
                sender.send(batch).await.expect("the pipeline runs");
                answer
                    .await
                    .expect("the pipeline answers")
                    .expect("the batch is stored");
            }
        }));
    }
    drop(sender);
    for source in sources {
        source.await.expect("a source finishes");
    }
    running.await.expect("the pipeline stops");
    SOURCES as usize * batches * size
}

fn bench_run(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("pipeline/run");
    for &(size, batches) in &[(1_usize, 100_usize), (10, 50), (80, 10)] {
        let directory = tempfile::tempdir().expect("a temp dir");
        let store = Store::open(&directory.path().join("store")).expect("the store opens");
        let mut next = 1_u64;
        group.throughput(Throughput::Elements(SOURCES * (size * batches) as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let pipeline = pipeline(&store);
                    let start = Instant::now();
                    let count = runtime.block_on(run_sources(pipeline, next, size, batches));
                    total += start.elapsed();
                    next += count as u64;
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_run);
criterion_main!(benches);
