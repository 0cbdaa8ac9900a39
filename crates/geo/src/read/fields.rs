//! Attribute mapping: which properties of a feature hold its code, name and INSEE commune
//! codes — the field given in [`ReadOptions`](super::ReadOptions), else the first present
//! of the 2024 and 2015 QPV names and common generic ones.

use super::feature::Ctx;
use crate::perimeter::is_insee_code;
use serde_json::{Map, Value};

impl Ctx<'_> {
    /// Code of a feature (see [`ReadOptions::code_field`](super::ReadOptions::code_field));
    /// the French rejection message when it is absent.
    pub(super) fn code(&self, props: &Map<String, Value>) -> Result<String, String> {
        const AUTO: [&str; 7] = [
            "code_qp",
            "CODE_QP",
            "code_quartier",
            "code",
            "CODE",
            "id",
            "ID",
        ];
        let fields: Vec<&str> = match &self.opts.code_field {
            Some(f) => vec![f.as_str()],
            None => AUTO.to_vec(),
        };
        for f in &fields {
            if let Some(v) = props.get(*f).and_then(value_to_string) {
                return Ok(v);
            }
        }
        Err(format!(
            "code absent : aucune des propriétés {} n'est renseignée",
            fields
                .iter()
                .map(|f| format!("« {f} »"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// Name of a feature (see [`ReadOptions::name_field`](super::ReadOptions::name_field)).
    pub(super) fn name(&self, props: &Map<String, Value>) -> Option<String> {
        const AUTO: [&str; 9] = [
            "lib_qp", "NOM_QP", "nom_qp", "LIB_QP", "nom", "NOM", "name", "libelle", "LIBELLE",
        ];
        match &self.opts.name_field {
            Some(f) => props.get(f).and_then(value_to_string),
            None => AUTO
                .iter()
                .find_map(|f| props.get(*f).and_then(value_to_string)),
        }
    }

    /// INSEE commune codes of a feature (see
    /// [`ReadOptions::communes_field`](super::ReadOptions::communes_field)).
    pub(super) fn communes(&self, props: &Map<String, Value>) -> Vec<String> {
        const AUTO: [&str; 5] = [
            "insee_com",
            "INSEE_COM",
            "code_commune",
            "CODE_COMMUNE",
            "codes_insee",
        ];
        let v = match &self.opts.communes_field {
            Some(f) => props.get(f),
            None => AUTO.iter().find_map(|f| props.get(*f)),
        };
        let mut out: Vec<String> = Vec::new();
        let mut push = |s: &str| {
            for part in s.split([',', ';', '|']) {
                let p = part.trim();
                if is_insee_code(p) && !out.iter().any(|o| o == p) {
                    out.push(p.to_ascii_uppercase());
                }
            }
        };
        match v {
            Some(Value::String(s)) => push(s),
            Some(Value::Array(a)) => {
                for x in a {
                    if let Some(s) = value_to_string(x) {
                        push(&s)
                    }
                }
            }
            Some(Value::Number(n)) => push(&format!("{n:0>5}")),
            _ => {}
        }
        out
    }
}

fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
