//! ID prefix resolution: commands accept a full ID or any unambiguous prefix. The agent is asked
//! for candidates with `?prefix=`, and the choice is made here (an exact match wins over longer
//! IDs sharing the prefix; the agent's own filtering is not relied on).

use drover_api::{AllocListStub, Client, JobListStub, NodeListStub, QueryOptions};

use crate::error::{CliError, Doing};

/// What a prefix matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match<T> {
    /// Nothing starts with the prefix.
    None,
    /// Exactly one item, or an item whose ID equals the prefix.
    One(T),
    /// Several items start with the prefix and none equals it.
    Many(Vec<T>),
}

/// Picks the items of `candidates` whose ID starts with `prefix`.
pub fn by_prefix<T>(candidates: Vec<T>, prefix: &str, id: impl Fn(&T) -> &str) -> Match<T> {
    let mut matching: Vec<T> = candidates
        .into_iter()
        .filter(|c| id(c).starts_with(prefix))
        .collect();
    if let Some(pos) = matching.iter().position(|c| id(c) == prefix) {
        return Match::One(matching.swap_remove(pos));
    }
    match matching.len() {
        0 => Match::None,
        1 => Match::One(matching.remove(0)),
        _ => Match::Many(matching),
    }
}

/// Rejects one-character identifiers, as Nomad does for UUID prefixes.
pub fn check_length(id: &str) -> Result<(), CliError> {
    if id.chars().count() < 2 {
        return Err(CliError::Message(
            "Identifier must contain at least two characters.".into(),
        ));
    }
    Ok(())
}

fn prefix_query(prefix: &str) -> QueryOptions {
    QueryOptions {
        prefix: Some(prefix.to_string()),
        ..Default::default()
    }
}

/// Allocations whose ID starts with `prefix`.
pub async fn allocs(client: &Client, prefix: &str) -> Result<Match<AllocListStub>, CliError> {
    check_length(prefix)?;
    let (list, _) = client
        .allocations(&prefix_query(prefix))
        .await
        .doing("querying allocation")?;
    Ok(by_prefix(list, prefix, |a| a.id.as_str()))
}

/// Nodes whose ID starts with `prefix`.
pub async fn nodes(client: &Client, prefix: &str) -> Result<Match<NodeListStub>, CliError> {
    check_length(prefix)?;
    let (list, _) = client
        .nodes(&prefix_query(prefix))
        .await
        .doing("querying node status")?;
    Ok(by_prefix(list, prefix, |n| n.id.as_str()))
}

/// Jobs whose ID starts with `prefix`.
pub async fn jobs(client: &Client, prefix: &str) -> Result<Match<JobListStub>, CliError> {
    let (list, _) = client
        .jobs(&prefix_query(prefix))
        .await
        .doing("querying job")?;
    Ok(by_prefix(list, prefix, |j| j.id.as_str()))
}

/// The one job `prefix` names, or an error that lists the candidates.
pub async fn job_id(client: &Client, prefix: &str) -> Result<String, CliError> {
    match jobs(client, prefix).await? {
        Match::One(job) => Ok(job.id),
        Match::None => Err(CliError::Message(format!(
            "No job(s) with prefix or ID {prefix:?} found"
        ))),
        Match::Many(jobs) => {
            let mut rows = vec![vec![
                "ID".to_string(),
                "Type".into(),
                "Priority".into(),
                "Status".into(),
            ]];
            rows.extend(jobs.iter().map(|j| {
                vec![
                    j.id.clone(),
                    j.r#type.clone(),
                    j.priority.to_string(),
                    j.status.clone(),
                ]
            }));
            Err(CliError::Message(format!(
                "Prefix matched multiple jobs\n\n{}",
                crate::format::list(rows)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn single_match_is_chosen() {
        let m = by_prefix(ids(&["abcd1234", "ef001122"]), "ab", |s| s.as_str());
        assert_eq!(m, Match::One("abcd1234".to_string()));
    }

    #[test]
    fn exact_match_wins_over_longer_ids() {
        let m = by_prefix(ids(&["web-api", "web", "web-2"]), "web", |s| s.as_str());
        assert_eq!(m, Match::One("web".to_string()));
    }

    #[test]
    fn ambiguous_prefix_lists_all_matches() {
        let m = by_prefix(ids(&["abcd1234", "abce5678", "ff"]), "abc", |s| s.as_str());
        assert_eq!(m, Match::Many(ids(&["abcd1234", "abce5678"])));
    }

    #[test]
    fn unfiltered_server_answers_are_filtered_here() {
        let m = by_prefix(ids(&["11112222", "33334444"]), "99", |s| s.as_str());
        assert_eq!(m, Match::None);
    }

    #[test]
    fn one_character_prefixes_are_rejected() {
        assert!(check_length("a").is_err());
        assert!(check_length("ab").is_ok());
    }
}
