//! Why a pattern is refused, in AWS's words.
//!
//! The reasons are the texts AWS's pattern engine (shared by EventBridge, SNS and Lambda)
//! answers with, as recorded against AWS; each service wraps them in its own envelope, which
//! [`PatternError::message`] renders. Jackson's trailing location (`\n at [Source: ...]`) that
//! AWS appends to some reasons is not reproduced.

use crate::Dialect;

/// A refused pattern: the dialect it was parsed for and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct PatternError {
    dialect: Dialect,
    reason: Reason,
}

/// The reason a pattern is refused; `Display` is AWS's reason text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// The text is not JSON (or nests deeper than 128 levels); serde_json's description.
    #[error("{0}")]
    InvalidJson(String),
    #[error("Filter is not an object")]
    NotAnObject,
    #[error("\"{0}\" must be an object or an array")]
    MustBeObjectOrArray(String),
    #[error("Empty arrays are not allowed")]
    EmptyArray,
    #[error("Match value must be String, number, true, false, or null")]
    MatchValueType,
    #[error("Only one key allowed in match expression")]
    OneKeyOnly,
    #[error("Unrecognized match type {0}")]
    UnrecognizedMatchType(String),
    /// `prefix`, `suffix`, `equals-ignore-case`, `wildcard`, or `prefix/suffix` inside
    /// `anything-but`.
    #[error("{0} match pattern must be a string")]
    MustBeString(&'static str),
    #[error("Value of anything-but must be an array or single string/number value.")]
    AnythingButValue,
    #[error("Inside anything but list, start|null|boolean is not supported.")]
    AnythingButListType,
    #[error(
        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
    )]
    AnythingButIgnoreCaseType,
    #[error("Unsupported anything-but pattern: {0}")]
    UnsupportedAnythingBut(String),
    #[error("Null prefix/suffix not allowed")]
    NullPrefixSuffix,
    #[error("exists match pattern must be either true or false.")]
    ExistsNotBoolean,
    #[error("Value of numeric must be an array.")]
    NumericNotArray,
    #[error("Invalid member in numeric match: {0}")]
    NumericInvalidMember(String),
    #[error("Unrecognized numeric range operator: {0}")]
    NumericUnknownOperator(String),
    /// The operator as AWS names it (`equals` for `=`).
    #[error("Value of {0} must be numeric")]
    NumericValue(&'static str),
    #[error("Too many elements in numeric expression")]
    NumericTooManyElements,
    #[error("Bad value in numeric range: {0}")]
    NumericBadRangeValue(String),
    #[error("Bad numeric range operator: {0}")]
    NumericBadRangeOperator(String),
    #[error("Bottom must be less than top")]
    NumericBottomNotBelowTop,
    #[error("Too many terms in numeric range expression")]
    NumericTooManyTerms,
    #[error("Malformed CIDR, one '/' required")]
    CidrOneSlash,
    #[error("Malformed CIDR, mask bits must be an integer")]
    CidrMaskBits,
    #[error("Nonstandard IP address: {0}")]
    NonstandardIp(String),
    /// Zero-based position of the second `*`.
    #[error("Consecutive wildcard characters at pos {0}")]
    ConsecutiveWildcards(usize),
    #[error("Invalid escape character at pos {0}")]
    InvalidEscape(usize),
    #[error(
        "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character"
    )]
    WildcardTooComplex,
    #[error("Filter policy can not have more than {0} keys")]
    TooManyKeys(usize),
    #[error("Filter policy is too complex")]
    TooComplex,
    #[error("Filter policy scope MessageAttributes does not support nested filter policy")]
    NestedAttributes,
}

/// Which SNS action carried the filter policy: `Subscribe` passes it among the subscription's
/// attributes, which AWS reflects in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsAction {
    Subscribe,
    SetSubscriptionAttributes,
}

impl PatternError {
    pub(crate) fn new(dialect: Dialect, reason: Reason) -> Self {
        Self { dialect, reason }
    }

    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The error message the dialect's service answers with:
    /// EventBridge `InvalidEventPatternException`, SNS `InvalidParameter` (as for
    /// SetSubscriptionAttributes; see [`Self::sns_message`]), Lambda
    /// `InvalidParameterValueException`.
    pub fn message(&self) -> String {
        match self.dialect {
            Dialect::EventBridge => format!("Event pattern is not valid. Reason: {}", self.reason),
            Dialect::SnsAttributes | Dialect::SnsBody => {
                self.sns_message(SnsAction::SetSubscriptionAttributes)
            }
            // Lambda does not say why.
            Dialect::EventSourceMapping => "Invalid filter pattern definition.".to_string(),
        }
    }

    /// SNS's `InvalidParameter` message for the action that carried the policy.
    pub fn sns_message(&self, action: SnsAction) -> String {
        let prefix = match action {
            SnsAction::Subscribe => "Invalid parameter: Attributes Reason: ",
            SnsAction::SetSubscriptionAttributes => "Invalid parameter: ",
        };
        match self.reason {
            // Not about the policy's content, so not under `FilterPolicy:`.
            Reason::NestedAttributes => format!("{prefix}{}", self.reason),
            _ => format!("{prefix}FilterPolicy: {}", self.reason),
        }
    }
}
