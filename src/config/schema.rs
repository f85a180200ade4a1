//! JSON Schemas of `dq.yaml` and of rule files, for editors (the YAML language server) and
//! CI. They are generated from the structs dq deserialises and from the rule registry, so
//! they cannot drift from what dq accepts; `schema/` holds the generated files and a test
//! keeps them current.

use serde_json::{Map, Value, json};

use crate::rules::{Placement, REGISTRY};

/// The schema of `dq.yaml`.
pub fn project() -> Value {
    let mut s = serde_json::to_value(schemars::schema_for!(super::project::ProjectFile))
        .unwrap_or_default();
    s["title"] = json!("dq project file (dq.yaml)");
    s["$id"] = json!("https://dq.dev/schema/dq.schema.json");
    s
}

/// Moves a generated schema's `$defs` into `defs` (prefixed by `prefix`) and rewrites its
/// references, so many schemas can share one document.
fn hoist(mut schema: Value, prefix: &str, defs: &mut Map<String, Value>) -> Value {
    fn walk(v: &mut Value, prefix: &str, defs: &mut Map<String, Value>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get_mut("$ref") {
                    if let Some(name) = r.strip_prefix("#/$defs/") {
                        *r = format!("#/$defs/{prefix}{name}");
                    }
                }
                if let Some(Value::Object(own)) = m.remove("$defs") {
                    for (k, mut d) in own {
                        walk(&mut d, prefix, defs);
                        defs.insert(format!("{prefix}{k}"), d);
                    }
                }
                m.remove("$schema");
                for x in m.values_mut() {
                    walk(x, prefix, defs);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, prefix, defs)),
            _ => {}
        }
    }
    walk(&mut schema, prefix, defs);
    if let Some(m) = schema.as_object_mut() {
        m.remove("title");
    }
    schema
}

/// The keys every check accepts, and the failing-row thresholds of row-level kinds.
fn common_properties(row_level: bool) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("name".into(), json!({ "type": "string", "description": "The check's name in reports (default: derived from the kind and its columns)." }));
    p.insert("severity".into(), json!({ "enum": ["error", "warn"], "description": "error (default) fails the run; warn is reported only." }));
    p.insert("where".into(), json!({ "type": "string", "description": "A SQL filter: the check applies to these rows only." }));
    p.insert("description".into(), json!({ "type": "string" }));
    if row_level {
        p.insert(
            "max_failed".into(),
            json!({ "type": "integer", "minimum": 0, "description": "Failing rows allowed." }),
        );
        p.insert("max_failed_fraction".into(), json!({ "type": "number", "minimum": 0, "maximum": 1, "description": "Failing fraction of the rows checked allowed." }));
    }
    p
}

/// Adds the common keys to a kind's parameter schema. A kind whose schema is a choice of
/// shapes (`oneOf`/`anyOf`) gets them in every shape.
fn with_common(mut params: Value, row_level: bool) -> Value {
    let common = common_properties(row_level);
    fn add(v: &mut Value, common: &Map<String, Value>) {
        let Some(m) = v.as_object_mut() else { return };
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(shapes)) = m.get_mut(key) {
                for s in shapes {
                    add(s, common);
                }
                return;
            }
        }
        if m.get("type") == Some(&json!("object")) || m.contains_key("properties") {
            if let Value::Object(props) = m.entry("properties").or_insert_with(|| json!({})) {
                for (k, v) in common {
                    props.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    add(&mut params, &common);
    params
}

/// The schema of a rules file (`rules/*.yaml`): a layer, its datasets and their checks,
/// reconciliations, and streams.
pub fn rules() -> Value {
    let mut defs = Map::new();
    let mut checks = Vec::new();
    for kind in REGISTRY
        .iter()
        .filter(|k| k.placement == Placement::Dataset)
    {
        let params = hoist((kind.schema)(), &format!("{}_", kind.name), &mut defs);
        let params = with_common(params, kind.row_level);
        checks.push(json!({
            "type": "object",
            "description": kind.summary(),
            "properties": { kind.name: params },
            "required": [kind.name],
            "additionalProperties": false,
        }));
    }
    let reconciliation = REGISTRY
        .iter()
        .find(|k| k.placement == Placement::Reconciliation)
        .map(|k| hoist((k.schema)(), "reconciliation_", &mut defs))
        .unwrap_or(json!({}));
    let reconciliation = with_common(reconciliation, false);
    let stream = hoist(super::streams::json_schema(), "stream_", &mut defs);
    defs.insert("check".into(), json!({ "oneOf": checks }));
    let dataset = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name"],
        "properties": {
            "name": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "path": { "type": "string", "description": "Relative to the lake root, or a full URL (default: layer/name)." },
            "format": { "enum": ["parquet", "delta"], "default": "parquet" },
            "snapshot": {
                "type": "object", "additionalProperties": false,
                "properties": { "version": { "type": "integer", "minimum": 0 }, "timestamp": { "type": "string" } }
            },
            "partitioning": {
                "type": "array",
                "items": { "oneOf": [
                    { "type": "string" },
                    { "type": "object", "additionalProperties": false, "required": ["name", "type"],
                      "properties": { "name": { "type": "string" }, "type": { "enum": ["string", "utf8", "date", "int", "int32", "int64", "bigint"] } } }
                ] }
            },
            "scope": { "type": "string", "description": "A SQL filter over partition columns: only these rows are validated." },
            "description": { "type": "string" },
            "checks": { "type": "array", "items": { "$ref": "#/$defs/check" } }
        }
    });
    defs.insert("dataset".into(), dataset);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://dq.dev/schema/rules.schema.json",
        "title": "dq rules file (rules/*.yaml)",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "layer": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "description": { "type": "string" },
            "datasets": { "type": "array", "items": { "$ref": "#/$defs/dataset" } },
            "reconciliations": { "type": "array", "items": reconciliation },
            "streams": { "type": "array", "items": stream },
        },
        "$defs": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dataset_kind_is_a_choice() {
        let s = rules();
        let n = s["$defs"]["check"]["oneOf"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
        let kinds = REGISTRY
            .iter()
            .filter(|k| k.placement == Placement::Dataset)
            .count();
        assert_eq!(n, kinds);
    }
}
