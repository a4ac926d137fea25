//! The checksums every structure must print for each op, computed from the
//! generated data alone (sorted vectors and binary search; no structure under test
//! is involved). The report checks every `RESULT` against them, which also covers
//! `tiles`, where the HashMaps have nothing to compare with.

use crate::record::{sums_agree, Record};
use crate::workloads::{block_of, pack, unpack, Coord, Data, Fill};

/// Expected checksums of one workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    /// Workload name.
    pub workload: &'static str,
    /// Active voxels after `build` (tiles count their volume).
    pub active: u64,
    /// f64 sum over the active voxels after `build`.
    pub sum: f64,
    /// `(op, reads, sum)` of the three read ops.
    pub reads: [(&'static str, usize, f64); 3],
    /// Active voxels of A after `combine` (A += B).
    pub combine_active: u64,
    /// f64 sum over them.
    pub combine_sum: f64,
    /// Active voxels in the leaves `prune` clears.
    pub prune_cleared: u64,
    /// Active voxels after `prune` (a HashMap's count plus the voxels with value
    /// 0.0 of their own that its `retain` also dropped).
    pub prune_active_after: u64,
    /// f64 sum over the active voxels after `prune`.
    pub prune_sum_after: f64,
}

/// The value at `c` of a structure holding `fin` (see [`crate::workloads::final_values`])
/// over an optional fill, background 0.0.
fn lookup(fin: &Finals, fill: Option<Fill>, c: Coord) -> f32 {
    match fin.get(&pack(c)) {
        Some(&v) => v,
        None => fill.filter(|f| f.contains(c)).map_or(0.0, |f| f.value),
    }
}

/// Final values by packed coordinate (a hash table: millions of random lookups).
type Finals = std::collections::HashMap<u64, f32, crate::baselines::AhashState>;

/// Active voxel count and f64 sum of `fin` over `fill`.
fn totals(fin: &[(u64, f32)], fill: Option<Fill>) -> (u64, f64) {
    let mut active = 0u64;
    let mut sum = 0.0f64;
    let mut inside = 0u64;
    for &(k, v) in fin {
        sum += f64::from(v);
        if fill.is_some_and(|f| f.contains(unpack(k))) {
            inside += 1;
        } else {
            active += 1;
        }
    }
    if let Some(f) = fill {
        active += f.voxel_count();
        sum += f64::from(f.value) * (f.voxel_count() - inside) as f64;
    }
    (active, sum)
}

impl Expected {
    /// Computes the expected checksums of `d`.
    ///
    /// # Panics
    /// When A and B have different fills (no standard workload does).
    pub fn new(d: &Data) -> Self {
        let (fa, fb) = (d.a.fill, d.b.fill);
        let (active, sum) = totals(&d.a_final, fa);
        let a_map: Finals = d.a_final.iter().copied().collect();
        let read = |coords: &[Coord]| -> f64 {
            coords
                .iter()
                .map(|&c| f64::from(lookup(&a_map, fa, c)))
                .sum()
        };
        let reads = [
            ("read_hit_coherent", d.hits.len(), read(&d.hits)),
            (
                "read_hit_random",
                d.hits_shuffled.len(),
                read(&d.hits_shuffled),
            ),
            ("read_miss", d.misses.len(), read(&d.misses)),
        ];
        drop(a_map);
        let empty = Finals::default();

        // combine: every coordinate active in A or B gets a + b (in f32).
        assert_eq!(fa, fb, "combine reference needs equal fills");
        let mut combine_active = 0u64;
        let mut combine_sum = 0.0f64;
        let mut inside = 0u64;
        // Merge-join of the two sorted final states.
        let (mut i, mut j) = (0, 0);
        while i < d.a_final.len() || j < d.b_final.len() {
            let ka = d.a_final.get(i).map_or(u64::MAX, |e| e.0);
            let kb = d.b_final.get(j).map_or(u64::MAX, |e| e.0);
            let k = ka.min(kb);
            let c = unpack(k);
            let va = if ka == k {
                i += 1;
                d.a_final[i - 1].1
            } else {
                lookup(&empty, fa, c)
            };
            let vb = if kb == k {
                j += 1;
                d.b_final[j - 1].1
            } else {
                lookup(&empty, fb, c)
            };
            combine_sum += f64::from(va + vb);
            if fa.is_some_and(|f| f.contains(c)) {
                inside += 1;
            } else {
                combine_active += 1;
            }
        }
        if let (Some(f), Some(g)) = (fa, fb) {
            combine_active += f.voxel_count();
            combine_sum += f64::from(f.value + g.value) * (f.voxel_count() - inside) as f64;
        }

        // prune: the cleared leaves lose all their active voxels, set or filled.
        let mut cleared = 0u64;
        let mut cleared_inside: std::collections::BTreeMap<Coord, u64> = Default::default();
        let mut prune_sum_after = 0.0f64;
        for &(k, v) in &d.a_final {
            let c = unpack(k);
            let block = block_of(c);
            if d.is_prune_block(block) {
                cleared += 1;
                if fa.is_some_and(|f| f.contains(c)) {
                    *cleared_inside.entry(block).or_default() += 1;
                }
            } else {
                prune_sum_after += f64::from(v);
            }
        }
        if let Some(f) = fa {
            let mut fill_voxels_left = f.voxel_count();
            for &block in &d.prune_blocks {
                let overlap = f.block_overlap(block);
                fill_voxels_left -= overlap;
                cleared += overlap - cleared_inside.get(&block).copied().unwrap_or(0);
            }
            // Filled voxels outside the cleared leaves and not overwritten.
            let overwritten_left = d
                .a_final
                .iter()
                .filter(|&&(k, _)| {
                    let c = unpack(k);
                    f.contains(c) && !d.is_prune_block(block_of(c))
                })
                .count() as u64;
            prune_sum_after += f64::from(f.value) * (fill_voxels_left - overwritten_left) as f64;
        }

        Self {
            workload: d.name,
            active,
            sum,
            reads,
            combine_active,
            combine_sum,
            prune_cleared: cleared,
            prune_active_after: active - cleared,
            prune_sum_after,
        }
    }

    /// The checksum fields of `r` that disagree with these (empty when all agree
    /// or `r` has nothing to check). Fields a record does not print are not checked.
    pub fn check(&self, r: &Record) -> Vec<String> {
        let mut bad = Vec::new();
        let mut int = |key: &str, want: u64| {
            if let Some(got) = r.field(key) {
                if got.parse::<u64>().ok() != Some(want) {
                    bad.push(format!("{key}={got} (expected {want})"));
                }
            }
        };
        match r.op.as_str() {
            "build" | "memory" => int("active", self.active),
            "iterate" => int("active", self.active),
            "combine" => int("active", self.combine_active),
            "prune" => int("cleared", self.prune_cleared),
            op => {
                if let Some(&(_, n, _)) = self.reads.iter().find(|e| e.0 == op) {
                    int("reads", n as u64);
                }
            }
        }
        let mut float = |key: &str, want: f64| {
            if let Some(got) = r.field(key) {
                if !got.parse::<f64>().is_ok_and(|g| sums_agree(g, want)) {
                    bad.push(format!("{key}={got} (expected {want:.6})"));
                }
            }
        };
        match r.op.as_str() {
            "iterate" => float("sum", self.sum),
            "combine" => float("sum", self.combine_sum),
            "prune" => float("sum_after", self.prune_sum_after),
            op => {
                if let Some(&(_, _, sum)) = self.reads.iter().find(|e| e.0 == op) {
                    float("sum", sum);
                }
            }
        }
        if r.op == "prune" {
            if let Some(after) = r.field("active_after") {
                let own_zeros = r.field("own_zeros_dropped").unwrap_or("0");
                match (after.parse::<u64>(), own_zeros.parse::<u64>()) {
                    (Ok(a), Ok(z)) if a + z == self.prune_active_after => {}
                    _ => bad.push(format!(
                        "active_after={after} own_zeros_dropped={own_zeros} (expected {} in all)",
                        self.prune_active_after
                    )),
                }
            }
        }
        bad
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::{Workload, TILES_BOX};

    fn data(a: Workload, b: Workload) -> Data {
        // A hand-made Data around two small workloads (prune: even-indexed blocks).
        let mut d = Data::new("neural99");
        d.name = "custom";
        d.a_final = crate::workloads::final_values(&a);
        d.b_final = crate::workloads::final_values(&b);
        d.hits = a.voxels.iter().map(|v| v.0).collect();
        d.hits_shuffled = d.hits.clone();
        d.misses = vec![[-5, -5, -5]];
        let mut blocks: Vec<Coord> = d
            .a_final
            .iter()
            .map(|&(k, _)| block_of(unpack(k)))
            .collect();
        blocks.sort_by_key(|&b| crate::workloads::leaf_order_key(b));
        blocks.dedup();
        d.leaf_blocks = blocks.clone();
        d.prune_blocks = blocks.into_iter().step_by(2).collect();
        d.prune_blocks.sort_unstable();
        d.a = a;
        d.b = b;
        d
    }

    #[test]
    fn sparse_workload() {
        let a = Workload {
            fill: None,
            voxels: vec![
                ([0, 0, 0], 1.0),
                ([9, 0, 0], 2.0),
                ([0, 0, 0], 3.0),
                ([1, 1, 1], 0.0),
            ],
        };
        let b = Workload {
            fill: None,
            voxels: vec![([9, 0, 0], 0.5), ([20, 0, 0], 4.0)],
        };
        let e = Expected::new(&data(a, b));
        assert_eq!((e.active, e.sum), (3, 5.0));
        assert_eq!(e.reads[0].2, 3.0 + 2.0 + 3.0 + 0.0);
        assert_eq!(
            (e.combine_active, e.combine_sum),
            (4, 3.0 + 2.5 + 0.0 + 4.0)
        );
        // Blocks in leaf order: (0,0,0) [3 voxels... 2 distinct], (1,0,0) [1]: the first is cleared.
        assert_eq!(e.prune_cleared, 2);
        assert_eq!(e.prune_active_after, 1);
        assert_eq!(e.prune_sum_after, 2.0);
    }

    #[test]
    fn filled_workload() {
        let small = Fill {
            min: [0, 0, 0],
            max: [15, 7, 7],
            value: 1.0,
        };
        let a = Workload {
            fill: Some(small),
            voxels: vec![([1, 1, 1], 5.0), ([9, 1, 1], 7.0)],
        };
        let b = Workload {
            fill: Some(small),
            voxels: vec![([9, 1, 1], 2.0), ([30, 0, 0], 1.0)],
        };
        let e = Expected::new(&data(a, b));
        assert_eq!(e.active, 1024);
        assert_eq!(e.sum, 1022.0 + 12.0);
        assert_eq!(e.combine_active, 1025);
        assert_eq!(e.combine_sum, 2.0 * 1022.0 + 6.0 + 9.0 + 1.0);
        assert_eq!(e.prune_cleared, 512);
        assert_eq!(e.prune_active_after, 512);
        assert_eq!(e.prune_sum_after, 511.0 + 7.0);
        assert_eq!(TILES_BOX.block_overlap([0, 0, 0]), 512);
    }

    #[test]
    fn check_flags_mismatches() {
        let d = Data::new("neural99");
        let e = Expected::new(&d);
        let ok = Record::new(
            "neural99",
            "iterate",
            "x",
            1.0,
            "ns/item",
            format!("items=1 active={} sum={:.6}", e.active, e.sum),
        );
        assert!(e.check(&ok).is_empty());
        let mut bad = ok.clone();
        bad.checksum = format!("active={} sum={:.6}", e.active + 1, e.sum + 0.01);
        assert_eq!(e.check(&bad).len(), 2);
    }
}
