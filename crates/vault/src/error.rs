//! What can go wrong talking to Vault, and which failures are worth retrying: an unreachable
//! server, a 5xx or a 429 are; a refusal (403, 400) is not.

/// Most of an error body that is kept when Vault's answer is not its usual JSON.
const MAX_PLAIN_ERROR_LEN: usize = 512;

/// A failed call to Vault.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No answer: the connection failed or timed out. Worth retrying.
    #[error(
        "cannot reach Vault at {address}: {reason} (check the address and that Vault is running)"
    )]
    Unreachable { address: String, reason: String },
    /// Vault answered with an error status; `errors` is its `errors` array.
    #[error("Vault answered {status}: {}", describe(errors))]
    Status { status: u16, errors: Vec<String> },
    /// Vault answered, but not with what the call expects.
    #[error("unexpected answer from Vault: {0}")]
    Decode(String),
    /// The client configuration cannot be used.
    #[error("invalid Vault configuration: {0}")]
    Config(String),
    /// A path given to a call cannot name a Vault endpoint.
    #[error("invalid Vault path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
}

fn describe(errors: &[String]) -> String {
    if errors.is_empty() {
        "no error message".to_string()
    } else {
        errors.join("; ")
    }
}

impl VaultError {
    /// True for Vault's 403 (a token without the capability, or an unknown auth mount).
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, VaultError::Status { status: 403, .. })
    }

    /// True when trying again later may succeed: Vault was unreachable, overloaded (429),
    /// sealed or failing (5xx).
    pub fn is_recoverable(&self) -> bool {
        match self {
            VaultError::Unreachable { .. } => true,
            VaultError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// The HTTP status of a refusal, if Vault answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            VaultError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Builds the error for a non-success answer from its status and body: Vault's
    /// `{"errors": [...]}`, or the body's text when it is something else.
    pub(crate) fn from_answer(status: u16, body: &[u8]) -> VaultError {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            #[serde(default)]
            errors: Option<Vec<String>>,
        }
        let errors = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) => parsed.errors.unwrap_or_default(),
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![truncate(text, MAX_PLAIN_ERROR_LEN)]
                }
            }
        };
        VaultError::Status { status, errors }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_errors_array_is_kept() {
        let err = VaultError::from_answer(403, br#"{"errors":["permission denied"]}"#);
        assert!(err.is_permission_denied());
        assert!(!err.is_recoverable());
        assert_eq!(err.to_string(), "Vault answered 403: permission denied");
    }

    #[test]
    fn plain_and_empty_bodies_still_describe_the_failure() {
        let err = VaultError::from_answer(502, b"<html>bad gateway</html>\n");
        assert!(err.is_recoverable());
        assert_eq!(
            err.to_string(),
            "Vault answered 502: <html>bad gateway</html>"
        );
        let err = VaultError::from_answer(400, br#"{"errors":[]}"#);
        assert_eq!(err.to_string(), "Vault answered 400: no error message");
        let err = VaultError::from_answer(429, b"");
        assert!(err.is_recoverable());
    }

    #[test]
    fn long_plain_bodies_are_cut_on_a_character_boundary() {
        let body = "é".repeat(600);
        let VaultError::Status { errors, .. } = VaultError::from_answer(500, body.as_bytes())
        else {
            panic!("not a status error");
        };
        assert!(errors[0].len() <= MAX_PLAIN_ERROR_LEN + '…'.len_utf8());
        assert!(errors[0].ends_with('…'));
    }

    #[test]
    fn unreachable_is_recoverable_and_says_what_to_check() {
        let err = VaultError::Unreachable {
            address: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        };
        assert!(err.is_recoverable());
        assert!(err.to_string().contains("check the address"));
    }
}
