#!/usr/bin/env python3
"""Generate Sluice's AWS API models from AWS's own service models.

Reads botocore's `data/<service>/<version>/service-2.json[.gz]` (the models every AWS SDK is
generated from) for each service of SERVICES and writes Rust, committed to the repository:

- `crates/api/src/<module>/model.rs`: one serde struct per input/output structure (member names
  exactly as in the model, `Option` for non-required members; a REST operation's members in
  the URI, query string and headers are ordinary members, placed by the REST codec
  (`crates/api/src/rest.rs`) from the operation's binding; a blob or string payload, the raw
  body, is `#[serde(skip)]`), the enums, the errors, and `shapes`: every shape an input or
  output can reach with its constraints (required members, length, pattern, enum values,
  numeric ranges) and wire names (`locationName`s, `flattened`), as data for the generic
  validator in `crates/api/src/shape.rs` and the query codec in `crates/api/src/query.rs`; the
  query protocol's `XML_NAMESPACE` and `AWS_QUERY_COMPATIBLE` per service (model.rs) and each
  operation's `output_shape` and `result_wrapper` (operations.rs);
- `crates/api/src/<module>/operations.rs`: the `Operation` list with each operation's HTTP
  binding (`bindings`), the typed `Request` enum, the backend trait (one method per
  operation, each defaulting to an `UnsupportedOperation` error) and `dispatch`.

Lambda is generated for the operations Sluice serves (LAMBDA_OPERATIONS). Services Sluice does
not serve yet live behind a cargo feature of sluice-api (`sqs`, `sns`, ...).

The models are pinned: `crates/api/codegen/models.lock` records the botocore version and each
model's sha256. `--check` fails when the installed botocore is not the pinned one, when a model
differs from its pin, or when a committed file differs from what the generator writes.

Usage (from anywhere):

    python3 crates/api/codegen/generate.py              # regenerate everything, update the lock
    python3 crates/api/codegen/generate.py --check      # CI: verify, write nothing
    python3 crates/api/codegen/generate.py --service sfn --service lambda

The models are found in the venv at `$SLUICE_VENV` or `~/.cache/sluice-venv` (what
`scripts/test` installs from scripts/test-requirements.txt), else through an importable
`botocore`, or under `--botocore DIR`. The output is formatted with `rustfmt`. Only the standard
library is used.
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
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve()
CRATE = HERE.parents[1]
REPO = HERE.parents[3]
SRC = CRATE / "src"
LOCK = HERE.parent / "models.lock"
REQUIREMENTS = REPO / "scripts" / "test-requirements.txt"

# Patterns of the models that the `regex` crate cannot run (lookaround, Java-only classes),
# mapped to hand-written matchers in `crates/api/src/shape.rs` (`shape::patterns`). A new such
# pattern in a newer model stops generation here until someone writes its matcher.
KNOWN_PATTERNS = {
    r"^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$": "alias_name",
    r"[!-~]+": "printable_ascii",
    r"\p{ASCII}*": "ascii",
    r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)": "lambda_alias_name",
    r"((?!^\d+$)^[0-9a-zA-Z-_]+$)": "lambda_alias_name",
    r"(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)": "lambda_tenancy_config_key",
    r"[0-9A-Za-z\.\-_]*(?<!\.)": "lambda_no_trailing_dot",
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]{1,64})(:((?!\d+$)[0-9a-zA-Z-_]+))?": "lambda_function_alias_arn",
    r"^(?!\s*$).+": "not_blank",
    r"(?=[/\.\-_A-Za-z0-9]+)((?!aws\.).*)|(\$(\.[\w_-]+(\[(\d+|\*)\])*)*)": "scheduler_source",
    r".*(?=[/\.\-_A-Za-z0-9]+)((?!aws\.).*)|(\$(\.[\w/_-]+(\[(\d+|\*)\])*)*).*": "pipes_source",
    r"(?!\s*$).+|(\$(\.[\w/_-]+(\[(\d+|\*)\])*)*)": "not_blank_or_json_path",
}

# Java regex syntax the `regex` crate spells differently: (model text, Rust text).
JAVA_TO_RUST = [
    (r"\p{Print}", r"\x20-\x7E"),
]
# Whole patterns the `regex` crate cannot take as written but can as rewritten (same language).
REWRITTEN_PATTERNS = {
    # XML's Char production; Java spells supplementary characters as surrogate pairs.
    r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*":
        r"[\x{20}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}\r\n\t]*",
    r"\p{Print}+": r"[\x20-\x7E]+",
}

RUST_KEYWORDS = {
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
    "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
    "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
}
# Keywords that cannot be raw identifiers.
NOT_RAW = {"self", "Self", "super", "crate"}

# Names the generated files use for their own items or imports.
RESERVED_TYPE_NAMES = {
    "Operation", "Request", "ApiError", "Shape", "ShapeKind", "Member", "Binding",
    "Pattern", "BTreeMap", "Serialize", "Deserialize", "Option", "Result", "String", "Vec",
    "Box", "Value", "Future", "fmt", "Default", "Clone", "Debug", "PartialEq", "Eq", "Hash",
    "Ord", "PartialOrd", "Copy", "Send", "Sync", "Some", "None", "Ok", "Err", "ErrorShape",
    "Location", "MemberBinding", "RegexCell",
}

# Services whose generated names must be the model's exactly (code outside the generated files
# uses them): a collision fails generation instead of renaming.
STRICT_NAMES = {"stepfunctions", "lambda"}

LAMBDA_OPERATIONS = [
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
    "CreateEventSourceMapping",
    "GetEventSourceMapping",
    "UpdateEventSourceMapping",
    "DeleteEventSourceMapping",
    "ListEventSourceMappings",
]


@dataclass
class Service:
    """One botocore model and where its Rust goes."""

    name: str  # botocore's directory
    version: str  # the model's API version (its directory)
    module: str  # crates/api/src/<module>
    title: str  # the service's name in prose
    trait: str  # the backend trait
    # Enum members as `String`s (the backend compares wire values; the validator has already
    # checked them against the model's values).
    string_enums: bool = False
    feature: str | None = None  # the sluice-api cargo feature, None = always built
    operations: list[str] | None = None  # a subset to generate; None = all
    # The query protocol's traits botocore's model no longer carries (see QUERY_OVERLAYS).
    query_overlay: str | None = None

    @property
    def model_rel(self) -> str:
        return f"data/{self.name}/{self.version}/service-2.json"


SERVICES = [
    Service("stepfunctions", "2016-11-23", "sfn", "Step Functions", "StepFunctions"),
    Service("lambda", "2015-03-31", "lambda", "Lambda", "Lambda", string_enums=True,
            operations=LAMBDA_OPERATIONS),
    Service("sqs", "2012-11-05", "sqs", "SQS", "Sqs", feature="sqs", query_overlay="sqs-query.json",
            string_enums=True),
    Service("sns", "2010-03-31", "sns", "SNS", "Sns", feature="sns"),
    Service("kinesis", "2013-12-02", "kinesis", "Kinesis", "Kinesis", feature="kinesis"),
    Service("events", "2015-10-07", "events", "EventBridge", "EventBridge", feature="events"),
    Service("scheduler", "2021-06-30", "scheduler", "EventBridge Scheduler", "Scheduler",
            feature="scheduler"),
    Service("pipes", "2015-10-07", "pipes", "EventBridge Pipes", "Pipes", feature="pipes"),
    Service("s3", "2006-03-01", "s3", "S3", "S3", feature="s3"),
    Service("dynamodb", "2012-08-10", "dynamodb", "DynamoDB", "DynamoDb", feature="dynamodb"),
    Service("dynamodbstreams", "2012-08-10", "dynamodbstreams", "DynamoDB Streams",
            "DynamoDbStreams", feature="dynamodbstreams"),
]


def fail(message: str) -> None:
    print(f"generate.py: {message}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# Finding, loading and pinning the models


def botocore_dirs(explicit: str | None) -> list[Path]:
    """Where botocore may be: `--botocore`, the project's venv (what CI installs), this Python's."""
    if explicit:
        return [Path(explicit)]
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


def botocore_version(d: Path) -> str:
    init = d / "__init__.py"
    if init.exists():
        m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", init.read_text(encoding="utf-8"))
        if m:
            return m.group(1)
    return "unknown"


def find_botocore(explicit: str | None) -> Path:
    for d in botocore_dirs(explicit):
        if (d / "data").is_dir():
            return d
    fail(
        "botocore not found: run scripts/test once (it creates the venv with the pinned "
        "botocore of scripts/test-requirements.txt) or pass --botocore DIR"
    )
    raise AssertionError


def load_model(botocore: Path, service: Service) -> tuple[dict, str]:
    for suffix in ("", ".gz"):
        path = botocore / (service.model_rel + suffix)
        if path.exists():
            raw = path.read_bytes()
            if suffix:
                raw = gzip.decompress(raw)
            return json.loads(raw), hashlib.sha256(raw).hexdigest()
    fail(f"no {service.model_rel} in {botocore}")
    raise AssertionError


def read_lock() -> dict:
    if not LOCK.exists():
        return {}
    return json.loads(LOCK.read_text(encoding="utf-8"))


def lock_text(version: str, digests: dict[str, str]) -> str:
    lock = {
        "comment": "The service models crates/api/codegen/generate.py was run on. Written by it; "
        "generate.py --check fails when the installed botocore or a model differs.",
        "botocore": version,
        "models": {
            s.name: {"path": s.model_rel, "sha256": digests[s.name]}
            for s in SERVICES
            if s.name in digests
        },
    }
    return json.dumps(lock, indent=2) + "\n"


def pinned_requirement() -> str | None:
    if not REQUIREMENTS.exists():
        return None
    m = re.search(r"^botocore==(\S+)", REQUIREMENTS.read_text(encoding="utf-8"), re.M)
    return m.group(1) if m else None


# ---------------------------------------------------------------------------------------------
# Naming


def snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.replace("-", "_").replace(".", "_").lower()


def field_ident(name: str) -> str:
    ident = snake(name)
    if ident in NOT_RAW:
        return f"{ident}_"
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


def has_lookaround(pattern: str) -> bool:
    return re.search(r"\(\?[=!]|\(\?<[=!]", pattern) is not None


def opt_str(value: str | None) -> str:
    return "None" if value is None else f"Some({rust_str(value)})"


# ---------------------------------------------------------------------------------------------
# Query protocol overlays
#
# SQS moved to AWS JSON 1.0 (`awsQueryCompatible`), and botocore's model of it dropped what only
# the query protocol needs: `xmlNamespace`, `resultWrapper`s, `locationName`s (`Attribute.N.Name`,
# `MessageAttribute.N.Value.StringValue`) and the errors' query codes
# (`AWS.SimpleQueueService.NonExistentQueue`), which the JSON protocol still sends in
# `x-amzn-query-error`. Clients of the query protocol (older SDKs) still send and expect them, so
# they are kept as data: `codegen/overlays/<file>`, extracted from the last botocore model of the
# service that spoke query (`generate.py --extract-query-overlay SERVICE MODEL_JSON`), applied to
# the pinned model where its shapes and members still exist.

OVERLAYS = HERE.parent / "overlays"


def query_traits(model: dict) -> dict:
    """The query protocol's traits of `model`: what `apply_query_overlay` puts back."""
    meta = model["metadata"]
    out: dict = {"metadata": {k: meta[k] for k in ("xmlNamespace",) if k in meta}}
    ops = {}
    for name, op in model["operations"].items():
        wrapper = op.get("output", {}).get("resultWrapper")
        if wrapper:
            ops[name] = {"resultWrapper": wrapper}
    out["operations"] = ops
    shapes = {}
    for name, shape in model["shapes"].items():
        traits: dict = {}
        if shape.get("flattened"):
            traits["flattened"] = True
        for part in ("member", "key", "value"):
            if part in shape and "locationName" in shape[part]:
                traits[part] = {"locationName": shape[part]["locationName"]}
        members = {
            m: {k: v[k] for k in ("locationName", "flattened") if k in v}
            for m, v in shape.get("members", {}).items()
            if "locationName" in v or "flattened" in v
        }
        if members:
            traits["members"] = members
        if shape.get("exception") and "error" in shape:
            traits["error"] = shape["error"]
        if traits:
            shapes[name] = traits
    out["shapes"] = shapes
    return out


def load_query_overlay(service: Service) -> dict:
    path = OVERLAYS / (service.query_overlay or "")
    if not path.is_file():
        fail(f"{service.name}: no query overlay {path.relative_to(REPO)}")
    return json.loads(path.read_text(encoding="utf-8"))


def apply_query_overlay(model: dict, overlay: dict) -> dict:
    """`model` with `overlay`'s traits where its shapes, members and operations exist."""
    model = json.loads(json.dumps(model))
    model["metadata"].update(overlay.get("metadata", {}))
    for name, traits in overlay.get("operations", {}).items():
        op = model["operations"].get(name)
        if op is not None and "output" in op:
            op["output"].update(traits)
    for name, traits in overlay.get("shapes", {}).items():
        shape = model["shapes"].get(name)
        if shape is None:
            continue
        if "flattened" in traits and shape["type"] in ("list", "map"):
            shape["flattened"] = traits["flattened"]
        for part in ("member", "key", "value"):
            if part in traits and part in shape:
                shape[part].update(traits[part])
        for member_name, member_traits in traits.get("members", {}).items():
            member = shape.get("members", {}).get(member_name)
            if member is not None:
                member.update(member_traits)
        if "error" in traits and shape.get("exception"):
            shape["error"] = {**traits["error"], **shape.get("error", {})}
    return model


def extract_query_overlay(service_name: str, model_path: str) -> None:
    service = next((s for s in SERVICES if s.name == service_name), None)
    if service is None or not service.query_overlay:
        fail(f"{service_name}: not a service with a query overlay")
    raw = Path(model_path).read_bytes()
    if model_path.endswith(".gz"):
        raw = gzip.decompress(raw)
    model = json.loads(raw)
    if model["metadata"].get("protocol") != "query":
        fail(f"{model_path} is not a query protocol model")
    botocore = Path(model_path).resolve().parents[3]
    overlay = {
        "comment": "The query protocol's traits of this service, which the pinned botocore model "
        "no longer has; applied by generate.py. Written by generate.py --extract-query-overlay.",
        "source": f"botocore {botocore_version(botocore)}, {service.model_rel} "
        f"(sha256 {hashlib.sha256(raw).hexdigest()})",
        **query_traits(model),
    }
    OVERLAYS.mkdir(exist_ok=True)
    path = OVERLAYS / service.query_overlay
    path.write_text(json.dumps(overlay, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)}")


# ---------------------------------------------------------------------------------------------
# The model: what every emitter shares


class Model:
    def __init__(self, service: Service, model: dict, source: str, digest: str):
        self.service = service
        if service.query_overlay:
            model = apply_query_overlay(model, load_query_overlay(service))
        self.model = model
        self.meta = model["metadata"]
        self.shapes: dict = model["shapes"]
        all_ops: dict = model["operations"]
        if service.operations is None:
            self.operations = all_ops
        else:
            missing = [n for n in service.operations if n not in all_ops]
            if missing:
                fail(f"{service.name}: no operations {missing} in the model")
            self.operations = {n: all_ops[n] for n in service.operations}
        self.source = source
        self.digest = digest
        self.check_model()
        roots = []
        for op in self.operations.values():
            for part in ("input", "output"):
                if part in op:
                    roots.append(op[part]["shape"])
        self.reachable = self.reach(roots)
        self.input_reachable = self.reach(
            [op["input"]["shape"] for op in self.operations.values() if "input" in op]
        )
        self.boxed = self.find_cycles()
        self.type_names = self.name_types()
        self.statics = self.name_statics()
        # Regex-crate patterns in order of first use: model text -> function name.
        self.regexes: dict[str, str] = {}

    def fail(self, message: str) -> None:
        fail(f"{self.service.name}: {message}")

    def check_model(self) -> None:
        for name, shape in self.shapes.items():
            kind = shape["type"]
            if kind not in {
                "structure", "string", "integer", "long", "float", "double", "boolean",
                "timestamp", "blob", "list", "map",
            }:
                self.fail(f"shape {name}: unsupported type {kind}")
            if "pattern" in shape:
                pattern = shape["pattern"]
                if (
                    pattern not in KNOWN_PATTERNS
                    and pattern not in REWRITTEN_PATTERNS
                    and has_lookaround(pattern)
                ):
                    self.fail(
                        f"shape {name}: pattern {pattern!r} needs lookaround, which the regex "
                        "crate lacks; write a matcher in crates/api/src/shape.rs "
                        "(shape::patterns) and add it to KNOWN_PATTERNS"
                    )

    def name_types(self) -> dict[str, str]:
        """Rust type names of structures and enums: the shape's name unless the generated code
        uses it already."""
        names = {}
        for name in self.reachable:
            shape = self.shapes[name]
            if shape["type"] == "structure" or (shape["type"] == "string" and "enum" in shape):
                rust = name
                if name in RESERVED_TYPE_NAMES or name == self.service.trait:
                    if self.service.name in STRICT_NAMES:
                        self.fail(f"shape {name} collides with a name the generated code uses")
                    rust = f"{name}Shape"
                names[name] = rust
        if len(set(names.values())) != len(names):
            self.fail("two shapes map to one Rust type name")
        return names

    def name_statics(self) -> dict[str, str]:
        """The `shapes::` static of each shape an input or output reaches: its name in
        SCREAMING_CASE, numbered when two shapes differ only in case (SNS's `String` and
        `string`)."""
        statics: dict[str, str] = {}
        taken: set[str] = set()
        for name in sorted(self.reachable):
            ident = screaming(name)
            if ident in taken:
                if self.service.name in STRICT_NAMES:
                    self.fail(f"shape {name} maps to the static {ident} of another shape")
                n = 2
                while f"{ident}_{n}" in taken:
                    n += 1
                ident = f"{ident}_{n}"
            taken.add(ident)
            statics[name] = ident
        return statics

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

    def is_rest(self) -> bool:
        return self.meta.get("protocol") in ("rest-json", "rest-xml")

    def rust_type(self, name: str, typed_enums: bool = True) -> str:
        shape = self.shapes[name]
        kind = shape["type"]
        if kind == "structure":
            return self.type_names[name]
        if kind == "string":
            return self.type_names[name] if typed_enums and "enum" in shape else "String"
        if kind == "integer":
            return "i32"
        if kind == "long":
            return "i64"
        if kind in ("float", "double"):
            return "f64"
        if kind == "boolean":
            return "bool"
        if kind == "timestamp":
            # The JSON protocols send timestamps as epoch seconds (a JSON number).
            return "f64"
        if kind == "blob":
            return "String"
        if kind == "list":
            return f"Vec<{self.rust_type(shape['member']['shape'], typed_enums)}>"
        if kind == "map":
            return f"BTreeMap<String, {self.rust_type(shape['value']['shape'], typed_enums)}>"
        raise AssertionError(kind)

    def header(self, what: str) -> list[str]:
        return [
            f"// @generated by crates/api/codegen/generate.py: {what}. Do not edit by hand.",
            f"// Source: {self.source}, {self.service.model_rel}",
            f"// (apiVersion {self.meta['apiVersion']}, sha256 {self.digest}; pinned in",
            "// crates/api/codegen/models.lock). Regenerate: python3 crates/api/codegen/generate.py",
            "// (`--check` verifies the committed files instead).",
            "",
        ]

    # --- bindings (HTTP) ----------------------------------------------------------------------

    def member_bindings(self, shape_name: str | None) -> str:
        if shape_name is None:
            return "&[]"
        shape = self.shapes[shape_name]
        payload = shape.get("payload")
        locations = {
            "uri": "Uri", "querystring": "Querystring", "header": "Header", "headers": "Headers",
            "statusCode": "StatusCode",
        }
        items = []
        for member_name, member in shape.get("members", {}).items():
            where = member.get("location")
            if where is None:
                location = "Payload" if member_name == payload else "Body"
            elif where in locations:
                location = locations[where]
            else:
                self.fail(f"{shape_name}.{member_name}: unknown location {where}")
            wire = member.get("locationName", member_name)
            items.append(
                f"MemberBinding {{ member: {rust_str(member_name)}, location: Location::{location}, "
                f"name: {rust_str(wire)} }}"
            )
        return "&[" + ", ".join(items) + "]"

    def bindings_rs(self) -> list[str]:
        out = [
            "/// Each operation's HTTP binding: method, URI template, success status, and where each",
            "/// member of its input and output travels.",
            "pub mod bindings {",
            "    use crate::binding::{Binding, Location, MemberBinding};",
            "",
        ]
        for name, op in self.operations.items():
            http = op.get("http", {"method": "POST", "requestUri": "/"})
            inp = op.get("input", {}).get("shape")
            outp = op.get("output", {}).get("shape")
            out += [
                f"    pub static {screaming(name)}: Binding = Binding {{",
                f"        operation: {rust_str(name)},",
                f"        method: {rust_str(http['method'])},",
                f"        uri: {rust_str(http['requestUri'])},",
                f"        status: {http.get('responseCode', 200)},",
                f"        input: {self.member_bindings(inp)},",
                f"        output: {self.member_bindings(outp)},",
                "    };",
                "",
            ]
        out.append("}")
        return out

    # --- shapes (constraints as data) ---------------------------------------------------------

    def shapes_rs(self) -> list[str]:
        body = []
        for name in sorted(self.reachable):
            body += self.shape_static(name)
        uses_known = any(
            self.shapes[n].get("pattern") in KNOWN_PATTERNS for n in self.reachable
        )
        imports = ["Member", "Shape", "ShapeKind"]
        if any("pattern" in self.shapes[n] for n in self.reachable):
            imports.insert(1, "Pattern")
        if self.regexes:
            imports.append("RegexCell")
            imports.append("regex_matches")
        if uses_known:
            imports.append("patterns")
        out = [
            "/// Every shape a request or response can reach, with the model's constraints (for",
            "/// [`crate::shape::validate`]) and wire names (for [`crate::query`]). One static per",
            "/// shape, named after it.",
            "pub mod shapes {",
            f"    use crate::shape::{{{', '.join(imports)}}};",
            "",
        ]
        out += body
        if self.regexes:
            out += self.regexes_rs()
        out.append("}")
        return out

    def rust_regex(self, pattern: str) -> str:
        """The model's (Java) pattern as a whole-value `regex` crate pattern."""
        text = REWRITTEN_PATTERNS.get(pattern)
        if text is None:
            text = pattern
            for java, rust in JAVA_TO_RUST:
                text = text.replace(java, rust)
        return f"^(?:{text})$"

    def regexes_rs(self) -> list[str]:
        out = []
        for pattern, fn in self.regexes.items():
            out += [
                f"    /// `{pattern.replace('`', '')}`, whole value.",
                f"    fn {fn}(value: &str) -> bool {{",
                "        static RE: RegexCell = RegexCell::new();",
                f"        regex_matches(&RE, {rust_str(self.rust_regex(pattern))}, value)",
                "    }",
                "",
            ]
        out += [
            "    #[cfg(test)]",
            "    #[test]",
            "    fn every_pattern_compiles() {",
            "        let patterns: &[&str] = &[",
        ]
        for pattern in self.regexes:
            out.append(f"            {rust_str(self.rust_regex(pattern))},")
        out += [
            "        ];",
            "        for pattern in patterns {",
            '            assert!(crate::shape::compile(pattern).is_some(), "{pattern}");',
            "        }",
            "    }",
        ]
        return out

    def pattern_rs(self, pattern: str) -> str:
        known = KNOWN_PATTERNS.get(pattern)
        if known:
            matcher = f"patterns::{known}"
        else:
            matcher = self.regexes.setdefault(pattern, f"pattern_{len(self.regexes)}")
        return f"Some(Pattern {{ regex: {rust_str(pattern)}, matches: {matcher} }})"

    def shape_static(self, name: str) -> list[str]:
        shape = self.shapes[name]
        kind = shape["type"]
        sensitive = "true" if shape.get("sensitive") else "false"
        flattened = "true" if shape.get("flattened") else "false"

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
                    f"            Member {{ name: {rust_str(member_name)}, shape: &{self.statics[member['shape']]}, "
                    f"required: {'true' if member_name in required else 'false'}, "
                    f"location_name: {opt_str(member.get('locationName'))}, "
                    f"flattened: {'true' if member.get('flattened') else 'false'} }},"
                )
            body = ["ShapeKind::Structure {", "        members: &["] + members + ["        ],", "    }"]
        elif kind == "string":
            pattern = "None"
            if "pattern" in shape:
                pattern = self.pattern_rs(shape["pattern"])
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
                f"        member: &{self.statics[shape['member']['shape']]},",
                f"        min: {opt('min')},",
                f"        max: {opt('max')},",
                f"        flattened: {flattened},",
                f"        member_name: {opt_str(shape['member'].get('locationName'))},",
                "    }",
            ]
        elif kind == "map":
            body = [
                "ShapeKind::Map {",
                f"        key: &{self.statics[shape['key']['shape']]},",
                f"        value: &{self.statics[shape['value']['shape']]},",
                f"        min: {opt('min')},",
                f"        max: {opt('max')},",
                f"        flattened: {flattened},",
                f"        key_name: {opt_str(shape['key'].get('locationName'))},",
                f"        value_name: {opt_str(shape['value'].get('locationName'))},",
                "    }",
            ]
        else:
            raise AssertionError(kind)
        body[0] = f"    kind: {body[0]}"
        return [
            f"    pub static {self.statics[name]}: Shape = Shape {{",
            f"        name: {rust_str(name)},",
            f"        sensitive: {sensitive},",
            *("    " + line for line in body[:-1]),
            f"    {body[-1]},",
            "    };",
            "",
        ]


# ---------------------------------------------------------------------------------------------
# The services Sluice serves through `operations.rs` (AWS JSON, and the models of the services
# to come): model.rs + operations.rs


class ServiceEmitter:
    def __init__(self, m: Model):
        self.m = m
        self.s = m.service
        self.shapes = m.shapes
        self.legacy = self.s.name == "stepfunctions"

    def files(self) -> dict[Path, str]:
        out_dir = SRC / self.s.module
        files = {
            out_dir / "model.rs": self.model_rs(),
            out_dir / "operations.rs": self.operations_rs(),
        }
        if self.s.feature:
            files[out_dir / "mod.rs"] = self.mod_rs()
        return files

    def raw_payload(self, shape_name: str | None) -> tuple[str, str] | None:
        """The member of `shape_name` that is the raw body (a blob or string payload), and its
        type: (member, "blob" | "string")."""
        if shape_name is None:
            return None
        shape = self.shapes[shape_name]
        payload = shape.get("payload")
        if payload is None:
            return None
        kind = self.shapes[shape["members"][payload]["shape"]]["type"]
        return (payload, kind) if kind in ("blob", "string") else None

    def raw_payloads(self) -> bool:
        return any(
            self.raw_payload(op.get(part, {}).get("shape")) is not None
            and self.raw_payload(op[part]["shape"])[1] == "blob"
            for op in self.m.operations.values()
            for part in ("input", "output")
        )

    def mod_rs(self) -> str:
        m = self.m
        out = m.header(f"the {self.s.title} API's module")
        out += [
            f"//! The {self.s.title} API's model (`{m.meta.get('protocol')}`), generated from AWS's",
            "//! service model: shapes with their constraints, errors, operations with their HTTP",
            f"//! bindings, and the [`{self.s.trait}`] backend trait. Built with the `{self.s.feature}`",
            "//! feature of sluice-api.",
            "",
            "pub mod model;",
            "pub mod operations;",
            "",
            "pub use model::{errors, shapes};",
            f"pub use operations::{{Operation, Request, {self.s.trait}, dispatch}};",
        ]
        return "\n".join(out) + "\n"

    def model_rs(self) -> str:
        m = self.m
        meta = m.meta
        title = self.s.title
        out = m.header(f"{title} shapes, errors and constraints")
        protocol = {
            ("json", "1.0"): "AWS JSON 1.0",
            ("json", "1.1"): "AWS JSON 1.1",
        }.get((meta.get("protocol"), meta.get("jsonVersion")), meta.get("protocol"))
        if self.legacy:
            out += [
                "//! The Step Functions API's shapes, generated from AWS's service model.",
                "//!",
                "//! Structures serialize with the member names of the wire protocol (AWS JSON 1.0);",
                "//! non-required members are `Option`s, omitted when `None`. Timestamps are `f64`",
                "//! epoch seconds, as the protocol sends them. [`shapes`] describes every shape a",
                "//! request can reach, with its constraints, for [`crate::shape::validate`].",
            ]
        else:
            out += [
                f"//! The {title} API's shapes, generated from AWS's service model (protocol",
                f"//! `{protocol}`).",
                "//!",
                "//! Structures serialize with the model's member names; non-required members are",
                "//! `Option`s, omitted when `None`. Members a REST protocol carries in the URI, the",
                "//! query string or headers are `#[serde(skip)]` (see `operations::bindings`).",
                "//! Timestamps are `f64` epoch seconds. [`shapes`] describes every shape a request",
                "//! can reach, with its constraints, for [`crate::shape::validate`].",
            ]
        out += [
            "",
            "#![allow(clippy::doc_markdown, clippy::doc_lazy_continuation)]",
            "",
            "use std::collections::BTreeMap;",
            "use std::fmt;",
            "",
            "use serde::{Deserialize, Serialize};",
            "",
        ]
        if self.raw_payloads():
            out[-1:-1] = ["use bytes::Bytes;"]
        if "targetPrefix" in meta:
            out += [
                f"/// The service's `X-Amz-Target` prefix: `{meta['targetPrefix']}.<Operation>`.",
                f"pub const TARGET_PREFIX: &str = {rust_str(meta['targetPrefix'])};",
            ]
        out += [
            "/// The model's API version.",
            f"pub const API_VERSION: &str = {rust_str(meta['apiVersion'])};",
        ]
        if self.legacy:
            out.append(
                "/// The service's endpoint prefix (`states.<region>.amazonaws.com`), also the ARN service."
            )
        else:
            out.append(
                f"/// The service's endpoint prefix (`{meta['endpointPrefix']}.<region>.amazonaws.com`)."
            )
        out += [
            f"pub const ENDPOINT_PREFIX: &str = {rust_str(meta['endpointPrefix'])};",
            "",
        ]
        out += self.query_metadata_rs()
        out += self.errors_rs()
        enums = sorted(
            n for n in m.reachable
            if self.shapes[n]["type"] == "string" and "enum" in self.shapes[n]
        )
        for name in enums:
            out += self.enum_rs(name)
        # Exceptions are reachable only as members (event streams carry them): structures too.
        structs = sorted(n for n in m.reachable if self.shapes[n]["type"] == "structure")
        for name in structs:
            out += self.struct_rs(name)
        out += m.shapes_rs()
        return "\n".join(out) + "\n"

    def query_metadata_rs(self) -> list[str]:
        """What the query protocol codec (`crate::query`) needs of the service."""
        meta = self.m.meta
        if self.legacy:
            return []
        out = []
        if "xmlNamespace" in meta:
            out += [
                "/// The namespace of the query protocol's XML responses (`xmlNamespace`).",
                f"pub const XML_NAMESPACE: &str = {rust_str(meta['xmlNamespace'])};",
            ]
        compatible = "true" if "awsQueryCompatible" in meta else "false"
        out += [
            "/// Whether the service is `awsQueryCompatible`: its JSON errors also carry the query",
            "/// protocol's code in `x-amzn-query-error`.",
            f"pub const AWS_QUERY_COMPATIBLE: bool = {compatible};",
            "",
        ]
        return out

    def errors_rs(self) -> list[str]:
        errors = sorted(n for n, s in self.shapes.items() if s.get("exception"))
        if self.legacy:
            out = [
                "/// The name (`__type`) of every error the model declares.",
                "pub mod errors {",
            ]
        else:
            out = [
                "/// Every error the model declares: its name, the code the protocol sends (query",
                "/// protocols and `awsQueryCompatible` services have their own), its HTTP status.",
                "pub mod errors {",
                "    use crate::binding::ErrorShape;",
                "",
            ]
        for name in errors:
            shape = self.shapes[name]
            out += doc_lines(shape.get("documentation"), "    ")
            skip = "message" if self.legacy else ("message", "Message")
            extra = [m for m in shape.get("members", {}) if m not in skip]
            if extra:
                out.append("    ///")
                out.append(f"    /// Members besides `message`: {', '.join('`' + m + '`' for m in extra)}.")
            if self.legacy:
                out.append(f"    pub const {screaming(name)}: &str = {rust_str(name)};")
            else:
                error = shape.get("error", {})
                code = error.get("code", name)
                status = error.get("httpStatusCode", 400)
                sender = "true" if error.get("senderFault", status < 500) else "false"
                members = shape.get("members", {})
                message = "Message" if "Message" in members else "message"
                typed = "true" if "Type" in members else "false"
                out.append(
                    f"    pub const {screaming(name)}: ErrorShape = ErrorShape {{ name: {rust_str(name)}, "
                    f"code: {rust_str(code)}, status: {status}, sender_fault: {sender}, "
                    f"message_member: {rust_str(message)}, has_type: {typed} }};"
                )
        out.append("")
        out.append("    /// All errors, sorted by name." if not self.legacy else "    /// All error names, sorted.")
        kind = "&str" if self.legacy else "ErrorShape"
        out.append(f"    pub const ALL: &[{kind}] = &[")
        for name in errors:
            out.append(f"        {screaming(name)},")
        out.append("    ];")
        out.append("}")
        out.append("")
        return out

    def enum_rs(self, name: str) -> list[str]:
        shape = self.shapes[name]
        rust = self.m.type_names[name]
        values = shape["enum"]
        idents = [variant_ident(v) for v in values]
        if len(set(idents)) != len(idents):
            if self.legacy:
                fail(f"enum {name}: variant names collide: {idents}")
            seen: dict[str, int] = {}
            unique = []
            for ident in idents:
                n = seen.get(ident, 0)
                seen[ident] = n + 1
                unique.append(ident if n == 0 else f"{ident}{n + 1}")
            idents = unique
        out = doc_lines(shape.get("documentation"))
        if out:
            out.append("///")
        out.append("/// `Default` is the model's first value; it exists so shapes can derive `Default`.")
        out.append(
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]"
        )
        out.append(f"pub enum {rust} {{")
        for i, (value, ident) in enumerate(zip(values, idents)):
            if i == 0:
                out.append("    #[default]")
            if ident != value:
                out.append(f"    #[serde(rename = {rust_str(value)})]")
            out.append(f"    {ident},")
        out.append("}")
        out.append("")
        out.append(f"impl {rust} {{")
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
        out.append(f"impl fmt::Display for {rust} {{")
        out.append("    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {")
        out.append("        f.write_str(self.as_str())")
        out.append("    }")
        out.append("}")
        out.append("")
        return out

    def struct_rs(self, name: str) -> list[str]:
        shape = self.shapes[name]
        rust = self.m.type_names[name]
        required = set(shape.get("required", []))
        payload = shape.get("payload")
        payload_is_blob = payload is not None and self.shapes[shape["members"][payload]["shape"]]["type"] in ("blob", "string")
        out = doc_lines(shape.get("documentation"))
        if shape.get("union"):
            if out:
                out.append("///")
            out.append("/// A union: exactly one member is set.")
        out.append("#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]")
        members = shape.get("members", {})
        if not members:
            out.append(f"pub struct {rust} {{}}")
            out.append("")
            return out
        out.append(f"pub struct {rust} {{")
        idents = set()
        for member_name, member in members.items():
            ident = field_ident(member_name)
            if ident in idents:
                if self.legacy:
                    fail(f"{name}: two members map to the field {ident}")
                n = 2
                while f"{ident}_{n}" in idents:
                    n += 1
                ident = f"{ident}_{n}"
            idents.add(ident)
            ty = self.m.rust_type(member["shape"], not self.s.string_enums)
            if (name, member_name) in self.m.boxed:
                ty = f"Box<{ty}>"
            raw = member_name == payload and payload_is_blob
            if raw and self.shapes[member["shape"]]["type"] == "blob":
                ty = "Bytes"
            attrs = []
            if ident.removeprefix("r#") != member_name:
                attrs.append(f"rename = {rust_str(member_name)}")
            if raw:
                # The body itself: set by `Request::from_rest`, taken by `dispatch`.
                attrs.append("skip")
                ty = f"Option<{ty}>"
            elif member_name not in required:
                ty = f"Option<{ty}>"
                attrs += ["default", 'skip_serializing_if = "Option::is_none"']
            out += doc_lines(member.get("documentation") or self.shapes[member["shape"]].get("documentation"), "    ")
            if raw:
                out.append("    ///")
                out.append("    /// The request's or response's body itself.")
            elif "location" in member:
                wire = member.get("locationName", member_name)
                out.append("    ///")
                out.append(f"    /// On the wire in the {member['location']} (`{wire}`).")
                if member_name in required:
                    out.append("    /// Required.")
            elif member_name in required:
                out.append("    ///")
                out.append("    /// Required.")
            if attrs:
                out.append(f"    #[serde({', '.join(attrs)})]")
            out.append(f"    pub {ident}: {ty},")
        out.append("}")
        out.append("")
        return out

    # --- operations.rs ------------------------------------------------------------------------

    def operations_rs(self) -> str:
        m = self.m
        ops = list(m.operations.items())
        title = self.s.title
        trait = self.s.trait
        out = m.header(f"{title} operations and the backend trait")
        out += [
            f"//! The {title} operations: their names, the typed [`Request`], the",
            f"//! [`{trait}`] backend trait and [`dispatch`], generated from AWS's model.",
            "",
            "#![allow(clippy::doc_markdown, clippy::doc_lazy_continuation)]",
            "",
            "use std::future::Future;",
            "",
            "use super::model::*;",
            "use crate::binding::Binding;",
            "use crate::error::ApiError;",
            *(["use crate::rest::Reply;"] if m.is_rest() else []),
            "use crate::shape::Shape;",
            "",
            f"/// Every operation of the {title} API, in the model's order.",
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
        if "targetPrefix" in m.meta:
            out.append(
                f"    /// The operation's name, as in `X-Amz-Target: {m.meta['targetPrefix']}.<name>`."
            )
        else:
            out.append("    /// The operation's name.")
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
            out.append(f"            Self::{name} => &shapes::{m.statics[op['input']['shape']]},")
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// The shape of the operation's output (`None`: the operation returns nothing).")
        out.append("    pub fn output_shape(self) -> Option<&'static Shape> {")
        out.append("        match self {")
        for name, op in ops:
            shape = op.get("output", {}).get("shape")
            value = f"Some(&shapes::{m.statics[shape]})" if shape else "None"
            out.append(f"            Self::{name} => {value},")
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// The element wrapping the output in a query protocol response (`resultWrapper`).")
        out.append("    pub fn result_wrapper(self) -> Option<&'static str> {")
        out.append("        match self {")
        for name, op in ops:
            out.append(f"            Self::{name} => {opt_str(op.get('output', {}).get('resultWrapper'))},")
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// The names of the errors the model says the operation can return.")
        out.append("    pub fn errors(self) -> &'static [&'static str] {")
        out.append("        match self {")
        for name, op in ops:
            suffix = "" if self.legacy else ".name"
            errs = ", ".join(f"errors::{screaming(e['shape'])}{suffix}" for e in op.get("errors", []))
            out.append(f"            Self::{name} => &[{errs}],")
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// The operation's HTTP binding.")
        out.append("    pub fn binding(self) -> &'static Binding {")
        out.append("        match self {")
        for name, _ in ops:
            out.append(f"            Self::{name} => &bindings::{screaming(name)},")
        out.append("        }")
        out.append("    }")
        out.append("}")
        out.append("")
        out.append("/// A decoded request: the operation and its typed input.")
        out.append("#[allow(clippy::large_enum_variant)]")
        out.append("#[derive(Debug, Clone, PartialEq)]")
        out.append("pub enum Request {")
        for name, op in ops:
            out.append(f"    {name}({m.type_names[op['input']['shape']]}),")
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
        if self.legacy:
            out.append("    /// Deserializes the JSON body of `operation` into its typed input (no constraint")
            out.append("    /// checks: see [`super::decode`]).")
        else:
            out.append("    /// Deserializes `operation`'s input (members by their model names) into its typed")
            out.append("    /// input (no constraint checks: see [`crate::shape::validate`]).")
        out.append("    pub fn from_value(")
        out.append("        operation: Operation,")
        out.append("        value: serde_json::Value,")
        out.append("    ) -> Result<Self, serde_json::Error> {")
        out.append("        Ok(match operation {")
        for name, _ in ops:
            out.append(f"            Operation::{name} => Self::{name}(serde_json::from_value(value)?),")
        out.append("        })")
        out.append("    }")
        if m.is_rest():
            out += self.from_rest_rs(ops)
        out.append("}")
        out.append("")
        if self.legacy:
            out += [
                "/// What the Step Functions API needs from an engine: one method per operation.",
                "///",
                "/// Every method has a default that answers `UnsupportedOperation`, so a backend",
                "/// implements operations one at a time. Inputs arrive validated against the model's",
                "/// constraints (required members, lengths, enum values, ranges); the service's own",
                "/// rules (names, ARNs, definitions, execution input) are the backend's to check, with",
                "/// the helpers of [`crate::sfn`].",
            ]
        else:
            out += [
                f"/// What the {title} API needs from a backend: one method per operation.",
                "///",
                "/// Every method has a default that answers `UnsupportedOperation`, so a backend",
                "/// implements operations one at a time. Inputs arrive validated against the model's",
                "/// constraints; the service's own rules are the backend's to check.",
            ]
        out.append(f"pub trait {trait}: Send + Sync + 'static {{")
        for name, op in ops:
            inp = m.type_names[op["input"]["shape"]]
            outp = m.type_names[op["output"]["shape"]] if "output" in op else "()"
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
        if m.is_rest():
            out += self.dispatch_rest_rs(ops)
            out += m.bindings_rs()
            return "\n".join(out) + "\n"
        out += [
            f"/// Runs `request` on `backend` and serializes its output as the response body.",
            f"pub async fn dispatch<B: {trait}>(backend: &B, request: Request) -> Result<Vec<u8>, ApiError> {{",
            "    match request {",
        ]
        for name, op in ops:
            if "output" in op:
                out.append(f"        Request::{name}(input) => encode(&backend.{snake(name)}(input).await?),")
            else:
                # No output: an empty JSON object, as AWS answers.
                out.append(
                    f"        Request::{name}(input) => {{ backend.{snake(name)}(input).await?; Ok(b\"{{}}\".to_vec()) }}"
                )
        out += [
            "    }",
            "}",
            "",
            "fn encode<T: serde::Serialize>(output: &T) -> Result<Vec<u8>, ApiError> {",
            "    serde_json::to_vec(output)",
            '        .map_err(|error| ApiError::internal(format!("cannot serialize the response: {error}")))',
            "}",
            "",
        ]
        out += m.bindings_rs()
        return "\n".join(out) + "\n"

    def from_rest_rs(self, ops) -> list[str]:
        out = [
            "",
            "    /// `operation`'s input from the members a REST codec decoded ([`crate::rest`], an",
            "    /// object keyed by member name) and the request's body, which is the input's",
            "    /// payload member when that is a blob or a string (no constraint checks: see",
            "    /// [`crate::shape::validate`]).",
            "    pub fn from_rest(",
            "        operation: Operation,",
            "        value: serde_json::Value,",
            "        body: bytes::Bytes,",
            "    ) -> Result<Self, serde_json::Error> {",
        ]
        raw_ops = [(n, op) for n, op in ops if self.raw_payload(op["input"]["shape"])]
        if not raw_ops:
            out.append("        let _ = body;")
        out.append("        Ok(match operation {")
        for name, op in ops:
            raw = self.raw_payload(op["input"]["shape"])
            if raw is None:
                out.append(f"            Operation::{name} => Self::{name}(serde_json::from_value(value)?),")
                continue
            member, kind = raw
            ident = field_ident(member)
            ty = self.m.type_names[op["input"]["shape"]]
            if kind == "blob":
                set_ = f"input.{ident} = Some(body);"
            else:
                set_ = (
                    f"input.{ident} = Some(String::from_utf8(body.to_vec())"
                    ".map_err(<serde_json::Error as serde::de::Error>::custom)?);"
                )
            out += [
                f"            Operation::{name} => {{",
                f"                let mut input: {ty} = serde_json::from_value(value)?;",
                f"                {set_}",
                f"                Self::{name}(input)",
                "            }",
            ]
        out += ["        })", "    }"]
        return out

    def dispatch_rest_rs(self, ops) -> list[str]:
        trait = self.s.trait
        out = [
            "/// Runs `request` on `backend`: the output's members (for [`crate::rest`] to place by",
            "/// the operation's binding) and its raw payload, if the output has one.",
            f"pub async fn dispatch<B: {trait}>(backend: &B, request: Request) -> Result<Reply, ApiError> {{",
            "    match request {",
        ]
        for name, op in ops:
            call = f"backend.{snake(name)}(input).await?"
            raw = self.raw_payload(op.get("output", {}).get("shape"))
            if "output" not in op:
                out.append(f"        Request::{name}(input) => {{ {call}; reply(&(), None) }}")
            elif raw is None:
                out.append(f"        Request::{name}(input) => reply(&{call}, None),")
            else:
                member, kind = raw
                take = f"output.{field_ident(member)}.take()"
                if kind == "string":
                    take += ".map(bytes::Bytes::from)"
                out += [
                    f"        Request::{name}(input) => {{",
                    f"            let mut output = {call};",
                    f"            let payload = {take};",
                    "            reply(&output, payload)",
                    "        }",
                ]
        out += [
            "    }",
            "}",
            "",
            "fn reply<T: serde::Serialize>(output: &T, payload: Option<bytes::Bytes>) -> Result<Reply, ApiError> {",
            "    let members = serde_json::to_value(output)",
            '        .map_err(|error| ApiError::internal(format!("cannot serialize the response: {error}")))?;',
            "    Ok(Reply { members, payload })",
            "}",
            "",
        ]
        return out



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
    parser.add_argument("--check", action="store_true",
                        help="write nothing; fail if the pins or any committed file differ")
    parser.add_argument("--botocore", help="botocore's package directory (holding data/)")
    parser.add_argument("--service", action="append",
                        help="only this service (botocore name or module); repeatable")
    parser.add_argument("--extract-query-overlay", nargs=2, metavar=("SERVICE", "MODEL"),
                        help="write SERVICE's query overlay from a query protocol MODEL and exit")
    args = parser.parse_args()
    if args.extract_query_overlay:
        extract_query_overlay(*args.extract_query_overlay)
        return

    services = SERVICES
    if args.service:
        services = [s for s in SERVICES if s.name in args.service or s.module in args.service]
        unknown = set(args.service) - {s.name for s in services} - {s.module for s in services}
        if unknown:
            fail(f"unknown services {sorted(unknown)}; known: {[s.name for s in SERVICES]}")

    botocore = find_botocore(args.botocore)
    version = botocore_version(botocore)
    lock = read_lock()
    if args.check:
        pinned = lock.get("botocore")
        if pinned is None:
            fail(f"no pins in {LOCK.relative_to(REPO)}: run generate.py once and commit it")
        if version != pinned:
            fail(
                f"the installed botocore is {version} ({botocore}) but the generated files come "
                f"from botocore {pinned} (crates/api/codegen/models.lock). Install the pinned one "
                "(scripts/test does, from scripts/test-requirements.txt), or move the pin on "
                "purpose: bump botocore in scripts/test-requirements.txt, run generate.py, review "
                "and commit the changes"
            )
        required = pinned_requirement()
        if required is not None and required != pinned:
            fail(
                f"scripts/test-requirements.txt pins botocore {required} but models.lock pins "
                f"{pinned}: run generate.py with botocore {required} installed and commit"
            )

    digests = dict((k, v["sha256"]) for k, v in lock.get("models", {}).items())
    outputs: dict[Path, str] = {}
    for service in services:
        model, digest = load_model(botocore, service)
        if args.check:
            pin = lock.get("models", {}).get(service.name, {}).get("sha256")
            if pin != digest:
                fail(
                    f"{service.model_rel} of botocore {version} has sha256 {digest}, but "
                    f"models.lock pins {pin}: regenerate (generate.py) and commit"
                )
        digests[service.name] = digest
        m = Model(service, model, f"botocore {version}", digest)
        for path, text in ServiceEmitter(m).files().items():
            outputs[path] = rustfmt(text)

    stale = []
    for out_path, text in outputs.items():
        current = out_path.read_text(encoding="utf-8") if out_path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(out_path)
        else:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(text, encoding="utf-8")
            print(f"wrote {out_path.relative_to(REPO)}")
    if stale:
        fail(
            "stale generated files (run python3 crates/api/codegen/generate.py and commit): "
            + ", ".join(str(p.relative_to(REPO)) for p in stale)
        )
    if args.check:
        print("generated files are up to date with the pinned models")
        return
    text = lock_text(version, digests)
    if not LOCK.exists() or LOCK.read_text(encoding="utf-8") != text:
        LOCK.write_text(text, encoding="utf-8")
        print(f"wrote {LOCK.relative_to(REPO)}")


if __name__ == "__main__":
    main()
