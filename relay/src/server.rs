//! The relay at work: one listener for everyone. A connection that starts with TLS is a browser
//! or an agent: its ClientHello's server name says which controller it wants, that controller is
//! asked (on the control connection it dialled) to open a data connection for it, and the two
//! are joined byte for byte, the ClientHello first. A connection that starts with the relay
//! preamble is a controller's: its control connection (registration, pings, path requests) or
//! a data connection taking one path.
//!
//! Nothing here reads past a ClientHello: the TLS session runs between the browser (or agent)
//! and the controller, so the relay holds no key and sees no page, password or console byte.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use agent_link::Pin;
use relay_link::frame::{Decoder, Frame, Kind, PathId, PREAMBLE};
use relay_link::register;
use relay_link::sni::{self, Hello, MAX_HELLO};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;

pub struct Relay {
    config: Config,
    allowed: Vec<Pin>,
    controllers: Mutex<HashMap<String, Registered>>,
    pending: Mutex<HashMap<PathId, Pending>>,
    connections: Mutex<HashMap<IpAddr, usize>>,
    open: AtomicUsize,
    generation: AtomicU64,
}

/// A registered controller, as the paths to it see it.
#[derive(Clone)]
struct Registered {
    generation: u64,
    pin: Pin,
    /// Frames for its control connection (path requests).
    control: mpsc::Sender<Frame>,
    /// Paths waiting for it to attach.
    waiting: Arc<AtomicUsize>,
}

/// A browser's or agent's connection, waiting for its controller's data connection.
struct Pending {
    name: String,
    attach: oneshot::Sender<(TcpStream, Vec<u8>)>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these leaves maps that are still whole.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A connection's place under the limits, freed when it is dropped.
struct Place {
    relay: Arc<Relay>,
    address: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.relay.open.fetch_sub(1, Ordering::Relaxed);
        let mut counts = lock(&self.relay.connections);
        if let Some(n) = counts.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

impl Relay {
    pub fn new(config: Config) -> anyhow::Result<Arc<Self>> {
        let allowed = config.pins()?;
        Ok(Arc::new(Self {
            config,
            allowed,
            controllers: Mutex::default(),
            pending: Mutex::default(),
            connections: Mutex::default(),
            open: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
        }))
    }

    fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Place> {
        let mut counts = lock(&self.connections);
        let here = counts.entry(address).or_insert(0);
        if *here >= self.config.max_connections_per_address
            || self.open.load(Ordering::Relaxed) >= self.config.max_connections
        {
            return None;
        }
        *here += 1;
        self.open.fetch_add(1, Ordering::Relaxed);
        Some(Place { relay: self.clone(), address })
    }

    fn seconds(seconds: u64) -> Duration {
        Duration::from_secs(seconds.max(1))
    }

    /// Accepts connections until the listener fails. Dropping the future ends every connection
    /// it accepted, too (a relay that stops leaves no path half open).
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> anyhow::Result<()> {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            let (socket, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors, say: the next accept may work once some close.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some(place) = self.admit(peer.ip()) else {
                tracing::debug!(%peer, "connection refused: over the limits");
                continue;
            };
            let _ = socket.set_nodelay(true);
            let relay = self.clone();
            connections.spawn(async move {
                if let Err(reason) = relay.connection(socket, peer).await {
                    tracing::info!(%peer, %reason, "connection ended");
                }
                drop(place);
            });
        }
    }

    /// Reads what the connection is, within the hello deadline, and serves it.
    async fn connection(self: &Arc<Self>, mut socket: TcpStream, peer: SocketAddr) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + Self::seconds(self.config.hello_seconds);
        let mut first = Vec::with_capacity(1024);
        let mut buf = [0u8; 4096];
        loop {
            if let (true, Some(&kind)) = (first.starts_with(PREAMBLE), first.get(PREAMBLE.len())) {
                let kind = Kind::from_byte(kind).map_err(|e| e.to_string())?;
                let rest = first.split_off(PREAMBLE.len() + 1);
                return match kind {
                    Kind::Control => self.control(socket, peer, rest).await,
                    Kind::Data => self.data(socket, rest, deadline).await,
                };
            }
            if !PREAMBLE.starts_with(&first[..first.len().min(PREAMBLE.len())]) {
                match sni::parse(&first) {
                    Ok(Hello::Incomplete) => {}
                    Ok(Hello::ServerName(name)) => return self.path(socket, peer, first, name).await,
                    Err(err) => return Err(err.to_string()),
                }
            }
            if first.len() >= MAX_HELLO {
                return Err("nothing recognisable in the first bytes".into());
            }
            let read = tokio::time::timeout_at(deadline, socket.read(&mut buf)).await;
            match read {
                Err(_) => return Err("said nothing in time".into()),
                Ok(Ok(0)) => return Err("closed before saying anything".into()),
                Ok(Ok(n)) => first.extend_from_slice(buf.get(..n).unwrap_or_default()),
                Ok(Err(err)) => return Err(err.to_string()),
            }
        }
    }

    /// A browser or an agent for the controller its TLS names.
    async fn path(
        self: &Arc<Self>,
        mut client: TcpStream,
        peer: SocketAddr,
        hello: Vec<u8>,
        server_name: Option<String>,
    ) -> Result<(), String> {
        let server_name = server_name.ok_or("no server name in the ClientHello")?;
        let name = register::name_for(&server_name, &self.config.domain)
            .ok_or_else(|| format!("{server_name} is not a controller's name here"))?
            .to_string();
        let controller =
            lock(&self.controllers).get(&name).cloned().ok_or_else(|| format!("{name} is not registered"))?;
        if controller.waiting.load(Ordering::Relaxed) >= self.config.max_pending_per_controller {
            return Err(format!("{name} has too many paths waiting"));
        }
        let path: PathId = rand::random();
        let (attach, attached) = oneshot::channel();
        lock(&self.pending).insert(path, Pending { name: name.clone(), attach });
        controller.waiting.fetch_add(1, Ordering::Relaxed);
        let asked = controller.control.try_send(Frame::Open { path, client: peer.to_string() }).is_ok();
        let joined = match asked {
            true => tokio::time::timeout(Self::seconds(self.config.attach_seconds), attached)
                .await
                .ok()
                .and_then(Result::ok),
            false => None,
        };
        controller.waiting.fetch_sub(1, Ordering::Relaxed);
        lock(&self.pending).remove(&path);
        let (mut upstream, early) = joined.ok_or_else(|| format!("{name} did not open the path in time"))?;
        upstream.write_all(&hello).await.map_err(|e| e.to_string())?;
        client.write_all(&early).await.map_err(|e| e.to_string())?;
        tracing::debug!(%peer, %name, "path joined");
        let carried = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        carried.map(|_| ()).map_err(|e| e.to_string())
    }

    /// A data connection: its first frame names the path it takes.
    async fn data(&self, mut socket: TcpStream, rest: Vec<u8>, deadline: tokio::time::Instant) -> Result<(), String> {
        let mut decoder = Decoder::default();
        decoder.feed(&rest);
        let mut buf = [0u8; 512];
        let frame = loop {
            if let Some(frame) = decoder.next_frame().map_err(|e| e.to_string())? {
                break frame;
            }
            match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => decoder.feed(buf.get(..n).unwrap_or_default()),
                _ => return Err("a data connection attached nothing".into()),
            }
        };
        let Frame::Attach { path } = frame else {
            return Err("a data connection's first frame is not an attach".into());
        };
        let pending = lock(&self.pending).remove(&path).ok_or("a data connection for no waiting path")?;
        tracing::debug!(name = %pending.name, "path attached");
        pending.attach.send((socket, decoder.take_rest())).map_err(|_| "the path's client left".to_string())
    }

    /// A controller's control connection: the challenge, its registration, then path requests
    /// and pings until it goes (or another connection of the same controller replaces it).
    async fn control(self: &Arc<Self>, socket: TcpStream, peer: SocketAddr, rest: Vec<u8>) -> Result<(), String> {
        let (mut reader, mut writer) = socket.into_split();
        let nonce: [u8; 32] = rand::random();
        writer.write_all(&Frame::Challenge { nonce }.encode()).await.map_err(|e| e.to_string())?;
        let mut decoder = Decoder::default();
        decoder.feed(&rest);
        let hello = Self::seconds(self.config.hello_seconds);
        let frame = tokio::time::timeout(hello, next_frame(&mut reader, &mut decoder))
            .await
            .map_err(|_| "no registration in time".to_string())??;
        let refuse = |reason: String| Frame::Refused { reason }.encode();
        let Frame::Register { name, key, signature } = frame else {
            let _ = writer.write_all(&refuse("register first".into())).await;
            return Err("a control connection that did not register".into());
        };
        let pin = match register::verify(&nonce, &name, &key, &signature, &self.allowed) {
            Ok(pin) => pin,
            Err(err) => {
                let _ = writer.write_all(&refuse(err.to_string())).await;
                return Err(format!("registration of {name:?} refused: {err}"));
            }
        };
        let (control, mut requests) = mpsc::channel(self.config.max_pending_per_controller.max(1));
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let me = Registered { generation, pin, control, waiting: Arc::default() };
        if !self.take_name(&name, me) {
            let _ = writer.write_all(&refuse(format!("{name} is registered by another controller"))).await;
            return Err(format!("{name} is taken by another key"));
        }
        let host = if self.config.domain.is_empty() { name.clone() } else { format!("{name}.{}", self.config.domain) };
        tracing::info!(%peer, %name, %pin, "controller registered");
        let outcome = self.registered(&mut reader, &mut writer, &mut decoder, &mut requests, host).await;
        let mut controllers = lock(&self.controllers);
        if controllers.get(&name).is_some_and(|held| held.generation == generation) {
            controllers.remove(&name);
        }
        tracing::info!(%name, "controller left");
        outcome
    }

    /// Registers `name` unless another key holds it. The same controller again (it reconnected)
    /// takes over: its newer connection serves.
    fn take_name(&self, name: &str, me: Registered) -> bool {
        let mut controllers = lock(&self.controllers);
        if controllers.get(name).is_some_and(|held| held.pin != me.pin) {
            return false;
        }
        controllers.insert(name.to_string(), me);
        true
    }

    async fn registered(
        &self,
        reader: &mut tokio::net::tcp::OwnedReadHalf,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
        decoder: &mut Decoder,
        requests: &mut mpsc::Receiver<Frame>,
        host: String,
    ) -> Result<(), String> {
        let send = |frame: Frame| frame.encode();
        writer.write_all(&send(Frame::Registered { host })).await.map_err(|e| e.to_string())?;
        let every = Self::seconds(self.config.ping_seconds);
        let mut ping = tokio::time::interval(every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = tokio::time::Instant::now();
        let mut nonce = 0u64;
        loop {
            tokio::select! {
                frame = next_frame(reader, decoder) => match frame? {
                    Frame::Ping(n) => {
                        heard = tokio::time::Instant::now();
                        writer.write_all(&send(Frame::Pong(n))).await.map_err(|e| e.to_string())?;
                    }
                    Frame::Pong(_) => heard = tokio::time::Instant::now(),
                    other => return Err(format!("unexpected {other:?} on a control connection")),
                },
                request = requests.recv() => match request {
                    Some(frame) => writer.write_all(&send(frame)).await.map_err(|e| e.to_string())?,
                    // Replaced by a newer connection of the same controller.
                    None => return Ok(()),
                },
                _ = ping.tick() => {
                    if heard.elapsed() > every * 2 + every / 2 {
                        return Err("the controller stopped answering pings".into());
                    }
                    nonce += 1;
                    writer.write_all(&send(Frame::Ping(nonce))).await.map_err(|e| e.to_string())?;
                }
            }
        }
    }
}

/// The next frame from a controller's connection.
async fn next_frame(reader: &mut tokio::net::tcp::OwnedReadHalf, decoder: &mut Decoder) -> Result<Frame, String> {
    let mut buf = [0u8; 1024];
    loop {
        if let Some(frame) = decoder.next_frame().map_err(|e| e.to_string())? {
            return Ok(frame);
        }
        match reader.read(&mut buf).await {
            Ok(0) => return Err("the controller closed the connection".into()),
            Ok(n) => decoder.feed(buf.get(..n).unwrap_or_default()),
            Err(err) => return Err(err.to_string()),
        }
    }
}
