//! Who may see and do what in the funding cycle. Applicants see their organisations'
//! applications; a financer's instructors see the applications that solicit their
//! institution and act on its line only; pilots steer the whole call of their contract;
//! readers (elected officials) read; administrators do everything.

use super::workflow::{ActorKind, Event};
use crate::permissions::{Principal, Role};

/// What an access check needs to know about an application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationScope {
    /// Contract of the call.
    pub contract_id: i64,
    /// Applying organisation.
    pub organisation_id: i64,
    /// Financer codes solicited by the application.
    pub funders: Vec<String>,
}

impl Principal {
    /// Pilot of the contract (or administrator).
    pub fn steers(&self, contract_id: i64) -> bool {
        self.is_admin || self.role_on(contract_id) == Some(Role::Pilote)
    }
    /// The financer codes the user acts for on a contract.
    pub fn funder_codes(&self, contract_id: i64) -> Vec<&str> {
        self.funders
            .iter()
            .filter(|(c, _)| *c == contract_id)
            .map(|(_, f)| f.as_str())
            .collect()
    }
    /// Whether the user acts for financer `funder` on the contract.
    pub fn acts_for(&self, contract_id: i64, funder: &str) -> bool {
        self.is_admin || self.funder_codes(contract_id).contains(&funder)
    }
    /// Member of the organisation.
    pub fn member_of(&self, organisation_id: i64) -> bool {
        self.organisations.contains(&organisation_id)
    }
    /// Instructor of at least one financer the application solicits.
    pub fn instructs(&self, scope: &ApplicationScope) -> bool {
        scope
            .funders
            .iter()
            .any(|f| self.acts_for(scope.contract_id, f))
    }
    /// May read the application.
    pub fn can_view_application(&self, scope: &ApplicationScope) -> bool {
        self.steers(scope.contract_id)
            || self.role_on(scope.contract_id) == Some(Role::Lecteur)
            || self.member_of(scope.organisation_id)
            || self.instructs(scope)
    }
    /// May fire `event` on the application (the workflow's guards come after).
    pub fn can_fire(&self, scope: &ApplicationScope, event: Event) -> bool {
        match event.actor() {
            ActorKind::Applicant => self.is_admin || self.member_of(scope.organisation_id),
            ActorKind::Instructor => self.steers(scope.contract_id) || self.instructs(scope),
            ActorKind::Pilot => self.steers(scope.contract_id),
        }
    }
    /// May give the opinion and proposed amount of `funder`'s line.
    pub fn can_instruct_line(&self, contract_id: i64, funder: &str) -> bool {
        self.acts_for(contract_id, funder)
    }
    /// May record a payment on an agreement of `funder`: the paying financer or a pilot.
    pub fn can_pay(&self, contract_id: i64, funder: &str) -> bool {
        self.steers(contract_id) || self.acts_for(contract_id, funder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> ApplicationScope {
        ApplicationScope {
            contract_id: 1,
            organisation_id: 7,
            funders: vec!["etat".into(), "mel".into()],
        }
    }

    fn user(roles: Vec<(i64, Role)>, funders: Vec<(i64, &str)>, orgs: Vec<i64>) -> Principal {
        Principal {
            user_id: 2,
            email: "x@y.fr".into(),
            is_admin: false,
            roles,
            funders: funders
                .into_iter()
                .map(|(c, f)| (c, f.to_string()))
                .collect(),
            organisations: orgs,
        }
    }

    #[test]
    fn applicant_sees_own_organisation_only() {
        let member = user(vec![], vec![], vec![7]);
        assert!(member.can_view_application(&scope()));
        assert!(member.can_fire(&scope(), Event::Deposer));
        assert!(!member.can_fire(&scope(), Event::Instruire));
        assert!(!member.can_fire(&scope(), Event::Decider));
        let other = user(vec![], vec![], vec![8]);
        assert!(!other.can_view_application(&scope()));
        assert!(!other.can_fire(&scope(), Event::Retirer));
    }

    #[test]
    fn instructor_acts_on_own_line_only() {
        let state = user(vec![(1, Role::Financeur)], vec![(1, "etat")], vec![]);
        assert!(state.can_view_application(&scope()));
        assert!(state.can_fire(&scope(), Event::DemanderComplement));
        assert!(state.can_instruct_line(1, "etat"));
        assert!(!state.can_instruct_line(1, "mel"));
        assert!(!state.can_fire(&scope(), Event::Decider));
        let region = user(vec![(1, Role::Financeur)], vec![(1, "region")], vec![]);
        assert!(!region.can_view_application(&scope()), "not solicited");
        let elsewhere = user(vec![(2, Role::Financeur)], vec![(2, "etat")], vec![]);
        assert!(!elsewhere.can_view_application(&scope()), "other contract");
    }

    #[test]
    fn pilot_steers_reader_reads() {
        let pilot = user(vec![(1, Role::Pilote)], vec![(1, "mel")], vec![]);
        assert!(pilot.can_fire(&scope(), Event::Decider));
        assert!(pilot.can_fire(&scope(), Event::Instruire));
        assert!(pilot.can_instruct_line(1, "mel") && !pilot.can_instruct_line(1, "etat"));
        assert!(pilot.can_pay(1, "etat"));
        assert!(!pilot.can_fire(&scope(), Event::Deposer));
        let reader = user(vec![(1, Role::Lecteur)], vec![], vec![]);
        assert!(reader.can_view_application(&scope()));
        assert!(!reader.can_fire(&scope(), Event::Instruire));
        let admin = Principal {
            is_admin: true,
            ..Default::default()
        };
        assert!(admin.can_fire(&scope(), Event::Clore) && admin.can_instruct_line(1, "etat"));
    }
}
