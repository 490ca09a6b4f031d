//! A user's Kerberos proof for one directive, made from their credentials (in the
//! controller's helper) and checked with the agent's keytab (in the agent): an AP-REQ for the
//! agent's `host/` service, then the directive's binding wrapped for integrity under the
//! context it opens. Kerberos V5 (not SPNEGO) without mutual authentication, so that one
//! message carries it all.

use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext, ServerCtx};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_NT_HOSTBASED_SERVICE};

use crate::{Credential, GssError, MAX_TOKEN};

/// The AP-REQ for `host@<host>` and `binding` wrapped under it.
pub fn prove(credential: &Credential, host: &str, binding: &[u8]) -> Result<(Vec<u8>, Vec<u8>), GssError> {
    if host.is_empty() || host.len() > 255 || host.contains(['@', '/', '\0']) {
        return Err(GssError::Input("an agent's host name must be a plain DNS name"));
    }
    let target =
        Name::new(format!("host@{host}").as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE)).map_err(GssError::Library)?;
    let flags = CtxFlags::GSS_C_INTEG_FLAG | CtxFlags::GSS_C_REPLAY_FLAG;
    let mut context = ClientCtx::new(Some(credential.cred().clone()), target, flags, Some(GSS_MECH_KRB5));
    let token = context.step(None, None).map_err(GssError::Library)?.map(|t| t.to_vec()).unwrap_or_default();
    if !context.is_complete() || token.is_empty() {
        return Err(GssError::Input("the Kerberos context needs more than one message"));
    }
    let wrapped = context.wrap(false, binding).map_err(GssError::Library)?.to_vec();
    Ok((token, wrapped))
}

/// Checks a proof with the keys of the keytab the environment names (`KRB5_KTNAME`): the
/// principal it proves and the binding it carries. The replay cache refuses a token seen
/// before.
pub fn verify(token: &[u8], wrapped: &[u8]) -> Result<(String, Vec<u8>), GssError> {
    if token.is_empty() || token.len() > MAX_TOKEN || wrapped.is_empty() || wrapped.len() > MAX_TOKEN {
        return Err(GssError::Input("a Kerberos proof is 1 byte to 64 KiB"));
    }
    let mut context = ServerCtx::new(None);
    context.step(token, None).map_err(GssError::Library)?;
    if !context.is_complete() {
        return Err(GssError::Input("the Kerberos token does not open a context in one message"));
    }
    let principal = context.source_name().map_err(GssError::Library)?.to_string();
    let binding = context.unwrap(wrapped).map_err(GssError::Library)?.to_vec();
    Ok((principal, binding))
}
