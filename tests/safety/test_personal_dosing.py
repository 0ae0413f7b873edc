"""Personal dosing and oral↔pump conversion requests, both directions."""

import pytest

from safety.personal_dosing import is_conversion_request, is_personal_dosing_request

PERSONAL = [
    "should I take 30 mg three times a day?",
    "can I double my dose?",
    "how much should my 6-year-old take?",
    "can I take more if my spasms are bad?",
    "is 100 mg ok for me",
    "how do I convert my oral dose to the pump",
    "can I take an extra tablet on bad days",
    "how much baclofen should I give my son",
    "what dose should I take",
    "is it ok to increase my dose to 25 mg",
    "is 20mg too much for my daughter",
    "can I go up to 80mg a day",
    "what's the right dose for me",
    "my doctor gave me 10mg, can I take 20mg instead",
    "how many tablets should I take",
    "should my husband reduce his dose?",
    "Can I up my baclofen to 4 times a day?",
]

GENERAL = [
    "what is the maximum dose?",
    "what's the usual starting dose",
    "how is the dose increased over the first weeks",
    "how many mg a day do most people need",
    "what dose is used for children",
    "dose for older adults",
    "is the dose lower if you have kidney disease",
    "how many mL of ozobax is 5 mg",
    "is 60mg a day a lot",
    "can I take baclofen with milk",
    "can i split a baclofen tablet in half",
    "I missed my morning dose, can I take it now",
    "is it ok to take two doses together if i missed one",
    "should baclofen be taken with meals",
    "can I stop baclofen if it's not helping",
    "I'm on dialysis, what dose of baclofen do people usually take",
    "I take 20 mg three times a day",
    "can I switch from tablets to the pump",
    "",
]


@pytest.mark.parametrize("text", PERSONAL)
def test_personal_dosing_requests(text: str) -> None:
    assert is_personal_dosing_request(text)


@pytest.mark.parametrize("text", GENERAL)
def test_general_dosing_questions(text: str) -> None:
    assert not is_personal_dosing_request(text)


@pytest.mark.parametrize("text", [
    "how do I convert my oral dose to the pump",
    "what is the equivalent oral dose of my 200 mcg pump dose?",
    "how many tablets equal 100 mcg intrathecal",
    "switching from oral baclofen to ITB, what dose do I start on",
])
def test_conversion_requests(text: str) -> None:
    assert is_conversion_request(text)
    assert is_personal_dosing_request(text)


@pytest.mark.parametrize("text", [
    "can I switch from tablets to the pump",   # a treatment choice, no dose
    "can I use the pump and tablets together",
    "how many mL of ozobax is 5 mg",            # liquid strength, not oral↔pump
    "what is the usual pump dose",
])
def test_not_conversion_requests(text: str) -> None:
    assert not is_conversion_request(text)


@pytest.mark.parametrize("text", [None, 12, "   ", "😀"])
def test_odd_input(text: object) -> None:
    assert is_personal_dosing_request(text) is False  # type: ignore[arg-type]
    assert is_conversion_request(text) is False  # type: ignore[arg-type]
