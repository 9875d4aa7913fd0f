//! Sluice's AWS-compatible HTTP front.
//!
//! This crate owns the wire: it speaks the AWS protocols so the real `aws` CLI, boto3 and the
//! AWS SDKs work unchanged with `--endpoint-url`: the Step Functions API (AWS JSON 1.0,
//! [`sfn`]) and the Lambda API (REST-JSON, [`lambda`]), every service on one port through the
//! [`gateway`] (which [`classify`]s each request by service and protocol), and the generated
//! models of the services to come behind features.
//!
//! It decodes and validates requests and encodes responses and errors exactly as AWS does, and
//! nothing more: it holds no state and runs nothing. What the API means is the engine's job,
//! behind the [`sfn::StepFunctions`] trait (one async method per operation, each defaulting to
//! `UnsupportedOperation`). The shapes of requests and responses are generated from AWS's own
//! service model (`codegen/generate.py` → [`sfn::model`], [`sfn::operations`]), so member
//! names, optionality and constraints cannot drift from what clients send.
//!
//! Start with [`router`] (serve it with `axum::serve`) and [`sfn::StepFunctions`]. Errors are
//! [`ApiError`]s in AWS's shape; [`sfn::arn`], [`sfn::name`] and [`sfn::pagination`] give a
//! backend AWS's ARNs, name rules and `nextToken`s. Bad input never panics and never yields a
//! 500: it is a `SerializationException`, a `ValidationException` worded as AWS words it, or
//! the service's own error.

pub mod binding;
pub mod classify;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "dynamodbstreams")]
pub mod dynamodbstreams;
pub mod error;
#[cfg(feature = "events")]
pub mod events;
#[cfg(feature = "events")]
pub mod events_routes;
pub mod gateway;
pub mod http;
pub mod json_routes;
#[cfg(feature = "kinesis")]
pub mod kinesis;
#[cfg(feature = "kinesis")]
pub mod kinesis_routes;
pub mod lambda;
#[cfg(feature = "pipes")]
pub mod pipes;
#[cfg(feature = "pipes")]
pub mod pipes_routes;
pub mod query;
pub mod request_id;
pub mod rest;
#[cfg(feature = "s3")]
pub mod s3;
pub mod s3_routes;
#[cfg(feature = "scheduler")]
pub mod scheduler;
#[cfg(feature = "scheduler")]
pub mod scheduler_routes;
pub mod sfn;
pub mod shape;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "sns")]
pub mod sns_routes;
#[cfg(feature = "sqs")]
pub mod sqs;
#[cfg(feature = "sqs")]
pub mod sqs_routes;

pub use error::ApiError;
pub use http::{Options, router, router_with};
