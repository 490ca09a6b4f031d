//! The messages inside the encrypted channel: one per Noise message.

use shared::wire::codec::{Reader, Writer};

use crate::LinkError;

/// Bytes of stream data in one frame. A frame, sealed, must fit one Noise message (64 KiB).
pub const MAX_DATA: usize = 16 * 1024;
const MAX_TEXT: usize = 4096;
/// A directive's command line.
pub const MAX_COMMAND: usize = 16 * 1024;
const MAX_ADDRESSES: usize = 64;
const MAX_SENSORS: usize = 256;

/// A stream's direction of bytes: what the directive or the console gets, or what it printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputChannel {
    Stdout,
    Stderr,
}

/// What a stream the controller opens is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenKind {
    /// Run a command line (through the agent's configured shell, as its configured user),
    /// ended after `timeout_ms`, or once it has printed `max_output` bytes. `kerberos`: the
    /// user's proof, when the controller holds their delegated credentials.
    Directive { command: String, timeout_ms: u64, max_output: u64, kerberos: Option<KerberosProof> },
    /// The machine's text console: a login shell in a pseudo-terminal of this size.
    Console { cols: u16, rows: u16 },
    /// The machine's own screen: the bytes of a connection to the local VNC server the agent is
    /// configured with (the controller names no address, so it cannot make the agent a way
    /// into anything else on the machine's network).
    Screen,
}

/// A user's Kerberos proof for one directive: an AP-REQ for the agent's `host/` service made
/// from the user's own ticket, and the directive's [`directive_binding`] integrity-protected
/// under that ticket's session (a GSS `wrap` without confidentiality). The agent checks both
/// with its own keytab, so a controller cannot run a command as a user who is not there.
#[derive(Clone, PartialEq, Eq)]
pub struct KerberosProof {
    pub token: Vec<u8>,
    pub wrapped: Vec<u8>,
}

impl std::fmt::Debug for KerberosProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KerberosProof({} + {} bytes)", self.token.len(), self.wrapped.len())
    }
}

/// The largest Kerberos token and wrapped binding a directive may carry.
pub const MAX_KERBEROS_TOKEN: usize = 16 * 1024;

/// What a directive's Kerberos proof protects: the agent's host name, the command and its
/// limits, so that a proof for one directive opens no other.
pub fn directive_binding(host: &str, command: &str, timeout_ms: u64, max_output: u64) -> Vec<u8> {
    let mut out = b"lantern directive v1\0".to_vec();
    out.put_length_prefixed(host.as_bytes());
    out.put_length_prefixed(command.as_bytes());
    out.put_u64(timeout_ms);
    out.put_u64(max_output);
    out
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The exit status, when the program exited by itself.
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    pub duration_ms: u64,
    pub output_bytes: u64,
    /// Why the agent ended it or could not start it ("timed out", "output limit",
    /// "cancelled", "cannot start: ..."); empty when the program ended by itself.
    pub reason: String,
}

/// What the agent tells about its machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub uptime_s: u64,
    pub addresses: Vec<String>,
}

/// One sensor reading, in thousandths of its unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorReading {
    pub id: String,
    pub name: String,
    /// 0 temperature (°C), 1 fan (RPM), 2 voltage (V), 3 power (W), 4 current (A).
    pub kind: u8,
    pub milli: i64,
    /// Lower critical, lower caution, upper caution, upper critical; any may be missing.
    pub thresholds: [Option<i64>; 4],
}

/// What the controller may ask the machine's power to do, through its operating system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerVerb {
    Reboot,
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The agent's first frame: its version, its machine, and whether it can open the
    /// machine's screen (a local VNC server is configured).
    Hello {
        version: String,
        facts: Facts,
        screen: bool,
    },
    /// The controller's first frame: how often it pings (the agent gives up after three
    /// silent intervals) and the host the agent is.
    Welcome {
        ping_every_ms: u64,
        host_id: String,
        name: String,
    },
    Facts(Facts),
    Ping(u64),
    Pong(u64),
    Open {
        stream: u32,
        kind: OpenKind,
    },
    /// Bytes on a stream: to the program (`channel` None) or from it.
    Data {
        stream: u32,
        channel: Option<OutputChannel>,
        bytes: Vec<u8>,
    },
    /// The receiver took `bytes` more of a stream's data: the sender may send that many more.
    Credit {
        stream: u32,
        bytes: u32,
    },
    Resize {
        stream: u32,
        cols: u16,
        rows: u16,
    },
    Cancel {
        stream: u32,
    },
    Exit {
        stream: u32,
        exit: Exit,
    },
    Sensors(Vec<SensorReading>),
    Power {
        request: u32,
        verb: PowerVerb,
    },
    PowerDone {
        request: u32,
        error: Option<String>,
    },
    /// The machine is alive: services the controller's recovery timer.
    Heartbeat,
    /// A refresh's first step: the next generation of the association.
    Ready {
        epoch: u64,
        psk: [u8; 32],
    },
    Acknowledge {
        epoch: u64,
    },
    Confirm {
        epoch: u64,
    },
    /// The sender ends the connection, and says why.
    Goodbye {
        reason: String,
    },
    /// Enrolment: who the agent is from now on, and the first generation.
    Enrolled {
        agent_id: String,
        host_id: String,
        name: String,
        epoch: u64,
        psk: [u8; 32],
    },
    /// Enrolment: the agent has stored it.
    Stored,
}

mod tag {
    pub const HELLO: u8 = 1;
    pub const WELCOME: u8 = 2;
    pub const FACTS: u8 = 3;
    pub const PING: u8 = 4;
    pub const PONG: u8 = 5;
    pub const OPEN: u8 = 6;
    pub const DATA: u8 = 7;
    pub const CREDIT: u8 = 8;
    pub const RESIZE: u8 = 9;
    pub const CANCEL: u8 = 10;
    pub const EXIT: u8 = 11;
    pub const SENSORS: u8 = 12;
    pub const POWER: u8 = 13;
    pub const POWER_DONE: u8 = 14;
    pub const HEARTBEAT: u8 = 15;
    pub const READY: u8 = 16;
    pub const ACKNOWLEDGE: u8 = 17;
    pub const CONFIRM: u8 = 18;
    pub const GOODBYE: u8 = 19;
    pub const ENROLLED: u8 = 20;
    pub const STORED: u8 = 21;
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(match self {
            Frame::Data { bytes, .. } => bytes.len() + 8,
            _ => 64,
        });
        match self {
            Frame::Hello { version, facts, screen } => {
                out.put_u8(tag::HELLO);
                put_str(&mut out, version);
                put_facts(&mut out, facts);
                out.put_u8(u8::from(*screen));
            }
            Frame::Welcome { ping_every_ms, host_id, name } => {
                out.put_u8(tag::WELCOME);
                out.put_u64(*ping_every_ms);
                put_str(&mut out, host_id);
                put_str(&mut out, name);
            }
            Frame::Facts(facts) => {
                out.put_u8(tag::FACTS);
                put_facts(&mut out, facts);
            }
            Frame::Ping(nonce) => {
                out.put_u8(tag::PING);
                out.put_u64(*nonce);
            }
            Frame::Pong(nonce) => {
                out.put_u8(tag::PONG);
                out.put_u64(*nonce);
            }
            Frame::Open { stream, kind } => {
                out.put_u8(tag::OPEN);
                out.put_u32(*stream);
                match kind {
                    OpenKind::Directive { command, timeout_ms, max_output, kerberos } => {
                        out.put_u8(1);
                        put_str(&mut out, command);
                        out.put_u64(*timeout_ms);
                        out.put_u64(*max_output);
                        // Appended, and only when present: an older agent never sees it.
                        if let Some(proof) = kerberos {
                            out.put_u8(1);
                            out.put_length_prefixed(&proof.token);
                            out.put_length_prefixed(&proof.wrapped);
                        }
                    }
                    OpenKind::Console { cols, rows } => {
                        out.put_u8(2);
                        out.put_u16(*cols);
                        out.put_u16(*rows);
                    }
                    OpenKind::Screen => out.put_u8(3),
                }
            }
            Frame::Data { stream, channel, bytes } => {
                out.put_u8(tag::DATA);
                out.put_u32(*stream);
                out.put_u8(match channel {
                    None => 0,
                    Some(OutputChannel::Stdout) => 1,
                    Some(OutputChannel::Stderr) => 2,
                });
                out.put_bytes(bytes);
            }
            Frame::Credit { stream, bytes } => {
                out.put_u8(tag::CREDIT);
                out.put_u32(*stream);
                out.put_u32(*bytes);
            }
            Frame::Resize { stream, cols, rows } => {
                out.put_u8(tag::RESIZE);
                out.put_u32(*stream);
                out.put_u16(*cols);
                out.put_u16(*rows);
            }
            Frame::Cancel { stream } => {
                out.put_u8(tag::CANCEL);
                out.put_u32(*stream);
            }
            Frame::Exit { stream, exit } => {
                out.put_u8(tag::EXIT);
                out.put_u32(*stream);
                put_opt_i32(&mut out, exit.code);
                put_opt_i32(&mut out, exit.signal);
                out.put_u64(exit.duration_ms);
                out.put_u64(exit.output_bytes);
                put_str(&mut out, &exit.reason);
            }
            Frame::Sensors(readings) => {
                out.put_u8(tag::SENSORS);
                out.put_varint(readings.len().min(MAX_SENSORS) as u32);
                for reading in readings.iter().take(MAX_SENSORS) {
                    put_str(&mut out, &reading.id);
                    put_str(&mut out, &reading.name);
                    out.put_u8(reading.kind);
                    out.put_u64(reading.milli as u64);
                    for bound in reading.thresholds {
                        put_opt_i64(&mut out, bound);
                    }
                }
            }
            Frame::Power { request, verb } => {
                out.put_u8(tag::POWER);
                out.put_u32(*request);
                out.put_u8(match verb {
                    PowerVerb::Reboot => 1,
                    PowerVerb::Shutdown => 2,
                });
            }
            Frame::PowerDone { request, error } => {
                out.put_u8(tag::POWER_DONE);
                out.put_u32(*request);
                match error {
                    None => out.put_u8(0),
                    Some(error) => {
                        out.put_u8(1);
                        put_str(&mut out, error);
                    }
                }
            }
            Frame::Heartbeat => out.put_u8(tag::HEARTBEAT),
            Frame::Ready { epoch, psk } => {
                out.put_u8(tag::READY);
                out.put_u64(*epoch);
                out.put_bytes(psk);
            }
            Frame::Acknowledge { epoch } => {
                out.put_u8(tag::ACKNOWLEDGE);
                out.put_u64(*epoch);
            }
            Frame::Confirm { epoch } => {
                out.put_u8(tag::CONFIRM);
                out.put_u64(*epoch);
            }
            Frame::Goodbye { reason } => {
                out.put_u8(tag::GOODBYE);
                put_str(&mut out, reason);
            }
            Frame::Enrolled { agent_id, host_id, name, epoch, psk } => {
                out.put_u8(tag::ENROLLED);
                put_str(&mut out, agent_id);
                put_str(&mut out, host_id);
                put_str(&mut out, name);
                out.put_u64(*epoch);
                out.put_bytes(psk);
            }
            Frame::Stored => out.put_u8(tag::STORED),
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Frame, LinkError> {
        let mut r = Reader::new(bytes);
        let frame = match r.u8("frame tag")? {
            tag::HELLO => {
                let (version, facts) = (text(&mut r, "agent version")?, facts(&mut r)?);
                // Fields are appended as agents learn more: an older agent's hello ends before
                // them (it has none of it), and a newer one's fields after them are skipped, so
                // controllers and agents may be upgraded in any order.
                let screen = r.remaining() > 0 && flag(&mut r, "screen")?;
                r.rest();
                Frame::Hello { version, facts, screen }
            }
            tag::WELCOME => Frame::Welcome {
                ping_every_ms: r.u64("ping interval")?,
                host_id: text(&mut r, "host id")?,
                name: text(&mut r, "host name")?,
            },
            tag::FACTS => Frame::Facts(facts(&mut r)?),
            tag::PING => Frame::Ping(r.u64("ping")?),
            tag::PONG => Frame::Pong(r.u64("pong")?),
            tag::OPEN => {
                let stream = r.u32("stream")?;
                let kind = match r.u8("stream kind")? {
                    1 => OpenKind::Directive {
                        command: r.string(MAX_COMMAND, "command")?.to_string(),
                        timeout_ms: r.u64("time limit")?,
                        max_output: r.u64("output limit")?,
                        kerberos: if r.remaining() > 0 && flag(&mut r, "kerberos")? {
                            Some(KerberosProof {
                                token: r.length_prefixed(MAX_KERBEROS_TOKEN, "kerberos token")?.to_vec(),
                                wrapped: r.length_prefixed(MAX_KERBEROS_TOKEN, "kerberos binding")?.to_vec(),
                            })
                        } else {
                            None
                        },
                    },
                    2 => OpenKind::Console { cols: r.u16("columns")?, rows: r.u16("rows")? },
                    3 => OpenKind::Screen,
                    other => return Err(LinkError::Malformed(format!("unknown stream kind {other}"))),
                };
                Frame::Open { stream, kind }
            }
            tag::DATA => {
                let stream = r.u32("stream")?;
                let channel = match r.u8("channel")? {
                    0 => None,
                    1 => Some(OutputChannel::Stdout),
                    2 => Some(OutputChannel::Stderr),
                    other => return Err(LinkError::Malformed(format!("unknown channel {other}"))),
                };
                let bytes = r.rest();
                if bytes.len() > MAX_DATA {
                    return Err(LinkError::Malformed(format!(
                        "{} bytes of data in one frame (at most {MAX_DATA})",
                        bytes.len()
                    )));
                }
                Frame::Data { stream, channel, bytes: bytes.to_vec() }
            }
            tag::CREDIT => Frame::Credit { stream: r.u32("stream")?, bytes: r.u32("credit")? },
            tag::RESIZE => Frame::Resize { stream: r.u32("stream")?, cols: r.u16("columns")?, rows: r.u16("rows")? },
            tag::CANCEL => Frame::Cancel { stream: r.u32("stream")? },
            tag::EXIT => Frame::Exit {
                stream: r.u32("stream")?,
                exit: Exit {
                    code: opt_i32(&mut r, "exit code")?,
                    signal: opt_i32(&mut r, "signal")?,
                    duration_ms: r.u64("duration")?,
                    output_bytes: r.u64("output size")?,
                    reason: text(&mut r, "exit reason")?,
                },
            },
            tag::SENSORS => {
                let count = r.varint("sensor count")? as usize;
                if count > MAX_SENSORS {
                    return Err(LinkError::Malformed(format!("{count} sensors (at most {MAX_SENSORS})")));
                }
                let mut readings = Vec::with_capacity(count);
                for _ in 0..count {
                    readings.push(SensorReading {
                        id: text(&mut r, "sensor id")?,
                        name: text(&mut r, "sensor name")?,
                        kind: r.u8("sensor kind")?,
                        milli: r.u64("reading")? as i64,
                        thresholds: [
                            opt_i64(&mut r, "threshold")?,
                            opt_i64(&mut r, "threshold")?,
                            opt_i64(&mut r, "threshold")?,
                            opt_i64(&mut r, "threshold")?,
                        ],
                    });
                }
                Frame::Sensors(readings)
            }
            tag::POWER => Frame::Power {
                request: r.u32("power request")?,
                verb: match r.u8("power verb")? {
                    1 => PowerVerb::Reboot,
                    2 => PowerVerb::Shutdown,
                    other => return Err(LinkError::Malformed(format!("unknown power verb {other}"))),
                },
            },
            tag::POWER_DONE => Frame::PowerDone {
                request: r.u32("power request")?,
                error: match r.u8("power outcome")? {
                    0 => None,
                    1 => Some(text(&mut r, "power error")?),
                    other => return Err(LinkError::Malformed(format!("unknown power outcome {other}"))),
                },
            },
            tag::HEARTBEAT => Frame::Heartbeat,
            tag::READY => Frame::Ready { epoch: r.u64("epoch")?, psk: r.array("association key")? },
            tag::ACKNOWLEDGE => Frame::Acknowledge { epoch: r.u64("epoch")? },
            tag::CONFIRM => Frame::Confirm { epoch: r.u64("epoch")? },
            tag::GOODBYE => Frame::Goodbye { reason: text(&mut r, "reason")? },
            tag::ENROLLED => Frame::Enrolled {
                agent_id: text(&mut r, "agent id")?,
                host_id: text(&mut r, "host id")?,
                name: text(&mut r, "host name")?,
                epoch: r.u64("epoch")?,
                psk: r.array("association key")?,
            },
            tag::STORED => Frame::Stored,
            other => return Err(LinkError::Malformed(format!("unknown frame tag {other}"))),
        };
        r.finish("frame")?;
        Ok(frame)
    }

    /// What a log line may say of a frame: its kind, never its contents.
    pub fn kind(&self) -> &'static str {
        match self {
            Frame::Hello { .. } => "hello",
            Frame::Welcome { .. } => "welcome",
            Frame::Facts(_) => "facts",
            Frame::Ping(_) => "ping",
            Frame::Pong(_) => "pong",
            Frame::Open { .. } => "open",
            Frame::Data { .. } => "data",
            Frame::Credit { .. } => "credit",
            Frame::Resize { .. } => "resize",
            Frame::Cancel { .. } => "cancel",
            Frame::Exit { .. } => "exit",
            Frame::Sensors(_) => "sensors",
            Frame::Power { .. } => "power",
            Frame::PowerDone { .. } => "power done",
            Frame::Heartbeat => "heartbeat",
            Frame::Ready { .. } => "ready",
            Frame::Acknowledge { .. } => "acknowledge",
            Frame::Confirm { .. } => "confirm",
            Frame::Goodbye { .. } => "goodbye",
            Frame::Enrolled { .. } => "enrolled",
            Frame::Stored => "stored",
        }
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    // Cut to the limit at a character boundary, so the receiver never refuses our own text.
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.put_length_prefixed(text.get(..end).unwrap_or_default().as_bytes());
}

fn text(r: &mut Reader<'_>, field: &'static str) -> Result<String, LinkError> {
    Ok(r.string(MAX_TEXT, field)?.to_string())
}

fn flag(r: &mut Reader<'_>, field: &'static str) -> Result<bool, LinkError> {
    match r.u8(field)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(LinkError::Malformed(format!("{field}: {other} is neither 0 nor 1"))),
    }
}

fn put_facts(out: &mut Vec<u8>, facts: &Facts) {
    put_str(out, &facts.hostname);
    put_str(out, &facts.os);
    put_str(out, &facts.kernel);
    out.put_u64(facts.uptime_s);
    out.put_u8(facts.addresses.len().min(MAX_ADDRESSES) as u8);
    for address in facts.addresses.iter().take(MAX_ADDRESSES) {
        put_str(out, address);
    }
}

fn facts(r: &mut Reader<'_>) -> Result<Facts, LinkError> {
    let hostname = text(r, "hostname")?;
    let os = text(r, "operating system")?;
    let kernel = text(r, "kernel")?;
    let uptime_s = r.u64("uptime")?;
    let count = usize::from(r.u8("address count")?);
    if count > MAX_ADDRESSES {
        return Err(LinkError::Malformed(format!("{count} addresses (at most {MAX_ADDRESSES})")));
    }
    let addresses = (0..count).map(|_| text(r, "address")).collect::<Result<_, _>>()?;
    Ok(Facts { hostname, os, kernel, uptime_s, addresses })
}

fn put_opt_i32(out: &mut Vec<u8>, value: Option<i32>) {
    match value {
        None => out.put_u8(0),
        Some(v) => {
            out.put_u8(1);
            out.put_u32(v as u32);
        }
    }
}

fn opt_i32(r: &mut Reader<'_>, field: &'static str) -> Result<Option<i32>, LinkError> {
    match r.u8(field)? {
        0 => Ok(None),
        1 => Ok(Some(r.u32(field)? as i32)),
        other => Err(LinkError::Malformed(format!("{field}: unknown presence byte {other}"))),
    }
}

fn put_opt_i64(out: &mut Vec<u8>, value: Option<i64>) {
    match value {
        None => out.put_u8(0),
        Some(v) => {
            out.put_u8(1);
            out.put_u64(v as u64);
        }
    }
}

fn opt_i64(r: &mut Reader<'_>, field: &'static str) -> Result<Option<i64>, LinkError> {
    match r.u8(field)? {
        0 => Ok(None),
        1 => Ok(Some(r.u64(field)? as i64)),
        other => Err(LinkError::Malformed(format!("{field}: unknown presence byte {other}"))),
    }
}
