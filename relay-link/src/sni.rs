//! The server name a browser or agent asks for, read from the first TLS record of its
//! connection (the ClientHello's `server_name` extension, RFC 6066), which is all a relay that
//! passes TLS through unopened may read: the rest of the connection is encrypted end to end.

use shared::wire::codec::Reader;

/// A TLS handshake record, and the ClientHello message inside it.
const HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const SERVER_NAME: u16 = 0;
const HOST_NAME: u8 = 0;
/// A ClientHello that does not fit one record of this size is refused: browsers' fit easily
/// (post-quantum key shares included).
pub const MAX_HELLO: usize = 16 * 1024 + 5;

/// What the first bytes of a connection say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// Not all of the first record is here yet: read more, up to `MAX_HELLO` in all.
    Incomplete,
    /// A ClientHello asking for this name (lowercased), or for none.
    ServerName(Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SniError {
    #[error("not a TLS handshake")]
    NotTls,
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
    #[error("the ClientHello is larger than {MAX_HELLO} bytes")]
    TooLarge,
}

/// Reads the server name from the start of a connection.
pub fn parse(bytes: &[u8]) -> Result<Hello, SniError> {
    let Some(&first) = bytes.first() else { return Ok(Hello::Incomplete) };
    if first != HANDSHAKE {
        return Err(SniError::NotTls);
    }
    if bytes.len() < 5 {
        return Ok(Hello::Incomplete);
    }
    let mut header = Reader::new(bytes);
    let fields = (header.u8("type"), header.u16("version"), header.u16("length"));
    let (Ok(_), Ok(_), Ok(length)) = fields else { return Ok(Hello::Incomplete) };
    let end = 5 + usize::from(length);
    if end > MAX_HELLO {
        return Err(SniError::TooLarge);
    }
    let Some(record) = bytes.get(5..end) else { return Ok(Hello::Incomplete) };
    client_hello(record).map(Hello::ServerName)
}

fn malformed(what: &'static str) -> impl Fn(shared::wire::DecodeError) -> SniError {
    move |_| SniError::Malformed(what)
}

/// A TLS vector (RFC 8446 3.4): a one-byte length, then that many bytes.
fn opaque8<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], SniError> {
    let len = usize::from(r.u8(what).map_err(malformed(what))?);
    r.bytes(len, what).map_err(malformed(what))
}

/// A TLS vector with a two-byte length.
fn opaque16<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], SniError> {
    let len = usize::from(r.u16(what).map_err(malformed(what))?);
    r.bytes(len, what).map_err(malformed(what))
}

fn client_hello(record: &[u8]) -> Result<Option<String>, SniError> {
    let mut r = Reader::new(record);
    if r.u8("message type").map_err(malformed("message type"))? != CLIENT_HELLO {
        return Err(SniError::Malformed("the first handshake message is not a ClientHello"));
    }
    let length = r.bytes(3, "length").map_err(malformed("length"))?;
    let length = length.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
    // The whole message is in this record (a hello split over records is not worth routing).
    let body = r.bytes(length, "ClientHello").map_err(|_| SniError::Malformed("the ClientHello spans records"))?;
    let mut r = Reader::new(body);
    r.bytes(2 + 32, "version and random").map_err(malformed("random"))?;
    opaque8(&mut r, "session id")?;
    opaque16(&mut r, "cipher suites")?;
    opaque8(&mut r, "compression")?;
    if r.remaining() == 0 {
        return Ok(None);
    }
    let mut r = Reader::new(opaque16(&mut r, "extensions")?);
    while r.remaining() > 0 {
        let kind = r.u16("extension").map_err(malformed("extension"))?;
        let data = opaque16(&mut r, "extension")?;
        if kind == SERVER_NAME {
            return server_name(data);
        }
    }
    Ok(None)
}

fn server_name(data: &[u8]) -> Result<Option<String>, SniError> {
    let mut r = Reader::new(data);
    let mut r = Reader::new(opaque16(&mut r, "server names")?);
    while r.remaining() > 0 {
        let kind = r.u8("name type").map_err(malformed("server name"))?;
        let name = opaque16(&mut r, "server name")?;
        if kind == HOST_NAME {
            let name = std::str::from_utf8(name).map_err(|_| SniError::Malformed("the server name is not text"))?;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
                return Err(SniError::Malformed("the server name is not a host name"));
            }
            return Ok(Some(name.to_ascii_lowercase()));
        }
    }
    Ok(None)
}
