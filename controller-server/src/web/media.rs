//! Virtual media on the web API: the images in the controller's media folder, and a host's
//! drives, `cd` and `usb` (what they hold; insert an image, eject it). Inserting and ejecting
//! need the host's `media` right and are recorded in the audit trail before they happen and in
//! the host's event log after.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiJson};
use super::guard::Authenticated;
use super::hosts::visible_rights;
use super::login::Source;
use crate::app::AppState;
use crate::hosts::media::{drive_name, writable_allowed, BootTarget, MediaAction, MediaDevice, MediaStatus};

/// Images larger than this are not listed or inserted (a DVD image is under 10 GiB).
const MAX_IMAGE: u64 = 64 << 30;

#[derive(Debug, Serialize)]
pub struct Image {
    name: String,
    size: u64,
}

/// The images in the media folder: regular files ending in `.iso` or `.img`, not empty.
pub async fn images(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Vec<Image>>, ApiError> {
    auth.require_password_changed()?;
    let folder = state.media_folder.clone();
    let listed = tokio::task::spawn_blocking(move || -> Vec<Image> {
        let Ok(entries) = std::fs::read_dir(&folder) else { return Vec::new() };
        let mut images: Vec<Image> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let meta = e.metadata().ok()?;
                (image_name(&name) && usable(&meta)).then_some(Image { name, size: meta.len() })
            })
            .collect();
        images.sort_by(|a, b| a.name.cmp(&b.name));
        images
    })
    .await
    .map_err(|_| ApiError::INTERNAL)?;
    Ok(Json(listed))
}

/// A regular file (not a link: both callers read metadata without following one), not empty,
/// not beyond `MAX_IMAGE`.
fn usable(meta: &std::fs::Metadata) -> bool {
    meta.is_file() && meta.len() > 0 && meta.len() <= MAX_IMAGE
}

/// A plain file name (no folders, not hidden) of an image kind.
fn image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && (lower.ends_with(".iso") || lower.ends_with(".img"))
}

/// What the host's drives hold, and its one-time boot override.
pub async fn status(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host_id): Path<String>,
) -> Result<Json<MediaStatus>, ApiError> {
    auth.require_password_changed()?;
    visible_rights(&state, &auth.session.user, &host_id)?;
    Ok(Json(ask(&state, &host_id, MediaAction::Status).await?))
}

/// One of: an image of the media folder by name, or a URL on a listed image server; for the
/// USB disk drive, writable if asked (the writes are kept beside the image, never in it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Insert {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    writable: bool,
}

/// A drive named in a path: `cd` or `usb`.
fn device(name: &str) -> Result<MediaDevice, ApiError> {
    MediaDevice::from_name(name).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such drive: cd or usb"))
}

/// Where an inserted medium comes from.
pub enum Medium {
    Folder(String),
    Url(String),
}

pub async fn insert(
    State(state): State<AppState>,
    auth: Authenticated,
    source: Source,
    Path((host_id, drive)): Path<(String, String)>,
    ApiJson(req): ApiJson<Insert>,
) -> Result<Json<MediaStatus>, ApiError> {
    auth.require_password_changed()?;
    let drive = device(&drive)?;
    let medium = match (req.image, req.url) {
        (Some(image), None) => Medium::Folder(image),
        (None, Some(url)) => Medium::Url(url),
        _ => return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "give an image of the media folder or a URL")),
    };
    let into = MediaSlot { host_id: &host_id, device: drive, writable: req.writable };
    Ok(Json(insert_as(&state, &auth.session.user, into, medium, ("web", &source)).await?))
}

/// Where a medium goes: a host's drive, writable or not.
pub struct MediaSlot<'a> {
    pub host_id: &'a str,
    pub device: MediaDevice,
    pub writable: bool,
}

/// Inserts `medium` into a host's drive for `user`, who needs the host's `media` right;
/// audited before, in the event log after. `via` names the door (web, redfish).
pub async fn insert_as(
    state: &AppState,
    user: &crate::store::User,
    MediaSlot { host_id, device, writable }: MediaSlot<'_>,
    medium: Medium,
    (via, source): (&str, &Source),
) -> Result<MediaStatus, ApiError> {
    may_use_media(state, user, host_id)?;
    writable_allowed(device, writable).map_err(|why| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why))?;
    let (opened, name, from) = match medium {
        Medium::Folder(image) => (from_folder(state, &image).await?, image, "media folder"),
        Medium::Url(url) => {
            let opened = state.media_urls.open(&url).await;
            let opened = opened.map_err(|e| ApiError::with_message(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
            // Each read is an HTTP round trip; the guest's drive asks one at a time.
            (crate::media::readahead::wrap(opened), url, "url")
        }
    };
    let mut detail = source.audit();
    detail["device"] = device.name().into();
    detail["image"] = name.clone().into();
    detail["size"] = opened.size.into();
    detail["from"] = from.into();
    detail["writable"] = writable.into();
    detail["via"] = via.into();
    state.audit_first(&user.username, "media.insert", host_id, detail).await?;
    let action = MediaAction::Insert { device, source: opened, image: name.clone(), owner: None, writable };
    let status = ask(state, host_id, action).await?;
    let message = format!("{}: {name} inserted by {} ({via})", drive_name(device), user.username);
    state.event(host_id, "info", &message).await;
    Ok(status)
}

/// An image of the media folder, opened read-only.
async fn from_folder(state: &AppState, image: &str) -> Result<crate::media::Source, ApiError> {
    if !image_name(image) {
        let why = "an image is a .iso or .img file of the media folder, by name";
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why));
    }
    let path = state.media_folder.join(image);
    let opened = tokio::task::spawn_blocking(move || {
        let meta = std::fs::symlink_metadata(&path)?;
        if !usable(&meta) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular, non-empty image file"));
        }
        crate::media::file::open(&path, false)
    });
    match opened.await.map_err(|_| ApiError::INTERNAL)? {
        Ok(medium) => Ok(medium),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "no such image in the media folder"))
        }
        Err(e) => Err(ApiError::with_message(StatusCode::UNPROCESSABLE_ENTITY, format!("cannot use that image: {e}"))),
    }
}

pub async fn eject(
    State(state): State<AppState>,
    auth: Authenticated,
    source: Source,
    Path((host_id, drive)): Path<(String, String)>,
) -> Result<Json<MediaStatus>, ApiError> {
    auth.require_password_changed()?;
    Ok(Json(eject_as(&state, &auth.session.user, (&host_id, device(&drive)?), ("web", &source)).await?))
}

/// Empties a host's drive for `user` (the `media` right); audited, in the event log.
pub async fn eject_as(
    state: &AppState,
    user: &crate::store::User,
    (host_id, device): (&str, MediaDevice),
    (via, source): (&str, &Source),
) -> Result<MediaStatus, ApiError> {
    may_use_media(state, user, host_id)?;
    let mut detail = source.audit();
    detail["device"] = device.name().into();
    detail["via"] = via.into();
    state.audit_first(&user.username, "media.eject", host_id, detail).await?;
    let status = ask(state, host_id, MediaAction::Eject { device, owner: None }).await?;
    let message = format!("{} ejected by {} ({via})", drive_name(device), user.username);
    state.event(host_id, "info", &message).await;
    Ok(status)
}

/// `{"target": "cd" | "usb" | "pxe" | null}`: what the host boots from once, at its next
/// start or reset.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boot {
    target: Option<BootTarget>,
}

pub async fn boot(
    State(state): State<AppState>,
    auth: Authenticated,
    source: Source,
    Path(host_id): Path<String>,
    ApiJson(req): ApiJson<Boot>,
) -> Result<Json<MediaStatus>, ApiError> {
    auth.require_password_changed()?;
    Ok(Json(set_boot_as(&state, &auth.session.user, &host_id, req.target, ("web", &source)).await?))
}

/// Sets (or clears) `host_id`'s one-time boot override for `user`, who needs the host's
/// `power` right (it decides how the machine starts); audited before, in the event log after.
pub async fn set_boot_as(
    state: &AppState,
    user: &crate::store::User,
    host_id: &str,
    target: Option<BootTarget>,
    (via, source): (&str, &Source),
) -> Result<MediaStatus, ApiError> {
    if !visible_rights(state, user, host_id)?.power {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "you may not change how this host starts"));
    }
    let mut detail = source.audit();
    detail["target"] = serde_json::json!(target);
    detail["via"] = via.into();
    state.audit_first(&user.username, "boot.override", host_id, detail).await?;
    let status = ask(state, host_id, MediaAction::SetBoot(target)).await?;
    let message = match target {
        Some(BootTarget::Cd) => format!("One-time boot from the CD set by {} ({via})", user.username),
        Some(BootTarget::Usb) => format!("One-time boot from the USB disk set by {} ({via})", user.username),
        Some(BootTarget::Pxe) => format!("One-time network boot (PXE) set by {} ({via})", user.username),
        None => format!("One-time boot override cleared by {} ({via})", user.username),
    };
    state.event(host_id, "info", &message).await;
    Ok(status)
}

fn may_use_media(state: &AppState, user: &crate::store::User, host_id: &str) -> Result<(), ApiError> {
    if !visible_rights(state, user, host_id)?.media {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "you may not use virtual media on this host"));
    }
    Ok(())
}

async fn ask(state: &AppState, host_id: &str, action: MediaAction) -> Result<MediaStatus, ApiError> {
    let host = state.hosts.get(host_id).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such host"))?;
    if host.media.is_none() {
        return Err(ApiError::new(StatusCode::CONFLICT, "this host takes no virtual media"));
    }
    host.media(action).await.map_err(|why| ApiError::with_message(StatusCode::CONFLICT, why))
}
