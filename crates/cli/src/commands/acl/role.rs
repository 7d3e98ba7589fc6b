//! `drover acl role create | list | info | update | delete`: named sets of policies that tokens
//! link to.

use clap::{Args, Subcommand};
use drover_api::{AclRole, AclRolePolicyLink, QueryOptions};

use super::{show, unique};
use crate::commands::{ApiArgs, usage_error};
use crate::error::{CmdResult, Doing, Outcome};
use crate::format::{kv, list};
use crate::output::say;

const CREATE_COMMAND: &[&str] = &["acl", "role", "create"];
const UPDATE_COMMAND: &[&str] = &["acl", "role", "update"];

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create an ACL role granting one or more policies.
    ///
    /// This command requires a management token.
    Create(CreateArgs),
    /// List ACL roles.
    ///
    /// This command requires a management token to list every role; other tokens see the roles
    /// they link to.
    List(ListArgs),
    /// Show an ACL role, by ID or (with -by-name) by name.
    ///
    /// This command requires a management token, or a token linked to the role.
    Info(InfoArgs),
    /// Update an ACL role.
    ///
    /// By default the flags given are merged into the role: a new name or description replaces
    /// the old one and policies are added to those it has. With -no-merge the role is rewritten
    /// from the flags alone.
    ///
    /// This command requires a management token.
    Update(UpdateArgs),
    /// Delete an ACL role by its ID.
    ///
    /// This command requires a management token.
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The role's name (required; 1-128 characters).
    #[arg(long, default_value = "", hide_default_value = true)]
    pub name: String,
    /// A free form description of the role (at most 256 characters).
    #[arg(long, default_value = "", hide_default_value = true)]
    pub description: String,
    /// A policy the role grants, by name; give it at least once, and as often as needed.
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Take the argument as the role's name rather than its ID.
    #[arg(long)]
    pub by_name: bool,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// The role's ID, or its name with -by-name.
    #[arg(value_name = "ID_OR_NAME")]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// A new name for the role.
    #[arg(long)]
    pub name: Option<String>,
    /// A new description for the role.
    #[arg(long)]
    pub description: Option<String>,
    /// A policy the role grants, by name; may be given more than once.
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// Replace the role with what the flags give instead of merging them into it; -name and
    /// at least one -policy are then required.
    #[arg(long)]
    pub no_merge: bool,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// The role's ID.
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The role's ID.
    #[arg(value_name = "ID")]
    pub id: String,
}

pub async fn run(command: RoleCommand) -> CmdResult {
    match command {
        RoleCommand::Create(args) => create(args).await,
        RoleCommand::List(args) => list_roles(args).await,
        RoleCommand::Info(args) => info(args).await,
        RoleCommand::Update(args) => update(args).await,
        RoleCommand::Delete(args) => delete(args).await,
    }
}

async fn create(args: CreateArgs) -> CmdResult {
    let role = AclRole {
        name: args.name.clone(),
        description: args.description.clone(),
        policies: policy_links(&args.policies),
        ..Default::default()
    };
    check_complete(&role).map_err(|m| usage_error(CREATE_COMMAND, &m))?;
    let client = args.api.client()?;
    let role = client
        .acl_role_create(&role)
        .await
        .doing("creating ACL role")?;
    show(&role, args.json, render_role)
}

async fn list_roles(args: ListArgs) -> CmdResult {
    let client = args.api.client()?;
    let (roles, _) = client
        .acl_roles(&QueryOptions::default())
        .await
        .doing("listing ACL roles")?;
    show(&roles, args.json, |roles| role_list(roles))
}

async fn info(args: InfoArgs) -> CmdResult {
    let client = args.api.client()?;
    let q = QueryOptions::default();
    let read = if args.by_name {
        client.acl_role_by_name(&args.role, &q).await
    } else {
        client.acl_role(&args.role, &q).await
    };
    let (role, _) = read.doing("reading ACL role")?;
    show(&role, args.json, render_role)
}

async fn update(args: UpdateArgs) -> CmdResult {
    let changes = RoleChanges {
        name: args.name,
        description: args.description,
        policies: unique(&args.policies),
        no_merge: args.no_merge,
    };
    changes
        .check()
        .map_err(|m| usage_error(UPDATE_COMMAND, &m))?;
    let client = args.api.client()?;
    // Read the role either way, so that a wrong ID fails before anything is written.
    let (current, _) = client
        .acl_role(&args.id, &QueryOptions::default())
        .await
        .doing("retrieving ACL role")?;
    let role = client
        .acl_role_update(&changes.apply(current))
        .await
        .doing("updating ACL role")?;
    show(&role, args.json, render_role)
}

async fn delete(args: DeleteArgs) -> CmdResult {
    let client = args.api.client()?;
    client
        .acl_role_delete(&args.id)
        .await
        .doing("deleting ACL role")?;
    say!("ACL role {} successfully deleted", args.id)?;
    Ok(Outcome::Success)
}

/// Links to the named policies, each once.
fn policy_links(names: &[String]) -> Vec<AclRolePolicyLink> {
    unique(names)
        .into_iter()
        .map(|name| AclRolePolicyLink { name })
        .collect()
}

/// Refuses a role without a name or policies; the error is the usage message.
fn check_complete(role: &AclRole) -> Result<(), String> {
    if role.name.is_empty() {
        return Err("ACL role name must be specified using the -name flag".into());
    }
    if role.policies.is_empty() {
        return Err("At least one policy name must be specified using the -policy flag".into());
    }
    Ok(())
}

/// What `acl role update` changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RoleChanges {
    name: Option<String>,
    description: Option<String>,
    policies: Vec<String>,
    /// Rewrite the role from these fields alone.
    no_merge: bool,
}

impl RoleChanges {
    /// The role these changes make of `current`.
    fn apply(&self, current: AclRole) -> AclRole {
        if self.no_merge {
            return AclRole {
                name: self.name.clone().unwrap_or_default(),
                description: self.description.clone().unwrap_or_default(),
                policies: policy_links(&self.policies),
                ..current
            };
        }
        let mut role = current;
        if let Some(name) = self.name.as_ref().filter(|n| !n.is_empty()) {
            role.name = name.clone();
        }
        if let Some(description) = self.description.as_ref().filter(|d| !d.is_empty()) {
            role.description = description.clone();
        }
        for name in &self.policies {
            if !role.policies.iter().any(|p| &p.name == name) {
                role.policies.push(AclRolePolicyLink { name: name.clone() });
            }
        }
        role
    }

    /// Refuses an update that changes nothing, or a rewrite that leaves the role without a name
    /// or policies; the error is the usage message.
    fn check(&self) -> Result<(), String> {
        if self.no_merge {
            return check_complete(&AclRole {
                name: self.name.clone().unwrap_or_default(),
                policies: policy_links(&self.policies),
                ..Default::default()
            });
        }
        let given = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        if !given(&self.name) && !given(&self.description) && self.policies.is_empty() {
            return Err("Please provide at least one flag to update the ACL role".into());
        }
        Ok(())
    }
}

/// Policy names of a role, sorted and joined with commas.
fn policy_names(role: &AclRole) -> String {
    let mut names: Vec<&str> = role.policies.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    names.join(",")
}

/// One role as `Key = Value`.
fn render_role(role: &AclRole) -> String {
    kv(&[
        ("ID", role.id.clone()),
        ("Name", role.name.clone()),
        ("Description", role.description.clone()),
        ("Policies", policy_names(role)),
        ("Create Index", role.create_index.to_string()),
        ("Modify Index", role.modify_index.to_string()),
    ])
}

/// The role list: `ID  Name  Description  Policies`.
fn role_list(roles: &[AclRole]) -> String {
    if roles.is_empty() {
        return "No ACL roles found".to_string();
    }
    let header = ["ID", "Name", "Description", "Policies"].map(String::from);
    let rows = roles.iter().map(|r| {
        [
            r.id.clone(),
            r.name.clone(),
            r.description.clone(),
            policy_names(r),
        ]
    });
    list(std::iter::once(header).chain(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(names: &[&str]) -> Vec<AclRolePolicyLink> {
        names
            .iter()
            .map(|n| AclRolePolicyLink {
                name: n.to_string(),
            })
            .collect()
    }

    fn role() -> AclRole {
        AclRole {
            id: "e3f4a5b6-1111-4222-8333-444455556666".into(),
            name: "ops".into(),
            description: "Operators".into(),
            policies: links(&["write-nodes", "read-all"]),
            create_index: 20,
            modify_index: 21,
        }
    }

    #[test]
    fn a_role_shows_sorted_policies() {
        assert_eq!(
            render_role(&role()),
            "ID           = e3f4a5b6-1111-4222-8333-444455556666\n\
             Name         = ops\n\
             Description  = Operators\n\
             Policies     = read-all,write-nodes\n\
             Create Index = 20\n\
             Modify Index = 21"
        );
    }

    #[test]
    fn role_list_has_nomads_columns() {
        assert_eq!(
            role_list(&[role()]),
            "ID                                    Name  Description  Policies\n\
             e3f4a5b6-1111-4222-8333-444455556666  ops   Operators    read-all,write-nodes"
        );
        assert_eq!(role_list(&[]), "No ACL roles found");
    }

    #[test]
    fn a_new_role_needs_a_name_and_a_policy() {
        let mut new = AclRole {
            name: "ops".into(),
            policies: policy_links(&["a".into(), "a".into()]),
            ..Default::default()
        };
        assert_eq!(new.policies, links(&["a"]));
        check_complete(&new).unwrap();
        new.policies.clear();
        assert!(check_complete(&new).unwrap_err().contains("-policy"));
        new.name.clear();
        assert!(check_complete(&new).unwrap_err().contains("-name"));
    }

    #[test]
    fn merging_adds_policies_and_replaces_given_fields() {
        let changes = RoleChanges {
            description: Some("On call".into()),
            policies: vec!["read-all".into(), "drain".into()],
            ..Default::default()
        };
        changes.check().unwrap();
        let updated = changes.apply(role());
        assert_eq!(updated.name, "ops");
        assert_eq!(updated.description, "On call");
        assert_eq!(
            updated.policies,
            links(&["write-nodes", "read-all", "drain"])
        );
        assert_eq!(updated.id, role().id);
    }

    #[test]
    fn no_merge_rewrites_the_role_but_keeps_its_id() {
        let changes = RoleChanges {
            name: Some("readers".into()),
            policies: vec!["read-all".into()],
            no_merge: true,
            ..Default::default()
        };
        changes.check().unwrap();
        let updated = changes.apply(role());
        assert_eq!(updated.id, role().id);
        assert_eq!(updated.name, "readers");
        assert_eq!(updated.description, "");
        assert_eq!(updated.policies, links(&["read-all"]));
    }

    #[test]
    fn an_update_must_change_something() {
        let err = RoleChanges::default().check().unwrap_err();
        assert!(err.contains("at least one flag"), "{err}");
        let err = RoleChanges {
            name: Some("x".into()),
            no_merge: true,
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(err.contains("-policy"), "{err}");
    }
}
