//! Where sled 0.34's space amplification comes from, for the store's layout (issue 9).
//!
//! A model of what the store writes per opened case, with the compressed record sizes measured
//! at 1M cases (`BENCHMARKS.md`): three trees written in key order (`cases` 276 B, the
//! `cases_by_opened` summary 74 B, the opening event 73 B) and two at random key positions
//! (`posts`, keyed by the network's post id, 46 B; `authors`, keyed by customer, 8 B). Values
//! are random bytes (compressed data does not compress again). Each run writes `CASES` cases in
//! transactions of `PER_TRANSACTION`, flushed after each as the pipeline does, then prints the
//! bytes of records against the size of sled's files.
//!
//! ```sh
//! cargo run --release --example sled_layout                      # all five trees
//! cargo run --release --example sled_layout -- --skip posts,authors
//! cargo run --release --example sled_layout -- --posts-in-order   # posts keyed in time order
//! ```
//!
//! Options: `--cases N` (100,000), `--per-transaction N` (100), `--skip TREE,...`,
//! `--posts-in-order`, `--size TREE=BYTES,...` (another value size), `--every TREE=N,...` (one
//! record per N cases, e.g. frames packing N cases: `--every cases=64 --size cases=15000`).

use sled::Transactional;

const TREES: [(&str, usize); 5] = [
    ("cases", 276),
    ("cases_by_opened", 74),
    ("events", 73),
    ("posts", 46),
    ("authors", 8),
];

/// xorshift64: reproducible filler and key bytes without another dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, count: usize) -> Vec<u8> {
        (0..count).map(|_| self.next() as u8).collect()
    }
}

struct Options {
    cases: u64,
    per_transaction: u64,
    skip: Vec<String>,
    posts_in_order: bool,
    /// (tree, bytes): a value size other than the measured one.
    sizes: Vec<(String, usize)>,
    /// (tree, n): the tree gets one record per `n` cases (e.g. frames packing `n` cases).
    every: Vec<(String, u64)>,
    /// Cases per `authors` bucket (0: no buckets): the customer index keyed by period first.
    authors_bucket: u64,
    /// `authors` as the customer index: one key per case, this many random bytes then the case.
    customer_key_bytes: Option<usize>,
}

fn options() -> Options {
    let mut options = Options {
        cases: 100_000,
        per_transaction: 100,
        skip: Vec::new(),
        posts_in_order: false,
        sizes: Vec::new(),
        every: Vec::new(),
        authors_bucket: 0,
        customer_key_bytes: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--cases" => options.cases = value().parse().unwrap_or(options.cases),
            "--per-transaction" => {
                options.per_transaction = value().parse().unwrap_or(options.per_transaction)
            }
            "--skip" => options.skip = value().split(',').map(str::to_string).collect(),
            "--posts-in-order" => options.posts_in_order = true,
            "--size" => options.sizes.extend(pairs(&value())),
            "--every" => options.every.extend(pairs(&value())),
            "--authors-bucket" => options.authors_bucket = value().parse().unwrap_or(0),
            "--customer-key-bytes" => options.customer_key_bytes = value().parse().ok(),
            _ => {}
        }
    }
    options.per_transaction = options.per_transaction.max(1);
    options
}

/// `TREE=N,...` as pairs (entries that do not parse are left out).
fn pairs<T: std::str::FromStr>(text: &str) -> Vec<(String, T)> {
    text.split(',')
        .filter_map(|pair| {
            let (tree, number) = pair.split_once('=')?;
            Some((tree.to_string(), number.parse().ok()?))
        })
        .collect()
}

/// The key of tree `tree` for case `case`.
fn key(tree: &str, case: u64, random: &mut Random, options: &Options) -> Vec<u8> {
    let posts_in_order = options.posts_in_order;
    let mut key = Vec::new();
    match tree {
        "cases" => key.extend(case.to_be_bytes()),
        "cases_by_opened" => {
            key.extend((case * 31).to_be_bytes());
            key.extend(case.to_be_bytes());
        }
        "events" => {
            key.extend(case.to_be_bytes());
            key.extend(0u32.to_be_bytes());
        }
        "posts" if posts_in_order => {
            key.extend(b"bluesky\0");
            key.extend(case.to_be_bytes());
            key.extend(random.bytes(20));
        }
        "posts" => {
            key.extend(b"bluesky\0at://did:plc:");
            key.extend(random.bytes(20));
        }
        _ if options.customer_key_bytes.is_some() => {
            key.extend(random.bytes(options.customer_key_bytes.unwrap_or(0)));
            key.extend(case.to_be_bytes());
        }
        _ => {
            if let Some(bucket) = case.checked_div(options.authors_bucket) {
                key.extend(bucket.to_be_bytes());
            }
            key.extend(b"bluesky\0did:plc:");
            key.extend((random.next() % 150_000).to_be_bytes());
        }
    }
    key
}

fn size_of_dir(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(metadata) if metadata.is_dir() => size_of_dir(&entry.path()),
            Ok(metadata) => metadata.len(),
            Err(_) => 0,
        })
        .sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options();
    let dir = tempfile::tempdir()?;
    let db = sled::Config::new().path(dir.path().join("db")).open()?;
    let trees: Vec<(&str, usize, sled::Tree)> = TREES
        .iter()
        .filter(|(name, _)| !options.skip.iter().any(|skip| skip == name))
        .map(|&(name, size)| {
            let size = options
                .sizes
                .iter()
                .find(|(tree, _)| tree == name)
                .map_or(size, |&(_, size)| size);
            Ok((name, size, db.open_tree(name)?))
        })
        .collect::<Result<_, sled::Error>>()?;
    let handles: Vec<sled::Tree> = trees.iter().map(|(_, _, tree)| tree.clone()).collect();
    let mut random = Random(0x5eed);
    let mut written = 0;
    while written < options.cases {
        let end = (written + options.per_transaction).min(options.cases);
        let mut records: Vec<(usize, Vec<u8>, Vec<u8>)> = Vec::new();
        for case in written..end {
            for (index, (name, size, _)) in trees.iter().enumerate() {
                let every = options
                    .every
                    .iter()
                    .find(|(tree, _)| tree == name)
                    .map_or(1, |&(_, every)| every.max(1));
                if case % every != every - 1 {
                    continue;
                }
                let key = key(name, case, &mut random, &options);
                records.push((index, key, random.bytes(*size)));
            }
        }
        handles
            .as_slice()
            .transaction(|transaction| {
                for (index, key, value) in &records {
                    transaction[*index].insert(key.as_slice(), value.as_slice())?;
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|error| format!("the transaction failed: {error:?}"))?;
        db.flush()?;
        written = end;
    }
    let mut live = 0u64;
    for tree in &handles {
        for item in tree.iter() {
            let (key, value) = item?;
            live += (key.len() + value.len()) as u64;
        }
    }
    drop(handles);
    drop(trees);
    drop(db);
    let disk = size_of_dir(dir.path());
    let names: Vec<&str> = TREES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !options.skip.iter().any(|skip| skip == name))
        .collect();
    println!(
        "{} cases, {} per transaction, trees {names:?}{}: records {:.1} MB, files {:.1} MB ({:.2}x)",
        options.cases,
        options.per_transaction,
        if options.posts_in_order {
            ", posts in time order"
        } else {
            ""
        },
        live as f64 / 1e6,
        disk as f64 / 1e6,
        disk as f64 / live.max(1) as f64
    );
    Ok(())
}
