"""Vectorised simulation of a WhatsApp campaign operation.

Everything here is numpy/pandas over whole tables; the only Python loops run
over accounts, campaigns or sends (hundreds), never over messages or events.
Times are integer milliseconds since the Unix epoch (UTC); webhook status and
message timestamps are whole seconds, as WhatsApp sends them.

The result is a :class:`World`: the tables of what happened *and was
exported* by ``as_of`` (an event whose extract file would be cut after the
last extract day is not in them), with the decisions the simulation made
(drop reason, delivery outcome) kept beside them for checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from orchestration.generator import catalog as cat
from orchestration.generator.config import GeneratorConfig
from orchestration.progress_lines import ProgressLines

MS_S = 1_000
MS_MIN = 60_000
MS_H = 3_600_000
MS_D = 86_400_000

# Delivery outcome of a sent message, as decided by the simulation.
DELIVERED, FAILED, FAILED_THEN_DELIVERED, NO_STATUS, ONLY_SENT = range(5)

# Salts of the id scrambles (one id space each).
SALT_DISPATCH, SALT_WAMID, SALT_INBOUND, SALT_CLICK, SALT_EVENT, SALT_UNSUB, SALT_DELIVERY = (
    0x1F3A,
    0x2B7C,
    0x3C11,
    0x4D93,
    0x5E27,
    0x6FA5,
    0x7A49,
)
ID_BITS = 48  # ids are printed as 12 hex digits
WAMID_BITS = 60  # wamid keys as 15 hex digits


def scramble(n: np.ndarray, salt: int, bits: int = ID_BITS) -> np.ndarray:
    """A bijection of ``[0, 2**bits)``: sequence numbers -> random-looking ids.

    Distinct inputs give distinct outputs, so ids never collide; fixed-width
    lower-case hex of the result sorts like the integer.
    """
    mask = np.uint64((1 << bits) - 1)
    x = (np.asarray(n, dtype=np.uint64) + np.uint64(salt)) & mask
    x = (x * np.uint64(0x9E3779B97F4A7C15)) & mask
    x ^= x >> np.uint64(bits // 2)
    x = (x * np.uint64(0xBF58476D1CE4E5B9)) & mask
    return x.astype(np.int64)


def pick(
    rng: np.random.Generator, candidates: np.ndarray, rate: float, minimum: int = 0
) -> np.ndarray:
    """A random subset of ``candidates``: about ``rate`` of them, at least ``minimum``."""
    n = len(candidates)
    if n == 0:
        return candidates[:0]
    k = min(n, max(minimum, int(rng.binomial(n, rate))))
    return np.sort(rng.choice(candidates, k, replace=False))


def utc_offsets_ms(ms: np.ndarray, tz: str) -> np.ndarray:
    """UTC offset (ms) of time zone ``tz`` at each instant."""
    if len(ms) == 0:
        return np.zeros(0, dtype=np.int64)
    idx = pd.to_datetime(np.asarray(ms, dtype=np.int64), unit="ms", utc=True)
    local = idx.tz_convert(tz).tz_localize(None)
    return ((local - idx.tz_localize(None)) // pd.Timedelta(milliseconds=1)).to_numpy(np.int64)


def local_days(ms: np.ndarray, acc: np.ndarray, timezones: list[str]) -> np.ndarray:
    """Calendar day (days since 1970-01-01) of each instant in its account's time zone."""
    out = np.zeros(len(ms), dtype=np.int64)
    for a, tz in enumerate(timezones):
        mask = acc == a
        if mask.any():
            out[mask] = (ms[mask] + utc_offsets_ms(ms[mask], tz)) // MS_D
    return out


def _weighted(rng: np.random.Generator, n: int, weights: list[float]) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), n, p=p / p.sum())


@dataclass
class World:
    """The simulated operation: reference data, events and the decisions behind them."""

    cfg: GeneratorConfig
    first_day: date
    last_day: date
    first_ms: int
    as_of_ms: int
    accounts: pd.DataFrame
    users: pd.DataFrame
    campaigns: pd.DataFrame
    templates: pd.DataFrame
    buttons: pd.DataFrame
    template_change_day: int | None
    campaign_files: list[tuple[int, pd.DataFrame]]
    sends: pd.DataFrame
    dispatches: pd.DataFrame
    statuses: pd.DataFrame
    replies: pd.DataFrame
    clicks: pd.DataFrame
    conversions: pd.DataFrame
    unsubscribes: pd.DataFrame
    webhook_items: pd.DataFrame
    webhook_bodies: pd.DataFrame
    #: HOLDOUT dispatches (docs/contract/extracts.md): recipients withheld as a campaign's
    #: control group, never sent; not rows of ``dispatches`` (not targeted messages).
    holdouts: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The control groups' customers (acc, cmp, uid, user_id, phone, country): numbered
    #: after each account's ``users``, never targeted by any campaign.
    holdout_users: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def reachable_uids(self) -> np.ndarray:
        """Customers with a well-formed number (the ones WhatsApp can reach)."""
        return self.users["uid"].to_numpy()[~self.users["malformed"].to_numpy()]

    @property
    def days(self) -> list[int]:
        """Extract days as days since the epoch."""
        start = self.first_ms // MS_D
        return list(range(start, start + self.cfg.days))


def simulate(cfg: GeneratorConfig, progress: ProgressLines | None = None) -> World:
    """The whole simulated operation of ``cfg``; ``progress`` gets a line per phase."""
    progress = progress or ProgressLines(enabled=False)
    streams = np.random.SeedSequence(cfg.seed).spawn(12)
    rngs = [np.random.default_rng(s) for s in streams]
    last_day = cfg.last_day
    first_day = last_day - timedelta(days=cfg.days - 1)
    first_ms = int(datetime.combine(first_day, datetime.min.time(), UTC).timestamp() * 1000)
    as_of_ms = first_ms + cfg.days * MS_D

    with progress.step("simulated accounts, sends, dispatches"):
        accounts = _accounts(cfg, rngs[0])
        users = _users(cfg, accounts, rngs[1])
        campaigns, templates, buttons, change_day = _campaigns(cfg, accounts, rngs[2])
        campaigns = _campaign_apis(cfg, campaigns)
        sends = _sends(cfg, accounts, campaigns, users, first_ms, as_of_ms, rngs[3])
        campaigns, campaign_files = _campaign_files(cfg, campaigns, sends, first_ms, rngs[3])
        dispatches = _dispatches(cfg, sends, users, rngs[4])
        dispatches["api"] = campaigns["api"].to_numpy()[dispatches["cmp"].to_numpy()]
        campaigns, holdouts, holdout_users = _holdouts(
            cfg, accounts, campaigns, sends, users, len(dispatches)
        )
    w = World(
        cfg=cfg,
        first_day=first_day,
        last_day=last_day,
        first_ms=first_ms,
        as_of_ms=as_of_ms,
        accounts=accounts,
        users=users,
        campaigns=campaigns,
        templates=templates,
        buttons=buttons,
        template_change_day=change_day,
        campaign_files=campaign_files,
        sends=sends,
        dispatches=dispatches,
        statuses=pd.DataFrame(),
        replies=pd.DataFrame(),
        clicks=pd.DataFrame(),
        conversions=pd.DataFrame(),
        unsubscribes=pd.DataFrame(),
        webhook_items=pd.DataFrame(),
        webhook_bodies=pd.DataFrame(),
        holdouts=holdouts,
        holdout_users=holdout_users,
    )
    with progress.step("simulated outcomes, statuses, replies"):
        msgs = _outcomes(w, rngs[5])
        _statuses(w, msgs, rngs[6])
        _replies(w, msgs, rngs[7])
    with progress.step("simulated clicks, conversions, webhooks"):
        clicks_all = _clicks(w, msgs, rngs[8])
        _conversions(w, clicks_all, rngs[9])
        _holdout_conversions(w)
        _unsubscribes(w, msgs, rngs[10])
        _batch_webhooks(w, rngs[11])
    return w


# --------------------------------------------------------------------------- reference data


def _accounts(cfg: GeneratorConfig, rng: np.random.Generator) -> pd.DataFrame:
    others = [i for i in cat.INDUSTRIES if i != "retail"]
    width = max(2, len(str(cfg.accounts)))
    used: dict[str, int] = {}
    rows = []
    for a in range(cfg.accounts):
        if a < len(cat.ACCOUNT_PROFILES):
            industry, country, tz = cat.ACCOUNT_PROFILES[a]
        else:
            industry = "retail" if a % 2 == 0 else others[(a // 2) % len(others)]
            country = cat.EXTRA_ACCOUNT_COUNTRIES[a % len(cat.EXTRA_ACCOUNT_COUNTRIES)]
            tz = cat.COUNTRIES[country].timezone
        ind = cat.INDUSTRIES[industry]
        k = used.get(industry, 0)
        used[industry] = k + 1
        name = ind.brands[k % len(ind.brands)]
        if k >= len(ind.brands):
            name = f"{name} {country} {k // len(ind.brands) + 1}"
        c = cat.COUNTRIES[country]
        rows.append(
            {
                "acc": a,
                "account_id": f"acc_{a + 1:0{width}d}",
                "account_name": name,
                "industry": industry,
                "country": country,
                "timezone": tz,
                "currency": c.currency,
                "language": c.language,
                # a third of the accounts still run an API version with CBP pricing
                "pricing_model": "CBP" if a % 3 == 1 else "PMP",
                "marketing_lite": a % 4 == 2,
                "waba_id": str(int(rng.integers(10**14, 10**15))),
                "phone_number_id": str(int(rng.integers(10**14, 10**15))),
                "display_phone": c.calling_code
                + c.mobile_prefixes[0]
                + str(
                    int(rng.integers(0, 10 ** (c.national_length - len(c.mobile_prefixes[0]))))
                ).zfill(c.national_length - len(c.mobile_prefixes[0])),
            }
        )
    return pd.DataFrame(rows)


def _phones(rng: np.random.Generator, country: str, n: int) -> np.ndarray:
    c = cat.COUNTRIES[country]
    prefixes = np.asarray(c.mobile_prefixes)[rng.integers(0, len(c.mobile_prefixes), n)]
    out = np.empty(n, dtype=object)
    for p in np.unique(prefixes):
        mask = prefixes == p
        rest = c.national_length - len(p)
        digits = rng.integers(0, 10**rest, int(mask.sum()))
        out[mask] = np.char.add(f"+{c.calling_code}{p}", np.char.zfill(digits.astype(str), rest))
    return out


def _users(cfg: GeneratorConfig, accounts: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Each account's customers: home-country numbers plus a shared international pool."""
    pool = max(60, 4 * cfg.recipients_per_send)
    others = list(cat.SHARED_POOL) + list(cat.OTHER_RECIPIENT_COUNTRIES)
    frames = []
    for a, home in enumerate(accounts["country"]):
        weights = {c: 0.42 / len(cat.SHARED_POOL) for c in cat.SHARED_POOL}
        weights.update(
            {c: 0.08 / len(cat.OTHER_RECIPIENT_COUNTRIES) for c in cat.OTHER_RECIPIENT_COUNTRIES}
        )
        weights[home] = weights.get(home, 0.0) + 0.5
        names = [c for c in others if c in weights] + ([home] if home not in others else [])
        country = np.asarray(names)[_weighted(rng, pool, [weights[c] for c in names])]
        phone = np.empty(pool, dtype=object)
        for c in np.unique(country):
            mask = country == c
            phone[mask] = _phones(rng, str(c), int(mask.sum()))
        # CRM data is dirty: some numbers carry letters or are cut short.
        bad = pick(rng, np.arange(pool), 0.008, 2)
        letters = bad[: (len(bad) + 1) // 2]
        short = bad[(len(bad) + 1) // 2 :]
        good = pd.Series(phone[letters], dtype="string")
        phone[letters] = (good.str.slice(0, 5) + "ABC" + good.str.slice(8)).to_numpy(object)
        phone[short] = pd.Series(phone[short], dtype="string").str.slice(0, 6).to_numpy(object)
        malformed = np.zeros(pool, dtype=bool)
        malformed[bad] = True
        frames.append(
            pd.DataFrame(
                {
                    "acc": a,
                    "user": np.arange(pool),
                    "user_id": np.char.add(
                        "cust_", np.char.zfill(np.arange(1, pool + 1).astype(str), 6)
                    ),
                    "phone": phone,
                    "country": country,
                    "malformed": malformed,
                }
            )
        )
    users = pd.concat(frames, ignore_index=True)
    users["uid"] = np.arange(len(users))
    users["digits"] = users["phone"].str.slice(1)
    return users


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")


def _template_buttons(
    rng: np.random.Generator, category: str, base_url: str, full: bool
) -> tuple[list[dict], str | None]:
    """Buttons of one template (``card_index`` None outside carousels) and its body link."""
    b: list[dict] = []

    def add(
        button_id: str,
        kind: str,
        text: str,
        url: str | None = None,
        card: int | None = None,
        ext=False,
    ):
        b.append(
            {
                "button_id": button_id,
                "type": kind,
                "text": text,
                "url": url,
                "card_index": card,
                "external": ext,
            }
        )

    body_link = None
    if category == "MARKETING":
        add("qr_yes", "QUICK_REPLY", "Interested")
        if full or rng.random() < 0.5:
            add("qr_stop", "QUICK_REPLY", "Stop promotions")
        if full or rng.random() < 0.5:
            add("qr_agent", "QUICK_REPLY", "Talk to us", ext=True)
        add("url_shop", "URL", "Shop now", f"{base_url}?utm_source=whatsapp&utm_medium=button")
        if full or rng.random() < 0.4:
            for k in range(int(rng.integers(2, 4))):
                add(f"c{k}_buy", "URL", "Buy", f"{base_url}/p/{k + 1}?utm_source=whatsapp", card=k)
                if full or rng.random() < 0.6:
                    add(f"c{k}_more", "QUICK_REPLY", "More like this", card=k)
        if full or rng.random() < 0.6:
            body_link = f"{base_url}/terms"
    elif category == "UTILITY":
        add("url_track", "URL", "Track order", f"{base_url}/track")
        if full or rng.random() < 0.5:
            add("qr_agent", "QUICK_REPLY", "Talk to an agent", ext=True)
        if full or rng.random() < 0.5:
            add("qr_ok", "QUICK_REPLY", "Thanks")
        if full or rng.random() < 0.3:
            body_link = f"{base_url}/help"
    else:
        add("url_verify", "URL", "Open app", f"{base_url}/verify")
        add("qr_not_me", "QUICK_REPLY", "It wasn't me")
    return b, body_link


def _campaigns(
    cfg: GeneratorConfig, accounts: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int | None]:
    n_acc = len(accounts)
    acc_of = np.concatenate(
        [
            np.arange(min(n_acc, cfg.campaigns)),
            rng.integers(0, n_acc, max(0, cfg.campaigns - n_acc)),
        ]
    )
    acc_of = np.sort(acc_of, kind="stable")
    first_of_acc = np.r_[True, acc_of[1:] != acc_of[:-1]]
    retail = accounts["industry"].to_numpy()[acc_of] == "retail"
    # Automated campaigns: first the first campaign of every retail account (these
    # feed the read-rate benchmark cohorts), then first campaigns of other accounts.
    n_auto = max(1, round(cfg.campaigns / 3))
    order = np.concatenate(
        [
            np.flatnonzero(first_of_acc & retail),
            np.flatnonzero(first_of_acc & ~retail),
            np.flatnonzero(~first_of_acc),
        ]
    )
    automated = np.zeros(cfg.campaigns, dtype=bool)
    automated[order[:n_auto]] = True
    categories = np.asarray(["MARKETING", "UTILITY", "AUTHENTICATION"])[
        _weighted(rng, cfg.campaigns, [0.6, 0.25, 0.15])
    ]
    categories[automated & retail] = "MARKETING"
    full_done = False
    rows, tpl_rows, btn_rows = [], [], []
    theme_count: dict[tuple[int, str], int] = {}
    for c in range(cfg.campaigns):
        a = int(acc_of[c])
        acc = accounts.iloc[a]
        ind = cat.INDUSTRIES[acc["industry"]]
        category = str(categories[c])
        theme = ind.themes[int(rng.integers(0, len(ind.themes)))]
        if category == "AUTHENTICATION":
            theme, goal, window = "Login Code", cat.AUTH_GOAL, 24
        else:
            goal = ind.goals[int(rng.integers(0, len(ind.goals)))]
            window = int(rng.choice([24, 72, 168] if category == "MARKETING" else [24, 72]))
        k = theme_count.get((a, theme), 0) + 1
        theme_count[(a, theme)] = k
        campaign_id = f"cmp_{c + 1:04d}"
        template_name = f"{_slug(theme)}_{k}"
        # The first automated marketing campaign gets every template feature.
        full = bool(category == "MARKETING" and automated[c] and not full_done)
        full_done = full_done or full
        base_url = f"https://{ind.domain}/{acc['account_id']}/{template_name}"
        buttons, body_link = _template_buttons(rng, category, base_url, full)
        body = {
            "MARKETING": "Hi {{1}}, " + theme.lower() + " is on: {{2}}",
            "UTILITY": "Hi {{1}}, an update about your " + theme.lower() + ": {{2}}",
            "AUTHENTICATION": "{{1}} is your verification code. "
            "For your security, do not share it.",
        }[category]
        if body_link:
            body += f" Details: {body_link}"
        tpl_rows.append(
            {
                "tpl": c,
                "acc": a,
                "template_name": template_name,
                "language": acc["language"],
                "category": category,
                "body": body,
                "changed": False,
            }
        )
        for i, b in enumerate(buttons):
            btn_rows.append({"tpl": c, "seq": i, **b})
        if body_link:
            btn_rows.append(
                {
                    "tpl": c,
                    "seq": len(buttons),
                    "button_id": None,
                    "type": "BODY_LINK",
                    "text": None,
                    "url": body_link,
                    "card_index": None,
                    "external": False,
                }
            )
        rows.append(
            {
                "cmp": c,
                "acc": a,
                "campaign_id": campaign_id,
                "campaign_name": f"{theme} {'(daily)' if automated[c] else 'blast'} #{k}",
                "campaign_type": "automated" if automated[c] else "one_time",
                "tpl": c,
                "template_name": template_name,
                "template_language": acc["language"],
                "template_category": category,
                "goal_event": goal,
                "conversion_window_hours": window,
                "read_p": rng.uniform(
                    *{"MARKETING": (0.3, 0.75), "UTILITY": (0.55, 0.9)}.get(category, (0.6, 0.95))
                ),
                "click_p": rng.uniform(0.06, 0.2),
                "reply_p": rng.uniform(0.03, 0.12),
                "conv_p": rng.uniform(0.1, 0.35),
                "drop_p": rng.uniform(0.02, 0.08),
            }
        )
    campaigns = pd.DataFrame(rows)
    templates = pd.DataFrame(tpl_rows)
    buttons = pd.DataFrame(btn_rows)
    buttons["card_index"] = buttons["card_index"].astype("Int64")
    buttons["bid"] = np.arange(len(buttons))
    # A later templates file rewords some templates (same buttons and ids).
    change_day = None
    buttons["text_v2"] = buttons["text"]
    if cfg.days >= 2:
        change_day = max(1, round(cfg.days * 0.6))
        changed = pick(rng, np.arange(len(templates)), 0.3, 1)
        templates.loc[changed, "changed"] = True
        first_qr = (
            buttons[buttons["tpl"].isin(changed) & (buttons["type"] == "QUICK_REPLY")]
            .groupby("tpl")
            .head(1)
        )
        buttons.loc[first_qr.index, "text_v2"] = buttons.loc[first_qr.index, "text"] + " ✓"
    return campaigns, templates, buttons, change_day


#: The ``api`` of a dispatch (docs/contract/extracts.md): every send of a campaign goes
#: through the same API.
CLOUD_API, MARKETING_MESSAGES_API = "cloud_api", "marketing_messages_api"
#: Share of campaigns sent through the Marketing Messages API.
MM_API_SHARE = 0.25
#: Marketing Messages API effects (modest, in the direction Meta advertises): a read
#: probability this much higher (capped at 0.95), and this share of its messages that
#: would have failed or stayed without a report delivered instead.
MM_API_READ_LIFT = 1.1
MM_API_RESCUED = 0.35


def _api_rng(cfg: GeneratorConfig, stream: int) -> np.random.Generator:
    """A random stream of its own for the API split: it draws nothing from the
    streams of :func:`simulate`, so every other decision is unchanged by it."""
    return np.random.default_rng([cfg.seed, 0xA91, stream])


def _campaign_apis(cfg: GeneratorConfig, campaigns: pd.DataFrame) -> pd.DataFrame:
    """Each campaign's API: most Cloud API, about a quarter Marketing Messages API (at
    least one of each with two campaigns or more); Marketing Messages API campaigns
    get their read lift."""
    n = len(campaigns)
    mm = _api_rng(cfg, 0).random(n) < MM_API_SHARE
    if n >= 2 and not mm.any():
        mm[n - 1] = True
    if n >= 2 and mm.all():
        mm[0] = False
    campaigns = campaigns.copy()
    campaigns["api"] = np.where(mm, MARKETING_MESSAGES_API, CLOUD_API)
    read_p = campaigns["read_p"].to_numpy()
    campaigns["read_p"] = np.where(mm, np.minimum(0.95, read_p * MM_API_READ_LIFT), read_p)
    return campaigns


# --------------------------------------------------------------------------- sends and dispatches


def _sends(
    cfg: GeneratorConfig,
    accounts: pd.DataFrame,
    campaigns: pd.DataFrame,
    users: pd.DataFrame,
    first_ms: int,
    as_of_ms: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    pool = users.groupby("acc").size()
    first_day = datetime.fromtimestamp(first_ms / 1000, UTC).date()
    rows = []
    for c in campaigns.itertuples():
        tz = ZoneInfo(accounts.at[c.acc, "timezone"])
        hour, minute = int(rng.integers(8, 20)), int(rng.integers(0, 60))
        if c.campaign_type == "automated":
            # retail automations run all along (benchmark cohorts); others may start later
            late_start = accounts.at[c.acc, "industry"] != "retail" and rng.random() < 0.4
            start = int(rng.integers(1, cfg.days // 3 + 2)) if late_start else 0
            local_dates = [first_day + timedelta(days=d) for d in range(start - 1, cfg.days + 1)]
        else:
            local_dates = [first_day + timedelta(days=int(rng.integers(0, cfg.days)))]
        for ld in local_dates:
            n = max(
                1, min(int(pool[c.acc]), round(cfg.recipients_per_send * rng.uniform(0.9, 1.1)))
            )
            rate = rng.uniform(20, 120)  # recipients processed per second
            duration = int(n / rate * 1000) + 1
            t = int(datetime(ld.year, ld.month, ld.day, hour, minute, tzinfo=tz).timestamp() * 1000)
            t += int(rng.integers(0, 60_000))
            if c.campaign_type == "one_time":
                if t < first_ms:
                    t += MS_D
                if t + duration >= as_of_ms - MS_MIN:
                    t -= MS_D
            if t < first_ms or t + duration >= as_of_ms - MS_MIN:
                continue
            rows.append(
                {
                    "cmp": c.cmp,
                    "acc": c.acc,
                    "send_id": f"{c.campaign_id}-{ld:%Y%m%d}",
                    "start_ms": t,
                    "duration_ms": duration,
                    "n": n,
                }
            )
    sends = pd.DataFrame(rows).sort_values(["start_ms", "cmp"], ignore_index=True)
    sends["send"] = np.arange(len(sends))
    return sends


def _campaign_files(
    cfg: GeneratorConfig,
    campaigns: pd.DataFrame,
    sends: pd.DataFrame,
    first_ms: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, list[tuple[int, pd.DataFrame]]]:
    """Snapshot files: new campaigns as they appear, and a late file renaming some."""
    first_send = sends.groupby("cmp")["start_ms"].min().reindex(campaigns["cmp"])
    fallback = first_ms + (campaigns["cmp"].to_numpy() % cfg.days) * MS_D + 10 * MS_H
    first_send = np.where(first_send.isna(), fallback, first_send.fillna(0)).astype(np.int64)
    campaigns = campaigns.copy()
    campaigns["created_ms"] = first_send - rng.integers(MS_H, 96 * MS_H, len(campaigns))
    start = first_ms // MS_D
    snapshot_days = sorted({0, *range(10, cfg.days, 10), cfg.days - 1})
    files: list[tuple[int, pd.DataFrame]] = []
    written = np.zeros(len(campaigns), dtype=bool)
    for d in snapshot_days:
        day_end = (start + d + 1) * MS_D
        new = ~written & (campaigns["created_ms"].to_numpy() < day_end)
        if d == snapshot_days[-1]:
            new |= ~written
        rows = campaigns[new].copy()
        written |= new
        if d == snapshot_days[-1] and len(snapshot_days) > 1:
            renamed = campaigns.loc[pick(rng, np.flatnonzero(~new), 0.25, 1)].copy()
            renamed["campaign_name"] = renamed["campaign_name"] + " - renamed"
            campaigns.loc[renamed.index, "campaign_name"] = renamed["campaign_name"]
            rows = pd.concat([rows, renamed])
        files.append((start + d, rows.sort_values("cmp")))
    return campaigns, files


def _dispatches(
    cfg: GeneratorConfig, sends: pd.DataFrame, users: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    acc_offset = users.groupby("acc")["uid"].min()
    pool = users.groupby("acc").size()
    dup_k = rng.binomial(sends["n"].to_numpy(), 0.004)
    if dup_k.sum() == 0 and len(sends):
        dup_k[int(sends["n"].to_numpy().argmax())] = 1
    parts_user, parts_send, parts_dup = [], [], []
    for s, acc, n, k in zip(sends["send"], sends["acc"], sends["n"], dup_k, strict=True):
        chosen = rng.choice(int(pool[acc]), int(n), replace=False) + int(acc_offset[acc])
        dups = rng.choice(chosen, int(k)) if k else chosen[:0]
        parts_user += [chosen, dups]
        parts_send += [np.full(len(chosen) + len(dups), s)]
        parts_dup += [np.zeros(len(chosen), bool), np.ones(len(dups), bool)]
    uid = np.concatenate(parts_user)
    send = np.concatenate(parts_send)
    is_dup = np.concatenate(parts_dup)
    start = sends["start_ms"].to_numpy()[send]
    offset = (rng.random(len(uid)) * sends["duration_ms"].to_numpy()[send]).astype(np.int64)
    # a duplicate is noticed after its first occurrence was processed
    offset = np.where(is_dup, sends["duration_ms"].to_numpy()[send] + offset % 997 + 1, offset)
    attempted = start + offset
    order = np.lexsort((uid, attempted))
    d = pd.DataFrame(
        {
            "send": send[order],
            "uid": uid[order],
            "attempted_ms": attempted[order],
            "is_dup": is_dup[order],
        }
    )
    d["cmp"] = sends["cmp"].to_numpy()[d["send"]]
    d["acc"] = sends["acc"].to_numpy()[d["send"]]
    d["idx"] = np.arange(len(d))
    d["malformed"] = users["malformed"].to_numpy()[d["uid"]]
    return d


#: Share of campaigns that keep a control group, and the share of each of their sends'
#: recipients withheld into it (result HOLDOUT: never sent).
HOLDOUT_CAMPAIGN_SHARE = 0.3
HOLDOUT_SHARE = 0.1
#: A holdout recipient makes the campaign's goal event within its window with this share
#: of the probability a treated recipient does through a click (click_p x conv_p): the
#: baseline the campaign would have had anyway, so the sample shows a positive uplift.
HOLDOUT_BASELINE = 0.4


def _holdout_rng(cfg: GeneratorConfig, stream: int) -> np.random.Generator:
    """A random stream of its own for the holdouts: it draws nothing from the streams of
    :func:`simulate`, so every decision about the targeted dispatches is unchanged by it."""
    return np.random.default_rng([cfg.seed, 0x401D, stream])


def _holdouts(
    cfg: GeneratorConfig,
    accounts: pd.DataFrame,
    campaigns: pd.DataFrame,
    sends: pd.DataFrame,
    users: pd.DataFrame,
    first_idx: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Campaigns with a control group (``has_holdout``), its customers and their HOLDOUT
    dispatches.

    About :data:`HOLDOUT_CAMPAIGN_SHARE` of the campaigns (at least one automated one,
    and one without, given two campaigns or more) keep a control group: customers of the
    account (numbered after its other customers, numbers from its home country) that
    the campaign never sends to, :data:`HOLDOUT_SHARE` of its audience. Each send
    withholds each of them with the probability the send targets a customer of the pool
    (n / pool), so about that share of every send's recipients are HOLDOUT rows,
    processed during the send like the others. They are kept out of ``users``: every
    targeted dispatch and everything decided about it is exactly as without holdouts.
    Dispatch ids follow the targeted dispatches' (``first_idx`` on)."""
    rng = _holdout_rng(cfg, 0)
    n = len(campaigns)
    chosen = rng.random(n) < HOLDOUT_CAMPAIGN_SHARE
    automated = campaigns["campaign_type"].to_numpy() == "automated"
    if automated.any() and not (chosen & automated).any():  # a control group over many days
        chosen[np.flatnonzero(automated)[0]] = True
    if n >= 2 and not chosen.any():
        chosen[0] = True
    if n >= 2 and chosen.all():
        chosen[n - 1] = False
    campaigns = campaigns.copy()
    campaigns["has_holdout"] = chosen
    pool = users.groupby("acc").size()
    numbered = pool.to_dict()  # customers numbered so far, per account
    next_uid = len(users)
    group_parts, parts = [], []
    for c in campaigns[chosen].itertuples():
        size = max(1, round(int(pool[c.acc]) * HOLDOUT_SHARE / (1 - HOLDOUT_SHARE)))
        uid = next_uid + np.arange(size, dtype=np.int64)
        number = numbered[c.acc] + 1 + np.arange(size)
        next_uid += size
        numbered[c.acc] += size
        country = accounts.at[c.acc, "country"]
        phone = _phones(rng, country, size)
        group_parts.append(
            pd.DataFrame(
                {
                    "acc": c.acc,
                    "cmp": c.cmp,
                    "uid": uid,
                    "user_id": np.char.add("cust_", np.char.zfill(number.astype(str), 6)),
                    "phone": phone,
                    "country": country,
                }
            )
        )
        for send in sends[sends["cmp"] == c.cmp].itertuples():
            withheld = uid[rng.random(size) < min(1.0, send.n / int(pool[c.acc]))]
            offset = (rng.random(len(withheld)) * send.duration_ms).astype(np.int64)
            parts.append(
                pd.DataFrame(
                    {
                        "send": send.send,
                        "cmp": c.cmp,
                        "acc": c.acc,
                        "uid": withheld,
                        "attempted_ms": send.start_ms + offset,
                    }
                )
            )
    columns = ["send", "cmp", "acc", "uid", "attempted_ms"]
    h = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    h = h.astype({c: np.int64 for c in columns}).sort_values(
        ["attempted_ms", "uid"], ignore_index=True
    )
    # ids after the targeted dispatches' (scramble is a bijection: no collision)
    h["idx"] = first_idx + np.arange(len(h), dtype=np.int64)
    h["api"] = campaigns["api"].to_numpy()[h["cmp"].to_numpy()]
    group_columns = ["acc", "cmp", "uid", "user_id", "phone", "country"]
    groups = (
        pd.concat(group_parts, ignore_index=True)
        if group_parts
        else pd.DataFrame(columns=group_columns)
    )
    return campaigns, h, groups


def _holdout_conversions(w: World) -> None:
    """Goal events of holdout recipients at the baseline rate (:data:`HOLDOUT_BASELINE`),
    within their window after the withheld dispatch, appended to ``w.conversions`` with
    ids after the others (every earlier event keeps its id). One sits on the window's
    end (inclusive), one a second past it, and the latest recipient's (when withheld on
    the last day) falls just after ``as_of`` (not counted yet)."""
    h = w.holdouts
    if h.empty:
        return
    rng = _holdout_rng(w.cfg, 1)
    cmp = h["cmp"].to_numpy()
    c = w.campaigns
    p = HOLDOUT_BASELINE * c["click_p"].to_numpy()[cmp] * c["conv_p"].to_numpy()[cmp]
    chosen = rng.random(len(h)) < p
    # at least two whose window ends before as_of, for the edges below
    settled = np.flatnonzero(
        h["attempted_ms"].to_numpy() + c["conversion_window_hours"].to_numpy()[cmp] * MS_H + MS_S
        < w.as_of_ms
    )
    free = settled[~chosen[settled]]
    missing = min(len(free), max(0, 2 - int(chosen[settled].sum())))
    if missing:
        chosen[rng.choice(free, missing, replace=False)] = True
    chosen = np.flatnonzero(chosen)
    window = c["conversion_window_hours"].to_numpy()[cmp[chosen]] * MS_H
    attempted = h["attempted_ms"].to_numpy()[chosen]
    delay = (rng.random(len(chosen)) * window).astype(np.int64)
    fits = np.flatnonzero(attempted + window + MS_S < w.as_of_ms)
    edges = fits[: min(2, len(fits))]
    delay[edges[::2]] = window[edges[::2]]  # exactly at the window's end: counts
    delay[edges[1::2]] = window[edges[1::2]] + MS_S  # one second late: does not
    occurred = attempted + delay
    # events after as_of are not exported yet (as in _conversions), but for one: the
    # latest holdout recipient's, stamped just after as_of in the last day's file
    exported = occurred < w.as_of_ms
    rows = [chosen[exported], occurred[exported], np.zeros(int(exported.sum()), dtype=bool)]
    latest = int(np.argmax(h["attempted_ms"].to_numpy()))
    if h["attempted_ms"].iat[latest] >= w.as_of_ms - MS_D:
        rows = [
            np.r_[rows[0], latest],
            np.r_[rows[1], w.as_of_ms + int(rng.integers(MS_S, MS_MIN))],
            np.r_[rows[2], True],
        ]
    pick_rows, occurred, after = rows
    e = pd.DataFrame(
        {
            "acc": h["acc"].to_numpy()[pick_rows],
            "uid": h["uid"].to_numpy()[pick_rows],
            "event_name": c["goal_event"].to_numpy()[cmp[pick_rows]],
            "occurred_ms": occurred,
            "after_as_of": after,
        }
    )
    currency = w.accounts["currency"].to_numpy()[e["acc"].to_numpy()]
    revenue_goal = e["event_name"].isin([*cat.REVENUE_GOALS, "Purchase"]).to_numpy()
    cents = _revenue_cents(rng, currency).astype(float)
    cents[~revenue_goal] = np.where(rng.random(int((~revenue_goal).sum())) < 0.6, np.nan, 0.0)
    e["revenue_cents"] = pd.array(
        np.where(np.isnan(cents), 0, cents).astype(np.int64), dtype="Int64"
    )
    e.loc[np.isnan(cents), "revenue_cents"] = pd.NA
    e["currency"] = currency
    user_ids = pd.Series(w.holdout_users["user_id"].to_numpy(), index=w.holdout_users["uid"])
    e["user_id"] = user_ids.reindex(e["uid"].to_numpy()).to_numpy()
    start = len(w.conversions)
    e["key"] = scramble(start + np.arange(len(e)), SALT_EVENT)
    e["day"] = np.where(e["after_as_of"], w.as_of_ms // MS_D - 1, e["occurred_ms"] // MS_D)
    e["offset_ms"] = 0
    acc = e["acc"].to_numpy()
    for a, tz in enumerate(w.accounts["timezone"]):
        mask = acc == a
        if mask.any():
            e.loc[mask, "offset_ms"] = utc_offsets_ms(e.loc[mask, "occurred_ms"].to_numpy(), tz)
    e["dup_day"] = -1
    w.conversions = pd.concat([w.conversions, e[list(w.conversions.columns)]], ignore_index=True)


# --------------------------------------------------------------------------- outcomes


def _outcomes(w: World, rng: np.random.Generator) -> pd.DataFrame:
    """Decide every dispatch's fate: dropped (reason, code) or sent (delivery outcome)."""
    d = w.dispatches
    n = len(d)
    reasons = np.asarray(list(cat.DROP_REASON_WEIGHTS))
    reason = np.full(n, None, dtype=object)
    reason[d["is_dup"].to_numpy()] = "Duplicates"
    normal = ~d["is_dup"].to_numpy()
    bad_phone = normal & d["malformed"].to_numpy()
    r = rng.random(n)
    reason[bad_phone & (r < 0.9)] = "Invalid Phone Numbers"
    weights = list(cat.DROP_REASON_WEIGHTS.values())
    other = bad_phone & (r >= 0.9)
    reason[other] = reasons[_weighted(rng, int(other.sum()), weights)]
    drop_p = w.campaigns["drop_p"].to_numpy()[d["cmp"].to_numpy()]
    dropped = normal & ~bad_phone & (rng.random(n) < drop_p)
    reason[dropped] = reasons[_weighted(rng, int(dropped.sum()), weights)]
    drop_code = np.full(n, None, dtype=object)
    meta_code = np.full(n, -1, dtype=np.int64)
    for rsn, choices in cat.DROP_CHOICES.items():
        rows = np.flatnonzero(reason == rsn)
        k = _weighted(rng, len(rows), [wt for _, _, wt in choices])
        for i, (dc, code, _) in enumerate(choices):
            drop_code[rows[k == i]] = dc
            meta_code[rows[k == i]] = -1 if code is None else code
    # Every (reason, drop code, meta code) appears at least once.
    decided = pd.notna(reason)
    eligible = np.flatnonzero(normal & ~bad_phone & ~decided)
    combos = [
        (rsn, dc, code)
        for rsn, cs in cat.DROP_CHOICES.items()
        if rsn != "Duplicates"
        for dc, code, _ in cs
    ]
    present = set(
        pd.DataFrame({"r": reason[decided], "d": drop_code[decided], "c": meta_code[decided]})
        .drop_duplicates()
        .itertuples(index=False, name=None)
    )
    missing = [(rsn, dc, -1 if code is None else code) for rsn, dc, code in combos]
    missing = [m for m in missing if m not in present]
    forced = (
        rng.choice(eligible, min(len(missing), len(eligible)), replace=False)
        if len(eligible)
        else []
    )
    for row, (rsn, dc, code) in zip(forced, missing, strict=False):
        reason[row], drop_code[row], meta_code[row] = rsn, dc, code
    d["drop_reason"] = reason
    d["drop_code"] = drop_code
    d["meta_error_code"] = pd.array(np.where(meta_code >= 0, meta_code, 0), dtype="Int64")
    d.loc[meta_code < 0, "meta_error_code"] = pd.NA
    d["sent"] = pd.isna(d["drop_reason"])
    d["wkey"] = scramble(d["idx"].to_numpy(), SALT_WAMID, WAMID_BITS)

    # Delivery outcome of sent messages.
    s = d.loc[d["sent"], ["idx", "cmp", "acc", "uid", "attempted_ms"]].reset_index(drop=True)
    m = len(s)
    outcome = _weighted(rng, m, [0.905, 0.046, 0.004, 0.027, 0.018])
    # the Marketing Messages API delivers some messages the Cloud API would not
    is_mm = w.dispatches["api"].to_numpy()[s["idx"].to_numpy()] == MARKETING_MESSAGES_API
    rescued = (
        is_mm
        & np.isin(outcome, [FAILED, NO_STATUS])
        & (_api_rng(w.cfg, 1).random(m) < MM_API_RESCUED)
    )
    outcome[rescued] = DELIVERED
    old = np.flatnonzero(s["attempted_ms"].to_numpy() < w.as_of_ms - 3 * MS_D)
    undelivered_reasons = np.asarray(list(cat.UNDELIVERED_REASON_WEIGHTS))
    ureason = np.full(m, None, dtype=object)
    code1 = np.full(m, -1, dtype=np.int64)
    failed = np.flatnonzero(np.isin(outcome, [FAILED, FAILED_THEN_DELIVERED]))
    ureason[failed] = undelivered_reasons[
        _weighted(rng, len(failed), list(cat.UNDELIVERED_REASON_WEIGHTS.values()))
    ]
    for rsn, choices in cat.UNDELIVERED_CHOICES.items():
        rows = np.flatnonzero(ureason == rsn)
        code1[rows] = np.asarray([c for c, _ in choices])[
            _weighted(rng, len(rows), [wt for _, wt in choices])
        ]
    # Every undelivered (reason, code) appears on an old enough message.
    combos = [(rsn, c) for rsn, cs in cat.UNDELIVERED_CHOICES.items() for c, _ in cs]
    have = set(
        pd.DataFrame({"r": ureason[outcome == FAILED], "c": code1[outcome == FAILED]})
        .drop_duplicates()
        .itertuples(index=False, name=None)
    )
    missing2 = [cmb for cmb in combos if cmb not in have]
    cand = old[outcome[old] == DELIVERED]
    forced2 = rng.choice(cand, min(len(missing2), len(cand)), replace=False) if len(cand) else []
    for row, (rsn, c) in zip(forced2, missing2, strict=False):
        outcome[row], ureason[row], code1[row] = FAILED, rsn, c
    s["outcome"] = outcome
    s["failed_reason"] = ureason
    s["code1"] = code1
    s["j"] = np.arange(m)
    return s


# --------------------------------------------------------------------------- webhooks


_STATUS_KINDS = (
    "sent",
    "delivered",
    "read",
    "played",
    "failed",
    "failed_b",
    "delivered_b",
    "deleted",
    "late",
)


def _statuses(w: World, s: pd.DataFrame, rng: np.random.Generator) -> None:
    m = len(s)
    cmp = s["cmp"].to_numpy()
    att = s["attempted_ms"].to_numpy()
    out = s["outcome"].to_numpy()
    as_of_s = w.as_of_ms // MS_S
    none = np.int64(-1)
    ts = {k: np.full(m, none) for k in _STATUS_KINDS}
    late_status = np.full(m, None, dtype=object)
    code_b = np.full(m, -1, dtype=np.int64)
    code2 = np.full(m, -1, dtype=np.int64)

    sent_ts = -(-(att + rng.integers(200, 2500, m)) // MS_S)
    has_sent = (out != NO_STATUS) & ((out == ONLY_SENT) | (rng.random(m) < 0.97))
    ts["sent"][has_sent] = sent_ts[has_sent]

    # delivery delay: seconds mostly, hours sometimes, days for phones that were off
    u = rng.random(m)
    delay = np.where(
        u < 0.9,
        rng.integers(1, 20, m),
        np.where(
            u < 0.97,
            rng.exponential(3600, m).astype(np.int64) + 1,
            np.where(
                u < 0.995,
                rng.integers(86_400, 7 * 86_400, m),
                rng.integers(7 * 86_400, 29 * 86_400, m),
            ),
        ),
    )
    is_failed = np.isin(out, [FAILED, FAILED_THEN_DELIVERED])
    held = rng.random(m) < 0.2
    fail_ts = sent_ts + np.where(held, rng.integers(3600, 3 * 86_400, m), rng.integers(1, 60, m))
    ts["failed"][is_failed] = fail_ts[is_failed]
    deliv = np.where(
        out == FAILED_THEN_DELIVERED, fail_ts + rng.integers(60, 6 * 3600, m), sent_ts + delay
    )
    delivered = np.isin(out, [DELIVERED, FAILED_THEN_DELIVERED])
    read_p = w.campaigns["read_p"].to_numpy()[cmp]
    read = delivered & (rng.random(m) < read_p)
    read_delay = np.where(
        rng.random(m) < 0.5,
        rng.integers(1, 600, m),
        rng.exponential(4 * 3600, m).astype(np.int64) + 1,
    )
    read_ts = deliv + np.minimum(read_delay, 10 * 86_400)
    played = pick(rng, np.flatnonzero(delivered & ~read & (out == DELIVERED)), 0.005, 1)
    # Meta skips `delivered` when the message is read at once.
    skip_delivered = pick(rng, np.flatnonzero(read), 0.1, 1)
    has_delivered = delivered.copy()
    has_delivered[skip_delivered] = False
    ts["delivered"][has_delivered] = deliv[has_delivered]
    ts["read"][read] = read_ts[read]
    ts["played"][played] = deliv[played] + rng.integers(5, 7200, len(played))
    repeat = pick(rng, np.flatnonzero(has_delivered & (out == DELIVERED)), 0.003, 1)
    ts["delivered_b"][repeat] = deliv[repeat] + rng.integers(1, 30, len(repeat))
    deleted = pick(rng, np.flatnonzero(out == DELIVERED), 0.002, 1)
    ts["deleted"][deleted] = np.where(
        read[deleted], read_ts[deleted], deliv[deleted]
    ) + rng.integers(60, 86_400, len(deleted))

    # failed with two errors; a second failed status at the same second with a higher
    # code (ties: the lowest code decides); a second failed status later (earliest decides)
    code1 = s["code1"].to_numpy()
    only_failed = np.flatnonzero(out == FAILED)
    all_codes = np.asarray(sorted({c for cs in cat.UNDELIVERED_CHOICES.values() for c, _ in cs}))
    two = pick(rng, only_failed, 0.1, 1)
    pos1 = np.searchsorted(all_codes, code1[two])
    code2[two] = all_codes[(pos1 + rng.integers(1, len(all_codes), len(two))) % len(all_codes)]
    rest = np.setdiff1d(only_failed, two)
    tie = pick(rng, rest[code1[rest] < all_codes.max()], 0.03, 1)
    higher_pos = np.searchsorted(all_codes, code1[tie], side="right")
    code_b[tie] = all_codes[rng.integers(higher_pos, len(all_codes))]
    ts["failed_b"][tie] = fail_ts[tie]
    later = pick(rng, np.setdiff1d(rest, tie), 0.03, 1)
    code_b[later] = all_codes[rng.integers(0, len(all_codes), len(later))]
    ts["failed_b"][later] = fail_ts[later] + rng.integers(60, 86_400, len(later))

    # A handful of statuses stamped after as_of (clock skew) arrive in the last file.
    recent = att >= w.as_of_ms - MS_D  # sent on the last day
    late_read = pick(rng, np.flatnonzero(recent & delivered & ~read & (out == DELIVERED)), 0.0, 3)
    late_deliv = pick(rng, np.flatnonzero(recent & (out == NO_STATUS)), 0.0, 2)
    late_status[late_read] = "read"
    late_status[late_deliv] = "delivered"
    late = np.concatenate([late_read, late_deliv])
    ts["late"][late] = as_of_s + rng.integers(60, 7200, len(late))

    # When each status reaches our receiver.
    recv = {}
    for k in _STATUS_KINDS:
        base = ts[k] * MS_S + rng.integers(200, 4000, m)
        retry = rng.random(m) < 0.015
        base += np.where(
            retry, np.minimum(rng.exponential(6 * MS_H, m).astype(np.int64), 7 * MS_D), 0
        )
        recv[k] = np.where(ts[k] >= 0, base, -1)
    recv["late"][late] = np.maximum(
        att[late] + MS_MIN, w.as_of_ms - rng.integers(MS_MIN, 3 * MS_H, len(late))
    )
    recv["late"][late] = np.minimum(recv["late"][late], w.as_of_ms - 1)
    # `sent` arriving last; `read` arriving before `delivered`
    others = np.max(np.stack([recv[k] for k in _STATUS_KINDS if k not in ("sent", "late")]), axis=0)
    sent_last = pick(rng, np.flatnonzero(has_sent & (others >= 0)), 0.03, 1)
    recv["sent"][sent_last] = others[sent_last] + rng.integers(1000, 120_000, len(sent_last))
    rbd = pick(rng, np.flatnonzero((recv["read"] >= 0) & (recv["delivered"] >= 0)), 0.02, 1)
    recv["delivered"][rbd] = recv["read"][rbd] + rng.integers(1000, 900_000, len(rbd))

    pricing_on_deliv = rng.random(m) < 0.9
    frames = []
    for k in _STATUS_KINDS:
        rows = np.flatnonzero(ts[k] >= 0)
        name = {"failed_b": "failed", "delivered_b": "delivered", "late": None}.get(k, k)
        status = late_status[rows] if name is None else np.full(len(rows), name, dtype=object)
        c1 = {"failed": code1, "failed_b": code_b}.get(k)
        if k == "sent":
            pricing = rng.random(len(rows)) < 0.9
        elif k == "delivered":
            pricing = pricing_on_deliv[rows]
        elif k == "read":
            pricing = pricing_on_deliv[rows] & ~has_delivered[rows]
        else:
            pricing = np.zeros(len(rows), dtype=bool)
        frames.append(
            pd.DataFrame(
                {
                    "j": rows,
                    "status": status,
                    "ts": ts[k][rows],
                    "recv_ms": recv[k][rows],
                    "code1": c1[rows] if c1 is not None else -1,
                    "code2": code2[rows] if k == "failed" else -1,
                    "pricing": pricing,
                    "after_as_of": k == "late",
                }
            )
        )
    st = pd.concat(frames, ignore_index=True)
    st = st[st["recv_ms"] < w.as_of_ms].reset_index(drop=True)
    st["idx"] = s["idx"].to_numpy()[st["j"]]
    st["uid"] = s["uid"].to_numpy()[st["j"]]
    st["acc"] = s["acc"].to_numpy()[st["j"]]
    st["cmp"] = s["cmp"].to_numpy()[st["j"]]
    st["wkey"] = w.dispatches["wkey"].to_numpy()[st["idx"]]
    st["billable"] = is_billable(st["wkey"].to_numpy())
    st["known"] = True

    # Statuses of messages no dispatch knows (service conversations, other tools).
    k_unknown = max(3, int(0.001 * m))
    unknown_uid = rng.choice(w.reachable_uids, k_unknown)
    u_ts = rng.integers(w.first_ms // MS_S, as_of_s - 3600, k_unknown)
    unknown = pd.DataFrame(
        {
            "j": -1,
            "status": np.asarray(["sent", "delivered", "read"])[rng.integers(0, 3, k_unknown)],
            "ts": u_ts,
            "recv_ms": u_ts * MS_S + rng.integers(200, 3000, k_unknown),
            "code1": -1,
            "code2": -1,
            "pricing": False,
            "after_as_of": False,
            "idx": -1,
            "uid": unknown_uid,
            "acc": w.users["acc"].to_numpy()[unknown_uid],
            "cmp": -1,
            "wkey": scramble(len(w.dispatches) + np.arange(k_unknown), SALT_WAMID, WAMID_BITS),
            "known": False,
            "billable": False,
        }
    )
    w.statuses = pd.concat([st, unknown], ignore_index=True)
    w.notes["unknown_wamid_next"] = len(w.dispatches) + k_unknown
    # message-level times the engagement simulation builds on
    s["deliv_ts"] = np.where(delivered, deliv, -1)
    s["read_ts"] = np.where(read, read_ts, -1)
    s["sent_ts"] = sent_ts


def is_billable(wkey: np.ndarray) -> np.ndarray:
    """pricing.billable of a message's statuses: about 1 message in 29 is free (sent
    inside a free entry point window). Decided by the wamid key, so it draws no random
    number and leaves the rest of the sample as it was."""
    return wkey % 29 != 0


def _replies(w: World, s: pd.DataFrame, rng: np.random.Generator) -> None:
    """Inbound replies to campaign messages (and a few to messages nobody sent)."""
    button, interactive, text, unknown_payload = range(4)
    m = len(s)
    tpl = w.campaigns["tpl"].to_numpy()[s["cmp"].to_numpy()]
    b = w.buttons
    qr = b[b["type"] == "QUICK_REPLY"].sort_values(["tpl", "seq"]).reset_index(drop=True)
    qr_count = qr.groupby("tpl").size().reindex(range(len(w.templates)), fill_value=0).to_numpy()
    qr_start = np.r_[0, np.cumsum(qr_count)[:-1]]
    read = s["read_ts"].to_numpy() >= 0
    deliv = s["deliv_ts"].to_numpy() >= 0
    base = np.where(read, s["read_ts"].to_numpy(), s["deliv_ts"].to_numpy())
    p = w.campaigns["reply_p"].to_numpy()[s["cmp"].to_numpy()] * np.where(read, 1.0, 0.3)
    replied = np.flatnonzero(deliv & (rng.random(m) < p))
    second = pick(rng, replied, 0.1, 1)
    j = np.concatenate([replied, second])
    n = len(j)
    first = np.arange(n) < len(replied)
    has_qr = first & (qr_count[tpl[j]] > 0)
    kind = np.where(has_qr, _weighted(rng, n, [0.6, 0.15, 0.2, 0.05]), text)
    pos = np.where(
        has_qr, qr_start[tpl[j]] + (rng.random(n) * qr_count[tpl[j]]).astype(np.int64), -1
    )
    # every kind of reply, and presses of carousel and external-platform buttons, appear
    for k in (interactive, unknown_payload):
        free = np.flatnonzero(has_qr & (kind == button))
        if not (kind == k).any() and len(free):
            kind[free[0]] = k
    for flag in (qr["card_index"].notna().to_numpy(), qr["external"].to_numpy(dtype=bool)):
        pressed = np.isin(kind, [button, interactive])
        if not flag.any() or flag[pos[pressed]].any():
            continue
        flagged_tpls = qr.loc[flag, "tpl"].to_numpy()
        rows = np.flatnonzero((kind == button) & np.isin(tpl[j], flagged_tpls))
        if len(rows):
            r0 = rows[0]
            pos[r0] = np.flatnonzero(flag & (qr["tpl"].to_numpy() == tpl[j[r0]]))[0]
    reply_ts = base[j] + np.where(first, rng.integers(2, 1800, n), rng.integers(1800, 7200, n))
    texts = np.asarray(
        [
            "Yes please!",
            "How much is it?",
            'Is it "really" free?',
            "ok 👍",
            "Not interested, thanks",
            "STOP",
        ]
    )
    unknown_payloads = np.asarray(["STOP_PROMOS", "old_offer_2024"])
    pressed = np.isin(kind, [button, interactive])
    safe_pos = np.maximum(pos, 0)
    if w.template_change_day is not None:
        change_s = (w.first_ms // MS_D + w.template_change_day) * 86_400
        reworded = reply_ts >= change_s
    else:
        reworded = np.zeros(n, dtype=bool)
    qr_text = (
        np.where(reworded, qr["text_v2"].to_numpy()[safe_pos], qr["text"].to_numpy()[safe_pos])
        if len(qr)
        else None
    )
    r = pd.DataFrame(
        {
            "idx": s["idx"].to_numpy()[j],
            "uid": s["uid"].to_numpy()[j],
            "acc": s["acc"].to_numpy()[j],
            "cmp": s["cmp"].to_numpy()[j],
            "known": True,
            "type": np.asarray(["button", "interactive", "text", "button"])[kind],
            "payload": np.where(
                pressed,
                qr["button_id"].to_numpy()[safe_pos] if len(qr) else None,
                np.where(kind == unknown_payload, unknown_payloads[rng.integers(0, 2, n)], None),
            ),
            "button_text": np.where(
                pressed, qr_text, np.where(kind == unknown_payload, "Unsubscribe", None)
            ),
            "text_body": np.where(kind == text, texts[rng.integers(0, len(texts), n)], None),
            "ts": reply_ts,
            "bid": np.where(pressed, qr["bid"].to_numpy()[safe_pos] if len(qr) else -1, -1),
        }
    )
    r["ctx_wkey"] = w.dispatches["wkey"].to_numpy()[r["idx"]]
    # Replies quoting a message no dispatch knows.
    k_unknown = max(2, int(0.02 * len(r)))
    uid = rng.choice(w.reachable_uids, k_unknown)
    start = w.notes["unknown_wamid_next"]
    unknown = pd.DataFrame(
        {
            "idx": -1,
            "uid": uid,
            "acc": w.users["acc"].to_numpy()[uid],
            "cmp": -1,
            "known": False,
            "type": "text",
            "payload": None,
            "button_text": None,
            "text_body": texts[rng.integers(0, len(texts), k_unknown)],
            "ts": rng.integers(w.first_ms // MS_S, w.as_of_ms // MS_S - 3600, k_unknown),
            "bid": -1,
            "ctx_wkey": scramble(start + np.arange(k_unknown), SALT_WAMID, WAMID_BITS),
        }
    )
    w.notes["unknown_wamid_next"] = start + k_unknown
    r = pd.concat([r, unknown], ignore_index=True)
    r["recv_ms"] = r["ts"] * MS_S + rng.integers(300, 3000, len(r))
    r = r[r["recv_ms"] < w.as_of_ms].sort_values(
        ["recv_ms", "uid"], kind="stable", ignore_index=True
    )
    r["in_key"] = scramble(np.arange(len(r)), SALT_INBOUND, WAMID_BITS)
    w.replies = r
    s["replied"] = np.isin(np.arange(m), replied)


def _clicks(w: World, s: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Tracked-link clicks. Returns all simulated clicks (also those not exported yet)."""
    m = len(s)
    cmp = s["cmp"].to_numpy()
    tpl = w.campaigns["tpl"].to_numpy()[cmp]
    b = w.buttons
    links = (
        b[b["type"].isin(["URL", "BODY_LINK"])].sort_values(["tpl", "seq"]).reset_index(drop=True)
    )
    n_links = links.groupby("tpl").size().reindex(range(len(w.templates)), fill_value=0).to_numpy()
    link_start = np.r_[0, np.cumsum(n_links)[:-1]]
    read = s["read_ts"].to_numpy() >= 0
    deliv = s["deliv_ts"].to_numpy() >= 0
    out = s["outcome"].to_numpy()
    click_p = w.campaigns["click_p"].to_numpy()[cmp]
    p = np.where(read, click_p, np.where(deliv, click_p * 0.15, 0.0))
    p = np.where(s["replied"].to_numpy(), np.minimum(0.9, click_p * 4), p)
    # engagement without a delivery report: the webhook was lost, the user clicked anyway
    no_report = np.isin(out, [NO_STATUS, ONLY_SENT])
    p = np.where(no_report, click_p * 0.5, p)
    p = np.where(n_links[tpl] > 0, p, 0.0)
    clicked = np.flatnonzero(rng.random(m) < p)
    forced = pick(rng, np.flatnonzero(no_report & (n_links[tpl] > 0)), 0.0, 2)
    clicked = np.union1d(clicked, forced)
    reps = 1 + (rng.random(len(clicked)) < 0.2) + (rng.random(len(clicked)) < 0.05)
    j = np.repeat(clicked, reps)
    nth = np.arange(len(j)) - np.repeat(np.cumsum(reps) - reps, reps)
    n = len(j)
    base_s = np.where(
        read[j], s["read_ts"].to_numpy()[j], np.where(deliv[j], s["deliv_ts"].to_numpy()[j], -1)
    )
    base_ms = np.where(
        base_s >= 0,
        base_s * MS_S,
        s["attempted_ms"].to_numpy()[j] + rng.integers(MS_MIN, 12 * MS_H, n),
    )
    first = np.where(
        rng.random(n) < 0.6,
        rng.integers(2_000, 10 * MS_MIN, n),
        rng.exponential(2 * MS_H, n).astype(np.int64),
    )
    clicked_ms = base_ms + first + nth * rng.integers(10_000, 2 * MS_H, n)
    link = links.iloc[link_start[tpl[j]] + (rng.random(n) * n_links[tpl[j]]).astype(np.int64)]
    c = pd.DataFrame(
        {
            "idx": s["idx"].to_numpy()[j],
            "uid": s["uid"].to_numpy()[j],
            "acc": s["acc"].to_numpy()[j],
            "cmp": cmp[j],
            "known": True,
            "clicked_ms": clicked_ms,
            "url": link["url"].to_numpy(),
            "button_id": link["button_id"].to_numpy(),
            "card_index": link["card_index"].to_numpy(),
            "after_as_of": False,
        }
    )
    # A few clicks stamped after as_of, delivered in the last day's file.
    last = np.flatnonzero((s["attempted_ms"].to_numpy() >= w.as_of_ms - MS_D) & (n_links[tpl] > 0))
    late = pick(rng, last, 0.0, 3)
    if len(late):
        lk = links.iloc[link_start[tpl[late]]]
        c = pd.concat(
            [
                c,
                pd.DataFrame(
                    {
                        "idx": s["idx"].to_numpy()[late],
                        "uid": s["uid"].to_numpy()[late],
                        "acc": s["acc"].to_numpy()[late],
                        "cmp": cmp[late],
                        "known": True,
                        "clicked_ms": w.as_of_ms + rng.integers(MS_MIN, 5 * MS_H, len(late)),
                        "url": lk["url"].to_numpy(),
                        "button_id": lk["button_id"].to_numpy(),
                        "card_index": lk["card_index"].to_numpy(),
                        "after_as_of": True,
                    }
                ),
            ],
            ignore_index=True,
        )
    # Clicks on links of messages no dispatch knows.
    k_unknown = max(2, int(0.003 * len(c)))
    uid = rng.choice(w.reachable_uids, k_unknown)
    start = w.notes["unknown_wamid_next"]
    unknown = pd.DataFrame(
        {
            "idx": -1,
            "uid": uid,
            "acc": w.users["acc"].to_numpy()[uid],
            "cmp": -1,
            "known": False,
            "clicked_ms": rng.integers(w.first_ms, w.as_of_ms - MS_H, k_unknown),
            "url": "https://links.example/service-chat",
            "button_id": None,
            "card_index": pd.NA,
            "after_as_of": False,
        }
    )
    unknown["wkey"] = scramble(start + np.arange(k_unknown), SALT_WAMID, WAMID_BITS)
    w.notes["unknown_wamid_next"] = start + k_unknown
    c["wkey"] = np.where(
        c["idx"] >= 0, w.dispatches["wkey"].to_numpy()[np.maximum(c["idx"], 0)], -1
    )
    c = pd.concat([c, unknown], ignore_index=True)
    c["card_index"] = c["card_index"].astype("Int64")
    c["goal"] = np.where(
        c["cmp"] >= 0, w.campaigns["goal_event"].to_numpy()[np.maximum(c["cmp"], 0)], None
    )
    c["window_ms"] = np.where(
        c["cmp"] >= 0,
        w.campaigns["conversion_window_hours"].to_numpy()[np.maximum(c["cmp"], 0)] * MS_H,
        0,
    )
    c = _tie_clicks(w, c, rng)
    c = c.sort_values(["clicked_ms", "idx"], kind="stable", ignore_index=True)
    c["key"] = scramble(np.arange(len(c)), SALT_CLICK)
    exported = (c["clicked_ms"] < w.as_of_ms) | c["after_as_of"]
    written = c[exported].copy()
    written["day"] = np.where(
        written["after_as_of"], w.as_of_ms // MS_D - 1, written["clicked_ms"] // MS_D
    )
    dups = pick(rng, np.flatnonzero(~written["after_as_of"].to_numpy()), 0.02, 1)
    written["dup_day"] = -1
    dup_day = written["day"].to_numpy()[dups] + 1
    written.iloc[dups, written.columns.get_loc("dup_day")] = np.where(
        dup_day < w.as_of_ms // MS_D, dup_day, -1
    )
    w.clicks = written.reset_index(drop=True)
    return c


def _tie_clicks(w: World, c: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Add a few clicks at the very instant of another click by the same customer, on a
    message of another campaign with the same goal: last-click ties (greatest click_id)."""
    c = c.assign(tie=False)
    known = np.flatnonzero(
        c["known"].to_numpy()
        & ~c["after_as_of"].to_numpy()
        & (c["clicked_ms"].to_numpy() < w.as_of_ms - 2 * MS_H)
    )
    sample = c.iloc[pick(rng, known, 0.0, min(len(known), 400))][
        ["uid", "cmp", "goal", "clicked_ms"]
    ]
    d = w.dispatches
    sent = d.loc[d["sent"], ["idx", "uid", "cmp", "attempted_ms"]]
    sent = sent.assign(goal=w.campaigns["goal_event"].to_numpy()[sent["cmp"].to_numpy()])
    links = (
        w.buttons[w.buttons["type"].isin(["URL", "BODY_LINK"])]
        .drop_duplicates("tpl")
        .set_index("tpl")
    )
    sent = sent[np.isin(w.campaigns["tpl"].to_numpy()[sent["cmp"].to_numpy()], links.index)]
    pairs = sample.reset_index().merge(sent, on=["uid", "goal"], suffixes=("", "_other"))
    pairs = pairs[
        (pairs["cmp_other"] != pairs["cmp"]) & (pairs["attempted_ms"] < pairs["clicked_ms"] - MS_H)
    ]
    pairs = pairs.drop_duplicates("index").head(3)
    if pairs.empty:
        return c
    c.loc[pairs["index"].to_numpy(), "tie"] = True
    extra = c.loc[pairs["index"].to_numpy()].copy()
    cmp = pairs["cmp_other"].to_numpy()
    tpl = w.campaigns["tpl"].to_numpy()[cmp]
    extra["idx"] = pairs["idx"].to_numpy()
    extra["cmp"] = cmp
    extra["wkey"] = d["wkey"].to_numpy()[extra["idx"].to_numpy()]
    extra["url"] = links.loc[tpl, "url"].to_numpy()
    extra["button_id"] = links.loc[tpl, "button_id"].to_numpy()
    extra["card_index"] = links.loc[tpl, "card_index"].to_numpy()
    extra["window_ms"] = w.campaigns["conversion_window_hours"].to_numpy()[cmp] * MS_H
    extra["tie"] = False
    return pd.concat([c, extra], ignore_index=True)


def _revenue_cents(rng: np.random.Generator, currency: np.ndarray) -> np.ndarray:
    scale = np.asarray([cat.CURRENCY_SCALE.get(c, 1.0) for c in currency])
    return np.round(rng.lognormal(np.log(3500), 0.8, len(currency)) * scale).astype(np.int64)


def _conversions(w: World, clicks: pd.DataFrame, rng: np.random.Generator) -> None:
    """Goal and other events of customers, driven by clicks (and some organic)."""
    k = clicks[clicks["known"] & ~clicks["after_as_of"]].reset_index(drop=True)
    conv_p = w.campaigns["conv_p"].to_numpy()[k["cmp"].to_numpy()]
    conv = np.flatnonzero((rng.random(len(k)) < conv_p) | k["tie"].to_numpy())
    window = k["window_ms"].to_numpy()[conv]
    d = np.where(
        rng.random(len(conv)) < 0.7,
        (rng.random(len(conv)) * np.minimum(window, 2 * MS_H)).astype(np.int64),
        (rng.random(len(conv)) * window).astype(np.int64),
    )
    d = np.where(k["tie"].to_numpy()[conv], rng.integers(1_000, 30 * MS_MIN, len(conv)), d)
    fits = k["clicked_ms"].to_numpy()[conv] + window + MS_S < w.as_of_ms
    edge = pick(rng, np.flatnonzero(~k["tie"].to_numpy()[conv] & fits), 0.02, 2)
    d[edge[: (len(edge) + 1) // 2]] = window[edge[: (len(edge) + 1) // 2]]  # exactly at the end
    d[edge[(len(edge) + 1) // 2 :]] = window[edge[(len(edge) + 1) // 2 :]] + MS_S  # one second late
    goal = pd.DataFrame(
        {
            "acc": k["acc"].to_numpy()[conv],
            "uid": k["uid"].to_numpy()[conv],
            "event_name": k["goal"].to_numpy()[conv],
            "occurred_ms": k["clicked_ms"].to_numpy()[conv] + d,
            "after_as_of": False,
        }
    )
    other_idx = pick(rng, np.arange(len(k)), 0.15, 2)
    non_goal = pd.DataFrame(
        {
            "acc": k["acc"].to_numpy()[other_idx],
            "uid": k["uid"].to_numpy()[other_idx],
            "event_name": np.asarray(cat.NON_GOAL_EVENTS)[
                rng.integers(0, len(cat.NON_GOAL_EVENTS), len(other_idx))
            ],
            "occurred_ms": k["clicked_ms"].to_numpy()[other_idx]
            + rng.integers(1_000, MS_H, len(other_idx)),
            "after_as_of": False,
        }
    )
    # organic goal events of random customers
    n_org = max(2, len(goal) // 10)
    org_cmp = rng.integers(0, len(w.campaigns), n_org)
    org_acc = w.campaigns["acc"].to_numpy()[org_cmp]
    pool = w.users.groupby("acc")["uid"].agg(["min", "count"])
    org_uid = pool["min"].to_numpy()[org_acc] + (
        rng.random(n_org) * pool["count"].to_numpy()[org_acc]
    ).astype(int)
    organic = pd.DataFrame(
        {
            "acc": org_acc,
            "uid": org_uid,
            "event_name": w.campaigns["goal_event"].to_numpy()[org_cmp],
            "occurred_ms": rng.integers(w.first_ms, w.as_of_ms - MS_H, n_org),
            "after_as_of": False,
        }
    )
    # a handful stamped after as_of, in the last day's file
    recent = np.flatnonzero(k["clicked_ms"].to_numpy() >= w.as_of_ms - MS_D)
    late_i = pick(rng, recent, 0.0, 3)
    late = pd.DataFrame(
        {
            "acc": k["acc"].to_numpy()[late_i],
            "uid": k["uid"].to_numpy()[late_i],
            "event_name": k["goal"].to_numpy()[late_i],
            "occurred_ms": w.as_of_ms + rng.integers(MS_MIN, 3 * MS_H, len(late_i)),
            "after_as_of": True,
        }
    )
    e = pd.concat([goal, non_goal, organic, late], ignore_index=True)
    e = e[(e["occurred_ms"] < w.as_of_ms) | e["after_as_of"]].sort_values(
        ["occurred_ms", "uid"], ignore_index=True
    )
    n = len(e)
    currency = w.accounts["currency"].to_numpy()[e["acc"].to_numpy()]
    revenue_goal = e["event_name"].isin([*cat.REVENUE_GOALS, "Purchase"]).to_numpy()
    cents = _revenue_cents(rng, currency).astype(float)
    cents[~revenue_goal] = np.where(rng.random(int((~revenue_goal).sum())) < 0.6, np.nan, 0.0)
    rev_rows = np.flatnonzero(revenue_goal)
    special = pick(rng, rev_rows, 0.06, 2)
    cents[special[: len(special) // 2]] = np.nan
    cents[special[len(special) // 2 :]] = 0.0
    foreign = pick(rng, np.setdiff1d(np.arange(n), special), 0.03, 2)
    currency = currency.copy()
    currency[foreign] = np.where(currency[foreign] == "USD", "EUR", "USD")
    e["revenue_cents"] = pd.array(
        np.where(np.isnan(cents), 0, cents).astype(np.int64), dtype="Int64"
    )
    e.loc[np.isnan(cents), "revenue_cents"] = pd.NA
    e["currency"] = currency
    e["user_id"] = w.users["user_id"].to_numpy()[e["uid"].to_numpy()]
    e["key"] = scramble(np.arange(n), SALT_EVENT)
    e["day"] = np.where(e["after_as_of"], w.as_of_ms // MS_D - 1, e["occurred_ms"] // MS_D)
    e["offset_ms"] = 0
    acc = e["acc"].to_numpy()
    for a, tz in enumerate(w.accounts["timezone"]):
        mask = acc == a
        e.loc[mask, "offset_ms"] = utc_offsets_ms(e.loc[mask, "occurred_ms"].to_numpy(), tz)
    dups = pick(rng, np.flatnonzero(~e["after_as_of"].to_numpy()), 0.02, 1)
    e["dup_day"] = -1
    dup_day = e["day"].to_numpy()[dups] + 1
    e.iloc[dups, e.columns.get_loc("dup_day")] = np.where(dup_day < w.as_of_ms // MS_D, dup_day, -1)
    w.conversions = e


def _unsubscribes(w: World, s: pd.DataFrame, rng: np.random.Generator) -> None:
    read = s["read_ts"].to_numpy()
    deliv = s["deliv_ts"].to_numpy()
    base = np.where(read >= 0, read, np.where(deliv >= 0, deliv, s["sent_ts"].to_numpy())) * MS_S
    m = len(s)
    with_wamid = pick(rng, np.arange(m), 0.004, 3)
    a = pd.DataFrame(
        {
            "acc": s["acc"].to_numpy()[with_wamid],
            "uid": s["uid"].to_numpy()[with_wamid],
            "occurred_ms": base[with_wamid] + rng.integers(MS_MIN, 6 * MS_H, len(with_wamid)),
            "source": np.asarray(["button", "reply_keyword", "link"])[
                rng.integers(0, 3, len(with_wamid))
            ],
            "wkey": w.dispatches["wkey"].to_numpy()[s["idx"].to_numpy()[with_wamid]],
            "kind": "wamid",
        }
    )
    delivered = np.flatnonzero(deliv >= 0)
    by_user = pick(rng, delivered, 0.003, 3)
    offs = rng.integers(30 * MS_MIN, 160 * MS_H, len(by_user))
    if len(by_user) >= 2:  # the window's edges, inclusive
        offs[0] = 168 * MS_H
        offs[1] = 168 * MS_H + 1
    b = pd.DataFrame(
        {
            "acc": s["acc"].to_numpy()[by_user],
            "uid": s["uid"].to_numpy()[by_user],
            "occurred_ms": s["attempted_ms"].to_numpy()[by_user] + offs,
            "source": np.asarray(["support", "reply_keyword", "link"])[
                rng.integers(0, 3, len(by_user))
            ],
            "wkey": -1,
            "kind": "user",
        }
    )
    # customers who never got a campaign message: unattributable, with and without a wamid
    n_out = max(2, len(by_user) // 4)
    acc = rng.integers(0, len(w.accounts), 2 * n_out)
    start = w.notes["unknown_wamid_next"]
    c = pd.DataFrame(
        {
            "acc": acc,
            "uid": -1 - np.arange(2 * n_out),
            "occurred_ms": rng.integers(w.first_ms, w.as_of_ms - MS_H, 2 * n_out),
            "source": np.asarray(["support", "link"])[rng.integers(0, 2, 2 * n_out)],
            "wkey": np.r_[
                np.full(n_out, -1), scramble(start + np.arange(n_out), SALT_WAMID, WAMID_BITS)
            ],
            "kind": np.r_[np.full(n_out, "outsider"), np.full(n_out, "unknown_wamid")],
        }
    )
    w.notes["unknown_wamid_next"] = start + n_out
    u = pd.concat([a, b, c], ignore_index=True)
    u = u[u["occurred_ms"] < w.as_of_ms].sort_values(
        ["occurred_ms", "acc", "uid"], ignore_index=True
    )
    uid = u["uid"].to_numpy()
    u["user_id"] = np.where(
        uid >= 0,
        w.users["user_id"].to_numpy()[np.maximum(uid, 0)],
        np.char.add("cust_9", np.char.zfill((-uid).astype(str), 5)),
    )
    u["key"] = scramble(np.arange(len(u)), SALT_UNSUB)
    u["day"] = u["occurred_ms"] // MS_D
    dups = pick(rng, np.arange(len(u)), 0.03, 1)
    u["dup_day"] = -1
    dup_day = u["day"].to_numpy()[dups] + 1
    u.iloc[dups, u.columns.get_loc("dup_day")] = np.where(dup_day < w.as_of_ms // MS_D, dup_day, -1)
    w.unsubscribes = u


def _batch_webhooks(w: World, rng: np.random.Generator) -> None:
    """Group statuses and inbound messages into webhook deliveries (bodies).

    Items are taken in order of arrival and a body batches consecutive ones.
    Inside a body, items of one account form one entry; statuses share a change
    (sometimes two) and every inbound message has a change of its own. Each
    item gets its position in the body and whether it opens or closes its body,
    entry and change, so the JSON text is assembled in one pass. Some bodies
    are delivered again later with a new delivery id.
    """
    st, rp = w.statuses, w.replies
    items = pd.concat(
        [
            pd.DataFrame(
                {"kind": 0, "row": np.arange(len(st)), "acc": st["acc"], "recv_ms": st["recv_ms"]}
            ),
            pd.DataFrame(
                {"kind": 1, "row": np.arange(len(rp)), "acc": rp["acc"], "recv_ms": rp["recv_ms"]}
            ),
        ],
        ignore_index=True,
    )
    items["known"] = np.r_[st["known"].to_numpy(bool), rp["known"].to_numpy(bool)]
    items = items.sort_values(["recv_ms", "kind", "row"], kind="stable", ignore_index=True)
    n = len(items)
    gap = np.diff(items["recv_ms"].to_numpy(), prepend=-(10**15))
    brk = (gap > 2_000) | (rng.random(n) < 0.55)
    brk[:1] = True
    items["body"] = np.cumsum(brk) - 1
    items["seq"] = np.arange(n)
    split = rng.random(n) < 0.05  # some bodies spread their statuses over two changes
    items["change"] = np.where(items["kind"] == 1, 2 + items["seq"], np.where(split, 1, 0))
    items["entry_seq"] = items.groupby(["body", "acc"])["seq"].transform("min")
    items = items.sort_values(
        ["body", "entry_seq", "change", "seq"], kind="stable", ignore_index=True
    )
    items["pos"] = np.arange(n)
    body = items["body"].to_numpy()
    entry = items["entry_seq"].to_numpy()
    change = items["change"].to_numpy()

    def edges(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        differs = np.zeros(max(n - 1, 0), dtype=bool)
        for k in keys:
            differs |= k[1:] != k[:-1]
        return np.r_[True, differs], np.r_[differs, True]

    items["first_body"], items["last_body"] = edges(body)
    items["first_entry"], items["last_entry"] = edges(body, entry)
    items["first_change"], items["last_change"] = edges(body, entry, change)
    bodies = (
        items.groupby("body")
        .agg(recv_ms=("recv_ms", "max"), all_known=("known", "all"))
        .reset_index()
    )
    bodies["copy"] = 0
    dup = pick(rng, np.flatnonzero(bodies["all_known"].to_numpy()), 0.02, 2)
    u = rng.random(len(dup))
    delay = np.where(
        u < 0.6,
        rng.integers(MS_S, 10 * MS_MIN, len(dup)),
        np.where(
            u < 0.9,
            rng.integers(10 * MS_MIN, MS_D, len(dup)),
            rng.integers(MS_D, 7 * MS_D, len(dup)),
        ),
    )
    copies = bodies.iloc[dup].copy()
    copies["recv_ms"] = copies["recv_ms"].to_numpy() + delay
    copies["copy"] = 1
    copies = copies[copies["recv_ms"] < w.as_of_ms]
    bodies = pd.concat([bodies, copies], ignore_index=True).sort_values(
        ["recv_ms", "body", "copy"], kind="stable", ignore_index=True
    )
    bodies["delivery_key"] = scramble(np.arange(len(bodies)), SALT_DELIVERY, WAMID_BITS)
    bodies["day"] = bodies["recv_ms"] // MS_D
    w.webhook_items = items
    w.webhook_bodies = bodies
