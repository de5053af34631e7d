"""The integrators' contract, generated from the code: JSON Schemas of the envelope and of each event type's
``data``, and an AsyncAPI 3.0 document of the topics.

    python -m binhchon_kit.contracts.export [--out docs/contract] [--check]

``--check`` writes nothing: it exits 1 and lists what differs when the files in ``--out`` are not what the
code generates, or when the code changed a published schema without a new schema version.

A published schema is never edited: a breaking change is a new schema version. ``breaking_changes`` is the
rule: between a committed schema and the current one of the same version, no property may disappear (a
rename is a removal), a required property must stay required, and no property may become required. Older
versions' files stay in ``schemas/``: the topics keep every event forever, and each event's ``dataschema``
names its own.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import os
import re
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic.json_schema import models_json_schema

from binhchon_kit.canonical import HASH_ALG, HASHED_ATTRIBUTES, canonical_json, hashed_attributes
from binhchon_kit.contracts import event_types
from binhchon_kit.contracts.registry import EventData, Registration
from binhchon_kit.envelope import SCHEMA_BASE, CloudEvent, schema_uri
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.signing import Signer
from binhchon_kit.topics import FOREVER, SERVICE_TOPICS, dead_letter_topic

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_SCHEMA_ID = f"{SCHEMA_BASE}/cloudevent/v1.json"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DEFAULT_OUT = Path("docs/contract")
ASYNCAPI_FILE = "asyncapi.json"
HASH_CHAIN_FILE = "hash-chain.md"
ENVELOPE_FILE = "schemas/cloudevent.v1.json"
DEAD_LETTER_MESSAGE = "dead-letter"
DEAD_LETTER_HEADERS = {
    "dlq-reason": "why the consumer gave up: the parse or validation error, or the last error after retries",
    "dlq-handler": "the consumer that gave up: <service>.<handler>, also its consumer group",
    "dlq-source-topic": "the topic the message was read from",
    "dlq-source-partition": "its partition there (decimal)",
    "dlq-source-offset": "its offset there (decimal)",
    "dlq-at": "when it was dead-lettered (ISO 8601, UTC)",
}

# The published contract: the source tree's docs/contract, or where an image put it (BINHCHON_CONTRACT_DIR: the
# service images copy docs/contract there, so older schema versions are served from an installed kit too).
_SOURCE_CONTRACT = Path(os.environ.get("BINHCHON_CONTRACT_DIR") or
                        Path(__file__).resolve().parents[5] / "docs" / "contract")
_SCHEMA_FILE = re.compile(r"^(?P<type>.+)\.v(?P<version>[0-9]+)\.json$")

# Descriptions for the envelope's attributes that the model itself leaves undescribed.
_ENVELOPE_ATTRIBUTES = {
    "specversion": "CloudEvents specification version: 1.0",
    "id": "unique id of the event (a UUID); consumers deduplicate on it",
    "source": "the service that recorded the event: /binhchon/<service>",
    "type": "the event type, lowercase, dotted, past tense, e.g. dossier.received",
    "subject": "the dossier id (the round id for round events); also the Kafka message key",
    "time": "when the event was recorded: RFC 3339, UTC, milliseconds, e.g. 2025-03-01T08:30:00.123Z",
    "datacontenttype": "media type of data: application/json",
    "dataschema": f"the JSON Schema of data: {SCHEMA_BASE}/<type>/v<schema version>.json",
    "data": "the event's data; its schema is the one dataschema names",
    "correlationid": "id shared by every event of one flow (from the first request or event of the flow)",
    "causationid": "id of the request or event that caused this event",
    "actorid": "who did it: the token subject, or system:<service> for what a service did by itself",
    "streamid": "the event stream (aggregate) the event belongs to in the source service's store",
    "streamversion": "position of the event in its stream: 1, 2, 3, ... without gaps",
    "prevhash": "hash of the previous event of the stream (64 zeros for the first)",
    "hashalg": f"how hash is computed: {HASH_ALG} (SHA-256 over the RFC 8785 form of the event's attributes but "
    "hash; see the hash chain section of the AsyncAPI document). Absent on events recorded before it: those "
    "use the legacy scheme described there",
    "hash": "SHA-256 (lowercase hex) of the event, chained through prevhash, under the scheme hashalg names: "
    "a tampered or missing event breaks the stream's chain",
    "signature": "Ed25519 signature by the service that published the event (source) over the ASCII bytes of hash, "
    "base64url without padding; not hashed. Verify it with that service's key signaturekid names, from its "
    "/log/jwks.json: binhchon's consumers act on no event without it",
    "signaturekid": "the id (kid) of the publishing service's key that made signature, in its /log/jwks.json",
}
# The names CloudEvents allows for extension attributes; values are strings, integers or booleans in JSON.
_EXTENSION_NAME = "^[a-z0-9]+$"

_DESCRIPTION = """\
Every event binhchon's services publish, topic by topic.

- **Value**: a CloudEvents 1.0 event in structured mode, JSON encoded in UTF-8: the attributes and `data` in \
one object (schema: `{envelope}`). `dataschema` names the JSON Schema of `data` for the event's type and \
schema version. A breaking change to an event's data is published as a new schema version, never as an edit.
- **Key**: the event's `subject`, the dossier id (the round id for round events), so one dossier's events \
stay in order on one partition.
- **Headers**: `content-type: application/cloudevents+json; charset=UTF-8` (structured mode); `event-type` \
and `event-id` repeat the event's type and id, for routing without parsing the value. No `ce_`-prefixed \
header is sent: CloudEvents SDKs take one to mean binary mode.
- **History**: the topics keep history forever (retention.ms = -1): reading a topic from the earliest offset \
replays every event ever published, so a new consumer can rebuild its state from them.
- **Delivery**: at least once. An event may arrive more than once: a service's relay that dies after the \
broker took an event but before it marked it published publishes it again when it restarts (the same event, \
same `id` and `hash`, at a later offset, possibly after newer events), and a consumer that dies before \
committing its offset reads it again. Deduplicate on the event `id`: remember the ids you have acted on (for \
as long as you keep the effect) and ignore an event whose `id` you already know. Within a stream, (`streamid`, \
`streamversion`) identifies the same event too: one at or below the highest version you have taken of its \
stream is a repeat. Never deduplicate on the Kafka offset, which differs between the two copies.
- **Dead letters**: each topic `<topic>` has a dead-letter topic `<topic>.dlq`. When a consumer cannot \
parse or handle a message it republishes it there unchanged, with its key, and with the headers {headers}.
- **Extension attributes**: besides ours, an event may carry others added on its way (e.g. `traceparent`); \
consumers keep or ignore them. They are not hashed.
- **Who published it**: every event is signed by the service that owns its topic (`signature`, \
`signaturekid`: see the hash chain section); binhchon's own consumers dead-letter any event whose `source` is \
not the topic's owner, whose `hash` does not recompute, or whose signature is not by one of the owner's keys.
- **Schemas over HTTP**: every service serves each JSON Schema at the path of its URL (`dataschema`, \
`{envelope}`): `GET /events/<type>/v<n>.json` and `GET /events/cloudevent/v1.json`, no token needed.

{hash_chain}
"""

_HASH_CHAIN = """\
## The hash chain

Each service's events form streams (`streamid`), numbered `streamversion` 1, 2, 3, … without gaps. Every \
event carries `prevhash`, the `hash` of the event before it in its stream (64 zeros for version 1), and its own \
`hash`, so that anyone reading the topics can check that no event was altered, inserted or removed.

### `hashalg: {alg}` (every event that carries it)

`hash` = lowercase hex of SHA-256 over the UTF-8 bytes of the RFC 8785 (JSON Canonicalization Scheme) form of \
the JSON object made of these attributes of the event, as published, each one present: {attributes}.

That is every attribute the services publish except `hash` itself. `prevhash` is included, so each hash commits \
to the whole stream before it: changing any earlier event changes every later hash. `hashalg` is included, so \
the scheme cannot be swapped. Attributes not listed (e.g. `traceparent` added on the way) are left out. To \
verify a stream: for each event in `streamversion` order, recompute `hash` as above, and check that `prevhash` \
is the previous event's `hash` (64 zeros for version 1) and that versions have no gap.

Worked example: the event

```json
{example}
```

is hashed over these bytes (RFC 8785: keys sorted, no whitespace, non-ASCII characters as UTF-8), \
{length} bytes long:

```
{canonical}
```

and SHA-256 of them is `{hash}`, the event's `hash`. In Python: \
`hashlib.sha256(rfc8785.dumps({{k: event[k] for k in ATTRIBUTES if k in event}})).hexdigest()`.

### Who published it: `signature` and `signaturekid`

Each topic has one owner, the service named by its first word (`intake.events`: `/binhchon/intake`), and only \
the owner's events on it count. The owner's relay adds to every event it publishes `signature` = Ed25519 by \
its log key over the ASCII bytes of `hash` (the 64 hex characters), base64url without padding, and \
`signaturekid` = that key's `kid` in the service's JWKS, served at `GET /log/jwks.json` (the key that signs its \
log checkpoints). Neither is hashed: `hash` already covers every other attribute and `data`. To check an event: \
`source` is the topic's owner, `hashalg` is `{alg}`, `hash` recomputes as above, and the signature verifies \
with the owner's key `signaturekid` names. An event without `hashalg` (the legacy scheme below) is signed \
like any other, but binhchon's consumers do not act on it: only the current scheme is accepted.

Worked example: signed with the Ed25519 key of RFC 8032's first test vector (secret \
`{secret}`, published, never used for real), whose JWK is

```json
{jwk}
```

the event above carries `"signature": "{signature}"` and `"signaturekid": "{kid}"`. In Python: \
`Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=")).verify(\
base64.urlsafe_b64decode(event["signature"] + "=="), event["hash"].encode("ascii"))` (raises if it does not verify).

### Events without `hashalg` (recorded before it)

`hash` = lowercase hex of SHA-256 over the ASCII bytes of `prevhash` followed by the RFC 8785 form of the \
object `{{"id": id, "stream": streamid, "version": streamversion, "type": type, "schema_version": the <n> \
of dataschema's …/v<n>.json (a number), "subject": subject, "time": time, "data": data, "actor": {{"id": actorid, \
"roles": actorroles split on "," ([] when empty)}}, "correlation_id": correlationid, "causation_id": \
causationid, "source": source}}`. Those events are never \
rehashed: history is not rewritten; a stream may hold events of both kinds, chained the same way by `prevhash`.
"""


# RFC 8032 section 7.1, test 1: a published Ed25519 secret key, for the worked example of an event's signature
EXAMPLE_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"


def _example_event() -> RecordedEvent:
    """The worked example of the hash chain: a fixed event, hashed as a service records it."""
    return RecordedEvent(
        id="5f0c2a9e-8d3b-4c71-9e2a-1b6d4f8a7c35", stream="dossier-7b1e", version=3, type="dossier.withdrawn",
        schema_version=1, subject="7b1e9c40-2f55-4d8a-a3b6-0c9e8f1d2a47",
        time=datetime(2025, 3, 1, 8, 30, 0, 123000, tzinfo=UTC), data={"reason": "Chưa đủ sản lượng"},
        actor=Actor("htx-an-phu", ("applicant",)), correlation_id="c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f",
        causation_id="a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d", source="/binhchon/intake",
        prev_hash="3b0f6c1e9a2d4b8c7e5f1a0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b", hash="",
    ).sealed()


def hash_chain_text() -> str:
    """The published description of the hash chain, with its worked example computed by the code."""
    event = _example_event()
    published = event.cloudevent_json()
    canonical = canonical_json(hashed_attributes(published))
    example_key = Signer(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(EXAMPLE_SECRET)))
    return _HASH_CHAIN.format(
        alg=HASH_ALG, attributes=", ".join(f"`{a}`" for a in HASHED_ATTRIBUTES),
        example=json.dumps(published, indent=2, ensure_ascii=False), canonical=canonical.decode("utf-8"),
        length=len(canonical), hash=event.hash, secret=EXAMPLE_SECRET, jwk=json.dumps(example_key.jwk(), indent=2),
        signature=example_key.sign_bytes(event.hash.encode("ascii")), kid=example_key.kid,
    )


def _model(registration: Registration) -> type[EventData]:
    return registration.model


def _docstring(registration: Registration) -> str:
    doc = _model(registration).__doc__
    return inspect.cleandoc(doc) if doc else registration.summary


def _service(topic: str) -> str:
    return topic.split(".", 1)[0]


def schema_file(registration: Registration) -> str:
    """Where the data schema of ``registration`` is written, relative to the contract directory."""
    return f"schemas/{registration.type}.v{registration.schema_version}.json"


def event_schema(registration: Registration) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one event type's ``data``."""
    schema = _model(registration).model_json_schema()
    schema.update({
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_uri(registration.type, registration.schema_version),
        "title": f"{registration.type} v{registration.schema_version}",
        "description": _docstring(registration),
    })
    return schema


def _envelope_schema_body() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema()
    # optional, a string when present (pydantic would say "string or null": we never publish null)
    schema["properties"]["hashalg"] = {"type": "string", "title": "Hashalg", "examples": [HASH_ALG]}
    schema["properties"]["signature"] = {"type": "string", "title": "Signature"}
    schema["properties"]["signaturekid"] = {"type": "string", "title": "Signaturekid"}
    for name, prop in schema["properties"].items():
        if name in _ENVELOPE_ATTRIBUTES:
            prop["description"] = _ENVELOPE_ATTRIBUTES[name]
    schema["required"] = sorted(set(schema["required"]) | {"specversion"})
    # any other extension attribute is accepted (CloudEvents: a hop may add its own, e.g. traceparent)
    schema["propertyNames"] = {"pattern": _EXTENSION_NAME}
    schema["additionalProperties"] = {"type": ["string", "integer", "boolean"]}
    return schema


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the CloudEvent envelope every event travels in."""
    schema = _envelope_schema_body()
    schema.update({
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": ENVELOPE_SCHEMA_ID,
        "title": "binhchon CloudEvent",
        "description": inspect.cleandoc(CloudEvent.__doc__ or "")
        + " CloudEvents 1.0, structured mode, JSON. Extension attributes: correlationid, causationid,"
        " actorid, actorroles, streamid, streamversion, prevhash, hashalg, hash, signature, signaturekid; any"
        " other extension attribute"
        " (e.g. traceparent) is allowed.",
    })
    return schema


def _topic_configuration() -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, value in FOREVER.items():
        config[key] = value.split(",") if key == "cleanup.policy" else int(value)
    return config


def _data_components(registrations: list[Registration]) -> tuple[dict[str, str], dict[str, Any]]:
    """Every event model's data schema and what it uses, as AsyncAPI component schemas.

    Returns each event type's component name and the component schemas. pydantic names them and keeps two
    different models of the same class name apart.
    """
    if not registrations:
        return {}, {}
    refs, top = models_json_schema(
        [(_model(r), "validation") for r in registrations], ref_template="#/components/schemas/{model}"
    )
    components: dict[str, Any] = top.get("$defs", {})
    names: dict[str, str] = {}
    for registration in registrations:
        ref = refs[(_model(registration), "validation")]["$ref"]
        name = ref.removeprefix("#/components/schemas/")
        components[name].update({
            "title": f"{registration.type} v{registration.schema_version}",
            "description": _docstring(registration),
        })
        names[registration.type] = name
    return names, components


def _event_message(
    registration: Registration, data_component: str, envelope: dict[str, Any]
) -> dict[str, Any]:
    payload = copy.deepcopy(envelope)
    properties = payload["properties"]
    properties["type"] = {**properties["type"], "const": registration.type}
    properties["dataschema"] = {
        **properties["dataschema"], "const": schema_uri(registration.type, registration.schema_version)
    }
    properties["data"] = {
        "$ref": f"#/components/schemas/{data_component}",
        "description": f"the data of {registration.type} (schema version {registration.schema_version})",
    }
    payload["title"] = f"{registration.type} CloudEvent"
    payload["description"] = _docstring(registration)
    return {
        "name": registration.type,
        "title": f"{registration.type} v{registration.schema_version}",
        "summary": registration.summary,
        "description": _docstring(registration),
        "contentType": "application/cloudevents+json",
        "correlationId": {"location": "$message.payload#/correlationid"},
        "headers": {
            "type": "object",
            "properties": {
                "content-type": {"type": "string", "const": "application/cloudevents+json; charset=UTF-8",
                                 "description": "structured mode: the value is the whole CloudEvent"},
                "event-type": {"type": "string", "const": registration.type, "description": "the event type"},
                "event-id": {"type": "string", "description": "the event id"},
            },
        },
        "payload": payload,
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "the event's subject: the dossier id (the round id for round events)",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": DEAD_LETTER_MESSAGE,
        "title": "dead letter",
        "summary": "A message a consumer could not parse or handle, republished unchanged with the reason.",
        "description": "The value and key are those of the original message (normally an event of the "
        "source topic, but possibly not a valid one: that may be why it is here). The dlq-* headers say who "
        "gave up, why, and where the original is.",
        "headers": {
            "type": "object",
            "required": sorted(DEAD_LETTER_HEADERS),
            "properties": {
                name: {"type": "string", "description": text} for name, text in DEAD_LETTER_HEADERS.items()
            },
        },
        "payload": {"description": "the original message's value, unchanged"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the original message's key"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(address: str, description: str, message_ids: list[str]) -> dict[str, Any]:
    return {
        "address": address,
        "title": address,
        "description": description,
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in message_ids},
        "bindings": {
            "kafka": {
                "topic": address,
                "topicConfiguration": _topic_configuration(),
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def published_schemas(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every JSON Schema of the contract by its URL's path (``/events/<type>/v<n>.json``): the envelope and each
    event type at its current version from the code, and the older versions from ``directory``'s schemas (by
    default the source tree's docs/contract, when there is one): they are history, never regenerated."""
    schemas = {_url_path(ENVELOPE_SCHEMA_ID): envelope_schema()}
    for registration in event_types():
        schemas[_url_path(schema_uri(registration.type, registration.schema_version))] = event_schema(registration)
    folder = (directory or _SOURCE_CONTRACT) / "schemas"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        match = _SCHEMA_FILE.match(path.name)
        if match is not None:
            schemas.setdefault(_url_path(schema_uri(match["type"], int(match["version"]))),
                               json.loads(path.read_text(encoding="utf-8")))
    return schemas


def _url_path(url: str) -> str:
    """https://schemas.binhchon.vn/events/x/v1.json → /events/x/v1.json"""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _version() -> str:
    try:
        return metadata.version("binhchon-kit")
    except metadata.PackageNotFoundError:  # pragma: no cover — running from a source tree without install
        return "0.0.0"


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of every topic and every registered event type."""
    registrations = event_types()
    data_names, schemas = _data_components(registrations)
    envelope = _envelope_schema_body()
    messages: dict[str, Any] = {
        r.type: _event_message(r, data_names[r.type], envelope) for r in registrations
    }
    messages[DEAD_LETTER_MESSAGE] = _dead_letter_message()

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in SERVICE_TOPICS:
        service = _service(topic)
        types = [r.type for r in registrations if r.topic == topic]
        listed = ", ".join(f"`{t}`" for t in types) if types else "none registered yet"
        # log.checkpoints is shared: every service publishes its own signed checkpoints there (ADR 0022)
        who = "every service" if service == "log" else f"the {service} service"
        channels[topic] = _channel(
            topic, f"The events {who} publishes ({listed}). History kept forever.", types
        )
        dlq = dead_letter_topic(topic)
        channels[dlq] = _channel(
            dlq, f"Dead letters of `{topic}`: messages of it that a consumer could not parse or handle.",
            [DEAD_LETTER_MESSAGE],
        )
        operations[f"send.{topic}"] = {
            "action": "send",
            "title": f"{'every service' if service == 'log' else service} publishes to {topic}",
            "summary": f"{who[0].upper()}{who[1:]} publishes its recorded events, in stream order, to {topic}.",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [{"$ref": f"#/channels/{topic}/messages/{t}"} for t in types],
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "binhchon events",
            "version": _version(),
            "description": _DESCRIPTION.format(
                envelope=ENVELOPE_SCHEMA_ID, headers=", ".join(f"`{h}`" for h in DEAD_LETTER_HEADERS),
                hash_chain=hash_chain_text(),
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _servers() -> dict[str, Any]:
    """Where the topics are: the same topics and messages on each."""
    return {
        "local": {
            "host": "127.0.0.1:9092",
            "protocol": "kafka",
            "title": "local development broker",
            "description": "The broker `make up` runs on a developer's machine (the services' default "
            "KAFKA_BOOTSTRAP_SERVERS).",
        },
        "compose": {
            "host": "{listener}",
            "protocol": "kafka",
            "title": "the compose deployment's broker",
            "description": "docker-compose.yml's Kafka: `kafka:9092` from inside the compose network, "
            "`localhost:29092` from the host (BINHCHON_KAFKA_EXTERNAL_HOST/_PORT change what it advertises).",
            "variables": {
                "listener": {"enum": ["kafka:9092", "localhost:29092"], "default": "localhost:29092",
                             "description": "kafka:9092 inside the compose network, localhost:29092 outside"},
            },
        },
        "production": {
            "host": "{bootstrapServers}",
            "protocol": "{protocol}",
            "title": "a production deployment's brokers",
            "description": "The bootstrap servers the operator gives an agency (the services' "
            "KAFKA_BOOTSTRAP_SERVERS, or the brokers' external listeners), e.g. three brokers of the ha overlay.",
            "variables": {
                "bootstrapServers": {"default": "kafka-1.example.gov.vn:9092",
                                     "description": "one broker's host:port (any broker leads to all of them)"},
                "protocol": {"enum": ["kafka", "kafka-secure"], "default": "kafka",
                             "description": "kafka-secure where the operator's listener uses TLS"},
            },
        },
    }


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """Every contract file: path relative to the contract directory → its text."""
    files = {ASYNCAPI_FILE: _render(asyncapi()), ENVELOPE_FILE: _render(envelope_schema()),
             HASH_CHAIN_FILE: "# binhchon events: " + hash_chain_text().removeprefix("## ")}
    for registration in event_types():
        files[schema_file(registration)] = _render(event_schema(registration))
    return files


def write_all(directory: Path) -> list[Path]:
    """Write the contract into ``directory``; returns the paths of the files it is made of."""
    paths: list[Path] = []
    for relative, text in generate().items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
        paths.append(path)
    return paths


def _object_shapes(schema: dict[str, Any]) -> dict[str, tuple[set[str], set[str], str | None]]:
    """Each object reachable in ``schema`` by path ("data", "data.producer", "data.documents[]"):
    its property names, its required ones, and the property of the parent object it hangs from."""
    defs: dict[str, Any] = schema.get("$defs", {})
    shapes: dict[str, tuple[set[str], set[str], str | None]] = {}

    def walk(node: Any, path: str, parent: str | None, seen: frozenset[str]) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name not in seen:
                walk(defs.get(name), path, parent, seen | {name})
        properties = node.get("properties")
        if isinstance(properties, dict):
            names, required, _ = shapes.get(path, (set(), set(), parent))
            names |= set(properties)
            required |= set(node.get("required", []))
            shapes[path] = (names, required, parent)
            for name, sub in properties.items():
                walk(sub, f"{path}.{name}", path, seen)
        for key in ("items", "additionalProperties"):
            walk(node.get(key), f"{path}[]", parent, seen)
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                walk(sub, path, parent, seen)

    walk(schema, "data", None, frozenset())
    return shapes


def _property_of(path: str, parent: str) -> str:
    """The property of ``parent`` that ``path`` hangs from: data.documents[] → documents."""
    return path.removeprefix(parent + ".").split("[", 1)[0]


def breaking_changes(published: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """How ``current`` breaks ``published`` (two schemas of one event type and schema version): properties
    removed (or renamed), required properties no longer required, properties newly required. Empty when
    compatible. Adding an optional property is compatible."""
    old, new = _object_shapes(published), _object_shapes(current)
    problems: list[str] = []
    for path, (old_names, old_required, parent) in old.items():
        if path not in new:
            if parent is None or (parent in new and _property_of(path, parent) in new[parent][0]):
                problems.append(f"{path}: no longer an object with properties")
            continue
        new_names, new_required, _ = new[path]
        problems += [f"{path}.{n}: removed or renamed" for n in sorted(old_names - new_names)]
        unrequired = (old_required - new_required) & new_names
        problems += [f"{path}.{n}: no longer required" for n in sorted(unrequired)]
        problems += [f"{path}.{n}: newly required" for n in sorted(new_required - old_required)]
    return problems


def compatibility(directory: Path) -> list[str]:
    """The breaking changes between the schemas in ``directory/schemas`` and what the code generates now.

    A file of an older schema version than the registered one is history and is left alone; a file of an event
    type no longer registered (or of a newer version than the registered one) is a breaking change too."""
    registered = {r.type: r for r in event_types()}
    problems: list[str] = []
    for path in sorted((directory / "schemas").glob("*.json")):
        if path.name == Path(ENVELOPE_FILE).name:
            continue
        match = _SCHEMA_FILE.match(path.name)
        if match is None:
            problems.append(f"{path}: not named <type>.v<version>.json")
            continue
        type_, version = match["type"], int(match["version"])
        registration = registered.get(type_)
        if registration is None:
            problems.append(f"{path}: event type {type_} is no longer registered")
        elif version > registration.schema_version:
            problems.append(f"{path}: {type_} is registered at the older v{registration.schema_version}")
        elif version == registration.schema_version:
            published = json.loads(path.read_text(encoding="utf-8"))
            problems += [
                f"{path}: {problem} (a breaking change needs a new schema version)"
                for problem in breaking_changes(published, event_schema(registration))
            ]
    return problems


def check(directory: Path) -> list[str]:
    """What is wrong with the contract in ``directory``: files missing or different from what the code
    generates, and breaking changes to published schemas. Empty when it is up to date."""
    problems: list[str] = []
    for relative, text in generate().items():
        path = directory / relative
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from what the code generates")
    return problems + compatibility(directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate binhchon's event contract (AsyncAPI document, JSON Schemas) from the code."
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="the contract directory (default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the files in --out are not what the code generates")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("the event contract is out of date: run python -m binhchon_kit.contracts.export"
                  f" --out {args.out} (a breaking change needs a new schema version)", file=sys.stderr)
            return 1
        return 0
    for path in write_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
