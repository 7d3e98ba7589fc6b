//! One jobspec file end to end: top-level blocks, `variable` and `locals`, the single `job`
//! block, then validation with drover-api's rules mapped back to block positions.

use std::collections::HashSet;
use std::ops::Range;

use drover_api::Job;
use hcl_edit::Span;
use hcl_edit::structure::{Block, Body};
use serde_json::{Map, Value};

use crate::decode::job::Positions;
use crate::decode::{Decoder, Schema};
use crate::error::{Diagnostic, ParseError, SourceMap};
use crate::eval::{EvalError, Evaluator};
use crate::functions::FunctionContext;
use crate::types::Type;
use crate::variables::VariableValues;

const VARIABLE: Schema = Schema {
    attrs: &["type", "default", "description"],
    blocks: &[],
};

pub(crate) fn parse(
    src: &str,
    filename: &str,
    vars: &VariableValues,
    funcs: FunctionContext,
) -> Result<Job, ParseError> {
    let map = SourceMap::new(filename, src);
    let body = hcl_edit::parser::parse_body(src).map_err(|e| {
        ParseError::new(vec![Diagnostic {
            file: filename.to_string(),
            line: e.location().line(),
            column: e.location().column(),
            message: format!("syntax error: {}", e.message()),
        }])
    })?;
    let mut diags = Vec::new();
    let top = TopLevel::split(&body, &map, &mut diags);

    let mut ev = Evaluator::new(&map, funcs);
    let values = {
        let mut decoder = Decoder::new(&map, &ev);
        let values = declare_variables(&mut decoder, &top.variables, vars);
        diags.append(&mut decoder.diags);
        values
    };
    ev.set_vars(values);
    declare_locals(&mut ev, &top.locals, &map, &mut diags);
    if !diags.is_empty() {
        return Err(ParseError::new(diags));
    }

    let job_block = match top.jobs.as_slice() {
        [job] => *job,
        [] => {
            return Err(ParseError::new(vec![map.diag(
                None,
                "no job block found: a jobspec needs exactly one job \"name\" { ... } block",
            )]));
        }
        [first, rest @ ..] => {
            let (line, _) = map.position(first.span().map_or(0, |s| s.start));
            let extra = rest.iter().map(|b| {
                map.diag(
                    b.span(),
                    format!("only one job block is allowed per file (the first is on line {line})"),
                )
            });
            return Err(ParseError::new(extra.collect()));
        }
    };
    let mut decoder = Decoder::new(&map, &ev);
    let mut positions = Positions::default();
    let job = decoder.job(job_block, &mut positions);
    if !decoder.diags.is_empty() {
        return Err(ParseError::new(decoder.diags));
    }
    let problems = validate(&job, &positions, &map);
    if !problems.is_empty() {
        return Err(ParseError::new(problems));
    }
    Ok(job)
}

/// The top-level blocks of a jobspec, sorted by kind.
struct TopLevel<'b> {
    variables: Vec<&'b Block>,
    locals: Vec<&'b Block>,
    jobs: Vec<&'b Block>,
}

impl<'b> TopLevel<'b> {
    fn split(body: &'b Body, map: &SourceMap<'_>, diags: &mut Vec<Diagnostic>) -> Self {
        let mut top = TopLevel {
            variables: Vec::new(),
            locals: Vec::new(),
            jobs: Vec::new(),
        };
        for structure in body.iter() {
            if let Some(attr) = structure.as_attribute() {
                diags.push(map.diag(
                    attr.key.span(),
                    format!("unknown field {:?} at the top level: a jobspec holds variable, locals and job blocks", attr.key.as_str()),
                ));
                continue;
            }
            let Some(block) = structure.as_block() else {
                continue;
            };
            match block.ident.as_str() {
                "variable" => top.variables.push(block),
                "locals" => top.locals.push(block),
                "job" => top.jobs.push(block),
                other => diags.push(map.diag(
                    block.ident.span(),
                    format!("unknown block {other:?} at the top level: a jobspec holds variable, locals and job blocks"),
                )),
            }
        }
        top
    }
}

/// Resolves every declared variable to the value given for it or its default.
fn declare_variables(
    d: &mut Decoder<'_>,
    blocks: &[&Block],
    given: &VariableValues,
) -> Map<String, Value> {
    let mut values = Map::new();
    for block in blocks {
        let Some(name) = d.label(block, "the jobspec") else {
            continue;
        };
        let what = format!("variable {name:?}");
        if values.contains_key(&name) {
            d.error(block.span(), format!("{what} is declared more than once"));
            continue;
        }
        d.check(&block.body, &what, &VARIABLE);
        let ty = match block.body.get_attribute("type") {
            Some(attr) => match Type::parse(&attr.value) {
                Ok(ty) => ty,
                Err(message) => {
                    d.error(attr.value.span(), format!("type of {what}: {message}"));
                    continue;
                }
            },
            None => Type::Any,
        };
        let value = match given.resolve(&name, &ty) {
            Some(Ok(v)) => v,
            Some(Err(message)) => {
                d.error(block.span(), message);
                continue;
            }
            None => match block.body.get_attribute("default") {
                Some(attr) => match d.ev.eval_value(&attr.value, None) {
                    Ok(v) => match ty.convert(v) {
                        Ok(v) => v,
                        Err(message) => {
                            d.error(attr.value.span(), format!("default of {what}: {message}"));
                            continue;
                        }
                    },
                    Err(EvalError::Failed(span, message)) => {
                        d.error(span.or_else(|| attr.value.span()), message);
                        continue;
                    }
                    Err(EvalError::Runtime) => continue,
                },
                None => {
                    d.error(
                        block.span(),
                        format!("{what} has no value: give one with -var {name}=..., a -var-file, or the {}{name} environment variable, or add a default", crate::ENV_PREFIX),
                    );
                    continue;
                }
            },
        };
        values.insert(name, value);
    }
    let declared: HashSet<String> = blocks
        .iter()
        .filter_map(|b| b.labels.first().map(|l| l.as_str().to_string()))
        .collect();
    for name in given.names() {
        if !declared.contains(name) {
            let origin = given.origin(name).unwrap_or("input");
            d.diags.push(Diagnostic {
                file: d.src.file.to_string(),
                line: 0,
                column: 0,
                message: format!("a value was given for undeclared variable {name:?} (from {origin}): declare it with variable \"{name}\" {{ ... }}"),
            });
        }
    }
    values
}

/// Registers every local and evaluates each once so that errors in unused locals show too.
fn declare_locals<'a>(
    ev: &mut Evaluator<'a>,
    blocks: &[&'a Block],
    map: &SourceMap<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut names: Vec<(String, Option<Range<usize>>)> = Vec::new();
    for block in blocks {
        if !block.labels.is_empty() {
            diags.push(map.diag(block.span(), "locals block takes no name"));
        }
        for structure in block.body.iter() {
            if let Some(inner) = structure.as_block() {
                diags.push(map.diag(
                    inner.span(),
                    "locals holds only name = value pairs, not blocks",
                ));
            }
        }
        for attr in block.body.attributes() {
            let name = attr.key.as_str();
            if ev.has_local(name) {
                diags.push(map.diag(
                    attr.key.span(),
                    format!("local.{name} is defined more than once"),
                ));
                continue;
            }
            ev.add_local(name, &attr.value);
            names.push((name.to_string(), attr.value.span()));
        }
    }
    let mut reported = HashSet::new();
    for (name, span) in names {
        if let Err(EvalError::Failed(at, message)) = ev.local(&name, span.clone()) {
            let diag = map.diag(at.or(span), message);
            if reported.insert(diag.to_string()) {
                diags.push(diag);
            }
        }
    }
}

/// drover-api's checks on a canonicalized copy, each placed at its group, task or job block.
fn validate(job: &Job, positions: &Positions, map: &SourceMap<'_>) -> Vec<Diagnostic> {
    let mut canonical = job.clone();
    canonical.canonicalize();
    let mut problems: Vec<Diagnostic> = Vec::new();
    for message in canonical.validate() {
        let span = locate(&message, positions);
        problems.push(map.diag(span, message));
    }
    for group in &job.task_groups {
        if group.networks.len() > 1 {
            let span = locate(&format!("group {:?}", group.name), positions);
            problems.push(map.diag(
                span,
                format!("group {:?}: only one network block is allowed", group.name),
            ));
        }
    }
    problems
}

/// The block a validation message is about: a `group "x"` or `task "x"` prefix names it (the
/// last such block for "more than once" messages), anything else is the job's.
fn locate(message: &str, positions: &Positions) -> Option<Range<usize>> {
    let repeated = message.contains("more than once");
    let find = |list: &[(String, Option<Range<usize>>)], kind: &str| {
        let mut matches = list
            .iter()
            .filter(|(name, _)| message.starts_with(&format!("{kind} {name:?}")));
        let found = if repeated {
            matches.next_back()
        } else {
            matches.next()
        };
        found.map(|(_, span)| span.clone())
    };
    find(&positions.tasks, "task")
        .or_else(|| find(&positions.groups, "group"))
        .unwrap_or_else(|| positions.job.clone())
}
