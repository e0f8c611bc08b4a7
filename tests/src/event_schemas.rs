//! The JSON Schemas of `docs/events.md`: one for the fields every event carries, and one per
//! detail type for its own. An event's detail must match both, with no field that neither names
//! (`unevaluatedProperties: false` over the two), so what the product publishes and what the
//! documentation promises cannot drift apart.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wxcomponent::events::DetailType;

/// The documentation the schemas are read from.
pub const EVENTS_MD: &str = include_str!("../../docs/events.md");

const HEADING: &str = "#### Schema: ";

/// Every schema of the documentation by name (`common`, or a detail type), as written.
pub fn documented() -> BTreeMap<String, Value> {
    let mut schemas = BTreeMap::new();
    let mut lines = EVENTS_MD.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix(HEADING) else {
            continue;
        };
        let name = name.trim().trim_matches('`').to_owned();
        let opening = lines.by_ref().find(|l| !l.trim().is_empty());
        assert_eq!(
            opening,
            Some("```json"),
            "the schema of {name} opens a json block"
        );
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let schema: Value = serde_json::from_str(&body.join("\n"))
            .unwrap_or_else(|e| panic!("the schema of {name} is not JSON: {e}"));
        assert!(
            schemas.insert(name.clone(), schema).is_none(),
            "{name} has two schemas"
        );
    }
    schemas
}

/// The whole schema of `detail_type`: the common one and its own, nothing else.
pub fn schema_of(detail_type: &str) -> Value {
    let mut documented = documented();
    let common = documented.remove("common").expect("a common schema");
    let own = documented
        .remove(detail_type)
        .unwrap_or_else(|| panic!("no schema documented for {detail_type}"));
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [common, own],
        "unevaluatedProperties": false,
    })
}

/// Panics, naming every mismatch, unless `detail` matches the documented schema of
/// `detail_type`.
pub fn assert_documented(detail_type: &str, detail: &Value) {
    assert!(
        DetailType::parse(detail_type).is_some(),
        "{detail_type} is no detail type"
    );
    let schema = schema_of(detail_type);
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("the schema of {detail_type} does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(detail)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{detail_type} does not match docs/events.md: {errors:?}\n{detail:#}"
    );
}
