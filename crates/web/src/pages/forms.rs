//! Rendering and reading the edit forms described by the domain's field specs.

use maud::{html, Markup};
use quartiers_domain::edit::{flat_nodes, FieldKind, FieldSpec, Form};
use quartiers_domain::{ContractDocument, SectionKind, ValidationErrors};

/// The change metadata every edit form carries, as typed.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// CSRF token.
    pub csrf: String,
    /// Contract version seen.
    pub version: String,
    /// Date d'effet.
    pub effective_on: String,
    /// Motif.
    pub reason: String,
}

/// Splits submitted pairs into the item's form and the change metadata.
/// Repeated names (multiple selects) are joined with new lines.
pub fn read(pairs: Vec<(String, String)>) -> (Form, Meta) {
    let mut form = Form::new();
    let mut meta = Meta::default();
    for (k, v) in pairs {
        match k.as_str() {
            "csrf" => meta.csrf = v,
            "version" => meta.version = v,
            "effective_on" => meta.effective_on = v,
            "reason" => meta.reason = v,
            "direction" => {
                form.insert(k, v);
            }
            _ => {
                form.entry(k)
                    .and_modify(|e: &mut String| {
                        e.push('\n');
                        e.push_str(&v);
                    })
                    .or_insert(v);
            }
        }
    }
    (form, meta)
}

impl Meta {
    /// Into the change metadata of the shared change path.
    pub fn to_change(&self) -> Result<crate::changes::ChangeMeta, ValidationErrors> {
        let version = self.version.trim().parse().map_err(|_| {
            ValidationErrors::single(
                "version",
                "Version du contrat manquante : rechargez la page.",
            )
        })?;
        Ok(crate::changes::ChangeMeta {
            version,
            effective_on: Some(self.effective_on.clone()),
            reason: Some(self.reason.clone()),
        })
    }
}

fn id_for(name: &str) -> String {
    format!("f-{}", name.replace('.', "-"))
}

fn field(spec: &FieldSpec, value: &str, error: Option<&str>, doc: &ContractDocument) -> Markup {
    let id = id_for(spec.name);
    let group_class = if error.is_some() {
        "fr-input-group fr-input-group--error"
    } else {
        "fr-input-group"
    };
    let input_class = if error.is_some() {
        "fr-input fr-input--error"
    } else {
        "fr-input"
    };
    let select_class = if error.is_some() {
        "fr-select fr-select--error"
    } else {
        "fr-select"
    };
    let err_id = format!("{id}-erreur");
    let described = error.map(|_| err_id.clone());
    html! {
        div class=(group_class) {
            label.fr-label for=(id) {
                (spec.label) @if spec.required { " *" }
                @if !spec.hint.is_empty() { span.fr-hint-text { (spec.hint) } }
            }
            @match spec.kind {
                FieldKind::LongText | FieldKind::Lines | FieldKind::InseeLines | FieldKind::Levels | FieldKind::Communes => {
                    textarea class=(input_class) id=(id) name=(spec.name) rows=(if matches!(spec.kind, FieldKind::LongText) { 8 } else { 5 }) aria-describedby=[described.as_deref()] required[spec.required] { (value) }
                }
                FieldKind::SectionKind => {
                    select class=(select_class) id=(id) name=(spec.name) aria-describedby=[described.as_deref()] {
                        @for k in SectionKind::ALL { option value=(k.code()) selected[value == k.code()] { (k.label()) } }
                    }
                }
                FieldKind::NodeRef | FieldKind::NodeRefs => {
                    @let multiple = matches!(spec.kind, FieldKind::NodeRefs);
                    @let chosen: Vec<&str> = value.lines().collect();
                    select class=(select_class) id=(id) name=(spec.name) multiple[multiple] size=[multiple.then_some(8)] aria-describedby=[described.as_deref()] {
                        @if !multiple { option value="" { "— aucun —" } }
                        @for (depth, n) in flat_nodes(doc) {
                            option value=(n.key) selected[chosen.contains(&n.key.as_str())] { ("\u{a0}\u{a0}".repeat(depth)) (n.title) }
                        }
                    }
                }
                FieldKind::Year => { input class=(input_class) id=(id) name=(spec.name) type="number" min="1990" max="2100" value=(value) aria-describedby=[described.as_deref()] required[spec.required]; }
                FieldKind::Date => { input class=(input_class) id=(id) name=(spec.name) type="date" value=(value) aria-describedby=[described.as_deref()]; }
                _ => { input class=(input_class) id=(id) name=(spec.name) type="text" value=(value) aria-describedby=[described.as_deref()] required[spec.required]; }
            }
            @if let Some(e) = error { p.fr-error-text id=(err_id) { (e) } }
        }
    }
}

/// Errors of fields not on the form (document-level rules) are shown in the summary only.
fn field_error<'a>(errors: &'a ValidationErrors, spec: &FieldSpec) -> Option<&'a str> {
    errors
        .0
        .iter()
        .find(|e| {
            e.field == spec.name
                || spec.name.starts_with(&format!("{}.", e.field))
                || e.field.starts_with(&format!("{}[", spec.name))
                || e.field.starts_with(&format!("{}.", spec.name))
        })
        .map(|e| e.message.as_str())
}

/// A complete edit form: fields, change metadata, CSRF, submit.
pub fn edit_form(
    action: &str,
    specs: &[FieldSpec],
    form: &Form,
    meta: &Meta,
    errors: &ValidationErrors,
    doc: &ContractDocument,
    submit: &str,
) -> Markup {
    html! {
        (crate::layout::error_summary(errors))
        form method="post" action=(action) novalidate {
            input type="hidden" name="csrf" value=(meta.csrf);
            input type="hidden" name="version" value=(meta.version);
            @for spec in specs {
                (field(spec, form.get(spec.name).map(String::as_str).unwrap_or(""), field_error(errors, spec), doc))
            }
            (meta_fields(meta, errors))
            ul.fr-btns-group.fr-btns-group--inline-md {
                li { button.fr-btn type="submit" { (submit) } }
                li { a.fr-btn.fr-btn--secondary href=(format!("/contrats/{}", doc.contract.slug)) { "Annuler" } }
            }
        }
    }
}

/// The amendment fields: effective date and reason.
pub fn meta_fields(meta: &Meta, errors: &ValidationErrors) -> Markup {
    let date_err = errors.for_field("effective_on");
    let reason_err = errors.for_field("reason");
    html! {
        fieldset.fr-fieldset.fr-mt-3w {
            legend.fr-fieldset__legend { "Avenant" span.fr-hint-text { "Chaque modification est conservée dans l'historique du contrat." } }
            div.fr-fieldset__element {
                div class=(if date_err.is_some() { "fr-input-group fr-input-group--error" } else { "fr-input-group" }) {
                    label.fr-label for="effective_on" { "Date d'effet" span.fr-hint-text { "Laisser vide pour aujourd'hui. Elle ne peut précéder le dernier avenant." } }
                    input.fr-input #effective_on type="date" name="effective_on" value=(meta.effective_on);
                    @if let Some(e) = date_err { p.fr-error-text { (e) } }
                }
            }
            div.fr-fieldset__element {
                div class=(if reason_err.is_some() { "fr-input-group fr-input-group--error" } else { "fr-input-group" }) {
                    label.fr-label for="reason" { "Motif ou référence de l'avenant" span.fr-hint-text { "Facultatif, par exemple : avenant n° 1 adopté en comité de pilotage" } }
                    input.fr-input #reason type="text" name="reason" value=(meta.reason);
                    @if let Some(e) = reason_err { p.fr-error-text { (e) } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_are_joined_and_meta_split() {
        let (form, meta) = read(vec![
            ("csrf".into(), "t".into()),
            ("version".into(), "3".into()),
            ("nodes".into(), "e1".into()),
            ("nodes".into(), "e2".into()),
            ("title".into(), "X".into()),
        ]);
        assert_eq!(form["nodes"], "e1\ne2");
        assert_eq!(form["title"], "X");
        assert_eq!(meta.csrf, "t");
        assert_eq!(meta.to_change().unwrap().version, 3);
        assert!(Meta::default().to_change().is_err());
    }
}
