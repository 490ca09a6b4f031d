//! Accepting a client's Kerberos token (what a browser sends in `Authorization: Negotiate`,
//! SPNEGO around Kerberos) with the keys of the keytab the environment names
//! (`KRB5_KTNAME`), and taking the credentials the client delegated, if it did. Raw calls, since
//! the safe wrapper does not hand out a delegated credential's handle, which exporting needs.

use std::ffi::c_void;
use std::ptr;

use libgssapi_sys::{
    gss_OID, gss_accept_sec_context, gss_buffer_desc, gss_cred_id_t, gss_ctx_id_t, gss_delete_sec_context,
    gss_display_name, gss_name_t, gss_release_buffer, gss_release_name, OM_uint32, GSS_S_COMPLETE,
    GSS_S_CONTINUE_NEEDED,
};
use zeroize::Zeroize;

use crate::{check, input, Credential, GssError, MAX_TOKEN};

/// What accepting a client's token came to.
#[derive(Debug)]
pub struct Accepted {
    /// The client's principal, `user@REALM`.
    pub principal: String,
    /// The token to send back (`WWW-Authenticate: Negotiate <token>`), for mutual
    /// authentication.
    pub reply: Vec<u8>,
    /// The client's credentials, when it delegated them (a forwardable TGT).
    pub delegated: Option<Credential>,
}

/// Copies a buffer the library gave us, wiping and releasing the original.
///
/// # Safety
/// `buffer` must be one the library filled (or empty).
unsafe fn take_buffer(buffer: &mut gss_buffer_desc) -> Vec<u8> {
    let bytes: &mut [u8] = if buffer.value.is_null() || buffer.length == 0 {
        &mut []
    } else {
        // SAFETY: the library gave us `length` bytes at `value`.
        unsafe { std::slice::from_raw_parts_mut(buffer.value as *mut u8, buffer.length) }
    };
    let copy = bytes.to_vec();
    bytes.zeroize();
    let mut minor = 0;
    // SAFETY: the buffer is the library's to release.
    unsafe { gss_release_buffer(&mut minor, buffer) };
    copy
}

/// Accepts `token` in one step. A mechanism that needs another round trip is refused: the
/// controller runs each acceptance in a process of its own and keeps no context between them
/// (Kerberos through SPNEGO, as browsers send it, takes one).
pub fn accept(token: &[u8]) -> Result<Accepted, GssError> {
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(GssError::Input("a Negotiate token is 1 byte to 64 KiB"));
    }
    let mut minor = 0;
    let mut context: gss_ctx_id_t = ptr::null_mut();
    let mut input_token = input(token);
    let mut source: gss_name_t = ptr::null_mut();
    let mut mech: gss_OID = ptr::null_mut();
    let mut output = gss_buffer_desc { length: 0, value: ptr::null_mut::<c_void>() };
    let (mut flags, mut time): (OM_uint32, OM_uint32) = (0, 0);
    let mut delegated: gss_cred_id_t = ptr::null_mut();
    // SAFETY: every out-pointer is to a live local; the acceptor credential is the default
    // (null: the keytab's keys); whatever the library hands back is released below, on every
    // path.
    unsafe {
        let major = gss_accept_sec_context(
            &mut minor,
            &mut context,
            ptr::null_mut(),
            &mut input_token,
            ptr::null_mut(),
            &mut source,
            &mut mech,
            &mut output,
            &mut flags,
            &mut time,
            &mut delegated,
        );
        let status = minor;
        let reply = take_buffer(&mut output);
        let mut name = gss_buffer_desc { length: 0, value: ptr::null_mut() };
        let named = if source.is_null() {
            None
        } else {
            let shown = gss_display_name(&mut minor, source, &mut name, ptr::null_mut());
            gss_release_name(&mut minor, &mut source);
            (shown == GSS_S_COMPLETE).then(|| take_buffer(&mut name))
        };
        let delegated = (!delegated.is_null()).then(|| Credential::own(delegated));
        if !context.is_null() {
            gss_delete_sec_context(&mut minor, &mut context, ptr::null_mut());
        }
        if major == GSS_S_CONTINUE_NEEDED {
            return Err(GssError::Input("the client's mechanism needs more than one round trip"));
        }
        check(major, status)?;
        let principal = named
            .and_then(|n| String::from_utf8(n).ok())
            .ok_or(GssError::Input("the client's name could not be read"))?;
        Ok(Accepted { principal, reply, delegated })
    }
}
