//! The store's value encoding, per record: JSON (`serde_json`) then the dictionary
//! compression of `store::compress`, and back; next to plain JSON, the encoding before it.
//!
//! Run with `cargo bench --bench codec`. The records are those the scale bench writes
//! (`benches/synthetic/`): an opened and resolved case (~1.5 KB of JSON), its opening
//! event, its post record and its report summary.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};

use mentiondesk::domain::{CaseId, CaseSummary};
use mentiondesk::store::compress;

mod synthetic;

fn bench<T: serde::Serialize + serde::de::DeserializeOwned>(
    c: &mut Criterion,
    name: &str,
    value: &T,
) {
    let json = serde_json::to_vec(value).unwrap();
    let packed = compress::compress(&json).unwrap();
    println!(
        "{name}: JSON {} B, compressed {} B ({:.2}x)",
        json.len(),
        packed.len(),
        json.len() as f64 / packed.len() as f64
    );
    let mut group = c.benchmark_group(format!("codec/{name}"));
    group.bench_function("encode JSON", |b| {
        b.iter(|| serde_json::to_vec(black_box(value)).unwrap())
    });
    group.bench_function("encode JSON + compress", |b| {
        b.iter(|| compress::compress(&serde_json::to_vec(black_box(value)).unwrap()).unwrap())
    });
    group.bench_function("decode JSON", |b| {
        b.iter(|| serde_json::from_slice::<T>(black_box(&json)).unwrap())
    });
    group.bench_function("decompress + decode JSON", |b| {
        b.iter(|| {
            let json = compress::decompress(black_box(&packed)).unwrap();
            serde_json::from_slice::<T>(&json).unwrap()
        })
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    let words = synthetic::words();
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let (case, events, _, post) = synthetic::opened_case(CaseId(123_457), 123_456, 0, at, &words);
    bench(c, "case", &case);
    bench(c, "event", &events[0]);
    bench(c, "post", &post);
    bench(c, "summary", &CaseSummary::of(&case, &events));

    // The hand-written demo mentions (examples/mentions.jsonl) as cases: do the sizes hold
    // for texts and ids that the generator did not make?
    let demo = synthetic::demo_cases(&words);
    let (mut json_bytes, mut packed_bytes) = (0, 0);
    for (case, _, _) in &demo {
        let json = serde_json::to_vec(case).unwrap();
        packed_bytes += compress::compress(&json).unwrap().len();
        json_bytes += json.len();
    }
    println!(
        "{} cases of the demo mentions: JSON {} B, compressed {} B on average ({:.2}x)",
        demo.len(),
        json_bytes / demo.len().max(1),
        packed_bytes / demo.len().max(1),
        json_bytes as f64 / packed_bytes.max(1) as f64
    );

    // Other zstd levels with the same dictionary (the store uses 3), on the case's JSON.
    let dictionary = include_bytes!("../assets/store-dictionary-1.zdict");
    let json = serde_json::to_vec(&case).unwrap();
    let mut group = c.benchmark_group("codec/case compress at level");
    for level in [-3, 1, 3] {
        let prepared = zstd::dict::EncoderDictionary::copy(dictionary, level);
        let mut compressor = zstd::bulk::Compressor::with_prepared_dictionary(&prepared).unwrap();
        println!(
            "case at level {level}: {} B",
            compressor.compress(&json).unwrap().len()
        );
        group.bench_function(level.to_string(), |b| {
            b.iter(|| compressor.compress(black_box(&json)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
