"""A new service as the staff area adds it (issue 13, item 15): its catalogue entry, rule
file, parameter and test cases, each refused alone and saved together. Shared by the
store, app and browser tests."""

from __future__ import annotations

SERVICE = "newborn-welcome-kit"
RULE = f"rules/birth/{SERVICE}.yaml"
PARAM = "rules/parameters/household_registration/welcome_kit_days.yaml"
CASES = f"birth/{SERVICE}.yaml"  # relative to the cases folder

ENTRY = """\
newborn-welcome-kit:
  events: [birth]
  name: {zh-TW: 新生兒禮盒, en: Newborn welcome kit}
  agency: household-registration-office
  channels:
    - kind: counter
      where: {zh-TW: 辦理出生登記時於戶政事務所領取, en: Collected at the household registration office with the birth registration}
  documents: [national-id]
  legal_url: https://www.ris.gov.tw
  confidence: ❓
"""

RULE_TEXT = """\
service: newborn-welcome-kit
legal_basis: "新生兒禮盒發放要點 §2（示例）"
eligibility:
  all:
    - id: live-or-premature
      fact: events.birth.kind
      in: [live, premature]
      text: {en: A live or premature birth, zh-TW: 活產或早產}
deadline:
  from: events.birth.date
  days: {param: household_registration.welcome_kit_days}
"""

PARAM_TEXT = """\
description: Days after the birth within which the welcome kit is collected
label: {en: Welcome kit collection period (days), zh-TW: 新生兒禮盒領取期限（日）}
metadata:
  unit: days
  reference: 新生兒禮盒發放要點 §3
  confidence: ❓
values:
  2026-01-01: {value: 90}
"""

CASES_TEXT = """\
- name: A live birth on 1 February 2026 brings the kit, to be collected within 90 days.
  as_of: 2026-03-01
  input:
    events: {birth: {date: 2026-02-01, kind: live}}
  output:
    newborn-welcome-kit: {status: eligible, deadline: 2026-05-02}
- name: A miscarriage brings no kit.
  as_of: 2026-03-01
  input:
    events: {birth: {date: 2026-02-01, kind: miscarriage}}
  output:
    newborn-welcome-kit: {status: ineligible}
"""
