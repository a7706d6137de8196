//! The difference between two schemas as one migration: statements that,
//! applied to CURRENT in one transaction, make its schema equal DESIRED's.
//!
//! Statements go into phases that follow the dependency graph: objects that
//! depend on something about to change (views on a column whose type
//! changes, triggers on a function that is re-created, foreign keys on a
//! dropped unique key) are dropped first and created again at the end; new
//! tables exist before the foreign keys that reference them; functions
//! exist before the defaults and checks that call them; what is dropped
//! for good goes last, dependents first.

mod functions;
mod objects;
mod privileges;
mod tables;

use crate::model::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Why a statement deserves a second look before it runs on a live database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hazard {
    /// `data_loss`, `table_rewrite`, `long_lock`, `probable_rename`, or
    /// `missing_role` for a statement that was skipped.
    pub kind: &'static str,
    pub explanation: String,
}

impl Hazard {
    pub(crate) fn new(kind: &'static str, explanation: impl Into<String>) -> Self {
        Hazard {
            kind,
            explanation: explanation.into(),
        }
    }
}

/// One SQL statement of a migration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Statement {
    /// The statement, without its final semicolon.
    pub sql: String,
    pub hazards: Vec<Hazard>,
    /// A form of the statement that avoids the long lock but must run
    /// outside a transaction (`CREATE INDEX CONCURRENTLY`).
    pub concurrently: Option<String>,
}

impl Statement {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            hazards: vec![],
            concurrently: None,
        }
    }

    pub(crate) fn hazard(mut self, kind: &'static str, explanation: impl Into<String>) -> Self {
        self.hazards.push(Hazard::new(kind, explanation));
        self
    }
}

/// The statements that turn CURRENT into DESIRED, in the order they run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Migration {
    pub statements: Vec<Statement>,
    /// Statements left out because they name a role CURRENT does not have
    /// (a migration cannot create roles), each with a `missing_role`
    /// hazard saying which. The schemas stay different until someone
    /// creates the role and diffs again.
    pub skipped: Vec<Statement>,
}

impl Migration {
    /// Whether the two schemas were equal.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty() && self.skipped.is_empty()
    }

    /// Every hazard with the statement it precedes.
    pub fn hazards(&self) -> impl Iterator<Item = (&Statement, &Hazard)> {
        self.statements
            .iter()
            .flat_map(|s| s.hazards.iter().map(move |h| (s, h)))
    }
}

/// The migration as a SQL script: each hazard as a `-- hazard: KIND:
/// explanation` line before its statement; empty for equal schemas.
impl fmt::Display for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for statement in &self.skipped {
            for hazard in &statement.hazards {
                writeln!(
                    f,
                    "-- skipped: {}: {}",
                    hazard.kind,
                    hazard.explanation.replace('\n', " ")
                )?;
            }
            writeln!(
                f,
                "-- {};\n",
                statement
                    .sql
                    .trim_end()
                    .trim_end_matches(';')
                    .replace('\n', "\n-- ")
            )?;
        }
        for statement in &self.statements {
            for hazard in &statement.hazards {
                writeln!(
                    f,
                    "-- hazard: {}: {}",
                    hazard.kind,
                    hazard.explanation.replace('\n', " ")
                )?;
            }
            if let Some(concurrently) = &statement.concurrently {
                writeln!(
                    f,
                    "-- concurrently (run outside the transaction instead): {concurrently};"
                )?;
            }
            writeln!(f, "{};\n", statement.sql.trim_end().trim_end_matches(';'))?;
        }
        Ok(())
    }
}

/// The phases a migration's statements are sorted into, in running order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Settings,
    DefaultPrivileges,
    CreateSchemas,
    SchemaDefaultPrivileges,
    Extensions,
    Types,
    DropTriggersPolicies,
    DropViews,
    DropForeignKeys,
    DropConstraintsIndexes,
    DropDefaults,
    DropRecreatedTables,
    DropAggregates,
    DropFunctions,
    SwapTypes,
    Sequences,
    Functions,
    CreateTables,
    AlterTables,
    SwapColumns,
    DropOldTypes,
    SequenceOwners,
    AtomicFunctions,
    Aggregates,
    Constraints,
    Inherit,
    ForeignKeys,
    Indexes,
    Views,
    ViewIndexes,
    TriggersPolicies,
    Comments,
    Owners,
    Grants,
    DropTables,
    DropSequences,
    DropFunctionsForGood,
    DropTypes,
    DropSchemas,
    DropExtensions,
}

/// Statements collected per phase.
pub(crate) struct Plan {
    phases: BTreeMap<Phase, Vec<Statement>>,
    /// Roles CURRENT has.
    roles: BTreeSet<String>,
    /// The role taken to run the migration: it owns what the migration creates.
    pub(crate) runner: String,
    /// DESIRED's default privileges, which the migration sets before it
    /// creates anything.
    defaults: BTreeMap<DefaultPrivilegeKey, BTreeSet<Grant>>,
    skipped: Vec<Statement>,
}

impl Plan {
    fn new(current: &Schema, desired: &Schema) -> Plan {
        Plan {
            phases: BTreeMap::new(),
            roles: current.roles.clone(),
            runner: current.user.clone(),
            defaults: desired.default_privileges.clone(),
            skipped: vec![],
        }
    }

    /// The privileges an object of `object_type` (`TABLES`, `FUNCTIONS`…)
    /// that the migration creates in `schema` starts with: the runner's
    /// default privileges, the owner's own left out.
    pub(crate) fn created_grants(
        &self,
        object_type: &str,
        schema: Option<&str>,
    ) -> BTreeSet<Grant> {
        let key = |schema: Option<&str>| DefaultPrivilegeKey {
            role: self.runner.clone(),
            schema: schema.map(str::to_string),
            object_type: object_type.to_string(),
        };
        let global = key(None);
        let mut grants = self
            .defaults
            .get(&global)
            .cloned()
            .unwrap_or_else(|| privileges::built_in_default(&global));
        if schema.is_some() {
            if let Some(extra) = self.defaults.get(&key(schema)) {
                grants.extend(extra.iter().cloned());
            }
        }
        grants
    }

    pub(crate) fn push(&mut self, phase: Phase, statement: Statement) {
        self.phases.entry(phase).or_default().push(statement);
    }

    /// Pushes a statement that names `roles`, or skips it (with a
    /// `missing_role` hazard) when CURRENT lacks one of them.
    pub(crate) fn push_naming<'r>(
        &mut self,
        phase: Phase,
        statement: Statement,
        roles: impl IntoIterator<Item = &'r str>,
    ) {
        let missing: Vec<&str> = roles
            .into_iter()
            .filter(|r| *r != "PUBLIC" && !self.roles.contains(*r))
            .collect();
        if missing.is_empty() {
            self.push(phase, statement);
            return;
        }
        let names: Vec<String> = missing.iter().map(|r| crate::sql::ident(r)).collect();
        let explanation = format!(
            "role {} does not exist on CURRENT and a migration cannot create roles: create it (CREATE ROLE), then diff again",
            names.join(", ")
        );
        self.skipped
            .push(statement.hazard("missing_role", explanation));
    }

    fn into_migration(mut self) -> Migration {
        let creates_functions = self.phases.contains_key(&Phase::Functions)
            || self.phases.contains_key(&Phase::AtomicFunctions);
        if creates_functions {
            // Function bodies may name tables created later in the script.
            self.push(
                Phase::Settings,
                Statement::new("SET LOCAL check_function_bodies = off"),
            );
        }
        Migration {
            statements: self.phases.into_values().flatten().collect(),
            skipped: self.skipped,
        }
    }
}

/// What changes in a way that forces dependents out and back in.
#[derive(Default)]
pub(crate) struct Disruption {
    /// Columns whose type changes, that are dropped or re-added.
    pub columns: BTreeSet<(QName, String)>,
    /// Tables, views and materialized views dropped or re-created.
    pub relations: BTreeSet<QName>,
    /// Functions dropped or re-created.
    pub functions: BTreeSet<String>,
    /// Types re-created (enums swapped for a new type).
    pub types: BTreeSet<QName>,
    /// Unique keys and indexes dropped or re-created, per table (foreign
    /// keys that reference that table lean on them).
    pub keys_of: BTreeSet<QName>,
}

impl Disruption {
    pub(crate) fn hits(&self, deps: &[Dependency]) -> bool {
        deps.iter().any(|d| match d {
            Dependency::Relation(r) => self.relations.contains(r),
            Dependency::Column(r, c) => {
                self.relations.contains(r) || self.columns.contains(&(r.clone(), c.clone()))
            }
            Dependency::Function(f) => self.functions.contains(f),
            Dependency::Type(t) => self.types.contains(t),
        })
    }
}

/// The migration that makes `current` equal `desired`.
pub fn diff(current: &Schema, desired: &Schema) -> Migration {
    let mut plan = Plan::new(current, desired);
    let mut disruption = Disruption::default();
    let recreated_tables = tables::recreated(current, desired);
    for name in &recreated_tables {
        disruption.relations.insert(name.clone());
    }
    objects::schemas_and_extensions(&mut plan, current, desired);
    objects::types(&mut plan, &mut disruption, current, desired);
    functions::function_changes(&mut plan, &mut disruption, current, desired);
    objects::sequences(&mut plan, current, desired);
    tables::tables(
        &mut plan,
        &mut disruption,
        current,
        desired,
        &recreated_tables,
    );
    objects::dependents(
        &mut plan,
        &mut disruption,
        current,
        desired,
        &recreated_tables,
    );
    functions::event_triggers(&mut plan, &disruption, current, desired);
    privileges::default_privileges(&mut plan, current, desired);
    plan.into_migration()
}
