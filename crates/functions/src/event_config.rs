//! Event invoke configs (AWS's `FunctionEventInvokeConfig`): per function and qualifier
//! (`$LATEST`, a version or an alias), how its `Event` invocations are retried
//! (`MaximumRetryAttempts`, 0 to 2, default 2), how old they may get before they are discarded
//! (`MaximumEventAgeInSeconds`, 60 to 21600, default 21600) and where the record of each
//! invocation goes (`DestinationConfig`: `OnSuccess`, `OnFailure`). Stored with the function
//! (`event-invoke-configs.json`, see the registry) and read at each decision, so a change
//! applies to queued events too.
//!
//! The rules and messages are AWS's (recorded against AWS in LocalStack's snapshot tests), in
//! AWS's order: the model's constraints (`ValidationException`), at least one setting, the
//! function and qualifier, then the destinations. Sluice delivers records to Lambda functions
//! only; SQS, SNS, EventBridge and S3 destinations, which AWS accepts, are refused with a
//! message that says so.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::function::{FunctionName, Scope};

/// AWS's `MaximumRetryAttempts` limit (also the default).
pub const MAX_RETRY_ATTEMPTS: u32 = 2;
/// AWS's `MaximumEventAgeInSeconds` limits (the maximum is also the default).
pub const MIN_EVENT_AGE_SECONDS: u32 = 60;
pub const MAX_EVENT_AGE_SECONDS: u32 = 21_600;
/// The model's `DestinationArn` pattern and length limit.
pub const DESTINATION_ARN_PATTERN: &str = r"$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)";
const MAX_DESTINATION_ARN: usize = 350;

/// The event invoke config of one qualifier of a function. `None`: not set (AWS shows only the
/// members that were set; the defaults apply).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EventInvokeConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    /// `DestinationConfig.OnSuccess.Destination`: a Lambda function ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<String>,
    /// `DestinationConfig.OnFailure.Destination`: a Lambda function ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    /// When it was last put or updated (wall time, ms since the epoch).
    pub last_modified_ms: i64,
}

/// What PutFunctionEventInvokeConfig or UpdateFunctionEventInvokeConfig gives (`None`: not
/// given). Numbers are as sent, checked by [`EventInvokeConfigChange::check`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInvokeConfigChange {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_in_seconds: Option<i64>,
    pub destination_config: Option<DestinationChange>,
}

/// A `DestinationConfig`: `OnSuccess` and `OnFailure` when given (`Some`), each with its
/// `Destination` (`None` or empty: no destination).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationChange {
    pub on_success: Option<Option<String>>,
    pub on_failure: Option<Option<String>>,
}

impl DestinationChange {
    fn on_success(&self) -> Option<&str> {
        given(self.on_success.as_ref())
    }

    fn on_failure(&self) -> Option<&str> {
        given(self.on_failure.as_ref())
    }
}

/// The destination of a member: `None` when the member or its `Destination` is missing or
/// empty (the pattern's `$`).
fn given(member: Option<&Option<String>>) -> Option<&str> {
    member
        .and_then(Option::as_deref)
        .filter(|arn| !arn.is_empty())
}

impl EventInvokeConfigChange {
    /// The model's constraints (one `ValidationException` listing every violation, as AWS),
    /// then AWS's rule that a change sets something.
    pub fn check(&self) -> Result<(), Error> {
        let mut violations = Vec::new();
        let mut range = |wire: &str, value: Option<i64>, min: u32, max: u32| {
            let Some(value) = value else { return };
            if value < i64::from(min) {
                violations.push(format!(
                    "Value '{value}' at '{wire}' failed to satisfy constraint: Member must have \
                     value greater than or equal to {min}"
                ));
            }
            if value > i64::from(max) {
                violations.push(format!(
                    "Value '{value}' at '{wire}' failed to satisfy constraint: Member must have \
                     value less than or equal to {max}"
                ));
            }
        };
        range(
            "maximumRetryAttempts",
            self.maximum_retry_attempts,
            0,
            MAX_RETRY_ATTEMPTS,
        );
        range(
            "maximumEventAgeInSeconds",
            self.maximum_event_age_in_seconds,
            MIN_EVENT_AGE_SECONDS,
            MAX_EVENT_AGE_SECONDS,
        );
        if let Some(destinations) = &self.destination_config {
            for (wire, member) in [
                (
                    "destinationConfig.onSuccess.destination",
                    &destinations.on_success,
                ),
                (
                    "destinationConfig.onFailure.destination",
                    &destinations.on_failure,
                ),
            ] {
                let Some(Some(arn)) = member else { continue };
                if arn.chars().count() > MAX_DESTINATION_ARN {
                    violations.push(format!(
                        "Value '{arn}' at '{wire}' failed to satisfy constraint: Member must \
                         have length less than or equal to {MAX_DESTINATION_ARN}"
                    ));
                }
                if !destination_pattern().is_match(arn) {
                    violations.push(format!(
                        "Value '{arn}' at '{wire}' failed to satisfy constraint: Member must \
                         satisfy regular expression pattern: {DESTINATION_ARN_PATTERN}"
                    ));
                }
            }
        }
        if !violations.is_empty() {
            let n = violations.len();
            return Err(Error::Validation {
                message: format!(
                    "{n} validation error{} detected: {}",
                    if n == 1 { "" } else { "s" },
                    violations.join("; ")
                ),
            });
        }
        if self.maximum_retry_attempts.is_none()
            && self.maximum_event_age_in_seconds.is_none()
            && self.destination_config.is_none()
        {
            return Err(Error::invalid(
                "You must specify at least one of error handling or destination setting.",
            ));
        }
        Ok(())
    }

    /// The config a Put makes (everything not given is unset) or, with the config as it is,
    /// an Update makes (what is given replaces; `OnSuccess` and `OnFailure` each on their
    /// own). Assumes [`EventInvokeConfigChange::check`] passed.
    pub fn apply(&self, existing: Option<&EventInvokeConfig>, now_ms: i64) -> EventInvokeConfig {
        let mut config = existing.cloned().unwrap_or_default();
        let count = |n: i64| u32::try_from(n).unwrap_or(0);
        if let Some(n) = self.maximum_retry_attempts {
            config.maximum_retry_attempts = Some(count(n));
        }
        if let Some(n) = self.maximum_event_age_in_seconds {
            config.maximum_event_age_in_seconds = Some(count(n));
        }
        if let Some(destinations) = &self.destination_config {
            if destinations.on_success.is_some() {
                config.on_success = destinations.on_success().map(str::to_owned);
            }
            if destinations.on_failure.is_some() {
                config.on_failure = destinations.on_failure().map(str::to_owned);
            }
        }
        config.last_modified_ms = now_ms;
        config
    }

    /// Checks the destinations the change gives, for `function` of `scope`: Lambda function
    /// ARNs of this account (in any region) whose function `exists`, other than `function` itself,
    /// and the queues and topics `delivers` accepts. What AWS accepts and Sluice cannot
    /// deliver to (EventBridge, S3; queues and topics without a wired delivery) is refused
    /// with a message saying so; anything else with AWS's message for an invalid config.
    pub fn check_destinations(
        &self,
        scope: &Scope,
        function: &str,
        exists: impl Fn(&FunctionName) -> bool,
        delivers: impl Fn(&str) -> bool,
    ) -> Result<(), Error> {
        let Some(destinations) = &self.destination_config else {
            return Ok(());
        };
        let success = destinations.on_success();
        let failure = destinations.on_failure();
        let mut invalid = false;
        for (arn, on_failure) in [(success, false), (failure, true)] {
            let Some(arn) = arn else { continue };
            match destination_kind(arn) {
                Kind::Function => {
                    let named = function_destination(scope, arn)
                        .filter(|named| exists(named))
                        .ok_or_else(|| {
                            Error::invalid(format!("The destination ARN {arn} is invalid."))
                        })?;
                    if named.name == function && named.region.as_deref() == Some(&scope.region) {
                        return Err(Error::invalid(
                            "You can't specify the function as a destination for itself.",
                        ));
                    }
                }
                Kind::Unsupported(_) if is_message_destination(arn) && delivers(arn) => {}
                Kind::Unsupported(what) if on_failure || what != S3 => {
                    return Err(Error::invalid(format!(
                        "Sluice cannot send invocation records to {what} destinations ({arn}): \
                         it has no such service. Use a Lambda function ARN as the destination."
                    )));
                }
                Kind::Unsupported(_) | Kind::Other => invalid = true,
            }
        }
        if invalid {
            let part = |member: &str, arn: Option<&str>| match arn {
                Some(arn) => format!("{member}(destination={arn})"),
                None => "null".to_owned(),
            };
            return Err(Error::invalid(format!(
                "The provided destination config DestinationConfig(onSuccess={}, onFailure={}) \
                 is invalid.",
                part("OnSuccess", success),
                part("OnFailure", failure)
            )));
        }
        Ok(())
    }
}

const S3: &str = "Amazon S3 bucket";

/// What a destination ARN that satisfies the model's pattern names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Function,
    /// A service AWS delivers records to and Sluice does not have.
    Unsupported(&'static str),
    Other,
}

fn destination_kind(arn: &str) -> Kind {
    if !arn.starts_with("arn:") {
        return Kind::Other;
    }
    match arn.split(':').nth(2) {
        Some("lambda") => Kind::Function,
        Some("sqs") => Kind::Unsupported("Amazon SQS queue"),
        Some("sns") => Kind::Unsupported("Amazon SNS topic"),
        Some("events") => Kind::Unsupported("Amazon EventBridge event bus"),
        Some("s3") => Kind::Unsupported(S3),
        _ => Kind::Other,
    }
}

/// Whether a destination is a queue or a topic, which the functions hand to
/// [`crate::Destinations`].
pub fn is_message_destination(arn: &str) -> bool {
    matches!(arn.split(':').nth(2), Some("sqs" | "sns")) && arn.starts_with("arn:")
}

/// The function a destination ARN names, when it is a full function ARN (qualified or not) of
/// `scope`'s account: in the ARN's region.
pub(crate) fn function_destination(scope: &Scope, arn: &str) -> Option<FunctionName> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[0] != "arn" || parts[4] != scope.account {
        return None;
    }
    FunctionName::parse(arn).filter(|named| named.region.is_some())
}

fn destination_pattern() -> &'static regex::Regex {
    static PATTERN: OnceLock<regex::Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        regex::Regex::new(&format!("^(?:{DESTINATION_ARN_PATTERN})$"))
            .expect("the model's pattern compiles")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function";

    fn scope() -> Scope {
        Scope::new("us-east-1", "000000000000")
    }

    fn with_destinations(success: Option<&str>, failure: Option<&str>) -> EventInvokeConfigChange {
        EventInvokeConfigChange {
            destination_config: Some(DestinationChange {
                on_success: success.map(|a| Some(a.to_owned())),
                on_failure: failure.map(|a| Some(a.to_owned())),
            }),
            ..EventInvokeConfigChange::default()
        }
    }

    fn message(result: Result<(), Error>) -> (&'static str, String) {
        let error = result.unwrap_err();
        (error.code(), error.to_string())
    }

    #[test]
    fn ranges_and_patterns_are_validation_exceptions_in_aws_words() {
        let change = EventInvokeConfigChange {
            maximum_retry_attempts: Some(3),
            maximum_event_age_in_seconds: Some(59),
            ..EventInvokeConfigChange::default()
        };
        assert_eq!(
            message(change.check()),
            (
                "ValidationException",
                "2 validation errors detected: Value '3' at 'maximumRetryAttempts' failed to \
                 satisfy constraint: Member must have value less than or equal to 2; Value '59' \
                 at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have \
                 value greater than or equal to 60"
                    .into()
            )
        );
        let change = EventInvokeConfigChange {
            maximum_retry_attempts: Some(-1),
            maximum_event_age_in_seconds: Some(21_601),
            ..EventInvokeConfigChange::default()
        };
        assert!(
            message(change.check())
                .1
                .contains("greater than or equal to 0")
        );
        assert!(
            message(change.check())
                .1
                .contains("less than or equal to 21600")
        );
        for ok in [(0, 60), (2, 21_600)] {
            let change = EventInvokeConfigChange {
                maximum_retry_attempts: Some(ok.0),
                maximum_event_age_in_seconds: Some(ok.1),
                ..EventInvokeConfigChange::default()
            };
            assert!(change.check().is_ok(), "{ok:?}");
        }

        let bad = FN.replace(":lambda:", ":_-/!lambda:");
        let (code, text) = message(with_destinations(None, Some(&bad)).check());
        assert_eq!(code, "ValidationException");
        assert_eq!(
            text,
            format!(
                "1 validation error detected: Value '{bad}' at \
                 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member \
                 must satisfy regular expression pattern: {DESTINATION_ARN_PATTERN}"
            )
        );
        let long = format!("{FN}:{}", "f".repeat(350));
        assert!(message(with_destinations(Some(&long), None).check())
            .1
            .contains("'destinationConfig.onSuccess.destination' failed to satisfy constraint: Member must have length less than or equal to 350"));
        // Empty destinations and the model's other forms pass the pattern.
        for arn in [
            "",
            &format!("{FN}:f"),
            "arn:aws:sqs:us-east-1:000000000000:q",
            "kafka://t",
        ] {
            assert!(
                with_destinations(Some(arn), Some(arn)).check().is_ok(),
                "{arn}"
            );
        }
    }

    #[test]
    fn a_change_must_set_something() {
        assert_eq!(
            message(EventInvokeConfigChange::default().check()),
            (
                "InvalidParameterValueException",
                "You must specify at least one of error handling or destination setting.".into()
            )
        );
        // An empty DestinationConfig counts (AWS answers with empty OnSuccess/OnFailure).
        assert!(with_destinations(None, None).check().is_ok());
    }

    #[test]
    fn destinations_are_existing_lambda_functions_other_than_itself() {
        let exists = |named: &FunctionName| {
            named.region.as_deref() == Some("us-east-1")
                && ["f", "g"].contains(&named.name.as_str())
                || named.region.as_deref() == Some("eu-west-1") && named.name == "f"
        };
        let check = |success: Option<&str>, failure: Option<&str>| {
            with_destinations(success, failure).check_destinations(&scope(), "f", exists, |_| false)
        };
        assert!(check(Some(&format!("{FN}:g")), Some(&format!("{FN}:g:prod"))).is_ok());
        assert!(check(Some(""), None).is_ok());
        let missing = format!("{FN}:doesnotexist");
        assert_eq!(
            message(check(Some(&missing), None)),
            (
                "InvalidParameterValueException",
                format!("The destination ARN {missing} is invalid.")
            )
        );
        // A function of another region is found in its region (its namesake there is not
        // the function itself); another account is not one of Sluice's.
        let elsewhere = "arn:aws:lambda:eu-west-1:000000000000:function:g";
        assert!(
            message(check(None, Some(elsewhere)))
                .1
                .contains("is invalid")
        );
        assert!(
            check(
                Some("arn:aws:lambda:eu-west-1:000000000000:function:f"),
                None
            )
            .is_ok()
        );
        let other_account = "arn:aws:lambda:us-east-1:111111111111:function:g";
        assert!(
            message(check(None, Some(other_account)))
                .1
                .contains("is invalid")
        );
        assert_eq!(
            message(check(Some(&format!("{FN}:f")), None)).1,
            "You can't specify the function as a destination for itself."
        );
        let iam = format!("{}:f", FN.replace(":lambda:", ":iam:"));
        assert_eq!(
            message(check(Some(&iam), None)),
            (
                "InvalidParameterValueException",
                format!(
                    "The provided destination config DestinationConfig(onSuccess=OnSuccess(\
                     destination={iam}), onFailure=null) is invalid."
                )
            )
        );
        let (code, text) = message(check(None, Some("arn:aws:sqs:us-east-1:000000000000:q")));
        assert_eq!(code, "InvalidParameterValueException");
        assert!(text.starts_with("Sluice cannot send invocation records to Amazon SQS queue destinations (arn:aws:sqs:us-east-1:000000000000:q)"), "{text}");
        for (arn, what) in [
            ("arn:aws:sns:us-east-1:000000000000:t", "Amazon SNS topic"),
            (
                "arn:aws:events:us-east-1:000000000000:event-bus/b",
                "Amazon EventBridge event bus",
            ),
            ("arn:aws:s3:::bucket", "Amazon S3 bucket"),
        ] {
            assert!(message(check(None, Some(arn))).1.contains(what), "{arn}");
        }
        // S3 is for failures only: as an OnSuccess destination the config is invalid.
        assert!(
            message(check(Some("arn:aws:s3:::bucket"), None))
                .1
                .starts_with("The provided destination config")
        );
    }

    #[test]
    fn queues_and_topics_are_destinations_once_something_delivers_to_them() {
        let queue = "arn:aws:sqs:us-east-1:000000000000:q";
        let topic = "arn:aws:sns:us-east-1:000000000000:t";
        let change = with_destinations(Some(topic), Some(queue));
        assert!(
            change
                .check_destinations(&scope(), "f", |_: &FunctionName| false, |_| true)
                .is_ok()
        );
        assert!(
            change
                .check_destinations(&scope(), "f", |_: &FunctionName| false, |_| false)
                .is_err()
        );
        let bus = "arn:aws:events:us-east-1:000000000000:event-bus/b";
        assert!(
            with_destinations(None, Some(bus))
                .check_destinations(&scope(), "f", |_: &FunctionName| false, |_| true)
                .is_err()
        );
    }

    #[test]
    fn put_replaces_and_update_merges() {
        let full = EventInvokeConfigChange {
            maximum_retry_attempts: Some(2),
            maximum_event_age_in_seconds: Some(60),
            destination_config: Some(DestinationChange {
                on_success: Some(Some(format!("{FN}:s"))),
                on_failure: Some(Some(format!("{FN}:e"))),
            }),
        };
        let config = full.apply(None, 5);
        assert_eq!(
            config,
            EventInvokeConfig {
                maximum_retry_attempts: Some(2),
                maximum_event_age_in_seconds: Some(60),
                on_success: Some(format!("{FN}:s")),
                on_failure: Some(format!("{FN}:e")),
                last_modified_ms: 5,
            }
        );
        let retries = EventInvokeConfigChange {
            maximum_retry_attempts: Some(0),
            ..EventInvokeConfigChange::default()
        };
        // Put: only what is given.
        assert_eq!(
            retries.apply(None, 6),
            EventInvokeConfig {
                maximum_retry_attempts: Some(0),
                last_modified_ms: 6,
                ..EventInvokeConfig::default()
            }
        );
        // Update: the rest is kept; an empty OnFailure removes that destination only.
        let updated = retries.apply(Some(&config), 7);
        assert_eq!(updated.maximum_retry_attempts, Some(0));
        assert_eq!(updated.maximum_event_age_in_seconds, Some(60));
        let no_failure = with_destinations(None, Some("")).apply(Some(&updated), 8);
        assert_eq!(no_failure.on_success, Some(format!("{FN}:s")));
        assert_eq!(no_failure.on_failure, None);
        assert_eq!(no_failure.last_modified_ms, 8);
    }
}
