"""Reference data the simulation draws from: countries, industries and reason codes.

The reason tables are *generative*: the simulation first decides why a message
was dropped or not delivered, then picks a code that WhatsApp (or our sender)
would report for that reason on that channel. ``meta-error-codes.md`` lays the
facts out; the ground truth maps codes back to reasons by inverting these same
tables (``DROP_REASON_OF`` / ``UNDELIVERED_REASON_OF``), so a code the tables
do not list is an *Unmapped Error*, exactly as the warehouse must report it.
"""

from __future__ import annotations

from dataclasses import dataclass

UNMAPPED = "Unmapped Error"
DELIVERY_REPORT_MISSING = "Delivery Report Missing"


@dataclass(frozen=True)
class Country:
    code: str
    calling_code: str
    timezone: str
    currency: str
    language: str
    national_length: int
    #: leading digits of mobile numbers (after the calling code)
    mobile_prefixes: tuple[str, ...]


COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country(
            "TR", "90", "Europe/Istanbul", "TRY", "tr", 10, ("530", "532", "535", "542", "555")
        ),
        Country(
            "IN", "91", "Asia/Kolkata", "INR", "en_US", 10, ("98", "99", "97", "88", "70", "63")
        ),
        Country("BR", "55", "America/Sao_Paulo", "BRL", "pt_BR", 11, ("119", "219", "319", "419")),
        Country(
            "US", "1", "America/New_York", "USD", "en_US", 10, ("212", "310", "415", "646", "512")
        ),
        Country("DE", "49", "Europe/Berlin", "EUR", "de", 11, ("151", "160", "170", "176")),
        Country("GB", "44", "Europe/London", "GBP", "en_GB", 10, ("74", "75")),
        Country("AE", "971", "Asia/Dubai", "AED", "ar", 9, ("50", "52", "55", "56")),
        Country("JP", "81", "Asia/Tokyo", "JPY", "ja", 10, ("70", "80", "90")),
        Country("NZ", "64", "Pacific/Auckland", "NZD", "en_US", 9, ("21", "22", "27")),
        Country("RU", "7", "Europe/Moscow", "RUB", "ru", 10, ("91", "92", "95")),
        Country("ES", "34", "Europe/Madrid", "EUR", "es", 9, ("6",)),
        Country("MX", "52", "America/Mexico_City", "MXN", "es_MX", 10, ("55", "33", "81")),
        Country("ID", "62", "Asia/Jakarta", "IDR", "id", 11, ("812", "813", "857")),
    )
}

#: Recipients of every account come partly from this shared pool, so that
#: several accounts of one industry reach the same recipient countries.
SHARED_POOL = ("TR", "IN", "BR", "US", "DE")
OTHER_RECIPIENT_COUNTRIES = ("GB", "AE", "RU", "MX", "ID", "JP", "ES", "NZ")

#: Rough value of one unit of each currency in USD cents, to scale revenue.
CURRENCY_SCALE = {
    "TRY": 35.0,
    "INR": 85.0,
    "BRL": 5.5,
    "USD": 1.0,
    "EUR": 0.9,
    "GBP": 0.8,
    "AED": 3.7,
    "JPY": 150.0,
    "NZD": 1.7,
    "RUB": 95.0,
    "MXN": 18.0,
    "IDR": 16000.0,
}


@dataclass(frozen=True)
class Industry:
    name: str
    #: goal events of marketing/utility campaigns, revenue-bearing first
    goals: tuple[str, ...]
    themes: tuple[str, ...]
    domain: str
    brands: tuple[str, ...]


INDUSTRIES: dict[str, Industry] = {
    i.name: i
    for i in (
        Industry(
            "retail",
            ("purchase", "purchase", "sign_up"),
            ("Autumn Sale", "Flash Friday", "New Arrivals", "Cart Reminder", "Loyalty Points"),
            "shop.example",
            (
                "Bazaar Moda",
                "ShopKart",
                "Loja Verde",
                "Northwind Goods",
                "Haus & Heim",
                "Corner Store",
            ),
        ),
        Industry(
            "travel",
            ("booking", "booking", "sign_up"),
            ("Summer Escapes", "Fare Drop Alert", "Weekend Getaway", "Check-in Reminder"),
            "trips.example",
            ("Desert Wings", "Iberia Trails, S.L."),
        ),
        Industry(
            "finance",
            ("deposit", "sign_up"),
            ("Card Offer", "Savings Boost", "KYC Reminder"),
            "bank.example",
            ("Kiwi Savings",),
        ),
        Industry(
            "telecom",
            ("plan_upgrade", "top_up"),
            ("Data Pack", "5G Upgrade", "Roaming Bundle"),
            "tel.example",
            ("Sakura Mobile",),
        ),
        Industry(
            "media",
            ("subscription", "sign_up"),
            ("Premium Trial", "New Season", "Live Match Pass"),
            "stream.example",
            ("Hudson Stream",),
        ),
        Industry(
            "food_delivery",
            ("purchase",),
            ("Lunch Deal", "Weekend Feast", "Free Delivery"),
            "food.example",
            ('Anatolia Foods, "Express"',),
        ),
    )
}

REVENUE_GOALS = frozenset(
    {"purchase", "booking", "deposit", "plan_upgrade", "top_up", "subscription"}
)
AUTH_GOAL = "login"
#: Event names that are never a campaign goal (note the case variants: matching is exact).
NON_GOAL_EVENTS = ("page_view", "add_to_cart", "Purchase", "SignUp", "view_item")

#: Base account profiles (industry, country, time zone). Ordered so that any
#: prefix is diverse, and the default 12 accounts hold 6 retail accounts.
ACCOUNT_PROFILES: tuple[tuple[str, str, str], ...] = (
    ("retail", "TR", "Europe/Istanbul"),
    ("travel", "AE", "Asia/Dubai"),
    ("retail", "IN", "Asia/Kolkata"),
    ("finance", "NZ", "Pacific/Auckland"),
    ("retail", "BR", "America/Sao_Paulo"),
    ("telecom", "JP", "Asia/Tokyo"),
    ("retail", "US", "America/Los_Angeles"),
    ("media", "US", "America/New_York"),
    ("retail", "DE", "Europe/Berlin"),
    ("food_delivery", "TR", "Europe/Istanbul"),
    ("retail", "GB", "Europe/London"),
    ("travel", "ES", "Europe/Madrid"),
)
#: Countries used for accounts beyond the base profiles.
EXTRA_ACCOUNT_COUNTRIES = ("RU", "MX", "ID", "IN", "BR", "TR")

DROP_CODES = (
    "DUPLICATE",
    "FREQUENCY_CAPPED",
    "INVALID_PHONE_NUMBER",
    "COUNTRY_NOT_CONTRACTED",
    "COUPON_LIST_EXHAUSTED",
    "TIER_LIMIT",
    "INTERNAL_ERROR",
    "META_API_ERROR",
)
META_API_ERROR = "META_API_ERROR"
#: A drop code our sender may emit that the contract does not know.
UNKNOWN_DROP_CODE = "BLOCKLISTED"

#: Titles as the Cloud API gives them (keyed on the code; titles get reworded).
ERROR_TITLES: dict[int, str] = {
    0: "AuthException",
    1: "API Unknown",
    2: "API Service",
    3: "API Method",
    4: "Too many calls",
    10: "Permission Denied",
    33: "Parameter value is not valid",
    100: "Invalid parameter",
    190: "Access token has expired",
    368: "Temporarily blocked for policies violations",
    80007: "Rate limit issues",
    130429: "Rate limit hit",
    130472: "User's number is part of an experiment",
    130497: "Business account is restricted from messaging users in this country",
    131000: "Something went wrong",
    131005: "Access denied",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131016: "Service unavailable",
    131021: "Recipient cannot be sender",
    131026: "Message undeliverable",
    131030: "Recipient phone number not in allowed list",
    131031: "Account has been locked",
    131037: "WhatsApp provided number needs display name approval before message can be sent.",
    131042: "Business eligibility payment issue",
    131045: "Incorrect certificate",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving "
    "marketing messages on WhatsApp from your business.",
    131051: "Unsupported message type",
    131053: "Media upload error",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131057: "Account in maintenance mode",
    131064: "Messaging limit reached",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template does not exist",
    132012: "Parameter format does not match format in the created template",
    132015: "Template is Paused",
    132016: "Template is Disabled",
    133004: "Server temporarily unavailable",
    133010: "Phone number not registered",
    135000: "Generic user error",
    137000: "Identity key hash mismatch",
    # codes no mapping knows: reported as Unmapped Error
    999001: "Unexpected send failure",
    999002: "Unknown delivery failure",
    131999: "Message expired in a way not yet documented",
}

#: Dropped reason -> weighted choices of (drop_code, meta_error_code) our sender reports.
DROP_CHOICES: dict[str, tuple[tuple[str, int | None, float], ...]] = {
    "Duplicates": (("DUPLICATE", None, 1.0),),
    "Frequency Capped": (("FREQUENCY_CAPPED", None, 1.0),),
    "Invalid Phone Numbers": (("INVALID_PHONE_NUMBER", None, 1.0),),
    "Country Code Drops": (("COUNTRY_NOT_CONTRACTED", None, 4.0), (META_API_ERROR, 130497, 1.0)),
    "Coupon List Drops": (("COUPON_LIST_EXHAUSTED", None, 1.0),),
    "Tier Limitation": (("TIER_LIMIT", None, 4.0), (META_API_ERROR, 131064, 1.0)),
    "Internal Errors": (
        ("INTERNAL_ERROR", None, 4.0),
        (META_API_ERROR, 0, 1.0),
        (META_API_ERROR, 10, 1.0),
        (META_API_ERROR, 190, 1.0),
        (META_API_ERROR, 131005, 1.0),
        (META_API_ERROR, 135000, 1.0),
    ),
    "Rate Limits": (
        (META_API_ERROR, 4, 1.0),
        (META_API_ERROR, 80007, 1.0),
        (META_API_ERROR, 130429, 3.0),
        (META_API_ERROR, 131056, 2.0),
        (META_API_ERROR, 131048, 1.0),
        (META_API_ERROR, 131049, 2.0),
    ),
    "Policy Failures": ((META_API_ERROR, 368, 1.0), (META_API_ERROR, 131031, 1.0)),
    "Meta Temporary Errors": (
        (META_API_ERROR, 1, 1.0),
        (META_API_ERROR, 2, 1.0),
        (META_API_ERROR, 131000, 3.0),
        (META_API_ERROR, 131016, 2.0),
        (META_API_ERROR, 131057, 1.0),
        (META_API_ERROR, 133004, 1.0),
    ),
    "Account Registration Errors": (
        (META_API_ERROR, 33, 1.0),
        (META_API_ERROR, 131037, 1.0),
        (META_API_ERROR, 131042, 2.0),
        (META_API_ERROR, 133010, 1.0),
    ),
    "Template Failures": (
        (META_API_ERROR, 100, 1.0),
        (META_API_ERROR, 131008, 1.0),
        (META_API_ERROR, 131009, 2.0),
        (META_API_ERROR, 131047, 1.0),
        (META_API_ERROR, 131053, 1.0),
        (META_API_ERROR, 132000, 2.0),
        (META_API_ERROR, 132001, 1.0),
        (META_API_ERROR, 132012, 1.0),
    ),
    "Recipient-Related Errors": (
        (META_API_ERROR, 131026, 3.0),
        (META_API_ERROR, 131030, 1.0),
        (META_API_ERROR, 131050, 2.0),
        (META_API_ERROR, 130472, 1.0),
        (META_API_ERROR, 137000, 1.0),
    ),
    "Paused Templates": ((META_API_ERROR, 132015, 3.0), (META_API_ERROR, 132016, 1.0)),
    UNMAPPED: ((META_API_ERROR, 999001, 2.0), (UNKNOWN_DROP_CODE, None, 1.0)),
}

#: Undelivered reason -> weighted choices of the error code in a ``failed`` webhook.
UNDELIVERED_CHOICES: dict[str, tuple[tuple[int, float], ...]] = {
    "Meta Errors": (
        (131000, 3.0),
        (131016, 1.0),
        (130429, 1.0),
        (131048, 1.0),
        (131056, 1.0),
        (2, 1.0),
    ),
    "Account Verification Errors": ((368, 1.0), (131031, 1.0), (131042, 2.0), (131037, 1.0)),
    "Recipient-Related Errors": ((131026, 4.0), (131050, 2.0), (130497, 1.0), (137000, 1.0)),
    "Meta Recipient Limit": ((131049, 1.0),),
    "Meta Experiments": ((130472, 1.0),),
    "Invalid Messages": ((132000, 2.0), (132001, 1.0), (131008, 1.0), (131009, 1.0), (131047, 1.0)),
    "Media Errors": ((131053, 1.0),),
    "Held Messages": ((132015, 1.0), (132016, 1.0), (135000, 2.0)),
    UNMAPPED: ((999002, 1.0), (131999, 1.0)),
}

#: How often each dropped reason is decided (relative weights among drops of
#: well-formed numbers; duplicates and malformed numbers are decided apart).
DROP_REASON_WEIGHTS: dict[str, float] = {
    "Frequency Capped": 25.0,
    "Invalid Phone Numbers": 2.0,
    "Country Code Drops": 6.0,
    "Coupon List Drops": 5.0,
    "Tier Limitation": 8.0,
    "Internal Errors": 5.0,
    "Rate Limits": 10.0,
    "Policy Failures": 2.0,
    "Meta Temporary Errors": 6.0,
    "Account Registration Errors": 2.0,
    "Template Failures": 6.0,
    "Recipient-Related Errors": 8.0,
    "Paused Templates": 4.0,
    UNMAPPED: 1.5,
}

UNDELIVERED_REASON_WEIGHTS: dict[str, float] = {
    "Meta Errors": 12.0,
    "Account Verification Errors": 3.0,
    "Recipient-Related Errors": 20.0,
    "Meta Recipient Limit": 35.0,
    "Meta Experiments": 6.0,
    "Invalid Messages": 8.0,
    "Media Errors": 3.0,
    "Held Messages": 8.0,
    UNMAPPED: 2.0,
}


def _invert_drop() -> dict[tuple[str, int | None], str]:
    out: dict[tuple[str, int | None], str] = {}
    for reason, choices in DROP_CHOICES.items():
        if reason == UNMAPPED:
            continue
        for drop_code, code, _ in choices:
            key = (drop_code, code)
            assert out.get(key, reason) == reason, f"{key} maps to two dropped reasons"
            out[key] = reason
    return out


def _invert_undelivered() -> dict[int, str]:
    out: dict[int, str] = {}
    for reason, choices in UNDELIVERED_CHOICES.items():
        if reason == UNMAPPED:
            continue
        for code, _ in choices:
            assert out.get(code, reason) == reason, f"{code} maps to two undelivered reasons"
            out[code] = reason
    return out


#: (drop_code, meta_error_code or None) -> dropped reason; anything else is Unmapped.
DROP_REASON_OF = _invert_drop()
#: failed-webhook error code -> undelivered reason; anything else is Unmapped.
UNDELIVERED_REASON_OF = _invert_undelivered()

DROPPED_REASONS = (
    "Duplicates",
    "Frequency Capped",
    "Invalid Phone Numbers",
    "Country Code Drops",
    "Coupon List Drops",
    "Tier Limitation",
    "Internal Errors",
    "Rate Limits",
    "Policy Failures",
    "Meta Temporary Errors",
    "Account Registration Errors",
    "Template Failures",
    "Recipient-Related Errors",
    "Paused Templates",
    UNMAPPED,
)
UNDELIVERED_REASONS = (
    "Meta Errors",
    "Account Verification Errors",
    "Recipient-Related Errors",
    "Meta Recipient Limit",
    "Meta Experiments",
    "Invalid Messages",
    "Media Errors",
    "Held Messages",
    DELIVERY_REPORT_MISSING,
    UNMAPPED,
)
assert set(DROP_CHOICES) == set(DROPPED_REASONS)
assert set(UNDELIVERED_CHOICES) | {DELIVERY_REPORT_MISSING} == set(UNDELIVERED_REASONS)
assert set(DROP_REASON_WEIGHTS) | {"Duplicates"} == set(DROPPED_REASONS)
assert all(
    code in ERROR_TITLES for cs in DROP_CHOICES.values() for _, code, _ in cs if code is not None
)
assert all(code in ERROR_TITLES for cs in UNDELIVERED_CHOICES.values() for code, _ in cs)
