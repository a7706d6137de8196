//! PostgreSQL schema sync: [`introspect`] reads a database's schema from
//! `pg_catalog` into a [`Schema`], [`diff`] turns two schemas into the
//! migration that makes the current one equal the desired one (ordered by
//! dependencies, each risky statement with its hazard), and [`erd`] draws a
//! schema as Mermaid `erDiagram` text or an SVG.

mod diff;
pub mod erd;
mod introspect;
mod model;
mod sql;

pub use diff::{diff, Hazard, Migration, Statement};
pub use introspect::{connect, introspect, IntrospectError};
pub use model::*;
