//! The checksums S3 computes and verifies: MD5 for the ETag, and the five algorithms of its
//! flexible checksums (`x-amz-checksum-*`), base64 of the big-endian digest as on the wire.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::Digest as _;
use serde::{Deserialize, Serialize};

/// A flexible-checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Crc64Nvme,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ];

    /// The name in `x-amz-checksum-algorithm` and `ChecksumAlgorithm` (`CRC64NVME`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The algorithm of a name, in any case.
    pub fn parse(name: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The lower-case header suffix (`x-amz-checksum-crc64nvme`).
    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Bytes of the digest: a value of another length is malformed, not merely wrong.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    /// Whether a multipart object's checksum of this algorithm may cover the whole object
    /// (the CRCs combine; the SHAs are only composite, a checksum of the parts' checksums).
    pub fn combines(self) -> bool {
        matches!(
            self,
            Algorithm::Crc32 | Algorithm::Crc32c | Algorithm::Crc64Nvme
        )
    }

    fn crc(self) -> Option<crc_fast::CrcAlgorithm> {
        match self {
            Algorithm::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
            Algorithm::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
            Algorithm::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
            Algorithm::Sha1 | Algorithm::Sha256 => None,
        }
    }

    /// The digest of `data` in one go.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut hasher = Hasher::new(self);
        hasher.update(data);
        hasher.finish()
    }
}

/// Whether a checksum covers the object's bytes or is a checksum of its parts' checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChecksumType {
    FullObject,
    Composite,
}

impl ChecksumType {
    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        }
    }

    pub fn parse(name: &str) -> Option<ChecksumType> {
        match name {
            "FULL_OBJECT" => Some(ChecksumType::FullObject),
            "COMPOSITE" => Some(ChecksumType::Composite),
            _ => None,
        }
    }
}

/// A stored checksum: algorithm, wire value (base64, `-N` for a composite of N parts), type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: Algorithm,
    pub value: String,
    #[serde(rename = "type")]
    pub kind: ChecksumType,
}

/// One algorithm's running digest.
pub enum Hasher {
    Crc(crc_fast::Digest, Algorithm),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm.crc() {
            Some(crc) => Hasher::Crc(crc_fast::Digest::new(crc), algorithm),
            None if algorithm == Algorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            None => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc(digest, _) => digest.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    /// The digest's bytes, big-endian for the CRCs as S3 encodes them.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc(digest, algorithm) => {
                let value = digest.finalize();
                if algorithm == Algorithm::Crc64Nvme {
                    value.to_be_bytes().to_vec()
                } else {
                    (value as u32).to_be_bytes().to_vec()
                }
            }
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// The whole-object CRC of two consecutive pieces, from their CRCs and the second's length.
pub fn combine(algorithm: Algorithm, first: &[u8], second: &[u8], second_len: u64) -> Vec<u8> {
    let crc = algorithm.crc().expect("only CRCs combine");
    let read = |bytes: &[u8]| {
        bytes
            .iter()
            .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte))
    };
    let value = crc_fast::checksum_combine(crc, read(first), read(second), second_len);
    if algorithm == Algorithm::Crc64Nvme {
        value.to_be_bytes().to_vec()
    } else {
        (value as u32).to_be_bytes().to_vec()
    }
}

pub fn encode(digest: &[u8]) -> String {
    STANDARD.encode(digest)
}

/// The digest a wire value (base64) carries, if it is one of `algorithm`'s.
pub fn decode(algorithm: Algorithm, value: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(value)
        .ok()
        .filter(|d| d.len() == algorithm.digest_len())
}

/// MD5 of a piece, for ETags and `Content-MD5`.
pub fn md5(data: &[u8]) -> [u8; 16] {
    md5::Md5::digest(data).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from AWS's documentation and the SDKs' test vectors for "Hello world".
    #[test]
    fn digests_match_what_the_sdks_send() {
        let data = b"Hello world";
        assert_eq!(encode(&Algorithm::Crc32.digest(data)), "i9aeUg==");
        assert_eq!(encode(&Algorithm::Crc32c.digest(data)), "crUfeA==");
        assert_eq!(encode(&Algorithm::Crc64Nvme.digest(data)), "OOJZ0D8xKts=");
        assert_eq!(
            encode(&Algorithm::Sha1.digest(data)),
            "e1AsOh9IyGCa4hLN+2Od7jlnP14="
        );
        assert_eq!(
            encode(&Algorithm::Sha256.digest(data)),
            "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="
        );
    }

    #[test]
    fn combined_crcs_equal_the_crc_of_the_whole() {
        let (a, b) = (
            b"multipart uploads ".as_slice(),
            b"in two pieces".as_slice(),
        );
        let whole = [a, b].concat();
        for algorithm in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            assert_eq!(
                combine(
                    algorithm,
                    &algorithm.digest(a),
                    &algorithm.digest(b),
                    b.len() as u64
                ),
                algorithm.digest(&whole),
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn names_parse_in_any_case_and_values_check_their_length() {
        assert_eq!(Algorithm::parse("crc64nvme"), Some(Algorithm::Crc64Nvme));
        assert_eq!(Algorithm::parse("MD5"), None);
        assert!(decode(Algorithm::Crc32, "i9aeUg==").is_some());
        assert!(decode(Algorithm::Crc64Nvme, "i9aeUg==").is_none());
        assert!(decode(Algorithm::Crc32, "not base64!").is_none());
    }
}
