//! Type constraints of `variable` blocks (`string`, `number`, `bool`, `any`, `list(T)`,
//! `set(T)`, `map(T)`, `object({..})`, `tuple([..])`) and the conversions HCL applies when a
//! value is assigned to one.

use std::collections::BTreeMap;

use hcl_edit::expr::{Expression, ObjectKey};
use serde_json::{Map, Value};

use crate::value::{self, type_name};

/// A variable's declared type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    /// Reads a type expression such as `list(string)`.
    pub fn parse(expr: &Expression) -> Result<Type, String> {
        if let Some(name) = expr.as_variable() {
            return match name.as_str() {
                "any" => Ok(Type::Any),
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                other => Err(format!(
                    "unknown type {other:?} (use string, number, bool, any, list(..), set(..), map(..), object({{..}}) or tuple([..]))"
                )),
            };
        }
        let Some(call) = expr.as_func_call() else {
            return Err(format!("{} is not a type", expr.to_string().trim()));
        };
        let name = call.name.name.as_str();
        let args: Vec<&Expression> = call.args.iter().collect();
        let [arg] = args.as_slice() else {
            return Err(format!("type {name}(..) takes exactly one argument"));
        };
        match name {
            "list" => Ok(Type::List(Box::new(Type::parse(arg)?))),
            "set" => Ok(Type::Set(Box::new(Type::parse(arg)?))),
            "map" => Ok(Type::Map(Box::new(Type::parse(arg)?))),
            "object" => {
                let Some(object) = arg.as_object() else {
                    return Err("object(..) takes an object of attribute types".to_string());
                };
                let mut fields = BTreeMap::new();
                for (key, value) in object.iter() {
                    let key = match key {
                        ObjectKey::Ident(ident) => ident.as_str().to_string(),
                        ObjectKey::Expression(e) => match e.as_str() {
                            Some(s) => s.to_string(),
                            None => {
                                return Err("object type attribute names must be names or strings"
                                    .to_string());
                            }
                        },
                    };
                    fields.insert(key, Type::parse(value.expr())?);
                }
                Ok(Type::Object(fields))
            }
            "tuple" => {
                let Some(items) = arg.as_array() else {
                    return Err("tuple(..) takes a list of element types".to_string());
                };
                let types: Result<Vec<Type>, String> = items.iter().map(Type::parse).collect();
                Ok(Type::Tuple(types?))
            }
            other => Err(format!("unknown type constructor {other:?}")),
        }
    }

    /// Whether a raw command-line string should be kept as a string rather than read as HCL.
    pub fn takes_raw_string(&self) -> bool {
        matches!(self, Type::String)
    }

    /// Converts `v` to this type, as HCL does on assignment.
    pub fn convert(&self, v: Value) -> Result<Value, String> {
        if v.is_null() {
            return Ok(v);
        }
        match self {
            Type::Any => Ok(v),
            Type::String => value::to_str(&v)
                .map(Value::String)
                .ok_or_else(|| format!("a string is required, got {}", type_name(&v))),
            Type::Number => value::as_f64(&v)
                .ok_or_else(|| format!("a number is required, got {}", describe(&v)))
                .and_then(value::number),
            Type::Bool => value::to_bool(&v)
                .map(Value::Bool)
                .ok_or_else(|| format!("a bool is required, got {}", describe(&v))),
            Type::List(item) | Type::Set(item) => {
                let Value::Array(items) = v else {
                    return Err(format!("a list is required, got {}", type_name(&v)));
                };
                let converted: Result<Vec<Value>, String> = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| item.convert(x).map_err(|m| format!("element {i}: {m}")))
                    .collect();
                let mut converted = converted?;
                if matches!(self, Type::Set(_)) {
                    let mut unique: Vec<Value> = Vec::new();
                    for x in converted.drain(..) {
                        if !unique.iter().any(|u| value::equal(u, &x)) {
                            unique.push(x);
                        }
                    }
                    converted = unique;
                }
                Ok(Value::Array(converted))
            }
            Type::Map(item) => {
                let Value::Object(map) = v else {
                    return Err(format!("a map is required, got {}", type_name(&v)));
                };
                let mut out = Map::new();
                for (k, x) in map {
                    let x = item.convert(x).map_err(|m| format!("element {k:?}: {m}"))?;
                    out.insert(k, x);
                }
                Ok(Value::Object(out))
            }
            Type::Object(fields) => {
                let Value::Object(mut map) = v else {
                    return Err(format!("an object is required, got {}", type_name(&v)));
                };
                let mut out = Map::new();
                for (name, ty) in fields {
                    let x = map
                        .remove(name)
                        .ok_or_else(|| format!("attribute {name:?} is required"))?;
                    out.insert(
                        name.clone(),
                        ty.convert(x)
                            .map_err(|m| format!("attribute {name:?}: {m}"))?,
                    );
                }
                Ok(Value::Object(out))
            }
            Type::Tuple(types) => {
                let Value::Array(items) = v else {
                    return Err(format!("a tuple is required, got {}", type_name(&v)));
                };
                if items.len() != types.len() {
                    return Err(format!(
                        "a tuple of {} elements is required, got {}",
                        types.len(),
                        items.len()
                    ));
                }
                let converted: Result<Vec<Value>, String> =
                    types.iter().zip(items).map(|(t, x)| t.convert(x)).collect();
                converted.map(Value::Array)
            }
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => type_name(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty(src: &str) -> Type {
        let expr = hcl_edit::parser::parse_expr(src).map_err(|e| e.to_string());
        Type::parse(&expr.unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_type_expressions() {
        assert_eq!(ty("string"), Type::String);
        assert_eq!(ty("list(number)"), Type::List(Box::new(Type::Number)));
        assert_eq!(
            ty("object({ a = string })"),
            Type::Object(BTreeMap::from([("a".to_string(), Type::String)]))
        );
        assert!(
            Type::parse(
                &hcl_edit::parser::parse_expr("strin").unwrap_or_else(|_| Expression::null())
            )
            .is_err()
        );
    }

    #[test]
    fn converts_like_hcl() {
        assert_eq!(Type::Number.convert(json!("8080")), Ok(json!(8080)));
        assert_eq!(Type::String.convert(json!(3)), Ok(json!("3")));
        assert!(
            Type::Number
                .convert(json!("abc"))
                .unwrap_err()
                .contains("\"abc\"")
        );
        assert_eq!(
            ty("set(string)").convert(json!(["a", "a", 1])),
            Ok(json!(["a", "1"]))
        );
        assert_eq!(
            ty("map(number)").convert(json!({"a": "1"})),
            Ok(json!({"a": 1}))
        );
        assert!(ty("object({a = string})").convert(json!({})).is_err());
    }
}
