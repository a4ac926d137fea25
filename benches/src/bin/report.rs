//! `report`: the standard workloads (`shared/bench/WORKLOADS.md`) on sparsevdb's
//! tree, `std::collections::HashMap` and `ahash::AHashMap` in one process, and
//! optionally OpenVDB 10 through the anchor binary; prints a markdown table of the
//! figures with ratios and checksums.
//!
//! ```text
//! cargo run --release -p sparsevdb-bench --bin report -- [--quick] [--workload W]...
//!     [--json FILE] [--tsv FILE] [--openvdb PATH]
//! ```
//!
//! Every result's checksums are checked against the reference computed from the
//! generated data (`sparsevdb_bench::reference`), and the generated data against
//! `shared/bench/ANCHORS.md`; on any disagreement the report still prints, then
//! exits with status 1. `--tsv` writes the anchors' `DATA`/`RESULT` lines, which
//! `shared/anchors/merge_results.py` merges with the anchors' own output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use clap::builder::PossibleValuesParser;
use clap::Parser;

use sparsevdb_bench::alloc::{self, CountingAlloc};
use sparsevdb_bench::baselines::{self, OpSet};
use sparsevdb_bench::record::{
    self, data_line, fmt_fig, Record, AHASHMAP, OPENVDB, OPS, STD_HASHMAP, TREE, TREE_DENSE,
};
use sparsevdb_bench::reference::Expected;
use sparsevdb_bench::timing::Timing;
use sparsevdb_bench::workloads::{anchor_checksums, Data, NAMES};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "report",
    about = "Standard workloads on sparsevdb, std HashMap, AHashMap (and OpenVDB): a markdown table"
)]
struct Args {
    /// Quick look: no warm-up and one timed run per op; combine runs on a clone of
    /// the tree `build` made and prune on that tree itself, instead of fresh builds;
    /// without --workload, the tree's combine on `random` is skipped (figures are
    /// indicative only; the standard is a warm-up and the median of 5 runs on fresh
    /// trees).
    #[arg(long)]
    quick: bool,

    /// Run only this workload (repeatable; default: all five).
    #[arg(long = "workload", value_name = "W", value_parser = PossibleValuesParser::new(NAMES))]
    workloads: Vec<String>,

    /// Also write every result (with its run times) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Also write the anchors' DATA / RESULT lines to FILE (for merge_results.py).
    #[arg(long, value_name = "FILE")]
    tsv: Option<PathBuf>,

    /// Run the OpenVDB anchor binary at PATH first (built from
    /// shared/anchors/openvdb-bench) and add its figures.
    #[arg(long, value_name = "PATH")]
    openvdb: Option<PathBuf>,

    /// Timed runs per op (overrides the mode's: 5, or 1 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    runs: Option<u32>,

    /// Untimed warm-up runs per op (overrides the mode's: 1, or 0 with --quick).
    #[arg(long, value_name = "N")]
    warmup: Option<u32>,

    /// Skip the HashMap baselines.
    #[arg(long)]
    no_baselines: bool,

    /// Print every op's run times to stderr.
    #[arg(long, short)]
    verbose: bool,

    // ---- traverse section (src/traverse_ops.rs) ----
    /// Also run the `traverse` section: sparsevdb-traverse on 1 and 2 threads (sum,
    /// apply_gradient, comp_sum, bulk build), SIMD vs portable kernels and their
    /// bandwidth against a STREAM-style triad.
    #[arg(long)]
    traverse: bool,

    /// Run only the `traverse` section (no standard table).
    #[arg(long)]
    traverse_only: bool,

    /// Skip the dense-leaves column (the tree with every leaf pinned dense).
    #[arg(long)]
    no_dense: bool,
}

/// The structures in column order, with their column titles.
const COLUMNS: [(&str, &str); 5] = [
    (TREE, "sparsevdb"),
    (TREE_DENSE, "sparsevdb dense leaves"),
    (STD_HASHMAP, "std HashMap"),
    (AHASHMAP, "AHashMap"),
    (OPENVDB, "OpenVDB 10"),
];

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("report: CHECKSUM MISMATCH (see the table and the list above); exit 1");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("report: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Progress on stderr, with the seconds since the start.
struct Progress {
    start: Instant,
}

impl Progress {
    fn say(&self, msg: &str) {
        eprintln!("[{:7.1} s] {msg}", self.start.elapsed().as_secs_f64());
    }
}

/// Runs everything; `Ok(false)` when a checksum disagrees.
fn run(args: &Args) -> Result<bool, String> {
    let progress = Progress {
        start: Instant::now(),
    };
    let mut timing = if args.quick {
        Timing::QUICK
    } else {
        Timing::FULL
    };
    if let Some(r) = args.runs {
        timing.runs = r as usize;
    }
    if let Some(w) = args.warmup {
        timing.warmup = w as usize;
    }
    timing.verbose = args.verbose;
    let names: Vec<&'static str> = NAMES
        .iter()
        .copied()
        .filter(|n| args.workloads.is_empty() || args.workloads.iter().any(|w| w == n))
        .collect();
    if !alloc::is_installed() {
        return Err("the counting allocator is not installed".into());
    }
    let load_before = load_average();

    let mut problems: Vec<String> = Vec::new();
    let mut records: Vec<Record> = Vec::new();
    let mut traverse_out = String::new(); // the traverse section, if asked for
    let mut data_lines: Vec<String> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();

    let mut openvdb_data: BTreeMap<(String, String), String> = BTreeMap::new();
    if let Some(path) = &args.openvdb {
        progress.say(&format!("running the OpenVDB anchor {}", path.display()));
        let (data, results) = run_openvdb(path, &names)?;
        openvdb_data = data;
        records.extend(results);
    }

    for &name in &names {
        progress.say(&format!("{name}: generating the data"));
        let d = Data::new(name);
        progress.say(&format!("{name}: computing the reference checksums"));
        let expected = Expected::new(&d);
        for ((item, got), (want_item, want)) in d.checksums().iter().zip(anchor_checksums(name)) {
            data_lines.push(data_line(name, item, got));
            if *item != want_item || got != want {
                problems.push(format!(
                    "DATA {name} {item}: `{got}`, ANCHORS.md has `{want_item}: {want}`"
                ));
            }
            if let Some(theirs) = openvdb_data.get(&(name.to_owned(), item.to_string())) {
                if theirs != got {
                    problems.push(format!(
                        "DATA {name} {item}: OpenVDB anchor printed `{theirs}`, we `{got}`"
                    ));
                }
            }
        }
        let ops = OpSet {
            fresh_trees: !args.quick,
            ..OpSet::default()
        };
        let mut structures: Vec<(&str, Runner)> = Vec::new();
        structures.extend(tree_runner());
        if args.no_dense {
            structures.retain(|(s, _)| *s != TREE_DENSE);
        }
        if !args.no_baselines {
            structures.push((STD_HASHMAP, baselines::bench_std));
            structures.push((AHASHMAP, baselines::bench_ahash));
        }
        if args.traverse_only {
            structures.clear(); // traverse section only (below)
        }
        for (structure, bench) in structures {
            let mut ops = ops;
            if (structure == TREE || structure == TREE_DENSE)
                && args.quick
                && args.workloads.is_empty()
                && name == "random"
            {
                // Its untimed setup alone (a 4 GB B tree, a 4 GB clone of A and
                // dropping them) takes half a minute on 2 cores.
                ops.combine = false;
                skipped.push(format!(
                    "{name} combine on {structure} (--quick: its untimed setup of 4 GB trees \
                     takes ~30 s; `--quick --workload random` includes it)"
                ));
            }
            let mut say = |op: &str| progress.say(&format!("{name}: {structure} {op}"));
            let rs = bench(&d, &timing, ops, &mut say);
            records.extend(rs);
        }
        // ---- traverse section hook ----
        if args.traverse || args.traverse_only {
            let mut say = |op: &str| progress.say(&format!("{name}: {op}"));
            let (section, bad) = traverse_section(&d, &timing, &mut say);
            traverse_out.push_str(&section);
            problems.extend(bad);
        }
        drop(d);
        for r in records.iter().filter(|r| r.workload == name) {
            let bad = expected.check(r);
            if !bad.is_empty() {
                problems.push(format!(
                    "RESULT {} {} {}: {}",
                    r.workload,
                    r.op,
                    r.structure,
                    bad.join("; ")
                ));
            }
        }
    }
    progress.say("done");

    let mut out = String::new();
    header(&mut out, args, &timing, &names, &load_before, &skipped);
    table(
        &mut out,
        &records,
        &names,
        &problems,
        args.openvdb.is_some(),
    );
    if !traverse_out.is_empty() {
        out.push_str("\n## traverse (sparsevdb-traverse: rayon + SIMD)\n");
        out.push_str(&traverse_out);
    }
    if problems.is_empty() {
        out.push_str("\nAll checksums agree: generated data with ANCHORS.md");
        if args.openvdb.is_some() {
            out.push_str(" and the OpenVDB anchor");
        }
        out.push_str("; every structure's results with the reference computed from the data.\n");
    } else {
        out.push_str("\n**CHECKSUM MISMATCHES:**\n\n");
        for p in &problems {
            let _ = writeln!(out, "- {p}");
        }
    }
    print!("{out}");

    if let Some(path) = &args.tsv {
        let mut text = data_lines.join("\n");
        text.push('\n');
        for r in &records {
            text.push_str(&r.result_line());
            text.push('\n');
        }
        std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        progress.say(&format!("wrote {}", path.display()));
    }
    if let Some(path) = &args.json {
        let text = json(&records, &timing, args.quick, &problems);
        std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        progress.say(&format!("wrote {}", path.display()));
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("MISMATCH: {p}");
        }
    }
    Ok(problems.is_empty())
}

/// A structure's benchmark: runs every op on the data.
type Runner = fn(&Data, &Timing, OpSet, &mut dyn FnMut(&str)) -> Vec<Record>;

/// The `traverse` section of one workload (markdown, problems); see
/// `sparsevdb_bench::traverse_ops`.
#[cfg(feature = "traverse")]
fn traverse_section(d: &Data, timing: &Timing, say: &mut dyn FnMut(&str)) -> (String, Vec<String>) {
    sparsevdb_bench::traverse_ops::bench_traverse(d, timing, say)
}

#[cfg(not(feature = "traverse"))]
fn traverse_section(
    d: &Data,
    _timing: &Timing,
    _say: &mut dyn FnMut(&str),
) -> (String, Vec<String>) {
    (
        format!(
            "\n{}: traverse section not built (feature `traverse` off)\n",
            d.name
        ),
        Vec::new(),
    )
}

/// The tree with adaptive leaves, then the same tree with dense leaves only.
#[cfg(feature = "tree")]
fn tree_runner() -> Vec<(&'static str, Runner)> {
    vec![
        (TREE, sparsevdb_bench::tree_ops::bench_tree::<false>),
        (TREE_DENSE, sparsevdb_bench::tree_ops::bench_tree::<true>),
    ]
}

#[cfg(not(feature = "tree"))]
fn tree_runner() -> Vec<(&'static str, Runner)> {
    Vec::new()
}

/// Runs the OpenVDB anchor on `names`; returns its DATA checksums by (workload,
/// item) and its results.
#[allow(clippy::type_complexity)]
fn run_openvdb(
    path: &PathBuf,
    names: &[&str],
) -> Result<(BTreeMap<(String, String), String>, Vec<Record>), String> {
    let output = Command::new(path)
        .args(names)
        .output()
        .map_err(|e| format!("cannot run the OpenVDB anchor {}: {e}", path.display()))?;
    if !output.status.success() {
        return Err(format!(
            "the OpenVDB anchor {} failed ({}): {}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut data = BTreeMap::new();
    let mut results = Vec::new();
    for line in stdout.lines() {
        if let Some((w, item, sum)) = record::parse_data_line(line) {
            data.insert((w, item), sum);
        } else if let Some(r) = Record::parse(line) {
            results.push(r);
        }
    }
    if results.is_empty() {
        return Err(format!(
            "the OpenVDB anchor {} printed no RESULT line",
            path.display()
        ));
    }
    Ok((data, results))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn header(
    out: &mut String,
    args: &Args,
    timing: &Timing,
    names: &[&str],
    load_before: &str,
    skipped: &[String],
) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(out, "# sparsevdb benchmark report\n");
    let _ = writeln!(
        out,
        "Workloads and ops: shared/bench/WORKLOADS.md. Command: `{}`.\n",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| machine | {}, {cores} cores |", cpu_model());
    let _ = writeln!(
        out,
        "| allocator | {} (counted; the `mimalloc` feature switches to mimalloc) |",
        alloc::INNER_NAME
    );
    let mode = if timing.is_standard() {
        "standard".to_owned()
    } else {
        "**not standard** (figures indicative only)".to_owned()
    };
    let _ = writeln!(
        out,
        "| timing | {} warm-up + median of {} timed run(s), {mode}{} |",
        timing.warmup,
        timing.runs,
        if args.quick {
            " (--quick: the tree's combine and prune run on a clone of the built tree and on the built tree, not on fresh builds)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "| load average | {load_before} before, {} after |",
        load_average()
    );
    let _ = writeln!(out, "| workloads | {} |", names.join(", "));
    if !skipped.is_empty() {
        let _ = writeln!(out, "| skipped | {} |", skipped.join("; "));
    }
    let tree_note = if cfg!(feature = "tree") {
        "sparsevdb-tree `Tree<f32>` (5-4-3)"
    } else {
        "not built (feature `tree` off): no sparsevdb column"
    };
    let _ = writeln!(out, "| sparsevdb | {tree_note} |");
    let _ = writeln!(
        out,
        "| OpenVDB | {} |",
        args.openvdb
            .as_ref()
            .map_or("not run (--openvdb PATH)".into(), |p| format!(
                "anchor binary {}",
                p.display()
            ))
    );
    out.push_str(
        "\nUnits: build, combine and prune are ns per voxel (build: per voxel set, for tiles per \
         active voxel of the result; combine: per active voxel of the result; prune: per active \
         voxel before pruning); reads ns per read; iterate ns per iterator item (a tile is one \
         item); memory bytes per active voxel (counting allocator; OpenVDB: memUsage); \
         prune_memory MB after pruning. Ratios are sparsevdb's figure over the other's: below 1 \
         is faster or smaller. Absolute figures drift between processes; compare within a run.\n\n",
    );
}

/// The cell of one figure.
fn cell(r: Option<&Record>) -> String {
    match r {
        None => "—".into(),
        Some(r) if r.op == "all" => "not feasible".into(),
        Some(r) if !r.figure.is_finite() => "n/a".into(),
        Some(r) => fmt_fig(r.figure),
    }
}

fn ratio(a: Option<&Record>, b: Option<&Record>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a.figure.is_finite() && b.figure.is_finite() && b.figure != 0.0 => {
            let x = a.figure / b.figure;
            let digits = if x >= 100.0 {
                0
            } else if x >= 10.0 {
                1
            } else {
                2
            };
            format!("{x:.digits$}")
        }
        _ => "—".into(),
    }
}

fn table(out: &mut String, records: &[Record], names: &[&str], problems: &[String], openvdb: bool) {
    let columns: Vec<(&str, &str)> = COLUMNS
        .iter()
        .copied()
        .filter(|&(s, _)| s != OPENVDB || openvdb)
        .collect();
    let mut head = vec!["workload", "op", "unit"];
    head.extend(columns.iter().map(|c| c.1));
    head.push("sparsevdb / AHashMap");
    head.push("adaptive / dense leaves");
    if openvdb {
        head.push("sparsevdb / OpenVDB");
    }
    head.push("checksums");
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    let mut others: Vec<&Record> = Vec::new();
    for &name in names {
        let infeasible: Vec<&Record> = records
            .iter()
            .filter(|r| r.workload == name && r.op == "all")
            .collect();
        for op in OPS.iter().filter(|&&op| op != "all") {
            let find = |s: &str| {
                records
                    .iter()
                    .find(|r| r.workload == name && r.op == *op && r.structure == s)
                    .or_else(|| infeasible.iter().copied().find(|r| r.structure == s))
            };
            let in_row: Vec<&Record> = records
                .iter()
                .filter(|r| r.workload == name && r.op == *op)
                .collect();
            if in_row.is_empty() {
                continue;
            }
            others.extend(
                in_row
                    .iter()
                    .copied()
                    .filter(|r| !columns.iter().any(|c| c.0 == r.structure)),
            );
            // Unit and checksum shown: the first measured structure's, in this order.
            let preferred = || {
                [TREE, AHASHMAP, OPENVDB, STD_HASHMAP]
                    .into_iter()
                    .filter_map(|s| in_row.iter().find(|r| r.structure == s))
            };
            let shown = preferred()
                .find(|r| r.figure.is_finite())
                .or_else(|| preferred().next());
            let unit = shown.map_or("", |r| r.unit.as_str());
            let mut row = vec![name.to_owned(), op.to_string(), unit.to_owned()];
            row.extend(columns.iter().map(|c| cell(find(c.0))));
            row.push(ratio(find(TREE), find(AHASHMAP)));
            row.push(ratio(find(TREE), find(TREE_DENSE)));
            if openvdb {
                row.push(ratio(find(TREE), find(OPENVDB)));
            }
            let shown = shown.map_or(String::new(), |r| r.checksum.clone());
            let prefix = format!("RESULT {name} {op} ");
            let bad: Vec<&String> = problems.iter().filter(|p| p.starts_with(&prefix)).collect();
            let verdict = if bad.is_empty() {
                "ok".to_owned()
            } else {
                format!("**MISMATCH** ({} structure(s))", bad.len())
            };
            row.push(format!("{verdict}: {shown}"));
            let row: Vec<String> = row.into_iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        for r in &infeasible {
            let _ = writeln!(
                out,
                "\n{} on {name}: not feasible, {}.",
                r.structure, r.checksum
            );
        }
    }
    if !others.is_empty() {
        out.push_str("\nOther structures:\n\n");
        for r in others {
            let _ = writeln!(
                out,
                "- {} {} {}: {} {} ({})",
                r.workload,
                r.op,
                r.structure,
                fmt_fig(r.figure),
                r.unit,
                r.checksum
            );
        }
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

fn json(records: &[Record], timing: &Timing, quick: bool, problems: &[String]) -> String {
    let mut o = String::from("{\n");
    let _ = writeln!(
        o,
        "  \"timing\": {{\"warmup\": {}, \"runs\": {}, \"quick\": {quick}, \"standard\": {}}},",
        timing.warmup,
        timing.runs,
        timing.is_standard()
    );
    let _ = writeln!(o, "  \"tree\": {},", cfg!(feature = "tree"));
    let probs: Vec<String> = problems.iter().map(|p| json_str(p)).collect();
    let _ = writeln!(o, "  \"mismatches\": [{}],", probs.join(", "));
    o.push_str("  \"results\": [\n");
    let rows: Vec<String> = records
        .iter()
        .map(|r| {
            let runs: Vec<String> = r.runs.iter().map(|&s| json_num(s)).collect();
            format!(
                "    {{\"workload\": {}, \"op\": {}, \"structure\": {}, \"figure\": {}, \"unit\": {}, \"checksum\": {}, \"runs_s\": [{}]}}",
                json_str(&r.workload),
                json_str(&r.op),
                json_str(&r.structure),
                json_num(r.figure),
                json_str(&r.unit),
                json_str(&r.checksum),
                runs.join(", ")
            )
        })
        .collect();
    o.push_str(&rows.join(",\n"));
    o.push_str("\n  ]\n}\n");
    o
}
