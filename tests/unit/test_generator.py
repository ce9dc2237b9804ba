"""Tests of the sample-data generator.

Besides layout and determinism checks, an *oracle* re-reads the written files
(as a loader would: quarantining rows that do not parse) and recomputes the
marts' figures in DuckDB SQL with the rules of ``marts.md`` and a reason
mapping transcribed independently from ``meta-error-codes.md``. The ground
truth, computed by the generator in memory, must agree with it exactly.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from orchestration.generator import GeneratorConfig, generate
from orchestration.generator import catalog as cat
from orchestration.generator.simulate import MS_D, MS_H, simulate
from orchestration.generator.truth import message_states
from orchestration.layout import SOURCES, ColumnType
from orchestration.loading.schema import OPTIONAL_COLUMNS, ROW_RULES
from tests.conftest import CAMPAIGN_COUNTS

END = date(2026, 11, 10)
AS_OF = datetime(2026, 11, 11)
SMALL = {"accounts": 4, "campaigns": 8, "days": 35, "recipients_per_send": 40, "end_date": END}
TABULAR = ("accounts", "campaigns", "dispatches", "clicks", "conversions", "unsubscribes")


def _codes(spec: dict[str, str]) -> dict[int, str]:
    return {int(code): reason for reason, codes in spec.items() for code in codes.split()}


# meta-error-codes.md, "send call" column
SEND_REASON = _codes(
    {
        "Internal Errors": "0 3 10 190 131005 135000",
        "Rate Limits": "4 80007 130429 131056 131048 131049",
        "Tier Limitation": "131064",
        "Policy Failures": "368 131031",
        "Country Code Drops": "130497",
        "Meta Temporary Errors": "1 2 131000 131016 131057 133004 134101 2494100",
        "Account Registration Errors": "33 131037 131045 133006 133010 134011 134102 131042",
        "Template Failures": "100 131008 131051 131055 131063 132000 132001 132005 132007 "
        "132008 132012 132068 132069 134100 131009 131047 131053",
        "Recipient-Related Errors": "131021 131026 131030 131050 137000 130472",
        "Paused Templates": "132015 132016",
    }
)
# meta-error-codes.md, "failed webhook" column
WEBHOOK_REASON = _codes(
    {
        "Meta Errors": "0 3 10 190 131005 4 80007 130429 131056 131048 131064 1 2 131000 "
        "131016 131057 133004 134101 2494100",
        "Account Verification Errors": "368 131031 33 131037 131045 133006 133010 134011 134102 "
        "131042",
        "Recipient-Related Errors": "130497 131021 131026 131030 131050 137000",
        "Invalid Messages": "100 131008 131051 131055 131063 132000 132001 132005 132007 132008 "
        "132012 132068 132069 134100 131009 131047",
        "Meta Recipient Limit": "131049",
        "Meta Experiments": "130472",
        "Media Errors": "131053",
        "Held Messages": "132015 132016 135000",
    }
)
DROP_CODE_REASON = {
    "DUPLICATE": "Duplicates",
    "FREQUENCY_CAPPED": "Frequency Capped",
    "INVALID_PHONE_NUMBER": "Invalid Phone Numbers",
    "COUNTRY_NOT_CONTRACTED": "Country Code Drops",
    "COUPON_LIST_EXHAUSTED": "Coupon List Drops",
    "TIER_LIMIT": "Tier Limitation",
    "INTERNAL_ERROR": "Internal Errors",
}


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    cache: dict = {}

    def make(fmt: str = "csv", **overrides):
        key = (fmt, tuple(sorted(overrides.items())))
        if key not in cache:
            root = tmp_path_factory.mktemp("gen")
            result = generate(
                GeneratorConfig(out=root / "extracts", format=fmt, **{**SMALL, **overrides})
            )
            cache[key] = (result, json.loads(result.truth_path.read_text()))
        return cache[key]

    return make


# --------------------------------------------------------------------------- reading files back


def _parse(value: str | None, kind: ColumnType):
    if value is None or value == "":
        return None
    if kind == ColumnType.TIMESTAMP:
        t = datetime.fromisoformat(value)
        if t.tzinfo is None:
            raise ValueError(value)
        return t.astimezone(UTC).replace(tzinfo=None)
    if kind == ColumnType.INTEGER:
        if not re.fullmatch(r"-?\d+", value):
            raise ValueError(value)
        return int(value)
    if kind == ColumnType.DECIMAL:
        if not re.fullmatch(r"-?\d+(\.\d+)?", value):
            raise ValueError(value)
        return Decimal(value)
    return value


def read_source(root: Path, name: str) -> tuple[pd.DataFrame, int]:
    """Valid rows of a tabular source (with the file day) and the malformed count.

    The generator writes the optional columns too (dispatches' ``api``), after the
    required ones; a value outside the accepted ones is malformed, and so is a row that
    breaks a row rule (a HOLDOUT dispatch with a wamid or a drop code)."""
    src = SOURCES[name]
    optional = OPTIONAL_COLUMNS.get(name, ())
    header = [*src.column_names, *(c.name for c in optional)]

    def breaks_a_rule(rec: list) -> bool:
        return any(
            (rec[header.index(rule.column)] or "").strip().upper() == rule.value
            and any((rec[header.index(blank)] or "").strip() for blank in rule.blank)
            for rule in ROW_RULES.get(name, ())
        )

    rows, bad = [], 0
    for path in sorted((root / src.folder).iterdir()):
        match = src.match(path.name)
        assert match, path
        if path.name.endswith(".parquet"):
            table = pq.read_table(path)
            assert table.column_names == header
            assert all(str(t) == "string" for t in table.schema.types)
            records = [list(r.values()) for r in table.to_pylist()]
        else:
            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8", newline="") as f:
                reader = csv.reader(f)
                assert next(reader) == header, path
                records = list(reader)
        for rec in records:
            if len(rec) != len(header):
                bad += 1
                continue
            required, extra = rec[: len(src.columns)], rec[len(src.columns) :]
            try:
                values = [_parse(v, c.type) for v, c in zip(required, src.columns, strict=True)]
            except ValueError:
                bad += 1
                continue
            if any(v not in c.accepted for v, c in zip(extra, optional, strict=True)):
                bad += 1
                continue
            if breaks_a_rule(rec):
                bad += 1
                continue
            rows.append([*values, *extra, match.groupdict().get("day")])
    return pd.DataFrame(rows, columns=[*header, "_day"]), bad


def _lines(path: Path):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        yield from f


def read_webhooks(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, int, int, list[dict]]:
    statuses, messages, bodies, good, bad = [], [], [], 0, 0
    for path in sorted((root / "webhooks").iterdir()):
        assert SOURCES["webhooks"].match(path.name), path
        for line in _lines(path):
            try:
                obj = json.loads(line)
                st, ms = [], []
                for entry in obj["body"]["entry"]:
                    for change in entry["changes"]:
                        value = change["value"]
                        for s in value.get("statuses", []):
                            if not s["timestamp"].isdigit():
                                raise ValueError("timestamp")
                            codes = [e["code"] for e in s.get("errors", [])]
                            if not all(isinstance(c, int) for c in codes):
                                raise ValueError("code")
                            st.append(
                                (
                                    s["id"],
                                    s["status"],
                                    int(s["timestamp"]),
                                    codes[0] if codes else None,
                                )
                            )
                        for m in value.get("messages", []):
                            if not m["timestamp"].isdigit():
                                raise ValueError("timestamp")
                            payload = m.get("button", {}).get("payload") or m.get(
                                "interactive", {}
                            ).get("button_reply", {}).get("id")
                            ms.append(
                                (
                                    m["id"],
                                    int(m["timestamp"]),
                                    m["context"]["id"],
                                    m["type"],
                                    payload,
                                )
                            )
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            good += 1
            statuses += st
            messages += ms
            bodies.append(obj)
    return (
        pd.DataFrame(statuses, columns=["wamid", "status", "ts", "code"]).astype({"code": "Int64"}),
        pd.DataFrame(messages, columns=["id", "ts", "context_id", "type", "payload"]),
        good,
        bad,
        bodies,
    )


def read_templates(root: Path) -> tuple[pd.DataFrame, int, int]:
    rows, good, bad = {}, 0, 0
    for path in sorted((root / "templates").iterdir()):
        assert SOURCES["templates"].match(path.name)
        for line in _lines(path):
            try:
                t = json.loads(line)
            except ValueError:
                bad += 1
                continue
            good += 1
            rows[(t["account_id"], t["template_name"], t["language"])] = t  # newest file wins
    buttons = []
    for (acc, name, lang), t in rows.items():
        for comp in t["components"]:
            for b in comp.get("buttons", []):
                buttons.append((acc, name, lang, b["button_id"], None))
            for card in comp.get("cards", []):
                for b in card["buttons"]:
                    buttons.append((acc, name, lang, b["button_id"], card["card_index"]))
    frame = pd.DataFrame(
        buttons, columns=["account_id", "template_name", "language", "button_id", "card_index"]
    )
    return frame.astype({"card_index": "Int64"}), good, bad


# --------------------------------------------------------------------------- the oracle


def oracle(root: Path) -> dict:
    """Recompute the ground truth from the files, in SQL."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    counts: dict[str, tuple[int, int]] = {}
    for name in TABULAR:
        frame, bad = read_source(root, name)
        counts[name] = (len(frame), bad)
        con.register(name, frame)
    statuses, messages, good, bad, _ = read_webhooks(root)
    counts["webhooks"] = (good, bad)
    buttons, good, bad = read_templates(root)
    counts["templates"] = (good, bad)
    for name, frame in (("statuses", statuses), ("messages", messages), ("buttons", buttons)):
        con.register(name, frame)
    con.register("send_map", pd.DataFrame(SEND_REASON.items(), columns=["code", "reason"]))
    con.register("webhook_map", pd.DataFrame(WEBHOOK_REASON.items(), columns=["code", "reason"]))
    con.register(
        "drop_map", pd.DataFrame(DROP_CODE_REASON.items(), columns=["drop_code", "reason"])
    )
    as_of = f"timestamp '{AS_OF:%Y-%m-%d %H:%M:%S}'"
    as_of_s = int(AS_OF.replace(tzinfo=UTC).timestamp())
    sql = f"""
    create table camp as select * from campaigns
      qualify row_number() over (partition by campaign_id order by _day desc) = 1;
    create table msg as
      select d.*, a.currency as account_currency,
        timezone(a.timezone, d.attempted_at::timestamptz)::date::varchar as cohort_date,
        c.goal_event, c.conversion_window_hours, c.template_name, c.template_language
      from (select distinct on (dispatch_id) * from dispatches where result <> 'HOLDOUT') d
      join accounts a using (account_id) join camp c using (campaign_id);
    create table st as select distinct wamid, status, ts, code from statuses where ts <= {as_of_s};
    create table state as
      select m.dispatch_id,
        coalesce(bool_or(s.status in ('delivered', 'read', 'played')), false) as delivered,
        coalesce(bool_or(s.status = 'read'), false) as opened,
        min({{'ts': s.ts, 'code': s.code}}) filter (where s.status = 'failed') as first_failed
      from msg m left join st s on s.wamid = m.wamid and m.result = 'SENT'
      group by m.dispatch_id;
    create table ms as
      select m.*, m.result = 'SENT' as is_sent, s.delivered as is_delivered, s.opened as is_opened,
        case when m.result = 'DROPPED' then coalesce(
          case when m.drop_code = 'META_API_ERROR' then sm.reason else dm.reason end,
          'Unmapped Error') end
          as dropped_reason,
        case when m.result = 'SENT' and not s.delivered and s.first_failed is not null
               then coalesce(wm.reason, 'Unmapped Error')
       when m.result = 'SENT' and not s.delivered and {as_of} - m.attempted_at >= interval 720 hours
               then 'Delivery Report Missing' end as undelivered_reason
      from msg m join state s using (dispatch_id)
      left join send_map sm on sm.code = m.meta_error_code
      left join drop_map dm on dm.drop_code = m.drop_code
      left join webhook_map wm on wm.code = s.first_failed.code;
    create table ck as select distinct on (click_id) * from clicks where clicked_at <= {as_of};
    create table ckm as
     select k.*, m.dispatch_id, m.account_id, m.campaign_id, m.user_id, m.cohort_date, m.goal_event,
        m.conversion_window_hours
      from ck k join msg m on m.wamid = k.wamid;
    create table ev as
      select distinct on (event_id) * from conversions where occurred_at <= {as_of};
    create table conv as
      select e.*, k.click_id, k.campaign_id, k.cohort_date,
        e.currency = a.currency as same_currency,
        case when e.currency = a.currency
          then coalesce(round(e.revenue * 100)::bigint, 0) else 0 end as cents
      from ev e join accounts a using (account_id)
      join ckm k on k.account_id = e.account_id and k.user_id = e.user_id
        and k.goal_event = e.event_name
        and k.clicked_at <= e.occurred_at
        and e.occurred_at <= k.clicked_at + to_hours(k.conversion_window_hours)
      qualify row_number() over (
        partition by e.event_id order by k.clicked_at desc, k.click_id desc) = 1;
    create table us as
      select distinct on (unsubscribe_id) * from unsubscribes where occurred_at <= {as_of};
    create table us_wamid as
      select u.unsubscribe_id, m.dispatch_id from us u join ms m on m.wamid = u.wamid and m.is_sent;
    create table us_user as
      select u.unsubscribe_id, m.dispatch_id from us u
      join ms m on m.account_id = u.account_id and m.user_id = u.user_id and m.is_delivered
        and m.attempted_at <= u.occurred_at and m.attempted_at >= u.occurred_at - interval 168 hours
      where u.unsubscribe_id not in (select unsubscribe_id from us_wamid)
      qualify row_number() over (partition by u.unsubscribe_id order by m.attempted_at desc) = 1;
    create table usm as
      select m.account_id, m.campaign_id, m.cohort_date
     from (select * from us_wamid union all select * from us_user) x join msg m using (dispatch_id);
    create table rs as select distinct on (id) * from messages where ts <= {as_of_s};
    create table resp as
      select r.id, m.account_id, m.campaign_id, m.cohort_date, m.user_id,
        b.card_index, case when r.type = 'text' then null else r.payload end as button_id
      from rs r join msg m on m.wamid = r.context_id
      left join buttons b on b.account_id = m.account_id and b.template_name = m.template_name
        and b.language = m.template_language and b.button_id = r.payload;
    create table daily as
      with d as (
        select account_id, campaign_id, cohort_date, count(*) as targeted,
          count(*) filter (where is_sent) as sent, count(*) filter (where not is_sent) as dropped,
          count(*) filter (where is_delivered) as delivered,
          count(*) filter (where undelivered_reason is not null) as undelivered,
          count(*) filter (where is_opened) as opens
        from ms group by all),
      c as (select account_id, campaign_id, cohort_date, count(*) as clicks from ckm group by all),
      v as (select account_id, campaign_id, cohort_date, count(*) as conversions,
              sum(cents) as revenue_cents
            from conv group by all),
      u as (select account_id, campaign_id, cohort_date, count(*) as unsubscribes
            from usm group by all),
    r as (select account_id, campaign_id, cohort_date, count(*) as responses from resp group by all)
      select d.*, d.sent - d.delivered - d.undelivered as delivery_pending,
        coalesce(clicks, 0) as clicks, coalesce(conversions, 0) as conversions,
        coalesce(revenue_cents, 0) as revenue_cents, coalesce(unsubscribes, 0) as unsubscribes,
        coalesce(responses, 0) as responses
      from d left join c using (account_id, campaign_id, cohort_date)
      left join v using (account_id, campaign_id, cohort_date)
      left join u using (account_id, campaign_id, cohort_date)
      left join r using (account_id, campaign_id, cohort_date);
    """
    for statement in sql.split(";"):
        if statement.strip():
            con.execute(statement)

    def frame(query: str) -> pd.DataFrame:
        return con.execute(query).df()

    known = "(select wamid from msg where result = 'SENT')"
    out = {
        "campaign_daily": frame("select * from daily"),
        "dropped_reasons": frame(
            "select account_id, campaign_id, cohort_date, dropped_reason as reason, "
            "count(*) as messages "
            "from ms where dropped_reason is not null group by all"
        ),
        "undelivered_reasons": frame(
            "select account_id, campaign_id, cohort_date, undelivered_reason as reason, "
            "count(*) as messages "
            "from ms where undelivered_reason is not null group by all"
        ),
        "link_clicks": frame(
            """
            with by_click as (
              select click_id, count(*) as conversions, sum(cents) as cents from conv group by all)
            select account_id, campaign_id, cohort_date, url, button_id, card_index,
              count(*) as clicks, count(distinct user_id) as unique_clickers,
              coalesce(sum(by_click.conversions), 0) as conversions,
              coalesce(sum(by_click.cents), 0) as revenue_cents
            from ckm left join by_click using (click_id) group by all
            """
        ),
        "responses": frame(
            """
            with rows as (
          select account_id, campaign_id, cohort_date, card_index, button_id, count(*) as responses,
                count(distinct user_id) as unique_responders from resp group by all),
            who as (select distinct account_id, campaign_id, cohort_date, card_index, button_id,
              user_id from resp),
            rc as (
              select w.account_id, w.campaign_id, w.cohort_date, w.card_index, w.button_id,
                count(c.event_id) as responder_conversions,
                coalesce(sum(c.cents), 0) as responder_revenue_cents
      from who w left join conv c on c.campaign_id = w.campaign_id and c.cohort_date = w.cohort_date
                and c.user_id = w.user_id
              group by all),
            rk as (
              select w.campaign_id, w.cohort_date, w.card_index, w.button_id,
                count(k.click_id) as responder_clicks
      from who w left join ckm k on k.campaign_id = w.campaign_id and k.cohort_date = w.cohort_date
                and k.user_id = w.user_id
              group by all)
            select rows.*, rc.responder_conversions, rc.responder_revenue_cents,
              rk.responder_clicks, daily.delivered
            from rows join rc
              on rc.campaign_id = rows.campaign_id and rc.cohort_date = rows.cohort_date
              and rc.card_index is not distinct from rows.card_index
              and rc.button_id is not distinct from rows.button_id
            join rk
              on rk.campaign_id = rows.campaign_id and rk.cohort_date = rows.cohort_date
              and rk.card_index is not distinct from rows.card_index
              and rk.button_id is not distinct from rows.button_id
            join daily
              on daily.campaign_id = rows.campaign_id and daily.cohort_date = rows.cohort_date
            """
        ),
        "data_quality": {
            "unmapped_codes": con.execute(
                "select count(*) filter (where dropped_reason = 'Unmapped Error') "
                "+ count(*) filter (where undelivered_reason = 'Unmapped Error') from ms"
            ).fetchone()[0],
            "currency_mismatches": con.execute(
                "select count(*) from conv where not same_currency"
            ).fetchone()[0],
            "unattributed_unsubscribes": con.execute(
                "select (select count(*) from us) - count(*) from usm"
            ).fetchone()[0],
            "unknown_wamids": {
                "statuses": con.execute(
                    f"select count(*) from st where wamid not in {known}"
                ).fetchone()[0],
                "clicks": con.execute(
                    f"select count(*) from ck where wamid not in {known}"
                ).fetchone()[0],
                "replies": con.execute(
                    f"select count(*) from rs where context_id not in {known}"
                ).fetchone()[0],
                "unsubscribes": con.execute(
                    f"select count(*) from us where wamid is not null and wamid not in {known}"
                ).fetchone()[0],
            },
        },
        "counts": counts,
    }
    con.close()
    return out


def _same_rows(truth_rows: list[dict], oracle_rows: pd.DataFrame, keys: list[str]) -> None:
    expected = pd.DataFrame(truth_rows)
    for money in ("revenue", "responder_revenue"):
        if money in expected:
            expected[f"{money}_cents"] = (expected.pop(money) * 100).round().astype(np.int64)
    got = oracle_rows[list(expected.columns)].copy()

    def norm(df: pd.DataFrame) -> list[tuple]:
        df = df.astype(object).where(df.notna(), None)
        rows = [
            tuple(
                None if v is None else (int(v) if isinstance(v, float | np.integer) else v)
                for v in row
            )
            for row in df.itertuples(index=False, name=None)
        ]
        return sorted(rows, key=repr)

    assert len(expected) == len(got), keys
    assert norm(expected) == norm(got)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_truth_matches_files(generated, fmt):
    result, truth = generated(fmt)
    o = oracle(result.out)
    keys = ["account_id", "campaign_id", "cohort_date"]
    _same_rows(truth["campaign_daily"], o["campaign_daily"], keys)
    _same_rows(truth["dropped_reasons"], o["dropped_reasons"], [*keys, "reason"])
    _same_rows(truth["undelivered_reasons"], o["undelivered_reasons"], [*keys, "reason"])
    _same_rows(truth["link_clicks"], o["link_clicks"], [*keys, "url", "button_id", "card_index"])
    _same_rows(truth["responses"], o["responses"], [*keys, "card_index", "button_id"])
    assert o["data_quality"] == truth["data_quality"]
    for source, (good, bad) in o["counts"].items():
        assert good == truth["rows_written"][source] == result.rows_written[source], source
        assert bad == truth["malformed_written"][source] == result.malformed_written[source], source
        assert bad > 0, source


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_same_seed_same_bytes(generated, tmp_path, fmt):
    first, _ = generated(fmt)
    again = generate(GeneratorConfig(out=tmp_path / "extracts", format=fmt, **SMALL))
    files = sorted(p.relative_to(first.out) for p in first.out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again.out) for p in again.out.rglob("*") if p.is_file())
    for rel in files:
        assert (first.out / rel).read_bytes() == (again.out / rel).read_bytes(), rel
    assert first.truth_path.read_bytes() == again.truth_path.read_bytes()
    if fmt == "csv":
        other = generate(GeneratorConfig(out=tmp_path / "other", **{**SMALL, "seed": 7}))
        assert other.truth_path.read_bytes() != first.truth_path.read_bytes()


def test_config_defaults(tmp_path):
    config = GeneratorConfig(out=tmp_path / "extracts")
    assert config.last_day == datetime.now(UTC).date() - timedelta(days=1)
    assert config.as_of == datetime.combine(config.last_day + timedelta(days=1), time(), UTC)
    assert config.resolved_truth_path == tmp_path / "extracts.ground_truth.json"
    assert GeneratorConfig(out=tmp_path, truth_path=tmp_path / "t.json").resolved_truth_path == (
        tmp_path / "t.json"
    )
    with pytest.raises(ValueError):
        GeneratorConfig(out=tmp_path, format="xlsx")


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_layout(generated, fmt):
    result, truth = generated(fmt)
    assert result.truth_path == result.out.parent / "extracts.ground_truth.json"
    assert result.as_of == AS_OF.replace(tzinfo=UTC)
    assert truth["as_of"] == "2026-11-11T00:00:00Z"
    days = {(END - timedelta(days=d)).isoformat() for d in range(SMALL["days"])}
    tab = {"csv": "csv", "csv.gz": "csv.gz", "parquet": "parquet"}[fmt]
    hook = "jsonl.gz" if fmt == "csv.gz" else "jsonl"
    assert {p.name for p in result.out.iterdir()} == {s.folder for s in SOURCES.values()}
    for source in SOURCES.values():
        names = sorted(p.name for p in (result.out / source.folder).iterdir())
        for name in names:
            match = source.match(name)
            assert match, name
            if "day" in match.groupdict():
                assert match.group("day") in days
        if source.name in ("dispatches", "clicks", "conversions", "unsubscribes", "webhooks"):
            ext = hook if source.name == "webhooks" else tab
            assert names == sorted(f"{source.name}-{d}.{ext}" for d in days)
    assert len(list((result.out / "campaigns").iterdir())) >= 3
    assert len(list((result.out / "templates").iterdir())) == 2
    assert result.bytes_written == sum(
        p.stat().st_size for p in result.out.rglob("*") if p.is_file()
    )


def test_refuses_to_mix_with_existing_extracts(generated):
    result, _ = generated("csv")
    with pytest.raises(FileExistsError):
        generate(GeneratorConfig(out=result.out, **SMALL))


def test_every_drop_code_and_reason_appears(generated):
    result, truth = generated("csv")
    dispatches, _ = read_source(result.out, "dispatches")
    codes = set(dispatches["drop_code"].dropna())
    assert codes == set(cat.DROP_CODES) | {cat.UNKNOWN_DROP_CODE}
    meta = dispatches[dispatches["drop_code"] == "META_API_ERROR"]
    assert 999001 in set(meta["meta_error_code"])  # unknown code
    assert (meta["meta_error_title"].notna()).all()
    assert (dispatches["wamid"].notna() == (dispatches["result"] == "SENT")).all()
    assert {r["reason"] for r in truth["dropped_reasons"]} == set(cat.DROPPED_REASONS)
    assert {r["reason"] for r in truth["undelivered_reasons"]} == set(cat.UNDELIVERED_REASONS)


def test_truth_invariants(generated):
    _, truth = generated("csv")
    counts = list(CAMPAIGN_COUNTS)
    daily = pd.DataFrame(truth["campaign_daily"])
    totals = pd.DataFrame(truth["campaigns"]).set_index("campaign_id")
    for row in truth["campaigns"] + truth["campaign_daily"]:
        assert row["targeted"] == row["sent"] + row["dropped"]
        assert row["sent"] == row["delivered"] + row["undelivered"] + row["delivery_pending"]
        assert 0 <= row["opens"] <= row["delivered"]
        assert min(row[c] for c in counts) >= 0
    summed = daily.groupby("campaign_id")[[*counts, "revenue"]].sum()
    assert (summed[counts] == totals.loc[summed.index, counts]).all().all()
    assert np.allclose(summed["revenue"], totals.loc[summed.index, "revenue"])
    for kind, column in (("dropped_reasons", "dropped"), ("undelivered_reasons", "undelivered")):
        by_campaign = pd.DataFrame(truth[kind]).groupby("campaign_id")["messages"].sum()
        assert (by_campaign == totals.loc[by_campaign.index, column]).all()
    resp = pd.DataFrame(truth["responses"]).groupby("campaign_id")["responses"].sum()
    assert (resp == totals.loc[resp.index, "responses"]).all()
    # every attributed conversion has its click: the link rows sum to the daily conversions
    keys = ["campaign_id", "cohort_date"]
    links = pd.DataFrame(truth["link_clicks"]).groupby(keys)[["conversions", "revenue"]].sum()
    by_day = daily.set_index(keys).loc[links.index]
    assert (links["conversions"] == by_day["conversions"]).all()
    assert np.allclose(links["revenue"], by_day["revenue"])
    assert links["conversions"].sum() == daily["conversions"].sum()
    assert truth["campaigns"][0].keys() >= {"account_id", "campaign_id", "revenue"}
    dq = truth["data_quality"]
    assert min(dq["unknown_wamids"].values()) > 0 and dq["currency_mismatches"] > 0
    assert dq["unattributed_unsubscribes"] > 0 and dq["unmapped_codes"] > 0
    assert truth["duplicates_written"]["webhooks"] > 0 and truth["duplicates_written"]["clicks"] > 0


def test_decided_reasons_follow_the_rules():
    """The reasons the rules derive from the events are the reasons the simulation decided."""
    w = simulate(GeneratorConfig(out=Path("unused"), **SMALL))
    msgs = message_states(w).set_index("idx")
    d = w.dispatches.set_index("idx")
    dropped = ~d["sent"]
    assert (msgs.loc[dropped, "dropped_reason"] == d.loc[dropped, "drop_reason"]).all()
    s = w.statuses
    sent = d[d["sent"]]
    # messages whose every status has arrived: failed ones end with the decided reason
    settled = sent[sent["attempted_ms"] < w.as_of_ms - 8 * MS_D].index
    fails = s[s["known"] & (s["status"] == "failed") & s["idx"].isin(settled)]
    decided = fails.drop_duplicates("idx").set_index("idx")
    undelivered = msgs.loc[decided.index]
    undelivered = undelivered[undelivered["undelivered"]]
    expected = undelivered.index.map(
        lambda i: cat.UNDELIVERED_REASON_OF.get(int(decided.loc[i, "code1"]), cat.UNMAPPED)
    )
    assert len(undelivered) > 0
    assert (undelivered["undelivered_reason"].to_numpy() == np.asarray(expected)).all()


def test_messy_realities_are_present(generated):
    result, truth = generated("csv")
    statuses, messages, _, _, bodies = read_webhooks(result.out)
    as_of_s = int(AS_OF.replace(tzinfo=UTC).timestamp())
    kinds = set(statuses["status"])
    assert {"sent", "delivered", "read", "failed", "played"} <= kinds and kinds - set(
        cat.DROP_CODES
    ) > {
        "sent",
        "delivered",
        "read",
        "failed",
        "played",
    }
    by_msg = statuses.groupby("wamid")["status"].agg(set)
    assert any("read" in s and "delivered" not in s for s in by_msg)
    assert any({"failed", "delivered"} <= s for s in by_msg)
    assert (statuses["ts"] > as_of_s).any()
    assert len(bodies) > len({b["delivery_id"] for b in bodies}) - 1
    assert any(len(b["body"]["entry"]) > 1 for b in bodies)
    assert any(len(e["changes"]) > 1 for b in bodies for e in b["body"]["entry"])
    assert len({json.dumps(b["body"]) for b in bodies}) < len(bodies)  # bodies delivered twice
    pricing = {
        s.get("pricing", {}).get("pricing_model")
        for b in bodies
        for e in b["body"]["entry"]
        for c in e["changes"]
        for s in c["value"].get("statuses", [])
    }
    assert {"PMP", "CBP", None} <= pricing
    assert {"button", "interactive", "text"} <= set(messages["type"])
    assert set(messages["payload"].dropna()) & {"STOP_PROMOS", "old_offer_2024"}
    responses = pd.DataFrame(truth["responses"])
    assert responses["card_index"].notna().any() and responses["button_id"].isna().any()
    assert (responses["responder_conversions"] > 0).any()
    card_options = responses[responses["card_index"].notna()]
    assert (card_options["responder_clicks"] > 0).any()
    assert (responses["responder_revenue"] > 0).any() and (responses["responder_clicks"] == 0).any()
    links = pd.DataFrame(truth["link_clicks"])
    assert (links.loc[links["card_index"].notna(), "conversions"] > 0).any()
    clicks, _ = read_source(result.out, "clicks")
    assert clicks["click_id"].duplicated().any()
    assert (clicks["clicked_at"] > AS_OF).any() and clicks["card_index"].notna().any()
    assert clicks["button_id"].isna().any()
    conversions, _ = read_source(result.out, "conversions")
    assert (conversions["occurred_at"] > AS_OF).any() and conversions["event_id"].duplicated().any()
    assert conversions["revenue"].isna().any() and (conversions["revenue"] == 0).any()
    unsubscribes, _ = read_source(result.out, "unsubscribes")
    assert set(unsubscribes["source"]) == {"reply_keyword", "button", "link", "support"}
    assert unsubscribes["wamid"].isna().any() and unsubscribes["wamid"].notna().any()
    dispatches, _ = read_source(result.out, "dispatches")
    bad_phone = ~dispatches["phone_number"].str.fullmatch(r"\+\d{10,15}")
    assert bad_phone.any()
    assert (dispatches.loc[bad_phone, "drop_code"] == "INVALID_PHONE_NUMBER").mean() > 0.5


HOLDOUT_COLUMNS = [
    f"{group}_{count}"
    for group in ("treated", "holdout")
    for count in ("recipients", "converters", "revenue", "revenue_sum_squares")
]


def holdout_oracle(root: Path) -> pd.DataFrame:
    """marts.holdout_uplift recomputed from the files in SQL (marts.md, "Holdout uplift")."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for name in ("accounts", "campaigns", "dispatches", "conversions"):
        con.register(name, read_source(root, name)[0])
    as_of = f"timestamp '{AS_OF:%Y-%m-%d %H:%M:%S}'"
    frame = con.execute(
        f"""
        with camp as (
          select * from campaigns
          qualify row_number() over (partition by campaign_id order by _day desc) = 1),
        d as (
          select distinct on (dispatch_id) * from dispatches where attempted_at <= {as_of}),
        held as (select distinct campaign_id from d where result = 'HOLDOUT'),
        rcp as (
          select d.dispatch_id, d.account_id, d.campaign_id, d.user_id, d.attempted_at,
            d.result = 'HOLDOUT' as is_holdout, c.goal_event, c.conversion_window_hours,
            timezone(a.timezone, d.attempted_at::timestamptz)::date::varchar as cohort_date
          from d join accounts a using (account_id) join camp c using (campaign_id)
          where d.campaign_id in (select campaign_id from held)),
        ev as (
          select distinct on (event_id) e.*, case when e.currency = a.currency
            then coalesce(round(e.revenue * 100)::bigint, 0) else 0 end as cents
          from conversions e join accounts a using (account_id)
          where e.occurred_at <= {as_of}),
        won as (
          select r.dispatch_id, sum(ev.cents) / 100 as revenue
          from rcp r join ev on ev.account_id = r.account_id and ev.user_id = r.user_id
            and ev.event_name = r.goal_event and ev.occurred_at >= r.attempted_at
            and ev.occurred_at <= r.attempted_at + to_hours(r.conversion_window_hours)
          group by all),
        outcome as (
          select r.*, won.dispatch_id is not null as converted, coalesce(won.revenue, 0) as revenue
          from rcp r left join won using (dispatch_id))
        select account_id, campaign_id, cohort_date,
          {
            ", ".join(
                f"count(*) filter (where {neg}is_holdout) as {g}_recipients, "
                f"count(*) filter (where {neg}is_holdout and converted) as {g}_converters, "
                f"coalesce(sum(revenue) filter (where {neg}is_holdout), 0) as {g}_revenue, "
                f"coalesce(sum(revenue * revenue) filter (where {neg}is_holdout), 0) "
                f"as {g}_revenue_sum_squares"
                for g, neg in (("treated", "not "), ("holdout", ""))
            )
        }
        from outcome group by all
        """
    ).df()
    con.close()
    return frame


def _holdout_rows(rows: pd.DataFrame) -> dict[tuple, tuple]:
    return {
        (r.account_id, r.campaign_id, str(r.cohort_date)): tuple(
            round(float(getattr(r, c)), 2) for c in HOLDOUT_COLUMNS
        )
        for r in rows.itertuples()
    }


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_holdout_truth_matches_files(generated, fmt):
    result, truth = generated(fmt)
    expected = _holdout_rows(pd.DataFrame(truth["holdout_uplift"]))
    actual = _holdout_rows(holdout_oracle(result.out))
    assert expected and actual.keys() == expected.keys()
    for key, values in expected.items():
        assert actual[key] == pytest.approx(values, abs=0.011), key


def test_holdouts_are_a_control_group_with_a_lower_baseline(generated):
    """About 30 % of the campaigns keep a control group of about 10 % of every send's
    recipients: HOLDOUT rows (no wamid, no drop code), customers the campaign never sends
    to, counted in no message figure; over the sample they convert less often than the
    treated recipients."""
    result, truth = generated("csv")
    dispatches, _ = read_source(result.out, "dispatches")
    holdouts = dispatches[dispatches["result"] == "HOLDOUT"]
    assert len(holdouts) and holdouts["wamid"].isna().all() and holdouts["drop_code"].isna().all()
    campaigns = set(holdouts["campaign_id"])
    assert 1 <= len(campaigns) < SMALL["campaigns"]
    rows = pd.DataFrame(truth["holdout_uplift"])
    assert set(rows["campaign_id"]) == campaigns
    daily = pd.DataFrame(truth["campaign_daily"]).set_index(["campaign_id", "cohort_date"])
    treated = rows.set_index(["campaign_id", "cohort_date"])["treated_recipients"]
    targeted = daily["targeted"].reindex(treated.index, fill_value=0)
    assert (treated == targeted).all()  # intention to treat: every targeted dispatch
    assert daily["targeted"].sum() == len(dispatches) - len(holdouts)
    totals = rows.sum(numeric_only=True)
    share = totals["holdout_recipients"] / (
        totals["holdout_recipients"] + totals["treated_recipients"]
    )
    assert 0.07 < share < 0.13
    treated_rate = totals["treated_converters"] / totals["treated_recipients"]
    holdout_rate = totals["holdout_converters"] / totals["holdout_recipients"]
    assert 0 < holdout_rate < treated_rate
    customers = set(zip(holdouts["account_id"], holdouts["user_id"], strict=True))
    targeted_customers = dispatches.loc[dispatches["result"] != "HOLDOUT"]
    assert not customers & set(
        zip(targeted_customers["account_id"], targeted_customers["user_id"], strict=True)
    )


def test_holdout_window_edges_and_a_late_event():
    w = simulate(GeneratorConfig(out=Path("unused"), **SMALL))
    h = w.holdouts.merge(w.campaigns[["cmp", "goal_event", "conversion_window_hours"]], on="cmp")
    e = w.conversions.merge(h, left_on=["uid", "event_name"], right_on=["uid", "goal_event"])
    late = e["occurred_ms"] - e["attempted_ms"] - e["conversion_window_hours"] * MS_H
    assert (late == 0).any() and (late == 1000).any()
    assert (e["occurred_ms"] > w.as_of_ms).any()
    assert w.conversions["key"].is_unique


def test_last_click_ties_and_window_edges():
    w = simulate(GeneratorConfig(out=Path("unused"), **SMALL))
    c = w.clicks[w.clicks["known"]]
    same_instant = c.groupby(["uid", "clicked_ms"])["cmp"].nunique()
    assert (same_instant > 1).any()
    e = w.conversions
    merged = e.merge(
        c[["uid", "goal", "clicked_ms", "window_ms"]],
        left_on=["uid", "event_name"],
        right_on=["uid", "goal"],
    )
    late = merged["occurred_ms"] - merged["clicked_ms"] - merged["window_ms"]
    assert (late == 0).any() and (late == 1000).any()


def test_benchmark_cohorts_with_defaults():
    """With defaults, some (country, industry, category) cohorts have >= 5 accounts with
    >= 100 delivered messages in the last 30 days, and others fewer."""
    w = simulate(GeneratorConfig(out=Path("unused"), end_date=END))
    m = message_states(w)
    m = m[m["delivered"] & (m["attempted_ms"] >= w.as_of_ms - 720 * MS_H)]
    m = m.assign(
        country=w.users["country"].to_numpy()[m["uid"]],
        industry=w.accounts["industry"].to_numpy()[m["acc"]],
        category=w.campaigns["template_category"].to_numpy()[m["cmp"]],
    )
    per_template = m.groupby(["country", "industry", "category", "acc", "cmp"]).size()
    qualifying = per_template[per_template >= 100].reset_index()
    accounts = qualifying.groupby(["country", "industry", "category"])["acc"].nunique()
    assert (accounts >= 5).any()
    assert ((accounts > 0) & (accounts < 5)).any()
    assert (w.accounts["industry"].value_counts() >= 6).sum() == 1


def test_phone_numbers_use_real_calling_codes():
    w = simulate(GeneratorConfig(out=Path("unused"), **SMALL))
    users = w.users[~w.users["malformed"]]
    for country, phones in users.groupby("country")["phone"]:
        code = cat.COUNTRIES[country].calling_code
        assert phones.str.startswith("+" + code).all(), country
    assert users["country"].nunique() >= 8


def test_sends_and_time_zones(generated):
    _, truth = generated("csv")
    w = simulate(GeneratorConfig(out=Path("unused"), **SMALL))
    d = w.dispatches
    assert d["attempted_ms"].min() >= w.first_ms and d["attempted_ms"].max() < w.as_of_ms
    automated = w.campaigns.loc[w.campaigns["campaign_type"] == "automated", "cmp"]
    per_day = w.sends[w.sends["cmp"].isin(automated)].groupby("cmp").size()
    assert (per_day >= SMALL["days"] - 2).all()
    assert w.sends["send_id"].is_unique
    kolkata = w.accounts.index[w.accounts["timezone"] == "Asia/Kolkata"]
    assert len(kolkata)
    assert len({r["cohort_date"] for r in truth["campaign_daily"]}) >= SMALL["days"]
