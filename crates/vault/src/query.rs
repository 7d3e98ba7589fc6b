//! The query a read or list path may carry, as consul-template allows
//! (`secret "kv/data/app?version=2"`): split off the path and checked, so that it is sent as
//! query parameters rather than escaped into the path.

use crate::error::VaultError;

/// Query parameters taken from a path: `(name, value)` pairs, in the order given.
pub(crate) type Params<'a> = Vec<(&'a str, &'a str)>;

/// Splits `path` at its first `?` into the path and its parameters (`name=value` pairs joined
/// by `&`; a bare `name` has an empty value). Names are letters, digits, `_`, `-` and `.`;
/// values also may hold `,`, `:` and `~`. Anything else, and a name given twice, is refused:
/// the parameters are re-encoded when sent, so nothing in them can alter the request.
pub(crate) fn split(path: &str) -> Result<(&str, Params<'_>), VaultError> {
    let Some((bare, query)) = path.split_once('?') else {
        return Ok((path, Vec::new()));
    };
    let invalid = |reason: String| VaultError::InvalidPath {
        path: path.to_string(),
        reason,
    };
    let mut params: Params<'_> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name.is_empty() || !name.chars().all(is_name_char) {
            return Err(invalid(format!(
                "query parameter name {name:?} is not letters, digits, _, - and ."
            )));
        }
        if !value
            .chars()
            .all(|c| is_name_char(c) || matches!(c, ',' | ':' | '~'))
        {
            return Err(invalid(format!(
                "the value of query parameter {name:?} may hold only letters, digits and _-.,:~"
            )));
        }
        if params.iter().any(|(seen, _)| *seen == name) {
            return Err(invalid(format!("query parameter {name:?} is given twice")));
        }
        params.push((name, value));
    }
    Ok((bare, params))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_without_a_query_is_untouched() {
        assert_eq!(split("kv/data/app").unwrap(), ("kv/data/app", vec![]));
        assert_eq!(split("kv/data/app?").unwrap(), ("kv/data/app", vec![]));
    }

    #[test]
    fn parameters_are_split_off_in_order() {
        assert_eq!(
            split("kv/data/app?version=2&&flag").unwrap(),
            ("kv/data/app", vec![("version", "2"), ("flag", "")])
        );
    }

    #[test]
    fn anything_that_could_alter_the_request_is_refused() {
        for bad in [
            "kv/data/app?version=1&version=2",
            "kv/data/app?version=1%26list%3Dtrue",
            "kv/data/app?version=1#x",
            "kv/data/app?=1",
            "kv/data/app?ver sion=1",
            "kv/data/app?version=1?x=2",
            "kv/data/app?version=a/b",
            "kv/data/app?version=1\r\nX-Vault-Token:%20s.x",
        ] {
            let err = split(bad).unwrap_err();
            assert!(
                matches!(err, VaultError::InvalidPath { .. }),
                "{bad:?}: {err}"
            );
        }
    }
}
