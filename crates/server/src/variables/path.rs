//! Which variable paths may be written: `^[a-zA-Z0-9-_~/]{1,128}$`, and under the reserved
//! top-level `nomad/` only `nomad/jobs[/...]`, `nomad/sentinel[/...]` and
//! `nomad/job-templates/<name>`.

use crate::ServerError;

/// Longest variable path.
const MAX_PATH_LEN: usize = 128;

/// Checks a variable path for a write.
pub(crate) fn validate_path(path: &str) -> Result<(), ServerError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~' | '/');
    if path.is_empty() || path.len() > MAX_PATH_LEN || !path.chars().all(allowed) {
        return Err(ServerError::BadRequest(format!(
            "invalid path {path:?}: a variable path is 1 to {MAX_PATH_LEN} characters of letters, digits, '-', '_', '~' and '/'"
        )));
    }
    if reserved_and_refused(path) {
        return Err(ServerError::BadRequest(format!(
            "invalid path {path:?}: \"nomad\" is a reserved top-level directory path, but you may write variables to \"nomad/jobs\", \"nomad/job-templates\", \"nomad/sentinel\" or below"
        )));
    }
    Ok(())
}

fn reserved_and_refused(path: &str) -> bool {
    let Some(rest) = path
        .strip_prefix("nomad")
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return false;
    };
    let rest = rest.trim_start_matches('/');
    let under = |dir: &str| rest == dir || rest.starts_with(&format!("{dir}/"));
    if under("jobs") || under("sentinel") {
        return false;
    }
    match rest.strip_prefix("job-templates/") {
        Some(name) => name.is_empty() || name.contains('/'),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_allowed_reserved_paths() {
        for path in [
            "a",
            "my/app-1_x~y",
            "nomad/jobs",
            "nomad/jobs/web/group/task",
            "nomad/sentinel/policy",
            "nomad/job-templates/base",
            "nomadic/thing",
            &"p".repeat(128),
        ] {
            assert!(validate_path(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn refuses_bad_characters_lengths_and_reserved_paths() {
        for path in [
            "",
            "a/../b",
            "a.b",
            "with space",
            "ünïcode",
            &"p".repeat(129),
            "nomad",
            "nomad/",
            "nomad/other",
            "nomad/job-templates",
            "nomad/job-templates/",
            "nomad/job-templates/a/b",
        ] {
            assert!(
                matches!(validate_path(path), Err(ServerError::BadRequest(_))),
                "{path}"
            );
        }
    }
}
