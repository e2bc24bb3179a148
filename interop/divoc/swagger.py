"""DIVOC's two swagger files, repaired mechanically, replayed with schemathesis against `vccore serve`.

    python interop/divoc/swagger.py --divoc PATH_TO_A_DIVOC_SNAPSHOT [--work DIR] [--max-examples N]

The snapshot (egovernments/DIVOC, not in this repository: CI reaches no GitHub) gives
backend/vc-certification-service/certification-service-swagger.yml and
backend/vc-management-service/management-service-swagger.yml. Neither is valid OpenAPI as
shipped (Swagger 2 keys in an `openapi: 3.0.0` document). This script:

1. validates each as shipped with openapi-spec-validator and counts its errors;
2. applies REPAIRS, a list of named, generic repairs (none names a DIVOC path or schema), each
   counted and printed; validates again (0 errors expected) and writes <name>.repaired.yml;
3. starts a real `vccore serve` (a static token, --status-url on the local server), certifies
   HealthProfessional certificates, writes <name>.run.yml (the repaired file plus examples that
   name those certificates: this run's data, not a repair) and runs schemathesis (`st run`,
   checks not_a_server_error and status_code_conformance) with the bearer token;
4. prints, per operation, the status codes seen, DIVOC's codes for it (read from DIVOC's
   controllers) and whether vccore builds it, and a summary. Exit 1 on a 5xx, or on a validator
   error left after the repairs.

schemathesis and openapi-spec-validator (swagger-requirements.txt) go into a venv of its own
under the work folder; the script re-runs itself there, and runs `vccore serve` with the Python
that started it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FILES = {
    "certification": ("backend/vc-certification-service/certification-service-swagger.yml", "/vc-certification"),
    "management": ("backend/vc-management-service/management-service-swagger.yml", "/vc-management"),
}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SWAGGER2_TOP = ("consumes", "produces", "host", "schemes", "basePath", "definitions", "securityDefinitions")
PARAMETER_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "default",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
)
TYPES = {"string", "number", "integer", "boolean", "array", "object"}
ENTITY = "HealthProfessional"

# Which operation DIVOC's code implements, with the status codes its code answers (DIVOC 1c74fb0c),
# and whether vccore builds it yet. Keys: method and path as the repaired file names them (with
# the service's base path). "swagger only": the file documents a route DIVOC's code does not have.
DIVOC: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/vc-certification/v1/certificate/{entityType}/{certificateId}"): (
        "200; no token 403; else the registry's status passed on, or 500",
        "certificate.controller.js:36-66, certificate.route.js:13",
    ),
    ("POST", "/vc-certification/v1/certify/{entityType}"): (
        "200 {transactionId}; 400 (issuanceDate, issuer, dates); no token 403; else 500",
        "certificate.controller.js:14-34, validation.service.js:21-45",
    ),
    ("PUT", "/vc-certification/v1/certify/{entityName}/{certificateId}"): (
        "swagger only: DIVOC routes PUT /v1/certify/:entityType (404 here)",
        "certificate.route.js:14",
    ),
    ("DELETE", "/vc-certification/v1/certificate/{entityName}/{certificateId}"): (
        "swagger only: DIVOC routes DELETE /v1/certificate/revoke/:entityName/:id (404 here)",
        "certificate.route.js:16",
    ),
    ("POST", "/vc-certification/v1/certificate/revoke"): (
        "200; 400 (missing fields, unknown certificate, past endDate); 409 already revoked/suspended",
        "certificate.controller.js:90-151",
    ),
    ("POST", "/vc-certification/v1/certificate/verify"): (
        "200 (VALID/REVOKED/SUSPENDED/INVALID); 406 bad proof; 500 on a body without evidence",
        "certificate.controller.js:154-210",
    ),
    ("POST", "/vc-management/v1/tenant"): ("200; 401/403 (admin-api role api)", "tenant.routes.js:7"),
    ("POST", "/vc-management/v1/schema"): ("200; 400; 401/403", "schema.routes.js:10"),
    ("POST", "/vc-management/v1/schema/preview"): ("200 (PDF); 400; 401/403", "schema.routes.js:11"),
    ("GET", "/vc-management/v1/schema/{schemaId}"): ("200; 401/403", "schema.routes.js:12"),
    ("PUT", "/vc-management/v1/schema/{schemaId}/updateTemplateUrl"): ("200; 400; 401/403", "schema.routes.js:15"),
    ("PUT", "/vc-management/v1/schema/{schemaId}/updateTemplate"): ("200; 400; 401/403", "schema.routes.js:14"),
    ("POST", "/vc-management/v1/templates/{tenant}"): ("200; 400; 401/403", "template.routes.js:9"),
    ("POST", "/vc-management/v1/context"): ("200; 400; 401/403", "context.routes.js:45"),
    ("GET", "/vc-management/v1/context/{osid}"): (
        "200 application/ld+json; unknown osid: the registry's status passed on, or 500",
        "context.controller.js:64-100",
    ),
    ("PUT", "/vc-management/v1/context/{osid}"): ("200; 400; 401/403", "context.routes.js:46"),
}


# ---------------------------------------------------------------------------------------------
# The repairs. Each takes the document and answers how many places it changed.


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in (doc.get("paths") or {}).items():
        for method in METHODS:
            if isinstance(item, dict) and isinstance(item.get(method), dict):
                yield path, method, item[method]


def nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in the document, depth first."""
    if isinstance(value, dict):
        yield value
        for child in list(value.values()):
            yield from nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from nodes(child)


def express_path_templates(doc: dict[str, Any]) -> int:
    """Express's `/:name` (and `/:name?`) path segments written as OpenAPI's `/{name}`."""
    paths, count = doc.get("paths") or {}, 0
    for path in list(paths):
        fixed = re.sub(r"/:([A-Za-z_]\w*)\??", r"/{\1}", path)
        if fixed != path:
            paths[fixed] = paths.pop(path)
            count += 1
    return count


def operation_key(doc: dict[str, Any]) -> int:
    """`operation:` (not an OpenAPI key) renamed `operationId`."""
    count = 0
    for _, _, op in operations(doc):
        if "operation" in op:
            name = op.pop("operation")
            op.setdefault("operationId", name)
            count += 1
    return count


def definitions_moved(doc: dict[str, Any]) -> int:
    """Swagger 2's top-level `definitions` moved to `components.schemas`."""
    definitions = doc.pop("definitions", None) or {}
    doc.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
    return len(definitions)


def refs_rewritten(doc: dict[str, Any]) -> int:
    """`$ref: '#/definitions/X'` pointed at `#/components/schemas/X`."""
    count = 0
    for node in nodes(doc):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/definitions/")
            count += 1
    return count


def media_types(op: dict[str, Any], doc: dict[str, Any], key: str) -> list[str]:
    types = op.get(key) or doc.get(key) or ["application/json"]
    return [re.sub(r"\s+", "", t) for t in types]


def body_parameters(doc: dict[str, Any]) -> int:
    """Swagger 2's `in: body` parameter turned into a `requestBody` (media types from `consumes`)."""
    count = 0
    for _, _, op in operations(doc):
        for parameter in [p for p in op.get("parameters", []) if p.get("in") == "body"]:
            op["parameters"].remove(parameter)
            content = {t: {"schema": parameter.get("schema", {})} for t in media_types(op, doc, "consumes")}
            op["requestBody"] = {"required": bool(parameter.get("required")), "content": content}
            if parameter.get("description"):
                op["requestBody"]["description"] = parameter["description"]
            count += 1
    return count


def form_parameters(doc: dict[str, Any]) -> int:
    """Swagger 2's `in: formData` parameters turned into a multipart (or urlencoded) `requestBody`."""
    count = 0
    for _, _, op in operations(doc):
        form = [p for p in op.get("parameters", []) if p.get("in") == "formData"]
        if not form:
            continue
        properties = {p["name"]: {k: v for k, v in p.items() if k in PARAMETER_SCHEMA_KEYS} for p in form}
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required := [p["name"] for p in form if p.get("required")]:
            schema["required"] = required
        kinds = [
            t
            for t in media_types(op, doc, "consumes")
            if t in {"multipart/form-data", "application/x-www-form-urlencoded"}
        ]
        op["requestBody"] = {
            "required": bool(required),
            "content": {t: {"schema": schema} for t in kinds or ["multipart/form-data"]},
        }
        op["parameters"] = [p for p in op["parameters"] if p.get("in") != "formData"]
        count += len(form)
    return count


def parameter_schemas(doc: dict[str, Any]) -> int:
    """Swagger 2's `type`/`format`/`default`... beside a parameter moved into its `schema`."""
    count = 0
    for _, _, op in operations(doc):
        for parameter in op.get("parameters", []):
            moved = {k: parameter.pop(k) for k in PARAMETER_SCHEMA_KEYS if k in parameter}
            if moved:
                parameter.setdefault("schema", {}).update(moved)
                count += 1
            elif "schema" not in parameter and "content" not in parameter:
                parameter["schema"] = {"type": "string"}
                count += 1
    return count


def template_names(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def path_parameter_names(doc: dict[str, Any]) -> int:
    """A declared path parameter the template does not name, renamed to the template's undeclared
    name in the same position (`entityName` declared, `{entityType}` in the path)."""
    count = 0
    for path, _, op in operations(doc):
        declared = [p for p in op.get("parameters", []) if p.get("in") == "path"]
        names = template_names(path)
        strays = [p for p in declared if p.get("name") not in names]
        missing = [n for n in names if n not in {p.get("name") for p in declared}]
        for parameter, name in zip(strays, missing, strict=False):
            parameter["name"] = name
            count += 1
    return count


def path_parameters_declared(doc: dict[str, Any]) -> int:
    """A template's `{name}` with no parameter: declared, a required string."""
    count = 0
    for path, _, op in operations(doc):
        item_level = doc["paths"][path].get("parameters", [])
        declared = {p.get("name") for p in [*item_level, *op.get("parameters", [])] if p.get("in") == "path"}
        for name in template_names(path):
            if name not in declared:
                op.setdefault("parameters", []).append(
                    {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                )
                count += 1
    return count


def path_parameters_required(doc: dict[str, Any]) -> int:
    """A path parameter with `required` other than true: made required (OpenAPI demands it)."""
    count = 0
    for _, _, op in operations(doc):
        for parameter in op.get("parameters", []):
            if parameter.get("in") == "path" and parameter.get("required") is not True:
                parameter["required"] = True
                count += 1
    return count


def path_parameters_stray(doc: dict[str, Any]) -> int:
    """A path parameter its template does not name (none left to rename it to): dropped."""
    count = 0
    for path, _, op in operations(doc):
        names = template_names(path)
        kept = [p for p in op.get("parameters", []) if p.get("in") != "path" or p.get("name") in names]
        count += len(op.get("parameters", [])) - len(kept)
        if "parameters" in op:
            op["parameters"] = kept
    return count


def response_schemas(doc: dict[str, Any]) -> int:
    """Swagger 2's `schema` beside a response moved into its `content` (media types from `produces`)."""
    count = 0
    for _, _, op in operations(doc):
        for response in (op.get("responses") or {}).values():
            if isinstance(response, dict) and "schema" in response:
                schema = response.pop("schema")
                content = response.setdefault("content", {})
                for kind in media_types(op, doc, "produces"):
                    content.setdefault(kind, {"schema": schema})
                count += 1
    return count


def response_descriptions(doc: dict[str, Any]) -> int:
    """A response without the `description` OpenAPI requires: given one."""
    count = 0
    for _, _, op in operations(doc):
        for code, response in (op.get("responses") or {}).items():
            if isinstance(response, dict) and "$ref" not in response and not response.get("description"):
                response["description"] = f"{code} (no description in the shipped file)"
                count += 1
    return count


def media_type_names(doc: dict[str, Any]) -> int:
    """A media type written with spaces (`application/ld + json`): the spaces removed."""
    count = 0
    for node in nodes(doc):
        content = node.get("content")
        if isinstance(content, dict):
            for kind in list(content):
                if re.search(r"\s", kind):
                    content[re.sub(r"\s+", "", kind)] = content.pop(kind)
                    count += 1
    return count


def schemas(schema: Any) -> Iterator[dict[str, Any]]:
    """A schema and the schemas inside it (properties, items, combinators), not `properties` maps."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    yield schema
    for child in (schema.get("properties") or {}).values():
        yield from schemas(child)
    for key in ("items", "additionalProperties", "not"):
        yield from schemas(schema.get(key))
    for key in ("allOf", "anyOf", "oneOf"):
        for child in schema.get(key) or []:
            yield from schemas(child)


def all_schemas(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every schema of the document: components, parameters, request and response bodies."""
    for schema in (doc.get("components", {}).get("schemas") or {}).values():
        yield from schemas(schema)
    for _, _, op in operations(doc):
        for parameter in op.get("parameters", []):
            yield from schemas(parameter.get("schema"))
        bodies = [op.get("requestBody") or {}, *(op.get("responses") or {}).values()]
        for body in bodies:
            for media in (body.get("content") or {}).values() if isinstance(body, dict) else ():
                yield from schemas(media.get("schema"))


def invalid_types(doc: dict[str, Any]) -> int:
    """`type: file` (Swagger 2 only) as `type: string, format: binary`; another unknown type dropped."""
    count = 0
    for node in all_schemas(doc):
        kind = node.get("type")
        if isinstance(kind, str) and kind not in TYPES:
            if kind == "file":
                node["type"], node["format"] = "string", "binary"
            else:
                del node["type"]
            count += 1
    return count


def keywords_for_another_type(doc: dict[str, Any]) -> int:
    """A length keyword of the wrong type: `minLength`/`maxLength` on an array as `minItems`/`maxItems`,
    and the reverse on a string; a `format` on an array or object dropped."""
    count = 0
    swaps = {
        "array": {"minLength": "minItems", "maxLength": "maxItems"},
        "string": {"minItems": "minLength", "maxItems": "maxLength"},
    }
    for node in all_schemas(doc):
        kind = node.get("type")
        for wrong, right in swaps.get(kind, {}).items() if isinstance(kind, str) else ():
            if wrong in node:
                node.setdefault(right, node.pop(wrong))
                count += 1
        if kind in ("array", "object") and "format" in node:
            del node["format"]
            count += 1
    return count


def ref_siblings(doc: dict[str, Any]) -> int:
    """Keys beside a `$ref` (OpenAPI 3.0 ignores them; validators refuse some): dropped."""
    count = 0
    for node in nodes(doc):
        if isinstance(node.get("$ref"), str) and len(node) > 1:
            for key in [k for k in node if k != "$ref"]:
                del node[key]
                count += 1
    return count


def security_schemes(doc: dict[str, Any]) -> int:
    """A security requirement naming an undeclared scheme: renamed to the one declared scheme, or a
    bearer scheme declared under that name when none is."""
    schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
    count = 0
    requirements = [doc.get("security") or [], *[op.get("security") or [] for _, _, op in operations(doc)]]
    for requirement in (r for rs in requirements for r in rs):
        for name in [n for n in requirement if n not in schemes]:
            if len(schemes) == 1:
                requirement[next(iter(schemes))] = requirement.pop(name)
            else:
                schemes[name] = {"type": "http", "scheme": "bearer"}
            count += 1
    if not schemes:
        del doc["components"]["securitySchemes"]
    return count


def swagger2_keys(doc: dict[str, Any]) -> int:
    """Swagger 2 keys left over (top level `consumes`, `produces`, `host`, `schemes`, `basePath`,
    `securityDefinitions`; an operation's `consumes`, `produces`): dropped once used."""
    count = 0
    for key in SWAGGER2_TOP:
        if key in doc and key != "basePath":
            del doc[key]
            count += 1
    for _, _, op in operations(doc):
        for key in ("consumes", "produces"):
            if key in op:
                del op[key]
                count += 1
    return count


REPAIRS: list[tuple[str, Callable[[dict[str, Any]], int]]] = [
    ("Express path templates as OpenAPI's", express_path_templates),
    ("`operation` key renamed operationId", operation_key),
    ("`definitions` moved to components.schemas", definitions_moved),
    ("`#/definitions/` $refs rewritten", refs_rewritten),
    ("`in: body` parameter to requestBody", body_parameters),
    ("`in: formData` parameters to requestBody", form_parameters),
    ("parameter `type`/`format` moved into `schema`", parameter_schemas),
    ("path parameter renamed to its template's name", path_parameter_names),
    ("missing path parameter declared", path_parameters_declared),
    ("path parameter made required", path_parameters_required),
    ("stray path parameter dropped", path_parameters_stray),
    ("response `schema` moved into `content`", response_schemas),
    ("missing response description added", response_descriptions),
    ("media type with spaces fixed", media_type_names),
    ("invalid `type` (file) fixed", invalid_types),
    ("keyword for another type fixed", keywords_for_another_type),
    ("`$ref` siblings dropped", ref_siblings),
    ("undeclared security scheme fixed", security_schemes),
    ("Swagger 2 keys dropped", swagger2_keys),
]


def set_servers(doc: dict[str, Any], origin: str, default_base: str) -> str:
    """`servers` (and Swagger 2's `basePath`) set to the local server; the base path kept. Its URL."""
    base = doc.pop("basePath", None)
    for server in doc.get("servers") or []:
        if str(server.get("url", "")).startswith("/"):
            base = server["url"]
    url = origin + "/" + str(base or default_base).strip("/")
    doc["servers"] = [{"url": url}]
    return url


# ---------------------------------------------------------------------------------------------
# Validation, the server, schemathesis.


def validator_errors(doc: dict[str, Any]) -> list[str]:
    from openapi_spec_validator import OpenAPIV30SpecValidator

    return [str(e.message).splitlines()[0] for e in OpenAPIV30SpecValidator(doc).iter_errors()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def call(url: str, token: str, method: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (a loopback URL)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def serve(python: str, work: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    url = f"http://127.0.0.1:{port}"
    home = tempfile.mkdtemp(dir=work, prefix="home-")
    command = [python, "-m", "vccore", "serve", "--port", str(port), "--home", home, "--status-url", f"{url}/status/"]
    log = (work / "serve.log").open("wb")
    process = subprocess.Popen(
        [*command, "--log-level", "warning"],
        env={**os.environ, "VCCORE_API_TOKEN": token},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=HERE.parent.parent,
    )
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"vccore serve exited; its output is in {work / 'serve.log'}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("vccore serve did not come up in 60 s")


def example_payload(python: str) -> dict[str, Any]:
    """The bundled HealthProfessional example, read by the Python that has vccore."""
    code = f"import json; from vccore import bundled_entity_types; print(json.dumps(bundled_entity_types()[{ENTITY!r}].example))"
    found: dict[str, Any] = json.loads(
        subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    return found


def add_examples(doc: dict[str, Any], data: dict[str, Any]) -> int:
    """This run's data as examples: path parameters by name, request bodies by operation (the
    repaired file is kept as it is; this copy is what schemathesis runs)."""
    count = 0
    for path, method, op in operations(doc):
        for parameter in op.get("parameters", []):
            if parameter.get("in") == "path" and parameter["name"] in data["parameters"]:
                parameter["example"] = data["parameters"][parameter["name"]]
                count += 1
        body = data["bodies"].get((method.upper(), path))
        for media in (op.get("requestBody") or {}).get("content", {}).values():
            if body is not None:
                media["example"] = body
                count += 1
    return count


def operation_of(path: str, method: str, templates: list[tuple[str, str]]) -> str:
    for template_method, template in templates:
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "/?$"
        if template_method == method and re.match(pattern, path):
            return f"{method} {template}"
    return f"{method} (not in the file) {path}"


def replay(name: str, run_file: Path, base_url: str, token: str, work: Path, max_examples: int) -> dict[str, Any]:
    har = work / f"{name}.har"
    junit = work / f"{name}.junit.xml"
    command = [str(Path(sys.executable).parent / "st"), "run", str(run_file), "--url", base_url]
    command += ["-H", f"Authorization: Bearer {token}", "-c", "not_a_server_error,status_code_conformance"]
    command += ["-n", str(max_examples), "--seed", "19", "--phases", "examples,coverage,fuzzing", "--workers", "1"]
    command += ["--report", "har,junit", "--report-har-path", str(har), "--report-junit-path", str(junit)]
    command += ["--output-sanitize", "true", "--continue-on-failure"]
    ran = subprocess.run(command, capture_output=True, text=True, check=False)
    (work / f"{name}.st.log").write_text(ran.stdout + ran.stderr, encoding="utf-8")
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"] if har.exists() else []
    return {"returncode": ran.returncode, "entries": entries, "log": ran.stdout + ran.stderr}


def unrouted(response: dict[str, Any]) -> bool:
    """vccore has no route for this (a 405, or its router's 404 "no route"), as opposed to a handler's answer."""
    text = (response.get("content") or {}).get("text") or ""
    return response["status"] == 405 or (response["status"] == 404 and '"detail":"no route ' in text)


# ---------------------------------------------------------------------------------------------


def inner(args: argparse.Namespace) -> int:
    import yaml

    vccore_python = os.environ["VCCORE_SWAGGER_PYTHON"]
    work: Path = args.work
    commit = args.commit
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    failed = 0
    repaired: dict[str, tuple[dict[str, Any], str]] = {}
    print(f"DIVOC snapshot {args.divoc} (commit {commit}), work folder {work}, {datetime.now(UTC):%Y-%m-%d}\n")
    for name, (relative, default_base) in FILES.items():
        doc = yaml.safe_load((args.divoc / relative).read_text(encoding="utf-8"))
        before = validator_errors(doc)
        print(f"{relative}\n  as shipped: {len(before)} validator errors (openapi-spec-validator, OpenAPI 3.0)")
        for title, repair in REPAIRS:
            count = repair(doc)
            if count:
                print(f"  repair {title}: {count}")
        base_url = set_servers(doc, origin, default_base)
        print(f"  repair servers/basePath set to the local server: 1 ({base_url})")
        after = validator_errors(doc)
        print(f"  repaired: {len(after)} validator errors" + "".join(f"\n    {e}" for e in after))
        failed += bool(after)
        out = work / f"{name}.repaired.yml"
        out.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        print(f"  written: {out}\n")
        repaired[name] = (doc, base_url)

    token = secrets.token_urlsafe(24)
    process = serve(vccore_python, work, port, token)
    try:
        example = example_payload(vccore_python)
        certify = f"{origin}/vc-certification/v1/certify/{ENTITY}"
        ids = ["swagger-fetched", "swagger-revoked", "swagger-updated"]
        for certificate_id in ids:
            status, answer = call(
                certify,
                token,
                "POST",
                {**example, "certificateId": certificate_id, "validTill": "2099-01-01T00:00:00Z"},
            )
            print(f"certified {ENTITY} {certificate_id}: {status} {answer}")
        _, credential = call(f"{origin}/vc-certification/v1/certificate/{ENTITY}/{ids[0]}", token, "GET")
        data = {
            "parameters": {"entityType": ENTITY, "entityName": ENTITY, "certificateId": ids[0]},
            "bodies": {
                ("POST", "/v1/certify/{entityType}"): {**example, "certificateId": "swagger-new"},
                ("PUT", "/v1/certify/{entityName}/{certificateId}"): {**example, "certificateId": ids[2]},
                ("POST", "/v1/certificate/revoke"): {"certificateId": ids[1], "entityName": ENTITY},
                ("POST", "/v1/certificate/verify"): credential,
            },
        }
        seen: dict[str, Counter[int]] = {}
        server_errors: list[str] = []
        probes: dict[str, Counter[int]] = defaultdict(Counter)
        routed: Counter[str] = Counter()
        undocumented: dict[str, set[int]] = defaultdict(set)
        for name, (doc, base_url) in repaired.items():
            run_doc = json.loads(json.dumps(doc))
            examples = add_examples(run_doc, data)
            run_file = work / f"{name}.run.yml"
            run_file.write_text(yaml.safe_dump(run_doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
            print(f"\nschemathesis on {run_file} ({examples} examples of this run's data) against {base_url}")
            result = replay(name, run_file, base_url, token, work, args.max_examples)
            print(
                f"  st run exit {result['returncode']}, {len(result['entries'])} requests; log {work / (name + '.st.log')}"
            )
            base = "/" + base_url.split("/", 3)[3]
            templates = [(m.upper(), base + p) for p, m, _ in operations(doc)]
            for template_method, template in templates:
                seen.setdefault(f"{template_method} {template}", Counter())
            documented = {
                f"{m.upper()} {base}{p}": {str(c) for c in op.get("responses") or {}} for p, m, op in operations(doc)
            }
            for entry in result["entries"]:
                request, response = entry["request"], entry["response"]
                path = "/" + request["url"].split("/", 3)[3].split("?")[0]
                key = operation_of(path, request["method"], templates)
                if key not in seen:  # schemathesis's probes with methods the file does not document
                    probes[name][response["status"]] += 1
                    continue
                seen[key][response["status"]] += 1
                routed[key] += not unrouted(response)
                if str(response["status"]) not in documented[key]:
                    undocumented[key].add(response["status"])
                if response["status"] >= 500:
                    body = (request.get("postData") or {}).get("text", "")
                    server_errors.append(
                        f"{request['method']} {request['url']} {body[:300]} -> {response['status']} {response['content'].get('text', '')[:300]}"
                    )
    finally:
        process.terminate()
        process.wait(timeout=30)

    print("\nper operation: status codes vccore answered (count) | DIVOC's code | vccore")
    built, not_built, swagger_only = [], [], []
    for key, codes in seen.items():
        method, template = key.split(" ", 1)
        divoc, where = DIVOC.get((method, template), ("?", ""))
        shown = ", ".join(f"{code}x{n}" for code, n in sorted(codes.items()))
        answered = set(codes)
        if divoc.startswith("swagger only"):
            state = "swagger only (no DIVOC route)"
            swagger_only.append(key)
        elif answered and not routed[key]:
            state = "NOT BUILT (no route: 404/405 only)"
            not_built.append(key)
        else:
            state = "built"
            built.append(key)
        extra = (
            f"; not in the repaired file: {', '.join(map(str, sorted(undocumented[key])))}"
            if undocumented[key] and state == "built"
            else ""
        )
        print(
            f"  {key}\n      vccore: {shown or 'no request sent'}  [{state}{extra}]\n      DIVOC:  {divoc}  ({where})"
        )
    print(f"\n5xx answers: {len(server_errors)}")
    for line in server_errors[:20]:
        print(f"  {line}")
    print(f"operations DIVOC's code implements and vccore answers: {len(built)}")
    print(f"operations not built yet in vccore (404/405 only, not counted as failures): {len(not_built)}")
    for key in not_built:
        print(f"  {key}")
    print(f"operations only in the swagger files (DIVOC's code has no such route): {len(swagger_only)}")
    for key in swagger_only:
        print(f"  {key}")
    for name, codes in probes.items():
        shown = ", ".join(f"{code}x{n}" for code, n in sorted(codes.items()))
        print(f"{name}: schemathesis's probes with methods the file does not document: {shown}")
    return 1 if failed or server_errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--divoc", type=Path, required=True, help="a snapshot of egovernments/DIVOC (with backend/)")
    parser.add_argument(
        "--work",
        type=Path,
        help="a folder for the venv, the repaired files and the server (default: a new temporary one)",
    )
    parser.add_argument(
        "--commit", default="unknown", help="the snapshot's DIVOC commit, for the printout (git archive keeps none)"
    )
    parser.add_argument(
        "--max-examples", type=int, default=30, help="schemathesis test cases per operation and phase (default 30)"
    )
    args = parser.parse_args()
    args.divoc = args.divoc.resolve()
    for relative, _ in FILES.values():
        if not (args.divoc / relative).is_file():
            raise SystemExit(f"{args.divoc / relative} is missing: give --divoc a DIVOC snapshot with backend/ in it")
    if os.environ.get("VCCORE_SWAGGER_PYTHON"):
        return inner(args)
    work = (args.work or Path(tempfile.mkdtemp(prefix="vccore-divoc-swagger-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirements = HERE / "swagger-requirements.txt"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
    command = [str(python), str(Path(__file__).resolve()), "--divoc", str(args.divoc), "--work", str(work)]
    command += ["--max-examples", str(args.max_examples), "--commit", args.commit]
    return subprocess.run(command, env={**os.environ, "VCCORE_SWAGGER_PYTHON": sys.executable}, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
