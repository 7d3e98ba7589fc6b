//! base64url (no padding) as JWS and JWK use it, with exact output sizes for one-allocation
//! encoding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Length of the unpadded base64 encoding of `len` bytes.
pub(crate) fn encoded_len(len: usize) -> usize {
    (len / 3) * 4 + [0, 2, 3][len % 3]
}

/// Appends the base64url encoding of `bytes` to `out`.
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// The base64url encoding of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes strict base64url: no padding, no stray characters, no non-zero trailing bits.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_len_matches_the_encoder() {
        for len in 0..70 {
            let bytes = vec![0xa5; len];
            assert_eq!(encode(&bytes).len(), encoded_len(len), "len {len}");
        }
    }

    #[test]
    fn padding_and_standard_alphabet_are_refused() {
        assert_eq!(decode("_-8").unwrap(), vec![0xff, 0xef]);
        assert!(decode("_-8=").is_err());
        assert!(decode("/+8").is_err());
    }
}
