//! `encodeURIComponent` / `encodeURI` and their inverses, as JavaScript defines them.

const COMPONENT_SAFE: &str = "-_.!~*'()";
const URI_RESERVED: &str = ";,/?:@&=+$#";

/// Percent-encodes `s` (UTF-8); `uri` keeps the reserved characters (`encodeURI`).
pub(crate) fn encode(s: &str, uri: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric()
            || COMPONENT_SAFE.contains(c)
            || (uri && URI_RESERVED.contains(c))
        {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Decodes percent-escapes; `None` for malformed input. `uri` leaves escapes of reserved
/// characters encoded (`decodeURI`).
pub(crate) fn decode(s: &str, uri: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = |j: usize| -> Option<u8> {
            let h = std::str::from_utf8(bytes.get(j + 1..j + 3)?).ok()?;
            u8::from_str_radix(h, 16).ok()
        };
        let first = hex(i)?;
        let len = match first {
            0x00..=0x7F => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return None,
        };
        let mut seq = vec![first];
        for k in 1..len {
            let j = i + 3 * k;
            if bytes.get(j) != Some(&b'%') {
                return None;
            }
            seq.push(hex(j)?);
        }
        let decoded = std::str::from_utf8(&seq).ok()?;
        if uri && len == 1 && URI_RESERVED.contains(decoded) {
            out.extend_from_slice(&bytes[i..i + 3]);
        } else {
            out.extend_from_slice(&seq);
        }
        i += 3 * len;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(
            encode("?x=шеллы", false),
            "%3Fx%3D%D1%88%D0%B5%D0%BB%D0%BB%D1%8B"
        );
        assert_eq!(encode("https://a.b/c?x=1 2", true), "https://a.b/c?x=1%202");
        assert_eq!(decode("%3Fx%3D%D1%88", false).as_deref(), Some("?x=ш"));
        assert_eq!(decode("%3F", true).as_deref(), Some("%3F"));
        assert_eq!(decode("%E0%A4%A", false), None);
    }
}
