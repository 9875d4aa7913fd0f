//! Sluice's AWS service adapters: what each operation of the APIs `sluice-api` speaks means,
//! over the domain crates (`sluice-engine` for executions, `sluice-functions` for functions,
//! `sluice-broker` for queues, `sluice-store` for records), with AWS's fields, defaults and errors.
//!
//! - [`sfn`]: the Step Functions control plane ([`sfn::Backend`]): state machines with AWS's
//!   idempotent create, versions, aliases, tags, executions and their history as AWS shows it,
//!   activities, Map Runs, TestState.
//! - [`lambda`]: the Lambda API ([`lambda::LambdaBackend`]): functions, versions, aliases,
//!   invocations, concurrency, event invoke configs, each in the request's region; Sluice's
//!   own routes over the functions ([`lambda::routes`]: logs, deployment packages).
//! - [`sqs`]: the SQS API ([`sqs::SqsBackend`]) over the broker (`sluice-broker`).
//! - [`kinesis`]: the Kinesis API ([`kinesis::KinesisBackend`]) over the data streams
//!   (`sluice-streams`).
//! - [`sns`]: the SNS API ([`sns::SnsBackend`]) over the broker's topics.
//! - [`mappings`]: Lambda event-source mappings from SQS queues ([`mappings::Mappings`]): the
//!   control plane behind the Lambda API's `*EventSourceMapping*` operations and the pollers
//!   that deliver batches to functions.
//! - [`pipes`]: EventBridge Pipes from SQS queues and Kinesis streams ([`pipes::PipesBackend`]): the Pipes API and
//!   the pollers that filter, enrich, shape and deliver batches to functions, state machines,
//!   queues and topics.
//! - [`scheduler`]: EventBridge Scheduler ([`scheduler::SchedulerBackend`]): schedules and
//!   groups, fired durably on the server's clock (next fire and pending delivery in one
//!   commit; a fire missed while down happens once on restart), delivered to templated and
//!   universal (`aws-sdk`) targets with retries and a dead-letter queue.
//! - [`counters`]: Sluice's own routes over the queues', topics', mappings', pipes' and
//!   schedules' counters (`/sluice/queues`, `/sluice/mappings`, `/sluice/pipes`,
//!   `/sluice/schedules`).
//! - [`events`]: EventBridge ([`events::EventsBackend`]): buses, rules and targets, PutEvents
//!   with its deliveries durable before the answer (retries, dead-letter queues), scheduled
//!   rules, and Step Functions' execution status-change events.
//! - [`targets`]: delivers a payload to a target ARN (function, state machine, queue, topic,
//!   stream, event bus): what EventBridge rules and schedules deliver through.
//! - [`integrations`]: Task states' service integrations that run in process (Lambda).
//!
//! No wire format lives here (that is `sluice-api`), and no CLI or configuration (the binary).

pub mod counters;
pub mod events;
pub mod integrations;
pub mod kinesis;
pub mod lambda;
pub mod mappings;
pub mod pipes;
mod queue_source;
pub mod s3;
pub mod scheduler;
pub mod sfn;
pub mod sns;
pub mod sqs;
mod stream_source;
pub mod targets;
