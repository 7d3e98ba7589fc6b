//! The executable form of a parsed template: its trees with metering hooks added, so that
//! [`crate::limits`] sees what the engine does not report. Each `{{range}}` body starts by
//! calling [`ITERATION`] (one iteration of the render's shared budget, whichever execution
//! runs it, `executeTemplate` included), and each `{{define}}`d body by calling [`ENTERED`]
//! (a step, so templates calling templates cannot multiply work unseen). The hooks are
//! declarations (`{{$hook := …}}`), so they print nothing, and their names are not
//! identifiers, so templates cannot call them. The main body is stored as the define
//! [`ENTRY`] and executed by that name.

use gotmpl::parse::{ActionNode, CommandNode, Expr, ListNode, Node, PipeNode, Pos, SmolStr};

use crate::funcs::FuncSet;
use crate::limits::MAX_ITERATIONS;

/// The hook starting each `{{range}}` iteration.
pub(crate) const ITERATION: &str = "range iteration";

/// The hook starting each `{{define}}`d template.
pub(crate) const ENTERED: &str = "template entered";

/// The name the main body is executed by.
pub(crate) const ENTRY: &str = "\u{0}main";

/// The variable the hooks assign to.
const HOOK_VARIABLE: &str = "$ hook";

/// The engine template that runs `parsed` (named `name`, whose top-level tree is `top`) with
/// the functions of `set`.
pub(crate) fn executable(
    name: &str,
    parsed: &gotmpl::Template,
    top: ListNode,
    set: &FuncSet,
) -> gotmpl::Template {
    // As the engine runs it: the body stored under the template's own name (a `{{define}}`
    // of that name replaces the text's), else the text's top level.
    let main = match name {
        "" => None,
        name => parsed.lookup(name).cloned(),
    }
    .unwrap_or(top);
    let mut engine = gotmpl::Template::new(name)
        .funcs(set.func_map())
        // The render's own budget, shared by all executions, ends loops first.
        .max_range_iters(MAX_ITERATIONS + 1);
    for define in parsed.templates() {
        if let Some(body) = parsed.lookup(define) {
            let mut body = body.clone();
            hook_ranges(&mut body);
            body.nodes.insert(0, hook(ENTERED, body.pos));
            engine = engine.add_parse_tree(define, body);
        }
    }
    let mut main = main;
    hook_ranges(&mut main);
    engine.add_parse_tree(ENTRY, main)
}

/// Starts every `{{range}}` body in `list` with the [`ITERATION`] hook. Recurses as deep as
/// the template nests, which the structure check has bounded.
fn hook_ranges(list: &mut ListNode) {
    for node in &mut list.nodes {
        match node {
            Node::Range(branch) => {
                hook_ranges(&mut branch.body);
                branch.body.nodes.insert(0, hook(ITERATION, branch.pos));
                if let Some(other) = &mut branch.else_body {
                    hook_ranges(other);
                }
            }
            Node::If(branch) | Node::With(branch) => {
                hook_ranges(&mut branch.body);
                if let Some(other) = &mut branch.else_body {
                    hook_ranges(other);
                }
            }
            Node::List(inner) => hook_ranges(inner),
            Node::Define(define) => hook_ranges(&mut define.body),
            Node::Text(_)
            | Node::Action(_)
            | Node::Template(_)
            | Node::Break(_)
            | Node::Continue(_) => {}
        }
    }
}

/// `{{$hook := FUNCTION}}`.
fn hook(function: &str, pos: Pos) -> Node {
    Node::Action(ActionNode {
        pos,
        pipe: PipeNode {
            pos,
            decl: vec![SmolStr::new_static(HOOK_VARIABLE)],
            commands: vec![CommandNode {
                pos,
                args: vec![Expr::Identifier(pos, SmolStr::new(function))],
            }],
            is_assign: false,
        },
    })
}
