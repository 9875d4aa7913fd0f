//! [`Scope`]: where resources live.

/// The partitions whose ARNs Sluice accepts.
pub const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// The partition a region belongs to (`us-east-1` → `aws`, `cn-north-1` → `aws-cn`).
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else if region.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}

/// Where resources live: the partition, region and account of the ARNs made for them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl Scope {
    /// A scope in `region`'s partition.
    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Self {
        let region = region.into();
        Self {
            partition: partition_for_region(&region).to_string(),
            region,
            account: account.into(),
        }
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_the_regions_partition() {
        assert_eq!(
            Scope::new("us-west-2", "123456789012").arn("lambda", "function:f"),
            "arn:aws:lambda:us-west-2:123456789012:function:f"
        );
        assert_eq!(
            Scope::new("cn-northwest-1", "000000000000").arn("states", "activity:a"),
            "arn:aws-cn:states:cn-northwest-1:000000000000:activity:a"
        );
        for region in [
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eusc-de-east-1",
        ] {
            assert!(
                PARTITIONS.contains(&partition_for_region(region)),
                "{region}"
            );
        }
    }
}
