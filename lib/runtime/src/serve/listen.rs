//! Where a server listens: a `--listen` flag's value, and binding it.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// A `--listen` flag's value: `HOST:PORT`, the port from 0 to 65535 (0 picks a free one),
/// resolved when the flags are read, so that a bad address is a flag error (exit 2) rather than
/// a failure once the service runs.
///
/// ```
/// use tracewire_runtime::serve::parse_listen;
/// assert_eq!(parse_listen("127.0.0.1:8080").unwrap().port(), 8080);
/// assert!(parse_listen("0.0.0.0:99999").unwrap_err().contains("HOST:PORT"));
/// ```
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let expected = "expected HOST:PORT with a port from 0 to 65535, such as 127.0.0.1:8080";
    let (host, port) = value
        .rsplit_once(':')
        .ok_or_else(|| format!("{value:?}: {expected}"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{value:?}: port {port:?}: {expected}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{value:?}: cannot resolve {host:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{value:?}: {host:?} resolves to no address"))
}

/// Binds `addr`; the error names it (the OS's alone does not).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}
