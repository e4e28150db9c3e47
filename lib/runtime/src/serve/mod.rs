//! Running a service: [`run_main`] (the runtime, logging, the exit status), [`parse_listen`] and
//! [`bind`] for the listen address, and [`serve`], the HTTP/1.1 server with a request-head
//! timeout, a connection limit and a shutdown that drains and then ends what still runs
//! (handlers see it through [`Shutdown`]).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DYN_HTTP_MAX_CONNECTIONS` | connections open at once; beyond, the one waiting longest for a request head is closed, or new ones wait | 4096 |
//! | `DYN_SYSTEM_PORT`, `DYN_SYSTEM_HOST`, `DYN_SYSTEM_TOKEN` | the system server ([`SystemOptions`]): probes, metrics, log filters | none, `127.0.0.1`, none |

mod listen;
mod run;
mod server;
mod shutdown;
mod system;

pub use listen::{bind, parse_listen};
pub use run::{run_main, run_service};
pub use server::{serve, ServeOptions, DEFAULT_DRAIN, DEFAULT_MAX_CONNECTIONS, HEAD_TIMEOUT};
pub use shutdown::{shutdown_signal, Shutdown};
pub use system::{reload_on_sighup, start_system_server, SystemOptions};
