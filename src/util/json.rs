//! JSON nested without limit: `serde_json` serialises, clones and drops a value by recursing once per level, so a
//! body thousands of levels deep overflows the stack and aborts the process. These helpers check, serialise and
//! drop such values without recursion, so that they become errors instead.

use std::io;

use serde::Serialize;
use serde_json::Value;

/// The deepest nesting of arrays and objects accepted in what is sent: `serde_json`'s own parsing limit, so that
/// whatever is sent can be read back. WeChat Pay's bodies nest a few levels.
pub(crate) const MAX_DEPTH: usize = 128;

/// What to say about a value nested deeper than [`MAX_DEPTH`].
pub(crate) fn too_deep_reason(what: &str) -> String {
    format!("{what} nests arrays and objects deeper than {MAX_DEPTH} levels, which no WeChat Pay API takes")
}

/// Whether `value` nests arrays and objects more than `max` levels deep, found without recursion.
pub(crate) fn deeper_than(value: &Value, max: usize) -> bool {
    let mut pending: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(fields) => Box::new(fields.values()),
            _ => continue,
        };
        if depth + 1 > max {
            return true;
        }
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// Drops `value` without recursion: the drop `serde_json` derives recurses once per level.
pub(crate) fn dismantle(value: Value) {
    let mut pending = vec![value];
    while let Some(mut value) = pending.pop() {
        match &mut value {
            Value::Array(items) => pending.append(items),
            Value::Object(fields) => pending.extend(std::mem::take(fields).into_iter().map(|(_, child)| child)),
            _ => {}
        }
    }
}

/// `serde_json::to_vec`, refusing (with [`too_deep_reason`]'s words) to go deeper than [`MAX_DEPTH`] instead of
/// overflowing the stack.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, DepthLimited { depth: 0 });
    match value.serialize(&mut serializer) {
        Ok(()) => Ok(out),
        Err(err) if err.is_io() => Err(too_deep_reason("the value")),
        Err(err) => Err(err.to_string()),
    }
}

/// The compact format, counting how deep it is.
struct DepthLimited {
    depth: usize,
}

impl DepthLimited {
    fn enter(&mut self) -> io::Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(io::Error::other("nested too deeply"));
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for DepthLimited {
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.enter()?;
        writer.write_all(b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        writer.write_all(b"]")
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.enter()?;
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        writer.write_all(b"}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value `depth` arrays deep, built and measured without recursion.
    fn nested(depth: usize) -> Value {
        let mut value = Value::Null;
        for _ in 0..depth {
            value = Value::Array(vec![value]);
        }
        value
    }

    #[test]
    fn depth_is_measured_and_limited_without_recursion() {
        assert!(!deeper_than(&Value::Null, 0));
        assert!(!deeper_than(&nested(MAX_DEPTH), MAX_DEPTH));
        assert!(deeper_than(&nested(MAX_DEPTH + 1), MAX_DEPTH));
        assert_eq!(to_vec(&nested(2)).unwrap(), b"[[null]]");
        assert_eq!(to_vec(&nested(MAX_DEPTH)).unwrap().len(), 2 * MAX_DEPTH + 4);
        let deep = nested(200_000);
        assert!(deeper_than(&deep, MAX_DEPTH));
        assert!(to_vec(&deep).unwrap_err().contains("deeper than 128"));
        dismantle(deep);
        let object = serde_json::json!({"a": {"b": [1, {"c": 2}]}, "d": "e"});
        assert_eq!(to_vec(&object).unwrap(), serde_json::to_vec(&object).unwrap());
    }
}
