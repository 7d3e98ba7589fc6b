//! drover's state store. Every change arrives as a [`Command`] with the log index it was
//! committed at; [`StateStore::apply`] is deterministic (timestamps and IDs travel inside the
//! command), so the same log always yields the same state — the property a replicated log needs.
//! Reads take a cheap copy-on-write [`Snapshot`]; blocking queries wait on table indexes.

#![forbid(unsafe_code)]

mod acl;
mod apply;
mod command;
mod keyring;
mod services;
mod store;
mod tables;
#[cfg(test)]
mod tests;
mod variables;

pub use command::Command;
pub use store::{StateStore, Table, table_index as table_index_of};
pub use tables::{RootKey, Snapshot, Tables};
pub use variables::{VariableEncrypted, VariableKey, cas_allows};
