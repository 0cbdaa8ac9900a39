//! The contract document: the versioned import/export format of a contrat de ville, and the
//! snapshot kept with every amendment (so the framework can be shown as it stood at any date).
//!
//! Unknown values are `None` (absent from the file): the platform shows them as
//! "non renseigné" rather than inventing them. See `docs/contract-format.md`.

use crate::ids::{InseeCode, QpvCode, Siren};
use crate::money::Cents;
use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};
use time::Date;

/// The `format` marker of a contract document.
pub const FORMAT_NAME: &str = "quartiers-contrat";
/// The current version of the contract document format.
pub const FORMAT_VERSION: u32 = 1;

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// Optional ISO dates (`2024-05-07`) in the document.
pub mod opt_date {
    use super::iso_date;
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    /// Serializes an optional date as `YYYY-MM-DD`.
    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => iso_date::serialize(d, s),
            None => s.serialize_none(),
        }
    }
    /// Deserializes an optional `YYYY-MM-DD` date.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "iso_date")] Date);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

/// Parses a `YYYY-MM-DD` date with a French message.
pub fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(
        s.trim(),
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| {
        format!(
            "« {} » n'est pas une date valide (format AAAA-MM-JJ).",
            s.trim()
        )
    })
}

/// A whole contract, as exchanged in files and kept in amendment snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractDocument {
    /// Always `quartiers-contrat`.
    pub format: String,
    /// Format version: 1.
    pub version: u32,
    /// The contract itself.
    pub contract: Contract,
}

/// A contrat de ville (or a fusion of several components, like the MEL's contrat de ville et des solidarités).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Stable identifier used in URLs (`mel-2024`): lowercase letters, digits and dashes.
    pub slug: String,
    /// Name of the contract.
    pub name: String,
    /// Short presentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The pilot intercommunality and its communes.
    pub territory: Territory,
    /// Signature date, when known.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_date")]
    #[schema(value_type = Option<String>, format = Date)]
    pub signed_on: Option<Date>,
    /// Period of the contract, in years.
    pub period: Period,
    /// Labels of the framework's levels, from the top (e.g. enjeu, ambition, action).
    pub levels: Vec<LevelLabel>,
    /// Components fused in the contract, each with its period and annual budget.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Signatory institutions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatories: Vec<Signatory>,
    /// The strategic framework: a tree of any depth.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub framework: Vec<FrameworkNode>,
    /// Transversal axes crossing the tree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cross_cutting_axes: Vec<CrossCuttingAxis>,
    /// Flagship actions ("zoom sur l'action").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flagship_actions: Vec<FlagshipAction>,
    /// Key figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_figures: Vec<KeyFigure>,
    /// The priority neighbourhoods (QPV) targeted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub qpvs: Vec<ContractQpv>,
    /// Urban renewal (NPRU) sites.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renewal_sites: Vec<RenewalSite>,
    /// Communes' local volets annexed to the contract.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_volets: Vec<LocalVolet>,
    /// Governance, participation, evaluation and other commitments, as text sections.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<Section>,
    /// Where the content comes from (document titles, dates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

/// The pilot intercommunality and its communes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Territory {
    /// Name of the pilot (e.g. Métropole Européenne de Lille).
    pub pilot_name: String,
    /// SIREN of the pilot, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pilot_siren: Option<Siren>,
    /// Communes of the contract.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communes: Vec<Commune>,
}

/// A commune, by INSEE code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Commune {
    /// INSEE code.
    pub insee: InseeCode,
    /// Name.
    pub name: String,
}

/// A period in whole years, both included (2024-2030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First year.
    pub start_year: i32,
    /// Last year (included).
    pub end_year: i32,
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start_year, self.end_year)
    }
}

/// How a contract names one level of its framework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelLabel {
    /// Singular (enjeu, orientation stratégique).
    pub singular: String,
    /// Plural (enjeux, orientations stratégiques).
    pub plural: String,
    /// How many the source document announces at this level, when it gives a count
    /// without listing them all (CALL: 3 orientations, 12 ambitions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_count: Option<u32>,
}

/// A component of a fused contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Name (Contrat de ville, Pacte local des solidarités).
    pub name: String,
    /// Period.
    pub period: Period,
    /// Annual budget in cents, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annual_budget_cents: Option<Cents>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A signatory institution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signatory {
    /// Institution name (État, Région Hauts-de-France...).
    pub institution: String,
    /// Who signed for it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub represented_by: Option<String>,
}

/// A node of the strategic framework (enjeu, ambition, action...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FrameworkNode {
    /// Key unique within the contract, used by references (`e1`, `e1-a3`).
    pub key: String,
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Geographic scope and horizon, where the document gives one
    /// ("À l'échelle de la MEL d'ici 2027").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Partner institutions attached to this node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<String>,
    /// Child nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub children: Vec<FrameworkNode>,
}

/// A transversal axis crossing the framework.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrossCuttingAxis {
    /// Key unique within the contract's axes.
    pub key: String,
    /// Title, when the document gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Keys of the framework nodes the axis crosses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

/// A flagship action ("zoom sur l'action").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagshipAction {
    /// Title.
    pub title: String,
    /// Carrier organisation, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Key of the framework node it illustrates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A key figure of the contract (26 QPV, 55 000 habitants...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyFigure {
    /// What is counted.
    pub label: String,
    /// The value as the document gives it (e.g. `26`, `1,7 M€`, `1 sur 5`).
    pub value: String,
    /// Year the figure refers to, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    /// Source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A QPV targeted by the contract (the national registry holds the contours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractQpv {
    /// QPV code, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<QpvCode>,
    /// Name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// INSEE codes of its communes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communes: Vec<InseeCode>,
}

/// An urban renewal (NPRU) site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewalSite {
    /// Name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// INSEE codes of its communes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communes: Vec<InseeCode>,
}

/// A commune's local volet annexed to the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalVolet {
    /// The commune.
    pub commune: InseeCode,
    /// Title.
    pub title: String,
    /// The commune's strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Date of adoption by the municipal council, when known.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_date")]
    #[schema(value_type = Option<String>, format = Date)]
    pub adopted_on: Option<Date>,
}

/// The kind of a text section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// Gouvernance.
    Governance,
    /// Participation des habitants.
    Participation,
    /// Évaluation.
    Evaluation,
    /// Concertation menée pour élaborer le contrat.
    Consultation,
    /// Observation.
    Observation,
    /// Engagements de droit commun.
    Commitments,
    /// Dispositif (Atelier Santé Ville, NPRU...).
    Programme,
    /// Autre.
    Other,
}

impl SectionKind {
    /// French label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Governance => "Gouvernance",
            Self::Participation => "Participation des habitants",
            Self::Evaluation => "Évaluation",
            Self::Consultation => "Concertation",
            Self::Observation => "Observation",
            Self::Commitments => "Engagements de droit commun",
            Self::Programme => "Dispositif",
            Self::Other => "Autre",
        }
    }
    /// All kinds, in display order.
    pub const ALL: [SectionKind; 8] = [
        Self::Governance,
        Self::Participation,
        Self::Evaluation,
        Self::Consultation,
        Self::Observation,
        Self::Commitments,
        Self::Programme,
        Self::Other,
    ];
    /// The code used in files and forms.
    pub fn code(self) -> &'static str {
        match self {
            Self::Governance => "governance",
            Self::Participation => "participation",
            Self::Evaluation => "evaluation",
            Self::Consultation => "consultation",
            Self::Observation => "observation",
            Self::Commitments => "commitments",
            Self::Programme => "programme",
            Self::Other => "other",
        }
    }
    /// Parses a code.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == s)
            .ok_or_else(|| format!("Type de section inconnu : « {s} »."))
    }
}

/// A text section: governance, participation, evaluation commitments, a programme...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Kind.
    pub kind: SectionKind,
    /// Title.
    pub title: String,
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Listed items (aims, commitments...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Figures of the section (587 participants...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub figures: Vec<KeyFigure>,
}

/// Maximum length of titles.
pub const TITLE_MAX: usize = 300;
/// Maximum length of long texts.
pub const TEXT_MAX: usize = 20_000;

/// Checks a slug: 2 to 60 lowercase letters, digits and dashes.
pub fn check_slug(slug: &str) -> Result<(), String> {
    let ok = (2..=60).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err("L'identifiant doit compter 2 à 60 caractères : lettres minuscules, chiffres et tirets.".into())
    }
}

/// Checks a period's order and range.
pub fn check_period(p: &Period) -> Result<(), String> {
    if !(1990..=2100).contains(&p.start_year) || !(1990..=2100).contains(&p.end_year) {
        Err("Les années doivent être comprises entre 1990 et 2100.".into())
    } else if p.end_year < p.start_year {
        Err(format!(
            "La période se termine ({}) avant de commencer ({}).",
            p.end_year, p.start_year
        ))
    } else {
        Ok(())
    }
}

fn check_len(errors: &mut ValidationErrors, path: &str, value: &str, max: usize, required: bool) {
    if required && value.trim().is_empty() {
        errors.add(path, "Ce champ est obligatoire.");
    } else if value.chars().count() > max {
        errors.add(
            path,
            format!("Ce champ ne doit pas dépasser {max} caractères."),
        );
    }
}

fn check_opt(errors: &mut ValidationErrors, path: &str, value: &Option<String>, max: usize) {
    if let Some(v) = value {
        check_len(errors, path, v, max, true);
    }
}

impl ContractDocument {
    /// Wraps a contract in a document of the current format.
    pub fn new(contract: Contract) -> Self {
        Self {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            contract,
        }
    }

    /// Parses a JSON document, reporting the line and column of a syntax or type fault,
    /// then validates it, reporting the path of every fault.
    pub fn from_json(text: &str) -> Result<Self, ValidationErrors> {
        let doc: Self = serde_json::from_str(text).map_err(|e| {
            use serde_json::error::Category;
            let place = format!("ligne {}, colonne {}", e.line(), e.column());
            let message = match e.classify() {
                Category::Eof => format!(
                    "Fichier de contrat tronqué : il s'arrête avant la fin du document ({place})."
                ),
                Category::Syntax => {
                    format!("Fichier de contrat mal formé : JSON invalide à la {place}.")
                }
                Category::Io => format!("Fichier de contrat illisible ({place})."),
                // serde names the offending field or value (`unknown field `nme``): keep its words.
                Category::Data => format!("Valeur refusée à la {place} : {e}"),
            };
            ValidationErrors::single(place, message)
        })?;
        doc.validate()?;
        Ok(doc)
    }

    /// Serializes to pretty JSON (the canonical export form).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a contract document always serializes") + "\n"
    }

    /// Checks every rule a contract document must satisfy, with the path of each fault.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        if self.format != FORMAT_NAME {
            e.add(
                "format",
                format!("Le champ format doit valoir « {FORMAT_NAME} »."),
            );
        }
        if self.version != FORMAT_VERSION {
            e.add(
                "version",
                format!(
                    "Version de format {} non prise en charge (attendue : {FORMAT_VERSION}).",
                    self.version
                ),
            );
        }
        let c = &self.contract;
        if let Err(m) = check_slug(&c.slug) {
            e.add("contract.slug", m);
        }
        check_len(&mut e, "contract.name", &c.name, TITLE_MAX, true);
        check_opt(&mut e, "contract.summary", &c.summary, TEXT_MAX);
        check_len(
            &mut e,
            "contract.territory.pilot_name",
            &c.territory.pilot_name,
            TITLE_MAX,
            true,
        );
        if let Err(m) = check_period(&c.period) {
            e.add("contract.period", m);
        }
        if c.levels.is_empty() {
            e.add(
                "contract.levels",
                "Nommez au moins un niveau du cadre stratégique (par exemple enjeu).",
            );
        }
        for (i, l) in c.levels.iter().enumerate() {
            check_len(
                &mut e,
                &format!("contract.levels[{i}].singular"),
                &l.singular,
                100,
                true,
            );
            check_len(
                &mut e,
                &format!("contract.levels[{i}].plural"),
                &l.plural,
                100,
                true,
            );
        }
        let mut seen_communes = std::collections::HashSet::new();
        for (i, com) in c.territory.communes.iter().enumerate() {
            check_len(
                &mut e,
                &format!("contract.territory.communes[{i}].name"),
                &com.name,
                TITLE_MAX,
                true,
            );
            if !seen_communes.insert(com.insee.clone()) {
                e.add(
                    format!("contract.territory.communes[{i}].insee"),
                    format!("La commune {} figure deux fois.", com.insee),
                );
            }
        }
        for (i, comp) in c.components.iter().enumerate() {
            check_len(
                &mut e,
                &format!("contract.components[{i}].name"),
                &comp.name,
                TITLE_MAX,
                true,
            );
            if let Err(m) = check_period(&comp.period) {
                e.add(format!("contract.components[{i}].period"), m);
            }
            check_opt(
                &mut e,
                &format!("contract.components[{i}].description"),
                &comp.description,
                TEXT_MAX,
            );
        }
        for (i, s) in c.signatories.iter().enumerate() {
            check_len(
                &mut e,
                &format!("contract.signatories[{i}].institution"),
                &s.institution,
                TITLE_MAX,
                true,
            );
            check_opt(
                &mut e,
                &format!("contract.signatories[{i}].represented_by"),
                &s.represented_by,
                TITLE_MAX,
            );
        }
        let mut keys = std::collections::HashSet::new();
        fn walk(
            e: &mut ValidationErrors,
            keys: &mut std::collections::HashSet<String>,
            nodes: &[FrameworkNode],
            path: &str,
        ) {
            for (i, n) in nodes.iter().enumerate() {
                let p = format!("{path}[{i}]");
                if let Err(m) = check_node_key(&n.key) {
                    e.add(format!("{p}.key"), m);
                } else if !keys.insert(n.key.clone()) {
                    e.add(
                        format!("{p}.key"),
                        format!(
                            "La clé « {} » est déjà utilisée par un autre élément du cadre.",
                            n.key
                        ),
                    );
                }
                check_len(e, &format!("{p}.title"), &n.title, TITLE_MAX, true);
                check_opt(e, &format!("{p}.description"), &n.description, TEXT_MAX);
                check_opt(e, &format!("{p}.scope"), &n.scope, TITLE_MAX);
                for (j, partner) in n.partners.iter().enumerate() {
                    check_len(e, &format!("{p}.partners[{j}]"), partner, TITLE_MAX, true);
                }
                walk(e, keys, &n.children, &format!("{p}.children"));
            }
        }
        walk(&mut e, &mut keys, &c.framework, "contract.framework");
        let mut axis_keys = std::collections::HashSet::new();
        for (i, a) in c.cross_cutting_axes.iter().enumerate() {
            if let Err(m) = check_node_key(&a.key) {
                e.add(format!("contract.cross_cutting_axes[{i}].key"), m);
            } else if !axis_keys.insert(a.key.clone()) {
                e.add(
                    format!("contract.cross_cutting_axes[{i}].key"),
                    format!("La clé « {} » est déjà utilisée par un autre axe.", a.key),
                );
            }
            check_opt(
                &mut e,
                &format!("contract.cross_cutting_axes[{i}].title"),
                &a.title,
                TITLE_MAX,
            );
            check_opt(
                &mut e,
                &format!("contract.cross_cutting_axes[{i}].description"),
                &a.description,
                TEXT_MAX,
            );
            for (j, k) in a.nodes.iter().enumerate() {
                if !keys.contains(k) {
                    e.add(
                        format!("contract.cross_cutting_axes[{i}].nodes[{j}]"),
                        format!("Aucun élément du cadre n'a la clé « {k} »."),
                    );
                }
            }
        }
        for (i, f) in c.flagship_actions.iter().enumerate() {
            check_len(
                &mut e,
                &format!("contract.flagship_actions[{i}].title"),
                &f.title,
                TITLE_MAX,
                true,
            );
            check_opt(
                &mut e,
                &format!("contract.flagship_actions[{i}].carrier"),
                &f.carrier,
                TITLE_MAX,
            );
            check_opt(
                &mut e,
                &format!("contract.flagship_actions[{i}].description"),
                &f.description,
                TEXT_MAX,
            );
            if let Some(k) = &f.node {
                if !keys.contains(k) {
                    e.add(
                        format!("contract.flagship_actions[{i}].node"),
                        format!("Aucun élément du cadre n'a la clé « {k} »."),
                    );
                }
            }
        }
        for (i, k) in c.key_figures.iter().enumerate() {
            check_len(
                &mut e,
                &format!("contract.key_figures[{i}].label"),
                &k.label,
                TITLE_MAX,
                true,
            );
            check_len(
                &mut e,
                &format!("contract.key_figures[{i}].value"),
                &k.value,
                100,
                true,
            );
        }
        let mut qpv_codes = std::collections::HashSet::new();
        for (i, q) in c.qpvs.iter().enumerate() {
            if q.code.is_none() && q.name.is_none() {
                e.add(
                    format!("contract.qpvs[{i}]"),
                    "Un quartier doit avoir au moins un code ou un nom.",
                );
            }
            if let Some(code) = &q.code {
                if !qpv_codes.insert(code.clone()) {
                    e.add(
                        format!("contract.qpvs[{i}].code"),
                        format!("Le quartier {code} figure deux fois."),
                    );
                }
            }
            check_opt(
                &mut e,
                &format!("contract.qpvs[{i}].name"),
                &q.name,
                TITLE_MAX,
            );
        }
        for (i, s) in c.renewal_sites.iter().enumerate() {
            check_opt(
                &mut e,
                &format!("contract.renewal_sites[{i}].name"),
                &s.name,
                TITLE_MAX,
            );
        }
        let mut volets = std::collections::HashSet::new();
        for (i, v) in c.local_volets.iter().enumerate() {
            check_len(
                &mut e,
                &format!("contract.local_volets[{i}].title"),
                &v.title,
                TITLE_MAX,
                true,
            );
            check_opt(
                &mut e,
                &format!("contract.local_volets[{i}].body"),
                &v.body,
                TEXT_MAX,
            );
            if !volets.insert(v.commune.clone()) {
                e.add(
                    format!("contract.local_volets[{i}].commune"),
                    format!("La commune {} a déjà un volet local.", v.commune),
                );
            }
        }
        for (i, s) in c.sections.iter().enumerate() {
            check_len(
                &mut e,
                &format!("contract.sections[{i}].title"),
                &s.title,
                TITLE_MAX,
                true,
            );
            check_opt(
                &mut e,
                &format!("contract.sections[{i}].body"),
                &s.body,
                TEXT_MAX,
            );
            for (j, it) in s.items.iter().enumerate() {
                check_len(
                    &mut e,
                    &format!("contract.sections[{i}].items[{j}]"),
                    it,
                    TEXT_MAX,
                    true,
                );
            }
        }
        e.into_result()
    }

    /// Finds a framework node by key, with its depth (0 = top level).
    pub fn find_node(&self, key: &str) -> Option<(&FrameworkNode, usize)> {
        fn go<'a>(
            nodes: &'a [FrameworkNode],
            key: &str,
            depth: usize,
        ) -> Option<(&'a FrameworkNode, usize)> {
            for n in nodes {
                if n.key == key {
                    return Some((n, depth));
                }
                if let Some(found) = go(&n.children, key, depth + 1) {
                    return Some(found);
                }
            }
            None
        }
        go(&self.contract.framework, key, 0)
    }
}

impl Contract {
    /// The label of a framework level (falls back on the deepest label, then on "élément").
    pub fn level_label(&self, depth: usize) -> &LevelLabel {
        static DEFAULT: std::sync::OnceLock<LevelLabel> = std::sync::OnceLock::new();
        self.levels
            .get(depth)
            .or(self.levels.last())
            .unwrap_or_else(|| {
                DEFAULT.get_or_init(|| LevelLabel {
                    singular: "élément".into(),
                    plural: "éléments".into(),
                    declared_count: None,
                })
            })
    }

    /// Counts the framework's nodes at each depth.
    pub fn nodes_per_level(&self) -> Vec<usize> {
        let mut counts = Vec::new();
        fn go(nodes: &[FrameworkNode], depth: usize, counts: &mut Vec<usize>) {
            if nodes.is_empty() {
                return;
            }
            if counts.len() <= depth {
                counts.push(0);
            }
            counts[depth] += nodes.len();
            for n in nodes {
                go(&n.children, depth + 1, counts);
            }
        }
        go(&self.framework, 0, &mut counts);
        counts
    }
}

/// Checks a node or axis key: 1 to 60 letters, digits, dashes, underscores or dots.
pub fn check_node_key(key: &str) -> Result<(), String> {
    let ok = (1..=60).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "La clé « {key} » doit compter 1 à 60 caractères : lettres, chiffres, tirets, points."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> ContractDocument {
        ContractDocument::from_json(
            r#"{"format":"quartiers-contrat","version":1,"contract":{"slug":"test","name":"Contrat test",
            "territory":{"pilot_name":"Agglo","pilot_siren":"200093201","communes":[{"insee":"59350","name":"Lille"}]},
            "period":{"start_year":2024,"end_year":2030},
            "levels":[{"singular":"enjeu","plural":"enjeux"},{"singular":"ambition","plural":"ambitions"}],
            "framework":[{"key":"e1","title":"Emploi","children":[{"key":"e1-a1","title":"Mobilité","partners":["État"]}]}],
            "flagship_actions":[{"title":"MobilimEL","node":"e1-a1"}]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn round_trips_exactly() {
        let doc = minimal();
        let again = ContractDocument::from_json(&doc.to_json()).unwrap();
        assert_eq!(doc, again);
        assert_eq!(doc.to_json(), again.to_json());
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err = ContractDocument::from_json("{\n  \"format\": \n}").unwrap_err();
        assert!(err.0[0].field.starts_with("ligne 3"), "{err}");
    }

    #[test]
    fn unknown_fields_and_bad_ids_are_refused() {
        let err = ContractDocument::from_json(
            r#"{"format":"quartiers-contrat","version":1,"contract":{"slug":"x","nme":"y"}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nme"), "{err}");
        let bad_siren = minimal().to_json().replace("200093201", "200093202");
        assert!(ContractDocument::from_json(&bad_siren)
            .unwrap_err()
            .to_string()
            .contains("clé de contrôle"));
    }

    #[test]
    fn validation_reports_paths() {
        let mut doc = minimal();
        doc.contract.period = Period {
            start_year: 2030,
            end_year: 2024,
        };
        doc.contract.framework[0].children[0].key = "e1".into();
        doc.contract.flagship_actions[0].node = Some("zz".into());
        let err = doc.validate().unwrap_err();
        assert!(err
            .for_field("contract.period")
            .unwrap()
            .contains("avant de commencer"));
        assert!(err
            .for_field("contract.framework[0].children[0].key")
            .is_some());
        assert!(err.for_field("contract.flagship_actions[0].node").is_some());
    }

    #[test]
    fn level_labels_and_counts() {
        let doc = minimal();
        assert_eq!(doc.contract.level_label(1).singular, "ambition");
        assert_eq!(doc.contract.level_label(5).singular, "ambition");
        assert_eq!(doc.contract.nodes_per_level(), vec![1, 1]);
        assert_eq!(doc.find_node("e1-a1").unwrap().1, 1);
    }
}
