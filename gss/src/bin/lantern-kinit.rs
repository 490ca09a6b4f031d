//! `lantern-kinit`: the controller's Kerberos work, one request per process (see
//! `directory_wire::kinit` for why). `lantern-kinit login` reads a principal and password on
//! stdin, performs the AS exchange, and writes the exported credentials on stdout; a wrong
//! password exits with status 3, anything else that fails with 1 and a message on stderr.

use std::io::{Read, Write};
use std::process::ExitCode;

use directory_wire::kinit::{self as helper, EXIT_BAD_REQUEST, EXIT_WRONG_PASSWORD};
use lantern_gss::Credential;
use zeroize::Zeroizing;

fn main() -> ExitCode {
    let mut input = Zeroizing::new(Vec::new());
    let read = std::io::stdin().take(helper::MAX_MESSAGE as u64).read_to_end(&mut input);
    if read.is_err() || std::env::args().nth(1).as_deref() != Some("login") {
        eprintln!("usage: lantern-kinit login < request");
        return ExitCode::from(EXIT_BAD_REQUEST as u8);
    }
    let Ok((principal, password)) = helper::read_login_request(&input) else {
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
        Ok(answer) if std::io::stdout().write_all(&answer).and_then(|()| std::io::stdout().flush()).is_ok() => {
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
