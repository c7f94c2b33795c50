//! TLS (`tls-port`): rustls behind the connection seam (`Transport`, `Listener`).
//!
//! A TLS connection is a `TlsStream`: tokio's `TcpStream` and rustls's `ServerConnection`
//! side by side, driven here rather than through tokio-rustls's stream, because the loop
//! needs three things that stream does not give: readiness without a read buffer
//! (`poll_input`: decrypted bytes rustls already holds, else the socket's readiness), a
//! write that never waits (`try_write_now`: encrypt, then `write_tls` through the socket's
//! `try_write`), and records rustls holds for a full socket going out while the loop waits
//! for input (the read polls them out first), so a reply never sits encrypted but unsent.
//! Each read is one `read_tls` (one `recv`) and each batch of replies one record and one
//! `send`, as for plain TCP.
//!
//! The handshake runs on the connection's worker as a future (`handshake`), under a
//! deadline (`timeout` when set, as Redis's client timeout covers a client that is still
//! in its handshake; else `HANDSHAKE_TIMEOUT`), before the connection counts as a client.
//!
//! The contexts (`Contexts`, Redis's SSL_CTX) are built from the configuration by `build`
//! (Redis's tlsConfigure): at start-up, and again on CONFIG SET of a TLS setting, in which
//! case new connections get the new certificates and a failure leaves the old ones in
//! place. One context per tls-auth-clients mode, since rustls fixes the client verifier in
//! the context and Redis reads tls-auth-clients at each accept.

use std::io::{self, BufRead, Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, ServerConnection, SupportedCipherSuite};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::{Listener, Peer, Transport};
use crate::server::config::Config;
use crate::server::log::log_at;
use crate::server::Server;

/// How long a client that set `timeout` 0 has to complete its handshake (Redis has no
/// limit there: a client that connects and sends nothing would hold its connection).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// tls-auth-clients, as an index into `Contexts::by_auth`.
const AUTH_NO: usize = 0;
const AUTH_YES: usize = 1;
const AUTH_OPTIONAL: usize = 2;

fn auth_mode(cfg: &Config) -> usize {
    match cfg.str("tls-auth-clients") {
        "no" => AUTH_NO,
        "optional" => AUTH_OPTIONAL,
        _ => AUTH_YES,
    }
}

/// The server's TLS contexts: one per tls-auth-clients mode (`AUTH_*`); the modes that
/// verify clients are missing when no CA is configured.
pub struct Contexts {
    by_auth: [Option<Arc<ServerConfig>>; 3],
}

/// The contexts new TLS connections use; none until TLS is configured.
#[derive(Default)]
pub struct Tls {
    current: parking_lot::RwLock<Option<Arc<Contexts>>>,
}

impl Tls {
    pub fn configured(&self) -> bool {
        self.current.read().is_some()
    }

    /// New connections use `contexts` from now on; those open keep theirs.
    pub fn install(&self, contexts: Contexts) {
        self.replace(Some(Arc::new(contexts)));
    }

    /// Install `contexts`; the ones in force before are returned.
    pub fn replace(&self, contexts: Option<Arc<Contexts>>) -> Option<Arc<Contexts>> {
        std::mem::replace(&mut *self.current.write(), contexts)
    }

    /// Put back contexts `replace` returned (a CONFIG SET that failed after it).
    pub fn restore(&self, contexts: Option<Arc<Contexts>>) {
        self.replace(contexts);
    }

    fn context(&self, auth: usize) -> Option<Arc<ServerConfig>> {
        self.current.read().as_ref().and_then(|c| c.by_auth[auth].clone())
    }
}

/// At start-up, as Redis's initListeners: with tls-port, tls-replication or tls-cluster
/// the contexts must build, else the server logs why and does not start (false).
pub fn start_up(srv: &Server) -> bool {
    let built = {
        let cfg = srv.config.read();
        if !wants_tls(&cfg) {
            return true;
        }
        build(&cfg)
    };
    match built {
        Ok(contexts) => {
            srv.tls.install(contexts);
            true
        }
        Err(why) => {
            log_at(srv, crate::server::log::WARNING, &why);
            log_at(srv, crate::server::log::WARNING, "Failed to configure TLS. Check logs for more info.");
            false
        }
    }
}

/// TLS is in use (Redis's applyTlsCfg reconfigures only then).
pub fn wants_tls(cfg: &Config) -> bool {
    cfg.int("tls-port") != 0 || cfg.bool("tls-replication") || cfg.bool("tls-cluster")
}

/// Redis's tlsConfigure: the contexts for `cfg`, or the line Redis logs for the first
/// problem (certificate or key unreadable, no CA where one is needed, a bad tls-protocols).
pub fn build(cfg: &Config) -> Result<Contexts, String> {
    let (cert_file, key_file) = (cfg.str("tls-cert-file"), cfg.str("tls-key-file"));
    if cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    let (ca_file, ca_dir) = (cfg.str("tls-ca-cert-file"), cfg.str("tls-ca-cert-dir"));
    let auth = auth_mode(cfg);
    if (auth != AUTH_NO || cfg.bool("tls-cluster") || cfg.bool("tls-replication"))
        && ca_file.is_empty()
        && ca_dir.is_empty()
    {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let protocols = parse_protocols(cfg.str("tls-protocols"))?;
    let certs = load_certs(cert_file).map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?;
    let key = load_key(key_file).map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    let roots = if ca_file.is_empty() && ca_dir.is_empty() {
        None
    } else {
        Some(Arc::new(
            load_roots(ca_file, ca_dir)
                .map_err(|e| format!("Failed to configure CA certificate(s) file/directory: {e}"))?,
        ))
    };
    let mut suites = Vec::new();
    let ciphers = cfg.str("tls-ciphers");
    if protocols.tls12 {
        let chosen = select_suites(ciphers, TLS12_SUITES, true);
        if chosen.is_empty() {
            return Err(format!("Failed to configure ciphers: {ciphers}"));
        }
        suites.extend(chosen);
    }
    let ciphersuites = cfg.str("tls-ciphersuites");
    let tls13 = if protocols.tls13 { select_suites(ciphersuites, TLS13_SUITES, false) } else { Vec::new() };
    // (OpenSSL takes an empty TLSv1.3 list: TLSv1.3 is then off.)
    let mut versions = Vec::new();
    if !tls13.is_empty() {
        versions.push(&rustls::version::TLS13);
    }
    if protocols.tls12 {
        versions.push(&rustls::version::TLS12);
    }
    suites.extend(tls13);
    if versions.is_empty() {
        return Err(format!("Failed to configure ciphersuites: {ciphersuites}"));
    }
    let provider = Arc::new(CryptoProvider { cipher_suites: suites, ..ring_provider() });
    let mut by_auth: [Option<Arc<ServerConfig>>; 3] = [None, None, None];
    for (mode, slot) in by_auth.iter_mut().enumerate() {
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?;
        let verifier = match (mode, &roots) {
            (AUTH_NO, _) => WebPkiClientVerifier::no_client_auth(),
            (_, None) => continue,
            (m, Some(roots)) => {
                let b = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
                let b = if m == AUTH_OPTIONAL { b.allow_unauthenticated() } else { b };
                b.build().map_err(|e| format!("Failed to configure CA certificate(s) file/directory: {e}"))?
            }
        };
        let mut config = builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
        config.ignore_client_order = cfg.bool("tls-prefer-server-ciphers");
        if cfg.bool("tls-session-caching") {
            // (OpenSSL's 0 is "no limit"; rustls's cache needs one: the default's.)
            let size = match cfg.int("tls-session-cache-size") {
                0 => 20 * 1024,
                n => n as usize,
            };
            config.session_storage = ServerSessionMemoryCache::new(size);
        } else {
            config.session_storage = Arc::new(NoServerSessionStorage {});
            config.send_tls13_tickets = 0;
        }
        *slot = Some(Arc::new(config));
    }
    Ok(Contexts { by_auth })
}

/// rustls's ring provider: X25519 and the NIST curves, no post-quantum key exchange (which
/// is why rustls marks it deprecated: that needs aws-lc-rs, whose build wants cmake). OpenSSL
/// 3.0, which Redis links, has none either.
#[allow(deprecated)]
fn ring_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// What tls-protocols enables, of what rustls speaks.
#[derive(Debug, PartialEq)]
struct Protocols {
    tls12: bool,
    tls13: bool,
}

/// Redis's parseProtocolsConfig: words split on single spaces (two spaces make an empty,
/// invalid word), case-insensitive; empty: TLSv1.2 and TLSv1.3. TLSv1 and TLSv1.1 are
/// valid names but rustls does not speak them: a list of only those is refused.
fn parse_protocols(s: &str) -> Result<Protocols, String> {
    if s.is_empty() {
        return Ok(Protocols { tls12: true, tls13: true });
    }
    let mut p = Protocols { tls12: false, tls13: false };
    for word in s.split(' ') {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1" | "tlsv1.1" => {}
            "tlsv1.2" => p.tls12 = true,
            "tlsv1.3" => p.tls13 = true,
            _ => return Err(
                "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."
                    .into(),
            ),
        }
    }
    if !p.tls12 && !p.tls13 {
        return Err(format!("tls-protocols '{s}': only TLSv1.2 and TLSv1.3 are supported"));
    }
    Ok(p)
}

/// The TLSv1.3 suites rustls has, by their OpenSSL (IANA) names.
const TLS13_SUITES: &[(&str, SupportedCipherSuite)] = &[
    ("TLS_AES_256_GCM_SHA384", rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384),
    ("TLS_AES_128_GCM_SHA256", rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256),
    ("TLS_CHACHA20_POLY1305_SHA256", rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256),
];

/// The TLSv1.2 suites rustls has, by their OpenSSL names.
const TLS12_SUITES: &[(&str, SupportedCipherSuite)] = &[
    ("ECDHE-ECDSA-AES256-GCM-SHA384", rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
    ("ECDHE-ECDSA-AES128-GCM-SHA256", rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    ("ECDHE-RSA-AES256-GCM-SHA384", rustls::crypto::ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
    ("ECDHE-RSA-AES128-GCM-SHA256", rustls::crypto::ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
    ("ECDHE-RSA-CHACHA20-POLY1305", rustls::crypto::ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
];

/// The suites of `table` a colon-separated OpenSSL list names, in its order; empty: all
/// of them. Names OpenSSL knows but rustls lacks are skipped, as OpenSSL skips names it
/// does not know. For TLSv1.2's cipher strings (`keywords`) the common forms are read:
/// DEFAULT, ALL and HIGH add every suite, `!name` / `-name` take one out; other keywords
/// and aliases are not understood (COMPATIBILITY.md).
fn select_suites(list: &str, table: &[(&str, SupportedCipherSuite)], keywords: bool) -> Vec<SupportedCipherSuite> {
    if list.is_empty() {
        return table.iter().map(|(_, s)| *s).collect();
    }
    let mut out: Vec<SupportedCipherSuite> = Vec::new();
    let find = |name: &str| table.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, s)| *s);
    for word in list.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
        if let Some(name) = word.strip_prefix(['!', '-']).filter(|_| keywords) {
            if let Some(s) = find(name) {
                out.retain(|x| x.suite() != s.suite());
            }
        } else if keywords && ["DEFAULT", "ALL", "HIGH"].iter().any(|k| k.eq_ignore_ascii_case(word)) {
            for (_, s) in table {
                if !out.iter().any(|x| x.suite() == s.suite()) {
                    out.push(*s);
                }
            }
        } else if let Some(s) = find(word.strip_prefix('+').unwrap_or(word)) {
            if !out.iter().any(|x| x.suite() == s.suite()) {
                out.push(s);
            }
        }
    }
    out
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs =
        CertificateDer::pem_file_iter(path).map_err(pem_error)?.collect::<Result<Vec<_>, _>>().map_err(pem_error)?;
    if certs.is_empty() {
        return Err("no certificate found".into());
    }
    Ok(certs)
}

/// The private key (PKCS#8, PKCS#1 or SEC1 PEM). Encrypted keys (tls-key-file-pass) are
/// refused with a message saying so: decrypting PKCS#8 needs a family of crates
/// (COMPATIBILITY.md).
fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    if has(b"ENCRYPTED PRIVATE KEY") || has(b"Proc-Type: 4,ENCRYPTED") {
        return Err("encrypted private keys are not supported (tls-key-file-pass): decrypt the key, e.g. with `openssl pkey -in key.pem -out plain.pem`".into());
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(pem_error)
}

/// The CA certificates of tls-ca-cert-file and of every file of tls-ca-cert-dir (OpenSSL
/// looks certificates up there by their subject hash; here every PEM file is read).
fn load_roots(file: &str, dir: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let mut add = |path: &std::path::Path, strict: bool| -> Result<(), String> {
        let certs = match CertificateDer::pem_file_iter(path).map_err(pem_error) {
            Ok(it) => it.collect::<Result<Vec<_>, _>>().map_err(pem_error),
            Err(e) => Err(e),
        };
        match certs {
            Ok(certs) => {
                for c in certs {
                    roots.add(c).map_err(|e| format!("{}: {e}", path.display()))?;
                }
                Ok(())
            }
            Err(e) if strict => Err(format!("{}: {e}", path.display())),
            Err(_) => Ok(()),
        }
    };
    if !file.is_empty() {
        add(std::path::Path::new(file), true)?;
    }
    if !dir.is_empty() {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))?;
        for e in entries.flatten() {
            if e.path().is_file() {
                add(&e.path(), false)?;
            }
        }
    }
    if roots.is_empty() {
        return Err("no CA certificate found".into());
    }
    Ok(roots)
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => e.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item found".into(),
        e => format!("{e:?}"),
    }
}

/// A TLS connection after its handshake (the module's comment says why not tokio-rustls's).
pub struct TlsStream {
    tcp: TcpStream,
    tls: ServerConnection,
    /// close_notify queued (shutdown).
    closing: bool,
}

/// The socket as rustls's `Read` / `Write` from inside a poll: WouldBlock when tokio says
/// Pending, with the task's waker registered for the socket.
struct Polled<'a, 'b> {
    tcp: &'a mut TcpStream,
    cx: &'a mut Context<'b>,
}

fn pending_to_would_block<T>(p: Poll<io::Result<T>>) -> io::Result<T> {
    match p {
        Poll::Ready(r) => r,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

impl Read for Polled<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut rb = ReadBuf::new(buf);
        pending_to_would_block(Pin::new(&mut *self.tcp).poll_read(self.cx, &mut rb))?;
        Ok(rb.filled().len())
    }
}

impl Write for Polled<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        pending_to_would_block(Pin::new(&mut *self.tcp).poll_write(self.cx, buf))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        pending_to_would_block(Pin::new(&mut *self.tcp).poll_write_vectored(self.cx, bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket as rustls's `Write` outside a poll: what it takes now.
struct Now<'a>(&'a TcpStream);

impl Write for Now<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Send the records rustls holds. True: all went out; false: the socket is full.
fn send(tls: &mut ServerConnection, to: &mut dyn Write) -> io::Result<bool> {
    while tls.wants_write() {
        match tls.write_tls(to) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Read what the socket has into rustls and decrypt it. Ready(Ok(0)): the end of the
/// stream.
fn poll_receive(tcp: &mut TcpStream, tls: &mut ServerConnection, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
    let n = match tls.read_tls(&mut Polled { tcp: &mut *tcp, cx: &mut *cx }) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
        Err(e) => return Poll::Ready(Err(e)),
    };
    if let Err(e) = tls.process_new_packets() {
        // The alert saying why goes out if the socket takes it.
        let _ = send(tls, &mut Now(tcp));
        return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
    }
    // (A TLSv1.3 key update is answered at once.)
    if tls.wants_write() {
        send(tls, &mut Polled { tcp, cx })?;
    }
    Poll::Ready(Ok(n))
}

impl AsyncRead for TlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Records rustls took for a full socket go out while the connection waits for
        // input: the connection loop waits here, not for the write to finish.
        if this.tls.wants_write() {
            send(&mut this.tls, &mut Polled { tcp: &mut this.tcp, cx })?;
        }
        loop {
            let mut copied = 0;
            loop {
                match this.tls.reader().into_first_chunk() {
                    Ok([]) => return Poll::Ready(Ok(())),
                    Ok(chunk) => {
                        let n = chunk.len().min(buf.remaining());
                        buf.put_slice(&chunk[..n]);
                        this.tls.reader().consume(n);
                        copied += n;
                        if buf.remaining() == 0 {
                            return Poll::Ready(Ok(()));
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // The peer closed without close_notify: the end of the stream.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Poll::Ready(Ok(())),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if copied > 0 {
                return Poll::Ready(Ok(()));
            }
            match poll_receive(&mut this.tcp, &mut this.tls, cx) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        for _ in 0..2 {
            // Encrypted into rustls's buffer, up to its limit (64 KiB waiting).
            let n = this.tls.writer().write(buf)?;
            let all_sent = send(&mut this.tls, &mut Polled { tcp: &mut this.tcp, cx })?;
            if n > 0 {
                return Poll::Ready(Ok(n));
            }
            if !all_sent {
                return Poll::Pending;
            }
        }
        Poll::Ready(Err(io::ErrorKind::WriteZero.into()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match send(&mut this.tls, &mut Polled { tcp: &mut this.tcp, cx }) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.closing {
            self.tls.send_close_notify();
            self.closing = true;
        }
        std::task::ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

impl Transport for TlsStream {
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.tls.wants_write() {
            send(&mut self.tls, &mut Polled { tcp: &mut self.tcp, cx })?;
        }
        // rustls holds decrypted bytes (or the peer's close_notify): a read finds them.
        if !self.tls.wants_read() {
            return Poll::Ready(Ok(()));
        }
        self.tcp.poll_read_ready(cx)
    }

    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        for _ in 0..2 {
            let n = self.tls.writer().write(buf)?;
            let all_sent = send(&mut self.tls, &mut Now(&self.tcp))?;
            if n > 0 {
                return Ok(n);
            }
            if !all_sent {
                break;
            }
        }
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// The server side of the handshake on `tcp`: done when rustls is no longer handshaking
/// (its last records may still wait for the socket: the first read sends them).
async fn handshake(mut tcp: TcpStream, mut tls: ServerConnection) -> io::Result<TlsStream> {
    std::future::poll_fn(|cx| loop {
        match send(&mut tls, &mut Polled { tcp: &mut tcp, cx }) {
            Ok(true) => {}
            Ok(false) => return Poll::Pending,
            Err(e) => return Poll::Ready(Err(e)),
        }
        if !tls.is_handshaking() {
            return Poll::Ready(Ok(()));
        }
        match std::task::ready!(poll_receive(&mut tcp, &mut tls, cx)) {
            Ok(0) => return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into())),
            Ok(_) => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    })
    .await?;
    Ok(TlsStream { tcp, tls, closing: false })
}

/// The TLS port: TCP accepted as on the plain port, the handshake on the worker.
pub(super) struct TlsListener {
    pub tcp: TcpListener,
}

impl Listener for TlsListener {
    /// The socket, and the context in force when it was accepted (None: tls-auth-clients
    /// asks for client certificates and there is no CA to verify them).
    type Accepted = (std::net::TcpStream, Option<Arc<ServerConfig>>);
    type Stream = TlsStream;

    async fn accept(&self, srv: &Server) -> io::Result<(Self::Accepted, Peer)> {
        let (stream, peer) = <TcpListener as Listener>::accept(&self.tcp, srv).await?;
        let auth = auth_mode(&srv.config.read());
        Ok(((stream, srv.tls.context(auth)), peer))
    }

    async fn register((stream, context): Self::Accepted, srv: &Server, peer: &Peer) -> io::Result<TlsStream> {
        let tcp = TcpStream::from_std(stream)?;
        let result = match context {
            Some(context) => {
                let secs = srv.timeout_secs.load(std::sync::atomic::Ordering::Relaxed);
                let limit = if secs > 0 { Duration::from_secs(secs) } else { HANDSHAKE_TIMEOUT };
                match ServerConnection::new(context) {
                    Ok(tls) => tokio::time::timeout(limit, handshake(tcp, tls))
                        .await
                        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))),
                    Err(e) => Err(io::Error::other(e)),
                }
            }
            None => Err(io::Error::other("tls-auth-clients needs tls-ca-cert-file or tls-ca-cert-dir")),
        };
        // As Redis's clientAcceptHandler logs a failed accept (a handshake error).
        if let Err(e) = &result {
            log_at(
                srv,
                crate::server::log::WARNING,
                &format!("Error accepting a client connection: {e} (addr={} laddr={})", peer.addr, peer.laddr),
            );
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_protocols_are_parsed_as_redis_parses_them() {
        let both = Protocols { tls12: true, tls13: true };
        assert_eq!(parse_protocols(""), Ok(both));
        assert_eq!(parse_protocols("TLSv1.2 TLSv1.3"), Ok(Protocols { tls12: true, tls13: true }));
        assert_eq!(parse_protocols("tlsv1.3"), Ok(Protocols { tls12: false, tls13: true }));
        assert_eq!(parse_protocols("TLSv1 TLSv1.1 TLSv1.2"), Ok(Protocols { tls12: true, tls13: false }));
        let invalid =
            "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.";
        // sdssplitlen on " ": two spaces or a trailing one make an empty word.
        for bad in ["TLSv1.2  TLSv1.3", "TLSv1.2 ", "SSLv3", "TLSv1.4", "TLSv1.2,TLSv1.3"] {
            assert_eq!(parse_protocols(bad), Err(invalid.to_string()), "{bad}");
        }
        // Valid names, none that rustls speaks.
        assert!(parse_protocols("TLSv1 TLSv1.1").unwrap_err().contains("only TLSv1.2 and TLSv1.3"));
    }

    #[test]
    fn cipher_lists_select_rustls_suites_by_openssl_names() {
        let names = |v: Vec<SupportedCipherSuite>| v.iter().map(|s| format!("{:?}", s.suite())).collect::<Vec<_>>();
        assert_eq!(select_suites("", TLS13_SUITES, false).len(), 3);
        assert_eq!(
            names(select_suites("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256", TLS13_SUITES, false)),
            ["TLS13_CHACHA20_POLY1305_SHA256", "TLS13_AES_128_GCM_SHA256"]
        );
        // Unknown to rustls (CCM) or to anyone: skipped; nothing left: empty.
        assert!(select_suites("TLS_AES_128_CCM_SHA256:bogus", TLS13_SUITES, false).is_empty());
        assert_eq!(
            names(select_suites("ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA", TLS12_SUITES, true)),
            ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
        );
        let all_but = select_suites("HIGH:!ECDHE-RSA-CHACHA20-POLY1305", TLS12_SUITES, true);
        assert_eq!(all_but.len(), TLS12_SUITES.len() - 1);
        // Keywords are for TLSv1.2's cipher strings only.
        assert!(select_suites("DEFAULT", TLS13_SUITES, false).is_empty());
    }

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        let mut c = Config::new();
        for (k, v) in pairs {
            c.load(k, &[v.to_string()]).unwrap();
        }
        c
    }

    /// The configuration errors found before any file is read, in Redis's order and words.
    #[test]
    fn missing_settings_fail_as_redis_logs_them() {
        let err = |c: &Config| build(c).err().unwrap();
        assert_eq!(err(&cfg(&[])), "No tls-cert-file configured!");
        assert_eq!(err(&cfg(&[("tls-cert-file", "/c.pem")])), "No tls-key-file configured!");
        let ca = "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!";
        assert_eq!(err(&cfg(&[("tls-cert-file", "/c.pem"), ("tls-key-file", "/k.pem")])), ca);
        let no_auth = [("tls-cert-file", "/c.pem"), ("tls-key-file", "/k.pem"), ("tls-auth-clients", "no")];
        assert!(err(&cfg(&no_auth)).starts_with("Failed to load certificate: /c.pem: "));
        let bad_protocols = [
            ("tls-cert-file", "/c.pem"),
            ("tls-key-file", "/k.pem"),
            ("tls-auth-clients", "no"),
            ("tls-protocols", "TLSv9"),
        ];
        assert!(err(&cfg(&bad_protocols)).starts_with("Invalid tls-protocols specified."));
    }
}
