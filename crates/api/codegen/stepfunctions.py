#!/usr/bin/env python3
"""Generate Sluice's Step Functions API shapes from AWS's own service model.

Reads botocore's `data/stepfunctions/2016-11-23/service-2.json` (the model every AWS SDK is
generated from) and writes two Rust files, committed to the repository:

- `crates/api/src/sfn/model.rs`: one serde struct per input/output structure (member names
  exactly as on the wire, `Option` for non-required members), one Rust enum per enumerated
  string, the names of every error shape (`errors`), and the constraints of every shape an
  input can reach (`shapes`: required members, length, pattern, enum values, numeric ranges)
  as data for the generic validator in `crates/api/src/shape.rs`.
- `crates/api/src/sfn/operations.rs`: the `Operation` list, the typed `Request` enum, the
  `StepFunctions` backend trait (one method per operation, each defaulting to an
  `UnsupportedOperation` error) and `dispatch`.

Usage (from anywhere):

    python3 crates/api/codegen/stepfunctions.py            # regenerate
    python3 crates/api/codegen/stepfunctions.py --check    # fail if the committed files differ
    python3 crates/api/codegen/stepfunctions.py --model path/to/service-2.json[.gz]

Without `--model` the model is found in the venv at `$SLUICE_VENV` or `~/.cache/sluice-venv`,
else through an importable `botocore` (`python3 -m venv ~/.cache/sluice-venv &&
~/.cache/sluice-venv/bin/pip install awscli boto3`). The output is formatted with `rustfmt`.
Only the standard library is used.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
CRATE = HERE.parents[1]
REPO = HERE.parents[3]
OUT_DIR = CRATE / "src" / "sfn"
MODEL_REL = "data/stepfunctions/2016-11-23/service-2.json"

# Patterns of the model, mapped to hand-written matchers in `crates/api/src/shape.rs`
# (`shape::patterns`). Sluice has no regex engine (and Java's lookahead is out of reach of the
# `regex` crate anyway): a new pattern in a newer model stops generation here until someone
# writes its matcher.
KNOWN_PATTERNS = {
    r"^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$": "alias_name",
    r"[!-~]+": "printable_ascii",
    r"\p{ASCII}*": "ascii",
}

RUST_KEYWORDS = {
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
    "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
    "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
}

# Names the generated files use for their own items or imports.
RESERVED_TYPE_NAMES = {
    "Operation", "Request", "StepFunctions", "ApiError", "Shape", "ShapeKind", "Member",
    "Pattern", "BTreeMap", "Serialize", "Deserialize", "Option", "Result", "String", "Vec",
    "Box", "Value", "Future", "fmt",
}


def fail(message: str) -> None:
    print(f"stepfunctions.py: {message}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# Finding and loading the model


def botocore_dirs() -> list[Path]:
    """Where botocore may be: the project's venv first (what CI installs), then this Python's."""
    dirs = []
    venv = os.environ.get("SLUICE_VENV") or os.path.expanduser("~/.cache/sluice-venv")
    for d in sorted(glob.glob(os.path.join(venv, "lib", "python3*", "site-packages", "botocore"))):
        dirs.append(Path(d))
    try:
        import botocore  # type: ignore

        dirs.append(Path(botocore.__file__).parent)
    except ImportError:
        pass
    return dirs


def find_model(explicit: str | None) -> tuple[Path, str]:
    """The model file and a description of where it comes from (botocore version)."""
    if explicit:
        path = Path(explicit)
        if not path.exists():
            fail(f"no model at {path}")
        return path, path.name
    for d in botocore_dirs():
        for suffix in ("", ".gz"):
            path = d / (MODEL_REL + suffix)
            if path.exists():
                version = "unknown"
                init = (d / "__init__.py").read_text(encoding="utf-8")
                m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", init)
                if m:
                    version = m.group(1)
                return path, f"botocore {version}"
    fail(
        "botocore's Step Functions model not found: install botocore (python3 -m venv "
        "~/.cache/sluice-venv && ~/.cache/sluice-venv/bin/pip install awscli boto3) or pass "
        "--model path/to/service-2.json"
    )
    raise AssertionError


def load_model(path: Path) -> tuple[dict, str]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return json.loads(raw), hashlib.sha256(raw).hexdigest()


# ---------------------------------------------------------------------------------------------
# Naming


def snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.replace("-", "_").lower()


def field_ident(name: str) -> str:
    ident = snake(name)
    return f"r#{ident}" if ident in RUST_KEYWORDS else ident


def screaming(name: str) -> str:
    return snake(name).upper()


def variant_ident(value: str) -> str:
    if re.fullmatch(r"[A-Z0-9_]+", value):
        ident = "".join(p[:1] + p[1:].lower() for p in value.split("_") if p)
    else:
        parts = re.split(r"[^A-Za-z0-9]+", value)
        ident = "".join(p[:1].upper() + p[1:] for p in parts if p)
    if not ident or ident[0].isdigit():
        ident = "V" + ident
    return ident


def rust_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def doc_text(documentation: str | None, first_sentence: bool = True) -> str:
    """Model documentation (HTML) as one line of rustdoc-safe text."""
    if not documentation:
        return ""
    text = re.sub(r"<[^>]+>", " ", documentation)
    text = html.unescape(text)
    text = re.sub(r"\s+", " ", text).strip()
    if first_sentence:
        m = re.match(r"(.+?[.:])(\s|$)", text)
        if m:
            text = m.group(1)
    if text.endswith(":"):
        text = text[:-1] + "."
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("[", "\\[").replace("]", "\\]").replace("`", "'")
    return text


def doc_lines(documentation: str | None, indent: str = "") -> list[str]:
    text = doc_text(documentation)
    return [f"{indent}/// {text}"] if text else []


# ---------------------------------------------------------------------------------------------
# Generation


class Generator:
    def __init__(self, model: dict, source: str, digest: str):
        self.model = model
        self.shapes: dict = model["shapes"]
        self.operations: dict = model["operations"]
        self.source = source
        self.digest = digest
        self.check_model()
        self.reachable = self.reach_all()
        self.input_reachable = self.reach(
            [op["input"]["shape"] for op in self.operations.values() if "input" in op]
        )
        self.boxed = self.find_cycles()

    def check_model(self) -> None:
        meta = self.model["metadata"]
        if meta.get("protocol") != "json" or meta.get("jsonVersion") != "1.0":
            fail(f"expected an AWS JSON 1.0 model, got {meta.get('protocol')} {meta.get('jsonVersion')}")
        for name, shape in self.shapes.items():
            kind = shape["type"]
            if kind not in {
                "structure", "string", "integer", "long", "float", "double", "boolean",
                "timestamp", "blob", "list", "map",
            }:
                fail(f"shape {name}: unsupported type {kind}")
            if kind == "structure" and shape.get("union"):
                fail(f"shape {name}: unions are not supported yet")
            if "pattern" in shape and shape["pattern"] not in KNOWN_PATTERNS:
                fail(
                    f"shape {name}: pattern {shape['pattern']!r} has no matcher; add one to "
                    "crates/api/src/shape.rs (shape::patterns) and to KNOWN_PATTERNS"
                )
            if kind == "structure" and not shape.get("exception"):
                if name in RESERVED_TYPE_NAMES:
                    fail(f"structure {name} collides with a name the generated code uses")
            if kind == "string" and "enum" in shape and name in RESERVED_TYPE_NAMES:
                fail(f"enum {name} collides with a name the generated code uses")
        for op_name, op in self.operations.items():
            for part in ("input", "output"):
                if part not in op:
                    fail(f"operation {op_name} has no {part} shape")

    def reach(self, roots: list[str]) -> set[str]:
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            shape = self.shapes[name]
            for member in shape.get("members", {}).values():
                stack.append(member["shape"])
            for key in ("member", "key", "value"):
                if key in shape:
                    stack.append(shape[key]["shape"])
        return seen

    def reach_all(self) -> set[str]:
        roots = []
        for op in self.operations.values():
            roots += [op["input"]["shape"], op["output"]["shape"]]
        return self.reach(roots)

    def find_cycles(self) -> set[tuple[str, str]]:
        """(structure, member) pairs to box so recursive structures have a finite size."""
        boxed: set[tuple[str, str]] = set()

        def direct(name: str) -> list[tuple[str, str]]:
            # Structures a structure contains by value (lists and maps already allocate).
            out = []
            for member_name, member in self.shapes[name].get("members", {}).items():
                target = member["shape"]
                if self.shapes[target]["type"] == "structure":
                    out.append((member_name, target))
            return out

        for start in sorted(n for n in self.reachable if self.shapes[n]["type"] == "structure"):
            stack = [(start, iter(direct(start)))]
            on_path = {start}
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    on_path.discard(node)
                    continue
                member_name, target = nxt
                if (node, member_name) in boxed:
                    continue
                if target in on_path:
                    boxed.add((node, member_name))
                    continue
                on_path.add(target)
                stack.append((target, iter(direct(target))))
        return boxed

    # --- Rust types ---------------------------------------------------------------------------

    def rust_type(self, name: str) -> str:
        shape = self.shapes[name]
        kind = shape["type"]
        if kind == "structure":
            return name
        if kind == "string":
            return name if "enum" in shape else "String"
        if kind == "integer":
            return "i32"
        if kind == "long":
            return "i64"
        if kind in ("float", "double"):
            return "f64"
        if kind == "boolean":
            return "bool"
        if kind == "timestamp":
            return "f64"
        if kind == "blob":
            return "String"
        if kind == "list":
            return f"Vec<{self.rust_type(shape['member']['shape'])}>"
        if kind == "map":
            return f"BTreeMap<String, {self.rust_type(shape['value']['shape'])}>"
        raise AssertionError(kind)

    def header(self, what: str) -> list[str]:
        return [
            f"// @generated by crates/api/codegen/stepfunctions.py: {what}. Do not edit by hand.",
            f"// Source: {self.source}, {MODEL_REL}",
            f"// (apiVersion {self.model['metadata']['apiVersion']}, sha256 {self.digest}).",
            "// Regenerate: python3 crates/api/codegen/stepfunctions.py [--model <service-2.json>]",
            "// (`--check` verifies the committed files instead).",
            "",
        ]

    # --- model.rs -----------------------------------------------------------------------------

    def model_rs(self) -> str:
        meta = self.model["metadata"]
        out = self.header("Step Functions shapes, errors and constraints")
        out += [
            "//! The Step Functions API's shapes, generated from AWS's service model.",
            "//!",
            "//! Structures serialize with the member names of the wire protocol (AWS JSON 1.0);",
            "//! non-required members are `Option`s, omitted when `None`. Timestamps are `f64`",
            "//! epoch seconds, as the protocol sends them. [`shapes`] describes every shape a",
            "//! request can reach, with its constraints, for [`crate::shape::validate`].",
            "",
            "#![allow(clippy::doc_markdown, clippy::doc_lazy_continuation)]",
            "",
            "use std::collections::BTreeMap;",
            "use std::fmt;",
            "",
            "use serde::{Deserialize, Serialize};",
            "",
            f"/// The service's `X-Amz-Target` prefix: `{meta['targetPrefix']}.<Operation>`.",
            f"pub const TARGET_PREFIX: &str = {rust_str(meta['targetPrefix'])};",
            "/// The model's API version.",
            f"pub const API_VERSION: &str = {rust_str(meta['apiVersion'])};",
            "/// The service's endpoint prefix (`states.<region>.amazonaws.com`), also the ARN service.",
            f"pub const ENDPOINT_PREFIX: &str = {rust_str(meta['endpointPrefix'])};",
            "",
        ]
        out += self.errors_rs()
        enums = sorted(
            n for n in self.reachable
            if self.shapes[n]["type"] == "string" and "enum" in self.shapes[n]
        )
        for name in enums:
            out += self.enum_rs(name)
        structs = sorted(
            n for n in self.reachable
            if self.shapes[n]["type"] == "structure" and not self.shapes[n].get("exception")
        )
        for name in structs:
            out += self.struct_rs(name)
        out += self.shapes_rs()
        return "\n".join(out) + "\n"

    def errors_rs(self) -> list[str]:
        errors = sorted(n for n, s in self.shapes.items() if s.get("exception"))
        out = [
            "/// The name (`__type`) of every error the model declares.",
            "pub mod errors {",
        ]
        for name in errors:
            shape = self.shapes[name]
            out += doc_lines(shape.get("documentation"), "    ")
            extra = [m for m in shape.get("members", {}) if m != "message"]
            if extra:
                out.append(f"    ///")
                out.append(f"    /// Members besides `message`: {', '.join('`' + m + '`' for m in extra)}.")
            out.append(f"    pub const {screaming(name)}: &str = {rust_str(name)};")
        out.append("")
        out.append("    /// All error names, sorted.")
        out.append("    pub const ALL: &[&str] = &[")
        for name in errors:
            out.append(f"        {screaming(name)},")
        out.append("    ];")
        out.append("}")
        out.append("")
        return out

    def enum_rs(self, name: str) -> list[str]:
        shape = self.shapes[name]
        values = shape["enum"]
        idents = [variant_ident(v) for v in values]
        if len(set(idents)) != len(idents):
            fail(f"enum {name}: variant names collide: {idents}")
        out = doc_lines(shape.get("documentation"))
        if out:
            out.append("///")
        out.append("/// `Default` is the model's first value; it exists so shapes can derive `Default`.")
        out.append(
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]"
        )
        out.append(f"pub enum {name} {{")
        for i, (value, ident) in enumerate(zip(values, idents)):
            if i == 0:
                out.append("    #[default]")
            if ident != value:
                out.append(f"    #[serde(rename = {rust_str(value)})]")
            out.append(f"    {ident},")
        out.append("}")
        out.append("")
        out.append(f"impl {name} {{")
        out.append("    /// Every value, in the model's order.")
        out.append("    pub const ALL: &'static [Self] = &[")
        for ident in idents:
            out.append(f"        Self::{ident},")
        out.append("    ];")
        out.append("")
        out.append("    /// The value on the wire.")
        out.append("    pub const fn as_str(self) -> &'static str {")
        out.append("        match self {")
        for value, ident in zip(values, idents):
            out.append(f"            Self::{ident} => {rust_str(value)},")
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// The variant whose wire value is `value`.")
        out.append("    pub fn from_name(value: &str) -> Option<Self> {")
        out.append("        match value {")
        for value, ident in zip(values, idents):
            out.append(f"            {rust_str(value)} => Some(Self::{ident}),")
        out.append("            _ => None,")
        out.append("        }")
        out.append("    }")
        out.append("}")
        out.append("")
        out.append(f"impl fmt::Display for {name} {{")
        out.append("    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {")
        out.append("        f.write_str(self.as_str())")
        out.append("    }")
        out.append("}")
        out.append("")
        return out

    def struct_rs(self, name: str) -> list[str]:
        shape = self.shapes[name]
        required = set(shape.get("required", []))
        out = doc_lines(shape.get("documentation"))
        out.append("#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]")
        members = shape.get("members", {})
        if not members:
            out.append(f"pub struct {name} {{}}")
            out.append("")
            return out
        out.append(f"pub struct {name} {{")
        idents = set()
        for member_name, member in members.items():
            ident = field_ident(member_name)
            if ident in idents:
                fail(f"{name}: two members map to the field {ident}")
            idents.add(ident)
            ty = self.rust_type(member["shape"])
            if (name, member_name) in self.boxed:
                ty = f"Box<{ty}>"
            attrs = []
            if ident.removeprefix("r#") != member_name:
                attrs.append(f"rename = {rust_str(member_name)}")
            if member_name not in required:
                ty = f"Option<{ty}>"
                attrs += ["default", 'skip_serializing_if = "Option::is_none"']
            out += doc_lines(member.get("documentation") or self.shapes[member["shape"]].get("documentation"), "    ")
            if member_name in required:
                out.append("    ///")
                out.append("    /// Required.")
            if attrs:
                out.append(f"    #[serde({', '.join(attrs)})]")
            out.append(f"    pub {ident}: {ty},")
        out.append("}")
        out.append("")
        return out

    # --- shapes (constraints as data) ---------------------------------------------------------

    def shapes_rs(self) -> list[str]:
        out = [
            "/// Every shape a request can reach, with the model's constraints, for",
            "/// [`crate::shape::validate`]. One static per shape, named after it.",
            "pub mod shapes {",
            "    use crate::shape::{Member, Pattern, Shape, ShapeKind, patterns};",
            "",
        ]
        statics = {}
        for name in self.input_reachable:
            ident = screaming(name)
            if ident in statics:
                fail(f"shapes {name} and {statics[ident]} map to the same static {ident}")
            statics[ident] = name
        for name in sorted(self.input_reachable):
            out += self.shape_static(name)
        out.append("}")
        return out

    def shape_static(self, name: str) -> list[str]:
        shape = self.shapes[name]
        kind = shape["type"]
        sensitive = "true" if shape.get("sensitive") else "false"

        def opt(key: str, float_: bool = False) -> str:
            if key not in shape:
                return "None"
            value = shape[key]
            if float_:
                return f"Some({float(value)!r})"
            return f"Some({int(value)})"

        if kind == "structure":
            required = set(shape.get("required", []))
            members = []
            for member_name, member in shape.get("members", {}).items():
                members.append(
                    f"            Member {{ name: {rust_str(member_name)}, shape: &{screaming(member['shape'])}, "
                    f"required: {'true' if member_name in required else 'false'} }},"
                )
            body = ["ShapeKind::Structure {", "        members: &["] + members + ["        ],", "    }"]
        elif kind == "string":
            pattern = "None"
            if "pattern" in shape:
                matcher = KNOWN_PATTERNS[shape["pattern"]]
                pattern = (
                    f"Some(Pattern {{ regex: {rust_str(shape['pattern'])}, matches: patterns::{matcher} }})"
                )
            values = ", ".join(rust_str(v) for v in shape.get("enum", []))
            body = [
                "ShapeKind::String {",
                f"        min: {opt('min')},",
                f"        max: {opt('max')},",
                f"        pattern: {pattern},",
                f"        values: &[{values}],",
                "    }",
            ]
        elif kind in ("integer", "long"):
            body = [
                f"ShapeKind::{'Integer' if kind == 'integer' else 'Long'} {{",
                f"        min: {opt('min')},",
                f"        max: {opt('max')},",
                "    }",
            ]
        elif kind in ("float", "double"):
            body = [
                "ShapeKind::Float {",
                f"        min: {opt('min', True)},",
                f"        max: {opt('max', True)},",
                "    }",
            ]
        elif kind == "boolean":
            body = ["ShapeKind::Boolean"]
        elif kind == "timestamp":
            body = ["ShapeKind::Timestamp"]
        elif kind == "blob":
            body = ["ShapeKind::Blob {", f"        min: {opt('min')},", f"        max: {opt('max')},", "    }"]
        elif kind == "list":
            body = [
                "ShapeKind::List {",
                f"        member: &{screaming(shape['member']['shape'])},",
                f"        min: {opt('min')},",
                f"        max: {opt('max')},",
                "    }",
            ]
        elif kind == "map":
            body = [
                "ShapeKind::Map {",
                f"        key: &{screaming(shape['key']['shape'])},",
                f"        value: &{screaming(shape['value']['shape'])},",
                f"        min: {opt('min')},",
                f"        max: {opt('max')},",
                "    }",
            ]
        else:
            raise AssertionError(kind)
        body[0] = f"    kind: {body[0]}"
        return [
            f"    pub static {screaming(name)}: Shape = Shape {{",
            f"        name: {rust_str(name)},",
            f"        sensitive: {sensitive},",
            *("    " + line for line in body[:-1]),
            f"    {body[-1]},",
            "    };",
            "",
        ]

    # --- operations.rs ------------------------------------------------------------------------

    def operations_rs(self) -> str:
        ops = list(self.operations.items())
        out = self.header("Step Functions operations and the backend trait")
        out += [
            "//! The Step Functions operations: their names, the typed [`Request`], the",
            "//! [`StepFunctions`] backend trait and [`dispatch`], generated from AWS's model.",
            "",
            "#![allow(clippy::doc_markdown, clippy::doc_lazy_continuation)]",
            "",
            "use std::future::Future;",
            "",
            "use super::model::*;",
            "use crate::error::ApiError;",
            "use crate::shape::Shape;",
            "",
            "/// Every operation of the Step Functions API, in the model's order.",
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]",
            "pub enum Operation {",
        ]
        for name, op in ops:
            out += doc_lines(op.get("documentation"), "    ")
            out.append(f"    {name},")
        out.append("}")
        out.append("")
        out.append("impl Operation {")
        out.append("    /// Every operation, in the model's order.")
        out.append("    pub const ALL: &'static [Self] = &[")
        for name, _ in ops:
            out.append(f"        Self::{name},")
        out.append("    ];")
        out.append("")
        out.append("    /// The operation's name, as in `X-Amz-Target: AWSStepFunctions.<name>`.")
        out.append("    pub const fn name(self) -> &'static str {")
        out.append("        match self {")
        for name, _ in ops:
            out.append(f"            Self::{name} => {rust_str(name)},")
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// The operation named `name` (case-sensitive, as AWS).")
        out.append("    pub fn from_name(name: &str) -> Option<Self> {")
        out.append("        match name {")
        for name, _ in ops:
            out.append(f"            {rust_str(name)} => Some(Self::{name}),")
        out.append("            _ => None,")
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// The shape of the operation's input, with its constraints.")
        out.append("    pub fn input_shape(self) -> &'static Shape {")
        out.append("        match self {")
        for name, op in ops:
            out.append(f"            Self::{name} => &shapes::{screaming(op['input']['shape'])},")
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// The names of the errors the model says the operation can return.")
        out.append("    pub fn errors(self) -> &'static [&'static str] {")
        out.append("        match self {")
        for name, op in ops:
            errs = ", ".join(f"errors::{screaming(e['shape'])}" for e in op.get("errors", []))
            out.append(f"            Self::{name} => &[{errs}],")
        out.append("        }")
        out.append("    }")
        out.append("}")
        out.append("")
        out.append("/// A decoded request: the operation and its typed input.")
        out.append("#[allow(clippy::large_enum_variant)]")
        out.append("#[derive(Debug, Clone, PartialEq)]")
        out.append("pub enum Request {")
        for name, op in ops:
            out.append(f"    {name}({op['input']['shape']}),")
        out.append("}")
        out.append("")
        out.append("impl Request {")
        out.append("    /// The request's operation.")
        out.append("    pub fn operation(&self) -> Operation {")
        out.append("        match self {")
        for name, _ in ops:
            out.append(f"            Self::{name}(_) => Operation::{name},")
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// Deserializes the JSON body of `operation` into its typed input (no constraint")
        out.append("    /// checks: see [`super::decode`]).")
        out.append("    pub fn from_value(")
        out.append("        operation: Operation,")
        out.append("        value: serde_json::Value,")
        out.append("    ) -> Result<Self, serde_json::Error> {")
        out.append("        Ok(match operation {")
        for name, _ in ops:
            out.append(f"            Operation::{name} => Self::{name}(serde_json::from_value(value)?),")
        out.append("        })")
        out.append("    }")
        out.append("}")
        out.append("")
        out += [
            "/// What the Step Functions API needs from an engine: one method per operation.",
            "///",
            "/// Every method has a default that answers `UnsupportedOperation`, so a backend",
            "/// implements operations one at a time. Inputs arrive validated against the model's",
            "/// constraints (required members, lengths, enum values, ranges); the service's own",
            "/// rules (names, ARNs, definitions, execution input) are the backend's to check, with",
            "/// the helpers of [`crate::sfn`].",
            "pub trait StepFunctions: Send + Sync + 'static {",
        ]
        for name, op in ops:
            inp = op["input"]["shape"]
            outp = op["output"]["shape"]
            out += doc_lines(op.get("documentation"), "    ")
            out.append(f"    fn {snake(name)}(")
            out.append("        &self,")
            out.append(f"        input: {inp},")
            out.append(f"    ) -> impl Future<Output = Result<{outp}, ApiError>> + Send {{")
            out.append("        let _ = input;")
            out.append(f"        std::future::ready(Err(ApiError::unsupported_operation({rust_str(name)})))")
            out.append("    }")
            out.append("")
        out.append("}")
        out.append("")
        out += [
            "/// Runs `request` on `backend` and serializes its output as the response body.",
            "pub async fn dispatch<B: StepFunctions>(backend: &B, request: Request) -> Result<Vec<u8>, ApiError> {",
            "    match request {",
        ]
        for name, _ in ops:
            out.append(f"        Request::{name}(input) => encode(&backend.{snake(name)}(input).await?),")
        out += [
            "    }",
            "}",
            "",
            "fn encode<T: serde::Serialize>(output: &T) -> Result<Vec<u8>, ApiError> {",
            "    serde_json::to_vec(output)",
            '        .map_err(|error| ApiError::internal(format!("cannot serialize the response: {error}")))',
            "}",
        ]
        return "\n".join(out) + "\n"


def rustfmt(source: str) -> str:
    config = REPO / ".rustfmt.toml"
    cmd = ["rustfmt", "--edition", "2024", "--emit", "stdout"]
    if config.exists():
        cmd += ["--config-path", str(config)]
    try:
        done = subprocess.run(cmd, input=source, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        fail("rustfmt not found (rustup component add rustfmt)")
    if done.returncode != 0:
        fail(f"rustfmt failed:\n{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="path to service-2.json or service-2.json.gz")
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = parser.parse_args()

    path, source = find_model(args.model)
    model, digest = load_model(path)
    gen = Generator(model, source, digest)
    outputs = {
        OUT_DIR / "model.rs": rustfmt(gen.model_rs()),
        OUT_DIR / "operations.rs": rustfmt(gen.operations_rs()),
    }
    stale = []
    for out_path, text in outputs.items():
        current = out_path.read_text(encoding="utf-8") if out_path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(out_path)
        else:
            out_path.write_text(text, encoding="utf-8")
            print(f"wrote {out_path.relative_to(REPO)}")
    if stale:
        fail("stale generated files: " + ", ".join(str(p.relative_to(REPO)) for p in stale))
    if args.check:
        print("generated files are up to date")


if __name__ == "__main__":
    main()
