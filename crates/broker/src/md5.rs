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

    /// Digests AWS computed, as LocalStack's recordings against AWS show them (SQS's
    /// `MD5OfMessageAttributes`, and SNS's raw delivery of a `Number`).
    #[test]
    fn attribute_digests_match_awss_recorded_vectors() {
        let string = |pairs: &[(&str, &str, &str)]| -> Attributes {
            pairs
                .iter()
                .map(|(name, data_type, value)| {
                    (
                        (*name).to_owned(),
                        Attribute {
                            data_type: (*data_type).to_owned(),
                            value: AttributeValue::String((*value).to_owned()),
                        },
                    )
                })
                .collect()
        };
        type Vector<'a> = (&'a [(&'a str, &'a str, &'a str)], &'a str);
        let vectors: &[Vector] = &[
            (
                &[("MyAttribute", "String", "foobar")],
                "adb59cd4678ea5a855436b949cd07ab6",
            ),
            (
                &[("Foo", "String", "Bar")],
                "ae7155c6026991b6d54b11589678bf9c",
            ),
            (
                &[("Hello", "String", "There")],
                "a311262e065454b75da111d535b8dacd",
            ),
            (
                &[
                    ("General", "String", "Kenobi"),
                    ("Hello", "String", "There"),
                ],
                "fca026605781cb4126a1e9044df24232",
            ),
            (
                &[("Hello", "String", "There"), ("Help.Me", "String", "Me")],
                "83fee93c1bcd8b9a5a923ffacdc636c7",
            ),
            (
                &[
                    ("General", "String", "Kenobi"),
                    ("Hello", "String", "There"),
                    ("Help.Me", "String", "Me"),
                ],
                "4c360f3fdafd970e05fae2f149d997f5",
            ),
            (
                &[("attr1", "Number", "99.12")],
                "d302007e9aa062660afc85fd0a482472",
            ),
        ];
        for (attributes, expected) in vectors {
            assert_eq!(
                of_attributes(&string(attributes)).as_deref(),
                Some(*expected),
                "{attributes:?}"
            );
        }
        let binary: Attributes = [(
            "attr1".to_owned(),
            Attribute {
                data_type: "Binary".into(),
                value: AttributeValue::Binary(
                    b"traceparent\x1e00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01"
                        .to_vec(),
                ),
            },
        )]
        .into_iter()
        .collect();
        assert_eq!(
            of_attributes(&binary).as_deref(),
            Some("8cbe4db156db8a94db8b801b7addb984")
        );
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
