//! The Task API scenario: an authenticated request over a task's `secrets/api.sock` with the
//! task's workload identity (verification cached after the first request), beside the same
//! request over TCP with a management token, in the same run, on one kept-alive connection
//! each, with one small HTTP/1.1 client for both.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use drover_api::*;
use drover_testkit::{Agent, eventually};

use crate::scenarios::percentile;

const REQUESTS: usize = 5000;
const PATH: &str = "/v1/agent/health";

pub async fn task_api(bin: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    let mut agent = Agent::with_args(
        bin,
        dir.path(),
        data.clone(),
        &[
            "-dev",
            "-acl-enabled",
            "-data-dir",
            &data.display().to_string(),
            "-log-level",
            "WARN",
        ],
    );
    agent.wait_ready().await;
    let mgmt: AclToken = agent
        .client()
        .post(ACL_BOOTSTRAP_PATH, &serde_json::json!({}))
        .await
        .map_err(|e| format!("bootstrap: {e}"))?;
    let client = Client::new(ClientConfig {
        address: agent.addr(),
        token: Some(mgmt.secret_id.clone()),
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    client
        .job_register(&token_job())
        .await
        .map_err(|e| e.to_string())?;
    let (socket, token) = eventually(Duration::from_secs(30), || async {
        let (allocs, _) = client
            .job_allocations("bench-taskapi", false, &Default::default())
            .await
            .ok()?;
        let alloc = allocs.into_iter().find(|a| a.client_status == "running")?;
        let secrets = data.join("alloc").join(&alloc.id).join("t/secrets");
        let token = std::fs::read_to_string(secrets.join("nomad_token")).ok()?;
        secrets
            .join("api.sock")
            .exists()
            .then_some((secrets, token))
    })
    .await;
    let tcp_addr = agent.addr().trim_start_matches("http://").to_string();
    let secret = mgmt.secret_id.clone();
    let (over_socket, over_tcp) = tokio::task::spawn_blocking(move || {
        let socket = measure(|| connect_unix(&socket), &token)?;
        let tcp = measure(
            || {
                let s = std::net::TcpStream::connect(&tcp_addr)?;
                s.set_nodelay(true)?;
                Ok(Box::new(s) as Box<dyn Stream>)
            },
            &secret,
        )?;
        Ok::<_, String>((socket, tcp))
    })
    .await
    .map_err(|e| e.to_string())??;
    println!(
        "task_api: GET {PATH} over the task's socket with its workload identity: p50 {} p99 {} ({REQUESTS} requests, one connection)",
        us(over_socket.0),
        us(over_socket.1)
    );
    println!(
        "task_api: the same over TCP with a management token (baseline): p50 {} p99 {} — socket/TCP p50 ratio {:.2}",
        us(over_tcp.0),
        us(over_tcp.1),
        over_socket.0.as_secs_f64() / over_tcp.0.as_secs_f64()
    );
    agent.stop();
    Ok(())
}

/// A service task that holds its identity in a file and sleeps.
fn token_job() -> Job {
    let mut job = crate::scenarios::sleep_job("bench-taskapi", 1, "service");
    job.task_groups[0].tasks[0].identity = Some(WorkloadIdentity {
        file: true,
        ..Default::default()
    });
    job
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// Connects through the directory's descriptor, so deep data directories work too.
fn connect_unix(secrets: &PathBuf) -> std::io::Result<Box<dyn Stream>> {
    let dir = std::fs::File::open(secrets)?;
    let path = format!(
        "/proc/self/fd/{}/api.sock",
        std::os::fd::AsRawFd::as_raw_fd(&dir)
    );
    Ok(Box::new(std::os::unix::net::UnixStream::connect(path)?))
}

/// p50 and p99 of `REQUESTS` authenticated GETs on one connection (after a warm-up).
fn measure(
    connect: impl Fn() -> std::io::Result<Box<dyn Stream>>,
    token: &str,
) -> Result<(Duration, Duration), String> {
    let stream = connect().map_err(|e| format!("connecting: {e}"))?;
    let mut reader = BufReader::new(stream);
    let request = format!(
        "GET {PATH} HTTP/1.1\r\nHost: localhost\r\nX-Nomad-Token: {}\r\n\r\n",
        token.trim()
    );
    let mut times = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS + 200 {
        let t = Instant::now();
        reader
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let status = read_response(&mut reader).map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("GET {PATH} answered {status}"));
        }
        if i >= 200 {
            times.push(t.elapsed());
        }
    }
    times.sort();
    Ok((percentile(&times, 0.5), percentile(&times, 0.99)))
}

/// Reads one response (status line, headers, `Content-Length` body); returns the status.
fn read_response(reader: &mut BufReader<Box<dyn Stream>>) -> std::io::Result<u16> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(status)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}
