//! `ops_config2`: the `ops` scripts on the second node configuration,
//! `Tree::<f32, 4, 4, 3>`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparsevdb_fuzz::{run_script, Script};

fuzz_target!(|s: Script| {
    run_script::<4, 4, 3, false>(&s);
});
