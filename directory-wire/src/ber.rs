//! LDAP message framing (RFC 4511 section 5.1: each LDAPMessage is a BER SEQUENCE with a
//! definite length). The framer follows message boundaries in a byte stream without keeping
//! the bodies: it only needs each message's header (a tag byte and at most five length
//! bytes), so a pump can check a stream as it passes and stop at the first message over the
//! limit.

/// The largest message header: tag, a long-form length byte, and four length bytes.
const MAX_HEADER: usize = 6;
/// BER's universal constructed SEQUENCE tag: every LDAPMessage starts with it.
pub const SEQUENCE: u8 = 0x30;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("the directory sent a message that is not an LDAP message (tag {0:#04x})")]
    NotAMessage(u8),
    #[error("the directory sent a message of indefinite or malformed length")]
    BadLength,
    #[error("the directory sent a message of {length} bytes, more than the {limit} allowed")]
    TooLarge { length: u64, limit: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a header; `len` bytes of it are in `header`.
    Header { header: [u8; MAX_HEADER], len: usize },
    /// Inside a body: this many bytes of it are still to come.
    Body { remaining: u64 },
}

/// Follows the messages of one direction of an LDAP connection.
#[derive(Debug, Clone)]
pub struct Framer {
    limit: usize,
    state: State,
    messages: u64,
    failed: Option<FrameError>,
}

/// What a header's bytes so far say.
enum Header {
    Incomplete,
    /// The header is this long and announces a body of this many bytes.
    Complete {
        header: usize,
        body: u64,
    },
}

fn parse_header(bytes: &[u8]) -> Result<Header, FrameError> {
    let Some(&tag) = bytes.first() else { return Ok(Header::Incomplete) };
    if tag != SEQUENCE {
        return Err(FrameError::NotAMessage(tag));
    }
    let Some(&first) = bytes.get(1) else { return Ok(Header::Incomplete) };
    if first < 0x80 {
        return Ok(Header::Complete { header: 2, body: u64::from(first) });
    }
    // Long form: the low bits count the length bytes. 0x80 (indefinite) is not allowed in
    // LDAP, and more than four bytes would announce more than any message we accept.
    let count = usize::from(first & 0x7f);
    if count == 0 || count > MAX_HEADER - 2 {
        return Err(FrameError::BadLength);
    }
    let Some(length) = bytes.get(2..2 + count) else { return Ok(Header::Incomplete) };
    let body = length.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
    Ok(Header::Complete { header: 2 + count, body })
}

impl Framer {
    /// A framer refusing messages (header and body) longer than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { limit, state: State::Header { header: [0; MAX_HEADER], len: 0 }, messages: 0, failed: None }
    }

    /// Whole messages seen so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Whether the stream is between two messages.
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Header { len: 0, .. })
    }

    /// Follows `bytes`. After an error the framer stays failed: the connection must end.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        while !bytes.is_empty() {
            match &mut self.state {
                State::Body { remaining } => {
                    let take = (*remaining).min(bytes.len() as u64);
                    *remaining -= take;
                    bytes = bytes.get(take as usize..).unwrap_or_default();
                    if *remaining == 0 {
                        self.end_message();
                    }
                }
                State::Header { header, len } => {
                    // Take one byte at a time: a header is at most six bytes, and a byte too
                    // many would belong to the body.
                    let (&byte, rest) = bytes.split_first().unwrap_or((&0, &[]));
                    bytes = rest;
                    header[*len] = byte;
                    *len += 1;
                    match parse_header(&header[..*len]) {
                        Err(err) => return Err(self.fail(err)),
                        Ok(Header::Incomplete) => {}
                        Ok(Header::Complete { header, body }) => {
                            let length = header as u64 + body;
                            if length > self.limit as u64 {
                                return Err(self.fail(FrameError::TooLarge { length, limit: self.limit }));
                            }
                            if body == 0 {
                                self.end_message();
                            } else {
                                self.state = State::Body { remaining: body };
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn end_message(&mut self) {
        self.messages += 1;
        self.state = State::Header { header: [0; MAX_HEADER], len: 0 };
    }

    fn fail(&mut self, err: FrameError) -> FrameError {
        self.failed = Some(err.clone());
        err
    }
}

/// One BER element: its tag, its contents, and the bytes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    pub tag: u8,
    pub contents: &'a [u8],
}

/// Reads one definite-length element (single-byte tags only, as LDAP's are) from the front
/// of `bytes`: the element and what follows it, or `None` when `bytes` is malformed or cut.
pub fn element(bytes: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let digits = rest.get(..count)?;
        let length = digits.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
        (length, rest.get(count..)?)
    };
    let contents = rest.get(..length)?;
    Some((Element { tag, contents }, rest.get(length..)?))
}
