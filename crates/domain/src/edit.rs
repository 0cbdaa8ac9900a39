//! Editing a contract document: one generic mechanism for every list of the contract
//! (components, signatories, key figures...), keyed operations on the framework tree, and
//! the contract's general information. Pages and API both go through these functions, so
//! a rule lives here once.
//!
//! Items travel as JSON values between the typed document and flat forms: each field of a
//! form is described by a [`FieldSpec`] that knows how to turn text typed by a person into
//! the document's value and back.

use crate::contract::{parse_date, ContractDocument, FrameworkNode, SectionKind};
use crate::ids::{InseeCode, Siren};
use crate::money::Cents;
use crate::validation::ValidationErrors;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A flat form: field name → typed text.
pub type Form = BTreeMap<String, String>;

/// How a form field is typed and turned into a document value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// Several paragraphs.
    LongText,
    /// A year (2024).
    Year,
    /// A date (AAAA-MM-JJ).
    Date,
    /// An amount in euros, stored in cents.
    Euros,
    /// One entry per line, stored as a list of strings.
    Lines,
    /// One INSEE code per line.
    InseeLines,
    /// One INSEE code.
    Insee,
    /// A SIREN.
    Siren,
    /// A section kind, chosen in a list.
    SectionKind,
    /// The key of a framework node, chosen in a list.
    NodeRef,
    /// One framework node key per line, chosen in a multiple list.
    NodeRefs,
    /// Levels: one `singulier / pluriel / nombre annoncé` per line.
    Levels,
    /// Communes: one `code INSEE nom` per line.
    Communes,
}

/// A field of an edit form.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Dotted path in the item (`period.start_year`).
    pub name: &'static str,
    /// French label.
    pub label: &'static str,
    /// Kind.
    pub kind: FieldKind,
    /// Required.
    pub required: bool,
    /// Hint shown under the label.
    pub hint: &'static str,
}

const fn f(
    name: &'static str,
    label: &'static str,
    kind: FieldKind,
    required: bool,
    hint: &'static str,
) -> FieldSpec {
    FieldSpec {
        name,
        label,
        kind,
        required,
        hint,
    }
}

/// The lists of a contract that are edited item by item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    /// Composantes.
    Components,
    /// Signataires.
    Signatories,
    /// Axes transversaux.
    Axes,
    /// Actions phares.
    FlagshipActions,
    /// Chiffres clés.
    KeyFigures,
    /// Quartiers prioritaires.
    Qpvs,
    /// Sites de renouvellement urbain.
    RenewalSites,
    /// Volets locaux.
    LocalVolets,
    /// Sections (gouvernance, participation, évaluation...).
    Sections,
}

impl Collection {
    /// All collections, in page order.
    pub const ALL: [Collection; 9] = [
        Self::Components,
        Self::Signatories,
        Self::KeyFigures,
        Self::Axes,
        Self::FlagshipActions,
        Self::Qpvs,
        Self::RenewalSites,
        Self::LocalVolets,
        Self::Sections,
    ];

    /// The document field holding the list, also the API path segment.
    pub fn field(self) -> &'static str {
        match self {
            Self::Components => "components",
            Self::Signatories => "signatories",
            Self::Axes => "cross_cutting_axes",
            Self::FlagshipActions => "flagship_actions",
            Self::KeyFigures => "key_figures",
            Self::Qpvs => "qpvs",
            Self::RenewalSites => "renewal_sites",
            Self::LocalVolets => "local_volets",
            Self::Sections => "sections",
        }
    }

    /// The French URL segment of the pages.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Components => "composantes",
            Self::Signatories => "signataires",
            Self::Axes => "axes-transversaux",
            Self::FlagshipActions => "actions-phares",
            Self::KeyFigures => "chiffres-cles",
            Self::Qpvs => "quartiers",
            Self::RenewalSites => "sites-renouvellement",
            Self::LocalVolets => "volets-locaux",
            Self::Sections => "sections",
        }
    }

    /// Finds a collection by page slug or API field.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.slug() == s || c.field() == s)
    }

    /// French name of one item, with its article ("la composante").
    pub fn singular(self) -> &'static str {
        match self {
            Self::Components => "composante",
            Self::Signatories => "signataire",
            Self::Axes => "axe transversal",
            Self::FlagshipActions => "action phare",
            Self::KeyFigures => "chiffre clé",
            Self::Qpvs => "quartier prioritaire",
            Self::RenewalSites => "site de renouvellement urbain",
            Self::LocalVolets => "volet local",
            Self::Sections => "section",
        }
    }

    /// French title of the list.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Components => "Composantes",
            Self::Signatories => "Signataires",
            Self::Axes => "Axes transversaux",
            Self::FlagshipActions => "Actions phares",
            Self::KeyFigures => "Chiffres clés",
            Self::Qpvs => "Quartiers prioritaires",
            Self::RenewalSites => "Sites de renouvellement urbain (NPRU)",
            Self::LocalVolets => "Volets locaux",
            Self::Sections => "Gouvernance, participation, évaluation",
        }
    }

    /// The fields of the item's edit form.
    pub fn fields(self) -> &'static [FieldSpec] {
        use FieldKind::*;
        match self {
            Self::Components => {
                const F: &[FieldSpec] = &[
                    f(
                        "name",
                        "Nom",
                        Text,
                        true,
                        "Par exemple : Contrat de ville, Pacte local des solidarités",
                    ),
                    f(
                        "period.start_year",
                        "Première année",
                        Year,
                        true,
                        "Par exemple : 2024",
                    ),
                    f(
                        "period.end_year",
                        "Dernière année",
                        Year,
                        true,
                        "Par exemple : 2030",
                    ),
                    f(
                        "annual_budget_cents",
                        "Budget annuel (euros)",
                        Euros,
                        false,
                        "Laisser vide s'il n'est pas connu",
                    ),
                    f("description", "Description", LongText, false, ""),
                ];
                F
            }
            Self::Signatories => {
                const F: &[FieldSpec] = &[
                    f(
                        "institution",
                        "Institution",
                        Text,
                        true,
                        "Par exemple : État, Région Hauts-de-France",
                    ),
                    f(
                        "represented_by",
                        "Représentée par",
                        Text,
                        false,
                        "Nom et qualité du signataire, si connus",
                    ),
                ];
                F
            }
            Self::Axes => {
                const F: &[FieldSpec] = &[
                    f(
                        "key",
                        "Clé",
                        Text,
                        true,
                        "Identifiant court et unique, par exemple axe1",
                    ),
                    f(
                        "title",
                        "Intitulé",
                        Text,
                        false,
                        "Laisser vide si le document ne le donne pas",
                    ),
                    f("description", "Description", LongText, false, ""),
                    f(
                        "nodes",
                        "Éléments du cadre traversés",
                        NodeRefs,
                        false,
                        "Plusieurs choix possibles",
                    ),
                ];
                F
            }
            Self::FlagshipActions => {
                const F: &[FieldSpec] = &[
                    f("title", "Intitulé", Text, true, ""),
                    f("carrier", "Structure porteuse", Text, false, ""),
                    f("description", "Description", LongText, false, ""),
                    f("node", "Élément du cadre illustré", NodeRef, false, ""),
                ];
                F
            }
            Self::KeyFigures => {
                const F: &[FieldSpec] = &[
                    f(
                        "label",
                        "Libellé",
                        Text,
                        true,
                        "Par exemple : Quartiers prioritaires",
                    ),
                    f(
                        "value",
                        "Valeur",
                        Text,
                        true,
                        "Telle que le document la donne, par exemple 26 ou 1,7 M€",
                    ),
                    f("year", "Année", Year, false, ""),
                    f("source", "Source", Text, false, ""),
                ];
                F
            }
            Self::Qpvs => {
                const F: &[FieldSpec] = &[
                    f(
                        "code",
                        "Code QPV",
                        Text,
                        false,
                        "QN + 6 caractères (2024) ou QP + 6 chiffres (2015)",
                    ),
                    f("name", "Nom", Text, false, ""),
                    f(
                        "communes",
                        "Communes (codes INSEE)",
                        InseeLines,
                        false,
                        "Un code INSEE par ligne",
                    ),
                ];
                F
            }
            Self::RenewalSites => {
                const F: &[FieldSpec] = &[
                    f("name", "Nom du site", Text, false, ""),
                    f(
                        "communes",
                        "Communes (codes INSEE)",
                        InseeLines,
                        false,
                        "Un code INSEE par ligne",
                    ),
                ];
                F
            }
            Self::LocalVolets => {
                const F: &[FieldSpec] = &[
                    f(
                        "commune",
                        "Commune (code INSEE)",
                        Insee,
                        true,
                        "Par exemple : 59512 pour Roubaix",
                    ),
                    f("title", "Titre", Text, true, ""),
                    f("body", "Stratégie communale", LongText, false, ""),
                    f(
                        "adopted_on",
                        "Date de délibération",
                        Date,
                        false,
                        "Format AAAA-MM-JJ",
                    ),
                ];
                F
            }
            Self::Sections => {
                const F: &[FieldSpec] = &[
                    f("kind", "Type", SectionKind, true, ""),
                    f("title", "Titre", Text, true, ""),
                    f("body", "Texte", LongText, false, ""),
                    f("items", "Points listés", Lines, false, "Un point par ligne"),
                ];
                F
            }
        }
    }

    /// The text that names one item in lists and in the amendment history.
    pub fn item_label(self, item: &Value) -> String {
        let s = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_string);
        let label = match self {
            Self::Components | Self::Qpvs | Self::RenewalSites => s("name").or_else(|| s("code")),
            Self::Signatories => s("institution"),
            Self::Axes => s("title").or_else(|| s("key")),
            Self::FlagshipActions | Self::LocalVolets | Self::Sections => s("title"),
            Self::KeyFigures => {
                s("label").map(|l| format!("{l} : {}", s("value").unwrap_or_default()))
            }
        };
        label.unwrap_or_else(|| "(sans nom)".into())
    }
}

/// The fields of a framework node's form.
pub const NODE_FIELDS: &[FieldSpec] = &[
    f("title", "Intitulé", FieldKind::Text, true, ""),
    f("description", "Description", FieldKind::LongText, false, ""),
    f(
        "scope",
        "Échelle et horizon",
        FieldKind::Text,
        false,
        "Par exemple : À l'échelle des quartiers prioritaires d'ici 2030",
    ),
    f(
        "partners",
        "Partenaires",
        FieldKind::Lines,
        false,
        "Une institution par ligne",
    ),
];

/// The fields of the contract's general information form.
pub const CONTRACT_FIELDS: &[FieldSpec] = &[
    f("name", "Nom du contrat", FieldKind::Text, true, ""),
    f("summary", "Présentation", FieldKind::LongText, false, ""),
    f("territory.pilot_name", "Intercommunalité pilote", FieldKind::Text, true, ""),
    f("territory.pilot_siren", "SIREN de l'intercommunalité", FieldKind::Siren, false, "9 chiffres"),
    f("signed_on", "Date de signature", FieldKind::Date, false, "Format AAAA-MM-JJ"),
    f("period.start_year", "Première année", FieldKind::Year, true, ""),
    f("period.end_year", "Dernière année", FieldKind::Year, true, ""),
    f("levels", "Niveaux du cadre stratégique", FieldKind::Levels, true, "Un niveau par ligne : singulier / pluriel, éventuellement / nombre annoncé. Exemple : enjeu / enjeux"),
    f("territory.communes", "Communes", FieldKind::Communes, false, "Une commune par ligne : code INSEE puis nom. Exemple : 59350 Lille"),
    f("sources", "Sources", FieldKind::Lines, false, "Un document par ligne"),
];

fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn set_path(v: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().expect("non-empty path");
    let mut cur = v;
    for p in parts {
        cur = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("object path");
    }
    if value.is_null() {
        cur.remove(last);
    } else {
        cur.insert(last.to_string(), value);
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// Renders a document value as the text a person edits.
pub fn value_to_text(kind: FieldKind, v: Option<&Value>) -> String {
    let Some(v) = v else { return String::new() };
    match kind {
        FieldKind::Euros => v
            .as_i64()
            .map(|c| {
                let s = format!("{},{:02}", c / 100, c % 100);
                s.strip_suffix(",00").map(str::to_string).unwrap_or(s)
            })
            .unwrap_or_default(),
        FieldKind::Year => v.as_i64().map(|y| y.to_string()).unwrap_or_default(),
        FieldKind::Lines | FieldKind::InseeLines | FieldKind::NodeRefs => v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        FieldKind::Levels => v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| {
                        let mut s = format!(
                            "{} / {}",
                            l.get("singular").and_then(Value::as_str).unwrap_or(""),
                            l.get("plural").and_then(Value::as_str).unwrap_or("")
                        );
                        if let Some(n) = l.get("declared_count").and_then(Value::as_u64) {
                            s.push_str(&format!(" / {n}"));
                        }
                        s
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        FieldKind::Communes => v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        format!(
                            "{} {}",
                            c.get("insee").and_then(Value::as_str).unwrap_or(""),
                            c.get("name").and_then(Value::as_str).unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        _ => v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
    }
}

/// Parses the text typed in one field into a document value (`Null` when blank).
pub fn text_to_value(kind: FieldKind, text: &str) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    Ok(match kind {
        FieldKind::Text | FieldKind::LongText | FieldKind::NodeRef => {
            if matches!(kind, FieldKind::LongText) {
                Value::String(text.replace("\r\n", "\n").trim().to_string())
            } else {
                Value::String(t.to_string())
            }
        }
        FieldKind::Year => {
            let y: i32 = t.parse().map_err(|_| format!("« {t} » n'est pas une année (exemple : 2024)."))?;
            if !(1990..=2100).contains(&y) {
                return Err("L'année doit être comprise entre 1990 et 2100.".into());
            }
            Value::from(y)
        }
        FieldKind::Date => Value::String(parse_date(t)?.to_string()),
        FieldKind::Euros => Value::from(Cents::parse_euros(t)?.get()),
        FieldKind::Lines | FieldKind::NodeRefs => Value::Array(lines(t).map(|l| Value::String(l.to_string())).collect()),
        FieldKind::InseeLines => Value::Array(
            lines(t)
                .map(|l| InseeCode::parse(l).map(|c| Value::String(c.to_string())))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        FieldKind::Insee => Value::String(InseeCode::parse(t)?.to_string()),
        FieldKind::Siren => Value::String(Siren::parse(t)?.to_string()),
        FieldKind::SectionKind => Value::String(SectionKind::parse(t)?.code().to_string()),
        FieldKind::Levels => Value::Array(
            lines(t)
                .enumerate()
                .map(|(i, l)| {
                    let parts: Vec<&str> = l.split('/').map(str::trim).collect();
                    let bad = || format!("Ligne {} : écrivez « singulier / pluriel », par exemple « enjeu / enjeux ».", i + 1);
                    if parts.len() < 2 || parts.len() > 3 || parts[0].is_empty() || parts[1].is_empty() {
                        return Err(bad());
                    }
                    let mut m = Map::new();
                    m.insert("singular".into(), Value::String(parts[0].into()));
                    m.insert("plural".into(), Value::String(parts[1].into()));
                    if let Some(n) = parts.get(2) {
                        let n: u32 = n.parse().map_err(|_| format!("Ligne {} : le nombre annoncé « {n} » doit être un entier.", i + 1))?;
                        m.insert("declared_count".into(), Value::from(n));
                    }
                    Ok(Value::Object(m))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        FieldKind::Communes => Value::Array(
            lines(t)
                .enumerate()
                .map(|(i, l)| {
                    let (code, name) = l.split_once(char::is_whitespace).ok_or_else(|| format!("Ligne {} : écrivez le code INSEE puis le nom, par exemple « 59350 Lille ».", i + 1))?;
                    let code = InseeCode::parse(code).map_err(|e| format!("Ligne {} : {e}", i + 1))?;
                    let mut m = Map::new();
                    m.insert("insee".into(), Value::String(code.to_string()));
                    m.insert("name".into(), Value::String(name.trim().to_string()));
                    Ok::<Value, String>(Value::Object(m))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    })
}

/// Renders an item as a form.
pub fn to_form(fields: &[FieldSpec], item: &Value) -> Form {
    fields
        .iter()
        .map(|s| {
            (
                s.name.to_string(),
                value_to_text(s.kind, get_path(item, s.name)),
            )
        })
        .collect()
}

/// Builds an item from a form, over `base` (the existing item, whose other fields are kept).
/// Errors are keyed by field name.
pub fn from_form(
    fields: &[FieldSpec],
    form: &Form,
    base: Option<&Value>,
) -> Result<Value, ValidationErrors> {
    let mut obj = base.and_then(Value::as_object).cloned().unwrap_or_default();
    let mut errors = ValidationErrors::new();
    for s in fields {
        let text = form.get(s.name).map(String::as_str).unwrap_or("");
        if s.required && text.trim().is_empty() {
            errors.add(s.name, "Ce champ est obligatoire.");
            continue;
        }
        match text_to_value(s.kind, text) {
            Ok(v) => set_path(&mut obj, s.name, v),
            Err(m) => errors.add(s.name, m),
        }
    }
    errors.into_result()?;
    Ok(Value::Object(obj))
}

/// Maps document-level errors (`contract.components[2].period`) to form fields of one item.
fn errors_for_item(errors: ValidationErrors, prefix: &str) -> ValidationErrors {
    let mut out = ValidationErrors::new();
    for e in errors.0 {
        let field = e
            .field
            .strip_prefix(prefix)
            .map(|f| f.trim_start_matches('.').to_string())
            .filter(|f| !f.is_empty());
        out.add(field.unwrap_or(e.field), e.message);
    }
    out
}

fn rebuild(doc: &ContractDocument, contract: Value) -> Result<ContractDocument, ValidationErrors> {
    let contract = serde_json::from_value(contract)
        .map_err(|e| ValidationErrors::single("contract", format!("Valeur invalide : {e}")))?;
    let new = ContractDocument {
        format: doc.format.clone(),
        version: doc.version,
        contract,
    };
    new.validate()?;
    Ok(new)
}

fn contract_value(doc: &ContractDocument) -> Map<String, Value> {
    match serde_json::to_value(&doc.contract).expect("documents serialize") {
        Value::Object(m) => m,
        _ => unreachable!("a contract serializes as an object"),
    }
}

/// The items of a collection, as JSON values.
pub fn items(doc: &ContractDocument, c: Collection) -> Vec<Value> {
    contract_value(doc)
        .remove(c.field())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn with_items(
    doc: &ContractDocument,
    c: Collection,
    prefix_index: Option<usize>,
    f: impl FnOnce(&mut Vec<Value>) -> Result<(), ValidationErrors>,
) -> Result<ContractDocument, ValidationErrors> {
    let mut m = contract_value(doc);
    let mut list = m
        .remove(c.field())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    f(&mut list)?;
    m.insert(c.field().into(), Value::Array(list));
    rebuild(doc, Value::Object(m)).map_err(|e| match prefix_index {
        Some(i) => errors_for_item(e, &format!("contract.{}[{i}]", c.field())),
        None => e,
    })
}

fn not_found(c: Collection, index: usize) -> ValidationErrors {
    ValidationErrors::single(
        "index",
        format!(
            "Aucun élément n°{} dans la liste « {} ».",
            index + 1,
            c.plural()
        ),
    )
}

/// Appends an item built from a value (API) to a collection.
pub fn insert_item(
    doc: &ContractDocument,
    c: Collection,
    item: Value,
) -> Result<ContractDocument, ValidationErrors> {
    let idx = items(doc, c).len();
    with_items(doc, c, Some(idx), |l| {
        l.push(item);
        Ok(())
    })
}

/// Replaces the item at `index`.
pub fn replace_item(
    doc: &ContractDocument,
    c: Collection,
    index: usize,
    item: Value,
) -> Result<ContractDocument, ValidationErrors> {
    with_items(doc, c, Some(index), |l| {
        let slot = l.get_mut(index).ok_or_else(|| not_found(c, index))?;
        *slot = item;
        Ok(())
    })
}

/// Removes the item at `index`.
pub fn remove_item(
    doc: &ContractDocument,
    c: Collection,
    index: usize,
) -> Result<ContractDocument, ValidationErrors> {
    with_items(doc, c, None, |l| {
        if index >= l.len() {
            return Err(not_found(c, index));
        }
        l.remove(index);
        Ok(())
    })
}

/// Moves the item at `index` one place up (`up`) or down.
pub fn move_item(
    doc: &ContractDocument,
    c: Collection,
    index: usize,
    up: bool,
) -> Result<ContractDocument, ValidationErrors> {
    with_items(doc, c, None, |l| {
        if index >= l.len() {
            return Err(not_found(c, index));
        }
        let target = if up {
            index.checked_sub(1)
        } else {
            Some(index + 1).filter(|t| *t < l.len())
        };
        if let Some(t) = target {
            l.swap(index, t);
        }
        Ok(())
    })
}

/// Updates the contract's general information from its form.
pub fn update_contract_info(
    doc: &ContractDocument,
    form: &Form,
) -> Result<ContractDocument, ValidationErrors> {
    let current = Value::Object(contract_value(doc));
    let updated = from_form(CONTRACT_FIELDS, form, Some(&current))?;
    rebuild(doc, updated).map_err(|e| errors_for_item(e, "contract"))
}

fn find_siblings<'a>(
    nodes: &'a mut Vec<FrameworkNode>,
    key: &str,
) -> Option<(&'a mut Vec<FrameworkNode>, usize)> {
    if let Some(i) = nodes.iter().position(|n| n.key == key) {
        return Some((nodes, i));
    }
    for n in nodes.iter_mut() {
        if let Some(found) = find_siblings(&mut n.children, key) {
            return Some(found);
        }
    }
    None
}

fn node_not_found(key: &str) -> ValidationErrors {
    ValidationErrors::single(
        "key",
        format!("Aucun élément du cadre n'a la clé « {key} »."),
    )
}

/// A node's fields as a JSON object (for forms).
pub fn node_value(node: &FrameworkNode) -> Value {
    let mut v = serde_json::to_value(node).expect("nodes serialize");
    if let Value::Object(m) = &mut v {
        m.remove("children");
    }
    v
}

fn node_from_form(form: &Form, base: &FrameworkNode) -> Result<FrameworkNode, ValidationErrors> {
    let v = from_form(NODE_FIELDS, form, Some(&node_value(base)))?;
    let mut node: FrameworkNode =
        serde_json::from_value(v).map_err(|e| ValidationErrors::single("title", e.to_string()))?;
    node.children = base.children.clone();
    Ok(node)
}

fn node_errors(e: ValidationErrors, doc: &ContractDocument, key: &str) -> ValidationErrors {
    // Map `contract.framework[0].children[2].title` back to `title` for the edited node.
    let path = node_path(doc, key).unwrap_or_default();
    errors_for_item(e, &path)
}

fn node_path(doc: &ContractDocument, key: &str) -> Option<String> {
    fn go(nodes: &[FrameworkNode], key: &str, prefix: String) -> Option<String> {
        for (i, n) in nodes.iter().enumerate() {
            let p = format!("{prefix}[{i}]");
            if n.key == key {
                return Some(p);
            }
            if let Some(found) = go(&n.children, key, format!("{p}.children")) {
                return Some(found);
            }
        }
        None
    }
    go(&doc.contract.framework, key, "contract.framework".into())
}

/// Updates a framework node from its form (title, description, scope, partners).
pub fn update_node(
    doc: &ContractDocument,
    key: &str,
    form: &Form,
) -> Result<ContractDocument, ValidationErrors> {
    let mut new = doc.clone();
    let (siblings, i) =
        find_siblings(&mut new.contract.framework, key).ok_or_else(|| node_not_found(key))?;
    siblings[i] = node_from_form(form, &siblings[i])?;
    new.validate().map_err(|e| node_errors(e, &new, key))?;
    Ok(new)
}

/// A fresh key for a child of `parent` (or a top-level node): `e7`, `e2-a8`...
pub fn new_node_key(doc: &ContractDocument, parent: Option<&str>) -> String {
    let base = match parent {
        Some(p) => format!("{p}-"),
        None => "n".to_string(),
    };
    (1..)
        .map(|i| format!("{base}{i}"))
        .find(|k| doc.find_node(k).is_none())
        .expect("an unused key exists")
}

/// Adds a node under `parent` (or at the top), returning the document and the new key.
pub fn add_node(
    doc: &ContractDocument,
    parent: Option<&str>,
    form: &Form,
) -> Result<(ContractDocument, String), ValidationErrors> {
    let key = new_node_key(doc, parent);
    let blank = FrameworkNode {
        key: key.clone(),
        title: String::new(),
        description: None,
        scope: None,
        partners: vec![],
        children: vec![],
    };
    let node = node_from_form(form, &blank)?;
    let mut new = doc.clone();
    match parent {
        None => new.contract.framework.push(node),
        Some(p) => {
            let (siblings, i) =
                find_siblings(&mut new.contract.framework, p).ok_or_else(|| node_not_found(p))?;
            siblings[i].children.push(node);
        }
    }
    new.validate().map_err(|e| node_errors(e, &new, &key))?;
    Ok((new, key))
}

/// Removes a node and its descendants, and the references axes and flagship actions made to them.
pub fn remove_node(
    doc: &ContractDocument,
    key: &str,
) -> Result<ContractDocument, ValidationErrors> {
    let mut new = doc.clone();
    let (siblings, i) =
        find_siblings(&mut new.contract.framework, key).ok_or_else(|| node_not_found(key))?;
    let removed = siblings.remove(i);
    let mut gone = Vec::new();
    fn collect(n: &FrameworkNode, out: &mut Vec<String>) {
        out.push(n.key.clone());
        n.children.iter().for_each(|c| collect(c, out));
    }
    collect(&removed, &mut gone);
    for axis in &mut new.contract.cross_cutting_axes {
        axis.nodes.retain(|k| !gone.contains(k));
    }
    for action in &mut new.contract.flagship_actions {
        if action.node.as_ref().is_some_and(|k| gone.contains(k)) {
            action.node = None;
        }
    }
    new.validate()?;
    Ok(new)
}

/// Moves a node one place up or down among its siblings.
pub fn move_node(
    doc: &ContractDocument,
    key: &str,
    up: bool,
) -> Result<ContractDocument, ValidationErrors> {
    let mut new = doc.clone();
    let (siblings, i) =
        find_siblings(&mut new.contract.framework, key).ok_or_else(|| node_not_found(key))?;
    let target = if up {
        i.checked_sub(1)
    } else {
        Some(i + 1).filter(|t| *t < siblings.len())
    };
    if let Some(t) = target {
        siblings.swap(i, t);
    }
    Ok(new)
}

/// All framework nodes in tree order, with their depth (for selection lists).
pub fn flat_nodes(doc: &ContractDocument) -> Vec<(usize, &FrameworkNode)> {
    fn go<'a>(nodes: &'a [FrameworkNode], depth: usize, out: &mut Vec<(usize, &'a FrameworkNode)>) {
        for n in nodes {
            out.push((depth, n));
            go(&n.children, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    go(&doc.contract.framework, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> ContractDocument {
        ContractDocument::from_json(
            r#"{"format":"quartiers-contrat","version":1,"contract":{"slug":"tt","name":"T",
            "territory":{"pilot_name":"Agglo"},"period":{"start_year":2024,"end_year":2030},
            "levels":[{"singular":"enjeu","plural":"enjeux"},{"singular":"ambition","plural":"ambitions"}],
            "components":[{"name":"Contrat de ville","period":{"start_year":2024,"end_year":2030},"annual_budget_cents":2000000000}],
            "framework":[{"key":"e1","title":"Emploi","children":[{"key":"e1-a1","title":"Mobilité"}]},{"key":"e2","title":"Santé"}],
            "flagship_actions":[{"title":"MobilimEL","node":"e1-a1"}]}}"#,
        )
        .unwrap()
    }

    fn form(pairs: &[(&str, &str)]) -> Form {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn component_form_round_trip() {
        let d = doc();
        let item = &items(&d, Collection::Components)[0];
        let fm = to_form(Collection::Components.fields(), item);
        assert_eq!(fm["annual_budget_cents"], "20000000");
        assert_eq!(fm["period.start_year"], "2024");
        let back = from_form(Collection::Components.fields(), &fm, Some(item)).unwrap();
        assert_eq!(&back, item);
    }

    #[test]
    fn component_period_order_error_maps_to_field() {
        let d = doc();
        let fm = form(&[
            ("name", "Pacte"),
            ("period.start_year", "2027"),
            ("period.end_year", "2024"),
        ]);
        let item = from_form(Collection::Components.fields(), &fm, None).unwrap();
        let err = insert_item(&d, Collection::Components, item).unwrap_err();
        assert!(
            err.for_field("period")
                .unwrap()
                .contains("avant de commencer"),
            "{err}"
        );
    }

    #[test]
    fn bad_field_values_are_reported_per_field() {
        let fm = form(&[
            ("name", ""),
            ("period.start_year", "deux"),
            ("period.end_year", "2030"),
            ("annual_budget_cents", "-5"),
        ]);
        let err = from_form(Collection::Components.fields(), &fm, None).unwrap_err();
        assert_eq!(err.for_field("name"), Some("Ce champ est obligatoire."));
        assert!(err
            .for_field("period.start_year")
            .unwrap()
            .contains("année"));
        assert!(err
            .for_field("annual_budget_cents")
            .unwrap()
            .contains("négatif"));
    }

    #[test]
    fn node_operations() {
        let d = doc();
        let d2 = update_node(
            &d,
            "e1-a1",
            &form(&[("title", "Mobilité pour tous"), ("partners", "État\nMEL")]),
        )
        .unwrap();
        assert_eq!(
            d2.find_node("e1-a1").unwrap().0.partners,
            vec!["État", "MEL"]
        );
        let (d3, key) = add_node(&d2, Some("e1"), &form(&[("title", "Nouvelle")])).unwrap();
        assert_eq!(key, "e1-1");
        assert_eq!(d3.contract.framework[0].children.len(), 2);
        let d4 = move_node(&d3, "e2", true).unwrap();
        assert_eq!(d4.contract.framework[0].key, "e2");
        let d5 = remove_node(&d4, "e1").unwrap();
        assert!(d5.find_node("e1-a1").is_none());
        assert_eq!(
            d5.contract.flagship_actions[0].node, None,
            "dangling references are cleared"
        );
        assert!(update_node(&d, "e1", &form(&[("title", "")]))
            .unwrap_err()
            .for_field("title")
            .is_some());
        assert!(remove_node(&d, "zz").is_err());
    }

    #[test]
    fn contract_info_form() {
        let d = doc();
        let mut fm = to_form(CONTRACT_FIELDS, &serde_json::to_value(&d.contract).unwrap());
        assert_eq!(fm["levels"], "enjeu / enjeux\nambition / ambitions");
        fm.insert(
            "territory.communes".into(),
            "59350 Lille\n59512 Roubaix".into(),
        );
        fm.insert("territory.pilot_siren".into(), "200093202".into());
        assert!(update_contract_info(&d, &fm)
            .unwrap_err()
            .for_field("territory.pilot_siren")
            .is_some());
        fm.insert("territory.pilot_siren".into(), "200093201".into());
        let d2 = update_contract_info(&d, &fm).unwrap();
        assert_eq!(d2.contract.territory.communes.len(), 2);
        assert_eq!(
            d2.contract.framework, d.contract.framework,
            "the framework is untouched"
        );
    }

    #[test]
    fn move_and_remove_items() {
        let d = doc();
        let item = from_form(
            Collection::Components.fields(),
            &form(&[
                ("name", "Pacte"),
                ("period.start_year", "2024"),
                ("period.end_year", "2027"),
            ]),
            None,
        )
        .unwrap();
        let d2 = insert_item(&d, Collection::Components, item).unwrap();
        let d3 = move_item(&d2, Collection::Components, 1, true).unwrap();
        assert_eq!(d3.contract.components[0].name, "Pacte");
        let d4 = remove_item(&d3, Collection::Components, 0).unwrap();
        assert_eq!(d4.contract.components.len(), 1);
        assert!(remove_item(&d4, Collection::Components, 5).is_err());
    }
}
