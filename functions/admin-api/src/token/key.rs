//! Reading the signing key. The `pem` crate reads the PEM text (framing, labels, headers,
//! base64), and the labels say what the DER inside is: SEC1, PKCS#8, or something refused
//! (public key, certificate, encrypted key, RSA, OpenSSH). aws-lc-rs, the crypto library
//! rustls and jsonwebtoken already use, reads the DER: strict DER, the key checked (scalar in
//! range, public half on the curve and matching the private half). The key goes to
//! jsonwebtoken as PKCS#8 v1 DER (`EncodingKey::from_ec_der`), whichever form it came in:
//! jsonwebtoken's `EncodingKey::from_ec_pem` reads PKCS#8 only.
//!
//! A key aws-lc-rs refuses as P-384 is tried as the other keys it reads, to say what it is
//! (another curve, RSA, Ed25519); what none of them reads is [`KeyProblem::MalformedDer`].
//! The decoded PEM blocks and the PKCS#8 handed on are wiped when dropped, and aws-lc wipes
//! the keys it parsed when it frees them.

use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, RsaKeyPair,
    ECDSA_P256K1_SHA256_FIXED_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, ECDSA_P521_SHA512_FIXED_SIGNING,
};
use zeroize::{Zeroize, Zeroizing};

use super::error::KeyProblem;
use super::signer::KeyFormat;

/// Longest PEM label read (`ENCRYPTED PRIVATE KEY`, the longest one expected, has 21).
const MAX_PEM_LABEL_LEN: usize = 64;

/// The curve of IVS playback keys.
const P384: &EcdsaSigningAlgorithm = &ECDSA_P384_SHA384_FIXED_SIGNING;

/// The other curves aws-lc-rs reads, to name the curve of a key on one of them.
const OTHER_CURVES: [(&EcdsaSigningAlgorithm, &str); 3] = [
    (&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256"),
    (&ECDSA_P521_SHA512_FIXED_SIGNING, "P-521"),
    (&ECDSA_P256K1_SHA256_FIXED_SIGNING, "secp256k1"),
];

/// An aws-lc-rs parser of EC private keys: [`EcdsaKeyPair::from_private_key_der`] (SEC1) or
/// [`EcdsaKeyPair::from_pkcs8`].
type EcParser = fn(&'static EcdsaSigningAlgorithm, &[u8]) -> Result<EcdsaKeyPair, KeyRejected>;

/// Finds the one private key in `pem`, checks that it is an ECDSA P-384 key, and returns it
/// as PKCS#8 v1 DER (wiped when dropped).
pub(super) fn pkcs8_from_pem(pem: &str) -> Result<(Zeroizing<Vec<u8>>, KeyFormat), KeyProblem> {
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
    let (format, der) = match private {
        Some(private) => private,
        None if saw_public => return Err(KeyProblem::NotPrivate),
        None => return Err(KeyProblem::NoPem),
    };
    let key = match format {
        KeyFormat::Sec1 => sec1_key(der)?,
        KeyFormat::Pkcs8 => pkcs8_key(der)?,
    };
    // `Document` wipes its own copy when dropped.
    let pkcs8 = key.to_pkcs8v1().map_err(|_| KeyProblem::Unusable)?;
    Ok((Zeroizing::new(pkcs8.as_ref().to_vec()), format))
}

/// Reads a SEC1 `ECPrivateKey` (RFC 5915) as a P-384 key.
fn sec1_key(der: &[u8]) -> Result<EcdsaKeyPair, KeyProblem> {
    // `from_private_key_der` reads PKCS#8 as well: a P-384 key in PKCS#8 under the SEC1
    // label is not what its label announces.
    if EcdsaKeyPair::from_pkcs8(P384, der).is_ok() {
        return Err(KeyProblem::MalformedDer);
    }
    let key = p384_key(der, EcdsaKeyPair::from_private_key_der, || {
        other_curve(der, EcdsaKeyPair::from_private_key_der)
    })?;
    // A SEC1 key may leave out its curve (the `[0]` parameters), and then aws-lc-rs takes it
    // for whichever curve it is asked about. One it also takes for P-256 (a scalar below
    // P-256's order, which a genuine P-384 scalar is with probability about 2^-128, and no
    // public key, or one on P-256) was made for a shorter curve.
    if EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der).is_ok() {
        return Err(KeyProblem::WrongCurve(
            "not P-384 (wrong private key length)",
        ));
    }
    Ok(key)
}

/// Reads an unencrypted PKCS#8 `PrivateKeyInfo` (RFC 5208) or `OneAsymmetricKey` (RFC 5958)
/// as a P-384 key.
fn pkcs8_key(der: &[u8]) -> Result<EcdsaKeyPair, KeyProblem> {
    p384_key(der, EcdsaKeyPair::from_pkcs8, || {
        if let Some(curve) = other_curve_name(der, EcdsaKeyPair::from_pkcs8) {
            KeyProblem::WrongCurve(curve)
        } else if is_rsa(der) {
            KeyProblem::WrongAlgorithm("RSA")
        } else if Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).is_ok() {
            KeyProblem::WrongAlgorithm("Ed25519")
        } else if parses_as_pkcs8(der) {
            KeyProblem::WrongAlgorithm("an unsupported algorithm")
        } else {
            KeyProblem::MalformedDer
        }
    })
}

/// `der` read by `parse` as a P-384 key. A key that is not one is refused as `not_p384`
/// says; a P-384 key followed by more bytes is malformed.
fn p384_key(
    der: &[u8],
    parse: EcParser,
    not_p384: impl FnOnce() -> KeyProblem,
) -> Result<EcdsaKeyPair, KeyProblem> {
    let key = parse(P384, der).map_err(|_| not_p384())?;
    // aws-lc reads the first element and ignores what follows it. Without its last byte a
    // lone element is cut short and fails; a key that still reads had bytes after it.
    if parse(P384, &der[..der.len().saturating_sub(1)]).is_ok() {
        return Err(KeyProblem::MalformedDer);
    }
    Ok(key)
}

/// Why an EC key that is not P-384 is refused: the curve it is on, when aws-lc-rs reads it.
fn other_curve(der: &[u8], parse: EcParser) -> KeyProblem {
    other_curve_name(der, parse).map_or(KeyProblem::MalformedDer, KeyProblem::WrongCurve)
}

/// The curve `parse` reads `der` on, among [`OTHER_CURVES`].
fn other_curve_name(der: &[u8], parse: EcParser) -> Option<&'static str> {
    OTHER_CURVES
        .iter()
        .find(|&&(algorithm, _)| parse(algorithm, der).is_ok())
        .map(|&(_, name)| name)
}

/// Whether `der` is an RSA key in PKCS#8, usable or not (aws-lc-rs refuses RSA keys under
/// 2048 or over 8192 bits after reading them).
fn is_rsa(der: &[u8]) -> bool {
    match RsaKeyPair::from_pkcs8(der) {
        Ok(_) => true,
        Err(rejected) => !matches!(
            rejected.description_(),
            "InvalidEncoding" | "WrongAlgorithm"
        ),
    }
}

/// Whether aws-lc reads `der` as PKCS#8 at all, whatever its key type: it refuses a key of
/// another type as `WrongAlgorithm`, and only what it cannot read as `InvalidEncoding`.
fn parses_as_pkcs8(der: &[u8]) -> bool {
    match EcdsaKeyPair::from_pkcs8(P384, der) {
        Ok(_) => true,
        Err(rejected) => rejected.description_() != "InvalidEncoding",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::tests::{der, ec_key, p384_key, pem_text};
    use crate::token::PlaybackSigner;
    use aws_lc_rs::signature::{
        ECDSA_P256K1_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_ASN1_SIGNING,
        ECDSA_P521_SHA512_ASN1_SIGNING,
    };

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
        let pem = pem_text("EC PRIVATE KEY", &p384_key().0);
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
        let (sec1, _) = p384_key();
        let sec1_pem = pem_text("EC PRIVATE KEY", &sec1);
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

        for (label, der) in [("EC PRIVATE KEY", &sec1), ("PRIVATE KEY", &*pkcs8)] {
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

        // Deep nesting is refused, on a stack far smaller than a tokio worker's 2 MiB:
        // aws-lc reads a key's fixed structure with a cursor, not by recursing into it.
        let der_length = |len: usize| match len {
            0..=0x7F => vec![len as u8],
            0x80..=0xFF => vec![0x81, len as u8],
            _ => [&[0x82][..], &u16::try_from(len).unwrap().to_be_bytes()].concat(),
        };
        let mut nested = vec![0x05, 0x00];
        for _ in 0..10_000 {
            nested = [&[0x30][..], &der_length(nested.len()), &nested].concat();
        }
        let nested_pem = |label: &str| as_pem(label, &nested);
        let pems = [nested_pem("EC PRIVATE KEY"), nested_pem("PRIVATE KEY")];
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                for pem in pems {
                    assert_eq!(
                        pkcs8_from_pem(&pem).map(|_| ()).unwrap_err(),
                        KeyProblem::MalformedDer
                    );
                }
            })
            .unwrap()
            .join()
            .unwrap();
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

    /// aws-lc writes a key's PKCS#8 form as `openssl pkcs8 -topk8 -nocrypt` does (the curve in
    /// the algorithm only, the public key kept); the integration tests read openssl's own.
    #[test]
    fn sec1_is_wrapped_exactly_as_pkcs8_writers_do() {
        let (sec1, pkcs8) = p384_key();

        let (ours, format) = pkcs8_from_pem(&pem_text("EC PRIVATE KEY", &sec1)).unwrap();
        assert_eq!(format, KeyFormat::Sec1);
        let (theirs, format) = pkcs8_from_pem(&pem_text("PRIVATE KEY", &pkcs8)).unwrap();
        assert_eq!(format, KeyFormat::Pkcs8);
        assert_eq!(ours, theirs);
        assert_eq!(*ours, pkcs8);

        // A SEC1 key without its public half (`openssl ec -no_public`) still converts and
        // signs.
        let no_public = pem_text("EC PRIVATE KEY", &without_public_key(&sec1));
        let signer = PlaybackSigner::from_pem(&no_public).unwrap();
        assert_eq!(signer.format(), KeyFormat::Sec1);
    }

    /// The elements of the DER SEQUENCE `der`, each whole (header and content).
    fn elements(der: &[u8]) -> Vec<&[u8]> {
        let (header, len) = element(der);
        let mut rest = &der[header..header + len];
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (header, len) = element(rest);
            out.push(&rest[..header + len]);
            rest = &rest[header + len..];
        }
        out
    }

    /// A SEC1 key without its `[1]` public key.
    fn without_public_key(sec1: &[u8]) -> Vec<u8> {
        let kept: Vec<&[u8]> = elements(sec1)
            .into_iter()
            .filter(|e| e[0] != 0xA1)
            .collect();
        der(0x30, &kept.concat())
    }

    /// The header and content lengths of the DER element `der` starts with (short form, or
    /// long form on one or two bytes).
    fn element(der: &[u8]) -> (usize, usize) {
        match der[1] {
            n @ 0..=0x7F => (2, usize::from(n)),
            0x81 => (3, usize::from(der[2])),
            0x82 => (4, usize::from(u16::from_be_bytes([der[2], der[3]]))),
            other => panic!("unexpected length byte {other:#x}"),
        }
    }

    /// The SEC1 `ECPrivateKey` inside a PKCS#8 key (its `privateKey` OCTET STRING), which
    /// openssl and aws-lc write without the curve parameters.
    fn sec1_inside(pkcs8: &[u8]) -> Vec<u8> {
        let (header, _) = element(pkcs8);
        let mut rest = &pkcs8[header..];
        for _ in ["version", "algorithm"] {
            let (header, len) = element(rest);
            rest = &rest[header + len..];
        }
        assert_eq!(rest[0], 0x04, "OCTET STRING");
        let (header, len) = element(rest);
        let sec1 = rest[header..header + len].to_vec();
        // SEQUENCE { INTEGER 1, OCTET STRING scalar, [1] public key }: no [0] parameters.
        let (header, _) = element(&sec1);
        let (scalar_header, scalar_len) = element(&sec1[header + 3..]);
        assert_eq!(sec1[header + 3 + scalar_header + scalar_len], 0xA1);
        sec1
    }

    /// A PKCS#8 key of the RFC 8410 algorithm `oid` (X25519, Ed448…): random key bytes.
    fn rfc8410_key(oid: &[u8], len: usize) -> Vec<u8> {
        let mut key = vec![0; len];
        aws_lc_rs::rand::fill(&mut key).unwrap();
        let algorithm = der(0x30, &der(0x06, oid));
        der(
            0x30,
            &[der(0x02, &[0]), algorithm, der(0x04, &der(0x04, &key))].concat(),
        )
    }

    #[test]
    fn what_a_refused_key_is_is_named() {
        let problem = |pem: &str| pkcs8_from_pem(pem).map(|_| ()).unwrap_err();
        let ec = |alg| {
            let (sec1, pkcs8) = ec_key(alg);
            (pem_text("EC PRIVATE KEY", &sec1), pkcs8)
        };
        let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let rsa = aws_lc_rs::encoding::AsDer::as_der(&rsa)
            .unwrap()
            .as_ref()
            .to_vec();
        let pkcs8_only = |pkcs8: Vec<u8>| (pem_text("PRIVATE KEY", &pkcs8), pkcs8);
        for (name, (pem, pkcs8), expected) in [
            (
                "P-521",
                ec(&ECDSA_P521_SHA512_ASN1_SIGNING),
                KeyProblem::WrongCurve("P-521"),
            ),
            (
                "secp256k1",
                ec(&ECDSA_P256K1_SHA256_ASN1_SIGNING),
                KeyProblem::WrongCurve("secp256k1"),
            ),
            ("RSA", pkcs8_only(rsa), KeyProblem::WrongAlgorithm("RSA")),
            // aws-lc reads X25519 keys (1.3.101.110), but not as signing keys.
            (
                "X25519",
                pkcs8_only(rfc8410_key(&[0x2B, 0x65, 0x6E], 32)),
                KeyProblem::WrongAlgorithm("an unsupported algorithm"),
            ),
            // aws-lc does not read Ed448 keys (1.3.101.113) at all: nothing tells them from
            // malformed ones.
            (
                "Ed448",
                pkcs8_only(rfc8410_key(&[0x2B, 0x65, 0x71], 57)),
                KeyProblem::MalformedDer,
            ),
        ] {
            assert_eq!(problem(&pem), expected, "{name}");
            assert_eq!(
                problem(&pem_text("PRIVATE KEY", &pkcs8)),
                expected,
                "{name} (PKCS#8)"
            );
        }
    }

    #[test]
    fn sec1_and_pkcs8_bodies_match_their_labels() {
        let (sec1, pkcs8) = p384_key();
        let as_pem = |label: &str, der: &[u8]| pem::encode(&pem::Pem::new(label, der.to_vec()));
        for (label, der) in [("EC PRIVATE KEY", &pkcs8), ("PRIVATE KEY", &sec1)] {
            assert_eq!(
                pkcs8_from_pem(&as_pem(label, der)).map(|_| ()).unwrap_err(),
                KeyProblem::MalformedDer,
                "{label}"
            );
        }
    }

    #[test]
    fn sec1_without_its_curve() {
        let as_pem = |der: &[u8]| pem::encode(&pem::Pem::new("EC PRIVATE KEY", der.to_vec()));
        // A P-384 key that does not name its curve is read as P-384.
        let (_, pkcs8) = p384_key();
        let bare = sec1_inside(&pkcs8);
        let (ours, format) = pkcs8_from_pem(&as_pem(&bare)).unwrap();
        assert_eq!(format, KeyFormat::Sec1);
        assert_eq!(
            ours,
            pkcs8_from_pem(&pem_text("PRIVATE KEY", &pkcs8)).unwrap().0
        );
        // A P-256 key that does not name its curve is not taken for a P-384 one: its public
        // key names the curve, and without it its scalar is too short for P-384.
        let (_, pkcs8) = ec_key(&ECDSA_P256_SHA256_ASN1_SIGNING);
        let bare = sec1_inside(&pkcs8);
        // SEQUENCE { INTEGER 1, OCTET STRING (32 bytes) }.
        let without_public = [&[0x30, 0x25], &bare[2..39]].concat();
        assert_eq!(without_public[2..7], [0x02, 0x01, 0x01, 0x04, 0x20]);
        for (der, expected) in [
            (bare, KeyProblem::WrongCurve("P-256")),
            (
                without_public,
                KeyProblem::WrongCurve("not P-384 (wrong private key length)"),
            ),
        ] {
            assert_eq!(
                pkcs8_from_pem(&as_pem(&der)).map(|_| ()).unwrap_err(),
                expected
            );
        }
    }

    #[test]
    fn inconsistent_key_is_refused() {
        let (a, _) = p384_key();
        let (b, _) = p384_key();
        // `SEQUENCE { INTEGER 1, OCTET STRING (48 bytes), [0] secp384r1, [1] public key }`:
        // a's private scalar with b's public key.
        assert_eq!(a[..8], [0x30, 0x81, 0xA4, 0x02, 0x01, 0x01, 0x04, 0x30]);
        assert_eq!(a.len(), b.len());
        let mixed = [&a[..56], &b[56..]].concat();
        let mixed = pem::encode(&pem::Pem::new("EC PRIVATE KEY", mixed));
        // aws-lc checks the public half while reading the key, and does not say why it
        // refuses one.
        assert_eq!(
            PlaybackSigner::from_pem(&mixed).unwrap_err().key_problem(),
            Some(KeyProblem::MalformedDer)
        );
    }

    /// P-384's domain parameters written out (RFC 5480 `SpecifiedECDomain`: the prime field,
    /// the curve's a, b and seed, the base point, the order, the cofactor), as `openssl ecparam
    /// -name secp384r1 -param_enc explicit -outform DER` writes them. Public constants.
    const P384_EXPLICIT_PARAMETERS: &str = concat!(
        "30820157020101303c06072a8648ce3d0101023100ffffffffffffffffffffffffffffffffffffffff",
        "fffffffffffffffffffffffeffffffff0000000000000000ffffffff307b0430ffffffffffffffffffff",
        "fffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc0430b331",
        "2fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8ed",
        "d3ec2aef031500a335926aa319a27a1d00896a6773a4827acdac73046104aa87ca22be8b05378eb1c71e",
        "f320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab73617de4a9626",
        "2c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
        "023100ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a7",
        "7aecec196accc52973020101",
    );

    fn from_hex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn explicit_p384_parameters_are_read_as_p384() {
        let (named_sec1, _) = p384_key();
        let named_pem = pem_text("EC PRIVATE KEY", &named_sec1);
        let parameters = from_hex(P384_EXPLICIT_PARAMETERS);
        // SEC1 with the parameters written out in `[0]` instead of the curve's name, as `openssl
        // ec -param_enc explicit` writes it; PKCS#8 with them in the algorithm, around the SEC1
        // key without `[0]`, as `openssl pkcs8 -topk8` writes that.
        let with_parameters = |parameters: Option<&[u8]>| {
            let fields: Vec<Vec<u8>> = elements(&named_sec1)
                .into_iter()
                .filter_map(|e| match (e[0], parameters) {
                    (0xA0, Some(p)) => Some(der(0xA0, p)),
                    (0xA0, None) => None,
                    _ => Some(e.to_vec()),
                })
                .collect();
            der(0x30, &fields.concat())
        };
        let explicit = pem_text("EC PRIVATE KEY", &with_parameters(Some(&parameters)));
        assert!(explicit.len() > named_pem.len() + 200);
        let ec_public_key = der(0x06, &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]);
        let explicit_pkcs8 = der(
            0x30,
            &[
                der(0x02, &[0]),
                der(0x30, &[ec_public_key, parameters.clone()].concat()),
                der(0x04, &with_parameters(None)),
            ]
            .concat(),
        );
        let explicit_pkcs8 = pem_text("PRIVATE KEY", &explicit_pkcs8);
        // Handed to jsonwebtoken as the same key, with the named curve.
        let named = pkcs8_from_pem(&named_pem).unwrap().0;
        assert_eq!(pkcs8_from_pem(&explicit).unwrap().0, named);
        assert_eq!(pkcs8_from_pem(&explicit_pkcs8).unwrap().0, named);
    }
}
