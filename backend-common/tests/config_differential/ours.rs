//! Our results for a case, in the oracle's JSON shapes (see `tests/compat/config-verdicts.cjs`).

use std::path::{Path, PathBuf};

use backstage_backend_common::Error;
use backstage_backend_common::config::{
    ConfigLayer, ConfigReader, LoadConfigOptions, load_config, read_duration,
};
use serde_json::{Value, json};

use super::case::{Case, Query, target_arg};

/// Loads the case (its files are already in `dir`) and runs its queries.
pub fn run(case: &Case, dir: &Path) -> Value {
    let mut options = LoadConfigOptions::new(dir.to_path_buf()).env(case.env.clone());
    for t in case.targets.iter().flatten() {
        options = options.config_path(PathBuf::from(target_arg(dir, t)));
    }
    options.allow_missing_default_config = case.allow_missing;
    let layers: Vec<ConfigLayer> = match load_config(&options) {
        Ok(layers) => layers,
        Err(e) => {
            return json!({ "error": e.to_string(), "errorName": e.backstage_name(), "queries": [] });
        }
    };
    let layers_json: Vec<Value> = layers
        .iter()
        .map(|l| json!({ "context": l.context, "data": enc(&l.data) }))
        .collect();
    let reader = ConfigReader::from_layers(layers);
    let queries: Vec<Value> = case.queries.iter().map(|q| query(&reader, q)).collect();
    json!({ "layers": layers_json, "queries": queries })
}

/// Values nested deeper than this are compared as their JSON text, as the oracle sends them
/// (`MAX_DEPTH` in `config-verdicts.cjs`).
const MAX_DEPTH: usize = 64;

/// The oracle's encoding of a value.
fn enc(v: &Value) -> Value {
    fn go(v: &Value, depth: usize) -> Value {
        match v {
            Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => {
                json!({ "$deep": v.to_string() })
            }
            Value::Array(items) => items.iter().map(|x| go(x, depth + 1)).collect(),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, x)| (k.clone(), go(x, depth + 1)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    go(v, 0)
}

fn err(e: Error) -> Value {
    json!({ "error": e.to_string(), "errorName": e.backstage_name() })
}

fn opt<T>(r: Result<Option<T>, Error>, f: impl FnOnce(T) -> Value) -> Value {
    match r {
        Ok(Some(v)) => json!({ "value": f(v) }),
        Ok(None) => json!({ "absent": true }),
        Err(e) => err(e),
    }
}

fn req<T>(r: Result<T, Error>, f: impl FnOnce(T) -> Value) -> Value {
    match r {
        Ok(v) => json!({ "value": f(v) }),
        Err(e) => err(e),
    }
}

/// A number as the oracle encodes it (non-finite numbers are tagged).
fn num(n: f64) -> Value {
    if n.is_finite() {
        json!(n)
    } else if n.is_nan() {
        json!({ "$nonFinite": "NaN" })
    } else if n > 0.0 {
        json!({ "$nonFinite": "Infinity" })
    } else {
        json!({ "$nonFinite": "-Infinity" })
    }
}

fn describe(r: &ConfigReader) -> Value {
    json!({ "keys": r.keys(), "value": enc(&r.value()) })
}

fn query(root: &ConfigReader, q: &Query) -> Value {
    let mut owned: Option<ConfigReader> = None;
    for step in &q.path {
        let r = owned.as_ref().unwrap_or(root);
        let next = match step.op {
            "getConfig" => r.config(&step.key).map(Some),
            "getOptionalConfig" => r.optional_config(&step.key),
            "getConfigArray" | "getOptionalConfigArray" => {
                let list = if step.op == "getConfigArray" {
                    r.config_array(&step.key).map(Some)
                } else {
                    r.optional_config_array(&step.key)
                };
                match list {
                    Ok(Some(mut list)) => {
                        if step.index >= list.len() {
                            return json!({ "outOfRange": list.len() });
                        }
                        Ok(Some(list.swap_remove(step.index)))
                    }
                    Ok(None) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            other => return json!({ "harnessError": format!("unknown path op {other}") }),
        };
        match next {
            Ok(Some(r)) => owned = Some(r),
            Ok(None) => return json!({ "absent": true }),
            Err(e) => return err(e),
        }
    }
    let r = owned.as_ref().unwrap_or(root);
    let key = q.key.as_deref().unwrap_or("");
    match q.op {
        "get" => req(r.get(key), |v| enc(&v)),
        "getOptional" => opt(r.optional(key), |v| enc(&v)),
        "getString" => req(r.string(key), Value::String),
        "getOptionalString" => opt(r.optional_string(key), Value::String),
        "getNumber" => req(r.number(key), num),
        "getOptionalNumber" => opt(r.optional_number(key), num),
        "getBoolean" => req(r.boolean(key), Value::Bool),
        "getOptionalBoolean" => opt(r.optional_boolean(key), Value::Bool),
        "getStringArray" => req(r.string_array(key), |v| json!(v)),
        "getOptionalStringArray" => opt(r.optional_string_array(key), |v| json!(v)),
        "getConfig" => match r.config(key) {
            Ok(c) => json!({ "config": describe(&c) }),
            Err(e) => err(e),
        },
        "getOptionalConfig" => match r.optional_config(key) {
            Ok(Some(c)) => json!({ "config": describe(&c) }),
            Ok(None) => json!({ "absent": true }),
            Err(e) => err(e),
        },
        "getConfigArray" => match r.config_array(key) {
            Ok(list) => json!({ "configs": list.iter().map(describe).collect::<Vec<_>>() }),
            Err(e) => err(e),
        },
        "getOptionalConfigArray" => match r.optional_config_array(key) {
            Ok(Some(list)) => {
                json!({ "configs": list.iter().map(describe).collect::<Vec<_>>() })
            }
            Ok(None) => json!({ "absent": true }),
            Err(e) => err(e),
        },
        "has" => req(r.has(key), Value::Bool),
        "keys" => json!({ "value": r.keys() }),
        "readDuration" => req(read_duration(r, q.key.as_deref()), |d| {
            serde_json::to_value(d).unwrap_or(Value::Null)
        }),
        other => json!({ "harnessError": format!("unknown op {other}") }),
    }
}
