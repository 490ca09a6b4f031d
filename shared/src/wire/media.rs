//! The media channel: a file the user picked in the browser, served to the host as a CD or USB
//! disk while the link lasts. The controller asks for byte ranges, the applet reads them from
//! the file and answers; nothing is uploaded first.
//!
//! ```text
//! applet -> controller   Offer    device, writable, size, name   "I have this file for the drive"
//!                        Eject    device
//!                        Data     id, bytes                        the answer to Read `id`
//!                        Failed   id, reason                       the file could not be read
//! controller -> applet   Attached device                           the host has it now
//!                        Detached device, reason                   refused, ejected or lost
//!                        Read     id, device, offset, length   of the file offered for `device`
//! ```

use super::codec::{Reader, Writer};
use super::DecodeError;

/// The most one `Read` asks for: each answer costs the applet a `File.slice()` read, a seal
/// and a WebSocket message, so larger pieces go faster (measured: 1 MiB streams at about 1.3x
/// the rate of 256 KiB in Chromium), and a record of one still fits `MAX_PLAINTEXT`.
pub const MEDIA_CHUNK: u32 = 1 << 20;
/// A file name as the applet offers it, at most this long (cut on a character boundary).
pub const MAX_MEDIA_NAME: usize = 255;
const MAX_MEDIA_REASON: usize = 256;

/// Where a medium goes on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaDevice {
    /// A CD/DVD drive: an `.iso`, always read-only.
    Cd,
    /// A USB disk: an `.img`, writable if the user asked.
    Usb,
}

impl MediaDevice {
    pub const ALL: [MediaDevice; 2] = [MediaDevice::Cd, MediaDevice::Usb];

    pub fn name(self) -> &'static str {
        match self {
            MediaDevice::Cd => "cd",
            MediaDevice::Usb => "usb",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    fn code(self) -> u8 {
        match self {
            MediaDevice::Cd => 1,
            MediaDevice::Usb => 2,
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8("media device")? {
            1 => Ok(MediaDevice::Cd),
            2 => Ok(MediaDevice::Usb),
            other => Err(DecodeError::Unknown { field: "media device", value: other }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaMessage {
    Offer { device: MediaDevice, writable: bool, size: u64, name: String },
    Eject { device: MediaDevice },
    Data { id: u32, bytes: Vec<u8> },
    Failed { id: u32, reason: String },
    Attached { device: MediaDevice },
    Detached { device: MediaDevice, reason: String },
    Read { id: u32, device: MediaDevice, offset: u64, length: u32 },
}

impl MediaMessage {
    /// Whether the applet sends this one (the controller sends the rest).
    pub fn from_applet(&self) -> bool {
        matches!(
            self,
            MediaMessage::Offer { .. }
                | MediaMessage::Eject { .. }
                | MediaMessage::Data { .. }
                | MediaMessage::Failed { .. }
        )
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MediaMessage::Offer { device, writable, size, name } => {
                out.put_u8(1);
                out.put_u8(device.code());
                out.put_u8(u8::from(*writable));
                out.put_u64(*size);
                out.put_length_prefixed(crate::text::truncated(name, MAX_MEDIA_NAME).as_bytes());
            }
            MediaMessage::Eject { device } => {
                out.put_u8(2);
                out.put_u8(device.code());
            }
            MediaMessage::Data { id, bytes } => {
                out.put_u8(3);
                out.put_u32(*id);
                out.put_bytes(bytes);
            }
            MediaMessage::Failed { id, reason } => {
                out.put_u8(4);
                out.put_u32(*id);
                out.put_length_prefixed(crate::text::truncated(reason, MAX_MEDIA_REASON).as_bytes());
            }
            MediaMessage::Attached { device } => {
                out.put_u8(5);
                out.put_u8(device.code());
            }
            MediaMessage::Detached { device, reason } => {
                out.put_u8(6);
                out.put_u8(device.code());
                out.put_length_prefixed(crate::text::truncated(reason, MAX_MEDIA_REASON).as_bytes());
            }
            MediaMessage::Read { id, device, offset, length } => {
                out.put_u8(7);
                out.put_u32(*id);
                out.put_u8(device.code());
                out.put_u64(*offset);
                out.put_u32(*length);
            }
        }
    }

    pub(super) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8("media message type")? {
            1 => MediaMessage::Offer {
                device: MediaDevice::decode(r)?,
                writable: match r.u8("media writable")? {
                    0 => false,
                    1 => true,
                    other => return Err(DecodeError::Unknown { field: "media writable", value: other }),
                },
                size: r.u64("media size")?,
                name: r.string(MAX_MEDIA_NAME, "media name")?.into(),
            },
            2 => MediaMessage::Eject { device: MediaDevice::decode(r)? },
            3 => {
                let id = r.u32("media read id")?;
                let bytes = r.rest();
                if bytes.len() > MEDIA_CHUNK as usize {
                    return Err(DecodeError::TooLong { field: "media data", max: MEDIA_CHUNK as usize });
                }
                MediaMessage::Data { id, bytes: bytes.to_vec() }
            }
            4 => MediaMessage::Failed {
                id: r.u32("media read id")?,
                reason: r.string(MAX_MEDIA_REASON, "media error")?.into(),
            },
            5 => MediaMessage::Attached { device: MediaDevice::decode(r)? },
            6 => MediaMessage::Detached {
                device: MediaDevice::decode(r)?,
                reason: r.string(MAX_MEDIA_REASON, "media detach reason")?.into(),
            },
            7 => {
                let (id, device) = (r.u32("media read id")?, MediaDevice::decode(r)?);
                let (offset, length) = (r.u64("media offset")?, r.u32("media length")?);
                if length == 0 || length > MEDIA_CHUNK {
                    return Err(DecodeError::Invalid { field: "media length", reason: "not between 1 and a chunk" });
                }
                MediaMessage::Read { id, device, offset, length }
            }
            other => return Err(DecodeError::Unknown { field: "media message type", value: other }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Message;

    #[test]
    fn every_media_message_round_trips() {
        for m in [
            MediaMessage::Offer {
                device: MediaDevice::Usb,
                writable: true,
                size: 1 << 40,
                name: "rescue ✓.img".into(),
            },
            MediaMessage::Eject { device: MediaDevice::Cd },
            MediaMessage::Data { id: 7, bytes: vec![9; MEDIA_CHUNK as usize] },
            MediaMessage::Data { id: 8, bytes: vec![] },
            MediaMessage::Failed { id: 7, reason: "NotReadableError".into() },
            MediaMessage::Attached { device: MediaDevice::Cd },
            MediaMessage::Detached { device: MediaDevice::Usb, reason: "ejected".into() },
            MediaMessage::Read { id: u32::MAX, device: MediaDevice::Usb, offset: u64::MAX - 5, length: MEDIA_CHUNK },
        ] {
            let mut buf = Vec::new();
            Message::Media(m.clone()).encode(&mut buf);
            assert_eq!(Message::decode(&buf), Ok(Message::Media(m)));
        }
    }

    #[test]
    fn oversized_or_junk_media_messages_are_errors() {
        let mut too_much = vec![5, 3, 0, 0, 0, 1];
        too_much.resize(6 + MEDIA_CHUNK as usize + 1, 0);
        let zero_read = [5, 7, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        for bad in [&too_much[..], &zero_read, &[5, 1, 3, 0], &[5, 2, 9], &[5, 1, 1, 2], &[5, 99], &[5]] {
            assert!(Message::decode(bad).is_err(), "{:?}", &bad[..bad.len().min(8)]);
        }
    }
}
