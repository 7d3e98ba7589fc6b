//! The one source of randomness in the scheduler: a generator seeded by the caller, used to
//! shuffle nodes, pick dynamic ports and mint UUID v4 identifiers. The same seed and state give
//! the same plan.

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};

/// Seeded randomness for one evaluation.
pub(crate) struct SeededRng {
    inner: SmallRng,
}

impl SeededRng {
    pub(crate) fn new(seed: u64) -> Self {
        SeededRng {
            inner: SmallRng::seed_from_u64(seed),
        }
    }

    /// A generator for one evaluation: the caller's seed mixed with the evaluation ID, so a
    /// seed reused across evaluations still yields distinct IDs.
    pub(crate) fn for_eval(seed: u64, eval_id: &str) -> Self {
        Self::new(seed ^ fnv1a(eval_id.as_bytes()))
    }

    /// A random UUID v4 in its canonical 36-character form.
    pub(crate) fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.inner.fill_bytes(&mut bytes);
        format_uuid_v4(bytes)
    }

    /// Shuffles `items` in place.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        items.shuffle(&mut self.inner);
    }

    /// A value in `low..=high`; `low` when the range is empty.
    pub(crate) fn between(&mut self, low: u32, high: u32) -> u32 {
        if high <= low {
            low
        } else {
            self.inner.random_range(low..=high)
        }
    }
}

/// 64-bit FNV-1a: a stable hash, the same on every platform and run.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Formats 16 random bytes as a UUID, setting the version (4) and variant (RFC 4122) bits.
fn format_uuid_v4(mut bytes: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_v4_and_reproducible() {
        let a = SeededRng::new(7).uuid();
        let b = SeededRng::new(7).uuid();
        assert_eq!(a, b);
        assert_eq!(a.len(), 36);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(SeededRng::new(8).uuid(), a);
        assert_ne!(
            SeededRng::for_eval(7, "e1").uuid(),
            SeededRng::for_eval(7, "e2").uuid()
        );
    }

    #[test]
    fn between_stays_in_range() {
        let mut rng = SeededRng::new(1);
        for _ in 0..1000 {
            let v = rng.between(20000, 20003);
            assert!((20000..=20003).contains(&v));
        }
        assert_eq!(rng.between(5, 5), 5);
        assert_eq!(rng.between(6, 5), 6);
    }
}
