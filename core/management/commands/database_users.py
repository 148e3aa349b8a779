"""Create or update the database user the services run as: rows only, never the schema.

The migrate task runs this after `migrate`, as the database's owner (deploy/service.yaml): the
owner changes the schema; web, workers and beat connect as this user, which may read and write
rows of the service's database and nothing else. A request that someone turns into SQL of their
own (a bug, an injection) cannot drop a table, alter one, read another database or make a user.

Idempotent, so every rollout runs it: a user that exists gets the password it is given (rotating
a secret is changing it and running the migrate task), and its privileges are set back to
exactly these if anyone widened them.
"""

import re
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

# What the services do to rows: SELECT ... FOR UPDATE needs SELECT and UPDATE.
RUNTIME_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# MySQL's user names: at most 32 characters; only these, so a name is never quoted wrongly.
USER_NAME = re.compile(r"[A-Za-z0-9_]{1,32}")
# A host pattern as MySQL takes it: a name, an address, or % for any.
HOST = re.compile(r"[A-Za-z0-9_.%:-]{1,255}")


class Command(BaseCommand):
    help = (
        "Create or update the services' database user (DATABASE_APP_USER, DATABASE_APP_PASSWORD"
        " from the environment) with SELECT, INSERT, UPDATE and DELETE on this database only. "
        "Run as the database's owner, after migrate (the migrate task does). MySQL / MariaDB."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            default="%",
            help="where the user may connect from (default %%: the VPC's security groups "
            "decide who reaches the database)",
        )
        parser.add_argument(
            "--require-tls",
            action="store_true",
            help="refuse the user's connections without TLS (production: RDS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "mysql":
            raise CommandError("database_users manages MySQL / MariaDB users only.")
        user = settings.DATABASE_APP_USER
        password = settings.DATABASE_APP_PASSWORD
        host = options["host"]
        if not USER_NAME.fullmatch(user):
            raise CommandError("DATABASE_APP_USER must be 1-32 letters, digits or underscores.")
        if not HOST.fullmatch(host):
            raise CommandError(f"--host {host!r} is not a host pattern MySQL takes.")
        if len(password) < 20:
            raise CommandError("DATABASE_APP_PASSWORD must be set, at least 20 characters.")
        if user == connection.settings_dict["USER"]:
            raise CommandError(
                f"DATABASE_APP_USER is the user this command connects as ({user}): the "
                "services' user must not be the owner."
            )
        database = connection.settings_dict["NAME"]
        account = f"'{user}'@'{host}'"
        tls = " REQUIRE SSL" if options["require_tls"] else " REQUIRE NONE"
        grant = f"GRANT {', '.join(RUNTIME_PRIVILEGES)} ON {connection.ops.quote_name(database)}.*"
        with connection.cursor() as cursor:
            # The password travels as a parameter: the driver escapes it, whatever it holds
            # (and reads % as its placeholders' mark: the host's % is doubled).
            named = account.replace("%", "%%")
            cursor.execute(f"CREATE USER IF NOT EXISTS {named} IDENTIFIED BY %s{tls}", [password])
            cursor.execute(f"ALTER USER {named} IDENTIFIED BY %s{tls}", [password])
            # Additive and idempotent: afterwards the user has these at least.
            cursor.execute(f"{grant} TO {account}")
            cursor.execute(f"SHOW GRANTS FOR {account}")
            others = [
                line
                for (line,) in cursor.fetchall()
                if not line.startswith(("GRANT USAGE ON *.* TO", f"{grant} TO"))
            ]
            if others:
                # Someone widened it (ALL on this database, another database, a global
                # privilege): back to exactly the rows of this database.
                cursor.execute(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}")
                cursor.execute(f"{grant} TO {account}")
        self.stdout.write(
            f"{user}@{host}: {', '.join(RUNTIME_PRIVILEGES)} on {database}"
            f"{', TLS required' if options['require_tls'] else ''}"
        )
