//! `drover job …`: run (submit and monitor), status, stop, inspect, allocs, history; and the
//! `-json`/`-t` output choice the listing commands share (`-t` renders API JSON through a Go
//! template with Nomad's `sprig_*` functions).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use drover_api::client::escape;
use drover_api::{
    AllocListStub, Client, ClientError, EVAL_STATUS_BLOCKED, Evaluation, Job, JobSummary,
    QueryOptions,
};
use serde::Serialize;

use super::ApiArgs;
use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::format::{self, id_length, kv, unix_nano};
use crate::monitor::{Monitor, alloc_metrics_lines};
use crate::output::say;
use crate::{jobfile, resolve, views};

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Submit a jobspec and monitor its evaluation.
    Run(RunArgs),
    /// Display the status of jobs, or of one job.
    Status(StatusArgs),
    /// Stop a running job.
    Stop(StopArgs),
    /// Print a job's specification as JSON.
    Inspect(InspectArgs),
    /// List a job's allocations.
    Allocs(AllocsArgs),
    /// Display a job's versions.
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Return right after submitting, printing the evaluation ID.
    #[arg(long)]
    pub detach: bool,
    /// Print the job as JSON (`{"Job": …}`) instead of submitting it.
    #[arg(long)]
    pub output: bool,
    /// Show full IDs.
    #[arg(long)]
    pub verbose: bool,
    /// An input variable, `key=value`; may be given more than once.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// A file of input variable values; may be given more than once.
    #[arg(long = "var-file", value_name = "PATH")]
    pub var_files: Vec<PathBuf>,
    /// The jobspec file, or `-` for stdin.
    #[arg(value_name = "PATH")]
    pub path: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// Show full IDs, exact times and evaluations.
    #[arg(long)]
    pub verbose: bool,
    /// Only the job's own fields.
    #[arg(long)]
    pub short: bool,
    /// Show the job's evaluations.
    #[arg(long)]
    pub evals: bool,
    /// Include allocations of earlier instances of the job.
    #[arg(long = "all-allocs")]
    pub all_allocs: bool,
    /// Job ID or prefix; all jobs when omitted.
    #[arg(value_name = "JOB")]
    pub job: Option<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Also remove the job from the state store.
    #[arg(long)]
    pub purge: bool,
    /// Return right after stopping, printing the evaluation ID.
    #[arg(long)]
    pub detach: bool,
    /// Show full IDs.
    #[arg(long)]
    pub verbose: bool,
    /// Do not ask for confirmation (accepted for compatibility; drover never asks).
    #[arg(long)]
    pub yes: bool,
    /// Job ID or prefix.
    #[arg(value_name = "JOB")]
    pub job: String,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print JSON (the default format).
    #[arg(long)]
    pub json: bool,
    /// Format the job with a Go template, e.g. '{{.ID}}'.
    #[arg(short = 't', value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// Show this version of the job.
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,
    /// Job ID or prefix.
    #[arg(value_name = "JOB")]
    pub job: String,
}

#[derive(Debug, Args)]
pub struct AllocsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Include allocations of earlier instances of the job.
    #[arg(long)]
    pub all: bool,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// Format the allocations with a Go template, e.g. '{{range .}}{{.ID}} {{end}}'.
    #[arg(short = 't', value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// Show full IDs and exact times.
    #[arg(long)]
    pub verbose: bool,
    /// Job ID or prefix.
    #[arg(value_name = "JOB")]
    pub job: String,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// Format the versions (the one version with -version) with a Go template.
    #[arg(short = 't', value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// Print each version's full specification.
    #[arg(long)]
    pub full: bool,
    /// Show only this version.
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,
    /// Job ID or prefix.
    #[arg(value_name = "JOB")]
    pub job: String,
}

pub async fn run(command: JobCommand) -> CmdResult {
    match command {
        JobCommand::Run(args) => run_job(args).await,
        JobCommand::Status(args) => status(args).await,
        JobCommand::Stop(args) => stop(args).await,
        JobCommand::Inspect(args) => inspect(args).await,
        JobCommand::Allocs(args) => allocs(args).await,
        JobCommand::History(args) => history(args).await,
    }
}

/// `{"Job": …}`, the body the jobs endpoint takes and `inspect` prints.
#[derive(Serialize)]
struct JobEnvelope<'a> {
    #[serde(rename = "Job")]
    job: &'a Job,
}

async fn run_job(args: RunArgs) -> CmdResult {
    let mut job = jobfile::load(&args.path, &args.vars, &args.var_files)?;
    if args.output {
        say!("{}", format::json(&JobEnvelope { job: &job }))?;
        return Ok(Outcome::Success);
    }
    if job.namespace.is_empty() {
        job.namespace = args.api.namespace.clone().unwrap_or_default();
    }
    if job.region.is_empty() {
        job.region = args.api.region.clone().unwrap_or_default();
    }
    let client = args.api.client()?;
    let resp = client.job_register(&job).await.doing("submitting job")?;
    if !resp.warnings.is_empty() {
        say!("Job Warnings:\n{}\n", resp.warnings)?;
    }
    if resp.eval_id.is_empty() {
        say!("Job registration successful")?;
        return Ok(Outcome::Success);
    }
    if args.detach {
        say!(
            "Job registration successful\nEvaluation ID: {}",
            resp.eval_id
        )?;
        return Ok(Outcome::Success);
    }
    Monitor::new(&client, args.verbose).run(&resp.eval_id).await
}

async fn status(args: StatusArgs) -> CmdResult {
    let client = args.api.client()?;
    let Some(prefix) = args.job.as_deref() else {
        return list_jobs(&client, args.json).await;
    };
    let id = resolve::job_id(&client, prefix.trim()).await?;
    let detail = JobDetail::fetch(&client, &id, args.all_allocs).await?;
    if args.json {
        say!("{}", format::json(&[detail.as_json()]))?;
        return Ok(Outcome::Success);
    }
    let options = DetailOptions {
        verbose: args.verbose,
        short: args.short,
        evals: args.evals || args.verbose,
    };
    say!("{}", detail.render(&options, format::now()))?;
    Ok(Outcome::Success)
}

/// Prints every job, as `job status` and `status` do without an ID.
pub async fn list_jobs(client: &Client, json: bool) -> CmdResult {
    let (jobs, _) = client
        .jobs(&QueryOptions::default())
        .await
        .doing("querying jobs")?;
    if json {
        say!("{}", format::json(&jobs))?;
    } else {
        say!("{}", views::job_list(&jobs))?;
    }
    Ok(Outcome::Success)
}

/// Prints one job's status, as `status <job>` does.
pub async fn show_job(client: &Client, id: &str, json: bool) -> CmdResult {
    let detail = JobDetail::fetch(client, id, false).await?;
    if json {
        say!("{}", format::json(&[detail.as_json()]))?;
        return Ok(Outcome::Success);
    }
    let options = DetailOptions {
        verbose: false,
        short: false,
        evals: false,
    };
    say!("{}", detail.render(&options, format::now()))?;
    Ok(Outcome::Success)
}

/// What `job status <job>` shows.
struct DetailOptions {
    verbose: bool,
    short: bool,
    evals: bool,
}

/// Everything `job status <job>` reads about one job.
struct JobDetail {
    job: Job,
    summary: JobSummary,
    allocs: Vec<AllocListStub>,
    evals: Vec<Evaluation>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JobJson<'a> {
    summary: &'a JobSummary,
    allocations: &'a [AllocListStub],
    latest_deployment: Option<()>,
    evaluations: &'a [Evaluation],
}

impl JobDetail {
    async fn fetch(client: &Client, id: &str, all_allocs: bool) -> Result<Self, CliError> {
        let q = QueryOptions::default();
        let (job, _) = client.job(id, &q).await.doing("querying job")?;
        let (allocs, _) = client
            .job_allocations(id, all_allocs, &q)
            .await
            .doing("querying job allocations")?;
        let (evals, _) = client
            .job_evaluations(id)
            .await
            .doing("querying job evaluations")?;
        let summary = job_summary(client, &job, &allocs).await?;
        Ok(JobDetail {
            job,
            summary,
            allocs,
            evals,
        })
    }

    fn as_json(&self) -> JobJson<'_> {
        JobJson {
            summary: &self.summary,
            allocations: &self.allocs,
            latest_deployment: None,
            evaluations: &self.evals,
        }
    }

    fn render(&self, options: &DetailOptions, now: i64) -> String {
        let job = &self.job;
        let id_len = id_length(options.verbose);
        let mut out = kv(&[
            ("ID", job.id.clone()),
            ("Name", job.name.clone()),
            ("Submit Date", unix_nano(job.submit_time)),
            ("Type", job.r#type.clone()),
            ("Priority", job.priority.to_string()),
            ("Datacenters", job.datacenters.join(",")),
            ("Namespace", job.namespace.clone()),
            ("Node Pool", job.node_pool.clone()),
            ("Status", views::job_status(&job.status, job.stop)),
            ("Periodic", "false".to_string()),
            ("Parameterized", "false".to_string()),
        ]);
        if options.short {
            return out;
        }
        out.push_str("\n\nSummary\n");
        out.push_str(&views::summary(&self.summary.summary));
        if options.evals {
            out.push_str("\n\nEvaluations\n");
            out.push_str(&views::eval_list(&self.evals, id_len));
        }
        if let Some(failures) = placement_failures(&self.evals) {
            out.push_str("\n\nPlacement Failure\n");
            out.push_str(&failures);
        }
        out.push_str("\n\nAllocations\n");
        out.push_str(&views::alloc_list(
            &self.allocs,
            options.verbose,
            id_len,
            now,
        ));
        out
    }
}

/// The job's summary from the agent, or counted from its allocations when the agent has none.
async fn job_summary(
    client: &Client,
    job: &Job,
    allocs: &[AllocListStub],
) -> Result<JobSummary, CliError> {
    let path = format!("/v1/job/{}/summary", escape(&job.id));
    match client
        .get::<JobSummary>(&path, &QueryOptions::default())
        .await
    {
        Ok((summary, _)) => Ok(summary),
        Err(ClientError::Status {
            status: 404 | 405 | 501,
            ..
        }) => Ok(JobSummary {
            job_id: job.id.clone(),
            namespace: job.namespace.clone(),
            summary: views::summary_from_allocs(
                job.task_groups.iter().map(|g| g.name.clone()),
                allocs,
            ),
            ..Default::default()
        }),
        Err(e) => Err(e).doing("querying job summary"),
    }
}

/// Why the latest evaluation could not place everything, while a blocked evaluation waits.
fn placement_failures(evals: &[Evaluation]) -> Option<String> {
    if !evals.iter().any(|e| e.status == EVAL_STATUS_BLOCKED) {
        return None;
    }
    let latest = evals
        .iter()
        .filter(|e| e.failed_tg_allocs.as_ref().is_some_and(|f| !f.is_empty()))
        .max_by_key(|e| e.create_index)?;
    let mut lines = Vec::new();
    for (group, metrics) in latest.failed_tg_allocs.iter().flatten() {
        lines.push(format!("Task Group {group:?}:"));
        lines.extend(alloc_metrics_lines(metrics, "  "));
    }
    Some(lines.join("\n"))
}

async fn stop(args: StopArgs) -> CmdResult {
    let client = args.api.client()?;
    let id = resolve::job_id(&client, args.job.trim()).await?;
    let resp = client
        .job_deregister(&id, args.purge)
        .await
        .doing("deregistering job")?;
    if resp.eval_id.is_empty() {
        return Ok(Outcome::Success);
    }
    if args.detach {
        say!("{}", resp.eval_id)?;
        return Ok(Outcome::Success);
    }
    Monitor::new(&client, args.verbose).run(&resp.eval_id).await
}

async fn inspect(args: InspectArgs) -> CmdResult {
    let output = Output::choose(args.json, args.template.as_deref())?;
    let client = args.api.client()?;
    let id = resolve::job_id(&client, args.job.trim()).await?;
    let job = match args.version {
        None => {
            client
                .job(&id, &QueryOptions::default())
                .await
                .doing("inspecting job")?
                .0
        }
        Some(version) => find_version(&client, &id, version).await?,
    };
    match output {
        Output::Template(template) => say!("{}", go_template(template, &job)?)?,
        Output::Json | Output::Default => say!("{}", format::json(&JobEnvelope { job: &job }))?,
    }
    Ok(Outcome::Success)
}

async fn find_version(client: &Client, id: &str, version: u64) -> Result<Job, CliError> {
    let (versions, _) = client
        .job_versions(id)
        .await
        .doing("retrieving job versions")?;
    versions
        .versions
        .into_iter()
        .find(|j| j.version == version)
        .ok_or_else(|| CliError::Message(format!("Error: job {id:?} has no version {version}")))
}

async fn allocs(args: AllocsArgs) -> CmdResult {
    let output = Output::choose(args.json, args.template.as_deref())?;
    let client = args.api.client()?;
    let id = resolve::job_id(&client, args.job.trim()).await?;
    let (allocs, _) = client
        .job_allocations(&id, args.all, &QueryOptions::default())
        .await
        .doing("retrieving job allocations")?;
    match output {
        Output::Json => say!("{}", format::json(&allocs))?,
        Output::Template(template) => say!("{}", go_template(template, &allocs)?)?,
        Output::Default => {
            let id_len = id_length(args.verbose);
            say!(
                "{}",
                views::alloc_list(&allocs, args.verbose, id_len, format::now())
            )?;
        }
    }
    Ok(Outcome::Success)
}

async fn history(args: HistoryArgs) -> CmdResult {
    let output = Output::choose(args.json, args.template.as_deref())?;
    let client = args.api.client()?;
    let id = resolve::job_id(&client, args.job.trim()).await?;
    let (resp, _) = client
        .job_versions(&id)
        .await
        .doing("retrieving job versions")?;
    let mut versions = resp.versions;
    versions.sort_by_key(|j| std::cmp::Reverse(j.version));
    if let Some(wanted) = args.version {
        versions.retain(|j| j.version == wanted);
        if versions.is_empty() {
            return Err(CliError::Message(format!(
                "Error: job {id:?} has no version {wanted}"
            )));
        }
    }
    match (output, versions.as_slice()) {
        (Output::Json, _) => {
            say!("{}", format::json(&versions))?;
            return Ok(Outcome::Success);
        }
        (Output::Template(template), [one]) if args.version.is_some() => {
            say!("{}", go_template(template, one)?)?;
            return Ok(Outcome::Success);
        }
        (Output::Template(template), _) => {
            say!("{}", go_template(template, &versions)?)?;
            return Ok(Outcome::Success);
        }
        (Output::Default, _) => {}
    }
    let blocks: Vec<String> = versions
        .iter()
        .map(|job| history_block(job, args.full))
        .collect();
    say!("{}", blocks.join("\n\n"))?;
    Ok(Outcome::Success)
}

fn history_block(job: &Job, full: bool) -> String {
    let mut out = kv(&[
        ("Version", job.version.to_string()),
        ("Stable", job.stable.to_string()),
        ("Submit Date", unix_nano(job.submit_time)),
    ]);
    if full {
        out.push('\n');
        out.push_str(&format::json(job));
    }
    out
}

/// How a command that takes `-json` and `-t` prints, as Nomad's `Format` decides.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Output<'a> {
    Default,
    Json,
    Template(&'a str),
}

impl<'a> Output<'a> {
    /// The output `-json` and `-t` ask for; an empty template counts as none.
    pub(crate) fn choose(json: bool, template: Option<&'a str>) -> Result<Output<'a>, CliError> {
        match (json, template.filter(|t| !t.is_empty())) {
            (true, Some(_)) => Err(CliError::Message(
                "Both json and template formatting are not allowed".into(),
            )),
            (true, None) => Ok(Output::Json),
            (false, Some(template)) => Ok(Output::Template(template)),
            (false, None) => Ok(Output::Default),
        }
    }
}

/// `data` (as the API's JSON) rendered through the Go template `template`, for `-t` and
/// `-out go-template`.
pub(crate) fn go_template<T: Serialize + ?Sized>(
    template: &str,
    data: &T,
) -> Result<String, CliError> {
    let json = serde_json::to_value(data)
        .map_err(|e| CliError::Message(format!("Error formatting the data: {e}")))?;
    drover_template::format_json(template, &json)
        .map_err(|e| CliError::Message(format!("Error formatting the data: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api::{AllocMetric, TaskGroup};

    fn detail() -> JobDetail {
        JobDetail {
            job: Job {
                id: "example".into(),
                name: "example".into(),
                r#type: "service".into(),
                priority: 50,
                datacenters: vec!["dc1".into()],
                namespace: "default".into(),
                node_pool: "default".into(),
                status: "running".into(),
                submit_time: 1_795_464_855_000_000_000,
                task_groups: vec![TaskGroup {
                    name: "cache".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            summary: JobSummary::default(),
            allocs: Vec::new(),
            evals: Vec::new(),
        }
    }

    #[test]
    fn short_status_is_the_key_value_block() {
        let out = detail().render(
            &DetailOptions {
                verbose: false,
                short: true,
                evals: false,
            },
            0,
        );
        assert!(out.starts_with("ID            = example\nName          = example\n"));
        assert!(out.contains("Submit Date   = 2026-11-23T20:14:15Z"));
        assert!(out.ends_with("Parameterized = false"));
    }

    #[test]
    fn full_status_has_summary_and_allocations() {
        let out = detail().render(
            &DetailOptions {
                verbose: false,
                short: false,
                evals: false,
            },
            0,
        );
        assert!(out.contains("\n\nSummary\nTask Group  Queued"));
        assert!(out.ends_with("\n\nAllocations\nNo allocations placed"));
        assert!(!out.contains("Evaluations"));
    }

    #[test]
    fn placement_failures_show_only_while_blocked() {
        let failed = Evaluation {
            id: "e1".into(),
            status: "complete".into(),
            create_index: 5,
            failed_tg_allocs: Some(
                [(
                    "cache".to_string(),
                    AllocMetric {
                        nodes_evaluated: 0,
                        ..Default::default()
                    },
                )]
                .into(),
            ),
            ..Default::default()
        };
        assert_eq!(placement_failures(std::slice::from_ref(&failed)), None);
        let blocked = Evaluation {
            id: "e2".into(),
            status: "blocked".into(),
            ..Default::default()
        };
        assert_eq!(
            placement_failures(&[failed, blocked]).as_deref(),
            Some("Task Group \"cache\":\n  * No nodes were eligible for evaluation")
        );
    }

    #[test]
    fn json_and_template_output_exclude_each_other() {
        assert_eq!(Output::choose(false, None).unwrap(), Output::Default);
        assert_eq!(Output::choose(false, Some("")).unwrap(), Output::Default);
        assert_eq!(Output::choose(true, Some("")).unwrap(), Output::Json);
        assert_eq!(
            Output::choose(false, Some("{{.ID}}")).unwrap(),
            Output::Template("{{.ID}}")
        );
        let err = Output::choose(true, Some("{{.ID}}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Both json and template formatting are not allowed"
        );
    }

    #[test]
    fn templates_render_api_json_and_report_errors() {
        let job = Job {
            id: "mongo".into(),
            ..Default::default()
        };
        assert_eq!(go_template("{{.ID}}", &job).unwrap(), "mongo");
        let err = go_template("{{ if .ID }}", &job).unwrap_err().to_string();
        assert!(
            err.starts_with("Error formatting the data: template"),
            "{err}"
        );
        assert!(err.contains("unexpected EOF"), "{err}");
    }

    #[test]
    fn the_t_flag_parses_on_allocs_inspect_and_history() {
        use crate::commands::{Command, parse_for_test};
        let Command::Job {
            command: JobCommand::Allocs(args),
        } = parse_for_test(&["job", "allocs", "-t", "{{.}}", "mongo"])
        else {
            panic!("not job allocs")
        };
        assert_eq!(args.template.as_deref(), Some("{{.}}"));
        let Command::Job {
            command: JobCommand::Inspect(args),
        } = parse_for_test(&["job", "inspect", "-t={{.ID}}", "mongo"])
        else {
            panic!("not job inspect")
        };
        assert_eq!(args.template.as_deref(), Some("{{.ID}}"));
        let Command::Job {
            command: JobCommand::History(args),
        } = parse_for_test(&["job", "history", "-version", "1", "-t", "x", "mongo"])
        else {
            panic!("not job history")
        };
        assert_eq!(
            (args.version, args.template.as_deref()),
            (Some(1), Some("x"))
        );
    }

    #[test]
    fn history_blocks_list_version_and_stability() {
        let job = Job {
            version: 2,
            stable: true,
            ..Default::default()
        };
        assert_eq!(
            history_block(&job, false),
            "Version     = 2\nStable      = true\nSubmit Date = <none>"
        );
    }
}
