//! Every structure's results agree with the reference checksums on the smaller
//! standard workloads (one quick run each): the HashMap baselines always, the tree
//! with the `tree` feature. `sphere` and `random` are left to the `report` binary
//! (`random` builds a 4 GB tree).

use sparsevdb_bench::baselines::{self, OpSet};
use sparsevdb_bench::record::Record;
use sparsevdb_bench::reference::Expected;
use sparsevdb_bench::timing::Timing;
use sparsevdb_bench::workloads::Data;

fn assert_agree(d: &Data, records: &[Record]) {
    let expected = Expected::new(d);
    let bad: Vec<String> = records
        .iter()
        .flat_map(|r| {
            expected
                .check(r)
                .into_iter()
                .map(move |b| format!("{} {} {}: {b}", r.workload, r.op, r.structure))
        })
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

fn quick() -> (Timing, OpSet) {
    (
        Timing::QUICK,
        OpSet {
            fresh_trees: false,
            ..OpSet::default()
        },
    )
}

#[test]
fn baselines_agree_with_reference() {
    let (timing, ops) = quick();
    for name in ["neural99", "neural_block"] {
        let d = Data::new(name);
        let mut records = baselines::bench_std(&d, &timing, ops, &mut |_| {});
        records.extend(baselines::bench_ahash(&d, &timing, ops, &mut |_| {}));
        assert_eq!(records.len(), 2 * 9, "{name}: every op of both maps");
        assert_agree(&d, &records);
    }
    let d = Data::new("tiles");
    let records = baselines::bench_ahash(&d, &timing, ops, &mut |_| {});
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].op, "all", "tiles is not feasible for a HashMap");
}

#[cfg(feature = "tree")]
#[test]
fn tree_agrees_with_reference() {
    let (timing, ops) = quick();
    for name in ["neural99", "neural_block", "tiles"] {
        let d = Data::new(name);
        let records = sparsevdb_bench::tree_ops::bench_tree::<false>(&d, &timing, ops, &mut |_| {});
        assert_eq!(records.len(), 9, "{name}: every op");
        assert_agree(&d, &records);
        let dense = sparsevdb_bench::tree_ops::bench_tree::<true>(&d, &timing, ops, &mut |_| {});
        assert_eq!(dense.len(), 9, "{name}: every op, dense leaves");
        assert_agree(&d, &dense);
    }
}
