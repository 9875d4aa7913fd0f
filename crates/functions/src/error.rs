//! [`Error`]: what can go wrong managing or invoking a function, named as AWS Lambda names it.

use std::path::PathBuf;

/// An error of the functions service. [`Error::code`] is the AWS Lambda error name a client
/// matches on (`ResourceNotFoundException`, ...), also the low-cardinality label for logs;
/// [`Error::status`] the HTTP status AWS answers it with. Messages use AWS's wording where it
/// is known (recorded against AWS).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `ResourceNotFoundException` (404): no function by that name (or qualifier).
    #[error("Function not found: {arn}")]
    NotFound { arn: String },
    /// `ResourceNotFoundException` (404) in other words than [`Error::NotFound`]'s (`Cannot
    /// find alias arn: ...`, `Alias not found: ...`).
    #[error("{message}")]
    Missing { message: String },
    /// `ResourceConflictException` (409): CreateFunction of a name that exists.
    #[error("Function already exist: {name}")]
    AlreadyExists { name: String },
    /// `ResourceConflictException` (409) in other words (`Alias already exists: ...`, a version
    /// an alias uses).
    #[error("{message}")]
    Conflict { message: String },
    /// `PreconditionFailedException` (412): a `RevisionId` that is not the current one.
    #[error(
        "The Revision Id provided does not match the latest Revision Id. Call the \
         GetFunction/GetAlias API to retrieve the latest Revision Id"
    )]
    PreconditionFailed,
    /// `ValidationException` (400): a value outside the model's constraints.
    #[error("{message}")]
    Validation { message: String },
    /// `InvalidParameterValueException` (400): a request value the service refuses.
    #[error("{message}")]
    InvalidParameter { message: String },
    /// `RequestEntityTooLargeException` (413): the zipped code is over AWS's 50 MB direct
    /// upload quota (`Zipped size must be smaller than 52428800 bytes`), or a request body is
    /// over its limit.
    #[error("{message}")]
    EntityTooLarge { message: String },
    /// `InvalidRequestContentException` (400): a request part that cannot be read (a client
    /// context that is not base64 JSON).
    #[error("{message}")]
    InvalidRequestContent { message: String },
    /// `RequestTooLargeException` (413): an invocation payload over 6 MB (sync) or 256 KB
    /// (Event).
    #[error("Request must be smaller than {limit} bytes for the InvokeFunction operation")]
    PayloadTooLarge { limit: usize },
    /// `TooManyRequestsException` (429): the function's concurrency limit is reached and its
    /// backlog is full. A retry later can succeed.
    #[error("Rate Exceeded.")]
    TooManyRequests {
        /// AWS's `Reason` member (`ReservedFunctionConcurrentInvocationLimitExceeded`).
        reason: &'static str,
    },
    /// `InvalidRuntimeException` (502): the function's runtime cannot run here (yet).
    #[error("The runtime parameter of {runtime} is not supported by Sluice yet")]
    UnsupportedRuntime { runtime: String },
    /// `ServiceException` (500): Sluice failed (I/O in the data dir, a worker could not start).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// `ServiceException` (500): the function's stored configuration cannot be read.
    #[error("corrupt function record {path}: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    /// `ServiceException` (500): the service is shutting down.
    #[error("The functions service is shutting down")]
    ShuttingDown,
}

impl Error {
    /// The AWS error name.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } | Self::Missing { .. } => "ResourceNotFoundException",
            Self::AlreadyExists { .. } | Self::Conflict { .. } => "ResourceConflictException",
            Self::PreconditionFailed => "PreconditionFailedException",
            Self::Validation { .. } => "ValidationException",
            Self::InvalidParameter { .. } => "InvalidParameterValueException",
            Self::InvalidRequestContent { .. } => "InvalidRequestContentException",
            Self::EntityTooLarge { .. } => "RequestEntityTooLargeException",
            Self::PayloadTooLarge { .. } => "RequestTooLargeException",
            Self::TooManyRequests { .. } => "TooManyRequestsException",
            Self::UnsupportedRuntime { .. } => "InvalidRuntimeException",
            Self::Io { .. } | Self::Corrupt { .. } | Self::ShuttingDown => "ServiceException",
        }
    }

    /// The HTTP status AWS answers the error with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound { .. } | Self::Missing { .. } => 404,
            Self::AlreadyExists { .. } | Self::Conflict { .. } => 409,
            Self::PreconditionFailed => 412,
            Self::InvalidParameter { .. }
            | Self::InvalidRequestContent { .. }
            | Self::Validation { .. } => 400,
            Self::EntityTooLarge { .. } | Self::PayloadTooLarge { .. } => 413,
            Self::TooManyRequests { .. } => 429,
            Self::UnsupportedRuntime { .. } => 502,
            Self::Io { .. } | Self::Corrupt { .. } | Self::ShuttingDown => 500,
        }
    }

    /// Whether the caller is at fault (a retry of the same request cannot help), except
    /// `TooManyRequests`, which a later retry can get through.
    pub fn is_client_error(&self) -> bool {
        self.status() < 500
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidParameter {
            message: message.into(),
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_statuses_and_wording_are_aws_ones() {
        let e = Error::NotFound {
            arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        };
        assert_eq!(e.code(), "ResourceNotFoundException");
        assert_eq!(e.status(), 404);
        assert_eq!(
            e.to_string(),
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        let e = Error::TooManyRequests {
            reason: "ReservedFunctionConcurrentInvocationLimitExceeded",
        };
        assert_eq!((e.code(), e.status()), ("TooManyRequestsException", 429));
        assert_eq!(e.to_string(), "Rate Exceeded.");
        assert_eq!(
            Error::PayloadTooLarge { limit: 6_291_456 }.to_string(),
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
        );
        assert!(!Error::ShuttingDown.is_client_error());
    }
}
