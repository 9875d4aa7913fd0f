//! The store's one error type.

/// What can go wrong in a store. Variants carry what the caller needs to answer its own client;
/// none of them names the backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A write collides with a record that exists: an execution inserted twice, a history event
    /// id recorded twice. The commit holding it was rolled back; retrying it cannot help.
    #[error("conflict: {what}")]
    Conflict { what: String },
    /// A write needs a record that does not exist (updating a missing execution). The commit
    /// holding it was rolled back.
    #[error("not found: {what}")]
    NotFound { what: String },
    /// The backend failed (I/O, disk full, corruption, a schema newer than this build). The
    /// commit was not applied; a retry may help if the cause was transient.
    #[error("storage error: {0}")]
    Storage(String),
    /// The store was closed; nothing was applied.
    #[error("the store is closed")]
    Closed,
    /// A pagination token that this store did not hand out for this listing.
    #[error("invalid pagination token")]
    InvalidToken,
}

impl Error {
    /// A stable, low-cardinality name for logs and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Conflict { .. } => "Conflict",
            Self::NotFound { .. } => "NotFound",
            Self::Storage(_) => "Storage",
            Self::Closed => "Closed",
            Self::InvalidToken => "InvalidToken",
        }
    }
}
