//! The entry point of the grammar: policy text (HCL, or JSON when it starts with `{`) → a
//! validated [`Policy`].

use crate::decode::decode;
use crate::error::ParseError;
use crate::policy::Policy;
use crate::{hcl_syntax, json_syntax};

/// Parses and validates policy rules. Text whose first non-blank character is `{` is read as
/// JSON in Nomad's JSON policy shape, anything else as HCL.
pub fn parse(rules: &str) -> Result<Policy, ParseError> {
    let items = if rules.trim_start().starts_with('{') {
        json_syntax::read(rules)?
    } else {
        hcl_syntax::read(rules)?
    };
    decode(&items)
}
