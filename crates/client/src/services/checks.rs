//! Running one health check: `http` sends `GET <path>` and passes on a 2xx status, `tcp`
//! passes when a connection opens. Each run is bounded by the check's timeout.

use std::time::Duration;

use drover_api::{CHECK_TYPE_HTTP, CheckStatus, HEALTH_CRITICAL, HEALTH_PASSING, ServiceCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most bytes of a response read to find its status line.
const STATUS_LINE_MAX: usize = 1024;

/// Runs `check` once against `address:port`.
pub async fn run(check: &ServiceCheck, address: &str, port: i32) -> CheckStatus {
    let timeout = Duration::from_nanos(check.timeout.max(1) as u64);
    // An IPv6 address needs brackets before its port.
    let target = if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    };
    let outcome = tokio::time::timeout(timeout, probe(check, &target)).await;
    let (passing, output) = match outcome {
        Ok(Ok(output)) => (true, output),
        Ok(Err(output)) => (false, output),
        Err(_) => (false, format!("no answer from {target} within {timeout:?}")),
    };
    CheckStatus {
        name: check.name.clone(),
        r#type: check.r#type.clone(),
        status: if passing {
            HEALTH_PASSING
        } else {
            HEALTH_CRITICAL
        }
        .to_string(),
        output,
        timestamp: drover_api::time::now_unix_nano(),
    }
}

/// Ok with what was seen when the check passes; Err with why when it fails.
async fn probe(check: &ServiceCheck, target: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(target)
        .await
        .map_err(|e| format!("connecting to {target}: {e}"))?;
    if check.r#type != CHECK_TYPE_HTTP {
        return Ok(format!("TCP connect {target}: Success"));
    }
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: drover health check\r\nConnection: close\r\n\r\n",
        check.path
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("sending to {target}: {e}"))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < STATUS_LINE_MAX {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading from {target}: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next().unwrap_or_default().trim().to_string();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            format!(
                "HTTP GET {target}{}: no HTTP status in answer {line:?}",
                check.path
            )
        })?;
    let output = format!("HTTP GET {target}{}: {line}", check.path);
    if (200..300).contains(&status) {
        Ok(output)
    } else {
        Err(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn check(kind: &str, path: &str) -> ServiceCheck {
        ServiceCheck {
            name: "c".into(),
            r#type: kind.into(),
            path: path.into(),
            interval: 1_000_000_000,
            timeout: 500_000_000,
        }
    }

    /// An HTTP server answering every request with `status`.
    async fn answering(status: &'static str) -> i32 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port() as i32;
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                let _ = conn.write_all(reply.as_bytes()).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn http_checks_pass_on_2xx_and_fail_otherwise() {
        let ok = answering("200 OK").await;
        let result = run(&check("http", "/health"), "127.0.0.1", ok).await;
        assert_eq!(result.status, "passing", "{}", result.output);
        assert!(result.output.contains("200 OK"));
        let broken = answering("503 Service Unavailable").await;
        let result = run(&check("http", "/"), "127.0.0.1", broken).await;
        assert_eq!(result.status, "critical");
        assert!(result.output.contains("503"), "{}", result.output);
    }

    #[tokio::test]
    async fn tcp_checks_fail_on_a_closed_port_and_silence_times_out() {
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port() as i32
        };
        let result = run(&check("tcp", ""), "127.0.0.1", closed).await;
        assert_eq!(result.status, "critical");
        assert!(result.output.contains("connecting"), "{}", result.output);
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port() as i32;
        let result = run(&check("http", "/"), "127.0.0.1", port).await;
        assert_eq!(result.status, "critical");
        assert!(result.output.contains("no answer"), "{}", result.output);
        let result = run(&check("tcp", ""), "127.0.0.1", port).await;
        assert_eq!(result.status, "passing");
    }
}
