//! Connects to an RFB server, keeps asking for updates and prints what arrives: a quick way
//! to see how a server behaves. Usage: cargo run -p rfb --example probe -- 127.0.0.1:5900
//! [seconds] [record-file]; with a file, what the server sent is kept there, for the `replay`
//! example and the replay test's fixture.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rfb::{Client, Config, Event};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:5900".into());
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let mut record = args.next().map(std::fs::File::create).transpose()?;
    let mut stream = TcpStream::connect(&address)?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut client = Client::new(Config { password: None, shared: true, ..Default::default() });
    let mut buf = vec![0u8; 1 << 16];
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut bytes = 0usize;
    while Instant::now() < end {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => 0,
            Err(e) => return Err(e.into()),
        };
        bytes += n;
        if let Some(file) = &mut record {
            file.write_all(&buf[..n])?;
        }
        for event in client.feed(&buf[..n])? {
            match &event {
                Event::UpdateDone => client.request_update(true),
                Event::Updated(r) => println!("updated {r:?}"),
                other => println!("{other:?}"),
            }
        }
        stream.write_all(&client.take_outgoing())?;
    }
    println!("{bytes} bytes received");
    Ok(())
}
