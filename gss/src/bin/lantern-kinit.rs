//! `lantern-kinit`: the controller's Kerberos work, one request per process (see
//! `directory_wire::kinit` for why). `lantern-kinit login` reads a principal and password on
//! stdin, performs the AS exchange, and writes the exported credentials on stdout; a wrong
//! password exits with status 3, anything else that fails with 1 and a message on stderr.
//! `lantern-kinit accept` reads a client's token and accepts it with the keytab's keys
//! (`KRB5_KTNAME`): the principal, the reply token and any delegated credentials come back; a
//! refused token exits with status 4. `lantern-kinit ticket` reads a user's exported
//! credentials, an agent's host name and a directive's binding, and writes the proof for the
//! agent (an AP-REQ for `host/<name>` and the binding wrapped under it).

use std::io::{Read, Write};
use std::process::ExitCode;

use directory_wire::kinit::{self as helper, EXIT_BAD_REQUEST, EXIT_WRONG_PASSWORD};
use lantern_gss::Credential;
use zeroize::Zeroizing;

fn main() -> ExitCode {
    let mut input = Zeroizing::new(Vec::new());
    let read = std::io::stdin().take(helper::MAX_MESSAGE as u64).read_to_end(&mut input);
    let command = std::env::args().nth(1);
    match (read, command.as_deref()) {
        (Ok(_), Some("login")) => login(&input),
        (Ok(_), Some("accept")) => accept(&input),
        (Ok(_), Some("ticket")) => ticket(&input),
        _ => {
            eprintln!("usage: lantern-kinit login|accept|ticket < request");
            ExitCode::from(EXIT_BAD_REQUEST as u8)
        }
    }
}

fn write(answer: &[u8]) -> ExitCode {
    let mut out = std::io::stdout();
    if out.write_all(answer).and_then(|()| out.flush()).is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A client's token (from `Authorization: Negotiate`), accepted with the keytab's keys.
fn accept(input: &[u8]) -> ExitCode {
    let Ok(token) = helper::read_accept_request(input) else {
        eprintln!("malformed request");
        return ExitCode::from(EXIT_BAD_REQUEST as u8);
    };
    let accepted = match lantern_gss::accept::accept(&token) {
        Ok(accepted) => accepted,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(helper::EXIT_REFUSED as u8);
        }
    };
    let delegated = match &accepted.delegated {
        Some(credential) => match credential.export() {
            Ok(token) => Some((credential.lifetime().unwrap_or_default(), token)),
            Err(e) => {
                eprintln!("the delegated credentials could not be exported: {e}");
                None
            }
        },
        None => None,
    };
    let answer = helper::AcceptAnswer { principal: accepted.principal, reply: accepted.reply, delegated };
    write(&helper::accept_answer(&answer))
}

/// A user's exported credentials, an agent's host name and a directive's binding: the proof
/// the agent checks (a service ticket for `host/<name>`, asked of the KDC with the user's TGT).
fn ticket(input: &[u8]) -> ExitCode {
    let Ok((credentials, host, binding)) = helper::read_ticket_request(input) else {
        eprintln!("malformed request");
        return ExitCode::from(EXIT_BAD_REQUEST as u8);
    };
    let proof = Credential::import(&credentials).and_then(|c| lantern_gss::directive::prove(&c, &host, &binding));
    match proof {
        Ok((token, wrapped)) => write(&helper::ticket_answer(&token, &wrapped)),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// A principal and password: the AS exchange.
fn login(input: &[u8]) -> ExitCode {
    let Ok((principal, password)) = helper::read_login_request(input) else {
        eprintln!("malformed request");
        return ExitCode::from(EXIT_BAD_REQUEST as u8);
    };
    let credential = match Credential::with_password(&principal, &password) {
        Ok(credential) => credential,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(if e.is_wrong_password() { EXIT_WRONG_PASSWORD as u8 } else { 1 });
        }
    };
    let answer =
        credential.export().map(|token| helper::login_answer(credential.lifetime().unwrap_or_default(), &token));
    match answer {
        Ok(answer) => write(&answer),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
