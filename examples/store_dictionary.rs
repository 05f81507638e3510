//! Trains the zstd dictionary the store compresses its big trees with
//! (`assets/store-dictionary-1.zdict`, see `store::compress`), from **synthetic** records only
//! (`benches/synthetic/`, the generator the scale bench writes with, on another salt: other
//! customers, other texts). Never train it on real or research data: it ships in the binary.
//!
//! ```sh
//! cargo run --release --example store_dictionary                 # writes the dictionary
//! cargo run --release --example store_dictionary -- --check      # only measures it
//! ```
//!
//! Reproducible: the generator is seeded, zstd's trainer is deterministic, and the
//! dictionary's id is then set to `DICTIONARY_ID` (zstd's private range starts at 32,768;
//! a frame names its dictionary by this id, so a future dictionary gets the next one and both
//! can be read). It prints, for records of another salt and for cases opened by the
//! hand-written demo mentions in `examples/mentions.jsonl`, the JSON and compressed sizes.

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};

use mentiondesk::domain::{CaseId, CaseSummary};
use mentiondesk::store::StoredPost;

#[path = "../benches/synthetic/mod.rs"]
mod synthetic;

const DICTIONARY_PATH: &str = "assets/store-dictionary-1.zdict";
const DICTIONARY_ID: u32 = 32_769;
const DICTIONARY_SIZE: usize = 64 * 1024;
const TRAINING_CASES: u64 = 12_000;
const LEVEL: i32 = 3;

/// The JSON values one case puts in each compressed tree.
fn records(case_number: u64, salt: u64, words: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let opened_at = start + Duration::seconds((case_number * 7_919 % 31_536_000) as i64);
    let (case, events, _, post) =
        synthetic::opened_case(CaseId(case_number + 1), case_number, salt, opened_at, words);
    let mut out = vec![
        ("cases", serde_json::to_vec(&case).unwrap()),
        ("posts", serde_json::to_vec(&post).unwrap()),
        (
            "cases_by_opened",
            serde_json::to_vec(&CaseSummary::of(&case, &events)).unwrap(),
        ),
    ];
    for event in &events {
        out.push(("events", serde_json::to_vec(event).unwrap()));
    }
    // Follow-ups and posts that opened no case keep their mention in the post record.
    if case_number % 4 == 0 {
        let follow_up = synthetic::mention(case_number + 7, salt, opened_at, words);
        out.push((
            "posts",
            serde_json::to_vec(&StoredPost {
                mention: Some(follow_up),
                ..post
            })
            .unwrap(),
        ));
    }
    out
}

fn demo_records(words: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for (case, events, post) in synthetic::demo_cases(words) {
        out.push(("cases", serde_json::to_vec(&case).unwrap()));
        out.push(("posts", serde_json::to_vec(&post).unwrap()));
        out.push((
            "cases_by_opened",
            serde_json::to_vec(&CaseSummary::of(&case, &events)).unwrap(),
        ));
        for event in &events {
            out.push(("events", serde_json::to_vec(event).unwrap()));
        }
    }
    out
}

fn measure(title: &str, dictionary: &[u8], records: &[(&'static str, Vec<u8>)]) {
    println!("{title}: {} records", records.len());
    for level in [1, LEVEL] {
        let prepared = zstd::dict::EncoderDictionary::copy(dictionary, level);
        let mut compressor = zstd::bulk::Compressor::with_prepared_dictionary(&prepared).unwrap();
        let mut decompressor = zstd::bulk::Decompressor::with_dictionary(dictionary).unwrap();
        for tree in ["cases", "posts", "events", "cases_by_opened"] {
            let values: Vec<&Vec<u8>> = records
                .iter()
                .filter(|(name, _)| *name == tree)
                .map(|(_, value)| value)
                .collect();
            if values.is_empty() {
                continue;
            }
            let json: usize = values.iter().map(|value| value.len()).sum();
            let start = Instant::now();
            let frames: Vec<Vec<u8>> = values
                .iter()
                .map(|value| compressor.compress(value).unwrap())
                .collect();
            let compress = start.elapsed().as_secs_f64() / values.len() as f64;
            let start = Instant::now();
            for (frame, value) in frames.iter().zip(&values) {
                let back = decompressor.decompress(frame, value.len()).unwrap();
                assert_eq!(&back, *value);
            }
            let decompress = start.elapsed().as_secs_f64() / values.len() as f64;
            let packed: usize = frames.iter().map(Vec::len).sum();
            println!(
                "  level {level} {tree:>15}: JSON {:>5.0} B -> {:>4.0} B ({:.2}x), compress {:.2} µs, decompress {:.2} µs",
                json as f64 / values.len() as f64,
                packed as f64 / values.len() as f64,
                json as f64 / packed as f64,
                compress * 1e6,
                decompress * 1e6,
            );
        }
    }
}

fn main() {
    let check = std::env::args().any(|arg| arg == "--check");
    let words = synthetic::words();
    let dictionary = if check {
        std::fs::read(DICTIONARY_PATH).expect("the dictionary exists (run without --check)")
    } else {
        let samples: Vec<Vec<u8>> = (0..TRAINING_CASES)
            .flat_map(|n| records(n, 1, &words))
            .map(|(_, value)| value)
            .collect();
        let start = Instant::now();
        let mut dictionary =
            zstd::dict::from_samples(&samples, DICTIONARY_SIZE).expect("the dictionary trains");
        // Bytes 4..8 of a zstd dictionary are its id (little-endian).
        dictionary[4..8].copy_from_slice(&DICTIONARY_ID.to_le_bytes());
        println!(
            "trained on {} samples ({:.1} MB) in {:.1} s: {} B",
            samples.len(),
            samples.iter().map(Vec::len).sum::<usize>() as f64 / 1e6,
            start.elapsed().as_secs_f64(),
            dictionary.len()
        );
        std::fs::write(DICTIONARY_PATH, &dictionary).expect("the dictionary is written");
        println!("wrote {DICTIONARY_PATH}");
        dictionary
    };
    let held_out: Vec<_> = (0..4_000).flat_map(|n| records(n, 2, &words)).collect();
    measure(
        "synthetic records (salt 2, not trained on)",
        &dictionary,
        &held_out,
    );
    measure(
        "cases of the demo mentions (examples/mentions.jsonl)",
        &dictionary,
        &demo_records(&words),
    );
}
