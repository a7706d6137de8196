//! Roles within a workspace and the permissions each grants.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A member's role in one workspace. Each role includes everything the roles
/// before it may do, so they are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads runs, events, artifacts, sessions and workers.
    Viewer,
    /// Also starts, cancels and retries runs.
    Operator,
    /// Also approves or rejects runs someone else requested.
    Approver,
    /// Also manages members, tokens, secrets and settings.
    Admin,
}

/// What a request wants to do; each route needs exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Read,
    Operate,
    Approve,
    Administer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        self >= permission.least_role()
    }
}

impl Permission {
    /// The lowest role that has this permission.
    pub fn least_role(self) -> Role {
        match self {
            Permission::Read => Role::Viewer,
            Permission::Operate => Role::Operator,
            Permission::Approve => Role::Approver,
            Permission::Administer => Role::Admin,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: use viewer, operator, approver or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_adds_one_permission_to_the_one_before() {
        let table: Vec<(Role, Vec<Permission>)> = Role::ALL
            .into_iter()
            .map(|role| {
                let allowed = [
                    Permission::Read,
                    Permission::Operate,
                    Permission::Approve,
                    Permission::Administer,
                ]
                .into_iter()
                .filter(|p| role.allows(*p))
                .collect();
                (role, allowed)
            })
            .collect();
        assert_eq!(
            table,
            vec![
                (Role::Viewer, vec![Permission::Read]),
                (Role::Operator, vec![Permission::Read, Permission::Operate]),
                (
                    Role::Approver,
                    vec![Permission::Read, Permission::Operate, Permission::Approve]
                ),
                (
                    Role::Admin,
                    vec![
                        Permission::Read,
                        Permission::Operate,
                        Permission::Approve,
                        Permission::Administer
                    ]
                ),
            ]
        );
    }

    #[test]
    fn role_names_round_trip_and_unknown_ones_say_what_exists() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(
                serde_json::to_string(&role).unwrap(),
                format!("\"{}\"", role.as_str())
            );
        }
        let err = "owner".parse::<Role>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown role \"owner\": use viewer, operator, approver or admin"
        );
        assert!("Admin".parse::<Role>().is_err(), "names are lower case");
    }
}
