//! The MD5 digests SQS returns: of a message's body, and of its message attributes in AWS's
//! documented encoding (each attribute, sorted by name: the name's length (4 bytes, big
//! endian) and bytes, the data type's length and bytes, a transport byte (1 for strings and
//! numbers, 2 for binaries), the value's length and bytes).

use md5::{Digest, Md5};

use crate::message::{AttributeValue, Attributes};

/// Hex MD5 of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    format!("{:x}", Md5::digest(bytes))
}

/// Hex MD5 of `attributes` in AWS's encoding; `None` when there are none.
pub fn of_attributes(attributes: &Attributes) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut hasher = Md5::new();
    // A BTreeMap: sorted by name, as AWS requires.
    for (name, attribute) in attributes {
        field(&mut hasher, name.as_bytes());
        field(&mut hasher, attribute.data_type.as_bytes());
        match &attribute.value {
            AttributeValue::String(s) => {
                hasher.update([1]);
                field(&mut hasher, s.as_bytes());
            }
            AttributeValue::Binary(b) => {
                hasher.update([2]);
                field(&mut hasher, b);
            }
        }
    }
    Some(format!("{:x}", hasher.finalize()))
}

fn field(hasher: &mut Md5, bytes: &[u8]) {
    hasher.update((bytes.len() as u32).to_be_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Attribute;

    #[test]
    fn body_digest_is_plain_md5() {
        // RFC 1321's test vector.
        assert_eq!(hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn attribute_digest_follows_awss_encoding() {
        let mut attributes = Attributes::new();
        assert_eq!(of_attributes(&attributes), None);
        attributes.insert(
            "a".into(),
            Attribute {
                data_type: "String".into(),
                value: AttributeValue::String("b".into()),
            },
        );
        // The encoding by hand: name, type, transport 1, value.
        let mut expected = Vec::new();
        for part in [&b"a"[..], b"String"] {
            expected.extend((part.len() as u32).to_be_bytes());
            expected.extend(part);
        }
        expected.push(1);
        expected.extend(1u32.to_be_bytes());
        expected.extend(b"b");
        assert_eq!(of_attributes(&attributes), Some(hex(&expected)));
        // The digest Python's hashlib gives for the same documented encoding, computed apart.
        attributes.clear();
        attributes.insert(
            "kind".into(),
            Attribute {
                data_type: "String".into(),
                value: AttributeValue::String("alert".into()),
            },
        );
        assert_eq!(
            of_attributes(&attributes).as_deref(),
            Some("3a609bafa87bcebdb871d92f85696a1e")
        );
    }
}
