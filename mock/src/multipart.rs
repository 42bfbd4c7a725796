//! A small `multipart/form-data` reader for uploads (`meta` JSON part + `file` part).

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    pub(crate) data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` request, if it is one: the `boundary` parameter of its content
/// type or, when the content type has none (`Content-Type: multipart/form-data` alone, as the Python
/// `wechatpayv3` SDK sends uploads and as WeChat Pay accepts them), the delimiter on the body's first line.
pub(crate) fn boundary(content_type: &str, body: &[u8]) -> Option<String> {
    let mut params = content_type.split(';');
    let mime = params.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let declared = params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_owned())
    });
    Some(declared.unwrap_or_else(|| sniff_boundary(body).unwrap_or_default()))
}

/// The delimiter a multipart body opens with (`--BOUNDARY` then a line break); RFC 2046 boundaries are
/// 1 to 70 characters. An empty string makes [`parse`] refuse the body.
fn sniff_boundary(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"--")?;
    let end = rest.iter().position(|&b| b == b'\r' || b == b'\n')?;
    let boundary = std::str::from_utf8(&rest[..end]).ok()?.trim_end();
    (1..=70).contains(&boundary.len()).then(|| boundary.to_owned())
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// A `name="value"` parameter of a `Content-Disposition` header.
fn disposition_param(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Splits a multipart body into its parts.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    if boundary.is_empty() {
        return Err("the multipart boundary is empty".into());
    }
    let delimiter = format!("--{boundary}");
    let mut pos = find(body, delimiter.as_bytes(), 0).ok_or("the multipart body has no boundary line")?;
    let mut parts = Vec::new();
    loop {
        pos += delimiter.len();
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        pos = if body[pos..].starts_with(b"\r\n") {
            pos + 2
        } else if body[pos..].starts_with(b"\n") {
            pos + 1
        } else {
            return Err("a multipart boundary line is not followed by a line break".into());
        };
        let (header_end, sep_len) = match (find(body, b"\r\n\r\n", pos), find(body, b"\n\n", pos)) {
            (Some(a), Some(b)) if b < a => (b, 2),
            (Some(a), _) => (a, 4),
            (None, Some(b)) => (b, 2),
            (None, None) => return Err("a multipart part has no end of headers".into()),
        };
        let headers = String::from_utf8_lossy(&body[pos..header_end]).into_owned();
        let data_start = header_end + sep_len;
        let closing = format!("\r\n{delimiter}");
        let (data_end, next) = match find(body, closing.as_bytes(), data_start) {
            Some(end) => (end, end + 2),
            None => {
                let lf = format!("\n{delimiter}");
                let end = find(body, lf.as_bytes(), data_start).ok_or("a multipart part is not terminated")?;
                (end, end + 1)
            }
        };
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or("a multipart part has no Content-Disposition")?;
        let name = disposition_param(disposition, "name").ok_or("a multipart part has no name")?;
        parts.push(Part {
            name,
            filename: disposition_param(disposition, "filename"),
            data: body[data_start..data_end].to_vec(),
        });
        pos = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_meta_and_file() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\r\n--XyZ--\r\n";
        let parts = parse(body, "XyZ").unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "meta");
        assert_eq!(parts[0].data, b"{\"a\":1}");
        assert_eq!(parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(parts[1].data, b"\x89PNG\r\n");
        assert_eq!(boundary("multipart/form-data; boundary=\"XyZ\"", b"").as_deref(), Some("XyZ"));
        assert_eq!(boundary("application/json", body).as_deref(), None);
        // No boundary parameter: the body's first line names it.
        assert_eq!(boundary("multipart/form-data", body).as_deref(), Some("XyZ"));
        assert_eq!(boundary("Multipart/Form-Data; charset=utf-8", b"--a1\nx").as_deref(), Some("a1"));
        assert_eq!(boundary("multipart/form-data", b"no delimiter").as_deref(), Some(""));
        assert_eq!(boundary("multipart/form-data", b"--\r\n").as_deref(), Some(""));
        assert!(parse(b"garbage", "XyZ").is_err());
        assert!(parse(b"--XyZ\r\nno headers end", "XyZ").is_err());
    }
}
