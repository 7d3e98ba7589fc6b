//! A merged set of capabilities for one rule, where `deny` from any policy empties it for good.

use std::collections::BTreeSet;

use crate::capabilities::DENY;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CapabilitySet {
    denied: bool,
    granted: BTreeSet<&'static str>,
}

impl CapabilitySet {
    /// Adds capabilities; `deny` clears the set and keeps it closed to later grants.
    pub(crate) fn grant_all(&mut self, capabilities: impl IntoIterator<Item = &'static str>) {
        for capability in capabilities {
            if capability == DENY {
                self.denied = true;
                self.granted.clear();
            } else if !self.denied {
                self.granted.insert(capability);
            }
        }
    }

    pub(crate) fn is_denied(&self) -> bool {
        self.denied
    }

    pub(crate) fn allows(&self, capability: &str) -> bool {
        !self.denied && self.granted.contains(capability)
    }

    /// Whether anything at all is granted (used for listings).
    pub(crate) fn allows_any(&self) -> bool {
        !self.denied && !self.granted.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_clears_what_came_before_and_blocks_what_comes_after() {
        let mut set = CapabilitySet::default();
        set.grant_all(["read-job"]);
        assert!(set.allows("read-job"));
        set.grant_all([DENY, "submit-job"]);
        assert!(set.is_denied());
        assert!(!set.allows("read-job"));
        assert!(!set.allows("submit-job"));
        assert!(!set.allows(DENY));
        assert!(!set.allows_any());
    }

    #[test]
    fn an_empty_set_allows_nothing() {
        let set = CapabilitySet::default();
        assert!(!set.allows_any());
        assert!(!set.is_denied());
    }
}
