//! The messages between the controller and `lantern-kinit` (crate `lantern-gss`), the
//! short-lived process that does the controller's Kerberos work. The GSS library leaves copies
//! of what it handled (the exported ticket's text, intermediate buffers) in freed memory, where
//! no wiping of ours reaches; in a process of its own, they end with it, and the controller
//! links no Kerberos library at all. Every field is a u32 length and
//! its bytes; the answer is the ticket's lifetime in seconds (u64) and the token.

use std::time::Duration;

use zeroize::Zeroizing;

/// The most a request or an answer may be.
pub const MAX_MESSAGE: usize = 128 * 1024;
/// The helper's exit status for a wrong password or unknown principal.
pub const EXIT_WRONG_PASSWORD: i32 = 3;
/// Its exit status for a request it could not read.
pub const EXIT_BAD_REQUEST: i32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed helper message")]
pub struct Malformed;

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field);
}

fn take<'a>(input: &mut &'a [u8]) -> Result<&'a [u8], Malformed> {
    let (len, rest) = input.split_first_chunk::<4>().ok_or(Malformed)?;
    let len = u32::from_be_bytes(*len) as usize;
    let field = rest.get(..len).ok_or(Malformed)?;
    *input = rest.get(len..).ok_or(Malformed)?;
    Ok(field)
}

/// A login request: the principal and the password.
pub fn login_request(principal: &str, password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(8 + principal.len() + password.len()));
    put(&mut out, principal.as_bytes());
    put(&mut out, password.as_bytes());
    out
}

/// The principal and password of a login request.
pub fn read_login_request(mut input: &[u8]) -> Result<(String, Zeroizing<String>), Malformed> {
    let principal = std::str::from_utf8(take(&mut input)?).map_err(|_| Malformed)?.to_string();
    let password = Zeroizing::new(std::str::from_utf8(take(&mut input)?).map_err(|_| Malformed)?.to_string());
    if !input.is_empty() {
        return Err(Malformed);
    }
    Ok((principal, password))
}

/// A login answer: the lifetime and the exported credential token.
pub fn login_answer(lifetime: Duration, token: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(12 + token.len()));
    out.extend_from_slice(&lifetime.as_secs().to_be_bytes());
    put(&mut out, token);
    out
}

pub fn read_login_answer(input: &[u8]) -> Result<(Duration, Zeroizing<Vec<u8>>), Malformed> {
    let (seconds, mut rest) = input.split_first_chunk::<8>().ok_or(Malformed)?;
    let token = Zeroizing::new(take(&mut rest)?.to_vec());
    if !rest.is_empty() || token.is_empty() {
        return Err(Malformed);
    }
    Ok((Duration::from_secs(u64::from_be_bytes(*seconds)), token))
}

/// An acceptance request: the client's token, as its `Authorization: Negotiate` carried it.
pub fn accept_request(token: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + token.len());
    put(&mut out, token);
    out
}

pub fn read_accept_request(mut input: &[u8]) -> Result<Vec<u8>, Malformed> {
    let token = take(&mut input)?.to_vec();
    if !input.is_empty() || token.is_empty() {
        return Err(Malformed);
    }
    Ok(token)
}

/// What an accepted client token came to: who, the reply token, and the credentials the
/// client delegated (their lifetime and exported token) if it did.
#[derive(Debug, PartialEq, Eq)]
pub struct AcceptAnswer {
    pub principal: String,
    pub reply: Vec<u8>,
    pub delegated: Option<(Duration, Zeroizing<Vec<u8>>)>,
}

/// The helper's exit status for a client token it refused (malformed, not for our keys,
/// expired, replayed).
pub const EXIT_REFUSED: i32 = 4;

pub fn accept_answer(answer: &AcceptAnswer) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    put(&mut out, answer.principal.as_bytes());
    put(&mut out, &answer.reply);
    if let Some((lifetime, token)) = &answer.delegated {
        out.extend_from_slice(&lifetime.as_secs().to_be_bytes());
        put(&mut out, token);
    }
    out
}

pub fn read_accept_answer(mut input: &[u8]) -> Result<AcceptAnswer, Malformed> {
    let principal = std::str::from_utf8(take(&mut input)?).map_err(|_| Malformed)?.to_string();
    let reply = take(&mut input)?.to_vec();
    let delegated = if input.is_empty() {
        None
    } else {
        let (seconds, mut rest) = input.split_first_chunk::<8>().ok_or(Malformed)?;
        let token = Zeroizing::new(take(&mut rest)?.to_vec());
        if !rest.is_empty() || token.is_empty() {
            return Err(Malformed);
        }
        Some((Duration::from_secs(u64::from_be_bytes(*seconds)), token))
    };
    if principal.is_empty() {
        return Err(Malformed);
    }
    Ok(AcceptAnswer { principal, reply, delegated })
}

/// A directive's proof request: the user's exported credentials (as their sealed cookie
/// carried them back), the agent's host name, and the binding to protect.
pub fn ticket_request(credentials: &[u8], host: &str, binding: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(12 + credentials.len() + host.len() + binding.len()));
    put(&mut out, credentials);
    put(&mut out, host.as_bytes());
    put(&mut out, binding);
    out
}

/// The credentials (wiped when dropped), host and binding of a proof request.
pub type TicketRequest = (Zeroizing<Vec<u8>>, String, Vec<u8>);

pub fn read_ticket_request(mut input: &[u8]) -> Result<TicketRequest, Malformed> {
    let credentials = Zeroizing::new(take(&mut input)?.to_vec());
    let host = std::str::from_utf8(take(&mut input)?).map_err(|_| Malformed)?.to_string();
    let binding = take(&mut input)?.to_vec();
    if !input.is_empty() || credentials.is_empty() || host.is_empty() {
        return Err(Malformed);
    }
    Ok((credentials, host, binding))
}

/// The proof: the AP-REQ and the wrapped binding.
pub fn ticket_answer(token: &[u8], wrapped: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + token.len() + wrapped.len());
    put(&mut out, token);
    put(&mut out, wrapped);
    out
}

pub fn read_ticket_answer(mut input: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Malformed> {
    let token = take(&mut input)?.to_vec();
    let wrapped = take(&mut input)?.to_vec();
    if !input.is_empty() || token.is_empty() || wrapped.is_empty() {
        return Err(Malformed);
    }
    Ok((token, wrapped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_round_trip_and_cut_ones_are_refused() {
        let request = login_request("alice@EXAMPLE", "pass\0word\n");
        let (principal, password) = read_login_request(&request).unwrap();
        assert_eq!((principal.as_str(), password.as_str()), ("alice@EXAMPLE", "pass\0word\n"));
        let answer = login_answer(Duration::from_secs(36_000), b"token");
        let (lifetime, token) = read_login_answer(&answer).unwrap();
        assert_eq!((lifetime, token.as_slice()), (Duration::from_secs(36_000), &b"token"[..]));
        for cut in 0..request.len() {
            assert!(read_login_request(&request[..cut]).is_err());
        }
        for cut in 0..answer.len() {
            assert!(read_login_answer(&answer[..cut]).is_err());
        }
        assert!(read_login_request(&[0xff; 12]).is_err());
    }

    #[test]
    fn proof_requests_and_answers_round_trip() {
        let request = ticket_request(b"tgt", "db1.example", b"binding");
        let (credentials, host, binding) = read_ticket_request(&request).unwrap();
        assert_eq!(
            (credentials.as_slice(), host.as_str(), binding.as_slice()),
            (&b"tgt"[..], "db1.example", &b"binding"[..])
        );
        let answer = ticket_answer(b"ap-req", b"wrapped");
        assert_eq!(read_ticket_answer(&answer).unwrap(), (b"ap-req".to_vec(), b"wrapped".to_vec()));
        for cut in 0..request.len() {
            assert!(read_ticket_request(&request[..cut]).is_err());
        }
        for cut in 0..answer.len() {
            assert!(read_ticket_answer(&answer[..cut]).is_err());
        }
    }

    #[test]
    fn acceptances_round_trip_with_and_without_delegation() {
        for delegated in [None, Some((Duration::from_secs(600), Zeroizing::new(b"tgt".to_vec())))] {
            let answer = AcceptAnswer { principal: "alice@EXAMPLE".into(), reply: b"ap-rep".to_vec(), delegated };
            let bytes = accept_answer(&answer);
            assert_eq!(read_accept_answer(&bytes).unwrap(), answer);
            for cut in 0..bytes.len() {
                // A cut exactly after the reply reads as "no delegation": any other is refused.
                if let Ok(shorter) = read_accept_answer(&bytes[..cut]) {
                    assert!(shorter.delegated.is_none() && answer.delegated.is_some(), "cut at {cut}");
                }
            }
        }
        assert_eq!(read_accept_request(&accept_request(b"token")).unwrap(), b"token");
        assert!(read_accept_request(&accept_request(b"")).is_err());
    }
}
