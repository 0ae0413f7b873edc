"""Topic and subtopic ids: the one vocabulary shared by content, NLU and actions.

Every knowledge entry has a topic and a subtopic from here. "overview" is the
answer given when a question names no narrower subtopic. Lexicon `aspect`,
`population` and `form` values are chosen to equal subtopic ids so that an
extracted entity can select an entry directly.
"""

from typing import Dict, Optional, Tuple

TOPICS: Dict[str, Tuple[str, ...]] = {
    "about": ("overview", "mechanism", "brands", "controlled_substance"),
    "uses": ("overview", "approved", "intrathecal", "off_label", "not_recommended"),
    "forms": ("overview", "tablets", "liquid", "granules", "intrathecal", "extended_release"),
    "dosage": (
        "overview", "starting", "titration", "maximum", "children", "kidney",
        "older_adults", "liquid", "granules", "intrathecal",
    ),
    "how_to_take": ("overview", "food", "onset", "liquid", "granules"),
    "missed_dose": ("overview",),
    "stopping": ("overview", "withdrawal"),
    "side_effects": ("overview", "common", "rare", "serious", "intrathecal", "what_to_do"),
    # interactions subtopics are the interaction class ids of knowledge/lexicon.yml
    "interactions": (
        "overview", "alcohol", "cns_depressants", "opioids", "benzodiazepines",
        "sedating_antihistamines", "gabapentinoids", "muscle_relaxants",
        "tricyclic_antidepressants", "maoi", "antihypertensives", "levodopa",
        "lithium", "antidiabetics", "anaesthetics", "epidural_morphine",
    ),
    "warnings": (
        "overview", "epilepsy", "psychiatric", "stroke", "ovarian_cysts", "kidney",
        "older_adults", "other_conditions", "contraindications", "posture", "sedation",
    ),
    "driving": ("overview",),
    "pregnancy": ("overview", "pregnancy", "newborn", "breastfeeding"),
    "overdose": ("overview", "signs", "what_to_do", "kidney", "intrathecal"),
    "storage": ("overview", "tablets", "liquid", "oral_solution", "oral_suspension", "granules", "intrathecal"),
    "pump": (
        "overview", "screening", "dosage", "refill", "alarm", "battery", "mri",
        "travel", "infection", "withdrawal", "overdose",
    ),
    # subtopics are the red-flag kinds of safety/red_flags.py
    "emergency": (
        "general", "overdose", "child_ingestion", "unresponsive", "breathing", "seizure",
        "withdrawal_oral", "pump_withdrawal", "pump_alarm", "fever_rigidity",
        "pump_infection", "newborn", "self_harm", "kidney_confusion",
    ),
}

POPULATIONS = ("children", "older_adults", "kidney", "pregnancy", "breastfeeding")
FORMS = ("tablets", "liquid", "granules", "intrathecal")


def is_valid(topic: str, subtopic: str) -> bool:
    return subtopic in TOPICS.get(topic, ())


def topic_of_aspect(aspect: str) -> Optional[str]:
    """The topic a bare aspect is about, if one is: itself when it names a topic ("dose?" →
    dosage, "overdose" → overdose, even though the pump topic has such subtopics too), else
    the one topic that has it as a subtopic ("refill" → pump, "newborn" → pregnancy)."""
    if aspect in TOPICS and aspect != "emergency":
        return aspect
    owners = [t for t, subs in TOPICS.items() if aspect in subs and t != "emergency"]
    return owners[0] if len(owners) == 1 and aspect != "overview" else None
