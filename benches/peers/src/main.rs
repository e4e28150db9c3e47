//! tracewire side by side with the fast Rust loggers and tracers (issue 27 item 5): the same
//! four cases through tracewire, tracing-subscriber's `fmt().json()` (and `fmt()` for the
//! readable case), json-subscriber, logforth, fastrace, rasant and log-io, each writing to the
//! same in-memory sink (`harness::keep`: a reused buffer per thread, and one byte counter).
//!
//! `bash scripts/bench-peers.sh` (`BENCH_QUICK=1` for a short run; `BENCH_CASE=event` for one
//! case). Rounds interleave: each round runs every peer once, in an order rotated per round, so
//! the machine's drift hits all alike. Per peer: wall and process-CPU time per operation
//! (median and quartiles over rounds; process CPU counts every thread, so a peer's background
//! collector or writer is included, and each round ends with the peer's flush), the median of
//! the per-round ratios to tracewire, the bytes written per operation, and which of the keys
//! the contract asks for (SPEC §3) its lines leave out.
//!
//! Where a peer has no such thing (fastrace writes no log lines; logforth, rasant and log-io
//! have no spans), the closest thing it has is used and said, or the case is left out for it.

/// The layer bench's operations, subscribers and sink (`lib/runtime/benches/layer`), so that
/// both benches run the same cases into the same sink.
#[path = "../../../lib/runtime/benches/layer/harness.rs"]
mod harness;
mod peers;

use std::time::Instant;

use peers::{Case, Peer};

fn iterations() -> u32 {
    if std::env::var_os("BENCH_QUICK").is_some() {
        20_000
    } else {
        100_000
    }
}

/// Process CPU time (every thread), in nanoseconds.
fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One round of `iters` operations of `peer`: wall ns, process-CPU ns and bytes per operation.
fn round(peer: &Peer, iters: u32) -> (f64, f64, f64) {
    let bytes = harness::written();
    let cpu = process_cpu_ns();
    let wall = Instant::now();
    (peer.run)(iters);
    let wall = wall.elapsed().as_nanos() as f64;
    let cpu = (process_cpu_ns() - cpu) as f64;
    let bytes = (harness::written() - bytes) as f64;
    let n = f64::from(iters);
    (wall / n, cpu / n, bytes / n)
}

fn quartiles(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

fn run_case(case: &Case) {
    let iters = iterations();
    let peers = &case.peers;
    // A warm-up round of each, and one line of each for the report.
    for peer in peers {
        round(peer, iters / 10);
    }
    let mut wall = vec![Vec::new(); peers.len()];
    let mut cpu = vec![Vec::new(); peers.len()];
    let mut bytes = vec![Vec::new(); peers.len()];
    for r in 0..harness::rounds() {
        for k in 0..peers.len() {
            let i = (k + r) % peers.len();
            let (w, c, b) = round(&peers[i], iters);
            wall[i].push(w);
            cpu[i].push(c);
            bytes[i].push(b);
        }
    }
    // Ratios per round against tracewire (peer 0), then their median.
    let ratio = |samples: &[Vec<f64>], i: usize| {
        let per_round: Vec<f64> = samples[i]
            .iter()
            .zip(&samples[0])
            .map(|(x, t)| x / t)
            .collect();
        quartiles(per_round).1
    };
    println!("\n## {}\n", case.name);
    println!("{}\n", case.about);
    println!("| peer | wall ns/op (q1–q3) | CPU ns/op (q1–q3) | wall / tracewire | CPU / tracewire | bytes/op | leaves out |");
    println!("|---|---|---|---|---|---|---|");
    for (i, peer) in peers.iter().enumerate() {
        let (w1, w, w3) = quartiles(wall[i].clone());
        let (c1, c, c3) = quartiles(cpu[i].clone());
        let (_, b, _) = quartiles(bytes[i].clone());
        let missing = peers::leaves_out(&case.required, &peer.sample());
        println!(
            "| {} | {w:.1} ({w1:.1}–{w3:.1}) | {c:.1} ({c1:.1}–{c3:.1}) | {:.3} | {:.3} | {b:.0} | {} |",
            peer.name,
            ratio(&wall, i),
            ratio(&cpu, i),
            if missing.is_empty() {
                "nothing".to_owned()
            } else {
                missing.join(", ")
            }
        );
    }
    println!();
    for peer in peers {
        let line = peer.sample();
        let line = String::from_utf8_lossy(&line);
        println!("- {}: `{}`", peer.name, line.trim_end().replace('`', "'"));
    }
}

fn main() {
    let only = std::env::var("BENCH_CASE").ok();
    println!(
        "rounds {}, {} operations a round; wall and process CPU per operation",
        harness::rounds(),
        iterations()
    );
    for case in peers::cases() {
        if only.as_deref().is_none_or(|c| c == case.key) {
            run_case(&case);
        }
    }
}
