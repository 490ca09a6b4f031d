//! Kerberos-authenticated directives (`[kerberos]` in `agent.toml`): a directive carrying its
//! user's proof (an AP-REQ for this machine's `host/` service, made from the user's own ticket,
//! and the directive's binding wrapped under it) runs as the local account mapped from the
//! principal. The proof is checked here, with this machine's keytab, whatever the controller
//! says: with `require = true` a directive without a valid proof is refused, so a compromised
//! controller cannot run commands as a user who is not there.

use std::path::PathBuf;

use agent_link::KerberosProof;
use serde::Deserialize;

/// `[kerberos]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KerberosConfig {
    /// The keytab with this machine's `host/<its hostname>@REALM` keys (the hostname it
    /// reports, which the controller asks a ticket for).
    pub keytab: PathBuf,
    /// Refuse directives that carry no valid proof.
    #[serde(default)]
    pub require: bool,
    /// Principals and the local accounts their directives run as.
    #[serde(default)]
    pub accounts: Vec<Account>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub principal: String,
    pub account: String,
}

/// What the user is told when a proof was needed and none came.
pub const NO_PROOF: &str = "this machine runs directives only for users who prove themselves with Kerberos, and \
    this request carried no proof of yours: log in with your Kerberos password (or by single sign-on with a \
    delegated ticket) and run it again";

/// A directive's Kerberos proof, as the agent saw it.
pub struct Directive<'a> {
    pub command: &'a str,
    pub timeout_ms: u64,
    pub max_output: u64,
    pub proof: Option<&'a KerberosProof>,
}

/// The local account `directive` runs as: `Ok(None)` for the configured `run_as` (no
/// `[kerberos]`, or a directive without proof where none is required); the refusal otherwise.
/// `host` is this machine's hostname, the name in its `host/` principal.
pub fn authorize(
    config: Option<&KerberosConfig>,
    host: &str,
    directive: &Directive<'_>,
) -> Result<Option<String>, String> {
    let Some(config) = config else { return Ok(None) };
    let Some(proof) = directive.proof else {
        return if config.require { Err(NO_PROOF.to_string()) } else { Ok(None) };
    };
    let (principal, binding) = verify(proof)?;
    let expected = agent_link::directive_binding(host, directive.command, directive.timeout_ms, directive.max_output);
    if binding != expected {
        return Err("the Kerberos proof is for another directive or machine: refused".to_string());
    }
    match config.accounts.iter().find(|a| a.principal == principal) {
        Some(account) => {
            tracing::info!(%principal, account = %account.account, "Kerberos directive");
            Ok(Some(account.account.clone()))
        }
        None => Err(format!("{principal} has no local account on this machine (kerberos.accounts)")),
    }
}

#[cfg(feature = "kerberos")]
fn verify(proof: &KerberosProof) -> Result<(String, Vec<u8>), String> {
    lantern_gss::directive::verify(&proof.token, &proof.wrapped)
        .map_err(|e| format!("the Kerberos proof was refused: {e}"))
}

#[cfg(not(feature = "kerberos"))]
fn verify(_: &KerberosProof) -> Result<(String, Vec<u8>), String> {
    Err(BUILT_WITHOUT.to_string())
}

/// A build without the `kerberos` feature refuses `[kerberos]` at start-up.
pub const BUILT_WITHOUT: &str =
    "[kerberos] needs an agent built with the kerberos feature (libkrb5-dev, libclang-dev: cargo build -p lantern-agent --features kerberos)";

#[cfg(test)]
mod tests {
    use super::*;

    fn config(require: bool) -> KerberosConfig {
        KerberosConfig { keytab: "/nonexistent".into(), require, accounts: Vec::new() }
    }

    #[test]
    fn without_a_proof_only_a_requiring_agent_refuses() {
        let directive = Directive { command: "id", timeout_ms: 1, max_output: 1, proof: None };
        assert_eq!(authorize(None, "db1", &directive), Ok(None));
        assert_eq!(authorize(Some(&config(false)), "db1", &directive), Ok(None));
        assert_eq!(authorize(Some(&config(true)), "db1", &directive), Err(NO_PROOF.to_string()));
        let forged = KerberosProof { token: vec![0x60, 1, 0], wrapped: vec![1] };
        let directive = Directive { proof: Some(&forged), ..directive };
        assert!(authorize(Some(&config(false)), "db1", &directive).is_err(), "a bad proof is never ignored");
    }
}
