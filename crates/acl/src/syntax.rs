//! The shape both policy formats are read into before validation: blocks with labels,
//! attributes with string or list values, and the line each came from (HCL only). Also the
//! schema: which blocks nest where, how many labels they take, and which attributes they hold.

/// A body item: an attribute or a nested block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Attribute(Attribute),
    Block(Block),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribute {
    pub key: String,
    pub value: Value,
    pub line: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub name: String,
    pub labels: Vec<String>,
    pub body: Vec<Item>,
    pub line: Option<usize>,
}

/// An attribute's value: the two shapes the grammar uses, or a description of anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    String(String),
    List(Vec<Value>),
    Other(&'static str),
}

impl Value {
    /// How the value reads in an error message.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::List(_) => "a list",
            Value::Other(what) => what,
        }
    }
}

/// A kind of block in the grammar (and the top level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Root,
    Namespace,
    Variables,
    VariablePath,
    NodePool,
    HostVolume,
    Agent,
    Node,
    Operator,
    Quota,
    Plugin,
}

const POLICY: &str = "policy";
const CAPABILITIES: &str = "capabilities";

impl Section {
    /// The section a block called `name` opens inside this one, with the labels it takes.
    pub(crate) fn child(self, name: &str) -> Option<(Section, usize)> {
        let child = match (self, name) {
            (Section::Root, "namespace") => (Section::Namespace, 1),
            (Section::Root, "node_pool") => (Section::NodePool, 1),
            (Section::Root, "host_volume") => (Section::HostVolume, 1),
            (Section::Root, "agent") => (Section::Agent, 0),
            (Section::Root, "node") => (Section::Node, 0),
            (Section::Root, "operator") => (Section::Operator, 0),
            (Section::Root, "quota") => (Section::Quota, 0),
            (Section::Root, "plugin") => (Section::Plugin, 0),
            (Section::Namespace, "variables") => (Section::Variables, 0),
            (Section::Variables, "path") => (Section::VariablePath, 1),
            _ => return None,
        };
        Some(child)
    }

    /// The attributes this section holds.
    pub(crate) fn attributes(self) -> &'static [&'static str] {
        match self {
            Section::Root | Section::Variables => &[],
            Section::Namespace | Section::NodePool | Section::HostVolume | Section::Operator => {
                &[POLICY, CAPABILITIES]
            }
            Section::Agent | Section::Node | Section::Quota | Section::Plugin => &[POLICY],
            Section::VariablePath => &[CAPABILITIES],
        }
    }

    pub(crate) fn holds_attribute(self, key: &str) -> bool {
        self.attributes().contains(&key)
    }
}

/// Maps byte offsets of a source text to 1-based line numbers.
pub(crate) struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(source: &str) -> LineIndex {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(offset, _)| offset + 1))
            .collect();
        LineIndex { line_starts }
    }

    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|start| *start <= offset)
    }
}

#[cfg(test)]
mod tests {
    use super::LineIndex;

    #[test]
    fn offsets_map_to_their_lines() {
        let index = LineIndex::new("ab\ncd\n\nef");
        assert_eq!(index.line_of(0), 1);
        assert_eq!(index.line_of(2), 1);
        assert_eq!(index.line_of(3), 2);
        assert_eq!(index.line_of(6), 3);
        assert_eq!(index.line_of(7), 4);
        assert_eq!(index.line_of(100), 4);
    }
}
