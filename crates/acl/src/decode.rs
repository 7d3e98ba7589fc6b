//! The syntax tree → a validated [`Policy`]. Strict: unknown blocks, attributes, policy values
//! and capabilities are errors, as are bad names, repeated singleton blocks, and variable paths
//! that are empty or start with `/`.

use crate::capabilities::CapabilityScope;
use crate::error::{ParseError, ParseErrorKind};
use crate::level::PolicyLevel;
use crate::policy::{NamedRule, NamespaceRule, OperatorRule, Policy, VariablePathRule};
use crate::syntax::{Attribute, Block, Item, Section, Value};

/// Validates body items into a policy.
pub(crate) fn decode(items: &[Item]) -> Result<Policy, ParseError> {
    if items.is_empty() {
        return Err(ParseError::new(None, ParseErrorKind::Empty));
    }
    let root = Fields::read(items, Section::Root, "policy".to_string())?;
    let mut policy = Policy::default();
    for (section, block) in &root.blocks {
        let within = describe(block);
        match section {
            Section::Namespace => policy.namespaces.push(namespace(block, within)?),
            Section::NodePool => {
                policy
                    .node_pools
                    .push(named(block, &NamedKind::NODE_POOL, within)?)
            }
            Section::HostVolume => {
                policy
                    .host_volumes
                    .push(named(block, &NamedKind::HOST_VOLUME, within)?)
            }
            Section::Operator => set_once(&mut policy.operator, block, || operator(block, within))?,
            level_only => {
                if let Some(slot) = level_slot(&mut policy, *level_only) {
                    set_once(slot, block, || required_level(block, *level_only, within))?;
                }
            }
        }
    }
    Ok(policy)
}

/// The field a level-only block (`agent`, `node`, `quota`, `plugin`) fills.
fn level_slot(policy: &mut Policy, section: Section) -> Option<&mut Option<PolicyLevel>> {
    match section {
        Section::Agent => Some(&mut policy.agent),
        Section::Node => Some(&mut policy.node),
        Section::Quota => Some(&mut policy.quota),
        Section::Plugin => Some(&mut policy.plugin),
        _ => None,
    }
}

/// Fills a singleton block's slot, refusing a second block of the same kind.
fn set_once<T>(
    slot: &mut Option<T>,
    block: &Block,
    decode: impl FnOnce() -> Result<T, ParseError>,
) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::new(
            block.line,
            ParseErrorKind::DuplicateBlock {
                within: "policy".to_string(),
                name: block.name.clone(),
            },
        ));
    }
    *slot = Some(decode()?);
    Ok(())
}

fn namespace(block: &Block, within: String) -> Result<NamespaceRule, ParseError> {
    let name = checked_name(block, "namespace", &NameChars::NAMESPACE)?;
    let fields = Fields::read(&block.body, Section::Namespace, within)?;
    let mut variables = None;
    for (_, variables_block) in &fields.blocks {
        if variables.is_some() {
            return Err(ParseError::new(
                variables_block.line,
                ParseErrorKind::DuplicateBlock {
                    within: fields.within.clone(),
                    name: variables_block.name.clone(),
                },
            ));
        }
        variables = Some(variable_paths(variables_block, &fields.within)?);
    }
    Ok(NamespaceRule {
        name,
        policy: fields.level(PolicyLevel::NAMESPACE)?,
        capabilities: fields.capabilities(CapabilityScope::Namespace)?,
        variables: variables.unwrap_or_default(),
    })
}

fn variable_paths(block: &Block, namespace: &str) -> Result<Vec<VariablePathRule>, ParseError> {
    let within = format!("{namespace} variables");
    let fields = Fields::read(&block.body, Section::Variables, within)?;
    if fields.blocks.is_empty() {
        return Err(ParseError::new(
            block.line,
            ParseErrorKind::NoVariablePaths {
                within: fields.within.clone(),
            },
        ));
    }
    fields
        .blocks
        .iter()
        .map(|(_, path_block)| {
            let within = format!("{} {}", fields.within, describe(path_block));
            let path = path_block.labels.first().cloned().unwrap_or_default();
            let problem = if path.is_empty() {
                Some("a path is required")
            } else if path.starts_with('/') {
                Some("paths must not start with `/`")
            } else {
                None
            };
            if let Some(reason) = problem {
                return Err(ParseError::new(
                    path_block.line,
                    ParseErrorKind::InvalidVariablePath {
                        within: fields.within.clone(),
                        path,
                        reason,
                    },
                ));
            }
            let path_fields = Fields::read(&path_block.body, Section::VariablePath, within)?;
            Ok(VariablePathRule {
                path,
                capabilities: path_fields.capabilities(CapabilityScope::Variables)?,
            })
        })
        .collect()
}

/// What differs between the two kinds of [`NamedRule`].
struct NamedKind {
    block: &'static str,
    section: Section,
    chars: NameChars,
    scope: CapabilityScope,
}

impl NamedKind {
    const NODE_POOL: NamedKind = NamedKind {
        block: "node_pool",
        section: Section::NodePool,
        chars: NameChars::NODE_POOL,
        scope: CapabilityScope::NodePool,
    };
    const HOST_VOLUME: NamedKind = NamedKind {
        block: "host_volume",
        section: Section::HostVolume,
        chars: NameChars::HOST_VOLUME,
        scope: CapabilityScope::HostVolume,
    };
}

fn named(block: &Block, kind: &NamedKind, within: String) -> Result<NamedRule, ParseError> {
    let name = checked_name(block, kind.block, &kind.chars)?;
    let fields = Fields::read(&block.body, kind.section, within)?;
    Ok(NamedRule {
        name,
        policy: fields.level(PolicyLevel::READ_WRITE)?,
        capabilities: fields.capabilities(kind.scope)?,
    })
}

fn operator(block: &Block, within: String) -> Result<OperatorRule, ParseError> {
    let fields = Fields::read(&block.body, Section::Operator, within)?;
    Ok(OperatorRule {
        policy: fields.level(PolicyLevel::READ_WRITE)?,
        capabilities: fields.capabilities(CapabilityScope::Operator)?,
    })
}

/// `agent`, `node`, `quota`, `plugin`: a block whose only content is a required `policy`.
fn required_level(
    block: &Block,
    section: Section,
    within: String,
) -> Result<PolicyLevel, ParseError> {
    let allowed = match section {
        Section::Plugin => PolicyLevel::PLUGIN,
        _ => PolicyLevel::READ_WRITE,
    };
    let fields = Fields::read(&block.body, section, within)?;
    match fields.level(allowed)? {
        Some(level) => Ok(level),
        None => Err(ParseError::new(
            block.line,
            ParseErrorKind::MissingPolicy {
                within: fields.within.clone(),
            },
        )),
    }
}

/// The characters a rule's name may use (1 to 128 of them).
struct NameChars {
    underscore: bool,
    described: &'static str,
}

impl NameChars {
    const NAMESPACE: NameChars = NameChars {
        underscore: false,
        described: "letters, digits, `-` and `*`",
    };
    const HOST_VOLUME: NameChars = NameChars::NAMESPACE;
    const NODE_POOL: NameChars = NameChars {
        underscore: true,
        described: "letters, digits, `-`, `_` and `*`",
    };

    fn accepts(&self, name: &str) -> bool {
        (1..=128).contains(&name.len())
            && name.chars().all(|c| {
                c.is_ascii_alphanumeric() || c == '-' || c == '*' || (self.underscore && c == '_')
            })
    }
}

fn checked_name(
    block: &Block,
    kind: &'static str,
    chars: &NameChars,
) -> Result<String, ParseError> {
    let name = block.labels.first().cloned().unwrap_or_default();
    if chars.accepts(&name) {
        Ok(name)
    } else {
        Err(ParseError::new(
            block.line,
            ParseErrorKind::InvalidName {
                block: kind,
                name,
                allowed: chars.described,
            },
        ))
    }
}

/// `namespace "default"`, `agent`: a block as its header reads.
fn describe(block: &Block) -> String {
    block.labels.iter().fold(block.name.clone(), |text, label| {
        format!("{text} {label:?}")
    })
}

/// A block body checked against its section: known attributes and known nested blocks with the
/// right number of labels. (An attribute cannot repeat: HCL rejects a redefined attribute and a
/// JSON object holds one value per key.)
struct Fields<'a> {
    within: String,
    attributes: Vec<&'a Attribute>,
    blocks: Vec<(Section, &'a Block)>,
}

impl<'a> Fields<'a> {
    fn read(items: &'a [Item], section: Section, within: String) -> Result<Fields<'a>, ParseError> {
        let mut fields = Fields {
            within,
            attributes: Vec::new(),
            blocks: Vec::new(),
        };
        for item in items {
            match item {
                Item::Attribute(attribute) => fields.add_attribute(section, attribute)?,
                Item::Block(block) => fields.add_block(section, block)?,
            }
        }
        Ok(fields)
    }

    fn add_attribute(
        &mut self,
        section: Section,
        attribute: &'a Attribute,
    ) -> Result<(), ParseError> {
        let name = attribute.key.clone();
        if !section.holds_attribute(&attribute.key) {
            let within = self.within.clone();
            return Err(ParseError::new(
                attribute.line,
                ParseErrorKind::UnknownAttribute { within, name },
            ));
        }
        self.attributes.push(attribute);
        Ok(())
    }

    fn add_block(&mut self, section: Section, block: &'a Block) -> Result<(), ParseError> {
        let within = self.within.clone();
        let Some((child, expected)) = section.child(&block.name) else {
            let name = block.name.clone();
            return Err(ParseError::new(
                block.line,
                ParseErrorKind::UnknownBlock { within, name },
            ));
        };
        if block.labels.len() != expected {
            return Err(ParseError::new(
                block.line,
                ParseErrorKind::WrongLabelCount {
                    within,
                    block: block.name.clone(),
                    expected,
                    found: block.labels.len(),
                },
            ));
        }
        self.blocks.push((child, block));
        Ok(())
    }

    fn attribute(&self, key: &str) -> Option<&'a Attribute> {
        self.attributes
            .iter()
            .copied()
            .find(|attribute| attribute.key == key)
    }

    fn wrong_type(
        &self,
        attribute: &Attribute,
        expected: &'static str,
        found: &Value,
    ) -> ParseError {
        ParseError::new(
            attribute.line,
            ParseErrorKind::WrongType {
                within: self.within.clone(),
                attribute: attribute.key.clone(),
                expected,
                found: found.describe(),
            },
        )
    }

    /// The `policy` attribute, if set, checked against the levels this block accepts.
    fn level(&self, allowed: &[PolicyLevel]) -> Result<Option<PolicyLevel>, ParseError> {
        let Some(attribute) = self.attribute("policy") else {
            return Ok(None);
        };
        let Value::String(text) = &attribute.value else {
            return Err(self.wrong_type(attribute, "a string", &attribute.value));
        };
        match PolicyLevel::from_name(text).filter(|level| allowed.contains(level)) {
            Some(level) => Ok(Some(level)),
            None => Err(ParseError::new(
                attribute.line,
                ParseErrorKind::InvalidPolicy {
                    within: self.within.clone(),
                    value: text.clone(),
                    allowed: allowed.iter().map(|level| level.as_str()).collect(),
                },
            )),
        }
    }

    /// The `capabilities` list, each checked against the scope's vocabulary.
    fn capabilities(&self, scope: CapabilityScope) -> Result<Vec<&'static str>, ParseError> {
        let Some(attribute) = self.attribute("capabilities") else {
            return Ok(Vec::new());
        };
        let Value::List(values) = &attribute.value else {
            return Err(self.wrong_type(attribute, "a list of strings", &attribute.value));
        };
        values
            .iter()
            .map(|value| {
                let Value::String(text) = value else {
                    return Err(self.wrong_type(attribute, "a list of strings", value));
                };
                scope.known(text).ok_or_else(|| {
                    ParseError::new(
                        attribute.line,
                        ParseErrorKind::UnknownCapability {
                            within: self.within.clone(),
                            capability: text.clone(),
                            allowed: scope.all().to_vec(),
                        },
                    )
                })
            })
            .collect()
    }
}
