//! The JWS algorithms drover signs and accepts: RS256 (Nomad's default) and EdDSA (Ed25519).

use std::fmt;
use std::str::FromStr;

use drover_api::{ALG_EDDSA, ALG_RS256};

/// A JWS signature algorithm of a root key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over the root key's RSA-2048 key.
    Rs256,
    /// Ed25519 over the root key's Ed25519 key.
    EdDsa,
}

impl Algorithm {
    /// Every algorithm, in the order they are published.
    pub const ALL: [Algorithm; 2] = [Algorithm::Rs256, Algorithm::EdDsa];

    /// The JWS `alg` name: `RS256` or `EdDSA`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => ALG_RS256,
            Algorithm::EdDsa => ALG_EDDSA,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the supported JWS algorithms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signing algorithm {0:?}: use \"RS256\" or \"EdDSA\"")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses the exact JWS name (case-sensitive, as JOSE defines it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or_else(|| UnknownAlgorithm(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_exactly() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
        }
        assert_eq!(Algorithm::Rs256.to_string(), "RS256");
        assert_eq!(Algorithm::EdDsa.to_string(), "EdDSA");
    }

    #[test]
    fn other_names_are_refused_with_the_allowed_ones() {
        for bad in ["rs256", "EDDSA", "HS256", "none", "", "RS256 "] {
            let err = bad.parse::<Algorithm>().unwrap_err();
            assert!(err.to_string().contains("\"RS256\" or \"EdDSA\""), "{err}");
        }
    }
}
