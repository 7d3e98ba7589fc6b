//! The frames of `GET /v1/client/allocation/:id/exec`, a websocket: what the caller sends
//! (stdin, terminal size, heartbeats), what the agent answers (stdout, stderr, the exit), and the
//! optional first message that carries the token when headers cannot (`ws_handshake=true`).
//! Every frame is one JSON text message; byte payloads are base64, as Go encodes `[]byte`.

use serde::{Deserialize, Serialize};

/// The path of the exec websocket of allocation `alloc_id` (already escaped by the caller).
pub fn exec_path(alloc_id: &str) -> String {
    format!("/v1/client/allocation/{alloc_id}/exec")
}

/// The handshake version this API speaks.
pub const WS_HANDSHAKE_VERSION: i64 = 1;

/// The first message when the socket is opened with `ws_handshake=true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsHandshake {
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub auth_token: String,
}

/// Bytes of one stream, or its end (`close`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoOperation {
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_bytes")]
    pub data: Vec<u8>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub close: bool,
}

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSize {
    #[serde(default)]
    pub height: u16,
    #[serde(default)]
    pub width: u16,
}

/// A frame from the caller. An empty frame (`{}`) is a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<IoOperation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty_size: Option<TerminalSize>,
}

impl ExecInput {
    /// Bytes for the command's stdin.
    pub fn stdin(data: Vec<u8>) -> Self {
        ExecInput {
            stdin: Some(IoOperation { data, close: false }),
            ..Default::default()
        }
    }

    /// The end of the command's stdin.
    pub fn close_stdin() -> Self {
        ExecInput {
            stdin: Some(IoOperation {
                data: Vec::new(),
                close: true,
            }),
            ..Default::default()
        }
    }

    /// The caller's terminal changed size.
    pub fn resize(height: u16, width: u16) -> Self {
        ExecInput {
            tty_size: Some(TerminalSize { height, width }),
            ..Default::default()
        }
    }
}

/// How the command ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecResult {
    #[serde(default)]
    pub exit_code: i32,
}

/// A frame from the agent. The last one has `exited` set and the result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<IoOperation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<IoOperation>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exited: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExecResult>,
}

impl ExecOutput {
    pub fn stdout(data: Vec<u8>) -> Self {
        ExecOutput {
            stdout: Some(IoOperation { data, close: false }),
            ..Default::default()
        }
    }

    pub fn stderr(data: Vec<u8>) -> Self {
        ExecOutput {
            stderr: Some(IoOperation { data, close: false }),
            ..Default::default()
        }
    }

    /// The command ended with `exit_code`.
    pub fn exited(exit_code: i32) -> Self {
        ExecOutput {
            exited: true,
            result: Some(ExecResult { exit_code }),
            ..Default::default()
        }
    }
}

/// `[]byte` as Go's JSON encodes it: standard base64 with padding; `null` reads as empty.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("data is not valid base64: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_frames_match_the_wire_format() {
        assert_eq!(
            serde_json::to_value(ExecInput::stdin(b"hi\n".to_vec())).unwrap(),
            json!({"stdin": {"data": "aGkK"}})
        );
        assert_eq!(
            serde_json::to_value(ExecInput::close_stdin()).unwrap(),
            json!({"stdin": {"close": true}})
        );
        assert_eq!(
            serde_json::to_value(ExecInput::resize(24, 80)).unwrap(),
            json!({"tty_size": {"height": 24, "width": 80}})
        );
        assert_eq!(
            serde_json::to_value(ExecInput::default()).unwrap(),
            json!({})
        );
    }

    #[test]
    fn output_frames_read_as_the_nomad_agent_writes_them() {
        let out: ExecOutput = serde_json::from_value(json!({"stdout": {"data": "b2sK"}})).unwrap();
        assert_eq!(out, ExecOutput::stdout(b"ok\n".to_vec()));
        let closed: ExecOutput =
            serde_json::from_value(json!({"stderr": {"data": null, "close": true}})).unwrap();
        assert!(closed.stderr.is_some_and(|s| s.close && s.data.is_empty()));
        let exit: ExecOutput =
            serde_json::from_value(json!({"exited": true, "result": {"exit_code": 3}})).unwrap();
        assert_eq!(exit, ExecOutput::exited(3));
        assert_eq!(
            serde_json::to_value(ExecOutput::exited(0)).unwrap(),
            json!({"exited": true, "result": {"exit_code": 0}})
        );
    }

    #[test]
    fn bad_base64_is_an_error_not_a_panic() {
        let err = serde_json::from_value::<ExecInput>(json!({"stdin": {"data": "!!"}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("base64"), "{err}");
    }

    #[test]
    fn handshake_reads_version_and_token() {
        let h: WsHandshake =
            serde_json::from_value(json!({"version": 1, "auth_token": "s"})).unwrap();
        assert_eq!(h.version, WS_HANDSHAKE_VERSION);
        assert_eq!(h.auth_token, "s");
    }
}
