//! The corpus data model: a case is a set of files, the `--config` targets (or none, for the
//! default files), an environment, and reader queries.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

/// One step of a query's path: select a sub-reader before the final operation.
#[derive(Clone, Debug)]
pub struct Step {
    /// `getConfig`, `getOptionalConfig`, `getConfigArray` or `getOptionalConfigArray`.
    pub op: &'static str,
    pub key: String,
    /// Element index for the array forms.
    pub index: usize,
}

/// A reader query: walk `path`, then call `op` (with `key`, or without a key when `None`).
#[derive(Clone, Debug)]
pub struct Query {
    pub path: Vec<Step>,
    pub op: &'static str,
    pub key: Option<String>,
}

/// One differential case.
#[derive(Clone, Debug, Default)]
pub struct Case {
    /// `<category>/<number>`, assigned by [`finish`].
    pub id: String,
    pub cat: &'static str,
    /// What the case is about, for the report.
    pub note: String,
    /// Files relative to the case directory, in writing order.
    pub files: Vec<(String, Vec<u8>)>,
    /// `--config` targets: file names relative to the case directory, or the prefixed forms
    /// of [`target_arg`]; `None` means the default files.
    pub targets: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub allow_missing: bool,
    pub queries: Vec<Query>,
}

impl Case {
    pub fn new(cat: &'static str, note: impl Into<String>) -> Self {
        Case {
            cat,
            note: note.into(),
            ..Case::default()
        }
    }

    /// Adds (or replaces) a text file.
    pub fn file(self, name: &str, content: impl AsRef<str>) -> Self {
        self.bytes(name, content.as_ref().as_bytes().to_vec())
    }

    pub fn bytes(mut self, name: &str, content: Vec<u8>) -> Self {
        self.files.retain(|(n, _)| n != name);
        self.files.push((name.to_string(), content));
        self
    }

    /// Adds a file holding `value` as pretty-printed JSON (which is YAML too).
    pub fn json(self, name: &str, value: &Value) -> Self {
        let text = serde_json::to_string_pretty(value).expect("json");
        self.file(name, text + "\n")
    }

    /// The default `app-config.yaml` holding `value` as JSON.
    pub fn app(self, value: Value) -> Self {
        self.json("app-config.yaml", &value)
    }

    pub fn target(mut self, name: &str) -> Self {
        self.targets
            .get_or_insert_with(Vec::new)
            .push(name.to_string());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    pub fn allow_missing(mut self) -> Self {
        self.allow_missing = true;
        self
    }

    /// `op(key)` on the root reader.
    pub fn q(mut self, op: &'static str, key: &str) -> Self {
        self.queries.push(Query {
            path: Vec::new(),
            op,
            key: Some(key.to_string()),
        });
        self
    }

    /// `op()` without a key on the root reader.
    pub fn q0(mut self, op: &'static str) -> Self {
        self.queries.push(Query {
            path: Vec::new(),
            op,
            key: None,
        });
        self
    }

    /// Every op of `ops` on every key of `keys`.
    pub fn qs(mut self, ops: &[&'static str], keys: &[&str]) -> Self {
        for key in keys {
            for op in ops {
                self = self.q(op, key);
            }
        }
        self
    }

    /// `op(key)` on the reader selected by `path`.
    pub fn qp(mut self, path: &[Step], op: &'static str, key: Option<&str>) -> Self {
        self.queries.push(Query {
            path: path.to_vec(),
            op,
            key: key.map(str::to_string),
        });
        self
    }

    /// Every op of `ops` on every key of `keys` under `path`.
    pub fn qps(mut self, path: &[Step], ops: &[&'static str], keys: &[&str]) -> Self {
        for key in keys {
            for op in ops {
                self = self.qp(path, op, Some(key));
            }
        }
        self
    }

    /// The case as the oracle reads it (see `tests/compat/config-verdicts.cjs`).
    pub fn to_oracle_json(&self, dir: &Path) -> Value {
        let abs = |t: &String| target_arg(dir, t);
        json!({
            "id": self.id,
            "dir": dir.to_string_lossy(),
            "targets": self.targets.as_ref().map(|t| t.iter().map(abs).collect::<Vec<_>>()),
            "env": self.env.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "allowMissingDefaultConfig": self.allow_missing,
            "queries": self.queries.iter().map(query_json).collect::<Vec<_>>(),
        })
    }
}

/// The `--config` argument for a target: `raw:<text>` is passed as it is (URLs), `cwd:<name>`
/// is the case file `<name>` as a path relative to the current directory (which the loader
/// resolves against the working directory), anything else is the case file's absolute path.
pub fn target_arg(dir: &Path, target: &str) -> String {
    if let Some(raw) = target.strip_prefix("raw:") {
        return raw.to_string();
    }
    if let Some(name) = target.strip_prefix("cwd:") {
        let cwd = std::env::current_dir()
            .and_then(|d| d.canonicalize())
            .expect("current directory");
        let to = dir.join(name);
        let common = cwd
            .components()
            .zip(to.components())
            .take_while(|(a, b)| a == b)
            .count();
        let mut rel = std::path::PathBuf::new();
        for _ in common..cwd.components().count() {
            rel.push("..");
        }
        for c in to.components().skip(common) {
            rel.push(c);
        }
        return rel.to_string_lossy().into_owned();
    }
    dir.join(target).to_string_lossy().into_owned()
}

pub fn query_json(q: &Query) -> Value {
    let path: Vec<Value> = q
        .path
        .iter()
        .map(|s| json!({ "op": s.op, "key": s.key, "index": s.index }))
        .collect();
    let mut v = json!({ "path": path, "op": q.op });
    if let Some(k) = &q.key {
        v["key"] = json!(k);
    }
    v
}

/// `getConfig(key)` path step.
pub fn cfg(key: &str) -> Step {
    Step {
        op: "getConfig",
        key: key.to_string(),
        index: 0,
    }
}

/// `getOptionalConfig(key)` path step.
pub fn ocfg(key: &str) -> Step {
    Step {
        op: "getOptionalConfig",
        key: key.to_string(),
        index: 0,
    }
}

/// `getConfigArray(key)[index]` path step.
pub fn arr(key: &str, index: usize) -> Step {
    Step {
        op: "getConfigArray",
        key: key.to_string(),
        index,
    }
}

/// `getOptionalConfigArray(key)[index]` path step.
pub fn oarr(key: &str, index: usize) -> Step {
    Step {
        op: "getOptionalConfigArray",
        key: key.to_string(),
        index,
    }
}

/// Every reader getter, required and optional forms, plus `has`.
pub const ALL_GETTERS: &[&str] = &[
    "get",
    "getOptional",
    "getString",
    "getOptionalString",
    "getNumber",
    "getOptionalNumber",
    "getBoolean",
    "getOptionalBoolean",
    "getStringArray",
    "getOptionalStringArray",
    "getConfig",
    "getOptionalConfig",
    "getConfigArray",
    "getOptionalConfigArray",
    "has",
];

/// Numbers the cases per category and adds the queries every case gets: the whole merged
/// config and the root keys.
pub fn finish(mut cases: Vec<Case>) -> Vec<Case> {
    let mut counters: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &mut cases {
        let n = counters.entry(case.cat).or_default();
        *n += 1;
        case.id = format!("{}/{:03}", case.cat, n);
        case.queries.push(Query {
            path: Vec::new(),
            op: "getOptional",
            key: None,
        });
        case.queries.push(Query {
            path: Vec::new(),
            op: "keys",
            key: None,
        });
    }
    cases
}
