//! URI templates (RFC 6570 levels 1 and 2: `{var}` and `{+var}`), the way the chain's paths are written.
//!
//! Unlike Guzzle, which the PHP SDK uses, a variable that is missing is an error that names it, never an empty
//! segment: an empty `out_bill_no` must not turn a cancel into a call on the collection.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::error::{Error, Result};

/// A parsed URI template.
///
/// ```
/// use wechatpay::UriTemplate;
///
/// let template = UriTemplate::parse("v3/refund/domestic/refunds/{out_refund_no}")?;
/// assert_eq!(template.variables().collect::<Vec<_>>(), ["out_refund_no"]);
/// let path = template.expand(|name| (name == "out_refund_no").then(|| "R 1/2".into()))?;
/// assert_eq!(path, "v3/refund/domestic/refunds/R%201%2F2");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable { name: String, reserved: bool },
}

impl UriTemplate {
    /// Parses a template. Supported: literal text, `{name}` (simple expansion) and `{+name}` (reserved expansion,
    /// which keeps `/` and other reserved characters).
    ///
    /// ```
    /// use wechatpay::UriTemplate;
    ///
    /// assert!(UriTemplate::parse("v3/{+myurl}").is_ok());
    /// assert!(UriTemplate::parse("v3/{out_bill_no").is_err());
    /// assert!(UriTemplate::parse("v3/{?page}").is_err());
    /// ```
    pub fn parse(source: &str) -> Result<Self> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(Error::template(source, "a `}` without its `{`"));
            }
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(Error::template(source, "a `{` without its `}`"));
            };
            let expression = &rest[open + 1..open + close];
            let (reserved, name) = match expression.strip_prefix('+') {
                Some(name) => (true, name),
                None => (false, expression),
            };
            if let Some(operator) = name.chars().next().filter(|c| "#./;?&=,!@|".contains(*c)) {
                return Err(Error::template(
                    source,
                    format!(
                        "the operator `{operator}` in `{{{expression}}}` is not supported: use {{name}} or {{+name}}"
                    ),
                ));
            }
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
                return Err(Error::template(
                    source,
                    format!("`{{{expression}}}` is not a variable: names are letters, digits, `_` and `.`"),
                ));
            }
            parts.push(Part::Variable { name: name.to_owned(), reserved });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(UriTemplate { source: source.to_owned(), parts })
    }

    /// The template text.
    ///
    /// ```
    /// let template = wechatpay::UriTemplate::parse("v3/refund/domestic/refunds/{out_refund_no}")?;
    /// assert_eq!(template.as_str(), "v3/refund/domestic/refunds/{out_refund_no}");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variable names, in order of appearance.
    ///
    /// ```
    /// let template = wechatpay::UriTemplate::parse("v3/{sub_mchid}/bills/{+download_url}")?;
    /// assert_eq!(template.variables().collect::<Vec<_>>(), ["sub_mchid", "download_url"]);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Variable { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Expands the template, asking `lookup` for each variable's value. A variable that `lookup` does not know, or
    /// whose value is empty, `.` or `..` (or, for `{+var}`, holds such a segment, also as `%2e`), is an error naming
    /// it: each would silently address another resource. So is a path whose literal text has such a segment, a
    /// backslash, a `#` or a control character, which URL parsing would turn into another path.
    ///
    /// Values are percent-encoded as RFC 6570 says (simple expansion keeps only unreserved characters; reserved
    /// expansion also keeps reserved ones, except `#`, and existing `%XX` triplets); their case is never changed.
    ///
    /// ```
    /// use wechatpay::UriTemplate;
    ///
    /// let template = UriTemplate::parse("v3/{id}/{+rest}")?;
    /// let err = template.expand(|_| None).unwrap_err();
    /// assert!(err.to_string().contains("{id}"));
    /// let path = template.expand(|name| Some(if name == "id" { "AbC".into() } else { "a/b%20c".into() }))?;
    /// assert_eq!(path, "v3/AbC/a/b%20c");
    /// // Literal text may not climb either.
    /// let climbing = UriTemplate::parse("v3/pay/transactions/id/../../../billdownload/file")?;
    /// assert!(climbing.expand(|_| None).unwrap_err().to_string().contains("`..`"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn expand<'a>(&self, lookup: impl Fn(&str) -> Option<Cow<'a, str>>) -> Result<String> {
        let mut out = String::with_capacity(self.source.len() + 32);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable { name, reserved } => {
                    let Some(value) = lookup(name) else {
                        return Err(Error::template(
                            &self.source,
                            format!(
                                "no value for {{{name}}}: pass it as a top-level option (`\"{name}\": \"...\"` or \
                                 Options::var(\"{name}\", ...)) or as a top-level field of the json body"
                            ),
                        ));
                    };
                    if value.is_empty() || is_dot_segment(&value) || (*reserved && value.split('/').any(is_dot_segment))
                    {
                        return Err(Error::template(
                            &self.source,
                            format!("the value of {{{name}}} is {value:?}, which would address another resource"),
                        ));
                    }
                    encode_into(&mut out, &value, *reserved);
                }
            }
        }
        check_path(&self.source, &out)?;
        Ok(out)
    }
}

/// Refuses an expanded path that URL parsing would change into another one: a `.` or `..` segment (also as
/// `%2e`), which it resolves, climbing to another endpoint or above a base URI's path prefix; a `\`, which it reads
/// as `/` (so `..\` climbs too); a `#`, which ends the path and drops the query; control characters, which it
/// strips (joining `.\t.` into `..`). Values are encoded so that they never produce these: this catches literal
/// text, as written in [`Builder::chain`](crate::Builder::chain) or an index key.
fn check_path(source: &str, expanded: &str) -> Result<()> {
    let refuse = |what: String| {
        Err(Error::template(
            source,
            format!(
                "{what}, so the signed request could reach another endpoint than the one written: give ids as \
                 placeholders (`{{id}}`), whose values are encoded"
            ),
        ))
    };
    if let Some(c) = expanded.chars().find(|c| c.is_ascii_control() || matches!(c, '\\' | '#')) {
        return refuse(format!(
            "the path holds {}, which URL parsing would {}",
            match c {
                '\\' => "a backslash".to_owned(),
                '#' => "a `#`".to_owned(),
                c => format!("the control character U+{:04X}", u32::from(c)),
            },
            match c {
                '\\' => "read as `/`",
                '#' => "take as the end of the path, dropping the rest and the query",
                _ => "strip, joining what is around it",
            }
        ));
    }
    let path = expanded.split('?').next().unwrap_or_default();
    if let Some(segment) = path.split('/').find(|segment| is_dot_segment(segment)) {
        return refuse(format!("the path has the segment `{segment}`, which URL parsing resolves as a dot segment"));
    }
    Ok(())
}

/// `.` or `..`, also percent-encoded: URL parsing resolves all of them, which would move the request elsewhere.
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.replace("%2e", ".").replace("%2E", ".");
    decoded == "." || decoded == ".."
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986's reserved characters, except `#`: in a request target it would end the path and hide the query.
fn is_reserved(byte: u8) -> bool {
    b":/?[]@!$&'()*+,;=".contains(&byte)
}

fn encode_into(out: &mut String, value: &str, reserved: bool) {
    let bytes = value.as_bytes();
    for (i, &byte) in bytes.iter().enumerate() {
        let keeps_triplet = reserved
            && byte == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if is_unreserved(byte) || (reserved && is_reserved(byte)) || keeps_triplet {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// Percent-encodes a query component the way Guzzle's `query` option does (RFC 3986: all but unreserved).
pub(crate) fn encode_component(out: &mut String, value: &str) {
    encode_into(out, value, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_values_are_encoded_bytewise() {
        let template = UriTemplate::parse("{a}").unwrap();
        assert_eq!(template.expand(|_| Some("张".into())).unwrap(), "%E5%BC%A0");
    }

    #[test]
    fn reserved_expansion_keeps_triplets_but_encodes_a_lone_percent() {
        let template = UriTemplate::parse("{+a}").unwrap();
        assert_eq!(template.expand(|_| Some("%2F%zz%".into())).unwrap(), "%2F%25zz%25");
    }

    #[test]
    fn literal_text_is_kept_verbatim() {
        let template = UriTemplate::parse("v3/applyment4sub/applyment/").unwrap();
        assert_eq!(template.expand(|_| None).unwrap(), "v3/applyment4sub/applyment/");
    }

    #[test]
    fn stray_closing_brace_is_an_error() {
        assert!(UriTemplate::parse("v3/a}").is_err());
    }
}
