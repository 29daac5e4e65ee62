//! Playback public keys (ImportPlaybackKeyPair): an SPKI PEM (`-----BEGIN PUBLIC KEY-----`) of an
//! ECDSA P-384 key, as IVS playback tokens are signed with ES384. The key's fingerprint is derived
//! from its DER encoding.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const END: &str = "-----END PUBLIC KEY-----";
/// id-ecPublicKey (1.2.840.10045.2.1).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// secp384r1 (1.3.132.0.34).
const OID_SECP384R1: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];

const TAG_SEQUENCE: u8 = 0x30;
const TAG_OID: u8 = 0x06;
const TAG_BIT_STRING: u8 = 0x03;

/// Why public key material was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a `PUBLIC KEY` PEM block.
    #[error("publicKeyMaterial must be a PEM-encoded public key (-----BEGIN PUBLIC KEY-----)")]
    NotPem,
    /// The PEM body is not base64.
    #[error("publicKeyMaterial is not valid base64 inside its PEM armor")]
    Base64,
    /// The DER is not a SubjectPublicKeyInfo.
    #[error("publicKeyMaterial is not a valid SubjectPublicKeyInfo structure")]
    Der,
    /// A valid key, but not ECDSA P-384.
    #[error("publicKeyMaterial must be an ECDSA P-384 (secp384r1) public key")]
    NotP384,
}

/// Reads one DER element: `(tag, contents, rest)`.
fn read_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 2 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let length = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if length < 0x80 {
            return None; // not the shortest form: not DER
        }
        (length, rest)
    };
    if rest.len() < length {
        return None;
    }
    let (contents, rest) = rest.split_at(length);
    Some((tag, contents, rest))
}

fn expect(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), KeyError> {
    match read_element(input) {
        Some((found, contents, rest)) if found == tag => Ok((contents, rest)),
        _ => Err(KeyError::Der),
    }
}

/// Decodes an SPKI PEM and checks that it holds an ECDSA P-384 public key. Returns the DER.
pub fn parse_public_key_pem(pem: &str) -> Result<Vec<u8>, KeyError> {
    let text = pem.trim();
    let body = text
        .strip_prefix(BEGIN)
        .and_then(|rest| rest.strip_suffix(END))
        .ok_or(KeyError::NotPem)?;
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD.decode(base64).map_err(|_| KeyError::Base64)?;

    let (spki, trailing) = expect(&der, TAG_SEQUENCE)?;
    if !trailing.is_empty() {
        return Err(KeyError::Der);
    }
    let (algorithm, rest) = expect(spki, TAG_SEQUENCE)?;
    let (key_bits, rest) = expect(rest, TAG_BIT_STRING)?;
    if !rest.is_empty() {
        return Err(KeyError::Der);
    }
    let (algorithm_oid, parameters) = expect(algorithm, TAG_OID)?;
    if algorithm_oid != OID_EC_PUBLIC_KEY {
        return Err(KeyError::NotP384);
    }
    let (curve_oid, rest) = expect(parameters, TAG_OID).map_err(|_| KeyError::NotP384)?;
    if curve_oid != OID_SECP384R1 || !rest.is_empty() {
        return Err(KeyError::NotP384);
    }
    // A BIT STRING with no unused bits holding an uncompressed (0x04, 96 bytes) or compressed
    // (0x02/0x03, 48 bytes) point.
    match key_bits {
        [0x00, 0x04, point @ ..] if point.len() == 96 => Ok(der),
        [0x00, 0x02 | 0x03, x @ ..] if x.len() == 48 => Ok(der),
        _ => Err(KeyError::Der),
    }
}

/// The fingerprint of a key: the first 16 bytes of the SHA-256 of its DER, as colon-separated hex
/// (`98:0d:1a:...`, the format IVS shows).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    digest
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A P-384 public key for tests (generated with `openssl ecparam -name secp384r1 -genkey`).
#[cfg(test)]
pub(crate) const TEST_P384_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEbVb8YGgdgI3bhXAgEoM8GPTQGaB4/MM+
EwosSAA2LVzZBf/2L+sKUMCHCD4rCjS2uVOoLbgjx90YZpsS0jsXMKth/lmlLUL5
8bCDVmSBEJv50eAxKJgZhQq1rEJDqyei
-----END PUBLIC KEY-----";

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 key: valid PEM, wrong curve.
    const P256_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzs5Dn9Taoz2XScSuU+Ia7iWYt5Je
XMl8tpgrognJ2MXjFCs3DZuRdA2a3A+PdSOw0qFBj+X/DWmqYhsYJy83Ug==
-----END PUBLIC KEY-----";

    #[test]
    fn accepts_a_p384_key_and_fingerprints_it() {
        let der = parse_public_key_pem(TEST_P384_PEM).unwrap();
        let print = fingerprint(&der);
        assert_eq!(print.len(), 16 * 3 - 1);
        assert_eq!(
            print,
            fingerprint(&parse_public_key_pem(&format!("\n  {TEST_P384_PEM}\n")).unwrap())
        );
    }

    #[test]
    fn refuses_other_material() {
        assert_eq!(parse_public_key_pem("not a key"), Err(KeyError::NotPem));
        assert_eq!(
            parse_public_key_pem(&format!("{BEGIN}\n!!!\n{END}")),
            Err(KeyError::Base64)
        );
        assert_eq!(
            parse_public_key_pem(&format!("{BEGIN}\nMAA=\n{END}")),
            Err(KeyError::Der)
        );
        assert_eq!(parse_public_key_pem(P256_PEM), Err(KeyError::NotP384));
        let private = TEST_P384_PEM.replace("PUBLIC KEY", "PRIVATE KEY");
        assert_eq!(parse_public_key_pem(&private), Err(KeyError::NotPem));
    }
}
