//! `combine`: two arbitrary trees (A gets every operation, B point writes, fills and
//! prunes) through every `comp_*` / `combine` / `topology_*` / `merge` operation,
//! checked against the model; the borrowed operand must be unchanged afterwards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparsevdb_fuzz::{run_combo_script, ComboScript};

fuzz_target!(|s: ComboScript| {
    run_combo_script(&s);
});
