//! Storm collapse cost: a post's MinHash signature, one comparison, and a full decision
//! against a window of 100 live clusters (100 distinct recent complaint cases).
//!
//! Run with `cargo bench --bench storm`. Numbers: `BENCHMARKS.md`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

use mentiondesk::domain::CaseId;
use mentiondesk::pipeline::storm::{Signature, StormRules, StormWindow};

const POSTS: &[&str] = &[
    "@AcmeSupport my hub's been offline since yesterday, light just blinks orange. been on hold 40 min. pls call me back, I can't sit on the phone all day",
    "RT @jo: @acme the app has been down all morning, I can't log in and my orders are stuck. Fix it!",
    "@acme charged twice for March, still no refund",
    "how do I export my energy history from the Acme app? want a CSV to put in my spreadsheet but I can't find an export option anywhere",
];

fn bench(c: &mut Criterion) {
    c.bench_function("storm/signature (4 posts)", |b| {
        b.iter(|| {
            for text in POSTS {
                black_box(Signature::of(black_box(text)));
            }
        })
    });
    let a = Signature::of(POSTS[0]);
    let other = Signature::of(POSTS[1]);
    c.bench_function("storm/similarity (1 pair)", |b| {
        b.iter(|| black_box(black_box(&a).similarity(black_box(&other))))
    });
    let now = chrono::Utc::now();
    let mut window = StormWindow::default();
    for n in 0..100u64 {
        let text = format!(
            "complaint number {n} about topic {} and order {}",
            n * 7,
            n * 13
        );
        window.start(CaseId(n + 1), Signature::of(&text), now);
    }
    let rules = StormRules::default();
    c.bench_function("storm/signature + decision, 100 clusters (1 post)", |b| {
        b.iter(|| {
            let mut window = window.clone();
            let signature = Signature::of(black_box(POSTS[1]));
            black_box(window.observe(&rules, &signature, now).0)
        })
    });
    c.bench_function("storm/window clone, 100 clusters (per round)", |b| {
        b.iter(|| black_box(window.clone()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
