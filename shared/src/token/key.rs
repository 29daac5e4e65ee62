//! Reading the signing key: the `pem` crate reads the PEM text (framing, labels, headers,
//! base64) and `simple_asn1` the DER inside, just enough to check the key type and to wrap
//! SEC1 in PKCS#8. jsonwebtoken's `EncodingKey::from_ec_pem` accepts PKCS#8 only (it refuses
//! the `EC PRIVATE KEY` label), so both forms are decoded here and handed over as PKCS#8 DER.

use simple_asn1::{ASN1Block, ASN1Class, BigInt, BigUint, OID};
use zeroize::{Zeroize, Zeroizing};

use super::error::KeyProblem;
use super::signer::KeyFormat;

/// 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
/// 1.3.132.0.34 (secp384r1, P-384).
const OID_P384: &[u64] = &[1, 3, 132, 0, 34];
/// 1.2.840.10045.3.1.7 (prime256v1, P-256).
const OID_P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
/// 1.3.132.0.35 (secp521r1, P-521).
const OID_P521: &[u64] = &[1, 3, 132, 0, 35];
/// 1.3.132.0.10 (secp256k1).
const OID_SECP256K1: &[u64] = &[1, 3, 132, 0, 10];
/// 1.2.840.113549.1.1.1 (rsaEncryption).
const OID_RSA: &[u64] = &[1, 2, 840, 113_549, 1, 1, 1];
/// 1.2.840.113549.1.1.10 (RSASSA-PSS).
const OID_RSA_PSS: &[u64] = &[1, 2, 840, 113_549, 1, 1, 10];
/// 1.3.101.112 (Ed25519).
const OID_ED25519: &[u64] = &[1, 3, 101, 112];
/// 1.3.101.113 (Ed448).
const OID_ED448: &[u64] = &[1, 3, 101, 113];

/// Length of a P-384 private scalar.
const P384_SCALAR_LEN: usize = 48;

/// Longest PEM label read (`ENCRYPTED PRIVATE KEY`, the longest one expected, has 21).
const MAX_PEM_LABEL_LEN: usize = 64;

/// Longest private key DER that is decoded. A P-384 key takes under 200 bytes (about 510 with
/// explicit curve parameters); the largest key commonly met, a 4096-bit RSA key in PKCS#8,
/// about 2,400. `simple_asn1` decodes nested elements recursively, one stack frame per
/// level: this bound (at most 1,536 levels) keeps a crafted key from overflowing a 2 MiB
/// thread stack (a tokio worker's) in release builds.
const MAX_KEY_DER_LEN: usize = 3 * 1024;

/// Finds the one private key in `pem` and returns it as PKCS#8 DER.
pub(super) fn pkcs8_from_pem(pem: &str) -> Result<(Vec<u8>, KeyFormat), KeyProblem> {
    let blocks = WipedBlocks(pem_blocks(pem)?);
    if blocks.0.is_empty() {
        return Err(KeyProblem::NoPem);
    }
    let mut private: Option<(KeyFormat, &[u8])> = None;
    let mut saw_public = false;
    for block in blocks.0.iter() {
        let format = match block.tag() {
            "EC PRIVATE KEY" => KeyFormat::Sec1,
            "PRIVATE KEY" => KeyFormat::Pkcs8,
            // `openssl ecparam -genkey` without `-noout` writes the curve first; the key
            // names its curve itself.
            "EC PARAMETERS" => continue,
            "PUBLIC KEY" | "EC PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => {
                saw_public = true;
                continue;
            }
            "ENCRYPTED PRIVATE KEY" => return Err(KeyProblem::Encrypted),
            "RSA PRIVATE KEY" => return Err(KeyProblem::WrongAlgorithm("RSA")),
            "OPENSSH PRIVATE KEY" => return Err(KeyProblem::UnsupportedFormat("OpenSSH")),
            _ => return Err(KeyProblem::UnsupportedFormat("an unknown PEM label")),
        };
        if private.is_some() {
            return Err(KeyProblem::SeveralKeys);
        }
        private = Some((format, block.contents()));
    }
    match private {
        Some((KeyFormat::Sec1, der)) => Ok((sec1_to_pkcs8(der)?, KeyFormat::Sec1)),
        Some((KeyFormat::Pkcs8, der)) => {
            check_pkcs8(der)?;
            Ok((der.to_vec(), KeyFormat::Pkcs8))
        }
        None if saw_public => Err(KeyProblem::NotPrivate),
        None => Err(KeyProblem::NoPem),
    }
}

/// Every `-----BEGIN <label>-----` … `-----END <label>-----` block of `text`, decoded by the
/// `pem` crate (strict, padded standard base64). Text between blocks is ignored (RFC 7468
/// allows it); whitespace inside a block is ignored. A block with RFC 1421 headers (legacy
/// OpenSSL encryption, `Proc-Type: 4,ENCRYPTED`) is refused. The crate's errors are never
/// passed on: some of them quote the input.
fn pem_blocks(text: &str) -> Result<Vec<pem::Pem>, KeyProblem> {
    let blocks = pem::parse_many(text)
        // `pem` takes everything before the first blank line of a block as its headers, so
        // a blank line among the base64 lines (or before the END line) fails the block. Such
        // a line is only whitespace: try again without it. (Headers keep their blank line in
        // the first attempt, which is the one that succeeds when they are present.)
        .or_else(|_| pem::parse_many(without_blank_lines(text).as_str()))
        .map_err(|_| {
            // A legacy encrypted key whose headers lost the blank line after them, or
            // whose base64 got damaged, still says what it is.
            if text.lines().any(|line| {
                line.trim_start().starts_with("Proc-Type:") && line.contains("ENCRYPTED")
            }) {
                KeyProblem::Encrypted
            } else {
                KeyProblem::MalformedPem
            }
        })?;
    // `parse_many` stops, without an error, at a block that is never closed: every BEGIN
    // line must have given a block. (A label cannot hold `-----`, and text between blocks
    // that held a BEGIN line would start a block itself.)
    if text.matches("-----BEGIN ").count() != blocks.len() {
        return Err(KeyProblem::MalformedPem);
    }
    for block in &blocks {
        let label = block.tag();
        if label.len() > MAX_PEM_LABEL_LEN
            || !label
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
        {
            return Err(KeyProblem::MalformedPem);
        }
        let mut headers = block.headers().iter().peekable();
        if headers.peek().is_some() {
            let encrypted = headers
                .any(|(name, value)| name.contains("ENCRYPTED") || value.contains("ENCRYPTED"));
            return Err(if encrypted {
                KeyProblem::Encrypted
            } else {
                KeyProblem::MalformedPem
            });
        }
        if block.contents().is_empty() {
            return Err(KeyProblem::MalformedPem);
        }
    }
    Ok(blocks)
}

/// `text` without its empty and whitespace-only lines.
fn without_blank_lines(text: &str) -> Zeroizing<String> {
    Zeroizing::new(
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// PEM blocks whose decoded contents (private key material) are wiped when dropped.
struct WipedBlocks(Vec<pem::Pem>);

impl Drop for WipedBlocks {
    fn drop(&mut self) {
        for block in std::mem::take(&mut self.0) {
            block.into_contents().zeroize();
        }
    }
}

/// Decodes `der`, which must be exactly one DER element. `simple_asn1` also reads BER
/// (non-minimal and indefinite lengths, non-minimal integers and tags, …) and encodes DER,
/// so the element must encode back to the very bytes it was read from.
fn decode_der(der: &[u8]) -> Result<ASN1Block, KeyProblem> {
    if der.len() > MAX_KEY_DER_LEN {
        return Err(KeyProblem::MalformedDer);
    }
    let mut elements = simple_asn1::from_der(der).map_err(|_| KeyProblem::MalformedDer)?;
    let element = match elements.pop() {
        Some(element) if elements.is_empty() => element,
        _ => return Err(KeyProblem::MalformedDer),
    };
    if simple_asn1::to_der(&element).ok().as_deref() != Some(der) {
        return Err(KeyProblem::MalformedDer);
    }
    Ok(element)
}

/// Encodes a DER element built here.
fn encode_der(element: &ASN1Block) -> Result<Vec<u8>, KeyProblem> {
    // Only an OID with fewer than two arcs or an out-of-range first arc fails to encode,
    // and the OIDs used here are constants.
    simple_asn1::to_der(element).map_err(|_| KeyProblem::MalformedDer)
}

/// The arcs of an OID, if each fits in a `u64`.
fn arcs(oid: &OID) -> Option<Vec<u64>> {
    oid.as_vec::<u64>().ok()
}

/// The OID with these arcs.
fn oid(arcs: &[u64]) -> OID {
    OID::new(arcs.iter().map(|&arc| BigUint::from(arc)).collect())
}

/// The tag number of a context-specific element (`[0]`, `[1]`, …).
fn context_tag(element: &ASN1Block) -> Option<&BigUint> {
    match element {
        ASN1Block::Explicit(ASN1Class::ContextSpecific, _, tag, _)
        | ASN1Block::Unknown(ASN1Class::ContextSpecific, _, _, tag, _) => Some(tag),
        _ => None,
    }
}

/// Whether `element` is the INTEGER `value`.
fn is_integer(element: &ASN1Block, value: u8) -> bool {
    matches!(element, ASN1Block::Integer(_, n) if *n == BigInt::from(value))
}

/// Checks that a named-curve OID is P-384.
fn check_curve(oid: &OID) -> Result<(), KeyProblem> {
    match arcs(oid).as_deref() {
        Some(OID_P384) => Ok(()),
        Some(OID_P256) => Err(KeyProblem::WrongCurve("P-256")),
        Some(OID_P521) => Err(KeyProblem::WrongCurve("P-521")),
        Some(OID_SECP256K1) => Err(KeyProblem::WrongCurve("secp256k1")),
        _ => Err(KeyProblem::WrongCurve("an unsupported curve")),
    }
}

/// Checks the curve parameters of an EC key: a named curve, P-384. Explicit curve
/// parameters (a SEQUENCE instead of an OID) are refused.
fn check_curve_parameters(parameters: &ASN1Block) -> Result<(), KeyProblem> {
    match parameters {
        ASN1Block::ObjectIdentifier(_, oid) => check_curve(oid),
        _ => Err(KeyProblem::WrongCurve(
            "explicit curve parameters (use a named curve)",
        )),
    }
}

/// Wraps a SEC1 `ECPrivateKey` (RFC 5915) in PKCS#8 (RFC 5208), after checking that it is a
/// P-384 key. The inner key is re-encoded without its curve parameters (PKCS#8 names the
/// curve in the algorithm identifier), as `openssl pkcs8 -topk8` does.
///
/// ```text
/// ECPrivateKey ::= SEQUENCE { version INTEGER (1), privateKey OCTET STRING,
///                             parameters [0] ECParameters OPTIONAL,
///                             publicKey [1] BIT STRING OPTIONAL }
/// PrivateKeyInfo ::= SEQUENCE { version INTEGER (0),
///                               algorithm SEQUENCE { id-ecPublicKey, secp384r1 },
///                               privateKey OCTET STRING (ECPrivateKey) }
/// ```
fn sec1_to_pkcs8(der: &[u8]) -> Result<Vec<u8>, KeyProblem> {
    let ASN1Block::Sequence(_, fields) = decode_der(der)? else {
        return Err(KeyProblem::MalformedDer);
    };
    let mut fields = fields.into_iter().peekable();
    if !fields.next().is_some_and(|version| is_integer(&version, 1)) {
        return Err(KeyProblem::MalformedDer);
    }
    let Some(ASN1Block::OctetString(_, scalar)) = fields.next() else {
        return Err(KeyProblem::MalformedDer);
    };
    let is_context =
        |element: &ASN1Block, tag: u8| context_tag(element) == Some(&BigUint::from(tag));
    // `Explicit`: a constructed `[n]` holding exactly one element.
    let has_parameters = match fields.next_if(|field| is_context(field, 0)) {
        Some(ASN1Block::Explicit(_, _, _, parameters)) => {
            check_curve_parameters(&parameters)?;
            true
        }
        Some(_) => return Err(KeyProblem::MalformedDer),
        None => false,
    };
    let public = fields.next_if(|field| is_context(field, 1));
    if let Some(public) = &public {
        if !matches!(public, ASN1Block::Explicit(_, _, _, key)
            if matches!(**key, ASN1Block::BitString(..)))
        {
            return Err(KeyProblem::MalformedDer);
        }
    }
    if fields.next().is_some() {
        return Err(KeyProblem::MalformedDer);
    }
    // Without parameters the key does not name its curve: its length must fit P-384.
    if !has_parameters && scalar.len() != P384_SCALAR_LEN {
        return Err(KeyProblem::WrongCurve(
            "not P-384 (wrong private key length)",
        ));
    }

    let mut inner = vec![
        ASN1Block::Integer(0, BigInt::from(1u8)),
        ASN1Block::OctetString(0, scalar),
    ];
    inner.extend(public);
    let inner = encode_der(&ASN1Block::Sequence(0, inner))?;
    encode_der(&ASN1Block::Sequence(
        0,
        vec![
            ASN1Block::Integer(0, BigInt::from(0u8)),
            ASN1Block::Sequence(
                0,
                vec![
                    ASN1Block::ObjectIdentifier(0, oid(OID_EC_PUBLIC_KEY)),
                    ASN1Block::ObjectIdentifier(0, oid(OID_P384)),
                ],
            ),
            ASN1Block::OctetString(0, inner),
        ],
    ))
}

/// Checks that a PKCS#8 `PrivateKeyInfo` (or v2 `OneAsymmetricKey`) holds an EC P-384 key.
fn check_pkcs8(der: &[u8]) -> Result<(), KeyProblem> {
    let ASN1Block::Sequence(_, fields) = decode_der(der)? else {
        return Err(KeyProblem::MalformedDer);
    };
    let mut fields = fields.iter();
    if !fields
        .next()
        .is_some_and(|version| is_integer(version, 0) || is_integer(version, 1))
    {
        return Err(KeyProblem::MalformedDer);
    }
    let Some(ASN1Block::Sequence(_, algorithm)) = fields.next() else {
        return Err(KeyProblem::MalformedDer);
    };
    let mut algorithm = algorithm.iter();
    let Some(ASN1Block::ObjectIdentifier(_, algorithm_oid)) = algorithm.next() else {
        return Err(KeyProblem::MalformedDer);
    };
    match arcs(algorithm_oid).as_deref() {
        Some(OID_EC_PUBLIC_KEY) => {}
        Some(OID_RSA | OID_RSA_PSS) => return Err(KeyProblem::WrongAlgorithm("RSA")),
        Some(OID_ED25519) => return Err(KeyProblem::WrongAlgorithm("Ed25519")),
        Some(OID_ED448) => return Err(KeyProblem::WrongAlgorithm("Ed448")),
        _ => return Err(KeyProblem::WrongAlgorithm("an unsupported algorithm")),
    }
    let parameters = algorithm.next().ok_or(KeyProblem::MalformedDer)?;
    check_curve_parameters(parameters)?;
    if algorithm.next().is_some() {
        return Err(KeyProblem::MalformedDer);
    }
    // The private key itself (and any attributes or public key after it) is the crypto
    // library's to read.
    let Some(ASN1Block::OctetString(..)) = fields.next() else {
        return Err(KeyProblem::MalformedDer);
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::tests::{openssl, TempDir};
    use crate::token::PlaybackSigner;

    #[test]
    fn base64_inside_pem_is_strict() {
        let problem = |body: &str| {
            pkcs8_from_pem(&format!(
                "-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----\n"
            ))
            .map(|_| ())
            .unwrap_err()
        };
        // Valid base64, whitespace and blank lines included: it decodes, then the DER (which
        // is no key) is refused.
        for good in ["TWFu", "TWE=", "TQ==", " TW\r\nFu\n", "TW\n\nFu", "+/+/"] {
            assert_eq!(problem(good), KeyProblem::MalformedDer, "{good:?}");
        }
        for bad in [
            "", "TWF", "TQ=", "T===", "TWE=TWFu", "TW-u", "TW_u", "TR==", "TWF=", "====",
        ] {
            assert_eq!(problem(bad), KeyProblem::MalformedPem, "{bad:?}");
        }
    }

    #[test]
    fn pem_layout() {
        let problem = |pem: &str| pkcs8_from_pem(pem).map(|_| ()).unwrap_err();
        let dir = TempDir::new("unit-layout");
        let pem = openssl(&dir.0, "ecparam -name secp384r1 -genkey -noout");
        let expected = pkcs8_from_pem(&pem).unwrap();

        // Blank lines among the base64 lines and before the END line are whitespace too.
        let mut lines: Vec<&str> = pem.lines().collect();
        lines.insert(2, "");
        lines.insert(lines.len() - 1, "");
        let spaced = lines.join("\n");
        assert_eq!(pkcs8_from_pem(&spaced).unwrap(), expected);
        assert_eq!(
            pkcs8_from_pem(&spaced.replace('\n', "\r\n")).unwrap(),
            expected
        );

        // A block left open after the key, or a BEGIN line in the text after it.
        assert_eq!(
            problem(&format!("{pem}-----BEGIN PUBLIC KEY-----\nTWFu\n")),
            KeyProblem::MalformedPem
        );
        assert_eq!(
            problem(&format!("{pem}\nsee -----BEGIN PUBLIC KEY-----\n")),
            KeyProblem::MalformedPem
        );
        // A legacy encrypted key is recognised even without the blank line after its
        // headers.
        assert_eq!(
            problem(
                "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\
                 TWFu\n-----END EC PRIVATE KEY-----\n"
            ),
            KeyProblem::Encrypted
        );
        // Headers that do not announce encryption are refused as well.
        assert_eq!(
            problem(
                "-----BEGIN EC PRIVATE KEY-----\nComment: x\n\nTWFu\n-----END EC PRIVATE KEY-----\n"
            ),
            KeyProblem::MalformedPem
        );
        // Labels are uppercase letters, digits and spaces.
        assert_eq!(
            problem("-----BEGIN ec private key-----\nTWFu\n-----END ec private key-----\n"),
            KeyProblem::MalformedPem
        );
        let long = "A".repeat(65);
        assert_eq!(
            problem(&format!(
                "-----BEGIN {long}-----\nTWFu\n-----END {long}-----\n"
            )),
            KeyProblem::MalformedPem
        );
    }

    /// `der` with its outer length (one byte, long form: `0x81 n`) rewritten as `head`.
    fn with_outer_length(der: &[u8], head: &[u8]) -> Vec<u8> {
        assert_eq!(der[1], 0x81, "expected a 128 to 255 byte key");
        [&[der[0]], head, &der[3..]].concat()
    }

    #[test]
    fn keys_must_be_der() {
        let dir = TempDir::new("unit-der");
        let sec1_pem = openssl(&dir.0, "ecparam -name secp384r1 -genkey -noout");
        let sec1 = pem::parse(&sec1_pem).unwrap().into_contents();
        let (pkcs8, _) = pkcs8_from_pem(&sec1_pem).unwrap();
        let as_pem = |label: &str, der: &[u8]| pem::encode(&pem::Pem::new(label, der.to_vec()));
        // Re-encoded unchanged, both are accepted.
        assert_eq!(
            pkcs8_from_pem(&as_pem("EC PRIVATE KEY", &sec1)).unwrap(),
            (pkcs8.clone(), KeyFormat::Sec1)
        );
        assert_eq!(
            pkcs8_from_pem(&as_pem("PRIVATE KEY", &pkcs8)).unwrap(),
            (pkcs8.clone(), KeyFormat::Pkcs8)
        );

        for (label, der) in [("EC PRIVATE KEY", &sec1), ("PRIVATE KEY", &pkcs8)] {
            let n = der[2];
            // Both start with `SEQUENCE (0x81 n) { INTEGER (1) v, … }`.
            assert_eq!(der[3..5], [0x02, 0x01], "{label}");
            let indefinite = [&with_outer_length(der, &[0x80])[..], &[0, 0]].concat();
            let non_minimal_integer = [
                &with_outer_length(der, &[0x81, n + 1])[..3],
                &[0x02, 0x02, 0x00, der[5]],
                &der[6..],
            ]
            .concat();
            let bad: [(&str, Vec<u8>); 8] = [
                ("non-minimal length", with_outer_length(der, &[0x82, 0, n])),
                (
                    "leading zero length",
                    with_outer_length(der, &[0x83, 0, 0, n]),
                ),
                ("indefinite length", indefinite),
                ("non-minimal integer", non_minimal_integer),
                ("trailing element", [&der[..], &[0x05, 0x00]].concat()),
                ("truncated", der[..der.len() - 1].to_vec()),
                ("multi-byte tag", [&[0x3F, 0x10], &der[1..]].concat()),
                ("primitive sequence", [&[0x10], &der[1..]].concat()),
            ];
            for (what, bad) in bad {
                assert_eq!(
                    pkcs8_from_pem(&as_pem(label, &bad))
                        .map(|_| ())
                        .unwrap_err(),
                    KeyProblem::MalformedDer,
                    "{label}: {what}"
                );
            }
        }

        // Deep nesting is refused by size before it reaches the (recursive) decoder.
        let mut nested = vec![0x05, 0x00];
        for _ in 0..2_000 {
            let len = u16::try_from(nested.len()).unwrap().to_be_bytes();
            nested = [&[0x30, 0x82][..], &len, &nested].concat();
        }
        assert!(nested.len() > MAX_KEY_DER_LEN);
        for label in ["EC PRIVATE KEY", "PRIVATE KEY"] {
            assert_eq!(
                pkcs8_from_pem(&as_pem(label, &nested))
                    .map(|_| ())
                    .unwrap_err(),
                KeyProblem::MalformedDer
            );
        }
    }

    #[test]
    fn key_text_problems() {
        let problem = |pem: &str| pkcs8_from_pem(pem).map(|_| ()).unwrap_err();
        assert_eq!(problem(""), KeyProblem::NoPem);
        assert_eq!(problem("just some text"), KeyProblem::NoPem);
        assert_eq!(
            problem("{\"key\":\"-----BEGIN EC PRIVATE KEY-----\\nTWFu\\n-----END EC PRIVATE KEY-----\"}"),
            KeyProblem::MalformedPem
        );
        assert_eq!(
            problem("-----BEGIN EC PRIVATE KEY-----\nTWFu\n"),
            KeyProblem::MalformedPem
        );
        assert_eq!(
            problem("-----BEGIN EC PRIVATE KEY-----\nTWFu\n-----END PRIVATE KEY-----\n"),
            KeyProblem::MalformedPem
        );
        assert_eq!(
            problem("-----BEGIN EC PRIVATE KEY-----\nTW!u\n-----END EC PRIVATE KEY-----\n"),
            KeyProblem::MalformedPem
        );
        assert_eq!(
            problem("-----BEGIN EC PRIVATE KEY-----\nTWFu\n-----END EC PRIVATE KEY-----\n"),
            KeyProblem::MalformedDer
        );
        assert_eq!(
            problem("-----BEGIN PRIVATE KEY-----\nTWFu\n-----END PRIVATE KEY-----\n"),
            KeyProblem::MalformedDer
        );
        assert_eq!(
            problem(
                "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n\
                 TWFu\n-----END EC PRIVATE KEY-----\n"
            ),
            KeyProblem::Encrypted
        );
        assert_eq!(
            problem(
                "-----BEGIN OPENSSH PRIVATE KEY-----\nTWFu\n-----END OPENSSH PRIVATE KEY-----\n"
            ),
            KeyProblem::UnsupportedFormat("OpenSSH")
        );
        assert_eq!(
            problem("-----BEGIN SOMETHING-----\nTWFu\n-----END SOMETHING-----\n"),
            KeyProblem::UnsupportedFormat("an unknown PEM label")
        );
    }

    #[test]
    fn sec1_is_wrapped_exactly_as_openssl_does() {
        let dir = TempDir::new("unit");
        openssl(
            &dir.0,
            "ecparam -name secp384r1 -genkey -noout -out sec1.pem",
        );
        let sec1 = std::fs::read_to_string(dir.0.join("sec1.pem")).unwrap();
        let pkcs8 = openssl(&dir.0, "pkcs8 -topk8 -nocrypt -in sec1.pem");

        let (ours, format) = pkcs8_from_pem(&sec1).unwrap();
        assert_eq!(format, KeyFormat::Sec1);
        let (theirs, format) = pkcs8_from_pem(&pkcs8).unwrap();
        assert_eq!(format, KeyFormat::Pkcs8);
        assert_eq!(ours, theirs);

        // A SEC1 key without its public half still converts and signs.
        let no_public = openssl(&dir.0, "ec -in sec1.pem -no_public");
        let signer = PlaybackSigner::from_pem(&no_public).unwrap();
        assert_eq!(signer.format(), KeyFormat::Sec1);
    }
}
