"""SQL the ORM lacks, the same on SQLite and PostgreSQL."""

import ipaddress
from functools import lru_cache

from django.db.backends.signals import connection_created
from django.db.models import BooleanField, Expression, F, Func, Q
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


class ContactHasRows(Expression):
    """The contact has `at_least` (and at most `at_most`) rows - or distinct values of their
    `counted` column - in the union of `arms`: querysets selecting the contact's id as `cid`
    (and the value as `counted`), not correlated with the contact.

    The set of contact ids is built once for all contacts, not counted once a contact:
    `id IN (…)`, which both databases build once (a semi-join or a hashed set). Where the
    condition is negated outside any OR (`anti_join`, set by the compiler), PostgreSQL gets
    `NOT EXISTS (… WHERE cid = contact.id)` instead: an anti-join, where a NOT IN becomes a
    scan a row once its set outgrows work_mem. Not EXISTS elsewhere: under an OR PostgreSQL
    costs it as a scan a row and JIT-compiles the query for that, slower than the query."""

    output_field = BooleanField()
    conditional = True

    def __init__(
        self, arms, at_least: int = 1, at_most: int | None = None, distinct=False, *, tests=None
    ):
        """`tests`, instead of the bounds: [(column, distinct, at_least, at_most)], any of which
        the contact's count of non-null `column` values (distinct ones) must pass."""
        super().__init__()
        self.contact = F("pk")
        self.arms = arms
        self.tests = tests or [("counted" if distinct else None, distinct, at_least, at_most)]
        self.anti_join = False

    def get_source_expressions(self):
        return [self.contact]

    def set_source_expressions(self, expressions):
        (self.contact,) = expressions

    def as_sql(self, compiler, connection, **extra):
        contact_sql, contact_params = compiler.compile(self.contact)
        parts, params = [], []
        for arm in self.arms:
            sql, arm_params = arm.query.get_compiler(connection=connection).as_sql()
            parts.append(sql)
            params += arm_params
        rows = " UNION ALL ".join(parts)  # SQLite takes no parentheses around the parts
        contacts = f"SELECT x.cid FROM ({rows}) AS x"  # noqa: S608 - compiled SQL only
        if self.tests != [(None, False, 1, None)]:  # any row will not do: count them
            passes = []
            for column, distinct, at_least, at_most in self.tests:
                number = f"COUNT(x.{column})" if column else "COUNT(*)"
                if distinct:
                    number = f"COUNT(DISTINCT x.{column})"
                passes.append(f"{number} >= %s")
                params.append(at_least)
                if at_most is not None:
                    passes[-1] += f" AND {number} <= %s"
                    params.append(at_most)
            contacts += " GROUP BY x.cid HAVING " + " OR ".join(f"({p})" for p in passes)
        if self.anti_join and connection.vendor == "postgresql":
            sql = f"EXISTS (SELECT 1 FROM ({contacts}) AS g WHERE g.cid = {contact_sql})"  # noqa: S608
            return sql, [*params, *contact_params]
        return f"{contact_sql} IN ({contacts})", [*contact_params, *params]


def mark_anti_joins(q: Q, negated: bool = False, under_or: bool = False) -> None:
    """Set `anti_join` on each ContactHasRows of `q` that is negated outside any OR, as the
    database sees it: NOT pushed down to the conditions (NOT (a OR b) is NOT a AND NOT b)."""
    negated ^= q.negated
    effective = q.connector if not negated else (Q.OR if q.connector == Q.AND else Q.AND)
    under_or = under_or or (effective == Q.OR and len(q.children) > 1)
    for child in q.children:
        if isinstance(child, Q):
            mark_anti_joins(child, negated, under_or)
        elif isinstance(child, ContactHasRows):
            child.anti_join = negated and not under_or


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
