//! Choosing host ports: the engine's own port when it is free, else one the OS hands out.

use std::net::{Ipv4Addr, TcpListener};

/// Whether nothing listens on 127.0.0.1:`port` (and we may bind it).
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// `preferred` if free, else a free port from the OS.
pub fn choose(preferred: u16) -> std::io::Result<u16> {
    if is_free(preferred) {
        return Ok(preferred);
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
