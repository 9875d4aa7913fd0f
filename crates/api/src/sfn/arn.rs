//! Step Functions ARNs: building them the way AWS does and parsing them with AWS's errors.
//!
//! ```text
//! arn:<partition>:states:<region>:<account>:stateMachine:<name>
//! arn:<partition>:states:<region>:<account>:stateMachine:<name>:<version>   (digits)
//! arn:<partition>:states:<region>:<account>:stateMachine:<name>:<alias>     (not all digits)
//! arn:<partition>:states:<region>:<account>:execution:<machine>:<name>
//! arn:<partition>:states:<region>:<account>:express:<machine>:<name>:<uuid>
//! arn:<partition>:states:<region>:<account>:activity:<name>
//! arn:<partition>:states:<region>:<account>:mapRun:<machine>/<label>:<uuid>
//! ```
//!
//! A version is a positive integer and an alias name must contain a non-digit (the model's
//! `CharacterRestrictedName` pattern), so the qualifier after a machine name is unambiguous.
//!
//! Errors: a string that is no ARN ([`sluice_types::Arn`]) of `states` is `InvalidArn` with
//! `Invalid Arn: 'Invalid ARN prefix: <arn>'`, and a resource type the operation does not take
//! is `Invalid Arn: 'Resource type not valid in this context: <type>'` (both recorded against
//! AWS; an ARN that ends after its account has the empty type). Other malformed ARNs get `Invalid Arn: '<what is wrong>: <arn>'` (AWS's wording for
//! those is not recorded). An ARN of another region or account is well formed: looking it up
//! fails with `StateMachineDoesNotExist` / `ExecutionDoesNotExist`, as on AWS.

use std::fmt;

use sluice_types::ArnError;

use crate::error::ApiError;

pub use sluice_types::Scope;

/// The Step Functions ARNs made in a [`Scope`].
pub trait StatesArns {
    /// `arn:<partition>:states:<region>:<account>:<resource>`.
    fn states_arn(&self, resource: std::fmt::Arguments<'_>) -> String;

    /// `arn:...:stateMachine:<name>`.
    fn state_machine_arn(&self, name: &str) -> String {
        self.states_arn(format_args!("stateMachine:{name}"))
    }

    /// `arn:...:stateMachine:<name>:<version>`.
    fn version_arn(&self, name: &str, version: u64) -> String {
        self.states_arn(format_args!("stateMachine:{name}:{version}"))
    }

    /// `arn:...:stateMachine:<name>:<alias>`.
    fn alias_arn(&self, name: &str, alias: &str) -> String {
        self.states_arn(format_args!("stateMachine:{name}:{alias}"))
    }

    /// `arn:...:execution:<machine>:<name>` (STANDARD executions).
    fn execution_arn(&self, state_machine: &str, name: &str) -> String {
        self.states_arn(format_args!("execution:{state_machine}:{name}"))
    }

    /// `arn:...:express:<machine>:<name>:<id>` (EXPRESS executions; `id` is a UUID).
    fn express_execution_arn(&self, state_machine: &str, name: &str, id: &str) -> String {
        self.states_arn(format_args!("express:{state_machine}:{name}:{id}"))
    }

    /// `arn:...:activity:<name>`.
    fn activity_arn(&self, name: &str) -> String {
        self.states_arn(format_args!("activity:{name}"))
    }

    /// `arn:...:mapRun:<machine>/<label>:<id>`.
    fn map_run_arn(&self, state_machine: &str, label: &str, id: &str) -> String {
        self.states_arn(format_args!("mapRun:{state_machine}/{label}:{id}"))
    }

    /// Whether `arn` lives in this scope (same partition, region and account).
    fn contains(&self, arn: &Arn) -> bool;
}

impl StatesArns for Scope {
    fn states_arn(&self, resource: std::fmt::Arguments<'_>) -> String {
        format!(
            "arn:{}:states:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }

    fn contains(&self, arn: &Arn) -> bool {
        arn.partition == self.partition && arn.region == self.region && arn.account == self.account
    }
}

/// The resource types of Step Functions ARNs (the sixth field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// `stateMachine`: a state machine, one of its versions or one of its aliases.
    StateMachine,
    /// `execution`: a STANDARD execution.
    Execution,
    /// `express`: an EXPRESS execution.
    Express,
    /// `activity`.
    Activity,
    /// `mapRun`: a Distributed Map run.
    MapRun,
}

impl ResourceType {
    /// The type as written in ARNs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::StateMachine => "stateMachine",
            Self::Execution => "execution",
            Self::Express => "express",
            Self::Activity => "activity",
            Self::MapRun => "mapRun",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "stateMachine" => Self::StateMachine,
            "execution" => Self::Execution,
            "express" => Self::Express,
            "activity" => Self::Activity,
            "mapRun" => Self::MapRun,
            _ => return None,
        })
    }
}

/// What a Step Functions ARN names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    StateMachine {
        name: String,
    },
    StateMachineVersion {
        name: String,
        version: u64,
    },
    StateMachineAlias {
        name: String,
        alias: String,
    },
    Execution {
        state_machine: String,
        name: String,
    },
    ExpressExecution {
        state_machine: String,
        name: String,
        id: String,
    },
    Activity {
        name: String,
    },
    MapRun {
        state_machine: String,
        label: String,
        id: String,
    },
}

/// A parsed Step Functions ARN. `Display` writes it back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub resource: Resource,
}

impl Arn {
    /// Parses any Step Functions ARN.
    pub fn parse(arn: &str) -> Result<Self, ApiError> {
        let parsed = match sluice_types::Arn::parse(arn) {
            Ok(parsed) if parsed.service == "states" => parsed,
            // Nothing after the account: no resource type either.
            Err(ArnError::MissingResource) => return Err(resource_type_not_valid("")),
            _ => {
                return Err(ApiError::invalid_arn(format_args!(
                    "Invalid ARN prefix: {arn}"
                )));
            }
        };
        let malformed = |what: &str| ApiError::invalid_arn(format_args!("{what}: {arn}"));
        let (partition, region, account) = (parsed.partition, parsed.region, parsed.account);
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(malformed("Invalid region"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed("Invalid account id"));
        }
        let parts: Vec<&str> = parsed.resource.split(':').collect();
        let Some(resource_type) = ResourceType::from_name(parts[0]) else {
            return Err(resource_type_not_valid(parts[0]));
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(malformed("Invalid resource"));
        }
        let owned = |i: usize| parts[i].to_string();
        let resource = match (resource_type, parts.len()) {
            (ResourceType::StateMachine, 2) => Resource::StateMachine { name: owned(1) },
            (ResourceType::StateMachine, 3) if parts[2].bytes().all(|b| b.is_ascii_digit()) => {
                match parts[2].parse::<u64>() {
                    Ok(version) if version > 0 && !parts[2].starts_with('0') => {
                        Resource::StateMachineVersion {
                            name: owned(1),
                            version,
                        }
                    }
                    _ => return Err(malformed("Invalid version")),
                }
            }
            (ResourceType::StateMachine, 3) => Resource::StateMachineAlias {
                name: owned(1),
                alias: owned(2),
            },
            (ResourceType::Execution, 3) => Resource::Execution {
                state_machine: owned(1),
                name: owned(2),
            },
            (ResourceType::Express, 4) => Resource::ExpressExecution {
                state_machine: owned(1),
                name: owned(2),
                id: owned(3),
            },
            (ResourceType::Activity, 2) => Resource::Activity { name: owned(1) },
            (ResourceType::MapRun, 3) => match parts[1].split_once('/') {
                Some((state_machine, label)) if !state_machine.is_empty() && !label.is_empty() => {
                    Resource::MapRun {
                        state_machine: state_machine.to_string(),
                        label: label.to_string(),
                        id: owned(2),
                    }
                }
                _ => return Err(malformed("Invalid resource")),
            },
            _ => return Err(malformed("Invalid resource")),
        };
        Ok(Self {
            partition: partition.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource,
        })
    }

    /// Parses an ARN an operation takes only of the given types; another type is
    /// `Invalid Arn: 'Resource type not valid in this context: <type>'`.
    pub fn parse_as(arn: &str, allowed: &[ResourceType]) -> Result<Self, ApiError> {
        let parsed = Self::parse(arn)?;
        let resource_type = parsed.resource_type();
        if allowed.contains(&resource_type) {
            Ok(parsed)
        } else {
            Err(resource_type_not_valid(resource_type.as_str()))
        }
    }

    /// A state machine, version or alias ARN (DescribeStateMachine, StartExecution, ...).
    pub fn parse_state_machine(arn: &str) -> Result<Self, ApiError> {
        Self::parse_as(arn, &[ResourceType::StateMachine])
    }

    /// A STANDARD or EXPRESS execution ARN.
    pub fn parse_execution(arn: &str) -> Result<Self, ApiError> {
        Self::parse_as(arn, &[ResourceType::Execution, ResourceType::Express])
    }

    /// The ARN's resource type.
    pub fn resource_type(&self) -> ResourceType {
        match self.resource {
            Resource::StateMachine { .. }
            | Resource::StateMachineVersion { .. }
            | Resource::StateMachineAlias { .. } => ResourceType::StateMachine,
            Resource::Execution { .. } => ResourceType::Execution,
            Resource::ExpressExecution { .. } => ResourceType::Express,
            Resource::Activity { .. } => ResourceType::Activity,
            Resource::MapRun { .. } => ResourceType::MapRun,
        }
    }

    /// The name of the state machine the ARN belongs to (every type but activities).
    pub fn state_machine_name(&self) -> Option<&str> {
        match &self.resource {
            Resource::StateMachine { name }
            | Resource::StateMachineVersion { name, .. }
            | Resource::StateMachineAlias { name, .. } => Some(name),
            Resource::Execution { state_machine, .. }
            | Resource::ExpressExecution { state_machine, .. }
            | Resource::MapRun { state_machine, .. } => Some(state_machine),
            Resource::Activity { .. } => None,
        }
    }

    /// The unqualified state machine ARN (a version's or alias's machine; an execution's).
    pub fn state_machine_arn(&self) -> Option<String> {
        let name = self.state_machine_name()?;
        Some(format!(
            "arn:{}:states:{}:{}:stateMachine:{name}",
            self.partition, self.region, self.account
        ))
    }
}

/// `Invalid Arn: 'Resource type not valid in this context: <type, lowercase>'`.
fn resource_type_not_valid(resource_type: &str) -> ApiError {
    ApiError::invalid_arn(format_args!(
        "Resource type not valid in this context: {}",
        resource_type.to_ascii_lowercase()
    ))
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:states:{}:{}:",
            self.partition, self.region, self.account
        )?;
        match &self.resource {
            Resource::StateMachine { name } => write!(f, "stateMachine:{name}"),
            Resource::StateMachineVersion { name, version } => {
                write!(f, "stateMachine:{name}:{version}")
            }
            Resource::StateMachineAlias { name, alias } => write!(f, "stateMachine:{name}:{alias}"),
            Resource::Execution {
                state_machine,
                name,
            } => write!(f, "execution:{state_machine}:{name}"),
            Resource::ExpressExecution {
                state_machine,
                name,
                id,
            } => write!(f, "express:{state_machine}:{name}:{id}"),
            Resource::Activity { name } => write!(f, "activity:{name}"),
            Resource::MapRun {
                state_machine,
                label,
                id,
            } => write!(f, "mapRun:{state_machine}/{label}:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "123456789012";

    fn scope() -> Scope {
        Scope::new("us-east-1", ACCOUNT)
    }

    #[test]
    fn builds_arns_like_aws() {
        let s = scope();
        assert_eq!(
            s.state_machine_arn("m"),
            "arn:aws:states:us-east-1:123456789012:stateMachine:m"
        );
        assert_eq!(
            s.version_arn("m", 3),
            "arn:aws:states:us-east-1:123456789012:stateMachine:m:3"
        );
        assert_eq!(
            s.alias_arn("m", "prod"),
            "arn:aws:states:us-east-1:123456789012:stateMachine:m:prod"
        );
        assert_eq!(
            s.execution_arn("m", "e"),
            "arn:aws:states:us-east-1:123456789012:execution:m:e"
        );
        assert_eq!(
            s.express_execution_arn("m", "e", "0b7c-11"),
            "arn:aws:states:us-east-1:123456789012:express:m:e:0b7c-11"
        );
        assert_eq!(
            s.activity_arn("a"),
            "arn:aws:states:us-east-1:123456789012:activity:a"
        );
        assert_eq!(
            s.map_run_arn("m", "Map", "id"),
            "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:id"
        );
        assert_eq!(Scope::new("cn-north-1", ACCOUNT).partition, "aws-cn");
        assert_eq!(Scope::new("us-gov-west-1", ACCOUNT).partition, "aws-us-gov");
    }

    #[test]
    fn parses_every_resource_and_round_trips() {
        let s = scope();
        let cases = [
            (
                s.state_machine_arn("m"),
                Resource::StateMachine { name: "m".into() },
            ),
            (
                s.version_arn("m", 12),
                Resource::StateMachineVersion {
                    name: "m".into(),
                    version: 12,
                },
            ),
            (
                s.alias_arn("m", "v2-prod"),
                Resource::StateMachineAlias {
                    name: "m".into(),
                    alias: "v2-prod".into(),
                },
            ),
            (
                s.execution_arn("m", "e"),
                Resource::Execution {
                    state_machine: "m".into(),
                    name: "e".into(),
                },
            ),
            (
                s.express_execution_arn("m", "e", "u-u-i-d"),
                Resource::ExpressExecution {
                    state_machine: "m".into(),
                    name: "e".into(),
                    id: "u-u-i-d".into(),
                },
            ),
            (s.activity_arn("a"), Resource::Activity { name: "a".into() }),
            (
                s.map_run_arn("m", "L", "i"),
                Resource::MapRun {
                    state_machine: "m".into(),
                    label: "L".into(),
                    id: "i".into(),
                },
            ),
        ];
        for (text, resource) in cases {
            let arn = Arn::parse(&text).unwrap();
            assert_eq!(arn.resource, resource, "{text}");
            assert_eq!(arn.to_string(), text);
            assert!(s.contains(&arn));
        }
        let arn = Arn::parse(&s.execution_arn("m", "e")).unwrap();
        assert_eq!(arn.state_machine_arn().unwrap(), s.state_machine_arn("m"));
        let other = Arn::parse("arn:aws:states:eu-west-1:123456789012:stateMachine:m").unwrap();
        assert!(!s.contains(&other));
    }

    #[test]
    fn bad_prefixes_are_invalid_arn_prefix() {
        for bad in [
            "not_a_valid_arn",
            "",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn:nope:states:us-east-1:123456789012:stateMachine:m",
            "arn:aws:states",
        ] {
            let error = Arn::parse(bad).unwrap_err();
            assert_eq!(error.kind, "InvalidArn");
            assert_eq!(
                error.message,
                format!("Invalid Arn: 'Invalid ARN prefix: {bad}'")
            );
        }
    }

    #[test]
    fn wrong_resource_type_for_the_context() {
        let s = scope();
        let error = Arn::parse_execution(&s.state_machine_arn("m")).unwrap_err();
        assert_eq!(
            error.message,
            "Invalid Arn: 'Resource type not valid in this context: statemachine'"
        );
        let error = Arn::parse_state_machine(&s.express_execution_arn("m", "e", "i")).unwrap_err();
        assert_eq!(
            error.message,
            "Invalid Arn: 'Resource type not valid in this context: express'"
        );
        assert!(Arn::parse_execution(&s.express_execution_arn("m", "e", "i")).is_ok());
        let error = Arn::parse("arn:aws:states:us-east-1:123456789012:table:t").unwrap_err();
        assert_eq!(
            error.message,
            "Invalid Arn: 'Resource type not valid in this context: table'"
        );
    }

    #[test]
    fn arns_that_end_at_the_account() {
        let error = Arn::parse("arn:aws:states:us-east-1:123456789012").unwrap_err();
        assert_eq!(
            error.message,
            "Invalid Arn: 'Invalid ARN prefix: arn:aws:states:us-east-1:123456789012'"
        );
        let error = Arn::parse("arn:aws:states:us-east-1:123456789012:").unwrap_err();
        assert_eq!(
            error.message,
            "Invalid Arn: 'Resource type not valid in this context: '"
        );
    }

    #[test]
    fn malformed_arns_are_invalid() {
        for bad in [
            "arn:aws:states:us-east-1:123456789012:stateMachine:",
            "arn:aws:states:us-east-1:123456789012:stateMachine",
            "arn:aws:states:us-east-1:123456789012:stateMachine:m:1:2",
            "arn:aws:states:us-east-1:123456789012:stateMachine:m:0",
            "arn:aws:states:us-east-1:123456789012:stateMachine:m:01",
            "arn:aws:states:us-east-1:123456789012:execution:m",
            "arn:aws:states:us-east-1:123456789012:express:m:e",
            "arn:aws:states:us-east-1:123456789012:mapRun:m:i",
            "arn:aws:states:us-east-1:12345:stateMachine:m",
            "arn:aws:states::123456789012:stateMachine:m",
            "arn:aws:states:US_EAST:123456789012:stateMachine:m",
            "arn:aws:states:us-east-1:123456789012",
        ] {
            let error = Arn::parse(bad).unwrap_err();
            assert_eq!(error.kind, "InvalidArn", "{bad}");
            assert!(
                error.message.ends_with(&format!("{bad}'")),
                "{}",
                error.message
            );
        }
    }
}
