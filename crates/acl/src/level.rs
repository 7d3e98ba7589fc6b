//! The `policy = "..."` shorthand: its values, which blocks accept which, and how two levels
//! merge (deny wins, otherwise the more privileged one).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A value of a rule's `policy` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyLevel {
    Deny,
    List,
    Read,
    Write,
    Scale,
}

impl PolicyLevel {
    pub const ALL: &'static [PolicyLevel] = &[
        PolicyLevel::Deny,
        PolicyLevel::List,
        PolicyLevel::Read,
        PolicyLevel::Write,
        PolicyLevel::Scale,
    ];

    /// Levels a `namespace` rule accepts.
    pub const NAMESPACE: &'static [PolicyLevel] = &[
        PolicyLevel::Deny,
        PolicyLevel::Read,
        PolicyLevel::Write,
        PolicyLevel::Scale,
    ];
    /// Levels `agent`, `node`, `operator`, `quota`, `node_pool` and `host_volume` accept.
    pub const READ_WRITE: &'static [PolicyLevel] =
        &[PolicyLevel::Deny, PolicyLevel::Read, PolicyLevel::Write];
    /// Levels a `plugin` rule accepts.
    pub const PLUGIN: &'static [PolicyLevel] = &[
        PolicyLevel::Deny,
        PolicyLevel::List,
        PolicyLevel::Read,
        PolicyLevel::Write,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::List => "list",
            Self::Read => "read",
            Self::Write => "write",
            Self::Scale => "scale",
        }
    }

    /// The level named `text`, if it is one.
    pub fn from_name(text: &str) -> Option<PolicyLevel> {
        Self::ALL
            .iter()
            .copied()
            .find(|level| level.as_str() == text)
    }

    /// The merge of two policies' levels for the same rule: `deny` wins, otherwise the one that
    /// grants more (`write` > `read` > `list`).
    pub fn merge(self, other: PolicyLevel) -> PolicyLevel {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// Whether this level grants reading (`read` or `write`).
    pub fn grants_read(self) -> bool {
        matches!(self, Self::Read | Self::Write)
    }

    /// Whether this level grants writing.
    pub fn grants_write(self) -> bool {
        self == Self::Write
    }

    fn rank(self) -> u8 {
        match self {
            Self::Scale => 0,
            Self::List => 1,
            Self::Read => 2,
            Self::Write => 3,
            Self::Deny => 4,
        }
    }
}

/// Merges a policy's level for a rule (if it has one) into the level already held.
pub(crate) fn merge_into(held: &mut Option<PolicyLevel>, new: Option<PolicyLevel>) {
    if let Some(new) = new {
        *held = Some(held.map_or(new, |held| held.merge(new)));
    }
}

impl fmt::Display for PolicyLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::PolicyLevel::{self, *};

    #[test]
    fn deny_wins_every_merge_in_either_order() {
        for level in PolicyLevel::ALL {
            assert_eq!(level.merge(Deny), Deny);
            assert_eq!(Deny.merge(*level), Deny);
        }
    }

    #[test]
    fn otherwise_the_more_privileged_level_wins() {
        assert_eq!(Read.merge(Write), Write);
        assert_eq!(Write.merge(Read), Write);
        assert_eq!(List.merge(Read), Read);
        assert_eq!(Read.merge(List), Read);
    }

    #[test]
    fn names_round_trip() {
        for level in PolicyLevel::ALL {
            assert_eq!(PolicyLevel::from_name(level.as_str()), Some(*level));
        }
        assert_eq!(PolicyLevel::from_name("admin"), None);
        assert_eq!(PolicyLevel::from_name("Read"), None);
    }
}
