//! The escape sequence of terminal sessions, as ssh and `nomad alloc exec` have it: the escape
//! character at the start of a line, followed by `.`, disconnects; followed by itself, sends
//! it once; followed by anything else, sends both.

/// What the keyboard input means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keys {
    /// Bytes for the command.
    Send(Vec<u8>),
    /// Bytes for the command, then the user asked to disconnect.
    Disconnect(Vec<u8>),
}

/// Watches keyboard input for the escape sequence.
#[derive(Debug)]
pub struct EscapeReader {
    escape: u8,
    line_start: bool,
    /// The escape character was seen at a line start and the next byte decides.
    pending: bool,
}

impl EscapeReader {
    pub fn new(escape: u8) -> Self {
        EscapeReader {
            escape,
            line_start: true,
            pending: false,
        }
    }

    /// Filters one chunk of input.
    pub fn feed(&mut self, input: &[u8]) -> Keys {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.pending {
                self.pending = false;
                match b {
                    b'.' => return Keys::Disconnect(out),
                    b if b == self.escape => {
                        out.push(b);
                        self.line_start = false;
                        continue;
                    }
                    _ => out.push(self.escape),
                }
            } else if self.line_start && b == self.escape {
                self.pending = true;
                continue;
            }
            out.push(b);
            self.line_start = matches!(b, b'\r' | b'\n');
        }
        Keys::Send(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_dot_at_a_line_start_disconnects() {
        let mut r = EscapeReader::new(b'~');
        assert_eq!(r.feed(b"~."), Keys::Disconnect(vec![]));
        let mut r = EscapeReader::new(b'~');
        assert_eq!(r.feed(b"ls\r~"), Keys::Send(b"ls\r".to_vec()));
        assert_eq!(r.feed(b"."), Keys::Disconnect(vec![]));
    }

    #[test]
    fn escapes_elsewhere_or_doubled_are_typed() {
        let mut r = EscapeReader::new(b'~');
        assert_eq!(r.feed(b"a~."), Keys::Send(b"a~.".to_vec()));
        let mut r = EscapeReader::new(b'~');
        assert_eq!(r.feed(b"~~."), Keys::Send(b"~.".to_vec()));
        let mut r = EscapeReader::new(b'~');
        assert_eq!(r.feed(b"~x"), Keys::Send(b"~x".to_vec()));
        assert_eq!(r.feed(b"\n~."), Keys::Disconnect(b"\n".to_vec()));
    }
}
