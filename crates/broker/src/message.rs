//! A message as the broker keeps it: what was sent (body, attributes, ids, digests), encoded
//! once into the store's message body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Message attributes by name (sorted, as AWS's digest needs).
pub type Attributes = BTreeMap<String, Attribute>;

/// One message attribute: its data type (`String`, `Number`, `Binary`, each with an optional
/// `.custom` suffix) and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub data_type: String,
    pub value: AttributeValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    /// `String` and `Number` types.
    String(String),
    /// `Binary` types: the bytes (base64 on the wire).
    Binary(Vec<u8>),
}

/// What a message carries from its send to its deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub id: String,
    pub body: String,
    pub md5_of_body: String,
    pub attributes: Attributes,
    pub md5_of_attributes: Option<String>,
    pub sent_ms: i64,
    /// `AWSTraceHeader`, the one system attribute SQS takes.
    pub trace_header: Option<String>,
    /// The queue it was first sent to, when a dead-letter move brought it here.
    pub dead_letter_source: Option<String>,
    /// FIFO queues: the message's group, deduplication id and sequence number.
    #[serde(default)]
    pub group_id: Option<String>,
    #[serde(default)]
    pub deduplication_id: Option<String>,
    #[serde(default)]
    pub sequence_number: Option<String>,
}

impl Sent {
    pub fn encode(&self) -> Vec<u8> {
        // Plain data: serializing cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// A received message, as ReceiveMessage returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub sent: Sent,
    pub receipt_handle: String,
    pub receive_count: u32,
    pub first_receive_ms: i64,
}
