//! `${…}` references in strings: the one scanner behind the client's task interpolation and the
//! server's identity `extra_claims`. Each reference is resolved by the caller; one that does not
//! resolve, or is never closed, stays as written.

/// Replaces every `${name}` in `input` that `resolve` knows.
pub fn substitute(input: &str, resolve: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        match resolve(&after[..end]) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn resolves_known_references_and_keeps_the_rest() {
        let resolve = |name: &str| (name == "a").then(|| "1".to_string());
        assert_eq!(substitute("x${a}y${b}z", resolve), "x1y${b}z");
        assert_eq!(substitute("open ${a", resolve), "open ${a");
        assert_eq!(substitute("", resolve), "");
        assert_eq!(substitute("${a}${a}", resolve), "11");
    }
}
