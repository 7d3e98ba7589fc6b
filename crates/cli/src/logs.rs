//! Reading `/v1/client/fs/logs` streams: splitting the body into JSON frames
//! (`{Offset, Data, File, FileEvent}`, `{}` heartbeats) as bytes arrive, decoding their base64
//! payloads, and keeping only the last lines for `-tail -n`.

use base64::Engine;
use drover_api::fs::StreamFrame;

/// Lines assumed per byte when turning `-n <lines>` into a starting offset, as Nomad does.
pub const BYTES_PER_LINE: u64 = 120;

/// A frame stream that did not decode.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("invalid log frame: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid log frame data: {0}")]
    Base64(#[from] base64::DecodeError),
}

/// Splits a byte stream of back-to-back JSON frames into frames.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    pending: Vec<u8>,
}

impl FrameDecoder {
    /// Adds bytes and returns the payloads of every frame now complete, in order. Heartbeats
    /// and frames without data yield nothing.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        self.pending.extend_from_slice(chunk);
        let mut payloads = Vec::new();
        let mut stream =
            serde_json::Deserializer::from_slice(&self.pending).into_iter::<StreamFrame>();
        let mut consumed = 0;
        loop {
            match stream.next() {
                Some(Ok(frame)) => {
                    consumed = stream.byte_offset();
                    if !frame.data.is_empty() {
                        payloads
                            .push(base64::engine::general_purpose::STANDARD.decode(&frame.data)?);
                    }
                }
                Some(Err(e)) if e.is_eof() => break,
                Some(Err(e)) => return Err(e.into()),
                None => {
                    consumed = stream.byte_offset();
                    break;
                }
            }
        }
        self.pending.drain(..consumed);
        Ok(payloads)
    }

    /// True when bytes of an unfinished frame are waiting.
    pub fn has_partial(&self) -> bool {
        self.pending.iter().any(|b| !b.is_ascii_whitespace())
    }
}

/// The last `lines` lines of `data` (all of it when it has fewer).
pub fn last_lines(data: &[u8], lines: usize) -> &[u8] {
    if lines == 0 {
        return &data[data.len()..];
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut seen = 0;
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == lines {
                return &data[i + 1..];
            }
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(data: &str) -> String {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        format!("{{\"Offset\":5,\"Data\":\"{encoded}\",\"File\":\"alloc/logs/web.stdout.0\"}}")
    }

    #[test]
    fn decodes_back_to_back_frames_and_skips_heartbeats() {
        let mut d = FrameDecoder::default();
        let body = format!("{}{{}}\n{}", frame("hello\n"), frame("world\n"));
        let out = d.push(body.as_bytes()).unwrap_or_default();
        assert_eq!(out, vec![b"hello\n".to_vec(), b"world\n".to_vec()]);
        assert!(!d.has_partial());
    }

    #[test]
    fn frames_split_across_chunks_are_joined() {
        let mut d = FrameDecoder::default();
        let body = frame("split frame");
        let (a, b) = body.split_at(17);
        assert!(d.push(a.as_bytes()).unwrap_or_default().is_empty());
        assert!(d.has_partial());
        assert_eq!(
            d.push(b.as_bytes()).unwrap_or_default(),
            vec![b"split frame".to_vec()]
        );
        assert!(!d.has_partial());
    }

    #[test]
    fn garbage_is_an_error() {
        let mut d = FrameDecoder::default();
        assert!(d.push(b"not json").is_err());
        let mut d = FrameDecoder::default();
        assert!(d.push(br#"{"Data":"!!!"}"#).is_err());
    }

    #[test]
    fn last_lines_keeps_the_tail() {
        assert_eq!(last_lines(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(last_lines(b"a\nb\nc", 2), b"b\nc");
        assert_eq!(last_lines(b"a\nb\n", 5), b"a\nb\n");
        assert_eq!(last_lines(b"a\nb\n", 0), b"");
    }
}
