//! A distributed Map over objects, pure: what its `ItemReader` makes of an object's text (or a
//! bucket's listing), how its `ItemBatcher` groups items into child inputs, and the result
//! files and manifest its `ResultWriter` exports. The reads and writes themselves are effects
//! the driver asks for ([`crate::driver::Effect::Objects`]); this module only turns text into
//! values and back, so it can be property-tested and fuzzed without a store.

pub mod batch;
pub mod read;
pub mod write;

/// The most items a Map reads (AWS: "you can specify a limit of up to 100,000,000"); a
/// `MaxItems` of 0 means this.
pub const MAX_ITEMS: u64 = 100_000_000;

/// The object-store calls a distributed Map makes: these resources go to the task dispatcher
/// (an `aws-sdk:s3` integration), with AWS's SDK shapes.
pub mod resources {
    pub const GET_OBJECT: &str = "arn:aws:states:::aws-sdk:s3:getObject";
    pub const LIST_OBJECTS_V2: &str = "arn:aws:states:::aws-sdk:s3:listObjectsV2";
    pub const PUT_OBJECT: &str = "arn:aws:states:::aws-sdk:s3:putObject";
}
