"""Small built-in word lists for synthetic records. Every name is common, none belongs to anyone
in particular, and every one can be written in Windows-1252 (so no Ł or Ś): the cp1252 extract
must carry them intact."""

from __future__ import annotations

import numpy as np


def _words(text: str) -> np.ndarray:
    return np.array([w.strip() for w in text.split(",")])


FEMALE_FORENAMES = _words(
    "Olivia, Amelia, Isla, Ava, Mia, Grace, Lily, Freya, Emily, Ella, Sophie, Chloe, Jessica, "
    "Hannah, Megan, Lauren, Emma, Sarah, Rebecca, Laura, Claire, Michelle, Nicola, Kelly, "
    "Joanne, Lisa, Amy, Danielle, Stacey, Gemma, Aisha, Fatima, Maryam, Zainab, Amina, Priya, "
    "Niamh, Aoife, Siân, Zoë, Renée, Chloë, Anaïs, Maëlle, Dóra, Agnieszka"
)
MALE_FORENAMES = _words(
    "Oliver, George, Harry, Noah, Jack, Leo, Charlie, Oscar, Jacob, Alfie, Thomas, James, "
    "Daniel, Joshua, Liam, Ryan, Connor, Jordan, Lewis, Callum, Paul, Mark, Craig, Lee, "
    "Darren, Wayne, Michael, Anthony, Mohammed, Yusuf, Ibrahim, Omar, Ali, Arjun, Kacper, "
    "Jakub, Ciarán, Seán, José, François, Björn, Andrés, Rhys, Dafydd"
)
SURNAMES = _words(
    "Smith, Jones, Williams, Taylor, Brown, Davies, Evans, Wilson, Thomas, Johnson, Roberts, "
    "Robinson, Thompson, Wright, Walker, White, Edwards, Hughes, Green, Hall, Lewis, Harris, "
    "Clarke, Patel, Jackson, Wood, Turner, Martin, Cooper, Hill, Ward, Morris, Moore, Clark, "
    "Lee, King, Baker, Harrison, Morgan, Allen, Murphy, Kelly, McDonald, Doyle, O'Brien, "
    "O'Neill, O'Connor, Ahmed, Khan, Hussain, Begum, Ali, Nowak, Kowalski, Müller, Núñez, "
    "Dubois, Ó Súilleabháin, Nguyen, Okafor, Mensah"
)
# DfE ethnicity codes as a council's case system records them (ethnicity is read, never sent).
ETHNICITIES = _words(
    "WBRI, WIRI, WIRT, WOTH, WROM, MWBC, MWBA, MWAS, MOTH, AIND, APKN, ABAN, AOTH, BCRB, "
    "BAFR, BOTH, CHNE, OOTH, REFU, NOBT"
)
ETHNICITY_WEIGHTS = np.array(
    [60, 2, 0.5, 5, 0.5, 2, 1, 1, 2, 1.5, 1, 1, 1.5, 1, 4, 1, 1.5, 2, 1, 1.5], dtype=float
)
OFFENCE_CATEGORIES = np.array(
    [
        "Violence against the person",
        "Theft",
        "Criminal damage",
        "Drug offences",
        "Public order",
        "Burglary",
        "Motoring",
        "Possession of weapons",
    ]
)
ASB_CATEGORIES = np.array(["Personal", "Nuisance", "Environmental"])
INTENSITIES = np.array(["INTENSIVE", "STANDARD", "LIGHT_TOUCH"])
# Inward-code letters a UK postcode may use (no C, I, K, M, O, V).
POSTCODE_INWARD_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
# Liverpool's own LA number, used as the first three digits of pupils' UPNs.
UPN_LA_NUMBER = "341"


# Codes a case system might hold that the contract's code lists do not (local or retired codes),
# by column, for the unknown-code defects; a code column not named here gets generic ones.
UNKNOWN_CODES: dict[str, tuple[str, ...]] = {
    "status": ("OPEN", "ACTIVE", "CLOSED_SSP"),
    "claim_type": ("PBR", "SSP_CE"),
    "role": ("STEP_PARENT", "GRANDPARENT"),
    "gender": ("Q", "N"),
    "problem": ("HOUSING", "SUBSTANCE_MISUSE"),
    "exclusion_type": ("EXPULSION", "FIXED_TERM"),
    "involvement": ("BYSTANDER", "REPORTER"),
    "episode_type": ("S47", "EHA"),
    "spell_type": ("SELF_EMPLOYED", "STUDENT"),
}
