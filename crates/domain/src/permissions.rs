//! Roles and the permission rule, in one place for pages, API and CLI.

use serde::{Deserialize, Serialize};

/// A role a user holds on one contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The pilot's policy team: edits everything of the contract.
    Pilote,
    /// A financer institution's staff.
    Financeur,
    /// A project carrier organisation's staff.
    Porteur,
    /// Read-only member.
    Lecteur,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 4] = [Role::Pilote, Role::Financeur, Role::Porteur, Role::Lecteur];
    /// The code stored and typed on the CLI.
    pub fn code(self) -> &'static str {
        match self {
            Role::Pilote => "pilote",
            Role::Financeur => "financeur",
            Role::Porteur => "porteur",
            Role::Lecteur => "lecteur",
        }
    }
    /// French label.
    pub fn label(self) -> &'static str {
        match self {
            Role::Pilote => "Pilote",
            Role::Financeur => "Financeur",
            Role::Porteur => "Porteur de projet",
            Role::Lecteur => "Lecteur",
        }
    }
    /// Parses a role code.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == s.trim())
            .ok_or_else(|| format!("Rôle inconnu « {s} » : pilote, financeur, porteur ou lecteur (ou admin pour la plateforme)."))
    }
}

/// Who is acting: a signed-in user with their platform flag and contract roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// User id.
    pub user_id: i64,
    /// Email.
    pub email: String,
    /// Platform administrator.
    pub is_admin: bool,
    /// (contract id, role) pairs.
    pub roles: Vec<(i64, Role)>,
    /// (contract id, financer code) pairs: the institution the user acts for on a contract.
    pub funders: Vec<(i64, String)>,
    /// Organisations (project carriers) the user belongs to.
    pub organisations: Vec<i64>,
}

/// Something a principal may try to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create or import a contract.
    CreateContract,
    /// Edit a contract's framework and content (contract id).
    EditContract(i64),
    /// Delete a whole contract.
    DeleteContract(i64),
    /// Manage accounts and roles.
    ManageUsers,
    /// Read the platform's outbox and administration pages.
    Administer,
}

impl Principal {
    /// The role held on a contract, if any.
    pub fn role_on(&self, contract_id: i64) -> Option<Role> {
        self.roles
            .iter()
            .find(|(c, _)| *c == contract_id)
            .map(|(_, r)| *r)
    }

    /// Whether the principal may perform `action`.
    pub fn can(&self, action: Action) -> bool {
        if self.is_admin {
            return true;
        }
        match action {
            Action::EditContract(c) => self.role_on(c) == Some(Role::Pilote),
            Action::CreateContract
            | Action::DeleteContract(_)
            | Action::ManageUsers
            | Action::Administer => false,
        }
    }
}

/// Whether an anonymous visitor or a principal may perform `action`.
pub fn allowed(who: Option<&Principal>, action: Action) -> bool {
    who.is_some_and(|p| p.can(action))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: Vec<(i64, Role)>) -> Principal {
        Principal {
            user_id: 1,
            email: "a@b.fr".into(),
            is_admin: false,
            roles,
            ..Default::default()
        }
    }

    #[test]
    fn pilot_edits_only_their_contract() {
        let p = user(vec![(1, Role::Pilote)]);
        assert!(p.can(Action::EditContract(1)));
        assert!(!p.can(Action::EditContract(2)));
        assert!(!p.can(Action::CreateContract));
        assert!(!p.can(Action::DeleteContract(1)));
    }

    #[test]
    fn other_roles_cannot_edit() {
        for r in [Role::Financeur, Role::Porteur, Role::Lecteur] {
            assert!(!user(vec![(1, r)]).can(Action::EditContract(1)), "{r:?}");
        }
        assert!(!allowed(None, Action::EditContract(1)));
    }

    #[test]
    fn admin_can_everything() {
        let a = Principal {
            is_admin: true,
            ..Default::default()
        };
        assert!(
            a.can(Action::ManageUsers)
                && a.can(Action::EditContract(9))
                && a.can(Action::CreateContract)
        );
    }

    #[test]
    fn parses_roles() {
        assert_eq!(Role::parse("pilote").unwrap(), Role::Pilote);
        assert!(Role::parse("chef").is_err());
    }
}
