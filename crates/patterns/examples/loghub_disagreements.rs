//! Where the miner's grouping disagrees with a Loghub system's truth: each
//! true event split over several patterns or sharing one with another event.
//!
//! `cargo run --release -p opsroom-patterns --example loghub_disagreements -- Linux`

use opsroom_patterns::eval::{loghub_dir, read_loghub};
use opsroom_patterns::{LineMeta, Miner, PatternId};
use std::collections::{BTreeMap, BTreeSet};

fn main() {
    let Some(system) = std::env::args().nth(1) else {
        eprintln!("usage: loghub_disagreements SYSTEM (HDFS, Linux, …)");
        std::process::exit(2);
    };
    let lines = match loghub_dir().and_then(|dir| read_loghub(&dir, &system)) {
        Ok(lines) => lines,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut miner = Miner::new();
    let ids: Vec<PatternId> = lines
        .iter()
        .map(|l| miner.add(&l.content, LineMeta::default()))
        .collect();
    let ids: Vec<PatternId> = ids.into_iter().map(|id| miner.resolve(id)).collect();
    // For each true event: its patterns with their line count and first line.
    let mut by_truth: BTreeMap<&str, BTreeMap<PatternId, (usize, usize)>> = BTreeMap::new();
    let mut by_pattern: BTreeMap<PatternId, BTreeSet<&str>> = BTreeMap::new();
    for (i, (line, id)) in lines.iter().zip(&ids).enumerate() {
        by_truth
            .entry(&line.event)
            .or_default()
            .entry(*id)
            .or_insert((0, i))
            .0 += 1;
        by_pattern.entry(*id).or_default().insert(&line.event);
    }
    for (event, patterns) in &by_truth {
        if patterns.len() == 1 && patterns.keys().all(|p| by_pattern[p].len() == 1) {
            continue;
        }
        let total: usize = patterns.values().map(|(n, _)| n).sum();
        println!("== {event} ({total} lines)");
        for (id, (n, first)) in patterns {
            let example: String = lines[*first].content.chars().take(150).collect();
            println!(
                "   pattern {id} x{n} holds {:?}: {}  | {example}",
                by_pattern[id],
                miner.template(*id)
            );
        }
    }
}
