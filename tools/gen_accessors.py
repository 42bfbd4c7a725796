#!/usr/bin/env python3
"""Generates src/builder/accessors.rs: one Builder accessor per path segment of the WeChat Pay catalog.

Usage: python3 tools/gen_accessors.py [path/to/shared/catalog]   (default: ../shared/catalog)

The output is committed; tests/accessors.rs checks it against tests/fixtures/catalog/*.tsv (copies of the catalog's
endpoint lists), so the build never reads ../shared. Re-run this script when the catalog changes.

Naming rule (documented on `Builder`):
- a literal segment's accessor is its snake_case form: `fund-app` -> fund_app(), `video_upload` -> video_upload(),
  `addInstitutionsub` -> add_institutionsub(), `complaints-v2` -> complaints_v2();
- a placeholder `{name}` is `_name_()`, as in PHP;
- Rust keywords take the raw form: `return` -> r#return();
- a name taken by a Builder method (`delete`) or by a hyphenated twin gets a trailing underscore: `delete_()`,
  `policy_periods_()` (the literal `policy_periods`, sibling of `policy-periods`);
- the plain twin name (`policy_periods()`, `applyment_id()`, `business_code()`) means the hyphenated segment, except
  under a parent where the catalog has only the underscored one, where it means that one.
- the empty segment of trailing-slash paths is trailing_slash().
"""
import os
import re
import subprocess
import sys
from collections import defaultdict

BUILDER_METHODS = {
    "factory", "chain", "template", "get", "put", "post", "patch", "delete",
    "get_async", "put_async", "post_async", "patch_async", "delete_async",
    "request", "request_async", "verbatim", "url", "config", "accessors", "clone", "fmt", "index", "segment", "twin",
}
RAW_KEYWORDS = {
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static", "struct", "trait", "true",
    "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
}
NOT_RAW = {"self", "Self", "super", "crate"}


def snake(segment):
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", segment).lower()
    return name.replace("-", "_")


def endpoints(catalog):
    paths = []
    with open(os.path.join(catalog, "endpoints-v3.tsv")) as f:
        for line in f:
            if line.strip():
                paths.append(line.split("\t")[1].strip())
    with open(os.path.join(catalog, "endpoints-v2.tsv")) as f:
        for line in f:
            if line.strip():
                paths.append("/v2" + line.split("\t")[1].strip())
    return paths


def main():
    catalog = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "catalog")
    paths = endpoints(catalog)
    literals, placeholders = set(), set()
    children = defaultdict(set)  # parent template -> child segments
    for path in paths:
        segments = path[1:].split("/")
        for i, segment in enumerate(segments):
            parent = "/".join(segments[:i])
            children[parent].add(segment)
            if segment.startswith("{"):
                placeholders.add(segment[1:-1])
            else:
                literals.add(segment)

    by_name = defaultdict(list)
    for literal in literals:
        if literal == "":
            continue
        by_name[snake(literal)].append(literal)

    methods = []  # (rust name, plain name for tables, doc, body)
    twins = []
    for name, group in sorted(by_name.items()):
        group.sort()
        if len(group) == 1:
            segment = group[0]
            rust, plain = ident(name), name
            if name in BUILDER_METHODS:
                rust = plain = name + "_"
            methods.append((rust, plain, f"The segment `{segment}`.", f'self.segment("{segment}")'))
            continue
        kebab = [s for s in group if "-" in s]
        underscored = [s for s in group if "-" not in s]
        if len(kebab) != 1 or len(underscored) != 1:
            sys.exit(f"unexpected twin group {group}")
        kebab, underscored = kebab[0], underscored[0]
        twins.append(underscored)
        methods.append((ident(name), name,
                        f"The segment `{kebab}`; under a parent whose only such child is `{underscored}`, that one.",
                        f'self.twin("{kebab}", "{underscored}")'))
        methods.append((name + "_", name + "_", f"The segment `{underscored}`, sibling of `{kebab}`.",
                        f'self.segment("{underscored}")'))
    for placeholder in sorted(placeholders):
        name = f"_{placeholder}_"
        methods.append((name, name, f"The placeholder `{{{placeholder}}}`.", f'self.segment("{{{placeholder}}}")'))
    if "" in literals:
        methods.append(("trailing_slash", "trailing_slash", "The empty last segment of a path that ends in `/`.",
                        'self.segment("")'))
    methods.sort(key=lambda m: m[1])
    names = [m[1] for m in methods]
    if len(names) != len(set(names)):
        sys.exit("duplicate accessor names")

    # Parents under which only the underscored twin exists: there the plain twin name means that one.
    only_underscored = sorted(
        (parent, child)
        for parent, kids in children.items()
        for child in kids
        if child in twins and not any(k != child and snake(k) == snake(child) for k in kids)
    )

    out = []
    out.append("// @generated by tools/gen_accessors.py from the WeChat Pay catalog: do not edit by hand.")
    out.append(f"// {len(literals) - ('' in literals)} literal segments, {len(placeholders)} placeholders, "
               f"{len(paths)} endpoint paths.")
    out.append("")
    out.append("use super::{Accessor, Builder};")
    out.append("")
    out.append("/// Accessors for every path segment of the catalog (see the naming rule on [`Builder`]).")
    out.append("impl Builder {")
    for rust, _plain, doc, body in methods:
        out.append(f"    /// {doc}")
        out.append(f"    pub fn {rust}(&self) -> &Builder {{")
        out.append(f"        {body}")
        out.append("    }")
        out.append("")
    out[-1] = "}"
    out.append("")
    out.append("/// (parent template, segment): where a plain twin name means the underscored segment.")
    out.append("pub(super) const ONLY_UNDERSCORED_TWIN: &[(&str, &str)] = &[")
    for parent, child in only_underscored:
        out.append(f'    ("{parent}", "{child}"),')
    out.append("];")
    out.append("")
    out.append("/// Every accessor by name, for tools and tests: `(name, accessor)`.")
    out.append("pub(super) const ACCESSORS: &[(&str, Accessor)] = &[")
    for rust, plain, _doc, _body in methods:
        out.append(f'    ("{plain}", Builder::{rust}),')
    out.append("];")
    target = os.path.join(os.path.dirname(__file__), "..", "src", "builder", "accessors.rs")
    with open(target, "w") as f:
        f.write("\n".join(out) + "\n")
    # Format as `cargo fmt` would, so that CI's `cargo fmt --check` agrees with the generated file.
    root = os.path.join(os.path.dirname(__file__), "..")
    subprocess.run(["rustfmt", "--edition", "2024", "--config-path", os.path.join(root, "rustfmt.toml"), target], check=True)
    print(f"wrote {len(methods)} accessors, {len(only_underscored)} twin exceptions to {os.path.normpath(target)}")


def ident(name):
    if name in NOT_RAW:
        return name + "_"
    if name in RAW_KEYWORDS:
        return "r#" + name
    return name


if __name__ == "__main__":
    main()
