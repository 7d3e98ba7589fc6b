//! `drover acl policy apply | list | info | delete`. `apply` may attach the policy to a
//! namespace, or to a job (or one of its groups or tasks) in it, so that the job's workload
//! identities are granted it; only a `-namespace` given on the command line attaches, never
//! `NOMAD_NAMESPACE`.

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches, Subcommand};
use drover_api::{AclPolicy, JobAcl, QueryOptions};

use super::{read_input, show};
use crate::commands::{ApiArgs, usage_error};
use crate::error::{CmdResult, Doing, Outcome};
use crate::format::{kv, list};
use crate::output::say;

const APPLY_COMMAND: &[&str] = &["acl", "policy", "apply"];
/// The argument of [`ApiArgs`] that names the namespace.
const NAMESPACE_ARG: &str = "namespace";

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create or update an ACL policy from a file (or stdin with "-").
    ///
    /// With -namespace the policy is also attached to workloads: to every job in that
    /// namespace, or with -job to one job, with -group to one of its groups, and with -task to
    /// one of that group's tasks. Their workload identities are then granted the policy.
    ///
    /// This command requires a management token.
    Apply(ApplyArgs),
    /// List ACL policies.
    ///
    /// This command requires a management token to list every policy; other tokens see the
    /// policies they are granted.
    List(ListArgs),
    /// Show an ACL policy: its description, the workloads it is attached to, and its rules.
    ///
    /// This command requires a management token, or a token granted the policy.
    Info(InfoArgs),
    /// Delete an ACL policy.
    ///
    /// This command requires a management token.
    Delete(DeleteArgs),
}

/// `acl policy apply`'s flags, and whether `-namespace` came from the command line.
#[derive(Debug)]
pub struct ApplyArgs {
    pub flags: ApplyFlags,
    /// The namespace to attach the policy to: `-namespace`, but not `NOMAD_NAMESPACE`.
    pub attach_namespace: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApplyFlags {
    #[command(flatten)]
    pub api: ApiArgs,
    /// A human readable description of the policy.
    #[arg(long, default_value = "", hide_default_value = true)]
    pub description: String,
    /// Attach the policy to this job; requires -namespace.
    #[arg(long, value_name = "JOB_ID")]
    pub job: Option<String>,
    /// Attach the policy to this task group of the job; requires -job.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Attach the policy to this task of the group; requires -group.
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,
    /// The policy's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The file holding the policy's rules (HCL or JSON), or "-" for stdin.
    #[arg(value_name = "PATH")]
    pub path: String,
}

impl FromArgMatches for ApplyArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let flags = ApplyFlags::from_arg_matches(matches)?;
        let from_command_line =
            matches.value_source(NAMESPACE_ARG) == Some(ValueSource::CommandLine);
        let attach_namespace = flags
            .api
            .namespace
            .clone()
            .filter(|ns| from_command_line && !ns.is_empty());
        Ok(ApplyArgs {
            flags,
            attach_namespace,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = ApplyArgs::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for ApplyArgs {
    fn augment_args(command: clap::Command) -> clap::Command {
        attach_help(ApplyFlags::augment_args(command))
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        attach_help(ApplyFlags::augment_args_for_update(command))
    }
}

/// Says what `-namespace` means for `apply`.
fn attach_help(command: clap::Command) -> clap::Command {
    command.mut_arg(NAMESPACE_ARG, |arg| {
        arg.help(
            "Attach the policy to the workloads of this namespace (all its jobs, or the one \
             -job names). NOMAD_NAMESPACE does not attach",
        )
    })
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
    /// The policy's name.
    #[arg(value_name = "NAME")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The policy's name.
    #[arg(value_name = "NAME")]
    pub name: String,
}

pub async fn run(command: PolicyCommand) -> CmdResult {
    match command {
        PolicyCommand::Apply(args) => apply(args).await,
        PolicyCommand::List(args) => list_policies(args).await,
        PolicyCommand::Info(args) => info(args).await,
        PolicyCommand::Delete(args) => delete(args).await,
    }
}

async fn apply(args: ApplyArgs) -> CmdResult {
    let ApplyArgs {
        flags,
        attach_namespace,
    } = args;
    let job_acl = workload(
        attach_namespace,
        flags.job.clone(),
        flags.group.clone(),
        flags.task.clone(),
    )
    .map_err(|m| usage_error(APPLY_COMMAND, &m))?;
    let rules = read_input(&flags.path, "ACL policy")?;
    let policy = AclPolicy {
        name: flags.name.clone(),
        description: flags.description.clone(),
        rules,
        job_acl,
        ..Default::default()
    };
    let client = flags.api.client()?;
    client
        .acl_policy_upsert(&policy)
        .await
        .doing("writing ACL policy")?;
    say!("Successfully wrote {:?} ACL policy!", policy.name)?;
    Ok(Outcome::Success)
}

async fn list_policies(args: ListArgs) -> CmdResult {
    let client = args.api.client()?;
    let (policies, _) = client
        .acl_policies(&QueryOptions::default())
        .await
        .doing("listing ACL policies")?;
    show(&policies, args.json, |p| policy_list(p))
}

async fn info(args: InfoArgs) -> CmdResult {
    let client = args.api.client()?;
    let (policy, _) = client
        .acl_policy(&args.name, &QueryOptions::default())
        .await
        .doing("fetching info on ACL policy")?;
    show(&policy, args.json, render_policy)
}

async fn delete(args: DeleteArgs) -> CmdResult {
    let client = args.api.client()?;
    client
        .acl_policy_delete(&args.name)
        .await
        .doing("deleting ACL policy")?;
    say!("Successfully deleted {} policy!", args.name)?;
    Ok(Outcome::Success)
}

/// The workloads a policy is attached to, from `-namespace`, `-job`, `-group` and `-task`:
/// none without a namespace. Each flag needs the one before it; the error is the usage message.
fn workload(
    namespace: Option<String>,
    job: Option<String>,
    group: Option<String>,
    task: Option<String>,
) -> Result<Option<JobAcl>, String> {
    let given = |flag: &Option<String>| flag.as_deref().is_some_and(|v| !v.is_empty());
    if given(&job) && !given(&namespace) {
        return Err("-namespace is required if -job is set".into());
    }
    if given(&group) && !given(&job) {
        return Err("-job is required if -group is set".into());
    }
    if given(&task) && !given(&group) {
        return Err("-group is required if -task is set".into());
    }
    Ok(namespace
        .filter(|ns| !ns.is_empty())
        .map(|namespace| JobAcl {
            namespace,
            job_id: job.unwrap_or_default(),
            group: group.unwrap_or_default(),
            task: task.unwrap_or_default(),
        }))
}

/// The policy list: `Name  Description`.
fn policy_list(policies: &[AclPolicy]) -> String {
    if policies.is_empty() {
        return "No policies found".to_string();
    }
    let header = ["Name".to_string(), "Description".to_string()];
    let rows = policies
        .iter()
        .map(|p| [p.name.clone(), p.description.clone()]);
    list(std::iter::once(header).chain(rows))
}

/// One policy: its fields, the workloads it is attached to (when it is), then its rules.
fn render_policy(policy: &AclPolicy) -> String {
    let mut out = kv(&[
        ("Name", policy.name.clone()),
        ("Description", policy.description.clone()),
        ("CreateIndex", policy.create_index.to_string()),
        ("ModifyIndex", policy.modify_index.to_string()),
    ]);
    if let Some(job_acl) = &policy.job_acl {
        out.push_str("\n\nAssociated Workload\n");
        out.push_str(&kv(&[
            ("Namespace", job_acl.namespace.as_str()),
            ("JobID", job_acl.job_id.as_str()),
            ("Group", job_acl.group.as_str()),
            ("Task", job_acl.task.as_str()),
        ]));
    }
    out.push_str("\n\nRules\n\n");
    out.push_str(policy.rules.trim_end());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::acl::AclCommand;
    use crate::commands::{Command, parse_for_test};

    fn some(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn apply_args(argv: &[&str]) -> ApplyArgs {
        match parse_for_test(&[APPLY_COMMAND, argv].concat()) {
            Command::Acl {
                command:
                    AclCommand::Policy {
                        command: PolicyCommand::Apply(args),
                    },
            } => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    fn policy() -> AclPolicy {
        AclPolicy {
            name: "web-vars".into(),
            description: "Variables of web".into(),
            rules: "namespace \"default\" {\n  policy = \"read\"\n}\n".into(),
            job_acl: None,
            create_index: 9,
            modify_index: 12,
        }
    }

    #[test]
    fn a_namespace_flag_attaches_the_policy() {
        let args = apply_args(&["-namespace=prod", "-job", "web", "web-vars", "rules.hcl"]);
        assert_eq!(args.attach_namespace.as_deref(), Some("prod"));
        assert_eq!(args.flags.name, "web-vars");
        assert_eq!(args.flags.path, "rules.hcl");
        let job_acl = workload(args.attach_namespace, args.flags.job, None, None).unwrap();
        assert_eq!(
            job_acl,
            Some(JobAcl {
                namespace: "prod".into(),
                job_id: "web".into(),
                ..Default::default()
            })
        );
    }

    #[test]
    fn without_a_namespace_nothing_is_attached() {
        let args = apply_args(&["-description", "reads", "reader", "-"]);
        assert_eq!(args.attach_namespace, None);
        assert_eq!(args.flags.description, "reads");
        assert_eq!(workload(None, None, None, None).unwrap(), None);
    }

    #[test]
    fn a_namespace_alone_attaches_to_the_whole_namespace() {
        assert_eq!(
            workload(some("prod"), None, None, None).unwrap(),
            Some(JobAcl {
                namespace: "prod".into(),
                ..Default::default()
            })
        );
    }

    #[test]
    fn each_workload_flag_needs_the_one_before_it() {
        assert_eq!(
            workload(None, some("web"), None, None).unwrap_err(),
            "-namespace is required if -job is set"
        );
        assert_eq!(
            workload(some("prod"), None, some("api"), None).unwrap_err(),
            "-job is required if -group is set"
        );
        assert_eq!(
            workload(some("prod"), some("web"), None, some("server")).unwrap_err(),
            "-group is required if -task is set"
        );
        let full = workload(some("prod"), some("web"), some("api"), some("server")).unwrap();
        assert_eq!(full.unwrap().task, "server");
    }

    #[test]
    fn info_shows_fields_then_rules() {
        assert_eq!(
            render_policy(&policy()),
            "Name        = web-vars\n\
             Description = Variables of web\n\
             CreateIndex = 9\n\
             ModifyIndex = 12\n\
             \n\
             Rules\n\
             \n\
             namespace \"default\" {\n  policy = \"read\"\n}"
        );
    }

    #[test]
    fn info_shows_the_associated_workload() {
        let mut attached = policy();
        attached.job_acl = Some(JobAcl {
            namespace: "default".into(),
            job_id: "web".into(),
            group: "api".into(),
            task: String::new(),
        });
        let out = render_policy(&attached);
        assert!(
            out.contains(
                "ModifyIndex = 12\n\
                 \n\
                 Associated Workload\n\
                 Namespace = default\n\
                 JobID     = web\n\
                 Group     = api\n\
                 Task      = <none>\n\
                 \n\
                 Rules\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn list_shows_names_and_descriptions() {
        let mut other = policy();
        other.name = "anonymous".into();
        other.description = String::new();
        assert_eq!(
            policy_list(&[policy(), other]),
            "Name       Description\n\
             web-vars   Variables of web\n\
             anonymous  <none>"
        );
        assert_eq!(policy_list(&[]), "No policies found");
    }
}
