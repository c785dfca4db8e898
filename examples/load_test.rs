//! Load test of `autotab serve`: many concurrent keep-alive connections over loopback for a
//! fixed time, with valid and invalid bodies mixed.
//!
//! ```text
//! cargo build --release --bin autotab --example load_test
//! ./target/release/examples/load_test <bundle dir> [seconds=60] [connections=64] [autotab binary]
//! ```
//! The server is a real `autotab serve` child process on 127.0.0.1 (the binary defaults to
//! `target/release/autotab`), so its resident memory can be read from `/proc` before and after.
//! Each connection is one client thread with a plain HTTP/1.1 keep-alive client; of every eight
//! requests, five are the Azure tutorial request (valid, must answer 200) and three are invalid
//! (malformed JSON, a missing field, a wrong content type: must answer 4xx). Prints requests/s,
//! latency percentiles, errors (a valid request not answered 200, an invalid one answered
//! otherwise than 4xx, or a broken connection) and the server's RSS before and after.
//! Loopback only, and every loop is bounded by the duration.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TUTORIAL_REQUEST: &str = r#"{"data":[{"age":"60","anaemia":"false","creatinine_phosphokinase":"500","diabetes":"false","ejection_fraction":"38","high_blood_pressure":"false","platelets":"260000","serum_creatinine":"1.40","serum_sodium":"137","sex":"false","smoking":"false","time":"130"}]}"#;

/// One request of the mix: content type, body, and whether it is valid.
struct Case {
    content_type: &'static str,
    body: &'static str,
    valid: bool,
}

/// Five valid requests, three invalid ones.
const MIX: [Case; 8] = [
    Case {
        content_type: "application/json",
        body: TUTORIAL_REQUEST,
        valid: true,
    },
    Case {
        content_type: "application/json",
        body: "{\"data\": [",
        valid: false,
    },
    Case {
        content_type: "application/json",
        body: TUTORIAL_REQUEST,
        valid: true,
    },
    Case {
        content_type: "application/json",
        body: "{\"data\": [{\"age\": \"60\"}]}",
        valid: false,
    },
    Case {
        content_type: "application/json",
        body: TUTORIAL_REQUEST,
        valid: true,
    },
    Case {
        content_type: "text/plain",
        body: TUTORIAL_REQUEST,
        valid: false,
    },
    Case {
        content_type: "application/json",
        body: TUTORIAL_REQUEST,
        valid: true,
    },
    Case {
        content_type: "application/json",
        body: TUTORIAL_REQUEST,
        valid: true,
    },
];

/// What one client thread saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    valid: u64,
    invalid: u64,
    valid_errors: u64,
    invalid_errors: u64,
    reconnects: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: load_test <bundle dir> [seconds=60] [connections=64] [autotab binary]";
    let model = args.first().ok_or(usage)?;
    let seconds: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(60);
    let connections: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(64);
    let binary = args.get(3).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/autotab")
    });
    println!("load average before: {}", load_average());

    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut server = ServerProcess(
        Command::new(&binary)
            .args(["serve", "--model", model, "--port", &port.to_string()])
            .env_remove("AUTOTAB_AUTH_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?,
    );
    wait_for_health(port, &mut server.0)?;

    // Warm-up: every connection's first requests, so the "before" RSS includes them.
    run_clients(port, connections, Duration::from_secs(2))?;
    let rss_before = rss_kib(server.0.id())?;
    println!(
        "{connections} connections for {seconds} s against 127.0.0.1:{port}; server RSS before {rss_before} KiB"
    );
    let started = Instant::now();
    let tallies = run_clients(port, connections, Duration::from_secs(seconds))?;
    let elapsed = started.elapsed().as_secs_f64();
    let rss_after = rss_kib(server.0.id())?;

    let mut latencies: Vec<Duration> = tallies.iter().flat_map(|t| t.latencies.clone()).collect();
    latencies.sort_unstable();
    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    let total = latencies.len();
    let percentile = |p: f64| {
        let i = ((total as f64 * p).ceil() as usize).clamp(1, total.max(1)) - 1;
        latencies.get(i).map(ms).unwrap_or(f64::NAN)
    };
    let growth = (rss_after as f64 - rss_before as f64) / rss_before as f64 * 100.0;
    println!(
        "requests: {total} in {elapsed:.1} s = {:.0} requests/s",
        total as f64 / elapsed
    );
    println!(
        "  valid: {} (errors {}), invalid: {} (errors {}), reconnects: {}",
        sum(|t| t.valid),
        sum(|t| t.valid_errors),
        sum(|t| t.invalid),
        sum(|t| t.invalid_errors),
        sum(|t| t.reconnects)
    );
    println!(
        "latency ms: p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        percentile(0.50),
        percentile(0.99),
        percentile(0.999),
        latencies.last().map(ms).unwrap_or(f64::NAN)
    );
    println!("server RSS: before {rss_before} KiB, after {rss_after} KiB ({growth:+.1}%)");
    println!("load average after: {}", load_average());
    let ok = sum(|t| t.valid_errors) == 0 && sum(|t| t.invalid_errors) == 0 && growth < 10.0;
    println!("{}", if ok { "PASS" } else { "FAIL" });
    drop(server);
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

/// Kills the server when the load test ends, however it ends.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_health(port: u16, child: &mut Child) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Err(format!("autotab serve exited with {status}").into());
        }
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            let mut client = Client::new(stream)?;
            if client.request("GET", "/health", "", "").map(|(s, _)| s) == Ok(200) {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("the server did not answer /health within 30 s".into())
}

/// Runs `connections` client threads for `duration`; their tallies.
fn run_clients(
    port: u16,
    connections: usize,
    duration: Duration,
) -> Result<Vec<Tally>, Box<dyn std::error::Error>> {
    let end = Instant::now() + duration;
    let handles: Vec<_> = (0..connections)
        .map(|c| std::thread::spawn(move || client_loop(port, c, end)))
        .collect();
    let mut tallies = Vec::with_capacity(connections);
    for handle in handles {
        tallies.push(handle.join().map_err(|_| "a client thread panicked")??);
    }
    Ok(tallies)
}

/// One keep-alive connection sending the mix until `end` (reconnecting if the server closes).
fn client_loop(port: u16, offset: usize, end: Instant) -> Result<Tally, String> {
    let connect = || {
        TcpStream::connect(("127.0.0.1", port))
            .and_then(Client::new)
            .map_err(|e| format!("connect: {e}"))
    };
    let mut client = connect()?;
    let mut tally = Tally::default();
    let mut i = offset;
    while Instant::now() < end {
        let case = &MIX[i % MIX.len()];
        i += 1;
        let start = Instant::now();
        let outcome = client.request("POST", "/score", case.content_type, case.body);
        tally.latencies.push(start.elapsed());
        let good = match &outcome {
            Ok((status, _)) if case.valid => *status == 200,
            Ok((status, _)) => (400..500).contains(status),
            Err(_) => false,
        };
        if case.valid {
            tally.valid += 1;
            tally.valid_errors += u64::from(!good);
        } else {
            tally.invalid += 1;
            tally.invalid_errors += u64::from(!good);
        }
        if outcome.is_err() || outcome.as_ref().is_ok_and(|(_, keep)| !keep) {
            tally.reconnects += 1;
            client = connect()?;
        }
    }
    Ok(tally)
}

/// A minimal HTTP/1.1 keep-alive client over one connection.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn new(stream: TcpStream) -> std::io::Result<Client> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Sends one request and reads the whole answer: the status and whether the connection
    /// stays open.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> Result<(u16, bool), String> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if !content_type.is_empty() {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        self.writer
            .write_all(head.as_bytes())
            .and_then(|()| self.writer.write_all(body.as_bytes()))
            .map_err(|e| format!("write: {e}"))?;
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| format!("read: {e}"))?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status line: {line:?}"))?;
        let mut length = 0usize;
        let mut keep_alive = true;
        loop {
            line.clear();
            self.reader
                .read_line(&mut line)
                .map_err(|e| format!("read: {e}"))?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().map_err(|_| "bad content-length")?;
                } else if name.eq_ignore_ascii_case("connection") {
                    keep_alive = !value.eq_ignore_ascii_case("close");
                }
            }
        }
        let mut answer = vec![0u8; length];
        self.reader
            .read_exact(&mut answer)
            .map_err(|e| format!("read body: {e}"))?;
        Ok((status, keep_alive))
    }
}

fn ms(d: &Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resident memory of process `pid` in KiB, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS in /proc status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("bad VmRSS line")?
        .parse()?)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
