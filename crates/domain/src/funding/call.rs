//! A call for projects (appel à projets): one per contract and year, with its opening and
//! closing dates, its framing note, the financers taking part and their envelopes per
//! component, and the standing documents it requires.

use crate::contract::parse_date;
use crate::money::Cents;
use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};
use time::Date;

/// The kinds of standing documents an organisation keeps and a call may require.
pub const DOCUMENT_KINDS: &[(&str, &str)] = &[
    ("statuts", "Statuts"),
    ("rib", "Relevé d'identité bancaire"),
    ("comptes", "Derniers comptes approuvés"),
    ("dirigeants", "Liste des dirigeants"),
    ("rapport_activite", "Dernier rapport d'activité"),
];

/// The French label of a document kind.
pub fn document_label(kind: &str) -> &str {
    DOCUMENT_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, l)| *l)
        .unwrap_or(kind)
}

/// The settings of a call, as typed by the pilot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallSettings {
    /// Year of the programme.
    pub year: i32,
    /// Title (« Appel à projets 2026 du contrat de ville »).
    pub title: String,
    /// First day submissions are accepted (AAAA-MM-JJ).
    pub opens_on: String,
    /// Last day submissions are accepted (AAAA-MM-JJ).
    pub closes_on: String,
    /// Framing note: priorities, eligible nodes and QPV, rules.
    #[serde(default)]
    pub framing_note: String,
    /// Instruction calendar (free text: committee dates, notification...).
    #[serde(default)]
    pub calendar: String,
    /// Kinds of standing documents required (see [`DOCUMENT_KINDS`]).
    #[serde(default)]
    pub required_documents: Vec<String>,
    /// Framework node keys declared priority (empty: the whole framework is eligible).
    #[serde(default)]
    pub priority_nodes: Vec<String>,
}

/// A financer taking part in a call, with its envelope for one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Code of the financer (`etat`, `mel`, `roubaix`...).
    pub funder: String,
    /// Component of the contract (« Contrat de ville »...).
    pub component: String,
    /// Amount available.
    #[schema(value_type = i64)]
    pub amount_cents: Cents,
}

impl CallSettings {
    /// Checks the settings; returns the parsed opening and closing dates.
    pub fn validate(&self, contract_years: (i32, i32)) -> Result<(Date, Date), ValidationErrors> {
        let mut e = ValidationErrors::new();
        if self.title.trim().is_empty() {
            e.add("title", "Donnez un titre à l'appel à projets.");
        }
        if self.year < contract_years.0 || self.year > contract_years.1 {
            e.add(
                "year",
                format!(
                    "L'année {} est hors de la période du contrat ({}–{}).",
                    self.year, contract_years.0, contract_years.1
                ),
            );
        }
        let opens = e.check("opens_on", parse_date(&self.opens_on));
        let closes = e.check("closes_on", parse_date(&self.closes_on));
        if let (Some(o), Some(c)) = (opens, closes) {
            if c < o {
                e.add(
                    "closes_on",
                    "La date de clôture est antérieure à la date d'ouverture.",
                );
            }
        }
        for d in &self.required_documents {
            if !DOCUMENT_KINDS.iter().any(|(k, _)| k == d) {
                e.add("required_documents", format!("Pièce inconnue « {d} »."));
            }
        }
        e.into_result()?;
        Ok((opens.expect("checked"), closes.expect("checked")))
    }
}

/// Why a submission is refused on `today` by the call's dates (French), or `None`.
pub fn closed_reason(opens_on: Date, closes_on: Date, today: Date) -> Option<String> {
    if today < opens_on {
        Some(format!(
            "L'appel à projets n'est pas encore ouvert : les dépôts commencent le {}.",
            crate::french::french_date(&opens_on.to_string())
        ))
    } else if today > closes_on {
        Some(format!(
            "L'appel à projets est clos depuis le {} : le dossier ne peut plus être déposé.",
            crate::french::french_date(&closes_on.to_string())
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CallSettings {
        CallSettings {
            year: 2026,
            title: "Appel à projets 2026".into(),
            opens_on: "2025-09-01".into(),
            closes_on: "2025-10-31".into(),
            required_documents: vec!["statuts".into(), "rib".into()],
            ..Default::default()
        }
    }

    #[test]
    fn valid_settings_give_dates() {
        let (o, c) = settings().validate((2024, 2030)).unwrap();
        assert!(o < c);
    }

    #[test]
    fn closing_before_opening_and_year_out_of_contract_are_refused() {
        let s = CallSettings {
            year: 2035,
            closes_on: "2025-08-01".into(),
            required_documents: vec!["photo".into()],
            ..settings()
        };
        let e = s.validate((2024, 2030)).unwrap_err();
        assert!(e.for_field("year").is_some());
        assert!(e.for_field("closes_on").unwrap().contains("antérieure"));
        assert!(e.for_field("required_documents").is_some());
    }

    #[test]
    fn submission_window() {
        let (o, c) = settings().validate((2024, 2030)).unwrap();
        assert!(closed_reason(o, c, c).is_none(), "last day still open");
        assert!(closed_reason(o, c, c.next_day().unwrap())
            .unwrap()
            .contains("clos depuis le 31 octobre 2025"));
        assert!(closed_reason(o, c, o.previous_day().unwrap())
            .unwrap()
            .contains("pas encore ouvert"));
    }
}
