//! Output formats and the helpers shared by the subcommands.

use std::io::Write;

/// How results are printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Human-readable text, shaped like Kafka's own tools.
    #[default]
    Plain,
    /// JSON: one document for topic commands, one object per line for
    /// records.
    Json,
}

/// Standard base64 (RFC 4648, with padding).
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, s) in sextets.iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[*s as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Bytes as a JSON value: a string when they are valid UTF-8, else base64.
/// The flag says whether base64 was used.
pub(crate) fn bytes_to_json(data: Option<&[u8]>) -> (serde_json::Value, bool) {
    match data {
        None => (serde_json::Value::Null, false),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => (serde_json::Value::String(s.to_owned()), false),
            Err(_) => (serde_json::Value::String(base64(b)), true),
        },
    }
}

/// Write one line of JSON to `out`.
pub(crate) fn write_json_line(
    out: &mut impl Write,
    value: &serde_json::Value,
) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Whether an I/O error is a closed pipe (e.g. `weir consume ... | head`),
/// which ends output quietly instead of being an error.
pub(crate) fn is_broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn bytes_become_strings_or_base64() {
        assert_eq!(bytes_to_json(None), (serde_json::Value::Null, false));
        assert_eq!(bytes_to_json(Some(b"hi")), (serde_json::json!("hi"), false));
        assert_eq!(
            bytes_to_json(Some(&[0xff])),
            (serde_json::json!("/w=="), true)
        );
    }
}
