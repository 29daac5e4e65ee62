//! Timed metadata: IVS's limits on one payload, checked before any call.

/// IVS's limit on one metadata payload, in UTF-8 bytes.
pub const MAX_METADATA_BYTES: usize = 1024;

/// A payload refused before any call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("timed metadata must not be empty")]
    Empty,
    #[error("timed metadata is {bytes} bytes of UTF-8; IVS accepts at most {MAX_METADATA_BYTES}")]
    TooLarge { bytes: usize },
}

/// Checks a payload against IVS's rules: not empty, at most 1 KB of UTF-8.
pub fn validate_metadata(payload: &str) -> Result<(), MetadataError> {
    // `str::len` is the UTF-8 byte length, which is what IVS counts.
    let bytes = payload.len();
    if bytes == 0 {
        Err(MetadataError::Empty)
    } else if bytes > MAX_METADATA_BYTES {
        Err(MetadataError::TooLarge { bytes })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_utf8_bytes() {
        assert_eq!(validate_metadata(""), Err(MetadataError::Empty));
        assert_eq!(validate_metadata(&"a".repeat(1024)), Ok(()));
        assert_eq!(
            validate_metadata(&"a".repeat(1025)),
            Err(MetadataError::TooLarge { bytes: 1025 })
        );
        // 'é' is 2 bytes, '€' 3, '🎥' 4: 512 chars of 'é' = 1024 bytes.
        assert_eq!(validate_metadata(&"é".repeat(512)), Ok(()));
        assert_eq!(
            validate_metadata(&format!("{}a", "é".repeat(512))),
            Err(MetadataError::TooLarge { bytes: 1025 })
        );
        assert_eq!(
            validate_metadata(&"🎥".repeat(257)),
            Err(MetadataError::TooLarge { bytes: 1028 })
        );
        assert_eq!(validate_metadata(&"🎥".repeat(256)), Ok(()));
        assert_eq!(
            validate_metadata(&"€".repeat(342)),
            Err(MetadataError::TooLarge { bytes: 1026 })
        );
    }
}
