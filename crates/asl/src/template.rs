//! Payload templates: `Parameters`, `ResultSelector` and `ItemSelector`. Keys ending in `.$`
//! take their value from a path or an intrinsic call; everything else is copied as is.

use serde_json::{Map, Value};

use crate::intrinsics::{self, Intrinsic};
use crate::path::{Path, Root};
use crate::{Diagnostics, Failure, Pointer, Random, Scope};

/// A compiled payload template. Static sub-trees are kept as plain values so evaluating them is
/// one clone.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    Static(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    /// `"key.$": "$.path"`; `field` is the key as written (with `.$`), for error causes.
    Path {
        field: String,
        path: Path,
    },
    /// `"key.$": "States.Format(...)"`.
    Intrinsic {
        field: String,
        call: Intrinsic,
    },
}

impl Template {
    /// Compiles a template found at `at`, recording every bad `.$` value in `diags`.
    pub fn parse(value: &Value, at: &Pointer, diags: &mut Diagnostics) -> Template {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                let mut dynamic = false;
                for (key, v) in map {
                    let here = at.child(key);
                    if let Some(name) = key.strip_suffix(".$") {
                        dynamic = true;
                        let t = match v.as_str() {
                            Some(text) => Self::parse_dynamic(key, text, &here, diags),
                            None => {
                                diags.schema(
                                    &here,
                                    format!(
                                        "The value for the field '{key}' must be a valid JSONPath \
                                         or a valid intrinsic function call"
                                    ),
                                );
                                Template::Static(Value::Null)
                            }
                        };
                        fields.push((name.to_owned(), t));
                    } else {
                        let t = Self::parse(v, &here, diags);
                        dynamic |= !matches!(t, Template::Static(_));
                        fields.push((key.clone(), t));
                    }
                }
                if dynamic {
                    Template::Object(fields)
                } else {
                    Template::Static(value.clone())
                }
            }
            Value::Array(items) => {
                let items: Vec<Template> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Self::parse(v, &at.child(i), diags))
                    .collect();
                if items.iter().all(|t| matches!(t, Template::Static(_))) {
                    Template::Static(value.clone())
                } else {
                    Template::Array(items)
                }
            }
            v => Template::Static(v.clone()),
        }
    }

    fn parse_dynamic(key: &str, text: &str, at: &Pointer, diags: &mut Diagnostics) -> Template {
        let parsed = if intrinsics::is_intrinsic(text) {
            Intrinsic::parse(text)
                .map(|call| Template::Intrinsic {
                    field: key.to_owned(),
                    call,
                })
                .map_err(|e| e.message)
        } else {
            Path::parse(text)
                .map(|path| Template::Path {
                    field: key.to_owned(),
                    path,
                })
                .map_err(|e| e.message)
        };
        parsed.unwrap_or_else(|detail| {
            diags.schema(
                at,
                format!(
                    "The value for the field '{key}' must be a valid JSONPath or a valid \
                     intrinsic function call ({detail})"
                ),
            );
            Template::Static(Value::Null)
        })
    }

    /// Whether evaluating this template reads the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        match self {
            Template::Static(_) => false,
            Template::Object(fields) => fields.iter().any(|(_, t)| t.uses_context()),
            Template::Array(items) => items.iter().any(Template::uses_context),
            Template::Path { path, .. } => path.root() == Root::Context,
            Template::Intrinsic { call, .. } => call.uses_context(),
        }
    }

    /// Evaluates the template against `scope`. A `.$` path that selects nothing fails with
    /// `States.Runtime` and AWS's cause.
    pub fn eval(&self, scope: &Scope<'_>, random: &mut dyn Random) -> Result<Value, Failure> {
        match self {
            Template::Static(v) => Ok(v.clone()),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    out.insert(k.clone(), t.eval(scope, random)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(scope, random))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Template::Path { field, path } => match path.select(scope) {
                Some(v) => Ok(v.into_owned()),
                None => Err(Failure::runtime(format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in \
                     the input '{}'",
                    path.text(),
                    scope.input
                ))),
            },
            Template::Intrinsic { call, .. } => call.eval(scope, random),
        }
    }
}
