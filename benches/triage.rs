//! Triage speed: one post through the built-in default and through the learned model, and
//! training on a synthetic set the size of the complaints dataset (3,449 rows).
//!
//! Run with `cargo bench --bench triage`. The model here is trained on synthetic posts (no
//! research data is needed to measure speed: cost depends on text length, not on weights).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

use mentiondesk::domain::{Author, Mention, MentionKind, Network};
use mentiondesk::pipeline::triage::{example, Example, LearnedModel, TrainOptions};
use mentiondesk::pipeline::{TriageRules, Triager};

const POSTS: &[&str] = &[
    "@AcmeSupport my hub's been offline since yesterday, light just blinks orange. been on hold 40 min. pls call me back, I can't sit on the phone all day",
    "how do I export my energy history from the Acme app? want a CSV to put in my spreadsheet but I can't find an export option anywhere",
    "shoutout to @acme, the new motion sensor took literally 2 minutes to set up and the hallway light now just works",
    "Smart-home maker Acme to expand hardware line into EU markets next year, CEO says in interview",
];

fn mention(text: &str) -> Mention {
    Mention {
        network: Network::X,
        source: "bench".into(),
        id: "1".into(),
        url: "https://x.com/a/status/1".into(),
        author: Author {
            id: "1".into(),
            handle: "someone".into(),
            display_name: None,
            followers: None,
        },
        text: text.into(),
        created_at: chrono::Utc::now(),
        in_reply_to: None,
        root: None,
        kind: MentionKind::Mention,
        lang: None,
        from_brand: false,
        raw: None,
    }
}

/// 3,449 synthetic labelled posts, built from the four above with a varying suffix.
fn synthetic_examples() -> Vec<Example> {
    (0..3449)
        .map(|n| {
            let text = format!("{} #{n} order {}", POSTS[n % 4], n * 7919 % 10007);
            example(&text, n % 4 == 0 || n % 7 == 0)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mentions: Vec<Mention> = POSTS.iter().map(|text| mention(text)).collect();
    let default = Triager::new(TriageRules::default());
    let model = LearnedModel::train(&synthetic_examples(), &TrainOptions::default());
    let learned = Triager::new(TriageRules::default()).with_model(model);
    c.bench_function("triage/default (4 posts)", |b| {
        b.iter(|| {
            for mention in &mentions {
                black_box(default.triage(black_box(mention)));
            }
        })
    });
    c.bench_function("triage/learned (4 posts)", |b| {
        b.iter(|| {
            for mention in &mentions {
                black_box(learned.triage(black_box(mention)));
            }
        })
    });
    let texts: Vec<(String, bool)> = (0..3449)
        .map(|n| (format!("{} #{n}", POSTS[n % 4]), n % 4 == 0))
        .collect();
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    group.bench_function("3449 posts (features + 12 epochs)", |b| {
        b.iter(|| {
            let examples: Vec<Example> = texts
                .iter()
                .map(|(text, complaint)| example(text, *complaint))
                .collect();
            black_box(LearnedModel::train(&examples, &TrainOptions::default()))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
