//! Choosing host ports: the engine's own port when it is free, else one the OS hands out.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

/// Ports handed out by this process. Databases come up in parallel and none has bound its
/// port yet when the next one looks: two Redis would otherwise both pick 6379.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Whether nothing listens on 127.0.0.1:`port` (and we may bind it).
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Keeps `ports` from being handed out: ports other databases remember, free only because
/// those databases are down right now.
pub fn reserve(ports: impl IntoIterator<Item = u16>) {
    HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .extend(ports);
}

/// `preferred` if free, else a free port from the OS; never one already handed out here.
pub fn choose(preferred: u16) -> std::io::Result<u16> {
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !handed_out.contains(&preferred) && is_free(preferred) {
        handed_out.insert(preferred);
        return Ok(preferred);
    }
    for _ in 0..64 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no free port after 64 tries"))
}

#[cfg(test)]
mod tests {
    use super::choose;

    #[test]
    fn a_reserved_port_is_never_chosen() {
        super::reserve([39_998]);
        assert_ne!(choose(39_998).unwrap(), 39_998);
    }

    #[test]
    fn one_process_never_hands_out_a_port_twice() {
        let a = choose(39_999).unwrap();
        let b = choose(39_999).unwrap();
        assert_ne!(a, b);
    }
}
