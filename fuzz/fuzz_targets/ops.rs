//! `ops`: an arbitrary script of every write and structural operation on the default
//! 5-4-3 `Tree<f32>`, checked against the voxel-wise model after each operation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparsevdb_fuzz::{run_script, Script};

fuzz_target!(|s: Script| {
    run_script::<5, 4, 3, false>(&s);
    // The same script on the dense-only tree (every leaf pinned dense, decision 0009).
    run_script::<5, 4, 3, true>(&s);
});
