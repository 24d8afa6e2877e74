"""The people extract: families of one to eight, with roles, ages and identifiers to match."""

from __future__ import annotations

import numpy as np

from synth import identifiers as ident
from synth.calendar import ACTIVITY_END, DOB_MAX, EXTRACT_DATE, YEAR
from synth.families import ids
from synth.table import NAT, Table, days, group_positions
from synth.vocab import ETHNICITIES, ETHNICITY_WEIGHTS, FEMALE_FORENAMES, MALE_FORENAMES, SURNAMES

FAMILY_SIZES = np.arange(1, 9)
FAMILY_SIZE_WEIGHTS = np.array([0.08, 0.20, 0.25, 0.20, 0.12, 0.08, 0.04, 0.03])


def age_in_days(born: np.ndarray | np.datetime64, on: np.ndarray | np.datetime64) -> np.ndarray:
    return (on - born).astype("timedelta64[D]").astype(np.int64)


def make_people(rng: np.random.Generator, families: Table) -> Table:
    identified_f = families.columns["date_identified"]
    n_families = len(identified_f)
    size = rng.choice(FAMILY_SIZES, size=n_families, p=FAMILY_SIZE_WEIGHTS)
    family = np.repeat(np.arange(n_families), size)
    position = group_positions(size)
    n = len(family)
    identified = identified_f[family]
    last = position == size[family] - 1

    u = rng.random(n)
    role = np.full(n, "CHILD", dtype="<U11")
    role[(position == 1) & (u < 0.5)] = "OTHER_ADULT"
    role[(position >= 2) & (u < 0.06)] = "OTHER"
    role[(position >= 1) & last & (rng.random(n) < 0.06)] = "UNBORN"
    role[position == 0] = "MAIN_CARER"
    is_ = {r: role == r for r in ("MAIN_CARER", "OTHER_ADULT", "CHILD", "UNBORN", "OTHER")}

    # Ages on the day the family was identified.
    carer_years = np.clip(rng.normal(33.0, 8.0, n_families), 18.0, 64.0)[family]
    partner_years = np.clip(carer_years + rng.normal(2.0, 5.0, n), 18.0, 75.0)
    other_years = rng.uniform(16.0, 80.0, n)
    adult_years = np.select(
        [is_["MAIN_CARER"], is_["OTHER_ADULT"]], [carer_years, partner_years], other_years
    )
    adult_days = (adult_years * YEAR).astype(np.int64) + rng.integers(0, 365, n)
    # A child is under 18 on that day with weeks to spare, and born to a carer of 16 or more;
    # no one is born after DOB_MAX.
    child_max = np.minimum(17 * 365 + 290, ((carer_years - 16.0) * YEAR).astype(np.int64))
    child_days = (rng.random(n) * child_max).astype(np.int64)
    child_days = np.maximum(child_days, age_in_days(DOB_MAX, identified))
    age_days = np.where(is_["CHILD"], child_days, adult_days)
    dob = identified - days(age_days)
    # A few children are born after the family was identified and join it at birth.
    late = is_["CHILD"] & (rng.random(n) < 0.03) & (identified + days(30) <= DOB_MAX)
    born_late = np.minimum(identified + days(rng.integers(30, 400, n)), DOB_MAX)
    dob = np.where(late, born_late, dob)
    expected_dob = np.where(is_["UNBORN"], identified + days(rng.integers(14, 251, n)), NAT)
    dob = np.where(is_["UNBORN"], NAT, dob)

    gender = _genders(rng, role)
    forename, surname = _names(rng, family, n_families, role, gender)
    gender = _gender_spellings(rng, gender)

    outward_f, inward_f = ident.postcodes(rng, n_families)
    postcode = ident.postcode_layouts(rng, outward_f[family], inward_f[family])
    postcode = np.where(rng.random(n) < 0.03, "", postcode)

    born = ~is_["UNBORN"]
    age_at_extract = age_in_days(dob, np.datetime64(EXTRACT_DATE, "D"))
    has_nino = born & (age_at_extract >= 16 * YEAR) & (rng.random(n) < 0.85)
    nino = np.where(has_nino, ident.nino_layouts(rng, ident.ninos(rng, n)), "")
    school_age = is_["CHILD"] & (age_in_days(dob, ACTIVITY_END) >= 4 * YEAR)
    has_upn = school_age & (rng.random(n) < 0.92)
    entry_year = dob.astype("datetime64[Y]").astype(np.int64) + 1970 + 4
    upn = np.where(has_upn, ident.upns(rng, entry_year, rng.random(n) < 0.04), "")
    has_nhs = born & (rng.random(n) < 0.85)
    nhs = np.where(has_nhs, ident.nhs_layouts(rng, ident.nhs_numbers(rng, n)), "")

    weights = ETHNICITY_WEIGHTS / ETHNICITY_WEIGHTS.sum()
    family_ethnicity = rng.choice(len(ETHNICITIES), size=n_families, p=weights)[family]
    own_ethnicity = rng.choice(len(ETHNICITIES), size=n, p=weights)
    ethnicity = ETHNICITIES[np.where(rng.random(n) < 0.85, family_ethnicity, own_ethnicity)]
    ethnicity = np.where(rng.random(n) < 0.08, "", ethnicity)

    # Moves: some join after identification (all children born later do), some leave.
    joins = born & ~is_["MAIN_CARER"] & (rng.random(n) < 0.05)
    joined = np.minimum(identified + days(rng.integers(1, 401, n)), ACTIVITY_END)
    joined = np.where(late, dob, np.where(joins, joined, NAT))
    leaves = born & ~is_["MAIN_CARER"] & (rng.random(n) < 0.05)
    from_date = np.where(np.isnat(joined), identified, joined)
    left = np.minimum(from_date + days(rng.integers(30, 601, n)), ACTIVITY_END)
    left = np.where(leaves & (left >= from_date), left, NAT)

    u = rng.random(n)
    opt_out = np.where(u < 0.004, 1.0, np.where(u < 0.6, 0.0, np.nan))

    return Table(
        "people",
        {
            "person_id": ids("P", np.arange(1, n + 1), 8),
            "family_id": families.columns["family_id"][family],
            "role": role,
            "forename": forename,
            "surname": surname,
            "dob": dob,
            "expected_dob": expected_dob,
            "gender": gender,
            "postcode": postcode,
            "nino": nino,
            "upn": upn,
            "nhs_number": nhs,
            "ethnicity": ethnicity,
            "date_joined": joined,
            "date_left": left,
            "nis_opt_out": opt_out,
            "_family": family,
        },
    )


def _genders(rng: np.random.Generator, role: np.ndarray) -> np.ndarray:
    n = len(role)
    u = rng.random(n)
    female_share = np.select(
        [role == "MAIN_CARER", role == "OTHER_ADULT", role == "UNBORN"], [0.85, 0.18, 0.15], 0.49
    )
    male_share = np.select(
        [role == "MAIN_CARER", role == "OTHER_ADULT", role == "UNBORN"], [0.13, 0.80, 0.15], 0.49
    )
    gender = np.full(n, "U", dtype="<U6")
    gender[u < female_share + male_share + 0.005] = "X"
    gender[u < female_share + male_share] = "M"
    gender[u < female_share] = "F"
    return gender


def _gender_spellings(rng: np.random.Generator, gender: np.ndarray) -> np.ndarray:
    """Some systems write Male/Female, some lower case: all accepted by the contract."""
    u = rng.random(len(gender))
    out = gender.copy()
    out[(gender == "M") & (u < 0.04)] = "Male"
    out[(gender == "F") & (u < 0.04)] = "Female"
    lower = (u >= 0.04) & (u < 0.07) & np.isin(gender, ["M", "F"])
    out[lower] = np.strings.lower(gender[lower])
    return out


def _names(
    rng: np.random.Generator,
    family: np.ndarray,
    n_families: int,
    role: np.ndarray,
    gender: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(role)
    female = FEMALE_FORENAMES[rng.integers(0, len(FEMALE_FORENAMES), n)]
    male = MALE_FORENAMES[rng.integers(0, len(MALE_FORENAMES), n)]
    either = np.where(rng.random(n) < 0.5, female, male)
    forename = np.where(gender == "F", female, np.where(gender == "M", male, either))
    forename = forename.astype(f"<U{max(len(x) for x in [*FEMALE_FORENAMES, *MALE_FORENAMES])}")

    family_surname = SURNAMES[rng.integers(0, len(SURNAMES), n_families)][family]
    own_surname = SURNAMES[rng.integers(0, len(SURNAMES), n)]
    keeps = np.select(
        [role == "MAIN_CARER", role == "UNBORN", role == "OTHER_ADULT", role == "CHILD"],
        [1.0, 1.0, 0.5, 0.85],
        0.6,
    )
    surname = np.where(rng.random(n) < keeps, family_surname, own_surname)
    forename = np.where((role == "UNBORN") | (rng.random(n) < 0.02), "", forename)
    surname = np.where(rng.random(n) < 0.01, "", surname)
    return forename, surname
