#!/usr/bin/env python3
"""Derive the wechatpay-mock endpoint table from the public endpoint catalog.

Dev tool only: the build never runs it. It reads ../shared/catalog (the endpoint list
endpoints-v3.tsv and the Swagger-2 fragments under openapi/), resolves `$ref`s (same-file and
cross-file) and `allOf`, and writes a minified, deterministic JSON table of derived facts to
mock/data/catalog-v3.json. No prose (descriptions, summaries, titles) goes into the table: only
names, JSON types, enums, formats and example values.

Usage:
    python3 tools/gen_mock_catalog.py [--catalog DIR] [--out FILE] [--check]

`--check` does not write: it exits 1 when the committed table differs from a fresh derivation.

Table layout (version 1), see mock/src/catalog.rs for the reader:

    {"v": 1, "endpoints": [ENDPOINT, ...]}

ENDPOINT is an object with short keys; absent keys take the default shown:
    "m": HTTP method (upper case)
    "p": path template, placeholders are whole segments `{name}`
    "q": [FIELD, ...] query parameters (default: none)
    "b": NODE, the JSON request body (default: no body facts); for multipart/form-data uploads it
         describes the JSON `meta` part and "mp": 1 is set
    "s": answer status (200, 202 or 204)
    "x": example answer body (absent: empty body)
    "r": NODE of the answer's required facts (absent: nothing to check)
    "d": [name, ...] path placeholders whose value is all digits (format numeric/integer),
         used to tell apart templates of the same shape

NODE is either a bare JSON type code, "s" string, "i" integer, "n" number, "b" boolean,
"o" object, "a" array, "*" anything, or a two-element list:
    ["o", [FIELD, ...]]   an object with known properties
    ["a", NODE]           an array whose items are NODE
    [T, [value, ...]]     a scalar of type T restricted to an enum
FIELD is [name, NODE] for an optional field and [name, NODE, 1] for a required one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import OrderedDict

try:
    import yaml
except ImportError:  # pragma: no cover - dev tool hint
    sys.exit("PyYAML is required: pip install pyyaml")

METHODS = ("get", "post", "put", "patch", "delete")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_CATALOG = os.path.normpath(os.path.join(REPO, "..", "shared", "catalog"))
DEFAULT_OUT = os.path.join(REPO, "mock", "data", "catalog-v3.json")
TABLE_VERSION = 1


# --------------------------------------------------------------------------------------------
# YAML loading: YAML 1.1 turns ON/OFF/YES/NO into booleans, 0123 into octal and dates into
# datetime objects. Those would corrupt enum and example facts, so only null and true/false are
# resolved implicitly; every other plain scalar stays a string and is converted later according
# to the declared schema type.
# --------------------------------------------------------------------------------------------
class FactLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe loader (libyaml-backed when available) that only resolves null and true/false implicitly."""


FactLoader.yaml_implicit_resolvers = {}
FactLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
FactLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)

INT_RE = re.compile(r"^[-+]?[0-9]+$")
FLOAT_RE = re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


class Problems:
    """Collects what could not be resolved or had to be normalised."""

    def __init__(self) -> None:
        self.unresolved: list[str] = []
        self.notes: dict[str, int] = {}

    def note(self, what: str) -> None:
        self.notes[what] = self.notes.get(what, 0) + 1


class Resolver:
    """Loads YAML files once and follows `$ref`s relative to the file that contains them."""

    def __init__(self, root: str, problems: Problems) -> None:
        self.root = root
        self.cache: dict[str, object] = {}
        self.problems = problems

    def load(self, path: str):
        path = os.path.normpath(path)
        if path not in self.cache:
            with open(path, encoding="utf-8") as fh:
                self.cache[path] = yaml.load(fh, Loader=FactLoader)  # noqa: S506 - FactLoader is safe
        return self.cache[path]

    def deref(self, ref: str, base: str):
        """Return (node, file) for a `$ref` string written in `base`, or (None, base)."""
        target, _, frag = ref.partition("#")
        path = os.path.normpath(os.path.join(os.path.dirname(base), target)) if target else base
        try:
            node = self.load(path)
        except OSError:
            self.problems.unresolved.append(f"{os.path.relpath(base, self.root)}: {ref}")
            return None, base
        for part in [p for p in frag.split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                self.problems.unresolved.append(f"{os.path.relpath(base, self.root)}: {ref}")
                return None, path
        return node, path


# --------------------------------------------------------------------------------------------
# Schema normalisation: every schema becomes a plain dict
#   {"t": type code, "props": [(name, S)], "req": [names], "items": S|None, "enum": [...]|None,
#    "ex": raw example|None, "fmt": str|None, "min": number|None}
# --------------------------------------------------------------------------------------------
TYPE_CODES = {
    "string": "s",
    "integer": "i",
    "int": "i",
    "number": "n",
    "boolean": "b",
    "object": "o",
    "array": "a",
    "file": "s",
}
INTEGER_FORMATS = {"integer", "int32", "int64", "uint64"}


def type_code(raw, fmt, problems: Problems) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        return None
    key = raw.strip()
    if key != raw:
        problems.note(f"type {raw!r} read as {key!r}")
    if key not in TYPE_CODES:
        if key.startswith("string"):
            problems.note(f"type {raw!r} read as 'string'")
            key = "string"
        else:
            problems.note(f"unknown type {raw!r} read as any")
            return "*"
    elif key == "int":
        problems.note("type 'int' read as 'integer'")
    code = TYPE_CODES[key]
    if code == "n" and fmt in INTEGER_FORMATS:
        code = "i"
    return code


class Normaliser:
    def __init__(self, resolver: Resolver, problems: Problems) -> None:
        self.r = resolver
        self.problems = problems

    def schema(self, node, base: str, stack: tuple = ()) -> dict:
        """Normalise one schema node found in file `base`."""
        if not isinstance(node, dict):
            return blank("*")
        if "$ref" in node:
            ref = node["$ref"]
            key = (base, ref)
            if key in stack:
                self.problems.note("recursive $ref cut")
                return blank("*")
            target, tbase = self.r.deref(ref, base)
            inner = self.schema(target, tbase, stack + (key,)) if target is not None else blank("*")
            # Siblings of $ref (type, example, enum) refine the target.
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if siblings:
                inner = merge(inner, self.schema(siblings, base, stack), overlay=True)
            return inner
        if "allOf" in node and isinstance(node["allOf"], list):
            acc = blank(None)
            for part in node["allOf"]:
                acc = merge(acc, self.schema(part, base, stack), overlay=False)
            rest = {k: v for k, v in node.items() if k != "allOf"}
            if rest:
                acc = merge(acc, self.schema(rest, base, stack), overlay=True)
            if acc["t"] is None:
                acc["t"] = "o"
            return acc
        fmt = node.get("format") if isinstance(node.get("format"), str) else None
        t = type_code(node.get("type"), fmt, self.problems)
        props = []
        if isinstance(node.get("properties"), dict):
            for name, sub in node["properties"].items():
                props.append((str(name), self.schema(sub, base, stack)))
            if t is None:
                t = "o"
        items = None
        if "items" in node:
            items = self.schema(node["items"], base, stack)
            if t is None:
                t = "a"
        req = node.get("required")
        req = [str(x) for x in req] if isinstance(req, list) else []
        enum = node.get("enum") if isinstance(node.get("enum"), list) else None
        mn = node.get("minimum")
        ex = node.get("example")
        if isinstance(ex, str) and ex.strip() and ex.strip() in (str(node.get("description", "")).strip(),
                                                                 str(node.get("title", "")).strip()):
            # An "example" that repeats the field's own description is a label, not a value:
            # leave it out so that no prose reaches the table.
            self.problems.note("example equal to its description dropped")
            ex = None
        return {
            "t": t,
            "props": props,
            "req": req,
            "items": items,
            "enum": enum,
            "ex": ex,
            "fmt": fmt,
            "min": mn,
        }


def blank(t):
    return {"t": t, "props": [], "req": [], "items": None, "enum": None, "ex": None, "fmt": None, "min": None}


def merge(a: dict, b: dict, overlay: bool) -> dict:
    """Combine two normalised schemas (allOf parts, or a $ref target and its siblings)."""
    out = dict(a)
    if b["t"] is not None and (out["t"] is None or out["t"] == "*" or overlay and b["t"] != "*"):
        out["t"] = b["t"]
    names = [n for n, _ in out["props"]]
    props = list(out["props"])
    for name, sub in b["props"]:
        if name in names:
            props[names.index(name)] = (name, sub)
        else:
            names.append(name)
            props.append((name, sub))
    out["props"] = props
    out["req"] = list(out["req"]) + [r for r in b["req"] if r not in out["req"]]
    for k in ("items", "enum", "ex", "fmt", "min"):
        if b[k] is not None:
            out[k] = b[k]
    return out


# --------------------------------------------------------------------------------------------
# Scalars: convert raw YAML strings according to the declared type.
# --------------------------------------------------------------------------------------------
def as_type(value, t):
    """Convert a raw YAML scalar to JSON of type code `t`, or return None if impossible."""
    if value is None:
        return None
    if t == "s":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        return None
    if t == "i":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and INT_RE.match(value.strip()):
            return int(value.strip())
        return None
    if t == "n":
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, str) and INT_RE.match(value.strip()):
            return int(value.strip())
        if isinstance(value, str) and FLOAT_RE.match(value.strip()):
            return float(value.strip())
        return None
    if t == "b":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return None
    return None


def enum_values(s: dict) -> list | None:
    if not s["enum"] or s["t"] not in ("s", "i", "n", "b"):
        return None
    out = []
    for v in s["enum"]:
        c = as_type(v, s["t"])
        if c is not None and c not in out:
            out.append(c)
    return out or None


def plain_json(value):
    """Raw YAML (strings, bools, None, lists, dicts) as JSON-able data, keys as strings."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    return str(value)


# --------------------------------------------------------------------------------------------
# Facts: request nodes (every known field, required-ness per level) and answer nodes (required
# fields only, used by the tests to check the examples).
# --------------------------------------------------------------------------------------------
def node(s: dict, required_only: bool = False):
    t = s["t"] or "*"
    if t == "o":
        fields = []
        for name, sub in s["props"]:
            is_req = name in s["req"]
            if required_only and not is_req:
                continue
            f = [name, node(sub, required_only)]
            if is_req:
                f.append(1)
            fields.append(f)
        return ["o", fields] if fields else "o"
    if t == "a":
        if s["items"] is None:
            return "a"
        inner = node(s["items"], required_only)
        return ["a", inner] if inner != "*" else "a"
    ev = enum_values(s)
    if ev:
        return [t, ev]
    return t


def has_required(n) -> bool:
    """True when a node carries at least one required field somewhere."""
    if isinstance(n, list):
        if n[0] == "o":
            return any(len(f) == 3 or has_required(f[1]) for f in n[1])
        if n[0] == "a":
            return has_required(n[1])
    return False


DEFAULTS_BY_FORMAT = {
    "rfc3339": "2015-05-20T13:29:35+08:00",
    "date": "2015-05-20",
    "url": "https://pay.weixin.qq.com/",
    "MediaUrl": "https://pay.weixin.qq.com/",
    "jsonObjectLike": "{}",
    "jsonArrayLike": "[]",
    "numeric": "1",
    "integer": "1",
    "int64": "1",
    "uint64": "1",
    "yyyyMMddHHmmss": "20150520132935",
}


def example(s: dict):
    t = s["t"] or "*"
    if t == "o":
        return OrderedDict((name, example(sub)) for name, sub in s["props"])
    if t == "a":
        if s["items"] is not None:
            return [example(s["items"])]
        ex = s["ex"]
        if isinstance(ex, list):
            return plain_json(ex[:1])
        return [plain_json(ex)] if isinstance(ex, str) else []
    if t == "*":
        return plain_json(s["ex"]) if s["ex"] is not None else ""
    ev = enum_values(s)
    cand = as_type(s["ex"], t)
    if cand is not None and (ev is None or cand in ev):
        if t == "i" and isinstance(s["min"], (int, str)):
            low = as_type(s["min"], "i")
            if low is not None and cand < low:
                return low
        return cand
    if ev:
        return ev[0]
    if t == "s":
        return DEFAULTS_BY_FORMAT.get(s["fmt"] or "", "string")
    if t in ("i", "n"):
        low = as_type(s["min"], t)
        return low if low is not None and low > 1 else 1
    if t == "b":
        return False
    return ""


def check(value, n, path: str, errors: list[str]) -> None:
    """Validate generated example data against a node (self-check of the generator)."""
    t = n[0] if isinstance(n, list) else n
    ok = {
        "s": lambda v: isinstance(v, str),
        "i": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "n": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "b": lambda v: isinstance(v, bool),
        "o": lambda v: isinstance(v, dict),
        "a": lambda v: isinstance(v, list),
        "*": lambda v: True,
    }[t]
    if not ok(value):
        errors.append(f"{path}: not {t}")
        return
    if isinstance(n, list):
        if t == "o":
            for f in n[1]:
                if f[0] in value:
                    check(value[f[0]], f[1], f"{path}.{f[0]}", errors)
                elif len(f) == 3:
                    errors.append(f"{path}.{f[0]}: missing")
        elif t == "a":
            for i, v in enumerate(value):
                check(v, n[1], f"{path}[{i}]", errors)
        elif value not in n[1]:
            errors.append(f"{path}: not in enum")


# --------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------
def param_node(p: dict, norm: Normaliser, base: str):
    if "schema" in p and p.get("in") != "formData":
        return node(norm.schema(p["schema"], base))
    return node(norm.schema({k: v for k, v in p.items() if k in ("type", "format", "enum", "items")}, base))


def endpoint_facts(method: str, path: str, op: dict, base: str, norm: Normaliser, res: Resolver):
    out: dict = {"m": method, "p": path}
    query, body, multipart, digits = [], None, False, []
    placeholders = set(re.findall(r"\{([^/}]+)\}", path))
    for raw in op.get("parameters") or []:
        p = raw
        pbase = base
        if isinstance(raw, dict) and "$ref" in raw:
            p, pbase = res.deref(raw["$ref"], base)
        if not isinstance(p, dict):
            continue
        where = p.get("in")
        required = p.get("required") is True
        if "require" in p and "required" not in p:
            norm.problems.note("parameter with `require:` (typo) not read as required")
        if where == "query" and str(p.get("name")) in placeholders:
            # A placeholder of the template declared `in: query` by mistake: it is in the path.
            norm.problems.note("path placeholder declared in: query, read as in: path")
            where = "path"
        if where == "query":
            f = [str(p.get("name")), param_node(p, norm, pbase)]
            if required:
                f.append(1)
            query.append(f)
        elif where == "body":
            body = node(norm.schema(p.get("schema"), pbase))
        elif where == "formData" and p.get("name") == "meta" and "schema" in p:
            body = node(norm.schema(p["schema"], pbase))
            multipart = True
        elif where == "path":
            fmt = p.get("format")
            if p.get("type") == "integer" or fmt in ("numeric", "integer", "int64", "uint64"):
                digits.append(str(p.get("name")))
        if where == "formData":
            multipart = True
    if query:
        out["q"] = query
    if body is not None:
        out["b"] = body
    if multipart:
        out["mp"] = 1
    status, schema = answer_schema(op, base, norm)
    out["s"] = status
    if schema is not None:
        ex = example(schema)
        out["x"] = ex
        rnode = node(schema, required_only=True)
        if rnode not in ("o", "*"):
            out["r"] = rnode
        errors: list[str] = []
        check(ex, node(schema), "$", errors)
        if errors:
            norm.problems.unresolved.append(f"{method} {path}: example check: {'; '.join(errors[:3])}")
    if digits:
        out["d"] = sorted(digits)
    return out


def answer_schema(op: dict, base: str, norm: Normaliser):
    """Return (status, normalised schema or None) of the lowest 2xx answer."""
    responses = op.get("responses") or {}
    codes = sorted(int(str(k)) for k in responses if str(k).isdigit() and str(k).startswith("2"))
    if not codes:
        return 204, None
    code = codes[0]
    resp = responses.get(code, responses.get(str(code))) or {}
    schema = resp.get("schema") if isinstance(resp, dict) else None
    if not isinstance(schema, dict) or not schema:
        return code, None
    s = norm.schema(schema, base)
    if s["t"] in (None, "*") and not s["props"]:
        return code, None
    return code, s


def shape(path: str) -> str:
    return re.sub(r"\{[^/}]+\}", "{}", path)


def fallback_file(openapi: str, path: str) -> str:
    """The fragment a path not listed in swagger.yaml would live in (same naming scheme)."""
    rel = path.lstrip("/")
    rel = rel + "{empty}" if rel.endswith("/") else rel
    return os.path.normpath(os.path.join(openapi, rel + ".yaml"))


def build(catalog: str):
    problems = Problems()
    openapi = os.path.join(catalog, "openapi")
    res = Resolver(openapi, problems)
    norm = Normaliser(res, problems)
    swagger_path = os.path.join(openapi, "swagger.yaml")
    swagger = res.load(swagger_path)
    files = {}
    for p, entry in (swagger.get("paths") or {}).items():
        if isinstance(entry, dict) and "$ref" in entry:
            files[p] = os.path.normpath(os.path.join(openapi, entry["$ref"]))

    listed = []
    with open(os.path.join(catalog, "endpoints-v3.tsv"), encoding="utf-8") as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 2 and cols[0]:
                listed.append((cols[0].upper(), cols[1]))

    endpoints, no_yaml = [], []
    for method, path in listed:
        op = None
        f = files.get(path) or fallback_file(openapi, path)
        if f and os.path.exists(f):
            doc = res.load(f)
            if isinstance(doc, dict):
                op = doc.get(method.lower())
        if not isinstance(op, dict):
            no_yaml.append(f"{method} {path}")
            endpoints.append({"m": method, "p": path, "s": 204, "_noyaml": True})
            continue
        endpoints.append(endpoint_facts(method, path, op, f, norm, res))

    # Templates of one method and one shape cannot both be routed unless their placeholders can
    # be told apart (all-digit values). A twin without YAML facts that shares its shape and
    # method with one that has them is dropped: no request could ever reach it.
    dropped = []
    groups: dict = {}
    for e in endpoints:
        groups.setdefault((e["m"], shape(e["p"])), []).append(e)
    for (method, _), group in sorted(groups.items()):
        if len(group) < 2:
            continue
        with_facts = [e for e in group if not e.get("_noyaml")]
        for e in group:
            if e.get("_noyaml") and with_facts:
                twin = with_facts[0]["p"]
                dropped.append(f"{method} {e['p']} (no YAML; same method and shape as {twin})")
                e["_drop"] = True
        kept = [e for e in group if not e.get("_drop")]
        sigs = [tuple(e.get("d", [])) for e in kept]
        if len(set(sigs)) != len(sigs) or sum(1 for s in sigs if not s) > 1:
            problems.unresolved.append(f"{method} {shape(group[0]['p'])}: twins cannot be told apart")
    table = [
        {k: v for k, v in e.items() if not k.startswith("_")} for e in endpoints if not e.get("_drop")
    ]
    table.sort(key=lambda e: (e["p"], e["m"]))
    return table, listed, no_yaml, dropped, problems


def render(table) -> str:
    doc = OrderedDict([("v", TABLE_VERSION), ("endpoints", table)])
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", default=DEFAULT_CATALOG, help="catalog directory (default: %(default)s)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="table to write (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="only compare with the existing table")
    args = ap.parse_args()

    table, listed, no_yaml, dropped, problems = build(args.catalog)
    text = render(table)
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as fh:
                same = fh.read() == text
        except OSError:
            same = False
    else:
        same = True
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    with_req = sum(
        1
        for e in table
        if any(len(f) == 3 for f in e.get("q", [])) or has_required(e.get("b", "*"))
    )
    print(f"endpoints listed: {len(listed)}; in table: {len(table)}; with required request fields: {with_req}")
    print(f"answers: {sum(1 for e in table if 'x' in e)} with a body, "
          f"{sum(1 for e in table if 'x' not in e)} without")
    print(f"table: {len(text.encode('utf-8'))} bytes")
    for title, items in (("no YAML (no request checks, answer 204)", no_yaml), ("dropped", dropped),
                         ("could not resolve", problems.unresolved)):
        print(f"{title}: {len(items)}")
        for item in items:
            print(f"  {item}")
    for what, count in sorted(problems.notes.items()):
        print(f"normalised: {what} x{count}")

    if args.check:
        print("table is up to date" if same else "table is OUT OF DATE")
        return 0 if same else 1
    print(f"wrote {os.path.relpath(args.out, REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
