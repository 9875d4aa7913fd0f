//! [`Arn`]: an Amazon Resource Name, parsed once, borrowed from its text.
//!
//! AWS's grammar (IAM User Guide, "Identify AWS resources with Amazon Resource Names"):
//!
//! ```text
//! arn:<partition>:<service>:<region>:<account-id>:<resource>
//! ```
//!
//! where `<resource>` is `<id>`, `<type>/<id>` or `<type>:<id>` and may itself hold `:` and
//! `/` (everything after the fifth `:` is the resource). [`Arn::parse`] checks the shape only:
//!
//! - the literal `arn`;
//! - a partition of [`PARTITIONS`];
//! - a service, not empty;
//! - a region and an account, either of which may be empty: S3 buckets have neither
//!   (`arn:aws:s3:::bucket`), IAM roles no region (`arn:aws:iam::123456789012:role/r`), Step
//!   Functions' service integrations neither (`arn:aws:states:::lambda:invoke`);
//! - a resource, not empty.
//!
//! What a field may hold beyond that (a region's spelling, twelve-digit accounts, names' lengths
//! and characters, an ARN's length) differs per service and per API; each checks its own, with
//! its own messages. Parsing allocates nothing and [`Display`](fmt::Display) writes the text back
//! exactly.

use std::fmt;

use crate::{PARTITIONS, Scope};

/// A parsed ARN: views into the text it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    /// Empty for global resources (S3 buckets, IAM, Step Functions' service integrations).
    pub region: &'a str,
    /// Empty for S3 buckets and Step Functions' service integrations.
    pub account: &'a str,
    /// Everything after the fifth `:`, which may hold `:` and `/` itself.
    pub resource: &'a str,
}

/// Why a text is not an ARN, in the order [`Arn::parse`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArnError {
    /// Fewer than the six `:`-separated fields; `found` is how many there are.
    TooFewFields { found: usize },
    /// The first field is not `arn`.
    NotAnArn,
    /// The partition is none of [`PARTITIONS`].
    UnknownPartition,
    /// The service field is empty.
    MissingService,
    /// Nothing follows the account.
    MissingResource,
}

impl fmt::Display for ArnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFewFields { found } => write!(
                f,
                "an ARN has at least 6 ':'-separated fields, this text has {found}"
            ),
            Self::NotAnArn => f.write_str("an ARN starts with 'arn:'"),
            Self::UnknownPartition => f.write_str("the ARN's partition is not an AWS partition"),
            Self::MissingService => f.write_str("the ARN names no service"),
            Self::MissingResource => f.write_str("the ARN names no resource"),
        }
    }
}

impl std::error::Error for ArnError {}

/// A name with an optional qualifier: `function:<name>[:<qualifier>]` (a version, an alias or
/// `$LATEST`) and `stateMachine:<name>[:<version or alias>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QualifiedName<'a> {
    pub name: &'a str,
    pub qualifier: Option<&'a str>,
}

impl<'a> QualifiedName<'a> {
    /// The name a `<resource_type>:<name>[:<qualifier>]` resource holds; `None` for another
    /// type, an empty name or qualifier, or more fields. Also reads the resource of a partial
    /// ARN (Lambda's `123456789012:function:f`).
    pub fn parse(resource: &'a str, resource_type: &str) -> Option<Self> {
        let rest = resource.strip_prefix(resource_type)?.strip_prefix(':')?;
        let (name, qualifier) = match rest.split_once(':') {
            Some((name, qualifier)) => (name, Some(qualifier)),
            None => (rest, None),
        };
        let bad_qualifier = qualifier.is_some_and(|q| q.is_empty() || q.contains(':'));
        (!name.is_empty() && !bad_qualifier).then_some(Self { name, qualifier })
    }
}

/// What a Step Functions execution ARN names: `execution:<machine>:<name>` (STANDARD) or
/// `express:<machine>:<name>:<id>` (EXPRESS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExecutionName<'a> {
    pub state_machine: &'a str,
    pub name: &'a str,
    /// The id that makes an EXPRESS execution's ARN unique; `None` for STANDARD executions.
    pub express_id: Option<&'a str>,
}

impl<'a> Arn<'a> {
    /// Parses `text` as an ARN; see the module's documentation for what is checked.
    pub fn parse(text: &'a str) -> Result<Self, ArnError> {
        let mut fields = text.splitn(6, ':');
        let (
            Some(prefix),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        )
        else {
            // At most four ':' here, so counting them is cheap.
            return Err(ArnError::TooFewFields {
                found: text.split(':').count(),
            });
        };
        if prefix != "arn" {
            return Err(ArnError::NotAnArn);
        }
        if !PARTITIONS.contains(&partition) {
            return Err(ArnError::UnknownPartition);
        }
        if service.is_empty() {
            return Err(ArnError::MissingService);
        }
        if resource.is_empty() {
            return Err(ArnError::MissingResource);
        }
        Ok(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }

    /// The resource's last `:`-separated field: a queue's or topic's name, a subscription's
    /// id, the API of a Step Functions service integration (`sendMessage.waitForTaskToken`).
    pub fn last_segment(&self) -> &'a str {
        self.resource
            .rsplit_once(':')
            .map_or(self.resource, |(_, last)| last)
    }

    /// The function a Lambda ARN names: `function:<name>[:<qualifier>]`.
    pub fn function(&self) -> Option<QualifiedName<'a>> {
        if self.service != "lambda" {
            return None;
        }
        QualifiedName::parse(self.resource, "function")
    }

    /// The state machine, version or alias a Step Functions ARN names:
    /// `stateMachine:<name>[:<version or alias>]`.
    pub fn state_machine(&self) -> Option<QualifiedName<'a>> {
        if self.service != "states" {
            return None;
        }
        QualifiedName::parse(self.resource, "stateMachine")
    }

    /// The execution a Step Functions ARN names: `execution:<machine>:<name>` or
    /// `express:<machine>:<name>:<id>`, no field empty.
    pub fn execution(&self) -> Option<ExecutionName<'a>> {
        if self.service != "states" {
            return None;
        }
        let (resource_type, rest) = self.resource.split_once(':')?;
        let mut fields = rest.split(':');
        let state_machine = fields.next().filter(|f| !f.is_empty())?;
        let name = fields.next().filter(|f| !f.is_empty())?;
        let express_id = match resource_type {
            "execution" => None,
            "express" => Some(fields.next().filter(|f| !f.is_empty())?),
            _ => return None,
        };
        fields.next().is_none().then_some(ExecutionName {
            state_machine,
            name,
            express_id,
        })
    }

    /// The scope the resource lives in.
    pub fn scope(&self) -> Scope {
        Scope {
            partition: self.partition.to_owned(),
            region: self.region.to_owned(),
            account: self.account.to_owned(),
        }
    }

    /// Whether the resource lives in `scope`: the same partition, region and account.
    pub fn is_in(&self, scope: &Scope) -> bool {
        self.partition == scope.partition
            && self.region == scope.region
            && self.account == scope.account
    }
}

impl fmt::Display for Arn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parsed(text: &str) -> Arn<'_> {
        Arn::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn real_arns_of_every_service_parse_and_print_back() {
        let cases = [
            (
                "arn:aws:states:us-east-1:123456789012:stateMachine:orders",
                (
                    "aws",
                    "states",
                    "us-east-1",
                    "123456789012",
                    "stateMachine:orders",
                ),
            ),
            (
                "arn:aws:states:us-east-1:123456789012:execution:orders:run-1",
                (
                    "aws",
                    "states",
                    "us-east-1",
                    "123456789012",
                    "execution:orders:run-1",
                ),
            ),
            (
                "arn:aws:states:::lambda:invoke.waitForTaskToken",
                ("aws", "states", "", "", "lambda:invoke.waitForTaskToken"),
            ),
            (
                "arn:aws:lambda:eu-west-1:123456789012:function:resize:prod",
                (
                    "aws",
                    "lambda",
                    "eu-west-1",
                    "123456789012",
                    "function:resize:prod",
                ),
            ),
            (
                "arn:aws:sqs:us-east-2:444455556666:orders.fifo",
                ("aws", "sqs", "us-east-2", "444455556666", "orders.fifo"),
            ),
            (
                "arn:aws:sns:us-east-1:123456789012:alerts:8e1fc6ae-0c51-4f2e-9f43-2c1b7d4e5a6b",
                (
                    "aws",
                    "sns",
                    "us-east-1",
                    "123456789012",
                    "alerts:8e1fc6ae-0c51-4f2e-9f43-2c1b7d4e5a6b",
                ),
            ),
            (
                "arn:aws:pipes:us-east-1:123456789012:pipe/orders-to-fn",
                (
                    "aws",
                    "pipes",
                    "us-east-1",
                    "123456789012",
                    "pipe/orders-to-fn",
                ),
            ),
            (
                "arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly",
                (
                    "aws",
                    "scheduler",
                    "us-east-1",
                    "123456789012",
                    "schedule/default/nightly",
                ),
            ),
            (
                "arn:aws:events:us-east-1:123456789012:event-bus/default",
                (
                    "aws",
                    "events",
                    "us-east-1",
                    "123456789012",
                    "event-bus/default",
                ),
            ),
            (
                "arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
                (
                    "aws",
                    "kinesis",
                    "us-east-1",
                    "123456789012",
                    "stream/clicks",
                ),
            ),
            (
                "arn:aws:dynamodb:us-east-1:123456789012:table/Books/stream/2015-05-11T21:21:33.291",
                (
                    "aws",
                    "dynamodb",
                    "us-east-1",
                    "123456789012",
                    "table/Books/stream/2015-05-11T21:21:33.291",
                ),
            ),
            (
                "arn:aws:s3:::my-bucket/photos/2024/cat.jpg",
                ("aws", "s3", "", "", "my-bucket/photos/2024/cat.jpg"),
            ),
            (
                "arn:aws:iam::123456789012:role/service-role/runner",
                ("aws", "iam", "", "123456789012", "role/service-role/runner"),
            ),
            (
                "arn:aws-cn:sqs:cn-north-1:123456789012:q",
                ("aws-cn", "sqs", "cn-north-1", "123456789012", "q"),
            ),
            (
                "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f",
                (
                    "aws-us-gov",
                    "lambda",
                    "us-gov-west-1",
                    "123456789012",
                    "function:f",
                ),
            ),
        ];
        for (text, (partition, service, region, account, resource)) in cases {
            let arn = parsed(text);
            assert_eq!(
                arn,
                Arn {
                    partition,
                    service,
                    region,
                    account,
                    resource
                }
            );
            assert_eq!(arn.to_string(), text);
        }
    }

    #[test]
    fn every_partition_is_accepted_and_no_other() {
        for partition in PARTITIONS {
            let text = format!("arn:{partition}:sqs:r:1:q");
            assert_eq!(parsed(&text).partition, *partition);
        }
        for partition in ["", "AWS", "aws-xx", "awsx", "äws"] {
            let text = format!("arn:{partition}:sqs:r:1:q");
            assert_eq!(Arn::parse(&text), Err(ArnError::UnknownPartition), "{text}");
        }
    }

    #[test]
    fn malformed_texts_say_what_is_missing() {
        let cases = [
            ("", ArnError::TooFewFields { found: 1 }),
            ("arn", ArnError::TooFewFields { found: 1 }),
            ("arn:aws:sns", ArnError::TooFewFields { found: 3 }),
            (
                "arn:aws:sns:us-east-1:123456789012",
                ArnError::TooFewFields { found: 5 },
            ),
            ("urn:aws:sns:us-east-1:123456789012:t", ArnError::NotAnArn),
            ("ARN:aws:sns:us-east-1:123456789012:t", ArnError::NotAnArn),
            (":::::", ArnError::NotAnArn),
            (
                "arn::sns:us-east-1:123456789012:t",
                ArnError::UnknownPartition,
            ),
            (
                "arn:aws::us-east-1:123456789012:t",
                ArnError::MissingService,
            ),
            (
                "arn:aws:sns:us-east-1:123456789012:",
                ArnError::MissingResource,
            ),
            ("arn:aws:s3:::", ArnError::MissingResource),
        ];
        for (text, error) in cases {
            assert_eq!(Arn::parse(text), Err(error), "{text:?}");
        }
        assert_eq!(
            ArnError::TooFewFields { found: 3 }.to_string(),
            "an ARN has at least 6 ':'-separated fields, this text has 3"
        );
    }

    #[test]
    fn the_resource_keeps_its_colons_and_slashes() {
        let arn = parsed("arn:aws:states:us-east-1:1:mapRun:m/Map:0b7c:extra/x");
        assert_eq!(arn.resource, "mapRun:m/Map:0b7c:extra/x");
        assert_eq!(arn.last_segment(), "extra/x");
        assert_eq!(parsed("arn:aws:sqs:r:1:queue").last_segment(), "queue");
    }

    #[test]
    fn long_and_non_ascii_texts() {
        let name = "q".repeat(100_000);
        let text = format!("arn:aws:sqs:us-east-1:123456789012:{name}");
        assert_eq!(parsed(&text).last_segment(), name);
        let colons = format!("arn:aws:states:::{}", ":".repeat(10_000));
        assert_eq!(parsed(&colons).resource.len(), 10_000);
        let text = "arn:aws:sns:us-east-1:123456789012:тема-🦀";
        assert_eq!(parsed(text).last_segment(), "тема-🦀");
        assert_eq!(parsed(text).to_string(), text);
        assert_eq!(
            Arn::parse("arn:aws:sns:us-east-1:тема"),
            Err(ArnError::TooFewFields { found: 5 })
        );
    }

    #[test]
    fn functions_with_and_without_qualifiers() {
        let function = |text| parsed(text).function();
        assert_eq!(
            function("arn:aws:lambda:us-east-1:123456789012:function:resize"),
            Some(QualifiedName {
                name: "resize",
                qualifier: None
            })
        );
        assert_eq!(
            function("arn:aws:lambda:us-east-1:123456789012:function:resize:$LATEST"),
            Some(QualifiedName {
                name: "resize",
                qualifier: Some("$LATEST")
            })
        );
        for not_a_function in [
            "arn:aws:lambda:us-east-1:123456789012:function:",
            "arn:aws:lambda:us-east-1:123456789012:function:f:",
            "arn:aws:lambda:us-east-1:123456789012:function:f:1:2",
            "arn:aws:lambda:us-east-1:123456789012:function",
            "arn:aws:lambda:us-east-1:123456789012:functions:f",
            "arn:aws:lambda:us-east-1:123456789012:layer:l:1",
            "arn:aws:states:us-east-1:123456789012:function:f",
        ] {
            assert_eq!(function(not_a_function), None, "{not_a_function}");
        }
        assert_eq!(
            QualifiedName::parse("function:f:7", "function"),
            Some(QualifiedName {
                name: "f",
                qualifier: Some("7")
            })
        );
    }

    #[test]
    fn state_machines_and_executions() {
        let machine = |text| parsed(text).state_machine();
        assert_eq!(
            machine("arn:aws:states:us-east-1:123456789012:stateMachine:m"),
            Some(QualifiedName {
                name: "m",
                qualifier: None
            })
        );
        assert_eq!(
            machine("arn:aws:states:us-east-1:123456789012:stateMachine:m:prod")
                .and_then(|m| m.qualifier),
            Some("prod")
        );
        assert_eq!(
            machine("arn:aws:states:us-east-1:123456789012:execution:m:e"),
            None
        );
        let execution = |text| parsed(text).execution();
        assert_eq!(
            execution("arn:aws:states:us-east-1:123456789012:execution:m:e"),
            Some(ExecutionName {
                state_machine: "m",
                name: "e",
                express_id: None
            })
        );
        assert_eq!(
            execution("arn:aws:states:us-east-1:123456789012:express:m:e:0b7c-11"),
            Some(ExecutionName {
                state_machine: "m",
                name: "e",
                express_id: Some("0b7c-11")
            })
        );
        for not_an_execution in [
            "arn:aws:states:us-east-1:123456789012:execution:m",
            "arn:aws:states:us-east-1:123456789012:execution:m:",
            "arn:aws:states:us-east-1:123456789012:execution:m:e:x",
            "arn:aws:states:us-east-1:123456789012:express:m:e",
            "arn:aws:states:us-east-1:123456789012:express:m:e:i:x",
            "arn:aws:states:us-east-1:123456789012:stateMachine:m:e",
            "arn:aws:lambda:us-east-1:123456789012:execution:m:e",
        ] {
            assert_eq!(execution(not_an_execution), None, "{not_an_execution}");
        }
    }

    #[test]
    fn scopes() {
        let arn = parsed("arn:aws-cn:sqs:cn-north-1:123456789012:q");
        let scope = Scope::new("cn-north-1", "123456789012");
        assert_eq!(arn.scope(), scope);
        assert!(arn.is_in(&scope));
        assert!(!arn.is_in(&Scope::new("cn-northwest-1", "123456789012")));
        assert!(!arn.is_in(&Scope::new("cn-north-1", "000000000000")));
        let mut other_partition = scope.clone();
        other_partition.partition = "aws".into();
        assert!(!arn.is_in(&other_partition));
        assert_eq!(
            Arn::parse(&scope.arn("states", "activity:a")).map(|a| a.is_in(&scope)),
            Ok(true)
        );
    }

    proptest! {
        #[test]
        fn printing_then_parsing_gives_the_same_arn(
            partition in proptest::sample::select(PARTITIONS),
            service in "[^:]{1,12}",
            region in "[^:]{0,16}",
            account in "[^:]{0,12}",
            resource in "\\PC{1,64}",
        ) {
            let arn = Arn { partition, service: &service, region: &region, account: &account, resource: &resource };
            let text = arn.to_string();
            prop_assert_eq!(Arn::parse(&text), Ok(arn));
        }

        #[test]
        fn whatever_parses_prints_back_exactly(text in "(arn:aws(-cn)?:)?[a-z:/]{0,24}") {
            if let Ok(arn) = Arn::parse(&text) {
                prop_assert_eq!(arn.to_string(), text);
            }
        }
    }
}
