//! The home page: the contracts.

use crate::auth::Visitor;
use crate::error::Result;
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::State;
use axum::response::Html;
use maud::html;
use quartiers_domain::permissions::{allowed, Action};

/// GET /
#[tracing::instrument(skip_all)]
pub async fn home(State(state): State<AppState>, visitor: Visitor) -> Result<Html<String>> {
    let contracts = state.store.list_contracts().await?;
    let frame = Frame::new(&state, &visitor);
    let can_import = allowed(visitor.principal(), Action::CreateContract);
    Ok(Html(
        layout::page(
            &frame,
            "Contrats de ville",
            &[],
            html! {
                h1 { "Contrats de ville" }
                p.fr-text--lead { "Le cadre stratégique, les quartiers prioritaires, les chiffres clés et les engagements de chaque contrat, et leur historique d'avenants." }
                @if can_import { p { a.fr-btn.fr-btn--secondary.fr-icon-add-line.fr-btn--icon-left href="/contrats/nouveau" { "Importer un contrat" } } }
                @if contracts.is_empty() {
                    p { "Aucun contrat n'est encore enregistré." }
                }
                div.fr-grid-row.fr-grid-row--gutters {
                    @for c in &contracts {
                        div.fr-col-12.fr-col-md-4 {
                            div.fr-card.fr-enlarge-link {
                                div.fr-card__body {
                                    div.fr-card__content {
                                        h2.fr-card__title { a href=(format!("/contrats/{}", c.slug)) { (c.name) } }
                                        p.fr-card__desc { (c.pilot_name) }
                                        div.fr-card__end { p.fr-card__detail { (c.start_year) "-" (c.end_year) } }
                                    }
                                }
                            }
                        }
                    }
                }
            },
        )
        .into_string(),
    ))
}
