//! Running a service: [`run_main`] (the runtime, logging, the exit status), [`parse_listen`] and
//! [`bind`] for the listen address, and [`serve`], the HTTP/1.1 server with a request-head
//! timeout, a connection limit and a shutdown that drains and then ends what still runs
//! (handlers see it through [`Shutdown`]).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DYN_HTTP_MAX_CONNECTIONS` | connections open at once; beyond, the one waiting longest for a request head is closed, or new ones wait | 4096 |

mod listen;
mod run;
mod server;
mod shutdown;

pub use listen::{bind, parse_listen};
pub use run::run_main;
pub use server::{serve, ServeOptions, DEFAULT_DRAIN, DEFAULT_MAX_CONNECTIONS, HEAD_TIMEOUT};
pub use shutdown::{shutdown_signal, Shutdown};
