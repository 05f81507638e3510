//! The values of the big trees (`cases`, `posts`, `events`, the summaries in
//! `cases_by_opened`) are their JSON compressed as one zstd frame each, with a dictionary
//! trained on synthetic records and shipped in the binary (`assets/store-dictionary-1.zdict`,
//! made by `cargo run --release --example store_dictionary`). Short JSON records share most of
//! their bytes (field names, URL shapes, timestamps) with each other, not within themselves: a
//! dictionary lets each small value be compressed on its own (sled reads and writes whole
//! values) and still find those shared bytes.
//!
//! The compression contexts are made once per thread and reused (making a zstd context per
//! value is what made sled's own page compression 20× slower), and the dictionary is prepared
//! once per process.
//!
//! A value is told apart by its first bytes: a zstd frame starts with the magic number
//! `28 B5 2F FD`, JSON with `{`, `[`, `"`, a digit or a letter. So values written before this
//! encoding (plain JSON) are read as they are, and a store needs no migration: a record is
//! compressed the next time it is written. Each frame names its dictionary by id
//! ([`DICTIONARY_ID`]); a later dictionary gets a new id and this module keeps reading the old
//! one's frames.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::LazyLock;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

/// The dictionary new values are compressed with.
const DICTIONARY: &[u8] = include_bytes!("../../assets/store-dictionary-1.zdict");

/// The id of [`DICTIONARY`], as every frame made with it names it.
pub const DICTIONARY_ID: u32 = 32_769;

/// zstd's level: low, for a write cost of a few microseconds per record.
const LEVEL: i32 = 3;

/// The first bytes of a zstd frame.
const FRAME_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// No stored value is near this; a frame that claims more is corrupt.
const MAX_VALUE_SIZE: u64 = 64 << 20;

static ENCODER: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(DICTIONARY, LEVEL));

static DECODER: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(DICTIONARY));

thread_local! {
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Whether new values are compressed (always, but for [`set_enabled`]).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Writes new values as plain JSON (`false`, as before this encoding) or compressed again, in
/// this process: for benches that compare both in one run. Reads take either.
#[doc(hidden)]
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether `bytes` is a compressed value (rather than plain JSON).
pub fn is_compressed(bytes: &[u8]) -> bool {
    bytes.starts_with(&FRAME_MAGIC)
}

/// Compresses a value's JSON.
pub fn compress(json: &[u8]) -> Result<Vec<u8>, String> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match slot.as_mut() {
            Some(compressor) => compressor,
            None => slot.insert(
                Compressor::with_prepared_dictionary(&ENCODER)
                    .map_err(|error| format!("zstd: {error}"))?,
            ),
        };
        compressor
            .compress(json)
            .map_err(|error| format!("zstd: {error}"))
    })
}

/// A value's JSON: the bytes themselves when they are not compressed.
pub fn decompress(bytes: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    if !is_compressed(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    match zstd::zstd_safe::get_dict_id_from_frame(bytes) {
        Some(id) if id.get() == DICTIONARY_ID => {}
        Some(id) => {
            return Err(format!(
                "a zstd frame made with dictionary {id}, which this mentiondesk does not have (written by a newer version?)"
            ))
        }
        None => return Err("a zstd frame without a dictionary id".to_string()),
    }
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(size)) if size <= MAX_VALUE_SIZE => size as usize,
        Ok(Some(size)) => return Err(format!("a zstd frame claims {size} bytes")),
        Ok(None) | Err(_) => return Err("a zstd frame without a readable content size".into()),
    };
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decompressor = match slot.as_mut() {
            Some(decompressor) => decompressor,
            None => slot.insert(
                Decompressor::with_prepared_dictionary(&DECODER)
                    .map_err(|error| format!("zstd: {error}"))?,
            ),
        };
        let mut json = Vec::with_capacity(size);
        decompressor
            .decompress_to_buffer(bytes, &mut json)
            .map_err(|error| format!("zstd: {error}"))?;
        Ok(Cow::Owned(json))
    })
}
