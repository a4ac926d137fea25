//! `neural_import`: arbitrary bytes as a safetensors file into
//! `sparsevdb_neural::WeightGrid::from_safetensors`; see
//! [`sparsevdb_fuzz::import_bytes`] for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sparsevdb_fuzz::import_bytes(data);
});
