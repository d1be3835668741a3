"""Turn applicants' finances into posted transactions and running balances, for a whole batch.

Every stream (payroll, benefits, bills, purchases, lenders...) is generated for all logins of
a batch at once as flat arrays of (login, account slot, day, description, signed cents). The
streams are concatenated, sorted by account, day and posting order, and balances come from one
grouped cumulative sum.

Balances are made plausible rather than simulated day by day: day-to-day spending is scaled so
that each chequing account drifts the way its profile says (distressed ones hover around zero,
steady ones save slowly), and each chequing account's opening balance is chosen so that its
lowest point over the history lands on the profile's floor (comfortably positive for most
salaried people, below zero for distressed ones). Fees that depend on the balance (NSF,
overdraft) are then charged where the balance is negative, and the balances recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mock_api.generator.dates import MonthGrid, previous_business_day
from mock_api.generator.profiles import DAYS_PER_MONTH, Logins, PayFrequency
from mock_api.generator.vocabulary import INSTITUTIONS, PRE_AUTHORISED_KINDS, WORDS, Kind

CHEQUING, SAVINGS, CARD = 0, 1, 2
SLOTS = 3
#: Posting-order keys are multiples of this, leaving room to post a fee right after its cause.
_SEQ_STEP = 4
_LAST_OF_DAY = np.int64(1) << 50
KIND_OF_DESCRIPTION = np.array([int(k) for k in WORDS.vocabulary.kinds], dtype=np.int16)
#: Probability that a pre-authorised debit hitting a negative balance is charged an NSF fee.
NSF_CHARGE_PROBABILITY = 0.7
OVERDRAFT_FEE_CENTS = 500
NSF_FEE_CENTS = np.array([institution.nsf_fee_cents for institution in INSTITUTIONS])
#: Purchases and cash whose amounts are scaled to the budget (see ``_rescale_spending``).
DISCRETIONARY_KINDS = (
    Kind.GROCERY,
    Kind.RESTAURANT,
    Kind.FUEL,
    Kind.RETAIL,
    Kind.ATM,
    Kind.ETRANSFER_OUT,
    Kind.GAMBLING,
)
MIN_SPENDING_SCALE, MAX_SPENDING_SCALE = 0.6, 2.5
ATM_MULTIPLE_CENTS = 2000
#: Monthly overdraft interest rate on the lowest balance of the month (21% a year).
OVERDRAFT_MONTHLY_RATE = 0.0175


@dataclass(frozen=True)
class Spending:
    """A discretionary spending category: how often, what share of the budget, paid how."""

    options: np.ndarray
    rate_per_day: float
    budget_weight: float
    card_share: float
    sigma: float
    needs_car: bool = False
    multiple_cents: int = 1  # ATMs hand out twenties


SPENDING: tuple[Spending, ...] = (
    Spending(WORDS.grocers, 0.34, 0.36, 0.45, 0.6),
    Spending(WORDS.restaurants, 0.52, 0.14, 0.65, 0.6),
    Spending(WORDS.fuel, 0.17, 0.13, 0.55, 0.3, needs_car=True),
    Spending(WORDS.retail, 0.46, 0.22, 0.70, 0.8),
    Spending(WORDS.atm, 0.07, 0.07, 0.0, 0.5, multiple_cents=ATM_MULTIPLE_CENTS),
    Spending(WORDS.etransfer_out, 0.11, 0.08, 0.0, 0.7),
)


@dataclass
class _Parts:
    """Event streams as they are generated, concatenated once at the end."""

    login: list[np.ndarray] = field(default_factory=list)
    slot: list[np.ndarray] = field(default_factory=list)
    day: list[np.ndarray] = field(default_factory=list)
    desc: list[np.ndarray] = field(default_factory=list)
    amount: list[np.ndarray] = field(default_factory=list)

    def add(self, login, slot, day, desc, amount) -> None:
        size = len(login)
        if size == 0:
            return
        self.login.append(np.asarray(login, dtype=np.int64))
        self.slot.append(np.broadcast_to(np.asarray(slot, dtype=np.int64), size))
        self.day.append(np.asarray(day, dtype=np.int64))
        self.desc.append(np.broadcast_to(np.asarray(desc, dtype=np.int32), size))
        self.amount.append(np.broadcast_to(np.asarray(amount, dtype=np.int64), size))

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "login": np.concatenate(self.login),
            "slot": np.concatenate(self.slot),
            "day": np.concatenate(self.day),
            "desc": np.concatenate(self.desc),
            "amount": np.concatenate(self.amount),
        }


@dataclass
class Ledger:
    """All posted transactions of a batch, sorted by account, day and posting order.

    ``balance`` is the account balance after each transaction; ``opening`` is each account's
    balance before its first transaction (indexed by ``login * 3 + slot``).
    """

    login: np.ndarray
    slot: np.ndarray
    day: np.ndarray
    seq: np.ndarray
    kind: np.ndarray
    desc: np.ndarray
    amount: np.ndarray
    balance: np.ndarray
    opening: np.ndarray

    @property
    def account(self) -> np.ndarray:
        return self.login * SLOTS + self.slot

    def __len__(self) -> int:
        return len(self.login)


def ragged_arange(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts [2, 0, 3]: owners [0, 0, 2, 2, 2] and positions [0, 1, 0, 1, 2]."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(int(counts.sum())) - starts[owner]


def _cents(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(values * 100), 1).astype(np.int64)


def _round_to(cents: np.ndarray, multiple: int) -> np.ndarray:
    """Round to a positive multiple of ``multiple`` cents."""
    if multiple == 1:
        return cents
    return np.maximum(np.round(cents / multiple), 1).astype(np.int64) * multiple


def _lognormal(rng: np.random.Generator, mean: np.ndarray, sigma: float) -> np.ndarray:
    """Log-normal draws with the given arithmetic mean (purchases are right-skewed)."""
    return np.exp(np.log(mean) - sigma**2 / 2 + sigma * rng.standard_normal(len(mean)))


class _Calendar:
    """Date helpers bound to one batch's logins and the months their histories cover."""

    def __init__(self, logins: Logins) -> None:
        self.logins = logins
        self.grid = MonthGrid.covering(int(logins.start_day.min()), int(logins.app_day.max()))

    def in_history(self, owner: np.ndarray, day: np.ndarray) -> np.ndarray:
        return (day >= self.logins.start_day[owner]) & (day <= self.logins.app_day[owner])

    def monthly(
        self,
        owners: np.ndarray,
        dom: np.ndarray,
        business: bool = False,
        months: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Day ``dom`` of every month (clamped to the month's length) inside each history.

        Returns the owner, day and month index of every occurrence.
        """
        grid = self.grid
        day = grid.start[None, :] + np.minimum(dom[:, None], grid.length[None, :]) - 1
        if business:
            day = previous_business_day(day)
        ok = (day >= self.logins.start_day[owners][:, None]) & (
            day <= self.logins.app_day[owners][:, None]
        )
        if months is not None:
            ok &= months[None, :]
        i, j = np.nonzero(ok)
        return owners[i], day[i, j], j

    def every(
        self, owners: np.ndarray, first: np.ndarray, step: np.ndarray, last: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Days ``first, first + step, ...`` up to ``last`` for each owner."""
        count = np.where(first <= last, (last - first) // step + 1, 0)
        index, k = ragged_arange(count)
        return owners[index], first[index] + k * step[index]

    def aligned(self, owners: np.ndarray, phase: np.ndarray, step: np.ndarray):
        """Days congruent to ``phase`` modulo ``step`` inside each owner's history."""
        start = self.logins.start_day[owners]
        first = start + (phase - start) % step
        return self.every(owners, first, step, self.logins.app_day[owners])

    def poisson(
        self, rng: np.random.Generator, rate_per_day: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Events at random days, ``rate_per_day`` on average, over each login's history."""
        days = self.logins.span + 1
        count = rng.poisson(rate_per_day * days)
        owner, _ = ragged_arange(count)
        day = self.logins.start_day[owner] + (rng.random(len(owner)) * days[owner]).astype(np.int64)
        return owner, day


def _income(parts: _Parts, logins: Logins, cal: _Calendar, rng: np.random.Generator) -> None:
    freq = logins.pay_frequency
    every = np.flatnonzero((freq == PayFrequency.WEEKLY) | (freq == PayFrequency.BIWEEKLY))
    step = np.where(freq[every] == PayFrequency.WEEKLY, 7, 14)
    owner_a, day_a = cal.aligned(every, logins.pay_phase[every], step)
    semi = np.flatnonzero(freq == PayFrequency.SEMIMONTHLY)
    owner_b, day_b, _ = cal.monthly(semi, np.full(len(semi), 15), business=True)
    owner_c, day_c, _ = cal.monthly(semi, np.full(len(semi), 31), business=True)
    monthly = np.flatnonzero(freq == PayFrequency.MONTHLY)
    owner_d, day_d, _ = cal.monthly(monthly, logins.pay_dom[monthly], business=True)
    owner = np.concatenate([owner_a, owner_b, owner_c, owner_d])
    day = np.concatenate([day_a, day_b, day_c, day_d])
    # no pay while on employment insurance: the EI stretch is a lay-off
    laid_off = (
        (logins.ei_cents[owner] > 0)
        & (day >= logins.ei_start[owner])
        & (day < logins.ei_end[owner])
    )
    keep = cal.in_history(owner, day) & ~laid_off
    owner, day = owner[keep], day[keep]
    noise = np.where(logins.pay_variable[owner], 0.06 * rng.standard_normal(len(owner)), 0.0)
    amount = np.round(logins.pay_cents[owner] * np.clip(1 + noise, 0.7, 1.3)).astype(np.int64)
    parts.add(owner, CHEQUING, day, logins.payroll_desc[owner], amount)

    # gig work: weekly platform payouts of varying size, plus irregular client e-transfers
    platform = np.flatnonzero(logins.gig_platform_desc >= 0)
    owner, day = cal.aligned(
        platform, rng.integers(0, 7, size=len(platform)), np.full(len(platform), 7)
    )
    keep = rng.random(len(owner)) > 0.15
    owner, day = owner[keep], day[keep]
    weekly = logins.gig_monthly_cents[owner] / 100 * 0.6 * 12 / 52
    parts.add(
        owner, CHEQUING, day, logins.gig_platform_desc[owner], _cents(_lognormal(rng, weekly, 0.35))
    )
    rate = np.where(logins.gig_monthly_cents > 0, 0.2, 0.0)
    owner, day = cal.poisson(rng, rate)
    share = np.where(logins.gig_platform_desc[owner] >= 0, 0.4, 1.0)
    mean = logins.gig_monthly_cents[owner] / 100 * share / (0.2 * DAYS_PER_MONTH)
    desc = WORDS.gig_etransfer[rng.integers(0, len(WORDS.gig_etransfer), size=len(owner))]
    parts.add(owner, CHEQUING, day, desc, _cents(_lognormal(rng, mean, 0.5)))

    # government benefits: CCB around the 20th, GST/HST credit quarterly, EI every two weeks
    ccb = np.flatnonzero(logins.child_benefit_cents > 0)
    owner, day, _ = cal.monthly(ccb, np.full(len(ccb), 20), business=True)
    parts.add(
        owner, CHEQUING, day, logins.child_benefit_desc[owner], logins.child_benefit_cents[owner]
    )
    gst = np.flatnonzero(logins.gst_cents > 0)
    quarter = np.isin(cal.grid.month_of_year, (1, 4, 7, 10))
    owner, day, _ = cal.monthly(gst, np.full(len(gst), 5), business=True, months=quarter)
    parts.add(owner, CHEQUING, day, logins.gst_desc[owner], logins.gst_cents[owner])
    ei = np.flatnonzero(logins.ei_cents > 0)
    begin = np.maximum(logins.ei_start[ei], logins.start_day[ei])
    first = logins.ei_start[ei] + 14 * -((logins.ei_start[ei] - begin) // 14)
    last = np.minimum(logins.ei_end[ei], logins.app_day[ei])
    owner, day = cal.every(ei, first, np.full(len(ei), 14), last)
    day = previous_business_day(day)
    keep = cal.in_history(owner, day)
    owner, day = owner[keep], day[keep]
    parts.add(owner, CHEQUING, day, logins.ei_desc[owner], logins.ei_cents[owner])

    # friends and family paying back
    owner, day = cal.poisson(rng, np.full(logins.n, 0.07) * logins.activity)
    desc = WORDS.etransfer_in[rng.integers(0, len(WORDS.etransfer_in), size=len(owner))]
    parts.add(owner, CHEQUING, day, desc, _cents(_lognormal(rng, np.full(len(owner), 60.0), 0.8)))


def _bills(parts: _Parts, logins: Logins, cal: _Calendar, rng: np.random.Generator) -> None:
    everyone = np.arange(logins.n)
    owner, day, _ = cal.monthly(everyone, logins.housing_dom)
    parts.add(owner, CHEQUING, day, logins.housing_desc[owner], -logins.housing_cents[owner])

    for j in range(2):
        has = np.flatnonzero(logins.utility_desc[:, j] >= 0)
        owner, day, month = cal.monthly(has, logins.utility_dom[has, j])
        season = 1 + 0.25 * np.cos(2 * np.pi * (cal.grid.month_of_year[month] - 1) / 12)
        amount = _cents(
            logins.utility_cents[owner, j]
            / 100
            * season
            * np.exp(0.1 * rng.standard_normal(len(owner)))
        )
        parts.add(owner, CHEQUING, day, logins.utility_desc[owner, j], -amount)

        has = np.flatnonzero(logins.telecom_desc[:, j] >= 0)
        owner, day, _ = cal.monthly(has, logins.telecom_dom[has, j])
        parts.add(
            owner, CHEQUING, day, logins.telecom_desc[owner, j], -logins.telecom_cents[owner, j]
        )

    for j in range(3):
        has = np.flatnonzero(logins.subscription_desc[:, j] >= 0)
        owner, day, _ = cal.monthly(has, logins.subscription_dom[has, j])
        on_card = logins.has_card[owner]
        parts.add(
            owner,
            np.where(on_card, CARD, CHEQUING),
            day,
            logins.subscription_desc[owner, j],
            -logins.subscription_cents[owner, j],
        )

    insured = np.flatnonzero(logins.insurance_cents > 0)
    owner, day, _ = cal.monthly(insured, logins.insurance_dom[insured])
    parts.add(owner, CHEQUING, day, logins.insurance_desc[owner], -logins.insurance_cents[owner])

    borrower = np.flatnonzero(logins.loan_cents > 0)
    owner, day, _ = cal.monthly(borrower, logins.loan_dom[borrower])
    parts.add(
        owner, CHEQUING, day, WORDS.loan[logins.institution[owner]], -logins.loan_cents[owner]
    )

    charged = np.flatnonzero(logins.monthly_fee_cents > 0)
    owner, day, _ = cal.monthly(charged, np.full(len(charged), 31), business=True)
    parts.add(
        owner,
        CHEQUING,
        day,
        WORDS.monthly_fee[logins.institution[owner]],
        -logins.monthly_fee_cents[owner],
    )


def _savings(parts: _Parts, logins: Logins, cal: _Calendar, rng: np.random.Generator) -> None:
    savers = np.flatnonzero(logins.has_savings)
    owner, day, _ = cal.monthly(savers, logins.savings_dom[savers])
    amount = logins.savings_transfer_cents[owner]
    parts.add(owner, CHEQUING, day, WORDS.transfer_to_savings, -amount)
    parts.add(owner, SAVINGS, day, WORDS.transfer_from_chequing, amount)

    owner, day, _ = cal.monthly(savers, rng.integers(1, 29, size=len(savers)))
    keep = rng.random(len(owner)) < 0.12
    owner, day = owner[keep], day[keep]
    amount = (50 * rng.integers(2, 13, size=len(owner)) * 100).astype(np.int64)
    parts.add(owner, SAVINGS, day, WORDS.transfer_to_chequing, -amount)
    parts.add(owner, CHEQUING, day, WORDS.transfer_from_savings, amount)

    owner, day, _ = cal.monthly(savers, np.full(len(savers), 31))
    interest = np.maximum(
        np.round(logins.savings_opening_cents[owner] * logins.savings_rate[owner] / 12), 1
    ).astype(np.int64)
    desc = WORDS.savings_interest[rng.integers(0, len(WORDS.savings_interest), size=len(owner))]
    parts.add(owner, SAVINGS, day, desc, interest)


def _spending(parts: _Parts, logins: Logins, cal: _Calendar, rng: np.random.Generator) -> None:
    budget = logins.budget_cents / 100
    for category in SPENDING:
        rate = category.rate_per_day * logins.activity
        if category.needs_car:
            rate = np.where(logins.has_car, rate, 0.0)
        owner, day = cal.poisson(rng, rate)
        mean = budget[owner] * category.budget_weight / (rate[owner] * DAYS_PER_MONTH)
        amount = _round_to(_cents(_lognormal(rng, mean, category.sigma)), category.multiple_cents)
        on_card = logins.has_card[owner] & (rng.random(len(owner)) < category.card_share)
        desc = category.options[rng.integers(0, len(category.options), size=len(owner))]
        parts.add(owner, np.where(on_card, CARD, CHEQUING), day, desc, -amount)

    # every history starts with a purchase on its first day, so its length is observable
    everyone = np.arange(logins.n)
    desc = WORDS.grocers[rng.integers(0, len(WORDS.grocers), size=logins.n)]
    amount = _cents(_lognormal(rng, np.full(logins.n, 45.0), 0.5))
    parts.add(everyone, CHEQUING, logins.start_day, desc, -amount)

    owner, day = cal.poisson(rng, logins.gambling_rate)
    lottery = rng.random(len(owner)) < 0.6
    online = WORDS.online_gambling[rng.integers(0, len(WORDS.online_gambling), size=len(owner))]
    desc = np.where(lottery, WORDS.lottery[logins.province[owner]], online)
    amount = np.maximum(_cents(_lognormal(rng, np.full(len(owner), 35.0), 0.8)), 200)
    parts.add(owner, CHEQUING, day, desc, -amount)


def _micro_lenders(parts: _Parts, logins: Logins, cal: _Calendar) -> None:
    """Payday-loan cycles: an advance, then bi-weekly instalments repaying it with a mark-up."""
    users = np.flatnonzero(logins.micro_lender >= 0)
    owner, advance_day = cal.every(
        users, logins.micro_first[users], logins.micro_gap[users], logins.app_day[users]
    )
    lender = logins.micro_lender[owner]
    parts.add(
        owner, CHEQUING, advance_day, WORDS.micro_advance[lender], logins.micro_advance_cents[owner]
    )
    cycle, k = ragged_arange(logins.micro_installments[owner])
    payer = owner[cycle]
    day = advance_day[cycle] + 14 * (k + 1)
    keep = day <= logins.app_day[payer]
    payer, day = payer[keep], day[keep]
    installment = np.round(
        logins.micro_advance_cents[payer]
        * logins.micro_markup[payer]
        / logins.micro_installments[payer]
    ).astype(np.int64)
    parts.add(payer, CHEQUING, day, WORDS.micro_payment[logins.micro_lender[payer]], -installment)


def _rescale_spending(events: dict[str, np.ndarray], logins: Logins) -> None:
    """Scale day-to-day spending so each chequing account drifts as its profile says.

    Drawn purchases only match the budget on average; left alone, a year of them wanders
    thousands of dollars away from it. Scaling each login's discretionary amounts to hit its
    target drift keeps distressed accounts hovering around zero and steady ones saving slowly.
    Card purchases count for the share of them that chequing will pay.
    """
    login, slot, amount = events["login"], events["slot"], events["amount"]
    kind = KIND_OF_DESCRIPTION[events["desc"]]
    discretionary = np.isin(kind, np.array(DISCRETIONARY_KINDS, dtype=np.int16))
    weight = np.where(
        slot == CHEQUING,
        1.0,
        np.where((slot == CARD) & (amount < 0), logins.card_payment_fraction[login], 0.0),
    )
    flow = amount * weight
    n = logins.n
    other = np.bincount(login[~discretionary], weights=flow[~discretionary], minlength=n)
    spent = -np.bincount(login[discretionary], weights=flow[discretionary], minlength=n)
    target = logins.drift_cents_per_month * (logins.span + 1) / DAYS_PER_MONTH
    factor = np.where(spent > 0, (other - target) / np.maximum(spent, 1), 1.0)
    factor = np.clip(factor, MIN_SPENDING_SCALE, MAX_SPENDING_SCALE)
    scaled = np.maximum(np.round(-amount * factor[login]), 100).astype(np.int64)
    scaled = np.where(kind == Kind.ATM, _round_to(scaled, ATM_MULTIPLE_CENTS), scaled)
    events["amount"] = np.where(discretionary, -scaled, amount).astype(np.int64)


def _card_payments(
    parts: _Parts, events: dict[str, np.ndarray], logins: Logins, cal: _Calendar
) -> None:
    """Pay each month's card purchases the next month, in full or in part, from chequing."""
    on_card = events["slot"] == CARD
    login = events["login"][on_card]
    month = cal.grid.index_of(events["day"][on_card])
    months = len(cal.grid)
    spent = np.bincount(
        login * months + month, weights=-events["amount"][on_card], minlength=logins.n * months
    ).reshape(logins.n, months)
    owner, day, pay_month = cal.monthly(np.arange(logins.n), logins.card_payment_dom)
    has_previous = pay_month >= 1
    owner, day, pay_month = owner[has_previous], day[has_previous], pay_month[has_previous]
    amount = np.round(spent[owner, pay_month - 1] * logins.card_payment_fraction[owner]).astype(
        np.int64
    )
    keep = logins.has_card[owner] & (amount > 0)
    owner, day, amount = owner[keep], day[keep], amount[keep]
    parts.add(owner, CHEQUING, day, WORDS.card_payment[logins.card_brand[owner]], -amount)
    received = WORDS.card_payment_received[(owner * 7 + day) % len(WORDS.card_payment_received)]
    parts.add(owner, CARD, day, received, amount)


def _settle(events: dict[str, np.ndarray], opening: np.ndarray) -> Ledger:
    """Sort into posting order and compute every balance with one grouped cumulative sum."""
    account = events["login"] * SLOTS + events["slot"]
    order = np.lexsort((events["seq"], events["day"], account))
    sorted_events = {name: values[order] for name, values in events.items()}
    account = account[order]
    running = _grouped_cumsum(account, sorted_events["amount"])
    return Ledger(
        login=sorted_events["login"],
        slot=sorted_events["slot"],
        day=sorted_events["day"],
        seq=sorted_events["seq"],
        kind=KIND_OF_DESCRIPTION[sorted_events["desc"]],
        desc=sorted_events["desc"],
        amount=sorted_events["amount"],
        balance=opening[account] + running,
        opening=opening,
    )


def _grouped_cumsum(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at every change of ``groups`` (which must be sorted)."""
    total = np.cumsum(values)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    offset = np.repeat(total[starts] - values[starts], np.diff(np.r_[starts, len(values)]))
    return total - offset


def _opening_balances(ledger: Ledger, logins: Logins) -> np.ndarray:
    """Opening balances that put each chequing low point on the profile's floor.

    Savings never go below zero, and card balances (negative = owed) never go above zero.
    """
    accounts = logins.n * SLOTS
    running = ledger.balance  # settled with zero openings: balances are running sums
    low = np.zeros(accounts, dtype=np.int64)
    np.minimum.at(low, ledger.account, running)
    high = np.zeros(accounts, dtype=np.int64)
    np.maximum.at(high, ledger.account, running)
    opening = np.zeros(accounts, dtype=np.int64)
    opening[CHEQUING::SLOTS] = logins.floor_cents - low[CHEQUING::SLOTS]
    opening[SAVINGS::SLOTS] = np.maximum(logins.savings_opening_cents, -low[SAVINGS::SLOTS] + 5_000)
    opening[CARD::SLOTS] = np.minimum(logins.card_opening_cents, -high[CARD::SLOTS])
    return opening


def _balance_fees(
    ledger: Ledger, logins: Logins, cal: _Calendar, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """NSF fees on pre-authorised debits that overdraw chequing; overdraft fee and interest."""
    overdrawn = (ledger.slot == CHEQUING) & (ledger.balance < 0)
    pre_authorised = np.isin(ledger.kind, np.array(PRE_AUTHORISED_KINDS, dtype=np.int16))
    candidates = np.flatnonzero(overdrawn & pre_authorised & (ledger.amount < 0))
    candidates = candidates[rng.random(len(candidates)) < NSF_CHARGE_PROBABILITY]
    _, first_of_day = np.unique(
        ledger.account[candidates] * (1 << 32) + ledger.day[candidates], return_index=True
    )
    nsf = candidates[first_of_day]
    nsf_login = ledger.login[nsf]
    institution = logins.institution[nsf_login]
    fee_amount = NSF_FEE_CENTS[institution]

    negative = np.flatnonzero(overdrawn)
    month = cal.grid.index_of(ledger.day[negative])
    key = ledger.account[negative] * len(cal.grid) + month
    _, first_in_month = np.unique(key, return_index=True)
    od = negative[first_in_month]
    lowest = np.full(logins.n * SLOTS * len(cal.grid), 0, dtype=np.int64)
    np.minimum.at(lowest, key, ledger.balance[negative])
    od_key = np.unique(key)
    od_login = od_key // len(cal.grid) // SLOTS
    od_month = od_key % len(cal.grid)
    interest_day = cal.grid.last_day()[od_month]
    charge = interest_day <= logins.app_day[od_login]
    interest = np.maximum(np.round(-lowest[od_key] * OVERDRAFT_MONTHLY_RATE), 1).astype(np.int64)

    return {
        "login": np.concatenate([nsf_login, ledger.login[od], od_login[charge]]),
        "slot": np.full(len(nsf) + len(od) + int(charge.sum()), CHEQUING, dtype=np.int64),
        "day": np.concatenate([ledger.day[nsf], ledger.day[od], interest_day[charge]]),
        "seq": np.concatenate(
            [
                ledger.seq[nsf] + 1,
                ledger.seq[od] + 2,
                np.full(int(charge.sum()), _LAST_OF_DAY, dtype=np.int64),
            ]
        ),
        "desc": np.concatenate(
            [
                WORDS.nsf[institution],
                np.full(len(od), WORDS.overdraft_fee, dtype=np.int32),
                np.full(int(charge.sum()), WORDS.overdraft_interest, dtype=np.int32),
            ]
        ).astype(np.int32),
        "amount": -np.concatenate(
            [fee_amount, np.full(len(od), OVERDRAFT_FEE_CENTS), interest[charge]]
        ).astype(np.int64),
    }


def simulate(logins: Logins, rng: np.random.Generator) -> Ledger:
    """Every transaction of every account of a batch of logins, with balances."""
    cal = _Calendar(logins)
    parts = _Parts()
    _income(parts, logins, cal, rng)
    _bills(parts, logins, cal, rng)
    _savings(parts, logins, cal, rng)
    _spending(parts, logins, cal, rng)
    _micro_lenders(parts, logins, cal)
    events = parts.arrays()
    _rescale_spending(events, logins)
    payments = _Parts()
    _card_payments(payments, events, logins, cal)
    if payments.login:
        events = {
            name: np.concatenate([events[name], extra]) for name, extra in payments.arrays().items()
        }
    # drop events on accounts the login does not hold (defensive: streams check already)
    held = np.ones(len(events["login"]), dtype=bool)
    held &= (events["slot"] != SAVINGS) | logins.has_savings[events["login"]]
    held &= (events["slot"] != CARD) | logins.has_card[events["login"]]
    events = {name: values[held] for name, values in events.items()}
    events["seq"] = rng.integers(0, 1 << 40, size=len(events["login"])) * _SEQ_STEP

    zero = np.zeros(logins.n * SLOTS, dtype=np.int64)
    opening = _opening_balances(_settle(events, zero), logins)
    ledger = _settle(events, opening)
    fees = _balance_fees(ledger, logins, cal, rng)
    merged = {name: np.concatenate([events[name], fees[name]]) for name in events}
    return _settle(merged, opening)
