//! drover's ACL system: Nomad's policy language (HCL or JSON), the compiled [`Acl`] that merges
//! the policies of a token or a workload identity, and the permission checks the server asks on
//! every request.
//!
//! The crate is pure: no runtime, no I/O, no state. The server calls [`parse`] when a policy is
//! written (rejecting anything the grammar does not know), compiles a token's policies with
//! [`Acl::from_policies`] (or [`Acl::management`], or [`Acl::for_workload`] for a workload
//! identity), and asks the resulting [`Acl`].
//!
//! ```
//! let policy = drover_acl::parse(r#"
//!     namespace "prod-*" {
//!       policy = "read"
//!       variables {
//!         path "apps/*" { capabilities = ["read"] }
//!       }
//!     }
//! "#).unwrap();
//! let acl = drover_acl::Acl::from_policies(&[&policy]);
//! assert!(acl.allow_namespace_operation("prod-web", drover_acl::capabilities::namespace::READ_JOB));
//! assert!(!acl.allow_namespace_operation("prod-web", drover_acl::capabilities::namespace::SUBMIT_JOB));
//! assert!(acl.allow_variable_operation("prod-web", "apps/db", drover_acl::capabilities::variables::LIST));
//! ```

#![forbid(unsafe_code)]

mod acl;
pub mod capabilities;
mod capability_set;
mod decode;
mod error;
mod glob;
mod hcl_syntax;
mod json_syntax;
mod level;
mod parse;
mod policy;
mod syntax;
mod variables;
mod workload;

pub use acl::{ALL_NAMESPACES, Acl};
pub use error::{ParseError, ParseErrorKind};
pub use level::PolicyLevel;
pub use parse::parse;
pub use policy::{NamedRule, NamespaceRule, OperatorRule, Policy, VariablePathRule};
pub use workload::{JobAclError, WorkloadClaims, validate_job_acl};
