"""Ground truth: the marts' numbers, from the simulation's own event tables.

This applies the metric rules of ``docs/contract/marts.md`` with pandas to
what the simulation exported (never by re-reading the written files), so a
warehouse built from the extracts must reproduce these figures exactly.
Codes map back to reasons by inverting the generative tables of
:mod:`orchestration.generator.catalog`; anything they do not list is an
*Unmapped Error*.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from orchestration.generator import catalog as cat
from orchestration.generator.simulate import (
    MS_H,
    MS_S,
    SALT_DISPATCH,
    World,
    is_billable,
    local_days,
    scramble,
)

KEYS = ["acc", "cmp", "cohort"]
COUNTS = [
    "targeted",
    "sent",
    "dropped",
    "delivered",
    "undelivered",
    "delivery_pending",
    "opens",
    "clicks",
    "conversions",
    "revenue_cents",
    "unsubscribes",
    "responses",
]


def message_states(w: World) -> pd.DataFrame:
    """One row per dispatch: cohort day, state flags and dropped/undelivered reason."""
    d = w.dispatches
    as_of_s = w.as_of_ms // MS_S
    out = d[["idx", "acc", "cmp", "uid", "attempted_ms", "sent", "wkey", "api"]].copy()
    out["cohort"] = local_days(
        d["attempted_ms"].to_numpy(), d["acc"].to_numpy(), list(w.accounts["timezone"])
    )

    st = w.statuses
    st = st[st["known"] & (st["ts"] <= as_of_s)].drop_duplicates(["idx", "status", "ts", "code1"])
    delivered_idx = st.loc[st["status"].isin(["delivered", "read", "played"]), "idx"].unique()
    read_idx = st.loc[st["status"] == "read", "idx"].unique()
    failed = st[st["status"] == "failed"].sort_values(["idx", "ts", "code1"]).drop_duplicates("idx")
    sent = out["sent"].to_numpy()
    delivered = sent & np.isin(out["idx"].to_numpy(), delivered_idx)
    opened = delivered & np.isin(out["idx"].to_numpy(), read_idx)
    first_failed_code = pd.Series(failed["code1"].to_numpy(), index=failed["idx"].to_numpy())
    code = first_failed_code.reindex(out["idx"].to_numpy()).to_numpy()
    has_failed = sent & ~delivered & ~np.isnan(code)
    old = (w.as_of_ms - out["attempted_ms"].to_numpy()) >= 720 * MS_H
    report_missing = sent & ~delivered & ~has_failed & old
    undelivered_reason = np.full(len(out), None, dtype=object)
    undelivered_reason[has_failed] = (
        pd.Series(code[has_failed].astype(np.int64))
        .map(cat.UNDELIVERED_REASON_OF)
        .fillna(cat.UNMAPPED)
        .to_numpy()
    )
    undelivered_reason[report_missing] = cat.DELIVERY_REPORT_MISSING

    # dropped: the drop code decides, META_API_ERROR by its code
    by_drop_code = {dc: r for (dc, c), r in cat.DROP_REASON_OF.items() if c is None}
    by_meta_code = {c: r for (dc, c), r in cat.DROP_REASON_OF.items() if dc == cat.META_API_ERROR}
    is_meta = (d["drop_code"] == cat.META_API_ERROR).to_numpy()
    dropped_reason = np.where(
        is_meta,
        d["meta_error_code"].map(by_meta_code).to_numpy(),
        d["drop_code"].map(by_drop_code).to_numpy(),
    )
    dropped_reason = np.where(pd.isna(dropped_reason), cat.UNMAPPED, dropped_reason)
    dropped_reason = np.where(sent, None, dropped_reason)
    out["delivered"] = delivered
    out["opened"] = opened
    out["undelivered"] = has_failed | report_missing
    out["pending"] = sent & ~out["delivered"] & ~out["undelivered"]
    out["undelivered_reason"] = undelivered_reason
    out["dropped_reason"] = dropped_reason
    return out


def _goal_events(w: World) -> pd.DataFrame:
    """The goal events by as_of, each once."""
    ev = w.conversions[w.conversions["occurred_ms"] <= w.as_of_ms].drop_duplicates("key")
    return ev[["key", "acc", "uid", "event_name", "occurred_ms", "revenue_cents", "currency"]]


def _click_candidates(w: World, window_ms: int | None = None) -> pd.DataFrame:
    """Every (goal event, click) whose click window holds the event: the clicked
    campaign's own window, or ``window_ms``."""
    clicks = valid_clicks(w)
    cand = _goal_events(w).merge(
        clicks[["acc", "uid", "goal", "clicked_ms", "window_ms", "key", "idx"]].rename(
            columns={"key": "click_key"}
        ),
        left_on=["acc", "uid", "event_name"],
        right_on=["acc", "uid", "goal"],
    )
    window = cand["window_ms"] if window_ms is None else window_ms
    return cand[
        (cand["clicked_ms"] <= cand["occurred_ms"])
        & (cand["occurred_ms"] <= cand["clicked_ms"] + window)
    ]


def _credited(w: World, msgs: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Credits on their message's campaign and cohort, revenue counted in the account's
    currency only."""
    best = best.merge(msgs[["idx", "cmp", "cohort"]], on="idx")
    acc_currency = w.accounts["currency"].to_numpy()[best["acc"].to_numpy()]
    best["same_currency"] = best["currency"].to_numpy() == acc_currency
    best["counted_cents"] = np.where(
        best["same_currency"], best["revenue_cents"].fillna(0).to_numpy(np.int64), 0
    )
    return best


def attributed_conversions(w: World, msgs: pd.DataFrame) -> pd.DataFrame:
    """Goal events attributed to their last click whose window contains them."""
    cand = _click_candidates(w)
    # latest click; ties: greatest click_id as text (fixed-width hex sorts like the key)
    best = cand.sort_values(["key", "clicked_ms", "click_key"]).drop_duplicates("key", keep="last")
    return _credited(w, msgs, best)


#: attribution_sensitivity's click windows: hours, or the clicked campaign's own (None)
CLICK_WINDOWS = {"1d": 24 * MS_H, "7d": 168 * MS_H, "campaign": None}


def attribution_sensitivity(w: World, msgs: pd.DataFrame) -> pd.DataFrame:
    """attribution_sensitivity's non-zero rows: conversions and revenue (cents) per model,
    window and (account, campaign, cohort) of the credited message (marts.md)."""
    credits = []
    for window, window_ms in CLICK_WINDOWS.items():
        cand = _click_candidates(w, window_ms).merge(msgs[["idx", "cmp"]], on="idx")
        order = cand.sort_values(["key", "clicked_ms", "click_key"])
        # first click: the earliest; ties, as the headline rule: the greatest click_id
        earliest = cand.groupby("key")["clicked_ms"].transform("min")
        first = cand[cand["clicked_ms"] == earliest].sort_values(["key", "click_key"])
        models = {
            "last_click": order.drop_duplicates("key", keep="last"),
            "first_click": first.drop_duplicates("key", keep="last"),
            # every clicked campaign, on its own latest click
            "any_click": order.drop_duplicates(["key", "cmp"], keep="last"),
        }
        for model, best in models.items():
            credits.append(_credited(w, msgs, best.drop(columns="cmp")).assign(
                attribution_model=model, attribution_window=window
            ))  # fmt: skip

    # delivered view: the latest delivery (as of as_of) of a campaign with the event's goal
    # in the 24 h up to the event; ties: the greatest dispatch_id (its key sorts alike)
    st = w.statuses
    st = st[
        st["known"]
        & (st["ts"] <= w.as_of_ms // MS_S)
        & st["status"].isin(["delivered", "read", "played"])
    ]
    delivered = (st["ts"] * MS_S).groupby(st["idx"]).min().rename("delivered_ms").reset_index()
    delivered = delivered.merge(msgs[["idx", "acc", "uid", "cmp"]], on="idx")
    delivered["goal"] = w.campaigns["goal_event"].to_numpy()[delivered["cmp"].to_numpy()]
    delivered["dkey"] = scramble(delivered["idx"].to_numpy(), SALT_DISPATCH)
    views = _goal_events(w).merge(
        delivered.drop(columns="cmp"), left_on=["acc", "uid", "event_name"],
        right_on=["acc", "uid", "goal"],
    )  # fmt: skip
    views = views[
        (views["delivered_ms"] <= views["occurred_ms"])
        & (views["occurred_ms"] <= views["delivered_ms"] + 24 * MS_H)
    ]
    best = views.sort_values(["key", "delivered_ms", "dkey"]).drop_duplicates("key", keep="last")
    credits.append(_credited(w, msgs, best).assign(
        attribution_model="delivered_view_24h", attribution_window="24h"
    ))  # fmt: skip

    rows = (
        pd.concat(credits, ignore_index=True)
        .groupby([*KEYS, "attribution_model", "attribution_window"])
        .agg(conversions=("key", "size"), revenue_cents=("counted_cents", "sum"))
        .reset_index()
    )
    return rows


def valid_clicks(w: World) -> pd.DataFrame:
    c = w.clicks
    return c[c["known"] & (c["clicked_ms"] <= w.as_of_ms)].drop_duplicates("key")


def attributed_unsubscribes(w: World, msgs: pd.DataFrame) -> pd.DataFrame:
    """Every unsubscribe up to as_of with the message it belongs to (idx -1 when none)."""
    u = w.unsubscribes
    u = u[u["occurred_ms"] <= w.as_of_ms].drop_duplicates("key").reset_index(drop=True)
    by_wamid = pd.Series(
        msgs.loc[msgs["sent"], "idx"].to_numpy(), index=msgs.loc[msgs["sent"], "wkey"].to_numpy()
    )
    u["idx"] = by_wamid.reindex(u["wkey"].to_numpy()).fillna(-1).astype(np.int64).to_numpy()
    u["unknown_wamid"] = (u["wkey"] >= 0) & (u["idx"] < 0)
    # no known wamid: the latest delivered message to the same customer in the 168 h up to it
    rest = u[u["idx"] < 0].reset_index()
    delivered = msgs.loc[msgs["delivered"], ["idx", "acc", "uid", "attempted_ms"]]
    cand = rest[["index", "acc", "uid", "occurred_ms"]].merge(delivered, on=["acc", "uid"])
    cand = cand[
        (cand["attempted_ms"] <= cand["occurred_ms"])
        & (cand["attempted_ms"] >= cand["occurred_ms"] - 168 * MS_H)
    ]
    best = cand.sort_values(["index", "attempted_ms", "idx"]).drop_duplicates("index", keep="last")
    u.loc[best["index"].to_numpy(), "idx"] = best["idx"].to_numpy()
    return u


def responses(w: World) -> pd.DataFrame:
    """Inbound replies to known campaign messages, with the (card_index, button_id) chosen."""
    r = w.replies
    r = r[r["known"] & (r["ts"] <= w.as_of_ms // MS_S)].drop_duplicates("in_key").copy()
    b = w.buttons.set_index("bid")
    pressed = r["bid"].to_numpy() >= 0
    r["button_id"] = np.where(
        pressed, b["button_id"].reindex(r["bid"].to_numpy()).to_numpy(), r["payload"].to_numpy()
    )  # free text: payload is null; unknown payload: the raw payload
    r["card_index"] = pd.array(
        b["card_index"].reindex(r["bid"].to_numpy()).to_numpy(), dtype="Int64"
    )
    return r


def api_comparison(w: World, msgs: pd.DataFrame) -> pd.DataFrame:
    """marts.api_comparison: per (account, template, api, cohort) the sent messages,
    delivered, opened, and delivered with at least one valid click (each message once)."""
    sent = msgs[msgs["sent"]].copy()
    clicked = np.isin(sent["idx"].to_numpy(), valid_clicks(w)["idx"].to_numpy())
    sent["delivered_clicked"] = sent["delivered"].to_numpy() & clicked
    sent["template_name"] = w.campaigns["template_name"].to_numpy()[sent["cmp"].to_numpy()]
    rows = (
        sent.groupby(["acc", "template_name", "api", "cohort"])
        .agg(
            sent=("idx", "size"),
            delivered=("delivered", "sum"),
            opens=("opened", "sum"),
            delivered_clicked=("delivered_clicked", "sum"),
        )
        .reset_index()
    )
    rows.insert(0, "account_id", w.accounts["account_id"].to_numpy()[rows.pop("acc").to_numpy()])
    rows.insert(3, "cohort_date", _dates(rows.pop("cohort").to_numpy()))
    return rows.sort_values(["account_id", "template_name", "api", "cohort_date"])


#: the project's seeds: the message and exchange rates the pipeline prices with
SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"


def _latest_on_or_before(
    keys: pd.DataFrame, table: pd.DataFrame, by: list[str], date: str, value: str
) -> np.ndarray:
    """For each row of keys, table's value of the same `by` with the latest `date` on or
    before the row's cohort date (NaN when none)."""
    as_text = dict.fromkeys(by, object)  # pandas' string and object columns do not join
    left = keys[[*by, "cohort_date"]].astype(as_text).reset_index().sort_values("cohort_date")
    right = table[[*by, date, value]].astype({**as_text, date: "datetime64[ns]"})
    right = right.sort_values(date)
    merged = pd.merge_asof(left, right, left_on="cohort_date", right_on=date, by=by or None)
    return merged.set_index("index")[value].reindex(keys.index).to_numpy(dtype=float)


def campaign_costs(w: World, msgs: pd.DataFrame) -> pd.DataFrame:
    """marts.campaign_costs' counts and costs per (account, campaign, cohort): delivered
    messages priced by their webhook pricing, market and cohort date (marts.md)."""
    rates = pd.read_csv(SEEDS_DIR / "whatsapp_message_rates.csv", parse_dates=["effective_from"])
    fx = pd.read_csv(SEEDS_DIR / "fx_rates.csv", parse_dates=["rate_date"])
    d = msgs[msgs["delivered"]].copy()
    st = w.statuses
    priced = st[st["known"] & st["pricing"]]
    d["has_pricing"] = np.isin(d["idx"].to_numpy(), priced["idx"].to_numpy())
    d["billable"] = d["has_pricing"] & is_billable(d["wkey"].to_numpy())
    category = np.char.lower(
        w.campaigns["template_category"].to_numpy()[d["cmp"].to_numpy()].astype(str)
    )
    # the Marketing Messages API's marketing_lite is priced at the marketing rate
    d["pricing_category"] = category
    d["market"] = w.users["country"].to_numpy()[d["uid"].to_numpy()]
    d["cohort_date"] = d["cohort"].to_numpy().astype("datetime64[D]").astype("datetime64[ns]")
    d["rate_usd"] = _latest_on_or_before(
        d, rates, ["market", "pricing_category"], "effective_from", "rate_usd"
    )
    d["currency"] = w.accounts["currency"].to_numpy()[d["acc"].to_numpy()]
    usd = fx[fx["currency"] == "USD"].drop(columns="currency")
    d["usd_per_eur"] = _latest_on_or_before(d, usd, [], "rate_date", "units_per_eur")
    d["currency_per_eur"] = _latest_on_or_before(d, fx, ["currency"], "rate_date", "units_per_eur")
    billable = d["billable"].to_numpy()
    has_rate = ~np.isnan(d["rate_usd"].to_numpy())
    has_fx = ~np.isnan(d["currency_per_eur"].to_numpy()) & ~np.isnan(d["usd_per_eur"].to_numpy())
    free = d["has_pricing"].to_numpy() & ~billable
    d["billable_messages"] = billable & has_rate
    d["free_messages"] = free
    d["messages_without_pricing"] = ~d["has_pricing"].to_numpy()
    d["messages_without_rate"] = billable & ~has_rate
    d["messages_without_fx"] = billable & has_rate & ~has_fx
    d["costed_messages"] = free | (billable & has_rate & has_fx)
    d["cost_usd"] = np.where(billable & has_rate, d["rate_usd"], 0.0)
    d["cost"] = np.where(
        billable & has_rate & has_fx,
        d["cost_usd"] * d["currency_per_eur"] / d["usd_per_eur"],
        0.0,
    )
    counts = [
        "billable_messages",
        "free_messages",
        "messages_without_pricing",
        "messages_without_rate",
        "messages_without_fx",
        "costed_messages",
    ]
    rows = d.groupby(KEYS)[[*counts, "cost_usd", "cost"]].sum().reset_index()
    rows[counts] = rows[counts].astype(np.int64)
    rows.insert(0, "account_id", w.accounts["account_id"].to_numpy()[rows.pop("acc").to_numpy()])
    rows.insert(1, "campaign_id", w.campaigns["campaign_id"].to_numpy()[rows.pop("cmp").to_numpy()])
    rows.insert(2, "cohort_date", _dates(rows.pop("cohort").to_numpy()))
    rows["cost_usd"] = rows["cost_usd"].round(6)
    rows["cost"] = rows["cost"].round(6)
    return rows.sort_values(["account_id", "campaign_id", "cohort_date"])


HOLDOUT_COUNTS = ["recipients", "converters", "revenue_cents", "revenue_sum_squares"]


def holdout_uplift(w: World, msgs: pd.DataFrame) -> pd.DataFrame:
    """marts.holdout_uplift: per (account, campaign with a control group, cohort date),
    treated (every targeted dispatch: intention to treat) and holdout recipients, those
    whose customer made the campaign's goal event within its window after the dispatch
    (by as_of, clicked or not), and that revenue in the account currency."""
    tz = list(w.accounts["timezone"])
    h = w.holdouts
    held = w.campaigns.loc[w.campaigns["has_holdout"], "cmp"].to_numpy()
    holdout = h[h["attempted_ms"] <= w.as_of_ms][["idx", "acc", "cmp", "uid", "attempted_ms"]]
    holdout = holdout.assign(
        holdout=True,
        cohort=local_days(holdout["attempted_ms"].to_numpy(), holdout["acc"].to_numpy(), tz),
    )
    treated = msgs[np.isin(msgs["cmp"].to_numpy(), held)]
    treated = treated[["idx", "acc", "cmp", "uid", "attempted_ms", "cohort"]].assign(holdout=False)
    recipients = pd.concat([treated, holdout], ignore_index=True)
    recipients = recipients[np.isin(recipients["cmp"].to_numpy(), holdout["cmp"].unique())]
    cmp = recipients["cmp"].to_numpy()
    recipients["goal"] = w.campaigns["goal_event"].to_numpy()[cmp]
    recipients["window_ms"] = w.campaigns["conversion_window_hours"].to_numpy()[cmp] * MS_H
    ev = w.conversions[w.conversions["occurred_ms"] <= w.as_of_ms].drop_duplicates("key")
    acc_currency = w.accounts["currency"].to_numpy()[ev["acc"].to_numpy()]
    cents = np.where(
        ev["currency"].to_numpy() == acc_currency, ev["revenue_cents"].fillna(0).to_numpy(), 0
    ).astype(np.int64)
    ev = ev[["acc", "uid", "event_name", "occurred_ms"]].assign(cents=cents)
    pairs = recipients[["idx", "holdout", "acc", "uid", "goal", "attempted_ms", "window_ms"]].merge(
        ev, left_on=["acc", "uid", "goal"], right_on=["acc", "uid", "event_name"]
    )
    pairs = pairs[
        (pairs["attempted_ms"] <= pairs["occurred_ms"])
        & (pairs["occurred_ms"] <= pairs["attempted_ms"] + pairs["window_ms"])
    ]
    won = pairs.groupby(["holdout", "idx"])["cents"].sum()
    index = pd.MultiIndex.from_frame(recipients[["holdout", "idx"]])
    per_recipient = won.reindex(index)
    recipients["converter"] = per_recipient.notna().to_numpy()
    recipients["revenue_cents"] = per_recipient.fillna(0).to_numpy(np.int64)
    recipients["revenue_sum_squares"] = (recipients["revenue_cents"] / 100) ** 2
    rows = (
        recipients.groupby([*KEYS, "holdout"])
        .agg(
            recipients=("idx", "size"),
            converters=("converter", "sum"),
            revenue_cents=("revenue_cents", "sum"),
            revenue_sum_squares=("revenue_sum_squares", "sum"),
        )
        .unstack("holdout", fill_value=0)
    )
    out = pd.DataFrame(index=rows.index)
    for group, flag in (("treated", False), ("holdout", True)):
        for count in HOLDOUT_COUNTS:
            column = (count, flag)
            out[f"{group}_{count}"] = rows.get(column, 0)
    out = out.reset_index()
    for group in ("treated", "holdout"):
        out[f"{group}_revenue"] = out.pop(f"{group}_revenue_cents") / 100
    return out


#: delivery_survival's horizons, hours
SURVIVAL_HOURS = (1, 6, 24, 72, 168, 720)
LATENCY_EVENTS = ("delivered", "read", "first_click")
LATENCY_PERCENTILES = (50, 90, 99)


def latency_and_survival(w: World, msgs: pd.DataFrame) -> tuple[list[dict], list[dict]]:
    """message_latency_daily and delivery_survival per (account, campaign, cohort) of sent
    messages: seconds from the send to the first delivered (delivered, read or played),
    read and click by as_of (before the send: counted, clamped to 0), their linear
    percentiles; and per horizon the messages old enough to judge and those of them
    without a delivery report (delivered or failed status) by the horizon (marts.md)."""
    s = msgs[msgs["sent"]][["idx", "acc", "cmp", "cohort", "attempted_ms"]].copy()
    st = w.statuses
    st = st[st["known"] & (st["ts"] <= w.as_of_ms // MS_S)]
    status, status_ms, status_idx = st["status"].to_numpy(), st["ts"].to_numpy() * MS_S, st["idx"]

    def first(mask: np.ndarray) -> pd.Series:
        return pd.Series(status_ms[mask], index=status_idx.to_numpy()[mask]).groupby(level=0).min()

    clicks = valid_clicks(w)
    firsts = {
        "delivered": first(np.isin(status, ["delivered", "read", "played"])),
        "read": first(status == "read"),
        "first_click": clicks.groupby("idx")["clicked_ms"].min(),
    }
    idx, attempted = s["idx"].to_numpy(), s["attempted_ms"].to_numpy()
    for event, times in firsts.items():
        s[event] = (times.reindex(idx).to_numpy(dtype=float) - attempted) / MS_S
    report = np.fmin(
        firsts["delivered"].reindex(idx).to_numpy(dtype=float),
        first(status == "failed").reindex(idx).to_numpy(dtype=float),
    )
    for hours in SURVIVAL_HOURS:
        end = attempted + hours * MS_H
        judged = end <= w.as_of_ms
        s[f"at_risk_{hours}"] = judged
        s[f"without_report_{hours}"] = judged & ~(report <= end)

    acc_ids = w.accounts["account_id"].to_numpy()
    cmp_ids = w.campaigns["campaign_id"].to_numpy()
    latency, survival = [], []
    # one iteration per campaign day (hundreds), the work inside is vectorised
    for (acc, cmp, cohort), group in s.groupby(["acc", "cmp", "cohort"]):
        keys = {
            "account_id": str(acc_ids[acc]),
            "campaign_id": str(cmp_ids[cmp]),
            "cohort_date": str(_dates(np.asarray([cohort]))[0]),
        }
        row = {**keys, "sent": len(group)}
        for event in LATENCY_EVENTS:
            seconds = group[event].dropna().to_numpy()
            row[f"{event}_count"] = len(seconds)
            row[f"{event}_before_send"] = int((seconds < 0).sum())
            clamped = np.maximum(seconds, 0.0)
            for p in LATENCY_PERCENTILES:
                row[f"seconds_to_{event}_p{p}"] = (
                    float(np.quantile(clamped, p / 100)) if len(clamped) else None
                )
        latency.append(row)
        for hours in SURVIVAL_HOURS:
            survival.append({
                **keys,
                "horizon_hours": hours,
                "sent": len(group),
                "at_risk": int(group[f"at_risk_{hours}"].sum()),
                "without_report": int(group[f"without_report_{hours}"].sum()),
            })  # fmt: skip
    return latency, survival


def compute_truth(w: World) -> dict:
    msgs = message_states(w)
    acc_ids = w.accounts["account_id"].to_numpy()
    cmp_ids = w.campaigns["campaign_id"].to_numpy()

    daily = msgs.groupby(KEYS).agg(
        targeted=("idx", "size"),
        sent=("sent", "sum"),
        delivered=("delivered", "sum"),
        undelivered=("undelivered", "sum"),
        delivery_pending=("pending", "sum"),
        opens=("opened", "sum"),
    )
    daily["dropped"] = daily["targeted"] - daily["sent"]

    cohort_of = msgs.set_index("idx")[["cmp", "cohort"]]
    clicks = valid_clicks(w).merge(msgs[["idx", "cohort"]], on="idx")
    clicks["card_index"] = clicks["card_index"].astype("Int64")
    conv = attributed_conversions(w, msgs)
    unsub = attributed_unsubscribes(w, msgs)
    unsub_ok = unsub[unsub["idx"] >= 0].merge(
        msgs[["idx", "cohort"]], on="idx", suffixes=("_u", "")
    )
    unsub_ok["cmp"] = cohort_of["cmp"].reindex(unsub_ok["idx"]).to_numpy()
    resp = responses(w).merge(msgs[["idx", "cohort"]], on="idx")

    daily["clicks"] = clicks.groupby(KEYS).size()
    daily["conversions"] = conv.groupby(KEYS).size()
    daily["revenue_cents"] = conv.groupby(KEYS)["counted_cents"].sum()
    daily["unsubscribes"] = unsub_ok.groupby(KEYS).size()
    daily["responses"] = resp.groupby(KEYS).size()
    daily = daily.fillna(0).astype(np.int64).reset_index()

    def label(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df.insert(0, "account_id", acc_ids[df["acc"].to_numpy()])
        df.insert(1, "campaign_id", cmp_ids[df["cmp"].to_numpy()])
        if "cohort" in df:
            df.insert(2, "cohort_date", _dates(df["cohort"].to_numpy()))
        return df.drop(columns=[c for c in ("acc", "cmp", "cohort") if c in df])

    totals = (
        daily.groupby("cmp")[COUNTS]
        .sum()
        .reindex(w.campaigns["cmp"], fill_value=0)
        .reset_index()
        .assign(acc=w.campaigns["acc"].to_numpy())
    )

    def metrics(df: pd.DataFrame) -> list[dict]:
        df = label(df)
        df["revenue"] = df.pop("revenue_cents") / 100
        order = ["account_id", "campaign_id"] + (["cohort_date"] if "cohort_date" in df else [])
        df = df[order + [c if c != "revenue_cents" else "revenue" for c in COUNTS]]
        return _records(df.sort_values(order))

    dropped = (
        msgs[~msgs["sent"]]
        .groupby([*KEYS, "dropped_reason"])
        .size()
        .rename("messages")
        .reset_index()
    )
    undelivered = (
        msgs[msgs["undelivered"]]
        .groupby([*KEYS, "undelivered_reason"])
        .size()
        .rename("messages")
        .reset_index()
    )

    # conversions and revenue per link: those whose last click was one of the link's clicks
    by_click = conv.groupby("click_key").agg(n=("key", "size"), cents=("counted_cents", "sum"))
    clicks["conv_n"] = by_click["n"].reindex(clicks["key"].to_numpy()).fillna(0).to_numpy(np.int64)
    clicks["conv_cents"] = (
        by_click["cents"].reindex(clicks["key"].to_numpy()).fillna(0).to_numpy(np.int64)
    )
    link = (
        clicks.groupby([*KEYS, "url", "button_id", "card_index"], dropna=False)
        .agg(
            clicks=("key", "size"),
            unique_clickers=("uid", "nunique"),
            conversions=("conv_n", "sum"),
            revenue_cents=("conv_cents", "sum"),
        )
        .reset_index()
    )
    link["revenue"] = link.pop("revenue_cents") / 100
    resp_keys = [*KEYS, "card_index", "button_id"]
    resp_rows = resp.groupby(resp_keys, dropna=False).agg(
        responses=("in_key", "size"), unique_responders=("uid", "nunique")
    )
    # what the responders did: their clicks on the campaign's messages of the cohort date and
    # the conversions attributed to those messages, whenever (before or after the response)
    user_keys = ["cmp", "cohort", "uid"]
    conv_by_user = conv.groupby(user_keys).agg(n=("key", "size"), cents=("counted_cents", "sum"))
    clicks_by_user = clicks.groupby(user_keys).size()
    responders = resp[[*resp_keys, "uid"]].drop_duplicates()
    responder_index = pd.MultiIndex.from_frame(responders[user_keys])

    def per_responder(by_user: pd.Series) -> np.ndarray:
        return by_user.reindex(responder_index).fillna(0).to_numpy(np.int64)

    responders["n"] = per_responder(conv_by_user["n"])
    responders["cents"] = per_responder(conv_by_user["cents"])
    responders["clicks"] = per_responder(clicks_by_user)
    by_option = responders.groupby(resp_keys, dropna=False)
    resp_rows["responder_conversions"] = by_option["n"].sum()
    resp_rows["responder_clicks"] = by_option["clicks"].sum()
    resp_rows["responder_revenue"] = by_option["cents"].sum() / 100
    resp_rows = resp_rows.reset_index()
    delivered = daily.set_index(KEYS)["delivered"]
    cohort_index = pd.MultiIndex.from_frame(resp_rows[KEYS])
    resp_rows["delivered"] = delivered.reindex(cohort_index).to_numpy(np.int64)

    st = w.statuses
    unknown_statuses = st[~st["known"] & (st["ts"] <= w.as_of_ms // MS_S)].drop_duplicates(
        ["wkey", "status", "ts", "code1"]
    )
    c = w.clicks
    r = w.replies
    return {
        "as_of": datetime.fromtimestamp(w.as_of_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "campaigns": metrics(totals),
        "campaign_daily": metrics(daily),
        "dropped_reasons": _records(
            label(dropped.rename(columns={"dropped_reason": "reason"})).sort_values(
                ["account_id", "campaign_id", "cohort_date", "reason"]
            )
        ),
        "undelivered_reasons": _records(
            label(undelivered.rename(columns={"undelivered_reason": "reason"})).sort_values(
                ["account_id", "campaign_id", "cohort_date", "reason"]
            )
        ),
        "link_clicks": _records(
            label(link).sort_values(
                ["account_id", "campaign_id", "cohort_date", "url", "button_id", "card_index"]
            )
        ),
        "responses": _records(
            label(resp_rows)[
                [
                    "account_id",
                    "campaign_id",
                    "cohort_date",
                    "card_index",
                    "button_id",
                    "responses",
                    "unique_responders",
                    "responder_conversions",
                    "delivered",
                    "responder_clicks",
                    "responder_revenue",
                ]
            ].sort_values(["account_id", "campaign_id", "cohort_date", "card_index", "button_id"])
        ),
        "api_comparison": _records(api_comparison(w, msgs)),
        "campaign_costs": _costs_records(campaign_costs(w, msgs)),
        "attribution_sensitivity": _attribution_records(label(attribution_sensitivity(w, msgs))),
        **dict(
            zip(
                ("message_latency_daily", "delivery_survival"),
                latency_and_survival(w, msgs),
                strict=True,
            )
        ),
        "holdout_uplift": _records(
            label(holdout_uplift(w, msgs))[
                [
                    "account_id",
                    "campaign_id",
                    "cohort_date",
                    *(
                        f"{group}_{count}"
                        for group in ("treated", "holdout")
                        for count in ("recipients", "converters", "revenue", "revenue_sum_squares")
                    ),
                ]
            ].sort_values(["account_id", "campaign_id", "cohort_date"])
        ),
        "data_quality": {
            "unmapped_codes": int(
                (msgs["dropped_reason"] == cat.UNMAPPED).sum()
                + (msgs["undelivered_reason"] == cat.UNMAPPED).sum()
            ),
            "currency_mismatches": int((~conv["same_currency"]).sum()),
            "unattributed_unsubscribes": int((unsub["idx"] < 0).sum()),
            "unknown_wamids": {
                "statuses": len(unknown_statuses),
                "clicks": int((~c["known"] & (c["clicked_ms"] <= w.as_of_ms)).sum()),
                "replies": int((~r["known"] & (r["ts"] <= w.as_of_ms // MS_S)).sum()),
                "unsubscribes": int(unsub["unknown_wamid"].sum()),
            },
        },
    }


def _dates(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def _records(df: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: numpy scalars to Python, missing values to None."""
    out = []
    cols = list(df.columns)
    for row in df.itertuples(index=False, name=None):
        rec = {}
        for k, v in zip(cols, row, strict=True):
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                rec[k] = None
            elif isinstance(v, np.integer | int) and not isinstance(v, bool):
                rec[k] = int(v)
            elif isinstance(v, np.floating | float):
                rec[k] = round(float(v), 2)
            else:
                rec[k] = v
        out.append(rec)
    return out


def _costs_records(df: pd.DataFrame) -> list[dict]:
    """Like _records, with the costs kept to the micro-unit (not cents)."""
    records = _records(df.drop(columns=["cost_usd", "cost"]))
    for rec, usd, cost in zip(records, df["cost_usd"], df["cost"], strict=True):
        rec["cost_usd"] = float(usd)
        rec["cost"] = float(cost)
    return records


def _attribution_records(df: pd.DataFrame) -> list[dict]:
    df["revenue"] = df.pop("revenue_cents") / 100
    keys = ["attribution_model", "attribution_window", "account_id", "campaign_id", "cohort_date"]
    return _records(df[[*keys, "conversions", "revenue"]].sort_values(keys))
