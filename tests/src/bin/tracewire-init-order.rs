//! Installs a `log` logger of its own, then calls `logging::init()`, and prints what is
//! installed afterwards: the end-to-end test of install's all-or-nothing rule (a process-wide
//! state no unit test may touch).

struct Quiet;

impl log::Log for Quiet {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        false
    }
    fn log(&self, _: &log::Record<'_>) {}
    fn flush(&self) {}
}

static QUIET: Quiet = Quiet;

fn main() {
    log::set_logger(&QUIET).expect("the first logger");
    match tracewire_runtime::logging::init() {
        Ok(_) => println!("init: ok"),
        Err(e) => println!("init: {e}"),
    }
    println!(
        "global tracing subscriber installed: {}",
        tracing::dispatcher::has_been_set()
    );
}
