//! Evaluates compiled schemas in Ajv's keyword order, with Ajv's English messages.

use serde_json::Value;

use super::SchemaError;
use serde_json::Map;

use super::compile::{Additional, Items, Node};

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

pub(crate) struct Evaluator<'n, 'v> {
    nodes: &'n [Node],
    /// Collect every error (Ajv's `allErrors`) or stop at the first.
    all: bool,
    path: Vec<Seg<'v>>,
    pub(crate) errors: Vec<SchemaError>,
}

impl<'n, 'v> Evaluator<'n, 'v> {
    pub(crate) fn new(nodes: &'n [Node], all: bool) -> Self {
        Self {
            nodes,
            all,
            path: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn stop(&self) -> bool {
        !self.all && !self.errors.is_empty()
    }

    fn pointer(&self) -> String {
        let mut s = String::new();
        for seg in &self.path {
            s.push('/');
            match seg {
                Seg::Key(k) => s.push_str(&super::compile::escape(k)),
                Seg::Index(i) => s.push_str(&i.to_string()),
            }
        }
        s
    }

    fn error(
        &mut self,
        keyword: &'static str,
        message: String,
        params: Vec<(&'static str, String)>,
    ) {
        self.errors.push(SchemaError {
            path: self.pointer(),
            keyword,
            message,
            params,
        });
    }

    /// Validates `v` against node `idx`. Returns true when no error was added.
    pub(crate) fn validate(&mut self, idx: usize, v: &'v Value) -> bool {
        let before = self.errors.len();
        self.run(idx, v);
        self.errors.len() == before
    }

    /// Runs a subschema whose errors are discarded (anyOf/oneOf/not/if); returns validity.
    fn probe(&mut self, idx: usize, v: &'v Value) -> (bool, Vec<SchemaError>) {
        let saved = std::mem::take(&mut self.errors);
        let ok = self.validate(idx, v);
        let branch = std::mem::replace(&mut self.errors, saved);
        (ok, branch)
    }

    fn run(&mut self, idx: usize, v: &'v Value) {
        let nodes = self.nodes;
        let node = &nodes[idx];
        if node.always_false {
            self.error("false schema", "boolean schema is false".into(), vec![]);
            return;
        }
        if let Some(r) = node.reference {
            self.run(r, v);
            if self.stop() {
                return;
            }
        }
        let type_ok = node.types.is_empty() || node.types.iter().any(|t| t.matches(v));
        if node.type_upfront && !type_ok {
            self.type_error(node);
            if self.stop() {
                return;
            }
        }
        self.untyped(node, v);
        if self.stop() {
            return;
        }
        let single_typed = !node.type_upfront && node.types.len() == 1;
        match v {
            Value::Number(n) => {
                if let Some(f) = n.as_f64() {
                    self.number(node, f);
                }
            }
            Value::String(s) => self.string(node, s),
            Value::Array(a) => self.array(node, a),
            Value::Object(_) => self.object(node, v),
            _ => {}
        }
        if self.stop() {
            return;
        }
        // A single type with keywords of that type reports its mismatch in that type's group,
        // i.e. after the untyped keywords.
        if single_typed && !type_ok {
            self.type_error(node);
        }
    }

    fn type_error(&mut self, node: &Node) {
        self.error(
            "type",
            format!("must be {}", node.type_text),
            vec![("type", node.type_text.clone())],
        );
    }

    fn untyped(&mut self, node: &Node, v: &'v Value) {
        if let Some(c) = &node.constant
            && !json_equal(c, v)
        {
            self.error(
                "const",
                "must be equal to constant".into(),
                vec![("allowedValue", js_string(c))],
            );
            if self.stop() {
                return;
            }
        }
        if let Some(list) = &node.enumeration
            && !list.iter().any(|e| json_equal(e, v))
        {
            self.error(
                "enum",
                "must be equal to one of the allowed values".into(),
                vec![("allowedValues", js_string(&Value::Array(list.clone())))],
            );
            if self.stop() {
                return;
            }
        }
        if let Some(n) = node.not {
            let (ok, _) = self.probe(n, v);
            if ok {
                self.error("not", "must NOT be valid".into(), vec![]);
                if self.stop() {
                    return;
                }
            }
        }
        if !node.any_of.is_empty() {
            let mut collected = Vec::new();
            let mut passed = false;
            for &branch in &node.any_of {
                let (ok, errs) = self.probe(branch, v);
                if ok {
                    passed = true;
                    break;
                }
                collected.extend(errs);
            }
            if !passed {
                self.errors.extend(collected);
                self.error("anyOf", "must match a schema in anyOf".into(), vec![]);
                if self.stop() {
                    return;
                }
            }
        }
        if !node.one_of.is_empty() {
            let mut collected = Vec::new();
            let mut passing = Vec::new();
            for (i, &branch) in node.one_of.iter().enumerate() {
                let (ok, errs) = self.probe(branch, v);
                if ok {
                    passing.push(i);
                    if passing.len() > 1 {
                        break;
                    }
                } else {
                    collected.extend(errs);
                }
            }
            if passing.len() != 1 {
                self.errors.extend(collected);
                let text = if passing.is_empty() {
                    "null".to_owned()
                } else {
                    passing
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                };
                self.error(
                    "oneOf",
                    "must match exactly one schema in oneOf".into(),
                    vec![("passingSchemas", text)],
                );
                if self.stop() {
                    return;
                }
            }
        }
        for &branch in &node.all_of {
            self.run(branch, v);
            if self.stop() {
                return;
            }
        }
        if let Some((cond, then, otherwise)) = node.if_then_else {
            let (ok, _) = self.probe(cond, v);
            let (target, word) = if ok {
                (then, "then")
            } else {
                (otherwise, "else")
            };
            if let Some(t) = target
                && !self.validate(t, v)
            {
                self.error(
                    "if",
                    format!("must match \"{word}\" schema"),
                    vec![("failingKeyword", word.to_owned())],
                );
            }
        }
    }

    fn number(&mut self, node: &Node, f: f64) {
        let checks = [
            (
                node.maximum,
                "<=",
                f <= node.maximum.unwrap_or(f64::INFINITY),
                "maximum",
            ),
            (
                node.minimum,
                ">=",
                f >= node.minimum.unwrap_or(f64::NEG_INFINITY),
                "minimum",
            ),
            (
                node.exclusive_maximum,
                "<",
                node.exclusive_maximum.is_none_or(|m| f < m),
                "exclusiveMaximum",
            ),
            (
                node.exclusive_minimum,
                ">",
                node.exclusive_minimum.is_none_or(|m| f > m),
                "exclusiveMinimum",
            ),
        ];
        for (limit, cmp, ok, keyword) in checks {
            if let Some(limit) = limit
                && !ok
            {
                let l = js_string(&Value::from(limit));
                self.error(
                    keyword,
                    format!("must be {cmp} {l}"),
                    vec![("comparison", cmp.into()), ("limit", l)],
                );
                if self.stop() {
                    return;
                }
            }
        }
    }

    fn string(&mut self, node: &Node, s: &str) {
        if node.max_length.is_none() && node.min_length.is_none() && node.pattern.is_none() {
            return;
        }
        let len = s.chars().count() as u64;
        if let Some(max) = node.max_length
            && len > max
        {
            self.error(
                "maxLength",
                format!("must NOT have more than {max} characters"),
                vec![("limit", max.to_string())],
            );
            if self.stop() {
                return;
            }
        }
        if let Some(min) = node.min_length
            && len < min
        {
            self.error(
                "minLength",
                format!("must NOT have fewer than {min} characters"),
                vec![("limit", min.to_string())],
            );
            if self.stop() {
                return;
            }
        }
        if let Some(p) = &node.pattern
            && !p.matches(s)
        {
            self.error(
                "pattern",
                format!("must match pattern \"{}\"", p.source),
                vec![("pattern", p.source.clone())],
            );
        }
    }

    fn array(&mut self, node: &Node, a: &'v [Value]) {
        let len = a.len() as u64;
        if let Some(max) = node.max_items
            && len > max
        {
            self.error(
                "maxItems",
                format!("must NOT have more than {max} items"),
                vec![("limit", max.to_string())],
            );
            if self.stop() {
                return;
            }
        }
        if let Some(min) = node.min_items
            && len < min
        {
            self.error(
                "minItems",
                format!("must NOT have fewer than {min} items"),
                vec![("limit", min.to_string())],
            );
            if self.stop() {
                return;
            }
        }
        if node.unique_items {
            'outer: for i in (0..a.len()).rev() {
                for j in (0..i).rev() {
                    if json_equal(&a[i], &a[j]) {
                        self.error(
                            "uniqueItems",
                            format!(
                                "must NOT have duplicate items (items ## {j} and {i} are identical)"
                            ),
                            vec![("i", i.to_string()), ("j", j.to_string())],
                        );
                        break 'outer;
                    }
                }
            }
            if self.stop() {
                return;
            }
        }
        match &node.items {
            Items::None => {}
            Items::All(item) => {
                for (i, el) in a.iter().enumerate() {
                    self.path.push(Seg::Index(i));
                    self.run(*item, el);
                    self.path.pop();
                    if self.stop() {
                        return;
                    }
                }
            }
            Items::Tuple(list) => {
                for (i, (el, item)) in a.iter().zip(list).enumerate() {
                    self.path.push(Seg::Index(i));
                    self.run(*item, el);
                    self.path.pop();
                    if self.stop() {
                        return;
                    }
                }
                match node.additional_items {
                    Additional::Allowed => {}
                    Additional::Forbidden if a.len() > list.len() => {
                        let n = list.len();
                        self.error(
                            "additionalItems",
                            format!("must NOT have more than {n} items"),
                            vec![("limit", n.to_string())],
                        );
                    }
                    Additional::Forbidden => {}
                    Additional::Schema(extra) => {
                        for (i, el) in a.iter().enumerate().skip(list.len()) {
                            self.path.push(Seg::Index(i));
                            self.run(extra, el);
                            self.path.pop();
                            if self.stop() {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }

    fn object(&mut self, node: &Node, v: &'v Value) {
        let Value::Object(map) = v else { return };
        let len = map.len() as u64;
        if let Some(max) = node.max_properties
            && len > max
        {
            self.error(
                "maxProperties",
                format!("must NOT have more than {max} properties"),
                vec![("limit", max.to_string())],
            );
            if self.stop() {
                return;
            }
        }
        if let Some(min) = node.min_properties
            && len < min
        {
            self.error(
                "minProperties",
                format!("must NOT have fewer than {min} properties"),
                vec![("limit", min.to_string())],
            );
            if self.stop() {
                return;
            }
        }
        for p in &node.required {
            if !map.contains_key(p) {
                self.error(
                    "required",
                    format!("must have required property '{p}'"),
                    vec![("missingProperty", p.clone())],
                );
                if self.stop() {
                    return;
                }
            }
        }
        match node.additional {
            Additional::Allowed => {}
            Additional::Forbidden | Additional::Schema(_) => {
                for (key, child) in crate::js::ordered(map) {
                    let declared = node.properties.iter().any(|(p, _)| p == key)
                        || node.pattern_properties.iter().any(|(p, _)| p.matches(key));
                    if declared {
                        continue;
                    }
                    match node.additional {
                        Additional::Schema(extra) => {
                            self.path.push(Seg::Key(key));
                            self.run(extra, child);
                            self.path.pop();
                        }
                        _ => self.error(
                            "additionalProperties",
                            "must NOT have additional properties".into(),
                            vec![("additionalProperty", key.clone())],
                        ),
                    }
                    if self.stop() {
                        return;
                    }
                }
            }
        }
        for (name, child) in &node.properties {
            if let Some((key, value)) = map.get_key_value(name) {
                self.path.push(Seg::Key(key));
                self.run(*child, value);
                self.path.pop();
                if self.stop() {
                    return;
                }
            }
        }
        for (p, child) in &node.pattern_properties {
            for (key, value) in crate::js::ordered(map) {
                if p.matches(key) {
                    self.path.push(Seg::Key(key));
                    self.run(*child, value);
                    self.path.pop();
                    if self.stop() {
                        return;
                    }
                }
            }
        }
    }
}

/// Deep equality with JavaScript number semantics (`1` equals `1.0`).
pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

pub(crate) use crate::js::string as js_string;

/// Validity only: no paths, no messages, keywords in any order. Used before the ordered
/// evaluator, which runs only when this says the value is invalid.
pub(crate) fn fast_valid(nodes: &[Node], idx: usize, v: &Value) -> bool {
    let node = &nodes[idx];
    if let Some(simple) = node.simple {
        return simple.check(v);
    }
    if node.always_false {
        return false;
    }
    if let Some(r) = node.reference
        && !fast_valid(nodes, r, v)
    {
        return false;
    }
    if !node.types.is_empty() && !node.types.iter().any(|t| t.matches(v)) {
        return false;
    }
    if let Some(c) = &node.constant
        && !json_equal(c, v)
    {
        return false;
    }
    if let Some(list) = &node.enumeration
        && !list.iter().any(|e| json_equal(e, v))
    {
        return false;
    }
    if let Some(n) = node.not
        && fast_valid(nodes, n, v)
    {
        return false;
    }
    if !node.any_of.is_empty() && !node.any_of.iter().any(|&b| fast_valid(nodes, b, v)) {
        return false;
    }
    if !node.one_of.is_empty()
        && node
            .one_of
            .iter()
            .filter(|&&b| fast_valid(nodes, b, v))
            .take(2)
            .count()
            != 1
    {
        return false;
    }
    if !node.all_of.iter().all(|&b| fast_valid(nodes, b, v)) {
        return false;
    }
    if let Some((cond, then, otherwise)) = node.if_then_else {
        let target = if fast_valid(nodes, cond, v) {
            then
        } else {
            otherwise
        };
        if let Some(t) = target
            && !fast_valid(nodes, t, v)
        {
            return false;
        }
    }
    match v {
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            node.maximum.is_none_or(|m| f <= m)
                && node.minimum.is_none_or(|m| f >= m)
                && node.exclusive_maximum.is_none_or(|m| f < m)
                && node.exclusive_minimum.is_none_or(|m| f > m)
        }
        Value::String(s) => fast_string(node, s),
        Value::Array(a) => fast_array(nodes, node, a),
        Value::Object(map) => fast_object(nodes, node, map),
        _ => true,
    }
}

fn fast_string(node: &Node, s: &str) -> bool {
    // Byte length bounds character count: len/4 <= chars <= len.
    if let Some(min) = node.min_length {
        let min = usize::try_from(min).unwrap_or(usize::MAX);
        if s.len() < min || (s.len() / 4 < min && s.chars().count() < min) {
            return false;
        }
    }
    if let Some(max) = node.max_length {
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        if s.len() > max && s.chars().count() > max {
            return false;
        }
    }
    node.pattern.as_ref().is_none_or(|p| p.matches(s))
}

fn fast_array(nodes: &[Node], node: &Node, a: &[Value]) -> bool {
    let len = a.len() as u64;
    if node.max_items.is_some_and(|m| len > m) || node.min_items.is_some_and(|m| len < m) {
        return false;
    }
    if node.unique_items {
        for i in 0..a.len() {
            if a[..i].iter().any(|prev| json_equal(prev, &a[i])) {
                return false;
            }
        }
    }
    match &node.items {
        Items::None => true,
        Items::All(item) => a.iter().all(|el| fast_valid(nodes, *item, el)),
        Items::Tuple(list) => {
            a.iter()
                .zip(list)
                .all(|(el, item)| fast_valid(nodes, *item, el))
                && match node.additional_items {
                    Additional::Allowed => true,
                    Additional::Forbidden => a.len() <= list.len(),
                    Additional::Schema(extra) => a
                        .iter()
                        .skip(list.len())
                        .all(|el| fast_valid(nodes, extra, el)),
                }
        }
    }
}

fn has_key(map: &Map<String, Value>, key: &str) -> bool {
    if map.len() <= 16 {
        map.keys().any(|k| crate::js::key_eq(k, key))
    } else {
        map.contains_key(key)
    }
}

fn fast_object(nodes: &[Node], node: &Node, map: &Map<String, Value>) -> bool {
    let len = map.len() as u64;
    if node.max_properties.is_some_and(|m| len > m) || node.min_properties.is_some_and(|m| len < m)
    {
        return false;
    }
    if !node.required.iter().all(|r| has_key(map, r)) {
        return false;
    }
    if node.properties.is_empty()
        && node.pattern_properties.is_empty()
        && matches!(node.additional, Additional::Allowed)
    {
        return true;
    }
    for (key, child) in map {
        let mut declared = false;
        if let Some((_, idx)) = node
            .properties
            .iter()
            .find(|(name, _)| crate::js::key_eq(name, key))
        {
            declared = true;
            if !fast_valid(nodes, *idx, child) {
                return false;
            }
        }
        for (p, idx) in &node.pattern_properties {
            if p.matches(key) {
                declared = true;
                if !fast_valid(nodes, *idx, child) {
                    return false;
                }
            }
        }
        if !declared {
            match node.additional {
                Additional::Allowed => {}
                Additional::Forbidden => return false,
                Additional::Schema(extra) => {
                    if !fast_valid(nodes, extra, child) {
                        return false;
                    }
                }
            }
        }
    }
    true
}
