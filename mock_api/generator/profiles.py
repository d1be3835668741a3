"""Who the applicants are: a borrower profile and everything about their finances it implies.

A profile fixes the shape of a bank history (income regularity, buffers, fixed costs, risky
behaviour); each applicant then draws their own numbers within it. All draws for a batch of
applicants are made as arrays at once, so a batch of hundreds costs a few numpy calls per
attribute, not a Python loop per applicant.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from mock_api.generator import vocabulary as vocab
from mock_api.generator.vocabulary import WORDS


class Profile(IntEnum):
    """The borrower archetypes a mixed run contains."""

    STEADY_SALARIED = 0
    GIG_INCOME = 1
    THIN_FILE = 2
    DISTRESSED = 3


PROFILE_NAMES = ("steady_salaried", "gig_income", "thin_file", "distressed")
PROFILE_WEIGHTS = (0.50, 0.18, 0.12, 0.20)


class PayFrequency(IntEnum):
    NONE = 0
    WEEKLY = 1
    BIWEEKLY = 2
    SEMIMONTHLY = 3
    MONTHLY = 4


PAY_FREQUENCY_NAMES = ("none", "weekly", "biweekly", "semimonthly", "monthly")
PERIODS_PER_YEAR = np.array([0, 52, 26, 24, 12])
DAYS_PER_MONTH = 365.25 / 12

#: Thin files have this many days of history (inclusive bounds), whatever --history-days says.
THIN_FILE_DAYS = (30, 80)

#: A lay-off covered by employment insurance ended at least this long before the application.
EI_ENDED_DAYS_BEFORE = 45

#: Per-profile probabilities, indexed by Profile.
P_SAVINGS = np.array([0.70, 0.40, 0.35, 0.30])
P_CARD = np.array([0.75, 0.50, 0.40, 0.55])
P_RENTER = np.array([0.55, 0.85, 0.80, 0.85])
P_CHILD_BENEFIT = np.array([0.30, 0.40, 0.25, 0.50])
P_GST_CREDIT = np.array([0.15, 0.60, 0.40, 0.70])
P_EMPLOYMENT_INSURANCE = np.array([0.05, 0.20, 0.10, 0.25])
P_INSURANCE = np.array([0.45, 0.25, 0.25, 0.25])
P_LOAN = np.array([0.30, 0.15, 0.20, 0.55])
P_MICRO_LENDER = np.array([0.02, 0.15, 0.15, 0.75])
P_GAMBLING = np.array([0.10, 0.20, 0.15, 0.40])
P_CAR = np.array([0.80, 0.75, 0.65, 0.60])
#: Median net monthly income (CAD) and its spread, per profile.
INCOME_MEDIAN = np.array([4300.0, 2300.0, 3000.0, 2600.0])
INCOME_SIGMA = np.array([0.30, 0.30, 0.30, 0.20])
INCOME_BOUNDS = np.array([[2200, 11000], [1000, 5000], [1400, 7000], [1500, 4200]])
#: Share of income spent through the accounts each month (the rest accumulates).
SPEND_RATIO = np.array([[0.86, 0.97], [0.92, 1.00], [0.88, 1.00], [0.97, 1.04]])
#: How much of the monthly income chequing keeps (or loses) on average, per profile.
MONTHLY_DRIFT = np.array([[0.0, 0.08], [-0.02, 0.04], [0.0, 0.05], [-0.02, 0.01]])
#: Lowest chequing balance over the history (CAD): (probability the floor is negative,
#: positive-floor bounds, negative-floor bounds).
NEGATIVE_FLOOR_P = np.array([0.08, 0.25, 0.15, 1.0])
POSITIVE_FLOOR = np.array([[150, 3000], [50, 1200], [50, 1500], [0, 0]])
NEGATIVE_FLOOR = np.array([[-300, -10], [-400, -10], [-300, -10], [-1200, -80]])

PAY_FREQUENCY_WEIGHTS = {
    # none, weekly, biweekly, semimonthly, monthly
    Profile.STEADY_SALARIED: (0.0, 0.12, 0.45, 0.20, 0.23),
    Profile.DISTRESSED: (0.12, 0.31, 0.40, 0.09, 0.08),
}
SUBSCRIPTION_PRICES = np.array([599, 899, 999, 1149, 1299, 1699, 2099])
MONTHLY_FEE_PRICES = np.array([395, 1095, 1695, 2995])


@dataclass
class Logins:
    """One batch of applicants: every attribute is an array with one entry per login."""

    n: int
    profile: np.ndarray
    app_day: np.ndarray
    span: np.ndarray
    start_day: np.ndarray
    province: np.ndarray
    institution: np.ndarray
    has_savings: np.ndarray
    has_card: np.ndarray
    card_brand: np.ndarray  # 0 Visa, 1 Mastercard
    # employment income
    employer: np.ndarray  # -1 without payroll
    pay_frequency: np.ndarray
    pay_cents: np.ndarray  # per pay period
    pay_variable: np.ndarray
    pay_phase: np.ndarray  # day-of-cycle for weekly / bi-weekly pay
    pay_dom: np.ndarray  # day of month for monthly pay
    payroll_desc: np.ndarray
    nominal_monthly_cents: np.ndarray
    # gig income
    gig_monthly_cents: np.ndarray
    gig_platform_desc: np.ndarray  # -1 without a platform payout
    # government
    child_benefit_cents: np.ndarray
    child_benefit_desc: np.ndarray
    gst_cents: np.ndarray
    gst_desc: np.ndarray
    ei_cents: np.ndarray
    ei_start: np.ndarray
    ei_end: np.ndarray
    ei_desc: np.ndarray
    # fixed costs
    renter: np.ndarray
    housing_cents: np.ndarray
    housing_desc: np.ndarray
    housing_dom: np.ndarray
    utility_desc: np.ndarray  # (n, 2), -1 for none
    utility_cents: np.ndarray
    utility_dom: np.ndarray
    telecom_desc: np.ndarray  # (n, 2)
    telecom_cents: np.ndarray
    telecom_dom: np.ndarray
    insurance_cents: np.ndarray
    insurance_desc: np.ndarray
    insurance_dom: np.ndarray
    subscription_desc: np.ndarray  # (n, 3)
    subscription_cents: np.ndarray
    subscription_dom: np.ndarray
    loan_cents: np.ndarray
    loan_dom: np.ndarray
    monthly_fee_cents: np.ndarray
    # risky behaviour
    micro_lender: np.ndarray  # -1 for none
    micro_gap: np.ndarray
    micro_first: np.ndarray
    micro_advance_cents: np.ndarray
    micro_installments: np.ndarray
    micro_markup: np.ndarray
    gambling_rate: np.ndarray
    # saving and cards
    savings_transfer_cents: np.ndarray
    savings_dom: np.ndarray
    savings_opening_cents: np.ndarray
    savings_rate: np.ndarray
    card_payment_fraction: np.ndarray
    card_payment_dom: np.ndarray
    card_opening_cents: np.ndarray
    # day-to-day spending
    activity: np.ndarray
    has_car: np.ndarray
    budget_cents: np.ndarray
    drift_cents_per_month: np.ndarray
    floor_cents: np.ndarray
    # who they are
    username: list[str]
    email: list[str]
    address: list[str]
    employer_name: list[str]
    account_numbers: np.ndarray  # (n, 3) strings: chequing, savings, card
    account_names: np.ndarray  # (n, 3) strings


def _choice_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (rows, options) weight matrix."""
    cumulative = np.cumsum(weights, axis=1)
    cumulative /= cumulative[:, -1:]
    draws = rng.random(len(weights))[:, None]
    return (draws > cumulative).sum(axis=1)


def _uniform(rng: np.random.Generator, bounds: np.ndarray) -> np.ndarray:
    """One uniform draw per row of a (rows, 2) bounds matrix."""
    return bounds[:, 0] + rng.random(len(bounds)) * (bounds[:, 1] - bounds[:, 0])


def _cents(values: np.ndarray) -> np.ndarray:
    return np.round(values * 100).astype(np.int64)


def _pick(rng: np.random.Generator, options: np.ndarray, n: int) -> np.ndarray:
    return options[rng.integers(0, len(options), size=n)]


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum() or ch == "-")


def _postal_code(rng: np.random.Generator, first_letters: str) -> str:
    letters = vocab.POSTAL_LETTERS
    a = first_letters[rng.integers(len(first_letters))]
    d1, d2, d3 = rng.integers(0, 10, size=3)
    b, c = letters[rng.integers(len(letters))], letters[rng.integers(len(letters))]
    return f"{a}{d1}{b} {d2}{c}{d3}"


def _holders(
    rng: np.random.Generator, province: np.ndarray
) -> tuple[list[str], list[str], list[str]]:
    """Fictional account holders: name, e-mail on a reserved domain, postal address."""
    n = len(province)
    first = rng.integers(0, len(vocab.FIRST_NAMES), size=n)
    last = rng.integers(0, len(vocab.LAST_NAMES), size=n)
    number = rng.integers(1, 100, size=n)
    domain = rng.integers(0, len(vocab.EMAIL_DOMAINS), size=n)
    civic = rng.integers(1, 9999, size=n)
    french = rng.random(n) < 0.8
    usernames, emails, addresses = [], [], []
    for i in range(n):
        given, family = vocab.FIRST_NAMES[first[i]], vocab.LAST_NAMES[last[i]]
        place = vocab.PROVINCES[province[i]]
        usernames.append(f"{given} {family}")
        emails.append(
            f"{_ascii_slug(given)}.{_ascii_slug(family)}{number[i]}@"
            f"{vocab.EMAIL_DOMAINS[domain[i]]}"
        )
        streets = vocab.STREETS_FR if place.code == "QC" and french[i] else vocab.STREETS_EN
        street = streets[rng.integers(len(streets))]
        city = place.cities[rng.integers(len(place.cities))]
        postal = _postal_code(rng, place.postal_letters)
        addresses.append(f"{civic[i]} {street}, {city}, {place.code} {postal}")
    return usernames, emails, addresses


def _account_numbers(
    rng: np.random.Generator, institution: np.ndarray, card_brand: np.ndarray
) -> np.ndarray:
    """Full account numbers (7-12 digits, as the bank prints them before masking)."""
    n = len(institution)
    digits = np.array([vocab.INSTITUTIONS[i].account_digits for i in institution])
    low = 10 ** (digits - 1)
    chequing = low + (rng.random(n) * (9 * low)).astype(np.int64)
    savings = np.where(chequing + 1 < 10 * low, chequing + 1, chequing - 1)
    savings = np.where(rng.random(n) < 0.5, savings, low + (rng.random(n) * (9 * low)))
    savings = np.where(savings == chequing, chequing + 2, savings).astype(np.int64)
    card = np.where(card_brand == 0, 4, 5) * 10**11 + rng.integers(0, 10**11, size=n)
    return np.stack([chequing.astype(str), savings.astype(str), card.astype(str)], axis=1)


def build_logins(
    rng: np.random.Generator,
    profile: np.ndarray,
    app_day: np.ndarray,
    history_days: int,
) -> Logins:
    """Draw every applicant's finances for one batch of applications."""
    n = len(profile)
    p = profile.astype(np.int64)

    def u() -> np.ndarray:
        """A fresh uniform draw per login."""
        return rng.random(n)

    thin = p == Profile.THIN_FILE
    thin_span = rng.integers(THIN_FILE_DAYS[0], THIN_FILE_DAYS[1] + 1, size=n)
    span = np.where(thin, np.minimum(thin_span, history_days), history_days).astype(np.int64)
    start_day = app_day - span

    province_weights = np.array([prov.weight for prov in vocab.PROVINCES])
    province = rng.choice(len(vocab.PROVINCES), size=n, p=province_weights / province_weights.sum())
    quebec = np.array([prov.code == "QC" for prov in vocab.PROVINCES])[province]
    inst_weights = np.where(
        quebec[:, None],
        np.array(vocab.INSTITUTION_WEIGHTS_QUEBEC)[None, :],
        np.array(vocab.INSTITUTION_WEIGHTS_ELSEWHERE)[None, :],
    )
    institution = _choice_rows(rng, inst_weights)
    card_brand = np.array(
        [0 if vocab.INSTITUTIONS[i].card_brand == "Visa" else 1 for i in institution]
    )
    has_savings = u() < P_SAVINGS[p]
    has_card = u() < P_CARD[p]

    # --- income -------------------------------------------------------------------------
    income = np.exp(np.log(INCOME_MEDIAN[p]) + INCOME_SIGMA[p] * rng.standard_normal(n))
    income = np.clip(income, INCOME_BOUNDS[p, 0], INCOME_BOUNDS[p, 1])
    thin_on_payroll = u() < 0.65
    payroll_like = (
        (p == Profile.STEADY_SALARIED) | (p == Profile.DISTRESSED) | (thin & thin_on_payroll)
    )
    gig_part_time = (p == Profile.GIG_INCOME) & (u() < 0.30)

    steady_weights = np.array(PAY_FREQUENCY_WEIGHTS[Profile.STEADY_SALARIED])
    distressed_weights = np.array(PAY_FREQUENCY_WEIGHTS[Profile.DISTRESSED])
    weights = np.where(
        (p == Profile.DISTRESSED)[:, None], distressed_weights[None, :], steady_weights[None, :]
    )
    frequency = np.where(payroll_like, _choice_rows(rng, weights), PayFrequency.NONE)
    part_time_frequency = np.where(u() < 0.4, PayFrequency.WEEKLY, PayFrequency.BIWEEKLY)
    frequency = np.where(gig_part_time, part_time_frequency, frequency).astype(np.int64)
    employment_share = np.where(gig_part_time, 0.25 + 0.25 * u(), 1.0)
    employment_monthly = np.where(frequency > 0, income * employment_share, 0.0)
    periods = PERIODS_PER_YEAR[frequency]
    pay_cents = np.where(frequency > 0, _cents(employment_monthly * 12 / np.maximum(periods, 1)), 0)
    nominal_pay_monthly = np.round(pay_cents * periods / 12).astype(np.int64)
    employer = np.where(frequency > 0, rng.integers(0, len(vocab.EMPLOYERS), size=n), -1)
    template = rng.integers(0, len(vocab.PAYROLL_TEMPLATES), size=n)
    payroll_desc = np.where(employer >= 0, WORDS.payroll[np.maximum(employer, 0), template], -1)
    # weekly pay on Thursdays or Fridays; bi-weekly on either week of the cycle
    weekday_phase = np.where(u() < 0.7, 1, 0)  # day % 7 == 1 is a Friday, 0 a Thursday
    pay_phase = np.where(
        frequency == PayFrequency.BIWEEKLY,
        weekday_phase + 7 * rng.integers(0, 2, size=n),
        weekday_phase,
    )
    pay_dom = np.where(u() < 0.5, 31, rng.choice([15, 20, 25, 28], size=n))

    gig = (p == Profile.GIG_INCOME) | (thin & ~thin_on_payroll)
    gig_monthly = np.where(gig, income * (1 - np.where(gig_part_time, employment_share, 0)), 0.0)
    gig_platform_desc = np.where(gig & (u() < 0.6), _pick(rng, WORDS.gig_platform, n), -1)

    # --- government ---------------------------------------------------------------------
    child_benefit = np.where(u() < P_CHILD_BENEFIT[p], _cents(180 + 920 * u()), 0)
    gst = np.where(u() < P_GST_CREDIT[p], _cents(80 + 180 * u()), 0)
    no_income = frequency == PayFrequency.NONE
    # Without a job, EI runs through the whole history. With one, EI was a past lay-off: it
    # ended well before the application (pay resumed), and only fits in a long enough history.
    ei_length = np.where(no_income, span + 1, rng.integers(56, 183, size=n))
    latest_start = np.where(no_income, start_day, app_day - EI_ENDED_DAYS_BEFORE - ei_length)
    ei_on = (u() < P_EMPLOYMENT_INSURANCE[p]) | ((p == Profile.DISTRESSED) & no_income)
    ei_on &= latest_start >= start_day
    ei_cents = np.where(ei_on, _cents(450 + 850 * u()), 0)
    ei_start = start_day + (u() * (latest_start - start_day + 1)).astype(np.int64)
    ei_end = ei_start + ei_length
    ei_months = np.minimum(ei_length, span + 1) / (span + 1)

    # --- fixed costs --------------------------------------------------------------------
    total_income = (
        nominal_pay_monthly / 100
        + gig_monthly
        + child_benefit / 100
        + gst / 300
        + ei_cents / 100 * 26 / 12 * ei_months
    )
    renter = u() < P_RENTER[p]
    housing_share = np.where(renter, 0.25 + 0.13 * u(), 0.20 + 0.12 * u())
    housing = np.clip(total_income * housing_share, 650, 3400)
    housing_cents = np.where(renter, np.round(housing / 5) * 500, _cents(housing)).astype(np.int64)
    rent_desc = _pick(rng, WORDS.rent, n)
    housing_desc = np.where(renter, rent_desc, WORDS.mortgage[institution])
    housing_dom = np.where(renter | (u() < 0.6), 1, 15)

    def bills(options_per_province: list[np.ndarray], lows, highs, second_p: float):
        desc = np.full((n, 2), -1, dtype=np.int32)
        for i in range(n):
            options = options_per_province[province[i]]
            chosen = rng.permutation(options)[:2]
            desc[i, 0] = chosen[0]
            if len(chosen) > 1 and rng.random() < second_p:
                desc[i, 1] = chosen[1]
        cents = np.where(desc >= 0, _cents(lows + (highs - lows) * rng.random((n, 2))), 0)
        dom = rng.integers(2, 29, size=(n, 2))
        return desc, cents, dom

    utility_desc, utility_cents, utility_dom = bills(WORDS.utilities, 45, 160, 0.45)
    telecom_desc, telecom_cents, telecom_dom = bills(WORDS.telecoms, 45, 140, 0.35)
    insurance_cents = np.where(u() < P_INSURANCE[p], _cents(60 + 160 * u()), 0)
    insurance_desc = _pick(rng, WORDS.insurers, n)
    insurance_dom = rng.integers(1, 29, size=n)
    subscription_count = rng.integers(0, 4, size=n)
    subscription_desc = np.stack(
        [rng.permutation(WORDS.subscriptions)[:3] for _ in range(n)]
    ).astype(np.int32)
    subscription_desc[np.arange(3)[None, :] >= subscription_count[:, None]] = -1
    subscription_cents = np.where(
        subscription_desc >= 0, _pick(rng, SUBSCRIPTION_PRICES, 3 * n).reshape(n, 3), 0
    )
    subscription_dom = rng.integers(1, 29, size=(n, 3))
    # instalment loans and payday advances sized to what the income can carry
    loan_cents = np.where(
        u() < P_LOAN[p], _cents(np.minimum(180 + 470 * u(), total_income * 0.12)), 0
    )
    loan_dom = rng.integers(1, 29, size=n)
    monthly_fee = np.where(u() < 0.6, _pick(rng, MONTHLY_FEE_PRICES, n), 0)

    # --- risky behaviour ----------------------------------------------------------------
    micro_lender = np.where(
        u() < P_MICRO_LENDER[p], rng.integers(0, len(vocab.MICRO_LENDERS), size=n), -1
    )
    micro_gap = rng.integers(28, 71, size=n)
    micro_first = start_day + (u() * micro_gap).astype(np.int64)
    micro_advance = (
        np.round(np.minimum(300 + 1200 * u(), total_income * 0.35) / 50) * 5000
    ).astype(np.int64)
    micro_installments = rng.integers(3, 7, size=n)
    micro_markup = 1.15 + 0.15 * u()
    micro_monthly_cost = np.where(
        micro_lender >= 0, micro_advance / 100 * (micro_markup - 1) * DAYS_PER_MONTH / micro_gap, 0
    )
    gambling_rate = np.where(u() < P_GAMBLING[p], 0.03 + 0.22 * u(), 0.0)

    # --- saving and cards ---------------------------------------------------------------
    saver_share = np.where(p == Profile.STEADY_SALARIED, 0.02 + 0.06 * u(), 0.01 + 0.02 * u())
    savings_transfer = np.where(
        has_savings, np.maximum(np.round(total_income * saver_share / 25) * 2500, 2500), 0
    ).astype(np.int64)
    savings_dom = rng.integers(1, 29, size=n)
    log_low = np.where(p == Profile.STEADY_SALARIED, np.log(1000), np.log(50))
    log_high = np.where(p == Profile.STEADY_SALARIED, np.log(30000), np.log(3000))
    savings_opening = _cents(np.exp(log_low + (log_high - log_low) * u()))
    savings_rate = 0.005 + 0.02 * u()
    full_payer = (p == Profile.STEADY_SALARIED) & (u() < 0.85)
    fraction_low = np.array([0.7, 0.85, 0.85, 0.75])[p]
    card_fraction = np.where(full_payer, 1.0, fraction_low + (0.95 - fraction_low) * u())
    card_payment_dom = rng.integers(15, 29, size=n)
    card_opening = -_cents(100 + 2400 * u())

    # --- day-to-day spending ------------------------------------------------------------
    ratio = _uniform(rng, SPEND_RATIO[p])
    fixed = (
        housing_cents
        + utility_cents.sum(axis=1)
        + telecom_cents.sum(axis=1)
        + insurance_cents
        + subscription_cents.sum(axis=1)
        + loan_cents
        + monthly_fee
        + savings_transfer
    ) / 100 + micro_monthly_cost
    budget = np.maximum(ratio * total_income - fixed, 0.12 * total_income)
    drift_share = _uniform(rng, MONTHLY_DRIFT[p])
    negative_floor = u() < NEGATIVE_FLOOR_P[p]
    floor = np.where(
        negative_floor, _uniform(rng, NEGATIVE_FLOOR[p]), _uniform(rng, POSITIVE_FLOOR[p])
    )

    usernames, emails, addresses = _holders(rng, province)
    employer_name = [vocab.EMPLOYERS[e][0] if e >= 0 else "" for e in employer]
    account_numbers = _account_numbers(rng, institution, card_brand)
    brand_name = np.where(card_brand == 0, "Visa", "Mastercard")
    card_prefix = _pick(rng, np.array(vocab.CARD_NAME_PREFIXES), n)
    account_names = np.stack(
        [
            _pick(rng, np.array(vocab.CHEQUING_NAMES), n),
            _pick(rng, np.array(vocab.SAVINGS_NAMES), n),
            np.char.add(card_prefix, brand_name),
        ],
        axis=1,
    )

    return Logins(
        n=n,
        profile=p,
        app_day=app_day.astype(np.int64),
        span=span,
        start_day=start_day.astype(np.int64),
        province=province,
        institution=institution,
        has_savings=has_savings,
        has_card=has_card,
        card_brand=card_brand,
        employer=employer,
        pay_frequency=frequency,
        pay_cents=pay_cents.astype(np.int64),
        pay_variable=u() < 0.4,
        pay_phase=pay_phase,
        pay_dom=pay_dom,
        payroll_desc=payroll_desc,
        nominal_monthly_cents=(nominal_pay_monthly + _cents(gig_monthly)).astype(np.int64),
        gig_monthly_cents=_cents(gig_monthly),
        gig_platform_desc=gig_platform_desc,
        child_benefit_cents=child_benefit,
        child_benefit_desc=_pick(rng, WORDS.child_benefit, n),
        gst_cents=gst,
        gst_desc=_pick(rng, WORDS.gst_credit, n),
        ei_cents=ei_cents,
        ei_start=ei_start,
        ei_end=ei_end,
        ei_desc=_pick(rng, WORDS.employment_insurance, n),
        renter=renter,
        housing_cents=housing_cents,
        housing_desc=housing_desc,
        housing_dom=housing_dom,
        utility_desc=utility_desc,
        utility_cents=utility_cents,
        utility_dom=utility_dom,
        telecom_desc=telecom_desc,
        telecom_cents=telecom_cents,
        telecom_dom=telecom_dom,
        insurance_cents=insurance_cents,
        insurance_desc=insurance_desc,
        insurance_dom=insurance_dom,
        subscription_desc=subscription_desc,
        subscription_cents=subscription_cents,
        subscription_dom=subscription_dom,
        loan_cents=loan_cents,
        loan_dom=loan_dom,
        monthly_fee_cents=monthly_fee,
        micro_lender=micro_lender,
        micro_gap=micro_gap,
        micro_first=micro_first,
        micro_advance_cents=micro_advance,
        micro_installments=micro_installments,
        micro_markup=micro_markup,
        gambling_rate=gambling_rate,
        savings_transfer_cents=savings_transfer,
        savings_dom=savings_dom,
        savings_opening_cents=savings_opening,
        savings_rate=savings_rate,
        card_payment_fraction=card_fraction,
        card_payment_dom=card_payment_dom,
        card_opening_cents=card_opening,
        activity=0.85 + 0.6 * u(),
        has_car=u() < P_CAR[p],
        budget_cents=_cents(budget),
        drift_cents_per_month=_cents(drift_share * total_income),
        floor_cents=_cents(floor),
        username=usernames,
        email=emails,
        address=addresses,
        employer_name=employer_name,
        account_numbers=account_numbers,
        account_names=account_names,
    )
