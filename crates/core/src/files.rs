//! Supporting documents: what a file is, judged by its content rather than its name.

/// Largest accepted document, as UQPAY documents for its files API.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// `jpeg`, `png`, `pdf`, `doc` or `docx` from the first bytes, or `None` for anything else.
pub fn sniff_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("png")
    } else if bytes.starts_with(b"%PDF-") {
        Some("pdf")
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // OLE2 compound file: the legacy Word format.
        Some("doc")
    } else if bytes.starts_with(b"PK\x03\x04") && contains(bytes, b"word/") {
        // A ZIP container holding a word/ part is a docx; other ZIPs are refused.
        Some("docx")
    } else {
        None
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The declared type of a file name's extension, for checking it agrees with the content.
pub fn extension_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "jpeg",
        "png" => "png",
        "pdf" => "pdf",
        "doc" => "doc",
        "docx" => "docx",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff_type(b"%PDF-1.7\n..."), Some("pdf"));
        assert_eq!(sniff_type(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]), Some("png"));
        assert_eq!(sniff_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("jpeg"));
        assert_eq!(sniff_type(b"PK\x03\x04....[Content_Types].xml word/document.xml"), Some("docx"));
        assert_eq!(sniff_type(b"PK\x03\x04 just a zip"), None);
        assert_eq!(sniff_type(b"MZ\x90\x00 an executable"), None);
        assert_eq!(sniff_type(b"Lorem ipsum"), None);
        assert_eq!(extension_type("Invoice.PDF"), Some("pdf"));
        assert_eq!(extension_type("photo.jpg"), Some("jpeg"));
        assert_eq!(extension_type("archive.zip"), None);
    }
}
