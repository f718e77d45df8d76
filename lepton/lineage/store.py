"""The governance lineage graph: typed nodes (files, batches, validations, datasets,
runs, model versions) and typed edges that pin the exact upstream version consumed.

SQLAlchemy Core so the same code runs on the embedded SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from filelock import FileLock

from lepton.storage import ensure_sqlite_parent, sqlite_path

metadata = sa.MetaData()

nodes = sa.Table(
    "lineage_nodes",
    metadata,
    sa.Column("node_id", sa.String(300), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False, index=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("attrs", sa.Text, nullable=False, default="{}"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

edges = sa.Table(
    "lineage_edges",
    metadata,
    sa.Column("src", sa.String(300), sa.ForeignKey("lineage_nodes.node_id"), nullable=False, index=True),
    sa.Column("dst", sa.String(300), sa.ForeignKey("lineage_nodes.node_id"), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("code_version", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("src", "dst", "kind"),
)


@dataclass(frozen=True)
class Node:
    node_id: str
    kind: str
    name: str
    attrs: dict


def node_id(kind: str, key: str) -> str:
    return f"{kind}:{key}"


class LineageStore:
    def __init__(self, url: str):
        self.url = url
        ensure_sqlite_parent(url)
        # concurrent runs write to one SQLite file: wait for its lock rather than fail at once
        connect_args = {"timeout": 60} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, future=True, connect_args=connect_args)
        db = sqlite_path(url)
        if db is None:
            metadata.create_all(self.engine)
        else:  # two runs creating the tables of a new file at once would collide
            with FileLock(str(db) + ".init.lock"):
                metadata.create_all(self.engine)

    def _insert_ignore(self, table: sa.Table, row: dict) -> None:
        dialect = self.engine.dialect.name
        statement: sa.Executable
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(table).values(**row).on_conflict_do_nothing()
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(table).values(**row).on_conflict_do_nothing()
        else:
            raise NotImplementedError(f"lineage store does not support {dialect}")
        with self.engine.begin() as conn:
            conn.execute(statement)

    def add_node(self, kind: str, key: str, name: str | None = None, **attrs) -> str:
        """Idempotent: a node id names one immutable version, so a second write is a no-op."""
        nid = node_id(kind, key)
        self._insert_ignore(nodes, {
            "node_id": nid, "kind": kind, "name": name or key,
            "attrs": json.dumps(attrs, sort_keys=True, default=str),
            "created_at": datetime.now(timezone.utc),
        })
        return nid

    def add_edge(self, src: str, dst: str, kind: str, run_id: str | None = None,
                 code_version: str | None = None) -> None:
        self._insert_ignore(edges, {
            "src": src, "dst": dst, "kind": kind, "run_id": run_id,
            "code_version": code_version, "created_at": datetime.now(timezone.utc),
        })

    def get(self, nid: str) -> Node | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(nodes).where(nodes.c.node_id == nid)).first()
        return None if row is None else Node(row.node_id, row.kind, row.name, json.loads(row.attrs))

    def node(self, nid: str) -> Node:
        """`get` for a node that must exist (an edge's end, a caller's argument)."""
        found = self.get(nid)
        if found is None:
            raise LookupError(f"no lineage node {nid!r}")
        return found

    def find(self, kind: str, name: str | None = None) -> list[Node]:
        q = sa.select(nodes).where(nodes.c.kind == kind)
        if name is not None:
            q = q.where(nodes.c.name == name)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(nodes.c.created_at)).all()
        return [Node(r.node_id, r.kind, r.name, json.loads(r.attrs)) for r in rows]

    def parents(self, nid: str) -> list[tuple[str, str]]:
        """(parent node id, edge kind) pairs."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(edges.c.src, edges.c.kind).where(edges.c.dst == nid).order_by(edges.c.src)
            ).all()
        return [(r.src, r.kind) for r in rows]

    def children(self, nid: str) -> list[tuple[str, str]]:
        """(child node id, edge kind) pairs."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(edges.c.dst, edges.c.kind).where(edges.c.src == nid).order_by(edges.c.dst)
            ).all()
        return [(r.dst, r.kind) for r in rows]

    def edge(self, src: str, dst: str) -> dict | None:
        """The pinned facts of one edge: kind, Dagster run id, code version, time."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(edges).where(edges.c.src == src, edges.c.dst == dst)).first()
        return None if row is None else {"kind": row.kind, "run_id": row.run_id, "code_version": row.code_version,
                                         "created_at": row.created_at.isoformat()}

    def edges_touching(self, nids: list[str]) -> list[dict]:
        """Every edge into or out of any of `nids`, in one query, oldest first."""
        if not nids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(edges).where(sa.or_(edges.c.dst.in_(nids), edges.c.src.in_(nids)))
                                .order_by(edges.c.created_at, edges.c.src, edges.c.dst)).all()
        return [{"src": r.src, "dst": r.dst, "kind": r.kind, "run_id": r.run_id, "code_version": r.code_version,
                 "created_at": r.created_at.isoformat()} for r in rows]

    def upstream(self, nid: str) -> list[tuple[int, Node, str | None, str | None]]:
        """Breadth-first walk to the sources: (depth, node, edge kind, child id)."""
        out: list[tuple[int, Node, str | None, str | None]] = [(0, self.node(nid), None, None)]
        seen = {nid}
        queue = deque([(nid, 0)])
        while queue:
            cur, depth = queue.popleft()
            for parent, kind in self.parents(cur):
                if parent in seen:
                    continue
                seen.add(parent)
                out.append((depth + 1, self.node(parent), kind, cur))
                queue.append((parent, depth + 1))
        return out

    def render_upstream(self, nid: str) -> str:
        """An indented tree from the node down to its sources, for people; a node reached
        twice is printed once and referred to after that."""
        self.node(nid)
        lines: list[str] = []
        printed: set[str] = set()

        def walk(cur: str, depth: int, via: str | None) -> None:
            node = self.node(cur)
            prefix = "  " * depth + (f"<-[{via}]- " if via else "")
            if cur in printed:
                lines.append(f"{prefix}{node.kind} {node.name}  (shown above)")
                return
            printed.add(cur)
            summary = ", ".join(f"{k}={v}" for k, v in sorted(node.attrs.items())
                                if isinstance(v, (int, float, str)) and len(str(v)) <= 40)
            lines.append(f"{prefix}{node.kind} {node.name}" + (f"  ({summary})" if summary else ""))
            for parent, kind in self.parents(cur):
                walk(parent, depth + 1, kind)

        walk(nid, 0, None)
        return "\n".join(lines)
