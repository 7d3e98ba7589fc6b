//! Parse-time checks of function calls over the engine's syntax tree: every function a template
//! names must exist in its function set (Go fails the parse with `function "x" not defined`; the
//! engine would only fail when the call runs), and a direct call of one of drover's own functions
//! must pass a number of arguments that function accepts.

use gotmpl::parse::{CommandNode, DefineNode, Expr, ListNode, Node, PipeNode};

use crate::TemplateError;
use crate::error::line_column;
use crate::funcs::FuncSet;

/// Checks every function call in the parsed `tree` and `defines` of `text`. The recursion
/// follows the tree's nesting, which the structure check has bounded.
pub(crate) fn functions(
    name: &str,
    text: &str,
    tree: &ListNode,
    defines: &[DefineNode],
    set: &FuncSet,
) -> Result<(), TemplateError> {
    let checker = Checker { name, text, set };
    checker.list(tree)?;
    for define in defines {
        checker.list(&define.body)?;
    }
    Ok(())
}

struct Checker<'a> {
    name: &'a str,
    text: &'a str,
    set: &'a FuncSet,
}

impl Checker<'_> {
    fn list(&self, list: &ListNode) -> Result<(), TemplateError> {
        list.nodes.iter().try_for_each(|node| self.node(node))
    }

    fn node(&self, node: &Node) -> Result<(), TemplateError> {
        match node {
            Node::List(list) => self.list(list),
            Node::Action(action) => self.pipe(&action.pipe),
            Node::If(branch) | Node::Range(branch) | Node::With(branch) => {
                self.pipe(&branch.pipe)?;
                self.list(&branch.body)?;
                branch
                    .else_body
                    .as_ref()
                    .map_or(Ok(()), |body| self.list(body))
            }
            Node::Template(call) => call.pipe.as_ref().map_or(Ok(()), |pipe| self.pipe(pipe)),
            Node::Define(define) => self.list(&define.body),
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => Ok(()),
        }
    }

    fn pipe(&self, pipe: &PipeNode) -> Result<(), TemplateError> {
        for (i, command) in pipe.commands.iter().enumerate() {
            self.command(command, i > 0)?;
        }
        Ok(())
    }

    /// A command: its first word may be a call taking the other words (and the piped value).
    fn command(&self, command: &CommandNode, piped: bool) -> Result<(), TemplateError> {
        let mut args = command.args.iter();
        if let Some(Expr::Identifier(pos, function)) = command.args.first() {
            args.next();
            let count = command.args.len() - 1 + usize::from(piped);
            self.call(pos.offset, function, count)?;
        }
        args.try_for_each(|arg| self.operand(arg))
    }

    /// An operand: a bare function name in operand position is a call with no arguments.
    fn operand(&self, expr: &Expr) -> Result<(), TemplateError> {
        match expr {
            Expr::Identifier(pos, function) => self.call(pos.offset, function, 0),
            Expr::Pipe(_, pipe) => self.pipe(pipe),
            Expr::Chain(_, inner, _) => self.operand(inner),
            Expr::Dot(_)
            | Expr::Field(..)
            | Expr::Variable(..)
            | Expr::String(..)
            | Expr::Number(..)
            | Expr::Bool(..)
            | Expr::Nil(_) => Ok(()),
        }
    }

    fn call(&self, offset: usize, function: &str, count: usize) -> Result<(), TemplateError> {
        let (line, column) = line_column(self.text, offset);
        if !self.set.defines(function) {
            return Err(TemplateError::UnknownFunction {
                name: self.name.to_string(),
                line,
                column,
                function: function.to_string(),
                hint: self.set.hint(function),
            });
        }
        match self.set.arity(function) {
            Some(arity) if !arity.accepts(count) => Err(TemplateError::ArgumentCount {
                name: self.name.to_string(),
                line,
                column,
                function: function.to_string(),
                expected: arity.to_string(),
                got: count,
            }),
            _ => Ok(()),
        }
    }
}
