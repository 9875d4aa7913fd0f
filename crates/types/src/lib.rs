//! Sluice's shared vocabulary: the words several crates would otherwise spell each their own
//! way. Pure data, no I/O and no async (a leaf of the workspace).
//!
//! - [`Scope`]: where resources live (partition, region, account) and the ARNs made there;
//! - [`Arn`]: an ARN parsed once, borrowed from its text, and what its resource names;
//! - [`ExecutionStatus`]: a workflow execution's status, as the store keeps it and the Step
//!   Functions API shows it;
//! - [`page_token`]: the one codec of the opaque `nextToken`s every listing hands out;
//! - [`Backoff`]: the delays between attempts at something that may pass.

mod arn;
mod backoff;
pub mod page_token;
mod scope;
mod status;

pub use arn::{Arn, ArnError, ExecutionName, QualifiedName};
pub use backoff::Backoff;
pub use scope::{PARTITIONS, Scope, partition_for_region};
pub use status::{ExecutionStatus, UnknownStatus};
