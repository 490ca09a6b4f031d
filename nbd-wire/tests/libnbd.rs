//! The server against real NBD clients: libnbd's `nbdinfo` and `nbdcopy` (Debian `libnbd-bin`),
//! over a unix socket, with a small blocking adapter that serves an image held in memory.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use nbd_wire::{Event, Export, Reply, Server};

/// Serves `image` as `export` on a socket in `dir`, one thread per connection, until the test
/// ends.
fn serve(dir: &Path, export: Export, image: Arc<Mutex<Vec<u8>>>) -> PathBuf {
    let socket = dir.join("nbd.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (export, image) = (export.clone(), image.clone());
            std::thread::spawn(move || connection(stream, export, image));
        }
    });
    socket
}

fn connection(mut stream: UnixStream, export: Export, image: Arc<Mutex<Vec<u8>>>) {
    let mut server = Server::new(export);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        if stream.write_all(&server.take_output()).is_err() {
            return;
        }
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let Ok(events) = server.feed(&buf[..n]) else { return };
        for event in events {
            let mut image = image.lock().expect("image");
            match event {
                Event::Read { handle, offset, length } => {
                    let (start, end) = (offset as usize, offset as usize + length as usize);
                    server.reply(handle, Reply::Data(image[start..end].to_vec()));
                }
                Event::Write { handle, offset, data } => {
                    image[offset as usize..offset as usize + data.len()].copy_from_slice(&data);
                    server.reply(handle, Reply::Done);
                }
                Event::Flush { handle } => server.reply(handle, Reply::Done),
                Event::Disconnect => {
                    let _ = stream.write_all(&server.take_output());
                    return;
                }
            }
        }
    }
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

fn uri(socket: &Path) -> String {
    format!("nbd+unix:///media?socket={}", socket.display())
}

fn run(command: &mut Command) -> std::process::Output {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e} (Debian's libnbd-bin has it)"));
    out
}

#[test]
fn nbdcopy_reads_the_whole_image_and_nbdinfo_sees_its_size_and_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let content = pattern(3 * 1024 * 1024 + 512, 7);
    let export = Export { name: "media".into(), size: content.len() as u64, read_only: true };
    let socket = serve(dir.path(), export, Arc::new(Mutex::new(content.clone())));

    let info = run(Command::new("nbdinfo").arg("--json").arg(uri(&socket)));
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains(&format!("\"export-size\": {}", content.len())), "{info}");
    assert!(info.contains("\"is_read_only\": true"), "{info}");

    let copy = dir.path().join("copy.img");
    let out = run(Command::new("nbdcopy").arg(uri(&socket)).arg(&copy));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&copy).unwrap() == content, "the copy differs");

    // Writing to it is refused, and says so.
    let source = dir.path().join("source.img");
    std::fs::write(&source, pattern(content.len(), 9)).unwrap();
    let out = run(Command::new("nbdcopy").arg(&source).arg(uri(&socket)));
    assert!(!out.status.success(), "a read-only export took a write");
}

#[test]
fn nbdcopy_writes_a_whole_image_to_a_writable_export() {
    let dir = tempfile::tempdir().unwrap();
    let size = 2 * 1024 * 1024;
    let image = Arc::new(Mutex::new(vec![0u8; size]));
    let export = Export { name: "media".into(), size: size as u64, read_only: false };
    let socket = serve(dir.path(), export, image.clone());
    let source = dir.path().join("source.img");
    let content = pattern(size, 11);
    std::fs::write(&source, &content).unwrap();
    let out = run(Command::new("nbdcopy").arg("--flush").arg(&source).arg(uri(&socket)));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(*image.lock().unwrap() == content, "the export's image differs from what was written");
}
