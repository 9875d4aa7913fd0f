//! What signs notifications: an RSA key made once per data directory (kept in the store) and
//! a self-signed X.509 certificate for it, served at every notification's `SigningCertURL`,
//! so subscribers that verify SNS signatures work. SignatureVersion 1 signs with SHA1withRSA,
//! 2 with SHA256withRSA, over AWS's canonical string of the message's fields.

use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer as _};
use serde_json::{Map, Value};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::EncodePem;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

/// Where the store keeps the key and certificate.
pub(crate) const KEY_KIND: &str = "sns-signing-key";
const KEY_BITS: usize = 2048;

/// The path under a service endpoint where the certificate is served.
pub const CERT_PATH: &str = "/sluice/sns/SimpleNotificationService.pem";

/// The key and certificate that sign notifications.
pub struct Signer {
    sha1: SigningKey<sha1::Sha1>,
    sha256: SigningKey<sha2::Sha256>,
    certificate_pem: String,
}

/// The key and certificate as stored.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Stored {
    key_pem: String,
    certificate_pem: String,
}

impl Signer {
    /// A new key and its certificate.
    pub(crate) fn generate() -> Result<(Self, Stored), String> {
        let mut rng = rsa::rand_core::OsRng;
        let key = RsaPrivateKey::new(&mut rng, KEY_BITS).map_err(|e| e.to_string())?;
        let public =
            SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(|e| e.to_string())?;
        let ca = SigningKey::<sha2::Sha256>::new(key.clone());
        let subject = Name::from_str("CN=sns.amazonaws.com,O=Sluice").map_err(|e| e.to_string())?;
        let validity = Validity::from_now(Duration::from_secs(20 * 365 * 86_400))
            .map_err(|e| e.to_string())?;
        let serial = SerialNumber::from(fastrand::u32(1..));
        let builder =
            CertificateBuilder::new(Profile::Root, serial, validity, subject, public, &ca)
                .map_err(|e| e.to_string())?;
        let certificate = builder
            .build::<rsa::pkcs1v15::Signature>()
            .map_err(|e| e.to_string())?;
        let certificate_pem = certificate
            .to_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        let key_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?
            .to_string();
        let stored = Stored {
            key_pem,
            certificate_pem,
        };
        Ok((Self::from_stored(&stored)?, stored))
    }

    pub(crate) fn from_stored(stored: &Stored) -> Result<Self, String> {
        let key = RsaPrivateKey::from_pkcs8_pem(&stored.key_pem).map_err(|e| e.to_string())?;
        Ok(Self {
            sha1: SigningKey::new(key.clone()),
            sha256: SigningKey::new(key),
            certificate_pem: stored.certificate_pem.clone(),
        })
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The base64 signature of `message` (a notification or confirmation, as sent) with the
    /// topic's `SignatureVersion`.
    pub fn sign(&self, version: &str, message: &Map<String, Value>) -> String {
        let text = canonical(message);
        let signature = if version == "2" {
            self.sha256.sign(text.as_bytes()).to_vec()
        } else {
            self.sha1.sign(text.as_bytes()).to_vec()
        };
        base64::engine::general_purpose::STANDARD.encode(signature)
    }
}

/// AWS's string to sign: each signed field present, as `Name\nvalue\n`, in this order.
pub fn canonical(message: &Map<String, Value>) -> String {
    let notification = message.get("Type").and_then(Value::as_str) == Some("Notification");
    let fields: &[&str] = if notification {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut out = String::new();
    for field in fields {
        if let Some(value) = message.get(*field).and_then(Value::as_str) {
            out.push_str(field);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
    }
    out
}

/// A subscription's confirmation token: 288 hex characters, as AWS's.
pub(crate) fn confirmation_token() -> String {
    let mut out = String::with_capacity(288);
    while out.len() < 288 {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(288);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::VerifyingKey;
    use rsa::signature::Verifier as _;

    #[test]
    fn the_canonical_string_takes_aws_fields_in_order() {
        let message: Map<String, Value> = serde_json::from_str(
            r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"hi","Timestamp":"ts","SignatureVersion":"1"}"#,
        )
        .unwrap();
        assert_eq!(
            canonical(&message),
            "Message\nhi\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n"
        );
    }

    #[test]
    fn signatures_verify_with_the_certificates_key() {
        let (signer, stored) = Signer::generate().unwrap();
        assert!(
            stored
                .certificate_pem
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        let again = Signer::from_stored(&stored).unwrap();
        let message: Map<String, Value> =
            serde_json::from_str(r#"{"Type":"Notification","Message":"x","MessageId":"1"}"#)
                .unwrap();
        let key = RsaPrivateKey::from_pkcs8_pem(&stored.key_pem).unwrap();
        for version in ["1", "2"] {
            let signature = base64::engine::general_purpose::STANDARD
                .decode(again.sign(version, &message))
                .unwrap();
            let signature = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).unwrap();
            let text = canonical(&message);
            if version == "1" {
                VerifyingKey::<sha1::Sha1>::new(key.to_public_key())
                    .verify(text.as_bytes(), &signature)
                    .unwrap();
            } else {
                VerifyingKey::<sha2::Sha256>::new(key.to_public_key())
                    .verify(text.as_bytes(), &signature)
                    .unwrap();
            }
        }
        drop(signer);
    }
}
