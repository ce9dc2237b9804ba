"""Write a simulated :class:`World` as extract files, exactly as ``layout.py`` lays out.

Big files are built and written by DuckDB: each source becomes a table of text
columns (the exact text a CSV cell holds), sorted by extract day, and one
``COPY`` per day writes it out.

- CSV and CSV.gz: every row is rendered to one line in SQL (RFC 4180 quoting,
  empty field = null) and written through DuckDB's CSV writer as a single
  unquoted column, so malformed lines (a wrong column count) can sit among the
  valid ones.
- Parquet: every column is written as text (``VARCHAR``), holding the same text
  the CSV would hold. Typed Parquet could not carry the malformed values (a bad
  timestamp, a non-numeric code) the loaders must quarantine; parsing text is
  the loader's job for every format alike.
- Webhooks: JSON Lines; bodies are assembled in SQL from statuses and inbound
  messages. Templates (small) are written from Python.

Malformed rows and lines are corrupted *copies* of valid ones, written right
after their original: they never change the ground truth.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration.generator import catalog as cat
from orchestration.generator.simulate import MS_D, SALT_DISPATCH, World, scramble
from orchestration.layout import SOURCES
from orchestration.progress_lines import ProgressLines

BAD_TIMESTAMPS = ("2026-02-30T10:00:00Z", "not a date", "2026-10-01T25:61:00Z")
#: bodies assembled per statement (bounds the memory the JSON assembly takes)
WEBHOOK_CHUNK = 200_000
#: a separator no line contains: DuckDB's CSV writer then writes each line as is
_RAW = "\x1f"

MACROS = r"""
create or replace macro ts_text(ms) as strftime(epoch_ms(ms), '%Y-%m-%dT%H:%M:%S.%gZ');
create or replace macro hex12(k) as printf('%012x', k);
create or replace macro wamid(k) as 'wamid.HBgM' || printf('%015X', k);
create or replace macro csvq(v) as case
    when v is null then ''
    when contains(v, ',') or contains(v, '"') or contains(v, chr(10)) or contains(v, chr(13))
        then '"' || replace(v, '"', '""') || '"'
    else v end;
create or replace macro offset_text(ms) as case when ms = 0 then 'Z' else
    (case when ms < 0 then '-' else '+' end)
    || lpad((abs(ms) // 3600000)::varchar, 2, '0') || ':'
    || lpad(((abs(ms) % 3600000) // 60000)::varchar, 2, '0') end;
"""


#: One JSON text per status / inbound message of the chunk's bodies.
ITEM_JSON_SQL = """
create or replace table item_json as
select i.row, i.kind, null as contact,
  '{"id":"' || wamid(s.wkey) || '","status":"' || s.status
  || '","timestamp":"' || s.ts || '","recipient_id":"'
  -- WhatsApp may report a rewritten number (Brazil: without the 9th digit)
  || case when u.digits like '55%' and length(u.digits) = 13 and s.wkey % 3 = 0
          then substr(u.digits, 1, 4) || substr(u.digits, 6) else u.digits end || '"'
  || case when s.pricing and wb.pricing_model = 'CBP'
          then ',"conversation":{"id":"' || md5(s.wkey::varchar)
               || '","origin":{"type":"' || s.category || '"}}'
          else '' end
  || case when s.pricing
          then ',"pricing":{"billable":' || case when s.billable then 'true' else 'false' end
               || ',"pricing_model":"' || wb.pricing_model || '",'
               || case when wb.pricing_model = 'PMP' then '"type":"regular",' else '' end
               || '"category":"' || s.category || '"}'
          else '' end
  || case when s.code1 >= 0
          then ',"errors":[' || e1.err || coalesce(',' || e2.err, '') || ']'
          else '' end
  || '}' as item
from items i
join st s on i.kind = 0 and s.row = i.row
join wabas wb on wb.acc = i.acc
join users u on u.uid = s.uid
left join errs e1 on e1.code = s.code1
left join errs e2 on e2.code = s.code2
where i.body >= $lo and i.body < $hi
union all
select i.row, i.kind,
  '{"profile":{"name":' || to_json(p.name) || '},"wa_id":"' || u.digits || '"}' as contact,
  '{"context":{"from":"' || wb.display_phone || '","id":"' || wamid(r.ctx_wkey) || '"}'
  || ',"from":"' || u.digits || '","id":"wamid.HBgL' || printf('%015X', r.in_key)
  || '","timestamp":"' || r.ts || '","type":"' || r.type || '"'
  || case r.type
       when 'button' then ',"button":{"payload":' || to_json(r.payload)
                          || ',"text":' || to_json(r.button_text) || '}'
       when 'interactive' then ',"interactive":{"type":"button_reply","button_reply":{"id":'
                               || to_json(r.payload) || ',"title":' || to_json(r.button_text)
                               || '}}'
       else ',"text":{"body":' || to_json(r.text_body) || '}' end
  || '}' as item
from items i
join rp r on i.kind = 1 and r.row = i.row
join wabas wb on wb.acc = i.acc
join users u on u.uid = r.uid
join profile_names p on p.i = r.uid % 8
where i.body >= $lo and i.body < $hi
"""

#: Each item's text with the brackets it opens and closes, then one text per body.
BODY_JSON_SQL = """
create or replace table body_json as
with pieces as (
  select i.body, i.pos,
    case when i.first_body then '{"object":"whatsapp_business_account","entry":[' else '' end
    || case when i.first_entry
            then case when i.first_body then '' else ',' end
                 || '{"id":"' || wb.waba_id || '","changes":['
            else '' end
    || case when i.first_change
            then case when i.first_entry then '' else ',' end
                 || '{"value":{"messaging_product":"whatsapp","metadata":'
                 || '{"display_phone_number":"' || wb.display_phone
                 || '","phone_number_id":"' || wb.phone_number_id || '"},'
                 || case when i.kind = 1
                         then '"contacts":[' || j.contact || '],"messages":['
                         else '"statuses":[' end
            else ',' end
    || j.item
    || case when i.last_change then ']},"field":"messages"}' else '' end
    || case when i.last_entry then ']}' else '' end
    || case when i.last_body then ']}' else '' end as piece
  from items i
  join item_json j using (kind, row)
  join wabas wb on wb.acc = i.acc
  where i.body >= $lo and i.body < $hi
)
select body,
  array_to_string(
    list_transform(list_sort(list({'p': pos, 's': piece})), lambda x: x.s), ''
  ) as body_json
from pieces
group by body
"""

#: One line per delivery (a body delivered twice gives two lines).
WEBHOOK_LINES_SQL = """
insert into src
select '{"delivery_id":"' || md5('delivery-' || b.delivery_key)
       || '","received_at":"' || ts_text(b.recv_ms)
       || '","body":' || j.body_json || '}' as line,
  b.day as _day, b.ord as _ord, b.copy = 1 as _dup
from bodies b
join body_json j using (body)
where b.body >= $lo and b.body < $hi
"""


@dataclass
class WriteStats:
    rows_written: dict[str, int] = field(default_factory=dict)
    duplicates_written: dict[str, int] = field(default_factory=dict)
    malformed_written: dict[str, int] = field(default_factory=dict)
    bytes_written: int = 0


def csv_quote(value: str | None) -> str:
    """Python twin of the SQL ``csvq`` macro, for the few malformed lines."""
    if value is None:
        return ""
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _sql_text(value: object) -> str:
    """A single-quoted SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _day_name(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


class _Writer:
    def __init__(self, w: World, out: Path, fmt: str, progress: ProgressLines) -> None:
        self.w = w
        self.progress = progress
        self.out = out
        self.fmt = fmt
        self.rng = np.random.default_rng([w.cfg.seed, 0xF11E])
        self.con = duckdb.connect()
        self.con.execute("set threads = 2")
        self.con.execute(MACROS)
        self.stats = WriteStats()

    # ------------------------------------------------------------------ helpers

    def register(self, name: str, df: pd.DataFrame) -> None:
        self.con.register(f"{name}_df", df)
        self.con.execute(f"create or replace table {name} as select * from {name}_df")
        self.con.unregister(f"{name}_df")

    def path(self, source: str, day: int | None, ext: str) -> Path:
        folder = self.out / SOURCES[source].folder
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{source}.{ext}" if day is None else f"{source}-{_day_name(day)}.{ext}"
        assert SOURCES[source].match(name), name
        return folder / name

    def drop(self, *tables: str) -> None:
        for table in tables:
            self.con.execute(f"drop table if exists {table}")

    def copy_lines(self, table: str, day: int | None, path: Path, gz: bool) -> None:
        where = "_day is null" if day is None else f"_day = {int(day)}"
        self.con.execute(
            f"copy (select line from {table} where {where} order by _ord) to {_sql_text(path)} "
            f"(format csv, header false, quote '', escape '', delimiter '{_RAW}', "
            f"compression '{'gzip' if gz else 'none'}')"
        )

    # ------------------------------------------------------------------ tabular sources

    def tabular(
        self,
        source: str,
        select_sql: str,
        days: list[int | None],
        fmt: str,
        corrupt: dict[str, list[str]],
        wrong_width: int,
        optional: tuple[str, ...] = (),
        corrupt_where: dict[str, str] | None = None,
    ) -> None:
        """Write one tabular source from ``select_sql`` (text columns + _day, _ord, _dup).

        ``corrupt`` maps a column to replacement values: each value yields one
        malformed copy of a random valid row with that column replaced (a row
        that also meets ``corrupt_where[column]``, SQL, when given).
        ``optional``: optional contract columns written after the required ones.
        """
        cols = [*SOURCES[source].column_names, *optional]
        self.con.execute(
            f"create or replace table src as select * from ({select_sql}) order by _day, _ord"
        )
        total, dups = self.con.execute(
            "select count(*), count(*) filter (where _dup) from src"
        ).fetchone()
        self.stats.rows_written[source] = int(total)
        self.stats.duplicates_written[source] = int(dups)
        bad = self._corrupt_rows(
            cols, corrupt, wrong_width if fmt != "parquet" else 0, corrupt_where or {}
        )
        self.stats.malformed_written[source] = len(bad)
        if fmt == "parquet":
            # corrupted copies join the valid rows (flagged as _dup so nothing samples them)
            if bad:
                self.con.executemany(
                    f"insert into src values ({', '.join('?' * (len(cols) + 3))})",
                    [[*values, day, ord_, True] for day, ord_, values in bad],
                )
            col_list = ", ".join(f'"{c}"' for c in cols)
            for done, day in enumerate(days, start=1):
                where = "_day is null" if day is None else f"_day = {int(day)}"
                self.con.execute(
                    f"copy (select {col_list} from src where {where} order by _ord) "
                    f"to {_sql_text(self.path(source, day, 'parquet'))} (format parquet)"
                )
                self.progress.tick(f"{source}: {done}/{len(days)} files written")
            self.drop("src")
            return
        header = ",".join(cols)
        line = " || ',' || ".join(f'csvq("{c}")' for c in cols)
        self.con.execute("create or replace table bad (line varchar, _day bigint, _ord bigint)")
        if bad:
            self.con.executemany(
                "insert into bad values (?, ?, ?)",
                [
                    [v if isinstance(v, str) else ",".join(csv_quote(x) for x in v), d, o]
                    for d, o, v in bad
                ],
            )
        day_rows = ", ".join("(null)" if d is None else f"({int(d)})" for d in days)
        self.con.execute(
            f"create or replace table out_lines as "
            f"select {line} as line, _day, _ord from src "
            f"union all select line, _day, _ord from bad "
            f"union all select '{header}', d, -1 from (values {day_rows}) t(d) order by _day, _ord"
        )
        for done, day in enumerate(days, start=1):
            self.copy_lines("out_lines", day, self.path(source, day, fmt), fmt == "csv.gz")
            self.progress.tick(f"{source}: {done}/{len(days)} files written")
        self.drop("src", "bad", "out_lines")

    def _corrupt_rows(
        self,
        cols: list[str],
        corrupt: dict[str, list[str]],
        wrong_width: int,
        corrupt_where: dict[str, str],
    ) -> list[tuple[int | None, int, list[str] | str]]:
        """Malformed copies of random valid rows: (day, ord, values or raw line)."""
        n_valid = self.con.execute("select count(*) from src where not _dup").fetchone()[0]
        jobs: list[tuple[str | None, str | None]] = [
            (c, v) for c, vs in corrupt.items() for v in vs
        ]
        jobs += [(None, None)] * wrong_width
        if n_valid == 0 or not jobs:
            return []
        out = []
        for i, (col, value) in enumerate(jobs):
            where = "not _dup" + (f' and "{col}" is not null' if col else "")
            if col in corrupt_where:
                where += f" and ({corrupt_where[col]})"
            count = self.con.execute(f"select count(*) from src where {where}").fetchone()[0]
            if count == 0:
                continue
            pos = int(self.rng.integers(0, count))
            row = self.con.execute(
                f"select * from src where {where} order by _day, _ord limit 1 offset {pos}"
            ).fetchone()
            names = [d[0] for d in self.con.description]
            rec = dict(zip(names, row, strict=True))
            values = [rec[c] for c in cols]
            if col is not None:
                values[cols.index(col)] = value
                out.append((rec["_day"], rec["_ord"] + 1, values))
            elif i % 2 == 0:
                out.append(
                    (rec["_day"], rec["_ord"] + 1, ",".join(csv_quote(x) for x in values[:-1]))
                )
            else:
                out.append(
                    (
                        rec["_day"],
                        rec["_ord"] + 1,
                        ",".join(csv_quote(x) for x in [*values, "extra"]),
                    )
                )
        return out

    # ------------------------------------------------------------------ sources

    def accounts(self) -> None:
        a = self.w.accounts
        self.register("accounts", a)
        self.tabular(
            "accounts",
            "select account_id, account_name, industry, country, timezone, currency, "
            "null::bigint as _day, 2 * acc as _ord, false as _dup from accounts",
            [None],
            "csv",
            {},
            wrong_width=1,
        )

    def campaigns(self) -> None:
        frames = []
        for day, rows in self.w.campaign_files:
            frames.append(rows.assign(_day=day, _seq=np.arange(len(rows))))
        c = pd.concat(frames, ignore_index=True)[
            [
                "campaign_id",
                "acc",
                "campaign_name",
                "campaign_type",
                "template_name",
                "template_language",
                "template_category",
                "goal_event",
                "conversion_window_hours",
                "created_ms",
                "_day",
                "_seq",
            ]
        ]
        self.register("campaign_rows", c)
        self.tabular(
            "campaigns",
            "select campaign_id, a.account_id, campaign_name, campaign_type, template_name, "
            "template_language, template_category, goal_event, "
            "conversion_window_hours::varchar as conversion_window_hours, "
            "ts_text(created_ms) as created_at, _day, 2 * _seq as _ord, false as _dup "
            "from campaign_rows c join accounts a using (acc)",
            [d for d, _ in self.w.campaign_files],
            "csv",
            {"created_at": [BAD_TIMESTAMPS[0]], "conversion_window_hours": ["72h"]},
            wrong_width=1,
        )

    def dispatches(self) -> None:
        w = self.w
        d = w.dispatches
        targeted = pd.DataFrame(
            {
                "idx": d["idx"],
                "acc": d["acc"],
                "cmp": d["cmp"],
                "send": d["send"],
                "uid": d["uid"],
                "attempted_ms": d["attempted_ms"],
                "sent": d["sent"],
                "holdout": False,
                "wkey": d["wkey"],
                "drop_code": d["drop_code"].astype("string"),
                "meta_error_code": d["meta_error_code"],
                "api": d["api"].astype("string"),
            }
        )
        frames = [targeted]
        h = w.holdouts
        if not h.empty:  # the control groups: HOLDOUT rows, no wamid, no drop code
            frames.append(
                pd.DataFrame(
                    {
                        "idx": h["idx"],
                        "acc": h["acc"],
                        "cmp": h["cmp"],
                        "send": h["send"],
                        "uid": h["uid"],
                        "attempted_ms": h["attempted_ms"],
                        "sent": False,
                        "holdout": True,
                        "wkey": np.int64(-1),
                        "drop_code": pd.Series(pd.NA, index=h.index, dtype="string"),
                        "meta_error_code": pd.Series(pd.NA, index=h.index, dtype="Int64"),
                        "api": h["api"].astype("string"),
                    }
                )
            )
        frame = pd.concat(frames, ignore_index=True)
        frame.insert(1, "dkey", scramble(frame["idx"].to_numpy(), SALT_DISPATCH))
        self.register("d", frame)
        self.register("sends", w.sends[["send", "send_id"]])
        self.register("campaign_ids", w.campaigns[["cmp", "campaign_id"]])
        users = w.users[["uid", "user_id", "phone", "digits"]]
        if not w.holdout_users.empty:  # the control groups' customers (never messaged)
            held = w.holdout_users[["uid", "user_id", "phone"]]
            users = pd.concat([users, held.assign(digits=held["phone"].str.slice(1))])
        self.register("users", users.astype({"phone": "string"}))
        self.register(
            "errors",
            pd.DataFrame(
                {"code": list(cat.ERROR_TITLES), "title": list(cat.ERROR_TITLES.values())}
            ),
        )
        self.tabular(
            "dispatches",
            "select 'dsp_' || hex12(dkey) as dispatch_id, a.account_id, c.campaign_id, s.send_id, "
            "u.user_id, u.phone as phone_number, ts_text(attempted_ms) as attempted_at, "
            "case when holdout then 'HOLDOUT' when sent then 'SENT' else 'DROPPED' end "
            "as result, "
            "case when sent then wamid(wkey) end as wamid, drop_code, "
            "meta_error_code::varchar as meta_error_code, e.title as meta_error_title, "
            "d.api, attempted_ms // 86400000 as _day, 2 * idx as _ord, false as _dup "
            "from d join accounts a using (acc) join campaign_ids c using (cmp) "
            "join sends s using (send) "
            "join users u using (uid) left join errors e on e.code = d.meta_error_code",
            self.w.days,
            self.fmt,
            {
                "attempted_at": list(BAD_TIMESTAMPS[:2]),
                "meta_error_code": ["131049x", "n/a"],
                # a sent message reported as withheld: a HOLDOUT row with a wamid
                "result": ["HOLDOUT"],
            },
            wrong_width=2,
            optional=("api",),
            corrupt_where={"result": "wamid is not null"},
        )

    def clicks(self) -> None:
        c = self.w.clicks
        self.register(
            "clicks",
            pd.DataFrame(
                {
                    "key": c["key"],
                    "wkey": c["wkey"],
                    "clicked_ms": c["clicked_ms"],
                    "url": c["url"].astype("string"),
                    "button_id": c["button_id"].astype("string"),
                    "card_index": c["card_index"],
                    "day": c["day"],
                    "dup_day": c["dup_day"],
                    "ord": np.arange(len(c)),
                }
            ),
        )
        body = (
            "select 'clk_' || hex12(key) as click_id, wamid(wkey) as wamid, "
            "ts_text(clicked_ms) as clicked_at, url, button_id, "
            "card_index::bigint::varchar as card_index, "
            "{day} as _day, 2 * ord as _ord, {dup} as _dup "
            "from clicks"
        )
        self.tabular(
            "clicks",
            body.format(day="day", dup="false")
            + " union all "
            + body.format(day="dup_day", dup="true")
            + " where dup_day >= 0",
            self.w.days,
            self.fmt,
            {"clicked_at": list(BAD_TIMESTAMPS[1:]), "card_index": ["first", "2nd"]},
            wrong_width=2,
        )

    def conversions(self) -> None:
        e = self.w.conversions
        self.register(
            "events",
            pd.DataFrame(
                {
                    "key": e["key"],
                    "acc": e["acc"],
                    "user_id": e["user_id"].astype("string"),
                    "event_name": e["event_name"].astype("string"),
                    "occurred_ms": e["occurred_ms"],
                    "offset_ms": e["offset_ms"],
                    "revenue_cents": e["revenue_cents"],
                    "currency": e["currency"].astype("string"),
                    "day": e["day"],
                    "dup_day": e["dup_day"],
                    "ord": np.arange(len(e)),
                }
            ),
        )
        body = (
            "select 'evt_' || hex12(key) as event_id, a.account_id, user_id, event_name, "
            "strftime(epoch_ms(occurred_ms + offset_ms), '%Y-%m-%dT%H:%M:%S.%g') "
            "|| offset_text(offset_ms) as occurred_at, "
            "case when revenue_cents is not null then (revenue_cents // 100)::varchar || '.' "
            "|| lpad((revenue_cents % 100)::varchar, 2, '0') end as revenue, events.currency, "
            "{day} as _day, 2 * ord as _ord, {dup} as _dup from events join accounts a using (acc)"
        )
        self.tabular(
            "conversions",
            body.format(day="day", dup="false")
            + " union all "
            + body.format(day="dup_day", dup="true")
            + " where dup_day >= 0",
            self.w.days,
            self.fmt,
            {"occurred_at": list(BAD_TIMESTAMPS[::2]), "revenue": ["USD 12.50"]},
            wrong_width=2,
        )

    def unsubscribes(self) -> None:
        u = self.w.unsubscribes
        self.register(
            "unsubs",
            pd.DataFrame(
                {
                    "key": u["key"],
                    "acc": u["acc"],
                    "user_id": u["user_id"].astype("string"),
                    "occurred_ms": u["occurred_ms"],
                    "source": u["source"].astype("string"),
                    "wkey": u["wkey"],
                    "day": u["day"],
                    "dup_day": u["dup_day"],
                    "ord": np.arange(len(u)),
                }
            ),
        )
        body = (
            "select 'uns_' || hex12(key) as unsubscribe_id, a.account_id, user_id, "
            "ts_text(occurred_ms) as occurred_at, source, "
            "case when wkey >= 0 then wamid(wkey) end as wamid, "
            "{day} as _day, 2 * ord as _ord, {dup} as _dup from unsubs join accounts a using (acc)"
        )
        self.tabular(
            "unsubscribes",
            body.format(day="day", dup="false")
            + " union all "
            + body.format(day="dup_day", dup="true")
            + " where dup_day >= 0",
            self.w.days,
            self.fmt,
            {"occurred_at": list(BAD_TIMESTAMPS[:2])},
            wrong_width=2,
        )

    # ------------------------------------------------------------------ templates

    def templates(self) -> None:
        w = self.w
        acc_ids = w.accounts["account_id"].to_numpy()
        lines_by_day: dict[int, list[str]] = {}
        first = w.first_ms // MS_D
        versions = [(first, False)]
        if w.template_change_day is not None:
            versions.append((first + w.template_change_day, True))
        buttons = w.buttons.sort_values(["tpl", "seq"])
        for day, v2 in versions:
            lines = []
            for t in w.templates.itertuples():
                if v2 and not t.changed:
                    continue
                lines.append(
                    json.dumps(
                        _template_json(t, acc_ids[t.acc], buttons[buttons["tpl"] == t.tpl], v2),
                        ensure_ascii=False,
                    )
                )
            lines_by_day[day] = lines
        last_day = versions[-1][0]
        good = sum(len(v) for v in lines_by_day.values())
        cut = lines_by_day[last_day][0]
        lines_by_day[last_day].insert(1, cut[: len(cut) // 2])  # a truncated line
        for day, lines in lines_by_day.items():
            self.path("templates", day, "jsonl").write_text(
                "\n".join(lines) + "\n", encoding="utf-8"
            )
        self.stats.rows_written["templates"] = good
        self.stats.duplicates_written["templates"] = 0
        self.stats.malformed_written["templates"] = 1

    # ------------------------------------------------------------------ webhooks

    def webhooks(self) -> None:
        w = self.w
        st, rp = w.statuses, w.replies
        camp = w.campaigns
        acc = w.accounts
        lite = acc["marketing_lite"].to_numpy()
        category = np.where(
            st["cmp"].to_numpy() >= 0,
            np.char.lower(
                camp["template_category"]
                .to_numpy()[np.maximum(st["cmp"].to_numpy(), 0)]
                .astype(str)
            ),
            "service",
        )
        category = np.where(
            (category == "marketing") & lite[st["acc"].to_numpy()], "marketing_lite", category
        )
        self.register(
            "st",
            pd.DataFrame(
                {
                    "row": np.arange(len(st)),
                    "wkey": st["wkey"],
                    "status": st["status"].astype("string"),
                    "ts": st["ts"],
                    "uid": st["uid"],
                    "code1": st["code1"],
                    "code2": st["code2"],
                    "pricing": st["pricing"],
                    "billable": st["billable"],
                    "category": pd.Series(category, dtype="string"),
                }
            ),
        )
        self.register(
            "rp",
            pd.DataFrame(
                {
                    "row": np.arange(len(rp)),
                    "in_key": rp["in_key"],
                    "ctx_wkey": rp["ctx_wkey"],
                    "uid": rp["uid"],
                    "type": rp["type"].astype("string"),
                    "payload": rp["payload"].astype("string"),
                    "button_text": rp["button_text"].astype("string"),
                    "text_body": rp["text_body"].astype("string"),
                    "ts": rp["ts"],
                }
            ),
        )
        self.register(
            "items",
            w.webhook_items[
                [
                    "kind",
                    "row",
                    "acc",
                    "body",
                    "pos",
                    "first_body",
                    "last_body",
                    "first_entry",
                    "last_entry",
                    "first_change",
                    "last_change",
                ]
            ],
        )
        bodies = w.webhook_bodies[["body", "recv_ms", "delivery_key", "day", "copy"]]
        self.register("bodies", bodies.assign(ord=2 * np.arange(1, len(bodies) + 1)))
        self.register(
            "wabas",
            acc[["acc", "waba_id", "phone_number_id", "display_phone", "pricing_model"]].astype(
                {
                    "waba_id": "string",
                    "phone_number_id": "string",
                    "display_phone": "string",
                    "pricing_model": "string",
                }
            ),
        )
        names = ["Ayşe", "Rahul", "Maria", "John", "Anna", "Kenji", "Mehmet", "Priya"]
        self.register("errs", _error_json_table())
        self.register(
            "profile_names",
            pd.DataFrame({"i": range(len(names)), "name": pd.Series(names, dtype="string")}),
        )
        self.progress.tick("webhooks: statuses, replies and bodies staged")
        # Bodies are assembled in chunks of body numbers, which bounds the memory used.
        self.con.execute(
            "create or replace table src (line varchar, _day bigint, _ord bigint, _dup boolean)"
        )
        n_bodies = int(w.webhook_items["body"].max()) + 1 if len(w.webhook_items) else 0
        chunks = range(0, n_bodies, WEBHOOK_CHUNK)
        for done, lo in enumerate(chunks, start=1):
            chunk = {"lo": lo, "hi": lo + WEBHOOK_CHUNK}
            for sql in (ITEM_JSON_SQL, BODY_JSON_SQL, WEBHOOK_LINES_SQL):
                self.con.execute(sql, chunk)
            self.progress.tick(f"webhooks: {done}/{len(chunks)} chunks of bodies assembled")
        self.drop("item_json", "body_json")
        total, dups = self.con.execute(
            "select count(*), count(*) filter (where _dup) from src"
        ).fetchone()
        self.stats.rows_written["webhooks"] = int(total)
        self.stats.duplicates_written["webhooks"] = int(dups)
        bad = self._corrupt_webhooks()
        self.stats.malformed_written["webhooks"] = len(bad)
        if bad:
            self.con.executemany("insert into src values (?, ?, ?, true)", bad)
        gz = self.fmt == "csv.gz"
        for done, day in enumerate(w.days, start=1):
            self.copy_lines(
                "src", day, self.path("webhooks", day, "jsonl.gz" if gz else "jsonl"), gz
            )
            self.progress.tick(f"webhooks: {done}/{len(w.days)} daily files written")
        self.drop("src", "items", "st", "rp")

    def _corrupt_webhooks(self) -> list[tuple[str, int, int]]:
        out = []

        def sample(where: str, k: int) -> list[tuple[str, int, int]]:
            ords = [
                r[0]
                for r in self.con.execute(
                    f"select _ord from src where not _dup and {where} order by _ord"
                ).fetchall()
            ]
            if not ords:
                return []
            chosen = sorted(self.rng.choice(ords, min(k, len(ords)), replace=False).tolist())
            return self.con.execute(
                "select line, _day, _ord from src where list_contains(?, _ord) order by _ord",
                [chosen],
            ).fetchall()

        def new_delivery(line: str, n: int) -> str:
            did = hashlib.md5(f"malformed-{self.w.cfg.seed}-{n}".encode()).hexdigest()
            return re.sub(r'"delivery_id":"[0-9a-f]+"', f'"delivery_id":"{did}"', line, count=1)

        n = 0
        for line, day, ord_ in sample("true", 2):  # truncated in transit
            n += 1
            out.append((new_delivery(line, n)[: len(line) // 2], day, ord_ + 1))
        for line, day, ord_ in sample(
            "contains(line, '\"statuses\":[')", 2
        ):  # non-numeric timestamp
            n += 1
            iso = datetime.fromtimestamp(int(re.search(r'"timestamp":"(\d+)"', line).group(1)), UTC)
            fixed = re.sub(
                r'"timestamp":"\d+"',
                f'"timestamp":"{iso:%Y-%m-%dT%H:%M:%SZ}"',
                new_delivery(line, n),
                count=1,
            )
            out.append((fixed, day, ord_ + 1))
        for line, day, ord_ in sample(
            'contains(line, \'"errors":[{"code":\')', 2
        ):  # non-numeric code
            n += 1
            fixed = re.sub(r'"code":(\d+)', r'"code":"E\1"', new_delivery(line, n), count=1)
            out.append((fixed, day, ord_ + 1))
        return out


def _error_json_table() -> pd.DataFrame:
    codes = list(cat.ERROR_TITLES)
    err = [
        json.dumps(
            {
                "code": c,
                "title": cat.ERROR_TITLES[c],
                "message": cat.ERROR_TITLES[c],
                "error_data": {"details": f"{cat.ERROR_TITLES[c]} (#{c})"},
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        for c in codes
    ]
    return pd.DataFrame({"code": codes, "err": pd.Series(err, dtype="string")})


def _template_json(t, account_id: str, buttons: pd.DataFrame, v2: bool) -> dict:
    text_col = "text_v2" if v2 else "text"

    def button(b) -> dict:
        out = {"button_id": b["button_id"], "type": b["type"], "text": b[text_col]}
        if b["type"] == "URL":
            out["url"] = b["url"]
        if b["external"]:
            out["external_platform"] = True
        return out

    rows = buttons[buttons["type"] != "BODY_LINK"]
    top = [button(b) for _, b in rows[rows["card_index"].isna()].iterrows()]
    cards: dict[int, list[dict]] = {}
    for _, b in rows[rows["card_index"].notna()].iterrows():
        cards.setdefault(int(b["card_index"]), []).append(button(b))
    body = t.body + (" Reply STOP to opt out." if v2 else "")
    components: list[dict] = [{"type": "BODY", "text": body}]
    if top:
        components.append({"type": "BUTTONS", "buttons": top})
    if cards:
        components.append(
            {
                "type": "CAROUSEL",
                "cards": [{"card_index": k, "buttons": v} for k, v in sorted(cards.items())],
            }
        )
    return {
        "account_id": account_id,
        "template_name": t.template_name,
        "language": t.language,
        "category": t.category,
        "status": "APPROVED",
        "components": components,
    }


# the order the sources are written in (their _Writer methods)
WRITE_ORDER = (
    "accounts", "campaigns", "templates", "dispatches",
    "webhooks", "clicks", "conversions", "unsubscribes",
)  # fmt: skip


def write_extracts(
    w: World, out: Path, fmt: str, progress: ProgressLines | None = None
) -> WriteStats:
    """Write every source of ``w`` under ``out``; ``progress`` gets a line per source."""
    progress = progress or ProgressLines(enabled=False)
    writer = _Writer(w, out, fmt, progress)
    try:
        for source in WRITE_ORDER:
            started = time.perf_counter()
            getattr(writer, source)()
            rows = writer.stats.rows_written.get(source, 0)
            progress.timed(f"wrote {source:<13}{rows:>13,} rows", time.perf_counter() - started)
    finally:
        writer.con.close()
    stats = writer.stats
    stats.bytes_written = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return stats
