//! Kerberos credentials through the system's GSS-API (MIT krb5, found by `krb5-config`; the
//! realm and KDC come from `KRB5_CONFIG`). Everything unsafe of Lantern's Kerberos is here,
//! in a few calls that the safe `libgssapi` wrapper does not offer: acquiring a user's
//! credentials with their password (the AS exchange with the KDC, done by the library), and
//! `gss_export_cred` / `gss_import_cred`, which turn credentials (the ticket-granting ticket
//! and its session key) into one opaque token and back, so that the controller can hand them
//! to the browser sealed and keep no copy.

use std::ffi::c_void;
use std::ptr;
use std::time::Duration;

use libgssapi::credential::Cred;
use libgssapi::error::{Error, MajorFlags};
use libgssapi_sys::{
    gss_OID_desc, gss_OID_set_desc, gss_acquire_cred_with_password, gss_buffer_desc, gss_cred_id_t, gss_export_cred,
    gss_import_cred, gss_import_name, gss_name_t, gss_release_buffer, gss_release_name, OM_uint32, GSS_C_INITIATE,
    GSS_S_COMPLETE,
};
use zeroize::{Zeroize, Zeroizing};

pub mod accept;
pub mod directive;

/// The Kerberos V5 mechanism, 1.2.840.113554.1.2.2.
const KRB5_MECH: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02";
/// A Kerberos principal name, 1.2.840.113554.1.2.2.1.
const KRB5_PRINCIPAL_NAME: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01";
/// The most an exported credential token may be: a TGT with its key is a few KiB.
pub const MAX_TOKEN: usize = 64 * 1024;
/// Longest principal or password handed to the library.
const MAX_INPUT: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum GssError {
    /// What the library said, with its major and minor status texts.
    #[error("{0}")]
    Library(Error),
    #[error("{0}")]
    Input(&'static str),
}

impl GssError {
    /// Whether the KDC refused the password (or knows no such principal), rather than
    /// failing to answer.
    pub fn is_wrong_password(&self) -> bool {
        let GssError::Library(e) = self else { return false };
        // MIT reports a wrong password, an unknown principal and a failed preauthentication
        // as GSS_S_FAILURE with these krb5 minor codes.
        const KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN: u32 = 0x96c7_3a06;
        const KRB5KDC_ERR_PREAUTH_FAILED: u32 = 0x96c7_3a18;
        const KRB5KRB_AP_ERR_BAD_INTEGRITY: u32 = 0x96c7_3a1f;
        const KRB5_PREAUTH_FAILED: u32 = 0x96c7_3ba0;
        [KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN, KRB5KDC_ERR_PREAUTH_FAILED, KRB5KRB_AP_ERR_BAD_INTEGRITY, KRB5_PREAUTH_FAILED]
            .contains(&e.minor)
    }
}

pub(crate) fn check(major: OM_uint32, minor: OM_uint32) -> Result<(), GssError> {
    if major == GSS_S_COMPLETE {
        Ok(())
    } else {
        Err(GssError::Library(Error { major: MajorFlags::from_bits_retain(major), minor }))
    }
}

/// A borrowed buffer for the library to read.
pub(crate) fn input(bytes: &[u8]) -> gss_buffer_desc {
    gss_buffer_desc { length: bytes.len(), value: bytes.as_ptr() as *mut c_void }
}

/// Someone's Kerberos credentials, held by the library (released when dropped).
pub struct Credential {
    cred: Cred,
    raw: RawCred,
}

/// The library's handle of `cred`, valid while `cred` lives.
struct RawCred(gss_cred_id_t);
// SAFETY: a GSS credential handle may be used from any thread (MIT's are not tied to one);
// `Cred`, which owns it, is itself Send and Sync.
unsafe impl Send for RawCred {}
unsafe impl Sync for RawCred {}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

impl Credential {
    /// Performs the AS exchange for `principal` with `password` and returns the credentials
    /// (a ticket-granting ticket). Blocks on the network: call it off the async runtime.
    pub fn with_password(principal: &str, password: &str) -> Result<Self, GssError> {
        if principal.is_empty() || principal.len() > MAX_INPUT || principal.contains('\0') {
            return Err(GssError::Input("a principal is 1 to 1024 bytes with no NUL"));
        }
        if password.is_empty() || password.len() > MAX_INPUT {
            return Err(GssError::Input("a password is 1 to 1024 bytes"));
        }
        let mut password = Zeroizing::new(password.as_bytes().to_vec());
        let mut name_oid = gss_OID_desc {
            length: KRB5_PRINCIPAL_NAME.len() as u32,
            elements: KRB5_PRINCIPAL_NAME.as_ptr() as *mut c_void,
        };
        let mut mech = gss_OID_desc { length: KRB5_MECH.len() as u32, elements: KRB5_MECH.as_ptr() as *mut c_void };
        let mut mechs = gss_OID_set_desc { count: 1, elements: &mut mech };
        let mut minor = 0;
        let mut name: gss_name_t = ptr::null_mut();
        let mut principal_buffer = input(principal.as_bytes());
        // SAFETY: every pointer is to a live local of the right type; the library copies the
        // name and the password before returning.
        unsafe {
            check(gss_import_name(&mut minor, &mut principal_buffer, &mut name_oid, &mut name), minor)?;
            let mut password_buffer =
                gss_buffer_desc { length: password.len(), value: password.as_mut_ptr() as *mut c_void };
            let mut raw: gss_cred_id_t = ptr::null_mut();
            let major = gss_acquire_cred_with_password(
                &mut minor,
                name,
                &mut password_buffer,
                0xffff_ffff, // GSS_C_INDEFINITE: as long as the KDC grants
                &mut mechs,
                GSS_C_INITIATE as i32,
                &mut raw,
                ptr::null_mut(),
                ptr::null_mut(),
            );
            let acquired = minor;
            let mut release_minor = 0;
            gss_release_name(&mut release_minor, &mut name);
            check(major, acquired)?;
            Ok(Self::own(raw))
        }
    }

    /// Takes ownership of a handle the library gave us.
    ///
    /// # Safety
    /// `raw` must be a valid credential handle that nothing else releases.
    pub(crate) unsafe fn own(raw: gss_cred_id_t) -> Self {
        // SAFETY: as the caller promises; `Cred` releases it when dropped.
        Self { cred: unsafe { Cred::from_c(raw) }, raw: RawCred(raw) }
    }

    /// The credentials as one opaque token (MIT's export format), for sealing. The library's
    /// copy of the token is wiped before it is released.
    pub fn export(&self) -> Result<Zeroizing<Vec<u8>>, GssError> {
        let mut minor = 0;
        let mut token = gss_buffer_desc { length: 0, value: ptr::null_mut() };
        // SAFETY: `self.raw` is live while `self.cred` is; the token is the library's to
        // release, after we have copied and wiped it.
        unsafe {
            check(gss_export_cred(&mut minor, self.raw.0, &mut token), minor)?;
            let bytes: &mut [u8] = if token.value.is_null() {
                &mut []
            } else {
                std::slice::from_raw_parts_mut(token.value as *mut u8, token.length)
            };
            let copy = Zeroizing::new(bytes.to_vec());
            bytes.zeroize();
            let mut release_minor = 0;
            gss_release_buffer(&mut release_minor, &mut token);
            Ok(copy)
        }
    }

    /// Credentials back from a token [`export`](Self::export) made (on this machine's library).
    pub fn import(token: &[u8]) -> Result<Self, GssError> {
        if token.is_empty() || token.len() > MAX_TOKEN {
            return Err(GssError::Input("a credential token is 1 byte to 64 KiB"));
        }
        let mut minor = 0;
        let mut buffer = input(token);
        let mut raw: gss_cred_id_t = ptr::null_mut();
        // SAFETY: the buffer points at `token`, which outlives the call; the library parses it
        // (a malformed token is an error, not undefined behaviour: it checks lengths).
        unsafe {
            check(gss_import_cred(&mut minor, &mut buffer, &mut raw), minor)?;
            Ok(Self::own(raw))
        }
    }

    /// The principal the credentials are for.
    pub fn principal(&self) -> Result<String, GssError> {
        let name = self.cred.name().map_err(GssError::Library)?;
        Ok(name.to_string())
    }

    /// How long they stay valid.
    pub fn lifetime(&self) -> Result<Duration, GssError> {
        self.cred.lifetime().map_err(GssError::Library)
    }

    /// The safe wrapper's handle, for its contexts.
    pub fn cred(&self) -> &Cred {
        &self.cred
    }
}
