//! `serde_decode`: arbitrary bytes into the postcard decoder of `Tree<f32>`,
//! `Tree<f32, 4, 4, 3>` and `Tree<i32>`. `Ok` must be a tree that passes `validate()`
//! and re-encodes canonically to an equal tree; anything else must be an `Err` (never
//! a panic, a hang or a huge allocation: libFuzzer's `-rss_limit_mb` and
//! `-malloc_limit_mb` catch the last two).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sparsevdb_fuzz::decode_bytes(data);
});
