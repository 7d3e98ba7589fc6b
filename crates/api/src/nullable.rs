//! Serde helper: Nomad's Go clients send `null` for empty slices, maps and strings, so every
//! collection or string field accepts `null` as its default value.

use serde::{Deserialize, Deserializer};

pub fn de<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
