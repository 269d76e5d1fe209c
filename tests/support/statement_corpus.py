"""A reproducible corpus of SQL texts for parser robustness: valid, malformed, huge, unicode, deep."""

from __future__ import annotations

import random

TEMPLATES = [
    "SELECT * FROM orders WHERE order_id = {n}",
    "SELECT customer_id, sum(total_amount) FROM orders WHERE order_date > '2024-0{m}-01' GROUP BY 1",
    "SELECT * FROM t WHERE id IN ({inlist})",
    "UPDATE accounts SET balance = balance - {n} WHERE id = {k} RETURNING balance",
    "DELETE FROM sessions WHERE last_seen < now() - interval '{n} days'",
    "INSERT INTO log (a, b, c) VALUES ({n}, '{word}', {k}) ON CONFLICT (a) DO UPDATE SET b = EXCLUDED.b",
    "WITH recent AS (SELECT * FROM events WHERE ts > now() - interval '1 hour') "
    "SELECT kind, count(*) OVER (PARTITION BY kind ORDER BY ts) FROM recent LIMIT {n}",
    "CREATE TABLE IF NOT EXISTS t{n} (id bigint PRIMARY KEY, payload jsonb, created timestamptz DEFAULT now())",
    "SELECT payload->>'{word}' FROM docs WHERE payload @> '{{\"k\": {n}}}'::jsonb",
    "SELECT lateral_t.* FROM a, LATERAL (SELECT * FROM b WHERE b.a_id = a.id LIMIT {k}) AS lateral_t",
    "MERGE INTO target t USING source s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v "
    "WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)",
    "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM big WHERE x BETWEEN {n} AND {k}",
    "SELECT $1::int + {n}",
    "VACUUM (VERBOSE, ANALYZE) t{k}",
    "COPY t{n} FROM STDIN WITH (FORMAT csv)",
    "SELECT 1; SELECT {n}",
]

UNICODE = ["données", "表格", "Ωμέγα", "🐘🚀", "e\u0301", "مرحبا", "\u200bzero", "𝔘𝔫𝔦"]


def _valid(rng: random.Random) -> str:
    return rng.choice(TEMPLATES).format(
        n=rng.randint(-10**9, 10**9), k=rng.randint(0, 99), m=rng.randint(1, 9),
        word=rng.choice(["alpha", "beta", "o''brien", *UNICODE]),
        inlist=", ".join(str(rng.randint(0, 999)) for _ in range(rng.randint(1, 30))),
    )


def _malformed(rng: random.Random) -> str:
    text = _valid(rng)
    cut = rng.randint(0, len(text))
    choice = rng.randrange(5)
    if choice == 0:
        return text[:cut]
    if choice == 1:
        return text[:cut] + rng.choice(["'", '"', "(", ")))", "$$", "/*", "--", "\\", "E'\\"]) + text[cut:]
    if choice == 2:
        return "".join(rng.choice("();,'\"$*/-+=<>!~@#%^&|[]{}:.\\ \n\t") for _ in range(rng.randint(1, 200)))
    if choice == 3:
        return " ".join(rng.choice(["SELECT", "FROM", "WHERE", "JOIN", "ON", "GROUP", "BY", "(", ")", ",", "1"])
                        for _ in range(rng.randint(1, 60)))
    return "".join(chr(rng.randint(1, 0xD7FF)) for _ in range(rng.randint(1, 300)))


def _unicode(rng: random.Random) -> str:
    word = rng.choice(UNICODE)
    return f'SELECT "{word}", \'{word}{rng.randint(0, 9)}\' FROM "{word}表" WHERE "列" = \'{word}\''


def _huge(rng: random.Random, index: int) -> str:
    kind = index % 4
    if kind == 0:  # a 1 MiB string literal
        return "SELECT '" + "x" * (1 << 20) + "'"
    if kind == 1:  # a 50,000-element IN list
        return "SELECT * FROM t WHERE id IN (" + ", ".join(str(i) for i in range(50_000)) + ")"
    if kind == 2:  # 20,000 statements in one text
        return "; ".join(f"SELECT {i}" for i in range(20_000))
    return "SELECT " + " + ".join(f"c{i}" for i in range(30_000)) + " FROM t"


def _deep(depth: int) -> str:
    return "SELECT " + "(" * depth + "1" + ")" * depth


def corpus(size: int = 10_000, seed: int = 20261121) -> list[str]:
    """``size`` statements: mostly valid, a fifth malformed, plus unicode, huge and deeply nested ones."""
    rng = random.Random(seed)
    out: list[str] = []
    for depth in (100, 1_000, 10_000, 100_000, 1_000_000):
        out.append(_deep(depth))
    out += [_huge(rng, i) for i in range(8)]
    out += ["", " ", ";", "--", "/*", "\n\n"]
    while len(out) < size:
        roll = rng.random()
        out.append(_malformed(rng) if roll < 0.2 else _unicode(rng) if roll < 0.3 else _valid(rng))
    return out[:size]
