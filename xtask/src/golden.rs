//! `cargo xtask golden-capture`: a recording TCP proxy for golden request frames.
//!
//! Real clients (kcat/librdkafka, confluent-kafka, kafka-python) are pointed at the proxy,
//! which forwards everything to a broker and writes every request frame the client sends to
//! `OUT/PREFIX-SEQ-kKEY-vVERSION.bin` (the frame without its 4-byte size prefix). Those files
//! become test fixtures that the codec must decode field by field and re-encode byte for byte.
//!
//! The client must be given the proxy's address as its bootstrap server, and the broker must
//! advertise the proxy's address too (`kafka-broker --advertised`), so that every connection
//! goes through the proxy. It deliberately does not depend on kafka-protocol: xtask must keep
//! working when the generated code does not compile.
//!
//! Usage: `cargo xtask golden-capture --listen ADDR --upstream ADDR --out DIR --prefix NAME
//! [--seconds N]`. It stops after N seconds (default 30).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Opts {
    listen: String,
    upstream: String,
    out: PathBuf,
    prefix: String,
    seconds: u64,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        listen: "127.0.0.1:19092".into(),
        upstream: "127.0.0.1:9092".into(),
        out: PathBuf::from("golden"),
        prefix: "capture".into(),
        seconds: 30,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => o.listen = val()?,
            "--upstream" => o.upstream = val()?,
            "--out" => o.out = PathBuf::from(val()?),
            "--prefix" => o.prefix = val()?,
            "--seconds" => {
                o.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// Copies client bytes to the broker, cutting them into frames and saving each one.
fn record_requests(
    mut from: TcpStream,
    mut to: TcpStream,
    out: &Path,
    prefix: &str,
    seq: &AtomicUsize,
) -> std::io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            let _ = to.shutdown(Shutdown::Write);
            return Ok(());
        }
        to.write_all(&buf[..n])?;
        pending.extend_from_slice(&buf[..n]);
        while pending.len() >= 4 {
            let size = i32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]);
            let Ok(size) = usize::try_from(size) else {
                return Ok(());
            };
            if pending.len() < 4 + size {
                break;
            }
            let frame: Vec<u8> = pending.drain(..4 + size).skip(4).collect();
            if frame.len() >= 4 {
                let key = i16::from_be_bytes([frame[0], frame[1]]);
                let version = i16::from_be_bytes([frame[2], frame[3]]);
                let n = seq.fetch_add(1, Ordering::SeqCst);
                let name = format!("{prefix}-{n:03}-k{key}-v{version}.bin");
                std::fs::write(out.join(name), &frame)?;
            }
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

pub fn run(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    std::fs::create_dir_all(&o.out).map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(&o.listen).map_err(|e| format!("bind {}: {e}", o.listen))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    println!("golden-capture: listening on {}", o.listen);
    let seq = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                let upstream = TcpStream::connect(&o.upstream)
                    .map_err(|e| format!("connect {}: {e}", o.upstream))?;
                let (c2, u2) = (
                    client.try_clone().map_err(|e| e.to_string())?,
                    upstream.try_clone().map_err(|e| e.to_string())?,
                );
                let (out, prefix, seq) = (o.out.clone(), o.prefix.clone(), Arc::clone(&seq));
                std::thread::spawn(move || {
                    let _ = record_requests(client, upstream, &out, &prefix, &seq);
                });
                std::thread::spawn(move || pipe(u2, c2));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    println!(
        "golden-capture: recorded {} frames into {}",
        seq.load(Ordering::SeqCst),
        o.out.display()
    );
    Ok(())
}
