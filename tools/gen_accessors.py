#!/usr/bin/env python3
"""Generates the typed path tree from the WeChat Pay endpoint catalog:

- src/paths/tree.rs: one type per catalog node with an accessor for each of its children, the root accessors on
  `Builder`, and the `Accessor` table behind `Builder::accessors`;
- tests/accessors/walk.rs: every catalog path walked through the typed tree, its template checked.

Usage: python3 tools/gen_accessors.py [--no-summaries] [path/to/shared/catalog]   (default: ../shared/catalog)

Both outputs are committed; tests/accessors.rs checks them against tests/fixtures/catalog/*.tsv (copies of the
catalog's endpoint lists) and an independent copy of the naming rule, so the build never reads ../shared. Re-run this
script when the catalog changes.

Endpoint titles in the rustdoc are the `summary` of each operation in the catalog's openapi/ fragments
(TheNorthMemory/wechatpay-openapi, MIT): WeChat Pay's own name for the endpoint, the title of its documentation page.
Nothing else (descriptions, field docs) is copied. `--no-summaries` leaves them out (methods only).

Naming rule (documented in src/paths.rs and the README):
- a literal segment's accessor is its snake_case form: `fund-app` -> fund_app(), `video_upload` -> video_upload(),
  `addInstitutionsub` -> add_institutionsub(), `complaints-v2` -> complaints_v2();
- a placeholder `{name}` is `_name_()`, as in PHP;
- Rust keywords take the raw form: `return` -> r#return();
- a name taken by a Builder method (`delete`) or by a hyphenated twin gets a trailing underscore: `delete_()`,
  `policy_periods_()` (the literal `policy_periods`, sibling of `policy-periods`);
- the plain twin name (`policy_periods()`, `applyment_id()`, `business_code()`) means the hyphenated segment, except
  under a parent where the catalog has only the underscored one, where it means that one (and `name_()` too);
- the empty segment of trailing-slash paths is trailing_slash().
Type names: the UpperCamelCase of the accessor (`FundApp`, `PolicyPeriods_` for the underscored twin, `_OutBillNo_`
for a placeholder), in a module named after the parent's accessor (`paths::v3::fund_app::MchTransfer`). Nodes without
children are all `paths::Node`.
"""
import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict

# Methods a typed node has through Builder (and every `impl Builder` elsewhere in the crate): a segment with one of
# these names gets a trailing underscore, so that the accessor does not hide the method.
BUILDER_METHODS = {
    "factory", "chain", "template", "get", "put", "post", "patch", "delete",
    "get_async", "put_async", "post_async", "patch_async", "delete_async",
    "request", "request_async", "verbatim", "url", "config", "accessors", "clone", "fmt", "index", "segment", "twin",
    "deref", "typed_child", "cached_typed", "core",
    "download", "download_to_file", "download_async", "download_to_file_async",
    "refresh_certificates", "refresh_certificates_async", "notification_parser", "jsapi_pay_params", "app_pay_params",
}
RAW_KEYWORDS = {
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static", "struct", "trait", "true",
    "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
}
NOT_RAW = {"self", "Self", "super", "crate"}
# Reserved type names in `paths` itself (hand-written items of src/paths.rs).
RESERVED_TYPES = {"Node", "Accessor", "Typed", "RootOnly"}
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def snake(segment):
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", segment).lower()
    return name.replace("-", "_")


def camel(name):
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def ident(name):
    if name in NOT_RAW:
        return name + "_"
    if name in RAW_KEYWORDS:
        return "r#" + name
    return name


def endpoints(catalog):
    """(method, chain path without leading slash, needs mutual TLS) for every endpoint, APIv2 under `v2/`."""
    rows = []
    for file, prefix in (("endpoints-v3.tsv", ""), ("endpoints-v2.tsv", "/v2")):
        with open(os.path.join(catalog, file)) as f:
            for line in f:
                if not line.strip():
                    continue
                fields = line.rstrip("\n").split("\t")
                security = len(fields) > 2 and fields[2] == "security"
                rows.append((fields[0], (prefix + fields[1])[1:], security))
    return rows


def summaries(catalog):
    """(METHOD, chain path) -> the operation's summary, read from the catalog's openapi/ fragments."""
    try:
        import yaml
    except ImportError:
        sys.exit("PyYAML is required for the summaries (pip install pyyaml), or pass --no-summaries")
    out = {}
    base = os.path.join(catalog, "openapi")
    for method, path, _ in endpoints(catalog):
        file = os.path.join(base, path[:-1] + "/{empty}.yaml" if path.endswith("/") else path + ".yaml")
        if not os.path.exists(file):
            continue
        with open(file) as f:
            operation = (yaml.safe_load(f) or {}).get(method.lower()) or {}
        summary = " ".join(str(operation.get("summary", "")).split())
        if summary:
            out[(method, path)] = summary
    return out


class Node:
    def __init__(self, template, segment):
        self.template = template
        self.segment = segment
        self.children = {}  # segment -> Node
        self.methods = []  # (method, summary or None, mutual TLS)
        # Set by name_children(): accessor names (preferred first), type name, module name.
        self.names, self.type, self.module = [], None, None

    def child(self, segment):
        if segment not in self.children:
            template = f"{self.template}/{segment}" if self.template or segment == "" else segment
            self.children[segment] = Node(template, segment)
        return self.children[segment]

    @property
    def typed(self):
        return bool(self.children)


def build_tree(rows, titles):
    root = Node("", None)
    for method, path, security in rows:
        node = root
        for segment in path.split("/"):
            node = node.child(segment)
        node.methods.append((method, titles.get((method, path)), security))
    return root


def walk(node):
    yield node
    for child in node.children.values():
        yield from walk(child)


def name_children(root):
    literals = {n.segment for n in walk(root) if n.segment and not n.segment.startswith("{")}
    by_snake = defaultdict(set)
    for literal in literals:
        by_snake[snake(literal)].add(literal)
    twins = {}
    for name, group in by_snake.items():
        if len(group) == 1:
            continue
        kebab = [s for s in group if "-" in s]
        underscored = [s for s in group if "-" not in s]
        if len(kebab) != 1 or len(underscored) != 1:
            sys.exit(f"unexpected twin group {sorted(group)}")
        twins[name] = (kebab[0], underscored[0])

    for parent in walk(root):
        for segment, child in parent.children.items():
            if segment == "":
                child.names, child.type, child.module = ["trailing_slash"], "TrailingSlash", "trailing_slash"
            elif segment.startswith("{"):
                name = segment[1:-1]
                if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                    sys.exit(f"placeholder {segment} in {child.template}")
                child.names, child.type, child.module = [f"_{name}_"], f"_{camel(name)}_", f"_{name}_"
            else:
                name = snake(segment)
                if name in twins and segment == twins[name][1]:
                    # The underscored twin: `name_()` always; `name()` too where no hyphenated sibling takes it.
                    has_kebab_sibling = twins[name][0] in parent.children
                    child.names = [name + "_"] if has_kebab_sibling else [ident(name), name + "_"]
                    child.type, child.module = camel(name) + "_", name + "_"
                else:
                    accessor = name + "_" if name in BUILDER_METHODS else ident(name)
                    child.names, child.type, child.module = [accessor], camel(name), accessor
        names = [n for c in parent.children.values() for n in c.names]
        types = [c.type for c in parent.children.values() if c.typed]
        modules = [c.module for c in parent.children.values() if c.typed]
        for kind, values in (("accessor", names), ("type", types), ("module", modules)):
            if len(values) != len(set(values)):
                sys.exit(f"duplicate {kind} names under {parent.template!r}: {sorted(values)}")
        if parent.template == "" and RESERVED_TYPES & set(types):
            sys.exit(f"a root type name is reserved: {RESERVED_TYPES & set(types)}")


# What each first segment is, for the root accessors' rustdoc.
ROOT_DOCS = {
    "v3": "APIv3: JSON, signed requests and answers.",
    "v2": "APIv2: XML; its wire paths drop this `v2/`, as in PHP.",
    "hk": "the `hk/v3/…` endpoints (cross-border APIv3 on `api.mch.weixin.qq.com`).",
    "global": "the `global/v3/…` endpoints (cross-border APIv3 on `apihk.mch.weixin.qq.com`).",
}


# A runnable example for each root accessor: (chain below it, its template).
ROOT_EXAMPLES = {
    "v3": (".pay().transactions().native()", "v3/pay/transactions/native"),
    "v2": (".pay().micropay()", "v2/pay/micropay"),
    "hk": (".v3().transactions().native()", "hk/v3/transactions/native"),
    "global": (".v3().customs().orders()", "global/v3/customs/orders"),
}


def root_example(node):
    chain, template = ROOT_EXAMPLES[node.template]
    return [
        "",
        "```",
        '# let instance = wechatpay::Builder::factory(serde_json::json!({"mchid": "1",',
        '#   "serial": "5F1C72E2A8931B72A2E13AF8DEE92471EB397115",',
        '#   "privateKey": "file://tests/fixtures/merchant_private_key.pem",',
        '#   "certs": {"CD": "file://tests/fixtures/wechat_pay_public_key.pem"}}))?;',
        f'assert_eq!(instance.{node.names[0]}(){chain}.template(), "{template}");',
        "# Ok::<(), wechatpay::Error>(())",
        "```",
    ]


def doc_lines(node):
    """The rustdoc of a node: its template, then one line per endpoint method."""
    lines = [f"`{node.template}`"]
    if node.template in ROOT_DOCS:
        lines = [f"`{node.template}`: {ROOT_DOCS[node.template]}"]
    if node.methods:
        lines.append("")
        for method, summary, security in sorted(node.methods):
            line = f"- `{method}`"
            if summary:
                line += f": {escape(summary)}"
            if security:
                line += " (mutual TLS: needs the merchant certificate)"
            lines.append(line)
    return lines


def escape(text):
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


def generate_tree(root, counts):
    out = []
    emit = out.append
    emit("// @generated by tools/gen_accessors.py from the WeChat Pay catalog: do not edit by hand.")
    emit(f"// {counts}")
    emit("// Endpoint titles: the catalog's openapi/ summaries (TheNorthMemory/wechatpay-openapi, MIT).")
    emit("")

    def accessor_fns(parent, child_module):
        """Accessor methods of `parent` (whose children's types live in module `child_module`, relative)."""
        for child in sorted(parent.children.values(), key=lambda c: c.names[0]):
            returns = f"{child_module}::{child.type}" if child.typed else "crate::paths::Node"
            for i, name in enumerate(child.names):
                doc = doc_lines(child)
                if parent.template == "" and parent.segment is None:
                    doc += root_example(child)
                if i > 0:
                    doc = [f"The same node as [`{child.names[0]}`](Self::{child.names[0]}): `{child.template}`."]
                for line in doc:
                    emit(f"    /// {line}".rstrip())
                emit("    #[inline]")
                emit(f"    pub fn {name}(&self) -> &{returns} {{")
                emit(f'        self.typed_child("{child.segment}")')
                emit("    }")
                emit("")
        out[-1] = "}"

    root_children = sorted(root.children.values(), key=lambda c: c.names[0])
    emit("/// The typed tree's first segments (see [`paths`](crate::paths)).")
    emit("impl crate::Builder {")
    accessor_fns(root, "crate::paths")
    emit("")
    emit("// The root accessors, below the root: calls do not compile (see `sealed::RootOnly`).")
    emit("impl crate::paths::Node {")
    for child in root_children:
        for name in child.names:
            emit("    #[doc(hidden)]")
            emit(f"    pub fn {name}<'x>(&'x self) -> &'x crate::Builder")
            emit("    where")
            emit("        &'x Self: crate::paths::sealed::RootOnly,")
            emit("    {")
            emit("        self")
            emit("    }")
    emit("}")
    emit("")

    def module_body(parent, indent):
        """Types for the typed children of `parent`, each with its accessors, then their modules."""
        pad = "    " * indent
        typed = sorted((c for c in parent.children.values() if c.typed), key=lambda c: c.names[0])
        for child in typed:
            lines = []
            lines.append("node! {")
            for line in doc_lines(child):
                lines.append(f"    /// {line}".rstrip())
            lines.append(f"    {child.type}")
            lines.append("}")
            lines.append(f"impl {child.type} {{")
            mark = len(out)
            accessor_fns(child, child.module)
            body = out[mark:]
            del out[mark:]
            lines.extend(body)
            lines.append("")
            for line in lines:
                out.append((pad + line).rstrip() if line else "")
        for child in typed:
            if not any(c.typed for c in child.children.values()):
                continue
            out.append(f"{pad}/// The typed children of [`{child.type}`]: `{child.template}/…`.")
            out.append(f"{pad}pub mod {child.module} {{")
            module_body(child, indent + 1)
            out.append(f"{pad}}}")
            out.append("")

    module_body(root, 0)
    while out and out[-1] == "":
        out.pop()
    out.append("")

    # The Accessor table, breadth-first so that every node's children are contiguous.
    table, queue = [], [root]
    ranges = {}
    while queue:
        node = queue.pop(0)
        kids = sorted(node.children.values(), key=lambda c: c.names[0])
        ranges[id(node)] = (len(table), len(kids))
        for child in kids:
            table.append(child)
        queue.extend(kids)
    if len(table) >= 2**16:
        sys.exit("the Accessor table outgrew u16 indices")
    emit("/// Every typed accessor, breadth-first: the root's first, then each node's children together.")
    emit(f"static TABLE: [Accessor; {len(table)}] = [")
    for node in table:
        first, count = ranges[id(node)]
        methods = ", ".join(f'"{m}"' for m in sorted({m for m, _, _ in node.methods}))
        names = ", ".join(f'"{n.removeprefix("r#")}"' for n in node.names)
        emit(f'    Accessor::new(&[{names}], "{node.segment}", &[{methods}], {first}, {count}),')
    emit("];")
    first, count = ranges[id(root)]
    emit("")
    emit("/// The root's accessors in [`TABLE`].")
    emit(f"const ROOT: (u16, u16) = ({first}, {count});")
    return "\n".join(out) + "\n"


def generate_walk(root, counts):
    out = [
        "// @generated by tools/gen_accessors.py from the WeChat Pay catalog: do not edit by hand.",
        f"// {counts}",
        "// Every catalog path through the typed tree; tests/accessors.rs checks these lines against the catalog",
        "// and its own copy of the naming rule.",
        "",
        "use wechatpay::Builder;",
        "",
        "fn check(node: &Builder, template: &str) {",
        "    assert_eq!(node.template(), template);",
        "}",
        "",
        "#[test]",
        "#[rustfmt::skip] // one path a line, as tests/accessors.rs reads them",
        "fn every_catalog_path_through_the_typed_tree() {",
        "    let instance = super::offline();",
        "    let i = &instance;",
    ]
    paths = []

    def visit(node, chain):
        if node.methods:
            paths.append((node.template, chain))
        for child in node.children.values():
            visit(child, f"{chain}.{child.names[0]}()")

    visit(root, "i")
    for template, chain in sorted(paths):
        out.append(f'    check({chain}, "{template}");')
    out.append("}")
    return "\n".join(out) + "\n"


def rustfmt(path):
    # Format as `cargo fmt` would, so that the committed file reads like the rest of the code.
    subprocess.run(["rustfmt", "--edition", "2024", "--config-path", os.path.join(ROOT, "rustfmt.toml"), path],
                   check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("catalog", nargs="?", default=os.path.join(ROOT, "..", "shared", "catalog"))
    parser.add_argument("--no-summaries", action="store_true", help="list endpoint methods without their titles")
    args = parser.parse_args()
    rows = endpoints(args.catalog)
    titles = {} if args.no_summaries else summaries(args.catalog)
    root = build_tree(rows, titles)
    name_children(root)
    nodes = list(walk(root))[1:]
    typed = sum(1 for n in nodes if n.typed)
    paths = sum(1 for n in nodes if n.methods)
    counts = (f"{len(nodes)} nodes ({typed} typed, {len(nodes) - typed} leaves), {paths} paths, {len(rows)} endpoints, "
              f"{len(titles)} titles.")
    tree = os.path.join(ROOT, "src", "paths", "tree.rs")
    walk_rs = os.path.join(ROOT, "tests", "accessors", "walk.rs")
    os.makedirs(os.path.dirname(tree), exist_ok=True)
    os.makedirs(os.path.dirname(walk_rs), exist_ok=True)
    with open(tree, "w") as f:
        f.write(generate_tree(root, counts))
    with open(walk_rs, "w") as f:
        f.write(generate_walk(root, counts))
    for path in (tree, walk_rs):
        rustfmt(path)
    print(f"wrote {os.path.relpath(tree, ROOT)} and {os.path.relpath(walk_rs, ROOT)}: {counts}")


if __name__ == "__main__":
    main()
