//! Results and their line protocol (`shared/anchors/README.md`): every benchmark of
//! the project prints tab-separated lines
//!
//! ```text
//! DATA    workload  item  checksum
//! RESULT  workload  op  structure  figure  unit  checksum
//! ```
//!
//! so that `shared/anchors/merge_results.py` can merge sources and cross-check them.

/// Structure name of this project's tree in `RESULT` lines.
pub const TREE: &str = "sparsevdb";
/// Structure name of the same tree with every leaf pinned dense (`DenseTree`).
pub const TREE_DENSE: &str = "sparsevdb-dense";
/// Structure name of `std::collections::HashMap` (as the anchor prints it).
pub const STD_HASHMAP: &str = "std-hashmap";
/// Structure name of `ahash::AHashMap` (as the anchor prints it).
pub const AHASHMAP: &str = "ahashmap";
/// Structure name of OpenVDB 10, single-threaded (as the anchor prints it).
pub const OPENVDB: &str = "openvdb";

/// The ops in report order (`memory_heap` is OpenVDB's only; `all` marks a
/// workload a structure cannot hold).
pub const OPS: [&str; 11] = [
    "build",
    "read_hit_coherent",
    "read_hit_random",
    "read_miss",
    "iterate",
    "memory",
    "memory_heap",
    "combine",
    "prune",
    "prune_memory",
    "all",
];

/// One measured figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Workload name.
    pub workload: String,
    /// Op name (one of [`OPS`]).
    pub op: String,
    /// Structure name ([`TREE`], [`STD_HASHMAP`], [`AHASHMAP`], [`OPENVDB`], ...).
    pub structure: String,
    /// The figure in `unit`; NaN when not measured.
    pub figure: f64,
    /// Unit of `figure`, e.g. `ns/voxel`.
    pub unit: String,
    /// `key=value` checksums separated by spaces.
    pub checksum: String,
    /// The timed runs in seconds, sorted (empty for non-timed figures and parsed lines).
    pub runs: Vec<f64>,
}

impl Record {
    /// A record without run times.
    pub fn new(
        workload: &str,
        op: &str,
        structure: &str,
        figure: f64,
        unit: &str,
        checksum: String,
    ) -> Self {
        Self {
            workload: workload.to_owned(),
            op: op.to_owned(),
            structure: structure.to_owned(),
            figure,
            unit: unit.to_owned(),
            checksum,
            runs: Vec::new(),
        }
    }

    /// The same with the timed runs attached.
    pub fn with_runs(mut self, runs: &[f64]) -> Self {
        self.runs = runs.to_vec();
        self
    }

    /// The `RESULT` line (without a trailing newline).
    pub fn result_line(&self) -> String {
        format!(
            "RESULT\t{}\t{}\t{}\t{}\t{}\t{}",
            self.workload,
            self.op,
            self.structure,
            fmt_fig(self.figure),
            self.unit,
            self.checksum
        )
    }

    /// Parses a `RESULT` line; `None` for any other line.
    pub fn parse(line: &str) -> Option<Self> {
        let cols: Vec<&str> = line.trim_end_matches(['\n', '\r']).split('\t').collect();
        if cols.len() != 7 || cols[0] != "RESULT" {
            return None;
        }
        Some(Self {
            workload: cols[1].to_owned(),
            op: cols[2].to_owned(),
            structure: cols[3].to_owned(),
            figure: cols[4].parse().unwrap_or(f64::NAN),
            unit: cols[5].to_owned(),
            checksum: cols[6].to_owned(),
            runs: Vec::new(),
        })
    }

    /// The value of checksum field `key`, if present.
    pub fn field(&self, key: &str) -> Option<&str> {
        field(&self.checksum, key)
    }
}

/// The value of `key=value` in a checksum string (values end at whitespace or a comma).
pub fn field<'a>(checksum: &'a str, key: &str) -> Option<&'a str> {
    checksum.split([' ', '\t', ',']).find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Parses a `DATA` line into `(workload, item, checksum)`; `None` for any other line.
pub fn parse_data_line(line: &str) -> Option<(String, String, String)> {
    let cols: Vec<&str> = line.trim_end_matches(['\n', '\r']).split('\t').collect();
    (cols.len() == 4 && cols[0] == "DATA")
        .then(|| (cols[1].to_owned(), cols[2].to_owned(), cols[3].to_owned()))
}

/// The `DATA` line for one item.
pub fn data_line(workload: &str, item: &str, checksum: &str) -> String {
    format!("DATA\t{workload}\t{item}\t{checksum}")
}

/// A figure with four significant digits, as the anchors print them.
pub fn fmt_fig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (3 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}

/// Whether two checksum sums agree: within a relative 1e-9 (f64 sums of the same
/// values in another order), plus the 6 decimals they are printed with.
pub fn sums_agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0) + 1.01e-6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_have_four_significant_digits() {
        assert_eq!(fmt_fig(4.9441), "4.944");
        assert_eq!(fmt_fig(149.93), "149.9");
        assert_eq!(fmt_fig(3194.2), "3194");
        assert_eq!(fmt_fig(0.00092891), "0.0009289");
        assert_eq!(fmt_fig(0.0), "0");
        assert_eq!(fmt_fig(f64::NAN), "NaN");
    }

    #[test]
    fn result_lines_round_trip() {
        let r = Record::new(
            "sphere",
            "combine",
            TREE,
            14.17,
            "ns/voxel",
            "active=5 sum=1.500000".into(),
        );
        let back = Record::parse(&r.result_line()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.field("active"), Some("5"));
        assert_eq!(back.field("sum"), Some("1.500000"));
        assert_eq!(back.field("nope"), None);
        assert!(Record::parse("DATA\ta\tb\tc").is_none());
        assert_eq!(
            parse_data_line("DATA\tsphere\tA\tn=1 fp=00"),
            Some(("sphere".into(), "A".into(), "n=1 fp=00".into()))
        );
    }

    #[test]
    fn sums_agree_within_print_precision() {
        assert!(sums_agree(101292.569144, 101292.569145));
        assert!(sums_agree(-128.840193, -128.840194));
        assert!(!sums_agree(1.0, 1.00001));
    }
}
