//! A protocol-faithful stand-in for a MySQL 8.0/8.4 server right after the official image's
//! entrypoint restarted `mysqld`: the user exists with `caching_sha2_password` (the default
//! since 8.0) and the server's authentication cache is empty, so the first TCP login must do
//! *full* authentication. No MySQL server package can be had on these machines, so this is
//! what the MySQL probe is tested against; it enforces every rule below and refuses anything
//! else, so the probe cannot pass through leniency.
//!
//! Rules, from MySQL's documentation:
//! - Greeting: `Protocol::HandshakeV10`, 20-byte scramble split 8 + 12 (+ NUL), plugin
//!   `caching_sha2_password`, capabilities as a MySQL 8.4 server without TLS certificates
//!   would send them minus `CLIENT_SSL` (no TLS here):
//!   <https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html>
//! - The client's `Protocol::HandshakeResponse41`, parsed by the client's capability flags
//!   (length-encoded auth data, database, plugin name, connection attributes):
//!   <https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_response.html>
//! - A client that answers with another plugin gets an `AuthSwitchRequest` back to
//!   `caching_sha2_password`:
//!   <https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_auth_switch_request.html>
//! - `caching_sha2_password`: a user not in the cache gets `0x01 0x04` ("perform full
//!   authentication"); over a connection without TLS the client sends `0x02` to request the
//!   public key, the server answers `0x01` + PEM, the client sends the password plus NUL XOR-ed
//!   with the scramble, encrypted with RSA-OAEP (SHA-1, MGF1-SHA-1; MySQL ≥ 8.0.5); the server
//!   decrypts and compares. Success caches the user; a cached user's next login takes the fast
//!   path (`0x01 0x03`, then OK) when the scramble proves the password:
//!   <https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html>,
//!   <https://dev.mysql.com/doc/refman/8.4/en/caching-sha2-pluggable-authentication.html>
//! - A wrong password is `ERR` 1045, SQLSTATE 28000, "Access denied for user ...":
//!   <https://dev.mysql.com/doc/mysql-errors/8.4/en/server-error-reference.html#error_er_access_denied_error>
//! - Packets carry sequence ids that both sides check:
//!   <https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html>
//! - `COM_QUERY` `SELECT 1` answers a text result set: column count, one
//!   `ColumnDefinition41`, an EOF unless `CLIENT_DEPRECATE_EOF`, one row, then EOF or an OK
//!   packet with the `0xFE` header under `CLIENT_DEPRECATE_EOF`:
//!   <https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response_text_resultset.html>,
//!   <https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_ok_packet.html>,
//!   <https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_err_packet.html>
//!
//! Checked once by hand against an independent client, PyMySQL 1.2.4 with `cryptography` 50
//! (2026-11-25): its first login took the RSA exchange, its second the fast path, both read
//! `SELECT 1` as `((1,),)` of type LONGLONG, and a wrong password got 1045 (28000). The tests
//! below run `mysql_async`, the probe's client, against it.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _, LineEnding};
use sha2::{Digest as _, Sha256};

/// A fixed 2048-bit key made for this test with `openssl genpkey` (generating one per run
/// would take seconds in a debug build). It protects nothing.
const TEST_KEY: &str = include_str!("test-key.pem");

const CLIENT_LONG_PASSWORD: u32 = 1;
const CLIENT_FOUND_ROWS: u32 = 1 << 1;
const CLIENT_LONG_FLAG: u32 = 1 << 2;
const CLIENT_CONNECT_WITH_DB: u32 = 1 << 3;
const CLIENT_PROTOCOL_41: u32 = 1 << 9;
const CLIENT_SSL: u32 = 1 << 11;
const CLIENT_TRANSACTIONS: u32 = 1 << 13;
const CLIENT_SECURE_CONNECTION: u32 = 1 << 15;
const CLIENT_MULTI_STATEMENTS: u32 = 1 << 16;
const CLIENT_MULTI_RESULTS: u32 = 1 << 17;
const CLIENT_PLUGIN_AUTH: u32 = 1 << 19;
const CLIENT_CONNECT_ATTRS: u32 = 1 << 20;
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 1 << 21;
const CLIENT_DEPRECATE_EOF: u32 = 1 << 24;

const SERVER_CAPABILITIES: u32 = CLIENT_LONG_PASSWORD
    | CLIENT_FOUND_ROWS
    | CLIENT_LONG_FLAG
    | CLIENT_CONNECT_WITH_DB
    | CLIENT_PROTOCOL_41
    | CLIENT_TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | CLIENT_MULTI_STATEMENTS
    | CLIENT_MULTI_RESULTS
    | CLIENT_PLUGIN_AUTH
    | CLIENT_CONNECT_ATTRS
    | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
    | CLIENT_DEPRECATE_EOF;

/// SERVER_STATUS_AUTOCOMMIT.
const STATUS: u16 = 0x0002;
const PLUGIN: &[u8] = b"caching_sha2_password";

/// What the server saw, for the tests to check which path a login took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Full authentication with the RSA public-key exchange succeeded.
    FullAuthRsa,
    /// A cached user's scramble was verified (fast path).
    FastAuth,
    /// A login was refused with ERR 1045.
    Denied,
    /// A `COM_QUERY` was answered.
    Query(String),
    /// Something the protocol does not allow; the connection was dropped.
    Violation(String),
}

pub struct Mysql8 {
    pub port: u16,
    events: Arc<Mutex<Vec<Event>>>,
    stop: Arc<AtomicBool>,
}

struct Config {
    user: String,
    password: String,
    database: Option<String>,
    key: rsa::PrivateKey,
    public_pem: String,
    /// SHA256(SHA256(password)) of the users that logged in once: MySQL's in-memory cache.
    cache: Mutex<HashSet<String>>,
}

impl Mysql8 {
    /// Listens on 127.0.0.1 on a port of the OS's choosing, for `user` with `password`.
    pub fn start(user: &str, password: &str, database: Option<&str>) -> Self {
        let key = rsa::PrivateKey::from_pkcs8_pem(TEST_KEY).expect("the test key parses");
        let public_pem = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("PEM of the public key");
        let config = Arc::new(Config {
            user: user.to_owned(),
            password: password.to_owned(),
            database: database.map(str::to_owned),
            key,
            public_pem,
            cache: Mutex::new(HashSet::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (events2, stop2) = (events.clone(), stop.clone());
        std::thread::spawn(move || {
            for (id, stream) in (1u32..).zip(listener.incoming()) {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (config, events) = (config.clone(), events2.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    if let Err(violation) = serve(stream, id, &config, &events) {
                        events.lock().unwrap().push(Event::Violation(violation));
                    }
                });
            }
        });
        Self { port, events, stop }
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

impl Drop for Mysql8 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One packet: 3-byte length, sequence id, payload.
struct Wire {
    stream: TcpStream,
    seq: u8,
}

impl Wire {
    fn read(&mut self) -> Result<Vec<u8>, String> {
        let mut header = [0u8; 4];
        self.stream
            .read_exact(&mut header)
            .map_err(|e| format!("read: {e}"))?;
        let len =
            usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
        if header[3] != self.seq {
            return Err(format!(
                "sequence id {} where {} was due",
                header[3], self.seq
            ));
        }
        self.seq = self.seq.wrapping_add(1);
        let mut payload = vec![0u8; len];
        self.stream
            .read_exact(&mut payload)
            .map_err(|e| format!("read: {e}"))?;
        Ok(payload)
    }

    fn write(&mut self, payload: &[u8]) -> Result<(), String> {
        let len = u32::try_from(payload.len()).unwrap();
        let mut packet = len.to_le_bytes()[..3].to_vec();
        packet.push(self.seq);
        packet.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.stream
            .write_all(&packet)
            .map_err(|e| format!("write: {e}"))
    }
}

fn lenenc(n: u64) -> Vec<u8> {
    match n {
        0..=250 => vec![u8::try_from(n).unwrap()],
        251..=0xFFFF => [&[0xFC][..], &n.to_le_bytes()[..2]].concat(),
        0x1_0000..=0xFF_FFFF => [&[0xFD][..], &n.to_le_bytes()[..3]].concat(),
        _ => [&[0xFE][..], &n.to_le_bytes()[..]].concat(),
    }
}

fn lenenc_str(s: &[u8]) -> Vec<u8> {
    [lenenc(s.len() as u64), s.to_vec()].concat()
}

/// Reads a length-encoded integer from the front of `data`.
fn take_lenenc(data: &mut &[u8]) -> Result<u64, String> {
    let short = || "truncated length-encoded integer".to_owned();
    let (&first, rest) = data.split_first().ok_or_else(short)?;
    let width = match first {
        0..=250 => {
            *data = rest;
            return Ok(u64::from(first));
        }
        0xFC => 2,
        0xFD => 3,
        0xFE => 8,
        _ => return Err(format!("0x{first:02X} starts no length-encoded integer")),
    };
    let bytes = rest.get(..width).ok_or_else(short)?;
    *data = &rest[width..];
    Ok(bytes
        .iter()
        .rev()
        .fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
}

fn take_cstr<'a>(data: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let end = data
        .iter()
        .position(|b| *b == 0)
        .ok_or("a string without its NUL")?;
    let s = &data[..end];
    *data = &data[end + 1..];
    Ok(s)
}

fn ok_packet(header: u8) -> Vec<u8> {
    let mut p = vec![header, 0, 0];
    p.extend_from_slice(&STATUS.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p
}

fn err_packet(code: u16, state: &str, message: &str) -> Vec<u8> {
    let mut p = vec![0xFF];
    p.extend_from_slice(&code.to_le_bytes());
    p.push(b'#');
    p.extend_from_slice(state.as_bytes());
    p.extend_from_slice(message.as_bytes());
    p
}

/// MySQL's 20 random scramble bytes: 7-bit, never NUL or `$`.
fn new_scramble() -> [u8; 20] {
    let mut s = [0u8; 20];
    getrandom::fill(&mut s).expect("random bytes");
    for b in &mut s {
        *b &= 0x7F;
        if *b == 0 || *b == b'$' {
            *b += 1;
        }
    }
    s
}

/// The server side of the fast path, as MySQL computes it from its cache entry
/// `stage2 = SHA256(SHA256(password))`: `stage1 = response XOR SHA256(stage2 || scramble)`,
/// and the password is proven when `SHA256(stage1) == stage2`. (The client computes
/// `SHA256(password) XOR SHA256(stage2 || scramble)`: a different route to the same bytes.)
pub fn fast_path_verifies(stage2: &[u8], scramble: &[u8], response: &[u8]) -> bool {
    if response.len() != 32 {
        return false;
    }
    let mut h = Sha256::new();
    h.update(stage2);
    h.update(scramble);
    let mask = h.finalize();
    let stage1: Vec<u8> = response
        .iter()
        .zip(mask.iter())
        .map(|(a, b)| a ^ b)
        .collect();
    Sha256::digest(&stage1).as_slice() == stage2
}

fn stage2(password: &str) -> Vec<u8> {
    Sha256::digest(Sha256::digest(password.as_bytes())).to_vec()
}

fn serve(
    stream: TcpStream,
    id: u32,
    config: &Config,
    events: &Mutex<Vec<Event>>,
) -> Result<(), String> {
    let event = |e: Event| events.lock().unwrap().push(e);
    let mut wire = Wire { stream, seq: 0 };
    let scramble = new_scramble();

    // HandshakeV10.
    let mut greeting = vec![10];
    greeting.extend_from_slice(b"8.4.3\0");
    greeting.extend_from_slice(&id.to_le_bytes());
    greeting.extend_from_slice(&scramble[..8]);
    greeting.push(0);
    greeting.extend_from_slice(&SERVER_CAPABILITIES.to_le_bytes()[..2]);
    greeting.push(255); // utf8mb4_0900_ai_ci
    greeting.extend_from_slice(&STATUS.to_le_bytes());
    greeting.extend_from_slice(&SERVER_CAPABILITIES.to_le_bytes()[2..]);
    greeting.push(21); // scramble length, with its NUL
    greeting.extend_from_slice(&[0; 10]);
    greeting.extend_from_slice(&scramble[8..]);
    greeting.push(0);
    greeting.extend_from_slice(PLUGIN);
    greeting.push(0);
    wire.write(&greeting)?;

    // HandshakeResponse41.
    let response = wire.read()?;
    let caps = u32::from_le_bytes(
        response
            .get(..4)
            .ok_or("a handshake response shorter than 4 bytes")?
            .try_into()
            .unwrap(),
    );
    if caps & CLIENT_PROTOCOL_41 == 0 {
        return Err("the client does not speak protocol 4.1".into());
    }
    if caps & CLIENT_SSL != 0 {
        return Err("an SSLRequest, though the server offered no CLIENT_SSL".into());
    }
    if caps
        & !SERVER_CAPABILITIES
        & (CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_DEPRECATE_EOF | CLIENT_CONNECT_ATTRS)
        != 0
    {
        return Err(format!(
            "the client claims capabilities the server did not offer: {caps:#x}"
        ));
    }
    let mut rest = response
        .get(32..)
        .ok_or("a handshake response shorter than 32 bytes")?;
    let user = String::from_utf8_lossy(take_cstr(&mut rest)?).into_owned();
    let auth_len = if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        take_lenenc(&mut rest)?
    } else {
        let (&n, r) = rest.split_first().ok_or("no auth response length")?;
        rest = r;
        u64::from(n)
    };
    let auth_len = usize::try_from(auth_len).unwrap();
    let mut auth = rest
        .get(..auth_len)
        .ok_or("a truncated auth response")?
        .to_vec();
    rest = &rest[auth_len..];
    let database = if caps & CLIENT_CONNECT_WITH_DB != 0 {
        Some(String::from_utf8_lossy(take_cstr(&mut rest)?).into_owned())
    } else {
        None
    };
    let plugin = if caps & CLIENT_PLUGIN_AUTH != 0 {
        take_cstr(&mut rest)?.to_vec()
    } else {
        b"mysql_native_password".to_vec()
    };
    if caps & CLIENT_CONNECT_ATTRS != 0 {
        let len = usize::try_from(take_lenenc(&mut rest)?).unwrap();
        rest = rest.get(len..).ok_or("truncated connection attributes")?;
    }
    if !rest.is_empty() {
        return Err(format!(
            "{} unexpected bytes after the handshake response",
            rest.len()
        ));
    }
    if plugin != PLUGIN {
        // AuthSwitchRequest: the user's plugin is caching_sha2_password.
        let mut switch = vec![0xFE];
        switch.extend_from_slice(PLUGIN);
        switch.push(0);
        switch.extend_from_slice(&scramble);
        switch.push(0);
        wire.write(&switch)?;
        auth = wire.read()?;
    }

    let deny = |wire: &mut Wire| -> Result<(), String> {
        event(Event::Denied);
        wire.write(&err_packet(
            1045,
            "28000",
            &format!("Access denied for user '{user}'@'127.0.0.1' (using password: YES)"),
        ))
    };
    if user != config.user {
        return deny(&mut wire);
    }
    // After authentication, the database named in the handshake must exist.
    let login_ok = |wire: &mut Wire| -> Result<bool, String> {
        match &database {
            Some(db) if Some(db) != config.database.as_ref() => {
                wire.write(&err_packet(
                    1049,
                    "42000",
                    &format!("Unknown database '{db}'"),
                ))?;
                Ok(false)
            }
            _ => {
                wire.write(&ok_packet(0))?;
                Ok(true)
            }
        }
    };
    if auth.is_empty() {
        // An empty scramble response means an empty password.
        if config.password.is_empty() {
            if !login_ok(&mut wire)? {
                return Ok(());
            }
        } else {
            return deny(&mut wire);
        }
    } else {
        let cached = config.cache.lock().unwrap().contains(&user);
        if cached && fast_path_verifies(&stage2(&config.password), &scramble, &auth) {
            event(Event::FastAuth);
            wire.write(&[0x01, 0x03])?;
            if !login_ok(&mut wire)? {
                return Ok(());
            }
        } else {
            // Not in the cache (or the fast path failed): full authentication. Without TLS
            // the password may only arrive RSA-encrypted.
            wire.write(&[0x01, 0x04])?;
            let mut reply = wire.read()?;
            if reply == [0x02] {
                let mut key = vec![0x01];
                key.extend_from_slice(config.public_pem.as_bytes());
                wire.write(&key)?;
                reply = wire.read()?;
            }
            let decrypted = config.key.oaep_decrypt::<sha1::Sha1>(&reply);
            let Ok(decrypted) = decrypted else {
                // Not a ciphertext under our key: a cleartext password over plain TCP, or a
                // wrong padding. MySQL refuses both.
                return deny(&mut wire);
            };
            let plain: Vec<u8> = decrypted
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ scramble[i % scramble.len()])
                .collect();
            let mut want = config.password.as_bytes().to_vec();
            want.push(0);
            if plain != want {
                return deny(&mut wire);
            }
            config.cache.lock().unwrap().insert(user.clone());
            event(Event::FullAuthRsa);
            if !login_ok(&mut wire)? {
                return Ok(());
            }
        }
    }

    // Command phase: every command starts a new sequence.
    loop {
        wire.seq = 0;
        // A client may close without COM_QUIT.
        let Ok(command) = wire.read() else {
            return Ok(());
        };
        match command.split_first() {
            Some((0x01, _)) => return Ok(()),              // COM_QUIT
            Some((0x0E, _)) => wire.write(&ok_packet(0))?, // COM_PING
            Some((0x03, query)) => {
                let query = String::from_utf8_lossy(query).into_owned();
                event(Event::Query(query.clone()));
                let normalised = query.trim().trim_end_matches(';').to_ascii_uppercase();
                if normalised == "SELECT 1" {
                    select_one(&mut wire, caps & CLIENT_DEPRECATE_EOF != 0)?;
                } else if normalised.starts_with("SET ") {
                    wire.write(&ok_packet(0))?;
                } else {
                    wire.write(&err_packet(
                        1235,
                        "42000",
                        "this stand-in answers only SELECT 1 and SET",
                    ))?;
                }
            }
            _ => wire.write(&err_packet(1047, "08S01", "Unknown command"))?,
        }
    }
}

/// The text result set of `SELECT 1`, as mysqld 8.4 sends it.
fn select_one(wire: &mut Wire, deprecate_eof: bool) -> Result<(), String> {
    wire.write(&lenenc(1))?;
    let mut column = Vec::new();
    for part in [&b"def"[..], b"", b"", b"", b"1", b""] {
        column.extend(lenenc_str(part));
    }
    column.push(0x0C); // length of the fixed fields
    column.extend_from_slice(&63u16.to_le_bytes()); // binary
    column.extend_from_slice(&1u32.to_le_bytes()); // display width
    column.push(0x08); // MYSQL_TYPE_LONGLONG
    column.extend_from_slice(&0x0081u16.to_le_bytes()); // NOT_NULL | BINARY
    column.push(0); // decimals
    column.extend_from_slice(&[0, 0]);
    wire.write(&column)?;
    let eof = || {
        let mut p = vec![0xFE];
        p.extend_from_slice(&0u16.to_le_bytes());
        p.extend_from_slice(&STATUS.to_le_bytes());
        p
    };
    if !deprecate_eof {
        wire.write(&eof())?;
    }
    wire.write(&lenenc_str(b"1"))?;
    if deprecate_eof {
        wire.write(&ok_packet(0xFE))
    } else {
        wire.write(&eof())
    }
}

/// The MySQL probe against the stand-in: what `provision up` meets with `mysql:8.4` right
/// after the image's entrypoint restarted the server.
mod probe {
    use std::time::{Duration, Instant};

    use provision::catalog::Probe;
    use provision::links::Endpoint;
    use provision::probe::{Refusal, WaitError, wait_ready};
    use provision::secret::Secret;

    use super::{Event, Mysql8, fast_path_verifies, stage2};

    fn endpoint(port: u16, password: &str) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port,
            tls: false,
            ca_file: None,
            username: Some("app".into()),
            password: Some(Secret::new(password)),
            database: Some("app".into()),
        }
    }

    fn wait(endpoint: &Endpoint, seconds: u64) -> Result<Duration, WaitError> {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(wait_ready(
            Probe::Mysql,
            endpoint,
            Instant::now() + Duration::from_secs(seconds),
            || async { Ok(()) },
        ))
    }

    #[test]
    fn logs_in_with_full_caching_sha2_authentication_then_the_fast_path() {
        let server = Mysql8::start("app", "s3cret-Pass_word", Some("app"));
        let ready = wait(&endpoint(server.port, "s3cret-Pass_word"), 30);
        assert!(ready.is_ok(), "{ready:?}; server saw {:?}", server.events());
        assert_eq!(
            server.events(),
            [Event::FullAuthRsa, Event::Query("SELECT 1".into())],
            "the first login after a restart needs the RSA exchange, then one `SELECT 1`"
        );
        // The user is cached now: the next probe proves the password by its scramble.
        assert!(wait(&endpoint(server.port, "s3cret-Pass_word"), 30).is_ok());
        assert_eq!(
            server.events()[2..],
            [Event::FastAuth, Event::Query("SELECT 1".into())]
        );
    }

    #[test]
    fn a_wrong_password_is_refused_at_once_not_retried_until_the_timeout() {
        let server = Mysql8::start("app", "right", Some("app"));
        let started = Instant::now();
        let result = wait(&endpoint(server.port, "wrong"), 60);
        let Err(WaitError::Refused(Refusal::Credentials, detail)) = result else {
            panic!("expected a refusal, got {result:?}");
        };
        assert!(
            detail.contains("1045") && detail.contains("Access denied"),
            "{detail}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
        // One attempt and its confirmation (see src/probe/mysql.rs), no retries after that.
        assert_eq!(server.events(), [Event::Denied, Event::Denied]);
    }

    #[test]
    fn a_server_that_is_not_listening_yet_is_retried_until_the_deadline() {
        // A port nobody listens on: not a refusal, so the wait runs to its deadline.
        let port = crate::support::free_port();
        let started = Instant::now();
        let result = wait(&endpoint(port, "x"), 1);
        assert!(
            matches!(result, Err(WaitError::Timeout { last: Some(_) })),
            "{result:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(900));
    }

    /// The stand-in's fast-path check against known answers computed by an independent
    /// client (go-sql-driver/mysql `auth_test.go`, `TestSHA256Pass`): scramble and
    /// `caching_sha2_password` responses for "secret" and "secret2".
    #[test]
    fn the_stand_ins_fast_path_accepts_known_answers_and_nothing_else() {
        let scramble = [
            10, 47, 74, 111, 75, 73, 34, 48, 88, 76, 114, 74, 37, 13, 3, 80, 82, 2, 23, 21,
        ];
        let unhex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let secret = unhex("f490e76f66d9d86665ce54d98c78d0acfe2fb0b08b423da807144873d30b312c");
        let secret2 = unhex("abc3934a012cf342e876071c8ee202de51785b430258a7a0138bc79c4d800bc6");
        assert!(fast_path_verifies(&stage2("secret"), &scramble, &secret));
        assert!(fast_path_verifies(&stage2("secret2"), &scramble, &secret2));
        assert!(!fast_path_verifies(&stage2("secret"), &scramble, &secret2));
        assert!(!fast_path_verifies(&stage2("secret"), &[0; 20], &secret));
    }
}
