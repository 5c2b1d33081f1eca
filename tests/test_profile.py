"""The profile contract: unknown is unknown, and bad input gets one clean line."""

from __future__ import annotations

import pytest

from engine.language.profile import ProfileError, parse_profile_text, validate_profile


def _error(text: str) -> str:
    with pytest.raises(ProfileError) as info:
        validate_profile(parse_profile_text(text, "p.json"), "p.json")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_key_names_the_path_and_the_closest_name():
    message = _error('{"person": {"birth_dat": "1990-01-01"}}')
    assert message.startswith("p.json: person.birth_dat: unknown key")
    assert "did you mean 'birth_date'" in message


def test_unknown_key_in_a_child_names_its_index():
    message = _error('{"children": [{"order": 1}, {"ordr": 2}]}')
    assert "children[1].ordr" in message and "did you mean 'order'" in message


def test_impossible_date_is_an_error_not_a_crash():
    message = _error('{"person": {"birth_date": "2026-02-30"}}')
    assert "person.birth_date" in message and "2026-02-30" in message


def test_impossible_date_in_yaml_is_judged_by_the_model_too():
    message = _error("person:\n  birth_date: 2026-02-30\n")
    assert "person.birth_date" in message


def test_out_of_range_values_are_refused():
    assert "household.size" in _error('{"household": {"size": 0}}')
    assert "person.days_in_taiwan_last_year" in _error('{"person": {"days_in_taiwan_last_year": 400}}')
    assert "household.monthly_income" in _error('{"household": {"monthly_income": -5}}')
    assert "household.income_tax_rate" in _error('{"household": {"income_tax_rate": 1.5}}')
    assert "children[0].order" in _error('{"children": [{"order": 0}]}')


def test_wrong_types_are_refused_not_coerced():
    assert "household.size" in _error('{"household": {"size": "3"}}')
    assert "person.indigenous" in _error('{"person": {"indigenous": "yes"}}')
    assert "household.monthly_income" in _error('{"household": {"monthly_income": 1000.5}}')


def test_unknown_enum_value_is_refused():
    assert "residence" in _error('{"residence": "tokyo"}')


def test_syntax_error_names_the_line():
    with pytest.raises(ProfileError) as info:
        parse_profile_text('{\n"person": {\n"sex": "female",,\n}', "p.json")
    assert str(info.value).startswith("p.json:3")


def test_absent_and_null_are_both_unknown():
    a = validate_profile(parse_profile_text('{"person": {}}', "a"))
    b = validate_profile(parse_profile_text('{"person": {"sex": null}}', "b"))
    assert a.person.sex is None and b.person.sex is None


def test_a_null_event_differs_from_an_unlisted_one():
    listed_null = validate_profile({"events": {"birth": None}})
    unlisted = validate_profile({"events": {}})
    assert "birth" in listed_null.events.model_fields_set
    assert "birth" not in unlisted.events.model_fields_set


def test_a_null_section_is_a_section_of_unknown_facts():
    """profile.md: a field that is absent or null is unknown, a whole section too (issue 17)."""
    for section in ("person", "household", "assets", "student_loan"):
        profile = validate_profile(parse_profile_text(f'{{"{section}": null}}', "p.json"))
        assert getattr(profile, section) == getattr(validate_profile({}), section)


def test_a_whole_number_written_with_a_decimal_point_is_whole():
    profile = validate_profile(
        parse_profile_text('{"household": {"monthly_income": 30000.0, "size": 2.0}}', "p")
    )
    assert profile.household.monthly_income == 30000 and isinstance(profile.household.monthly_income, int)
    assert profile.household.size == 2
    assert "household.monthly_income" in _error('{"household": {"monthly_income": 30000.5}}')
    assert "children[0].order" in _error('{"children": [{"order": 1.5}]}')
    assert "person.indigenous" in _error('{"person": {"indigenous": 1.0}}')
