//! Reading the output of an `env = true` template: `KEY=value` lines (an optional `export `
//! prefix, `#` comments and blank lines allowed, values optionally in single or double quotes,
//! `\n`-style escapes inside double quotes), as the files Nomad reads with dotenv.

use std::collections::BTreeMap;

/// The variables `text` sets; the error names the line that is not `KEY=value`.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected KEY=value", n + 1))?;
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(format!("line {}: {key:?} is not a variable name", n + 1));
        }
        vars.insert(key.to_string(), unquote(value.trim()));
    }
    Ok(vars)
}

fn unquote(value: &str) -> String {
    if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
        return value[1..value.len() - 1].to_string();
    }
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        let inner = &value[1..value.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        }
        return out;
    }
    // An unquoted value ends at a comment.
    value
        .split_once(" #")
        .map_or(value, |(v, _)| v.trim_end())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dotenv_lines() {
        let vars = parse(
            "# db\nDB_USER=app\nexport DB_PASS=\"s3 cr\\\"et\\n\"\nQ='a b' \nPLAIN=x # note\n\n",
        )
        .unwrap();
        assert_eq!(vars["DB_USER"], "app");
        assert_eq!(vars["DB_PASS"], "s3 cr\"et\n");
        assert_eq!(vars["Q"], "a b");
        assert_eq!(vars["PLAIN"], "x");
    }

    #[test]
    fn names_the_bad_line() {
        assert_eq!(
            parse("A=1\nnot a pair\n").unwrap_err(),
            "line 2: expected KEY=value"
        );
        assert!(parse("B C=1").unwrap_err().contains("not a variable name"));
    }
}
