#!/usr/bin/env python3
"""Generate Sluice's Lambda API shapes from AWS's own service model.

Reads botocore's `data/lambda/2015-03-31/service-2.json[.gz]` and writes
`crates/api/src/lambda/model.rs` for the operations Sluice serves (OPERATIONS below):

- one serde struct per structure those operations' inputs and outputs reach (member names as
  on the wire, `Option` for non-required members). Members the REST protocol carries in the
  URI, the query string or headers (`location` in the model), and blob payloads, are
  `#[serde(skip)]`: the router fills them in (inputs) or writes them out (outputs);
- `operations`: each operation's HTTP method, URI and success status;
- `errors`: each error those operations declare, with its HTTP status and whether its message
  member is `Message` or `message` (restJson1 error bodies differ per error);
- `constraints`: the length and range limits of every top-level input member, with its wire
  name as AWS's `ValidationException` spells it (`functionName`), for `crate::lambda`'s
  validator;
- the values of every enum reached (`RUNTIME_VALUES`, ...): enums are strings in the structs,
  so that an unknown value gets AWS's error rather than a deserialization failure.

Usage: python3 crates/api/codegen/lambda.py [--check] [--model path/to/service-2.json[.gz]]
(the model is found as in `stepfunctions.py`). Only the standard library is used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stepfunctions as sfn  # noqa: E402  (shares model lookup, naming and rustfmt)

HERE = Path(__file__).resolve()
CRATE = HERE.parents[1]
REPO = HERE.parents[3]
OUT = CRATE / "src" / "lambda" / "model.rs"
MODEL_REL = "data/lambda/2015-03-31/service-2.json"

OPERATIONS = [
    "CreateFunction",
    "GetFunction",
    "GetFunctionConfiguration",
    "ListFunctions",
    "DeleteFunction",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "Invoke",
    "PutFunctionConcurrency",
    "GetFunctionConcurrency",
    "DeleteFunctionConcurrency",
    "PublishVersion",
    "ListVersionsByFunction",
    "CreateAlias",
    "GetAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "PutFunctionEventInvokeConfig",
    "UpdateFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig",
    "DeleteFunctionEventInvokeConfig",
    "ListFunctionEventInvokeConfigs",
]


def find_model(explicit: str | None) -> tuple[Path, str]:
    if explicit:
        return Path(explicit), Path(explicit).name
    for d in sfn.botocore_dirs():
        for suffix in ("", ".gz"):
            path = d / (MODEL_REL + suffix)
            if path.exists():
                init = (d / "__init__.py").read_text(encoding="utf-8")
                import re

                m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", init)
                return path, f"botocore {m.group(1) if m else 'unknown'}"
    sfn.fail("botocore's Lambda model not found (see stepfunctions.py for the venv)")
    raise AssertionError


class Generator:
    def __init__(self, model: dict, source: str, digest: str):
        self.model = model
        self.shapes = model["shapes"]
        self.ops = {name: model["operations"][name] for name in OPERATIONS}
        self.source = source
        self.digest = digest
        if model["metadata"].get("protocol") != "rest-json":
            sfn.fail("expected a rest-json model")
        roots = []
        for op in self.ops.values():
            for part in ("input", "output"):
                if part in op:
                    roots.append(op[part]["shape"])
        self.reachable = self.reach(roots)

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

    def rust_type(self, name: str) -> str:
        shape = self.shapes[name]
        kind = shape["type"]
        return {
            "structure": name,
            "string": "String",
            "blob": "String",
            # restJson1 sends timestamps as epoch seconds (a JSON number).
            "timestamp": "f64",
            "integer": "i32",
            "long": "i64",
            "float": "f64",
            "double": "f64",
            "boolean": "bool",
        }.get(kind) or (
            f"Vec<{self.rust_type(shape['member']['shape'])}>"
            if kind == "list"
            else f"BTreeMap<String, {self.rust_type(shape['value']['shape'])}>"
        )

    def struct_rs(self, name: str) -> list[str]:
        shape = self.shapes[name]
        required = set(shape.get("required", []))
        payload = shape.get("payload")
        out = sfn.doc_lines(shape.get("documentation"))
        out.append("#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]")
        members = shape.get("members", {})
        if not members:
            return out + [f"pub struct {name} {{}}", ""]
        out.append(f"pub struct {name} {{")
        for member_name, member in members.items():
            ident = sfn.field_ident(member_name)
            ty = self.rust_type(member["shape"])
            if self.shapes[member["shape"]]["type"] == "structure" and member["shape"] == name:
                ty = f"Box<{ty}>"
            located = "location" in member or member_name == payload
            attrs = []
            if ident.removeprefix("r#") != member_name:
                attrs.append(f"rename = {sfn.rust_str(member_name)}")
            if located:
                attrs.append("skip")
                if member_name not in required:
                    ty = f"Option<{ty}>"
            elif member_name not in required:
                ty = f"Option<{ty}>"
                attrs += ["default", 'skip_serializing_if = "Option::is_none"']
            out += sfn.doc_lines(
                member.get("documentation") or self.shapes[member["shape"]].get("documentation"),
                "    ",
            )
            if located:
                where = member.get("location", "payload")
                wire = member.get("locationName", member_name)
                out.append("    ///")
                out.append(f"    /// In the request's {where} (`{wire}`), not the JSON body.")
            elif member_name in required:
                out.append("    ///")
                out.append("    /// Required.")
            out.append(f"    #[serde({', '.join(attrs)})]")
            out.append(f"    pub {ident}: {ty},")
        out.append("}")
        out.append("")
        return out

    def errors_rs(self) -> list[str]:
        names = sorted({e["shape"] for op in self.ops.values() for e in op.get("errors", [])})
        out = [
            "/// An error the operations declare: its name, HTTP status, and the member its",
            "/// message travels in (`Message` or `message`, as the model spells it).",
            "#[derive(Debug, Clone, Copy, PartialEq, Eq)]",
            "pub struct ErrorShape {",
            "    pub name: &'static str,",
            "    pub status: u16,",
            "    pub message_member: &'static str,",
            "}",
            "",
            "/// The errors of the served operations.",
            "pub mod errors {",
            "    use super::ErrorShape;",
            "",
        ]
        for name in names:
            shape = self.shapes[name]
            members = shape.get("members", {})
            message = "Message" if "Message" in members else "message"
            status = shape.get("error", {}).get("httpStatusCode", 400)
            out += sfn.doc_lines(shape.get("documentation"), "    ")
            out.append(
                f"    pub const {sfn.screaming(name)}: ErrorShape = ErrorShape {{ name: {sfn.rust_str(name)}, "
                f"status: {status}, message_member: {sfn.rust_str(message)} }};"
            )
        out.append("")
        out.append("    /// Every error above.")
        out.append("    pub const ALL: &[ErrorShape] = &[")
        for name in names:
            out.append(f"        {sfn.screaming(name)},")
        out.append("    ];")
        out.append("}")
        out.append("")
        return out

    def operations_rs(self) -> list[str]:
        out = [
            "/// How an operation travels: method, URI template, success status.",
            "#[derive(Debug, Clone, Copy, PartialEq, Eq)]",
            "pub struct OperationShape {",
            "    pub name: &'static str,",
            "    pub method: &'static str,",
            "    pub uri: &'static str,",
            "    pub status: u16,",
            "}",
            "",
            "/// The served operations.",
            "pub mod operations {",
            "    use super::OperationShape;",
            "",
        ]
        for name, op in self.ops.items():
            http = op["http"]
            out += sfn.doc_lines(op.get("documentation"), "    ")
            out.append(
                f"    pub const {sfn.screaming(name)}: OperationShape = OperationShape {{ name: {sfn.rust_str(name)}, "
                f"method: {sfn.rust_str(http['method'])}, uri: {sfn.rust_str(http['requestUri'])}, "
                f"status: {http.get('responseCode', 200)} }};"
            )
        out.append("}")
        out.append("")
        return out

    def constraints_rs(self) -> list[str]:
        out = [
            "/// A top-level input member's limits: string length or numeric range.",
            "#[derive(Debug, Clone, Copy, PartialEq)]",
            "pub struct Constraint {",
            "    /// The member as AWS names it in `ValidationException`s (`functionName`).",
            "    pub wire: &'static str,",
            "    /// The member in the JSON body or the request's other parts.",
            "    pub member: &'static str,",
            "    pub min: Option<i64>,",
            "    pub max: Option<i64>,",
            "    /// Whether min/max bound a length (strings, lists) rather than a value.",
            "    pub length: bool,",
            "}",
            "",
            "/// The limits of each served operation's input members.",
            "pub mod constraints {",
            "    use super::Constraint;",
            "",
        ]
        for name, op in self.ops.items():
            if "input" not in op:
                continue
            shape = self.shapes[op["input"]["shape"]]
            items = []
            for member_name, member in shape.get("members", {}).items():
                target = self.shapes[member["shape"]]
                if "min" not in target and "max" not in target:
                    continue
                if target["type"] in ("blob",):
                    continue
                length = target["type"] in ("string", "list", "map")
                wire = member_name[:1].lower() + member_name[1:]
                mn = f"Some({int(target['min'])})" if "min" in target else "None"
                mx = f"Some({int(target['max'])})" if "max" in target else "None"
                items.append(
                    f"        Constraint {{ wire: {sfn.rust_str(wire)}, member: {sfn.rust_str(member_name)}, "
                    f"min: {mn}, max: {mx}, length: {'true' if length else 'false'} }},"
                )
            out.append(f"    pub const {sfn.screaming(name)}: &[Constraint] = &[")
            out += items
            out.append("    ];")
        out.append("}")
        out.append("")
        return out

    def enums_rs(self) -> list[str]:
        out = []
        for name in sorted(self.reachable):
            shape = self.shapes[name]
            if shape["type"] == "string" and "enum" in shape:
                values = ", ".join(sfn.rust_str(v) for v in shape["enum"])
                out.append(f"/// The values of `{name}`.")
                out.append(f"pub const {sfn.screaming(name)}_VALUES: &[&str] = &[{values}];")
        out.append("")
        return out

    def model_rs(self) -> str:
        meta = self.model["metadata"]
        out = [
            "// @generated by crates/api/codegen/lambda.py: Lambda shapes, errors and limits. Do not edit by hand.",
            f"// Source: {self.source}, {MODEL_REL}",
            f"// (apiVersion {meta['apiVersion']}, sha256 {self.digest}).",
            "// Regenerate: python3 crates/api/codegen/lambda.py [--model <service-2.json>]",
            "// (`--check` verifies the committed file instead).",
            "",
            "//! The Lambda API's shapes for the operations Sluice serves, generated from AWS's",
            "//! service model. Members carried outside the JSON body are `#[serde(skip)]`.",
            "",
            "#![allow(clippy::doc_markdown, clippy::doc_lazy_continuation)]",
            "",
            "use std::collections::BTreeMap;",
            "",
            "use serde::{Deserialize, Serialize};",
            "",
            "/// The model's API version (the first segment of most URIs).",
            f"pub const API_VERSION: &str = {sfn.rust_str(meta['apiVersion'])};",
            "",
        ]
        out += self.operations_rs()
        out += self.errors_rs()
        out += self.constraints_rs()
        out += self.enums_rs()
        structs = sorted(
            n
            for n in self.reachable
            if self.shapes[n]["type"] == "structure" and not self.shapes[n].get("exception")
        )
        for name in structs:
            out += self.struct_rs(name)
        return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    path, source = find_model(args.model)
    model, digest = sfn.load_model(path)
    text = sfn.rustfmt(Generator(model, source, digest).model_rs())
    current = OUT.read_text(encoding="utf-8") if OUT.exists() else None
    if current == text:
        if args.check:
            print("generated file is up to date")
        return
    if args.check:
        sfn.fail(f"stale generated file: {OUT.relative_to(REPO)}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
