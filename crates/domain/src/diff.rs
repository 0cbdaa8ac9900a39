//! What changed between two versions of a contract document.
//!
//! Both documents are flattened into `(element, field) → value` pairs, where framework
//! nodes and axes are identified by their key (so a renamed ambition shows as a change of
//! title, not as a removal plus an addition) and other lists by position.

use crate::contract::ContractDocument;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One difference between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Change {
    /// The element (e.g. `framework/e1-a3`, `components[0]`).
    pub element: String,
    /// The field within it (`title`, `partners`...).
    pub field: String,
    /// Value before, absent when the element was added.
    pub before: Option<String>,
    /// Value after, absent when the element was removed.
    pub after: Option<String>,
}

fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(render).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn flatten_object(
    prefix: &str,
    obj: &serde_json::Map<String, Value>,
    out: &mut BTreeMap<(String, String), String>,
) {
    for (field, v) in obj {
        match (field.as_str(), v) {
            ("children", Value::Array(children)) => flatten_nodes(children, out),
            (_, Value::Array(items)) if items.iter().all(Value::is_object) && !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let ident = match item.get("key").and_then(Value::as_str) {
                        Some(k) => format!("{prefix}{field}/{k}"),
                        None => format!("{prefix}{field}[{i}]"),
                    };
                    if let Value::Object(o) = item {
                        flatten_object(&format!("{ident}."), o, out);
                    }
                }
            }
            (_, Value::Object(o)) => flatten_object(&format!("{prefix}{field}."), o, out),
            _ => {
                let element = prefix.trim_end_matches('.').to_string();
                out.insert((element, field.clone()), render(v));
            }
        }
    }
}

fn flatten_nodes(nodes: &[Value], out: &mut BTreeMap<(String, String), String>) {
    for n in nodes {
        if let Value::Object(o) = n {
            let key = o.get("key").and_then(Value::as_str).unwrap_or("?");
            flatten_object(&format!("framework/{key}."), o, out);
        }
    }
}

fn flatten(doc: &ContractDocument) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let v = serde_json::to_value(&doc.contract).expect("documents serialize");
    if let Value::Object(o) = v {
        for (field, value) in &o {
            if field == "framework" {
                if let Value::Array(nodes) = value {
                    flatten_nodes(nodes, &mut out);
                }
            } else {
                let mut single = serde_json::Map::new();
                single.insert(field.clone(), value.clone());
                flatten_object("", &single, &mut out);
            }
        }
    }
    out
}

/// The changes from `before` to `after` (either may be absent: creation or deletion).
pub fn diff(before: Option<&ContractDocument>, after: Option<&ContractDocument>) -> Vec<Change> {
    let a = before.map(flatten).unwrap_or_default();
    let b = after.map(flatten).unwrap_or_default();
    let mut changes = Vec::new();
    let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            changes.push(Change {
                element: k.0.clone(),
                field: k.1.clone(),
                before: x.cloned(),
                after: y.cloned(),
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> ContractDocument {
        ContractDocument::from_json(
            r#"{"format":"quartiers-contrat","version":1,"contract":{"slug":"tt","name":"T",
            "territory":{"pilot_name":"Agglo"},"period":{"start_year":2024,"end_year":2030},
            "levels":[{"singular":"enjeu","plural":"enjeux"}],
            "framework":[{"key":"e1","title":"Emploi","children":[{"key":"a1","title":"Mobilité"}]},{"key":"e2","title":"Santé"}]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn renamed_node_is_a_title_change() {
        let a = doc();
        let mut b = doc();
        b.contract.framework[0].children[0].title = "Mobilité pour tous".into();
        let changes = diff(Some(&a), Some(&b));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].element, "framework/a1");
        assert_eq!(changes[0].field, "title");
        assert_eq!(changes[0].before.as_deref(), Some("Mobilité"));
        assert_eq!(changes[0].after.as_deref(), Some("Mobilité pour tous"));
    }

    #[test]
    fn removed_node_and_identical_docs() {
        let a = doc();
        assert!(diff(Some(&a), Some(&a)).is_empty());
        let mut b = doc();
        b.contract.framework.pop();
        let changes = diff(Some(&a), Some(&b));
        assert!(changes
            .iter()
            .all(|c| c.element == "framework/e2" && c.after.is_none()));
        assert!(!changes.is_empty());
    }
}
