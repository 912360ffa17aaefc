//! Tiny but valid binary payloads for the `image` tool, kept as base64 literals because MCP
//! carries them that way and the fixture has no base64 dependency.

/// A 1x1 RGBA PNG (70 bytes; signature, IHDR, IDAT and IEND with correct CRCs).
pub const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// A 52-byte WAV: RIFF/WAVE, PCM, mono, 8 kHz, 8-bit, eight samples.
pub const WAV_BASE64: &str = "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAoIBggKCAYA==";

/// The URI of the embedded text resource.
pub const RESOURCE_URI: &str = "fixture://hello.txt";

/// The text of the embedded resource.
pub const RESOURCE_TEXT: &str = "hello from the fixture";
