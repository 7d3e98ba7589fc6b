//! The expression evaluator: HCL expressions and templates over `var.*`, `local.*` and the
//! function library, with Nomad's runtime references (`${NOMAD_*}`, `${attr.*}`, `${node.*}`,
//! `${meta.*}`, `${env[".."]}`, any other unknown root) kept as literal `${…}` text for the
//! client to interpolate.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::{
    BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, Traversal, TraversalOperator,
    UnaryOperator,
};
use hcl_edit::template::{Directive, Element, ForDirective, IfDirective, Strip, Template};
use serde_json::{Map, Value};

use crate::error::SourceMap;
use crate::functions::{self, FunctionContext};
use crate::value::{self, type_name};

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EvalError {
    /// It refers to something only known on the client at run time; keep its text.
    Runtime,
    /// It is wrong: the span of the offending expression and what was wrong.
    Failed(Option<Range<usize>>, String),
}

pub(crate) type EvalResult = Result<Value, EvalError>;

fn fail(span: Option<Range<usize>>, message: impl Into<String>) -> EvalError {
    EvalError::Failed(span, message.into())
}

/// Names bound by enclosing `for` expressions and directives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env<'e> {
    parent: Option<&'e Env<'e>>,
    name: &'e str,
    value: &'e Value,
}

impl<'e> Env<'e> {
    fn lookup(env: Option<&Env<'_>>, name: &str) -> Option<Value> {
        let mut current = env;
        while let Some(e) = current {
            if e.name == name {
                return Some(e.value.clone());
            }
            current = e.parent;
        }
        None
    }
}

/// Evaluates expressions of one source file.
pub(crate) struct Evaluator<'a> {
    src: &'a SourceMap<'a>,
    vars: Map<String, Value>,
    locals: HashMap<String, &'a Expression>,
    local_values: RefCell<HashMap<String, Result<Value, EvalError>>>,
    local_stack: RefCell<Vec<String>>,
    funcs: FunctionContext,
}

impl<'a> Evaluator<'a> {
    /// An evaluator with no variables and no locals: `var.*` and `local.*` are errors.
    pub fn new(src: &'a SourceMap<'a>, funcs: FunctionContext) -> Self {
        Evaluator {
            src,
            vars: Map::new(),
            locals: HashMap::new(),
            local_values: RefCell::new(HashMap::new()),
            local_stack: RefCell::new(Vec::new()),
            funcs,
        }
    }

    /// Declares the values of `var.*`.
    pub fn set_vars(&mut self, vars: Map<String, Value>) {
        self.vars = vars;
    }

    /// Declares a local; it is evaluated the first time it is used.
    pub fn add_local(&mut self, name: &str, expr: &'a Expression) {
        self.locals.insert(name.to_string(), expr);
    }

    /// Whether a local with this name was declared.
    pub fn has_local(&self, name: &str) -> bool {
        self.locals.contains_key(name)
    }

    /// Evaluates a local (memoised, cycles reported).
    pub fn local(&self, name: &str, span: Option<Range<usize>>) -> EvalResult {
        if let Some(done) = self.local_values.borrow().get(name) {
            return done.clone();
        }
        let Some(expr) = self.locals.get(name).copied() else {
            return Err(fail(
                span,
                format!("local.{name} is not defined in any locals block"),
            ));
        };
        if self.local_stack.borrow().iter().any(|n| n == name) {
            let chain = self.local_stack.borrow().join(" -> ");
            return Err(fail(
                span,
                format!("local.{name} refers to itself ({chain} -> {name})"),
            ));
        }
        self.local_stack.borrow_mut().push(name.to_string());
        let result = self.eval_value(expr, None);
        self.local_stack.borrow_mut().pop();
        self.local_values
            .borrow_mut()
            .insert(name.to_string(), result.clone());
        result
    }

    /// Evaluates an expression in a value position: if it refers to runtime-only names it
    /// becomes its own source text wrapped in `${…}`.
    pub fn eval_value(&self, expr: &Expression, env: Option<&Env<'_>>) -> EvalResult {
        match self.eval(expr, env) {
            Err(EvalError::Runtime) => Ok(Value::String(format!("${{{}}}", self.source(expr)))),
            other => other,
        }
    }

    fn source(&self, expr: &Expression) -> String {
        expr.span()
            .and_then(|s| self.src.slice(&s))
            .map_or_else(|| expr.to_string(), |s| s.trim().to_string())
    }

    /// Evaluates an expression; runtime-only references yield `EvalError::Runtime`.
    pub fn eval(&self, expr: &Expression, env: Option<&Env<'_>>) -> EvalResult {
        match expr {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => {
                let n = n.value();
                match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Ok(Value::from(i)),
                    (None, Some(f)) => value::number(f).map_err(|m| fail(expr.span(), m)),
                    (None, None) => Err(fail(expr.span(), "number out of range")),
                }
            }
            Expression::String(s) => Ok(Value::String(s.value().clone())),
            Expression::Array(items) => {
                let values: Result<Vec<Value>, EvalError> = items
                    .iter()
                    .map(|item| self.eval_value(item, env))
                    .collect();
                values.map(Value::Array)
            }
            Expression::Object(object) => {
                let mut map = Map::new();
                for (key, val) in object.iter() {
                    let key = match key {
                        ObjectKey::Ident(ident) => ident.as_str().to_string(),
                        ObjectKey::Expression(key_expr) => {
                            let k = self.eval(key_expr, env)?;
                            value::to_str(&k).ok_or_else(|| {
                                fail(
                                    key_expr.span(),
                                    format!("object key must be a string, got {}", type_name(&k)),
                                )
                            })?
                        }
                    };
                    map.insert(key, self.eval_value(val.expr(), env)?);
                }
                Ok(Value::Object(map))
            }
            Expression::StringTemplate(t) => self.eval_template(t, env),
            Expression::HeredocTemplate(h) => self.eval_template(&h.template, env),
            Expression::Parenthesis(p) => self.eval(p.inner(), env),
            Expression::Variable(ident) => self.variable(ident.as_str(), expr.span(), env),
            Expression::Conditional(c) => {
                let cond = self.eval(&c.cond_expr, env)?;
                match value::to_bool(&cond) {
                    Some(true) => self.eval(&c.true_expr, env),
                    Some(false) => self.eval(&c.false_expr, env),
                    None => Err(fail(
                        c.cond_expr.span(),
                        format!("condition must be a bool, got {}", type_name(&cond)),
                    )),
                }
            }
            Expression::FuncCall(call) => self.call(call, expr.span(), env),
            Expression::Traversal(t) => self.traversal(t, env),
            Expression::UnaryOp(op) => {
                let v = self.eval(&op.expr, env)?;
                let span = expr.span();
                match op.operator.value() {
                    UnaryOperator::Neg => value::as_f64(&v)
                        .ok_or_else(|| {
                            fail(span.clone(), format!("cannot negate a {}", type_name(&v)))
                        })
                        .and_then(|f| value::number(-f).map_err(|m| fail(span, m))),
                    UnaryOperator::Not => {
                        value::to_bool(&v).map(|b| Value::Bool(!b)).ok_or_else(|| {
                            fail(span, format!("cannot apply ! to a {}", type_name(&v)))
                        })
                    }
                }
            }
            Expression::BinaryOp(op) => {
                let lhs = self.eval(&op.lhs_expr, env)?;
                let rhs = self.eval(&op.rhs_expr, env)?;
                binary(*op.operator.value(), &lhs, &rhs).map_err(|m| fail(expr.span(), m))
            }
            Expression::ForExpr(f) => self.for_expr(f, env),
        }
    }

    fn variable(
        &self,
        name: &str,
        span: Option<Range<usize>>,
        env: Option<&Env<'_>>,
    ) -> EvalResult {
        if let Some(v) = Env::lookup(env, name) {
            return Ok(v);
        }
        match name {
            "var" => Ok(Value::Object(self.vars.clone())),
            "local" => Err(fail(
                span,
                "local must be followed by a name, as in local.name",
            )),
            _ => Err(EvalError::Runtime),
        }
    }

    fn traversal(&self, t: &Traversal, env: Option<&Env<'_>>) -> EvalResult {
        let mut ops = t.operators.iter().map(|op| op.value()).peekable();
        let root_name = t.expr.as_variable().map(|i| i.as_str());
        let bound = root_name.is_some_and(|n| Env::lookup(env, n).is_some());
        let mut current = match (root_name, bound) {
            (Some(root @ ("var" | "local")), false) => {
                let name = match ops.next() {
                    Some(TraversalOperator::GetAttr(name)) => name.as_str().to_string(),
                    Some(TraversalOperator::Index(index)) => {
                        let key = self.eval(index, env)?;
                        value::to_str(&key).unwrap_or_default()
                    }
                    _ => {
                        return Err(fail(
                            t.span(),
                            format!("{root} must be followed by a name, as in {root}.name"),
                        ));
                    }
                };
                if root == "var" {
                    match self.vars.get(&name) {
                        Some(v) => v.clone(),
                        None => {
                            return Err(fail(
                                t.span(),
                                format!(
                                    "var.{name} is not declared: add a variable \"{name}\" block"
                                ),
                            ));
                        }
                    }
                } else {
                    self.local(&name, t.span())?
                }
            }
            _ => self.eval(&t.expr, env)?,
        };
        let rest: Vec<&TraversalOperator> = ops.collect();
        current = self.apply_ops(current, &rest, t, env)?;
        Ok(current)
    }

    fn apply_ops(
        &self,
        mut current: Value,
        ops: &[&TraversalOperator],
        t: &Traversal,
        env: Option<&Env<'_>>,
    ) -> EvalResult {
        for (i, op) in ops.iter().enumerate() {
            let span = t.span();
            current = match op {
                TraversalOperator::GetAttr(name) => match &current {
                    Value::Object(map) => map.get(name.as_str()).cloned().ok_or_else(|| {
                        fail(
                            span,
                            format!("object has no attribute named {:?}", name.as_str()),
                        )
                    })?,
                    other => {
                        return Err(fail(
                            span,
                            format!(
                                "cannot read attribute {:?} of a {}",
                                name.as_str(),
                                type_name(other)
                            ),
                        ));
                    }
                },
                TraversalOperator::Index(index) => {
                    let key = self.eval(index, env)?;
                    index_value(&current, &key).map_err(|m| fail(index.span(), m))?
                }
                TraversalOperator::LegacyIndex(n) => {
                    index_value(&current, &Value::from(*n.value())).map_err(|m| fail(span, m))?
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let items = match current {
                        Value::Null => Vec::new(),
                        Value::Array(items) => items,
                        other => vec![other],
                    };
                    let rest = &ops[i + 1..];
                    let mapped: Result<Vec<Value>, EvalError> = items
                        .into_iter()
                        .map(|item| self.apply_ops(item, rest, t, env))
                        .collect();
                    return mapped.map(Value::Array);
                }
            };
        }
        Ok(current)
    }

    fn call(
        &self,
        call: &FuncCall,
        span: Option<Range<usize>>,
        env: Option<&Env<'_>>,
    ) -> EvalResult {
        let name = call.name.name.as_str();
        if call.name.is_namespaced() {
            return Err(fail(
                span,
                format!("namespaced function {name}() is not supported"),
            ));
        }
        let mut args = Vec::with_capacity(call.args.len());
        for arg in call.args.iter() {
            args.push(self.eval(arg, env)?);
        }
        if call.args.expand_final() {
            match args.pop() {
                Some(Value::Array(items)) => args.extend(items),
                Some(other) => {
                    return Err(fail(
                        span,
                        format!(
                            "the final argument of {name}(...) must be a list, got {}",
                            type_name(&other)
                        ),
                    ));
                }
                None => {}
            }
        }
        functions::call(name, args, &self.funcs).map_err(|m| fail(span, format!("{name}(): {m}")))
    }

    fn for_expr(&self, f: &ForExpr, env: Option<&Env<'_>>) -> EvalResult {
        let collection = self.eval(&f.intro.collection_expr, env)?;
        let entries = iterate(&collection).map_err(|m| fail(f.intro.collection_expr.span(), m))?;
        let key_name = f.intro.key_var.as_ref().map(|k| k.as_str());
        let value_name = f.intro.value_var.as_str();
        let mut list = Vec::new();
        let mut object = Map::new();
        for (key, item) in &entries {
            let key_env;
            let parent = match key_name {
                Some(k) => {
                    key_env = Env {
                        parent: env,
                        name: k,
                        value: key,
                    };
                    Some(&key_env)
                }
                None => env,
            };
            let item_env = Env {
                parent,
                name: value_name,
                value: item,
            };
            self.for_body(f, &item_env, &mut list, &mut object)?;
        }
        if f.key_expr.is_some() {
            Ok(Value::Object(object))
        } else {
            Ok(Value::Array(list))
        }
    }

    fn for_body(
        &self,
        f: &ForExpr,
        env: &Env<'_>,
        list: &mut Vec<Value>,
        object: &mut Map<String, Value>,
    ) -> Result<(), EvalError> {
        if let Some(cond) = &f.cond {
            let keep = self.eval(&cond.expr, Some(env))?;
            match value::to_bool(&keep) {
                Some(true) => {}
                Some(false) => return Ok(()),
                None => {
                    return Err(fail(
                        cond.expr.span(),
                        format!("for condition must be a bool, got {}", type_name(&keep)),
                    ));
                }
            }
        }
        let item = self.eval_value(&f.value_expr, Some(env))?;
        let Some(key_expr) = &f.key_expr else {
            list.push(item);
            return Ok(());
        };
        let key = self.eval(key_expr, Some(env))?;
        let key = value::to_str(&key).ok_or_else(|| {
            fail(
                key_expr.span(),
                format!("object key must be a string, got {}", type_name(&key)),
            )
        })?;
        if f.grouping {
            let slot = object
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = slot {
                items.push(item);
            }
        } else if object.contains_key(&key) {
            return Err(fail(
                key_expr.span(),
                format!(
                    "duplicate key {key:?} in for expression; use ... after the value to group"
                ),
            ));
        } else {
            object.insert(key, item);
        }
        Ok(())
    }

    /// Evaluates a template. A template that is one interpolation yields that value unchanged.
    pub fn eval_template(&self, template: &Template, env: Option<&Env<'_>>) -> EvalResult {
        if let Some(Element::Interpolation(interp)) = template.as_single_element() {
            return match self.eval(&interp.expr, env) {
                Err(EvalError::Runtime) => Ok(Value::String(
                    self.element_source(interp.span(), &interp.expr),
                )),
                other => other,
            };
        }
        let mut out = Renderer::default();
        self.render(template, env, &mut out)?;
        Ok(Value::String(out.text))
    }

    fn element_source(&self, span: Option<Range<usize>>, expr: &Expression) -> String {
        span.and_then(|s| self.src.slice(&s))
            .map_or_else(|| format!("${{{}}}", self.source(expr)), str::to_string)
    }

    fn render(
        &self,
        template: &Template,
        env: Option<&Env<'_>>,
        out: &mut Renderer,
    ) -> Result<(), EvalError> {
        for element in template.iter() {
            match element {
                Element::Literal(text) => out.literal(text.as_str()),
                Element::Interpolation(interp) => {
                    out.strip_before(interp.strip);
                    match self.eval(&interp.expr, env) {
                        Ok(v) => {
                            out.push(&interpolated(&v).map_err(|m| fail(interp.expr.span(), m))?)
                        }
                        Err(EvalError::Runtime) => {
                            out.push(&self.element_source(interp.span(), &interp.expr))
                        }
                        Err(e) => return Err(e),
                    }
                    out.strip_after(interp.strip);
                }
                Element::Directive(directive) => {
                    let result = match directive.as_ref() {
                        Directive::If(d) => self.render_if(d, env, out),
                        Directive::For(d) => self.render_for(d, env, out),
                    };
                    match result {
                        Err(EvalError::Runtime) => {
                            match directive.span().and_then(|s| self.src.slice(&s)) {
                                Some(text) => out.push(text),
                                None => return Err(EvalError::Runtime),
                            }
                        }
                        other => other?,
                    }
                }
            }
        }
        Ok(())
    }

    fn render_if(
        &self,
        d: &IfDirective,
        env: Option<&Env<'_>>,
        out: &mut Renderer,
    ) -> Result<(), EvalError> {
        let cond = self.eval(&d.if_expr.cond_expr, env)?;
        let Some(cond) = value::to_bool(&cond) else {
            return Err(fail(
                d.if_expr.cond_expr.span(),
                format!(
                    "%{{ if }} condition must be a bool, got {}",
                    type_name(&cond)
                ),
            ));
        };
        out.strip_before(d.if_expr.strip);
        if cond {
            out.strip_after(d.if_expr.strip);
            self.render(&d.if_expr.template, env, out)?;
            if let Some(e) = &d.else_expr {
                out.strip_before(e.strip);
            } else {
                out.strip_before(d.endif_expr.strip);
            }
        } else if let Some(e) = &d.else_expr {
            out.strip_after(e.strip);
            self.render(&e.template, env, out)?;
            out.strip_before(d.endif_expr.strip);
        }
        out.strip_after(d.endif_expr.strip);
        Ok(())
    }

    fn render_for(
        &self,
        d: &ForDirective,
        env: Option<&Env<'_>>,
        out: &mut Renderer,
    ) -> Result<(), EvalError> {
        let f = &d.for_expr;
        let collection = self.eval(&f.collection_expr, env)?;
        let entries = iterate(&collection).map_err(|m| fail(f.collection_expr.span(), m))?;
        out.strip_before(f.strip);
        for (key, item) in &entries {
            out.strip_after(f.strip);
            let key_env;
            let parent = match &f.key_var {
                Some(k) => {
                    key_env = Env {
                        parent: env,
                        name: k.as_str(),
                        value: key,
                    };
                    Some(&key_env)
                }
                None => env,
            };
            let item_env = Env {
                parent,
                name: f.value_var.as_str(),
                value: item,
            };
            self.render(&f.template, Some(&item_env), out)?;
            out.strip_before(d.endfor_expr.strip);
        }
        out.strip_after(d.endfor_expr.strip);
        Ok(())
    }
}

/// Builds template output, applying `~` whitespace strip markers.
#[derive(Default)]
struct Renderer {
    text: String,
    trim_next: bool,
}

impl Renderer {
    fn literal(&mut self, s: &str) {
        let s = if std::mem::take(&mut self.trim_next) {
            s.trim_start()
        } else {
            s
        };
        self.text.push_str(s);
    }

    fn push(&mut self, s: &str) {
        self.trim_next = false;
        self.text.push_str(s);
    }

    fn strip_before(&mut self, strip: Strip) {
        if strip.strip_start() {
            let kept = self.text.trim_end().len();
            self.text.truncate(kept);
        }
    }

    fn strip_after(&mut self, strip: Strip) {
        if strip.strip_end() {
            self.trim_next = true;
        }
    }
}

/// The string an interpolated value contributes to a template.
fn interpolated(v: &Value) -> Result<String, String> {
    match v {
        Value::Null => Err("cannot include a null value in a string template".to_string()),
        Value::Array(_) | Value::Object(_) => Err(format!(
            "cannot include a {} in a string template; use join() or jsonencode()",
            type_name(v)
        )),
        other => value::to_str(other).ok_or_else(|| "value has no string form".to_string()),
    }
}

/// Key/value pairs of a list (index, item) or an object (key, value; sorted by key).
pub(crate) fn iterate(collection: &Value) -> Result<Vec<(Value, Value)>, String> {
    match collection {
        Value::Array(items) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| (Value::from(i), v.clone()))
            .collect()),
        Value::Object(map) => {
            let mut entries: Vec<(Value, Value)> = map
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                .collect();
            entries.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
            Ok(entries)
        }
        other => Err(format!(
            "cannot iterate over a {}; expected a list or an object",
            type_name(other)
        )),
    }
}

/// `collection[key]` for lists (numeric index) and objects (string key).
fn index_value(collection: &Value, key: &Value) -> Result<Value, String> {
    match collection {
        Value::Array(items) => {
            let index = value::as_f64(key)
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .ok_or_else(|| format!("list index must be a whole number, got {key}"))?;
            items.get(index as usize).cloned().ok_or_else(|| {
                format!(
                    "index {index} is out of range for a list of {} items",
                    items.len()
                )
            })
        }
        Value::Object(map) => {
            let key = value::to_str(key)
                .ok_or_else(|| format!("object key must be a string, got {}", type_name(key)))?;
            map.get(&key)
                .cloned()
                .ok_or_else(|| format!("object has no element {key:?}"))
        }
        other => Err(format!("cannot index a {}", type_name(other))),
    }
}

fn binary(op: BinaryOperator, lhs: &Value, rhs: &Value) -> Result<Value, String> {
    use BinaryOperator as B;
    match op {
        B::Eq => Ok(Value::Bool(value::equal(lhs, rhs))),
        B::NotEq => Ok(Value::Bool(!value::equal(lhs, rhs))),
        B::And | B::Or => {
            let (Some(a), Some(b)) = (value::to_bool(lhs), value::to_bool(rhs)) else {
                return Err(format!(
                    "{} needs two bools, got {} and {}",
                    op.as_str(),
                    type_name(lhs),
                    type_name(rhs)
                ));
            };
            Ok(Value::Bool(if op == B::And { a && b } else { a || b }))
        }
        _ => {
            let (Some(a), Some(b)) = (value::as_f64(lhs), value::as_f64(rhs)) else {
                return Err(format!(
                    "{} needs two numbers, got {} and {}",
                    op.as_str(),
                    type_name(lhs),
                    type_name(rhs)
                ));
            };
            match op {
                B::Less => Ok(Value::Bool(a < b)),
                B::LessEq => Ok(Value::Bool(a <= b)),
                B::Greater => Ok(Value::Bool(a > b)),
                B::GreaterEq => Ok(Value::Bool(a >= b)),
                B::Plus => value::number(a + b),
                B::Minus => value::number(a - b),
                B::Mul => value::number(a * b),
                B::Div if b == 0.0 => Err("division by zero".to_string()),
                B::Div => value::number(a / b),
                B::Mod if b == 0.0 => Err("modulo by zero".to_string()),
                B::Mod => value::number(a % b),
                _ => Err(format!("unsupported operator {}", op.as_str())),
            }
        }
    }
}
