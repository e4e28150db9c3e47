//! The output queue's throughput: 250-byte lines from 2 threads, lossless (overflow = block),
//! to /dev/null and to a file, timed until everything is written (flush included).
//!
//! `cargo bench -p tracewire-runtime --bench writer`

use std::{fs::File, sync::Arc, thread, time::Instant};

use tracewire_runtime::logging::{LineSink, QueueConfig, QueuedSink};

const THREADS: usize = 2;

fn run(name: &str, file: File, lines_per_thread: usize) {
    let sink =
        Arc::new(QueuedSink::new("bench", QueueConfig::default(), file).expect("writer thread"));
    let mut line = vec![b'x'; 249];
    line.push(b'\n');
    let start = Instant::now();
    thread::scope(|s| {
        for _ in 0..THREADS {
            let (sink, line) = (sink.clone(), &line);
            s.spawn(move || {
                for _ in 0..lines_per_thread {
                    sink.write_line(line);
                }
            });
        }
    });
    sink.flush();
    let secs = start.elapsed().as_secs_f64();
    let total = (THREADS * lines_per_thread) as f64;
    println!(
        "{name:<12} {:>6.2} M lines/s   {:>7.1} MB/s   dropped {}   (target >= 2 M lines/s, lossless)",
        total / secs / 1e6,
        total * 250.0 / secs / 1e6,
        sink.dropped()
    );
}

fn main() {
    let n = if std::env::var_os("BENCH_QUICK").is_some() {
        500_000
    } else {
        2_500_000
    };
    run(
        "/dev/null",
        File::create("/dev/null").expect("/dev/null"),
        n,
    );
    let path =
        std::env::temp_dir().join(format!("tracewire-writer-bench-{}.log", std::process::id()));
    run("file", File::create(&path).expect("temp file"), n);
    let _ = std::fs::remove_file(path);
}
