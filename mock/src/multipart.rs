//! A `multipart/form-data` reader for uploads (`meta` JSON part + `file` part) that works on a stream: each
//! part is hashed (SHA-256) and measured as it arrives and only its first bytes are kept, so a large video
//! upload is checked without being held in memory.

use sha2::{Digest as _, Sha256};

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    /// The part's own `Content-Type`, when it has one.
    pub(crate) content_type: Option<String>,
    /// The part's bytes, or its first bytes when it is longer than the parser keeps (see [`Part::complete`]).
    pub(crate) data: Vec<u8>,
    /// The part's whole length.
    pub(crate) len: u64,
    /// The SHA-256 of the whole part.
    pub(crate) sha256: [u8; 32],
}

impl Part {
    /// Whether `data` holds the whole part.
    pub(crate) fn complete(&self) -> bool {
        self.data.len() as u64 == self.len
    }
}

/// The boundary of a `multipart/form-data` request, if it is one: the `boundary` parameter of its content
/// type or, when the content type has none (`Content-Type: multipart/form-data` alone, as the Python
/// `wechatpayv3` SDK sends uploads and as WeChat Pay accepts them), the delimiter on the body's first line.
pub(crate) fn boundary(content_type: &str, body: &[u8]) -> Option<String> {
    if !is_multipart(content_type) {
        return None;
    }
    Some(declared_boundary(content_type).unwrap_or_else(|| sniff_boundary(body).unwrap_or_default()))
}

/// Whether a content type is `multipart/form-data`.
pub(crate) fn is_multipart(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|mime| mime.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The `boundary` parameter of a content type.
pub(crate) fn declared_boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The delimiter a multipart body opens with (`--BOUNDARY` then a line break); RFC 2046 boundaries are
/// 1 to 70 characters. An empty string makes the parser refuse the body.
fn sniff_boundary(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"--")?;
    let end = rest.iter().position(|&b| b == b'\r' || b == b'\n')?;
    let boundary = std::str::from_utf8(&rest[..end]).ok()?.trim_end();
    (1..=70).contains(&boundary.len()).then(|| boundary.to_owned())
}

/// Whether `head` (the first bytes of a body) is enough for [`boundary`] to find one.
pub(crate) fn boundary_known(content_type: &str, head: &[u8]) -> bool {
    declared_boundary(content_type).is_some() || head.contains(&b'\n') || head.len() > 80
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(offset) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + offset;
        if haystack.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A `name="value"` parameter of a `Content-Disposition` header.
fn disposition_param(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Longest part header block accepted.
const MAX_HEADERS: usize = 16 * 1024;

enum State {
    /// Before the first delimiter.
    Preamble,
    /// Just after a delimiter: `--` ends the body, a line break starts a part.
    AfterDelimiter,
    Headers,
    Data,
    /// After the closing delimiter.
    Done,
}

struct Current {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
    len: u64,
    digest: Sha256,
}

/// Splits a multipart body into its parts as its bytes arrive.
pub(crate) struct Parser {
    /// `\n--BOUNDARY`: every delimiter, the first one too (the body is read as if it began with a line break).
    delimiter: Vec<u8>,
    keep: usize,
    state: State,
    buf: Vec<u8>,
    current: Option<Current>,
    parts: Vec<Part>,
}

impl Parser {
    /// A parser for `boundary` that keeps up to `keep` bytes of each part.
    pub(crate) fn new(boundary: &str, keep: usize) -> Result<Parser, String> {
        if boundary.is_empty() {
            return Err("the multipart boundary is empty".into());
        }
        Ok(Parser {
            delimiter: format!("\n--{boundary}").into_bytes(),
            keep,
            state: State::Preamble,
            buf: b"\r\n".to_vec(),
            current: None,
            parts: Vec::new(),
        })
    }

    /// Reads the next bytes of the body.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.buf.extend_from_slice(bytes);
        self.step()
    }

    /// The parts, once the whole body has been fed.
    pub(crate) fn finish(mut self) -> Result<Vec<Part>, String> {
        self.step()?;
        match self.state {
            State::Done => Ok(self.parts),
            State::Preamble => Err("the multipart body has no boundary line".into()),
            State::Headers => Err("a multipart part has no end of headers".into()),
            State::AfterDelimiter | State::Data => Err("a multipart part is not terminated".into()),
        }
    }

    fn step(&mut self) -> Result<(), String> {
        loop {
            match self.state {
                State::Preamble => match find(&self.buf, &self.delimiter) {
                    Some(at) => {
                        self.buf.drain(..at + self.delimiter.len());
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        let keep_from = self.buf.len().saturating_sub(self.delimiter.len());
                        self.buf.drain(..keep_from);
                        return Ok(());
                    }
                },
                State::AfterDelimiter => {
                    if self.buf.starts_with(b"--") {
                        self.buf.clear();
                        self.state = State::Done;
                    } else if self.buf.starts_with(b"\r\n") {
                        self.buf.drain(..2);
                        self.state = State::Headers;
                    } else if self.buf.starts_with(b"\n") {
                        self.buf.drain(..1);
                        self.state = State::Headers;
                    } else if self.buf.len() < 2 {
                        return Ok(());
                    } else {
                        return Err("a multipart boundary line is not followed by a line break".into());
                    }
                }
                State::Headers => {
                    let (end, separator) = match (find(&self.buf, b"\r\n\r\n"), find(&self.buf, b"\n\n")) {
                        (Some(a), Some(b)) if b < a => (b, 2),
                        (Some(a), _) => (a, 4),
                        (None, Some(b)) => (b, 2),
                        (None, None) if self.buf.len() > MAX_HEADERS => {
                            return Err("a multipart part's headers are too long".into());
                        }
                        (None, None) => return Ok(()),
                    };
                    let headers = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                    self.buf.drain(..end + separator);
                    let disposition = headers
                        .lines()
                        .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
                        .ok_or("a multipart part has no Content-Disposition")?;
                    let name = disposition_param(disposition, "name").ok_or("a multipart part has no name")?;
                    let filename = disposition_param(disposition, "filename");
                    let content_type = headers.lines().find_map(|l| {
                        let (key, value) = l.split_once(':')?;
                        key.trim().eq_ignore_ascii_case("content-type").then(|| value.trim().to_owned())
                    });
                    self.current =
                        Some(Current { name, filename, content_type, data: Vec::new(), len: 0, digest: Sha256::new() });
                    self.state = State::Data;
                }
                State::Data => match find(&self.buf, &self.delimiter) {
                    Some(at) => {
                        let end = if at > 0 && self.buf[at - 1] == b'\r' { at - 1 } else { at };
                        let data: Vec<u8> = self.buf.drain(..at + self.delimiter.len()).take(end).collect();
                        self.take_data(&data);
                        if let Some(c) = self.current.take() {
                            self.parts.push(Part {
                                name: c.name,
                                filename: c.filename,
                                content_type: c.content_type,
                                data: c.data,
                                len: c.len,
                                sha256: c.digest.finalize().into(),
                            });
                        }
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        // The last bytes may begin a delimiter (and the `\r` before it).
                        let safe = self.buf.len().saturating_sub(self.delimiter.len() + 1);
                        let data: Vec<u8> = self.buf.drain(..safe).collect();
                        self.take_data(&data);
                        return Ok(());
                    }
                },
                State::Done => {
                    self.buf.clear();
                    return Ok(());
                }
            }
        }
    }

    fn take_data(&mut self, data: &[u8]) {
        if let Some(current) = self.current.as_mut() {
            current.digest.update(data);
            current.len += data.len() as u64;
            let room = self.keep.saturating_sub(current.data.len());
            current.data.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
}

/// Splits a whole multipart body into its parts, keeping every byte.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let mut parser = Parser::new(boundary, usize::MAX)?;
    parser.feed(body)?;
    parser.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\r\n--XyZ--\r\n";

    #[test]
    fn parses_meta_and_file() {
        let parts = parse(BODY, "XyZ").unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "meta");
        assert_eq!(parts[0].data, b"{\"a\":1}");
        assert_eq!(parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(parts[0].content_type.as_deref(), Some("application/json"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[1].data, b"\x89PNG\r\n");
        assert_eq!(parts[1].len, 6);
        assert_eq!(parts[1].sha256, <[u8; 32]>::from(Sha256::digest(b"\x89PNG\r\n")));
        assert_eq!(boundary("multipart/form-data; boundary=\"XyZ\"", b"").as_deref(), Some("XyZ"));
        assert_eq!(boundary("application/json", BODY).as_deref(), None);
        // No boundary parameter: the body's first line names it.
        assert_eq!(boundary("multipart/form-data", BODY).as_deref(), Some("XyZ"));
        assert_eq!(boundary("Multipart/Form-Data; charset=utf-8", b"--a1\nx").as_deref(), Some("a1"));
        assert_eq!(boundary("multipart/form-data", b"no delimiter").as_deref(), Some(""));
        assert_eq!(boundary("multipart/form-data", b"--\r\n").as_deref(), Some(""));
        assert!(parse(b"garbage", "XyZ").is_err());
        assert!(parse(b"--XyZ\r\nno headers end", "XyZ").is_err());
        assert!(parse(BODY, "").is_err());
    }

    #[test]
    fn a_body_fed_in_pieces_of_any_size_parses_the_same_and_long_parts_are_hashed_not_kept() {
        let file: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut body = b"--b0undary\nContent-Disposition: form-data; name=\"meta\"\n\n{}\n--b0undary\r\n".to_vec();
        body.extend_from_slice(b"Content-Disposition: form-data; name=\"file\"; filename=\"v.mp4\"\r\n\r\n");
        body.extend_from_slice(&file);
        body.extend_from_slice(b"\r\n--b0undary--\r\n");
        for piece in [1, 2, 3, 7, 64, 4096, body.len()] {
            let mut parser = Parser::new("b0undary", 1000).unwrap_or_else(|e| panic!("{e}"));
            for chunk in body.chunks(piece) {
                parser.feed(chunk).unwrap_or_else(|e| panic!("{piece}: {e}"));
            }
            let parts = parser.finish().unwrap_or_else(|e| panic!("{piece}: {e}"));
            assert_eq!(parts.len(), 2, "{piece}");
            assert_eq!((parts[0].data.as_slice(), parts[0].complete()), (&b"{}"[..], true), "{piece}");
            assert_eq!(parts[1].len, file.len() as u64, "{piece}");
            assert_eq!(parts[1].content_type, None, "{piece}");
            assert_eq!(parts[1].data, file[..1000], "{piece}");
            assert!(!parts[1].complete());
            assert_eq!(parts[1].sha256, <[u8; 32]>::from(Sha256::digest(&file)), "{piece}");
        }
        // Cut before the closing delimiter.
        let mut parser = Parser::new("b0undary", 10).unwrap_or_else(|e| panic!("{e}"));
        assert!(parser.feed(&body[..body.len() - 20]).is_ok());
        assert!(parser.finish().is_err());
    }
}
