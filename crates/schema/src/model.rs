//! The schema as read from `pg_catalog`: plain data, keyed by qualified
//! names so two databases compare object by object (never by OID).

use crate::sql::ident;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A schema-qualified name (`schema.name`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct QName {
    pub schema: String,
    pub name: String,
}

impl QName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        QName {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

/// Displays as SQL: each part quoted when it needs to be.
impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", ident(&self.schema), ident(&self.name))
    }
}

/// One privilege granted to a role (`PUBLIC` for everyone). The owner's
/// own privileges are left out: they follow the owner, compared apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Grant {
    pub grantee: String,
    pub privilege: String,
    pub grantable: bool,
}

/// A whole database schema: every user object outside `pg_catalog`,
/// `information_schema` and extensions' own members.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Schema {
    pub schemas: BTreeMap<String, Namespace>,
    pub extensions: BTreeMap<String, Extension>,
    pub enums: BTreeMap<QName, Enum>,
    pub domains: BTreeMap<QName, Domain>,
    pub composites: BTreeMap<QName, Composite>,
    pub sequences: BTreeMap<QName, Sequence>,
    pub tables: BTreeMap<QName, Table>,
    pub views: BTreeMap<QName, View>,
    /// Keyed by the SQL signature, `schema.name(identity arguments)`.
    pub functions: BTreeMap<String, Function>,
    pub indexes: BTreeMap<QName, Index>,
    /// Event triggers, by name (they belong to the database, not a schema).
    pub event_triggers: BTreeMap<String, EventTrigger>,
    /// `ALTER DEFAULT PRIVILEGES` entries.
    pub default_privileges: BTreeMap<DefaultPrivilegeKey, BTreeSet<Grant>>,
    /// Roles of the cluster: a migration cannot create them, so a grant or
    /// owner naming one that CURRENT lacks is skipped and said so.
    pub roles: BTreeSet<String>,
    /// The role that read the schema, taken as the one that will run the
    /// migration (and so own what it creates).
    pub user: String,
}

impl Schema {
    /// Number of objects, for summaries.
    pub fn object_count(&self) -> usize {
        self.schemas.len()
            + self.extensions.len()
            + self.enums.len()
            + self.domains.len()
            + self.composites.len()
            + self.sequences.len()
            + self.tables.len()
            + self.views.len()
            + self.functions.len()
            + self.indexes.len()
            + self.event_triggers.len()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Namespace {
    pub owner: String,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extension {
    pub schema: String,
    pub version: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Enum {
    pub labels: Vec<String>,
    pub owner: String,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Domain {
    pub base_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    pub collation: Option<String>,
    /// Constraint name → definition.
    pub constraints: BTreeMap<String, String>,
    pub owner: String,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Composite {
    /// Attribute name and type, in order.
    pub attributes: Vec<(String, String)>,
    pub owner: String,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

/// Options of a sequence (standalone or behind an identity column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SequenceOptions {
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sequence {
    pub options: SequenceOptions,
    /// `table.column` owning it (a `serial`'s sequence).
    pub owned_by: Option<(QName, String)>,
    pub owner: String,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// `GENERATED ALWAYS` (else `BY DEFAULT`).
    pub always: bool,
    pub options: SequenceOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    /// The type with its modifiers, as `format_type` writes it.
    pub type_name: String,
    pub not_null: bool,
    pub default: Option<String>,
    pub identity: Option<Identity>,
    /// The expression of a `GENERATED ALWAYS AS (…) STORED` column.
    pub generated: Option<String>,
    /// A collation other than the type's default.
    pub collation: Option<String>,
    pub comment: Option<String>,
    /// Functions and types the default depends on (to drop and set it again
    /// around a function's re-creation).
    pub default_depends_on: Vec<Dependency>,
    /// Column-level privileges (`GRANT SELECT (col) ON …`).
    pub grants: BTreeSet<Grant>,
    /// Comes from a parent table (`INHERITS`) and is not declared by this
    /// table itself.
    pub inherited: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TableKind {
    Regular,
    Partitioned,
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub kind: TableKind,
    pub unlogged: bool,
    pub columns: Vec<Column>,
    pub constraints: BTreeMap<String, Constraint>,
    pub triggers: BTreeMap<String, Trigger>,
    pub policies: BTreeMap<String, Policy>,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    /// `PARTITION BY` clause of a partitioned table (`RANGE (created_at)`).
    pub partition_key: Option<String>,
    /// The parent and bound (`FOR VALUES …`) of a partition.
    pub partition_of: Option<(QName, String)>,
    /// Parents of a table that `INHERITS` (not a partition), in order.
    pub inherits: Vec<QName>,
    pub options: Vec<String>,
    pub owner: String,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Something an object depends on, as recorded in `pg_depend`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Dependency {
    /// A whole table, view or sequence.
    Relation(QName),
    /// One column of a table or view.
    Column(QName, String),
    /// A function, by its signature key.
    Function(String),
    /// A type (enum, domain, composite).
    Type(QName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    ForeignKey,
    Check,
    Exclusion,
}

#[derive(Debug, Clone, Serialize)]
pub struct Constraint {
    pub kind: ConstraintKind,
    /// As `pg_get_constraintdef` writes it (with ON DELETE, DEFERRABLE, NOT VALID).
    pub definition: String,
    pub columns: Vec<String>,
    /// For a foreign key: the referenced table and columns.
    pub references: Option<(QName, Vec<String>)>,
    pub comment: Option<String>,
    pub depends_on: Vec<Dependency>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Index {
    pub table: QName,
    /// The full `CREATE INDEX` statement from `pg_get_indexdef`.
    pub definition: String,
    pub comment: Option<String>,
    pub depends_on: Vec<Dependency>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trigger {
    /// The full `CREATE TRIGGER` statement from `pg_get_triggerdef`.
    pub definition: String,
    /// `O` enabled, `D` disabled, `R` replica, `A` always.
    pub enabled: String,
    pub comment: Option<String>,
    pub depends_on: Vec<Dependency>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub permissive: bool,
    /// ALL, SELECT, INSERT, UPDATE or DELETE.
    pub command: String,
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
    pub comment: Option<String>,
    pub depends_on: Vec<Dependency>,
}

#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub materialized: bool,
    /// The query, from `pg_get_viewdef`.
    pub definition: String,
    pub options: Vec<String>,
    pub columns: Vec<(String, String)>,
    /// `INSTEAD OF` triggers (a view has no other kind).
    pub triggers: BTreeMap<String, Trigger>,
    pub owner: String,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
    pub depends_on: Vec<Dependency>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Function {
    pub name: QName,
    /// `f` function, `p` procedure, `w` window function, `a` aggregate.
    pub kind: String,
    pub identity_arguments: String,
    /// Arguments with names and defaults (a change needs a drop and create).
    pub arguments: String,
    /// The result type (a change needs a drop and create).
    pub result: Option<String>,
    /// The full `CREATE OR REPLACE` text from `pg_get_functiondef`, or the
    /// `CREATE AGGREGATE` of an aggregate.
    pub definition: String,
    /// A `BEGIN ATOMIC` body, whose references are checked at creation.
    pub sql_body: bool,
    pub owner: String,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
    /// Functions an aggregate is made of (state, final, combine…).
    pub depends_on: Vec<Dependency>,
}

/// An event trigger (`CREATE EVENT TRIGGER`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventTrigger {
    /// `ddl_command_start`, `ddl_command_end`, `sql_drop`, `table_rewrite`.
    pub event: String,
    /// Command tags of `WHEN TAG IN (…)`, empty for every command.
    pub tags: Vec<String>,
    /// The function it runs.
    pub function: QName,
    /// The function's signature key, for dependencies.
    pub function_key: String,
    /// `O` enabled, `D` disabled, `R` replica, `A` always.
    pub enabled: String,
    pub owner: String,
    pub comment: Option<String>,
}

/// Whose new objects, in which schema (all schemas when `None`), of which
/// kind an `ALTER DEFAULT PRIVILEGES` entry is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct DefaultPrivilegeKey {
    pub role: String,
    pub schema: Option<String>,
    /// `TABLES`, `SEQUENCES`, `FUNCTIONS`, `TYPES` or `SCHEMAS`.
    pub object_type: String,
}
