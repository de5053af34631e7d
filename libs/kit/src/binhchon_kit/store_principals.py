"""Each service a principal of the store (docs/adr/0039): its own user, allowed its own database only.

FerretDB keeps no users of its own: a client's user name and password (``authMechanism=PLAIN``) are PostgreSQL's,
and every query runs as that PostgreSQL role. A FerretDB database is a PostgreSQL schema, so the grants are
PostgreSQL's:

- each service is a role owning the schema of its database (``binhchon_intake`` for ``intake``): it reads and
  writes there, and reaches no other service's schema (``permission denied for schema``);
- ``auditor`` reads every service's schema (``binhchon-audit compare`` and ``verify-db``) and writes none;
- FerretDB connects to PostgreSQL without a default user (infra/local/ferretdb.sh), so a client that does not
  sign in can do nothing at all.

FerretDB creates a database with ``CREATE SCHEMA IF NOT EXISTS`` even when it exists, and PostgreSQL checks the
database's CREATE right before it looks: each service role keeps that right. It could make a new, empty schema of
its own; it still cannot read or write another's.

FerretDB 1.24 keeps one catalogue of databases and collections for all its clients, loaded once, by the first
client to connect, from the metadata tables *that client* can see (``metadata.Registry``: "no authorization yet").
Were another service's metadata hidden from it, FerretDB would later try to create that service's existing
database again and fail. So every principal may read each database's ``_ferretdb_database_metadata`` table (the
collection names and indexes, never a document): granted here for the tables that exist, and by an event trigger,
as the cluster's owner, for each one FerretDB creates later.

The passwords are a directory of ``<principal>.password`` files made on this machine (0600, never committed), like
the broker's (``binhchon_kit.principals``). A service given ``MONGODB_CREDENTIALS_DIR`` signs in as itself with the
password found there; ``grants_sql`` is what the stack runs in PostgreSQL (``stack.sh`` pipes it to ``psql``),
idempotent: run again after a rotation it sets the new passwords, and it hands a schema made before the store was
locked (and its tables) to its service.

Genuine MongoDB (compose's production default) has its own users: infra/compose creates them with ``readWrite``
on their own database only, and services sign in with ``MONGODB_AUTH_MECHANISM=SCRAM-SHA-256``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from binhchon_kit.principals import AUDITOR, SERVICES, principal_of, write_password_files

STORE_PRINCIPALS = (AUDITOR, *SERVICES)
# the PostgreSQL database FerretDB keeps every schema in (infra/local/postgres.sh creates it)
FERRETDB_DATABASE = "ferretdb"
METADATA_TABLE = "_ferretdb_database_metadata"
# a role without login that every principal is a member of: it may read FerretDB's catalogue of each database
CATALOGUE_READERS = "binhchon_store_catalogue"


def database_of(service: str) -> str:
    """The database a service keeps its events and read models in (``ServiceSettings.database_name``)."""
    return f"binhchon_{service}"


def signed_in_url(url: str, username: str, password: str, mechanism: str = "PLAIN", source: str = "") -> str:
    """``url`` with the user and password in it, and the mechanism to send them with; a URL that already names a
    user is returned as it is (ops gave the full sign-in themselves)."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return url
    query = dict(parse_qsl(parts.query))
    query.setdefault("authMechanism", mechanism)
    if source:
        query.setdefault("authSource", source)
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", urlencode(query), parts.fragment))


def redacted(url: str) -> str:
    """``url`` with its password masked, for logs and the tests' banner."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def service_url(url: str, service: str, credentials_dir: str, mechanism: str = "PLAIN", source: str = "") -> str:
    """The store URL the process named ``service`` connects with: signed in as its principal when a credentials
    directory is given (a second instance, ``notify-replay``, is still ``notify``)."""
    if not credentials_dir:
        return url
    principal = principal_of(service)
    file = Path(credentials_dir) / f"{principal}.password"
    if not file.is_file():
        raise ValueError(f"MONGODB_CREDENTIALS_DIR has no {file.name}: the store principal {principal!r} is unknown")
    return signed_in_url(url, principal, file.read_text().strip(), mechanism, source)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grants_sql(passwords: Mapping[str, str], databases: Mapping[str, str] | None = None,
               auditor: str | None = AUDITOR, pg_database: str = FERRETDB_DATABASE) -> str:
    """The PostgreSQL statements that make each principal of ``passwords`` a role with that password, each service
    the owner of its database's schema (``databases``: service → database, by default ``binhchon_<service>``), and
    ``auditor`` a reader of them all. Idempotent."""
    databases = dict(databases) if databases is not None else {s: database_of(s) for s in passwords if s != auditor}
    readers = _ident(CATALOGUE_READERS)
    lines = ["SET client_min_messages = warning;",
             f"REVOKE CREATE ON DATABASE {_ident(pg_database)} FROM PUBLIC;", *_catalogue_sql()]
    for principal, password in passwords.items():
        role = _ident(principal)
        lines += [
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(principal)}) "
            f"THEN CREATE ROLE {role} LOGIN; END IF; END $$;",
            f"ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {_literal(password)};",
            f"GRANT CONNECT ON DATABASE {_ident(pg_database)} TO {role};",
            f"GRANT {readers} TO {role};",
        ]
    for service, database in databases.items():
        role, schema = _ident(service), _ident(database)
        lines += [
            f"GRANT CREATE ON DATABASE {_ident(pg_database)} TO {role};",
            f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role};",
            f"ALTER SCHEMA {schema} OWNER TO {role};",
            # tables made before the store was locked (by FerretDB's default user) become the service's
            "DO $$ DECLARE t record; BEGIN FOR t IN SELECT tablename FROM pg_tables "
            f"WHERE schemaname = {_literal(database)} AND tableowner <> {_literal(service)} LOOP "
            f"EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', {_literal(database)}, t.tablename, "
            f"{_literal(service)}); END LOOP; END $$;",
        ]
        if auditor and auditor in passwords:
            reader = _ident(auditor)
            lines += [
                f"GRANT USAGE ON SCHEMA {schema} TO {reader};",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reader};",
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {role} IN SCHEMA {schema} GRANT SELECT ON TABLES TO {reader};",
            ]
    return "\n".join(lines) + "\n"


def _catalogue_sql() -> list[str]:
    """The catalogue readers' role, their grant on every FerretDB metadata table there is, and the event trigger that
    grants it on each one FerretDB creates from now on (the trigger's function runs as the cluster's owner)."""
    readers, table = _ident(CATALOGUE_READERS), _literal(METADATA_TABLE)
    return [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(CATALOGUE_READERS)}) "
        f"THEN CREATE ROLE {readers} NOLOGIN; END IF; END $$;",
        "DO $$ DECLARE t record; BEGIN FOR t IN SELECT schemaname FROM pg_tables "
        f"WHERE tablename = {table} LOOP "
        f"EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', t.schemaname, {_literal(CATALOGUE_READERS)}); "
        f"EXECUTE format('GRANT SELECT ON %I.%I TO %I', t.schemaname, {table}, {_literal(CATALOGUE_READERS)}); "
        "END LOOP; END $$;",
        "CREATE OR REPLACE FUNCTION binhchon_share_ferretdb_catalogue() RETURNS event_trigger "
        "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$ "
        "DECLARE c record; BEGIN FOR c IN SELECT * FROM pg_event_trigger_ddl_commands() "
        f"WHERE command_tag = 'CREATE TABLE' AND object_identity LIKE '%.' || {table} LOOP "
        f"EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', c.schema_name, {_literal(CATALOGUE_READERS)}); "
        f"EXECUTE format('GRANT SELECT ON %s TO %I', c.object_identity, {_literal(CATALOGUE_READERS)}); "
        "END LOOP; END $$;",
        "DROP EVENT TRIGGER IF EXISTS binhchon_share_ferretdb_catalogue;",
        "CREATE EVENT TRIGGER binhchon_share_ferretdb_catalogue ON ddl_command_end WHEN TAG IN ('CREATE TABLE') "
        "EXECUTE FUNCTION binhchon_share_ferretdb_catalogue();",
    ]


def end_sessions_sql(principal: str) -> str:
    """After a rotation: end the role's open sessions. PostgreSQL checks a password only when a session starts, and
    FerretDB keeps a pool of them per user and password, so the old password would go on working until then."""
    return (f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = {_literal(principal)};\n")


def read_passwords(directory: Path, names: tuple[str, ...] = STORE_PRINCIPALS) -> dict[str, str]:
    return {name: (directory / f"{name}.password").read_text().strip() for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m binhchon_kit.store_principals",
                                     description="the store's principals: credentials, and PostgreSQL's grants")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("credentials", help="write a password file per principal (kept if present)").add_argument("dir")
    sql = sub.add_parser("sql", help="print the SQL that creates the roles and grants (pipe it to psql)")
    sql.add_argument("dir")
    sql.add_argument("--rotated", metavar="PRINCIPAL", help="also end that principal's sessions (a rotation)")
    args = parser.parse_args(argv)
    directory = Path(args.dir)
    if args.command == "credentials":
        write_password_files(directory, STORE_PRINCIPALS)
        print(directory)
    else:
        sys.stdout.write(grants_sql(read_passwords(directory)))
        if args.rotated:
            sys.stdout.write(end_sessions_sql(args.rotated))
    return 0


if __name__ == "__main__":
    sys.exit(main())
