"""Code lists of the contract (section 2), read by the schemas and the synthetic generator."""

from __future__ import annotations

FAMILY_STATUSES = ("IDENTIFIED", "ATTACHED", "CLOSED", "DECLINED", "NOT_ELIGIBLE")
CLAIM_TYPES = ("SSP", "CE")
ROLES = ("MAIN_CARER", "OTHER_ADULT", "CHILD", "UNBORN", "OTHER")
GENDERS = ("M", "F", "X", "U")
# Input spellings accepted for gender, after trimming and upper-casing: exactly the contract's
# list (M, F, X, U, Male, Female); anything else is an unknown code, not a guess.
GENDER_ALIASES = {"MALE": "M", "FEMALE": "F"}
# CIN census gender codes used in the output files.
GENDER_CIN_CODES = {"M": "1", "F": "2", "X": "9", "U": "0"}
PROBLEMS = (
    "CRIME_ASB",
    "EDUCATION",
    "CHILDREN_NEED_HELP",
    "WORKLESSNESS",
    "DOMESTIC_ABUSE",
    "HEALTH",
)
EXCLUSION_TYPES = ("SUSPENSION", "PERMANENT")
DA_INVOLVEMENTS = ("VICTIM", "PERPETRATOR", "WITNESS")
EPISODE_TYPES = ("CIN", "CPP", "LAC")
SPELL_TYPES = ("EMPLOYED", "OUT_OF_WORK_BENEFIT", "NEET")
# [0-9], not \d: fullwidth digits must not pass (the code names a folder too).
LA_CODE_PATTERN = r"^E(06|08|09|10)[0-9]{6}$"
