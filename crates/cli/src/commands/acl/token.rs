//! `drover acl token create | list | info | self | update | delete`, and the token's `Key = Value`
//! rendering that `acl bootstrap` shares.

use clap::{Args, Subcommand};
use drover_api::{
    ACL_TOKEN_CLIENT, ACL_TOKEN_MANAGEMENT, AclToken, AclTokenRoleLink, QueryOptions,
};

use super::{show, unique};
use crate::commands::{ApiArgs, usage_error};
use crate::error::{CmdResult, Doing, Outcome};
use crate::format::{self, kv, list};
use crate::output::say;

const CREATE_COMMAND: &[&str] = &["acl", "token", "create"];
const UPDATE_COMMAND: &[&str] = &["acl", "token", "update"];

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an ACL token.
    ///
    /// Issues a new token and prints it, secret included. Client tokens are allowed what their
    /// policies and roles grant; management tokens are allowed everything and take neither.
    ///
    /// This command requires a management token.
    Create(CreateArgs),
    /// List ACL tokens (without their secrets).
    ///
    /// This command requires a management token.
    List(ListArgs),
    /// Show an ACL token by its accessor ID.
    ///
    /// This command requires a management token, or the token itself.
    Info(InfoArgs),
    /// Show the token this command is run with (-token or NOMAD_TOKEN).
    #[command(name = "self")]
    Myself(SelfArgs),
    /// Update an ACL token's name, type or policies.
    ///
    /// Only the fields given change. A token made a management token loses its policies and
    /// roles.
    ///
    /// This command requires a management token.
    Update(UpdateArgs),
    /// Delete an ACL token by its accessor ID.
    ///
    /// This command requires a management token.
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// A human readable name for the token.
    #[arg(long, default_value = "", hide_default_value = true)]
    pub name: String,
    /// The type of token: "client" (the default) or "management".
    #[arg(
        long = "type",
        value_name = "TYPE",
        default_value = ACL_TOKEN_CLIENT,
        hide_default_value = true,
        value_parser = [ACL_TOKEN_CLIENT, ACL_TOKEN_MANAGEMENT]
    )]
    pub kind: String,
    /// A policy the token is granted, by name; may be given more than once. Client tokens only.
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// A role the token links to, by ID; may be given more than once. Client tokens only.
    #[arg(long = "role-id", value_name = "ID")]
    pub role_ids: Vec<String>,
    /// A role the token links to, by name; may be given more than once. Client tokens only.
    #[arg(long = "role-name", value_name = "NAME")]
    pub role_names: Vec<String>,
    /// Replicate the token to all regions.
    #[arg(long)]
    pub global: bool,
    /// How long the token lives, such as "5m" or "1h"; without it the token never expires.
    #[arg(long, value_name = "DURATION", value_parser = ttl)]
    pub ttl: Option<i64>,
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
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// The token's accessor ID.
    #[arg(value_name = "ACCESSOR_ID")]
    pub accessor_id: String,
}

#[derive(Debug, Args)]
pub struct SelfArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// A new name for the token.
    #[arg(long)]
    pub name: Option<String>,
    /// A new type: "client" or "management".
    #[arg(
        long = "type",
        value_name = "TYPE",
        value_parser = [ACL_TOKEN_CLIENT, ACL_TOKEN_MANAGEMENT]
    )]
    pub kind: Option<String>,
    /// The policies the token is granted, replacing the current ones; may be given more than
    /// once.
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// The token's accessor ID.
    #[arg(value_name = "ACCESSOR_ID")]
    pub accessor_id: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The token's accessor ID.
    #[arg(value_name = "ACCESSOR_ID")]
    pub accessor_id: String,
}

pub async fn run(command: TokenCommand) -> CmdResult {
    match command {
        TokenCommand::Create(args) => create(args).await,
        TokenCommand::List(args) => list_tokens(args).await,
        TokenCommand::Info(args) => info(args).await,
        TokenCommand::Myself(args) => myself(args).await,
        TokenCommand::Update(args) => update(args).await,
        TokenCommand::Delete(args) => delete(args).await,
    }
}

async fn create(args: CreateArgs) -> CmdResult {
    let request = create_request(&args).map_err(|m| usage_error(CREATE_COMMAND, &m))?;
    let client = args.api.client()?;
    let token = client
        .acl_token_create(&request)
        .await
        .doing("creating token")?;
    show(&token, args.json, render_token)
}

async fn list_tokens(args: ListArgs) -> CmdResult {
    let client = args.api.client()?;
    let (tokens, _) = client
        .acl_tokens(&QueryOptions::default())
        .await
        .doing("listing ACL tokens")?;
    show(&tokens, args.json, |tokens| {
        token_list(tokens, format::now())
    })
}

async fn info(args: InfoArgs) -> CmdResult {
    let client = args.api.client()?;
    let (token, _) = client
        .acl_token(&args.accessor_id, &QueryOptions::default())
        .await
        .doing("fetching token")?;
    show(&token, args.json, render_token)
}

async fn myself(args: SelfArgs) -> CmdResult {
    let client = args.api.client()?;
    let (token, _) = client
        .acl_token_self(&QueryOptions::default())
        .await
        .doing("fetching self token")?;
    show(&token, args.json, render_token)
}

async fn update(args: UpdateArgs) -> CmdResult {
    let changes = TokenChanges {
        name: args.name,
        kind: args.kind,
        policies: unique(&args.policies),
    };
    changes
        .check()
        .map_err(|m| usage_error(UPDATE_COMMAND, &m))?;
    let client = args.api.client()?;
    let (current, _) = client
        .acl_token(&args.accessor_id, &QueryOptions::default())
        .await
        .doing("fetching token")?;
    let token = client
        .acl_token_update(&changes.apply(current))
        .await
        .doing("updating token")?;
    show(&token, args.json, render_token)
}

async fn delete(args: DeleteArgs) -> CmdResult {
    let client = args.api.client()?;
    client
        .acl_token_delete(&args.accessor_id)
        .await
        .doing("deleting token")?;
    say!("Token {} successfully deleted", args.accessor_id)?;
    Ok(Outcome::Success)
}

/// The token `acl token create` asks for; the error is the usage message.
fn create_request(args: &CreateArgs) -> Result<AclToken, String> {
    let policies = unique(&args.policies);
    let role_names = unique(&args.role_names);
    let role_ids = unique(&args.role_ids);
    if args.kind == ACL_TOKEN_MANAGEMENT
        && !(policies.is_empty() && role_names.is_empty() && role_ids.is_empty())
    {
        return Err(
            "management tokens are allowed everything and take no -policy, -role-id or -role-name"
                .into(),
        );
    }
    let roles = role_names
        .into_iter()
        .map(|name| AclTokenRoleLink {
            id: String::new(),
            name,
        })
        .chain(role_ids.into_iter().map(|id| AclTokenRoleLink {
            id,
            name: String::new(),
        }))
        .collect();
    Ok(AclToken {
        name: args.name.clone(),
        r#type: args.kind.clone(),
        policies,
        roles,
        global: args.global,
        expiration_ttl: args.ttl.unwrap_or(0),
        ..Default::default()
    })
}

/// What `acl token update` changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TokenChanges {
    name: Option<String>,
    kind: Option<String>,
    /// Replaces the token's policies when not empty.
    policies: Vec<String>,
}

impl TokenChanges {
    /// Refuses an update that changes nothing or gives a management token policies; the error
    /// is the usage message.
    fn check(&self) -> Result<(), String> {
        if self.name.is_none() && self.kind.is_none() && self.policies.is_empty() {
            return Err("Please provide at least one flag to update the ACL token".into());
        }
        if self.kind.as_deref() == Some(ACL_TOKEN_MANAGEMENT) && !self.policies.is_empty() {
            return Err("management tokens are allowed everything and take no -policy".into());
        }
        Ok(())
    }

    /// `current` with these changes made.
    fn apply(&self, mut current: AclToken) -> AclToken {
        if let Some(name) = &self.name {
            current.name = name.clone();
        }
        if let Some(kind) = &self.kind {
            current.r#type = kind.clone();
        }
        if !self.policies.is_empty() {
            current.policies = self.policies.clone();
        }
        if current.is_management() {
            current.policies.clear();
            current.roles.clear();
        }
        current
    }
}

/// Parses `-ttl`: a Go duration greater than zero, in nanoseconds.
fn ttl(text: &str) -> Result<i64, String> {
    let ns = drover_api::duration::parse(text).map_err(|e| e.to_string())?;
    if ns <= 0 {
        return Err(format!(
            "a token's TTL must be greater than zero, such as \"1h\" (got {text:?})"
        ));
    }
    Ok(ns)
}

/// A token as Nomad prints it: its fields as `Key = Value`, then its policies and roles
/// (`n/a` for a management token, which has neither).
pub fn render_token(token: &AclToken) -> String {
    let expiry = token
        .expiration_time
        .as_deref()
        .and_then(format::parse_api_time)
        .map(format::unix_nano)
        .unwrap_or_default();
    let mut pairs = vec![
        ("Accessor ID", token.accessor_id.clone()),
        ("Secret ID", token.secret_id.clone()),
        ("Name", token.name.clone()),
        ("Type", token.r#type.clone()),
        ("Global", token.global.to_string()),
        (
            "Create Time",
            format::rfc3339_or_na(Some(&token.create_time)),
        ),
        ("Expiry Time", expiry),
        ("Create Index", token.create_index.to_string()),
        ("Modify Index", token.modify_index.to_string()),
    ];
    if token.is_management() {
        pairs.push(("Policies", "n/a".into()));
        pairs.push(("Roles", "n/a".into()));
        return kv(&pairs);
    }
    pairs.push(("Policies", format!("[{}]", token.policies.join(" "))));
    let roles = if token.roles.is_empty() {
        "<none>".to_string()
    } else {
        let header = ["ID".to_string(), "Name".to_string()];
        let rows = token.roles.iter().map(|r| [r.id.clone(), r.name.clone()]);
        list(std::iter::once(header).chain(rows))
    };
    format!("{}\n\nRoles\n{roles}", kv(&pairs))
}

/// The token list: `Name  Type  Global  Accessor ID  Expired`, with "Expired" judged at `now`
/// (Unix nanoseconds).
fn token_list(tokens: &[AclToken], now: i64) -> String {
    if tokens.is_empty() {
        return "No tokens found".to_string();
    }
    let header = ["Name", "Type", "Global", "Accessor ID", "Expired"].map(String::from);
    let rows = tokens.iter().map(|t| {
        let expired = t
            .expiration_time
            .as_deref()
            .and_then(format::parse_api_time)
            .is_some_and(|expires| expires < now);
        [
            t.name.clone(),
            t.r#type.clone(),
            t.global.to_string(),
            t.accessor_id.clone(),
            expired.to_string(),
        ]
    });
    list(std::iter::once(header).chain(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::acl::AclCommand;
    use crate::commands::{Command, parse_for_test};

    /// 2026-11-23T20:14:15Z in Unix nanoseconds.
    const NOW: i64 = 1_795_464_855_000_000_000;

    fn bootstrap_token() -> AclToken {
        AclToken {
            accessor_id: "b780e702-98ce-521f-2e5f-c6b87de05b24".into(),
            secret_id: "3f4a0fcd-7c42-773c-25db-2d31ba0c05fe".into(),
            name: "Bootstrap Token".into(),
            r#type: ACL_TOKEN_MANAGEMENT.into(),
            global: true,
            create_time: "2026-11-23T20:14:15.123456789Z".into(),
            create_index: 7,
            modify_index: 7,
            ..Default::default()
        }
    }

    fn client_token() -> AclToken {
        AclToken {
            accessor_id: "1b60edc8-e4ed-08ef-208d-ecc18a90ccc3".into(),
            secret_id: "e4c7c80e-870b-c6a6-43d2-dbfa90130c06".into(),
            name: "ci".into(),
            r#type: ACL_TOKEN_CLIENT.into(),
            policies: vec!["read-all".into(), "deploy".into()],
            create_time: "2026-11-23T20:14:15Z".into(),
            expiration_time: Some("2026-11-24T04:14:15Z".into()),
            create_index: 142,
            modify_index: 143,
            ..Default::default()
        }
    }

    /// Parses `drover acl token create …` into its arguments.
    fn create_args(argv: &[&str]) -> CreateArgs {
        match parse_for_test(&[CREATE_COMMAND, argv].concat()) {
            Command::Acl {
                command:
                    AclCommand::Token {
                        command: TokenCommand::Create(args),
                    },
            } => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn management_tokens_show_no_policies_or_roles() {
        assert_eq!(
            render_token(&bootstrap_token()),
            "Accessor ID  = b780e702-98ce-521f-2e5f-c6b87de05b24\n\
             Secret ID    = 3f4a0fcd-7c42-773c-25db-2d31ba0c05fe\n\
             Name         = Bootstrap Token\n\
             Type         = management\n\
             Global       = true\n\
             Create Time  = 2026-11-23T20:14:15Z\n\
             Expiry Time  = <none>\n\
             Create Index = 7\n\
             Modify Index = 7\n\
             Policies     = n/a\n\
             Roles        = n/a"
        );
    }

    #[test]
    fn client_tokens_show_policies_and_a_roles_section() {
        let out = render_token(&client_token());
        assert!(
            out.ends_with(
                "Expiry Time  = 2026-11-24T04:14:15Z\n\
                 Create Index = 142\n\
                 Modify Index = 143\n\
                 Policies     = [read-all deploy]\n\
                 \n\
                 Roles\n\
                 <none>"
            ),
            "{out}"
        );
        let mut with_roles = client_token();
        with_roles.roles = vec![AclTokenRoleLink {
            id: "e3f4a5b6-1111-4222-8333-444455556666".into(),
            name: "ops".into(),
        }];
        assert!(render_token(&with_roles).ends_with(
            "Roles\n\
             ID                                    Name\n\
             e3f4a5b6-1111-4222-8333-444455556666  ops"
        ));
    }

    #[test]
    fn token_list_marks_expired_tokens() {
        let mut expired = client_token();
        expired.name = "old".into();
        expired.expiration_time = Some("2026-11-23T20:14:14Z".into());
        assert_eq!(
            token_list(&[bootstrap_token(), client_token(), expired], NOW),
            "Name             Type        Global  Accessor ID                           Expired\n\
             Bootstrap Token  management  true    b780e702-98ce-521f-2e5f-c6b87de05b24  false\n\
             ci               client      false   1b60edc8-e4ed-08ef-208d-ecc18a90ccc3  false\n\
             old              client      false   1b60edc8-e4ed-08ef-208d-ecc18a90ccc3  true"
        );
        assert_eq!(token_list(&[], NOW), "No tokens found");
    }

    #[test]
    fn create_builds_a_client_token_with_roles_by_name_then_id() {
        let args = create_args(&[
            "-name=ci",
            "-policy",
            "read-all",
            "-policy",
            "deploy",
            "-policy",
            "read-all",
            "-role-id",
            "e3f4a5b6",
            "-role-name",
            "ops",
            "-global",
            "-ttl",
            "8h",
        ]);
        let token = create_request(&args).unwrap();
        assert_eq!(token.name, "ci");
        assert_eq!(token.r#type, ACL_TOKEN_CLIENT);
        assert_eq!(token.policies, ["read-all", "deploy"]);
        assert_eq!(
            token.roles,
            [
                AclTokenRoleLink {
                    id: String::new(),
                    name: "ops".into()
                },
                AclTokenRoleLink {
                    id: "e3f4a5b6".into(),
                    name: String::new()
                },
            ]
        );
        assert!(token.global);
        assert_eq!(token.expiration_ttl, 8 * drover_api::duration::HOUR);
    }

    #[test]
    fn create_defaults_to_a_client_token_that_never_expires() {
        let token = create_request(&create_args(&[])).unwrap();
        assert_eq!(token.r#type, ACL_TOKEN_CLIENT);
        assert_eq!(token.expiration_ttl, 0);
        assert!(token.policies.is_empty() && token.roles.is_empty() && !token.global);
    }

    #[test]
    fn management_tokens_take_no_policies_or_roles() {
        let args = create_args(&["-type=management", "-role-name", "ops"]);
        let err = create_request(&args).unwrap_err();
        assert!(err.contains("management tokens"), "{err}");
        assert!(create_request(&create_args(&["-type", "management"])).is_ok());
    }

    #[test]
    fn ttl_must_be_a_positive_duration() {
        assert_eq!(ttl("90m"), Ok(90 * drover_api::duration::MINUTE));
        assert!(ttl("0s").unwrap_err().contains("greater than zero"));
        assert!(ttl("-1h").is_err());
        assert!(ttl("soon").unwrap_err().contains("invalid duration"));
    }

    #[test]
    fn update_changes_only_what_is_given() {
        let changes = TokenChanges {
            name: Some("renamed".into()),
            ..Default::default()
        };
        changes.check().unwrap();
        let updated = changes.apply(client_token());
        assert_eq!(updated.name, "renamed");
        assert_eq!(updated.policies, ["read-all", "deploy"]);
        assert_eq!(updated.r#type, ACL_TOKEN_CLIENT);

        let changes = TokenChanges {
            policies: vec!["only".into()],
            ..Default::default()
        };
        assert_eq!(changes.apply(client_token()).policies, ["only"]);
    }

    #[test]
    fn a_token_made_management_loses_policies_and_roles() {
        let mut token = client_token();
        token.roles = vec![AclTokenRoleLink {
            id: "r".into(),
            name: "ops".into(),
        }];
        let changes = TokenChanges {
            kind: Some(ACL_TOKEN_MANAGEMENT.into()),
            ..Default::default()
        };
        let updated = changes.apply(token);
        assert!(updated.is_management());
        assert!(updated.policies.is_empty() && updated.roles.is_empty());
    }

    #[test]
    fn an_update_must_change_something_sensible() {
        let err = TokenChanges::default().check().unwrap_err();
        assert!(err.contains("at least one flag"), "{err}");
        let err = TokenChanges {
            kind: Some(ACL_TOKEN_MANAGEMENT.into()),
            policies: vec!["x".into()],
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(err.contains("management tokens"), "{err}");
    }
}
