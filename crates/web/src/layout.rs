//! The DSFR page frame (header, navigation, footer) and small shared fragments.

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// What the frame needs to know about the visitor and the platform.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    /// Institution operating the platform.
    pub institution: String,
    /// Show the Marianne block (State services only).
    pub state_service: bool,
    /// Email of the signed-in user.
    pub user: Option<String>,
    /// CSRF token for the logout form.
    pub csrf: String,
    /// Whether the visitor administers the platform (shows the accounts link).
    pub is_admin: bool,
    /// Whether the visitor belongs to a project carrier (shows « Mes dossiers »).
    pub is_applicant: bool,
}

impl Frame {
    /// Builds the frame from the state and visitor.
    pub fn new(state: &crate::AppState, visitor: &crate::auth::Visitor) -> Self {
        Self {
            institution: state.config.institution_name.clone(),
            state_service: state.config.state_service,
            user: visitor.principal().map(|p| p.email.clone()),
            csrf: visitor.csrf().to_string(),
            is_admin: visitor.principal().is_some_and(|p| p.is_admin),
            is_applicant: visitor
                .principal()
                // Members of a project carrier, and accounts with no role yet (a carrier's
                // account before its organisation is created); not the staff.
                .is_some_and(|p| {
                    !p.organisations.is_empty() || (p.roles.is_empty() && !p.is_admin)
                }),
        }
    }
}

/// A whole page.
pub fn page(frame: &Frame, title: &str, breadcrumb: &[(&str, String)], body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" data-fr-scheme="system" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1, shrink-to-fit=no";
                title { (title) " — Quartiers" }
                link rel="stylesheet" href="/static/dsfr/dsfr.min.css";
                link rel="stylesheet" href="/static/dsfr/utility/icons/icons.min.css";
                link rel="stylesheet" href="/static/quartiers.css";
                link rel="icon" href="/static/dsfr/favicon/favicon.svg" type="image/svg+xml";
            }
            body {
                div.fr-skiplinks {
                    nav.fr-container role="navigation" aria-label="Accès rapide" {
                        ul.fr-skiplinks__list {
                            li { a.fr-link href="#contenu" { "Contenu" } }
                            li { a.fr-link href="#pied-de-page" { "Pied de page" } }
                        }
                    }
                }
                (header(frame))
                (navigation(frame))
                main #contenu role="main" tabindex="-1" {
                    div.fr-container.fr-my-4w {
                        @if !breadcrumb.is_empty() {
                            nav.fr-breadcrumb role="navigation" aria-label="vous êtes ici :" {
                                div.fr-collapse #breadcrumb {
                                    ol.fr-breadcrumb__list {
                                        li { a.fr-breadcrumb__link href="/" { "Accueil" } }
                                        @for (i, (label, href)) in breadcrumb.iter().enumerate() {
                                            li {
                                                @if i + 1 == breadcrumb.len() {
                                                    a.fr-breadcrumb__link aria-current="page" { (label) }
                                                } @else {
                                                    a.fr-breadcrumb__link href=(href) { (label) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        (body)
                    }
                }
                (footer(frame))
                script type="module" src="/static/dsfr/dsfr.module.min.js" {}
                script nomodule src="/static/dsfr/dsfr.nomodule.min.js" {}
            }
        }
    }
}

fn header(frame: &Frame) -> Markup {
    html! {
        header.fr-header role="banner" {
            div.fr-header__body {
                div.fr-container {
                    div.fr-header__body-row {
                        div.fr-header__brand.fr-enlarge-link {
                            div.fr-header__brand-top {
                                @if frame.state_service {
                                    div.fr-header__logo { p.fr-logo { "République" br; "française" } }
                                }
                            }
                            div.fr-header__service {
                                a href="/" title="Accueil — Quartiers" {
                                    p.fr-header__service-title { "Quartiers" }
                                }
                                p.fr-header__service-tagline { (frame.institution) " — contrats de ville" }
                            }
                        }
                        div.fr-header__tools {
                            div.fr-header__tools-links {
                                ul.fr-btns-group {
                                    @if let Some(user) = &frame.user {
                                        li { span.fr-btn.fr-icon-account-circle-line { (user) } }
                                        li {
                                            form method="post" action="/deconnexion" {
                                                input type="hidden" name="csrf" value=(frame.csrf);
                                                button.fr-btn.fr-icon-logout-box-r-line type="submit" { "Se déconnecter" }
                                            }
                                        }
                                    } @else {
                                        li { a.fr-btn.fr-icon-lock-line href="/connexion" { "Se connecter" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn navigation(frame: &Frame) -> Markup {
    html! {
        div.fr-container {
            nav.fr-nav role="navigation" aria-label="Menu principal" {
                ul.fr-nav__list {
                    li.fr-nav__item { a.fr-nav__link href="/" { "Contrats de ville" } }
                    li.fr-nav__item { a.fr-nav__link href="/quartiers-prioritaires/suis-je-dans-un-qpv" { "Suis-je dans un quartier prioritaire ?" } }
                    li.fr-nav__item { a.fr-nav__link href="/quartiers-prioritaires" { "Quartiers prioritaires" } }
                    li.fr-nav__item { a.fr-nav__link href="/quartiers-prioritaires/localiser-un-fichier" { "Localiser un fichier" } }
                    @if frame.is_applicant { li.fr-nav__item { a.fr-nav__link href="/mes-dossiers" { "Mes dossiers" } } }
                    @if frame.is_admin { li.fr-nav__item { a.fr-nav__link href="/admin/comptes" { "Comptes" } } }
                    @if frame.is_admin { li.fr-nav__item { a.fr-nav__link href="/admin/courriels" { "Courriels" } } }
                }
            }
        }
    }
}

fn footer(frame: &Frame) -> Markup {
    html! {
        footer.fr-footer #pied-de-page role="contentinfo" {
            div.fr-container {
                div.fr-footer__body {
                    div.fr-footer__content {
                        p.fr-footer__content-desc {
                            "Quartiers, plateforme libre de pilotage des contrats de ville, opérée par " (frame.institution) "."
                        }
                        ul.fr-footer__content-list {
                            li.fr-footer__content-item { a.fr-footer__content-link href="/api/v1/openapi.json" { "API (OpenAPI)" } }
                        }
                    }
                }
                div.fr-footer__bottom {
                    p.fr-footer__bottom-copy { "Sauf mention contraire, les contenus sont sous licence ouverte etalab-2.0. Système de design de l'État (DSFR)." }
                }
            }
        }
    }
}

/// A minimal frame for error pages rendered without the visitor's context.
pub fn error_page(status: u16, title: &str, detail: &str) -> Markup {
    let frame = Frame {
        institution: "Quartiers".into(),
        ..Default::default()
    };
    page(
        &frame,
        title,
        &[],
        html! {
            div.fr-grid-row.fr-grid-row--gutters {
                div.fr-col-12.fr-col-md-8 {
                    h1 { (title) }
                    p.fr-text--sm { "Erreur " (status) }
                    p.fr-text--lead { (detail) }
                    ul.fr-btns-group.fr-btns-group--inline-md {
                        @if status == 401 {
                            li { a.fr-btn href="/connexion" { "Se connecter" } }
                            li { a.fr-btn.fr-btn--secondary href="/" { "Page d'accueil" } }
                        } @else {
                            li { a.fr-btn href="/" { "Page d'accueil" } }
                        }
                    }
                }
            }
        },
    )
}

/// An alert box listing validation errors.
pub fn error_summary(errors: &quartiers_domain::ValidationErrors) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.fr-alert.fr-alert--error.fr-mb-3w role="alert" {
                h2.fr-alert__title { "Le formulaire contient des erreurs" }
                ul { @for e in &errors.0 { li { (e.message) } } }
            }
        }
    }
}

/// An alert box listing the faults of an imported file, each with its place (line or path).
pub fn file_errors(errors: &quartiers_domain::ValidationErrors) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.fr-alert.fr-alert--error.fr-mb-3w role="alert" {
                h2.fr-alert__title { "Le fichier contient des erreurs" }
                ul { @for e in &errors.0 { li { code { (e.field) } " : " (e.message) } } }
            }
        }
    }
}

/// A success or information notice.
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { div class=(format!("fr-alert fr-alert--{kind} fr-alert--sm fr-mb-3w")) role="status" { p { (text) } } }
}

/// Shows a value or "non renseigné".
pub fn or_unknown(v: Option<&str>) -> Markup {
    match v {
        Some(v) if !v.trim().is_empty() => html! { (v) },
        _ => html! { span.q-unknown { "non renseigné" } },
    }
}

/// Renders multi-paragraph text.
pub fn paragraphs(text: &str) -> Markup {
    html! { @for p in text.split("\n\n").filter(|p| !p.trim().is_empty()) { p { (p.trim()) } } }
}

/// The text with its first letter in capitals (« ambition » → « Ambition »).
pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub use quartiers_domain::french::french_date;

/// Raw HTML (for trusted fragments only).
pub fn raw(s: &str) -> PreEscaped<String> {
    PreEscaped(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capitalizes_the_first_letter_only() {
        assert_eq!(capitalize("énoncé à l'échelle"), "Énoncé à l'échelle");
        assert_eq!(capitalize(""), "");
    }

    #[test]
    fn french_dates() {
        assert_eq!(french_date("2024-05-07"), "7 mai 2024");
        assert_eq!(french_date("2015-02-01"), "1er février 2015");
        assert_eq!(french_date("2026-11-22T19:31:00Z"), "22 novembre 2026");
        assert_eq!(french_date("n/a"), "n/a");
    }

    #[test]
    fn pages_escape_text() {
        let html = page(&Frame::default(), "<script>", &[], html! {}).into_string();
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("lang=\"fr\""));
    }
}
