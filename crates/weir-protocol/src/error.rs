//! Errors of the codec: one enum for decoding untrusted bytes, one for encoding.
//!
//! Neither maps to a Kafka error code here; the broker owns that mapping.

/// Why bytes could not be decoded as the expected message.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before a fixed-size value or a length-prefixed value.
    #[error("unexpected end of input: needed {needed} bytes, {remaining} remaining")]
    UnexpectedEof {
        /// Bytes the value needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A length or element count larger than the bytes that remain could
    /// possibly hold; rejected before anything is allocated.
    #[error("length {length} is larger than the {remaining} bytes remaining")]
    LengthTooLarge {
        /// The length or count read from the wire.
        length: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A string was not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A negative length (null) for a field that is not nullable in this version.
    #[error("negative length {0} for a non-nullable field")]
    NegativeLength(i64),
    /// The API key is known but this version of it is not.
    #[error("unsupported version {version} of API key {api_key}")]
    UnsupportedVersion {
        /// The API key (-1 for headers and data types).
        api_key: i16,
        /// The version asked for.
        version: i16,
    },
    /// The API key is not one Weir knows.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// A value that is malformed in some other way (for example a varint
    /// longer than its type allows).
    #[error("invalid value: {0}")]
    InvalidValue(&'static str),
}

/// Why a message could not be encoded.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A field holds `None` in a version where it is not nullable.
    #[error("field {field} is null but not nullable in this version")]
    NullNotAllowed {
        /// The field's name in the Kafka spec.
        field: &'static str,
    },
    /// The message does not exist in this version.
    #[error("unsupported version {version} of API key {api_key}")]
    UnsupportedVersion {
        /// The API key (-1 for headers and data types).
        api_key: i16,
        /// The version asked for.
        version: i16,
    },
    /// A string, byte array or array longer than its length prefix can express.
    #[error("length {length} does not fit the length prefix")]
    TooLarge {
        /// The length that did not fit.
        length: usize,
    },
}
