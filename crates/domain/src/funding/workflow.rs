//! The life of an application as an explicit state machine, with French event names:
//!
//! `brouillon → déposé → en instruction → (complément demandé ↔ en instruction) → avis rendus
//! → décidé → conventionné → payé → bilan attendu → bilan déposé → clos`, plus `retiré` by the
//! applicant before any decision. Each financer line carries its own opinion and decision.
//! [`transition`] is the only way to move an application; the store writes the audit row of
//! each transition in the same transaction.

use serde::{Deserialize, Serialize};

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Being written by the applicant.
    Brouillon,
    /// Submitted, waiting for instruction.
    Depose,
    /// Being instructed by the financers.
    EnInstruction,
    /// The applicant was asked for more information.
    ComplementDemande,
    /// Every financer line has its opinion: ready for the programming committee.
    AvisRendus,
    /// The committee decided every line.
    Decide,
    /// Agreements signed for the granted lines.
    Conventionne,
    /// Money paid (advance, then balance).
    Paye,
    /// The end-of-action report is awaited.
    BilanAttendu,
    /// The report was filed.
    BilanDepose,
    /// Closed.
    Clos,
    /// Withdrawn by the applicant.
    Retire,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: [Status; 12] = [
        Status::Brouillon,
        Status::Depose,
        Status::EnInstruction,
        Status::ComplementDemande,
        Status::AvisRendus,
        Status::Decide,
        Status::Conventionne,
        Status::Paye,
        Status::BilanAttendu,
        Status::BilanDepose,
        Status::Clos,
        Status::Retire,
    ];
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Status::Brouillon => "brouillon",
            Status::Depose => "depose",
            Status::EnInstruction => "en_instruction",
            Status::ComplementDemande => "complement_demande",
            Status::AvisRendus => "avis_rendus",
            Status::Decide => "decide",
            Status::Conventionne => "conventionne",
            Status::Paye => "paye",
            Status::BilanAttendu => "bilan_attendu",
            Status::BilanDepose => "bilan_depose",
            Status::Clos => "clos",
            Status::Retire => "retire",
        }
    }
    /// French label.
    pub fn label(self) -> &'static str {
        match self {
            Status::Brouillon => "brouillon",
            Status::Depose => "déposé",
            Status::EnInstruction => "en instruction",
            Status::ComplementDemande => "complément demandé",
            Status::AvisRendus => "avis rendus",
            Status::Decide => "décidé",
            Status::Conventionne => "conventionné",
            Status::Paye => "payé",
            Status::BilanAttendu => "bilan attendu",
            Status::BilanDepose => "bilan déposé",
            Status::Clos => "clos",
            Status::Retire => "retiré",
        }
    }
    /// Parses a stored code.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|x| x.code() == s)
            .ok_or_else(|| format!("Statut de dossier inconnu « {s} »."))
    }
    /// Whether the applicant may still change the content.
    pub fn editable_by_applicant(self) -> bool {
        matches!(self, Status::Brouillon | Status::ComplementDemande)
    }
    /// Whether financer instructors may still give or change their opinion.
    pub fn open_for_opinions(self) -> bool {
        matches!(self, Status::EnInstruction | Status::AvisRendus)
    }
}

/// What can happen to an application (the French verbs of the workflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The applicant submits.
    Deposer,
    /// A financer or the pilot starts the instruction.
    Instruire,
    /// An instructor asks the applicant for more information.
    DemanderComplement,
    /// The applicant answers.
    Completer,
    /// Every line has its opinion (fired when the last one is given).
    RendreAvis,
    /// The committee decided every line.
    Decider,
    /// Some lines were postponed: back to the next committee.
    Reprogrammer,
    /// Agreements were generated for the granted lines.
    Conventionner,
    /// A payment was recorded.
    Payer,
    /// The action ended: its report is awaited.
    AttendreBilan,
    /// The applicant filed the report.
    DeposerBilan,
    /// The pilot sends the report back for correction.
    RenvoyerBilan,
    /// The pilot closes the file.
    Clore,
    /// The applicant withdraws before decision.
    Retirer,
}

impl Event {
    /// Every event.
    pub const ALL: [Event; 14] = [
        Event::Deposer,
        Event::Instruire,
        Event::DemanderComplement,
        Event::Completer,
        Event::RendreAvis,
        Event::Decider,
        Event::Reprogrammer,
        Event::Conventionner,
        Event::Payer,
        Event::AttendreBilan,
        Event::DeposerBilan,
        Event::RenvoyerBilan,
        Event::Clore,
        Event::Retirer,
    ];
    /// Code (URL segment, stored in the audit).
    pub fn code(self) -> &'static str {
        match self {
            Event::Deposer => "deposer",
            Event::Instruire => "instruire",
            Event::DemanderComplement => "demander_complement",
            Event::Completer => "completer",
            Event::RendreAvis => "rendre_avis",
            Event::Decider => "decider",
            Event::Reprogrammer => "reprogrammer",
            Event::Conventionner => "conventionner",
            Event::Payer => "payer",
            Event::AttendreBilan => "attendre_bilan",
            Event::DeposerBilan => "deposer_bilan",
            Event::RenvoyerBilan => "renvoyer_bilan",
            Event::Clore => "clore",
            Event::Retirer => "retirer",
        }
    }
    /// The French infinitive shown in messages and buttons.
    pub fn label(self) -> &'static str {
        match self {
            Event::Deposer => "déposer",
            Event::Instruire => "mettre en instruction",
            Event::DemanderComplement => "demander un complément",
            Event::Completer => "transmettre le complément",
            Event::RendreAvis => "rendre les avis",
            Event::Decider => "décider",
            Event::Reprogrammer => "reprogrammer",
            Event::Conventionner => "conventionner",
            Event::Payer => "payer",
            Event::AttendreBilan => "attendre le bilan",
            Event::DeposerBilan => "déposer le bilan",
            Event::RenvoyerBilan => "renvoyer le bilan",
            Event::Clore => "clore",
            Event::Retirer => "retirer",
        }
    }
    /// Parses a code.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|x| x.code() == s)
            .ok_or_else(|| format!("Action inconnue « {s} » sur un dossier."))
    }
    /// Who may fire the event.
    pub fn actor(self) -> ActorKind {
        match self {
            Event::Deposer | Event::Completer | Event::DeposerBilan | Event::Retirer => {
                ActorKind::Applicant
            }
            Event::Instruire | Event::DemanderComplement | Event::RendreAvis => {
                ActorKind::Instructor
            }
            Event::Decider
            | Event::Reprogrammer
            | Event::Conventionner
            | Event::Payer
            | Event::AttendreBilan
            | Event::RenvoyerBilan
            | Event::Clore => ActorKind::Pilot,
        }
    }
}

/// The kind of person an event belongs to. Pilots may also fire instructors' events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A member of the applying organisation.
    Applicant,
    /// An instructor of a solicited financer (or a pilot).
    Instructor,
    /// The pilot's team (payments are recorded by the paying financer too).
    Pilot,
}

/// A financer's opinion on its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Opinion {
    /// Favourable.
    Favorable,
    /// Favourable with reservations or a reduced amount.
    Reserve,
    /// Unfavourable.
    Defavorable,
}

impl Opinion {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Opinion::Favorable => "favorable",
            Opinion::Reserve => "reserve",
            Opinion::Defavorable => "defavorable",
        }
    }
    /// French label.
    pub fn label(self) -> &'static str {
        match self {
            Opinion::Favorable => "favorable",
            Opinion::Reserve => "favorable avec réserves",
            Opinion::Defavorable => "défavorable",
        }
    }
    /// Parses a code.
    pub fn parse(s: &str) -> Result<Self, String> {
        [Opinion::Favorable, Opinion::Reserve, Opinion::Defavorable]
            .into_iter()
            .find(|x| x.code() == s)
            .ok_or_else(|| {
                "Choisissez un avis : favorable, favorable avec réserves ou défavorable."
                    .to_string()
            })
    }
}

/// The committee's decision on one financer line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Granted (with an amount).
    Accorde,
    /// Refused.
    Refuse,
    /// Postponed to a later committee.
    Ajourne,
}

impl Decision {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Decision::Accorde => "accorde",
            Decision::Refuse => "refuse",
            Decision::Ajourne => "ajourne",
        }
    }
    /// French label.
    pub fn label(self) -> &'static str {
        match self {
            Decision::Accorde => "accordé",
            Decision::Refuse => "refusé",
            Decision::Ajourne => "ajourné",
        }
    }
    /// Parses a code.
    pub fn parse(s: &str) -> Result<Self, String> {
        [Decision::Accorde, Decision::Refuse, Decision::Ajourne]
            .into_iter()
            .find(|x| x.code() == s)
            .ok_or_else(|| "Choisissez une décision : accordé, refusé ou ajourné.".to_string())
    }
}

/// What the guards look at on the financer lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinesSummary {
    /// Number of financer lines.
    pub lines: usize,
    /// Lines with an opinion.
    pub with_opinion: usize,
    /// Lines with a decision.
    pub decided: usize,
    /// Lines granted.
    pub granted: usize,
    /// Lines postponed.
    pub postponed: usize,
}

/// Everything a guard may need besides the status.
#[derive(Debug, Clone, Default)]
pub struct Guards {
    /// The financer lines.
    pub lines: LinesSummary,
    /// Pieces missing for submission (French), empty when complete.
    pub missing: Vec<String>,
    /// The call is closed to submissions (with its closing date, French).
    pub call_closed: Option<String>,
    /// A message accompanies the event (required for requests of information).
    pub has_message: bool,
    /// Amount still to pay on the agreements (cents).
    pub left_to_pay: i64,
}

/// Why a transition was refused (French, for the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The workflow has no such arrow from this status.
    #[error("Impossible de {action} un dossier « {status} ».")]
    NotFromHere {
        /// The event's label.
        action: &'static str,
        /// The current status label.
        status: &'static str,
    },
    /// A guard refused it.
    #[error("{0}")]
    Guard(String),
}

/// The status an event leads to from `from`, if the guards allow it.
pub fn transition(from: Status, event: Event, g: &Guards) -> Result<Status, TransitionError> {
    use Event as E;
    use Status as S;
    let refuse = || TransitionError::NotFromHere {
        action: event.label(),
        status: from.label(),
    };
    let guard = |ok: bool, msg: String| {
        if ok {
            Ok(())
        } else {
            Err(TransitionError::Guard(msg))
        }
    };
    let to = match (from, event) {
        (S::Brouillon, E::Deposer) => {
            if let Some(closed) = &g.call_closed {
                return Err(TransitionError::Guard(closed.clone()));
            }
            guard(
                g.missing.is_empty(),
                format!("Le dossier est incomplet : {}", g.missing.join(" ")),
            )?;
            S::Depose
        }
        (S::Depose, E::Instruire) => S::EnInstruction,
        (S::EnInstruction, E::DemanderComplement) => {
            guard(
                g.has_message,
                "Écrivez ce qui est demandé au porteur de projet.".into(),
            )?;
            S::ComplementDemande
        }
        (S::ComplementDemande, E::Completer) => {
            guard(
                g.missing.is_empty(),
                format!("Le dossier est incomplet : {}", g.missing.join(" ")),
            )?;
            S::EnInstruction
        }
        (S::EnInstruction, E::RendreAvis) => {
            guard(
                g.lines.lines > 0 && g.lines.with_opinion == g.lines.lines,
                format!(
                    "Tous les financeurs n'ont pas rendu leur avis ({} sur {}).",
                    g.lines.with_opinion, g.lines.lines
                ),
            )?;
            S::AvisRendus
        }
        (S::AvisRendus, E::Decider) => {
            guard(
                g.lines.decided == g.lines.lines,
                format!(
                    "Toutes les lignes de financement ne sont pas décidées ({} sur {}).",
                    g.lines.decided, g.lines.lines
                ),
            )?;
            S::Decide
        }
        (S::Decide, E::Reprogrammer) => {
            guard(
                g.lines.postponed > 0,
                "Aucune ligne n'est ajournée : rien à reprogrammer.".into(),
            )?;
            S::AvisRendus
        }
        (S::Decide, E::Conventionner) => {
            guard(
                g.lines.granted > 0,
                "Aucune ligne n'est accordée : il n'y a rien à conventionner.".into(),
            )?;
            S::Conventionne
        }
        (S::Conventionne, E::Payer) => S::Paye,
        (S::Paye, E::Payer) => S::Paye,
        (S::Paye, E::AttendreBilan) | (S::Conventionne, E::AttendreBilan) => S::BilanAttendu,
        (S::BilanAttendu, E::Payer) => S::BilanAttendu,
        (S::Conventionne | S::Paye | S::BilanAttendu, E::DeposerBilan) => S::BilanDepose,
        (S::BilanDepose, E::RenvoyerBilan) => {
            guard(
                g.has_message,
                "Écrivez ce qui doit être corrigé dans le bilan.".into(),
            )?;
            S::BilanAttendu
        }
        (S::BilanDepose, E::Payer) => S::BilanDepose,
        (S::BilanDepose, E::Clore) => {
            guard(
                g.left_to_pay == 0,
                "Il reste des sommes à payer sur les conventions : enregistrez le solde avant de clore.".into(),
            )?;
            S::Clos
        }
        (S::Decide, E::Clore) => {
            guard(
                g.lines.granted == 0 && g.lines.postponed == 0,
                "Des lignes sont accordées ou ajournées : le dossier ne peut pas être clos maintenant.".into(),
            )?;
            S::Clos
        }
        (
            S::Brouillon | S::Depose | S::EnInstruction | S::ComplementDemande | S::AvisRendus,
            E::Retirer,
        ) => S::Retire,
        _ => return Err(refuse()),
    };
    Ok(to)
}

/// The events that the workflow allows from `from` (guards aside), for the buttons of a page.
pub fn events_from(from: Status) -> Vec<Event> {
    let all_ok = Guards {
        lines: LinesSummary {
            lines: 1,
            with_opinion: 1,
            decided: 1,
            granted: 1,
            postponed: 1,
        },
        has_message: true,
        ..Default::default()
    };
    Event::ALL
        .into_iter()
        .filter(|e| match transition(from, *e, &all_ok) {
            Ok(_) => true,
            Err(TransitionError::Guard(_)) => true,
            Err(TransitionError::NotFromHere { .. }) => false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize, opinion: usize, decided: usize, granted: usize) -> Guards {
        Guards {
            lines: LinesSummary {
                lines: n,
                with_opinion: opinion,
                decided,
                granted,
                postponed: 0,
            },
            ..Default::default()
        }
    }

    #[test]
    fn full_happy_path() {
        let g = Guards {
            has_message: true,
            ..lines(3, 3, 3, 2)
        };
        let path = [
            (Event::Deposer, Status::Depose),
            (Event::Instruire, Status::EnInstruction),
            (Event::DemanderComplement, Status::ComplementDemande),
            (Event::Completer, Status::EnInstruction),
            (Event::RendreAvis, Status::AvisRendus),
            (Event::Decider, Status::Decide),
            (Event::Conventionner, Status::Conventionne),
            (Event::Payer, Status::Paye),
            (Event::Payer, Status::Paye),
            (Event::AttendreBilan, Status::BilanAttendu),
            (Event::DeposerBilan, Status::BilanDepose),
            (Event::Clore, Status::Clos),
        ];
        let mut s = Status::Brouillon;
        for (e, expected) in path {
            s = transition(s, e, &g).unwrap_or_else(|err| panic!("{e:?} from {s:?}: {err}"));
            assert_eq!(s, expected);
        }
    }

    #[test]
    fn forbidden_arrows_say_what_and_where() {
        let err = transition(Status::Clos, Event::Deposer, &Guards::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Impossible de déposer un dossier « clos »."
        );
        assert!(transition(Status::Decide, Event::Retirer, &Guards::default()).is_err());
        assert!(transition(Status::Depose, Event::Deposer, &Guards::default()).is_err());
    }

    #[test]
    fn guards_refuse_with_reasons() {
        let incomplete = Guards {
            missing: vec!["Il manque le titre.".into()],
            ..Default::default()
        };
        let e = transition(Status::Brouillon, Event::Deposer, &incomplete).unwrap_err();
        assert!(e.to_string().contains("Il manque le titre"));
        let closed = Guards {
            call_closed: Some("L'appel à projets est clos depuis le 31 octobre 2025.".into()),
            ..Default::default()
        };
        assert!(transition(Status::Brouillon, Event::Deposer, &closed)
            .unwrap_err()
            .to_string()
            .contains("clos depuis"));
        assert!(
            transition(Status::EnInstruction, Event::RendreAvis, &lines(3, 2, 0, 0))
                .unwrap_err()
                .to_string()
                .contains("2 sur 3")
        );
        assert!(transition(Status::AvisRendus, Event::Decider, &lines(3, 3, 1, 1)).is_err());
        assert!(transition(Status::Decide, Event::Conventionner, &lines(3, 3, 3, 0)).is_err());
        assert!(transition(
            Status::EnInstruction,
            Event::DemanderComplement,
            &Guards::default()
        )
        .is_err());
        let unpaid = Guards {
            left_to_pay: 100,
            ..Default::default()
        };
        assert!(transition(Status::BilanDepose, Event::Clore, &unpaid).is_err());
    }

    #[test]
    fn withdrawal_only_before_decision() {
        for s in [
            Status::Brouillon,
            Status::Depose,
            Status::EnInstruction,
            Status::ComplementDemande,
            Status::AvisRendus,
        ] {
            assert_eq!(
                transition(s, Event::Retirer, &Guards::default()),
                Ok(Status::Retire)
            );
        }
        for s in [Status::Decide, Status::Conventionne, Status::Clos] {
            assert!(transition(s, Event::Retirer, &Guards::default()).is_err());
        }
    }

    #[test]
    fn refused_everywhere_can_be_closed_after_decision() {
        assert_eq!(
            transition(Status::Decide, Event::Clore, &lines(2, 2, 2, 0)),
            Ok(Status::Clos)
        );
        assert!(transition(Status::Decide, Event::Clore, &lines(2, 2, 2, 1)).is_err());
    }

    #[test]
    fn codes_round_trip_and_buttons_follow_the_arrows() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.code()), Ok(s));
        }
        for e in Event::ALL {
            assert_eq!(Event::parse(e.code()), Ok(e));
        }
        assert_eq!(
            events_from(Status::Brouillon),
            vec![Event::Deposer, Event::Retirer]
        );
        assert!(events_from(Status::Clos).is_empty());
        assert!(Opinion::parse("bof").is_err());
        assert_eq!(Decision::parse("ajourne"), Ok(Decision::Ajourne));
    }
}
