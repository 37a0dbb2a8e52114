//! The processes' connections and the one timely dataflow that carries every exchange.
//!
//! Connection setup is ours, not timely's: timely's own retries forever (a peer that never
//! starts hangs the others) and prints to stdout. Here each process listens on its address and
//! connects to every process of lower index, retrying until a deadline, so the start order does
//! not matter and a peer that cannot be reached is named. The connected sockets are handed to
//! timely (`initialize_networking_from_sockets`), wrapped to count the bytes sent and to note
//! which peer's connection broke.
//!
//! The dataflow is one input, exchanged by destination process, collected at the other end; one
//! epoch per exchange. The driver's stages run on the calling thread (on the rayon pool) and
//! hand each exchange to the timely worker thread through a channel: timely moves the bytes and
//! tells when every process has sent all of an epoch's, the stages stay plain functions over
//! borrowed data.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_bytes::ByteBuf;
use timely::communication::allocator::zero_copy::initialize::{
    initialize_networking_from_sockets, CommsGuard,
};
use timely::communication::allocator::zero_copy::stream::Stream;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::Hooks;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::Input;
use timely::dataflow::InputHandle;
use timely::WorkerConfig;

use crate::error::{Error, Result};

/// Written first on every connection: "syndic" and a version of this protocol, the sender's
/// index and the number of processes (a peer started with another hosts file is refused).
const MAGIC: u64 = 0x5359_4e44_4943_0001;

/// What one process sends or receives in one exchange: `(process, bytes)`.
type Batch = Vec<(usize, Vec<u8>)>;

/// One message: destination process, source process, sequence number within the epoch, bytes.
/// The bytes are a `ByteBuf`: timely serializes its messages with bincode through serde, which
/// writes and reads a `Vec<u8>` one element at a time (that took 0.3 to 0.5 s of each process's
/// CPU on gen_news 200k), a byte string with one copy.
type Msg = (u64, u64, u64, ByteBuf);

/// What this process knows of its peers' connections: the first broken one (for the message).
#[derive(Default)]
struct Broken(Mutex<Option<(usize, String)>>);

impl Broken {
    fn note(&self, peer: usize, what: String) {
        let mut b = self.0.lock().unwrap_or_else(|p| p.into_inner());
        b.get_or_insert((peer, what));
    }
}

/// A connection to one peer as timely sees it: counts the bytes written and notes a broken
/// connection (a read or write error, or the end of the stream).
struct Counted {
    stream: TcpStream,
    peer: usize,
    sent: Arc<AtomicU64>,
    broken: Arc<Broken>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.stream.read(buf) {
            Ok(0) if !buf.is_empty() => {
                // Also the end of a clean shutdown: only read when timely has failed.
                self.broken
                    .note(self.peer, "its connection closed".to_string());
                Ok(0)
            }
            Err(e) => {
                self.broken.note(self.peer, format!("reading failed: {e}"));
                Err(e)
            }
            ok => ok,
        }
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.stream.write(buf) {
            Ok(n) => {
                self.sent.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                self.broken.note(self.peer, format!("writing failed: {e}"));
                Err(e)
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Stream for Counted {
    fn try_clone(&self) -> io::Result<Self> {
        Ok(Counted {
            stream: self.stream.try_clone()?,
            peer: self.peer,
            sent: Arc::clone(&self.sent),
            broken: Arc::clone(&self.broken),
        })
    }
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.stream.set_nonblocking(nonblocking)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.stream.shutdown(how)
    }
}

fn net_error(e: io::Error) -> Error {
    Error::Distributed(format!("network: {e}"))
}

fn peer_error(addresses: &[String], peer: usize, what: impl std::fmt::Display) -> Error {
    Error::Peer {
        process: peer,
        address: addresses[peer].clone(),
        message: what.to_string(),
    }
}

/// Connects to every other process: accepts the connections of the processes after this one,
/// connects to those before it (retrying until `timeout`), whatever order they start in.
fn connect(addresses: &[String], me: usize, timeout: Duration) -> Result<Vec<Option<TcpStream>>> {
    let n = addresses.len();
    let deadline = Instant::now() + timeout;
    let listener = TcpListener::bind(&addresses[me]).map_err(|e| {
        Error::Param(format!(
            "cannot listen on {} (process {me} in the hosts file): {e}",
            addresses[me]
        ))
    })?;
    listener.set_nonblocking(true).map_err(net_error)?;
    let hello = |s: &mut TcpStream| -> io::Result<()> {
        let mut b = Vec::with_capacity(24);
        for x in [MAGIC, me as u64, n as u64] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        s.write_all(&b)
    };
    let read_hello = |s: &mut TcpStream| -> io::Result<(u64, u64, u64)> {
        let mut b = [0u8; 24];
        s.read_exact(&mut b)?;
        let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Ok((w(0), w(1), w(2)))
    };
    let mut sockets: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    // Connect to each lower process in turn, retrying while it is not up yet.
    std::thread::scope(|s| -> Result<()> {
        let accepting = s.spawn(|| -> Result<Vec<(usize, TcpStream)>> {
            let mut got = Vec::new();
            while got.len() < n - me - 1 {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false).map_err(net_error)?;
                        stream
                            .set_read_timeout(Some(Duration::from_secs(10)))
                            .map_err(net_error)?;
                        let (magic, from, peers) = match read_hello(&mut stream) {
                            Ok(h) => h,
                            Err(_) => continue, // not one of ours (a port scan, a health check)
                        };
                        if magic != MAGIC || from as usize <= me || from as usize >= n {
                            continue;
                        }
                        if peers as usize != n {
                            return Err(peer_error(
                                addresses,
                                from as usize,
                                format!("it was started with {peers} processes, this one with {n} (the hosts files differ)"),
                            ));
                        }
                        stream.set_read_timeout(None).map_err(net_error)?;
                        stream.set_nodelay(true).map_err(net_error)?;
                        got.retain(|(p, _)| *p != from as usize);
                        got.push((from as usize, stream));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if Instant::now() > deadline {
                            let missing = (me + 1..n)
                                .find(|p| !got.iter().any(|(q, _)| q == p))
                                .expect("a missing peer");
                            return Err(peer_error(
                                addresses,
                                missing,
                                format!(
                                    "it did not connect within {} s (is it started, with the same hosts file?)",
                                    timeout.as_secs()
                                ),
                            ));
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => return Err(net_error(e)),
                }
            }
            Ok(got)
        });
        for (p, address) in addresses.iter().enumerate().take(me) {
            let stream = loop {
                let attempt = address
                    .to_socket_addrs()
                    .and_then(|mut a| {
                        a.next().ok_or_else(|| {
                            io::Error::new(io::ErrorKind::NotFound, "no address for the host")
                        })
                    })
                    .and_then(|a| {
                        TcpStream::connect_timeout(&a, Duration::from_secs(2)).and_then(|mut s| {
                            hello(&mut s)?;
                            Ok(s)
                        })
                    });
                match attempt {
                    Ok(s) => break s,
                    Err(e) if Instant::now() > deadline => {
                        return Err(peer_error(
                            addresses,
                            p,
                            format!(
                                "cannot connect within {} s ({e}; is it started, with the same hosts file?)",
                                timeout.as_secs()
                            ),
                        ))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            };
            stream.set_nodelay(true).map_err(net_error)?;
            sockets[p] = Some(stream);
        }
        let accepted = accepting
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        for (p, s) in accepted {
            sockets[p] = Some(s);
        }
        Ok(())
    })?;
    Ok(sockets)
}

/// This process's end of a run over several processes: exchanges bytes with the others, one
/// epoch at a time.
pub(crate) struct Net {
    addresses: Vec<String>,
    me: usize,
    to_worker: Option<mpsc::Sender<Batch>>,
    from_worker: mpsc::Receiver<Batch>,
    worker: Option<timely::communication::WorkerGuards<()>>,
    comms: Option<CommsGuard>,
    sent: Arc<AtomicU64>,
    broken: Arc<Broken>,
    /// A second handle on each peer's connection, read only once the run has failed (see
    /// [`ended`]).
    probes: Vec<Option<TcpStream>>,
    /// Bytes sent per step (see [`Net::mark`]), and the count at the last mark.
    marks: Vec<(String, u64)>,
    marked: u64,
}

impl Net {
    /// Connects to the other processes (see [`connect`]) and starts the timely worker.
    pub fn start(addresses: Vec<String>, me: usize, timeout: Duration) -> Result<Net> {
        let sockets = connect(&addresses, me, timeout)?;
        let probes = sockets
            .iter()
            .map(|s| s.as_ref().map(TcpStream::try_clone).transpose())
            .collect::<io::Result<_>>()
            .map_err(net_error)?;
        let sent = Arc::new(AtomicU64::new(0));
        let broken = Arc::new(Broken::default());
        let sockets: Vec<Option<Counted>> = sockets
            .into_iter()
            .enumerate()
            .map(|(peer, s)| {
                s.map(|stream| Counted {
                    stream,
                    peer,
                    sent: Arc::clone(&sent),
                    broken: Arc::clone(&broken),
                })
            })
            .collect();
        let hooks = Hooks::default();
        let local = ProcessBuilder::new_typed_vector(1, hooks.refill.clone(), hooks.spill.clone());
        let (builders, comms) =
            initialize_networking_from_sockets(local, sockets, me, 1, hooks).map_err(net_error)?;
        let builders = builders.into_iter().map(AllocatorBuilder::Tcp).collect();
        let (to_worker, commands) = mpsc::channel::<Batch>();
        let (replies, from_worker) = mpsc::channel();
        let commands = Mutex::new(Some(commands));
        let replies = Mutex::new(Some(replies));
        let worker = timely::execute::execute_from(
            builders,
            Box::new(()),
            WorkerConfig::default(),
            move |worker| {
                let commands = commands.lock().expect("one worker").take().expect("once");
                let replies = replies.lock().expect("one worker").take().expect("once");
                let me = worker.index() as u64;
                let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<Msg>>>::new();
                // What arrived, by epoch, and the least epoch still open at the collector.
                let got: Rc<RefCell<BTreeMap<u64, Vec<Msg>>>> = Rc::default();
                let open: Rc<RefCell<u64>> = Rc::default();
                let (g, o) = (Rc::clone(&got), Rc::clone(&open));
                worker.dataflow::<u64, _, _>(|scope| {
                    scope.input_from(&mut input).sink(
                        Exchange::new(|m: &Msg| m.0),
                        "collect",
                        move |(input, frontier)| {
                            input.for_each(|cap, data| {
                                g.borrow_mut()
                                    .entry(cap.least().copied().unwrap_or(0))
                                    .or_default()
                                    .append(data);
                            });
                            *o.borrow_mut() = frontier
                                .frontier()
                                .iter()
                                .min()
                                .copied()
                                .unwrap_or(u64::MAX);
                        },
                    );
                });
                for sends in commands {
                    let epoch = *input.time();
                    for (seq, (dest, bytes)) in sends.into_iter().enumerate() {
                        input.send((dest as u64, me, seq as u64, ByteBuf::from(bytes)));
                    }
                    input.advance_to(epoch + 1);
                    while *open.borrow() <= epoch {
                        worker.step_or_park(Some(Duration::from_millis(50)));
                    }
                    let mut msgs = got.borrow_mut().remove(&epoch).unwrap_or_default();
                    msgs.sort_unstable_by_key(|m| (m.1, m.2));
                    let out = msgs
                        .into_iter()
                        .map(|m| (m.1 as usize, m.3.into_vec()))
                        .collect();
                    if replies.send(out).is_err() {
                        break;
                    }
                }
            },
        )
        .map_err(|e| Error::Param(format!("cannot start timely: {e}")))?;
        Ok(Net {
            addresses,
            me,
            to_worker: Some(to_worker),
            from_worker,
            worker: Some(worker),
            comms: Some(comms),
            sent,
            broken,
            probes,
            marks: Vec::new(),
            marked: 0,
        })
    }

    pub fn me(&self) -> usize {
        self.me
    }

    pub fn peers(&self) -> usize {
        self.addresses.len()
    }

    /// Bytes this process has written to its peers' connections so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Ends step `step`: the bytes sent since the last mark are its.
    pub fn mark(&mut self, step: &str) {
        let now = self.bytes_sent();
        self.marks.push((step.to_string(), now - self.marked));
        self.marked = now;
    }

    /// Bytes sent in each step marked, in order.
    pub fn marks(&self) -> &[(String, u64)] {
        &self.marks
    }

    /// One epoch: sends each `(process, bytes)` and returns what every process sent this one,
    /// as `(process, bytes)` in order of sender, then of sending. Every process must call it
    /// the same number of times (with nothing to send, too).
    pub fn exchange(&mut self, sends: Batch) -> Result<Batch> {
        let sent = self
            .to_worker
            .as_ref()
            .expect("a running exchange")
            .send(sends);
        match sent.ok().and_then(|_| self.from_worker.recv().ok()) {
            Some(got) => Ok(got),
            None => Err(self.failure()),
        }
    }

    /// The error of a run whose timely worker stopped: names the peer whose connection broke
    /// first here, and every other peer whose connection has ended too. When a process dies,
    /// another may fail and exit before this one's reader of the dead one's connection has run:
    /// this one may then see that other's connection break first, and it names both.
    fn failure(&mut self) -> Error {
        // The worker has stopped (it panicked on the broken connection); its threads are not
        // joined: a panicked network thread would panic the join.
        std::mem::forget(self.worker.take());
        std::mem::forget(self.comms.take());
        let first = self
            .broken
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let gone = ended(&self.probes);
        let name = |q: usize| format!("process {q} ({})", self.addresses[q]);
        let (peer, what) = match (first, gone.first()) {
            (Some(f), _) => f,
            (None, Some(&q)) => (q, "its connection closed".to_string()),
            (None, None) => return Error::Param("the exchange between processes stopped".into()),
        };
        let others: Vec<String> = gone
            .iter()
            .filter(|&&q| q != peer)
            .map(|&q| name(q))
            .collect();
        let also = match others.is_empty() {
            true => String::new(),
            false => format!("; the connection of {} ended too", others.join(" and ")),
        };
        peer_error(
            &self.addresses,
            peer,
            format!("{what}: the process stopped or became unreachable{also}"),
        )
    }

    /// Ends the run: waits until every process has ended it (so that none exits before the
    /// others have all they need), and closes the connections cleanly.
    pub fn finish(mut self) -> Result<()> {
        drop(self.to_worker.take());
        let joined = self.worker.take().expect("a worker").join();
        if joined.iter().any(|r| r.is_err()) {
            return Err(self.failure());
        }
        drop(self.comms.take());
        Ok(())
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // An error path: leave the threads (the process is about to exit with the error).
        std::mem::forget(self.worker.take());
        std::mem::forget(self.comms.take());
    }
}

/// The peers whose connections have ended, in order: each connection is read to its end
/// without blocking (the run has failed: what is left unread is of no use), for a moment in
/// case an end is still on its way.
#[cfg(unix)]
fn ended(connections: &[Option<TcpStream>]) -> Vec<usize> {
    use std::os::fd::AsRawFd;
    let deadline = Instant::now() + Duration::from_millis(300);
    let mut open: Vec<usize> = (0..connections.len())
        .filter(|&q| connections[q].is_some())
        .collect();
    let mut gone = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while !open.is_empty() {
        let mut still = Vec::new();
        for &q in &open {
            let fd = connections[q].as_ref().expect("a connection").as_raw_fd();
            let ended = loop {
                // SAFETY: `fd` is a socket this process holds open (borrowed from
                // `connections`), and `buf` is writable for its length.
                let r = unsafe {
                    libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT)
                };
                match r {
                    0 => break true,
                    r if r > 0 && Instant::now() < deadline => continue,
                    r if r > 0 => break false,
                    _ => match io::Error::last_os_error().kind() {
                        io::ErrorKind::Interrupted => continue,
                        io::ErrorKind::WouldBlock => break false,
                        _ => break true, // reset
                    },
                }
            };
            if ended {
                gone.push(q);
            } else {
                still.push(q);
            }
        }
        open = still;
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    gone.sort_unstable();
    gone
}

#[cfg(not(unix))]
fn ended(_: &[Option<TcpStream>]) -> Vec<usize> {
    Vec::new()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A connected pair of loopback sockets.
    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    /// A connection whose peer has closed it is found ended, data unread before the end or not;
    /// one whose peer is still there is not, nor is a missing one (this process's own).
    #[test]
    fn connections_read_to_their_end_tell_which_peers_are_gone() {
        let (open, _kept) = pair();
        let (closed, mut peer) = pair();
        let (closed_with_data, mut other) = pair();
        other.write_all(&[7; 100_000]).unwrap();
        drop(other);
        peer.flush().unwrap();
        drop(peer);
        let connections = vec![Some(open), None, Some(closed), Some(closed_with_data)];
        assert_eq!(ended(&connections), [2, 3]);
    }
}
