"""Contract of the compose deployment: docker-compose.yml and the services' one image template
(infra/images/service/Dockerfile), checked without a Docker engine (none is needed: the files are parsed,
compose's variable interpolation is applied with the documented defaults, and the services' own settings
classes are imported to know which variables they read). `make compose-test` runs the deployment for real.

What is checked here is what ops teams rely on (infra/compose/README.md): every service is in compose, built
from the template with its own build arguments, health-checked, started after MongoDB is healthy and the topics
exist, with its own database and every setting it cannot default safely inside a container; Kafka never
creates topics implicitly and keeps them forever; data lives in named volumes; images are built from the lock
file and run as a non-root user.

``test_compose_config_is_valid`` validates the whole file with ``docker compose config`` when a Compose v2 CLI
is installed. Without one it does not skip: it checks the file against the structure of the Compose
Specification itself (top-level and service keys, depends_on, health checks, ports, volumes, durations,
interpolation syntax) and says so with a ``ComposeCliMissing`` warning and its test id ``[spec-structure]``
instead of ``[docker-compose-config]``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import shutil
import subprocess
import tomllib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from binhchon_kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
TEMPLATE = ROOT / "infra" / "images" / "service" / "Dockerfile"
# A service is a workspace package under services/ whose console script binhchon-<name> runs it.
SERVICES = sorted(p.parent.name for p in ROOT.glob("services/*/pyproject.toml")
                  if f"binhchon-{p.parent.name}" in tomllib.loads(p.read_text()).get("project", {}).get("scripts", {}))

# Settings whose class default is right inside a container, so compose may leave them unset. Any other field
# of a service's settings class (a new one included) must be set by compose: either set it in
# docker-compose.yml or, if its default really is safe in a container, add it here with the reason.
DEFAULT_IS_SAFE_IN_CONTAINER = {
    "service_name": "each service's settings class names its own service",
    "relay_enabled": "every replica relays: publication marks in the event store make that safe",
    "consumers_enabled": "every replica consumes: replicas share the service's consumer group",
    "event_store": "the default, the MongoDB driver, is what a deployment runs; `memory` is for unit tests",
    "mongodb_server_selection_ms": "1 s to find the store, then 503: the same wherever the store runs",
    "unavailable_retry_after_seconds": "what a client is told to wait when the store is down: not per host",
    "scoring_sealing_keys": "inline keys are for tests; compose gives a file (SCORING_SEALING_KEYS_FILE) or none",
}
# Services that keep no data (docs/adr/0049): no store, no broker, no bearer tokens of their own to verify. They
# read only these of the kit's settings, wait for the services they call instead of MongoDB and the topics, and are
# given no password; every other check applies to them as to the rest.
STATELESS = {"portal": "a backend-for-frontend: sessions in memory, everything else from the four services"}
STATELESS_READS = {"service_name", "http_port", "http_host", "max_body_bytes", "deployment", "metrics_token",
                   "log_level", "unavailable_retry_after_seconds"}
STATEFUL = [name for name in SERVICES if name not in STATELESS]
# Settings that name a host: inside a container, loopback is the container itself.
NETWORK_SETTINGS = ("MONGODB_URL", "KAFKA_BOOTSTRAP_SERVERS")
LOOPBACK = re.compile(r"(localhost|127\.\d+\.\d+\.\d+|\[::1\])", re.IGNORECASE)


# ------------------------------------------------------------------------------------- interpolation ---

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-d}``, ``${VAR-d}``,
    ``${VAR:?e}``, ``${VAR?e}``, ``${VAR:+a}``, ``${VAR+a}``, nested in defaults. Raises ValueError on invalid
    syntax."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            depth, j = 1, i + 2
            while j < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise ValueError(f"unclosed ${{ in {text!r}")
            out.append(_substitute(text[i + 2 : j - 1], env, text))
            i = j
        elif m := _NAME.match(text, i + 1):
            out.append(env.get(m.group(), ""))
            i = m.end()
        else:
            raise ValueError(f"invalid $ in {text!r} (write $$ for a literal dollar)")
    return "".join(out)


def _substitute(expr: str, env: dict[str, str], whole: str) -> str:
    m = _NAME.match(expr)
    if not m:
        raise ValueError(f"invalid variable name in ${{{expr}}} of {whole!r}")
    name, rest = m.group(), expr[m.end() :]
    value = env.get(name)
    if rest == "":
        return value or ""
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if not rest.startswith(op):
            continue
        arg = interpolate(rest[len(op) :], env)
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        if op == ":+":
            return arg if value else ""
        if op == "+":
            return "" if value is None else arg
        if (op == ":?" and not value) or (op == "?" and value is None):
            raise ValueError(f"required variable {name} is missing: {arg}")
        return value or ""
    raise ValueError(f"invalid modifier in ${{{expr}}} of {whole!r}")


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    """Interpolate every string value (not keys) of a parsed compose file."""
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(v, env) for v in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def load_compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file as compose sees it with the given variables (none set: every documented default)."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())  # PyYAML resolves anchors and `<<` merge keys like compose
    return interpolate_tree(raw, env or {})  # type: ignore[no-any-return]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): _env_value(v) for k, v in env.items()}


def _env_value(value: Any) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def short_volumes(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, target, mode) of each volume, short or long syntax."""
    found = []
    for vol in service.get("volumes") or []:
        if isinstance(vol, dict):
            mode = "ro" if vol.get("read_only") else "rw"
            found.append((str(vol.get("source", "")), str(vol["target"]), mode))
        else:
            parts = str(vol).split(":")
            if len(parts) == 1:
                found.append(("", parts[0], "rw"))
            else:
                found.append((parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"))
    return found


def split_outside_variables(text: str, sep: str) -> list[str]:
    """Split on ``sep`` except inside ``${...}`` (whose defaults may contain it)."""
    parts, current, depth = [], "", 0
    for i, ch in enumerate(text):
        if ch == "{" and text[i - 1 : i] == "$":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        if ch == sep and not depth:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "$"))


def container_port(port: Any) -> str:
    if isinstance(port, dict):
        return str(port["target"])
    return str(port).rsplit(":", 1)[-1].split("/")[0]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------------- settings classes ---


def settings_class(name: str) -> type[ServiceSettings]:
    """The settings class defined in ``<name>.main`` (the service's composition root)."""
    module = importlib.import_module(f"{name}.main")
    classes = [
        cls for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, ServiceSettings) and cls is not ServiceSettings
        and cls.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"{name}.main should define one ServiceSettings subclass, found {classes}"
    return classes[0]


def env_names(cls: type[ServiceSettings]) -> dict[str, str]:
    """Environment variable name → field name, as pydantic-settings reads them (prefix, aliases)."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    names = {}
    for fname, info in cls.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        names[(alias or prefix + fname).upper()] = fname
    return names


# ----------------------------------------------------------------------------------------- Dockerfile ---


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages with their instructions: comments dropped, continuation lines joined, global ARGs in FROM
    resolved."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if line.strip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            logical.append(current.strip())
        current = ""
    if current.strip():
        logical.append(current.strip())

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for text in logical:
        keyword, _, args = text.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "ARG" and not stages:
            name, _, default = args.partition("=")
            global_args[name.strip()] = default.strip().strip('"')
        elif keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group()), words[0])
            alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(base=base, name=alias))
        else:
            assert stages, f"{path}: {keyword} before the first FROM"
            stages[-1].instructions.append((keyword, args))
    return stages


def console_scripts(pyproject: Path) -> dict[str, str]:
    return dict(tomllib.loads(pyproject.read_text()).get("project", {}).get("scripts", {}))


# ====================================================================================== the services ===


def test_services_are_found() -> None:
    assert SERVICES, "no services/*/pyproject.toml with a binhchon-<name> script: the contract would check nothing"
    assert not list(ROOT.glob("services/*/Dockerfile")), "one template builds every service: no per-service copy"


def test_every_service_is_in_compose(compose: dict[str, Any]) -> None:
    missing = [name for name in SERVICES if name not in compose["services"]]
    assert not missing, f"services with no entry in docker-compose.yml: {missing}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_built_from_the_template_with_its_own_arguments(compose: dict[str, Any], name: str) -> None:
    svc = compose["services"][name]
    build = svc.get("build")
    assert isinstance(build, dict), f"{name}: build must be a mapping with context and dockerfile"
    context = (ROOT / build.get("context", ".")).resolve()
    assert context == ROOT, f"{name}: the build context must be the repository root (where uv.lock is)"
    assert (context / build["dockerfile"]).resolve() == TEMPLATE
    args = build.get("args", {})
    assert args.get("SERVICE") == name, f"{name}: build argument SERVICE={args.get('SERVICE')}"
    assert str(args.get("HTTP_PORT")) == environment(svc)["HTTP_PORT"], f"{name}: HTTP_PORT differs from the build's"
    assert "ca-bundle" in [s if isinstance(s, str) else s.get("source") for s in build.get("secrets", [])], (
        f"{name}: builds behind a TLS-inspecting proxy need the ca-bundle build secret")
    assert svc.get("image"), f"{name}: name the image, so one-shot jobs and scripts can run it"
    assert "container_name" not in svc, f"{name}: container_name prevents `--scale`"


@pytest.mark.parametrize("name", SERVICES)
def test_service_has_a_health_check_on_its_own_port(compose: dict[str, Any], name: str) -> None:
    svc = compose["services"][name]
    check = svc.get("healthcheck") or {}
    assert check and not check.get("disable"), f"{name}: no health check"
    test = check["test"]
    command = " ".join(test) if isinstance(test, list) else str(test)
    assert "/healthz" in command, f"{name}: the health check should ask /healthz: {command}"
    port = environment(svc).get("HTTP_PORT")
    assert port, f"{name}: HTTP_PORT is not set (the health check and the published port depend on it)"
    assert "HTTP_PORT" in command or f":{port}/" in command, f"{name}: health check is not on port {port}"
    assert svc.get("restart") == "unless-stopped", f"{name}: restart should be unless-stopped"


@pytest.mark.parametrize("name", STATEFUL)
def test_service_waits_for_mongo_and_the_topics(compose: dict[str, Any], name: str) -> None:
    deps = depends_on(compose["services"][name])
    assert deps.get("mongo") == "service_healthy", f"{name}: mongo should be service_healthy: {deps}"
    assert deps.get("kafka-init") == "service_completed_successfully", (
        f"{name}: depends_on kafka-init should be service_completed_successfully: {deps}")


@pytest.mark.parametrize("name", sorted(STATELESS))
def test_a_stateless_service_waits_for_the_services_and_holds_no_secret(compose: dict[str, Any], name: str) -> None:
    svc = compose["services"][name]
    assert depends_on(svc) == dict.fromkeys(STATEFUL, "service_healthy"), depends_on(svc)
    assert not svc.get("secrets") and not short_volumes(svc), f"{name}: keeps no data and needs no secret"
    assert environment(svc).get("PORTAL_DEV_SIGN_IN") == "false", "the development sign-in is never on in compose"


@pytest.mark.parametrize("name", SERVICES)
def test_service_sets_every_setting_without_a_safe_default(compose: dict[str, Any], name: str) -> None:
    cls = settings_class(name)
    names = env_names(cls)
    env = environment(compose["services"][name])

    unknown = sorted(set(env) - set(names))
    assert not unknown, f"{name}: compose sets variables {cls.__name__} does not read (typo?): {unknown}"

    ignored = set(ServiceSettings.model_fields) - STATELESS_READS if name in STATELESS else set()
    needed = {var for var, fname in names.items() if fname not in DEFAULT_IS_SAFE_IN_CONTAINER.keys() | ignored}
    missing = sorted(needed - set(env))
    assert not missing, (
        f"{name}: {cls.__name__} reads {missing} but docker-compose.yml does not set them; set them, or list "
        "the field in DEFAULT_IS_SAFE_IN_CONTAINER with the reason its default is right in a container")
    for var in ("MONGODB_URL", "KAFKA_BOOTSTRAP_SERVERS") if name not in STATELESS else ():
        assert env.get(var), f"{name}: {var} must be set"

    # The values, with compose's defaults, are valid for the settings class (types, required fields).
    settings = cls(**{names[var]: value for var, value in env.items()})
    assert settings.service_name == name, f"{name}: settings name the service {settings.service_name!r}"
    assert settings.database_name == f"binhchon_{name}"
    for var in NETWORK_SETTINGS:
        assert not LOOPBACK.search(env.get(var, "")), f"{name}: {var}={env[var]} is the container itself"


@pytest.mark.parametrize("name", STATEFUL)
def test_service_can_verify_tokens(compose: dict[str, Any], name: str) -> None:
    svc = compose["services"][name]
    env = environment(svc)
    keys_file, jwks_url = env.get("AUTH_PUBLIC_KEYS_FILE", ""), env.get("AUTH_JWKS_URL", "")
    assert keys_file or jwks_url, (
        f"{name}: neither AUTH_PUBLIC_KEYS_FILE nor AUTH_JWKS_URL is set: the service would trust a dev key")
    if keys_file and not jwks_url:
        mounts = [(PurePosixPath(target), mode) for _, target, mode in short_volumes(svc)]
        covering = [mode for target, mode in mounts if target in PurePosixPath(keys_file).parents]
        assert covering, f"{name}: {keys_file} is not inside any mounted volume"
        assert all("ro" in mode.split(",") for mode in covering), f"{name}: mount the keys read-only"


class OverlayLoader(yaml.SafeLoader):
    """An overlay file as YAML: compose's merge tags (``!override``, ``!reset``) read as the node they tag."""


OverlayLoader.add_multi_constructor("!", lambda loader, _, node: (
    loader.construct_mapping(node) if isinstance(node, yaml.MappingNode) else
    loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else loader.construct_scalar(node)))


@pytest.mark.parametrize("name", sorted(STATELESS))
def test_a_service_with_sessions_in_memory_runs_one_replica_in_every_profile(raw_compose: dict[str, Any],
                                                                             name: str) -> None:
    """The portal's sessions live in its memory (ADR 0049): a second replica would answer half the requests
    without the session, signing people out at random. The base file pins it and no overlay may scale it."""
    assert (raw_compose["services"][name].get("deploy") or {}).get("replicas") == 1, f"{name}: pin replicas: 1"
    overlays = sorted(ROOT.glob("infra/compose/*.yml"))
    assert overlays, "no overlay found: infra/compose/ha.yml was expected"
    for path in overlays:
        overlay = yaml.load(path.read_text(), Loader=OverlayLoader) or {}  # a SafeLoader
        svc = (overlay.get("services") or {}).get(name)
        if svc is not None:
            assert (svc.get("deploy") or {}).get("replicas", 1) == 1, f"{path.name} scales {name}"


def test_each_service_has_its_own_database(compose: dict[str, Any]) -> None:
    databases = {name: environment(compose["services"][name]).get("MONGODB_DATABASE") for name in STATEFUL}
    for name, database in databases.items():
        assert database == f"binhchon_{name}", f"{name}: MONGODB_DATABASE is {database}, not binhchon_{name}"
    assert len(set(databases.values())) == len(databases), f"services share a database: {databases}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_port_can_scale_out(raw_compose: dict[str, Any], compose: dict[str, Any], name: str) -> None:
    """`docker compose up --scale NAME=3` needs a host port that is not fixed in the file."""
    port = environment(compose["services"][name])["HTTP_PORT"]
    published = raw_compose["services"][name].get("ports") or []
    assert [p for p in published if container_port(p) == port], f"{name}: port {port} is not published"
    for spec in published:
        if isinstance(spec, dict):
            host_port = str(spec.get("published", ""))
        else:
            parts = split_outside_variables(str(spec), ":")
            host_port = parts[-2] if len(parts) >= 2 else ""
        assert not host_port or "${" in host_port, (
            f"{name}: host port in {spec!r} is fixed; use a variable (a range of ports scales)")


# ========================================================================================= Dockerfiles ===


def test_no_dockerfile_needs_a_registry_for_its_frontend() -> None:
    for path in ROOT.glob("infra/images/*/Dockerfile"):
        first = path.read_text().splitlines()[0]
        assert not re.match(r"#\s*syntax\s*=", first, re.I), f"{path}: a `# syntax=` line pulls a frontend image"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile(compose: dict[str, Any], name: str) -> None:
    path = TEMPLATE
    stages = parse_dockerfile(path)
    assert len(stages) >= 2, f"{path}: build in one stage, run in another (multi-stage)"
    final = stages[-1]
    assert final.base.startswith("python:3.11-slim"), f"{path}: the default runtime base should be python:3.11-slim"

    users = final.all("USER")
    assert users, f"{path}: the final stage runs as root (no USER)"
    assert users[-1].split(":")[0] not in ("root", "0"), f"{path}: USER {users[-1]} is root"

    checks = final.all("HEALTHCHECK")
    assert checks and "/healthz" in checks[-1], f"{path}: no HEALTHCHECK on /healthz in the final stage"

    everything = [(kw, args) for stage in stages for kw, args in stage.instructions]
    copies_lock = any(kw == "COPY" and "uv.lock" in args.split() for kw, args in everything) or any(
        kw == "RUN" and "source=uv.lock" in args for kw, args in everything)
    assert copies_lock, f"{path}: uv.lock is never copied into the build"
    installs = [a for kw, a in everything if kw == "RUN" and re.search(r"\buv (sync|export|pip)\b", a)]
    assert installs, f"{path}: no uv install step"
    for args in installs:
        if re.search(r"\buv (sync|export)\b", args):
            assert re.search(r"--(frozen|locked)\b", args), f"{path}: install from the lock: {args}"
            assert "--no-dev" in args, f"{path}: dev dependencies in the image: {args}"
    # the template, with this service's SERVICE, installs, copies and runs this service and no other
    assert any('"binhchon-${SERVICE}"' in args for args in installs), f"{path}: does not install binhchon-${{SERVICE}}"
    copied = [args for kw, args in everything if kw == "COPY" and "services/" in args]
    assert copied == ["services/${SERVICE}/ services/${SERVICE}/"], f"{path}: copies {copied}, not the one service"
    scripts = console_scripts(ROOT / "services" / name / "pyproject.toml")
    assert f"binhchon-{name}" in scripts, f"{name}: no console script binhchon-{name} (scripts: {sorted(scripts)})"
    assert any('/app/.venv/bin/binhchon-${SERVICE}" /app/service' in args for args in final.all("RUN")), (
        f"{path}: /app/service should be the console script binhchon-${{SERVICE}}")
    cmd = final.all("CMD")
    assert cmd and cmd[-1] == '["/app/service"]', f"{path}: CMD should run /app/service: {cmd}"

    port = environment(compose["services"][name])["HTTP_PORT"]
    assert final.all("EXPOSE") == ["${HTTP_PORT}"] and "HTTP_PORT=${HTTP_PORT}" in " ".join(final.all("ENV")), (
        f"{path}: the runtime must EXPOSE and set the HTTP_PORT build argument (compose gives {port})")
    default_port = settings_class(name).model_fields["http_port"].default
    assert str(default_port) == port, f"{name}: compose HTTP_PORT {port} != settings default {default_port}"


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    patterns = {
        line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".git", ".venv", ".run"):
        assert needed in patterns, f".dockerignore should exclude {needed}"
    for kept in ("pyproject.toml", "uv.lock", "libs", "services"):
        assert kept not in patterns, f".dockerignore excludes {kept}, which the images are built from"


# ====================================================================================== infrastructure ===


def test_kafka_keeps_history_and_creates_no_topic_implicitly(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    # ours by default: the registry's apache/kafka would not read the credentials, and the locked broker would not
    # start (ADR 0044, amendment)
    assert kafka["image"].startswith("binhchon/kafka:")
    env = environment(kafka)
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_LOG_RETENTION_MS"] == "-1"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "BROKER://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    listeners = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    assert {"BROKER", "CONTROLLER", "EXTERNAL"} <= listeners
    factors = {k: v for k, v in env.items() if k.endswith(("REPLICATION_FACTOR", "MIN_ISR"))}
    assert factors and set(factors.values()) == {"1"}, f"single node: replication must be 1: {factors}"
    assert (kafka.get("healthcheck") or {}).get("test"), "kafka has no health check"
    log_dirs = env["KAFKA_LOG_DIRS"]
    assert any(is_named_volume(src) and tgt == log_dirs for src, tgt, _ in short_volumes(kafka)), (
        "kafka's log dirs are not on a named volume")


def test_kafka_is_locked_per_principal(compose: dict[str, Any]) -> None:
    """docs/adr/0031, 0044: every listener asks a sign-in (SCRAM-SHA-512 for clients), the authorizer refuses what no
    ACL allows, and the passwords come from mounted files, never from a variable of this file. docs/adr/0055: the
    clients' listeners are TLS, the broker's key and certificate PEM files of the mounted credentials."""
    kafka = compose["services"]["kafka"]
    env = environment(kafka)
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listeners = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert {protocols[name] for name in listeners - {controller}} == {"SASL_SSL"}, protocols
    assert protocols[controller] == "SASL_PLAINTEXT", protocols  # inside the compose network, brokers only
    mount = env["BINHCHON_KAFKA_CREDENTIALS"]
    assert (env["KAFKA_SSL_KEYSTORE_TYPE"], env["KAFKA_SSL_TRUSTSTORE_TYPE"]) == ("PEM", "PEM")
    assert env["KAFKA_SSL_KEYSTORE_LOCATION"] == f"{mount}/broker.pem"
    assert env["KAFKA_SSL_TRUSTSTORE_LOCATION"] == f"{mount}/ca.crt"
    assert env["KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM"] == "https"
    assert f"{mount}/container/auditor.properties" in " ".join(kafka["healthcheck"]["test"])
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert not [k for k, v in env.items() if "password" in str(v).lower()], "a password in the broker's variables"
    mounted = {tgt for _, tgt, _ in short_volumes(kafka)}
    assert env["BINHCHON_KAFKA_CREDENTIALS"] in mounted


def test_each_service_gets_only_its_own_passwords(compose: dict[str, Any]) -> None:
    """A service signs in to the broker and the store as itself, with the one password of each mounted for it."""
    for name in STATEFUL:
        svc = compose["services"][name]
        env = environment(svc)
        targets = sorted(s["target"] for s in svc.get("secrets", []))
        assert targets == sorted([f"{env['KAFKA_CREDENTIALS_DIR']}/{name}.password", env["KAFKA_SSL_CA_FILE"],
                                  f"{env['MONGODB_CREDENTIALS_DIR']}/{name}.password"]), (name, targets)
        assert not short_volumes(svc) or all("credentials" not in src for src, _, _ in short_volumes(svc))
    init = compose["services"]["kafka-init"]
    assert [s["target"] for s in init["secrets"]] == [f"{environment(init)['KAFKA_CREDENTIALS_DIR']}/admin.password",
                                                      environment(init)["KAFKA_SSL_CA_FILE"]]
    # the CA is the public certificate only: its key stays with credentials.sh, never in a container
    assert {s["source"] for svc in compose["services"].values() for s in svc.get("secrets", [])
            if s["target"].endswith(".crt")} == {"kafka-ca"}
    assert compose["secrets"]["kafka-ca"]["file"].endswith("/kafka/ca.crt")


def test_mongo_is_health_checked_and_keeps_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    mongo = compose["services"]["mongo"]
    assert mongo["image"].startswith("mongo:")
    test = mongo["healthcheck"]["test"]
    assert "ping" in (test if isinstance(test, str) else " ".join(test))
    assert any(is_named_volume(src) and tgt == "/data/db" for src, tgt, _ in short_volumes(mongo))


def test_topics_are_created_by_the_projects_own_command(compose: dict[str, Any]) -> None:
    job = compose["services"]["kafka-init"]
    command = job["command"] if isinstance(job["command"], list) else str(job["command"]).split()
    assert command[0] == "binhchon-topics"
    assert "binhchon-topics" in console_scripts(ROOT / "libs" / "kit" / "pyproject.toml")
    bootstrap = command[command.index("--bootstrap-servers") + 1]
    assert bootstrap == environment(compose["services"][SERVICES[0]])["KAFKA_BOOTSTRAP_SERVERS"]
    assert depends_on(job) == {"kafka": "service_healthy"}
    built = {svc["image"] for svc in compose["services"].values() if svc.get("build")}
    assert job["image"] in built, "kafka-init should run an image this file builds"
    assert job.get("restart", "no") == "no"


def test_one_shot_jobs_are_awaited_by_a_running_service(compose: dict[str, Any]) -> None:
    """`docker compose up --wait` fails on an exited container unless a service waits for it to complete."""
    services = compose["services"]
    for name, svc in services.items():
        if svc.get("restart", "no") == "no":
            waiting = [other for other, o in services.items()
                       if depends_on(o).get(name) == "service_completed_successfully"]
            assert waiting, f"no service waits for one-shot {name} with service_completed_successfully"


def test_mail_catcher_is_there_for_notify(compose: dict[str, Any]) -> None:
    mailpit = compose["services"]["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit")
    assert {"8025", "1025"} <= {container_port(p) for p in mailpit.get("ports", [])}


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {src for svc in compose["services"].values() for src, _, _ in short_volumes(svc)
            if is_named_volume(src)}
    assert {"kafka-data", "mongo-data"} <= used
    assert used <= declared, f"volumes used but not declared: {sorted(used - declared)}"


def test_every_variable_has_a_default() -> None:
    """`docker compose up` works with no variable set: every ${VAR} has a default (or none is needed)."""
    text = COMPOSE_FILE.read_text()
    bare = sorted({m.group(1) for m in re.finditer(r"(?<!\$)\$\{(\w+)\}", text)})
    assert not bare, f"variables without a default: {bare}"
    required = sorted({m.group(1) for m in re.finditer(r"(?<!\$)\$\{(\w+):?\?", text)})
    assert not required, f"variables that must be set: {required}"


def test_variables_override_the_defaults() -> None:
    compose = load_compose({"BINHCHON_INTAKE_PORT": "8101-8103", "BINHCHON_MONGODB_URL": "mongodb://db.example:27017",
                            "BINHCHON_KAFKA_EXTERNAL_PORT": "39092"})
    kafka = compose["services"]["kafka"]
    assert "EXTERNAL://localhost:39092" in environment(kafka)["KAFKA_ADVERTISED_LISTENERS"]
    assert any(str(p).endswith(":39092:29092") for p in kafka["ports"])
    for name in STATEFUL:
        assert environment(compose["services"][name])["MONGODB_URL"] == "mongodb://db.example:27017"
    assert "127.0.0.1:8101-8103:8001" in compose["services"]["intake"]["ports"]


# ================================================================================ compose validation ===

TOP_LEVEL_KEYS = set("version name include services networks volumes secrets configs models".split())
SERVICE_KEYS = set("""
    annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command configs container_name
    cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset
    credential_spec depends_on deploy develop device_cgroup_rules devices dns dns_opt dns_search domainname
    driver_opts entrypoint env_file environment expose extends external_links extra_hosts gpus group_add
    healthcheck hostname image init ipc isolation label_file labels links logging mac_address mem_limit
    mem_reservation mem_swappiness memswap_limit models network_mode networks oom_kill_disable oom_score_adj
    pid pids_limit platform ports post_start pre_stop privileged profiles provider pull_policy
    pull_refresh_after read_only restart runtime scale secrets security_opt shm_size stdin_open
    stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket user userns_mode uts
    volumes volumes_from working_dir
""".split())
BUILD_KEYS = set("""
    context dockerfile dockerfile_inline args ssh cache_from cache_to additional_contexts entitlements
    extra_hosts isolation privileged labels no_cache pull network shm_size target secrets tags ulimits
    platforms
""".split())
VOLUME_MODES = {"ro", "rw", "z", "Z", "consistent", "cached", "delegated", "nocopy"}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")
PORT = re.compile(
    r"^((?P<ip>(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\])):)?((?P<host>\d+(-\d+)?)?:)?"
    r"(?P<container>\d+(-\d+)?)(/(tcp|udp|sctp))?$")
SERVICE_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def spec_errors(doc: dict[str, Any]) -> Iterator[str]:
    """Structural errors against the Compose Specification (the subset of its schema this project uses, and
    every key name), for machines without the docker compose CLI."""
    for key in doc:
        if key not in TOP_LEVEL_KEYS and not key.startswith("x-"):
            yield f"unknown top-level key {key!r}"
    if "name" in doc and not PROJECT_NAME.match(str(doc["name"])):
        yield f"invalid project name {doc['name']!r}"
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        yield "services must be a non-empty mapping"
        return
    volumes = doc.get("volumes") or {}
    if not isinstance(volumes, dict) or any(not isinstance(v, dict | None) for v in volumes.values()):
        yield "top-level volumes must map names to null or a mapping"
    for name, svc in services.items():
        where = f"services.{name}"
        if not SERVICE_NAME.match(name):
            yield f"{where}: invalid service name"
        if not isinstance(svc, dict):
            yield f"{where}: must be a mapping"
            continue
        for key in svc:
            if key not in SERVICE_KEYS and not key.startswith("x-"):
                yield f"{where}: unknown key {key!r}"
        if "image" not in svc and "build" not in svc:
            yield f"{where}: needs image or build"
        build = svc.get("build")
        if isinstance(build, dict):
            yield from (f"{where}.build: unknown key {k!r}" for k in build if k not in BUILD_KEYS)
        elif build is not None and not isinstance(build, str):
            yield f"{where}.build: must be a string or a mapping"
        deps = svc.get("depends_on") or {}
        if isinstance(deps, dict):
            for dep, spec in deps.items():
                condition = (spec or {}).get("condition", "service_started")
                if condition not in CONDITIONS:
                    yield f"{where}.depends_on.{dep}: invalid condition {condition!r}"
        for dep in deps:
            if dep not in services:
                yield f"{where}.depends_on: unknown service {dep!r}"
            if dep == name:
                yield f"{where}.depends_on: depends on itself"
        check = svc.get("healthcheck")
        if check is not None:
            if not isinstance(check, dict):
                yield f"{where}.healthcheck: must be a mapping"
            else:
                unknown = [k for k in check if k not in HEALTHCHECK_KEYS]
                yield from (f"{where}.healthcheck: unknown key {k!r}" for k in unknown)
                test = check.get("test")
                if isinstance(test, list) and (not test or test[0] not in ("CMD", "CMD-SHELL", "NONE")):
                    yield f"{where}.healthcheck.test: a list must start with CMD, CMD-SHELL or NONE"
                if test is None and not check.get("disable"):
                    yield f"{where}.healthcheck: test is required unless disable: true"
                for key in ("interval", "timeout", "start_period", "start_interval"):
                    if key in check and not DURATION.match(str(check[key])):
                        yield f"{where}.healthcheck.{key}: invalid duration {check[key]!r}"
                if "retries" in check and not isinstance(check["retries"], int):
                    yield f"{where}.healthcheck.retries: must be an integer"
        if "stop_grace_period" in svc and not DURATION.match(str(svc["stop_grace_period"])):
            yield f"{where}.stop_grace_period: invalid duration"
        if "restart" in svc and not RESTART.match(str(svc["restart"])):
            yield f"{where}.restart: invalid policy {svc['restart']!r}"
        env = svc.get("environment")
        if isinstance(env, dict):
            for key, value in env.items():
                if value is not None and not isinstance(value, str | int | float | bool):
                    yield f"{where}.environment.{key}: must be a scalar"
        elif env is not None and not isinstance(env, list):
            yield f"{where}.environment: must be a mapping or a list"
        for port in svc.get("ports") or []:
            if isinstance(port, dict):
                if "target" not in port:
                    yield f"{where}.ports: long syntax needs target"
            elif not PORT.match(str(port)):
                yield f"{where}.ports: invalid {port!r}"
        for vol in svc.get("volumes") or []:
            if isinstance(vol, dict):
                if "target" not in vol or "type" not in vol:
                    yield f"{where}.volumes: long syntax needs type and target"
                continue
            parts = str(vol).split(":")
            target = parts[1] if len(parts) > 1 else parts[0]
            if not target.startswith("/"):
                yield f"{where}.volumes: target {target!r} must be an absolute path"
            if len(parts) > 1 and is_named_volume(parts[0]) and parts[0] not in volumes:
                yield f"{where}.volumes: named volume {parts[0]!r} is not declared"
            if len(parts) > 2 and not set(parts[2].split(",")) <= VOLUME_MODES:
                yield f"{where}.volumes: invalid mode in {vol!r}"
        logging = svc.get("logging")
        if logging is not None and not (isinstance(logging, dict) and set(logging) <= {"driver", "options"}):
            yield f"{where}.logging: only driver and options"
    yield from _cycles(services)


def _cycles(services: dict[str, Any]) -> Iterator[str]:
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> Iterator[str]:
        if state.get(name) == 1:
            yield f"depends_on cycle: {' -> '.join([*path, name])}"
            return
        if state.get(name) == 2 or name not in services:
            return
        state[name] = 1
        for dep in depends_on(services[name]):
            yield from visit(dep, [*path, name])
        state[name] = 2

    for name in services:
        yield from visit(name, [])


class ComposeCliMissing(UserWarning):
    """No Compose v2 CLI here: docker-compose.yml was checked against the spec's structure only."""


def compose_cli() -> list[str] | None:
    """`docker compose` (the plugin) or a standalone `docker-compose` of version 2 or later."""
    candidates = []
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    if standalone := shutil.which("docker-compose"):
        candidates.append([standalone])
    for cli in candidates:
        try:
            found = subprocess.run([*cli, "version", "--short"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if found.returncode == 0 and re.match(r"v?([2-9]|\d{2,})\.", found.stdout.strip()):
            return cli
    return None


COMPOSE_CLI = compose_cli()


def test_the_spec_structure_checker_finds_errors() -> None:
    """The fallback validator is only worth something if it rejects what compose rejects."""
    broken = {
        "servicez": {},
        "services": {
            "a": {"image": "x", "depends_on": {"b": {"condition": "service_ready"}}, "restart": "sometimes",
                  "healthcheck": {"test": ["curl"], "interval": "10 seconds"}, "ports": ["80:80:80:80"],
                  "volumes": ["undeclared:/data", "relative:path"], "enviroment": {}},
            "b": {"build": {"context": ".", "dockerfil": "x"}, "depends_on": ["a"]},
            "c": {},
        },
    }
    errors = "\n".join(spec_errors(broken))
    for expected in ("servicez", "service_ready", "sometimes", "CMD", "10 seconds", "80:80:80:80",
                     "undeclared", "'path'", "enviroment", "dockerfil", "cycle", "services.c: needs image"):
        assert expected in errors, f"{expected!r} not reported in:\n{errors}"
    with pytest.raises(ValueError):
        interpolate("${UNCLOSED", {})
    with pytest.raises(ValueError):
        interpolate("cost: $5", {})
    resolved = interpolate("$${A} ${A:-x} ${A-a} ${B-y} ${C:+z} ${D:-${E:-nested}}", {"A": "", "C": "c"})
    assert resolved == "${A} x  y z nested"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("validator", ["docker-compose-config" if COMPOSE_CLI else "spec-structure"])
def test_compose_config_is_valid(validator: str) -> None:
    """`docker compose config -q` (needs the CLI, not an engine); without the CLI, the spec's structure
    itself. Both paths run the structural check; the CLI path also asks compose."""
    errors = list(spec_errors(load_compose()))
    assert not errors, "docker-compose.yml breaks the Compose Specification:\n" + "\n".join(errors)
    if COMPOSE_CLI is None:
        message = "no `docker compose` v2 CLI: checked the file's structure only, not `docker compose config`"
        warnings.warn(ComposeCliMissing(message), stacklevel=1)
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINHCHON_", "COMPOSE_"))}
    result = subprocess.run([*COMPOSE_CLI, "-f", str(COMPOSE_FILE), "config", "-q"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=110)
    assert result.returncode == 0, f"docker compose config failed:\n{result.stderr}"


# ------------------------------------------------------------------------- the ha-mongo replica set ---
# infra/compose/ha-mongo.yml on top of docker-compose.yml and ha.yml (issue 13 item 6): genuine MongoDB as a
# three-member replica set, its members signing in to one another with a shared keyFile, authorization on, the
# set formed by the root user, and every service signed in as itself. Checked on what `docker compose config`
# makes of the three files; no mongod runs here (no registry gives mongo:8.0).

HA_MONGO_FILES = [COMPOSE_FILE, ROOT / "infra" / "compose" / "ha.yml", ROOT / "infra" / "compose" / "ha-mongo.yml"]
MEMBERS = ("mongo", "mongo-2", "mongo-3")
KEYFILE = ROOT / "infra" / "compose" / "credentials" / "replica-set" / "keyfile"


def _unescape(node: Any) -> Any:
    """`docker compose config` writes a literal dollar as `$$` again; what the container runs has one."""
    if isinstance(node, dict):
        return {k: _unescape(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_unescape(v) for v in node]
    return node.replace("$$", "$") if isinstance(node, str) else node


def _merge(base: Any, over: Any, key: str = "") -> Any:
    """Compose's merge of an override file, for what these checks read: mappings merged, a command or a health
    check's test replaced, other sequences (secrets, volumes) appended."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {k: _merge(base[k], v, k) if k in base else v for k, v in over.items()} | {
            k: v for k, v in base.items() if k not in over}
    if isinstance(base, list) and isinstance(over, list) and key not in ("command", "entrypoint", "test"):
        return [*base, *(item for item in over if item not in base)]
    return over


@pytest.fixture(scope="module")
def ha_mongo() -> dict[str, Any]:
    if COMPOSE_CLI is not None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BINHCHON_", "COMPOSE_"))}
        files = [arg for path in HA_MONGO_FILES for arg in ("-f", str(path))]
        result = subprocess.run([*COMPOSE_CLI, *files, "config", "--format", "json"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=110)
        assert result.returncode == 0, f"docker compose config (ha-mongo) failed:\n{result.stderr}"
        return _unescape(json.loads(result.stdout))  # type: ignore[no-any-return]
    # ha.yml touches neither the store nor the services' store settings: the two others make the merge read here
    warnings.warn(ComposeCliMissing("no `docker compose` v2 CLI: ha-mongo.yml merged on docker-compose.yml here"),
                  stacklevel=1)
    overlay = yaml.safe_load(HA_MONGO_FILES[2].read_text())
    merged = _unescape(_merge(load_compose(), interpolate_tree(overlay, {})))
    # as compose writes them: a secret's file relative to the project directory (the first file's) made absolute
    for secret in merged.get("secrets", {}).values():
        if isinstance(secret, dict) and isinstance(secret.get("file"), str):
            secret["file"] = os.path.normpath(ROOT / secret["file"])
    return merged  # type: ignore[no-any-return]


def _member_script(command: list[str]) -> tuple[str, list[str]]:
    """(the shell script, the entrypoint's arguments) of a member's `bash -c SCRIPT NAME ARGS...` command."""
    assert command[:2] == ["bash", "-c"], command
    return command[2], command[4:]


def test_ha_mongo_members_share_the_keyfile_and_run_with_authorization(ha_mongo: dict[str, Any]) -> None:
    """Each member gets the one keyfile, copies it where mongod accepts it (0400, owned by mongodb), and runs mongod
    through the image's entrypoint with --replSet rs0 --bind_ip_all --auth --keyFile that copy."""
    services = ha_mongo["services"]
    assert ha_mongo["secrets"]["mongo-keyfile"]["file"] == str(KEYFILE)
    for name in MEMBERS:
        member = services[name]
        assert member["image"].startswith("mongo:"), name
        [secret] = [s for s in member["secrets"] if s["source"] == "mongo-keyfile"]
        script, args = _member_script(member["command"])
        assert args[:4] == ["mongod", "--replSet", "rs0", "--bind_ip_all"], (name, args)
        assert "--auth" in args and "--keyFile" in args, (name, args)
        copy = args[args.index("--keyFile") + 1]
        assert copy != secret["target"], f"{name}: mongod reads the bind-mounted secret, whose mode is the host's"
        steps = [step.strip() for step in script.split("&&")]
        assert steps == [f"install -m 0400 -o mongodb -g mongodb {secret['target']} {copy}",
                         'exec docker-entrypoint.sh "$@"'], (name, steps)
        test = " ".join(member["healthcheck"]["test"])
        assert "ping" in test and "$(hostname)" in test and not LOOPBACK.search(test), (
            f"{name}: healthy on its network address only, never the first start's temporary mongod on 127.0.0.1")
    holders = {name for name, svc in services.items()
               for s in svc.get("secrets", []) if s["source"] == "mongo-keyfile"}
    assert holders == set(MEMBERS), f"the keyfile goes to the members only: {sorted(holders)}"


def test_ha_mongo_users_are_made_once_by_the_first_member(ha_mongo: dict[str, Any]) -> None:
    """`mongo` makes the root user and runs mongo-principals.js on its first start, before the set is formed; the
    others start empty and copy the users by initial sync."""
    services = ha_mongo["services"]
    first = environment(services["mongo"])
    assert first["MONGO_INITDB_ROOT_USERNAME"] == "admin"
    assert first["MONGO_INITDB_ROOT_PASSWORD_FILE"].endswith("/admin.password")
    assert any(tgt.startswith("/docker-entrypoint-initdb.d/") and src.endswith("mongo-principals.js")
               for src, tgt, _ in short_volumes(services["mongo"]))
    for name in MEMBERS[1:]:
        assert not [k for k in environment(services[name]) if k.startswith("MONGO_INITDB")], name
        assert all("initdb.d" not in tgt for _, tgt, _ in short_volumes(services[name])), name


def test_ha_mongo_init_signs_in_as_the_root_user(ha_mongo: dict[str, Any]) -> None:
    services = ha_mongo["services"]
    init = services["mongo-init"]
    [secret] = init["secrets"]
    assert secret["source"] == "store-admin"
    root_password = environment(services["mongo"])["MONGO_INITDB_ROOT_PASSWORD_FILE"].rsplit("/", 1)[1]
    assert ha_mongo["secrets"]["store-admin"]["file"] == str(KEYFILE.parents[1] / "store" / root_password)
    command = init["command"]
    script = command[command.index("--eval") + 1]
    assert "-p" not in command and "--password" not in command, "the password stays out of the process list"
    sign_in = script.index(f"auth('{environment(services['mongo'])['MONGO_INITDB_ROOT_USERNAME']}', pwd)")
    assert f"readFileSync('{secret['target']}'" in script[:sign_in]
    assert sign_in < script.index("rs.status()") < script.index("rs.initiate(")
    assert "NotYetInitialized" in script, "only a set not yet formed is initiated; any other error fails the job"
    hosts = re.findall(r"host: '([^']+)'", script)
    assert hosts == [f"{name}:27017" for name in MEMBERS]
    assert depends_on(init) == dict.fromkeys(MEMBERS, "service_healthy")
    for name in STATEFUL:
        assert depends_on(services[name])["mongo-init"] == "service_completed_successfully", name


def test_ha_mongo_no_service_connects_without_its_own_credentials(ha_mongo: dict[str, Any], tmp_path: Path) -> None:
    """The replica-set URL names no user (a user in it would win over the service's own), and every service that
    connects to the store adds its own user and password as docker-compose.yml has it sign in."""
    from urllib.parse import parse_qs, urlsplit

    from binhchon_kit.store_principals import service_url

    connecting = {name: svc for name, svc in ha_mongo["services"].items() if "MONGODB_URL" in environment(svc)}
    assert set(connecting) == set(STATEFUL)
    for name, svc in connecting.items():
        env = environment(svc)
        url = urlsplit(env["MONGODB_URL"])
        assert "@" not in url.netloc, f"{name}: the URL names a user"
        assert url.netloc == ",".join(f"{member}:27017" for member in MEMBERS)
        assert parse_qs(url.query) == {"replicaSet": ["rs0"], "w": ["majority"]}
        secrets = {s["target"] for s in svc["secrets"]}
        own = f"{env['MONGODB_CREDENTIALS_DIR']}/{name}.password"
        assert own in secrets, f"{name}: its store password is not mounted"
        (tmp_path / f"{name}.password").write_text(f"password-of-{name}")
        signed_in = urlsplit(service_url(env["MONGODB_URL"], name, str(tmp_path), env["MONGODB_AUTH_MECHANISM"],
                                         env["MONGODB_AUTH_SOURCE"]))
        assert (signed_in.username, signed_in.password) == (name, f"password-of-{name}")
        assert parse_qs(signed_in.query)["authMechanism"] == ["SCRAM-SHA-256"]
        assert parse_qs(signed_in.query)["authSource"] == ["admin"]
        assert parse_qs(signed_in.query)["replicaSet"] == ["rs0"]


def test_credentials_writes_a_keyfile_mongod_accepts_and_keeps_it(tmp_path: Path) -> None:
    """credentials.sh makes the keyfile once: 6 to 1024 base64 characters once whitespace is stripped (MongoDB's
    rule), kept by a second run."""
    script = ROOT / "infra" / "compose" / "credentials.sh"
    subprocess.run([str(script), str(tmp_path / "c")], check=True, capture_output=True, timeout=60)
    key = (tmp_path / "c" / "replica-set" / "keyfile").read_text()
    subprocess.run([str(script), str(tmp_path / "c")], check=True, capture_output=True, timeout=60)
    assert (tmp_path / "c" / "replica-set" / "keyfile").read_text() == key
    assert 6 <= len(re.sub(r"\s", "", key)) <= 1024
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", key.strip())
    other = tmp_path / "d"
    subprocess.run([str(script), str(other)], check=True, capture_output=True, timeout=60)
    assert (other / "replica-set" / "keyfile").read_text() != key, "each deployment has its own key"


def test_the_keyfile_is_never_in_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert not [path for path in tracked.splitlines()
                if path.startswith("infra/compose/credentials/") or PurePosixPath(path).name == "keyfile"]
    ignored = subprocess.run(["git", "check-ignore", "-q", str(KEYFILE)], cwd=ROOT)
    assert ignored.returncode == 0, f"{KEYFILE} is not gitignored"
