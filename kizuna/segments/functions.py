"""SQL the ORM lacks, the same on SQLite and PostgreSQL."""

import ipaddress
from functools import lru_cache

from django.db.backends.signals import connection_created
from django.db.models import BooleanField, Func
from django.dispatch import receiver


class IPInNetwork(Func):
    """The IP address column is this address or inside this CIDR block.

    PostgreSQL compares `inet` natively (<<=); SQLite stores the text, so a small SQL function
    (registered on every SQLite connection) does the same test with Python's ipaddress."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column, network: str):
        super().__init__(column)
        self.network = network

    def as_sql(self, compiler, connection, **extra):
        column_sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"({column_sql} <<= %s::cidr)", [*params, self.network]
        return f"(kizuna_ip_in({column_sql}, %s) = 1)", [*params, self.network]


@lru_cache(maxsize=256)
def _network(text: str):
    return ipaddress.ip_network(text, strict=False)


def ip_in(address, network) -> int:
    if not address or not network:
        return 0
    try:
        return int(ipaddress.ip_address(address) in _network(network))
    except ValueError:
        return 0


@receiver(connection_created, dispatch_uid="segments.sqlite_functions")
def add_sqlite_functions(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("kizuna_ip_in", 2, ip_in, deterministic=True)
