//! `Transformer`: APIv2's XML to a map and back, ported from the PHP SDK's `WeChatPay\Transformer`.
//!
//! Reading refuses what an XML answer from WeChat Pay never has and an attacker would need: a DOCTYPE (so no
//! entity declarations, no external entities, no billion laughs) and any entity besides XML's five predefined ones
//! and character references. Nothing is ever fetched or expanded. Writing never produces broken XML: values are
//! escaped, characters XML cannot carry are refused, and so are names that are not XML names.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// How deep answers may nest: WeChat Pay's are flat or two levels deep.
const MAX_DEPTH: usize = 32;

/// Converts APIv2 XML to a map and a map to APIv2 XML.
///
/// ```
/// use serde_json::json;
/// use wechatpay::Transformer;
///
/// let xml = Transformer::to_xml(json!({"return_code": "SUCCESS", "return_msg": "OK"}).as_object().unwrap())?;
/// assert_eq!(xml, "<xml><return_code>SUCCESS</return_code><return_msg>OK</return_msg></xml>");
/// let map = Transformer::to_array("<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>")?;
/// assert_eq!(map["return_code"], "SUCCESS");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Transformer;

impl Transformer {
    /// Parses XML into a map of the root element's children: a leaf is its text (CDATA and escapes resolved), an
    /// element with children is a nested map, and a name that repeats becomes an array. Attributes are ignored.
    ///
    /// Refused, with [`Error::Decode`]: a DOCTYPE, an entity other than `&lt; &gt; &amp; &apos; &quot;` and
    /// character references, text beside child elements, anything after the root element, malformed XML, input
    /// that is not UTF-8, nesting deeper than 32 levels.
    ///
    /// ```
    /// use wechatpay::Transformer;
    ///
    /// let map = Transformer::to_array("<xml><a>1 &amp; 2</a><b><c>x</c></b><d>1</d><d>2</d></xml>")?;
    /// assert_eq!(map["a"], "1 & 2");
    /// assert_eq!(map["b"]["c"], "x");
    /// assert_eq!(map["d"], serde_json::json!(["1", "2"]));
    ///
    /// let xxe = r#"<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>"#;
    /// assert!(Transformer::to_array(xxe).unwrap_err().to_string().contains("DOCTYPE"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn to_array(xml: impl AsRef<[u8]>) -> Result<Map<String, Value>> {
        parse(xml.as_ref()).map_err(|reason| Error::Decode { what: "XML", reason })
    }

    /// Parses XML (checked as [`to_array`](Self::to_array) checks it) into a `serde` type. Text is read as the
    /// field's type asks: `total_fee` can be a `u64`.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Paid { out_trade_no: String, total_fee: u64 }
    ///
    /// let xml = "<xml><out_trade_no><![CDATA[T1]]></out_trade_no><total_fee>101</total_fee></xml>";
    /// let paid: Paid = wechatpay::Transformer::from_xml(xml)?;
    /// assert_eq!((paid.out_trade_no.as_str(), paid.total_fee), ("T1", 101));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_xml<T: DeserializeOwned>(xml: impl AsRef<[u8]>) -> Result<T> {
        let xml = xml.as_ref();
        Self::to_array(xml)?;
        // The checks above passed, so the text is UTF-8 without DOCTYPE or undeclared entities.
        let text = std::str::from_utf8(xml).map_err(|err| Error::Decode { what: "XML", reason: err.to_string() })?;
        quick_xml::de::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|err| Error::Decode { what: "XML", reason: err.to_string() })
    }

    /// Writes the flat APIv2 document `<xml><k>v</k>...</xml>`, in the map's order. Strings are written as they are
    /// (`&`, `<`, `>` escaped, and a carriage return as `&#13;` so that XML's line-end normalisation cannot change
    /// what was signed); numbers and booleans as their text; a nested object or array as its compact JSON text (what
    /// fields such as `receivers` or `detail` take); `null` is left out.
    ///
    /// Refused, with [`Error::InvalidArgument`]: a key that is not an XML name (letters, digits, `_`, `-`, `.`, not
    /// starting with a digit, `-` or `.`) and a value with a character XML 1.0 cannot carry (most control characters).
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay::Transformer;
    ///
    /// let data = json!({"body": "a<b & ]]>", "total_fee": 1, "attach": null});
    /// let xml = Transformer::to_xml(data.as_object().unwrap())?;
    /// assert_eq!(xml, "<xml><body>a&lt;b &amp; ]]&gt;</body><total_fee>1</total_fee></xml>");
    /// assert_eq!(Transformer::to_array(&xml)?["body"], "a<b & ]]>");
    ///
    /// assert!(Transformer::to_xml(json!({"a b": "x"}).as_object().unwrap()).is_err());
    /// assert!(Transformer::to_xml(json!({"a": "\u{1}"}).as_object().unwrap()).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn to_xml(data: &Map<String, Value>) -> Result<String> {
        let mut xml = String::with_capacity(64 + data.len() * 32);
        xml.push_str("<xml>");
        for (name, value) in data {
            let Some(text) = text_of(value) else { continue };
            if !is_xml_name(name) {
                return Err(Error::invalid(
                    "xml",
                    format!("`{name}` is not an XML element name: use letters, digits, `_`, `-` and `.`"),
                ));
            }
            xml.push('<');
            xml.push_str(name);
            xml.push('>');
            escape_into(&mut xml, &text).map_err(|c| {
                Error::invalid(
                    "xml",
                    format!("`{name}` holds the character U+{:04X}, which XML cannot carry", c as u32),
                )
            })?;
            xml.push_str("</");
            xml.push_str(name);
            xml.push('>');
        }
        xml.push_str("</xml>");
        Ok(xml)
    }
}

/// The text a value is sent as (and signed as: see `FormValue for Value`), `None` for `null`.
pub(crate) fn text_of(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    crate::formatter::FormValue::form_value(value)
}

fn is_xml_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Escapes text content; returns the first character XML 1.0 cannot carry.
fn escape_into(out: &mut String, text: &str) -> std::result::Result<(), char> {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => return Err(c),
            c => out.push(c),
        }
    }
    Ok(())
}

/// An element being read.
struct Frame {
    name: String,
    fields: Map<String, Value>,
    text: String,
    has_children: bool,
}

impl Frame {
    fn new(name: String) -> Frame {
        Frame { name, fields: Map::new(), text: String::new(), has_children: false }
    }

    fn into_value(self) -> std::result::Result<Value, String> {
        if !self.has_children {
            return Ok(Value::String(self.text));
        }
        if !self.text.trim().is_empty() {
            return Err(format!("<{}> mixes text with child elements", self.name));
        }
        Ok(Value::Object(self.fields))
    }
}

fn add_field(fields: &mut Map<String, Value>, name: String, value: Value) {
    match fields.get_mut(&name) {
        None => {
            fields.insert(name, value);
        }
        Some(Value::Array(values)) => values.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

fn parse(xml: &[u8]) -> std::result::Result<Map<String, Value>, String> {
    let text = std::str::from_utf8(xml).map_err(|_| "it is not UTF-8 text".to_owned())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Map<String, Value>> = None;
    let at = |reader: &Reader<&[u8]>| reader.buffer_position();
    loop {
        let event = reader.read_event().map_err(|err| format!("malformed at byte {}: {err}", at(&reader)))?;
        match event {
            Event::DocType(_) => {
                return Err(
                    "a DOCTYPE is refused: WeChat Pay never sends one, and it could declare entities (XXE)".into()
                );
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err("there is more after the root element".into());
            }
            Event::Start(start) => {
                if stack.len() == MAX_DEPTH {
                    return Err(format!("elements nest deeper than {MAX_DEPTH} levels"));
                }
                if let Some(parent) = stack.last_mut() {
                    parent.has_children = true;
                }
                stack.push(Frame::new(element_name(start.name().as_ref())?));
            }
            Event::Empty(start) => {
                let name = element_name(start.name().as_ref())?;
                match stack.last_mut() {
                    Some(parent) => {
                        parent.has_children = true;
                        add_field(&mut parent.fields, name, Value::String(String::new()));
                    }
                    None => root = Some(Map::new()),
                }
            }
            Event::End(_) => {
                let frame = stack.pop().ok_or("an end tag without its start")?;
                match stack.last_mut() {
                    Some(parent) => {
                        let name = frame.name.clone();
                        add_field(&mut parent.fields, name, frame.into_value()?);
                    }
                    None if !frame.text.trim().is_empty() => {
                        return Err(format!("the root element <{}> holds text, not only fields", frame.name));
                    }
                    None => root = Some(frame.fields),
                }
            }
            Event::Text(text) => {
                let content = text.xml10_content().map_err(|err| err.to_string())?;
                match stack.last_mut() {
                    Some(frame) => frame.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(format!("text outside the root element: {}", snippet(&content))),
                }
            }
            Event::CData(data) => {
                let content = data.xml10_content().map_err(|err| err.to_string())?;
                stack.last_mut().ok_or("CDATA outside the root element")?.text.push_str(&content);
            }
            Event::GeneralRef(reference) => {
                let frame = stack.last_mut().ok_or("an entity outside the root element")?;
                if reference.is_char_ref() {
                    let c = reference.resolve_char_ref().map_err(|err| err.to_string())?;
                    frame.text.push(c.ok_or("a bad character reference")?);
                    continue;
                }
                let name = reference.decode().map_err(|err| err.to_string())?;
                frame.text.push(match name.as_ref() {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "apos" => '\'',
                    "quot" => '"',
                    other => {
                        return Err(format!(
                            "the entity &{}; is not one of XML's own: entities are never expanded",
                            snippet(other)
                        ));
                    }
                });
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(format!("it ends inside <{}>", open.name));
                }
                return root.ok_or_else(|| "there is no root element".to_owned());
            }
        }
    }
}

fn element_name(raw: &[u8]) -> std::result::Result<String, String> {
    std::str::from_utf8(raw).map(str::to_owned).map_err(|_| "an element name is not UTF-8".to_owned())
}

fn snippet(text: &str) -> String {
    let cut: String = text.trim().chars().take(40).collect();
    if cut.len() < text.trim().len() { format!("{cut}...") } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_whatever_a_value_holds() {
        let data = json!({"a": "x<y & ]]> z", "b": "中文", "c": "line\r\nbreak\ttab", "d": "'\"", "e": ""});
        let map = data.as_object().unwrap();
        let xml = Transformer::to_xml(map).unwrap();
        assert_eq!(&Transformer::to_array(&xml).unwrap(), map);
    }

    #[test]
    fn nested_values_are_sent_as_json_text() {
        let data = json!({"receivers": [{"type": "MERCHANT_ID", "amount": 1}], "flag": true});
        let xml = Transformer::to_xml(data.as_object().unwrap()).unwrap();
        let back = Transformer::to_array(&xml).unwrap();
        assert_eq!(back["receivers"], r#"[{"type":"MERCHANT_ID","amount":1}]"#);
        assert_eq!(back["flag"], "true");
    }

    #[test]
    fn names_and_characters_xml_cannot_carry_are_refused() {
        for name in ["", "1a", "-a", "a b", "a>b", "中"] {
            let mut map = Map::new();
            map.insert(name.into(), "x".into());
            assert!(Transformer::to_xml(&map).is_err(), "{name:?}");
        }
        for bad in ["\u{0}", "\u{8}", "\u{1f}", "\u{fffe}"] {
            let mut map = Map::new();
            map.insert("a".into(), bad.into());
            assert!(Transformer::to_xml(&map).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_what_answers_never_hold() {
        for bad in [
            "",
            "   ",
            "plain text",
            "<xml><a>1</b></xml>",
            "<xml><a>1</a>",
            "<xml><a>1</a></xml><xml/>",
            "<xml><a>1</a></xml>trailing",
            "<xml>text<a>1</a></xml>",
            "<xml><a>&nbsp;</a></xml>",
            "<xml><a>&#0;</a></xml>",
            "<!DOCTYPE xml><xml/>",
        ] {
            assert!(Transformer::to_array(bad).is_err(), "{bad:?}");
        }
        assert!(Transformer::to_array([0xffu8, 0xfe, b'<']).is_err());
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(Transformer::to_array(deep).unwrap_err().to_string().contains("deeper"));
    }

    #[test]
    fn reads_declarations_comments_bom_and_empty_elements() {
        let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><xml>\n  <a/>\n  <b>&#x4E2D;&#25991;&lt;</b>\n</xml>\n";
        let map = Transformer::to_array(xml).unwrap();
        assert_eq!(map["a"], "");
        assert_eq!(map["b"], "中文<");
        assert_eq!(Transformer::to_array("<xml/>").unwrap(), Map::new());
    }
}
