//! Who may do what: grants on every kind of object (columns too), owners,
//! and `ALTER DEFAULT PRIVILEGES`. A statement naming a role that CURRENT
//! lacks is skipped and said so ([`Plan::push_naming`]): a migration cannot
//! create roles.

use super::{Phase, Plan, Statement};
use crate::model::*;
use crate::sql::ident;
use std::collections::BTreeSet;

/// A role as SQL: `PUBLIC` bare, any other name quoted when needed.
pub(crate) fn grantee(role: &str) -> String {
    if role == "PUBLIC" {
        role.to_string()
    } else {
        ident(role)
    }
}

/// `REVOKE`/`GRANT` so `on` has exactly `desired`'s privileges.
pub(crate) fn grants(
    plan: &mut Plan,
    on: &str,
    current: &BTreeSet<Grant>,
    desired: &BTreeSet<Grant>,
) {
    changes(plan, &Target::Object(on), current, desired);
}

/// `REVOKE`/`GRANT` of column privileges (`GRANT SELECT (col) ON TABLE t`).
pub(crate) fn column_grants(
    plan: &mut Plan,
    table: &QName,
    column: &str,
    current: &BTreeSet<Grant>,
    desired: &BTreeSet<Grant>,
) {
    changes(plan, &Target::Column(table, column), current, desired);
}

enum Target<'a> {
    Object(&'a str),
    Column(&'a QName, &'a str),
}

impl Target<'_> {
    /// `PRIVILEGE ON what`, or `PRIVILEGE (column) ON TABLE what`.
    fn privilege_on(&self, privilege: &str) -> String {
        match self {
            Target::Object(on) => format!("{privilege} ON {on}"),
            Target::Column(table, column) => {
                format!("{privilege} ({}) ON TABLE {table}", ident(column))
            }
        }
    }
}

fn changes(
    plan: &mut Plan,
    target: &Target<'_>,
    current: &BTreeSet<Grant>,
    desired: &BTreeSet<Grant>,
) {
    for g in current.difference(desired) {
        plan.push_naming(
            Phase::Grants,
            Statement::new(format!(
                "REVOKE {} FROM {}",
                target.privilege_on(&g.privilege),
                grantee(&g.grantee)
            )),
            [g.grantee.as_str()],
        );
    }
    for g in desired.difference(current) {
        let option = if g.grantable {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        plan.push_naming(
            Phase::Grants,
            Statement::new(format!(
                "GRANT {} TO {}{option}",
                target.privilege_on(&g.privilege),
                grantee(&g.grantee)
            )),
            [g.grantee.as_str()],
        );
    }
}

/// `ALTER what OWNER TO desired` when the owner differs. A new or
/// re-created object (`current` is `None`) belongs to whoever runs the
/// migration.
pub(crate) fn owner(plan: &mut Plan, what: &str, current: Option<&str>, desired: &str) {
    let current = current.unwrap_or(&plan.runner);
    if current == desired {
        return;
    }
    plan.push_naming(
        Phase::Owners,
        Statement::new(format!("ALTER {what} OWNER TO {}", ident(desired))),
        [desired],
    );
}

/// The privileges a new object gets when no `ALTER DEFAULT PRIVILEGES`
/// entry says otherwise, the owner's own left out: PostgreSQL lets everyone
/// execute functions and use types.
pub(crate) fn built_in_default(key: &DefaultPrivilegeKey) -> BTreeSet<Grant> {
    let public = |privilege: &str| Grant {
        grantee: "PUBLIC".into(),
        privilege: privilege.into(),
        grantable: false,
    };
    match (key.schema.is_none(), key.object_type.as_str()) {
        (true, "FUNCTIONS") => BTreeSet::from([public("EXECUTE")]),
        (true, "TYPES") => BTreeSet::from([public("USAGE")]),
        _ => BTreeSet::new(),
    }
}

/// `ALTER DEFAULT PRIVILEGES` so every entry of DESIRED holds on CURRENT.
/// An entry missing on one side is PostgreSQL's built-in default (for all
/// schemas) or nothing (for one schema, which only adds to the former).
/// They run before the migration creates anything, so what it creates
/// starts with DESIRED's defaults ([`Plan::created_grants`]).
pub(crate) fn default_privileges(plan: &mut Plan, current: &Schema, desired: &Schema) {
    let keys: BTreeSet<&DefaultPrivilegeKey> = current
        .default_privileges
        .keys()
        .chain(desired.default_privileges.keys())
        .collect();
    for key in keys {
        let effective = |s: &Schema| {
            s.default_privileges
                .get(key)
                .cloned()
                .unwrap_or_else(|| built_in_default(key))
        };
        let (cur, des) = (effective(current), effective(desired));
        if cur == des {
            continue;
        }
        let mut head = format!("ALTER DEFAULT PRIVILEGES FOR ROLE {}", ident(&key.role));
        if let Some(schema) = &key.schema {
            head += &format!(" IN SCHEMA {}", ident(schema));
        }
        let kind = &key.object_type;
        // Entries for one schema wait for it to exist.
        let phase = if key.schema.is_some() {
            Phase::SchemaDefaultPrivileges
        } else {
            Phase::DefaultPrivileges
        };
        for g in cur.difference(&des) {
            plan.push_naming(
                phase,
                Statement::new(format!(
                    "{head} REVOKE {} ON {kind} FROM {}",
                    g.privilege,
                    grantee(&g.grantee)
                )),
                [key.role.as_str(), g.grantee.as_str()],
            );
        }
        for g in des.difference(&cur) {
            let option = if g.grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            };
            plan.push_naming(
                phase,
                Statement::new(format!(
                    "{head} GRANT {} ON {kind} TO {}{option}",
                    g.privilege,
                    grantee(&g.grantee)
                )),
                [key.role.as_str(), g.grantee.as_str()],
            );
        }
    }
}
